/**
 * Unit tests of the wallet. Sync, coin selection and signing run against `StandInChain`, an
 * in-memory stand-in for ChainSource defined below: it only exists to drive the wallet's logic
 * deterministically (mempool, blocks, reorgs, rejections). Integration with the real ElectrumX +
 * bitcoind happens in wallet.itest.ts.
 */
import { describe, expect, it, beforeEach } from 'vitest';
import * as bitcoin from 'bitcoinjs-lib';
import { bitcoinjsEcc as ecc } from '../bitcoin/secp256k1.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import { openDatabase, type Db } from '../storage/db.js';
import type { ChainEvent, ChainSource, HistoryEntry, TxConfirmation, VerifiedHeader } from '../chain/types.js';
import { FulmenError } from '../util/errors.js';
import { addressToScriptPubKey, p2wpkhAddress, p2wshScript, scriptHash } from '../bitcoin/address.js';
import { accountFromSeed, bip84AccountPath, deriveAccountPublicKeys, mnemonicToSeed } from '../bitcoin/keys.js';
import { inputPrevTxid, outputValueSat, p2wpkhSighash, parseTransaction } from '../bitcoin/transaction.js';
import { Wallet, electrumStatus, type WalletEvent } from './wallet.js';
import { anchorReserveSat } from './reserve.js';

const BIP84_MNEMONIC = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';

/** In-memory stand-in for ChainSource (unit tests only; see the file comment). */
class StandInChain implements ChainSource {
  readonly txs = new Map<string, { hex: string; height: number }>();
  /** Position in its block that verifyTransaction reports (the merkle proof's pos), by txid. */
  readonly positions = new Map<string, number>();
  tipHeight = 200;
  /** Changing it changes every block hash: simulates a reorg of all blocks. */
  forkId = 0;
  connected = true;
  rejectBroadcast: string | null = null;
  private readonly listeners = new Set<(e: ChainEvent) => void>();
  private readonly subscribed = new Map<string, string | null>();

  header(height: number): VerifiedHeader {
    return {
      height,
      hash: bytesToHex(sha256(new TextEncoder().encode(`block ${height} fork ${this.forkId}`))),
      raw: '00'.repeat(80),
      timestamp: 1_700_000_000 + height * 600,
    };
  }
  tip(): VerifiedHeader | null {
    return this.header(this.tipHeight);
  }
  isConnected(): boolean {
    return this.connected;
  }
  on(listener: (event: ChainEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  async subscribeScripthash(sh: string): Promise<string | null> {
    if (!this.connected) throw new FulmenError('NETWORK', 'not connected');
    const status = electrumStatus(this.history(sh));
    this.subscribed.set(sh, status);
    return status;
  }
  async getHistory(sh: string): Promise<HistoryEntry[]> {
    return this.history(sh);
  }
  async getTransaction(txid: string): Promise<string> {
    const tx = this.txs.get(txid);
    if (!tx) throw new FulmenError('NOT_FOUND', `no tx ${txid}`);
    return tx.hex;
  }
  async verifyTransaction(txid: string, height: number): Promise<TxConfirmation> {
    const tx = this.txs.get(txid);
    if (!tx || tx.height !== height) throw new FulmenError('SERVER_MISBEHAVED', 'bad proof');
    const h = this.header(height);
    return { txid, height, verified: true, blockHash: h.hash, timestamp: h.timestamp, position: this.positions.get(txid) };
  }
  async broadcast(rawTxHex: string): Promise<string> {
    if (this.rejectBroadcast) throw new FulmenError('BAD_INPUT', `Transaction rejected: ${this.rejectBroadcast}`);
    const txid = parseTransaction(rawTxHex).getId();
    this.txs.set(txid, { hex: rawTxHex, height: 0 });
    queueMicrotask(() => this.notify());
    return txid;
  }
  async estimateFeeSatPerVbyte(): Promise<number> {
    return 2;
  }
  async relayFeeSatPerVbyte(): Promise<number> {
    return 1;
  }
  async getHeader(height: number): Promise<VerifiedHeader> {
    return this.header(height);
  }

  // --- test controls
  add(hex: string, height = 0): string {
    const txid = parseTransaction(hex).getId();
    this.txs.set(txid, { hex, height });
    this.notify();
    return txid;
  }
  remove(txid: string): void {
    this.txs.delete(txid);
    this.notify();
  }
  setHeight(txid: string, height: number): void {
    this.txs.get(txid)!.height = height;
    this.notify();
  }
  /** Mines `blocks` blocks; the first one confirms the whole mempool. */
  mine(blocks = 1): void {
    for (let i = 0; i < blocks; i++) {
      this.tipHeight++;
      if (i === 0) for (const tx of this.txs.values()) if (tx.height <= 0) tx.height = this.tipHeight;
      this.emit({ type: 'tip', header: this.header(this.tipHeight) });
    }
    this.notify();
  }
  emit(event: ChainEvent): void {
    for (const l of [...this.listeners]) l(event);
  }
  notify(): void {
    for (const [sh, last] of this.subscribed) {
      const status = electrumStatus(this.history(sh));
      if (status !== last) {
        this.subscribed.set(sh, status);
        this.emit({ type: 'scripthash', scripthash: sh, status });
      }
    }
  }
  /** Output script hashes by transaction hex (memoised: history() runs for every request). */
  private readonly outputScriptHashes = new Map<string, string[]>();
  private history(sh: string): HistoryEntry[] {
    const outputsOf = (hex: string): string[] => {
      let hashes = this.outputScriptHashes.get(hex);
      if (!hashes) this.outputScriptHashes.set(hex, (hashes = parseTransaction(hex).outs.map((o) => scriptHash(o.script))));
      return hashes;
    };
    const entries: HistoryEntry[] = [];
    for (const [txid, { hex, height }] of this.txs) {
      const tx = parseTransaction(hex);
      const pays = outputsOf(hex).includes(sh);
      const spends = tx.ins.some((input) => {
        const prev = this.txs.get(inputPrevTxid(input));
        return prev !== undefined && outputsOf(prev.hex)[input.index] === sh;
      });
      if (pays || spends) entries.push({ txid, height });
    }
    const key = (h: number) => (h <= 0 ? Number.MAX_SAFE_INTEGER : h);
    return entries.sort((a, b) => key(a.height) - key(b.height) || a.txid.localeCompare(b.txid));
  }
}

/** A transaction from outside the wallet paying `outputs` (its input is a random outpoint). */
function externalPayment(outputs: { address: string; valueSat: number }[], network: 'regtest' | 'mainnet' = 'regtest'): string {
  const tx = new bitcoin.Transaction();
  tx.version = 2;
  tx.addInput(randomBytes(32), 0, 0xfffffffd);
  for (const o of outputs) tx.addOutput(addressToScriptPubKey(o.address, network), BigInt(o.valueSat));
  return tx.toHex();
}

function coinbasePayment(address: string, valueSat: number, height: number): string {
  const tx = new bitcoin.Transaction();
  tx.version = 2;
  const heightPush = new Uint8Array([3, height & 0xff, (height >> 8) & 0xff, (height >> 16) & 0xff]);
  tx.addInput(new Uint8Array(32), 0xffffffff, 0xffffffff, heightPush);
  tx.addOutput(addressToScriptPubKey(address, 'regtest'), BigInt(valueSat));
  return tx.toHex();
}

function expectCode(fn: () => unknown, code: string): FulmenError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FulmenError);
    expect((err as FulmenError).code).toBe(code);
    return err as FulmenError;
  }
  throw new Error(`expected ${code}`);
}

async function expectCodeAsync(promise: Promise<unknown>, code: string): Promise<FulmenError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(FulmenError);
    expect((err as FulmenError).code).toBe(code);
    return err as FulmenError;
  }
  throw new Error(`expected ${code}`);
}

