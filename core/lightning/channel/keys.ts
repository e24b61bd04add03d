import { secp256k1 } from '@noble/curves/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { concatBytes } from '@noble/hashes/utils.js';
import { FulmenError } from '../../util/errors.js';

/**
 * BOLT 3 "Keys": per-commitment key derivation, revocation keys and the per-commitment secret
 * chain (generate_from_seed). All keys are 33-byte compressed points, secrets 32 bytes.
 */

const Point = secp256k1.Point;
const N = Point.CURVE().n;

/** Highest commitment index; the first per-commitment secret has this index (BOLT 3). */
export const START_INDEX = 2n ** 48n - 1n;

function toScalar(bytes: Uint8Array): bigint {
  let n = 0n;
  for (const b of bytes) n = (n << 8n) | BigInt(b);
  return n;
}

function scalarToBytes(n: bigint): Uint8Array {
  const out = new Uint8Array(32);
  let v = n;
  for (let i = 31; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

function checkScalar(n: bigint): bigint {
  if (n <= 0n || n >= N) throw new FulmenError('INTERNAL', 'Derived key is out of range');
  return n;
}

/** Compressed public key (33 bytes) of a 32-byte secret. @throws on an invalid secret. */
export function pubkeyFromSecret(secret: Uint8Array): Uint8Array {
  return secp256k1.getPublicKey(secret, true);
}

/** True if `bytes` is a valid compressed secp256k1 point. */
export function isValidPoint(bytes: Uint8Array): boolean {
  if (bytes.length !== 33) return false;
  try {
    Point.fromBytes(bytes).assertValidity();
    return true;
  } catch {
    return false;
  }
}

/**
 * BOLT 3 `pubkey = basepoint + SHA256(per_commitment_point || basepoint) * G`.
 * Used for localpubkey, local/remote_htlcpubkey, local/remote_delayedpubkey.
 */
export function derivePubkey(basepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  const tweak = checkScalar(toScalar(sha256(concatBytes(perCommitmentPoint, basepoint))));
  return Point.fromBytes(basepoint).add(Point.BASE.multiply(tweak)).toBytes(true);
}

/** BOLT 3 `privkey = basepoint_secret + SHA256(per_commitment_point || basepoint)` (mod n). */
export function derivePrivkey(basepointSecret: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  const basepoint = pubkeyFromSecret(basepointSecret);
  const tweak = toScalar(sha256(concatBytes(perCommitmentPoint, basepoint)));
  return scalarToBytes(checkScalar((toScalar(basepointSecret) + tweak) % N));
}

/**
 * BOLT 3 revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
 *                         + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint).
 */
export function deriveRevocationPubkey(revocationBasepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  const a = checkScalar(toScalar(sha256(concatBytes(revocationBasepoint, perCommitmentPoint))));
  const b = checkScalar(toScalar(sha256(concatBytes(perCommitmentPoint, revocationBasepoint))));
  const p = Point.fromBytes(revocationBasepoint).multiply(a).add(Point.fromBytes(perCommitmentPoint).multiply(b));
  return p.toBytes(true);
}

/**
 * BOLT 3 revocationprivkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)
 *                          + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint).
 */
export function deriveRevocationPrivkey(revocationBasepointSecret: Uint8Array, perCommitmentSecret: Uint8Array): Uint8Array {
  const revocationBasepoint = pubkeyFromSecret(revocationBasepointSecret);
  const perCommitmentPoint = pubkeyFromSecret(perCommitmentSecret);
  const a = toScalar(sha256(concatBytes(revocationBasepoint, perCommitmentPoint)));
  const b = toScalar(sha256(concatBytes(perCommitmentPoint, revocationBasepoint)));
  const k = (toScalar(revocationBasepointSecret) * a + toScalar(perCommitmentSecret) * b) % N;
  return scalarToBytes(checkScalar(k));
}

/**
 * BOLT 3 generate_from_seed / derive_secret: flips bit B and hashes, for B from `bits - 1` down
 * to 0, wherever bit B of `index` is set. With bits = 48 this is generate_from_seed(seed, index).
 */
export function deriveSecret(base: Uint8Array, bits: number, index: bigint): Uint8Array {
  let p = Uint8Array.from(base);
  for (let b = bits - 1; b >= 0; b--) {
    if ((index >> BigInt(b)) & 1n) {
      p[b >> 3] ^= 1 << (b & 7);
      p = Uint8Array.from(sha256(p));
    }
  }
  return p;
}

/** BOLT 3 generate_from_seed(seed, I): the per-commitment secret with index I (0 <= I < 2^48). */
export function generateFromSeed(seed: Uint8Array, index: bigint): Uint8Array {
  if (index < 0n || index > START_INDEX) throw new FulmenError('INTERNAL', 'Commitment index out of range');
  return deriveSecret(seed, 48, index);
}

/**
 * Per-commitment secret for commitment number `ctn` (ctn 0 uses index 2^48-1, BOLT 3: "the first
 * secret used MUST be index 281474976710655, and from there, the index is decremented").
 */
export function perCommitmentSecret(seed: Uint8Array, ctn: bigint): Uint8Array {
  return generateFromSeed(seed, START_INDEX - ctn);
}

/** per_commitment_point = per_commitment_secret * G for commitment number `ctn`. */
export function perCommitmentPoint(seed: Uint8Array, ctn: bigint): Uint8Array {
  return pubkeyFromSecret(perCommitmentSecret(seed, ctn));
}

/** The six per-channel secrets of one side (BOLT 2 open_channel/accept_channel basepoints). */
export interface ChannelSecrets {
  fundingPrivkey: Uint8Array;
  revocationBasepointSecret: Uint8Array;
  paymentBasepointSecret: Uint8Array;
  delayedPaymentBasepointSecret: Uint8Array;
  htlcBasepointSecret: Uint8Array;
  /** Seed of the per-commitment secret chain (generate_from_seed). */
  perCommitmentSeed: Uint8Array;
}

export interface ChannelBasepoints {
  fundingPubkey: Uint8Array;
  revocationBasepoint: Uint8Array;
  paymentBasepoint: Uint8Array;
  delayedPaymentBasepoint: Uint8Array;
  htlcBasepoint: Uint8Array;
}

const SECRET_NAMES = ['funding', 'revocation', 'payment', 'delayed_payment', 'htlc', 'per_commitment_seed'] as const;

/**
 * Fulmen's per-channel key derivation. Every secret of a channel is
 *
 *     HMAC-SHA256(key = lightningRootSecret, msg = "fulmen/channel/" || channelKeyIndex(be32) || "/" || name)
 *
 * with name one of funding, revocation, payment, delayed_payment, htlc, per_commitment_seed.
 * `channelKeyIndex` is a counter stored with the channel (never reused), so the database only needs
 * the index to re-create every key; restoring from seed plus the index recovers the channel keys.
 * (Electrum derives from a BIP32 node per channel; an HMAC over a 32-byte root gives the same
 * property with no extra dependency.)
 */
export function deriveChannelSecrets(lightningRootSecret: Uint8Array, channelKeyIndex: number): ChannelSecrets {
  if (lightningRootSecret.length !== 32) throw new FulmenError('INTERNAL', 'Lightning root secret must be 32 bytes');
  if (!Number.isInteger(channelKeyIndex) || channelKeyIndex < 0 || channelKeyIndex > 0xffffffff) {
    throw new FulmenError('INTERNAL', 'Channel key index out of range');
  }
  const idx = new Uint8Array(4);
  new DataView(idx.buffer).setUint32(0, channelKeyIndex);
  const enc = new TextEncoder();
  const derive = (name: string): Uint8Array => {
    const out = hmac(sha256, lightningRootSecret, concatBytes(enc.encode('fulmen/channel/'), idx, enc.encode('/' + name)));
    checkScalar(toScalar(out)); // probability of failure ~2^-128
    return out;
  };
  const [f, r, p, d, h, s] = SECRET_NAMES.map(derive);
  return {
    fundingPrivkey: f!,
    revocationBasepointSecret: r!,
    paymentBasepointSecret: p!,
    delayedPaymentBasepointSecret: d!,
    htlcBasepointSecret: h!,
    perCommitmentSeed: s!,
  };
}

/** Public basepoints for a set of channel secrets. */
export function basepointsOf(secrets: ChannelSecrets): ChannelBasepoints {
  return {
    fundingPubkey: pubkeyFromSecret(secrets.fundingPrivkey),
    revocationBasepoint: pubkeyFromSecret(secrets.revocationBasepointSecret),
    paymentBasepoint: pubkeyFromSecret(secrets.paymentBasepointSecret),
    delayedPaymentBasepoint: pubkeyFromSecret(secrets.delayedPaymentBasepointSecret),
    htlcBasepoint: pubkeyFromSecret(secrets.htlcBasepointSecret),
  };
}

/** Node key: HMAC-SHA256(lightningRootSecret, "fulmen/node"). One node id per wallet. */
export function deriveNodeSecret(lightningRootSecret: Uint8Array): Uint8Array {
  const out = hmac(sha256, lightningRootSecret, new TextEncoder().encode('fulmen/node'));
  checkScalar(toScalar(out));
  return out;
}

/**
 * ECDSA over a 32-byte digest, RFC 6979 deterministic nonce, low-S; returns the 64-byte compact
 * (r || s) form used on the Lightning wire (BOLT 1 `signature`).
 */
export function signDigest(digest: Uint8Array, privkey: Uint8Array): Uint8Array {
  return secp256k1.sign(digest, privkey, { prehash: false, lowS: true });
}

/** Verifies a 64-byte compact signature over a 32-byte digest (low-S required). */
export function verifyDigest(signature: Uint8Array, digest: Uint8Array, pubkey: Uint8Array): boolean {
  if (signature.length !== 64) return false;
  try {
    return secp256k1.verify(signature, digest, pubkey, { prehash: false, lowS: true });
  } catch {
    return false;
  }
}
