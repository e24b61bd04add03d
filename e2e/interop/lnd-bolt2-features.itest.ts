/**
 * BOLT 2 features against a real lnd on regtest (one regtest network and one lnd for the file):
 *
 * - Fulmen opening to lnd proposes the option_scid_alias variation (both advertise it).
 * - Zero-conf + scid_alias channels (option_zeroconf / option_scid_alias channel types): lnd
 *   (started with --protocol.option-scid-alias and --protocol.zero-conf) opens a private channel
 *   with channel_type anchors + scid_alias + zeroconf; Fulmen trusts it (zeroconfTrustedPeers),
 *   answers minimum_depth 0, sends channel_ready once the funding transaction is in the mempool,
 *   and the channel carries payments both ways before any confirmation, with aliases in the route
 *   hints; once mined, Fulmen learns the real short_channel_id. A peer Fulmen does not trust is
 *   refused (the spec's "MUST fail").
 * - update_fee: Fulmen, as funder, proposes a new feerate when its estimate moves; lnd takes it
 *   through the commitment dance (its `fee_per_kw`). Regtest has no fee market, so the test moves
 *   the estimate by replacing ChainNetwork.estimateFeeSatPerVbyte on the real instance.
 *
 * Skipped, with the reason in the suite name, only when lnd is not installed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase } from '../../core/storage/db.js';
import type { ChainNetwork } from '../../core/chain/network.js';
import { Wallet } from '../../core/wallet/wallet.js';
import { LightningNode, type ChannelInfo } from '../../core/lightning/node.js';
import { decodeInvoice } from '../../core/lightning/invoice/bolt11.js';
import { locateLnd, startLnd, type LndChannel, type LndNode } from '../harness/lnd.js';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';
import { fundSide, startSide } from '../harness/nodes.js';

const FUNDING_SAT = 600_000;
const lndMissing = locateLnd().missing;

describe.skipIf(lndMissing !== undefined)(`Fulmen ⇄ lnd BOLT 2 features (zero-conf, scid_alias, update_fee) on regtest${lndMissing ? ` — skipped: ${lndMissing}` : ''}`, () => {
  let regtest: Regtest;
  let lnd: LndNode;
  let chain: ChainNetwork;
  let node: LightningNode;
  let channelPoint: string;

  const lndChannel = async (point: string): Promise<LndChannel | undefined> => (await lnd.listChannels()).find((c) => c.channel_point === point);
  const fulmenChannel = (point: string): ChannelInfo | undefined => node.listChannels().find((c) => c.channel_point === point);
  const inMempool = async (txid: string): Promise<boolean> => (await regtest.rpc<string[]>('getrawmempool')).includes(txid);
  const openZeroconf = (nodeId: string) =>
    lnd.rest<{ funding_txid_bytes: string; output_index?: number }>('POST', '/v1/channels', {
      node_pubkey: Buffer.from(nodeId, 'hex').toString('base64'),
      local_funding_amount: String(FUNDING_SAT),
      push_sat: '0',
      private: true,
      sat_per_vbyte: '2',
      commitment_type: 'ANCHORS',
      zero_conf: true,
      scid_alias: true,
    });

  beforeAll(async () => {
    regtest = await startRegtest();
    lnd = await startLnd(regtest, { name: 'zed', extraArgs: ['--protocol.option-scid-alias', '--protocol.zero-conf'] });
    const fulmen = await startSide(regtest, { zeroconfTrustedPeers: [lnd.nodeId] });
    ({ chain, node } = fulmen);
    await regtest.sendToAddress(await lnd.newAddress(), '0.05');
    await fundSide(regtest, fulmen, 5_000_000, 'Fulmen funded');
    await lnd.waitForBalance(5_000_000);
  });

  afterAll(async () => {
    await node?.stop();
    await chain?.stop();
    await lnd?.stop();
    await regtest?.stop();
  });

  it('lnd opens a zero-conf scid_alias channel; both sides see it open with the funding unconfirmed', async () => {
    await lnd.connect(node.nodeIdHex, '127.0.0.1', node.listenPort!);
    const point = await openZeroconf(node.nodeIdHex);
    const txid = Buffer.from(point.funding_txid_bytes, 'base64').reverse().toString('hex');
    channelPoint = `${txid}:${point.output_index ?? 0}`;
    await waitFor(() => inMempool(txid), { what: 'funding tx in mempool' });
    await waitFor(async () => fulmenChannel(channelPoint)?.state === 'OPEN' && (await lndChannel(channelPoint))?.active === true, {
      what: 'zero-conf channel open on both sides',
      timeoutMs: 20_000,
      intervalMs: 100,
    }).catch((err: Error) => {
      throw new Error(`${err.message}\n${lnd.logTail(60)}`);
    });
    expect(await inMempool(txid)).toBe(true); // still unconfirmed
    expect(fulmenChannel(channelPoint)).toMatchObject({ initiator: 'remote', capacity: FUNDING_SAT, short_channel_id: null, channel_type: 'anchors' });
    // lnd routes even to a direct peer through its graph, where the channel (by alias) appears shortly after channel_ready
    const l = (await lndChannel(channelPoint))!;
    expect(l).toMatchObject({ private: true, initiator: true });
    await waitFor(() => lnd.hasGraphEdge(l.chan_id), { what: 'lnd to add the channel to its graph', timeoutMs: 10_000, intervalMs: 100 });
  });

  it('payments both ways before confirmation; Fulmen route hints name the channel by lnd alias, never a real scid', async () => {
    const { invoice, paymentHash } = node.createInvoice(50_000_000n, 'zero-conf to fulmen', 3600);
    const hints = decodeInvoice(invoice, 'regtest').routeHints;
    expect(hints).toHaveLength(1);
    const alias = hints[0]![0]!.shortChannelId;
    // an lnd alias lives in its alias range (block height ≥ 16 000 000), far from regtest heights
    expect(alias >> 40n).toBeGreaterThanOrEqual(16_000_000n);
    const paid = await lnd.payInvoice(invoice);
    expect(paid.status).toBe('SUCCEEDED');
    await waitFor(() => node.getPayment(paymentHash, 'received')?.status === 'succeeded', { what: 'Fulmen to mark the invoice paid' });
    // At once: the received funds are spendable a few round trips after the fulfill (pay waits for them).
    const back = await lnd.addInvoice(10_000_000n, 'zero-conf to lnd');
    const result = await node.pay(back.invoice);
    expect(result.success).toBe(true);
    expect(await inMempool(channelPoint.split(':')[0]!)).toBe(true);
  });

  it('once the funding confirms, Fulmen learns the real short_channel_id', async () => {
    await regtest.mine(1);
    await waitFor(() => fulmenChannel(channelPoint)?.short_channel_id !== null, { what: 'the real scid', timeoutMs: 20_000, intervalMs: 100 });
    const height = (await regtest.rpc<number>('getblockcount')) as number;
    expect(fulmenChannel(channelPoint)!.short_channel_id).toMatch(new RegExp(`^${height}x\\d+x${channelPoint.split(':')[1]}$`));
  });

  it('Fulmen (funder) proposes option_scid_alias and lnd takes it; update_fee: Fulmen raises the commitment feerate when its estimate moves; lnd commits it and payments go on', async () => {
    await lnd.waitForSync(); // lnd refuses open_channel while catching up with the blocks mined above
    const opened = await node.openChannel(lnd.connectString, 500_000, 0n);
    const point = opened.channelPoint;
    await regtest.mine(1);
    await waitFor(async () => fulmenChannel(point)?.state === 'OPEN' && (await lndChannel(point))?.active === true, { what: 'channel open', timeoutMs: 20_000, intervalMs: 100 });
    // Both advertised option_scid_alias: Fulmen proposed anchors + scid_alias, and lnd's accept_channel echoed it (else the open fails).
    expect(fulmenChannel(point)).toMatchObject({ channel_type: 'anchors', scid_alias: true, zeroconf: false });
    const before = Number((await lndChannel(point))!.fee_per_kw);
    expect(before).toBe(253); // regtest: no estimate, the relay floor
    chain.estimateFeeSatPerVbyte = async () => 10; // 2500 sat/kw: far above 253 → update_fee
    await regtest.mine(1); // a new tip refreshes the estimate
    await waitFor(async () => Number((await lndChannel(point))?.fee_per_kw) === 2500, { what: 'lnd to commit feerate 2500', timeoutMs: 20_000, intervalMs: 100 }).catch((err: Error) => {
      throw new Error(`${err.message}
${lnd.logTail(60)}`);
    });
    const { invoice } = await lnd.addInvoice(20_000_000n, 'after update_fee');
    expect((await node.pay(invoice)).success).toBe(true);
    // no flapping: the same estimate on the next block sends nothing more
    await regtest.mine(1);
    await new Promise((r) => setTimeout(r, 1000));
    expect(Number((await lndChannel(point))!.fee_per_kw)).toBe(2500);
  });

  it('a zero-conf open from a peer Fulmen does not trust is refused (BOLT 2 MUST fail)', async () => {
    // Every Fulmen node advertises option_zeroconf (this one trusts some other node), so lnd does send the open.
    const otherDb = openDatabase(':memory:');
    const untrusting = new LightningNode({
      db: otherDb,
      wallet: Wallet.create(otherDb, { network: 'regtest' }).wallet,
      chain,
      network: 'regtest',
      listen: '127.0.0.1:0',
      zeroconfTrustedPeers: ['02' + '11'.repeat(32)],
    });
    await untrusting.start();
    try {
      await lnd.connect(untrusting.nodeIdHex, '127.0.0.1', untrusting.listenPort!);
      await expect(openZeroconf(untrusting.nodeIdHex)).rejects.toThrow(/option_zeroconf from a peer we do not trust/);
      expect(untrusting.listChannels()).toEqual([]);
    } finally {
      await untrusting.stop();
    }
  });
});
