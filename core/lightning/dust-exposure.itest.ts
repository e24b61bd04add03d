import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hexToBytes } from '@noble/hashes/utils.js';
import { channelOf, openChannelBetween, startRegtestNodes, waitSettled, type RegtestNodes, type Side } from '../../e2e/harness/nodes.js';
import { maxDustHtlcExposureMsat } from './channel/dust-exposure.js';
import type { ResolvedOutgoingHtlc } from './channel/channel.js';
import { decodeFailure, failureChannelUpdate, type DecodedFailure } from './onion/failure.js';
import { FailureCode } from './onion/failure-codes.js';
import { GossipMessageType, decodeGossipMessage, verifyChannelUpdate } from './wire/gossip.js';

// BOLT 2 "Bounding exposure to trimmed in-flight HTLCs" at the node level, on regtest (Bitcoin
// Knots + ElectrumX) with two Fulmen nodes A and B (option_anchors, A funds 1,000,000 sat).
//
// A Fulmen sender never offers an HTLC that takes the dust exposure past its own bound, so the
// receiver sees an overflow only when both sides add dust HTLCs at once: each counts its own, not
// the peer's still in flight. A and B each pay 5 invoices of 540 sat of the other in the same tick
// (trimmed: below the 546-sat dust limit; with zero-fee HTLC transactions whatever the feerate).
// Each sender sees 2,700,000 msat of dust; each receiver reaches 2,700,000 + 4 × 540,000 =
// 4,860,000 msat with the peer's 4th HTLC, and 5,400,000 > 5,000,000 msat (the bound at regtest's
// 253 sat/kw) with its 5th: that one is accepted, marked, and failed back once committed
// (node.ts resolveIncoming: temporary_channel_failure with the receiver's channel_update) instead
// of being settled, although it pays the receiver's own invoice.
const DUST_HTLC_SAT = 540;
const PER_SIDE = 5;

