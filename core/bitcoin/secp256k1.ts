import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';

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
  privateKeyVerify(seckey: Uint8Array): boolean;
  privateKeyTweakAdd(seckey: Uint8Array, tweak: Uint8Array): Uint8Array;
  privateKeyNegate(seckey: Uint8Array): Uint8Array;
  privateKeyTweakMul(seckey: Uint8Array, tweak: Uint8Array): Uint8Array;
  publicKeyVerify(pubkey: Uint8Array): boolean;
  publicKeyConvert(pubkey: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyCreate(seckey: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyCombine(pubkeys: Uint8Array[], compressed: boolean): Uint8Array;
  publicKeyTweakAdd(pubkey: Uint8Array, tweak: Uint8Array, compressed: boolean): Uint8Array;
  publicKeyTweakMul(pubkey: Uint8Array, tweak: Uint8Array, compressed: boolean): Uint8Array;
  ecdsaSign(msg32: Uint8Array, seckey: Uint8Array, options?: { data?: Uint8Array }): { signature: Uint8Array; recid: number };
  ecdsaVerify(sig: Uint8Array, msg32: Uint8Array, pubkey: Uint8Array): boolean;
  ecdsaRecover(sig: Uint8Array, recid: number, msg32: Uint8Array, compressed: boolean): Uint8Array;
  ecdh(pubkey: Uint8Array, seckey: Uint8Array): Uint8Array;
  signatureNormalize(sig: Uint8Array): Uint8Array;
}

const native = createRequire(import.meta.url)('secp256k1/bindings') as NativeSecp256k1;

/** Name of the backend in use (benchmarks print it). */
export const SECP256K1_BACKEND = 'secp256k1 (native libsecp256k1)';

/** True if `bytes` is a valid 33-byte compressed point. */
export function isCompressedPoint(bytes: Uint8Array): boolean {
  return bytes.length === 33 && (bytes[0] === 2 || bytes[0] === 3) && native.publicKeyVerify(bytes);
}

/** True if `bytes` is a valid secret key: 32 bytes, 0 < k < n. */
export function isPrivateKey(bytes: Uint8Array): boolean {
  return bytes.length === 32 && native.privateKeyVerify(bytes);
}

/** A fresh secret key from the OS CSPRNG (BOLT 8 ephemeral keys, onion session keys). */
export function randomPrivateKey(): Uint8Array {
  for (;;) {
    const key = new Uint8Array(randomBytes(32));
    if (native.privateKeyVerify(key)) return key;
  }
}

const CURVE_ORDER = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
const CURVE_ORDER_BYTES = Buffer.from(CURVE_ORDER.toString(16), 'hex');

/** 32 bytes read as a big-endian integer, reduced mod n (BOLT 4 blinding factors are SHA256 outputs used as scalars). */
export function scalarModOrder(bytes: Uint8Array): Uint8Array {
  if (Buffer.compare(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), CURVE_ORDER_BYTES) < 0) return bytes;
  const reduced = BigInt('0x' + Buffer.from(bytes).toString('hex')) - CURVE_ORDER; // 2^256 < 2n: one subtraction
  return new Uint8Array(Buffer.from(reduced.toString(16).padStart(64, '0'), 'hex'));
}

/** secret·tweak mod n, as a new array. @throws Error when the tweak is 0 or >= n. */
export function privateKeyMulTweak(secret: Uint8Array, tweak: Uint8Array): Uint8Array {
  return native.privateKeyTweakMul(Uint8Array.from(secret), tweak);
}

