import { randomInt } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type { Db } from '../storage/db.js';
import { deriveStorageKey, newSalt, seal, unseal } from '../storage/crypto.js';
import type { ChainEvent, ChainSource, HistoryEntry } from '../chain/types.js';
import { FulmenError, badInput } from '../util/errors.js';
import { MAX_MONEY_SAT } from '../util/money.js';
import { NETWORK_NAMES, type NetworkName } from '../bitcoin/network.js';
import {
  CHANGE_CHAIN,
  RECEIVE_CHAIN,
  accountFromXpub,
  accountXpub,
  bip84Account,
  deriveAccountKey,
  generateMnemonic,
  lightningRootSecretFromSeed,
  mnemonicToSeed,
  normalizeMnemonic,
  type BIP32Interface,
  type KeyChain,
} from '../bitcoin/keys.js';
import { addressToScriptPubKey, p2wpkhAddress, p2wpkhScript, scriptHash } from '../bitcoin/address.js';
import {
  P2WPKH_INPUT,
  SEQUENCE_NO_RBF,
  SEQUENCE_RBF,
  buildTransaction,
  dustThresholdSat,
  estimateTxVsize,
  feeForVsize,
  inputPrevTxid,
  outputValueSat,
  parseTransaction,
  serializeTransaction,
  signP2wpkhInput,
  type Transaction,
  type TxOutputSpec,
} from '../bitcoin/transaction.js';
import { RequestStore } from './requests.js';

/** Addresses kept unused beyond the last used one, on each chain (Electrum's gap limit). */
export const GAP_LIMIT = 20;
/** Blocks before a coinbase output can be spent (consensus). */
export const COINBASE_MATURITY = 100;
/** How many recent blocks are re-checked for reorgs when a new tip arrives. */
const REORG_CHECK_DEPTH = 10;
/** Delay before retrying a failed history fetch, ms. */
const SYNC_RETRY_MS = 5_000;
/** Parallel requests per batch when syncing. */
const SYNC_BATCH = 10;

/** Electrum's three balance buckets, integer satoshis. */
export interface WalletBalance {
  /** Merkle-verified confirmed funds (minus confirmed spends). */
  confirmedSat: number;
  /** Mempool delta: unconfirmed receipts minus unconfirmed spends (may be negative). */
  unconfirmedSat: number;
  /** Coinbase outputs that are not mature yet (fewer than 100 confirmations). */
  unmaturedSat: number;
}

export type WalletEvent = { type: 'balance'; balance: WalletBalance } | { type: 'history' } | { type: 'synced' };

export interface WalletUtxo {
  txid: string;
  vout: number;
  valueSat: number;
  address: string;
  /** Block height if merkle-verified, else 0 (mempool or not yet verified). */
  height: number;
}

export interface WalletAddress {
  address: string;
  kind: 'receive' | 'change';
  /** Index on its chain: m/84'/coin'/0'/(0|1)/index. */
  index: number;
  /** Has history on chain or in a local transaction. */
  used: boolean;
}

export interface TxRequestOutput {
  /** Destination address (checked against the wallet's network) ... */
  address?: string;
  /** ... or a raw scriptPubKey (e.g. a P2WSH Lightning funding output). Exactly one is given. */
  scriptPubKey?: Uint8Array;
  /** Integer satoshis, or 'max' (at most one output) for everything left after fees. */
  amountSat: number | 'max';
}

export interface CreateTransactionRequest {
  outputs: TxRequestOutput[];
  /** Feerate in sat/vB (> 0; fractions allowed, the fee is rounded up to whole sats). */
  feerateSatPerVbyte: number;
  /** Signal BIP125 replaceability (nSequence 0xfffffffd). Default true. */
  rbf?: boolean;
  /** nLockTime. Default: the current tip height (anti fee sniping), 0 without a chain. */
  lockTime?: number;
  /** Spend only merkle-verified confirmed coins. */
  excludeUnconfirmed?: boolean;
}

export interface CreatedTransaction {
  txHex: string;
  txid: string;
  feeSat: number;
  vsize: number;
  /** outputIndexes[i] is the vout of request output i (outputs are shuffled). */
  outputIndexes: number[];
  /** vout of the change output, or null when there is none. */
  changeIndex: number | null;
}

export interface OnchainHistoryItem {
  txid: string;
  /** Block height as reported by the server; 0 (or -1, unconfirmed parents) for mempool. */
  height: number;
  /** 0 unless merkle-verified. */
  confirmations: number;
  /** Block time (unix seconds) once verified, else null. */
  timestamp: number | null;
  /** Net effect on the wallet, integer satoshis (negative for sends, fee included). */
  deltaSat: number;
  /** Known when every input's previous output is known to the wallet, else null. */
  feeSat: number | null;
  verified: boolean;
  label: string;
}

interface KeysRow {
  network: NetworkName;
  xpub: string;
  password_salt: Uint8Array | null;
  secret_box: Uint8Array;
}

interface WalletSecret {
  mnemonic: string;
  passphrase: string;
  seed: string;
}

interface AddressInfo {
  scriptHash: string;
  address: string;
  chain: KeyChain;
  index: number;
  scriptPubKey: Uint8Array;
  status: string | null;
}

interface TxRow {
  txid: string;
  raw: Uint8Array;
  height: number;
  verified: number;
  block_hash: string | null;
  timestamp: number | null;
  is_coinbase: number;
  local: number;
  first_seen: number;
}

interface TxoRow {
  txid: string;
  vout: number;
  script_hash: string;
  value_sat: number;
  height: number;
  verified: number;
  is_coinbase: number;
}

interface SpendRow {
  prev_txid: string;
  prev_vout: number;
  txid: string;
  height: number;
  verified: number;
}

const SECRET_AD = utf8ToBytes('fulmen/wallet-secret/v1');

/**
 * A BIP84 (native segwit P2WPKH) single-account wallet over a SQLite database, synchronised with
 * an Electrum server through `ChainSource` (subscriptions, history, SPV-verified confirmations).
 * The seed is kept encrypted at rest when the wallet has a password, and in memory once opened.
 */
