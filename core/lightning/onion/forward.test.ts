import { describe, expect, it } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, ByteReader } from '../wire/codec.js';
import { checkForward, failureData, forwardingFeeMsat, MAX_CLTV_EXPIRY_BLOCKS, MIN_OUTGOING_CLTV_BLOCKS, type ForwardCheckInput } from './forward.js';
import { FailureCode } from './failure-codes.js';
import { createOnionPacket, processOnionPacket, startOnionSession } from './sphinx.js';
import { encodeHopPayload } from './payload.js';
import { createFailureMessage, decodeFailure, failureChannelUpdate, obfuscateFailure } from './failure.js';
import { routeThroughHint } from '../router/route-hints.js';

const policy = { feeBaseMsat: 1000, feeProportionalMillionths: 1, cltvExpiryDelta: 144 };
const height = 800;
/** A forward that passes every check: 1,000,000 msat out, fee 1001 msat, delta 144. */
const ok: ForwardCheckInput = {
  incomingAmountMsat: 1_001_001n,
  incomingCltvExpiry: height + 165,
  amtToForward: 1_000_000n,
  outgoingCltvValue: height + 21,
  height,
  policy,
  outgoing: { usable: true, htlcMinimumMsat: 1n, availableToSendMsat: 5_000_000n },
};

describe('forwarding policy (BOLT 4 intermediate node requirements)', () => {
  it('fee is fee_base_msat + amt × fee_proportional_millionths / 10^6, rounded down', () => {
    expect(forwardingFeeMsat(policy, 1_000_000n)).toBe(1001n);
    expect(forwardingFeeMsat(policy, 999_999n)).toBe(1000n);
    expect(forwardingFeeMsat({ feeBaseMsat: 0, feeProportionalMillionths: 2500, cltvExpiryDelta: 40 }, 2_000_000n)).toBe(5000n);
  });

  it('accepts a forward paying exactly the fee with exactly cltv_expiry_delta', () => {
    expect(checkForward(ok)).toBeNull();
    expect(checkForward({ ...ok, incomingCltvExpiry: ok.outgoingCltvValue + 144 })).toBeNull();
  });

  it('unknown_next_peer without a channel for the short_channel_id', () => {
    expect(checkForward({ ...ok, outgoing: null })).toMatchObject({ failureCode: FailureCode.unknown_next_peer, needsChannelUpdate: false });
  });

  it('temporary_channel_failure (with channel_update) for an unusable channel or too little liquidity', () => {
    expect(checkForward({ ...ok, outgoing: { ...ok.outgoing!, usable: false } })).toMatchObject({ failureCode: FailureCode.temporary_channel_failure, needsChannelUpdate: true });
    expect(checkForward({ ...ok, outgoing: { ...ok.outgoing!, availableToSendMsat: 999_999n } })).toMatchObject({ failureCode: FailureCode.temporary_channel_failure });
  });

  it('amount_below_minimum carries htlc_msat', () => {
    const f = checkForward({ ...ok, outgoing: { ...ok.outgoing!, htlcMinimumMsat: 1_000_001n } });
    expect(f).toMatchObject({ failureCode: FailureCode.amount_below_minimum, needsChannelUpdate: true });
    expect(new ByteReader(f!.data).u64()).toBe(1_001_001n);
  });

  it('fee_insufficient one msat short, or when the incoming amount is below amt_to_forward', () => {
    const f = checkForward({ ...ok, incomingAmountMsat: 1_001_000n });
    expect(f?.failureCode).toBe(FailureCode.fee_insufficient);
    expect(new ByteReader(f!.data).u64()).toBe(1_001_000n);
    expect(checkForward({ ...ok, incomingAmountMsat: 900_000n })?.failureCode).toBe(FailureCode.fee_insufficient);
  });

  it('incorrect_cltv_expiry one block short of cltv_expiry_delta carries cltv_expiry', () => {
    const f = checkForward({ ...ok, incomingCltvExpiry: ok.outgoingCltvValue + 143 });
    expect(f?.failureCode).toBe(FailureCode.incorrect_cltv_expiry);
    expect(new ByteReader(f!.data).u32()).toBe(ok.outgoingCltvValue + 143);
  });

  it('expiry_too_soon when the outgoing HTLC would expire too close to the tip', () => {
    const outgoingCltvValue = height + MIN_OUTGOING_CLTV_BLOCKS - 1;
    expect(checkForward({ ...ok, outgoingCltvValue, incomingCltvExpiry: outgoingCltvValue + 144 })?.failureCode).toBe(FailureCode.expiry_too_soon);
  });

  it('expiry_too_far when the incoming cltv_expiry is too far ahead', () => {
    expect(checkForward({ ...ok, incomingCltvExpiry: height + MAX_CLTV_EXPIRY_BLOCKS + 1 })?.failureCode).toBe(FailureCode.expiry_too_far);
  });

  it('failure data: fields, then u16 length + channel_update (type 258 included) for UPDATE codes', () => {
    const f = checkForward({ ...ok, incomingAmountMsat: 1_001_000n })!;
    const update = Uint8Array.from([0x01, 0x02, 0xaa, 0xbb]);
    const data = failureData(f, update);
    expect(bytesToHex(data)).toBe('00000000000f4628' + '0004' + '0102aabb');
    // What the payer reads back (failureChannelUpdate strips the type).
    expect(bytesToHex(failureChannelUpdate(FailureCode.fee_insufficient, data)!)).toBe('aabb');
    expect(bytesToHex(failureData(checkForward({ ...ok, outgoing: null })!, update))).toBe('');
  });
});

