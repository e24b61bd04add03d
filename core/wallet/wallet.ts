import { randomInt } from 'node:crypto';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, utf8ToBytes } from '@noble/hashes/utils.js';
import type Database from 'better-sqlite3';
import type { Db } from '../storage/db.js';
import { deriveStorageKey, newSalt, seal, unseal } from '../storage/crypto.js';
import type { ChainEvent, ChainSource, CheckedTransaction, HistoryEntry, TxConfirmation } from '../chain/types.js';
import { toHex } from '../chain/bytes.js';
import { FulmenError, badInput } from '../util/errors.js';
import { MAX_MONEY_SAT, formatSatAsBtc } from '../util/money.js';
import { NETWORK_NAMES, type NetworkName } from '../bitcoin/network.js';
import * as bitcoin from 'bitcoinjs-lib';
import {
  CHANGE_CHAIN,
  RECEIVE_CHAIN,
  accountFromSeed,
  accountFromXpub,
  bip84AccountPath,
  deriveAccountKey,
  deriveAccountPublicKeys,
  generateMnemonic,
  isValidMnemonic,
  lightningRootSecretFromSeed,
  looksLikeExtendedPublicKey,
  masterFingerprint,
  mnemonicToSeed,
  normalizeMnemonic,
  parseAccountExtendedKey,
  toSegwitExtendedKey,
  type BIP32Interface,
  type KeyChain,
} from '../bitcoin/keys.js';
import { ELECTRUM_SEGWIT_ACCOUNT_PATH, electrumMnemonicToSeed, electrumSeedType, normalizeElectrumText } from '../bitcoin/electrum-seed.js';
import { bitcoinNetwork } from '../bitcoin/network.js';
import { signMessage } from '../bitcoin/message.js';
import { selectCoins } from './coinselection.js';
import { csvField, formatBip329, labelKey, parseBip329, recordOfKey, type Bip329Record } from './labels.js';
import { addressToScriptPubKey, p2wpkhOutput, scriptHash } from '../bitcoin/address.js';
import {
  P2WPKH_INPUT,
  SEQUENCE_NO_RBF,
  SEQUENCE_RBF,
  dustThresholdSat,
  estimateTxVsize,
  feeForVsize,
  inputPrevTxid,
  outputValueSat,
  parseTransaction,
  type Transaction,
  type TxOutputSpec,
} from '../bitcoin/transaction.js';
import { RequestStore } from './requests.js';
import { psbtToV0 } from './psbt-v2.js';
import { reserveError, walletReserve, type WalletReserve } from './reserve.js';

/** Addresses kept unused beyond the last used one, on each chain (Electrum's gap limit). */
export const GAP_LIMIT = 20;
/** Blocks before a coinbase output can be spent (consensus). */
export const COINBASE_MATURITY = 100;
/** How many recent blocks are re-checked for reorgs when a new tip arrives. */
const REORG_CHECK_DEPTH = 10;
/** Delay before retrying a failed history fetch, ms. */
const SYNC_RETRY_MS = 5_000;
/**
 * Electrum requests in flight at once while syncing. ChainNetwork pipelines them on one
 * connection, so the window hides the round-trip time without flooding the server.
 */
const SYNC_WINDOW = 256;
/** Most addresses derived past the gap limit at once while discovering (see Wallet.extendGapForStatus). */
const LOOKAHEAD_MAX = 500;
/** Confirmations verified (merkle proofs) per worker pass; results are written in one SQLite transaction. */
const VERIFY_CHUNK = 2_000;
/**
 * While a sync applies batches, the balance (a scan of every output) is recomputed and announced
 * at most this often (ms); the 'synced' pass announces it at once.
 */
const SYNC_BALANCE_INTERVAL_MS = 500;

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
  /** Frozen by the user (freeze_utxo): never selected automatically. */
  frozen: boolean;
  coinbase: boolean;
  /** Coinbase output with fewer than 100 confirmations (COINBASE_MATURITY): not spendable yet. */
  immature: boolean;
}

/** How the wallet's keys came: BIP39 (BIP84 account), Electrum segwit seed (m/0'), or watch-only. */
export type WalletSeedType = 'bip39' | 'electrum' | 'xpub';

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
  /**
   * Coin control (Electrum `--from_coins`): "txid:vout" outpoints; selection only picks among
   * them. Frozen coins are refused even here (unfreeze first).
   */
  fromCoins?: string[];
  /**
   * The transaction funds a new option_anchors channel: the anchor reserve (reserve.ts) that must
   * remain afterwards counts that channel too.
   */
  opensAnchorChannel?: boolean;
  /** Return an unsigned PSBT instead of signing (watch-only wallets always do). */
  unsigned?: boolean;
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
  /** BIP174 PSBT (base64): unsigned when `unsigned` was asked, else signed and finalized. */
  psbt: string;
  /** True when txHex is signed and ready to broadcast (false: unsigned PSBT only). */
  complete: boolean;
  /** Coin selection used: 'bnb' (exact match, no change), 'srd' (random draw), 'all' (max or fixed inputs). */
  selection: 'bnb' | 'srd' | 'all';
  /** Outpoints spent, "txid:vout", in input order. */
  inputs: string[];
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
  seed_type: WalletSeedType;
  account_path: string | null;
  root_fingerprint: string | null;
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
  /** Position in its block (merkle proof), set with `verified`. */
  block_pos: number | null;
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

type Statement = Database.Statement<unknown[], unknown>;

/**
 * A BIP84 (native segwit P2WPKH) single-account wallet over a SQLite database, synchronised with
 * an Electrum server through `ChainSource` (subscriptions, history, SPV-verified confirmations).
 * The seed is kept encrypted at rest when the wallet has a password, and in memory once opened.
 */
export class Wallet {
  private readonly listeners = new Set<(e: WalletEvent) => void>();
  private readonly statements = new Map<string, Statement>();
  /** getBalance() result and the database/tip state it was computed for (see balanceStateKey). */
  private balanceCache: { key: string; balance: WalletBalance } | null = null;
  private readonly addresses = new Map<string, AddressInfo>();
  private readonly byAddress = new Map<string, AddressInfo>();
  private readonly byScript = new Map<string, AddressInfo>();
  private readonly parsedTxs = new Map<string, Transaction>();
  private readonly account: BIP32Interface;
  private accountPrivate: BIP32Interface | null = null;
  private chain: ChainSource | null = null;
  private unsubscribeChain: (() => void) | null = null;
  private readonly dirty = new Set<string>();
  /**
   * Histories asked for as soon as a subscription answers with a new status, by script hash, for
   * the next fetchBatch to take. ElectrumX reads the history to compute the status and keeps it in
   * a small cache (1,000 script hashes): asked right away, get_history is answered from that cache;
   * asked after a restore's thousands of other subscriptions, it is read from disk a second time.
   */
  private readonly prefetchedHistories = new Map<string, { chain: ChainSource; history: Promise<HistoryEntry[]> }>();
  /** Look-ahead addresses derived past the gap limit during this sync (see ensureGap, trimLookahead). */
  private readonly speculative = new Set<string>();
  /** Script hashes the server reported a non-null status for (used), before their history is applied (see extendGapForStatus). */
  private readonly reportedUsed = new Set<string>();
  /** Per chain: how many of `reportedUsed` are on it. */
  private readonly reportedUsedPerChain = new Map<KeyChain, number>();
  /** Per chain: derived addresses (highest index + 1), kept by `index` and `trimLookahead`. */
  private readonly chainLengths = new Map<KeyChain, number>();
  /** Script hashes of reserved addresses (wallet_reserved_addresses, see reserveAddress). */
  private readonly reservedScriptHashes = new Set<string>();
  private subscriptionsPending = true;
  private subscriptionsInFlight = 0;
  private workerRunning = false;
  private verifierRunning = false;
  /** txid → tip height at which verification last failed (retried on the next tip). */
  private readonly verifyFailedAt = new Map<string, number>();
  private lastBalance: WalletBalance | null = null;
  /** A throttled balance announcement pending (emitChanges), and when the last one ran (ms). */
  private balanceTimer: NodeJS.Timeout | null = null;
  private balanceEmittedAt = 0;
  private wasUpToDate = false;
  private lastSyncError: FulmenError | null = null;
  /** Counts the option_anchors channels the anchor reserve is kept for (setAnchorChannelCounter). */
  private anchorChannelCounter: (() => number) | null = null;
  readonly requests: RequestStore;

  private constructor(
    private readonly db: Db,
    /** Bitcoin network of this wallet. */
    readonly network: NetworkName,
    /** Account xpub (standard BIP32 encoding: xpub/tpub) at `accountPath`. */
    readonly xpub: string,
    /** null for a watch-only wallet. */
    private readonly seed: Uint8Array | null,
    private readonly secret: WalletSecret | null,
    /** Whether the seed is encrypted with a password. */
    private passwordSalt: Uint8Array | null,
    readonly seedType: WalletSeedType,
    /** Derivation of the account from the seed ("m/84'/1'/0'", "m/0'"); null when watch-only. */
    readonly accountPath: string | null,
    /** BIP32 master key fingerprint (hex), or the account key's own when watch-only. */
    readonly rootFingerprint: string,
  ) {
    this.account = accountFromXpub(xpub, network);
    this.requests = new RequestStore(db);
    const rows = db
      .prepare('SELECT script_hash, address, chain, idx, script_pubkey, status FROM wallet_addresses ORDER BY chain, idx')
      .all() as { script_hash: string; address: string; chain: KeyChain; idx: number; script_pubkey: Uint8Array; status: string | null }[];
    for (const r of rows) {
      this.index({ scriptHash: r.script_hash, address: r.address, chain: r.chain, index: r.idx, scriptPubKey: new Uint8Array(r.script_pubkey), status: r.status });
    }
    for (const r of db.prepare('SELECT script_hash FROM wallet_reserved_addresses').all() as { script_hash: string }[]) {
      this.reservedScriptHashes.add(r.script_hash);
    }
  }

