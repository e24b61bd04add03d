/**
 * BOLT 4 Sphinx onion packets: construction at the origin, processing (peel one layer) at each
 * hop. Packet: version (1) || public_key (33) || hop_payloads (1300) || hmac (32) = 1366 bytes.
 */
import { createCipheriv, createHash, createHmac } from 'node:crypto';
import { ecdhSha256, isPrivateKey, pointMulTweak, privateKeyMulTweak, publicKeyCreate, scalarModOrder } from '../../bitcoin/secp256k1.js';
import { FulmenError } from '../../util/errors.js';
import { ByteReader, bytesEqual, encodeBigSize } from '../wire/codec.js';
import { decodeHopPayload, OnionPayloadError, type HopPayload } from './payload.js';
import { FailureCode } from './failure-codes.js';

export const ONION_PACKET_LENGTH = 1366;
export const HOP_PAYLOADS_LENGTH = 1300;
const HMAC_LENGTH = 32;
/** OpenSSL's chacha20 IV: 32-bit little-endian block counter (0) || 96-bit nonce (zero, BOLT 4). */
const ZERO_COUNTER_AND_NONCE = new Uint8Array(16);

export type OnionKeyType = 'rho' | 'mu' | 'um' | 'pad' | 'ammag';

/** Key generation (BOLT 4 "Key Generation"): HMAC-SHA256(key = ASCII key type, msg = secret). */
export function generateOnionKey(keyType: OnionKeyType, secret: Uint8Array): Uint8Array {
  return hmacSha256(KEY_TYPE_BYTES[keyType], secret);
}

const KEY_TYPE_BYTES: Record<OnionKeyType, Uint8Array> = {
  rho: new TextEncoder().encode('rho'),
  mu: new TextEncoder().encode('mu'),
  um: new TextEncoder().encode('um'),
  pad: new TextEncoder().encode('pad'),
  ammag: new TextEncoder().encode('ammag'),
};

/** HMAC-SHA256(key, the concatenation of `parts`) (node:crypto: the onion's hot path). */
export function hmacSha256(key: Uint8Array, ...parts: Uint8Array[]): Uint8Array {
  const mac = createHmac('sha256', key);
  for (const part of parts) mac.update(part);
  return new Uint8Array(mac.digest());
}

function sha256(...parts: Uint8Array[]): Uint8Array {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return new Uint8Array(hash.digest());
}

/** ChaCha20 keystream with a zero nonce (BOLT 4 "Pseudo Random Byte Stream"). */
export function generateCipherStream(key: Uint8Array, length: number): Uint8Array {
  return new Uint8Array(createCipheriv('chacha20', key, ZERO_COUNTER_AND_NONCE).update(new Uint8Array(length)));
}

function xorInto(target: Uint8Array, stream: Uint8Array): void {
  for (let i = 0; i < target.length; i++) target[i]! ^= stream[i]!;
}

/** Shared secret (BOLT 4 "Shared Secret"): SHA256(compressed(priv * pub)). */
function onionEcdh(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  return ecdhSha256(pub, priv);
}

export interface OnionHop {
  /** The hop's node id (33 bytes). */
  pubkey: Uint8Array;
  /** The hop's TLV payload (see encodeHopPayload), without the length prefix. */
  payload: Uint8Array;
}

export interface CreatedOnion {
  packet: Uint8Array;
  /** One per hop, in route order: needed to decrypt a returned failure (decodeFailure). */
  sharedSecrets: Uint8Array[];
}

/**
 * The part of an onion that depends only on the session key and the first hop (BOLT 4 "Packet
 * Construction"): the first ephemeral key pair, the shared secret with the first hop and what
 * derives from them (the `pad` stream, the first hop's `rho` stream and `mu` key). It does not
 * depend on the payloads, so it can be prepared before the payment (LightningNode prepares one per
 * channel peer while idle). A session builds exactly one onion.
 */