export class Wallet {
  private readonly listeners = new Set<(e: WalletEvent) => void>();
  private readonly addresses = new Map<string, AddressInfo>();
  private readonly byAddress = new Map<string, AddressInfo>();
  private readonly byScript = new Map<string, AddressInfo>();
  private readonly parsedTxs = new Map<string, Transaction>();
  private readonly account: BIP32Interface;
  private accountPrivate: BIP32Interface | null = null;
  private chain: ChainSource | null = null;
  private unsubscribeChain: (() => void) | null = null;
  private readonly dirty = new Set<string>();
  private subscriptionsPending = true;
  private subscriptionsInFlight = 0;
  private workerRunning = false;
  /** txid → tip height at which verification last failed (retried on the next tip). */
  private readonly verifyFailedAt = new Map<string, number>();
  private lastBalance: WalletBalance | null = null;
  private wasUpToDate = false;
  private lastSyncError: FulmenError | null = null;
  readonly requests: RequestStore;

  private constructor(
    private readonly db: Db,
    /** Bitcoin network of this wallet. */
    readonly network: NetworkName,
    /** Account xpub (m/84'/coin'/0', standard BIP32 encoding: xpub/tpub). */
    readonly xpub: string,
    private readonly seed: Uint8Array,
    private readonly secret: WalletSecret,
    /** Whether the seed is encrypted with a password. */
    private passwordSalt: Uint8Array | null,
  ) {
    this.account = accountFromXpub(xpub, network);
    this.requests = new RequestStore(db);
    const rows = db
      .prepare('SELECT script_hash, address, chain, idx, script_pubkey, status FROM wallet_addresses ORDER BY chain, idx')
      .all() as { script_hash: string; address: string; chain: KeyChain; idx: number; script_pubkey: Uint8Array; status: string | null }[];
    for (const r of rows) {
      this.index({ scriptHash: r.script_hash, address: r.address, chain: r.chain, index: r.idx, scriptPubKey: new Uint8Array(r.script_pubkey), status: r.status });
    }
  }

  get hasPassword(): boolean {
    return this.passwordSalt !== null;
  }

  /** True when the database already holds a wallet. */
  static exists(db: Db): boolean {
    return db.prepare('SELECT 1 FROM wallet_keys WHERE id = 1').get() !== undefined;
  }

  /**
   * Creates the wallet in `db` from a BIP39 mnemonic (12 new words if absent) and optional BIP39
   * passphrase; with a non-empty `password` the secrets are sealed (crypto.ts; an empty password
   * means none, as in Electrum). Derives the first
   * GAP_LIMIT receive and change addresses.
   * @returns the wallet and the (normalised) mnemonic to show the user for backup.
   * @throws FulmenError WALLET_EXISTS, BAD_INPUT (bad mnemonic or network) — nothing is written then.
   */
  static create(
    db: Db,
    opts: { network: NetworkName; mnemonic?: string; passphrase?: string; password?: string },
  ): { wallet: Wallet; mnemonic: string } {
    if (!NETWORK_NAMES.includes(opts.network)) throw badInput(`Unknown network: ${String(opts.network)}`);
    if (Wallet.exists(db)) throw new FulmenError('WALLET_EXISTS', 'A wallet already exists in this file');
    const mnemonic = opts.mnemonic !== undefined ? normalizeMnemonic(opts.mnemonic) : generateMnemonic(12);
    const passphrase = opts.passphrase ?? '';
    const seed = mnemonicToSeed(mnemonic, passphrase);
    const xpub = accountXpub(seed, opts.network);
    const secret: WalletSecret = { mnemonic, passphrase, seed: bytesToHex(seed) };
    const { salt, box } = sealSecret(secret, opts.password);
    const wallet = db.transaction(() => {
      db.prepare(
        'INSERT INTO wallet_keys (id, network, xpub, password_salt, secret_box, created_at) VALUES (1, ?, ?, ?, ?, ?)',
      ).run(opts.network, xpub, salt, box, Math.floor(Date.now() / 1000));
      const created = new Wallet(db, opts.network, xpub, seed, secret, salt);
      created.ensureGap();
      return created;
    })();
    return { wallet, mnemonic };
  }

  /**
   * Opens the wallet stored in `db`.
   * @throws FulmenError NO_WALLET when there is none, WRONG_PASSWORD when the password is missing
   *   or wrong (for a wallet without password, any given password is ignored).
   */
  static open(db: Db, opts: { password?: string } = {}): Wallet {
    const row = db.prepare('SELECT network, xpub, password_salt, secret_box FROM wallet_keys WHERE id = 1').get() as
      | KeysRow
      | undefined;
    if (!row) throw new FulmenError('NO_WALLET', 'No wallet in this file');
    let plaintext: Uint8Array;
    if (row.password_salt) {
      if (!opts.password) throw new FulmenError('WRONG_PASSWORD', 'This wallet is protected by a password');
      const key = deriveStorageKey(opts.password, row.password_salt);
      plaintext = unseal(key, row.secret_box, SECRET_AD);
    } else {
      plaintext = row.secret_box;
    }
    const secret = JSON.parse(new TextDecoder().decode(plaintext)) as WalletSecret;
    const seed = hexToBytes(secret.seed);
    if (accountXpub(seed, row.network) !== row.xpub) {
      throw new FulmenError('INTERNAL', 'Wallet file is inconsistent: the stored xpub does not match the seed');
    }
    const wallet = new Wallet(db, row.network, row.xpub, seed, secret, row.password_salt ? new Uint8Array(row.password_salt) : null);
    wallet.ensureGap();
    return wallet;
  }

  /**
   * Sets, changes (newPassword non-empty) or removes (null/empty) the password. The wallet must
   * be open, so the caller has already proven the old password.
   */
  setPassword(newPassword: string | null): void {
    const { salt, box } = sealSecret(this.secret, newPassword ?? undefined);
    this.db.prepare('UPDATE wallet_keys SET password_salt = ?, secret_box = ? WHERE id = 1').run(salt, box);
    this.passwordSalt = salt;
  }

  /**
   * The BIP39 mnemonic and passphrase (Electrum `getseed`). When the wallet has a password it must
   * be given again. @throws FulmenError WRONG_PASSWORD.
   */
  getSeedPhrase(password?: string): { mnemonic: string; passphrase: string } {
    if (this.passwordSalt) {
      if (!password) throw new FulmenError('WRONG_PASSWORD', 'The password is required');
      const row = this.db.prepare('SELECT secret_box FROM wallet_keys WHERE id = 1').get() as { secret_box: Uint8Array };
      unseal(deriveStorageKey(password, this.passwordSalt), row.secret_box, SECRET_AD);
    }
    return { mnemonic: this.secret.mnemonic, passphrase: this.secret.passphrase };
  }

