import { scrypt } from '@noble/hashes/scrypt.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { FulmenError } from '../util/errors.js';

/**
 * Encryption at rest for secrets in the wallet database (seed, channel secrets).
 *
 * Key derivation: scrypt(password, salt, N = 2^15, r = 8, p = 1) → 32 bytes (~32 MiB, well under
 * half a second). Sealing: XChaCha20-Poly1305 with a random 24-byte nonce.
 * Box layout: version (1 byte, = 1) || nonce (24) || ciphertext || tag (16).
 */

export const STORAGE_KEY_BYTES = 32;
export const SALT_BYTES = 16;
const SCRYPT_PARAMS = { N: 2 ** 15, r: 8, p: 1, dkLen: STORAGE_KEY_BYTES } as const;
const BOX_VERSION = 1;
const NONCE_BYTES = 24;
const TAG_BYTES = 16;

/** A fresh random salt for `deriveStorageKey`. */
export function newSalt(): Uint8Array {
  return randomBytes(SALT_BYTES);
}

/**
 * 32-byte storage key from a password (NFKC-normalised UTF-8) and a per-wallet salt (scrypt).
 * @throws FulmenError BAD_INPUT for an empty password.
 */
export function deriveStorageKey(password: string, salt: Uint8Array): Uint8Array {
  if (password.length === 0) throw new FulmenError('BAD_INPUT', 'The password must not be empty');
  return scrypt(new TextEncoder().encode(password.normalize('NFKC')), salt, SCRYPT_PARAMS);
}

/**
 * Encrypts and authenticates `plaintext` under a 32-byte `key`; optional `associatedData` is
 * authenticated but not stored (e.g. a record's purpose, so boxes cannot be swapped).
 */
export function seal(key: Uint8Array, plaintext: Uint8Array, associatedData?: Uint8Array): Uint8Array {
  const nonce = randomBytes(NONCE_BYTES);
  const ciphertext = xchacha20poly1305(key, nonce, associatedData).encrypt(plaintext);
  const box = new Uint8Array(1 + NONCE_BYTES + ciphertext.length);
  box[0] = BOX_VERSION;
  box.set(nonce, 1);
  box.set(ciphertext, 1 + NONCE_BYTES);
  return box;
}

/**
 * Opens a box made by `seal`.
 * @throws FulmenError WRONG_PASSWORD when authentication fails (wrong key or tampered box).
 */
export function unseal(key: Uint8Array, box: Uint8Array, associatedData?: Uint8Array): Uint8Array {
  if (box.length < 1 + NONCE_BYTES + TAG_BYTES || box[0] !== BOX_VERSION) {
    throw new FulmenError('WRONG_PASSWORD', 'Wrong password (or the encrypted data is damaged)');
  }
  const nonce = box.subarray(1, 1 + NONCE_BYTES);
  try {
    return xchacha20poly1305(key, nonce, associatedData).decrypt(box.subarray(1 + NONCE_BYTES));
  } catch {
    throw new FulmenError('WRONG_PASSWORD', 'Wrong password (or the encrypted data is damaged)');
  }
}
