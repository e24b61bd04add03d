/**
 * Channels between Fulmen and a real Electrum 4.5.8 node on regtest, both directions:
 * open, payments both ways (amount and amountless invoices, amounts at the channel's limits),
 * a disconnect in the middle of an update followed by channel_reestablish, cooperative close.
 * One regtest network and one Electrum daemon serve the whole file.
 *
 * Electrum 4.5.8 behaviour this relies on (lnpeer.py / lnchannel.py): channel_type
 * option_static_remotekey, empty upfront_shutdown_script, minimum_depth 3 as fundee; `lnpay`
 * takes no amount, so amountless invoices are paid from Fulmen's side (Electrum `add_request`
 * with amount 0); an incoming HTLC that Electrum's unrounded-fee balance check
 * (available_to_spend) refuses makes it drop the connection with RemoteMisbehaving, so
 * Fulmen's limit must never exceed it (tested at the exact limit).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import type { Db } from '../../core/storage/db.js';
import type { ChainNetwork } from '../../core/chain/network.js';
import type { Wallet } from '../../core/wallet/wallet.js';
import type { LightningNode, ChannelInfo } from '../../core/lightning/node.js';
import { decodeInvoice } from '../../core/lightning/invoice/bolt11.js';
import { startElectrumPeer, type ElectrumPeer } from '../harness/electrum.js';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';
import { funderCloseOutputSat, inMempoolOf, mineUntil as mineBlocksUntil, newSideNode, openChannelTo, outputValuesSat, startSide } from '../harness/nodes.js';

/** One row of Electrum 4.5.8 `list_channels` (the fields used here). */
interface ElectrumChannel {
  type: 'CHANNEL' | 'BACKUP';
  short_channel_id: string | null;
  channel_id: string;
  channel_point: string;
  state: string;
  peer_state: string;
  remote_pubkey: string;
  local_balance: number;
  remote_balance: number;
  local_reserve: number;
  remote_reserve: number;
  local_unsettled_sent: number;
  remote_unsettled_sent: number;
}

/** Electrum `add_request` result (lightning part). */
interface ElectrumRequest {
  request_id: string;
  lightning_invoice: string;
  rhash: string;
  status: number;
}

interface LnpayResult {
  payment_hash: string;
  success: boolean;
  preimage: string | null;
  log: unknown[];
}

const FULMEN_FUNDING_SAT = 1_000_000;
const ELECTRUM_FUNDING_SAT = 800_000;