export interface OnionSession {
  /** The first hop's node id (33 bytes): createOnionPacket refuses a route that starts elsewhere. */
  readonly firstHopPubkey: Uint8Array;
  readonly ephemeralPriv: Uint8Array;
  readonly ephemeralPub: Uint8Array;
  readonly firstSharedSecret: Uint8Array;
  /** ChaCha20 stream of the `pad` key (1300 bytes): the initial hop_payloads. */
  readonly padStream: Uint8Array;
  /** ChaCha20 stream of the first hop's `rho` key, 2 × 1300 bytes (wrapping and filler use prefixes of it). */
  readonly firstRhoStream: Uint8Array;
  readonly firstMuKey: Uint8Array;
}

/**
 * Starts an onion session towards `firstHopPubkey`.
 * @param sessionKey 32 random bytes (the first ephemeral private key), never used twice.
 * @throws FulmenError BAD_INPUT when the session key is not a valid private key or the hop's key is not a point.
 */
export function startOnionSession(sessionKey: Uint8Array, firstHopPubkey: Uint8Array): OnionSession {
  const ephemeralPriv = scalarModOrder(sessionKey);
  if (!isPrivateKey(ephemeralPriv)) throw new FulmenError('BAD_INPUT', 'Invalid onion session key');
  let firstSharedSecret: Uint8Array;
  try {
    firstSharedSecret = onionEcdh(ephemeralPriv, firstHopPubkey);
  } catch {
    throw new FulmenError('BAD_INPUT', "The onion's first hop key is not a valid point");
  }
  return {
    firstHopPubkey,
    ephemeralPriv,
    ephemeralPub: publicKeyCreate(ephemeralPriv),
    firstSharedSecret,
    padStream: generateCipherStream(generateOnionKey('pad', sessionKey), HOP_PAYLOADS_LENGTH),
    firstRhoStream: generateCipherStream(generateOnionKey('rho', firstSharedSecret), 2 * HOP_PAYLOADS_LENGTH),
    firstMuKey: generateOnionKey('mu', firstSharedSecret),
  };
}

/**
 * Builds an onion packet for `hops` (BOLT 4 "Packet Construction").
 * @param session from startOnionSession towards `hops[0]`.
 * @param associatedData the payment_hash for payments.
 * @throws FulmenError BAD_INPUT when there are no hops, the payloads exceed 1300 bytes or the
 *   route does not start at the session's first hop.
 */
