/**
 * Fulmen forwards for a real lnd (built by scripts/setup-regtest.sh) on regtest: lnd —— B —— C,
 * B and C Fulmen nodes. lnd pays C's invoices through the route hint C puts in them (its channel
 * with B); B forwards. lnd checks what we produce as a forwarding node: our fee and
 * cltv_expiry_delta, the peeled onion C accepts, and our obfuscation of C's failure (lnd
 * attributes it to the final hop only if B wrapped it right). Skipped, with the reason in the
 * suite name, without lnd.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Db } from '../../core/storage/db.js';
import { ChainNetwork } from '../../core/chain/network.js';
import { Wallet } from '../../core/wallet/wallet.js';
import { LightningNode, type ChannelInfo } from '../../core/lightning/node.js';
import { locateLnd, startLnd, type LndNode } from '../harness/lnd.js';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';

const lndMissing = locateLnd().missing;

interface Side {
  db: Db;
  chain: ChainNetwork;
  wallet: Wallet;
  node: LightningNode;
}

describe.skipIf(lndMissing !== undefined)(`lnd → Fulmen (forwards) → Fulmen on regtest${lndMissing ? ` — skipped: ${lndMissing}` : ''}`, () => {
  let regtest: Regtest;
  let lnd: LndNode;
  let b: Side;
  let c: Side;
  const inMempool = async (txid: string): Promise<boolean> => (await regtest.rpc<string[]>('getrawmempool')).includes(txid);
  const channel = (s: Side, cp: string): ChannelInfo | undefined => s.node.listChannels().find((x) => x.channel_point === cp);

  async function makeSide(): Promise<Side> {
    const db = openDatabase(':memory:');
    const { wallet } = Wallet.create(db, { network: 'regtest' });
    const chain = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db });
    await chain.start();
    await wallet.attachChain(chain);
    await wallet.waitUntilSynced(20_000);
    const node = new LightningNode({ db, wallet, chain, network: 'regtest', listen: '127.0.0.1:0', minimumDepth: 1, paymentTimeoutMs: 30_000 });
    await node.start();
    return { db, chain, wallet, node };
  }

  beforeAll(async () => {
    regtest = await startRegtest();
    lnd = await startLnd(regtest, { name: 'alice' });
    b = await makeSide();
    c = await makeSide();
    await regtest.sendToAddress(b.wallet.getUnusedAddress(), '0.05');
    await regtest.sendToAddress(await lnd.newAddress(), '0.05');
    await regtest.mine(1);
    await waitFor(() => b.wallet.getBalance().confirmedSat === 5_000_000, { what: 'B funded', timeoutMs: 30_000 });
    await lnd.waitForBalance(5_000_000);
    // lnd → B (lnd funds), B → C (B funds).
    await lnd.connect(b.node.nodeIdHex, '127.0.0.1', b.node.listenPort!);
    const lb = await lnd.openChannel(b.node.nodeIdHex, 1_000_000);
    const bc = await b.node.openChannel(`${c.node.nodeIdHex}@127.0.0.1:${c.node.listenPort}`, 1_000_000, 0n);
    const txids = [lb.split(':')[0]!, bc.fundingTxid];
    await waitFor(async () => (await Promise.all(txids.map(inMempool))).every(Boolean), { what: 'funding txs in mempool' });
    await regtest.mine(1);
    const open = (s: Side, cp: string) => channel(s, cp)?.state === 'OPEN';
    await waitFor(() => open(b, lb) && open(b, bc.channelPoint) && open(c, bc.channelPoint), { what: 'channels OPEN', timeoutMs: 30_000 });
    const l = await waitFor(async () => (await lnd.listChannels()).find((x) => x.channel_point === lb && x.active), { what: 'lnd channel active', timeoutMs: 30_000 });
    await waitFor(() => lnd.hasGraphEdge(l.chan_id), { what: 'lnd to add the channel to its graph', timeoutMs: 10_000, intervalMs: 100 });
  });

  afterAll(async () => {
    for (const s of [b, c]) {
      await s?.node.stop();
      await s?.chain.stop();
    }
    await lnd?.stop();
    await regtest?.stop();
  });

  it('lnd pays C through B: C is paid, lnd pays B our fee (1000 msat + 1 ppm)', async () => {
    const { invoice, paymentHash } = c.node.createInvoice(50_000_000n, 'via Fulmen', 3600);
    const p = await lnd.payInvoice(invoice);
    expect(p).toMatchObject({ status: 'SUCCEEDED', payment_hash: paymentHash, fee_msat: '1050' });
    expect(c.node.listPayments().find((x) => x.paymentHash === paymentHash)).toMatchObject({ direction: 'received', status: 'succeeded', amountMsat: 50_000_000n });
  });

  it('C fails: lnd decodes B\'s wrapped failure as the final hop\'s incorrect payment details', async () => {
    const { invoice, paymentHash } = c.node.createInvoice(20_000_000n, 'forgotten', 3600);
    c.db.prepare('DELETE FROM lightning_invoices WHERE payment_hash = ?').run(paymentHash);
    const p = await lnd.payInvoice(invoice);
    expect(p).toMatchObject({ status: 'FAILED', failure_reason: 'FAILURE_REASON_INCORRECT_PAYMENT_DETAILS' });
  });
});
