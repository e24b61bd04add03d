import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegtest, waitFor, type Regtest } from '../../e2e/harness/regtest.js';
import { openDatabase, type Db } from '../storage/db.js';
import { ChainNetwork } from '../chain/network.js';
import { FulmenError } from '../util/errors.js';
import { Wallet } from './wallet.js';

// The wallet against the real thing: Bitcoin Knots regtest + ElectrumX through ChainNetwork.
describe('Wallet on regtest (Knots + ElectrumX)', () => {
  let regtest: Regtest;
  let db: Db;
  let chain: ChainNetwork;
  let wallet: Wallet;
  let mnemonic: string;
  const chains: ChainNetwork[] = [];

  async function connect(database: Db): Promise<ChainNetwork> {
    const c = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db: database });
    chains.push(c);
    await c.start();
    return c;
  }

  beforeAll(async () => {
    regtest = await startRegtest();
    db = openDatabase(':memory:');
    ({ wallet, mnemonic } = Wallet.create(db, { network: 'regtest', password: 'itest' }));
    chain = await connect(db);
    await wallet.attachChain(chain);
    await wallet.waitUntilSynced(10_000);
  });

  afterAll(async () => {
    for (const c of chains) await c.stop();
    await regtest?.stop();
  });

  let fundingTxid: string;

  it('sees a payment in the mempool, then confirmed after a block', async () => {
    expect(wallet.getBalance()).toEqual({ confirmedSat: 0, unconfirmedSat: 0, unmaturedSat: 0 });
    const address = wallet.getUnusedAddress();
    fundingTxid = await regtest.sendToAddress(address, '1');
    await waitFor(() => wallet.getBalance().unconfirmedSat === 100_000_000, { what: 'unconfirmed 1 BTC' });
    expect(wallet.getOnchainHistory()[0]).toMatchObject({ txid: fundingTxid, height: 0, deltaSat: 100_000_000, verified: false });
    expect(wallet.getUnusedAddress()).not.toBe(address);

    await regtest.mine(1);
    await waitFor(() => wallet.getBalance().confirmedSat === 100_000_000, { what: 'confirmed 1 BTC' });
    await wallet.waitUntilSynced(10_000);
    expect(wallet.getBalance()).toEqual({ confirmedSat: 100_000_000, unconfirmedSat: 0, unmaturedSat: 0 });
    const [item] = wallet.getOnchainHistory();
    expect(item).toMatchObject({ txid: fundingTxid, verified: true, confirmations: 1 });
    expect(item.height).toBe(chain.tip()!.height);
    expect(wallet.listUnspent()).toEqual([expect.objectContaining({ txid: fundingTxid, valueSat: 100_000_000, address })]);
  });

  let sendTxid: string;
  let sendFee: number;

  it('sends: the node accepts the signed tx; balance updates at once and after confirmation', async () => {
    const destination = await regtest.rpc<string>('getnewaddress', ['from-fulmen', 'bech32'], 'miner');
    const tx = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 30_000_000 }], feerateSatPerVbyte: 2 });
    const accepted = await regtest.rpc<{ allowed: boolean }[]>('testmempoolaccept', [[tx.txHex]]);
    expect(accepted[0].allowed).toBe(true);

    sendTxid = await wallet.broadcast(tx.txHex);
    sendFee = tx.feeSat;
    expect(sendTxid).toBe(tx.txid);
    expect(wallet.getBalance()).toEqual({ confirmedSat: 100_000_000, unconfirmedSat: -30_000_000 - sendFee, unmaturedSat: 0 });
    const mempoolEntry = await regtest.rpc<{ vsize: number; fees: { base: number } }>('getmempoolentry', [sendTxid]);
    expect(mempoolEntry.vsize).toBe(tx.vsize);
    expect(Math.round(mempoolEntry.fees.base * 1e8)).toBe(sendFee);

    await regtest.mine(1);
    await waitFor(() => wallet.getBalance().confirmedSat === 70_000_000 - sendFee, { what: 'confirmed after send' });
    await wallet.waitUntilSynced(10_000);
    expect(wallet.getBalance()).toEqual({ confirmedSat: 70_000_000 - sendFee, unconfirmedSat: 0, unmaturedSat: 0 });
    const history = wallet.getOnchainHistory();
    expect(history.map((h) => h.txid)).toEqual([sendTxid, fundingTxid]);
    expect(history[0]).toMatchObject({ deltaSat: -30_000_000 - sendFee, feeSat: sendFee, verified: true, confirmations: 1 });
    expect(await regtest.rpc<number>('getreceivedbyaddress', [destination, 1], 'miner')).toBe(0.3);
  });

  it('a conflicting broadcast is rejected with the node reason and recorded nowhere', async () => {
    const destination = await regtest.rpc<string>('getnewaddress', ['conflict', 'bech32'], 'miner');
    // Both built before either is broadcast, so largest-first picks the same coin.
    const first = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 1_000_000 }], feerateSatPerVbyte: 5 });
    const second = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 2_000_000 }], feerateSatPerVbyte: 1 });
    await wallet.broadcast(first.txHex);
    const before = wallet.getOnchainHistory().length;
    let error: unknown;
    try {
      await wallet.broadcast(second.txHex);
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(FulmenError);
    expect((error as FulmenError).code).toBe('BAD_INPUT');
    expect((error as Error).message).toMatch(/rejected/i);
    expect(wallet.getOnchainHistory()).toHaveLength(before);
    await regtest.mine(1);
    await waitFor(() => wallet.getOnchainHistory()[0]?.verified === true, { what: 'conflict test tx confirmed' });
  });

  it('coinbase to the wallet is unmatured for 100 blocks', async () => {
    const address = wallet.getUnusedAddress();
    await regtest.mine(1, address);
    await waitFor(() => wallet.getBalance().unmaturedSat > 0, { what: 'unmatured coinbase' });
    const unmatured = wallet.getBalance().unmaturedSat;
    const confirmed = wallet.getBalance().confirmedSat;
    await regtest.mine(99);
    await waitFor(() => wallet.getBalance().unmaturedSat === 0, { what: 'coinbase maturity', timeoutMs: 60_000 });
    expect(wallet.getBalance().confirmedSat).toBe(confirmed + unmatured);
  });

  it('a restore from the seed in a fresh database finds the same funds', async () => {
    await wallet.waitUntilSynced(10_000);
    const expected = wallet.getBalance();
    const restoredDb = openDatabase(':memory:');
    const restored = Wallet.create(restoredDb, { network: 'regtest', mnemonic }).wallet;
    const restoredChain = await connect(restoredDb);
    await restored.attachChain(restoredChain);
    await restored.waitUntilSynced(30_000);
    expect(restored.getBalance()).toEqual(expected);
    expect(restored.getOnchainHistory().map((h) => h.txid)).toEqual(wallet.getOnchainHistory().map((h) => h.txid));
  });
});
