import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction } from 'bitcoinjs-lib';
import { waitFor, type Regtest } from '../harness/regtest.js';
import { channelDataOf, channelOf, heightOf, inMempoolOf, openChannelBetween, startRegtestNodes, sweepsOf, waitSettled, type RegtestNodes, type Side } from '../harness/nodes.js';
import { LightningNode } from '../../core/lightning/node.js';
import { Channel } from '../../core/lightning/channel/channel.js';
import { ChannelStore } from '../../core/lightning/channel/store.js';
import type { SweepRow } from '../../core/lightning/watcher/store.js';
import { channelView, classifyFundingSpend } from '../../core/lightning/watcher/commitments.js';
import { resolutionsFor, type FeeWallet } from '../../core/lightning/watcher/sweeps.js';
import { addressToScriptPubKey } from '../../core/bitcoin/address.js';

// BOLT 5 on regtest (Bitcoin Knots + ElectrumX) with two Fulmen nodes in one process: local and
// remote force closes, a breach answered by a justice transaction, and an HTLC in flight resolved
// by HTLC-timeout; breaches with an HTLC output, unspent (i) or spent by the cheater's HTLC-timeout
// (ii), and a patient sweep held until fees go down (iii). to_self_delay is 10 blocks on both sides; a channel is REDEEMED 3 blocks after
// its last sweep confirmed. Every sweep is accepted by bitcoind's mempool (full script checks)
// before it confirms. The suite runs twice: with anchor channels (both nodes advertise
// option_anchors; BOLT 3: two 330-sat anchors, to_remote and HTLC spends wait one block (CSV 1),
// our zero-fee HTLC transactions take a wallet input for their fee, and (h) a CPFP through our
// anchor), and with option_static_remotekey channels (`anchors: false`).
const TO_SELF_DELAY = 10;
const REDEEM_DEPTH = 3;

