import { Transaction } from 'bitcoinjs-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegtest, waitFor, type Regtest } from '../../e2e/harness/regtest.js';
import { openDatabase, type Db } from '../storage/db.js';
import { FulmenError } from '../util/errors.js';
import { ChainNetwork } from './network.js';
import type { ChainEvent } from './types.js';

// ChainNetwork against the real thing: Bitcoin Knots regtest + ElectrumX (e2e/harness/regtest.ts).
describe('ChainNetwork on regtest (Knots + ElectrumX)', () => {
  let regtest: Regtest;
  let db: Db;
  let chain: ChainNetwork;
  const events: ChainEvent[] = [];

  beforeAll(async () => {
    regtest = await startRegtest();
    db = openDatabase(':memory:');
  });

  afterAll(async () => {
    await chain?.stop();
    await regtest?.stop();
  });

  it('connects and syncs the headers to the server tip quickly', async () => {
    await regtest.mine(200); // 301 blocks in all
    chain = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db });
    chain.on((event) => events.push(event));
    const started = performance.now();
    await chain.start();
    const elapsedMs = performance.now() - started;
    expect(chain.isConnected()).toBe(true);
    expect(chain.tip()!.height).toBe(301);
    expect(chain.tip()!.hash).toBe(await regtest.rpc('getbestblockhash'));
    expect(elapsedMs).toBeLessThan(1000);
    expect(events).toContainEqual({ type: 'connection', connected: true, server: regtest.electrumServer });
    expect(events.some((e) => e.type === 'tip' && e.header.height === 301)).toBe(true);
  });

  it('follows newly mined blocks with tip events', async () => {
    const hashes = await regtest.mine(3);
    await waitFor(() => chain.tip()!.height === 304, { what: 'tip 304' });
    expect(chain.tip()!.hash).toBe(hashes[2]);
    expect((await chain.getHeader(303)).hash).toBe(hashes[1]);
    expect(events.filter((e) => e.type === 'tip').map((e) => (e.type === 'tip' ? e.header.height : 0))).toContain(304);
  });

  let address: string;
  let scripthash: string;
  let paymentTxid: string;

  it('subscribes a scripthash and sees a payment to it, then its confirmation', async () => {
    address = await regtest.rpc<string>('getnewaddress', ['itest', 'bech32'], 'miner');
    scripthash = await regtest.scripthashOf(address);
    expect(await chain.subscribeScripthash(scripthash)).toBeNull();
    expect(await chain.getHistory(scripthash)).toEqual([]);

    paymentTxid = await regtest.sendToAddress(address, '0.5');
    const mempoolEvent = await waitFor(
      () => events.find((e) => e.type === 'scripthash' && e.scripthash === scripthash && e.status !== null),
      { what: 'scripthash notification' },
    );
    expect(mempoolEvent).toBeDefined();
    expect(await chain.getHistory(scripthash)).toEqual([{ txid: paymentTxid, height: 0 }]);
    expect(await chain.verifyTransaction(paymentTxid, 0)).toEqual({ txid: paymentTxid, height: 0, verified: false });

    const [blockHash] = await regtest.mine(1);
    await waitFor(async () => (await chain.getHistory(scripthash))[0]?.height === 305, { what: 'confirmation in history' });
    const confirmation = await chain.verifyTransaction(paymentTxid, 305);
    expect(confirmation).toMatchObject({ txid: paymentTxid, height: 305, verified: true, blockHash });
  });

  it('gets a transaction checked against its txid', async () => {
    const hex = await chain.getTransaction(paymentTxid);
    expect(Transaction.fromHex(hex).getId()).toBe(paymentTxid);
    expect(hex).toBe(await regtest.rpc<string>('getrawtransaction', [paymentTxid]));
  });

  it('broadcasts a transaction, and maps a rejection to BAD_INPUT with the node message', async () => {
    const destination = await regtest.rpc<string>('getnewaddress', ['itest-broadcast', 'bech32'], 'miner');
    const unsigned = await regtest.rpc<string>('createrawtransaction', [[], { [destination]: '0.25' }]);
    const funded = await regtest.rpc<{ hex: string }>('fundrawtransaction', [unsigned], 'miner');
    const signed = await regtest.rpc<{ hex: string; complete: boolean }>('signrawtransactionwithwallet', [funded.hex], 'miner');
    expect(signed.complete).toBe(true);
    const txid = await chain.broadcast(signed.hex);
    expect(txid).toBe(Transaction.fromHex(signed.hex).getId());
    expect(await regtest.rpc<string[]>('getrawmempool')).toContain(txid);

    // Spends an output that does not exist: the node rejects it.
    const missingInput = await regtest.rpc<string>('createrawtransaction', [
      [{ txid: '11'.repeat(32), vout: 0 }],
      { [destination]: '0.1' },
    ]);
    const rejection = await chain.broadcast(missingInput).catch((err: unknown) => err);
    expect(rejection).toBeInstanceOf(FulmenError);
    expect((rejection as FulmenError).code).toBe('BAD_INPUT');
    expect((rejection as FulmenError).message).toMatch(/missing|spent/i);
  });

  it('estimates fees: on a fresh regtest chain the estimate falls back to the relay fee', async () => {
    const relay = await chain.relayFeeSatPerVbyte();
    expect(relay).toBeGreaterThanOrEqual(1);
    const fee = await chain.estimateFeeSatPerVbyte(2);
    expect(Number.isInteger(fee)).toBe(true);
    expect(fee).toBeGreaterThanOrEqual(relay);
  });

  it('follows a reorg: replaced headers, forkHeight in the tip event, the new branch stored', async () => {
    const tipBefore = chain.tip()!;
    const replacedHash = await regtest.rpc<string>('getblockhash', [tipBefore.height - 1]);
    await regtest.rpc('invalidateblock', [replacedHash]);
    // Mined to another address, so the first new block differs from the invalidated one.
    const otherAddress = await regtest.rpc<string>('getnewaddress', ['itest-reorg', 'bech32'], 'miner');
    const newHashes = await regtest.mine(3, otherAddress); // the new branch is longer than the old one
    const newTipHeight = tipBefore.height - 1 + 3 - 1;
    await waitFor(() => chain.tip()!.hash === newHashes[2], { what: 'reorged tip' });
    expect(chain.tip()!.height).toBe(newTipHeight);
    const reorgEvent = events.find((e) => e.type === 'tip' && e.forkHeight !== undefined);
    expect(reorgEvent).toMatchObject({ type: 'tip', forkHeight: tipBefore.height - 1 });
    expect((await chain.getHeader(tipBefore.height - 1)).hash).toBe(newHashes[0]);
    // The stored chain is the new branch.
    const reopened = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db });
    expect(reopened.headers.tip().hash).toBe(newHashes[2]);
  });
});
