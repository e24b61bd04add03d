import { sha256 } from '@noble/hashes/sha2.js';
import { sha256 as sha256n } from '../../chain/bytes.js';
import { ecdsaSign, ecdsaVerify, isCompressedPoint, pointAdd, pointAddTweak, pointMulTweak, publicKeyCreate } from '../../bitcoin/secp256k1.js';
import { hmac } from '@noble/hashes/hmac.js';
import { concatBytes } from '@noble/hashes/utils.js';
import { FulmenError } from '../../util/errors.js';

/**
 * BOLT 3 "Keys": per-commitment key derivation, revocation keys and the per-commitment secret
 * chain (generate_from_seed). All keys are 33-byte compressed points, secrets 32 bytes.
 */

/** Order of the secp256k1 group. */
const N = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;

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
  return publicKeyCreate(secret);
}

/** True if `bytes` is a valid compressed secp256k1 point. */
export function isValidPoint(bytes: Uint8Array): boolean {
  return isCompressedPoint(bytes);
}

/**
 * BOLT 3 `pubkey = basepoint + SHA256(per_commitment_point || basepoint) * G`.
 * Used for localpubkey, local/remote_htlcpubkey, local/remote_delayedpubkey.
 */
export function derivePubkey(basepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  const tweak = sha256n(concatBytes(perCommitmentPoint, basepoint));
  checkScalar(toScalar(tweak));
  return pointAddTweak(basepoint, tweak);
}

/**
 * BOLT 3 `privkey = basepoint_secret + SHA256(per_commitment_point || basepoint)` (mod n).
 * `basepoint` (33 bytes) is basepoint_secret * G, computed when not given.
 */
export function derivePrivkey(basepointSecret: Uint8Array, perCommitmentPoint: Uint8Array, basepoint = pubkeyFromSecret(basepointSecret)): Uint8Array {
  const tweak = toScalar(sha256n(concatBytes(perCommitmentPoint, basepoint)));
  return scalarToBytes(checkScalar((toScalar(basepointSecret) + tweak) % N));
}

/**
 * The two BOLT 3 revocation tweaks, as scalars (not reduced):
 * a = SHA256(revocation_basepoint || per_commitment_point), b = SHA256(per_commitment_point || revocation_basepoint).
 */
function revocationTweaks(revocationBasepoint: Uint8Array, perCommitmentPoint: Uint8Array): { a: bigint; b: bigint } {
  return {
    a: toScalar(sha256n(concatBytes(revocationBasepoint, perCommitmentPoint))),
    b: toScalar(sha256n(concatBytes(perCommitmentPoint, revocationBasepoint))),
  };
}

/**
 * BOLT 3 revocationpubkey = revocation_basepoint * SHA256(revocation_basepoint || per_commitment_point)
 *                         + per_commitment_point * SHA256(per_commitment_point || revocation_basepoint).
 */
export function deriveRevocationPubkey(revocationBasepoint: Uint8Array, perCommitmentPoint: Uint8Array): Uint8Array {
  const { a, b } = revocationTweaks(revocationBasepoint, perCommitmentPoint);
  checkScalar(a);
  checkScalar(b);
  return pointAdd(pointMulTweak(revocationBasepoint, scalarToBytes(a)), pointMulTweak(perCommitmentPoint, scalarToBytes(b)));
}

/**
 * deriveRevocationPubkey when we hold the secret of one of the two points: the
 * revocation_basepoint_secret (the peer's commitments) or the per_commitment_secret (ours). That
 * point's term becomes (secret × hash) · G, folded into one tweak addition: one variable-base
 * multiplication and one tweak addition instead of two multiplications and a point addition
 * (same point as deriveRevocationPubkey; about a third less time).
 */
export function deriveRevocationPubkeyKnowing(
  revocationBasepoint: Uint8Array,
  perCommitmentPoint: Uint8Array,
  known: { revocationBasepointSecret: Uint8Array } | { perCommitmentSecret: Uint8Array },
): Uint8Array {
  const { a, b } = revocationTweaks(revocationBasepoint, perCommitmentPoint);
  checkScalar(a);
  checkScalar(b);
  if ('revocationBasepointSecret' in known) {
    return pointAddTweak(pointMulTweak(perCommitmentPoint, scalarToBytes(b)), scalarToBytes((toScalar(known.revocationBasepointSecret) * a) % N));
  }
  return pointAddTweak(pointMulTweak(revocationBasepoint, scalarToBytes(a)), scalarToBytes((toScalar(known.perCommitmentSecret) * b) % N));
}