describe('Fulmen ⇄ Electrum 4.5.8 channels on regtest', () => {
  let regtest: Regtest;
  let electrum: ElectrumPeer;
  let db: Db;
  let wallet: Wallet;
  let chain: ChainNetwork;
  let node: LightningNode;
  let electrumNodeId: string;

  const electrumChannel = async (channelPoint: string): Promise<ElectrumChannel | undefined> =>
    (await electrum.call<ElectrumChannel[]>('list_channels')).find((c) => c.channel_point === channelPoint);
  const fulmenChannel = (channelPoint: string): ChannelInfo | undefined => node.listChannels().find((c) => c.channel_point === channelPoint);

  /**
   * Waits until both sides show the same balances (Electrum's view mirrored) with no HTLC in
   * flight and, if given, Fulmen's view passing `expected` (the commitment dance may still run
   * after a payment resolved).
   */
  async function expectBalancesAgree(channelPoint: string, expected?: (fulmen: ChannelInfo) => boolean): Promise<{ fulmen: ChannelInfo; electrum: ElectrumChannel }> {
    return waitFor(
      async () => {
        const e = await electrumChannel(channelPoint);
        const f = fulmenChannel(channelPoint);
        if (!e || !f) return false;
        if (expected && !expected(f)) return false;
        if (e.local_unsettled_sent !== 0 || e.remote_unsettled_sent !== 0) return false;
        return e.local_balance === f.remote_balance && e.remote_balance === f.local_balance && { fulmen: f, electrum: e };
      },
      { what: 'balances to agree on both sides', timeoutMs: 20_000, intervalMs: 100 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${electrum.logTail(60)}`);
    });
  }

  async function electrumInvoice(amountBtc: string | number, memo: string): Promise<string> {
    const req = await electrum.call<ElectrumRequest>('add_request', { amount: amountBtc, memo, expiry: 3600, force: true });
    expect(req.lightning_invoice).toMatch(/^lnbcrt/);
    return req.lightning_invoice;
  }

  async function electrumPay(invoice: string): Promise<LnpayResult> {
    return electrum.call<LnpayResult>('lnpay', { invoice, timeout: 30 });
  }

  /**
   * The harness's mineUntil with Electrum's log. More blocks do not repair a tx Electrum stored
   * with a stale height: call electrum.waitForTx before the first block.
   */
  const mineUntil = (what: string, check: () => Promise<boolean> | boolean, maxBlocks = 6) => mineBlocksUntil(regtest, what, check, maxBlocks, () => electrum.logTail(60));

  beforeAll(async () => {
    const began = Date.now();
    regtest = await startRegtest();
    electrum = await startElectrumPeer(regtest, { name: 'channels' });
    electrumNodeId = await electrum.nodeId();
    ({ db, wallet, chain, node } = await startSide(regtest));
    await regtest.sendToAddress(wallet.getUnusedAddress(), '0.05');
    const electrumFunding = await regtest.sendToAddress(await electrum.getUnusedAddress(), '0.05');
    await electrum.waitForTx(electrumFunding); // mined only once Electrum holds it: see waitForTx
    await regtest.mine(1);
    await waitFor(() => wallet.getBalance().confirmedSat === 5_000_000, { what: 'Fulmen funded', timeoutMs: 30_000 });
    await electrum.waitForBalance({ confirmedSat: 5_000_000 });
    console.info(`[electrum-channels] setup (regtest, Electrum ${electrum.startupMs} ms, Fulmen): ${Date.now() - began} ms`);
  });

  afterAll(async () => {
    await node?.stop();
    await chain?.stop();
    await electrum?.stop();
    await regtest?.stop();
  });

  describe('Fulmen opens, Fulmen closes', () => {
    let channelPoint: string;

    it('opens a channel Fulmen → Electrum; both sides see it OPEN', async () => {
      const opened = await openChannelTo(regtest, node, await electrum.connectString(), FULMEN_FUNDING_SAT);
      channelPoint = opened.channelPoint;
      // Electrum learns of the funding tx only from ElectrumX; mining it before Electrum has
      // downloaded it can leave it unconfirmed in Electrum for good (see ElectrumPeer.waitForTx).
      await electrum.waitForTx(opened.fundingTxid);
      // Electrum (fundee) asks for minimum_depth 3 in accept_channel (lnpeer.on_open_channel):
      // exactly 3 blocks, no more, must open the channel on both sides.
      await regtest.mine(3);
      await waitFor(async () => fulmenChannel(channelPoint)?.state === 'OPEN' && (await electrumChannel(channelPoint))?.state === 'OPEN', {
        what: 'channel OPEN on both sides after 3 blocks',
        timeoutMs: 30_000,
        intervalMs: 100,
      }).catch((err: Error) => {
        throw new Error(`${err.message}; Fulmen: ${fulmenChannel(channelPoint)?.state}\n${electrum.logTail(60)}`);
      });
      const { fulmen, electrum: e } = await expectBalancesAgree(channelPoint);
      // Electrum 4.5.8 does not advertise option_anchors: the channel stays option_static_remotekey;
      // it advertises option_scid_alias, so Fulmen proposes that variation and Electrum takes it.
      expect(fulmen).toMatchObject({ initiator: 'local', capacity: FULMEN_FUNDING_SAT, remote_pubkey: electrumNodeId, remote_balance: 0, channel_type: 'static_remotekey', scid_alias: true });
      expect(e).toMatchObject({ remote_pubkey: node.nodeIdHex, local_balance: 0, channel_id: fulmen.channel_id, short_channel_id: fulmen.short_channel_id });
    });

    it('Fulmen pays an Electrum invoice', async () => {
      const invoice = await electrumInvoice('0.001', 'fulmen pays electrum');
      const result = await node.pay(invoice);
      expect(result, electrum.logTail(40)).toMatchObject({ success: true });
      expect(bytesToHex(sha256(hexToBytes(result.preimage!)))).toBe(result.paymentHash);
      const { fulmen } = await expectBalancesAgree(channelPoint, (f) => f.remote_balance === 100_000);
      expect(fulmen.remote_balance).toBe(100_000);
    });

    it('Fulmen pays an Electrum request without amount', async () => {
      const invoice = await electrumInvoice(0, 'any amount');
      expect(decodeInvoice(invoice, 'regtest').amountMsat).toBeUndefined();
      const result = await node.pay(invoice, { amountMsat: 12_345_000n });
      expect(result, electrum.logTail(40)).toMatchObject({ success: true });
      const { fulmen } = await expectBalancesAgree(channelPoint, (f) => f.remote_balance === 112_345);
      expect(fulmen.remote_balance).toBe(112_345);
    });

    it('Electrum pays a Fulmen invoice over the private channel (route hint)', async () => {
      const { invoice, paymentHash } = node.createInvoice(30_000_000n, 'electrum pays fulmen', 3600);
      const result = await electrumPay(invoice);
      expect(result, electrum.logTail(60)).toMatchObject({ success: true, payment_hash: paymentHash });
      const { fulmen } = await expectBalancesAgree(channelPoint, (f) => f.remote_balance === 82_345);
      expect(fulmen.remote_balance).toBe(82_345);
      expect(node.listPayments().find((p) => p.paymentHash === paymentHash)).toMatchObject({ direction: 'received', status: 'succeeded' });
    });

    it('Fulmen sends exactly what it can send; one msat more is refused cleanly, nothing lost', async () => {
      const before = await expectBalancesAgree(channelPoint);
      const { canSendMsat } = node.channelLimits(channelPoint);
      // Reserve Electrum asked for, and the commitment fee Fulmen (funder) must keep paying.
      expect(canSendMsat).toBeLessThan(BigInt(before.fulmen.local_balance - before.fulmen.local_reserve) * 1000n);
      expect(canSendMsat).toBeGreaterThan(BigInt(before.fulmen.local_balance - before.fulmen.local_reserve - 10_000) * 1000n);
      const anyAmount = await electrumInvoice(0, 'at the limit');
      await expect(node.pay(anyAmount, { amountMsat: canSendMsat + 1n })).rejects.toMatchObject({ code: 'PAYMENT_FAILED' });
      const unchanged = await expectBalancesAgree(channelPoint);
      expect(unchanged.fulmen.local_balance).toBe(before.fulmen.local_balance);

      const atLimit = await electrumInvoice(0, 'at the limit, again');
      const result = await node.pay(atLimit, { amountMsat: canSendMsat });
      expect(result, electrum.logTail(60)).toMatchObject({ success: true });
      const after = await expectBalancesAgree(channelPoint, (f) => f.remote_balance !== before.fulmen.remote_balance);
      expect(after.electrum.state).toBe('OPEN');
      expect(BigInt(after.fulmen.remote_balance) * 1000n).toBe((BigInt(before.fulmen.remote_balance) * 1000n + canSendMsat) / 1000n * 1000n);
    });

    it('Electrum sends close to its limit (just under what it can spend) and fails cleanly just over', async () => {
      const before = await expectBalancesAgree(channelPoint);
      // Electrum (fundee) must keep the reserve Fulmen asked for.
      const canSendSat = before.electrum.local_balance - before.electrum.local_reserve;
      const over = node.createInvoice(BigInt(canSendSat + 1) * 1000n, 'too much for electrum', 3600);
      const failed = await electrumPay(over.invoice).catch((e: Error) => ({ success: false, error: e.message }));
      expect(failed.success).toBe(false);
      const unchanged = await expectBalancesAgree(channelPoint);
      expect(unchanged.fulmen.local_balance).toBe(before.fulmen.local_balance);

      const under = node.createInvoice(BigInt(canSendSat - 1) * 1000n, 'just under for electrum', 3600);
      const result = await electrumPay(under.invoice);
      expect(result, electrum.logTail(60)).toMatchObject({ success: true });
      const after = await expectBalancesAgree(channelPoint, (f) => f.local_balance !== before.fulmen.local_balance);
      expect(after.electrum.local_balance).toBe(before.electrum.local_reserve + 1);
    });

    it('Fulmen closes cooperatively; the funds arrive on chain on both sides', async () => {
      const { fulmen } = await expectBalancesAgree(channelPoint);
      const electrumBefore = await electrum.getBalance();
      const fulmenBefore = wallet.getBalance().confirmedSat;
      const { closingTxid } = await node.closeChannel(channelPoint);
      await waitFor(() => inMempoolOf(regtest, closingTxid), { what: 'closing tx in mempool' });
      await electrum.waitForTx(closingTxid);
      await regtest.mine(1);
      await mineUntil('CLOSED on both sides', async () => fulmenChannel(channelPoint)?.state === 'CLOSED' && (await electrumChannel(channelPoint))?.state === 'CLOSED', 3);
      const fulmenOutput = await funderCloseOutputSat(regtest, closingTxid, fulmen);
      await electrum.waitForBalance({ confirmedSat: electrumBefore.confirmedSat + fulmen.remote_balance });
      await waitFor(() => wallet.getBalance().confirmedSat === fulmenBefore + fulmenOutput, { what: 'Fulmen wallet got its side back' });
    });
  });

  describe('Electrum opens, Electrum closes (Fulmen as fundee)', () => {
    let channelPoint: string;

    it('Electrum opens a channel to Fulmen; both sides see it OPEN', async () => {
      channelPoint = await electrum.call<string>('open_channel', { connection_string: `${node.nodeIdHex}@127.0.0.1:${node.listenPort}`, amount: ELECTRUM_FUNDING_SAT / 1e8 });
      const fundingTxid = channelPoint.split(':')[0]!;
      await waitFor(() => inMempoolOf(regtest, fundingTxid), { what: 'funding tx in mempool' });
      await electrum.waitForTx(fundingTxid);
      await mineUntil('channel OPEN on both sides', async () => fulmenChannel(channelPoint)?.state === 'OPEN' && (await electrumChannel(channelPoint))?.state === 'OPEN');
      const { fulmen } = await expectBalancesAgree(channelPoint);
      expect(fulmen).toMatchObject({ initiator: 'remote', capacity: ELECTRUM_FUNDING_SAT, remote_pubkey: electrumNodeId, local_balance: 0, channel_type: 'static_remotekey' });
    });

    it('Electrum pays a Fulmen invoice, Fulmen pays an Electrum invoice', async () => {
      const { invoice, paymentHash } = node.createInvoice(200_000_000n, 'electrum pays fulmen again', 3600);
      const paid = await electrumPay(invoice);
      expect(paid, electrum.logTail(60)).toMatchObject({ success: true, payment_hash: paymentHash });
      expect((await expectBalancesAgree(channelPoint, (f) => f.local_balance === 200_000)).fulmen.local_balance).toBe(200_000);

      const back = await node.pay(await electrumInvoice('0.0005', 'fulmen pays back'));
      expect(back, electrum.logTail(60)).toMatchObject({ success: true });
      expect((await expectBalancesAgree(channelPoint, (f) => f.local_balance === 150_000)).fulmen.local_balance).toBe(150_000);
    });

    it('Fulmen (fundee) sends exactly what it can send; one msat more is refused cleanly', async () => {
      const before = await expectBalancesAgree(channelPoint);
      const { canSendMsat } = node.channelLimits(channelPoint);
      expect(canSendMsat).toBe(BigInt(before.fulmen.local_balance - before.fulmen.local_reserve) * 1000n);
      await expect(node.pay(await electrumInvoice(0, 'over'), { amountMsat: canSendMsat + 1n })).rejects.toMatchObject({ code: 'PAYMENT_FAILED' });
      const result = await node.pay(await electrumInvoice(0, 'all of it'), { amountMsat: canSendMsat });
      expect(result, electrum.logTail(60)).toMatchObject({ success: true });
      const after = await expectBalancesAgree(channelPoint, (f) => f.local_balance === before.fulmen.local_reserve);
      expect(after.fulmen.local_balance).toBe(before.fulmen.local_reserve);
      // Refill Fulmen's side for the next test.
      const refill = node.createInvoice(100_000_000n, 'refill', 3600);
      expect(await electrumPay(refill.invoice)).toMatchObject({ success: true });
      await expectBalancesAgree(channelPoint, (f) => f.local_balance === before.fulmen.local_reserve + 100_000);
    });

    it('a disconnect right after update_add_htlc + commitment_signed: reestablish, payment completes, balances agree', async () => {
      const before = await expectBalancesAgree(channelPoint);
      const invoice = await electrumInvoice('0.0002', 'interrupted');
      const paying = node.pay(invoice);
      // pay() has queued update_add_htlc and commitment_signed on the socket; drop the connection now.
      expect(node.disconnectPeer(electrumNodeId)).toBe(true);
      expect(fulmenChannel(channelPoint)?.peer_state).toBe('DISCONNECTED');
      const result = await paying;
      expect(result, electrum.logTail(80)).toMatchObject({ success: true });
      const after = await expectBalancesAgree(channelPoint, (f) => f.local_balance === before.fulmen.local_balance - 20_000);
      expect(after.fulmen.local_balance).toBe(before.fulmen.local_balance - 20_000);
      expect(after.fulmen.peer_state).toBe('GOOD');
    });

    it('a disconnect right after Electrum starts paying: reestablish, payment completes, balances agree', async () => {
      const before = await expectBalancesAgree(channelPoint);
      const { invoice } = node.createInvoice(7_000_000n, 'interrupted incoming', 3600);
      // Drop the connection as soon as Electrum's HTLC is seen on Fulmen's side (before it is settled).
      let dropped = false;
      const off = node.on((e) => {
        if (!dropped && e.type === 'channel' && e.channel.channel_point === channelPoint && e.channel.local_ctn > before.fulmen.local_ctn) {
          dropped = node.disconnectPeer(electrumNodeId);
        }
      });
      try {
        const result = await electrumPay(invoice);
        expect(result, electrum.logTail(80)).toMatchObject({ success: true });
      } finally {
        off();
      }
      expect(dropped).toBe(true);
      const after = await expectBalancesAgree(channelPoint, (f) => f.local_balance === before.fulmen.local_balance + 7_000);
      expect(after.fulmen.local_balance).toBe(before.fulmen.local_balance + 7_000);
    });

    it('Fulmen restarts from its database: it reconnects to Electrum, reestablishes, and payments work', async () => {
      const before = await expectBalancesAgree(channelPoint);
      const port = node.listenPort!;
      await node.stop();
      await waitFor(async () => (await electrumChannel(channelPoint))?.peer_state !== 'GOOD', { what: 'Electrum sees Fulmen gone' });
      node = newSideNode({ db, wallet, chain }, { listen: `127.0.0.1:${port}` });
      await node.start();
      expect(fulmenChannel(channelPoint)).toMatchObject({ state: 'OPEN', local_balance: before.fulmen.local_balance });
      await waitFor(async () => fulmenChannel(channelPoint)?.peer_state === 'GOOD' && (await electrumChannel(channelPoint))?.peer_state === 'GOOD', {
        what: 'reconnected after restart',
      });
      const result = await waitFor(async () => {
        const r = await node.pay(await electrumInvoice('0.0001', 'after restart'));
        return r.success && r;
      }, { what: 'payment after restart', timeoutMs: 20_000, intervalMs: 500 });
      expect(result.success).toBe(true);
      await expectBalancesAgree(channelPoint, (f) => f.local_balance === before.fulmen.local_balance - 10_000);
    });

    it('Electrum closes cooperatively; the funds arrive on chain on both sides', async () => {
      await waitFor(async () => (await electrumChannel(channelPoint))?.peer_state === 'GOOD' && fulmenChannel(channelPoint)?.peer_state === 'GOOD', { what: 'peers connected' });
      const { fulmen } = await expectBalancesAgree(channelPoint);
      const fulmenBefore = wallet.getBalance().confirmedSat;
      const closingTxid = await electrum.call<string>('close_channel', { channel_point: channelPoint });
      await waitFor(() => inMempoolOf(regtest, closingTxid), { what: 'closing tx in mempool' });
      await electrum.waitForTx(closingTxid);
      await regtest.mine(1);
      await mineUntil('CLOSED on both sides', async () => fulmenChannel(channelPoint)?.state === 'CLOSED' && (await electrumChannel(channelPoint))?.state === 'CLOSED', 3);
      expect(await outputValuesSat(regtest, closingTxid)).toContain(fulmen.local_balance);
      await waitFor(() => wallet.getBalance().confirmedSat === fulmenBefore + fulmen.local_balance, { what: 'Fulmen wallet got its side' });
    });
  });
});
