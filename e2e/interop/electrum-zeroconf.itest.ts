/**
 * Fulmen opens a zero-conf channel (option_zeroconf with option_scid_alias, BOLT 2) to a real
 * Electrum 4.5.8 on regtest that trusts it (`accept_zeroconf_channels`, `zeroconf_trusted_node`):
 * both sides have it OPEN and Fulmen pays over it while its funding transaction is unconfirmed,
 * and both learn its real short_channel_id once it confirms. A peer that does not offer zero-conf is not asked; one that
 * does not trust Fulmen refuses it, and openChannel fails at once with its reason.
 *
 * Electrum 4.5.8 advertises option_zeroconf only with `accept_zeroconf_channels` (lnworker.py);
 * from its `zeroconf_trusted_node` it answers minimum_depth 0 and sends channel_ready right after
 * funding_signed (lnpeer.py on_open_channel). From any other node it raises and drops the
 * connection without an error message, so the refusal is checked against a Fulmen fundee.
 * With a trusted node set, its invoices carry one route hint: that node, then Electrum's alias.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Side } from '../harness/nodes.js';
import { inMempoolOf, startSide } from '../harness/nodes.js';
import { startElectrumPeer, type ElectrumPeer } from '../harness/electrum.js';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';

const FUNDING_SAT = 600_000;

describe('Fulmen → Electrum 4.5.8 zero-conf channel on regtest', () => {
  let regtest: Regtest;
  let fulmen: Side;
  let trusting: ElectrumPeer;
  let plainElectrum: ElectrumPeer;
  let channelPoint: string;

  const electrumChannel = async (cp: string) =>
    (
      await trusting.call<{ channel_point: string; state: string; short_channel_id: string | null; local_balance: number; local_unsettled_sent: number; remote_unsettled_sent: number }[]>(
        'list_channels',
      )
    ).find(
      (c) => c.channel_point === cp,
    );
  const fulmenChannel = (cp: string) => fulmen.node.listChannels().find((c) => c.channel_point === cp);
  /** Waits until Electrum holds `electrumSat` on the channel, as both sides see it, with no HTLC in flight. */
  const balancesAgree = (electrumSat: number) =>
    waitFor(
      async () => {
        const e = await electrumChannel(channelPoint);
        return e?.local_balance === electrumSat && e.local_unsettled_sent === 0 && e.remote_unsettled_sent === 0 && fulmenChannel(channelPoint)?.remote_balance === electrumSat;
      },
      { what: `Electrum to hold ${electrumSat} sat on both sides`, timeoutMs: 20_000, intervalMs: 100 },
    );

  beforeAll(async () => {
    regtest = await startRegtest();
    fulmen = await startSide(regtest);
    const fulmenAddress = `${fulmen.node.nodeIdHex}@127.0.0.1:${fulmen.node.listenPort}`;
    trusting = await startElectrumPeer(regtest, { name: 'zeroconf', config: { accept_zeroconf_channels: true, zeroconf_trusted_node: fulmenAddress } });
    plainElectrum = await startElectrumPeer(regtest, { name: 'plain' });
    await regtest.sendToAddress(fulmen.wallet.getUnusedAddress(), '0.05');
    await regtest.mine(1);
    await waitFor(() => fulmen.wallet.getBalance().confirmedSat === 5_000_000, { what: 'Fulmen funded', timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await fulmen?.node.stop();
    await fulmen?.chain.stop();
    await trusting?.stop();
    await plainElectrum?.stop();
    await regtest?.stop();
  });

  it('an Electrum that does not offer option_zeroconf (its default) is not asked: BAD_INPUT, nothing funded', async () => {
    const balance = fulmen.wallet.getBalance();
    await expect(fulmen.node.openChannel(await plainElectrum.connectString(), FUNDING_SAT, 0n, { zeroconf: true })).rejects.toMatchObject({
      code: 'BAD_INPUT',
      message: expect.stringMatching(/does not offer zero-conf/),
    });
    expect(fulmen.node.listChannels()).toEqual([]);
    expect(fulmen.wallet.getBalance()).toEqual(balance);
  });

  it('a Fulmen node that does not trust us refuses it at once with its reason (PEER_ERROR), nothing funded', async () => {
    const other = await startSide(regtest);
    try {
      const balance = fulmen.wallet.getBalance();
      await expect(fulmen.node.openChannel(`${other.node.nodeIdHex}@127.0.0.1:${other.node.listenPort}`, FUNDING_SAT, 0n, { zeroconf: true })).rejects.toMatchObject({
        code: 'PEER_ERROR',
        message: expect.stringMatching(/option_zeroconf from a peer we do not trust/),
      });
      expect(fulmen.node.listChannels()).toEqual([]);
      expect(fulmen.wallet.getBalance()).toEqual(balance);
    } finally {
      await other.node.stop();
      await other.chain.stop();
    }
  });

  it('the trusting Electrum takes it: both sides OPEN with the funding unconfirmed', async () => {
    const opened = await fulmen.node.openChannel(await trusting.connectString(), FUNDING_SAT, 0n, { zeroconf: true });
    channelPoint = opened.channelPoint;
    await waitFor(() => inMempoolOf(regtest, opened.fundingTxid), { what: 'funding tx in mempool' });
    await waitFor(async () => fulmenChannel(channelPoint)?.state === 'OPEN' && (await electrumChannel(channelPoint))?.state === 'OPEN', {
      what: 'channel OPEN on both sides before any block',
      timeoutMs: 30_000,
      intervalMs: 100,
    }).catch((err: Error) => {
      throw new Error(`${err.message}; Fulmen: ${fulmenChannel(channelPoint)?.state}\n${trusting.logTail(60)}`);
    });
    expect(await inMempoolOf(regtest, opened.fundingTxid)).toBe(true); // still unconfirmed
    expect(fulmenChannel(channelPoint)).toMatchObject({ zeroconf: true, scid_alias: true, short_channel_id: null, local_balance: expect.any(Number) });
  });

  it('Fulmen pays Electrum before the funding confirms', async () => {
    const request = await trusting.call<{ lightning_invoice: string }>('add_request', { amount: '0.001', memo: 'zero-conf', expiry: 3600, force: true });
    expect(await fulmen.node.pay(request.lightning_invoice), trusting.logTail(40)).toMatchObject({ success: true });
    await balancesAgree(100_000);
    expect(await inMempoolOf(regtest, channelPoint.split(':')[0]!)).toBe(true);
  });

  it('once the funding confirms, both sides learn the same real short_channel_id; Electrum pays back', async () => {
    await regtest.mine(1);
    const height = await regtest.rpc<number>('getblockcount');
    await waitFor(async () => fulmenChannel(channelPoint)?.short_channel_id !== null && (await electrumChannel(channelPoint))?.short_channel_id != null, {
      what: 'real short_channel_id on both sides',
      timeoutMs: 30_000,
      intervalMs: 200,
    });
    const scid = fulmenChannel(channelPoint)!.short_channel_id!;
    expect(scid).toMatch(new RegExp(`^${height}x\\d+x${channelPoint.split(':')[1]}$`));
    expect((await electrumChannel(channelPoint))!.short_channel_id).toBe(scid);
    // Electrum 4.5.8 sends only over channels with a real short_channel_id (create_route skips
    // the alias of a direct route hint and keys its own channels by scid): paying back waits for it.
    const { invoice, paymentHash } = fulmen.node.createInvoice(40_000_000n, 'back over the confirmed zero-conf channel', 3600);
    expect(await trusting.call('lnpay', { invoice, timeout: 30 }), trusting.logTail(60)).toMatchObject({ success: true, payment_hash: paymentHash });
    await balancesAgree(60_000);
  });
});