export function createOnionPacket(session: OnionSession, hops: readonly OnionHop[], associatedData: Uint8Array): CreatedOnion {
  if (hops.length === 0) throw new FulmenError('BAD_INPUT', 'Onion route has no hops');
  if (!bytesEqual(hops[0]!.pubkey, session.firstHopPubkey)) throw new FulmenError('BAD_INPUT', "Onion route does not start at the session's first hop");
  const frames = hops.map((h) => {
    if (h.payload.length < 2) throw new FulmenError('BAD_INPUT', 'Onion hop payload must be at least 2 bytes');
    const prefix = encodeBigSize(BigInt(h.payload.length));
    const frame = new Uint8Array(prefix.length + h.payload.length);
    frame.set(prefix, 0);
    frame.set(h.payload, prefix.length);
    return frame;
  });
  const totalSize = frames.reduce((n, f) => n + f.length + HMAC_LENGTH, 0);
  if (totalSize > HOP_PAYLOADS_LENGTH)
    throw new FulmenError('BAD_INPUT', `Onion payloads too large: ${totalSize} bytes (max ${HOP_PAYLOADS_LENGTH})`);

  // Ephemeral keys and shared secrets per hop (the first hop's come with the session).
  let ephemeralPriv = session.ephemeralPriv;
  const sharedSecrets: Uint8Array[] = [];
  for (const [i, hop] of hops.entries()) {
    const ephemeralPub = i === 0 ? session.ephemeralPub : publicKeyCreate(ephemeralPriv);
    const ss = i === 0 ? session.firstSharedSecret : onionEcdh(ephemeralPriv, hop.pubkey);
    sharedSecrets.push(ss);
    if (i === hops.length - 1) break; // the last hop's blinded key is never used
    const blinding = scalarModOrder(sha256(ephemeralPub, ss));
    ephemeralPriv = privateKeyMulTweak(ephemeralPriv, blinding);
  }

  const rhoStream = (i: number, length: number) =>
    i === 0 ? session.firstRhoStream.subarray(0, length) : generateCipherStream(generateOnionKey('rho', sharedSecrets[i]!), length);

  // Filler (BOLT 4 "Filler Generation"): what the trailing bytes look like after the first
  // n-1 hops each shifted and obfuscated the field.
  const fillerLength = totalSize - frames[frames.length - 1]!.length - HMAC_LENGTH;
  let filler = new Uint8Array(0);
  for (let i = 0; i < hops.length - 1; i++) {
    const shift = frames[i]!.length + HMAC_LENGTH;
    const extended = new Uint8Array(filler.length + shift);
    extended.set(filler, 0);
    const stream = rhoStream(i, HOP_PAYLOADS_LENGTH + shift);
    // The filler occupies the tail of the 2*1300 stream window that this hop applies.
    const offset = HOP_PAYLOADS_LENGTH - filler.length;
    for (let j = 0; j < extended.length; j++) extended[j]! ^= stream[offset + j]!;
    filler = extended;
  }
  if (filler.length !== fillerLength) throw new FulmenError('INTERNAL', 'Onion filler length mismatch');

  let mixHeader = session.padStream;
  let nextHmac: Uint8Array = new Uint8Array(HMAC_LENGTH);
  for (let i = hops.length - 1; i >= 0; i--) {
    const frame = frames[i]!;
    const shift = frame.length + HMAC_LENGTH;
    const shifted = new Uint8Array(HOP_PAYLOADS_LENGTH);
    shifted.set(frame, 0);
    shifted.set(nextHmac, frame.length);
    shifted.set(mixHeader.subarray(0, HOP_PAYLOADS_LENGTH - shift), shift);
    xorInto(shifted, rhoStream(i, HOP_PAYLOADS_LENGTH));
    if (i === hops.length - 1) shifted.set(filler, HOP_PAYLOADS_LENGTH - filler.length);
    mixHeader = shifted;
    nextHmac = hmacSha256(i === 0 ? session.firstMuKey : generateOnionKey('mu', sharedSecrets[i]!), mixHeader, associatedData);
  }

  const packet = new Uint8Array(ONION_PACKET_LENGTH);
  packet[0] = 0;
  packet.set(session.ephemeralPub, 1);
  packet.set(mixHeader, 34);
  packet.set(nextHmac, 34 + HOP_PAYLOADS_LENGTH);
  return { packet, sharedSecrets };
}

/** Outcome of peeling one onion layer. */
export type ProcessedOnion =
  | {
      /** Forward `nextPacket` over the channel `payload.shortChannelId`. */
      type: 'forward';
      sharedSecret: Uint8Array;
      payload: HopPayload;
      nextPacket: Uint8Array;
    }
  | {
      /** We are the final recipient. */
      type: 'final';
      sharedSecret: Uint8Array;
      payload: HopPayload;
    }
  | {
      /**
       * The packet itself is bad: reply with `update_fail_malformed_htlc` carrying
       * `failureCode` (a BADONION code) and `sha256OfOnion` (BOLT 2).
       */
      type: 'malformed';
      failureCode: number;
      sha256OfOnion: Uint8Array;
    }
  | {
      /**
       * The HMAC verified but the hop payload is unusable: reply with `update_fail_htlc`
       * built by createFailureMessage(sharedSecret, failureCode, failureData).
       */
      type: 'invalid_payload';
      sharedSecret: Uint8Array;
      failureCode: number;
      failureData: Uint8Array;
      reason: string;
    };

