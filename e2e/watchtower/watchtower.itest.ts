import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction } from 'bitcoinjs-lib';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';
import { openDatabase, type Db } from '../../core/storage/db.js';
import { ChainNetwork } from '../../core/chain/network.js';
import { Wallet } from '../../core/wallet/wallet.js';
import { LightningNode } from '../../core/lightning/node.js';
import { channelDataOf, channelOf, sweepsOf, waitSettled } from '../harness/nodes.js';
import { Channel } from '../../core/lightning/channel/channel.js';
import { ChannelStore } from '../../core/lightning/channel/store.js';
import { Watchtower } from '../../core/lightning/watchtower/tower.js';

// Regtest (Bitcoin Knots + ElectrumX), three Fulmen parts in one process: nodes A and B with a
// channel, and a watchtower T with its own Electrum connection and SQLite file. B sends its
// justice transactions to T. (1) B is offline when A broadcasts a revoked commitment: T answers
// with B's justice transaction, and B, restarted, finds the funds in its wallet and the channel
// REDEEMED. (2) With T down, payments still work; B online answers a breach itself, its justice
// transaction is held out of blocks (prioritisetransaction) and B replaces it by RBF.
const TO_SELF_DELAY = 10;
const REDEEM_DEPTH = 3;
const BUMP_AFTER_BLOCKS = 2;
const TOWER_USER = 'tower-user';
const TOWER_PASSWORD = 'tower-secret';

interface Side {
  db: Db;
  wallet: Wallet;
  chain: ChainNetwork;
  node: LightningNode;
  port: number;
}

