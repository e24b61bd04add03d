import { createRequire } from 'node:module';

/**
 * The secp256k1 backend of Fulmen (BIP32 derivation, Lightning channels, onion, invoices): ECDSA over 32-byte digests (RFC 6979 nonces,
 * low-S, 64-byte compact r||s as on the Lightning wire, BOLT 1 `signature`) and the point
 * operations of BOLT 3 key derivation. One module so the backend can be swapped.
 *
 * Chosen by measurement (`npm run bench -- secp256k1`): the `secp256k1` package's native
 * libsecp256k1 binding (N-API, prebuilt for linux-x64/darwin-arm64/win32-x64, else built with
 * node-gyp) verifies ~15-20x faster than @noble/curves and ~4x faster than tiny-secp256k1's WASM
 * build; signature checks bound the payment rate, so it is the one used. `secp256k1/bindings`
 * throws when the addon is missing (no silent fallback to its slow JS build).
 */
interface NativeSecp256k1 {
  publicKeyVerify(pubkey: Uint8Array): boolean;
  publicKeyCreate(seckey: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyCombine(pubkeys: Uint8Array[], compressed: boolean): Uint8Array;
  publicKeyTweakAdd(pubkey: Uint8Array, tweak: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyTweakMul(pubkey: Uint8Array, tweak: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): boolean;
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
  ecdh(pubkey: Uint8Array, seckey: Uint8Array): Uint8Array;
}

const native = createRequire(import.meta.url)('secp256k1/bindings') as NativeSecp256k1;

/** Name of the backend in use (benchmarks print it). */
export const SECP256K1_BACKEND = 'secp256k1 (native libsecp256k1)';

/** True if `bytes` is a valid 33-byte compressed point. */
export function isCompressedPoint(bytes: Uint8Array): boolean {
  return bytes.length === 33 && (bytes[0] === 2 || bytes[0] === 3) && native.publicKeyVerify(bytes);
}

/** Compressed public key of a 32-byte secret. @throws Error when the secret is 0 or >= n. */
export function publicKeyCreate(secret: Uint8Array): Uint8Array {
  return native.publicKeyCreate(secret, true);
}

/** point + tweak·G, compressed. @throws Error when the tweak is >= n or the result is infinity. */
export function pointAddTweak(point: Uint8Array, tweak: Uint8Array): Uint8Array {
  return native.publicKeyTweakAdd(point, tweak, true);
}

/** point·tweak, compressed. @throws Error when the tweak is 0 or >= n. */
export function pointMulTweak(point: Uint8Array, tweak: Uint8Array): Uint8Array {
  return native.publicKeyTweakMul(point, tweak, true);
}

/** a + b, compressed. @throws Error when the sum is infinity. */
export function pointAdd(a: Uint8Array, b: Uint8Array): Uint8Array {
  return native.publicKeyCombine([a, b], true);
}

/** ECDSA signature (64-byte compact, low-S, RFC 6979) of a 32-byte digest. */
export function ecdsaSign(digest: Uint8Array, privkey: Uint8Array): Uint8Array {
  return native.ecdsaSign(digest, privkey).signature;
}

/** Verifies a 64-byte compact signature (high-S rejected) on a 32-byte digest; false on any malformed input. */
export function ecdsaVerify(signature: Uint8Array, digest: Uint8Array, pubkey: Uint8Array): boolean {
  if (signature.length !== 64 || digest.length !== 32 || pubkey.length !== 33) return false;
  try {
    return native.ecdsaVerify(signature, digest, pubkey);
  } catch {
    return false;
  }
}

/** Compressed public key recovered from a 64-byte compact low-S signature and its recovery id (0..3). @throws Error when none. */
export function ecdsaRecover(signature: Uint8Array, recoveryId: number, digest: Uint8Array): Uint8Array {
  return native.ecdsaRecover(signature, recoveryId, digest, true);
}

/** SHA256(compressed(secret · point)): the BOLT 4 / BOLT 8 ECDH shared secret. @throws Error on an invalid point or secret. */
export function ecdhSha256(point: Uint8Array, secret: Uint8Array): Uint8Array {
  return native.ecdh(point, secret);
}
