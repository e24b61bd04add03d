/**
 * Fulmen's Electrum client (ChainNetwork + Wallet) against a second real server implementation,
 * electrs (romanz/electrs), on the harness's regtest bitcoind (one network and one electrs for
 * the file; ElectrumX runs too but Fulmen only talks to electrs):
 *
 * - headers sync from electrs, merkle (SPV) verification of its proofs, a new block notified;
 * - a wallet paid at 60 receive addresses by 60 transactions in one block: the gap-limit
 *   discovery asks for many subscriptions, histories, transactions and proofs at once, which
 *   Fulmen sends as JSON-RPC batches and pipelines (electrs answers a batch as one array line);
 *   a tap between Fulmen and electrs checks that batches were sent and answered;
 * - a restore from the seed reaches the same balance and history;
 * - a send broadcast through electrs; an incoming mempool payment notified, then confirmed.
 *
 * electrs learns of blocks over P2P at once and of mempool changes at its next poll (1 s here).
 * Skipped, with the reason in the suite name, only when electrs is not installed.
 */
import net from 'node:net';
import { Transaction } from 'bitcoinjs-lib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { p2wpkhAddress } from '../../core/bitcoin/address.js';
import { bip84Account, deriveAccountPublicKeys, mnemonicToSeed, RECEIVE_CHAIN } from '../../core/bitcoin/keys.js';
import { ChainNetwork } from '../../core/chain/network.js';
import type { ChainEvent } from '../../core/chain/types.js';
import { openDatabase, type Db } from '../../core/storage/db.js';
import { FulmenError } from '../../core/util/errors.js';
import { Wallet } from '../../core/wallet/wallet.js';
import { locateElectrs, startElectrs, type ElectrsServer } from '../harness/electrs.js';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';

const electrsMissing = locateElectrs().missing;
/** Receive addresses paid, three times the gap limit: discovery extends the gap twice. */
const PAID_ADDRESSES = 60;
/**
 * Blocks mined before Fulmen connects (on top of the harness's 101): more than one 2016-header
 * chunk of `blockchain.block.headers`, and mature coinbases for the 60 payments below.
 */
const START_HEIGHT = 2201;
/** The payment to receive address `i`, in satoshis (all distinct). */
const paymentSat = (i: number): number => 100_000 + i * 1_000;

/**
 * A byte-exact TCP pass-through to electrs that reads, without changing them, the client's
 * requests and the server's answers: JSON-RPC batch sizes sent, the most requests outstanding at
 * once (pipelining), and whether every request id was answered.
 */