/**
 * Peels one layer of an onion packet (BOLT 4 "Onion Decryption").
 * @param packet 1366 bytes from update_add_htlc.onion_routing_packet.
 * @param nodePrivkey our node private key (32 bytes).
 * @param associatedData the HTLC's payment_hash.
 * Never throws for bad packets: the result says which failure to return.
 */
export function processOnionPacket(packet: Uint8Array, nodePrivkey: Uint8Array, associatedData: Uint8Array): ProcessedOnion {
  const malformed = (failureCode: number): ProcessedOnion => ({ type: 'malformed', failureCode, sha256OfOnion: sha256(packet) });
  if (packet.length !== ONION_PACKET_LENGTH) return malformed(FailureCode.invalid_onion_version);
  if (packet[0] !== 0) return malformed(FailureCode.invalid_onion_version);
  const publicKey = packet.subarray(1, 34);
  let ss: Uint8Array;
  try {
    ss = onionEcdh(nodePrivkey, publicKey);
  } catch {
    return malformed(FailureCode.invalid_onion_key);
  }
  const hopPayloads = packet.subarray(34, 34 + HOP_PAYLOADS_LENGTH);
  const receivedHmac = packet.subarray(34 + HOP_PAYLOADS_LENGTH);
  const expectedHmac = hmacSha256(generateOnionKey('mu', ss), hopPayloads, associatedData);
  if (!bytesEqual(expectedHmac, receivedHmac)) return malformed(FailureCode.invalid_onion_hmac);

  const unwrapped = new Uint8Array(2 * HOP_PAYLOADS_LENGTH);
  unwrapped.set(hopPayloads, 0);
  xorInto(unwrapped, generateCipherStream(generateOnionKey('rho', ss), 2 * HOP_PAYLOADS_LENGTH));

  const invalid = (reason: string, tlvType: bigint, offset: number): ProcessedOnion => ({
    type: 'invalid_payload',
    sharedSecret: ss,
    failureCode: FailureCode.invalid_onion_payload,
    failureData: new Uint8Array([...encodeBigSize(tlvType), offset >> 8, offset & 0xff]),
    reason,
  });

  let payloadBytes: Uint8Array;
  let nextHmac: Uint8Array;
  let consumed: number;
  try {
    const r = new ByteReader(unwrapped);
    const length = r.bigSize('payload length');
    if (length < 2n || length > BigInt(HOP_PAYLOADS_LENGTH)) return invalid('Invalid onion payload length', 0n, 0);
    payloadBytes = r.bytesN(Number(length), 'payload');
    nextHmac = r.bytesN(HMAC_LENGTH, 'hmac');
    consumed = r.position;
  } catch {
    return invalid('Invalid onion payload length', 0n, 0);
  }
  const isFinal = nextHmac.every((b) => b === 0);
  let payload: HopPayload;
  try {
    payload = decodeHopPayload(payloadBytes, isFinal);
  } catch (e) {
    const pe = e instanceof OnionPayloadError ? e : new OnionPayloadError(String(e), 0n, 0);
    return invalid(pe.message, pe.tlvType, pe.offset);
  }
  if (isFinal) return { type: 'final', sharedSecret: ss, payload };

  const blinding = scalarModOrder(sha256(publicKey, ss));
  const nextPublicKey = pointMulTweak(publicKey, blinding);
  const nextPacket = new Uint8Array(ONION_PACKET_LENGTH);
  nextPacket[0] = 0;
  nextPacket.set(nextPublicKey, 1);
  nextPacket.set(unwrapped.subarray(consumed, consumed + HOP_PAYLOADS_LENGTH), 34);
  nextPacket.set(nextHmac, 34 + HOP_PAYLOADS_LENGTH);
  return { type: 'forward', sharedSecret: ss, payload, nextPacket };
}