  /**
   * 32 bytes for the Lightning node: the private key at BIP32 m/67'/0'/0' of the seed. Node key
   * and channel keys derive from it, so restoring the seed restores the node id.
   */
  lightningRootSecret(): Uint8Array {
    return lightningRootSecretFromSeed(this.seed);
  }

  // ---------------------------------------------------------------- events

  /** Subscribes to wallet events. Returns an unsubscribe function. */
  on(listener: (e: WalletEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: WalletEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch {
        // A failing listener must not break synchronisation.
      }
    }
  }

  private emitChanges(historyChanged: boolean): void {
    if (historyChanged) {
      this.updateRequests();
      this.emit({ type: 'history' });
    }
    const balance = this.getBalance();
    const last = this.lastBalance;
    if (
      !last ||
      last.confirmedSat !== balance.confirmedSat ||
      last.unconfirmedSat !== balance.unconfirmedSat ||
      last.unmaturedSat !== balance.unmaturedSat
    ) {
      this.lastBalance = balance;
      this.emit({ type: 'balance', balance });
    }
  }

  // ---------------------------------------------------------------- addresses

  private index(info: AddressInfo): void {
    this.addresses.set(info.scriptHash, info);
    this.byAddress.set(info.address, info);
    this.byScript.set(bytesToHex(info.scriptPubKey), info);
  }

  private deriveAddress(chain: KeyChain, index: number): AddressInfo {
    const pubkey = deriveAccountKey(this.account, chain, index).publicKey;
    const scriptPubKey = p2wpkhScript(pubkey);
    return {
      scriptHash: scriptHash(scriptPubKey),
      address: p2wpkhAddress(pubkey, this.network),
      chain,
      index,
      scriptPubKey,
      status: null,
    };
  }

  private usedScriptHashes(): Set<string> {
    const rows = this.db
      .prepare('SELECT script_hash FROM wallet_address_history UNION SELECT script_hash FROM wallet_txos')
      .all() as { script_hash: string }[];
    return new Set(rows.map((r) => r.script_hash));
  }

  /** Derives addresses until each chain has GAP_LIMIT unused ones after its last used one. */
  private ensureGap(): AddressInfo[] {
    const used = this.usedScriptHashes();
    const created: AddressInfo[] = [];
    for (const chain of [RECEIVE_CHAIN, CHANGE_CHAIN]) {
      const onChain = [...this.addresses.values()].filter((a) => a.chain === chain);
      let lastUsed = -1;
      let count = 0;
      for (const a of onChain) {
        count = Math.max(count, a.index + 1);
        if (used.has(a.scriptHash)) lastUsed = Math.max(lastUsed, a.index);
      }
      for (let i = count; i <= lastUsed + GAP_LIMIT; i++) created.push(this.deriveAddress(chain, i));
    }
    this.storeAddresses(created);
    return created;
  }

