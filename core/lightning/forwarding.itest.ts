import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { waitFor, type Regtest } from '../../e2e/harness/regtest.js';
import { channelOf, fundSide, inMempoolOf, newSideNode, openChannelBetween, startRegtestNodes, waitSettled, type RegtestNodes, type Side, type SideOptions } from '../../e2e/harness/nodes.js';
import { decodeInvoice } from './invoice/bolt11.js';

// HTLC forwarding (BOLT 4 intermediate node) on regtest (Bitcoin Knots + ElectrumX) with three
// Fulmen nodes in one process: A —— B —— C. A pays C's invoices through the route hint C puts in
// them (C's channel with B); B forwards. Off chain: success, C's failure and B's own failure come
// back to A attributed to the right node. On chain: C claims the forwarded HTLC with the preimage
// after a force close (B learns it from the witness and settles with A off chain), and the
// forwarded HTLC times out on chain (B fails A's HTLC back). option_static_remotekey channels
// (pre-signed HTLC transactions, no wallet inputs), to_self_delay 10, REDEEMED 3 blocks deep.
const TO_SELF_DELAY = 10;
const REDEEM_DEPTH = 3;
const NODE_OPTIONS: SideOptions = { toSelfDelay: TO_SELF_DELAY, redeemDepth: REDEEM_DEPTH, anchors: false };