  /** A prepared statement for `text`, compiled once per wallet (better-sqlite3 statements are reusable). */
  private sql(text: string): Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
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
    const wallet = Wallet.store(db, opts.network, 'bip39', { mnemonic, passphrase, seed }, null, opts.password);
    return { wallet, mnemonic };
  }

  /**
   * Restores a wallet from `text`, detecting its kind the way Electrum does: an extended public
   * key (zpub/vpub, or xpub/tpub read as P2WPKH) makes a watch-only wallet; an Electrum segwit
   * seed (version prefix "100") restores Electrum's m/0' account; otherwise a valid BIP39
   * mnemonic restores the BIP84 account 0 (with `passphrase` as BIP39 passphrase). Only account
   * 0 is scanned (gap limit 20 on each chain), as Electrum does for a BIP39 seed at its default
   * path; funds on other BIP84 accounts are not searched.
   * `seedType` forces the reading of an ambiguous phrase ('electrum' or 'bip39').
   * @throws FulmenError BAD_INPUT (not a seed we can restore: Electrum standard/2FA/old seeds,
   *   bad BIP39 words or checksum, a bad key), WALLET_EXISTS. Nothing is written then.
   */
  static restore(
    db: Db,
    opts: { network: NetworkName; text: string; passphrase?: string; password?: string; seedType?: 'electrum' | 'bip39' },
  ): { wallet: Wallet; seedType: WalletSeedType } {
    if (!NETWORK_NAMES.includes(opts.network)) throw badInput(`Unknown network: ${String(opts.network)}`);
    if (Wallet.exists(db)) throw new FulmenError('WALLET_EXISTS', 'A wallet already exists in this file');
    const text = opts.text.trim();
    const passphrase = opts.passphrase ?? '';
    if (looksLikeExtendedPublicKey(text)) {
      if (passphrase) throw badInput('A watch-only wallet (extended public key) has no passphrase');
      const account = parseAccountExtendedKey(text, opts.network);
      return { wallet: Wallet.store(db, opts.network, 'xpub', null, account, opts.password), seedType: 'xpub' };
    }
    const electrumType = electrumSeedType(text);
    const bip39Valid = isValidMnemonic(text);
    if (opts.seedType !== 'bip39' && electrumType === 'segwit') {
      const mnemonic = normalizeElectrumText(text);
      const seed = electrumMnemonicToSeed(mnemonic, passphrase);
      return { wallet: Wallet.store(db, opts.network, 'electrum', { mnemonic, passphrase, seed }, null, opts.password), seedType: 'electrum' };
    }
    if (opts.seedType === 'electrum') {
      throw badInput(
        electrumType ? `This is an Electrum "${electrumType}" seed; only Electrum segwit seeds can be restored` : 'This is not an Electrum seed',
      );
    }
    if (!bip39Valid && electrumType !== null) {
      throw badInput(
        `This is an Electrum "${electrumType}" seed; Fulmen restores Electrum segwit seeds and BIP39 seeds only`,
        { reason: 'unsupported_electrum_seed', seedType: electrumType },
      );
    }
    const { wallet } = Wallet.create(db, { network: opts.network, mnemonic: text, passphrase, password: opts.password });
    return { wallet, seedType: 'bip39' };
  }

  /** Writes the keys row and derives the first addresses, in one SQLite transaction. */
  private static store(
    db: Db,
    network: NetworkName,
    seedType: WalletSeedType,
    secret: { mnemonic: string; passphrase: string; seed: Uint8Array } | null,
    watchAccount: BIP32Interface | null,
    password: string | undefined,
  ): Wallet {
    let accountPath: string | null = null;
    let xpub: string;
    let fingerprint: string;
    if (secret) {
      accountPath = seedType === 'electrum' ? ELECTRUM_SEGWIT_ACCOUNT_PATH : bip84AccountPath(network);
      xpub = accountFromSeed(secret.seed, network, accountPath).neutered().toBase58();
      fingerprint = masterFingerprint(secret.seed, network);
    } else {
      xpub = watchAccount!.neutered().toBase58();
      fingerprint = bytesToHex(watchAccount!.fingerprint);
    }
    const stored: WalletSecret | null = secret ? { mnemonic: secret.mnemonic, passphrase: secret.passphrase, seed: bytesToHex(secret.seed) } : null;
    const { salt, box } = sealSecret(stored, password);
    return db.transaction(() => {
      db.prepare(
        `INSERT INTO wallet_keys (id, network, xpub, password_salt, secret_box, created_at, seed_type, account_path, root_fingerprint)
         VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ).run(network, xpub, salt, box, Math.floor(Date.now() / 1000), seedType, accountPath, fingerprint);
      const created = new Wallet(db, network, xpub, secret?.seed ?? null, stored, salt, seedType, accountPath, fingerprint);
      created.ensureGap();
      return created;
    })();
  }

  /** True for a wallet restored from an extended public key: it can watch and make PSBTs, not sign. */
  get isWatchOnly(): boolean {
    return this.seed === null;
  }

  /** The account key as Electrum's `getmpk` prints it for P2WPKH: zpub (mainnet) or vpub. */
  masterPublicKey(): string {
    return toSegwitExtendedKey(this.account, this.network);
  }

  /**
   * Opens the wallet stored in `db`.
   * @throws FulmenError NO_WALLET when there is none, WRONG_PASSWORD when the password is missing
   *   or wrong (for a wallet without password, any given password is ignored).
   */
  static open(db: Db, opts: { password?: string } = {}): Wallet {
    const row = db
      .prepare('SELECT network, xpub, password_salt, secret_box, seed_type, account_path, root_fingerprint FROM wallet_keys WHERE id = 1')
      .get() as KeysRow | undefined;
    if (!row) throw new FulmenError('NO_WALLET', 'No wallet in this file');
    let plaintext: Uint8Array;
    if (row.password_salt) {
      if (!opts.password) throw new FulmenError('WRONG_PASSWORD', 'This wallet is protected by a password');
      const key = deriveStorageKey(opts.password, row.password_salt);
      plaintext = unseal(key, row.secret_box, SECRET_AD);
    } else {
      plaintext = row.secret_box;
    }
    const secret = JSON.parse(new TextDecoder().decode(plaintext)) as WalletSecret | null;
    const seed = secret ? hexToBytes(secret.seed) : null;
    const accountPath = secret ? (row.account_path ?? bip84AccountPath(row.network)) : null;
    if (seed && accountFromSeed(seed, row.network, accountPath!).neutered().toBase58() !== row.xpub) {
      throw new FulmenError('INTERNAL', 'Wallet file is inconsistent: the stored xpub does not match the seed');
    }
    const fingerprint = row.root_fingerprint ?? (seed ? masterFingerprint(seed, row.network) : bytesToHex(accountFromXpub(row.xpub, row.network).fingerprint));
    const wallet = new Wallet(
      db,
      row.network,
      row.xpub,
      seed,
      secret,
      row.password_salt ? new Uint8Array(row.password_salt) : null,
      row.seed_type ?? 'bip39',
      accountPath,
      fingerprint,
    );
    wallet.ensureGap();
    return wallet;
  }

  /**
   * Sets, changes (newPassword non-empty) or removes (null/empty) the password. The wallet must
   * be open, so the caller has already proven the old password.
   */
  setPassword(newPassword: string | null): void {
    const { salt, box } = sealSecret(this.secret, newPassword ?? undefined);
    this.sql('UPDATE wallet_keys SET password_salt = ?, secret_box = ? WHERE id = 1').run(salt, box);
    this.passwordSalt = salt;
  }

  /**
   * The BIP39 mnemonic and passphrase (Electrum `getseed`). When the wallet has a password it must
   * be given again. @throws FulmenError WRONG_PASSWORD.
   */
  getSeedPhrase(password?: string): { mnemonic: string; passphrase: string } {
    if (!this.secret) throw badInput('This watch-only wallet has no seed');
    if (this.passwordSalt) {
      if (!password) throw new FulmenError('WRONG_PASSWORD', 'The password is required');
      const row = this.sql('SELECT secret_box FROM wallet_keys WHERE id = 1').get() as { secret_box: Uint8Array };
      unseal(deriveStorageKey(password, this.passwordSalt), row.secret_box, SECRET_AD);
    }
    return { mnemonic: this.secret.mnemonic, passphrase: this.secret.passphrase };
  }

  /**
   * 32 bytes for the Lightning node: the private key at BIP32 m/67'/0'/0' of the seed. Node key
   * and channel keys derive from it, so restoring the seed restores the node id.
   */
  lightningRootSecret(): Uint8Array {
    if (!this.seed) throw badInput('A watch-only wallet has no keys for Lightning');
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

  /** `throttled`: from the sync loops, the balance is announced at most every SYNC_BALANCE_INTERVAL_MS. */
  private emitChanges(historyChanged: boolean, throttled = false): void {
    if (historyChanged) {
      this.updateRequests();
      this.emit({ type: 'history' });
    }
    if (throttled) {
      if (this.balanceTimer) return;
      const wait = this.balanceEmittedAt + SYNC_BALANCE_INTERVAL_MS - Date.now();
      if (wait > 0) {
        this.balanceTimer = setTimeout(() => {
          this.balanceTimer = null;
          this.emitBalance();
        }, wait);
        this.balanceTimer.unref();
        return;
      }
    }
    this.emitBalance();
  }

  /** Announces the balance when it changed since the last announcement. */
  private emitBalance(): void {
    if (this.balanceTimer) clearTimeout(this.balanceTimer);
    this.balanceTimer = null;
    this.balanceEmittedAt = Date.now();
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
    this.chainLengths.set(info.chain, Math.max(this.chainLengths.get(info.chain) ?? 0, info.index + 1));
    this.addresses.set(info.scriptHash, info);
    this.byAddress.set(info.address, info);
    this.byScript.set(bytesToHex(info.scriptPubKey), info);
  }

  private deriveAddress(chain: KeyChain, index: number): AddressInfo {
    return this.deriveAddresses(chain, index, 1)[0]!;
  }

  /** Addresses `from` … `from + count - 1` of `chain` (BIP32 CKDpub on native libsecp256k1). */
  private deriveAddresses(chain: KeyChain, from: number, count: number): AddressInfo[] {
    return deriveAccountPublicKeys(this.account, chain, from, count).map((pubkey, i) => {
      const { scriptPubKey, address } = p2wpkhOutput(pubkey, this.network);
      return { scriptHash: scriptHash(scriptPubKey), address, chain, index: from + i, scriptPubKey, status: null };
    });
  }

  private usedScriptHashes(): Set<string> {
    const rows = this.sql('SELECT script_hash FROM wallet_address_history UNION SELECT script_hash FROM wallet_txos').all() as {
      script_hash: string;
    }[];
    return new Set(rows.map((r) => r.script_hash));
  }

  /** Per chain: highest used index (-1 when none) and number of derived addresses. */
  private chainUsage(used: Set<string>): Map<KeyChain, { lastUsed: number; count: number }> {
    const usage = new Map<KeyChain, { lastUsed: number; count: number }>([
      [RECEIVE_CHAIN, { lastUsed: -1, count: 0 }],
      [CHANGE_CHAIN, { lastUsed: -1, count: 0 }],
    ]);
    for (const a of this.addresses.values()) {
      const u = usage.get(a.chain)!;
      u.count = Math.max(u.count, a.index + 1);
      if (used.has(a.scriptHash)) u.lastUsed = Math.max(u.lastUsed, a.index);
    }
    return usage;
  }

  /**
   * Derives addresses until each chain has GAP_LIMIT unused ones after its last used one (the
   * sync look-ahead is derived earlier, from subscription statuses: see extendGapForStatus).
   */
  private ensureGap(): AddressInfo[] {
    const created: AddressInfo[] = [];
    for (const [chain, { lastUsed, count }] of this.chainUsage(this.usedScriptHashes())) {
      const gapEnd = lastUsed + GAP_LIMIT; // last index the gap limit asks for
      if (gapEnd < count) continue;
      created.push(...this.deriveAddresses(chain, count, gapEnd - count + 1));
    }
    this.storeAddresses(created);
    return created;
  }

  /**
   * Once synchronised: forgets the look-ahead addresses that stayed unused beyond the gap limit,
   * so the wallet keeps exactly GAP_LIMIT unused addresses after its last used one (as Electrum).
   * Their server subscriptions are left; notifications for unknown script hashes are ignored.
   */
  private trimLookahead(): void {
    if (this.speculative.size === 0) return;
    const used = this.usedScriptHashes();
    const usage = this.chainUsage(used);
    const requested = new Set(this.requests.list().map((r) => r.address));
    const droppable = (a: AddressInfo): boolean =>
      this.speculative.has(a.scriptHash) && !used.has(a.scriptHash) && !this.reservedScriptHashes.has(a.scriptHash) && a.status === null && !requested.has(a.address) && a.index > usage.get(a.chain)!.lastUsed + GAP_LIMIT;
    // Only a contiguous tail of each chain goes, so indexes stay 0..n-1.
    const keptUpTo = new Map<KeyChain, number>([[RECEIVE_CHAIN, -1], [CHANGE_CHAIN, -1]]);
    for (const a of this.addresses.values()) if (!droppable(a)) keptUpTo.set(a.chain, Math.max(keptUpTo.get(a.chain)!, a.index));
    const drop = [...this.addresses.values()].filter((a) => droppable(a) && a.index > keptUpTo.get(a.chain)!);
    const remove = this.sql('DELETE FROM wallet_addresses WHERE script_hash = ? AND status IS NULL');
    this.db.transaction(() => {
      for (const a of drop) remove.run(a.scriptHash);
    })();
    for (const a of drop) {
      this.addresses.delete(a.scriptHash);
      this.byAddress.delete(a.address);
      this.byScript.delete(bytesToHex(a.scriptPubKey));
    }
    this.chainLengths.clear();
    for (const a of this.addresses.values()) this.chainLengths.set(a.chain, Math.max(this.chainLengths.get(a.chain) ?? 0, a.index + 1));
    this.speculative.clear();
  }

  private storeAddresses(infos: AddressInfo[]): void {
    if (infos.length === 0) return;
    const insert = this.sql(
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

  /** First change address without history and not reserved (derives a new one when all are taken). */
  getNewChangeAddress(): string {
    return this.firstUnused(CHANGE_CHAIN, new Set());
  }

  /**
   * Reserves a change address for a commitment made before any transaction pays it (BOLT 2
   * `upfront_shutdown_script`): an address without history that neither getUnusedAddress nor
   * getNewChangeAddress hands out again, nor will after a restart (wallet_reserved_addresses),
   * until a transaction pays it. `purpose` is stored with it (e.g. 'upfront_shutdown_script').
   * Returns the address (string).
   */
  reserveAddress(purpose: string): string {
    const address = this.firstUnused(CHANGE_CHAIN, new Set());
    const info = this.byAddress.get(address)!;
    this.sql('INSERT OR IGNORE INTO wallet_reserved_addresses (script_hash, purpose, created_at) VALUES (?, ?, ?)').run(
      info.scriptHash,
      purpose,
      Math.floor(Date.now() / 1000),
    );
    this.reservedScriptHashes.add(info.scriptHash);
    return address;
  }

  /**
   * Gives back a reservation (reserveAddress) for `scriptPubKey` that will never be paid, e.g. the
   * upfront shutdown script of a channel abandoned before funding: the address is handed out
   * again, instead of staying an unused hole that a restore from seed (gap limit) stops at.
   * Unknown or unreserved scripts are ignored.
   */
  releaseReservation(scriptPubKey: Uint8Array): void {
    const hash = scriptHash(scriptPubKey);
    if (!this.reservedScriptHashes.delete(hash)) return;
    this.sql('DELETE FROM wallet_reserved_addresses WHERE script_hash = ?').run(hash);
  }

  /** First address of `chain` without history, not reserved (reserveAddress) and not in `taken`. */
  private firstUnused(chain: KeyChain, taken: Set<string>): string {
    const used = this.usedScriptHashes();
    const candidates = [...this.addresses.values()]
      .filter((a) => a.chain === chain)
      .sort((a, b) => a.index - b.index);
    const free = candidates.find((a) => !used.has(a.scriptHash) && !this.reservedScriptHashes.has(a.scriptHash) && !taken.has(a.address));
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
    if (text === '') this.sql('DELETE FROM wallet_labels WHERE key = ?').run(key);
    else this.sql('INSERT INTO wallet_labels (key, text) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET text = excluded.text').run(key, text);
    this.emit({ type: 'history' });
  }

  /** The label of a txid or address, '' when none. */
  getLabel(key: string): string {
    const row = this.sql('SELECT text FROM wallet_labels WHERE key = ?').get(key) as { text: string } | undefined;
    return row?.text ?? '';
  }

  /**
   * Labels and frozen coins as BIP329 JSON Lines (Electrum's label export, in the standard
   * format): every stored label, plus `spendable: false` for each frozen coin; origin is the
   * wallet's key origin for the xpub record.
   */
  exportLabels(): string {
    const rows = this.sql('SELECT key, text FROM wallet_labels ORDER BY key').all() as { key: string; text: string }[];
    const frozen = this.frozenOutpoints();
    const records: Bip329Record[] = [];
    for (const row of rows) {
      const { type, ref } = recordOfKey(row.key);
      const record: Bip329Record = { type, ref, label: row.text };
      if (type === 'output') {
        record.spendable = !frozen.has(ref);
        frozen.delete(ref);
      }
      records.push(record);
    }
    for (const outpoint of frozen) records.push({ type: 'output', ref: outpoint, spendable: false });
    return formatBip329(records);
  }

  /**
   * Imports BIP329 JSON Lines in one SQLite transaction: labels are set (an empty label removes
   * one), `spendable` on our outputs freezes/unfreezes them. @returns how many records were applied.
   * @throws FulmenError BAD_INPUT (malformed line) — nothing is changed then.
   */
  importLabels(jsonl: string): number {
    const records = parseBip329(jsonl);
    let applied = 0;
    this.db.transaction(() => {
      for (const r of records) {
        if (r.type === 'output') {
          const { txid, vout } = parseOutpoint(r.ref);
          const ours = this.sql('SELECT 1 FROM wallet_txos WHERE txid = ? AND vout = ?').get(txid, vout);
          if (ours && r.spendable !== undefined) {
            if (r.spendable) this.sql('DELETE FROM wallet_frozen_coins WHERE outpoint = ?').run(`${txid}:${vout}`);
            else this.sql('INSERT OR IGNORE INTO wallet_frozen_coins (outpoint) VALUES (?)').run(`${txid}:${vout}`);
          }
        }
        if (r.label !== undefined) {
          const key = labelKey(r.type, r.ref);
          if (r.label === '') this.sql('DELETE FROM wallet_labels WHERE key = ?').run(key);
          else this.sql('INSERT INTO wallet_labels (key, text) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET text = excluded.text').run(key, r.label);
        }
        applied++;
      }
    })();
    this.emit({ type: 'history' });
    return applied;
  }

  /**
   * On-chain history as CSV (Electrum's GUI history export columns): transaction_hash, label,
   * confirmations, value (BTC, signed), fee (BTC), balance (BTC), timestamp (ISO 8601, empty when
   * unconfirmed); oldest first, RFC 4180 quoting.
   */
  exportHistoryCsv(): string {
    const rows = [...this.getOnchainHistory()].reverse();
    let balance = 0;
    const lines = ['transaction_hash,label,confirmations,value,fee,balance,timestamp'];
    for (const h of rows) {
      balance += h.deltaSat;
      lines.push(
        [
          csvField(h.txid),
          csvField(h.label),
          csvField(h.confirmations),
          csvField(formatSatAsBtc(h.deltaSat)),
          csvField(h.feeSat === null ? null : formatSatAsBtc(h.feeSat)),
          csvField(formatSatAsBtc(balance)),
          csvField(h.timestamp === null ? null : new Date(h.timestamp * 1000).toISOString()),
        ].join(','),
      );
    }
    return lines.join('\n') + '\n';
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
    this.prefetchedHistories.clear();
    if (this.balanceTimer) clearTimeout(this.balanceTimer);
    this.balanceTimer = null;
  }

  /** True when every subscription is answered, every changed history applied and verifiable confirmations verified. */
  isUpToDate(): boolean {
    const chain = this.chain;
    if (!chain || !chain.isConnected() || !chain.tip()) return false;
    if (this.subscriptionsPending || this.subscriptionsInFlight > 0 || this.workerRunning || this.verifierRunning || this.dirty.size > 0) return false;
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
        this.prefetchedHistories.delete(event.scripthash); // asked for an older status
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
    const results = await settleWindowed(all, SYNC_WINDOW, (a) => (this.chain === chain ? this.subscribe(a) : Promise.resolve()));
    if (this.chain !== chain) return;
    this.subscriptionsPending = results.some((r) => r.status === 'rejected');
    this.kick();
  }

  private async subscribe(info: AddressInfo): Promise<void> {
    const chain = this.chain;
    if (!chain) return;
    this.subscriptionsInFlight++;
    this.wasUpToDate = false;
    try {
      const status = await chain.subscribeScripthash(info.scriptHash);
      const used = status !== null && this.chain === chain;
      if (status !== info.status) {
        this.dirty.add(info.scriptHash);
        if (used) {
          const history = chain.getHistory(info.scriptHash);
          history.catch(() => undefined); // taken (and its failure handled) by fetchBatch
          this.prefetchedHistories.set(info.scriptHash, { chain, history });
        }
      }
      if (used) this.extendGapForStatus(info);
    } catch (err) {
      this.recordError(err);
      throw err;
    } finally {
      this.subscriptionsInFlight--;
      this.kick();
    }
  }

  /**
   * A subscription answered with a non-null status: the address is used, so the gap limit asks
   * for GAP_LIMIT more addresses after it. They are derived (and subscribed) now, from the status
   * alone, instead of after its history and transactions are fetched and applied: a restore finds
   * all its used addresses in a few subscription round trips rather than one full sync pass per
   * gap. While the chain is being discovered densely (a restore), as many addresses again as are
   * already known used on that chain are derived beyond the gap (capped at LOOKAHEAD_MAX, marked
   * speculative and trimmed once synchronised), so N used addresses take O(log N) round trips.
   * A server claiming statuses for unused addresses costs at most that many extra subscriptions;
   * what the wallet shows still comes only from applied, verified histories.
   */
  private extendGapForStatus(info: AddressInfo): void {
    if (this.reportedUsed.has(info.scriptHash)) return;
    this.reportedUsed.add(info.scriptHash);
    const used = (this.reportedUsedPerChain.get(info.chain) ?? 0) + 1;
    this.reportedUsedPerChain.set(info.chain, used);
    const count = this.chainLengths.get(info.chain) ?? 0;
    const gapEnd = info.index + GAP_LIMIT;
    if (gapEnd < count) return;
    const end = gapEnd + Math.min(LOOKAHEAD_MAX, used);
    const infos = this.deriveAddresses(info.chain, count, end - count + 1);
    for (const a of infos) if (a.index > gapEnd) this.speculative.add(a.scriptHash);
    this.storeAddresses(infos);
  }

  private markDirty(sh: string): void {
    this.dirty.add(sh);
    this.kick();
  }

  private recordError(err: unknown): void {
    this.lastSyncError = err instanceof FulmenError ? err : new FulmenError('INTERNAL', err instanceof Error ? err.message : String(err));
  }

  /**
   * Starts the sync worker if idle. While subscriptions are in flight the worker waits for the
   * last answer (unless a full window is already dirty), so one pass handles the whole wave.
   */
  private kick(): void {
    const waitForSubscriptions = this.subscriptionsInFlight > 0 && this.dirty.size < SYNC_WINDOW;
    if (this.workerRunning || !this.chain || waitForSubscriptions) {
      this.checkSynced();
      return;
    }
    this.runWorker(this.chain).catch((err) => this.recordError(err));
  }

  private async runWorker(chain: ChainSource): Promise<void> {
    this.workerRunning = true;
    this.wasUpToDate = false;
    // The next wave's requests are sent before this wave is applied (SQLite work, synchronous),
    // so the server answers them meanwhile.
    let next: Promise<FetchedBatch> | null = null;
    let nextBatch: string[] = [];
    const takeDirty = (): Promise<FetchedBatch> => {
      const batch = [...this.dirty];
      nextBatch = batch;
      this.dirty.clear();
      const fetch = this.fetchBatch(chain, batch);
      // A wave left behind (chain detached, or dropped after a failure) must not surface as an unhandled rejection.
      fetch.catch(() => undefined);
      return fetch;
    };
    try {
      while (this.chain === chain) {
        if (next || this.dirty.size > 0) {
          const fetched = await (next ?? takeDirty());
          next = this.dirty.size > 0 && this.chain === chain ? takeDirty() : null;
          const { changed, failed } = this.applyBatch(chain, fetched);
          if (changed) {
            // Usually derived already from the statuses (extendGapForStatus); this keeps the
            // gap limit for histories applied without a status (e.g. after a reorg).
            this.ensureGap();
            this.emitChanges(true, true);
          }
          if (failed) {
            // Retried on the next tip or reconnection, or after a pause (with the wave already asked for).
            if (next) for (const sh of nextBatch) this.dirty.add(sh);
            next = null;
            setTimeout(() => this.kick(), SYNC_RETRY_MS).unref();
            break;
          }
          // Merkle proofs of this wave are fetched while the next wave's subscriptions run.
          this.startVerifier(chain);
          continue;
        }
        break;
      }
    } finally {
      this.workerRunning = false;
    }
    this.startVerifier(chain);
    this.checkSynced();
  }

  /**
   * Verifies pending confirmations (merkle proofs, `VERIFY_CHUNK` per SQLite transaction) in its
   * own loop, alongside the history worker, until none is left; at most one loop runs.
   */
  private startVerifier(chain: ChainSource): void {
    if (this.verifierRunning || this.chain !== chain) return;
    this.verifierRunning = true;
    this.wasUpToDate = false;
    const run = async (): Promise<void> => {
      try {
        while (this.chain === chain) {
          const pending = this.pendingVerifications(chain);
          if (pending.length === 0) break;
          await this.verify(chain, pending.slice(0, VERIFY_CHUNK));
        }
      } finally {
        this.verifierRunning = false;
      }
      this.checkSynced();
    };
    run().catch((err) => this.recordError(err));
  }

  private checkSynced(): void {
    const upToDate = this.isUpToDate();
    if (upToDate && !this.wasUpToDate) {
      this.trimLookahead();
      this.lastSyncError = null;
      this.emitChanges(false);
      this.emit({ type: 'synced' });
    }
    this.wasUpToDate = upToDate;
  }

  /**
   * `get_history` of every script hash in `batch`, the raw transactions we do not have yet (each
   * fetched once, `SYNC_WINDOW` requests in flight) and the merkle proofs of their confirmations,
   * for `applyBatch` to write in one SQLite transaction. A script hash whose history or
   * transactions could not be fetched or applied is marked dirty again there (its stored status is
   * left unchanged, so nothing half-applied is trusted).
   */
  private async fetchBatch(chain: ChainSource, batch: string[]): Promise<FetchedBatch> {
    const histories = await settleWindowed(batch, SYNC_WINDOW, (sh) => {
      const prefetched = this.prefetchedHistories.get(sh);
      this.prefetchedHistories.delete(sh);
      return prefetched?.chain === chain ? prefetched.history : chain.getHistory(sh);
    });
    const missing = new Set<string>();
    const tipHeight = chain.tip()?.height ?? 0;
    const toVerify = new Map<string, number>();
    const isVerified = this.sql('SELECT 1 FROM wallet_txs WHERE txid = ? AND height = ? AND verified = 1');
    for (const r of histories) {
      if (r.status !== 'fulfilled') continue;
      for (const h of r.value) {
        if (!this.hasTx(h.txid)) missing.add(h.txid);
        if (h.height > 0 && h.height <= tipHeight && isVerified.get(h.txid, h.height) === undefined) toVerify.set(h.txid, h.height);
      }
    }
    const missingTxids = [...missing];
    // Merkle proofs are fetched alongside the transactions (not after they are stored), and
    // recorded in the same SQLite transaction as the histories; a failed one is left to the verifier.
    const verifyItems = [...toVerify].map(([txid, height]) => ({ txid, height }));
    // Each missing transaction is fetched once: its merkle check waits for it (for its size).
    const fetches = new Map<string, Promise<CheckedTransaction>>();
    const fetchTx = (txid: string): Promise<CheckedTransaction> => {
      let fetch = fetches.get(txid);
      if (!fetch) fetches.set(txid, (fetch = checkedTransaction(chain, txid)));
      return fetch;
    };
    const sizeOf = (txid: string): Promise<number> | number =>
      missing.has(txid) ? fetchTx(txid).then((c) => c.tx.byteLength(false)) : this.parsed(txid).byteLength(false);
    const [raws, fetched] = await Promise.all([
      settleWindowed(missingTxids, SYNC_WINDOW, fetchTx),
      this.fetchConfirmations(chain, verifyItems, sizeOf),
    ]);
    const confirmations = await this.stillInChain(chain, fetched);
    const txs = new Map<string, CheckedTransaction>();
    const txErrors = new Map<string, unknown>();
    raws.forEach((r, i) => {
      if (r.status === 'fulfilled') txs.set(missingTxids[i]!, r.value);
      else txErrors.set(missingTxids[i]!, r.reason);
    });
    return { batch, histories, txs, txErrors, verifyItems, confirmations };
  }

  /**
   * Writes a fetched wave in one SQLite transaction (no await: nothing changes in between).
   * A script hash whose history or transactions failed is marked dirty again.
   */
  private applyBatch(chain: ChainSource, fetched: FetchedBatch): { changed: boolean; failed: boolean } {
    const { batch, histories, txs, txErrors, verifyItems, confirmations } = fetched;
    const inserted = new Set<string>();
    let changed = false;
    let failed = false;
    if (this.chain !== chain) return { changed, failed };
    this.db.transaction(() => {
      batch.forEach((sh, i) => {
        try {
          const r = histories[i]!;
          if (r.status === 'rejected') throw r.reason;
          for (const h of r.value) if (txErrors.has(h.txid)) throw txErrors.get(h.txid);
          if (this.applyHistory(sh, r.value, txs, inserted)) changed = true;
        } catch (err) {
          this.recordError(err);
          this.dirty.add(sh);
          failed = true;
        }
      });
      if (this.recordConfirmations(verifyItems, confirmations)) changed = true;
    })();
    return { changed, failed };
  }

  private hasTx(txid: string): boolean {
    return this.sql('SELECT 1 FROM wallet_txs WHERE txid = ?').get(txid) !== undefined;
  }

  /**
   * Applies a script hash's history in one SQLite transaction: new transactions, changed heights
   * (reorg: verification reset), vanished transactions removed. @returns whether anything changed.
   * `inserted`: txids stored by this wave's committed histories (their outputs are indexed already:
   * the address set does not change during a wave); this history's are added once it commits.
   */
  private applyHistory(sh: string, history: HistoryEntry[], newTxs: Map<string, CheckedTransaction>, inserted: Set<string>): boolean {
    const info = this.addresses.get(sh);
    if (!info) return false;
    const status = electrumStatus(history);
    let changed = false;
    const insertedHere: string[] = [];
    this.db.transaction(() => {
      const old = new Map(
        (this.sql('SELECT txid, height FROM wallet_address_history WHERE script_hash = ?').all(sh) as {
          txid: string;
          height: number;
        }[]).map((r) => [r.txid, r.height]),
      );
      const now = Math.floor(Date.now() / 1000);
      for (const entry of history) {
        const checked = newTxs.get(entry.txid);
        // Another script hash of the same batch may have stored it already.
        if (checked && !this.hasTx(entry.txid)) {
          this.insertTx(entry.txid, checked.raw, entry.height, false, now, checked.tx);
          insertedHere.push(entry.txid);
          changed = true;
        } else {
          const row = this.sql('SELECT height, local FROM wallet_txs WHERE txid = ?').get(entry.txid) as
            | { height: number; local: number }
            | undefined;
          if (!row) continue;
          if (row.height !== entry.height) {
            this.unverify(entry.txid, entry.height);
            this.verifyFailedAt.delete(entry.txid);
            changed = true;
          }
          if (row.local) {
            this.sql('UPDATE wallet_txs SET local = 0 WHERE txid = ?').run(entry.txid);
            changed = true;
          }
          if (!inserted.has(entry.txid)) this.indexOutputs(entry.txid, this.parsed(entry.txid));
        }
        if (old.get(entry.txid) !== entry.height) {
          this.sql(
              'INSERT INTO wallet_address_history (script_hash, txid, height) VALUES (?, ?, ?) ON CONFLICT(script_hash, txid) DO UPDATE SET height = excluded.height',
            )
            .run(sh, entry.txid, entry.height);
          changed = true;
        }
        old.delete(entry.txid);
      }
      for (const vanished of old.keys()) {
        this.sql('DELETE FROM wallet_address_history WHERE script_hash = ? AND txid = ?').run(sh, vanished);
        const stillKnown = this.sql('SELECT 1 FROM wallet_address_history WHERE txid = ?').get(vanished);
        if (!stillKnown) this.removeTxAndDescendants(vanished);
        changed = true;
      }
      // The status of what we applied; a server status that differs triggers a refetch.
      this.sql('UPDATE wallet_addresses SET status = ? WHERE script_hash = ?').run(status, sh);
    })();
    for (const txid of insertedHere) inserted.add(txid);
    info.status = status;
    return changed;
  }

  /** `checkedTx`: `raw` parsed, already checked to hash to `txid` (then neither parsed nor hashed again). */
  private insertTx(txid: string, raw: Uint8Array, height: number, local: boolean, now: number, checkedTx?: Transaction): Transaction {
    const tx = checkedTx ?? parseTransaction(bytesToHex(raw));
    if (!checkedTx && tx.getId() !== txid) throw new FulmenError('SERVER_MISBEHAVED', `Transaction bytes do not match txid ${txid}`);
    this.sql(
        'INSERT INTO wallet_txs (txid, raw, height, verified, is_coinbase, local, first_seen) VALUES (?, ?, ?, 0, ?, ?, ?)',
      )
      .run(txid, raw, height, tx.isCoinbase() ? 1 : 0, local ? 1 : 0, now);
    this.parsedTxs.set(txid, tx);
    const insertIn = this.sql('INSERT INTO wallet_txins (txid, n, prev_txid, prev_vout) VALUES (?, ?, ?, ?)');
    if (!tx.isCoinbase()) tx.ins.forEach((input, n) => insertIn.run(txid, n, inputPrevTxid(input), input.index));
    this.indexOutputs(txid, tx);
    return tx;
  }

  /** Records outputs of `tx` paying to our scripts (idempotent; new addresses may match later). */
  private indexOutputs(txid: string, tx: Transaction): void {
    const insertOut = this.sql('INSERT OR IGNORE INTO wallet_txos (txid, vout, script_hash, value_sat) VALUES (?, ?, ?, ?)');
    tx.outs.forEach((out, vout) => {
      const info = this.byScript.get(toHex(out.script));
      if (info) insertOut.run(txid, vout, info.scriptHash, outputValueSat(out));
    });
  }

  private removeTxAndDescendants(txid: string): void {
    const children = this.sql('SELECT DISTINCT txid FROM wallet_txins WHERE prev_txid = ?').all(txid) as { txid: string }[];
    this.sql('DELETE FROM wallet_txs WHERE txid = ?').run(txid);
    this.sql('DELETE FROM wallet_address_history WHERE txid = ?').run(txid);
    this.parsedTxs.delete(txid);
    this.verifyFailedAt.delete(txid);
    for (const child of children) if (child.txid !== txid) this.removeTxAndDescendants(child.txid);
  }

  private parsed(txid: string): Transaction {
    let tx = this.parsedTxs.get(txid);
    if (!tx) {
      const row = this.sql('SELECT raw FROM wallet_txs WHERE txid = ?').get(txid) as { raw: Uint8Array } | undefined;
      if (!row) throw new FulmenError('NOT_FOUND', `Unknown transaction ${txid}`);
      try {
        tx = bitcoin.Transaction.fromBuffer(row.raw);
      } catch {
        throw badInput('Malformed transaction');
      }
      this.parsedTxs.set(txid, tx);
    }
    return tx;
  }

  /** Confirmed-by-server transactions awaiting a merkle check at the current tip. */
  private pendingVerifications(chain: ChainSource): { txid: string; height: number }[] {
    const tip = chain.tip();
    if (!tip) return [];
    const rows = this.sql('SELECT txid, height FROM wallet_txs WHERE height > 0 AND height <= ? AND verified = 0')
      .all(tip.height) as { txid: string; height: number }[];
    return rows.filter((r) => this.verifyFailedAt.get(r.txid) !== tip.height);
  }

  /**
   * Checks the merkle proofs of `items` (`SYNC_WINDOW` in flight) and records the verified ones
   * in one SQLite transaction; a failure is retried at the next tip.
   */
  private async verify(chain: ChainSource, items: { txid: string; height: number }[]): Promise<void> {
    const tipHeight = chain.tip()?.height ?? 0;
    const results = await this.stillInChain(chain, await this.fetchConfirmations(chain, items));
    if (this.chain !== chain) return;
    let changed = false;
    this.db.transaction(() => {
      changed = this.recordConfirmations(items, results, tipHeight);
    })();
    if (changed) this.emitChanges(true, true);
  }

  /**
   * SPV confirmations of `items` (`chain.verifyTransaction`: merkle proof against our validated
   * header, `SYNC_WINDOW` in flight), with the block hash and timestamp filled in.
   */
  private fetchConfirmations(
    chain: ChainSource,
    items: readonly { txid: string; height: number }[],
    sizeOf: (txid: string) => Promise<number> | number = (txid) => this.parsed(txid).byteLength(false),
  ): Promise<PromiseSettledResult<TxConfirmation>[]> {
    return settleWindowed(items, SYNC_WINDOW, async (item) => {
      const confirmation = await chain.verifyTransaction(item.txid, item.height, await sizeOf(item.txid));
      if (!confirmation.verified || (confirmation.timestamp !== undefined && confirmation.blockHash !== undefined)) return confirmation;
      const header = await chain.getHeader(item.height).catch((err: unknown) => {
        this.recordError(err);
        return null;
      });
      return { ...confirmation, timestamp: confirmation.timestamp ?? header?.timestamp, blockHash: confirmation.blockHash ?? header?.hash };
    });
  }

  /**
   * `results` with every confirmation whose block is no longer our header at its height (a reorg
   * while the proofs were fetched) turned into a failure. Callers write the rest to SQLite with
   * no await in between, so nothing stale is recorded as verified.
   */
  private async stillInChain(chain: ChainSource, results: PromiseSettledResult<TxConfirmation>[]): Promise<PromiseSettledResult<TxConfirmation>[]> {
    const heights = [...new Set(results.flatMap((r) => (r.status === 'fulfilled' && r.value.verified ? [r.value.height] : [])))];
    const hashAt = new Map<number, string>();
    for (const header of await Promise.all(heights.map((h) => chain.getHeader(h).catch(() => null)))) {
      if (header) hashAt.set(header.height, header.hash);
    }
    return results.map((r) =>
      r.status === 'fulfilled' && r.value.verified && hashAt.get(r.value.height) !== r.value.blockHash
        ? { status: 'rejected', reason: new FulmenError('NETWORK', `Block ${r.value.height} was reorganised while verifying ${r.value.txid}`) }
        : r,
    );
  }

  /**
   * Marks the verified ones of `results` (for `items`, same order) in wallet_txs, for the row at
   * the proven height only; run inside the caller's SQLite transaction. With `failedAtTip`, a
   * failure is remembered at that tip height (retried on the next tip); without, it is left to
   * the verifier loop. @returns whether any row changed.
   */
  private recordConfirmations(
    items: readonly { txid: string; height: number }[],
    results: readonly PromiseSettledResult<TxConfirmation>[],
    failedAtTip?: number,
  ): boolean {
    const verified: string[] = [];
    const update = this.sql('UPDATE wallet_txs SET verified = 1, block_hash = ?, timestamp = ?, block_pos = ? WHERE txid = ? AND height = ?');
    for (let i = 0; i < items.length; i++) {
      const r = results[i]!;
      const item = items[i]!;
      if (r.status === 'rejected' || !r.value.verified) {
        if (failedAtTip !== undefined) {
          if (r.status === 'rejected') this.recordError(r.reason);
          this.verifyFailedAt.set(item.txid, failedAtTip);
        }
        continue;
      }
      const res = update.run(r.value.blockHash ?? null, r.value.timestamp ?? null, r.value.position ?? null, item.txid, item.height);
      if (res.changes > 0) {
        this.verifyFailedAt.delete(item.txid);
        verified.push(item.txid);
      }
    }
    // Local transactions are rare (only ours, until the server lists them): one look spares a
    // conflict query per verified transaction when there are none.
    if (verified.length > 0 && this.sql('SELECT 1 FROM wallet_txs WHERE local = 1 LIMIT 1').get() !== undefined) {
      for (const txid of verified) this.removeConflicts(txid, 'local');
    }
    return verified.length > 0;
  }

  /** Forgets `txid`'s merkle verification (block hash, time, position), at a new `height` if given. */
  private unverify(txid: string, height?: number): void {
    this.sql('UPDATE wallet_txs SET height = COALESCE(?, height), verified = 0, block_hash = NULL, timestamp = NULL, block_pos = NULL WHERE txid = ?').run(height ?? null, txid);
  }

  /** New tip: undo verification of transactions whose block left the best chain, verify pending ones. */
  private async onTip(chain: ChainSource, tipHeight: number): Promise<void> {
    const recent = this.sql('SELECT txid, height, block_hash FROM wallet_txs WHERE verified = 1 AND height > ?')
      .all(tipHeight - REORG_CHECK_DEPTH) as { txid: string; height: number; block_hash: string | null }[];
    const heights = [...new Set(recent.filter((r) => r.height <= tipHeight).map((r) => r.height))];
    const headers = await Promise.all(heights.map((h) => chain.getHeader(h)));
    const hashAt = new Map(headers.map((h) => [h.height, h.hash]));
    let changed = false;
    for (const row of recent) {
      const stale = row.height > tipHeight || (row.block_hash !== null && hashAt.get(row.height) !== row.block_hash);
      if (stale) {
        this.unverify(row.txid);
        changed = true;
      }
    }
    const hasTxs = this.sql('SELECT 1 FROM wallet_txs LIMIT 1').get() !== undefined;
    // Confirmations and coinbase maturity move with every tip.
    this.emitChanges(changed || hasTxs);
    this.kick();
  }

  // ---------------------------------------------------------------- balance and coins

  /** Every output paying us with its transaction's state (the covering index keeps the raw blobs unread). */
  private txos(): TxoRow[] {
    return this.sql(
        `SELECT o.txid, o.vout, o.script_hash, o.value_sat, t.height, t.verified, t.is_coinbase
         FROM wallet_txos o JOIN wallet_txs t INDEXED BY wallet_txs_state ON t.txid = o.txid`,
      )
      .all() as TxoRow[];
  }

  /** outpoint "txid:vout" → the spending transaction (a verified confirmed one preferred). */
  private spends(): Map<string, SpendRow> {
    const rows = this.sql(
        `SELECT i.prev_txid, i.prev_vout, i.txid, t.height, t.verified
         FROM wallet_txins i JOIN wallet_txs t INDEXED BY wallet_txs_state ON t.txid = i.txid
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
    const key = this.balanceStateKey();
    if (this.balanceCache?.key === key) return { ...this.balanceCache.balance };
    const balance = this.computeBalance();
    this.balanceCache = { key, balance };
    return { ...balance };
  }

  /**
   * Identifies the state a balance depends on: every row this connection changed bumps SQLite's
   * total_changes(), a commit of another connection bumps `data_version`, and coinbase maturity
   * moves with the tip. Equal keys mean the stored balance is still exact.
   */
  private balanceStateKey(): string {
    const changes = (this.sql('SELECT total_changes() AS n').get() as { n: number }).n;
    const dataVersion = this.db.pragma('data_version', { simple: true }) as number;
    return `${changes}:${dataVersion}:${this.tipHeight() ?? -1}`;
  }

  private computeBalance(): WalletBalance {
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

  /** Unspent outputs (not spent by any known transaction, local ones included), largest first. */
  listUnspent(): WalletUtxo[] {
    const spends = this.spends();
    const frozen = this.frozenOutpoints();
    return this.txos()
      .filter((o) => !spends.has(`${o.txid}:${o.vout}`))
      .map((o) => ({
        txid: o.txid,
        vout: o.vout,
        valueSat: o.value_sat,
        address: this.addresses.get(o.script_hash)!.address,
        height: o.verified && o.height > 0 ? o.height : 0,
        frozen: frozen.has(`${o.txid}:${o.vout}`),
        coinbase: o.is_coinbase === 1,
        immature: this.isImmatureCoinbase(o),
      }))
      .sort((a, b) => b.valueSat - a.valueSat || a.txid.localeCompare(b.txid) || a.vout - b.vout);
  }

  // ---------------------------------------------------------------- coin control

  private frozenOutpoints(): Set<string> {
    const rows = this.sql('SELECT outpoint FROM wallet_frozen_coins').all() as { outpoint: string }[];
    return new Set(rows.map((r) => r.outpoint));
  }

  /**
   * Freezes (Electrum `freeze_utxo`) or unfreezes (`unfreeze_utxo`) one of our coins, "txid:vout".
   * A frozen coin is never selected automatically, nor through `fromCoins`.
   * @throws FulmenError BAD_INPUT for a malformed outpoint, NOT_FOUND for a coin not ours.
   */
  setCoinFrozen(outpoint: string, frozen: boolean): void {
    const key = parseOutpoint(outpoint);
    const known = this.sql('SELECT 1 FROM wallet_txos WHERE txid = ? AND vout = ?').get(key.txid, key.vout);
    if (!known) throw new FulmenError('NOT_FOUND', `No coin ${key.txid}:${key.vout} in this wallet`);
    if (frozen) this.sql('INSERT OR IGNORE INTO wallet_frozen_coins (outpoint) VALUES (?)').run(`${key.txid}:${key.vout}`);
    else this.sql('DELETE FROM wallet_frozen_coins WHERE outpoint = ?').run(`${key.txid}:${key.vout}`);
    this.emitChanges(false);
  }

  // ---------------------------------------------------------------- sending

  /** The private account node. @throws FulmenError BAD_INPUT for a watch-only wallet. */
  private privateAccount(): BIP32Interface {
    if (!this.seed || !this.accountPath) throw badInput('This is a watch-only wallet: it cannot sign (use --unsigned and sign elsewhere)');
    this.accountPrivate ??= accountFromSeed(this.seed, this.network, this.accountPath);
    return this.accountPrivate;
  }

  /**
   * Sets the count of option_anchors channels the anchor reserve (reserve.ts) is kept for: those
   * being opened, open, or not yet resolved on chain (LightningNode.anchorChannelCount). Null: none.
   */
  setAnchorChannelCounter(counter: (() => number) | null): void {
    this.anchorChannelCounter = counter;
  }

  /**
   * The on-chain reserve for anchor channels' fee-bumping (reserve.ts: 10,000 sat per channel, at
   * most 100,000 sat) that createTransaction and bumpFee leave in the wallet.
   * @param extraAnchorChannels channels about to be opened, counted too
   */
  reserve(extraAnchorChannels = 0): WalletReserve {
    return walletReserve((this.anchorChannelCounter?.() ?? 0) + extraAnchorChannels);
  }

  private checkFeerate(feerate: number): void {
    if (typeof feerate !== 'number' || !Number.isFinite(feerate) || feerate <= 0 || feerate > 100_000) {
      throw badInput(`Invalid feerate: ${String(feerate)} sat/vB`);
    }
  }

  /**
   * Builds a transaction paying `outputs`, then signs it (or, with `unsigned` or in a watch-only
   * wallet, returns a PSBT). Coin selection (coinselection.ts) runs over spendable coins (unspent,
   * mature, not frozen, merkle-verified when `excludeUnconfirmed`, restricted to `fromCoins` when
   * given), coins of one address always together: branch and bound for a change-less exact
   * match, else single random draw. Change goes to a fresh change address unless it would be dust
   * (then it is added to the fee). Outputs are shuffled; `outputIndexes` maps them back.
   * @throws FulmenError BAD_INPUT (bad/foreign address, bad amount, dust output, two 'max', bad
   *   feerate, frozen or unknown coin in fromCoins), INSUFFICIENT_FUNDS (message: available vs needed;
   *   or the anchor reserve would not remain, reserve.ts reserveError).
   */
  createTransaction(req: CreateTransactionRequest): CreatedTransaction {
    const feerate = req.feerateSatPerVbyte;
    this.checkFeerate(feerate);
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
        const isOpReturn = script[0] === 0x6a; // data carrier (e.g. Lightning funding OP_RETURN): may carry 0 sat
        if (!Number.isSafeInteger(o.amountSat) || o.amountSat < 0 || (o.amountSat === 0 && !isOpReturn) || o.amountSat > MAX_MONEY_SAT) {
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

    const coins = req.fromCoins ? this.coinsFromOutpoints(req.fromCoins, req.excludeUnconfirmed ?? false) : this.spendableCoins(req.excludeUnconfirmed ?? false);
    const available = coins.reduce((s, c) => s + c.value_sat, 0);
    const outputScripts = requested.map((o) => o.script);
    const changeScript = addressToScriptPubKey(this.getNewChangeAddress(), this.network);
    const changeDust = dustThresholdSat(changeScript);
    const feeFor = (nInputs: number, scripts: Uint8Array[]) =>
      feeForVsize(estimateTxVsize(Array(nInputs).fill(P2WPKH_INPUT), scripts), feerate);

    // Anchor reserve (reserve.ts): what the wallet keeps afterwards (coins not spent + change) must cover it.
    const reserve = this.reserve(req.opensAnchorChannel ? 1 : 0);
    const spendableTotal = reserve.reservedSat > 0 ? this.spendableCoins(false).reduce((s, c) => s + c.value_sat, 0) : 0;

    let selected: TxoRow[];
    let selection: CreatedTransaction['selection'] = 'all';
    const amounts: number[] = [];
    let changeSat = 0;
    if (maxOutputs === 1) {
      selected = coins;
      // 'max' keeps a change output topping the coins left out up to the reserve (lnd's send-all does too).
      const shortSat = reserve.reservedSat > 0 ? Math.max(0, reserve.reservedSat - (spendableTotal - available)) : 0;
      changeSat = shortSat > 0 ? Math.max(shortSat, changeDust) : 0;
      const fee = feeFor(selected.length, changeSat > 0 ? [...outputScripts, changeScript] : outputScripts);
      const maxAmount = available - fixedTotal - fee - changeSat;
      const maxScript = requested.find((o) => o.amount === 'max')!.script;
      if (maxAmount < dustThresholdSat(maxScript)) {
        if (changeSat > 0 && available - fixedTotal - feeFor(selected.length, outputScripts) >= dustThresholdSat(maxScript)) {
          throw reserveError(reserve, spendableTotal - available, req.opensAnchorChannel);
        }
        throw new FulmenError(
          'INSUFFICIENT_FUNDS',
          `Insufficient funds: available ${available} sat, needed more than ${fixedTotal + fee + dustThresholdSat(maxScript)} sat (amounts + fee + dust limit)`,
          { availableSat: available, neededSat: fixedTotal + fee + dustThresholdSat(maxScript) },
        );
      }
      for (const o of requested) amounts.push(o.amount === 'max' ? maxAmount : o.amount);
    } else {
      // P2WPKH inputs weigh 272 WU = 68 vB exactly, so vsize(n inputs) = vsize(0) + 68n.
      const inputVsize = estimateTxVsize([P2WPKH_INPUT, P2WPKH_INPUT], outputScripts) - estimateTxVsize([P2WPKH_INPUT], outputScripts);
      const baseVsize = estimateTxVsize([P2WPKH_INPUT], outputScripts) - inputVsize;
      const changeVsize = estimateTxVsize([P2WPKH_INPUT], [...outputScripts, changeScript]) - estimateTxVsize([P2WPKH_INPUT], outputScripts);
      const result = selectCoins({
        coins: coins.map((c) => ({ ...c, outpoint: `${c.txid}:${c.vout}`, valueSat: c.value_sat, address: this.addresses.get(c.script_hash)!.address })),
        targetSat: fixedTotal + feeForVsize(baseVsize, feerate),
        inputFeeSat: feeForVsize(inputVsize, feerate),
        costOfChangeSat: feeForVsize(changeVsize, feerate) + feeForVsize(inputVsize, feerate),
        changeOutputFeeSat: feeForVsize(changeVsize, feerate),
        minChangeSat: changeDust,
      });
      if (!result) {
        const needed = fixedTotal + feeFor(Math.max(coins.length, 1), outputScripts);
        throw new FulmenError(
          'INSUFFICIENT_FUNDS',
          `Insufficient funds: available ${available} sat, needed ${needed} sat (${fixedTotal} sat + fee at ${feerate} sat/vB)`,
          { availableSat: available, neededSat: needed },
        );
      }
      selected = result.coins;
      selection = result.algorithm;
      const sum = selected.reduce((s, c) => s + c.value_sat, 0);
      if (selection === 'srd') {
        const change = sum - fixedTotal - feeFor(selected.length, [...outputScripts, changeScript]);
        if (change >= changeDust) changeSat = change;
      }
      if (sum - fixedTotal - changeSat < feeFor(selected.length, changeSat > 0 ? [...outputScripts, changeScript] : outputScripts)) {
        throw new FulmenError('INTERNAL', 'Coin selection produced a transaction below the feerate');
      }
      for (const o of requested) amounts.push(o.amount as number);
      const remainingSat = spendableTotal - sum + changeSat;
      if (reserve.reservedSat > 0 && remainingSat < reserve.reservedSat) throw reserveError(reserve, remainingSat, req.opensAnchorChannel);
    }

    const outputs: TxOutputSpec[] = requested.map((o, i) => ({ scriptPubKey: o.script, valueSat: amounts[i] }));
    if (changeSat > 0) outputs.push({ scriptPubKey: changeScript, valueSat: changeSat });
    const order = shuffledIndexes(outputs.length);
    const built = this.finishTransaction({
      inputs: shuffle(selected),
      outputs: order.map((i) => outputs[i]),
      sequence,
      lockTime,
      sign: !req.unsigned,
    });
    const vout = (i: number) => order.indexOf(i);
    return {
      ...built,
      outputIndexes: requested.map((_, i) => vout(i)),
      changeIndex: changeSat > 0 ? vout(outputs.length - 1) : null,
      selection,
    };
  }

  /**
   * Makes a PSBT of `inputs` (our coins) and `outputs` in the given order, with full previous
   * transactions, witness UTXOs and BIP32 key origins (ours for change outputs too); signs and
   * finalizes it when `sign`.
   */
  private finishTransaction(spec: {
    inputs: TxoRow[];
    outputs: TxOutputSpec[];
    sequence: number;
    lockTime: number;
    sign: boolean;
    version?: number;
  }): Omit<CreatedTransaction, 'outputIndexes' | 'changeIndex' | 'selection'> {
    const psbt = new bitcoin.Psbt({ network: bitcoinNetwork(this.network), maximumFeeRate: 100_001 });
    psbt.setVersion(spec.version ?? 2);
    psbt.setLocktime(spec.lockTime);
    for (const coin of spec.inputs) {
      const info = this.addresses.get(coin.script_hash)!;
      psbt.addInput({
        hash: hexToBytes(coin.txid).reverse(),
        index: coin.vout,
        sequence: spec.sequence,
        nonWitnessUtxo: this.rawTx(coin.txid),
        witnessUtxo: { script: info.scriptPubKey, value: BigInt(coin.value_sat) },
        bip32Derivation: [this.keyOrigin(info)],
      });
    }
    for (const out of spec.outputs) {
      const info = this.byScript.get(bytesToHex(out.scriptPubKey));
      psbt.addOutput({
        script: out.scriptPubKey,
        value: BigInt(out.valueSat),
        ...(info ? { bip32Derivation: [this.keyOrigin(info)] } : {}),
      });
    }
    const inputTotal = spec.inputs.reduce((s, c) => s + c.value_sat, 0);
    const outputTotal = spec.outputs.reduce((s, o) => s + o.valueSat, 0);
    const inputs = spec.inputs.map((c) => `${c.txid}:${c.vout}`);
    if (!spec.sign || this.isWatchOnly) {
      const unsignedTx = bitcoin.Transaction.fromBuffer(psbt.data.getTransaction());
      const vsize = estimateTxVsize(Array(spec.inputs.length).fill(P2WPKH_INPUT), spec.outputs.map((o) => o.scriptPubKey));
      return { txHex: unsignedTx.toHex(), txid: unsignedTx.getId(), vsize, feeSat: inputTotal - outputTotal, psbt: psbt.toBase64(), complete: false, inputs };
    }
    const signed = this.signPsbtObject(psbt);
    if (signed.signedInputs !== spec.inputs.length) throw new FulmenError('INTERNAL', 'Could not sign every input of our own transaction');
    psbt.finalizeAllInputs();
    const tx = psbt.extractTransaction(true);
    return { txHex: tx.toHex(), txid: tx.getId(), vsize: tx.virtualSize(), feeSat: inputTotal - outputTotal, psbt: psbt.toBase64(), complete: true, inputs };
  }

  /** BIP32 key origin of one of our addresses, for PSBT bip32Derivation fields. */
  private keyOrigin(info: AddressInfo): { masterFingerprint: Uint8Array; path: string; pubkey: Uint8Array } {
    const pubkey = deriveAccountKey(this.account, info.chain, info.index).publicKey;
    const prefix = this.accountPath ?? 'm';
    return { masterFingerprint: hexToBytes(this.rootFingerprint), path: `${prefix}/${info.chain}/${info.index}`, pubkey: new Uint8Array(pubkey) };
  }

  private rawTx(txid: string): Uint8Array {
    const row = this.sql('SELECT raw FROM wallet_txs WHERE txid = ?').get(txid) as { raw: Uint8Array } | undefined;
    if (!row) throw new FulmenError('NOT_FOUND', `Unknown transaction ${txid}`);
    return new Uint8Array(row.raw);
  }

  /** Signs every input of `psbt` that spends one of our P2WPKH outputs (not yet finalized). */
  private signPsbtObject(psbt: bitcoin.Psbt): { signedInputs: number } {
    const account = this.privateAccount();
    let signedInputs = 0;
    psbt.data.inputs.forEach((input, n) => {
      if (input.finalScriptWitness || input.finalScriptSig) return;
      const script = input.witnessUtxo?.script ?? prevOutputScript(psbt, n);
      const info = script ? this.byScript.get(bytesToHex(script)) : undefined;
      if (!info) return;
      const key = deriveAccountKey(account, info.chain, info.index);
      try {
        psbt.signInput(n, { publicKey: new Uint8Array(key.publicKey), sign: (hash: Uint8Array, lowR?: boolean) => new Uint8Array(key.sign(hash, lowR ?? true)) });
      } catch (err) {
        // e.g. a sighash type other than SIGHASH_ALL, or a non-witness UTXO that does not match.
        throw badInput(`Cannot sign PSBT input ${n}: ${err instanceof Error ? err.message : String(err)}`);
      }
      signedInputs++;
    });
    return { signedInputs };
  }

  /**
   * Signs what this wallet can in a PSBT (Electrum `signtransaction`): every input spending one of
   * our addresses gets a signature and is finalized.
   * @returns the PSBT (base64) and, when every input is finalized, the raw transaction (`txHex`).
   * @throws FulmenError BAD_INPUT for a malformed PSBT or a watch-only wallet.
   */
  signPsbt(psbtText: string): { psbt: string; complete: boolean; txHex: string | null; signedInputs: number } {
    const psbt = parsePsbt(psbtText, this.network);
    const { signedInputs } = this.signPsbtObject(psbt);
    psbt.data.inputs.forEach((input, n) => {
      if (input.finalScriptWitness || input.finalScriptSig || !input.partialSig?.length) return;
      try {
        psbt.finalizeInput(n);
      } catch {
        // Not finalizable by us (e.g. a multisig input): left for another signer.
      }
    });
    const complete = psbt.data.inputs.every((i) => i.finalScriptWitness || i.finalScriptSig);
    return { psbt: psbt.toBase64(), complete, txHex: complete ? psbt.extractTransaction(true).toHex() : null, signedInputs };
  }

  private spendableCoins(confirmedOnly: boolean): TxoRow[] {
    const spends = this.spends();
    const frozen = this.frozenOutpoints();
    return this.txos()
      .filter((o) => !spends.has(`${o.txid}:${o.vout}`))
      .filter((o) => !frozen.has(`${o.txid}:${o.vout}`))
      .filter((o) => !this.isImmatureCoinbase(o))
      .filter((o) => !confirmedOnly || (o.verified && o.height > 0))
      .sort((a, b) => b.value_sat - a.value_sat || a.txid.localeCompare(b.txid) || a.vout - b.vout);
  }

  /** Coin control: the named coins, each checked to be ours, unspent, mature and not frozen. */
  private coinsFromOutpoints(outpoints: string[], confirmedOnly: boolean): TxoRow[] {
    if (outpoints.length === 0) throw badInput('from_coins: give at least one coin (txid:vout)');
    const all = new Map(this.txos().map((o) => [`${o.txid}:${o.vout}`, o]));
    const spends = this.spends();
    const frozen = this.frozenOutpoints();
    const picked = new Map<string, TxoRow>();
    for (const text of outpoints) {
      const { txid, vout } = parseOutpoint(text);
      const key = `${txid}:${vout}`;
      const coin = all.get(key);
      if (!coin) throw badInput(`Coin ${key} is not in this wallet`);
      if (spends.has(key)) throw badInput(`Coin ${key} is already spent`);
      if (frozen.has(key)) throw badInput(`Coin ${key} is frozen; unfreeze it first (unfreeze_utxo)`);
      if (this.isImmatureCoinbase(coin)) throw badInput(`Coin ${key} is an immature coinbase output`);
      if (confirmedOnly && !(coin.verified && coin.height > 0)) throw badInput(`Coin ${key} is unconfirmed`);
      picked.set(key, coin);
    }
    return [...picked.values()];
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
    const inserted = !this.hasTx(txid);
    if (inserted) {
      this.db.transaction(() => {
        this.insertTx(txid, hexToBytes(txHex), 0, true, Math.floor(Date.now() / 1000), tx);
      })();
    }
    // An accepted replacement (RBF, cancel) evicted the transactions it conflicts with, also when
    // the server's notification brought the replacement in while we waited for the broadcast.
    const removed = this.removeConflicts(txid, 'unconfirmed');
    if (inserted || removed) {
      this.ensureGap();
      this.emitChanges(true);
    }
    return txid;
  }

  /**
   * Removes the transactions other than `txid` that spend an input of `txid`, with their
   * descendants: 'unconfirmed' ones (a replacement the server accepted evicted them) or only
   * 'local' ones, never seen by the server (a verified transaction wins over them).
   * @returns whether any was removed.
   */
  private removeConflicts(txid: string, which: 'unconfirmed' | 'local'): boolean {
    const conflicts = this.sql(
        `SELECT DISTINCT other.txid FROM wallet_txins mine
         JOIN wallet_txins other ON other.prev_txid = mine.prev_txid AND other.prev_vout = mine.prev_vout
         JOIN wallet_txs t ON t.txid = other.txid
         WHERE mine.txid = ? AND other.txid != mine.txid AND ${which === 'local' ? 't.local = 1' : 't.height <= 0'}`,
      )
      .all(txid) as { txid: string }[];
    if (conflicts.length === 0) return false;
    this.db.transaction(() => {
      for (const c of conflicts) this.removeTxAndDescendants(c.txid);
    })();
    return true;
  }

  // ---------------------------------------------------------------- fee bumping (RBF, CPFP)

  /** An unconfirmed wallet transaction all of whose inputs are ours, with its coins and fee. */
  private ownUnconfirmedTx(txid: string): { tx: Transaction; coins: TxoRow[]; feeSat: number } {
    const row = this.sql('SELECT height FROM wallet_txs WHERE txid = ?').get(txid) as { height: number } | undefined;
    if (!row) throw new FulmenError('NOT_FOUND', `Unknown transaction ${txid}`);
    if (row.height > 0) throw badInput(`Transaction ${txid} is already confirmed`);
    const tx = this.parsed(txid);
    const txos = new Map(this.txos().map((o) => [`${o.txid}:${o.vout}`, o]));
    const coins = tx.ins.map((input) => txos.get(`${inputPrevTxid(input)}:${input.index}`));
    if (coins.some((c) => c === undefined)) throw badInput('Only transactions whose inputs are all ours can be replaced');
    const children = this.sql('SELECT DISTINCT txid FROM wallet_txins WHERE prev_txid = ? AND txid != ?')
      .all(txid, txid) as { txid: string }[];
    if (children.length > 0) {
      throw badInput(`Transaction ${txid} has unconfirmed children in this wallet (${children[0]!.txid}); replacing it would drop them`);
    }
    const inputTotal = coins.reduce((s, c) => s + c!.value_sat, 0);
    const outputTotal = tx.outs.reduce((s, o) => s + outputValueSat(o), 0);
    return { tx, coins: coins as TxoRow[], feeSat: inputTotal - outputTotal };
  }

  /**
   * BIP125 checks for a replacement paying `newFeeSat` for `newVsize` vbytes: the original must
   * signal replaceability (or the node must run full RBF: we require the signal), the new feerate
   * must be higher, and the fee must grow by at least the incremental relay fee (1 sat/vB) × new size.
   */
  private checkReplacement(original: Transaction, oldFeeSat: number, newFeeSat: number, newVsize: number): void {
    if (!original.ins.some((i) => i.sequence < 0xfffffffe)) {
      throw badInput('This transaction does not signal replace-by-fee (BIP125); use cpfp instead');
    }
    if (newFeeSat < oldFeeSat + newVsize) {
      throw badInput(`The new fee (${newFeeSat} sat) must exceed the old one (${oldFeeSat} sat) by at least ${newVsize} sat (1 sat/vB); raise the feerate`);
    }
  }

  /**
   * Electrum `bumpfee`: replaces an unconfirmed transaction of ours (BIP125) with one paying
   * `feerateSatPerVbyte`. Same inputs and outputs; the fee comes out of our change output, and
   * when the change cannot pay it (or there is none) more coins are added (coin selection over
   * spendable coins) with a new change output. Payment outputs are never reduced.
   * @returns the replacement (signed, or a PSBT with `unsigned`); broadcast it to replace.
   * @throws FulmenError NOT_FOUND, BAD_INPUT (confirmed, not ours, no RBF signal, feerate not
   *   higher, has children), INSUFFICIENT_FUNDS (also when the anchor reserve would not remain).
   */
  bumpFee(txid: string, feerateSatPerVbyte: number, opts: { unsigned?: boolean } = {}): CreatedTransaction {
    this.checkFeerate(feerateSatPerVbyte);
    const { tx, coins, feeSat: oldFee } = this.ownUnconfirmedTx(txid);
    const outputs: TxOutputSpec[] = tx.outs.map((o) => ({ scriptPubKey: new Uint8Array(o.script), valueSat: outputValueSat(o) }));
    // Change: our outputs on the change chain (else any of our outputs, as Electrum does).
    const ours = outputs.map((o, i) => ({ i, info: this.byScript.get(bytesToHex(o.scriptPubKey)) })).filter((x) => x.info);
    const changePick = ours.find((x) => x.info!.chain === CHANGE_CHAIN) ?? (ours.length < outputs.length ? ours[0] : undefined);
    const feeFor = (nInputs: number, outs: TxOutputSpec[]) =>
      feeForVsize(estimateTxVsize(Array(nInputs).fill(P2WPKH_INPUT), outs.map((o) => o.scriptPubKey)), feerateSatPerVbyte);
    const inputTotal = coins.reduce((s, c) => s + c.value_sat, 0);
    const sequence = tx.ins[0]!.sequence;
    const finish = (inputs: TxoRow[], outs: TxOutputSpec[], selection: CreatedTransaction['selection']): CreatedTransaction => {
      const total = inputs.reduce((s, c) => s + c.value_sat, 0) - outs.reduce((s, o) => s + o.valueSat, 0);
      const vsize = estimateTxVsize(Array(inputs.length).fill(P2WPKH_INPUT), outs.map((o) => o.scriptPubKey));
      this.checkReplacement(tx, oldFee, total, vsize);
      this.checkReserveAfterReplacement(txid, inputs, outs);
      const built = this.finishTransaction({ inputs, outputs: outs, sequence, lockTime: tx.locktime, sign: !opts.unsigned, version: tx.version });
      const changeIndex = outs.findIndex((o, k) => k === changePick?.i || (k >= outputs.length && this.isMine(o.scriptPubKey)));
      return { ...built, outputIndexes: outs.map((_, k) => k), changeIndex: changeIndex >= 0 ? changeIndex : null, selection };
    };

    // 1. Decrease the change output.
    if (changePick) {
      const withoutChange = outputs.filter((_, k) => k !== changePick.i);
      const fixed = withoutChange.reduce((s, o) => s + o.valueSat, 0);
      const change = inputTotal - fixed - feeFor(coins.length, outputs);
      const dust = dustThresholdSat(outputs[changePick.i]!.scriptPubKey);
      if (change >= dust) {
        const outs = outputs.map((o, k) => (k === changePick.i ? { ...o, valueSat: change } : o));
        return finish(coins, outs, 'all');
      }
      // 1b. Drop the change entirely when that pays enough.
      if (withoutChange.length > 0 && inputTotal - fixed >= feeFor(coins.length, withoutChange)) {
        return finish(coins, withoutChange, 'all');
      }
    }
    // 2. Add coins and a (new) change output.
    const payments = changePick ? outputs.filter((_, k) => k !== changePick.i) : outputs;
    const changeScript = changePick ? outputs[changePick.i]!.scriptPubKey : addressToScriptPubKey(this.getNewChangeAddress(), this.network);
    const used = new Set(coins.map((c) => `${c.txid}:${c.vout}`));
    // Coins spent by the original tx are free again once it is replaced.
    const extra = this.spendableCoins(false).filter((c) => !used.has(`${c.txid}:${c.vout}`) && c.txid !== txid);
    const paymentTotal = payments.reduce((s, o) => s + o.valueSat, 0);
    const picked = [...coins];
    for (const coin of extra) {
      picked.push(coin);
      const sum = picked.reduce((s, c) => s + c.value_sat, 0);
      const withChange = [...payments, { scriptPubKey: changeScript, valueSat: 0 }];
      const change = sum - paymentTotal - feeFor(picked.length, withChange);
      if (change >= dustThresholdSat(changeScript)) {
        withChange[withChange.length - 1]!.valueSat = change;
        return finish(picked, withChange, 'srd');
      }
    }
    throw new FulmenError('INSUFFICIENT_FUNDS', `Not enough funds to bump the fee of ${txid} to ${feerateSatPerVbyte} sat/vB`);
  }

  /**
   * Anchor reserve (reserve.ts) after `txid` is replaced by a transaction spending `inputs` into
   * `outs`: our coins left (not spent by it, not created by `txid`) plus its outputs to us.
   * @throws FulmenError INSUFFICIENT_FUNDS (reserveError) when less than the reserve would remain.
   */
  private checkReserveAfterReplacement(txid: string, inputs: TxoRow[], outs: TxOutputSpec[]): void {
    const reserve = this.reserve();
    if (reserve.reservedSat === 0) return;
    const spent = new Set(inputs.map((c) => `${c.txid}:${c.vout}`));
    const left = this.spendableCoins(false)
      .filter((c) => c.txid !== txid && !spent.has(`${c.txid}:${c.vout}`))
      .reduce((s, c) => s + c.value_sat, 0);
    const ours = outs.filter((o) => this.isMine(o.scriptPubKey)).reduce((s, o) => s + o.valueSat, 0);
    if (left + ours < reserve.reservedSat) throw reserveError(reserve, left + ours);
  }

  /**
   * Cancels an unconfirmed transaction of ours by double-spending its inputs back to a fresh
   * change address at `feerateSatPerVbyte` (Electrum's "Cancel (double-spend)", wallet.dscancel).
   * @throws as bumpFee; BAD_INPUT when the inputs cannot pay the fee.
   */
  cancelTransaction(txid: string, feerateSatPerVbyte: number, opts: { unsigned?: boolean } = {}): CreatedTransaction {
    this.checkFeerate(feerateSatPerVbyte);
    const { tx, coins, feeSat: oldFee } = this.ownUnconfirmedTx(txid);
    const script = addressToScriptPubKey(this.getNewChangeAddress(), this.network);
    const inputTotal = coins.reduce((s, c) => s + c.value_sat, 0);
    const vsize = estimateTxVsize(Array(coins.length).fill(P2WPKH_INPUT), [script]);
    const fee = feeForVsize(vsize, feerateSatPerVbyte);
    const value = inputTotal - fee;
    if (value < dustThresholdSat(script)) throw badInput(`The inputs (${inputTotal} sat) cannot pay ${fee} sat of fee`);
    this.checkReplacement(tx, oldFee, fee, vsize);
    const built = this.finishTransaction({
      inputs: coins,
      outputs: [{ scriptPubKey: script, valueSat: value }],
      sequence: tx.ins[0]!.sequence,
      lockTime: tx.locktime,
      sign: !opts.unsigned,
    });
    return { ...built, outputIndexes: [0], changeIndex: 0, selection: 'all' };
  }

  /**
   * Child pays for parent: spends our unspent outputs of the unconfirmed `txid` (incoming or
   * ours) to a fresh change address, with a fee such that parent and child together pay
   * `feerateSatPerVbyte`: childFee = feerate × (parentVsize + childVsize) − parentFee, and at
   * least 1 sat/vB of the child. The parent's fee is computed from its inputs (fetched from the
   * server when they are not ours).
   * @throws FulmenError NOT_FOUND, BAD_INPUT (confirmed, nothing of ours to spend, the outputs
   *   cannot pay the fee), NETWORK (parent inputs unknown and no connection).
   */
  async cpfp(txid: string, feerateSatPerVbyte: number, opts: { unsigned?: boolean } = {}): Promise<CreatedTransaction> {
    this.checkFeerate(feerateSatPerVbyte);
    const row = this.sql('SELECT height FROM wallet_txs WHERE txid = ?').get(txid) as { height: number } | undefined;
    if (!row) throw new FulmenError('NOT_FOUND', `Unknown transaction ${txid}`);
    if (row.height > 0) throw badInput(`Transaction ${txid} is already confirmed`);
    const parent = this.parsed(txid);
    const frozen = this.frozenOutpoints();
    const spends = this.spends();
    const coins = this.txos().filter((o) => o.txid === txid && !spends.has(`${o.txid}:${o.vout}`) && !frozen.has(`${o.txid}:${o.vout}`));
    if (coins.length === 0) throw badInput(`Transaction ${txid} has no unspent output of ours to spend`);
    let parentInputs = 0;
    for (const input of parent.ins) {
      const prevTxid = inputPrevTxid(input);
      let prev: Transaction;
      if (this.hasTx(prevTxid)) prev = this.parsed(prevTxid);
      else {
        if (!this.chain) throw new FulmenError('NETWORK', 'Not connected: cannot fetch the parent transaction inputs');
        prev = parseTransaction(await this.chain.getTransaction(prevTxid));
      }
      parentInputs += outputValueSat(prev.outs[input.index]!);
    }
    const parentFee = parentInputs - parent.outs.reduce((s, o) => s + outputValueSat(o), 0);
    const script = addressToScriptPubKey(this.getNewChangeAddress(), this.network);
    const childVsize = estimateTxVsize(Array(coins.length).fill(P2WPKH_INPUT), [script]);
    const childFee = Math.max(feeForVsize(parent.virtualSize() + childVsize, feerateSatPerVbyte) - parentFee, childVsize);
    const value = coins.reduce((s, c) => s + c.value_sat, 0) - childFee;
    if (value < dustThresholdSat(script)) throw badInput(`Our outputs of ${txid} cannot pay the ${childFee} sat child fee`);
    const built = this.finishTransaction({
      inputs: coins,
      outputs: [{ scriptPubKey: script, valueSat: value }],
      sequence: SEQUENCE_RBF,
      lockTime: this.tipHeight() ?? 0,
      sign: !opts.unsigned,
    });
    return { ...built, outputIndexes: [0], changeIndex: 0, selection: 'all' };
  }

  /** An output of a transaction the wallet stores (value and script), or null. */
  knownOutput(txid: string, vout: number): { valueSat: number; script: Uint8Array } | null {
    if (!this.hasTx(txid)) return null;
    const out = this.parsed(txid).outs[vout];
    return out ? { valueSat: outputValueSat(out), script: new Uint8Array(out.script) } : null;
  }

  /**
   * A stored transaction (ours, or a parent the wallet fetched), raw hex (Electrum `gettransaction`).
   * @throws FulmenError NOT_FOUND.
   */
  getRawTransaction(txid: string): string {
    return bytesToHex(this.rawTx(txid));
  }

  // ---------------------------------------------------------------- messages

  /**
   * Electrum `signmessage`: signs `message` with the key of one of our addresses (base64, see
   * core/bitcoin/message.ts). @throws FulmenError BAD_INPUT (address not ours, watch-only).
   */
  signMessage(address: string, message: string, header: 'electrum' | 'bip137-p2wpkh' = 'electrum'): string {
    const info = this.byAddress.get(address.trim());
    if (!info) throw badInput(`Address ${address} is not in this wallet`);
    const key = deriveAccountKey(this.privateAccount(), info.chain, info.index);
    return signMessage(new Uint8Array(key.privateKey!), message, header);
  }

  // ---------------------------------------------------------------- history

  /**
   * On-chain history, newest first (unconfirmed first; a block's transactions in reverse chain
   * order, by their merkle proof's position). deltaSat is the net effect on the wallet;
   * confirmations count only merkle-verified blocks.
   */
  getOnchainHistory(): OnchainHistoryItem[] {
    const txs = this.sql('SELECT txid, height, verified, timestamp, is_coinbase, first_seen, block_pos FROM wallet_txs').all() as Omit<TxRow, 'raw' | 'block_hash' | 'local'>[];
    // Our outputs by transaction (received amounts, addresses for label candidates).
    const outputsByTx = new Map<string, { value_sat: number; script_hash: string }[]>();
    for (const o of this.sql('SELECT txid, script_hash, value_sat FROM wallet_txos ORDER BY txid, vout').all() as {
      txid: string;
      script_hash: string;
      value_sat: number;
    }[]) {
      let list = outputsByTx.get(o.txid);
      if (!list) outputsByTx.set(o.txid, (list = []));
      list.push(o);
    }
    // Per transaction: inputs, what they spend of ours, and how many spend outputs of transactions we store.
    const inputsByTx = new Map<string, { inputs: number; sent: number; prevKnown: number; prevOurs: number }>();
    for (const r of this.sql(
      `SELECT i.txid, COUNT(*) AS inputs, COALESCE(SUM(o.value_sat), 0) AS sent,
              COUNT(p.txid) AS prev_known, COUNT(o.txid) AS prev_ours
       FROM wallet_txins i
       LEFT JOIN wallet_txos o ON o.txid = i.prev_txid AND o.vout = i.prev_vout
       LEFT JOIN wallet_txs p ON p.txid = i.prev_txid
       GROUP BY i.txid`,
    ).all() as { txid: string; inputs: number; sent: number; prev_known: number; prev_ours: number }[]) {
      inputsByTx.set(r.txid, { inputs: r.inputs, sent: r.sent, prevKnown: r.prev_known, prevOurs: r.prev_ours });
    }
    const labels = new Map((this.sql('SELECT key, text FROM wallet_labels').all() as { key: string; text: string }[]).map((r) => [r.key, r.text]));
    const tip = this.tipHeight();
    const requestMemoByAddress = new Map<string, string>();
    for (const r of this.requests.list()) if (r.address && r.memo && !requestMemoByAddress.has(r.address)) requestMemoByAddress.set(r.address, r.memo);

    const items = txs.map((row) => {
      const outputs = outputsByTx.get(row.txid) ?? [];
      const received = outputs.reduce((sum, o) => sum + o.value_sat, 0);
      const inputs = inputsByTx.get(row.txid);
      const sent = inputs?.sent ?? 0;
      // The fee is known when every input spends an output of a stored transaction (and the tx
      // is no coinbase): the transaction is parsed only then.
      let feeSat: number | null = null;
      if (!row.is_coinbase && inputs && inputs.prevKnown === inputs.inputs) {
        const tx = this.parsed(row.txid);
        let inputTotal: number | null = sent;
        if (inputs.prevOurs !== inputs.inputs) {
          inputTotal = 0;
          for (const input of tx.ins) {
            const prevOut = this.parsed(inputPrevTxid(input)).outs[input.index];
            inputTotal = prevOut && inputTotal !== null ? inputTotal + outputValueSat(prevOut) : null;
          }
        }
        if (inputTotal !== null) feeSat = inputTotal - tx.outs.reduce((s, o) => s + outputValueSat(o), 0);
      }
      let label = labels.get(row.txid) ?? '';
      for (const o of outputs) {
        if (label) break;
        const address = this.addresses.get(o.script_hash)!.address;
        label = labels.get(address) || requestMemoByAddress.get(address) || '';
      }
      const verified = row.verified === 1 && row.height > 0;
      return {
        txid: row.txid,
        height: row.height,
        confirmations: verified && tip !== null ? Math.max(0, tip - row.height + 1) : 0,
        timestamp: verified ? row.timestamp : null,
        deltaSat: received - sent,
        feeSat,
        verified,
        label,
        firstSeen: row.first_seen,
        blockPos: verified ? (row.block_pos ?? -1) : -1,
      };
    });
    items.sort((a, b) => {
      const ha = a.verified ? a.height : Number.MAX_SAFE_INTEGER;
      const hb = b.verified ? b.height : Number.MAX_SAFE_INTEGER;
      return hb - ha || b.blockPos - a.blockPos || b.firstSeen - a.firstSeen || a.txid.localeCompare(b.txid);
    });
    return items.map(({ firstSeen: _firstSeen, blockPos: _blockPos, ...item }) => item);
  }

  /**
   * Marks on-chain requests paid once their address has received at least the amount in
   * merkle-verified transactions (any amount > 0 for open-amount requests).
   */
  private updateRequests(): void {
    const open = this.requests.list().filter((r) => r.address && (r.status === 'unpaid' || r.status === 'expired'));
    if (open.length === 0) return;
    const receivedByScriptHash = new Map(
      (this.sql(
        `SELECT o.script_hash, SUM(o.value_sat) AS received FROM wallet_txos o JOIN wallet_txs t ON t.txid = o.txid
         WHERE t.verified = 1 AND t.height > 0 GROUP BY o.script_hash`,
      ).all() as { script_hash: string; received: number }[]).map((r) => [r.script_hash, r.received]),
    );
    for (const r of open) {
      const info = this.byAddress.get(r.address!);
      const got = info ? (receivedByScriptHash.get(info.scriptHash) ?? 0) : 0;
      if (got > 0 && got >= (r.amountSat ?? 1)) this.requests.setStatus(r.rhash, 'paid');
    }
  }
}

/** Electrum status of a history: sha256 of "txid:height:" concatenated, hex; null when empty. */
export function electrumStatus(history: HistoryEntry[]): string | null {
  if (history.length === 0) return null;
  return bytesToHex(sha256(utf8ToBytes(history.map((h) => `${h.txid}:${h.height}:`).join(''))));
}

/** One wave of `Wallet.fetchBatch`: histories of `batch` (same order), new transactions, merkle checks. */
interface FetchedBatch {
  batch: string[];
  histories: PromiseSettledResult<HistoryEntry[]>[];
  txs: Map<string, CheckedTransaction>;
  txErrors: Map<string, unknown>;
  verifyItems: { txid: string; height: number }[];
  confirmations: PromiseSettledResult<TxConfirmation>[];
}

/**
 * `txid`'s bytes, checked to hash to it, and the parsed transaction: through
 * `getCheckedTransaction` when the chain has it (parsed and hashed once there, and not also cached
 * there: the wallet stores the bytes in wallet_txs), else `getTransaction` checked here.
 */
async function checkedTransaction(chain: ChainSource, txid: string): Promise<CheckedTransaction> {
  if (chain.getCheckedTransaction) return chain.getCheckedTransaction(txid, { cache: false });
  const hex = await chain.getTransaction(txid);
  const tx = parseTransaction(hex);
  if (tx.getId() !== txid) throw new FulmenError('SERVER_MISBEHAVED', `Transaction bytes do not match txid ${txid}`);
  return { raw: hexToBytes(hex), tx };
}

/**
 * Runs `work` over `items` with at most `window` promises pending; results in input order, as
 * Promise.allSettled gives them.
 */
async function settleWindowed<T, R>(items: readonly T[], window: number, work: (item: T) => Promise<R>): Promise<PromiseSettledResult<R>[]> {
  const results: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        results[i] = { status: 'fulfilled', value: await work(items[i]!) };
      } catch (reason) {
        results[i] = { status: 'rejected', reason };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(window, items.length) }, lane));
  return results;
}

function sealSecret(secret: WalletSecret | null, password: string | undefined): { salt: Uint8Array | null; box: Uint8Array } {
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

/** Parses "txid:vout". @throws FulmenError BAD_INPUT. */
export function parseOutpoint(text: string): { txid: string; vout: number } {
  const m = /^([0-9a-fA-F]{64}):(\d{1,6})$/.exec(text.trim());
  if (!m) throw badInput(`Invalid coin "${text}" (expected txid:vout)`);
  return { txid: m[1]!.toLowerCase(), vout: Number(m[2]) };
}

/**
 * Reads a PSBT from base64 or hex: v0 (BIP174), or v2 (BIP370, converted to v0 by `psbtToV0`).
 * @throws FulmenError BAD_INPUT when malformed.
 */
export function parsePsbt(text: string, network: NetworkName): bitcoin.Psbt {
  const trimmed = text.trim();
  const opts = { network: bitcoinNetwork(network), maximumFeeRate: 100_001 };
  const bytes = psbtToV0(new Uint8Array(Buffer.from(trimmed, /^70736274ff/i.test(trimmed) ? 'hex' : 'base64')));
  try {
    return bitcoin.Psbt.fromBuffer(bytes, opts);
  } catch (err) {
    throw badInput(`Invalid PSBT: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/** True when `text` is a PSBT in base64 ("cHNidP8") or hex ("70736274ff"). */
export function looksLikePsbt(text: string): boolean {
  const t = text.trim();
  return t.startsWith('cHNidP8') || /^70736274ff/i.test(t);
}

/** scriptPubKey of input `n`'s previous output from its non-witness UTXO, if present. */
function prevOutputScript(psbt: bitcoin.Psbt, n: number): Uint8Array | undefined {
  const prev = psbt.data.inputs[n]?.nonWitnessUtxo;
  if (!prev) return undefined;
  const tx = bitcoin.Transaction.fromBuffer(prev);
  return tx.outs[psbt.txInputs[n]!.index]?.script;
}
