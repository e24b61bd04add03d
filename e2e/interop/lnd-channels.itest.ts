/**
 * Channels between Fulmen and a real lnd (built by scripts/setup-regtest.sh) on regtest, both
 * directions: open, payments both ways (amount and amountless invoices), cooperative close by
 * the side that opened. One regtest network and one lnd serve the whole file. Skipped, with the
 * reason in the suite name, only when lnd is not installed.
 *
 * lnd behaviour this relies on (v0.19): both advertise option_anchors, so each opener proposes
 * channel_type option_anchors_zero_fee_htlc_tx + static_remotekey (lnd's ANCHORS); lnd is
 * started with `--bitcoin.defaultchanconfs=1`, so it asks for minimum_depth 1 as fundee and
 * Fulmen (minimumDepth 1) asks the same; lnd reports balances net of the commitment fee and the
 * two 330-sat anchors on the funder's side, Fulmen reports them gross. lnd routes even its own payments
 * over a direct private channel only through its graph, where it adds a new channel up to 1 s
 * after both channel_ready (funding manager poll), so the tests wait for that edge after opening.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { ChainNetwork } from '../../core/chain/network.js';
import type { Wallet } from '../../core/wallet/wallet.js';
import { LightningNode, type ChannelInfo } from '../../core/lightning/node.js';
import type { Channel } from '../../core/lightning/channel/channel.js';
import type { SweepRow } from '../../core/lightning/watcher/store.js';
import { Transaction } from 'bitcoinjs-lib';
import { decodeInvoice } from '../../core/lightning/invoice/bolt11.js';
import { locateLnd, startLnd, type LndChannel, type LndNode } from '../harness/lnd.js';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';
import { funderCloseOutputSat, fundSide, inMempoolOf, mineUntil as mineBlocksUntil, openChannelTo, outputValuesSat, startSide, sweepsOf, type Side } from '../harness/nodes.js';

const FULMEN_FUNDING_SAT = 1_000_000;
const LND_FUNDING_SAT = 800_000;

const lndMissing = locateLnd().missing;

describe.skipIf(lndMissing !== undefined)(`Fulmen ⇄ lnd channels on regtest${lndMissing ? ` — skipped: ${lndMissing}` : ''}`, () => {
  let regtest: Regtest;
  let lnd: LndNode;
  let side: Side;
  let wallet: Wallet;
  let chain: ChainNetwork;
  let node: LightningNode;

  const lndChannel = async (channelPoint: string): Promise<LndChannel | undefined> => (await lnd.listChannels()).find((c) => c.channel_point === channelPoint);
  const fulmenChannel = (channelPoint: string): ChannelInfo | undefined => node.listChannels().find((c) => c.channel_point === channelPoint);

  /**
   * Waits until both sides show the same balances (lnd's view mirrored, its funder side plus the
   * commitment fee and anchors) with no HTLC in flight and, if given, Fulmen's view passing `expected`.
   */
  async function expectBalancesAgree(channelPoint: string, expected?: (fulmen: ChannelInfo) => boolean): Promise<{ fulmen: ChannelInfo; lnd: LndChannel }> {
    let last = '';
    return waitFor(
      async () => {
        const l = await lndChannel(channelPoint);
        const f = fulmenChannel(channelPoint);
        if (!l || !f) return false;
        last = `lnd ${JSON.stringify({ local: l.local_balance, remote: l.remote_balance, commit_fee: l.commit_fee, type: l.commitment_type })}, Fulmen ${JSON.stringify({ local: f.local_balance, remote: f.remote_balance })}`;
        if (expected && !expected(f)) return false;
        if (l.pending_htlcs.length > 0) return false;
        // lnd's funder balance is net of everything the funder pays: the commitment fee and, for
        // ANCHORS, the 2 × 330-sat anchors (an anchor left out with its output goes to the fee).
        const fee = Number(l.capacity) - Number(l.local_balance) - Number(l.remote_balance);
        const lndLocal = Number(l.local_balance) + (l.initiator ? fee : 0);
        const lndRemote = Number(l.remote_balance) + (l.initiator ? 0 : fee);
        return lndLocal === f.remote_balance && lndRemote === f.local_balance && { fulmen: f, lnd: l };
      },
      { what: 'balances to agree on both sides', timeoutMs: 20_000, intervalMs: 100 },
    ).catch((err: Error) => {
      throw new Error(`${err.message} (last seen: ${last})\n${lnd.logTail(60)}`);
    });
  }

  /** The harness's mineUntil with lnd's log. */
  const mineUntil = (what: string, check: () => Promise<boolean> | boolean, maxBlocks = 6) => mineBlocksUntil(regtest, what, check, maxBlocks, () => lnd.logTail(60));
  const inMempool = (txid: string): Promise<boolean> => inMempoolOf(regtest, txid);

  beforeAll(async () => {
    const began = Date.now();
    regtest = await startRegtest();
    lnd = await startLnd(regtest, { name: 'carol' });
    side = await startSide(regtest);
    ({ wallet, chain, node } = side);
    await regtest.sendToAddress(await lnd.newAddress(), '0.05');
    await fundSide(regtest, side, 5_000_000, 'Fulmen funded');
    await lnd.waitForBalance(5_000_000);
    console.info(`[lnd-channels] setup (regtest, lnd ${(await lnd.getInfo()).version} in ${lnd.startupMs} ms, Fulmen): ${Date.now() - began} ms`);
  });

  afterAll(async () => {
    await node?.stop();
    await chain?.stop();
    await lnd?.stop();
    await regtest?.stop();
  });

  describe('Fulmen opens, Fulmen closes', () => {
    let channelPoint: string;

    it('opens a channel Fulmen → lnd (anchors); both sides see it open', async () => {
      ({ channelPoint } = await openChannelTo(regtest, node, lnd.connectString, FULMEN_FUNDING_SAT));
      await regtest.mine(1);
      await mineUntil('channel open on both sides', async () => fulmenChannel(channelPoint)?.state === 'OPEN' && (await lndChannel(channelPoint))?.active === true);
      const { fulmen, lnd: l } = await expectBalancesAgree(channelPoint);
      expect(fulmen).toMatchObject({ initiator: 'local', capacity: FULMEN_FUNDING_SAT, remote_pubkey: lnd.nodeId, remote_balance: 0 });
      expect(l).toMatchObject({ remote_pubkey: node.nodeIdHex, initiator: false, local_balance: '0', commitment_type: 'ANCHORS', private: true });
      // lnd started without --protocol.option-scid-alias does not advertise it: Fulmen does not propose it.
      expect(fulmenChannel(channelPoint)).toMatchObject({ channel_type: 'anchors', scid_alias: false, zeroconf: false });
      expect(l.chan_id).not.toBe('0');
      await waitFor(() => lnd.hasGraphEdge(l.chan_id), { what: 'lnd to add the channel to its graph', timeoutMs: 10_000, intervalMs: 100 });
    });

    it('Fulmen pays an lnd invoice', async () => {
      const { invoice, paymentHash } = await lnd.addInvoice(100_000_000n, 'fulmen pays lnd');
      const result = await node.pay(invoice);
      expect(result, lnd.logTail(40)).toMatchObject({ success: true, paymentHash });
      expect(bytesToHex(sha256(hexToBytes(result.preimage!)))).toBe(paymentHash);
      const { fulmen } = await expectBalancesAgree(channelPoint, (f) => f.remote_balance === 100_000);
      expect(fulmen.remote_balance).toBe(100_000);
      expect(await lnd.lookupInvoice(paymentHash)).toMatchObject({ state: 'SETTLED', amt_paid_msat: '100000000' });
    });

    it('Fulmen pays an lnd invoice without amount, giving the amount', async () => {
      const { invoice, paymentHash } = await lnd.addInvoice(null, 'any amount');
      expect(decodeInvoice(invoice, 'regtest').amountMsat).toBeUndefined();
      const result = await node.pay(invoice, { amountMsat: 12_345_000n });
      expect(result, lnd.logTail(40)).toMatchObject({ success: true });
      const { fulmen } = await expectBalancesAgree(channelPoint, (f) => f.remote_balance === 112_345);
      expect(fulmen.remote_balance).toBe(112_345);
      expect(await lnd.lookupInvoice(paymentHash)).toMatchObject({ state: 'SETTLED', amt_paid_msat: '12345000' });
    });

    it('lnd pays a Fulmen invoice over the private channel (route hint)', async () => {
      const { invoice, paymentHash } = node.createInvoice(30_000_000n, 'lnd pays fulmen', 3600);
      const result = await lnd.payInvoice(invoice);
      expect(result, lnd.logTail(60)).toMatchObject({ status: 'SUCCEEDED', payment_hash: paymentHash, fee_msat: '0' });
      const { fulmen } = await expectBalancesAgree(channelPoint, (f) => f.remote_balance === 82_345);
      expect(fulmen.remote_balance).toBe(82_345);
      expect(node.listPayments().find((p) => p.paymentHash === paymentHash)).toMatchObject({ direction: 'received', status: 'succeeded', amountMsat: 30_000_000n });
    });

    it('Fulmen closes cooperatively; the funds arrive on chain on both sides', async () => {
      const { fulmen } = await expectBalancesAgree(channelPoint);
      const lndBefore = (await lnd.walletBalance()).confirmedSat;
      const fulmenBefore = wallet.getBalance().confirmedSat;
      const { closingTxid } = await node.closeChannel(channelPoint);
      await waitFor(() => inMempool(closingTxid), { what: 'closing tx in mempool' });
      await regtest.mine(1);
      await mineUntil(
        'closed on both sides',
        async () => fulmenChannel(channelPoint)?.state === 'CLOSED' && (await lnd.closedChannels()).some((c) => c.channel_point === channelPoint),
        3,
      );
      const closed = (await lnd.closedChannels()).find((c) => c.channel_point === channelPoint)!;
      expect(closed).toMatchObject({ closing_tx_hash: closingTxid, close_type: 'COOPERATIVE_CLOSE', close_initiator: 'INITIATOR_REMOTE', settled_balance: String(fulmen.remote_balance) });
      const fulmenOutput = await funderCloseOutputSat(regtest, closingTxid, fulmen);
      await lnd.waitForBalance(lndBefore + fulmen.remote_balance);
      await waitFor(() => wallet.getBalance().confirmedSat === fulmenBefore + fulmenOutput, { what: 'Fulmen wallet got its side back' });
    });
  });

  describe('lnd opens, lnd closes (Fulmen as fundee)', () => {
    let channelPoint: string;

    it('lnd opens a private channel to Fulmen; both sides see it open', async () => {
      await lnd.connect(node.nodeIdHex, '127.0.0.1', node.listenPort!);
      channelPoint = await lnd.openChannel(node.nodeIdHex, LND_FUNDING_SAT, { private: true });
      await waitFor(() => inMempool(channelPoint.split(':')[0]!), { what: 'funding tx in mempool' });
      await regtest.mine(1);
      await mineUntil('channel open on both sides', async () => fulmenChannel(channelPoint)?.state === 'OPEN' && (await lndChannel(channelPoint))?.active === true);
      const { fulmen, lnd: l } = await expectBalancesAgree(channelPoint);
      expect(fulmen).toMatchObject({ initiator: 'remote', capacity: LND_FUNDING_SAT, remote_pubkey: lnd.nodeId, local_balance: 0 });
      expect(l).toMatchObject({ initiator: true, commitment_type: 'ANCHORS', remote_balance: '0', private: true });
      expect(fulmen.channel_type).toBe('anchors');
      await waitFor(() => lnd.hasGraphEdge(l.chan_id), { what: 'lnd to add the channel to its graph', timeoutMs: 10_000, intervalMs: 100 });
    });

    it('lnd pays a Fulmen invoice, Fulmen pays an lnd invoice', async () => {
      const { invoice, paymentHash } = node.createInvoice(200_000_000n, 'lnd pays fulmen again', 3600);
      const paid = await lnd.payInvoice(invoice);
      expect(paid, lnd.logTail(60)).toMatchObject({ status: 'SUCCEEDED', payment_hash: paymentHash });
      expect((await expectBalancesAgree(channelPoint, (f) => f.local_balance === 200_000)).fulmen.local_balance).toBe(200_000);

      const back = await lnd.addInvoice(50_000_000n, 'fulmen pays back');
      expect(await node.pay(back.invoice), lnd.logTail(60)).toMatchObject({ success: true });
      expect((await expectBalancesAgree(channelPoint, (f) => f.local_balance === 150_000)).fulmen.local_balance).toBe(150_000);
      expect(await lnd.lookupInvoice(back.paymentHash)).toMatchObject({ state: 'SETTLED' });
    });

    it('lnd pays a Fulmen invoice without amount, giving the amount', async () => {
      const { invoice, paymentHash } = node.createInvoice(null, 'lnd chooses the amount', 3600);
      const paid = await lnd.payInvoice(invoice, { amountMsat: 7_000_000n });
      expect(paid, lnd.logTail(60)).toMatchObject({ status: 'SUCCEEDED', payment_hash: paymentHash, value_msat: '7000000' });
      expect((await expectBalancesAgree(channelPoint, (f) => f.local_balance === 157_000)).fulmen.local_balance).toBe(157_000);
    });

    it('lnd closes cooperatively; the funds arrive on chain on both sides', async () => {
      const { fulmen } = await expectBalancesAgree(channelPoint);
      const fulmenBefore = wallet.getBalance().confirmedSat;
      const closingTxid = await lnd.closeChannel(channelPoint);
      await waitFor(() => inMempool(closingTxid), { what: 'closing tx in mempool' });
      await regtest.mine(1);
      await mineUntil(
        'closed on both sides',
        async () => fulmenChannel(channelPoint)?.state === 'CLOSED' && (await lnd.closedChannels()).some((c) => c.channel_point === channelPoint),
        3,
      );
      expect(fulmenChannel(channelPoint)?.closing_txid).toBe(closingTxid);
      expect(await outputValuesSat(regtest, closingTxid)).toContain(fulmen.local_balance);
      await waitFor(() => wallet.getBalance().confirmedSat === fulmenBefore + fulmen.local_balance, { what: 'Fulmen wallet got its side' });
    });
  });

  describe('force closes of anchor channels', () => {
    const sweepInMempool = (channelPoint: string, kind: SweepRow['kind']): Promise<SweepRow> =>
      waitFor(
        async () => {
          const row = sweepsOf(side, channelPoint).find((r) => r.kind === kind && r.txid);
          return row && (await inMempool(row.txid!)) ? row : undefined;
        },
        { what: `${kind} sweep in mempool`, timeoutMs: 30_000 },
      );

    async function openAndPay(): Promise<string> {
      // After the blocks the previous test mined: lnd refuses open_channel while it is still
      // catching up with the chain ("Synchronizing blockchain"), so wait until it is synced.
      await lnd.waitForSync();
      const opened = await openChannelTo(regtest, node, lnd.connectString, 400_000);
      await regtest.mine(1);
      await mineUntil('channel open on both sides', async () => fulmenChannel(opened.channelPoint)?.state === 'OPEN' && (await lndChannel(opened.channelPoint))?.active === true);
      const l = (await lndChannel(opened.channelPoint))!;
      expect(l.commitment_type).toBe('ANCHORS');
      await waitFor(() => lnd.hasGraphEdge(l.chan_id), { what: 'lnd to add the channel to its graph', timeoutMs: 10_000, intervalMs: 100 });
      const { invoice } = await lnd.addInvoice(100_000_000n, 'before the force close');
      expect(await node.pay(invoice), lnd.logTail(60)).toMatchObject({ success: true });
      await expectBalancesAgree(opened.channelPoint, (f) => f.remote_balance === 100_000);
      return opened.channelPoint;
    }

    it('lnd force-closes: Fulmen sweeps its to_remote (P2WSH, 1 OP_CHECKSEQUENCEVERIFY) one block after the commitment', async () => {
      const channelPoint = await openAndPay();
      const before = wallet.getBalance().confirmedSat;
      const closingTxid = await lnd.closeChannel(channelPoint, { force: true });
      await waitFor(() => inMempool(closingTxid), { what: 'lnd commitment in mempool' });
      await waitFor(() => fulmenChannel(channelPoint)?.state === 'FORCE_CLOSING', { what: 'Fulmen sees the force close' });
      const commitment = Transaction.fromHex(await regtest.rpc<string>('getrawtransaction', [closingTxid]));
      expect(commitment.outs.filter((o) => Number(o.value) === 330).length).toBe(2);
      await mineUntil('Fulmen to_remote sweep in mempool', async () => {
        const row = sweepsOf(side, channelPoint).find((r) => r.kind === 'to_remote' && r.txid);
        return !!row && (await inMempool(row.txid!));
      }, 3);
      const toRemote = await sweepInMempool(channelPoint, 'to_remote');
      const sweep = Transaction.fromHex(toRemote.rawTx!);
      expect(sweep.ins[0]!.sequence).toBe(1);
      expect(toRemote.valueSat).toBeGreaterThan(300_000 - 2_000); // Fulmen's 300k minus the commitment fee and anchors it pays as funder
      await regtest.mine(1);
      const swept = Number(sweep.outs[0]!.value);
      await waitFor(() => wallet.getBalance().confirmedSat === before + swept, { what: 'Fulmen wallet has its to_remote' });
    });

    it('Fulmen force-closes: lnd accepts the anchor commitment, Fulmen sweeps to_local after the delay lnd asked for', async () => {
      const channelPoint = await openAndPay();
      const { closingTxid } = await node.forceCloseChannel(channelPoint);
      await waitFor(() => inMempool(closingTxid), { what: 'Fulmen commitment in mempool' });
      await regtest.mine(1);
      await waitFor(() => sweepsOf(side, channelPoint).some((r) => r.kind === 'to_local' && r.spendableHeight !== null), { what: 'to_local sweep planned' });
      // lnd, whose to_remote waits one block, closes its side.
      await waitFor(async () => !(await lndChannel(channelPoint)), { what: 'lnd no longer lists the channel as open', timeoutMs: 20_000 });
      const delay = fulmenDelay(channelPoint);
      await regtest.mine(delay - 1);
      const toLocal = await sweepInMempool(channelPoint, 'to_local');
      expect(Transaction.fromHex(toLocal.rawTx!).ins[0]!.sequence).toBe(delay);
      await regtest.mine(1);
      await waitFor(() => sweepsOf(side, channelPoint).find((r) => r.kind === 'to_local')?.status === 'confirmed', { what: 'to_local sweep confirmed' });
    });

    /** to_self_delay lnd set for Fulmen's outputs (accept_channel), from Fulmen's stored channel. */
    function fulmenDelay(channelPoint: string): number {
      const channels = (node as unknown as { channels: Map<number, Channel> }).channels;
      return [...channels.values()].find((c) => c.channelPoint === channelPoint)!.remoteConfig!.toSelfDelay;
    }
  });
});
