import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { startRegtest, waitFor, type Regtest } from '../../e2e/harness/regtest.js';
import { openDatabase, type Db } from '../storage/db.js';
import { ChainNetwork } from '../chain/network.js';
import { Wallet } from '../wallet/wallet.js';
import { LightningNode, type LightningEvent } from './node.js';

// Two LightningNodes in one process over loopback TCP, each with its own database, Wallet and
// ChainNetwork, against the real regtest network (Bitcoin Knots + ElectrumX).
describe('LightningNode on regtest: open, pay both ways, close', () => {
  let regtest: Regtest;
  const chains: ChainNetwork[] = [];
  const nodes: LightningNode[] = [];

  interface Side {
    db: Db;
    wallet: Wallet;
    chain: ChainNetwork;
    node: LightningNode;
    events: LightningEvent[];
  }
  let a: Side;
  let b: Side;

  async function makeSide(minimumDepth: number): Promise<Side> {
    const db = openDatabase(':memory:');
    const { wallet } = Wallet.create(db, { network: 'regtest' });
    const chain = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db });
    chains.push(chain);
    await chain.start();
    await wallet.attachChain(chain);
    await wallet.waitUntilSynced(20_000);
    const node = new LightningNode({ db, wallet, chain, network: 'regtest', listen: '127.0.0.1:0', minimumDepth, paymentTimeoutMs: 30_000 });
    nodes.push(node);
    const events: LightningEvent[] = [];
    node.on((e) => events.push(e));
    await node.start();
    return { db, wallet, chain, node, events };
  }

  beforeAll(async () => {
    regtest = await startRegtest();
    a = await makeSide(1);
    b = await makeSide(2);
    await regtest.sendToAddress(a.wallet.getUnusedAddress(), '0.05');
    await regtest.mine(1);
    await waitFor(() => a.wallet.getBalance().confirmedSat === 5_000_000, { what: 'A funded', timeoutMs: 30_000 });
  });

  afterAll(async () => {
    for (const n of nodes) await n.stop();
    for (const c of chains) await c.stop();
    await regtest?.stop();
  });

  let channelPoint: string;

  it('opens a channel A → B and both reach OPEN after the fundee minimum_depth', async () => {
    const opened = await a.node.openChannel(`${b.node.nodeIdHex}@127.0.0.1:${b.node.listenPort}`, 1_000_000, 0n);
    channelPoint = opened.channelPoint;
    await waitFor(async () => (await regtest.rpc<string[]>('getrawmempool')).includes(opened.fundingTxid), { what: 'funding tx in mempool' });
    expect(a.node.listChannels()[0]).toMatchObject({ channel_point: channelPoint, state: 'OPENING', initiator: 'local' });
    await regtest.mine(1);
    // B asked for 2 confirmations: A follows the peer's minimum_depth.
    await new Promise((r) => setTimeout(r, 1500));
    expect(a.node.listChannels()[0]!.state).toBe('OPENING');
    await regtest.mine(1);
    await waitFor(() => a.node.listChannels()[0]?.state === 'OPEN' && b.node.listChannels()[0]?.state === 'OPEN', { what: 'channel OPEN on both sides', timeoutMs: 30_000 });
    // Both advertise option_anchors: the channel type is anchors on both sides.
    expect(a.node.listChannels()[0]).toMatchObject({ channel_point: channelPoint, remote_pubkey: b.node.nodeIdHex, remote_balance: 0, capacity: 1_000_000, channel_type: 'anchors' });
    expect(b.node.listChannels()[0]).toMatchObject({ channel_point: channelPoint, remote_pubkey: a.node.nodeIdHex, local_balance: 0, initiator: 'remote', channel_type: 'anchors' });
  });

  it('pays B from A with a BOLT 11 invoice (one-hop Sphinx onion)', async () => {
    const { invoice, paymentHash } = b.node.createInvoice(100_000_000n, 'coffee', 3600);
    const result = await a.node.pay(invoice);
    expect(result).toMatchObject({ success: true, paymentHash });
    expect(bytesToHex(sha256(hexToBytes(result.preimage!)))).toBe(paymentHash);
    await waitFor(() => b.node.listChannels()[0]?.local_balance === 100_000, { what: 'B balance 100k sat' });
    expect(a.node.listPayments()[0]).toMatchObject({ paymentHash, direction: 'sent', status: 'succeeded', amountMsat: 100_000_000n });
    expect(b.node.listPayments()[0]).toMatchObject({ paymentHash, direction: 'received', status: 'succeeded', amountMsat: 100_000_000n });
    expect(b.events.some((e) => e.type === 'payment_received' && e.paymentHash === paymentHash)).toBe(true);
    await expect(a.node.pay(invoice)).rejects.toMatchObject({ code: 'ALREADY_PAID' });
  });

  it('pays A from B; an HTLC for an invoice the payee does not know fails with its decoded error', async () => {
    const { invoice, paymentHash } = a.node.createInvoice(20_000_000n, 'refund', 3600);
    const result = await b.node.pay(invoice);
    expect(result).toMatchObject({ success: true, paymentHash });
    await waitFor(() => a.node.listChannels()[0]?.remote_balance === 80_000, { what: 'A sees B at 80k sat' });

    const { invoice: forgotten, paymentHash: forgottenHash } = a.node.createInvoice(1_000_000n, 'forgotten', 3600);
    a.db.prepare('DELETE FROM lightning_invoices WHERE payment_hash = ?').run(forgottenHash);
    const failed = await b.node.pay(forgotten);
    expect(failed).toMatchObject({ success: false, paymentHash: forgottenHash, error: 'incorrect_or_unknown_payment_details' });
    expect(b.node.listPayments().find((p) => p.paymentHash === forgottenHash)).toMatchObject({ status: 'failed' });
    await waitFor(() => a.node.listChannels()[0]?.remote_balance === 80_000 && b.node.listChannels()[0]?.local_balance === 80_000, { what: 'balances unchanged' });
  });

  it('B restarts from its database: A reconnects, channel_reestablish resumes, payments work', async () => {
    const port = b.node.listenPort!;
    await b.node.stop();
    await waitFor(() => a.node.listChannels()[0]?.peer_state === 'DISCONNECTED', { what: 'A sees B disconnected' });
    const restarted = new LightningNode({ db: b.db, wallet: b.wallet, chain: b.chain, network: 'regtest', listen: `127.0.0.1:${port}`, minimumDepth: 2, paymentTimeoutMs: 30_000 });
    nodes.push(restarted);
    b.node = restarted;
    await restarted.start();
    expect(restarted.nodeIdHex).toBe(nodes[1]!.nodeIdHex);
    expect(restarted.listChannels()[0]).toMatchObject({ state: 'OPEN', local_balance: 80_000 });
    await waitFor(() => a.node.listChannels()[0]?.peer_state === 'GOOD' && restarted.listChannels()[0]?.peer_state === 'GOOD', {
      what: 'reconnected',
      timeoutMs: 30_000,
    });
    const { invoice } = restarted.createInvoice(5_000_000n, 'after restart', 3600);
    await waitFor(async () => (await a.node.pay(invoice)).success, { what: 'payment after reestablish', timeoutMs: 20_000 });
    await waitFor(() => restarted.listChannels()[0]?.local_balance === 85_000, { what: 'B balance 85k sat' });
  });

  it('pays out at once what it just received: pay waits until the received HTLC is settled in both commitments', async () => {
    // B can send 85k - 10k reserve = 75k sat now; 90k sat only with the 20k it is about to receive.
    const { invoice: toB, paymentHash: inHash } = b.node.createInvoice(20_000_000n, 'in', 3600);
    const { invoice: toA, paymentHash: outHash } = a.node.createInvoice(90_000_000n, 'out', 3600);
    expect(b.node.listChannels()[0]).toMatchObject({ local_balance: 85_000 });
    // On payment_received B has fulfilled the HTLC: its removal is not in any commitment yet.
    const payingBack = new Promise<Awaited<ReturnType<LightningNode['pay']>>>((resolve, reject) => {
      const unsubscribe = b.node.on((e) => {
        if (e.type !== 'payment_received' || e.paymentHash !== inHash) return;
        unsubscribe();
        b.node.pay(toA).then(resolve, reject);
      });
    });
    expect(await a.node.pay(toB)).toMatchObject({ success: true, paymentHash: inHash });
    expect(await payingBack).toMatchObject({ success: true, paymentHash: outHash });
    await waitFor(() => b.node.listChannels()[0]?.local_balance === 15_000 && a.node.listChannels()[0]?.remote_balance === 15_000, { what: 'B at 15k sat on both sides' });
  });

  it('closes cooperatively; the funds arrive on chain in both wallets', async () => {
    const bBefore = b.wallet.getBalance().confirmedSat;
    const { closingTxid } = await a.node.closeChannel(channelPoint);
    await waitFor(async () => (await regtest.rpc<string[]>('getrawmempool')).includes(closingTxid), { what: 'closing tx in mempool' });
    await regtest.mine(1);
    await waitFor(() => a.node.listChannels()[0]?.state === 'CLOSED' && b.node.listChannels()[0]?.state === 'CLOSED', { what: 'CLOSED on both sides', timeoutMs: 30_000 });
    await waitFor(() => b.wallet.getBalance().confirmedSat === bBefore + 15_000, { what: 'B wallet got 15k sat' });
    const tx = await regtest.rpc<{ vout: { value: number }[] }>('getrawtransaction', [closingTxid, true]);
    const values = tx.vout.map((o) => Math.round(o.value * 1e8)).sort((x, y) => x - y);
    expect(values[0]).toBe(15_000);
    expect(values[1]).toBeGreaterThan(985_000 - 5_000);
    await waitFor(() => a.wallet.getBalance().confirmedSat > 5_000_000 - 1_000_000 + 985_000 - 10_000, { what: 'A wallet got its side back' });
  });
});