describe.each(['anchors', 'static_remotekey'] as const)('force closes, sweeps and justice on regtest (%s channels)', (channelType) => {
  const anchors = channelType === 'anchors';
  let net: RegtestNodes;
  let regtest: Regtest;
  let a: Side;
  let b: Side;

  const channel = channelOf;
  const channelData = channelDataOf;
  const inMempool = (txid: string) => inMempoolOf(regtest, txid);
  const height = () => heightOf(regtest);
  const openChannel = (fundingSat: number) => openChannelBetween(regtest, a, b, fundingSat);

  async function pay(from: Side, to: Side, amountSat: number): Promise<void> {
    const { invoice } = to.node.createInvoice(BigInt(amountSat) * 1000n, 'test', 3600);
    const result = await from.node.pay(invoice);
    expect(result.success).toBe(true);
  }

  /** Both sides agree on every commitment number (no signature or revocation in flight). */
  const settled = (cp: string) => waitSettled(a, b, cp);

  const confirmedOnChain = async (txid: string): Promise<boolean> =>
    regtest.rpc<{ confirmations?: number }>('getrawtransaction', [txid, true]).then((t) => (t.confirmations ?? 0) > 0, () => false);

  /**
   * Waits until a sweep of `kind` was broadcast and bitcoind has it, in its mempool or already in
   * a block (static_remotekey sweeps without CSV can confirm with their parent).
   */
  async function sweepSeen(s: Side, cp: string, kind: SweepRow['kind']): Promise<SweepRow> {
    return waitFor(
      async () => {
        const row = sweepsOf(s, cp).find((r) => r.kind === kind && r.txid);
        return row && ((await inMempool(row.txid!)) || (await confirmedOnChain(row.txid!))) ? row : undefined;
      },
      { what: `${kind} sweep broadcast`, timeoutMs: 30_000 },
    );
  }

  /** Waits until a sweep of `kind` was broadcast and bitcoind accepted it into its mempool. */
  async function sweepInMempool(s: Side, cp: string, kind: SweepRow['kind']): Promise<SweepRow> {
    return waitFor(
      async () => {
        const row = sweepsOf(s, cp).find((r) => r.kind === kind && r.txid);
        return row && (await inMempool(row.txid!)) ? row : undefined;
      },
      { what: `${kind} sweep in mempool`, timeoutMs: 30_000 },
    );
  }

  beforeAll(async () => {
    net = await startRegtestNodes(2, { toSelfDelay: TO_SELF_DELAY, redeemDepth: REDEEM_DEPTH, anchors }, 20_000_000);
    ({ regtest } = net);
    [a, b] = net.sides as [Side, Side];
  });

  afterAll(() => net?.stop());

  it('(a) local force close: to_local swept after to_self_delay, the peer sweeps to_remote, both REDEEMED', async () => {
    const cp = await openChannel(1_000_000);
    await pay(a, b, 200_000);
    await settled(cp);
    const aBefore = a.wallet.getBalance().confirmedSat;
    const bBefore = b.wallet.getBalance().confirmedSat;

    const { closingTxid } = await a.node.forceCloseChannel(cp);
    await waitFor(() => inMempool(closingTxid), { what: 'commitment in mempool' });
    expect(channel(a, cp)!.state).toBe('FORCE_CLOSING');
    await waitFor(() => channel(b, cp)?.state === 'FORCE_CLOSING', { what: 'B sees the force close' });
    expect(channel(a, cp)!.channel_type).toBe(channelType);
    const commitmentTx = Transaction.fromHex(await regtest.rpc<string>('getrawtransaction', [closingTxid]));
    expect(commitmentTx.outs.filter((o) => Number(o.value) === 330).length).toBe(anchors ? 2 : 0);
    if (anchors) {
      // B's to_remote (P2WSH with 1 OP_CHECKSEQUENCEVERIFY) is planned, swept once the commitment confirmed.
      await b.node.watcher.checkNow();
      expect(sweepsOf(b, cp).find((r) => r.kind === 'to_remote')).toMatchObject({ status: 'waiting', txid: null });
    } else {
      await sweepInMempool(b, cp, 'to_remote'); // P2WPKH: swept at once, even before the commitment confirms
    }

    await regtest.mine(1);
    const closeHeight = await height();
    const toRemote = await sweepSeen(b, cp, 'to_remote');
    expect(toRemote.valueSat).toBe(200_000);
    expect(Transaction.fromHex(toRemote.rawTx!).ins[0]!.sequence).toBe(anchors ? 1 : 0xfffffffd);
    await waitFor(() => channel(a, cp)?.state === 'CLOSED' && channel(b, cp)?.state === 'CLOSED', { what: 'CLOSED on both sides' });
    const toLocalRow = await waitFor(() => sweepsOf(a, cp).find((r) => r.kind === 'to_local' && r.spendableHeight !== null), { what: 'to_local sweep planned' });
    expect(toLocalRow.spendableHeight).toBe(closeHeight + TO_SELF_DELAY);

    await regtest.mine(TO_SELF_DELAY - 2);
    await a.node.watcher.checkNow();
    expect(sweepsOf(a, cp).find((r) => r.kind === 'to_local')!.status).toBe('waiting'); // CSV not reached
    // B's to_remote sweep confirmed meanwhile.
    await waitFor(() => sweepsOf(b, cp).find((r) => r.kind === 'to_remote')?.status === 'confirmed', { what: 'B to_remote confirmed' });
    // bitcoind agrees: the same sweep built now is rejected as not yet BIP 68 final.
    const view = channelView(channelData(a, cp), a.wallet.lightningRootSecret());
    const closing = Transaction.fromHex(await regtest.rpc<string>('getrawtransaction', [closingTxid]));
    const early = resolutionsFor(view, classifyFundingSpend(view, closing), closing).find((r) => r.kind === 'to_local')!;
    const earlyTx = early.build!({ feerateSatPerVbyte: 2, destination: addressToScriptPubKey(a.wallet.getUnusedAddress(), 'regtest') })!;
    const [verdict] = await regtest.rpc<{ allowed: boolean; 'reject-reason'?: string }[]>('testmempoolaccept', [[earlyTx.toHex()]]);
    expect(verdict).toMatchObject({ allowed: false, 'reject-reason': 'non-BIP68-final' });

    await regtest.mine(1);
    const toLocal = await sweepInMempool(a, cp, 'to_local');
    const commitment = Transaction.fromHex(await regtest.rpc<string>('getrawtransaction', [closingTxid]));
    expect(toLocal.valueSat).toBe(Number(commitment.outs.find((o) => Number(o.value) > 700_000)!.value));
    const sweepTx = Transaction.fromHex(toLocal.rawTx!);
    expect(sweepTx.ins[0]!.sequence).toBe(TO_SELF_DELAY);

    await regtest.mine(REDEEM_DEPTH);
    await waitFor(() => channel(a, cp)?.state === 'REDEEMED' && channel(b, cp)?.state === 'REDEEMED', { what: 'REDEEMED on both sides', timeoutMs: 30_000 });
    const sweptToA = Number(sweepTx.outs[0]!.value);
    await waitFor(() => a.wallet.getBalance().confirmedSat === aBefore + sweptToA, { what: 'A wallet has its to_local' });
    const sweptToB = Number(Transaction.fromHex(toRemote.rawTx!).outs[0]!.value);
    expect(sweptToB).toBeGreaterThan(199_000);
    // The commitment paid the regtest estimate by itself: no CPFP through the anchor.
    expect(sweepsOf(a, cp).some((r) => r.kind === 'anchor_cpfp')).toBe(false);
    await waitFor(() => b.wallet.getBalance().confirmedSat === bBefore + sweptToB, { what: 'B wallet has its to_remote' });
  });

  it('(b) remote force close: we sweep to_remote (anchors: once it confirmed, CSV 1), the peer sweeps to_local after its delay', async () => {
    const cp = await openChannel(800_000);
    await pay(a, b, 150_000);
    await settled(cp);
    const aBefore = a.wallet.getBalance().confirmedSat;

    const { closingTxid } = await b.node.forceCloseChannel(cp);
    await waitFor(() => inMempool(closingTxid), { what: 'B commitment in mempool' });
    await waitFor(() => channel(a, cp)?.state === 'FORCE_CLOSING', { what: 'A sees the remote force close' });

    await regtest.mine(1);
    const toRemote = await sweepSeen(a, cp, 'to_remote');
    expect(toRemote.valueSat).toBeGreaterThan(640_000); // 650k minus the commitment fee and anchors A pays as funder
    await waitFor(() => sweepsOf(b, cp).some((r) => r.kind === 'to_local' && r.spendableHeight !== null), { what: 'B plans its to_local' });
    await regtest.mine(TO_SELF_DELAY - 1);
    const toLocal = await sweepInMempool(b, cp, 'to_local');
    expect(toLocal.valueSat).toBe(150_000);
    await regtest.mine(REDEEM_DEPTH);
    await waitFor(() => channel(a, cp)?.state === 'REDEEMED' && channel(b, cp)?.state === 'REDEEMED', { what: 'REDEEMED on both sides', timeoutMs: 30_000 });
    const sweptToA = Number(Transaction.fromHex(toRemote.rawTx!).outs[0]!.value);
    await waitFor(() => a.wallet.getBalance().confirmedSat === aBefore + sweptToA, { what: 'A wallet has its to_remote' });
  });

  it('(c) breach: A broadcasts a revoked commitment, B takes everything with justice transactions', async () => {
    const cp = await openChannel(600_000);
    await pay(a, b, 50_000);
    await settled(cp);
    // A keeps a copy of its current commitment, then pays again: that commitment gets revoked.
    const oldCommitment = Channel.load(channelData(a, cp), { lightningRootSecret: a.wallet.lightningRootSecret(), persistence: new ChannelStore(a.db) }).signedLocalCommitment();
    await pay(a, b, 100_000);
    await settled(cp);
    const bBefore = b.wallet.getBalance().confirmedSat;

    const cheatTxid = await regtest.rpc<string>('sendrawtransaction', [oldCommitment]);
    await waitFor(() => channel(b, cp)?.state === 'FORCE_CLOSING', { what: 'B sees the revoked commitment' });
    const justice = await sweepInMempool(b, cp, 'justice_to_local');
    const cheat = Transaction.fromHex(oldCommitment);
    expect(justice.outpoint.startsWith(cheatTxid)).toBe(true);
    expect(justice.valueSat).toBeGreaterThan(540_000); // A's whole old balance (600k - 50k - fee)
    expect(cheat.outs.length).toBe(anchors ? 4 : 2); // to_local, to_remote (and the two anchors)

    await regtest.mine(1);
    const toRemote = await sweepSeen(b, cp, 'to_remote'); // anchors, CSV 1: after the revoked commitment confirmed
    expect(toRemote.valueSat).toBe(50_000);
    await regtest.mine(1 + REDEEM_DEPTH);
    await waitFor(() => channel(b, cp)?.state === 'REDEEMED', { what: 'B REDEEMED', timeoutMs: 30_000 });
    const taken = [justice, toRemote].reduce((s, r) => s + Number(Transaction.fromHex(r.rawTx!).outs[0]!.value), 0);
    expect(taken).toBeGreaterThan(600_000 - 5_000);
    await waitFor(() => b.wallet.getBalance().confirmedSat === bBefore + taken, { what: 'B wallet has the whole channel' });
    // A's watcher sees its to_local taken by B.
    await waitFor(() => sweepsOf(a, cp).find((r) => r.kind === 'to_local')?.status === 'spent_by_other' || channel(a, cp)?.state === 'REDEEMED', {
      what: 'A gives up its revoked to_local',
      timeoutMs: 30_000,
    });
  });

  it('(d) an HTLC in flight at force close resolves by HTLC-timeout, then its output is swept after the delay', async () => {
    const cp = await openChannel(700_000);
    // B holds the incoming HTLC (never fulfills nor fails it), as a hold invoice would.
    (b.node as unknown as { resolveIncoming: () => void }).resolveIncoming = () => undefined;
    const { invoice, paymentHash } = b.node.createInvoice(60_000_000n, 'held', 3600);
    const payment = a.node.pay(invoice);
    await waitFor(() => channel(a, cp)?.local_balance === 700_000 - 60_000, { what: 'HTLC in A commitment' });
    await settled(cp);

    const { closingTxid } = await a.node.forceCloseChannel(cp);
    expect((await payment).success).toBe(false);
    await waitFor(() => inMempool(closingTxid), { what: 'commitment in mempool' });
    await regtest.mine(1);
    const timeoutRow = await waitFor(() => sweepsOf(a, cp).find((r) => r.kind === 'htlc_timeout_tx' && r.spendableHeight !== null), { what: 'HTLC-timeout planned' });
    expect(timeoutRow.valueSat).toBe(60_000);
    const cltvExpiry = timeoutRow.spendableHeight! - 1;
    // Before cltv_expiry the HTLC-timeout is not valid: nothing is broadcast.
    await regtest.mine(cltvExpiry - 1 - (await height()));
    await a.node.watcher.checkNow();
    expect(sweepsOf(a, cp).find((r) => r.kind === 'htlc_timeout_tx')!.txid).toBeNull();
    await regtest.mine(1);
    const timeoutTx = await sweepInMempool(a, cp, 'htlc_timeout_tx');
    const signedTimeout = Transaction.fromHex(timeoutTx.rawTx!);
    expect(signedTimeout.locktime).toBe(cltvExpiry);
    if (anchors) {
      // The zero-fee HTLC-timeout (input 0, output 0, nSequence 1) got a wallet input and change for its fee.
      expect(signedTimeout.ins[0]!.sequence).toBe(1);
      expect(signedTimeout.ins.length).toBeGreaterThan(1);
      expect(Number(signedTimeout.outs[0]!.value)).toBe(60_000);
    } else {
      expect(signedTimeout.ins.length).toBe(1); // pre-signed at the commitment feerate
    }

    await regtest.mine(1);
    await waitFor(() => sweepsOf(a, cp).some((r) => r.kind === 'htlc_tx_output' && r.spendableHeight !== null), { what: 'second-stage output planned' });
    await regtest.mine(TO_SELF_DELAY - 1);
    const secondStage = await sweepInMempool(a, cp, 'htlc_tx_output');
    expect(Transaction.fromHex(secondStage.rawTx!).ins[0]!.sequence).toBe(TO_SELF_DELAY);
    await regtest.mine(REDEEM_DEPTH);
    await waitFor(() => channel(a, cp)?.state === 'REDEEMED' && channel(b, cp)?.state === 'REDEEMED', { what: 'REDEEMED on both sides', timeoutMs: 30_000 });
    expect(a.node.listPayments().find((p) => p.paymentHash === paymentHash)).toMatchObject({ status: 'failed' });
    delete (b.node as unknown as { resolveIncoming?: unknown }).resolveIncoming;
  });

  /**
   * B fulfills an incoming HTLC (the preimage is released) but its update_fulfill_htlc and all
   * later messages are lost: the HTLC stays in both commitments. Returns the payment hash and a
   * function that restores B's sending.
   */
  async function htlcFulfilledButNotCommitted(cp: string, amountSat: number): Promise<{ paymentHash: string; restore: () => void }> {
    type Send = (peer: unknown, msgs: ({ type: string } | null | undefined)[]) => void;
    const nodeB = b.node as unknown as { send: Send };
    const send = nodeB.send.bind(b.node);
    let cut = false;
    nodeB.send = (peer, msgs) => {
      if (msgs.some((m) => m?.type === 'update_fulfill_htlc')) cut = true;
      if (!cut) send(peer, msgs);
    };
    const { invoice, paymentHash } = b.node.createInvoice(BigInt(amountSat) * 1000n, 'lost fulfill', 3600);
    void a.node.pay(invoice);
    await waitFor(() => cut && b.node.listPayments().some((p) => p.paymentHash === paymentHash && p.status === 'succeeded'), { what: 'B released the preimage' });
    expect(channel(a, cp)!.local_balance).toBeLessThan(channel(a, cp)!.capacity - amountSat + 1);
    return { paymentHash, restore: () => delete (b.node as unknown as { send?: unknown }).send };
  }

  it('(e) preimage known at the peer\'s force close: B uses HTLC-success, A learns the preimage on chain', async () => {
    const cp = await openChannel(500_000);
    const { paymentHash, restore } = await htlcFulfilledButNotCommitted(cp, 40_000);
    const { closingTxid } = await b.node.forceCloseChannel(cp);
    restore();
    await waitFor(() => inMempool(closingTxid), { what: 'B commitment in mempool' });
    await regtest.mine(1); // anchors: the HTLC-success has nSequence 1
    const success = await sweepSeen(b, cp, 'htlc_success_tx');
    expect(success.valueSat).toBe(40_000);
    const successTx = Transaction.fromHex(success.rawTx!);
    expect(successTx.locktime).toBe(0);
    expect(successTx.ins.length > 1).toBe(anchors); // anchors: a wallet input pays its fee
    await regtest.mine(1);
    await waitFor(() => a.node.listPayments().find((p) => p.paymentHash === paymentHash)?.status === 'succeeded', { what: 'A learns the preimage from the HTLC-success' });
    await waitFor(() => sweepsOf(b, cp).some((r) => r.kind === 'htlc_tx_output' && r.spendableHeight !== null), { what: 'B plans the HTLC-success output' });
    await regtest.mine(TO_SELF_DELAY - 1);
    await sweepInMempool(b, cp, 'htlc_tx_output');
    await regtest.mine(REDEEM_DEPTH);
    await waitFor(() => channel(a, cp)?.state === 'REDEEMED' && channel(b, cp)?.state === 'REDEEMED', { what: 'REDEEMED on both sides', timeoutMs: 30_000 });
    // A never claimed the HTLC back: B's HTLC-success spent it first.
    expect(sweepsOf(a, cp).some((r) => r.kind === 'htlc_claim_timeout' && r.txid !== null)).toBe(false);
    expect(sweepsOf(a, cp).map((r) => r.kind)).toContain('to_remote');
  });

  it('(f) our force close while the peer knows the preimage: B claims the HTLC from our commitment, A learns it', async () => {
    const cp = await openChannel(500_000);
    const { paymentHash, restore } = await htlcFulfilledButNotCommitted(cp, 30_000);
    const { closingTxid } = await a.node.forceCloseChannel(cp);
    restore();
    await waitFor(() => inMempool(closingTxid), { what: 'A commitment in mempool' });
    await regtest.mine(1); // anchors: the claim has nSequence 1
    const claim = await sweepSeen(b, cp, 'htlc_claim_preimage');
    expect(claim.valueSat).toBe(30_000);
    await regtest.mine(1);
    await waitFor(() => a.node.listPayments().find((p) => p.paymentHash === paymentHash)?.status === 'succeeded', { what: 'A learns the preimage from B\'s claim' });
    await regtest.mine(TO_SELF_DELAY - 1);
    await sweepInMempool(a, cp, 'to_local');
    await regtest.mine(REDEEM_DEPTH);
    await waitFor(() => channel(a, cp)?.state === 'REDEEMED' && channel(b, cp)?.state === 'REDEEMED', { what: 'REDEEMED on both sides', timeoutMs: 30_000 });
    // A never broadcast its HTLC-timeout: B's claim spent the output first. (A plans no row at
    // all when its watcher first looks after B's claim is already out.)
    expect(sweepsOf(a, cp).some((r) => r.kind === 'htlc_timeout_tx' && r.txid !== null)).toBe(false);
  });

  it('(g) the peer force-closes holding our HTLC: A claims it back after cltv_expiry, also across a restart', async () => {
    const cp = await openChannel(500_000);
    (b.node as unknown as { resolveIncoming: () => void }).resolveIncoming = () => undefined;
    const { invoice, paymentHash } = b.node.createInvoice(25_000_000n, 'held', 3600);
    void a.node.pay(invoice);
    await waitFor(() => channel(a, cp)?.local_balance === 500_000 - 25_000, { what: 'HTLC in A commitment' });
    await settled(cp);
    const { closingTxid } = await b.node.forceCloseChannel(cp);
    delete (b.node as unknown as { resolveIncoming?: unknown }).resolveIncoming;
    await waitFor(() => inMempool(closingTxid), { what: 'B commitment in mempool' });
    await regtest.mine(1);
    const claimRow = await waitFor(() => sweepsOf(a, cp).find((r) => r.kind === 'htlc_claim_timeout' && r.spendableHeight !== null), { what: 'A plans the timeout claim' });
    // A restarts before the claim is valid: the plan is in its database and the new node acts on it.
    const port = a.node.listenPort!;
    await a.node.stop();
    a.node = new LightningNode({ db: a.db, wallet: a.wallet, chain: a.chain, network: 'regtest', listen: `127.0.0.1:${port}`, minimumDepth: 1, toSelfDelay: TO_SELF_DELAY, redeemDepth: REDEEM_DEPTH, anchors });
    await a.node.start();
    await regtest.mine(claimRow.spendableHeight! - 1 - (await height()));
    const claim = await sweepInMempool(a, cp, 'htlc_claim_timeout');
    expect(Transaction.fromHex(claim.rawTx!).locktime).toBe(claimRow.spendableHeight! - 1);
    await regtest.mine(REDEEM_DEPTH);
    await waitFor(() => a.node.listPayments().find((p) => p.paymentHash === paymentHash)?.status === 'failed', { what: 'A payment failed on chain' });
    await waitFor(() => channel(a, cp)?.state === 'REDEEMED', { what: 'A REDEEMED', timeoutMs: 30_000 });
  });

  it.skipIf(!anchors)('(h) our commitment pays less than the fee estimate: A bumps it by CPFP through its anchor', async () => {
    const cp = await openChannel(600_000);
    await pay(a, b, 100_000);
    await settled(cp);
    const { closingTxid } = await a.node.forceCloseChannel(cp);
    await waitFor(() => inMempool(closingTxid), { what: 'commitment in mempool' });
    // Fees rise to 20 sat/vB (regtest has no fee market: the estimate A's chain reports is raised).
    const chainA = a.chain as unknown as { estimateFeeSatPerVbyte: (target: number) => Promise<number> };
    chainA.estimateFeeSatPerVbyte = async () => 20;
    try {
      await a.node.watcher.checkNow();
      const cpfp = await sweepInMempool(a, cp, 'anchor_cpfp');
      const child = Transaction.fromHex(cpfp.rawTx!);
      const commitment = Transaction.fromHex(await regtest.rpc<string>('getrawtransaction', [closingTxid]));
      expect(Buffer.from(child.ins[0]!.hash).reverse().toString('hex')).toBe(closingTxid);
      expect(Number(commitment.outs[child.ins[0]!.index]!.value)).toBe(330); // our anchor
      expect(child.ins.length).toBeGreaterThan(1); // plus a wallet coin
      // bitcoind's view of the package: child + commitment pay at least 20 sat/vB together.
      const entry = await regtest.rpc<{ ancestorsize: number; fees: { ancestor: number } }>('getmempoolentry', [cpfp.txid!]);
      expect(entry.ancestorsize).toBe(commitment.virtualSize() + child.virtualSize());
      expect(Math.round(entry.fees.ancestor * 1e8) / entry.ancestorsize).toBeGreaterThanOrEqual(20);
      await regtest.mine(1);
      await waitFor(() => sweepsOf(a, cp).find((r) => r.kind === 'anchor_cpfp')?.status === 'confirmed' && channel(a, cp)?.state === 'CLOSED', {
        what: 'commitment and CPFP child confirmed',
      });
    } finally {
      delete (chainA as { estimateFeeSatPerVbyte?: unknown }).estimateFeeSatPerVbyte;
    }
  });
  /**
   * B holds its incoming HTLCs (neither fulfilled nor failed) until `release()`, which lets B's
   * node resolve them as usual (the invoice's HTLC is fulfilled).
   */
  function holdIncoming(): { release: () => void } {
    type Resolve = (peer: unknown, ch: unknown) => void;
    const nodeB = b.node as unknown as { resolveIncoming: Resolve };
    let held: [unknown, unknown] | null = null;
    nodeB.resolveIncoming = (peer, ch) => {
      held = [peer, ch];
    };
    return {
      release: () => {
        delete (nodeB as { resolveIncoming?: unknown }).resolveIncoming;
        if (held) nodeB.resolveIncoming(held[0], held[1]);
      },
    };
  }

  /**
   * A pays B 50,000 sat, then offers an HTLC of `htlcSat` that B holds; A keeps its commitment
   * with that HTLC (and its ChannelData of then, with B's HTLC signatures). B then fulfills the
   * HTLC and A pays 10,000 sat more: the kept commitment is revoked.
   */
  async function revokedCommitmentWithHtlc(cp: string, fundingSat: number, htlcSat: number) {
    await pay(a, b, 50_000);
    await settled(cp);
    const hold = holdIncoming();
    const { invoice, paymentHash } = b.node.createInvoice(BigInt(htlcSat) * 1000n, 'held', 3600);
    const payment = a.node.pay(invoice);
    await waitFor(() => channel(a, cp)?.local_balance === fundingSat - 50_000 - htlcSat, { what: 'HTLC in A commitment' });
    await settled(cp);
    const oldData = channelData(a, cp);
    const oldCommitment = Channel.load(channelData(a, cp), { lightningRootSecret: a.wallet.lightningRootSecret(), persistence: new ChannelStore(a.db) }).signedLocalCommitment();
    hold.release();
    expect((await payment).success).toBe(true);
    await pay(a, b, 10_000);
    await settled(cp);
    return { oldData, oldCommitment, paymentHash };
  }

  it('(i) breach with an unspent HTLC: B takes to_local and the HTLC output with justice transactions', async () => {
    const cp = await openChannel(600_000);
    const { oldCommitment } = await revokedCommitmentWithHtlc(cp, 600_000, 40_000);
    const bBefore = b.wallet.getBalance().confirmedSat;

    const cheatTxid = await regtest.rpc<string>('sendrawtransaction', [oldCommitment]);
    const cheat = Transaction.fromHex(oldCommitment);
    expect(cheat.outs.length).toBe(anchors ? 5 : 3); // to_local, to_remote, the HTLC (and the two anchors)
    await waitFor(() => channel(b, cp)?.state === 'FORCE_CLOSING', { what: 'B sees the revoked commitment' });
    const justiceToLocal = await sweepInMempool(b, cp, 'justice_to_local');
    const justiceHtlc = await sweepInMempool(b, cp, 'justice_htlc');
    expect(justiceToLocal.outpoint.startsWith(cheatTxid)).toBe(true);
    expect(justiceToLocal.valueSat).toBeGreaterThan(500_000); // A's old balance (600k - 50k - 40k - fee)
    expect(justiceHtlc.outpoint.startsWith(cheatTxid)).toBe(true);
    expect(justiceHtlc.valueSat).toBe(40_000);
    expect(Number(cheat.outs[Number(justiceHtlc.outpoint.split(':')[1])]!.value)).toBe(40_000);

    await regtest.mine(1);
    const toRemote = await sweepSeen(b, cp, 'to_remote');
    expect(toRemote.valueSat).toBe(50_000);
    await waitFor(() => ['justice_to_local', 'justice_htlc'].every((k) => sweepsOf(b, cp).find((r) => r.kind === k)?.status === 'confirmed'), { what: 'justice transactions confirmed' });
    await regtest.mine(1 + REDEEM_DEPTH);
    await waitFor(() => channel(b, cp)?.state === 'REDEEMED', { what: 'B REDEEMED', timeoutMs: 30_000 });
    const taken = [justiceToLocal, justiceHtlc, toRemote].reduce((s, r) => s + Number(Transaction.fromHex(r.rawTx!).outs[0]!.value), 0);
    expect(taken).toBeGreaterThan(600_000 - 5_000);
    await waitFor(() => b.wallet.getBalance().confirmedSat === bBefore + taken, { what: 'B wallet has the whole channel' });
  });

  it('(ii) breach with a spent HTLC: A\'s HTLC-timeout of the revoked commitment confirms, B takes its output before to_self_delay', async () => {
    const cp = await openChannel(600_000);
    const { oldData, oldCommitment } = await revokedCommitmentWithHtlc(cp, 600_000, 40_000);
    const bBefore = b.wallet.getBalance().confirmedSat;
    const cheat = Transaction.fromHex(oldCommitment);
    // A's HTLC-timeout for the revoked commitment, signed from A's channel data of then (B's HTLC signature).
    const oldView = channelView(oldData, a.wallet.lightningRootSecret());
    const timeoutRes = resolutionsFor(oldView, classifyFundingSpend(oldView, cheat), cheat).find((r) => r.kind === 'htlc_timeout_tx')!;
    expect(timeoutRes.prevout.valueSat).toBe(40_000);
    const feeWallet = (a.node.watcher as unknown as { feeWallet: (raw: null, value: number) => { feeWallet: FeeWallet } }).feeWallet(null, 40_000).feeWallet;
    const htlcTimeout = timeoutRes.build!({ feerateSatPerVbyte: 2, destination: new Uint8Array(0), feeWallet })!;
    expect(htlcTimeout.locktime).toBe(timeoutRes.cltvExpiry);
    // The chain reaches cltv_expiry; the channel is still open (the HTLC was fulfilled long ago).
    await regtest.mine(timeoutRes.cltvExpiry - (await height()));

    // Both are mined straight into blocks (generateblock: full validation, B never sees the HTLC
    // output unspent in a block); anchors: the HTLC-timeout (nSequence 1) one block later.
    const mineTxs = async (txs: string[]) => {
      await regtest.rpc('generateblock', [regtest.minerAddress, txs]);
      await regtest.waitForElectrumTip();
    };
    if (anchors) {
      await mineTxs([oldCommitment]);
      await mineTxs([htlcTimeout.toHex()]);
    } else {
      await mineTxs([oldCommitment, htlcTimeout.toHex()]);
    }
    const timeoutHeight = await height();
    const timeoutTxid = htlcTimeout.getId();
    expect(await confirmedOnChain(timeoutTxid)).toBe(true);
    await waitFor(() => channel(b, cp)?.state === 'FORCE_CLOSING' || channel(b, cp)?.state === 'CLOSED', { what: 'B sees the revoked commitment' });

    const justiceSecond = await sweepInMempool(b, cp, 'justice_htlc_tx_output');
    expect(justiceSecond.outpoint).toBe(`${timeoutTxid}:0`);
    expect(justiceSecond.valueSat).toBe(Number(htlcTimeout.outs[0]!.value));
    // The revocation path needs no delay: B's spend (no CSV, BIP 125 nSequence) is in bitcoind's mempool at once.
    expect(Transaction.fromHex(justiceSecond.rawTx!).ins[0]!.sequence).toBe(0xfffffffd);
    // B's justice for the HTLC output itself lost the race: no row when B first saw the output
    // already spent (static_remotekey: same block), else a row spent by A's HTLC-timeout.
    const justiceHtlc = sweepsOf(b, cp).find((r) => r.kind === 'justice_htlc');
    if (justiceHtlc) expect(justiceHtlc.status).toBe('spent_by_other');
    const justiceToLocal = await sweepSeen(b, cp, 'justice_to_local');
    const toRemote = await sweepSeen(b, cp, 'to_remote');
    await regtest.mine(1);
    await waitFor(() => sweepsOf(b, cp).find((r) => r.kind === 'justice_htlc_tx_output')?.status === 'confirmed', { what: 'second-stage justice confirmed' });
    expect(await height()).toBeLessThan(timeoutHeight + TO_SELF_DELAY);
    await regtest.mine(REDEEM_DEPTH);
    await waitFor(() => channel(b, cp)?.state === 'REDEEMED', { what: 'B REDEEMED', timeoutMs: 30_000 });
    const taken = [justiceToLocal, justiceSecond, toRemote].reduce((s, r) => s + Number(Transaction.fromHex(r.rawTx!).outs[0]!.value), 0);
    expect(taken).toBeGreaterThan(600_000 - 6_000);
    await waitFor(() => b.wallet.getBalance().confirmedSat === bBefore + taken, { what: 'B wallet has the whole channel' });
  });

  it('(iii) the watcher waits until fees go down: A\'s to_local sweep is held while the estimate is high', async () => {
    const cp = await openChannel(800_000);
    await pay(a, b, 100_000);
    await settled(cp);
    const { closingTxid } = await a.node.forceCloseChannel(cp);
    await waitFor(() => inMempool(closingTxid), { what: 'commitment in mempool' });
    await regtest.mine(1);
    await waitFor(() => channel(a, cp)?.state === 'CLOSED', { what: 'A commitment confirmed' });
    const planned = await waitFor(() => sweepsOf(a, cp).find((r) => r.kind === 'to_local' && r.spendableHeight !== null), { what: 'to_local sweep planned' });
    // Fees rise to 100 sat/vB (the estimate A's chain reports), above the patient cap (fee-policy.ts: 20 sat/vB).
    const chainA = a.chain as unknown as { estimateFeeSatPerVbyte: (target: number) => Promise<number> };
    const targets: number[] = [];
    let estimate = 100;
    chainA.estimateFeeSatPerVbyte = async (target) => {
      targets.push(target);
      return estimate;
    };
    try {
      await regtest.mine(planned.spendableHeight! - 1 - (await height())); // to_local is spendable in the next block
      await a.node.watcher.checkNow();
      await regtest.mine(2);
      await a.node.watcher.checkNow();
      expect(sweepsOf(a, cp).find((r) => r.kind === 'to_local')).toMatchObject({ status: 'waiting', txid: null, rawTx: null });
      expect(targets).toContain(25); // the patient target
      // Fees go down to 3 sat/vB: the sweep is signed at that feerate and broadcast.
      estimate = 3;
      await a.node.watcher.checkNow();
      const toLocal = await sweepInMempool(a, cp, 'to_local');
      expect(toLocal).toMatchObject({ status: 'broadcast', feerateSatPerVbyte: 3 });
      const sweepTx = Transaction.fromHex(toLocal.rawTx!);
      const fee = toLocal.valueSat - Number(sweepTx.outs[0]!.value);
      // bitcoind's view: the fee is 3 sat/vB of the signed size (the builder measures a probe whose
      // signature may be one byte shorter or longer, plus one vbyte).
      const entry = await regtest.rpc<{ vsize: number; fees: { base: number } }>('getmempoolentry', [toLocal.txid!]);
      expect(Math.round(entry.fees.base * 1e8)).toBe(fee);
      expect(entry.vsize).toBe(sweepTx.virtualSize());
      expect(fee / entry.vsize).toBeGreaterThanOrEqual(3);
      expect(fee / entry.vsize).toBeLessThan(4);
      await regtest.mine(1);
      await waitFor(() => sweepsOf(a, cp).find((r) => r.kind === 'to_local')?.status === 'confirmed', { what: 'to_local sweep confirmed' });
    } finally {
      delete (chainA as { estimateFeeSatPerVbyte?: unknown }).estimateFeeSatPerVbyte;
    }
    await regtest.mine(REDEEM_DEPTH);
    await waitFor(() => channel(a, cp)?.state === 'REDEEMED', { what: 'A REDEEMED', timeoutMs: 30_000 });
  });
});