/** Checks every input's P2WPKH signature against its BIP143 sighash. */
function expectValidSignatures(txHex: string, prevValue: (txid: string, vout: number) => number): void {
  const tx = parseTransaction(txHex);
  tx.ins.forEach((input, i) => {
    const [sigWithType, pubkey] = input.witness;
    const { signature, hashType } = bitcoin.script.signature.decode(sigWithType);
    expect(hashType).toBe(bitcoin.Transaction.SIGHASH_ALL);
    const hash = p2wpkhSighash(tx, i, pubkey, prevValue(inputPrevTxid(input), input.index));
    expect(ecc.verify(hash, pubkey, signature)).toBe(true);
  });
}

describe('Wallet lifecycle', () => {
  let db: Db;
  beforeEach(() => {
    db = openDatabase(':memory:');
  });

  it('creates from a generated 12-word mnemonic and refuses a second wallet', () => {
    expect(Wallet.exists(db)).toBe(false);
    const { wallet, mnemonic } = Wallet.create(db, { network: 'regtest' });
    expect(mnemonic.split(' ')).toHaveLength(12);
    expect(Wallet.exists(db)).toBe(true);
    expect(wallet.network).toBe('regtest');
    expect(wallet.hasPassword).toBe(false);
    expectCode(() => Wallet.create(db, { network: 'regtest' }), 'WALLET_EXISTS');
  });

  it('derives the BIP84 vector addresses from the vector mnemonic', () => {
    const { wallet } = Wallet.create(db, { network: 'mainnet', mnemonic: BIP84_MNEMONIC });
    const addresses = wallet.listAddresses();
    expect(addresses.filter((a) => a.kind === 'receive')).toHaveLength(20);
    expect(addresses.filter((a) => a.kind === 'change')).toHaveLength(20);
    expect(wallet.getUnusedAddress()).toBe('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
    expect(addresses[1].address).toBe('bc1qnjg0jd8228aq7egyzacy8cys3knf9xvrerkf9g');
    expect(wallet.getNewChangeAddress()).toBe('bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el');
    expect(wallet.isMine('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu')).toBe(true);
    expect(wallet.isMine(addressToScriptPubKey('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', 'mainnet'))).toBe(true);
    expect(wallet.isMine('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4')).toBe(false);
  });

  it('a bad mnemonic is rejected with BAD_INPUT and nothing is written', () => {
    const bad = BIP84_MNEMONIC.replace('about', 'abandon');
    const err = expectCode(() => Wallet.create(db, { network: 'regtest', mnemonic: bad }), 'BAD_INPUT');
    expect(err.message).toMatch(/checksum/);
    expect(Wallet.exists(db)).toBe(false);
    expect(db.prepare('SELECT COUNT(*) AS n FROM wallet_addresses').get()).toEqual({ n: 0 });
  });

  it('encrypts the seed with the password; open checks it', () => {
    const { wallet } = Wallet.create(db, { network: 'regtest', mnemonic: BIP84_MNEMONIC, passphrase: 'extra', password: 'hunter2' });
    expect(wallet.hasPassword).toBe(true);
    const row = db.prepare('SELECT secret_box, xpub FROM wallet_keys').get() as { secret_box: Uint8Array; xpub: string };
    expect(Buffer.from(row.secret_box).toString('latin1')).not.toContain('abandon');
    expectCode(() => Wallet.open(db, { password: 'wrong' }), 'WRONG_PASSWORD');
    expectCode(() => Wallet.open(db, {}), 'WRONG_PASSWORD');
    const reopened = Wallet.open(db, { password: 'hunter2' });
    expect(reopened.xpub).toBe(wallet.xpub);
    expect(bytesToHex(reopened.lightningRootSecret())).toBe(bytesToHex(wallet.lightningRootSecret()));
    expect(reopened.getSeedPhrase('hunter2')).toEqual({ mnemonic: BIP84_MNEMONIC, passphrase: 'extra' });
    expectCode(() => reopened.getSeedPhrase('nope'), 'WRONG_PASSWORD');
  });

  it('changing and removing the password', () => {
    const { wallet } = Wallet.create(db, { network: 'regtest', password: 'one' });
    wallet.setPassword('two');
    expectCode(() => Wallet.open(db, { password: 'one' }), 'WRONG_PASSWORD');
    expect(Wallet.open(db, { password: 'two' }).xpub).toBe(wallet.xpub);
    wallet.setPassword(null);
    expect(Wallet.open(db, {}).hasPassword).toBe(false);
  });

  it('opening an empty database is NO_WALLET', () => {
    expectCode(() => Wallet.open(db, {}), 'NO_WALLET');
  });

  it('the Lightning root secret depends only on the seed (restore gives the same node)', () => {
    const a = Wallet.create(db, { network: 'regtest', mnemonic: BIP84_MNEMONIC }).wallet;
    const b = Wallet.create(openDatabase(':memory:'), { network: 'regtest', mnemonic: BIP84_MNEMONIC }).wallet;
    const c = Wallet.create(openDatabase(':memory:'), { network: 'regtest', mnemonic: BIP84_MNEMONIC, passphrase: 'x' }).wallet;
    expect(a.lightningRootSecret()).toHaveLength(32);
    expect(bytesToHex(a.lightningRootSecret())).toBe(bytesToHex(b.lightningRootSecret()));
    expect(bytesToHex(a.lightningRootSecret())).not.toBe(bytesToHex(c.lightningRootSecret()));
  });
});

describe('Wallet sync, balance and sending (against StandInChain)', () => {
  let db: Db;
  let chain: StandInChain;
  let wallet: Wallet;
  let events: WalletEvent[];

  beforeEach(async () => {
    db = openDatabase(':memory:');
    chain = new StandInChain();
    wallet = Wallet.create(db, { network: 'regtest', mnemonic: BIP84_MNEMONIC }).wallet;
    events = [];
    wallet.on((e) => events.push(e));
    await wallet.attachChain(chain);
    await wallet.waitUntilSynced(2000);
  });

  async function settle(): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
    await wallet.waitUntilSynced(2000);
  }

  function prevValue(txid: string, vout: number): number {
    return outputValueSat(parseTransaction(chain.txs.get(txid)!.hex).outs[vout]);
  }

  it('sees a mempool payment as unconfirmed, then confirmed once mined and verified', async () => {
    const address = wallet.getUnusedAddress();
    const txid = chain.add(externalPayment([{ address, valueSat: 100_000 }]));
    await settle();
    expect(wallet.getBalance()).toEqual({ confirmedSat: 0, unconfirmedSat: 100_000, unmaturedSat: 0 });
    expect(wallet.getUnusedAddress()).not.toBe(address);
    expect(events.some((e) => e.type === 'history')).toBe(true);
    expect(events.some((e) => e.type === 'balance' && e.balance.unconfirmedSat === 100_000)).toBe(true);
    expect(wallet.getOnchainHistory()).toMatchObject([{ txid, height: 0, confirmations: 0, deltaSat: 100_000, verified: false }]);

    chain.mine();
    await settle();
    expect(wallet.getBalance()).toEqual({ confirmedSat: 100_000, unconfirmedSat: 0, unmaturedSat: 0 });
    const [item] = wallet.getOnchainHistory();
    expect(item).toMatchObject({ txid, height: 201, confirmations: 1, verified: true, timestamp: chain.header(201).timestamp });
    expect(wallet.listUnspent()).toEqual([{ txid, vout: 0, valueSat: 100_000, address, height: 201 , frozen: false, coinbase: false, immature: false }]);
  });

  it('lists a block\'s transactions in chain order (by merkle position), not by when they were seen or by txid', async () => {
    // Seen first and with the larger txid, yet later in the block: both fallbacks (first seen,
    // then txid) would list it second.
    const address = wallet.getUnusedAddress();
    const payment = (valueSat: number) => externalPayment([{ address, valueSat }]);
    const seenFirst = payment(1_000);
    let valueSat = 2_000;
    while (parseTransaction(payment(valueSat)).getId() > parseTransaction(seenFirst).getId()) valueSat++;
    const later = chain.add(seenFirst);
    await settle();
    const earlier = chain.add(payment(valueSat));
    await settle();
    chain.positions.set(earlier, 1);
    chain.positions.set(later, 2);
    chain.mine();
    await settle();
    expect(wallet.getOnchainHistory().map((h) => h.txid)).toEqual([later, earlier]); // newest first
  });

  it('counts a server-reported confirmation only after the merkle proof checks out', async () => {
    const address = wallet.getUnusedAddress();
    const txid = chain.add(externalPayment([{ address, valueSat: 5_000 }]));
    await settle();
    // A lying server: reports a height at which the proof fails.
    const original = chain.verifyTransaction.bind(chain);
    chain.verifyTransaction = async () => {
      throw new FulmenError('SERVER_MISBEHAVED', 'bad merkle proof');
    };
    chain.setHeight(txid, 150);
    await new Promise((r) => setTimeout(r, 20));
    expect(wallet.getBalance()).toEqual({ confirmedSat: 0, unconfirmedSat: 5_000, unmaturedSat: 0 });
    expect(wallet.getOnchainHistory()[0]).toMatchObject({ height: 150, verified: false, confirmations: 0 });
    chain.verifyTransaction = original;
    chain.mine(); // retried on the next tip
    await settle();
    expect(wallet.getBalance().confirmedSat).toBe(5_000);
  });

  it('fetches through getCheckedTransaction (not cached by the chain) and gives each merkle check the checked size', async () => {
    const asked: [string, boolean | undefined][] = [];
    (chain as ChainSource).getCheckedTransaction = async (txid, options) => {
      asked.push([txid, options?.cache]);
      const hex = await chain.getTransaction(txid);
      return { raw: hexToBytes(hex), tx: parseTransaction(hex) };
    };
    const sizes: (number | undefined)[] = [];
    const verify = chain.verifyTransaction.bind(chain);
    chain.verifyTransaction = async (txid: string, height: number, size?: number) => {
      sizes.push(size);
      return verify(txid, height);
    };
    const hex = externalPayment([{ address: wallet.getUnusedAddress(), valueSat: 7_000 }]);
    const txid = chain.add(hex, 150);
    await settle();
    expect(asked).toEqual([[txid, false]]);
    expect(sizes).toEqual([parseTransaction(hex).byteLength(false)]);
    expect(wallet.getBalance()).toEqual({ confirmedSat: 7_000, unconfirmedSat: 0, unmaturedSat: 0 });
    expect(wallet.getOnchainHistory()[0]).toMatchObject({ txid, height: 150, verified: true });
  });

  it('extends the gap limit when addresses get used', async () => {
    const receive = wallet.listAddresses().filter((a) => a.kind === 'receive');
    chain.add(externalPayment([{ address: receive[19].address, valueSat: 10_000 }]));
    await settle();
    const after = wallet.listAddresses().filter((a) => a.kind === 'receive');
    expect(after).toHaveLength(40);
    // Payment to a freshly derived address is found too.
    chain.add(externalPayment([{ address: after[39].address, valueSat: 20_000 }]));
    await settle();
    expect(wallet.getBalance().unconfirmedSat).toBe(30_000);
    expect(wallet.listAddresses().filter((a) => a.kind === 'receive')).toHaveLength(60);
  });

  it('restore: a densely used receive chain is found in look-ahead waves, then trimmed to the gap limit', async () => {
    // 150 used receive addresses (3 confirmed txs of 50 outputs) and change address 0.
    const account = accountFromSeed(mnemonicToSeed(BIP84_MNEMONIC), 'regtest', bip84AccountPath('regtest'));
    const receive = deriveAccountPublicKeys(account, 0, 0, 150).map((key) => p2wpkhAddress(key, 'regtest'));
    const change0 = p2wpkhAddress(deriveAccountPublicKeys(account, 1, 0, 1)[0]!, 'regtest');
    const restoreChain = new StandInChain();
    for (let i = 0; i < 150; i += 50) {
      restoreChain.add(externalPayment(receive.slice(i, i + 50).map((address) => ({ address, valueSat: 1_000 }))), 150);
    }
    restoreChain.add(externalPayment([{ address: change0, valueSat: 7 }]), 150);
    let historyCalls = 0;
    const getHistory = restoreChain.getHistory.bind(restoreChain);
    restoreChain.getHistory = (sh) => ((historyCalls += 1), getHistory(sh));

    const restored = Wallet.create(openDatabase(':memory:'), { network: 'regtest', mnemonic: BIP84_MNEMONIC }).wallet;
    await restored.attachChain(restoreChain);
    await restored.waitUntilSynced(5000);
    expect(restored.getBalance()).toEqual({ confirmedSat: 150_007, unconfirmedSat: 0, unmaturedSat: 0 });
    const addresses = restored.listAddresses();
    // Exactly GAP_LIMIT (20) unused after the last used one on each chain, as without look-ahead.
    expect(addresses.filter((a) => a.kind === 'receive')).toHaveLength(170);
    expect(addresses.filter((a) => a.kind === 'change')).toHaveLength(21);
    expect(addresses.filter((a) => a.used)).toHaveLength(151);
    // Only addresses with history are fetched (the empty look-ahead ones answer their subscription with null).
    expect(historyCalls).toBe(151);
    // Reopening keeps the trimmed set.
    expect(Wallet.open(restored['db']).listAddresses()).toHaveLength(191);
  });

  it('restore: each used address\'s history is asked for as soon as its subscription answers, while ElectrumX still caches it', async () => {
    // A server answering one request at a time, in order, and keeping the last 1,000 histories it
    // read (ElectrumX's history cache: a subscription reads the history to hash its status). With
    // 1,200 used addresses, a get_history asked after the rest of a restore's subscriptions would
    // find its history evicted and read it from disk a second time.
    const HISTORY_CACHE = 1_000;
    const account = accountFromSeed(mnemonicToSeed(BIP84_MNEMONIC), 'regtest', bip84AccountPath('regtest'));
    const receive = deriveAccountPublicKeys(account, 0, 0, 1_200).map((key) => p2wpkhAddress(key, 'regtest'));
    const restoreChain = new StandInChain();
    for (let i = 0; i < receive.length; i += 100) {
      restoreChain.add(externalPayment(receive.slice(i, i + 100).map((address) => ({ address, valueSat: 1_000 }))), 150);
    }
    const lookups: string[] = []; // script hashes whose history the server read, in order
    const queue: (() => void)[] = [];
    const serveNext = (): void => {
      queue.shift()?.();
      if (queue.length > 0) setImmediate(serveNext);
    };
    const served = <T,>(work: (scripthash: string) => Promise<T>) => (scripthash: string): Promise<T> =>
      new Promise<T>((resolve, reject) => {
        if (queue.push(() => (lookups.push(scripthash), work(scripthash).then(resolve, reject))) === 1) setImmediate(serveNext);
      });
    restoreChain.subscribeScripthash = served(restoreChain.subscribeScripthash.bind(restoreChain));
    restoreChain.getHistory = served(restoreChain.getHistory.bind(restoreChain));

    const restored = Wallet.create(openDatabase(':memory:'), { network: 'regtest', mnemonic: BIP84_MNEMONIC }).wallet;
    await restored.attachChain(restoreChain);
    await restored.waitUntilSynced(10_000);
    expect(restored.getBalance().confirmedSat).toBe(1_200_000);
    let misses = 0;
    lookups.forEach((sh, i) => {
      const previous = lookups.lastIndexOf(sh, i - 1);
      if (previous >= 0 && new Set(lookups.slice(previous + 1, i)).size >= HISTORY_CACHE) misses += 1;
    });
    expect(lookups.length - new Set(lookups).size).toBe(1_200); // one get_history per used address
    // Asked after the subscriptions (as before), 944 of them missed; asked at once, only a few
    // queued behind the burst of look-ahead subscriptions a wave derives.
    expect(misses).toBeLessThanOrEqual(24); // 2%
  });

  it('handles reorgs: a confirmed tx returning to the mempool, then vanishing', async () => {
    const txid = chain.add(externalPayment([{ address: wallet.getUnusedAddress(), valueSat: 50_000 }]));
    chain.mine();
    await settle();
    expect(wallet.getBalance().confirmedSat).toBe(50_000);
    chain.forkId = 1; // every block replaced
    chain.setHeight(txid, 0);
    chain.emit({ type: 'tip', header: chain.header(chain.tipHeight) });
    await settle();
    expect(wallet.getBalance()).toEqual({ confirmedSat: 0, unconfirmedSat: 50_000, unmaturedSat: 0 });
    chain.remove(txid);
    await settle();
    expect(wallet.getBalance()).toEqual({ confirmedSat: 0, unconfirmedSat: 0, unmaturedSat: 0 });
    expect(wallet.getOnchainHistory()).toEqual([]);
  });

  it('re-verifies when the block of a verified tx is replaced at the same height', async () => {
    const txid = chain.add(externalPayment([{ address: wallet.getUnusedAddress(), valueSat: 7_000 }]));
    chain.mine();
    await settle();
    const before = wallet.getOnchainHistory()[0];
    chain.forkId = 2;
    chain.mine();
    await settle();
    const after = wallet.getOnchainHistory()[0];
    expect(after.txid).toBe(txid);
    expect(after.verified).toBe(true);
    expect(after.confirmations).toBe(before.confirmations + 1);
    const row = db.prepare('SELECT block_hash FROM wallet_txs WHERE txid = ?').get(txid) as { block_hash: string };
    expect(row.block_hash).toBe(chain.header(before.height).hash);
  });

  it('coinbase outputs are unmatured until 100 confirmations', async () => {
    const address = wallet.getUnusedAddress();
    chain.add(coinbasePayment(address, 5_000_000_000, 201), 201);
    chain.mine();
    await settle();
    expect(wallet.getBalance()).toEqual({ confirmedSat: 0, unconfirmedSat: 0, unmaturedSat: 5_000_000_000 });
    expectCode(
      () => wallet.createTransaction({ outputs: [{ address, amountSat: 10_000 }], feerateSatPerVbyte: 1 }),
      'INSUFFICIENT_FUNDS',
    );
    const [coin] = wallet.listUnspent();
    expect(coin).toMatchObject({ coinbase: true, immature: true, valueSat: 5_000_000_000 });
    const key = `${coin.txid}:${coin.vout}`;
    expect(() => wallet.createTransaction({ outputs: [{ address, amountSat: 10_000 }], feerateSatPerVbyte: 1, fromCoins: [key] })).toThrow(
      `Coin ${key} is an immature coinbase output`,
    );
    chain.mine(98); // tip 299: 99 confirmations
    await settle();
    expect(wallet.getBalance().unmaturedSat).toBe(5_000_000_000);
    expect(wallet.listUnspent()[0].immature).toBe(true);
    chain.mine(); // tip 300: 100 confirmations, spendable in block 301
    await settle();
    expect(wallet.getBalance()).toEqual({ confirmedSat: 5_000_000_000, unconfirmedSat: 0, unmaturedSat: 0 });
    expect(wallet.listUnspent()[0]).toMatchObject({ coinbase: true, immature: false });
  });

  describe('createTransaction', () => {
    const destination = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

    beforeEach(async () => {
      chain.add(externalPayment([{ address: wallet.getUnusedAddress(), valueSat: 60_000 }]));
      chain.add(externalPayment([{ address: wallet.listAddresses()[1].address, valueSat: 30_000 }]));
      chain.mine();
      await settle();
      expect(wallet.getBalance().confirmedSat).toBe(90_000);
    });

    const coinOf = (valueSat: number) => wallet.listUnspent().filter((u) => u.valueSat === valueSat).map((u) => `${u.txid}:${u.vout}`);

    it('coin control picks the named coin; change to a change address, valid signatures, exact fee', () => {
      const result = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 40_000 }], feerateSatPerVbyte: 2, fromCoins: coinOf(60_000) });
      const tx = parseTransaction(result.txHex);
      expect(tx.getId()).toBe(result.txid);
      expect(tx.ins).toHaveLength(1);
      expect(prevValue(inputPrevTxid(tx.ins[0]), tx.ins[0].index)).toBe(60_000);
      expect(tx.outs).toHaveLength(2);
      expect(outputValueSat(tx.outs[result.outputIndexes[0]])).toBe(40_000);
      expect(result.changeIndex).not.toBeNull();
      const change = tx.outs[result.changeIndex!];
      expect(wallet.isMine(change.script)).toBe(true);
      expect(wallet.listAddresses().find((a) => wallet.isMine(a.address) && bytesToHex(addressToScriptPubKey(a.address, 'regtest')) === bytesToHex(change.script))?.kind).toBe('change');
      expect(result.feeSat).toBe(60_000 - 40_000 - outputValueSat(change));
      expect(result.feeSat).toBeGreaterThanOrEqual(2 * result.vsize);
      expect(result.feeSat).toBeLessThanOrEqual(2 * (result.vsize + 1));
      expect(tx.ins[0].sequence).toBe(0xfffffffd);
      expect(tx.locktime).toBe(chain.tipHeight);
      expectValidSignatures(result.txHex, prevValue);
    });

    it('uses several coins when needed; rbf false and an explicit lock time', () => {
      const result = wallet.createTransaction({
        outputs: [{ address: destination, amountSat: 80_000 }],
        feerateSatPerVbyte: 1,
        rbf: false,
        lockTime: 0,
      });
      const tx = parseTransaction(result.txHex);
      expect(tx.ins).toHaveLength(2);
      expect(tx.ins.every((i) => i.sequence === 0xfffffffe)).toBe(true);
      expect(tx.locktime).toBe(0);
      expectValidSignatures(result.txHex, prevValue);
    });

    it("'max' spends everything with no change", () => {
      const result = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 'max' }], feerateSatPerVbyte: 3 });
      const tx = parseTransaction(result.txHex);
      expect(tx.ins).toHaveLength(2);
      expect(tx.outs).toHaveLength(1);
      expect(result.changeIndex).toBeNull();
      expect(outputValueSat(tx.outs[0]) + result.feeSat).toBe(90_000);
      expect(result.feeSat).toBeGreaterThanOrEqual(3 * result.vsize);
    });

    it('pays an exact amount to a raw P2WSH scriptPubKey (channel funding)', () => {
      const fundingScript = p2wshScript(hexToBytes('5221' + '02'.repeat(33) + '21' + '03'.repeat(33) + '52ae'));
      const result = wallet.createTransaction({
        outputs: [{ scriptPubKey: fundingScript, amountSat: 50_000 }],
        feerateSatPerVbyte: 1,
      });
      const out = parseTransaction(result.txHex).outs[result.outputIndexes[0]];
      expect(bytesToHex(out.script)).toBe(bytesToHex(fundingScript));
      expect(outputValueSat(out)).toBe(50_000);
    });

    it('adds change below the dust limit to the fee', () => {
      // 60_000 - 59_700 = 300 sat: enough for the 110 vB fee, but change (300 - 141) would be dust.
      const result = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 59_700 }], feerateSatPerVbyte: 1, fromCoins: coinOf(60_000) });
      expect(result.changeIndex).toBeNull();
      expect(result.vsize).toBeLessThanOrEqual(110);
      expect(result.feeSat).toBe(300);
    });

    it('INSUFFICIENT_FUNDS says what is available and what is needed', () => {
      const err = expectCode(
        () => wallet.createTransaction({ outputs: [{ address: destination, amountSat: 95_000 }], feerateSatPerVbyte: 1 }),
        'INSUFFICIENT_FUNDS',
      );
      expect(err.message).toMatch(/available 90000 sat, needed 95\d{3} sat/);
    });

    it('BAD_INPUT for wrong network, garbage, dust, fractional sats, two max, bad feerate', () => {
      const req = (outputs: Parameters<Wallet['createTransaction']>[0]['outputs'], feerateSatPerVbyte = 1) => () =>
        wallet.createTransaction({ outputs, feerateSatPerVbyte });
      expect(expectCode(req([{ address: 'bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', amountSat: 1_000 }]), 'BAD_INPUT').message).toMatch(/mainnet/);
      expectCode(req([{ address: 'nonsense', amountSat: 1_000 }]), 'BAD_INPUT');
      expect(expectCode(req([{ address: destination, amountSat: 293 }]), 'BAD_INPUT').message).toMatch(/dust/);
      expectCode(req([{ address: destination, amountSat: 1000.5 }]), 'BAD_INPUT');
      expectCode(req([{ address: destination, amountSat: 'max' }, { address: destination, amountSat: 'max' }]), 'BAD_INPUT');
      expectCode(req([{ address: destination, amountSat: 1_000 }], 0), 'BAD_INPUT');
      expectCode(req([]), 'BAD_INPUT');
      expectCode(req([{ amountSat: 1_000 }]), 'BAD_INPUT');
    });

    it('excludeUnconfirmed ignores mempool coins', async () => {
      chain.add(externalPayment([{ address: wallet.getUnusedAddress(), valueSat: 500_000 }]));
      await settle();
      expectCode(
        () => wallet.createTransaction({ outputs: [{ address: destination, amountSat: 100_000 }], feerateSatPerVbyte: 1, excludeUnconfirmed: true }),
        'INSUFFICIENT_FUNDS',
      );
      expect(wallet.createTransaction({ outputs: [{ address: destination, amountSat: 100_000 }], feerateSatPerVbyte: 1 }).feeSat).toBeGreaterThan(0);
    });

    it('broadcast records the tx at once; a second send does not double-spend', async () => {
      const first = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 40_000 }], feerateSatPerVbyte: 2 });
      events.length = 0;
      expect(await wallet.broadcast(first.txHex)).toBe(first.txid);
      // Electrum semantics: the mempool spend shows as a negative unconfirmed delta.
      expect(wallet.getBalance()).toEqual({ confirmedSat: 90_000, unconfirmedSat: -40_000 - first.feeSat, unmaturedSat: 0 });
      expect(events.some((e) => e.type === 'balance')).toBe(true);
      const [top] = wallet.getOnchainHistory();
      expect(top).toMatchObject({ txid: first.txid, height: 0, deltaSat: -40_000 - first.feeSat, feeSat: first.feeSat });

      const second = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 25_000 }], feerateSatPerVbyte: 2 });
      const spentByFirst = new Set(parseTransaction(first.txHex).ins.map((i) => `${inputPrevTxid(i)}:${i.index}`));
      for (const input of parseTransaction(second.txHex).ins) {
        expect(spentByFirst.has(`${inputPrevTxid(input)}:${input.index}`)).toBe(false);
      }
      await settle();
      chain.mine();
      await settle();
      expect(wallet.getBalance()).toEqual({ confirmedSat: 90_000 - 40_000 - first.feeSat, unconfirmedSat: 0, unmaturedSat: 0 });
    });

    it('a rejected broadcast records nothing', async () => {
      const tx = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 40_000 }], feerateSatPerVbyte: 2 });
      chain.rejectBroadcast = 'min relay fee not met';
      const err = await expectCodeAsync(wallet.broadcast(tx.txHex), 'BAD_INPUT');
      expect(err.message).toMatch(/min relay fee/);
      expect(wallet.getBalance()).toEqual({ confirmedSat: 90_000, unconfirmedSat: 0, unmaturedSat: 0 });
      expect(wallet.getOnchainHistory()).toHaveLength(2);
    });
  });

  it('history is newest first (mempool first) with labels', async () => {
    const a = chain.add(externalPayment([{ address: wallet.getUnusedAddress(), valueSat: 1_000 }]));
    chain.mine();
    await settle();
    const address = wallet.getUnusedAddress();
    wallet.setLabel(address, 'from Bob');
    const b = chain.add(externalPayment([{ address, valueSat: 2_000 }]));
    chain.mine();
    await settle();
    const c = chain.add(externalPayment([{ address: wallet.getUnusedAddress(), valueSat: 3_000 }]));
    await settle();
    wallet.setLabel(a, 'first');
    const history = wallet.getOnchainHistory();
    expect(history.map((h) => h.txid)).toEqual([c, b, a]);
    expect(history.map((h) => h.label)).toEqual(['', 'from Bob', 'first']);
    expect(history.map((h) => h.confirmations)).toEqual([0, 1, 2]);
    expect(history[0].feeSat).toBeNull(); // inputs not ours: unknown
  });

  it('marks an on-chain request paid once the amount is received and verified', async () => {
    const address = wallet.getUnusedAddress();
    wallet.requests.add({ rhash: 'r1', amountSat: 10_000, memo: 'coffee', address, lightningInvoice: null, createdAt: Math.floor(Date.now() / 1000), expirySec: 3600 });
    expect(wallet.getUnusedAddress()).not.toBe(address); // reserved by the open request
    chain.add(externalPayment([{ address, valueSat: 6_000 }]));
    chain.mine();
    await settle();
    expect(wallet.requests.get('r1')!.status).toBe('unpaid');
    chain.add(externalPayment([{ address, valueSat: 4_000 }]));
    await settle();
    expect(wallet.requests.get('r1')!.status).toBe('unpaid'); // only in mempool
    chain.mine();
    await settle();
    expect(wallet.requests.get('r1')!.status).toBe('paid');
    expect(wallet.getOnchainHistory()[0].label).toBe('coffee');
  });

  it('resumes from stored statuses after reopening (no refetch of unchanged addresses)', async () => {
    chain.add(externalPayment([{ address: wallet.getUnusedAddress(), valueSat: 12_345 }]));
    chain.mine();
    await settle();
    wallet.detachChain();
    const reopened = Wallet.open(db, {});
    let historyCalls = 0;
    const getHistory = chain.getHistory.bind(chain);
    chain.getHistory = async (sh) => {
      historyCalls++;
      return getHistory(sh);
    };
    await reopened.attachChain(chain);
    await reopened.waitUntilSynced(2000);
    expect(historyCalls).toBe(0);
    expect(reopened.getBalance().confirmedSat).toBe(12_345);
  });

  it('reserveAddress: the reserved address is handed out by nothing else, also after reopening, and is tracked once paid', async () => {
    const reserved = wallet.reserveAddress('upfront_shutdown_script');
    expect(wallet.isMine(reserved)).toBe(true);
    const change = wallet.getNewChangeAddress();
    expect(change).not.toBe(reserved);
    expect(wallet.getUnusedAddress()).not.toBe(reserved);
    wallet.detachChain();
    const reopened = Wallet.open(db, {});
    expect(reopened.getNewChangeAddress()).toBe(change); // still skips the reserved one
    const second = reopened.reserveAddress('upfront_shutdown_script');
    expect(second).not.toBe(reserved);
    const nextChange = reopened.getNewChangeAddress();
    expect([reserved, second]).not.toContain(nextChange);
    await reopened.attachChain(chain);
    await reopened.waitUntilSynced(2000);
    chain.add(externalPayment([{ address: reserved, valueSat: 7_000 }]));
    chain.mine();
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
    await reopened.waitUntilSynced(2000);
    expect(reopened.getBalance().confirmedSat).toBe(7_000);
    expect(reopened.listAddresses().find((a) => a.address === reserved)?.used).toBe(true);
    expect(reopened.getNewChangeAddress()).toBe(nextChange);
  });

  it('releaseReservation: a released address is handed out again, also after reopening', () => {
    const reserved = wallet.reserveAddress('upfront_shutdown_script');
    expect(wallet.getNewChangeAddress()).not.toBe(reserved);
    wallet.releaseReservation(addressToScriptPubKey(reserved, 'regtest'));
    expect(wallet.getNewChangeAddress()).toBe(reserved);
    expect(wallet.reserveAddress('upfront_shutdown_script')).toBe(reserved); // the same hole is reused, not a new one
    wallet.releaseReservation(addressToScriptPubKey(reserved, 'regtest'));
    wallet.releaseReservation(addressToScriptPubKey(reserved, 'regtest')); // twice: ignored
    wallet.detachChain();
    expect(Wallet.open(db, {}).getNewChangeAddress()).toBe(reserved);
  });

  it('waitUntilSynced times out while disconnected', async () => {
    chain.connected = false;
    const w2 = Wallet.create(openDatabase(':memory:'), { network: 'regtest' }).wallet;
    await w2.attachChain(chain);
    await expectCodeAsync(w2.waitUntilSynced(50), 'TIMEOUT');
    chain.connected = true;
    chain.emit({ type: 'connection', connected: true, server: 'stand-in' });
    await w2.waitUntilSynced(2000);
    expect(w2.isUpToDate()).toBe(true);
  });
});