  private storeAddresses(infos: AddressInfo[]): void {
    if (infos.length === 0) return;
    const insert = this.db.prepare(
      'INSERT INTO wallet_addresses (script_hash, address, chain, idx, script_pubkey) VALUES (?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      for (const a of infos) insert.run(a.scriptHash, a.address, a.chain, a.index, a.scriptPubKey);
    })();
    for (const a of infos) this.index(a);
    for (const a of infos) {
      this.subscribe(a).catch(() => {
        this.subscriptionsPending = true; // redone by subscribeAll on the next connection
      });
    }
  }

  /**
   * First receive address without history that no open (unpaid, unexpired) request uses
   * (Electrum `get_unused_address`). Derives a new one past the gap limit when all are taken.
   */
  getUnusedAddress(): string {
    return this.firstUnused(RECEIVE_CHAIN, new Set(
      this.requests
        .list()
        .filter((r) => r.status === 'unpaid' && r.address)
        .map((r) => r.address!),
    ));
  }

  /** First change address without history (derives a new one when all are used). */
  getNewChangeAddress(): string {
    return this.firstUnused(CHANGE_CHAIN, new Set());
  }

  private firstUnused(chain: KeyChain, reserved: Set<string>): string {
    const used = this.usedScriptHashes();
    const candidates = [...this.addresses.values()]
      .filter((a) => a.chain === chain)
      .sort((a, b) => a.index - b.index);
    const free = candidates.find((a) => !used.has(a.scriptHash) && !reserved.has(a.address));
    if (free) return free.address;
    const next = this.deriveAddress(chain, candidates.length);
    this.storeAddresses([next]);
    return next.address;
  }

  /** Whether an address (string) or scriptPubKey (bytes) belongs to this wallet. */
  isMine(addressOrScript: string | Uint8Array): boolean {
    if (typeof addressOrScript === 'string') return this.byAddress.has(addressOrScript.trim());
    return this.byScript.has(bytesToHex(addressOrScript));
  }

  /** All derived addresses, receive chain first, by index. */
  listAddresses(): WalletAddress[] {
    const used = this.usedScriptHashes();
    return [...this.addresses.values()]
      .sort((a, b) => a.chain - b.chain || a.index - b.index)
      .map((a) => ({ address: a.address, kind: a.chain === RECEIVE_CHAIN ? 'receive' : 'change', index: a.index, used: used.has(a.scriptHash) }));
  }

  // ---------------------------------------------------------------- labels

  /** Sets the label of a txid or address; an empty text removes it. */
  setLabel(key: string, text: string): void {
    if (!key) throw badInput('A label needs a key (txid or address)');
    if (text === '') this.db.prepare('DELETE FROM wallet_labels WHERE key = ?').run(key);
    else this.db.prepare('INSERT INTO wallet_labels (key, text) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET text = excluded.text').run(key, text);
    this.emit({ type: 'history' });
  }

  /** The label of a txid or address, '' when none. */
  getLabel(key: string): string {
    const row = this.db.prepare('SELECT text FROM wallet_labels WHERE key = ?').get(key) as { text: string } | undefined;
    return row?.text ?? '';
  }

  // ---------------------------------------------------------------- sync

  /**
   * Connects the wallet to the chain: subscribes every address's script hash
   * (`blockchain.scripthash.subscribe`), then fetches history and transactions for changed
   * statuses, verifies confirmations (SPV) and follows tips and reorgs. Resolves once the
   * subscriptions are sent (or failed for lack of a connection; they are retried on reconnect).
   * Use `waitUntilSynced` to wait for the data.
   */
  async attachChain(chain: ChainSource): Promise<void> {
    this.detachChain();
    this.chain = chain;
    this.subscriptionsPending = true;
    this.wasUpToDate = false;
    this.unsubscribeChain = chain.on((event) => this.onChainEvent(chain, event));
    await this.subscribeAll(chain);
  }

  /** Stops following the chain (subscriptions are left to the ChainSource). */
  detachChain(): void {
    this.unsubscribeChain?.();
    this.unsubscribeChain = null;
    this.chain = null;
    this.dirty.clear();
  }

  /** True when every subscription is answered, every changed history applied and verifiable confirmations verified. */
  isUpToDate(): boolean {
    const chain = this.chain;
    if (!chain || !chain.isConnected() || !chain.tip()) return false;
    if (this.subscriptionsPending || this.subscriptionsInFlight > 0 || this.workerRunning || this.dirty.size > 0) return false;
    return this.pendingVerifications(chain).length === 0;
  }

  /** The last error hit while synchronising (null after a clean pass). */
  syncError(): FulmenError | null {
    return this.lastSyncError;
  }

  /**
   * Resolves when `isUpToDate()`. @throws FulmenError TIMEOUT after `timeoutMs`, NETWORK when no
   * chain is attached.
   */
  waitUntilSynced(timeoutMs: number): Promise<void> {
    if (this.isUpToDate()) return Promise.resolve();
    if (!this.chain) return Promise.reject(new FulmenError('NETWORK', 'The wallet is not connected to a chain source'));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        off();
        reject(new FulmenError('TIMEOUT', `Wallet not synchronised after ${timeoutMs} ms`));
      }, timeoutMs);
      const off = this.on((e) => {
        if (e.type === 'synced') {
          clearTimeout(timer);
          off();
          resolve();
        }
      });
    });
  }

  private onChainEvent(chain: ChainSource, event: ChainEvent): void {
    if (this.chain !== chain) return;
    switch (event.type) {
      case 'scripthash': {
        const info = this.addresses.get(event.scripthash);
        if (info && info.status !== event.status) this.markDirty(event.scripthash);
        break;
      }
      case 'tip':
        void this.onTip(chain, event.header.height).catch((err) => this.recordError(err));
        break;
      case 'connection':
        if (event.connected) {
          this.subscriptionsPending = true;
          void this.subscribeAll(chain);
        }
        break;
    }
  }

  private async subscribeAll(chain: ChainSource): Promise<void> {
    this.wasUpToDate = false;
    const all = [...this.addresses.values()];
    let failed = false;
    for (let i = 0; i < all.length; i += 50) {
      const results = await Promise.allSettled(all.slice(i, i + 50).map((a) => this.subscribe(a)));
      if (results.some((r) => r.status === 'rejected')) failed = true;
      if (this.chain !== chain) return;
    }
    this.subscriptionsPending = failed;
    this.kick();
  }

  private async subscribe(info: AddressInfo): Promise<void> {
    const chain = this.chain;
    if (!chain) return;
    this.subscriptionsInFlight++;
    this.wasUpToDate = false;
    try {
      const status = await chain.subscribeScripthash(info.scriptHash);
      if (status !== info.status) this.dirty.add(info.scriptHash);
    } catch (err) {
      this.recordError(err);
      throw err;
    } finally {
      this.subscriptionsInFlight--;
      this.kick();
    }
  }

  private markDirty(sh: string): void {
    this.dirty.add(sh);
    this.kick();
  }

  private recordError(err: unknown): void {
    this.lastSyncError = err instanceof FulmenError ? err : new FulmenError('INTERNAL', err instanceof Error ? err.message : String(err));
  }

  /** Starts the sync worker if idle. */
  private kick(): void {
    if (this.workerRunning || !this.chain) {
      this.checkSynced();
      return;
    }
    this.runWorker(this.chain).catch((err) => this.recordError(err));
  }

  private async runWorker(chain: ChainSource): Promise<void> {
    this.workerRunning = true;
    this.wasUpToDate = false;
    try {
      while (this.chain === chain) {
        if (this.dirty.size > 0) {
          const batch = [...this.dirty].slice(0, SYNC_BATCH);
          for (const sh of batch) this.dirty.delete(sh);
          const results = await Promise.allSettled(batch.map((sh) => this.fetchHistory(chain, sh)));
          let changed = false;
          let failed = false;
          results.forEach((r, i) => {
            try {
              if (r.status === 'rejected') throw r.reason;
              if (this.chain === chain && this.applyHistory(batch[i], r.value.history, r.value.txs)) changed = true;
            } catch (err) {
              this.recordError(err);
              this.dirty.add(batch[i]);
              failed = true;
            }
          });
          if (changed) {
            const created = this.ensureGap();
            for (const a of created) this.dirty.add(a.scriptHash);
            this.emitChanges(true);
          }
          if (failed) {
            // Retried on the next tip or reconnection, or after a pause.
            setTimeout(() => this.kick(), SYNC_RETRY_MS).unref();
            break;
          }
          continue;
        }
        const pending = this.pendingVerifications(chain);
        if (pending.length === 0) break;
        await this.verify(chain, pending.slice(0, SYNC_BATCH));
      }
    } finally {
      this.workerRunning = false;
    }
    this.checkSynced();
  }

  private checkSynced(): void {
    const upToDate = this.isUpToDate();
    if (upToDate && !this.wasUpToDate) {
      this.lastSyncError = null;
      this.emitChanges(false);
      this.emit({ type: 'synced' });
    }
    this.wasUpToDate = upToDate;
  }

  /** `get_history` for one script hash plus the raw transactions we do not have yet. */
  private async fetchHistory(
    chain: ChainSource,
    sh: string,
  ): Promise<{ history: HistoryEntry[]; txs: Map<string, Uint8Array> }> {
    const history = await chain.getHistory(sh);
    const missing = history.filter((h) => !this.hasTx(h.txid)).map((h) => h.txid);
    const txs = new Map<string, Uint8Array>();
    const raws = await Promise.all(missing.map((txid) => chain.getTransaction(txid)));
    missing.forEach((txid, i) => txs.set(txid, hexToBytes(raws[i])));
    return { history, txs };
  }

  private hasTx(txid: string): boolean {
    return this.db.prepare('SELECT 1 FROM wallet_txs WHERE txid = ?').get(txid) !== undefined;
  }

  /**
   * Applies a script hash's history in one SQLite transaction: new transactions, changed heights
   * (reorg: verification reset), vanished transactions removed. @returns whether anything changed.
   */
  private applyHistory(sh: string, history: HistoryEntry[], newTxs: Map<string, Uint8Array>): boolean {
    const info = this.addresses.get(sh);
    if (!info) return false;
    const status = electrumStatus(history);
    let changed = false;
    this.db.transaction(() => {
      const old = new Map(
        (this.db.prepare('SELECT txid, height FROM wallet_address_history WHERE script_hash = ?').all(sh) as {
          txid: string;
          height: number;
        }[]).map((r) => [r.txid, r.height]),
      );
      const now = Math.floor(Date.now() / 1000);
      for (const entry of history) {
        const raw = newTxs.get(entry.txid);
        // Another script hash of the same batch may have stored it already.
        if (raw && !this.hasTx(entry.txid)) {
          this.insertTx(entry.txid, raw, entry.height, false, now);
          changed = true;
        } else {
          const row = this.db.prepare('SELECT height, local FROM wallet_txs WHERE txid = ?').get(entry.txid) as
            | { height: number; local: number }
            | undefined;
          if (!row) continue;
          if (row.height !== entry.height) {
            this.db
              .prepare('UPDATE wallet_txs SET height = ?, verified = 0, block_hash = NULL, timestamp = NULL WHERE txid = ?')
              .run(entry.height, entry.txid);
            this.verifyFailedAt.delete(entry.txid);
            changed = true;
          }
          if (row.local) {
            this.db.prepare('UPDATE wallet_txs SET local = 0 WHERE txid = ?').run(entry.txid);
            changed = true;
          }
          this.indexOutputs(entry.txid, this.parsed(entry.txid));
        }
        if (old.get(entry.txid) !== entry.height) {
          this.db
            .prepare(
              'INSERT INTO wallet_address_history (script_hash, txid, height) VALUES (?, ?, ?) ON CONFLICT(script_hash, txid) DO UPDATE SET height = excluded.height',
            )
            .run(sh, entry.txid, entry.height);
          changed = true;
        }
        old.delete(entry.txid);
      }
      for (const vanished of old.keys()) {
        this.db.prepare('DELETE FROM wallet_address_history WHERE script_hash = ? AND txid = ?').run(sh, vanished);
        const stillKnown = this.db.prepare('SELECT 1 FROM wallet_address_history WHERE txid = ?').get(vanished);
        if (!stillKnown) this.removeTxAndDescendants(vanished);
        changed = true;
      }
      // The status of what we applied; a server status that differs triggers a refetch.
      this.db.prepare('UPDATE wallet_addresses SET status = ? WHERE script_hash = ?').run(status, sh);
    })();
    info.status = status;
    return changed;
  }

  private insertTx(txid: string, raw: Uint8Array, height: number, local: boolean, now: number): Transaction {
    const tx = parseTransaction(bytesToHex(raw));
    if (tx.getId() !== txid) throw new FulmenError('SERVER_MISBEHAVED', `Transaction bytes do not match txid ${txid}`);
    this.db
      .prepare(
        'INSERT INTO wallet_txs (txid, raw, height, verified, is_coinbase, local, first_seen) VALUES (?, ?, ?, 0, ?, ?, ?)',
      )
      .run(txid, raw, height, tx.isCoinbase() ? 1 : 0, local ? 1 : 0, now);
    this.parsedTxs.set(txid, tx);
    const insertIn = this.db.prepare('INSERT INTO wallet_txins (txid, n, prev_txid, prev_vout) VALUES (?, ?, ?, ?)');
    if (!tx.isCoinbase()) tx.ins.forEach((input, n) => insertIn.run(txid, n, inputPrevTxid(input), input.index));
    this.indexOutputs(txid, tx);
    return tx;
  }

  /** Records outputs of `tx` paying to our scripts (idempotent; new addresses may match later). */
  private indexOutputs(txid: string, tx: Transaction): void {
    const insertOut = this.db.prepare('INSERT OR IGNORE INTO wallet_txos (txid, vout, script_hash, value_sat) VALUES (?, ?, ?, ?)');
    tx.outs.forEach((out, vout) => {
      const info = this.byScript.get(bytesToHex(out.script));
      if (info) insertOut.run(txid, vout, info.scriptHash, outputValueSat(out));
    });
  }

  private removeTxAndDescendants(txid: string): void {
    const children = this.db.prepare('SELECT DISTINCT txid FROM wallet_txins WHERE prev_txid = ?').all(txid) as { txid: string }[];
    this.db.prepare('DELETE FROM wallet_txs WHERE txid = ?').run(txid);
    this.db.prepare('DELETE FROM wallet_address_history WHERE txid = ?').run(txid);
    this.parsedTxs.delete(txid);
    this.verifyFailedAt.delete(txid);
    for (const child of children) if (child.txid !== txid) this.removeTxAndDescendants(child.txid);
  }

  private parsed(txid: string): Transaction {
    let tx = this.parsedTxs.get(txid);
    if (!tx) {
      const row = this.db.prepare('SELECT raw FROM wallet_txs WHERE txid = ?').get(txid) as { raw: Uint8Array } | undefined;
      if (!row) throw new FulmenError('NOT_FOUND', `Unknown transaction ${txid}`);
      tx = parseTransaction(bytesToHex(row.raw));
      this.parsedTxs.set(txid, tx);
    }
    return tx;
  }

  /** Confirmed-by-server transactions awaiting a merkle check at the current tip. */
  private pendingVerifications(chain: ChainSource): { txid: string; height: number }[] {
    const tip = chain.tip();
    if (!tip) return [];
    const rows = this.db
      .prepare('SELECT txid, height FROM wallet_txs WHERE height > 0 AND height <= ? AND verified = 0')
      .all(tip.height) as { txid: string; height: number }[];
    return rows.filter((r) => this.verifyFailedAt.get(r.txid) !== tip.height);
  }

  private async verify(chain: ChainSource, items: { txid: string; height: number }[]): Promise<void> {
    const tipHeight = chain.tip()?.height ?? 0;
    const results = await Promise.allSettled(items.map((i) => chain.verifyTransaction(i.txid, i.height)));
    let changed = false;
    for (let i = 0; i < items.length; i++) {
      const r = results[i];
      const item = items[i];
      if (r.status === 'rejected' || !r.value.verified) {
        if (r.status === 'rejected') this.recordError(r.reason);
        this.verifyFailedAt.set(item.txid, tipHeight);
        continue;
      }
      let timestamp = r.value.timestamp ?? null;
      let blockHash = r.value.blockHash ?? null;
      if (timestamp === null || blockHash === null) {
        try {
          const header = await chain.getHeader(item.height);
          timestamp ??= header.timestamp;
          blockHash ??= header.hash;
        } catch (err) {
          this.recordError(err);
        }
      }
      const res = this.db
        .prepare('UPDATE wallet_txs SET verified = 1, block_hash = ?, timestamp = ? WHERE txid = ? AND height = ?')
        .run(blockHash, timestamp, item.txid, item.height);
      if (res.changes > 0) {
        this.verifyFailedAt.delete(item.txid);
        this.dropConflictingLocalTxs(item.txid);
        changed = true;
      }
    }
    if (changed) this.emitChanges(true);
  }

  /** A verified transaction wins over local (never seen by the server) ones spending the same coins. */
  private dropConflictingLocalTxs(txid: string): void {
    const conflicts = this.db
      .prepare(
        `SELECT DISTINCT other.txid FROM wallet_txins mine
         JOIN wallet_txins other ON other.prev_txid = mine.prev_txid AND other.prev_vout = mine.prev_vout
         JOIN wallet_txs t ON t.txid = other.txid
         WHERE mine.txid = ? AND other.txid != mine.txid AND t.local = 1`,
      )
      .all(txid) as { txid: string }[];
    if (conflicts.length === 0) return;
    this.db.transaction(() => {
      for (const c of conflicts) this.removeTxAndDescendants(c.txid);
    })();
  }

  /** New tip: undo verification of transactions whose block left the best chain, verify pending ones. */
  private async onTip(chain: ChainSource, tipHeight: number): Promise<void> {
    const recent = this.db
      .prepare('SELECT txid, height, block_hash FROM wallet_txs WHERE verified = 1 AND height > ?')
      .all(tipHeight - REORG_CHECK_DEPTH) as { txid: string; height: number; block_hash: string | null }[];
    const heights = [...new Set(recent.filter((r) => r.height <= tipHeight).map((r) => r.height))];
    const headers = await Promise.all(heights.map((h) => chain.getHeader(h)));
    const hashAt = new Map(headers.map((h) => [h.height, h.hash]));
    let changed = false;
    for (const row of recent) {
      const stale = row.height > tipHeight || (row.block_hash !== null && hashAt.get(row.height) !== row.block_hash);
      if (stale) {
        this.db.prepare('UPDATE wallet_txs SET verified = 0, block_hash = NULL, timestamp = NULL WHERE txid = ?').run(row.txid);
        changed = true;
      }
    }
    const hasTxs = this.db.prepare('SELECT 1 FROM wallet_txs LIMIT 1').get() !== undefined;
    // Confirmations and coinbase maturity move with every tip.
    this.emitChanges(changed || hasTxs);
    this.kick();
  }

  // ---------------------------------------------------------------- balance and coins

  private txos(): TxoRow[] {
    return this.db
      .prepare(
        `SELECT o.txid, o.vout, o.script_hash, o.value_sat, t.height, t.verified, t.is_coinbase
         FROM wallet_txos o JOIN wallet_txs t ON t.txid = o.txid`,
      )
      .all() as TxoRow[];
  }

  /** outpoint "txid:vout" → the spending transaction (a verified confirmed one preferred). */
  private spends(): Map<string, SpendRow> {
    const rows = this.db
      .prepare(
        `SELECT i.prev_txid, i.prev_vout, i.txid, t.height, t.verified
         FROM wallet_txins i JOIN wallet_txs t ON t.txid = i.txid
         JOIN wallet_txos o ON o.txid = i.prev_txid AND o.vout = i.prev_vout`,
      )
      .all() as SpendRow[];
    const map = new Map<string, SpendRow>();
    for (const r of rows) {
      const key = `${r.prev_txid}:${r.prev_vout}`;
      const existing = map.get(key);
      if (!existing || (r.verified && r.height > 0 && !(existing.verified && existing.height > 0))) map.set(key, r);
    }
    return map;
  }

  private tipHeight(): number | null {
    return this.chain?.tip()?.height ?? null;
  }

  private isImmatureCoinbase(o: TxoRow): boolean {
    if (!o.is_coinbase) return false;
    const tip = this.tipHeight();
    const height = o.verified && o.height > 0 ? o.height : 0;
    if (tip === null || height === 0) return true;
    return height + COINBASE_MATURITY > tip + 1;
  }

  /**
   * Electrum's balance (`getbalance`): confirmed = verified receipts minus verified spends;
   * unconfirmed = mempool receipts minus mempool spends; unmatured = immature coinbase outputs.
   */
  getBalance(): WalletBalance {
    let confirmedSat = 0;
    let unconfirmedSat = 0;
    let unmaturedSat = 0;
    const spends = this.spends();
    for (const o of this.txos()) {
      if (this.isImmatureCoinbase(o)) unmaturedSat += o.value_sat;
      else if (o.verified && o.height > 0) confirmedSat += o.value_sat;
      else unconfirmedSat += o.value_sat;
      const spend = spends.get(`${o.txid}:${o.vout}`);
      if (spend) {
        if (spend.verified && spend.height > 0) confirmedSat -= o.value_sat;
        else unconfirmedSat -= o.value_sat;
      }
    }
    return { confirmedSat, unconfirmedSat, unmaturedSat };
  }

  /** Unspent outputs (not spent by any known transaction, local ones included). */
  listUnspent(): WalletUtxo[] {
    const spends = this.spends();
    return this.txos()
      .filter((o) => !spends.has(`${o.txid}:${o.vout}`))
      .map((o) => ({
        txid: o.txid,
        vout: o.vout,
        valueSat: o.value_sat,
        address: this.addresses.get(o.script_hash)!.address,
        height: o.verified && o.height > 0 ? o.height : 0,
      }))
      .sort((a, b) => b.valueSat - a.valueSat || a.txid.localeCompare(b.txid) || a.vout - b.vout);
  }

  // ---------------------------------------------------------------- sending

  private privateAccount(): BIP32Interface {
    this.accountPrivate ??= bip84Account(this.seed, this.network);
    return this.accountPrivate;
  }

  /**
   * Builds and signs a transaction paying `outputs` (largest-first coin selection over spendable
   * coins: unspent, mature, merkle-verified when `excludeUnconfirmed`). Change goes to a fresh
   * change address unless it would be dust (then it is added to the fee). Outputs are shuffled;
   * `outputIndexes` maps them back.
   * @throws FulmenError BAD_INPUT (bad/foreign address, bad amount, dust output, two 'max', bad
   *   feerate), INSUFFICIENT_FUNDS (message: available vs needed).
   */
  createTransaction(req: CreateTransactionRequest): CreatedTransaction {
    const feerate = req.feerateSatPerVbyte;
    if (typeof feerate !== 'number' || !Number.isFinite(feerate) || feerate <= 0 || feerate > 100_000) {
      throw badInput(`Invalid feerate: ${String(feerate)} sat/vB`);
    }
    if (!Array.isArray(req.outputs) || req.outputs.length === 0) throw badInput('A transaction needs at least one output');
    const lockTime = req.lockTime ?? this.tipHeight() ?? 0;
    if (!Number.isInteger(lockTime) || lockTime < 0 || lockTime > 0xffffffff) throw badInput(`Invalid lock time: ${lockTime}`);
    const sequence = req.rbf === false ? SEQUENCE_NO_RBF : SEQUENCE_RBF;

    const requested = req.outputs.map((o, i) => {
      let script: Uint8Array;
      if (o.address !== undefined && o.scriptPubKey === undefined) script = addressToScriptPubKey(o.address, this.network);
      else if (o.scriptPubKey !== undefined && o.address === undefined) {
        if (!(o.scriptPubKey instanceof Uint8Array) || o.scriptPubKey.length === 0 || o.scriptPubKey.length > 10_000) {
          throw badInput(`Output ${i + 1}: invalid scriptPubKey`);
        }
        script = o.scriptPubKey;
      } else throw badInput(`Output ${i + 1}: give either an address or a scriptPubKey`);
      if (o.amountSat !== 'max') {
        if (!Number.isSafeInteger(o.amountSat) || o.amountSat <= 0 || o.amountSat > MAX_MONEY_SAT) {
          throw badInput(`Output ${i + 1}: invalid amount ${String(o.amountSat)} (integer satoshis expected)`);
        }
        const dust = dustThresholdSat(script);
        if (o.amountSat < dust) throw badInput(`Output ${i + 1}: ${o.amountSat} sat is below the dust limit of ${dust} sat`);
      }
      return { script, amount: o.amountSat };
    });
    const maxOutputs = requested.filter((o) => o.amount === 'max').length;
    if (maxOutputs > 1) throw badInput("Only one output can send 'max'");
    const fixedTotal = requested.reduce((s, o) => s + (o.amount === 'max' ? 0 : o.amount), 0);
    if (fixedTotal > MAX_MONEY_SAT) throw badInput('Total amount too large');

    const coins = this.spendableCoins(req.excludeUnconfirmed ?? false);
    const available = coins.reduce((s, c) => s + c.value_sat, 0);
    const outputScripts = requested.map((o) => o.script);
    const changeScript = addressToScriptPubKey(this.getNewChangeAddress(), this.network);
    const changeDust = dustThresholdSat(changeScript);
    const feeFor = (nInputs: number, scripts: Uint8Array[]) =>
      feeForVsize(estimateTxVsize(Array(nInputs).fill(P2WPKH_INPUT), scripts), feerate);

    let selected: TxoRow[];
    const amounts: number[] = [];
    let changeSat = 0;
    if (maxOutputs === 1) {
      selected = coins;
      const fee = feeFor(selected.length, outputScripts);
      const maxAmount = available - fixedTotal - fee;
      const maxScript = requested.find((o) => o.amount === 'max')!.script;
      if (maxAmount < dustThresholdSat(maxScript)) {
        throw new FulmenError(
          'INSUFFICIENT_FUNDS',
          `Insufficient funds: available ${available} sat, needed more than ${fixedTotal + fee + dustThresholdSat(maxScript)} sat (amounts + fee + dust limit)`,
          { availableSat: available, neededSat: fixedTotal + fee + dustThresholdSat(maxScript) },
        );
      }
      for (const o of requested) amounts.push(o.amount === 'max' ? maxAmount : o.amount);
    } else {
      selected = [];
      let sum = 0;
      let done = false;
      for (const coin of coins) {
        selected.push(coin);
        sum += coin.value_sat;
        const feeWithChange = feeFor(selected.length, [...outputScripts, changeScript]);
        const feeNoChange = feeFor(selected.length, outputScripts);
        if (sum - fixedTotal - feeWithChange >= changeDust) {
          changeSat = sum - fixedTotal - feeWithChange;
          done = true;
          break;
        }
        if (sum >= fixedTotal + feeNoChange) {
          done = true;
          break;
        }
      }
      if (!done) {
        const needed = fixedTotal + feeFor(Math.max(coins.length, 1), outputScripts);
        throw new FulmenError(
          'INSUFFICIENT_FUNDS',
          `Insufficient funds: available ${available} sat, needed ${needed} sat (${fixedTotal} sat + fee at ${feerate} sat/vB)`,
          { availableSat: available, neededSat: needed },
        );
      }
      for (const o of requested) amounts.push(o.amount as number);
    }

    const outputs: TxOutputSpec[] = requested.map((o, i) => ({ scriptPubKey: o.script, valueSat: amounts[i] }));
    if (changeSat > 0) outputs.push({ scriptPubKey: changeScript, valueSat: changeSat });
    const order = shuffledIndexes(outputs.length);
    const tx = buildTransaction({
      inputs: shuffle(selected).map((c) => ({ txid: c.txid, vout: c.vout, sequence })),
      outputs: order.map((i) => outputs[i]),
      lockTime,
    });
    const byOutpoint = new Map(selected.map((c) => [`${c.txid}:${c.vout}`, c]));
    const account = this.privateAccount();
    tx.ins.forEach((input, n) => {
      const coin = byOutpoint.get(`${inputPrevTxid(input)}:${input.index}`)!;
      const info = this.addresses.get(coin.script_hash)!;
      signP2wpkhInput(tx, n, deriveAccountKey(account, info.chain, info.index), coin.value_sat);
    });
    const inputTotal = selected.reduce((s, c) => s + c.value_sat, 0);
    const outputTotal = outputs.reduce((s, o) => s + o.valueSat, 0);
    const { txHex, txid, vsize } = serializeTransaction(tx);
    const vout = (i: number) => order.indexOf(i);
    return {
      txHex,
      txid,
      vsize,
      feeSat: inputTotal - outputTotal,
      outputIndexes: requested.map((_, i) => vout(i)),
      changeIndex: changeSat > 0 ? vout(outputs.length - 1) : null,
    };
  }

  private spendableCoins(confirmedOnly: boolean): TxoRow[] {
    const spends = this.spends();
    return this.txos()
      .filter((o) => !spends.has(`${o.txid}:${o.vout}`))
      .filter((o) => !this.isImmatureCoinbase(o))
      .filter((o) => !confirmedOnly || (o.verified && o.height > 0))
      .sort((a, b) => b.value_sat - a.value_sat || a.txid.localeCompare(b.txid) || a.vout - b.vout);
  }

  /**
   * Broadcasts a signed transaction (`blockchain.transaction.broadcast`) and, once accepted,
   * records it as a local unconfirmed transaction so balance, history and coin selection see it
   * immediately. @returns txid. @throws FulmenError BAD_INPUT (malformed or rejected, with the
   * server's reason), NETWORK — nothing is recorded then.
   */
  async broadcast(txHex: string): Promise<string> {
    const tx = parseTransaction(txHex);
    const chain = this.chain;
    if (!chain) throw new FulmenError('NETWORK', 'Not connected: cannot broadcast');
    const txid = await chain.broadcast(txHex);
    if (txid !== tx.getId()) {
      throw new FulmenError('SERVER_MISBEHAVED', 'The server answered the broadcast with a different txid');
    }
    if (!this.hasTx(txid)) {
      this.db.transaction(() => {
        this.insertTx(txid, hexToBytes(txHex), 0, true, Math.floor(Date.now() / 1000));
      })();
      this.ensureGap();
      this.emitChanges(true);
    }
    return txid;
  }

  // ---------------------------------------------------------------- history

  /**
   * On-chain history, newest first (unconfirmed first). deltaSat is the net effect on the wallet;
   * confirmations count only merkle-verified blocks.
   */
  getOnchainHistory(): OnchainHistoryItem[] {
    const txs = this.db.prepare('SELECT * FROM wallet_txs').all() as TxRow[];
    const ours = new Map<string, number>();
    const ourScript = new Map<string, string>();
    for (const o of this.txos()) {
      ours.set(`${o.txid}:${o.vout}`, o.value_sat);
      ourScript.set(`${o.txid}:${o.vout}`, o.script_hash);
    }
    const tip = this.tipHeight();
    const requestMemoByAddress = new Map<string, string>();
    for (const r of this.requests.list()) if (r.address && r.memo && !requestMemoByAddress.has(r.address)) requestMemoByAddress.set(r.address, r.memo);

    const items = txs.map((row) => {
      const tx = this.parsed(row.txid);
      let received = 0;
      let sent = 0;
      let inputTotal: number | null = 0;
      const labelCandidates: string[] = [];
      tx.outs.forEach((_, vout) => {
        const v = ours.get(`${row.txid}:${vout}`);
        if (v !== undefined) {
          received += v;
          const address = this.addresses.get(ourScript.get(`${row.txid}:${vout}`)!)!.address;
          labelCandidates.push(this.getLabel(address) || requestMemoByAddress.get(address) || '');
        }
      });
      if (!tx.isCoinbase()) {
        for (const input of tx.ins) {
          const prevTxid = inputPrevTxid(input);
          const v = ours.get(`${prevTxid}:${input.index}`);
          if (v !== undefined) sent += v;
          if (inputTotal !== null) {
            const prev = this.hasTx(prevTxid) ? this.parsed(prevTxid) : null;
            const prevOut = prev?.outs[input.index];
            inputTotal = prevOut ? inputTotal + outputValueSat(prevOut) : null;
          }
        }
      } else {
        inputTotal = null;
      }
      const outputTotal = tx.outs.reduce((s, o) => s + outputValueSat(o), 0);
      const verified = row.verified === 1 && row.height > 0;
      return {
        txid: row.txid,
        height: row.height,
        confirmations: verified && tip !== null ? Math.max(0, tip - row.height + 1) : 0,
        timestamp: verified ? row.timestamp : null,
        deltaSat: received - sent,
        feeSat: inputTotal === null ? null : inputTotal - outputTotal,
        verified,
        label: this.getLabel(row.txid) || labelCandidates.find((l) => l !== '') || '',
        firstSeen: row.first_seen,
      };
    });
    items.sort((a, b) => {
      const ha = a.verified ? a.height : Number.MAX_SAFE_INTEGER;
      const hb = b.verified ? b.height : Number.MAX_SAFE_INTEGER;
      return hb - ha || b.firstSeen - a.firstSeen || a.txid.localeCompare(b.txid);
    });
    return items.map(({ firstSeen: _firstSeen, ...item }) => item);
  }

  /**
   * Marks on-chain requests paid once their address has received at least the amount in
   * merkle-verified transactions (any amount > 0 for open-amount requests).
   */
  private updateRequests(): void {
    const received = new Map<string, number>();
    for (const o of this.txos()) {
      if (!(o.verified && o.height > 0)) continue;
      const address = this.addresses.get(o.script_hash)!.address;
      received.set(address, (received.get(address) ?? 0) + o.value_sat);
    }
    for (const r of this.requests.list()) {
      if (!r.address || (r.status !== 'unpaid' && r.status !== 'expired')) continue;
      const got = received.get(r.address) ?? 0;
      if (got > 0 && got >= (r.amountSat ?? 1)) this.requests.setStatus(r.rhash, 'paid');
    }
  }
}

/** Electrum status of a history: sha256 of "txid:height:" concatenated, hex; null when empty. */
export function electrumStatus(history: HistoryEntry[]): string | null {
  if (history.length === 0) return null;
  return bytesToHex(sha256(utf8ToBytes(history.map((h) => `${h.txid}:${h.height}:`).join(''))));
}

function sealSecret(secret: WalletSecret, password: string | undefined): { salt: Uint8Array | null; box: Uint8Array } {
  const plaintext = utf8ToBytes(JSON.stringify(secret));
  if (!password) return { salt: null, box: plaintext };
  const salt = newSalt();
  return { salt, box: seal(deriveStorageKey(password, salt), plaintext, SECRET_AD) };
}

function shuffledIndexes(n: number): number[] {
  return shuffle(Array.from({ length: n }, (_, i) => i));
}

function shuffle<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}
