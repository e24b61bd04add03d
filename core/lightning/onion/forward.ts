/**
 * BOLT 4 "Requirements" for an intermediate (forwarding) node: the checks of an incoming HTLC
 * whose onion says forward, against our forwarding policy and the outgoing channel, and the
 * failure (code + data) to return when one fails. Pure: node.ts supplies the channel facts.
 */
import { ByteWriter } from '../wire/codec.js';
import { FailureCode, hasChannelUpdate } from './failure-codes.js';

/** Our forwarding policy (the fields of the channel_update we send, BOLT 7). */
export interface ForwardingPolicy {
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  /** Blocks we require between the incoming cltv_expiry and the outgoing_cltv_value. */
  cltvExpiryDelta: number;
}

/**
 * The outgoing channel as the checks see it, or null when no channel has that short_channel_id
 * (real scid or an alias we gave the peer).
 */
export interface ForwardChannelView {
  /** Channel OPEN, its peer connected and the channel reestablished on this connection. */
  usable: boolean;
  /** The peer's htlc_minimum_msat (what it accepts from us). */
  htlcMinimumMsat: bigint;
  /** What we can send on it now in one HTLC (Channel.availableToSendMsat). */
  availableToSendMsat: bigint;
}

/** Blocks the outgoing HTLC must at least have left before its expiry (else expiry_too_soon). */
export const MIN_OUTGOING_CLTV_BLOCKS = 9;
/** Incoming cltv_expiry further than this from the tip → expiry_too_far (BOLT 4 suggests about two weeks). */
export const MAX_CLTV_EXPIRY_BLOCKS = 2016;

export interface ForwardCheckInput {
  /** Incoming HTLC amount_msat and cltv_expiry (absolute block height). */
  incomingAmountMsat: bigint;
  incomingCltvExpiry: number;
  /** From the onion hop payload. */
  amtToForward: bigint;
  outgoingCltvValue: number;
  /** Current chain tip height. */
  height: number;
  policy: ForwardingPolicy;
  outgoing: ForwardChannelView | null;
}

/**
 * A failed check: `failureCode` (BOLT 4 "Failure Messages") and its data before the
 * channel_update; `needsChannelUpdate` when the code carries the outgoing channel's
 * channel_update (UPDATE flag), which the caller appends with `failureData`.
 */
export interface ForwardFailure {
  failureCode: number;
  /** Code-specific fields: htlc_msat (u64) for amount_below_minimum / fee_insufficient, cltv_expiry (u32) for incorrect_cltv_expiry. */
  data: Uint8Array;
  needsChannelUpdate: boolean;
}

/** Fee we charge to forward `amtToForward` msat: fee_base_msat + amt × fee_proportional_millionths / 1,000,000 (BOLT 7, rounded down). */
export function forwardingFeeMsat(policy: ForwardingPolicy, amtToForward: bigint): bigint {
  return BigInt(policy.feeBaseMsat) + (amtToForward * BigInt(policy.feeProportionalMillionths)) / 1_000_000n;
}

/**
 * Checks a forward in the order BOLT 4 lists the failures: unknown_next_peer, expiry_too_far,
 * temporary_channel_failure (channel unusable), amount_below_minimum, fee_insufficient,
 * incorrect_cltv_expiry, expiry_too_soon, temporary_channel_failure (no liquidity).
 * @returns null when the HTLC may be forwarded, else the failure to return upstream.
 */
export function checkForward(i: ForwardCheckInput): ForwardFailure | null {
  const fail = (failureCode: number, data: Uint8Array = new Uint8Array(0)): ForwardFailure => ({ failureCode, data, needsChannelUpdate: hasChannelUpdate(failureCode) });
  const u64 = (v: bigint) => new ByteWriter().u64(v).finish();
  const u32 = (v: number) => new ByteWriter().u32(v).finish();
  if (!i.outgoing) return fail(FailureCode.unknown_next_peer);
  if (i.incomingCltvExpiry > i.height + MAX_CLTV_EXPIRY_BLOCKS) return fail(FailureCode.expiry_too_far);
  if (!i.outgoing.usable) return fail(FailureCode.temporary_channel_failure);
  if (i.amtToForward < i.outgoing.htlcMinimumMsat || i.amtToForward <= 0n) return fail(FailureCode.amount_below_minimum, u64(i.incomingAmountMsat));
  if (i.incomingAmountMsat < i.amtToForward || i.incomingAmountMsat - i.amtToForward < forwardingFeeMsat(i.policy, i.amtToForward)) {
    return fail(FailureCode.fee_insufficient, u64(i.incomingAmountMsat));
  }
  if (i.incomingCltvExpiry - i.outgoingCltvValue < i.policy.cltvExpiryDelta) return fail(FailureCode.incorrect_cltv_expiry, u32(i.incomingCltvExpiry));
  if (i.outgoingCltvValue < i.height + MIN_OUTGOING_CLTV_BLOCKS) return fail(FailureCode.expiry_too_soon);
  if (i.outgoing.availableToSendMsat < i.amtToForward) return fail(FailureCode.temporary_channel_failure);
  return null;
}

/**
 * failuremsg data for `f`: its fields, then (UPDATE codes) u16 len + the channel_update message
 * including its 2-byte type 258 (BOLT 4), or len 0 when we have none to give.
 * @param channelUpdate the encoded channel_update message (type prefix included), or null.
 */
export function failureData(f: ForwardFailure, channelUpdate: Uint8Array | null): Uint8Array {
  if (!f.needsChannelUpdate) return f.data;
  return new ByteWriter().bytes(f.data).varBytes16(channelUpdate ?? new Uint8Array(0)).finish();
}