interface Tap {
  /** Electrum server string of the tap, "127.0.0.1:PORT:t". */
  readonly server: string;
  /** Length of every JSON-RPC batch array the clients sent, in order. */
  readonly batchSizes: number[];
  /** Most requests sent and not yet answered at one time (all connections). */
  readonly maxOutstanding: number;
  /** Requests sent and not yet answered now. */
  readonly outstanding: number;
  /** Batch array lines received from the server. */
  readonly batchReplies: number;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

async function startTap(host: string, port: number): Promise<Tap> {
  const sockets = new Set<net.Socket>();
  const pending = new Set<string>();
  const state = { batchSizes: [] as number[], maxOutstanding: 0, batchReplies: 0 };
  const lines = (socket: net.Socket, onLine: (line: string) => void) => {
    let buffer = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('utf8');
      for (let nl = buffer.indexOf('\n'); nl !== -1; nl = buffer.indexOf('\n')) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (line) onLine(line);
      }
    });
  };
  const ids = (line: string): { items: { id?: unknown; method?: unknown }[]; batch: boolean } => {
    const parsed = JSON.parse(line) as unknown;
    return Array.isArray(parsed) ? { items: parsed, batch: true } : { items: [parsed as { id?: unknown }], batch: false };
  };
  const listener = net.createServer((client) => {
    const upstream = net.createConnection({ host, port });
    sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.on('data', (chunk) => upstream.write(chunk));
    upstream.on('data', (chunk) => client.write(chunk));
    lines(client, (line) => {
      const { items, batch } = ids(line);
      if (batch) state.batchSizes.push(items.length);
      for (const item of items) if (item.id !== undefined && item.id !== null) pending.add(JSON.stringify(item.id));
      state.maxOutstanding = Math.max(state.maxOutstanding, pending.size);
    });
    lines(upstream, (line) => {
      const { items, batch } = ids(line);
      if (batch) state.batchReplies++;
      for (const item of items) if (item.id !== undefined && item.id !== null) pending.delete(JSON.stringify(item.id));
    });
  });
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  return {
    server: `127.0.0.1:${(listener.address() as net.AddressInfo).port}:t`,
    get batchSizes() {
      return state.batchSizes;
    },
    get maxOutstanding() {
      return state.maxOutstanding;
    },
    get outstanding() {
      return pending.size;
    },
    get batchReplies() {
      return state.batchReplies;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

describe.skipIf(electrsMissing !== undefined)(`Fulmen ⇄ electrs (second Electrum server) on regtest${electrsMissing ? ` — skipped: ${electrsMissing}` : ''}`, () => {
  let regtest: Regtest;
  let electrs: ElectrsServer;
  let tap: Tap;
  let db: Db;
  let chain: ChainNetwork;
  let wallet: Wallet;
  let mnemonic: string;
  const chains: ChainNetwork[] = [];
  const events: ChainEvent[] = [];

  /** Mines `n` blocks and waits until electrs has them (regtest.mine waits for ElectrumX only). */
  const mine = async (n: number, address?: string): Promise<string[]> => {
    const hashes = await regtest.mine(n, address);
    await electrs.waitForTip();
    return hashes;
  };
  const connect = async (database: Db): Promise<ChainNetwork> => {
    const c = new ChainNetwork({ network: 'regtest', server: tap.server, oneserver: true, db: database });
    chains.push(c);
    await c.start();
    return c;
  };

  beforeAll(async () => {
    regtest = await startRegtest();
    await regtest.mine(START_HEIGHT - 101);
    electrs = await startElectrs(regtest);
    tap = await startTap(electrs.electrumHost, electrs.electrumPort);
    db = openDatabase(':memory:');
  });

  afterAll(async () => {
    for (const c of chains) await c.stop();
    await tap?.close();
    await electrs?.stop();
    await regtest?.stop();
  });

  it('syncs and verifies the headers served by electrs, and follows a new block it announces', async () => {
    chain = await connect(db);
    chain.on((event) => events.push(event));
    expect(chain.tip()!.height).toBe(START_HEIGHT);
    expect(chain.tip()!.hash).toBe(await regtest.rpc('getbestblockhash'));
    expect((await chain.getHeader(2100)).hash).toBe(await regtest.rpc('getblockhash', [2100]));

    const [hash] = await mine(1);
    await waitFor(() => chain.tip()!.hash === hash, { what: 'tip announced by electrs' });
    expect(events).toContainEqual(expect.objectContaining({ type: 'tip', header: expect.objectContaining({ height: START_HEIGHT + 1, hash }) }));
  });

  it('verifies a merkle proof from electrs, checks a transaction, and reads fees', async () => {
    const address = await regtest.rpc<string>('getnewaddress', ['electrs-spv', 'bech32'], 'miner');
    const txid = await regtest.sendToAddress(address, '0.1');
    const [blockHash] = await mine(1);
    // electrs has the block; our client learns of it from the headers notification, which may still be on its way.
    await waitFor(() => chain.tip()!.hash === blockHash, { what: 'tip announced by electrs' });
    expect(await chain.verifyTransaction(txid, START_HEIGHT + 2)).toMatchObject({ txid, height: START_HEIGHT + 2, verified: true, blockHash });
    expect(await chain.getTransaction(txid)).toBe(await regtest.rpc<string>('getrawtransaction', [txid]));
    const relay = await chain.relayFeeSatPerVbyte();
    expect(relay).toBeGreaterThanOrEqual(1);
    expect(await chain.estimateFeeSatPerVbyte(2)).toBeGreaterThanOrEqual(relay);
    expect(Array.isArray(await chain.getFeeHistogram())).toBe(true);
  });

  it(`a wallet paid at ${PAID_ADDRESSES} addresses by ${PAID_ADDRESSES} transactions: mempool, then one block, all verified`, async () => {
    ({ wallet, mnemonic } = Wallet.create(db, { network: 'regtest', password: 'itest' }));
    await wallet.attachChain(chain);
    await wallet.waitUntilSynced(10_000);
    const account = bip84Account(mnemonicToSeed(mnemonic), 'regtest');
    const addresses = deriveAccountPublicKeys(account, RECEIVE_CHAIN, 0, PAID_ADDRESSES).map((key) => p2wpkhAddress(key, 'regtest'));
    const batchesBefore = tap.batchSizes.length;

    const txids: string[] = [];
    for (const [i, address] of addresses.entries()) {
      txids.push(await regtest.sendToAddress(address, (paymentSat(i) / 1e8).toFixed(8)));
    }
    const totalSat = addresses.reduce((sum, _a, i) => sum + paymentSat(i), 0);
    // Addresses 20..59 lie beyond the gap limit: the wallet finds them only by extending it.
    await waitFor(() => wallet.getBalance().unconfirmedSat === totalSat, { what: `unconfirmed ${totalSat} sat`, timeoutMs: 30_000 });

    await mine(1);
    await waitFor(() => wallet.getBalance().confirmedSat === totalSat, { what: `confirmed ${totalSat} sat`, timeoutMs: 30_000 });
    await wallet.waitUntilSynced(30_000);
    const history = wallet.getOnchainHistory();
    expect(new Set(history.map((h) => h.txid))).toEqual(new Set(txids));
    expect(history.every((h) => h.verified && h.height === START_HEIGHT + 3)).toBe(true);
    expect(wallet.listAddresses().filter((a) => a.kind === 'receive' && a.used).map((a) => a.address)).toEqual(addresses);

    // Fulmen batched (electrs is a known batching server) and pipelined; electrs answered every request.
    const batches = tap.batchSizes.slice(batchesBefore);
    expect(Math.max(...batches)).toBeGreaterThanOrEqual(20);
    expect(tap.batchReplies).toBeGreaterThan(0);
    expect(tap.maxOutstanding).toBeGreaterThanOrEqual(20);
    await waitFor(() => tap.outstanding === 0, { what: 'electrs to answer every request' });
  });

  it('sends: broadcast through electrs, confirmed; an incoming mempool payment is notified', async () => {
    const before = wallet.getBalance().confirmedSat;
    const destination = await regtest.rpc<string>('getnewaddress', ['from-fulmen', 'bech32'], 'miner');
    const tx = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 2_500_000 }], feerateSatPerVbyte: 2 });
    const sentTxid = await wallet.broadcast(tx.txHex);
    expect(sentTxid).toBe(Transaction.fromHex(tx.txHex).getId());
    expect(await regtest.rpc<string[]>('getrawmempool')).toContain(sentTxid);

    const incoming = wallet.getUnusedAddress();
    const incomingTxid = await regtest.sendToAddress(incoming, '0.01');
    await waitFor(() => wallet.getOnchainHistory().some((h) => h.txid === incomingTxid && h.height === 0), {
      what: 'mempool payment notified by electrs',
      timeoutMs: 15_000,
    });
    expect(wallet.getBalance().unconfirmedSat).toBe(1_000_000 - 2_500_000 - tx.feeSat);

    // A child of the unconfirmed payment: electrs lists it at height -1 (unconfirmed parent), which its status hash covers.
    const child = await wallet.cpfp(incomingTxid, 5);
    const childTxid = await wallet.broadcast(child.txHex);
    await wallet.waitUntilSynced(10_000);
    await waitFor(() => wallet.getOnchainHistory().some((h) => h.txid === childTxid && h.height === -1), {
      what: 'child at height -1 in the history from electrs',
      timeoutMs: 15_000,
    });

    await mine(1);
    const after = before - 2_500_000 - tx.feeSat + 1_000_000 - child.feeSat;
    await waitFor(() => wallet.getBalance().confirmedSat === after && wallet.getBalance().unconfirmedSat === 0, { what: 'send and payment confirmed' });
    await wallet.waitUntilSynced(10_000);
    expect(wallet.getOnchainHistory().filter((h) => [sentTxid, incomingTxid, childTxid].includes(h.txid))).toEqual([
      expect.objectContaining({ verified: true, height: START_HEIGHT + 4 }),
      expect.objectContaining({ verified: true, height: START_HEIGHT + 4 }),
      expect.objectContaining({ verified: true, height: START_HEIGHT + 4 }),
    ]);
    expect(await regtest.rpc<number>('getreceivedbyaddress', [destination, 1], 'miner')).toBe(0.025);

    // A rejected broadcast (spends an output that does not exist) carries bitcoind's reason, relayed by electrs.
    const missingInput = await regtest.rpc<string>('createrawtransaction', [[{ txid: '11'.repeat(32), vout: 0 }], { [destination]: '0.1' }]);
    const rejection = await chain.broadcast(missingInput).catch((err: unknown) => err);
    expect(rejection).toBeInstanceOf(FulmenError);
    expect((rejection as FulmenError).code).toBe('BAD_INPUT');
    expect((rejection as FulmenError).message).toMatch(/missing|spent/i);
  });

  it('follows a reorg announced by electrs: the block holding our transactions replaced, they confirm one block higher', async () => {
    const ours = wallet.getOnchainHistory().filter((h) => h.height === START_HEIGHT + 4).map((h) => h.txid);
    expect(ours).toHaveLength(3);
    const balance = wallet.getBalance();
    await regtest.rpc('invalidateblock', [await regtest.rpc<string>('getblockhash', [START_HEIGHT + 4])]);
    // An empty block in its place, then the returned mempool transactions one block higher: a longer branch.
    const otherAddress = await regtest.rpc<string>('getnewaddress', ['electrs-reorg', 'bech32'], 'miner');
    await regtest.rpc('generateblock', [otherAddress, []]);
    const [newTip] = await mine(1, otherAddress);
    await waitFor(() => chain.tip()!.hash === newTip, { what: 'reorged tip from electrs' });
    expect(events).toContainEqual(expect.objectContaining({ type: 'tip', forkHeight: START_HEIGHT + 4 }));
    await waitFor(() => wallet.getOnchainHistory().filter((h) => ours.includes(h.txid) && h.height === START_HEIGHT + 5 && h.verified).length === 3, {
      what: 'our transactions verified one block higher',
    });
    await wallet.waitUntilSynced(10_000);
    expect(wallet.getBalance()).toEqual(balance);
  });

  it('a restore from the seed through electrs finds the same balance and history', async () => {
    const restoredDb = openDatabase(':memory:');
    const restored = Wallet.create(restoredDb, { network: 'regtest', mnemonic }).wallet;
    const restoredChain = await connect(restoredDb);
    await restored.attachChain(restoredChain);
    await restored.waitUntilSynced(60_000);
    expect(restored.getBalance()).toEqual(wallet.getBalance());
    // In the same order too: within a block, by position (chain order), not by when each wallet saw them.
    const summary = (w: Wallet) => w.getOnchainHistory().map((h) => ({ txid: h.txid, height: h.height, deltaSat: h.deltaSat, verified: h.verified }));
    expect(summary(restored)).toEqual(summary(wallet));
    await waitFor(() => tap.outstanding === 0, { what: 'electrs to answer every request' });
  });
});