describe('route through a hint and errors returned through a forwarding node', () => {
  const key = () => secp256k1.utils.randomSecretKey();
  const [bKey, cKey] = [key(), key()];
  const [bPub, cPub] = [secp256k1.getPublicKey(bKey, true), secp256k1.getPublicKey(cKey, true)];
  const paymentHash = new Uint8Array(32).fill(7);
  const secret = new Uint8Array(32).fill(9);
  const route = routeThroughHint([{ pubkey: bPub, shortChannelId: 0x123n, ...policy }], cPub, 1_000_000n, height + 21, {
    paymentData: { paymentSecret: secret, totalMsat: 1_000_000n },
  })!;

  it('adds the hint hop fee and cltv_expiry_delta, the payee last', () => {
    expect(route).toMatchObject({ firstHopNodeId: bytesToHex(bPub), amountMsat: 1_001_001n, cltvExpiry: height + 165, feeMsat: 1001n });
    expect(route.hops.map((h) => bytesToHex(h.pubkey))).toEqual([bytesToHex(bPub), bytesToHex(cPub)]);
    expect(route.hops[0]!.payload).toEqual({ amtToForward: 1_000_000n, outgoingCltvValue: height + 21, shortChannelId: 0x123n });
    expect(route.hops[1]!.payload).toMatchObject({ amtToForward: 1_000_000n, outgoingCltvValue: height + 21 });
    expect(routeThroughHint([], cPub, 1n, 1, {})).toBeNull();
  });

  it('the forwarder peels its layer, passes the check, and the payer attributes a wrapped failure to the payee', () => {
    const onion = createOnionPacket(startOnionSession(key(), bPub), route.hops.map((h) => ({ pubkey: h.pubkey, payload: encodeHopPayload(h.payload) })), paymentHash);
    const atB = processOnionPacket(onion.packet, bKey, paymentHash);
    if (atB.type !== 'forward') throw new Error(atB.type);
    expect(atB.payload.shortChannelId).toBe(0x123n);
    expect(checkForward({ ...ok, incomingAmountMsat: route.amountMsat, incomingCltvExpiry: route.cltvExpiry, amtToForward: atB.payload.amtToForward, outgoingCltvValue: atB.payload.outgoingCltvValue })).toBeNull();
    const atC = processOnionPacket(atB.nextPacket, cKey, paymentHash);
    if (atC.type !== 'final') throw new Error(atC.type);
    // C fails, B wraps with its shared secret (node.ts settleForward), A decodes: hop 1 = C.
    const fromC = createFailureMessage(atC.sharedSecret, FailureCode.incorrect_or_unknown_payment_details, new Uint8Array(12));
    const decoded = decodeFailure(onion.sharedSecrets, obfuscateFailure(atB.sharedSecret, fromC));
    expect(decoded).toMatchObject({ failingHopIndex: 1, failureCode: FailureCode.incorrect_or_unknown_payment_details });
    // B's own failure (e.g. fee_insufficient) is attributed to hop 0.
    const fromB = createFailureMessage(atB.sharedSecret, FailureCode.fee_insufficient, failureData(checkForward({ ...ok, incomingAmountMsat: 1n })!, null));
    expect(decodeFailure(onion.sharedSecrets, fromB)).toMatchObject({ failingHopIndex: 0, failureCode: FailureCode.fee_insufficient });
    // Malformed downstream: B reports C's BADONION code with sha256_of_onion in an update_fail_htlc.
    const sha = new Uint8Array(32).fill(3);
    const malformed = decodeFailure(onion.sharedSecrets, createFailureMessage(atB.sharedSecret, FailureCode.invalid_onion_hmac, sha));
    expect(malformed).toMatchObject({ failingHopIndex: 0, failureCode: FailureCode.invalid_onion_hmac });
    expect(bytesToHex(malformed!.data)).toBe(bytesToHex(sha));
  });
});