describe('HTLC forwarding A → B → C on regtest', () => {
  let nodes: RegtestNodes;
  let regtest: Regtest;
  let a: Side;
  let b: Side;
  let c: Side;

  const payment = (s: Side, paymentHash: string) => s.node.listPayments().find((p) => p.paymentHash === paymentHash && p.direction === 'sent');
  /** Records B's on-chain forward settlements (settleForwardOnchain) while calling through. */
  function spyOnchainSettlements(s: Side): string[] {
    type Settle = (keyIndex: number, paymentHash: string, outcome: { kind: string }) => boolean;
    const node = s.node as unknown as { settleForwardOnchain: Settle };
    const real = node.settleForwardOnchain.bind(s.node);
    const seen: string[] = [];
    node.settleForwardOnchain = (keyIndex, paymentHash, outcome) => {
      const settled = real(keyIndex, paymentHash, outcome);
      if (settled) seen.push(`${paymentHash}:${outcome.kind}`);
      return settled;
    };
    return seen;
  }
  const forwards = (s: Side) =>
    s.db.prepare('SELECT payment_hash, status, in_amount_msat, out_amount_msat FROM lightning_forwards').all() as { payment_hash: string; status: string; in_amount_msat: string; out_amount_msat: string }[];

  /** A C invoice whose route hint leads through B (C's only channel). */
  function invoiceAtC(amountSat: number, memo: string): { invoice: string; paymentHash: string } {
    const r = c.node.createInvoice(BigInt(amountSat) * 1000n, memo, 3600);
    const hints = decodeInvoice(r.invoice, 'regtest').routeHints ?? [];
    expect(hints.map((h) => h.map((hop) => bytesToHex(hop.pubkey)))).toEqual([[b.node.nodeIdHex]]);
    return r;
  }

  let ab: string;
  let bc: string;

  beforeAll(async () => {
    nodes = await startRegtestNodes(3, NODE_OPTIONS, 10_000_000);
    ({ regtest } = nodes);
    [a, b, c] = nodes.sides as [Side, Side, Side];
    await fundSide(regtest, b, 10_000_000, 'B funded');
    ab = await openChannelBetween(regtest, a, b, 2_000_000);
    bc = await openChannelBetween(regtest, b, c, 1_000_000);
  });

  afterAll(async () => {
    await nodes?.stop();
  });

  it('A pays C through B: B keeps fee_base_msat + proportional fee, the preimage reaches A', async () => {
    const { invoice, paymentHash } = invoiceAtC(100_000, 'through B');
    const result = await a.node.pay(invoice);
    expect(result).toMatchObject({ success: true, paymentHash });
    expect(bytesToHex(sha256(hexToBytes(result.preimage!)))).toBe(paymentHash);
    // 1000 msat + 100,000,000 msat × 1 / 10^6 = 1100 msat.
    expect(payment(a, paymentHash)).toMatchObject({ status: 'succeeded', amountMsat: 100_000_000n, feeMsat: 1100n });
    expect(forwards(b).find((f) => f.payment_hash === paymentHash)).toEqual({ payment_hash: paymentHash, status: 'fulfilled', in_amount_msat: '100001100', out_amount_msat: '100000000' });
    await waitSettled(a, b, ab);
    await waitSettled(b, c, bc);
    expect(channelOf(c, bc)!.local_balance).toBe(100_000);
    expect(channelOf(a, ab)!.remote_balance).toBe(100_001); // 100,001.1 sat, rounded down
  });

  it('C fails the HTLC: B wraps the error, A attributes incorrect_or_unknown_payment_details to C', async () => {
    const { invoice, paymentHash } = invoiceAtC(20_000, 'forgotten');
    c.db.prepare('DELETE FROM lightning_invoices WHERE payment_hash = ?').run(paymentHash);
    const result = await a.node.pay(invoice);
    expect(result).toMatchObject({ success: false, error: 'incorrect_or_unknown_payment_details', failingNodeId: c.node.nodeIdHex });
    await waitFor(() => forwards(b).find((f) => f.payment_hash === paymentHash)?.status === 'failed', { what: 'B forward failed' });
  });

  it('C cannot decrypt its onion (update_fail_malformed_htlc): B turns it into an update_fail_htlc A attributes to B', async () => {
    const { invoice, paymentHash } = invoiceAtC(10_000, 'bad onion');
    // C peels with a wrong key: the HMAC check fails (invalid_onion_hmac, BADONION).
    const cn = c.node as unknown as { nodePrivkey: Uint8Array };
    const key = cn.nodePrivkey;
    cn.nodePrivkey = new Uint8Array(32).fill(5);
    try {
      const result = await a.node.pay(invoice);
      expect(result).toMatchObject({ success: false, error: 'invalid_onion_hmac', failingNodeId: b.node.nodeIdHex });
    } finally {
      cn.nodePrivkey = key;
    }
    expect(forwards(b).find((f) => f.payment_hash === paymentHash)?.status).toBe('failed');
  });

  it('B cannot forward (too little on B–C): A gets temporary_channel_failure from B', async () => {
    const { invoice, paymentHash } = invoiceAtC(950_000, 'too much');
    const result = await a.node.pay(invoice);
    expect(result).toMatchObject({ success: false, error: 'temporary_channel_failure', failingNodeId: b.node.nodeIdHex });
    expect(forwards(b).some((f) => f.payment_hash === paymentHash)).toBe(false);
    await waitSettled(a, b, ab);
  });

  it('C claims the forwarded HTLC on chain with the preimage: B settles with A off chain', async () => {
    await waitSettled(b, c, bc);
    // C fulfills but its update_fulfill_htlc and everything after it are lost.
    type Send = (peer: unknown, msgs: ({ type: string } | null | undefined)[]) => void;
    const nodeC = c.node as unknown as { send: Send };
    const send = nodeC.send.bind(c.node);
    let cut = false;
    nodeC.send = (peer, msgs) => {
      if (msgs.some((m) => m?.type === 'update_fulfill_htlc')) cut = true;
      if (!cut) send(peer, msgs);
    };
    const { invoice, paymentHash } = invoiceAtC(30_000, 'claimed on chain');
    void a.node.pay(invoice);
    await waitFor(() => cut, { what: 'C released the preimage' });
    expect(payment(a, paymentHash)?.status).toBe('pending');
    expect(forwards(b).find((f) => f.payment_hash === paymentHash)?.status).toBe('pending');
    const onchain = spyOnchainSettlements(b);
    const { closingTxid } = await c.node.forceCloseChannel(bc);
    delete (c.node as unknown as { send?: unknown }).send;
    await waitFor(() => inMempoolOf(regtest, closingTxid), { what: 'C commitment in mempool' });
    await regtest.mine(1);
    // C spends the HTLC with HTLC-success (witness carries the preimage); B reads it from the chain.
    await waitFor(() => regtest.rpc<string[]>('getrawmempool').then((m) => m.length > 0), { what: 'C HTLC-success in mempool' });
    await regtest.mine(1);
    await waitFor(() => payment(a, paymentHash)?.status === 'succeeded', { what: 'A payment succeeded through B\'s off-chain fulfill', timeoutMs: 30_000 });
    expect(forwards(b).find((f) => f.payment_hash === paymentHash)?.status).toBe('fulfilled');
    expect(onchain).toContain(`${paymentHash}:fulfilled`); // B learnt the preimage from C's HTLC-success witness
    await waitSettled(a, b, ab);
  });

  it('the forwarded HTLC expires: B force-closes B–C, and fails A\'s HTLC back only once its HTLC-timeout confirmed (across a restart)', async () => {
    const bc2 = await openChannelBetween(regtest, b, c, 500_000);
    // C holds the incoming HTLC (never fulfills nor fails it), as a hold invoice would.
    (c.node as unknown as { resolveIncoming: () => void }).resolveIncoming = () => undefined;
    const { invoice, paymentHash } = invoiceAtC(25_000, 'timed out'); // its one hint: the open B–C channel
    const payHeight = await regtest.rpc<number>('getblockcount');
    void a.node.pay(invoice);
    await waitFor(() => forwards(b).some((f) => f.payment_hash === paymentHash), { what: 'B forwarded' });
    await waitSettled(b, c, bc2);
    expect(channelOf(b, bc2)!.local_balance).toBe(500_000 - 25_000);
    // B restarts: the forward (incoming ↔ outgoing) is read back from its database.
    const port = b.node.listenPort!;
    await b.node.stop();
    b.node = newSideNode(b, { ...NODE_OPTIONS, listen: `127.0.0.1:${port}` });
    const onchain = spyOnchainSettlements(b);
    await b.node.start();
    await waitFor(() => channelOf(b, ab)?.peer_state === 'GOOD' && channelOf(b, bc2)?.peer_state === 'GOOD', { what: 'B reconnected', timeoutMs: 30_000 });
    // Mine block by block. The outgoing HTLC's cltv_expiry is payHeight + 18 + 3 (C's invoice):
    // B fails B–C one block past it; A's HTLC is failed back only after B's HTLC-timeout has
    // min(6, REDEEM_DEPTH) confirmations.
    let closedAt = 0;
    let failedAt = 0;
    for (let i = 0; i < 60 && !failedAt; i++) {
      await regtest.mine(1);
      await new Promise((r) => setTimeout(r, 700));
      const tip = await regtest.rpc<number>('getblockcount');
      if (!closedAt && channelOf(b, bc2)?.state !== 'OPEN') closedAt = tip;
      if (payment(a, paymentHash)?.status !== 'pending') failedAt = tip;
    }
    delete (c.node as unknown as { resolveIncoming?: unknown }).resolveIncoming;
    expect(closedAt).toBeGreaterThanOrEqual(payHeight + 21);
    expect(closedAt).toBeLessThanOrEqual(payHeight + 24);
    expect(failedAt).toBeGreaterThanOrEqual(closedAt + REDEEM_DEPTH);
    expect(payment(a, paymentHash)?.error).toBe('permanent_channel_failure');
    expect(forwards(b).find((f) => f.payment_hash === paymentHash)?.status).toBe('failed');
    expect(onchain).toEqual([`${paymentHash}:timed_out`]);
    await waitSettled(a, b, ab);
  });

  it('A goes away after B forwarded: C fulfills, B force-closes A–B at the fulfillment deadline and claims A\'s HTLC on chain with the preimage', async () => {
    const bc3 = await openChannelBetween(regtest, b, c, 500_000);
    (c.node as unknown as { resolveIncoming: () => void }).resolveIncoming = () => undefined; // C holds for now
    const { invoice, paymentHash } = invoiceAtC(35_000, 'upstream away');
    void a.node.pay(invoice);
    await waitFor(() => forwards(b).some((f) => f.payment_hash === paymentHash), { what: 'B forwarded' });
    await waitSettled(b, c, bc3);
    await waitSettled(a, b, ab);
    const aPort = a.node.listenPort!;
    await a.node.stop(); // A is away: B cannot fulfill A's HTLC off chain
    // C releases the preimage to B.
    delete (c.node as unknown as { resolveIncoming?: unknown }).resolveIncoming;
    type Internals = { peers: Map<string, unknown>; channels: Map<number, { channelPoint: string | null }>; resolveIncoming(p: unknown, ch: unknown): void; signSoon(p: unknown, ch: unknown): void };
    const cn = c.node as unknown as Internals;
    const chC = [...cn.channels.values()].find((x) => x.channelPoint === bc3)!;
    cn.resolveIncoming(cn.peers.get(b.node.nodeIdHex), chC);
    cn.signSoon(cn.peers.get(b.node.nodeIdHex), chC);
    await waitFor(() => forwards(b).find((f) => f.payment_hash === paymentHash)?.status === 'fulfilled', { what: 'B learnt the preimage' });
    expect(channelOf(b, ab)!.state).toBe('OPEN');
    // The incoming cltv_expiry is about tip + 18 + 3 + 144; B goes on chain 10 blocks before it (FULFILL_DEADLINE_BLOCKS).
    await regtest.mine(100);
    let closedAt = 0;
    for (let i = 0; i < 80 && !closedAt; i++) {
      await regtest.mine(1);
      await new Promise((r) => setTimeout(r, 300));
      if (channelOf(b, ab)?.state !== 'OPEN') closedAt = await regtest.rpc<number>('getblockcount');
    }
    expect(closedAt).toBeGreaterThan(0);
    const sweeps = () => {
      const chans = (b.node as unknown as { channels: Map<number, { channelPoint: string | null; keyIndex: number }> }).channels;
      const ch = [...chans.values()].find((x) => x.channelPoint === ab)!;
      return b.node.watcher.sweepsOf(ch.keyIndex);
    };
    await regtest.mine(1);
    const success = await waitFor(() => sweeps().find((r) => r.kind === 'htlc_success_tx' && r.txid), { what: 'B HTLC-success with the forward preimage', timeoutMs: 30_000 });
    expect(success.valueSat).toBe(35_001); // 35,000 sat + 1,035 msat fee, rounded down
    await regtest.mine(1);
    // A comes back and learns the preimage from B's HTLC-success: its payment succeeded.
    a.node = newSideNode(a, { ...NODE_OPTIONS, listen: `127.0.0.1:${aPort}` });
    await a.node.start();
    await waitFor(() => payment(a, paymentHash)?.status === 'succeeded', { what: 'A learns the preimage on chain', timeoutMs: 30_000 });
  });
});