/** The low-S form of a 64-byte compact signature (a copy; BIP 62, BOLT 11 recovery). */
export function lowSSignature(signature: Uint8Array): Uint8Array {
  return native.signatureNormalize(Uint8Array.from(signature));
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

/** 64-byte compact signature and recovery id (0..3) of a 32-byte digest (RFC 6979, low-S): Bitcoin signed messages. */
export function ecdsaSignRecoverable(digest: Uint8Array, privkey: Uint8Array): { signature: Uint8Array; recoveryId: number } {
  const { signature, recid } = native.ecdsaSign(digest, privkey);
  return { signature, recoveryId: recid };
}

/** Compressed public key recovered from a 64-byte compact low-S signature and its recovery id (0..3). @throws Error when none. */
export function ecdsaRecover(signature: Uint8Array, recoveryId: number, digest: Uint8Array): Uint8Array {
  return native.ecdsaRecover(signature, recoveryId, digest, true);
}

/** SHA256(compressed(secret · point)): the BOLT 4 / BOLT 8 ECDH shared secret. @throws Error on an invalid point or secret. */
export function ecdhSha256(point: Uint8Array, secret: Uint8Array): Uint8Array {
  return native.ecdh(point, secret);
}

/** The same point, uncompressed (65 bytes). @throws Error on an invalid point. */
export function pointUncompressed(point: Uint8Array): Uint8Array {
  return native.publicKeyConvert(point, false);
}

/** The operation's result, or null when libsecp256k1 refuses it (zero key, point at infinity). */
function orNull(operation: () => Uint8Array): Uint8Array | null {
  try {
    return operation();
  } catch {
    return null;
  }
}

/** BIP340 lift_x: the point with x-coordinate `xOnly` and even y, compressed (0x02 || x). */
function liftXOnly(xOnly: Uint8Array): Uint8Array {
  const point = new Uint8Array(33);
  point[0] = 0x02;
  point.set(xOnly, 1);
  return point;
}

/**
 * The native backend in the shape bitcoinjs-lib (`initEccLib`), bip32 (`BIP32Factory`) and ecpair take
 * (tiny-secp256k1's interface), so BIP32 derivation and address checks (P2TR's x-only keys, BIP340
 * lift_x with even y) run on the same libsecp256k1 as the rest of Fulmen. Results follow
 * tiny-secp256k1: null for an invalid result (zero key, point at infinity), throws on malformed input.
 * Schnorr signing is not offered: Fulmen signs no taproot inputs.
 */
export const bitcoinjsEcc = {
  isPoint: (p: Uint8Array): boolean =>
    (p.length === 33 && (p[0] === 2 || p[0] === 3)) || (p.length === 65 && p[0] === 4) ? native.publicKeyVerify(p) : false,
  isPrivate: (d: Uint8Array): boolean => d.length === 32 && native.privateKeyVerify(d),
  isXOnlyPoint: (p: Uint8Array): boolean => p.length === 32 && native.publicKeyVerify(liftXOnly(p)),
  pointCompress: (p: Uint8Array, compressed = true): Uint8Array => native.publicKeyConvert(p, compressed),
  pointFromScalar: (d: Uint8Array, compressed = true): Uint8Array | null => orNull(() => native.publicKeyCreate(d, compressed)),
  pointAddScalar: (p: Uint8Array, tweak: Uint8Array, compressed = true): Uint8Array | null =>
    orNull(() => native.publicKeyTweakAdd(p, tweak, compressed)),
  privateAdd: (d: Uint8Array, tweak: Uint8Array): Uint8Array | null =>
    orNull(() => native.privateKeyTweakAdd(Uint8Array.from(d), tweak)),
  privateNegate: (d: Uint8Array): Uint8Array => native.privateKeyNegate(Uint8Array.from(d)),
  xOnlyPointAddTweak: (p: Uint8Array, tweak: Uint8Array): { parity: 0 | 1; xOnlyPubkey: Uint8Array } | null => {
    const tweaked = orNull(() => native.publicKeyTweakAdd(liftXOnly(p), tweak, true));
    return tweaked === null ? null : { parity: tweaked[0] === 3 ? 1 : 0, xOnlyPubkey: tweaked.subarray(1) };
  },
  sign: (h: Uint8Array, d: Uint8Array, e?: Uint8Array): Uint8Array => native.ecdsaSign(h, d, e ? { data: e } : {}).signature,
  verify: (h: Uint8Array, q: Uint8Array, signature: Uint8Array, strict = false): boolean => {
    if (signature.length !== 64 || h.length !== 32) return false;
    const lowS = strict ? signature : lowSSignature(signature);
    try {
      return native.ecdsaVerify(lowS, h, q);
    } catch {
      return false;
    }
  },
};