/**
 * BOLT 3 revocationprivkey = revocation_basepoint_secret * SHA256(revocation_basepoint || per_commitment_point)
 *                          + per_commitment_secret * SHA256(per_commitment_point || revocation_basepoint).
 */
export function deriveRevocationPrivkey(revocationBasepointSecret: Uint8Array, perCommitmentSecret: Uint8Array): Uint8Array {
  const revocationBasepoint = pubkeyFromSecret(revocationBasepointSecret);
  const perCommitmentPoint = pubkeyFromSecret(perCommitmentSecret);
  const { a, b } = revocationTweaks(revocationBasepoint, perCommitmentPoint);
  const k = (toScalar(revocationBasepointSecret) * a + toScalar(perCommitmentSecret) * b) % N;
  return scalarToBytes(checkScalar(k));
}

/**
 * BOLT 3 generate_from_seed / derive_secret: flips bit B and hashes, for B from `bits - 1` down
 * to 0, wherever bit B of `index` is set. With bits = 48 this is generate_from_seed(seed, index).
 */
export function deriveSecret(base: Uint8Array, bits: number, index: bigint): Uint8Array {
  let p: Uint8Array = Uint8Array.from(base);
  // Bits as two 24-bit numbers: no bigint shift per bit (index < 2^48).
  const high = Number(index >> 24n) & 0xffffff;
  const low = Number(index & 0xffffffn);
  for (let b = bits - 1; b >= 0; b--) {
    if (((b >= 24 ? high >> (b - 24) : low >> b) & 1) === 1) {
      p[b >> 3] ^= 1 << (b & 7);
      p = sha256n(p);
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
  return ecdsaSign(digest, privkey);
}

/** Verifies a 64-byte compact signature over a 32-byte digest (low-S required). */
export function verifyDigest(signature: Uint8Array, digest: Uint8Array, pubkey: Uint8Array): boolean {
  return ecdsaVerify(signature, digest, pubkey);
}

// ---------------------------------------------------------------- recoverable channel keys

/**
 * How a channel's secrets derive from the Lightning root secret, recorded with the channel.
 * Absent on channels made before recoverable keys existed: those use `deriveChannelSecrets(root,
 * keyIndex)`.
 *
 * - `opened` (we are the funder): the funding key depends only on the remote node id's first 16
 *   bytes and the funding transaction's nLockTime, both visible on chain (the node id in the
 *   encrypted OP_RETURN of the funding transaction, backup/onchain.ts), so a wallet restored from
 *   its seed re-derives it from its own funding transactions (Electrum's "recoverable channels",
 *   lnutil.derive_multisig_funding_key_if_we_opened). The node never opens two channels with one
 *   peer under the same nLockTime (node.ts picks a fresh one).
 * - `accepted` (the peer funded): derived from the remote node id and the remote funding pubkey
 *   of its open_channel (as Electrum's derive_multisig_funding_key_if_they_opened); recoverable
 *   with a static channel backup. The node refuses a second channel with one peer reusing a
 *   funding pubkey.
 */
export type ChannelKeyDerivation =
  | { scheme: 'opened'; remoteNodeId: string; fundingLocktime: number }
  | { scheme: 'accepted'; remoteNodeId: string; remoteFundingPubkey: string };

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);

function hmacScalar(key: Uint8Array, msg: Uint8Array): Uint8Array {
  const out = hmac(sha256, key, msg);
  checkScalar(toScalar(out)); // probability of failure ~2^-128
  return out;
}

function checkRoot(lightningRootSecret: Uint8Array): void {
  if (lightningRootSecret.length !== 32) throw new FulmenError('INTERNAL', 'Lightning root secret must be 32 bytes');
}

function hexBytes(hex: string, length: number, what: string): Uint8Array {
  if (!/^[0-9a-f]*$/i.test(hex) || hex.length !== length * 2) throw new FulmenError('BAD_INPUT', `Invalid ${what}`);
  const out = new Uint8Array(length);
  for (let i = 0; i < length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

/**
 * The wallet-wide static payment secret: HMAC-SHA256(lightningRootSecret, "fulmen/static-payment-key").
 * With option_static_remotekey the peer's commitments pay our to_remote to P2WPKH of its pubkey
 * (our payment_basepoint in every recoverable channel), so a wallet restored from the seed alone
 * can spend to_remote after a remote force close. (Like Electrum's static_payment_key; the cost is
 * that our to_remote outputs share one script on chain.)
 */
export function deriveStaticPaymentSecret(lightningRootSecret: Uint8Array): Uint8Array {
  checkRoot(lightningRootSecret);
  return hmacScalar(lightningRootSecret, enc('fulmen/static-payment-key'));
}

/**
 * Our multisig funding private key of a recoverable channel:
 *
 *     funding_root = HMAC-SHA256(lightningRootSecret, "fulmen/funding-root")
 *     opened:   HMAC-SHA256(funding_root, "opened" || remote_node_id[0:16] || nLockTime (u32 LE))
 *     accepted: HMAC-SHA256(funding_root, "accepted" || remote_node_id (33) || remote_funding_pubkey (33))
 *
 * @throws FulmenError BAD_INPUT for a malformed node id or pubkey, INTERNAL for a bad root.
 */
export function deriveRecoverableFundingKey(lightningRootSecret: Uint8Array, d: ChannelKeyDerivation): Uint8Array {
  checkRoot(lightningRootSecret);
  const fundingRoot = hmac(sha256, lightningRootSecret, enc('fulmen/funding-root'));
  const nodeId = hexBytes(d.remoteNodeId, 33, 'remote node id');
  if (d.scheme === 'opened') {
    if (!Number.isInteger(d.fundingLocktime) || d.fundingLocktime < 0 || d.fundingLocktime > 0xffffffff) {
      throw new FulmenError('BAD_INPUT', 'Invalid funding transaction lock time');
    }
    const locktime = new Uint8Array(4);
    new DataView(locktime.buffer).setUint32(0, d.fundingLocktime, true);
    return hmacScalar(fundingRoot, concatBytes(enc('opened'), nodeId.slice(0, 16), locktime));
  }
  return hmacScalar(fundingRoot, concatBytes(enc('accepted'), nodeId, hexBytes(d.remoteFundingPubkey, 33, 'remote funding pubkey')));
}

/**
 * The secrets of a recoverable channel: the funding key (deriveRecoverableFundingKey), the
 * static payment secret as payment_basepoint secret, and the rest from the channel seed
 *
 *     channel_seed = HMAC-SHA256(funding_privkey, "fulmen/channel-seed")
 *     secret(name) = HMAC-SHA256(channel_seed, name), name in revocation, delayed_payment, htlc, per_commitment_seed
 *
 * so the per-commitment secrets (needed to sweep to_local after a local force close) follow
 * from the seed and the channel's funding information alone.
 */
export function deriveRecoverableChannelSecrets(lightningRootSecret: Uint8Array, d: ChannelKeyDerivation): ChannelSecrets {
  const fundingPrivkey = deriveRecoverableFundingKey(lightningRootSecret, d);
  const channelSeed = hmac(sha256, fundingPrivkey, enc('fulmen/channel-seed'));
  return {
    fundingPrivkey,
    revocationBasepointSecret: hmacScalar(channelSeed, enc('revocation')),
    paymentBasepointSecret: deriveStaticPaymentSecret(lightningRootSecret),
    delayedPaymentBasepointSecret: hmacScalar(channelSeed, enc('delayed_payment')),
    htlcBasepointSecret: hmacScalar(channelSeed, enc('htlc')),
    perCommitmentSeed: hmac(sha256, channelSeed, enc('per_commitment_seed')),
  };
}

/**
 * A channel's secrets from what its record says: `keyDerivation` (recoverable channels) or the
 * legacy per-key-index derivation.
 */
export function channelSecretsFor(lightningRootSecret: Uint8Array, ch: { keyIndex: number; keyDerivation?: ChannelKeyDerivation | undefined }): ChannelSecrets {
  return ch.keyDerivation ? deriveRecoverableChannelSecrets(lightningRootSecret, ch.keyDerivation) : deriveChannelSecrets(lightningRootSecret, ch.keyIndex);
}