describe('Restore detection (Electrum segwit seed, BIP39, extended public key)', () => {
  // Electrum's test_wallet_vertical.py vectors; BIP84 test vector (also in Electrum's tests).
  const ELECTRUM_SEGWIT = 'bitter grass shiver impose acquire brush forget axis eager alone wine silver';
  const BIP84_ZPUB = 'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs';

  it('an Electrum segwit seed restores m/0\' with Electrum\'s addresses and reopens', () => {
    const db = openDatabase(':memory:');
    const { wallet, seedType } = Wallet.restore(db, { network: 'mainnet', text: `  ${ELECTRUM_SEGWIT.toUpperCase()} `, password: 'pw' });
    expect(seedType).toBe('electrum');
    expect(wallet.accountPath).toBe("m/0'");
    expect(wallet.masterPublicKey()).toBe('zpub6nsHdRuY92FsMKdbn9BfjBCG6X8pyhCibNP6uDvpnw2cyrVhecvHRMa3Ne8kdJZxjxgwnpbHLkcR4bfnhHy6auHPJyDTQ3kianeuVLdkCYQ');
    const addresses = wallet.listAddresses();
    expect(addresses.find((a) => a.kind === 'receive' && a.index === 0)?.address).toBe('bc1q3g5tmkmlvxryhh843v4dz026avatc0zzr6h3af');
    expect(addresses.find((a) => a.kind === 'change' && a.index === 0)?.address).toBe('bc1qdy94n2q5qcp0kg7v9yzwe6wvfkhnvyzje7nx2p');
    const reopened = Wallet.open(db, { password: 'pw' });
    expect(reopened.seedType).toBe('electrum');
    expect(reopened.getSeedPhrase('pw').mnemonic).toBe(ELECTRUM_SEGWIT);
  });

  it('a BIP39 mnemonic restores BIP84 account 0; seed_type bip39 forces the reading', () => {
    const db = openDatabase(':memory:');
    const { wallet, seedType } = Wallet.restore(db, { network: 'mainnet', text: BIP84_MNEMONIC });
    expect(seedType).toBe('bip39');
    expect(wallet.masterPublicKey()).toBe(BIP84_ZPUB);
    expect(wallet.listAddresses()[0]!.address).toBe('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
  });

  it('refuses Electrum standard seeds with a clear message and writes nothing', () => {
    const db = openDatabase(':memory:');
    const err = expectCode(
      () => Wallet.restore(db, { network: 'mainnet', text: 'cycle rocket west magnet parrot shuffle foot correct salt library feed song' }),
      'BAD_INPUT',
    );
    expect(err.message).toMatch(/Electrum "standard" seed/);
    expect(Wallet.exists(db)).toBe(false);
  });

  it('a zpub makes a watch-only wallet: same addresses, no seed, no signing, no Lightning', () => {
    const db = openDatabase(':memory:');
    const { wallet, seedType } = Wallet.restore(db, { network: 'mainnet', text: BIP84_ZPUB });
    expect(seedType).toBe('xpub');
    expect(wallet.isWatchOnly).toBe(true);
    expect(wallet.listAddresses()[0]!.address).toBe('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
    expectCode(() => wallet.getSeedPhrase(), 'BAD_INPUT');
    expectCode(() => wallet.lightningRootSecret(), 'BAD_INPUT');
    expectCode(() => wallet.signMessage('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', 'hi'), 'BAD_INPUT');
    expect(Wallet.open(db).isWatchOnly).toBe(true);
  });
});

describe('Coin control, selection, RBF, CPFP, PSBT, labels (against StandInChain)', () => {
  const destination = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
  let db: Db;
  let chain: StandInChain;
  let wallet: Wallet;

  async function settle(w: Wallet = wallet): Promise<void> {
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
    await w.waitUntilSynced(2000);
  }

  beforeEach(async () => {
    db = openDatabase(':memory:');
    chain = new StandInChain();
    wallet = Wallet.create(db, { network: 'regtest', mnemonic: BIP84_MNEMONIC }).wallet;
    await wallet.attachChain(chain);
    const [a0, a1, a2] = wallet.listAddresses().filter((a) => a.kind === 'receive');
    chain.add(externalPayment([{ address: a0!.address, valueSat: 100_000 }]));
    chain.add(externalPayment([{ address: a1!.address, valueSat: 50_000 }, { address: a1!.address, valueSat: 20_000 }]));
    chain.add(externalPayment([{ address: a2!.address, valueSat: 30_000 }]));
    chain.mine();
    await settle();
    expect(wallet.getBalance().confirmedSat).toBe(200_000);
  });

  it('branch and bound finds the exact match: no change output', () => {
    // One input at 1 sat/vB: 110 vB with one P2WPKH output; 30_000 - 110 pays exactly.
    const result = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 30_000 - 110 }], feerateSatPerVbyte: 1 });
    expect(result.selection).toBe('bnb');
    expect(result.changeIndex).toBeNull();
    expect(parseTransaction(result.txHex).outs).toHaveLength(1);
    expect(result.feeSat).toBeGreaterThanOrEqual(result.vsize);
  });

  it('coins of one address are spent together', () => {
    for (let i = 0; i < 10; i++) {
      const result = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 45_000 }], feerateSatPerVbyte: 1 });
      const a1Coins = wallet.listUnspent().filter((u) => u.valueSat === 50_000 || u.valueSat === 20_000).map((u) => `${u.txid}:${u.vout}`);
      const spent = a1Coins.filter((c) => result.inputs.includes(c));
      expect([0, 2]).toContain(spent.length);
    }
  });

  it('frozen coins are listed but never selected; from_coins refuses them', () => {
    const big = wallet.listUnspent().find((u) => u.valueSat === 100_000)!;
    wallet.setCoinFrozen(`${big.txid}:${big.vout}`, true);
    expect(wallet.listUnspent().find((u) => u.valueSat === 100_000)!.frozen).toBe(true);
    for (let i = 0; i < 5; i++) {
      const r = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 60_000 }], feerateSatPerVbyte: 1 });
      expect(r.inputs).not.toContain(`${big.txid}:${big.vout}`);
    }
    expectCode(() => wallet.createTransaction({ outputs: [{ address: destination, amountSat: 100_000 }], feerateSatPerVbyte: 1 }), 'INSUFFICIENT_FUNDS');
    expectCode(
      () => wallet.createTransaction({ outputs: [{ address: destination, amountSat: 1000 }], feerateSatPerVbyte: 1, fromCoins: [`${big.txid}:${big.vout}`] }),
      'BAD_INPUT',
    );
    const max = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 'max' }], feerateSatPerVbyte: 1 });
    expect(max.inputs).toHaveLength(3);
    wallet.setCoinFrozen(`${big.txid}:${big.vout}`, false);
    expect(wallet.listUnspent().every((u) => !u.frozen)).toBe(true);
    expectCode(() => wallet.setCoinFrozen('ab'.repeat(32) + ':0', true), 'NOT_FOUND');
  });

  it('bumpfee decreases the change; the broadcast replacement evicts the original', async () => {
    const big = wallet.listUnspent().find((u) => u.valueSat === 100_000)!;
    const original = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 40_000 }], feerateSatPerVbyte: 1, fromCoins: [`${big.txid}:${big.vout}`] });
    await wallet.broadcast(original.txHex);
    const bumped = wallet.bumpFee(original.txid, 5);
    const tx = parseTransaction(bumped.txHex);
    expect(bumped.inputs).toEqual(original.inputs);
    expect(tx.outs).toHaveLength(2);
    expect(outputValueSat(tx.outs.find((o) => !wallet.isMine(o.script))!)).toBe(40_000);
    expect(bumped.feeSat).toBeGreaterThanOrEqual(5 * bumped.vsize);
    expectValidSignatures(bumped.txHex, (txid, vout) => outputValueSat(parseTransaction(chain.txs.get(txid)!.hex).outs[vout]));
    expectCode(() => wallet.bumpFee(original.txid, 1), 'BAD_INPUT');
    await wallet.broadcast(bumped.txHex);
    expect(wallet.getOnchainHistory().map((h) => h.txid)).not.toContain(original.txid);
    expect(wallet.getBalance().unconfirmedSat).toBe(-40_000 - bumped.feeSat);
  });

  it('bumpfee adds a coin when the change cannot pay; dscancel pays everything back to us', async () => {
    const small = wallet.listUnspent().find((u) => u.valueSat === 30_000)!;
    const original = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 29_700 }], feerateSatPerVbyte: 1, fromCoins: [`${small.txid}:${small.vout}`] });
    expect(original.changeIndex).toBeNull();
    await wallet.broadcast(original.txHex);
    const bumped = wallet.bumpFee(original.txid, 20);
    expect(bumped.inputs.length).toBeGreaterThan(1);
    expect(bumped.inputs[0]).toBe(original.inputs[0]);
    expect(bumped.feeSat).toBeGreaterThanOrEqual(20 * bumped.vsize);
    const cancel = wallet.cancelTransaction(original.txid, 5);
    const ctx = parseTransaction(cancel.txHex);
    expect(ctx.outs).toHaveLength(1);
    expect(wallet.isMine(ctx.outs[0]!.script)).toBe(true);
    expect(cancel.inputs).toEqual(original.inputs);
  });

  it('cpfp spends our output of an incoming unconfirmed tx so the package pays the feerate', async () => {
    const address = wallet.getUnusedAddress();
    // External parent: input value unknown to us, so the wallet fetches it from the chain.
    const funding = externalPayment([{ address: destination, valueSat: 80_000 }]);
    chain.add(funding, 150);
    const parentTx = new bitcoin.Transaction();
    parentTx.version = 2;
    parentTx.addInput(hexToBytes(parseTransaction(funding).getId()).reverse(), 0, 0xfffffffd);
    parentTx.addOutput(addressToScriptPubKey(address, 'regtest'), 79_900n);
    const parentTxid = chain.add(parentTx.toHex());
    await settle();
    const child = await wallet.cpfp(parentTxid, 10);
    const parentFee = 100;
    expect(child.inputs).toEqual([`${parentTxid}:0`]);
    expect(parentFee + child.feeSat).toBeGreaterThanOrEqual(10 * (parentTx.virtualSize() + child.vsize));
  });

  it('PSBT round trip: a watch-only wallet makes it, the seeded wallet signs it', async () => {
    const watchDb = openDatabase(':memory:');
    const watch = Wallet.restore(watchDb, { network: 'regtest', text: wallet.masterPublicKey() }).wallet;
    await watch.attachChain(chain);
    await settle(watch);
    expect(watch.getBalance()).toEqual(wallet.getBalance());
    const unsigned = watch.createTransaction({ outputs: [{ address: destination, amountSat: 25_000 }], feerateSatPerVbyte: 2 });
    expect(unsigned.complete).toBe(false);
    expect(unsigned.psbt.startsWith('cHNidP8')).toBe(true);
    expectCode(() => watch.signPsbt(unsigned.psbt), 'BAD_INPUT');
    const signed = wallet.signPsbt(unsigned.psbt);
    expect(signed.complete).toBe(true);
    expect(signed.signedInputs).toBe(unsigned.inputs.length);
    const tx = parseTransaction(signed.txHex!);
    expect(tx.getId()).toBe(unsigned.txid);
    expectValidSignatures(signed.txHex!, (txid, vout) => outputValueSat(parseTransaction(chain.txs.get(txid)!.hex).outs[vout]));
    expect(await watch.broadcast(signed.txHex!)).toBe(unsigned.txid);
  });

  it('BIP329 labels: export, import into another wallet, frozen state travels as spendable', () => {
    const coin = wallet.listUnspent()[0]!;
    wallet.setLabel(coin.txid, 'salary');
    wallet.setLabel(coin.address, 'from work, "main" account');
    wallet.setLabel(`${coin.txid}:${coin.vout}`, 'coin');
    wallet.setCoinFrozen(`${coin.txid}:${coin.vout}`, true);
    const jsonl = wallet.exportLabels();
    const records = jsonl.trim().split('\n').map((l) => JSON.parse(l));
    expect(records).toContainEqual({ type: 'tx', ref: coin.txid, label: 'salary' });
    expect(records).toContainEqual({ type: 'addr', ref: coin.address, label: 'from work, "main" account' });
    expect(records).toContainEqual({ type: 'output', ref: `${coin.txid}:${coin.vout}`, label: 'coin', spendable: false });

    wallet.setLabel(coin.txid, '');
    wallet.setCoinFrozen(`${coin.txid}:${coin.vout}`, false);
    expect(wallet.importLabels(jsonl)).toBe(3);
    expect(wallet.getLabel(coin.txid)).toBe('salary');
    expect(wallet.listUnspent().find((u) => u.txid === coin.txid && u.vout === coin.vout)!.frozen).toBe(true);
    expectCode(() => wallet.importLabels('{"type":"tx","ref":"x","label":"a"}\nnot json'), 'BAD_INPUT');
    expect(wallet.getLabel('x')).toBe('');
  });

  it('history CSV: header, one row per transaction, quoted labels, running balance', () => {
    const coin = wallet.listUnspent()[0]!;
    wallet.setLabel(coin.txid, 'a, "quoted" label');
    const lines = wallet.exportHistoryCsv().trim().split('\n');
    expect(lines[0]).toBe('transaction_hash,label,confirmations,value,fee,balance,timestamp');
    expect(lines).toHaveLength(4);
    expect(lines.some((l) => l.startsWith(`${coin.txid},"a, ""quoted"" label",1,`))).toBe(true);
    // Balance is the next-to-last field (the label may hold commas; the three txs share a block and
    // their order in it depends on their random txids).
    expect(lines[3]!.split(',').at(-2)).toBe('0.002');
  });

  it('signmessage verifies with verifyMessage', async () => {
    const { verifyMessage } = await import('../bitcoin/message.js');
    const address = wallet.listAddresses()[0]!.address;
    const sig = wallet.signMessage(address, 'hello fulmen');
    expect(verifyMessage(address, sig, 'hello fulmen', 'regtest')).toBe(true);
    expect(verifyMessage(address, sig, 'hello fulmen!', 'regtest')).toBe(false);
    expectCode(() => wallet.signMessage(destination, 'x'), 'BAD_INPUT');
  });
});

