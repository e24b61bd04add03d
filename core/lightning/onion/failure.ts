/**
 * BOLT 4 "Returning Errors": failure messages built by the erring node, obfuscated at each hop
 * on the way back, and attributed + decrypted by the origin node.
 * Attribution data (option_attribution_data) is not produced or checked yet.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';
import { FulmenError } from '../../util/errors.js';
import { ByteReader, ByteWriter, bytesEqual } from '../wire/codec.js';
import { generateCipherStream, generateOnionKey } from './sphinx.js';
import { hasChannelUpdate } from './failure-codes.js';

const HMAC_LENGTH = 32;
/** failure_len + pad_len SHOULD be exactly 256 (BOLT 4 erring node requirements). */
const PADDED_FAILURE_LENGTH = 256;
/** The origin keeps decrypting up to 27 times to hide the failing hop's position (BOLT 4). */
const MAX_ROUTE_LENGTH = 27;

function xorStream(key: Uint8Array, data: Uint8Array): Uint8Array {
  const stream = generateCipherStream(key, data.length);
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! ^ stream[i]!;
  return out;
}

/**
 * Builds the return packet at the erring node: hmac || failure_len || failuremsg || pad_len || pad,
 * then obfuscated with this hop's `ammag` stream. `failuremsg` = u16 failureCode || data.
 * The result goes into update_fail_htlc.reason.
 * @param sharedSecret the secret from processOnionPacket for this HTLC.
 */
export function createFailureMessage(sharedSecret: Uint8Array, failureCode: number, data: Uint8Array = new Uint8Array(0)): Uint8Array {
  const failureMsg = new ByteWriter().u16(failureCode).bytes(data).finish();
  if (failureMsg.length > 65535 - HMAC_LENGTH - 4) throw new FulmenError('INTERNAL', 'Failure message too long');
  const padLen = Math.max(0, PADDED_FAILURE_LENGTH - failureMsg.length);
  const body = new ByteWriter().varBytes16(failureMsg).varBytes16(new Uint8Array(padLen)).finish();
  const mac = hmac(sha256, generateOnionKey('um', sharedSecret), body);
  const packet = new Uint8Array(HMAC_LENGTH + body.length);
  packet.set(mac, 0);
  packet.set(body, HMAC_LENGTH);
  return xorStream(generateOnionKey('ammag', sharedSecret), packet);
}

/**
 * Intermediate hop: obfuscates a failure packet received from downstream with its own
 * `ammag` stream before passing it upstream (BOLT 4 "Intermediate nodes").
 */
export function obfuscateFailure(sharedSecret: Uint8Array, packet: Uint8Array): Uint8Array {
  return xorStream(generateOnionKey('ammag', sharedSecret), packet);
}

export interface DecodedFailure {
  /** Index into the route (0 = first hop) of the node that produced the failure. */
  failingHopIndex: number;
  failureCode: number;
  /** Failure data after the 2-byte code (e.g. a channel_update for UPDATE codes). */
  data: Uint8Array;
}

/**
 * Origin node: peels each hop's obfuscation in route order and returns the first hop whose
 * `um` HMAC matches (BOLT 4 "Origin node"). Continues dummy rounds up to 27 to avoid leaking
 * the position through timing. Returns undefined when no hop authenticates the packet, or the
 * authenticated content is malformed — the caller then cannot attribute the failure.
 * @param sharedSecrets from createOnionPacket, in route order.
 */
export function decodeFailure(sharedSecrets: readonly Uint8Array[], packet: Uint8Array): DecodedFailure | undefined {
  let current = packet;
  let found: DecodedFailure | undefined;
  let foundInvalid = false;
  for (let i = 0; i < Math.max(MAX_ROUTE_LENGTH, sharedSecrets.length); i++) {
    const real = i < sharedSecrets.length && found === undefined && !foundInvalid;
    const secret = sharedSecrets[Math.min(i, sharedSecrets.length - 1)]!;
    current = xorStream(generateOnionKey('ammag', secret), current);
    if (current.length < HMAC_LENGTH + 4) {
      if (real) foundInvalid = true;
      continue;
    }
    const mac = hmac(sha256, generateOnionKey('um', secret), current.subarray(HMAC_LENGTH));
    if (!real || !bytesEqual(mac, current.subarray(0, HMAC_LENGTH))) continue;
    try {
      const r = new ByteReader(current.subarray(HMAC_LENGTH));
      const failureMsg = r.varBytes16('failuremsg');
      r.varBytes16('pad');
      if (failureMsg.length < 2) throw new Error('short failure message');
      found = {
        failingHopIndex: i,
        failureCode: (failureMsg[0]! << 8) | failureMsg[1]!,
        data: failureMsg.slice(2),
      };
    } catch {
      foundInvalid = true;
    }
  }
  return found;
}

/**
 * The channel_update carried by UPDATE failures (temporary_channel_failure, amount_below_minimum,
 * fee_insufficient, incorrect_cltv_expiry, expiry_too_soon, channel_disabled), without any
 * legacy 0x0102 type prefix. Undefined when the code carries none or the data is malformed.
 */
export function failureChannelUpdate(failureCode: number, data: Uint8Array): Uint8Array | undefined {
  if (!hasChannelUpdate(failureCode)) return undefined;
  const r = new ByteReader(data);
  try {
    const code = failureCode & 0xff;
    if (code === 11 || code === 12) r.u64(); // htlc_msat
    else if (code === 13) r.u32(); // cltv_expiry
    else if (code === 20) r.u16(); // disabled_flags
    let update = r.varBytes16('channel_update');
    // Some implementations prefix the message type (258 = 0x0102).
    if (update.length >= 2 && update[0] === 0x01 && update[1] === 0x02) update = update.slice(2);
    return update;
  } catch {
    return undefined;
  }
}