describe('watchtower and sweep fee bumping on regtest', () => {
  let regtest: Regtest;
  let tmp: string;
  let towerChain: ChainNetwork;
  let tower: Watchtower;
  let towerUrl: string;
  let a: Side;
  let b: Side;

  async function connect(db: Db): Promise<ChainNetwork> {
    const chain = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db });
    await chain.start();
    return chain;
  }

  async function startNode(s: Omit<Side, 'node' | 'port'>, port: number, withTower: boolean): Promise<LightningNode> {
    const node = new LightningNode({
      db: s.db,
      wallet: s.wallet,
      chain: s.chain,
      network: 'regtest',
      listen: `127.0.0.1:${port}`,
      minimumDepth: 1,
      paymentTimeoutMs: 30_000,
      toSelfDelay: TO_SELF_DELAY,
      redeemDepth: REDEEM_DEPTH,
      sweepFeePolicy: { bumpAfterBlocks: BUMP_AFTER_BLOCKS },
      watchtowerUrl: withTower ? towerUrl : null,
    });
    await node.start();
    return node;
  }

  async function makeSide(withTower: boolean): Promise<Side> {
    const db = openDatabase(':memory:');
    const { wallet } = Wallet.create(db, { network: 'regtest' });
    const chain = await connect(db);
    await wallet.attachChain(chain);
    await wallet.waitUntilSynced(20_000);
    const node = await startNode({ db, wallet, chain }, 0, withTower);
    return { db, wallet, chain, node, port: node.listenPort! };
  }

  const mempool = async () => regtest.rpc<string[]>('getrawmempool');
  const inMempool = async (txid: string) => (await mempool()).includes(txid);

  async function openChannel(fundingSat: number): Promise<string> {
    const { channelPoint, fundingTxid } = await a.node.openChannel(`${b.node.nodeIdHex}@127.0.0.1:${b.port}`, fundingSat, 0n);
    await waitFor(() => inMempool(fundingTxid), { what: 'funding tx in mempool' });
    await regtest.mine(1);
    await waitFor(() => channelOf(a, channelPoint)?.state === 'OPEN' && channelOf(b, channelPoint)?.state === 'OPEN', { what: 'channel OPEN', timeoutMs: 30_000 });
    return channelPoint;
  }

  async function pay(amountSat: number): Promise<void> {
    const { invoice } = b.node.createInvoice(BigInt(amountSat) * 1000n, 'test', 3600);
    expect((await a.node.pay(invoice)).success).toBe(true);
  }

  const settled = (cp: string) => waitSettled(a, b, cp, { noHtlc: true });

  /** A's current commitment, fully signed (it becomes revoked with the next payment), and its ctn. */
  function captureCommitment(cp: string): { hex: string; ctn: number } {
    const data = channelDataOf(a, cp);
    const ch = Channel.load(data, { lightningRootSecret: a.wallet.lightningRootSecret(), persistence: new ChannelStore(a.db) });
    return { hex: ch.signedLocalCommitment(), ctn: data.localCtn };
  }

  beforeAll(async () => {
    regtest = await startRegtest();
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-tower-'));
    towerChain = await connect(openDatabase(':memory:'));
    tower = new Watchtower({ chain: towerChain, dbPath: path.join(tmp, 'watchtower.sqlite'), port: 0, user: TOWER_USER, password: TOWER_PASSWORD });
    await tower.start();
    towerUrl = `http://${TOWER_USER}:${TOWER_PASSWORD}@127.0.0.1:${tower.port}`;
    a = await makeSide(false);
    b = await makeSide(true);
    await regtest.sendToAddress(a.wallet.getUnusedAddress(), '0.2');
    await regtest.mine(1);
    await waitFor(() => a.wallet.getBalance().confirmedSat === 20_000_000, { what: 'A funded', timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await a?.node.stop();
    await b?.node.stop();
    await tower?.stop().catch(() => undefined);
    for (const c of [a?.chain, b?.chain, towerChain]) await c?.stop();
    await regtest?.stop();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  it('B offline: the tower broadcasts B\'s justice transaction; B restarted has the funds and the channel REDEEMED', async () => {
    const cp = await openChannel(600_000);
    await pay(50_000);
    await settled(cp);
    const old = captureCommitment(cp);
    await pay(100_000);
    await settled(cp);
    // B sent the justice transaction of A's now revoked commitment to the tower.
    await waitFor(() => tower.store.getCtn(cp) >= old.ctn, { what: 'tower holds the revoked ctn' });
    const bBefore = b.wallet.getBalance().confirmedSat;

    // B goes offline.
    await b.node.stop();
    b.wallet.detachChain();
    await b.chain.stop();

    const cheatTxid = await regtest.rpc<string>('sendrawtransaction', [old.hex]);
    const stored = tower.store.sweepsSpending(cheatTxid);
    expect(stored.length).toBe(1); // to_local only: no HTLC was in flight
    const justiceTxid = stored[0]!.txid;
    await waitFor(() => inMempool(justiceTxid), { what: 'tower broadcast the justice tx', timeoutMs: 30_000 });
    const justice = Transaction.fromHex(stored[0]!.rawTx);
    const cheat = Transaction.fromHex(old.hex);
    expect(justice.ins[0]!.index).toBe(cheat.outs.findIndex((o) => Number(o.value) > 500_000)); // A's old to_local (550k - fee)
    await regtest.mine(1);
    await waitFor(async () => {
      await tower.checkNow();
      return tower.store.sweepsSpending(cheatTxid)[0]!.status === 'confirmed';
    }, { what: 'tower sees its justice tx confirmed' });

    // B comes back: its wallet has the justice output, its watcher sweeps to_remote and marks the channel REDEEMED.
    b.chain = await connect(b.db);
    await b.wallet.attachChain(b.chain);
    await b.wallet.waitUntilSynced(20_000);
    b.node = await startNode(b, b.port, true);
    const toRemote = await waitFor(
      async () => {
        const row = sweepsOf(b, cp).find((r) => r.kind === 'to_remote' && r.txid);
        return row && (await inMempool(row.txid!)) ? row : undefined;
      },
      { what: 'B sweeps to_remote', timeoutMs: 30_000 },
    );
    expect(toRemote.valueSat).toBe(50_000);
    await regtest.mine(REDEEM_DEPTH);
    await waitFor(() => channelOf(b, cp)?.state === 'REDEEMED', { what: 'B REDEEMED', timeoutMs: 30_000 });
    const justiceValue = Number(justice.outs[0]!.value);
    const toRemoteValue = Number(Transaction.fromHex(toRemote.rawTx!).outs[0]!.value);
    expect(justiceValue + toRemoteValue).toBeGreaterThan(600_000 - 5_000);
    await waitFor(() => b.wallet.getBalance().confirmedSat === bBefore + justiceValue + toRemoteValue, { what: 'B wallet has the whole channel', timeoutMs: 30_000 });
    expect(sweepsOf(b, cp).some((r) => r.kind === 'justice_to_local' && r.txid !== null)).toBe(false); // the tower's spend settled it
  });

  it('tower down: payments go on; B answers a breach itself and replaces its held-back justice tx by RBF', async () => {
    await tower.stop();
    const cp = await openChannel(500_000);
    await pay(40_000);
    await settled(cp);
    const old = captureCommitment(cp);
    await pay(60_000);
    await settled(cp);
    await b.node.watchtower!.syncNow();
    expect(b.node.watchtower!.lastError).not.toBeNull(); // the tower is unreachable...
    expect(b.node.watchtower!.pendingCount()).toBeGreaterThan(0); // ...and what it lacks stays owed

    await regtest.rpc('sendrawtransaction', [old.hex]);
    const first = await waitFor(
      async () => {
        const row = sweepsOf(b, cp).find((r) => r.kind === 'justice_to_local' && r.txid);
        return row && (await inMempool(row.txid!)) ? row : undefined;
      },
      { what: 'B justice in mempool', timeoutMs: 30_000 },
    );
    expect(Transaction.fromHex(first.rawTx!).ins[0]!.sequence).toBeLessThan(0xfffffffe); // signals RBF
    // Miners ignore it: its fee counts as very negative for block templates.
    await regtest.rpc('prioritisetransaction', [first.txid, 0, -100_000_000]);
    await regtest.mine(1);
    await b.node.watcher.checkNow();
    expect(sweepsOf(b, cp).find((r) => r.kind === 'justice_to_local')!.txid).toBe(first.txid); // not yet bumpAfterBlocks
    await regtest.mine(BUMP_AFTER_BLOCKS - 1);
    const bumped = await waitFor(
      async () => {
        const row = sweepsOf(b, cp).find((r) => r.kind === 'justice_to_local');
        return row && row.txid !== first.txid && (await inMempool(row.txid!)) ? row : undefined;
      },
      { what: 'replacement in mempool', timeoutMs: 30_000 },
    );
    expect(bumped.priorTxids).toEqual([first.txid]);
    expect(bumped.feerateSatPerVbyte!).toBeGreaterThan(first.feerateSatPerVbyte!);
    expect(await inMempool(first.txid!)).toBe(false); // replaced
    const [firstTx, bumpedTx] = [Transaction.fromHex(first.rawTx!), Transaction.fromHex(bumped.rawTx!)];
    expect(bumpedTx.ins[0]!.index).toBe(firstTx.ins[0]!.index);
    expect(Number(bumpedTx.outs[0]!.value)).toBeLessThan(Number(firstTx.outs[0]!.value));
    await regtest.mine(1);
    await waitFor(() => sweepsOf(b, cp).find((r) => r.kind === 'justice_to_local')?.status === 'confirmed', { what: 'replacement confirmed', timeoutMs: 30_000 });
  });
});