describe('Anchor reserve (reserve.ts) against StandInChain', () => {
  const destination = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
  let chain: StandInChain;
  let wallet: Wallet;
  let anchorChannels = 0;

  beforeEach(async () => {
    chain = new StandInChain();
    wallet = Wallet.create(openDatabase(':memory:'), { network: 'regtest', mnemonic: BIP84_MNEMONIC }).wallet;
    await wallet.attachChain(chain);
    const [a0, a1, a2] = wallet.listAddresses().filter((a) => a.kind === 'receive');
    chain.add(externalPayment([{ address: a0!.address, valueSat: 100_000 }]));
    chain.add(externalPayment([{ address: a1!.address, valueSat: 50_000 }, { address: a1!.address, valueSat: 20_000 }]));
    chain.add(externalPayment([{ address: a2!.address, valueSat: 30_000 }]));
    chain.mine();
    for (let i = 0; i < 5; i++) await new Promise((r) => setTimeout(r, 0));
    await wallet.waitUntilSynced(2000);
    anchorChannels = 0;
    wallet.setAnchorChannelCounter(() => anchorChannels);
  });

  it('10,000 sat per anchor channel, capped at 100,000 sat; none without anchor channels', () => {
    expect(anchorReserveSat(0)).toBe(0);
    expect(anchorReserveSat(3)).toBe(30_000);
    expect(anchorReserveSat(10)).toBe(100_000);
    expect(anchorReserveSat(25)).toBe(100_000);
    expect(() => anchorReserveSat(-1)).toThrow(RangeError);
    expect(wallet.reserve()).toEqual({ reservedSat: 0, anchorChannels: 0 });
    anchorChannels = 2;
    expect(wallet.reserve()).toEqual({ reservedSat: 20_000, anchorChannels: 2 });
    expect(wallet.reserve(1)).toEqual({ reservedSat: 30_000, anchorChannels: 3 });
    wallet.setAnchorChannelCounter(null);
    expect(wallet.reserve().reservedSat).toBe(0);
  });

  it('a send that would leave less than the reserve is refused, saying how much is reserved and why', () => {
    expect(wallet.createTransaction({ outputs: [{ address: destination, amountSat: 195_000 }], feerateSatPerVbyte: 1 }).complete).toBe(true);
    anchorChannels = 1;
    const err = expectCode(() => wallet.createTransaction({ outputs: [{ address: destination, amountSat: 195_000 }], feerateSatPerVbyte: 1 }), 'INSUFFICIENT_FUNDS');
    expect(err.message).toMatch(/below the 10000 sat reserved to pay the fees of a force close of 1 anchor channel \(10000 sat per channel\)/);
    expect(err.details).toMatchObject({ reservedSat: 10_000, anchorChannels: 1 });
    // What stays (coins not spent + change) counts: 150,000 sat leaves more than 10,000 sat.
    for (let i = 0; i < 5; i++) {
      const ok = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 150_000 }], feerateSatPerVbyte: 1 });
      const inputSat = ok.inputs.reduce((s, o) => s + wallet.listUnspent().find((u) => `${u.txid}:${u.vout}` === o)!.valueSat, 0);
      const changeSat = ok.changeIndex === null ? 0 : outputValueSat(parseTransaction(ok.txHex).outs[ok.changeIndex]!);
      expect(200_000 - inputSat + changeSat).toBeGreaterThanOrEqual(10_000);
    }
  });

  it("'max' keeps a change output holding the reserve; the cap is named at 100,000 sat", () => {
    anchorChannels = 3;
    const max = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 'max' }], feerateSatPerVbyte: 2 });
    const tx = parseTransaction(max.txHex);
    expect(max.inputs).toHaveLength(4);
    expect(max.changeIndex).not.toBeNull();
    expect(outputValueSat(tx.outs[max.changeIndex!]!)).toBe(30_000);
    expect(outputValueSat(tx.outs[max.outputIndexes[0]!]!)).toBe(200_000 - 30_000 - max.feeSat);
    expect(max.feeSat).toBeGreaterThanOrEqual(2 * max.vsize);
    // With coin control, the coins left out count toward the reserve first.
    const big = wallet.listUnspent().find((u) => u.valueSat === 100_000)!;
    const some = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 'max' }], feerateSatPerVbyte: 1, fromCoins: [`${big.txid}:${big.vout}`] });
    expect(some.changeIndex).toBeNull();
    // Frozen coins do not count: the watcher's fee-bumping does not spend them either.
    anchorChannels = 12;
    wallet.setCoinFrozen(`${big.txid}:${big.vout}`, true);
    const err = expectCode(() => wallet.createTransaction({ outputs: [{ address: destination, amountSat: 'max' }], feerateSatPerVbyte: 1 }), 'INSUFFICIENT_FUNDS');
    expect(err.message).toMatch(/leave 0 sat on chain, below the 100000 sat reserved .* 12 anchor channels \(10000 sat per channel, capped at 100,000 sat\)/);
  });

  it('funding a new anchor channel must leave the reserve with that channel counted', () => {
    const funding = { outputs: [{ scriptPubKey: p2wshScript(new Uint8Array(32).fill(7)), amountSat: 195_000 }], feerateSatPerVbyte: 1 };
    expect(wallet.createTransaction(funding).complete).toBe(true);
    const err = expectCode(() => wallet.createTransaction({ ...funding, opensAnchorChannel: true }), 'INSUFFICIENT_FUNDS');
    expect(err.message).toContain('1 anchor channel (with the new one)');
    expect(wallet.createTransaction({ ...funding, outputs: [{ ...funding.outputs[0]!, amountSat: 185_000 }], opensAnchorChannel: true }).complete).toBe(true);
  });

  it('bumpfee may not eat into the reserve either', async () => {
    const big = wallet.listUnspent().find((u) => u.valueSat === 100_000)!;
    const original = wallet.createTransaction({ outputs: [{ address: destination, amountSat: 99_850 }], feerateSatPerVbyte: 1, fromCoins: [`${big.txid}:${big.vout}`] });
    expect(original.changeIndex).toBeNull();
    await wallet.broadcast(original.txHex);
    anchorChannels = 10;
    // 20 sat/vB needs another coin: the 50,000 sat one leaves 20,000 + 30,000 + its change < 100,000 sat.
    const err = expectCode(() => wallet.bumpFee(original.txid, 20), 'INSUFFICIENT_FUNDS');
    expect(err.details).toMatchObject({ reservedSat: 100_000 });
    anchorChannels = 9;
    expect(wallet.bumpFee(original.txid, 20).feeSat).toBeGreaterThanOrEqual(20 * 141);
  });
});