describe('dust exposure fail-back between two Fulmen nodes on regtest', () => {
  let nodes: RegtestNodes;
  let a: Side;
  let b: Side;
  let cp: string;
  /** Decoded failures of `s`'s sent payments, by payment hash (spy on node.ts onOutgoingResolved). */
  const failures = new Map<Side, Map<string, DecodedFailure | undefined>>();

  function spyFailures(s: Side): void {
    type Internals = {
      onOutgoingResolved(ch: { keyIndex: number }, r: ResolvedOutgoingHtlc): void;
      paymentWaiters: Map<string, { sharedSecrets: Uint8Array[] }>;
    };
    const node = s.node as unknown as Internals;
    const real = node.onOutgoingResolved.bind(s.node);
    const seen = new Map<string, DecodedFailure | undefined>();
    failures.set(s, seen);
    node.onOutgoingResolved = (ch, r) => {
      const waiter = node.paymentWaiters.get(`${ch.keyIndex}:${r.htlcId}`);
      if (r.outcome.kind === 'failed' && waiter) seen.set(r.paymentHash, decodeFailure(waiter.sharedSecrets, hexToBytes(r.outcome.reason)));
      real(ch, r);
    };
  }
  const feerateOf = (s: Side) => (s.node as unknown as { feerateSatPerKw: number }).feerateSatPerKw;

  beforeAll(async () => {
    nodes = await startRegtestNodes(2, {}, 5_000_000);
    [a, b] = nodes.sides as [Side, Side];
    cp = await openChannelBetween(nodes.regtest, a, b, 1_000_000);
    spyFailures(a);
    spyFailures(b);
  });

  afterAll(async () => {
    await nodes?.stop();
  });

  it('an ordinary payment A → B gives B a balance to pay A with', async () => {
    const { invoice } = b.node.createInvoice(100_000_000n, 'warm-up', 3600);
    expect(await a.node.pay(invoice)).toMatchObject({ success: true });
    await waitSettled(a, b, cp);
    expect(channelOf(b, cp)).toMatchObject({ state: 'OPEN', channel_type: 'anchors', local_balance: 100_000 });
  });

  let lastToB: { invoice: string; paymentHash: string };

  it('dust HTLCs both ways in one tick: each receiver fails back the one past its bound, never settling it', async () => {
    // Regtest's estimate is the relay fee: 253 sat/kw on both sides (commitment and estimate), so
    // the bound is the 5,000,000 msat floor on both.
    expect([feerateOf(a), feerateOf(b)]).toEqual([253, 253]);
    expect(maxDustHtlcExposureMsat(253)).toBe(5_000_000n);
    const before = channelOf(a, cp)!;
    const toB = Array.from({ length: PER_SIDE }, (_, i) => b.node.createInvoice(BigInt(DUST_HTLC_SAT) * 1000n, `dust to B ${i}`, 3600));
    const toA = Array.from({ length: PER_SIDE }, (_, i) => a.node.createInvoice(BigInt(DUST_HTLC_SAT) * 1000n, `dust to A ${i}`, 3600));
    // pay() offers its HTLC synchronously: all ten are added before either node reads the other's.
    const paidByA = toB.map((x) => a.node.pay(x.invoice));
    const paidByB = toA.map((x) => b.node.pay(x.invoice));
    const [byA, byB] = await Promise.all([Promise.all(paidByA), Promise.all(paidByB)]);

    for (const [payer, payee, invoices, results] of [
      [a, b, toB, byA],
      [b, a, toA, byB],
    ] as const) {
      // The first four settle; the fifth is failed by the payee, which names itself.
      expect(results.map((r) => r.success)).toEqual([true, true, true, true, false]);
      expect(results[4]).toMatchObject({ error: 'temporary_channel_failure', failingNodeId: payee.node.nodeIdHex });
      const hash = invoices[4]!.paymentHash;
      // No preimage reached the payer, and the payee did not record the invoice as paid.
      expect(payer.node.getPayment(hash, 'sent')).toMatchObject({ status: 'failed', preimage: null, error: 'temporary_channel_failure' });
      expect(payee.node.getPayment(hash, 'received')).toBeUndefined();
      for (const x of invoices.slice(0, 4)) expect(payee.node.getPayment(x.paymentHash, 'received')?.status).toBe('succeeded');
      // The failure carries the payee's channel_update, signed by it (BOLT 4 UPDATE failure).
      const failure = failures.get(payer)!.get(hash);
      expect(failure?.failureCode).toBe(FailureCode.temporary_channel_failure);
      const update = failureChannelUpdate(failure!.failureCode, failure!.data);
      expect(update).toBeDefined();
      const msg = decodeGossipMessage({ type: 'unknown', typeNumber: GossipMessageType.channel_update, payload: update! });
      expect(msg?.type).toBe('channel_update');
      expect(msg?.type === 'channel_update' && verifyChannelUpdate(msg, payee.node.nodeId)).toBe(true);
    }

    // Four HTLCs of 540 sat settled each way, nothing else moved: balances as before. The channel
    // stays open and connected (the overflow is failed back, not a protocol error).
    await waitSettled(a, b, cp);
    expect(channelOf(a, cp)).toMatchObject({ state: 'OPEN', peer_state: 'GOOD', local_balance: before.local_balance, remote_balance: before.remote_balance });
    expect(channelOf(b, cp)).toMatchObject({ state: 'OPEN', peer_state: 'GOOD', local_balance: before.remote_balance, remote_balance: before.local_balance });
    lastToB = toB[4]!;
  });

  it('the failed invoice is still payable once the exposure is gone', async () => {
    const before = channelOf(a, cp)!;
    const result = await a.node.pay(lastToB.invoice);
    expect(result).toMatchObject({ success: true, paymentHash: lastToB.paymentHash });
    expect(b.node.getPayment(lastToB.paymentHash, 'received')?.status).toBe('succeeded');
    await waitSettled(a, b, cp);
    expect(channelOf(b, cp)!.local_balance).toBe(before.remote_balance + DUST_HTLC_SAT);
  });
});
