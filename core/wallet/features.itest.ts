import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ECPairFactory } from 'ecpair';
import { bitcoinjsEcc as ecc } from '../bitcoin/secp256k1.js';
import * as bitcoin from 'bitcoinjs-lib';
import { startRegtest, waitFor, type Regtest } from '../../e2e/harness/regtest.js';
import { openDatabase } from '../storage/db.js';
import { ChainNetwork } from '../chain/network.js';
import { parseTransaction } from '../bitcoin/transaction.js';
import { signMessage, verifyMessage } from '../bitcoin/message.js';
import { FulmenError } from '../util/errors.js';
import { Wallet } from './wallet.js';
import { etaBlocksForFeerate, feerateForDepth } from './fees.js';

// On-chain wallet features against the real thing: Bitcoin Knots regtest + ElectrumX.
describe('Wallet features on regtest (coin selection, freeze, RBF, CPFP, PSBT, messages)', () => {
  let regtest: Regtest;
  let wallet: Wallet;
  const chains: ChainNetwork[] = [];
  let minerAddress: string;

  async function attach(w: Wallet, db: ReturnType<typeof openDatabase>): Promise<void> {
    const chain = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db });
    chains.push(chain);
    await chain.start();
    await w.attachChain(chain);
    await w.waitUntilSynced(20_000);
  }

  const mempoolEntry = (txid: string) =>
    regtest.rpc<{ vsize: number; fees: { base: number; ancestor: number }; ancestorsize: number }>('getmempoolentry', [txid]);
  const inMempool = async (txid: string) => (await regtest.rpc<string[]>('getrawmempool')).includes(txid);

  beforeAll(async () => {
    regtest = await startRegtest();
    const db = openDatabase(':memory:');
    wallet = Wallet.create(db, { network: 'regtest' }).wallet;
    await attach(wallet, db);
    minerAddress = await regtest.rpc<string>('getnewaddress', ['features', 'bech32'], 'miner');
    // Three coins on three addresses: 0.001 (for the exact match), 0.5 and 0.3 BTC.
    const receive = wallet.listAddresses().filter((a) => a.kind === 'receive');
    for (const [i, amount] of ['0.001', '0.5', '0.3'].entries()) await regtest.sendToAddress(receive[i]!.address, amount);
    await waitFor(() => wallet.listUnspent().length === 3 || undefined, { what: 'three coins' });
    await regtest.mine(1);
    await waitFor(() => wallet.getBalance().confirmedSat === 80_100_000, { what: 'confirmed funding' });
    await wallet.waitUntilSynced(20_000);
  });

  afterAll(async () => {
    for (const c of chains) await c.stop();
    await regtest?.stop();
  });

  it('branch and bound spends the 0.001 coin exactly: no change, accepted by the node', async () => {
    // 1 P2WPKH input + 1 P2WPKH output = 110 vB: at 1 sat/vB, 100 000 − 110 leaves nothing over.
    const tx = wallet.createTransaction({ outputs: [{ address: minerAddress, amountSat: 100_000 - 110 }], feerateSatPerVbyte: 1 });
    expect(tx.selection).toBe('bnb');
    expect(tx.changeIndex).toBeNull();
    expect(parseTransaction(tx.txHex).outs).toHaveLength(1);
    const txid = await wallet.broadcast(tx.txHex);
    const entry = await mempoolEntry(txid);
    expect(Math.round(entry.fees.base * 1e8)).toBe(110);
    expect(entry.vsize).toBeLessThanOrEqual(110);
    await regtest.mine(1);
    await waitFor(() => wallet.getOnchainHistory()[0]?.verified === true, { what: 'exact-match tx confirmed' });
    await wallet.waitUntilSynced(20_000);
  });

  it('a frozen coin is never selected', () => {
    const big = wallet.listUnspent().find((u) => u.valueSat === 50_000_000)!;
    wallet.setCoinFrozen(`${big.txid}:${big.vout}`, true);
    for (let i = 0; i < 5; i++) {
      const tx = wallet.createTransaction({ outputs: [{ address: minerAddress, amountSat: 10_000_000 }], feerateSatPerVbyte: 2 });
      expect(tx.inputs).not.toContain(`${big.txid}:${big.vout}`);
    }
    let error: unknown;
    try {
      wallet.createTransaction({ outputs: [{ address: minerAddress, amountSat: 40_000_000 }], feerateSatPerVbyte: 2 });
    } catch (err) {
      error = err;
    }
    expect((error as FulmenError).code).toBe('INSUFFICIENT_FUNDS');
    wallet.setCoinFrozen(`${big.txid}:${big.vout}`, false);
  });

  it('bumpfee: the replacement is in the mempool, the original is gone', async () => {
    const original = wallet.createTransaction({ outputs: [{ address: minerAddress, amountSat: 1_000_000 }], feerateSatPerVbyte: 1 });
    await wallet.broadcast(original.txHex);
    expect(await inMempool(original.txid)).toBe(true);
    const bumped = wallet.bumpFee(original.txid, 10);
    const newTxid = await wallet.broadcast(bumped.txHex);
    const entry = await mempoolEntry(newTxid);
    expect(Math.round(entry.fees.base * 1e8)).toBe(bumped.feeSat);
    expect(entry.fees.base * 1e8).toBeGreaterThanOrEqual(10 * entry.vsize);
    expect(await inMempool(original.txid)).toBe(false);
    await expect(mempoolEntry(original.txid)).rejects.toThrow(/not in mempool/i);
    // Wallet.broadcast drops the original at once; a history fetched from ElectrumX before its next
    // mempool refresh (about a second) can still list it and bring it back until that refresh
    // notifies the new status. What must hold is that the wallet converges without it.
    await waitFor(() => !wallet.getOnchainHistory().some((h) => h.txid === original.txid), { what: 'the replaced transaction gone from the history', timeoutMs: 10_000 });
    expect(wallet.getOnchainHistory().map((h) => h.txid)).toContain(newTxid);
    await regtest.mine(1);
    await waitFor(() => wallet.getOnchainHistory().find((h) => h.txid === newTxid)?.verified === true, { what: 'bumped tx confirmed' });
    await wallet.waitUntilSynced(20_000);
  });

  it('cpfp: a child of a low-fee incoming payment is accepted and lifts the package feerate', async () => {
    const address = wallet.getUnusedAddress();
    // sendtoaddress address amount comment comment_to subtractfee replaceable conf_target estimate_mode avoid_reuse fee_rate
    const parentTxid = await regtest.rpc<string>('sendtoaddress', [address, 0.01, '', '', false, true, null, 'unset', false, 1], 'miner');
    await waitFor(() => wallet.getOnchainHistory().some((h) => h.txid === parentTxid) || undefined, { what: 'incoming parent' });
    const child = await wallet.cpfp(parentTxid, 20);
    const childTxid = await wallet.broadcast(child.txHex);
    const entry = await mempoolEntry(childTxid);
    // The child's ancestor package (parent + child) pays at least 20 sat/vB.
    expect((entry.fees.ancestor * 1e8) / entry.ancestorsize).toBeGreaterThanOrEqual(19.9);
    await regtest.mine(1);
    await waitFor(() => wallet.getOnchainHistory().find((h) => h.txid === childTxid)?.verified === true, { what: 'cpfp child confirmed' });
  });

  it('PSBT round trip: watch-only makes it, bitcoind reads it, the seeded wallet signs it', async () => {
    const watchDb = openDatabase(':memory:');
    const watch = Wallet.restore(watchDb, { network: 'regtest', text: wallet.masterPublicKey() }).wallet;
    await attach(watch, watchDb);
    await waitFor(() => watch.getBalance().confirmedSat === wallet.getBalance().confirmedSat || undefined, { what: 'watch-only balance' });
    const unsigned = watch.createTransaction({ outputs: [{ address: minerAddress, amountSat: 2_000_000 }], feerateSatPerVbyte: 3 });
    expect(unsigned.complete).toBe(false);
    const analysis = await regtest.rpc<{ next: string; fee: number; inputs: { has_utxo: boolean; is_final: boolean }[] }>('analyzepsbt', [unsigned.psbt]);
    expect(analysis.next).toBe('signer');
    expect(analysis.inputs.every((i) => i.has_utxo && !i.is_final)).toBe(true);
    expect(Math.round(analysis.fee * 1e8)).toBe(unsigned.feeSat);
    const signed = wallet.signPsbt(unsigned.psbt);
    expect(signed.complete).toBe(true);
    const accepted = await regtest.rpc<{ allowed: boolean }[]>('testmempoolaccept', [[signed.txHex]]);
    expect(accepted[0]!.allowed).toBe(true);
    expect(await watch.broadcast(signed.txHex!)).toBe(unsigned.txid);
    expect(await inMempool(unsigned.txid)).toBe(true);
  });

  it('mempool.get_fee_histogram answers well-formed [feerate, vsize] pairs with an ETA', async () => {
    const histogram = await chains[0]!.getFeeHistogram();
    for (const [feerate, vsize] of histogram) {
      expect(feerate).toBeGreaterThanOrEqual(0);
      expect(Number.isInteger(vsize)).toBe(true);
    }
    expect(etaBlocksForFeerate(histogram, 1000)).toBe(1);
    expect(feerateForDepth(histogram, 1_000_000)).toBeGreaterThanOrEqual(1);
  });

  it('signmessage/verifymessage interoperate with bitcoind (P2PKH) and round-trip on our P2WPKH address', async () => {
    const key = ECPairFactory(ecc).makeRandom({ network: bitcoin.networks.regtest });
    const p2pkh = bitcoin.payments.p2pkh({ pubkey: key.publicKey, network: bitcoin.networks.regtest }).address!;
    const message = 'Fulmen ⚡ signed message';
    const ours = signMessage(key.privateKey!, message);
    expect(await regtest.rpc<boolean>('verifymessage', [p2pkh, ours, message])).toBe(true);
    const theirs = await regtest.rpc<string>('signmessagewithprivkey', [key.toWIF(), message]);
    expect(verifyMessage(p2pkh, theirs, message, 'regtest')).toBe(true);
    expect(verifyMessage(p2pkh, theirs, message + '.', 'regtest')).toBe(false);

    const address = wallet.listAddresses()[0]!.address;
    const signature = wallet.signMessage(address, message);
    expect(verifyMessage(address, signature, message, 'regtest')).toBe(true);
  });
});
