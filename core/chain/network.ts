import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { Transaction } from 'bitcoinjs-lib';
import { z } from 'zod';
import type { NetworkName } from '../bitcoin/network.js';
import type { Db } from '../storage/db.js';
import { FulmenError, badInput } from '../util/errors.js';
import { fromHex, isHash32Hex, isHex, toHex, txidOf } from './bytes.js';
import { CHAIN_PARAMS, HeaderChain, parseHeader, RETARGET_INTERVAL, type ParsedHeader } from './headers.js';
import { ElectrumInterface, parseProxyString, parseServerString, ServerRpcError, type ProxyAddress } from './interface.js';
import { DEFAULT_BAN_DURATION_MS, type ServerBan, SqliteServerBans } from './bans.js';
import { SqliteCertificatePins } from './pins.js';
import { SpvVerifier } from './spv.js';
import type { ChainEvent, ChainSource, CheckedTransaction, HistoryEntry, TxConfirmation, VerifiedHeader } from './types.js';

/**
 * ChainNetwork: the wallet's view of the Bitcoin chain through Electrum servers (Electrum's
 * `network` + `verifier`), implementing ChainSource (core/chain/types.ts).
 *
 * Servers: one *main* interface carries the wallet's data (scripthash subscriptions, history,
 * transactions, proofs, broadcast, fees); up to `maxAuxServers` *auxiliary* interfaces only
 * follow headers (and, with `crossCheckStatus`, answer history cross-checks). The list is
 * `server` (preferred main) plus `servers`; with `oneserver` only `server` is used.
 *
 * Fork choice: every server's tip is checked (HeaderChain: linkage, PoW, difficulty). A server
 * whose tip extends ours feeds our chain; a server on a fork has its branch downloaded and
 * validated, and we switch to it only when it has more cumulative work than ours (chainwork from
 * nBits; on a tie the first seen wins) — or, when no other connected server backs our chain, we
 * follow it (a lone server decides, as in Electrum with one server). The main server is replaced
 * by one on our chain when it follows a weaker chain or lags more than MAX_MAIN_LAG blocks; the
 * preferred `server` is main whenever it is on our chain and not lagging.
 *
 * Lies: a server that sends an invalid header, a wrong merkle proof, transaction bytes that do not
 * hash to the txid, a history that contradicts its own status, malformed JSON/results, or that is
 * proven (by another server's merkle-verified answer) to omit a confirmed transaction from a
 * history, is banned (event `{type:'server', status:'banned', reason}`), and the request is
 * retried on the next main server. Bans are stored in the chain db (`chain_server_bans`) with an
 * expiry (`banDurationMs`, default a day): a restart within that time does not connect to the
 * server again (it is listed by `serverStates()` with its reason, and a spare takes its place).
 * A ban is lifted (`liftBan`, event `{type:'server', status:'unbanned'}`) at its expiry, or at
 * once when the user asks: the server is connected again if it is in use.
 * Network failures only reconnect, with exponential backoff per server.
 *
 * Trust: headers, proofs and transactions are verified, so a lying server can hide data (withhold
 * a transaction, serve an old tip) but not forge it. Hiding is what the extra servers are for:
 * tips are compared across servers, and (`crossCheckStatus`) a scripthash status reported by the
 * main server is compared with an aux server's history; a disagreement about a *confirmed*
 * transaction is settled by a merkle proof. Mempool disagreements cannot be proven either way and
 * are ignored (mempools legitimately differ).
 */

export interface ChainNetworkOptions {
  network: NetworkName;
  /** Preferred Electrum server (the first main), `host:port:t` (TCP) or `host:port:s` (TLS). */
  server: string;
  /** Electrum's `--oneserver`: use only `server` (no auxiliary servers, no fork comparison). */
  oneserver: boolean;
  db: Db;
  /** Further servers (config `servers`); duplicates of `server` are ignored. */
  servers?: readonly string[];
  /**
   * Auxiliary (header) interfaces besides the main one. Default: 3 on mainnet, testnet and
   * signet; on regtest every given server.
   */
  maxAuxServers?: number;
  /** SOCKS5 proxy for every connection, `socks5:host:port` (e.g. Tor at 127.0.0.1:9050). */
  proxy?: string;
  /**
   * Compare the main server's scripthash statuses with an auxiliary server's history (see the
   * class comment). Default true (when there is an auxiliary server). Privacy cost: the auxiliary
   * server also learns the wallet's addresses; turn it off (or use `oneserver`) to show them to
   * the main server only.
   */
  crossCheckStatus?: boolean;
  /**
   * A checkpoint of the user's own (a header at a retarget-period start, or any height on
   * regtest) instead of the built-in one (CHAIN_PARAMS). Changing it restarts header sync there.
   */
  checkpoint?: { height: number; rawHex: string };
  /** Per-request timeout, ms (default 30 000). */
  requestTimeoutMs?: number;
  /** `server.ping` interval, ms (default 60 000). */
  keepaliveMs?: number;
  /** Reconnect backoff per server: first delay and ceiling, ms (default 1 000 and 60 000; doubles each failure). */
  reconnectDelayMs?: { initial: number; max: number };
  /** How long a ban for lying lasts, across restarts, ms (default DEFAULT_BAN_DURATION_MS, a day). */
  banDurationMs?: number;
}

/** The main server is replaced when its tip is more than this many blocks behind ours. */
export const MAX_MAIN_LAG = 2;
const DEFAULT_AUX_SERVERS = 3;
/** How often a history that contradicts its status is asked again before the server is banned. */
const STATUS_MISMATCH_RETRIES = 3;
/** Omissions proven per cross-check at most (each costs a proof and a transaction). */
const MAX_OMISSION_PROOFS = 3;

const hash32Schema = z.string().regex(/^[0-9a-fA-F]{64}$/);
const headerNotificationSchema = z.object({
  height: z.number().int().nonnegative(),
  hex: z.string().regex(/^[0-9a-fA-F]{160}$/),
});
const headersChunkSchema = z.object({
  count: z.number().int().nonnegative(),
  hex: z.string(),
  max: z.number().int().nonnegative(),
});
const statusSchema = hash32Schema.nullable();
const historySchema = z.array(
  z.object({ tx_hash: hash32Schema, height: z.number().int().min(-1), fee: z.number().optional() }),
);
const merkleSchema = z.object({
  block_height: z.number().int().positive(),
  // Each hash's form is checked by the SPV verifier (spv.ts merklePath), once.
  merkle: z.array(z.string()).max(32),
  pos: z.number().int().nonnegative(),
});
const feeSchema = z.number().finite();
const txHexSchema = z.string();

/** Networks whose fee market is usually empty: a missing estimate falls back to the relay fee. */
const RELAY_FEE_FALLBACK_NETWORKS: readonly NetworkName[] = ['regtest', 'signet'];

/**
 * BTC per 1000 vbytes (as `blockchain.estimatefee`/`relayfee` return it) → integer sat/vB, rounded
 * up. 1 BTC/kvB = 100 000 sat/vB. Exact decimal arithmetic (the float is printed to 12 decimals,
 * beyond bitcoind's 8, and scaled as a bigint).
 * @throws FulmenError SERVER_MISBEHAVED for a negative, non-finite or absurd (≥ 1 BTC/vB) value.
 */
export function btcPerKvbToSatPerVbyte(btcPerKvb: number): number {
  if (!Number.isFinite(btcPerKvb) || btcPerKvb < 0 || btcPerKvb >= 1000) {
    throw new FulmenError('SERVER_MISBEHAVED', `Server sent an invalid fee rate: ${btcPerKvb}`);
  }
  const scaled = BigInt(btcPerKvb.toFixed(12).replace('.', '')); // BTC/kvB × 10^12
  const divisor = 10_000_000n; // sat/vB = BTC/kvB × 10^5 = scaled / 10^7
  return Number((scaled + divisor - 1n) / divisor);
}

/**
 * Electrum protocol status of a history (protocol "Status"): sha256 of the concatenation of
 * `txid:height:` for each entry in the server's order, lowercase hex; null for an empty history.
 */
export function historyStatus(history: readonly HistoryEntry[]): string | null {
  if (history.length === 0) return null;
  return createHash('sha256')
    .update(history.map((entry) => `${entry.txid}:${entry.height}:`).join(''))
    .digest('hex');
}

/** What ChainNetwork knows of one server. */
interface ServerSlot {
  readonly server: string;
  /** Connected interface whose tip has been synced at least once; null otherwise. */
  iface: ElectrumInterface | null;
  connecting: boolean;
  /** The server's last announced tip (validated). */
  tip: { height: number; hash: string } | null;
  /** Cumulative work of that tip, comparable with `HeaderChain.workAt`. */
  work: bigint | null;
  /** Already flagged as following a weaker chain (the event is sent once per fork tip). */
  staleTipHash: string | null;
  nextDelay: number;
  timer: NodeJS.Timeout | null;
}

/** Public view of one server (for status displays). */
export interface ServerState {
  server: string;
  connected: boolean;
  main: boolean;
  tipHeight: number | null;
  /** On the chain we follow (its tip is one of our headers). */
  onOurChain: boolean;
  bannedReason: string | null;
}

/** How long fetched transactions are buffered before their one cache write (see txWriteBuffer). */
const TX_WRITE_DELAY_MS = 200;

export class ChainNetwork implements ChainSource {
  readonly network: NetworkName;
  /** The preferred server (`server` option). The one in use is `mainServer()`. */
  readonly server: string;
  readonly oneserver: boolean;
  readonly headers: HeaderChain;

  private readonly db: Db;
  private readonly verifier = new SpvVerifier();
  private readonly requestTimeoutMs: number | undefined;
  private readonly keepaliveMs: number | undefined;
  private readonly reconnectDelay: { initial: number; max: number };
  private readonly proxy: ProxyAddress | undefined;
  private readonly certificatePins: SqliteCertificatePins;
  private readonly crossCheckStatus: boolean;
  /** Servers in use (main + aux), in preference order; spares replace banned ones. */
  private readonly slots: ServerSlot[] = [];
  private readonly spares: string[];
  /** Banned servers and why: loaded from `chain_server_bans` at construction, added to by `ban`. */
  private readonly banned = new Map<string, string>();
  /** One timer per ban: `liftBan` at its expiry. */
  private readonly banExpiries = new Map<string, NodeJS.Timeout>();
  private readonly bans: SqliteServerBans;
  private readonly banDurationMs: number;
  private main: ServerSlot | null = null;
  private running = false;
  private readonly listeners = new Set<(event: ChainEvent) => void>();
  /** Subscribed scripthashes and the main server's last status, re-subscribed on every new main. */
  private readonly scripthashes = new Map<string, string | null>();
  private readonly crossChecksInFlight = new Set<string>();
  /** Headers below the checkpoint proven by linkage: first header of each period walked, recent periods in full. */
  private readonly belowCheckpointAnchors = new Map<number, ParsedHeader>();
  private readonly belowCheckpointPeriods = new Map<number, ParsedHeader[]>();
  private belowCheckpointWork: Promise<void> = Promise.resolve();
  /** Header syncs (all servers) run one after another, in notification order. */
  private headerWork: Promise<void> = Promise.resolve();
  private readonly selectTx: { get(txid: string): unknown };
  private readonly insertTx: { run(txid: string, raw: Uint8Array): unknown };
  /**
   * Checked transactions not yet written to chain_transactions: written together in one SQLite
   * transaction TX_WRITE_DELAY_MS later (one commit, not one fsync per transaction,
   * when a wallet sync fetches thousands). It is a cache, so a crash before the write loses nothing.
   */
  private readonly txWriteBuffer = new Map<string, CheckedTransaction>();
  /** Transaction fetches in flight, per interface and txid: concurrent asks for one txid share one request. */
  private readonly txFetches = new WeakMap<ElectrumInterface, Map<string, Promise<CheckedTransaction>>>();

  /**
   * Loads the stored header chain of `options.network`; does not connect (call `start()`).
   * @throws FulmenError BAD_INPUT for a malformed server or proxy string.
   */
  constructor(options: ChainNetworkOptions) {
    this.network = options.network;
    this.server = options.server;
    this.oneserver = options.oneserver;
    this.db = options.db;
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.keepaliveMs = options.keepaliveMs;
    this.reconnectDelay = options.reconnectDelayMs ?? { initial: 1_000, max: 60_000 };
    this.proxy = options.proxy ? parseProxyString(options.proxy) : undefined;
    const candidates = options.oneserver ? [options.server] : [...new Set([options.server, ...(options.servers ?? [])])];
    // Validates every server string now rather than on the first connect.
    for (const server of candidates) parseServerString(server);
    this.bans = new SqliteServerBans(options.db);
    this.banDurationMs = options.banDurationMs ?? DEFAULT_BAN_DURATION_MS;
    for (const ban of this.bans.active()) {
      this.banned.set(ban.server, ban.reason);
      this.liftBanAt(ban.server, ban.expiresAt);
    }
    const maxAux = options.oneserver
      ? 0
      : (options.maxAuxServers ?? (options.network === 'regtest' ? candidates.length - 1 : DEFAULT_AUX_SERVERS));
    // Banned servers keep a slot (never connected) so that serverStates() shows them with their
    // reason; they do not count against the number of servers in use.
    const usable = candidates.filter((server) => !this.banned.has(server));
    const used = new Set(usable.slice(0, 1 + Math.max(0, maxAux)));
    this.spares = usable.filter((server) => !used.has(server));
    for (const server of candidates) if (used.has(server) || this.banned.has(server)) this.slots.push(this.newSlot(server));
    this.crossCheckStatus = options.crossCheckStatus ?? true;
    const params = CHAIN_PARAMS[options.network];
    this.headers = new HeaderChain(options.network, options.db, options.checkpoint ? { ...params, checkpoint: options.checkpoint } : params);
    this.certificatePins = new SqliteCertificatePins(options.db);
    this.selectTx = this.db.prepare('SELECT raw FROM chain_transactions WHERE txid = ?');
    this.insertTx = this.db.prepare('INSERT OR IGNORE INTO chain_transactions (txid, raw) VALUES (?, ?)');
  }

  /**
   * Connects to the servers and syncs headers. Resolves after the first attempt of each server
   * whether it succeeded or not; failed servers are retried with backoff (watch `connection` and
   * `server` events, or `isConnected()`).
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await Promise.allSettled(this.slots.map((slot) => this.connectSlot(slot)));
  }

  /** Closes every connection and stops reconnecting. Subscriptions are forgotten. */
  async stop(): Promise<void> {
    this.running = false;
    for (const slot of this.slots) {
      if (slot.timer) clearTimeout(slot.timer);
      slot.timer = null;
      slot.iface?.close();
      slot.iface = null;
    }
    for (const timer of this.banExpiries.values()) clearTimeout(timer);
    this.banExpiries.clear();
    this.main = null;
    this.scripthashes.clear();
    this.flushTxWriteBuffer();
    await this.headerWork;
  }

  tip(): VerifiedHeader | null {
    return this.headers.tipHeight() > this.headers.baseHeight || this.main ? this.headers.tip() : null;
  }

  isConnected(): boolean {
    return this.main?.iface?.isConnected() ?? false;
  }

  /** The server currently used for wallet data, or null when none is connected. */
  mainServer(): string | null {
    return this.isConnected() ? this.main!.server : null;
  }

  /** Every server in use, with its state; banned ones keep their reason. */
  serverStates(): ServerState[] {
    return this.slots.map((slot) => ({
      server: slot.server,
      connected: slot.iface?.isConnected() ?? false,
      main: slot === this.main,
      tipHeight: slot.tip?.height ?? null,
      onOurChain: this.isOnOurChain(slot),
      bannedReason: this.banned.get(slot.server) ?? null,
    }));
  }

  /** Bans still in force (`chain_server_bans`; expired ones are deleted), times in unix ms. */
  serverBans(): ServerBan[] {
    return this.bans.active();
  }

  /**
   * Lifts the ban of `server` (in memory and in the chain db), e.g. when the user trusts it
   * again, and emits `{type:'server', status:'unbanned'}`; a server in use is connected again.
   */
  liftBan(server: string): void {
    clearTimeout(this.banExpiries.get(server));
    this.banExpiries.delete(server);
    this.banned.delete(server);
    this.bans.lift(server);
    this.emit({ type: 'server', server, status: 'unbanned' });
    const slot = this.slots.find((s) => s.server === server);
    if (slot) void this.connectSlot(slot);
  }

  on(listener: (event: ChainEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @throws FulmenError BAD_INPUT (malformed scripthash), NETWORK, SERVER_MISBEHAVED. */
  async subscribeScripthash(scripthash: string): Promise<string | null> {
    const normalized = normalizeHash(scripthash, 'scripthash');
    return this.onMain(async (slot, iface) => {
      const status = normalizeStatus(await iface.request('blockchain.scripthash.subscribe', [normalized], statusSchema));
      if (this.main === slot) this.scripthashes.set(normalized, status);
      this.crossCheck(normalized, slot, status);
      return status;
    });
  }

  /**
   * Heights: > 0 confirmed, 0 or -1 in the mempool (-1: has unconfirmed parents). For a
   * subscribed scripthash the history must hash to the server's status (asked again when they
   * differ, since the history may have moved on); a server that keeps contradicting itself is
   * banned and the request retried on the next server.
   */
  async getHistory(scripthash: string): Promise<HistoryEntry[]> {
    const normalized = normalizeHash(scripthash, 'scripthash');
    return this.onMain(async (slot, iface) => {
      for (let attempt = 1; ; attempt += 1) {
        const history = toHistory(await iface.request('blockchain.scripthash.get_history', [normalized], historySchema));
        if (!this.scripthashes.has(normalized) || historyStatus(history) === this.scripthashes.get(normalized)) return history;
        const status = normalizeStatus(await iface.request('blockchain.scripthash.subscribe', [normalized], statusSchema));
        if (this.main === slot && this.scripthashes.has(normalized) && this.scripthashes.get(normalized) !== status) {
          this.scripthashes.set(normalized, status);
          this.emit({ type: 'scripthash', scripthash: normalized, status });
        }
        if (historyStatus(history) === status) return history;
        if (attempt >= STATUS_MISMATCH_RETRIES) {
          throw new FulmenError('SERVER_MISBEHAVED', `Server's history of ${normalized} does not match its status`);
        }
        await sleep(100 * attempt);
      }
    });
  }

  /**
   * Raw transaction hex, from the local cache or the server; bytes from the server must hash
   * (non-witness serialization, double SHA-256) to `txid`.
   * When the main server does not have it, the other connected servers are asked.
   * @throws FulmenError BAD_INPUT (malformed txid), NOT_FOUND (no server has it), NETWORK,
   *   SERVER_MISBEHAVED (bytes do not parse or hash to another txid, on every server tried).
   */
  async getTransaction(txid: string): Promise<string> {
    return toHex((await this.checkedTransaction(normalizeHash(txid, 'txid'), true)).raw);
  }

  /** See ChainSource.getCheckedTransaction. */
  getCheckedTransaction(txid: string, options: { cache?: boolean } = {}): Promise<CheckedTransaction> {
    return this.checkedTransaction(normalizeHash(txid, 'txid'), options.cache ?? true);
  }

  /** `getTransaction`'s work, returning the bytes and the parsed transaction; `cache`: also written to chain_transactions. */
  private async checkedTransaction(normalized: string, cache: boolean): Promise<CheckedTransaction> {
    try {
      return await this.onMain((_slot, iface) => this.fetchOnce(iface, normalized, cache));
    } catch (err) {
      if (!(err instanceof FulmenError) || err.code !== 'NOT_FOUND') throw err;
      // Transaction bytes prove themselves (txid), so another server may supply what the main
      // server withholds; only the txid is revealed to it.
      for (const slot of this.slots) {
        if (slot === this.main || !slot.iface || !this.isUsable(slot)) continue;
        const iface = slot.iface;
        try {
          return await this.fetchOnce(iface, normalized, cache);
        } catch (auxErr) {
          if (auxErr instanceof FulmenError && auxErr.code === 'SERVER_MISBEHAVED') this.onServerFailure(slot, iface, auxErr);
        }
      }
      throw err;
    }
  }

  /**
   * Height ≤ 0: returns `{ height: 0, verified: false }` (mempool, nothing to prove).
   * @throws FulmenError NOT_FOUND when the header at `height` is above our tip (below the
   *   checkpoint it is proven by linkage, see `getHeader`), SERVER_MISBEHAVED when the proof or transaction is wrong (on
   *   every server tried; each liar is banned), NETWORK.
   */
  async verifyTransaction(txid: string, height: number, knownSize?: number): Promise<TxConfirmation> {
    const normalized = normalizeHash(txid, 'txid');
    if (!Number.isSafeInteger(height)) throw badInput(`Invalid height ${height}`);
    if (knownSize !== undefined && (!Number.isSafeInteger(knownSize) || knownSize <= 0)) throw badInput(`Invalid transaction size ${knownSize}`);
    if (height <= 0) return { txid: normalized, height: 0, verified: false };
    const header = await this.getHeader(height);
    const size = knownSize ?? (await this.checkedTransaction(normalized, true)).tx.byteLength(false);
    if (size === 64) {
      // Not the server's fault: such a transaction cannot be told apart from an inner merkle node.
      throw new FulmenError('SERVER_MISBEHAVED', `Transaction ${normalized} is 64 bytes and cannot be proven by a merkle branch`);
    }
    const confirmation = await this.onMain(async (slot, iface) => {
      const proof = await iface.request('blockchain.transaction.get_merkle', [normalized, height], merkleSchema);
      // A server on another branch (we are switching chains) answers for its own block: not a lie.
      if (height >= this.headers.baseHeight && !this.isOnOurChain(slot)) {
        throw new FulmenError('NETWORK', `Server ${slot.server} follows another branch; verification of ${normalized} retried later`);
      }
      // A reorg while we waited could have replaced the header: only judge against what is ours.
      if (!this.isStillOurs(header)) {
        throw new FulmenError('NETWORK', `Block ${height} was reorganised while verifying ${normalized}; try again`);
      }
      return this.verifier.verify(normalized, size, { blockHeight: proof.block_height, merkle: proof.merkle, pos: proof.pos }, header);
    });
    if (!this.isStillOurs(header)) {
      throw new FulmenError('NETWORK', `Block ${height} was reorganised while verifying ${normalized}; try again`);
    }
    return confirmation;
  }

  /**
   * Broadcasts a raw transaction (`blockchain.transaction.broadcast`) through the main server.
   * @returns the txid. @throws FulmenError BAD_INPUT (not a transaction, or rejected by the
   *   server's node: the message is the node's, e.g. "min relay fee not met"), NETWORK,
   *   SERVER_MISBEHAVED (server answers with another txid).
   */
  async broadcast(rawTxHex: string): Promise<string> {
    const { raw, tx } = parseTransaction(rawTxHex, (message) => badInput(`Not a valid transaction: ${message}`));
    const txid = txidOf(raw, tx);
    await this.onMain(async (_slot, iface) => {
      let answer: string;
      try {
        answer = await iface.request('blockchain.transaction.broadcast', [rawTxHex.toLowerCase()], txHexSchema);
      } catch (err) {
        if (err instanceof ServerRpcError) {
          throw badInput(`Transaction rejected: ${err.serverMessage}`, { txid, rpcCode: err.rpcCode });
        }
        throw err;
      }
      if (answer.toLowerCase() !== txid) {
        throw new FulmenError('SERVER_MISBEHAVED', `Server answered broadcast of ${txid} with another txid`);
      }
    });
    this.insertTx.run(txid, raw);
    return txid;
  }

  /**
   * `blockchain.estimatefee(targetBlocks)` as integer sat/vB, rounded up, never below the relay
   * fee. When the server has no estimate (-1, e.g. a fresh regtest chain): on regtest and signet
   * the relay fee is used; on mainnet and testnet this throws, since guessing low could leave a
   * Lightning transaction unconfirmed past its deadline.
   * @throws FulmenError BAD_INPUT (targetBlocks not in 1..1008), NETWORK (no estimate on
   *   mainnet/testnet, or no connection), SERVER_MISBEHAVED.
   */
  async estimateFeeSatPerVbyte(targetBlocks: number): Promise<number> {
    if (!Number.isInteger(targetBlocks) || targetBlocks < 1 || targetBlocks > 1008) {
      throw badInput(`Fee target must be 1..1008 blocks, got ${targetBlocks}`);
    }
    const iface = this.requireMain().iface!;
    const [estimate, relay] = await Promise.all([
      iface.request('blockchain.estimatefee', [targetBlocks], feeSchema),
      this.relayFeeSatPerVbyte(),
    ]);
    if (estimate < 0) {
      if (RELAY_FEE_FALLBACK_NETWORKS.includes(this.network)) return relay;
      throw new FulmenError('NETWORK', `The server has no fee estimate for ${targetBlocks} blocks`);
    }
    return Math.max(btcPerKvbToSatPerVbyte(estimate), relay);
  }

  /**
   * `mempool.get_fee_histogram` (Electrum protocol 1.2+): [feerate sat/vB, vsize] pairs, feerate
   * descending. @throws FulmenError NETWORK, SERVER_MISBEHAVED (malformed reply).
   */
  async getFeeHistogram(): Promise<[number, number][]> {
    const pair = z.tuple([z.number().finite().nonnegative(), z.number().int().nonnegative()]);
    return this.requireMain().iface!.request('mempool.get_fee_histogram', [], z.array(pair).max(10_000));
  }

  /** `blockchain.relayfee` as integer sat/vB, rounded up, at least 1. */
  async relayFeeSatPerVbyte(): Promise<number> {
    const relay = await this.requireMain().iface!.request('blockchain.relayfee', [], feeSchema);
    return Math.max(1, btcPerKvbToSatPerVbyte(relay));
  }

  /**
   * Validated header at `height`; waits for a header sync under way first. Below the checkpoint
   * (a transaction older than the checkpoint, e.g. in a restored wallet) the header is proven by
   * hash linkage down from the checkpoint instead (see `headerBelowCheckpoint`).
   * @throws FulmenError NOT_FOUND above our tip, NETWORK / SERVER_MISBEHAVED when a header below
   *   the checkpoint has to be fetched and cannot be, or does not link.
   */
  async getHeader(height: number): Promise<VerifiedHeader> {
    if (!Number.isSafeInteger(height) || height < 0) throw badInput(`Invalid height ${height}`);
    if (height < this.headers.baseHeight) return this.headerBelowCheckpoint(height);
    await this.headerWork;
    const header = this.headers.header(height);
    if (header) return header;
    throw new FulmenError('NOT_FOUND', `Header ${height} is not known yet (tip ${this.headers.tipHeight()})`);
  }

  /**
   * A header below the checkpoint, proven without proof-of-work checks by linkage: the header at
   * checkpoint − 1 must hash to the checkpoint's prevHash, and each header below to the prevHash
   * of the one above (a second preimage of double SHA-256 would be needed to fake one). Downloads
   * whole retarget periods (2016 headers) from the main server, walking down from the checkpoint
   * to the period of `height`; the first header of each period walked is kept as an anchor (in
   * memory, for the session), so later heights cost at most one period. Cost for a transaction
   * N blocks below the checkpoint, the first time: N × 80 bytes.
   */
  private async headerBelowCheckpoint(height: number): Promise<VerifiedHeader> {
    const job = this.belowCheckpointWork.then(() => this.provePeriod(height));
    this.belowCheckpointWork = job.then(
      () => undefined,
      () => undefined,
    );
    const parsed = await job;
    return { height, hash: parsed.hash, raw: toHex(parsed.raw), timestamp: parsed.timestamp };
  }

  private async provePeriod(height: number): Promise<ParsedHeader> {
    const periodStart = height - (height % RETARGET_INTERVAL);
    const cached = this.belowCheckpointPeriods.get(periodStart);
    if (cached) return cached[height - periodStart]!;
    // Walk down from the lowest anchor above `height` (the checkpoint is the first anchor).
    let above = this.headers.baseHeight;
    for (const anchorHeight of this.belowCheckpointAnchors.keys()) {
      if (anchorHeight > height && anchorHeight < above) above = anchorHeight;
    }
    let prevHashOfAbove =
      above === this.headers.baseHeight ? this.headers.parsedAt(above)!.prevHash : this.belowCheckpointAnchors.get(above)!.prevHash;
    for (;;) {
      const start = Math.max(0, above - RETARGET_INTERVAL, periodStart);
      const period = await this.onMain(async (_slot, iface) => {
        const raws = (await this.fetchHeaders(iface, start, above - start, true)).map((raw) => parseHeader(Uint8Array.from(raw)));
        for (let i = raws.length - 1; i >= 0; i -= 1) {
          const expected = i === raws.length - 1 ? prevHashOfAbove : raws[i + 1]!.prevHash;
          if (raws[i]!.hash !== expected) {
            throw new FulmenError('SERVER_MISBEHAVED', `Header ${start + i} below the checkpoint does not link to the checkpoint`);
          }
        }
        return raws;
      });
      this.belowCheckpointAnchors.set(start, period[0]!);
      if (start === periodStart) {
        this.belowCheckpointPeriods.set(start, period);
        // A few recent periods in full; older ones are re-proven from their anchor when needed.
        if (this.belowCheckpointPeriods.size > 8) this.belowCheckpointPeriods.delete(this.belowCheckpointPeriods.keys().next().value!);
        return period[height - start]!;
      }
      above = start;
      prevHashOfAbove = period[0]!.prevHash;
    }
  }

  // ---- servers ----------------------------------------------------------------------------------

  private newSlot(server: string): ServerSlot {
    return { server, iface: null, connecting: false, tip: null, work: null, staleTipHash: null, nextDelay: this.reconnectDelay.initial, timer: null };
  }

  private async connectSlot(slot: ServerSlot): Promise<void> {
    if (!this.running || slot.iface || slot.connecting || this.banned.has(slot.server)) return;
    slot.connecting = true;
    const iface = new ElectrumInterface({
      server: slot.server,
      requestTimeoutMs: this.requestTimeoutMs,
      keepaliveMs: this.keepaliveMs,
      proxy: this.proxy,
      certificatePins: this.certificatePins,
    });
    try {
      await iface.connect();
      iface.onNotification((method, params) => this.onNotification(slot, iface, method, params));
      iface.onClose((reason) => this.onServerFailure(slot, iface, reason));
      const tip = await iface.request('blockchain.headers.subscribe', [], headerNotificationSchema);
      if (!this.running) throw new FulmenError('NETWORK', 'stopped');
      slot.iface = iface;
      await this.enqueueHeaderSync(slot, iface, tip.height, tip.hex);
      if (!iface.isConnected()) throw new FulmenError('NETWORK', `Connection to ${slot.server} lost during sync`);
      slot.nextDelay = this.reconnectDelay.initial;
      this.emit({ type: 'server', server: slot.server, status: 'connected' });
      this.electMain();
    } catch (err) {
      this.onServerFailure(slot, iface, err instanceof FulmenError ? err : new FulmenError('INTERNAL', String(err)));
    } finally {
      slot.connecting = false;
    }
  }

  /**
   * A request, a sync or the connection of `slot` failed. SERVER_MISBEHAVED (but not a JSON-RPC
   * error object, which is the server declining) bans it; anything else reconnects later.
   * Idempotent: the close that follows a ban lands here again and changes nothing.
   */
  private onServerFailure(slot: ServerSlot, iface: ElectrumInterface, reason: FulmenError): void {
    if (reason.code === 'SERVER_MISBEHAVED' && !(reason instanceof ServerRpcError)) this.ban(slot, reason.message);
    iface.close();
    if (slot.iface !== iface) {
      this.scheduleReconnect(slot);
      return;
    }
    slot.iface = null;
    slot.tip = null;
    slot.work = null;
    this.emit({ type: 'server', server: slot.server, status: 'disconnected', reason: reason.message });
    this.scheduleReconnect(slot);
    if (this.main === slot) this.electMain();
  }

  /** Schedules `liftBan(server)` at `expiresAtMs` (unix ms); the timer does not keep the process alive. */
  private liftBanAt(server: string, expiresAtMs: number): void {
    clearTimeout(this.banExpiries.get(server));
    // setTimeout holds at most 2^31 - 1 ms (~24.8 days): a longer ban is looked at again then.
    const delay = Math.min(Math.max(0, expiresAtMs - Date.now()), 2 ** 31 - 1);
    const timer = setTimeout(() => (Date.now() >= expiresAtMs ? this.liftBan(server) : this.liftBanAt(server, expiresAtMs)), delay);
    timer.unref();
    this.banExpiries.set(server, timer);
  }

  /**
   * Bans `server` for `banDurationMs` (stored, so it outlives a restart): closes it, does not
   * reconnect, brings in a spare server.
   */
  private ban(slot: ServerSlot, reason: string): void {
    if (this.banned.has(slot.server)) return;
    this.banned.set(slot.server, reason);
    let expiresAt = Date.now() + this.banDurationMs;
    try {
      expiresAt = this.bans.add(slot.server, reason, this.banDurationMs).expiresAt;
    } catch {
      // A closed db (stopping) only loses the memory of the ban across a restart; the session ban holds.
    }
    this.liftBanAt(slot.server, expiresAt);
    if (slot.timer) clearTimeout(slot.timer);
    slot.timer = null;
    this.emit({ type: 'server', server: slot.server, status: 'banned', reason });
    slot.iface?.close(); // → onServerFailure: drops the slot, elects another main
    const spare = this.spares.shift();
    if (spare && this.running) {
      const replacement = this.newSlot(spare);
      this.slots.push(replacement);
      void this.connectSlot(replacement);
    }
    this.resyncIfOrphaned();
  }

  /**
   * When no connected server backs our chain any more (we followed the banned one), asks the
   * others for their tips again: with nobody else on our chain, syncServerTip follows theirs.
   */
  private resyncIfOrphaned(): void {
    if (!this.running || this.slots.some((s) => this.isUsable(s) && this.isOnOurChain(s))) return;
    for (const slot of this.slots) {
      const iface = slot.iface;
      if (!iface || !this.isUsable(slot)) continue;
      void iface
        .request('blockchain.headers.subscribe', [], headerNotificationSchema)
        .then((tip) => this.enqueueHeaderSync(slot, iface, tip.height, tip.hex))
        .catch(() => undefined); // a failure there is handled by enqueueHeaderSync / the close handler
    }
  }

  private scheduleReconnect(slot: ServerSlot): void {
    if (!this.running || slot.timer || slot.iface || this.banned.has(slot.server)) return;
    const delay = slot.nextDelay;
    slot.nextDelay = Math.min(delay * 2, this.reconnectDelay.max);
    slot.timer = setTimeout(() => {
      slot.timer = null;
      void this.connectSlot(slot);
    }, delay);
  }

  /** True while `header` is in our chain; below the checkpoint headers are final. */
  private isStillOurs(header: VerifiedHeader): boolean {
    return header.height < this.headers.baseHeight || this.headers.header(header.height)?.hash === header.hash;
  }

  private isOnOurChain(slot: ServerSlot): boolean {
    return slot.tip !== null && this.headers.parsedAt(slot.tip.height)?.hash === slot.tip.hash;
  }

  private isUsable(slot: ServerSlot): boolean {
    return (slot.iface?.isConnected() ?? false) && !this.banned.has(slot.server);
  }

  /**
   * Keeps the main server on our chain and within MAX_MAIN_LAG blocks of our tip: otherwise the
   * best such server replaces it (the preferred `server` first, then the highest tip). A new main
   * gets the scripthash subscriptions and is announced with a `connection` event (consumers
   * re-subscribe and refetch on it).
   */
  private electMain(): void {
    if (!this.running) return;
    const tipHeight = this.headers.tipHeight();
    const eligible = (slot: ServerSlot) => this.isUsable(slot) && this.isOnOurChain(slot) && slot.tip!.height >= tipHeight - MAX_MAIN_LAG;
    const current = this.main && this.isUsable(this.main) ? this.main : null;
    const preferred = this.slots.find((s) => s.server === this.server);
    let next = current;
    if (preferred && preferred !== current && eligible(preferred)) {
      next = preferred; // the user's server, whenever it is fit to be main
    } else if (!current || !eligible(current)) {
      const candidates = this.slots
        .filter(eligible)
        .sort((a, b) => (a.server === this.server ? -1 : b.server === this.server ? 1 : b.tip!.height - a.tip!.height));
      if (candidates.length > 0) next = candidates[0]!;
      else if (!current) {
        // Nobody on our chain (yet): any connected server, most work first.
        next = this.slots.filter((s) => this.isUsable(s) && s.tip).sort((a, b) => (b.work! > a.work! ? 1 : b.work! < a.work! ? -1 : 0))[0] ?? null;
      }
    }
    if (next === this.main) return;
    const previous = this.main;
    this.main = next;
    if (next) {
      this.emit({ type: 'server', server: next.server, status: 'main' });
      this.emit({ type: 'connection', connected: true, server: next.server });
      void this.resubscribe(next).catch(() => undefined);
    } else if (previous) {
      this.emit({ type: 'connection', connected: false, server: previous.server });
    }
  }

  /**
   * Runs `work` on the main server. When it fails with SERVER_MISBEHAVED the server is banned and
   * `work` runs again on the next main (at most once per server).
   */
  private async onMain<T>(work: (slot: ServerSlot, iface: ElectrumInterface) => Promise<T>): Promise<T> {
    for (;;) {
      const slot = this.requireMain();
      const iface = slot.iface!;
      try {
        return await work(slot, iface);
      } catch (err) {
        if (!(err instanceof FulmenError) || err.code !== 'SERVER_MISBEHAVED' || err instanceof ServerRpcError) throw err;
        this.onServerFailure(slot, iface, err);
        if (!this.isConnected()) throw err;
      }
    }
  }

  private requireMain(): ServerSlot {
    const slot = this.main;
    if (!slot || !slot.iface || !slot.iface.isConnected()) throw new FulmenError('NETWORK', 'Not connected to an Electrum server');
    return slot;
  }

  /** Re-subscribes every scripthash on a new main; emits an event for each changed status. */
  private async resubscribe(slot: ServerSlot): Promise<void> {
    for (const [scripthash, previous] of [...this.scripthashes]) {
      if (this.main !== slot || !slot.iface) return;
      const status = normalizeStatus(await slot.iface.request('blockchain.scripthash.subscribe', [scripthash], statusSchema));
      if (!this.scripthashes.has(scripthash) || this.main !== slot) continue;
      this.scripthashes.set(scripthash, status);
      if (status !== previous) this.emit({ type: 'scripthash', scripthash, status });
      this.crossCheck(scripthash, slot, status);
    }
  }

  private onNotification(slot: ServerSlot, iface: ElectrumInterface, method: string, params: unknown): void {
    if (method === 'blockchain.headers.subscribe') {
      const parsed = z.tuple([headerNotificationSchema]).safeParse(params);
      if (!parsed.success) return this.onServerFailure(slot, iface, new FulmenError('SERVER_MISBEHAVED', `Malformed header notification (${slot.server})`));
      // A failed sync is handled in enqueueHeaderSync.
      this.enqueueHeaderSync(slot, iface, parsed.data[0].height, parsed.data[0].hex).catch(() => undefined);
    } else if (method === 'blockchain.scripthash.subscribe') {
      const parsed = z.tuple([hash32Schema, statusSchema]).safeParse(params);
      if (!parsed.success) return this.onServerFailure(slot, iface, new FulmenError('SERVER_MISBEHAVED', `Malformed scripthash notification (${slot.server})`));
      // Only the main server's statuses count (an old main may still notify).
      if (this.main !== slot) return;
      const scripthash = parsed.data[0].toLowerCase();
      if (!this.scripthashes.has(scripthash)) return;
      const status = normalizeStatus(parsed.data[1]);
      this.scripthashes.set(scripthash, status);
      this.emit({ type: 'scripthash', scripthash, status });
      this.crossCheck(scripthash, slot, status);
    }
  }

  // ---- cross-checking histories -------------------------------------------------------------------

  /**
   * In the background: asks an auxiliary server on our chain for the history of `scripthash`
   * and, when its status differs from the main server's `status`, settles every confirmed
   * transaction one side has and the other lacks with a merkle proof from the side that has it.
   * A proven omission bans the omitting server; a failed proof bans the claimer.
   */
  private crossCheck(scripthash: string, mainSlot: ServerSlot, status: string | null): void {
    if (!this.crossCheckStatus || this.crossChecksInFlight.has(scripthash)) return;
    const aux = this.slots.find((s) => s !== mainSlot && this.isUsable(s) && this.isOnOurChain(s));
    if (!aux) return;
    this.crossChecksInFlight.add(scripthash);
    void this.runCrossCheck(scripthash, mainSlot, aux, status)
      .catch(() => undefined) // a network failure leaves the question open; the next status change asks again
      .finally(() => this.crossChecksInFlight.delete(scripthash));
  }

  private async runCrossCheck(scripthash: string, mainSlot: ServerSlot, aux: ServerSlot, mainStatus: string | null): Promise<void> {
    const auxHistory = await this.historyFrom(aux, scripthash);
    if (historyStatus(auxHistory) === mainStatus) return;
    const mainHistory = await this.historyFrom(mainSlot, scripthash);
    await this.settleOmissions(scripthash, aux, auxHistory, mainSlot, mainHistory);
    await this.settleOmissions(scripthash, mainSlot, mainHistory, aux, auxHistory);
  }

  private async historyFrom(slot: ServerSlot, scripthash: string): Promise<HistoryEntry[]> {
    const iface = slot.iface;
    if (!iface || !this.isUsable(slot)) throw new FulmenError('NETWORK', `${slot.server} is not connected`);
    try {
      return toHistory(await iface.request('blockchain.scripthash.get_history', [scripthash], historySchema));
    } catch (err) {
      if (err instanceof FulmenError && err.code === 'SERVER_MISBEHAVED') this.onServerFailure(slot, iface, err);
      throw err;
    }
  }

  /**
   * Confirmed entries of `claimer`'s history missing from `other`'s, old enough that `other`
   * must have indexed them (at least one block below its tip), are proven with `claimer`'s merkle
   * proof against our headers; `other` is asked again and banned if it still omits a proven one.
   */
  private async settleOmissions(
    scripthash: string,
    claimer: ServerSlot,
    claimerHistory: HistoryEntry[],
    other: ServerSlot,
    otherHistory: HistoryEntry[],
  ): Promise<void> {
    const otherTxids = new Set(otherHistory.map((entry) => entry.txid));
    const otherTip = other.tip?.height ?? 0;
    const suspects = claimerHistory
      .filter((e) => e.height > 0 && e.height < otherTip && e.height <= this.headers.tipHeight() && !otherTxids.has(e.txid))
      .slice(0, MAX_OMISSION_PROOFS);
    for (const entry of suspects) {
      if (this.banned.has(claimer.server) || this.banned.has(other.server)) return;
      const claimerIface = claimer.iface;
      if (!claimerIface) return;
      const header = this.headers.header(entry.height);
      if (!header) continue;
      try {
        const proof = await claimerIface.request('blockchain.transaction.get_merkle', [entry.txid, entry.height], merkleSchema);
        const { tx } = await this.fetchOnce(claimerIface, entry.txid, true);
        if (this.headers.header(entry.height)?.hash !== header.hash) continue; // reorged meanwhile
        this.verifier.verify(entry.txid, tx.byteLength(false), { blockHeight: proof.block_height, merkle: proof.merkle, pos: proof.pos }, header);
      } catch (err) {
        if (err instanceof FulmenError && err.code === 'SERVER_MISBEHAVED' && !(err instanceof ServerRpcError)) {
          this.onServerFailure(claimer, claimerIface, err);
          return;
        }
        throw err;
      }
      // Proven. Ask `other` once more: the history may have been read just before a block.
      const again = await this.historyFrom(other, scripthash);
      if (!again.some((e) => e.txid === entry.txid) && other.iface) {
        this.onServerFailure(
          other,
          other.iface,
          new FulmenError(
            'SERVER_MISBEHAVED',
            `Server omitted confirmed transaction ${entry.txid} (block ${entry.height}, proven by ${claimer.server}) from the history of ${scripthash}`,
          ),
        );
        return;
      }
    }
  }

  // ---- headers ---------------------------------------------------------------------------------

  /** Queues a sync to a server's tip; a failure drops that server (banned if it lied). */
  private enqueueHeaderSync(slot: ServerSlot, iface: ElectrumInterface, height: number, hex: string): Promise<void> {
    const work = this.headerWork.then(() => this.syncServerTip(slot, iface, height, fromHex(hex)));
    this.headerWork = work.catch((err: unknown) =>
      this.onServerFailure(slot, iface, err instanceof FulmenError ? err : new FulmenError('INTERNAL', String(err))),
    );
    return work;
  }

  /**
   * Takes in one server's tip (`height`, `tipRaw`): records it; when it extends our chain, adds
   * its headers; when it is on a fork, downloads and validates the branch and adopts it if it
   * has more work than ours, or if no other connected server backs our chain. Emits one `tip`
   * event when our tip changed (with `forkHeight` after a reorg), then re-elects the main server.
   */
  private async syncServerTip(slot: ServerSlot, iface: ElectrumInterface, height: number, tipRaw: Uint8Array): Promise<void> {
    if (!iface.isConnected() || slot.iface !== iface) return;
    const chain = this.headers;
    const before = chain.tip().hash;
    const tipHeader = parseHeader(tipRaw);
    if (height < chain.baseHeight) {
      throw new FulmenError('SERVER_MISBEHAVED', `Server tip ${height} is below the ${this.network} checkpoint`);
    }
    const record = (work: bigint) => {
      slot.tip = { height, hash: tipHeader.hash };
      slot.work = work;
    };
    let changedFrom: number | null = null;
    let reorg = false;

    if (chain.parsedAt(height)?.hash === tipHeader.hash) {
      record(chain.workAt(height)!); // on our chain (at our tip or behind it)
    } else if (height === chain.tipHeight() + 1 && tipHeader.prevHash === before) {
      chain.connect(height, [tipRaw]);
      record(chain.workAt(height)!);
      changedFrom = height;
    } else {
      const forkHeight = await this.findForkHeight(iface, height, tipHeader.hash);
      if (forkHeight > chain.tipHeight()) {
        // Extends our chain: connect chunk by chunk (more work by construction).
        let start = forkHeight;
        while (start <= height) {
          const raws = await this.fetchHeaders(iface, start, Math.min(RETARGET_INTERVAL, height - start + 1));
          if (raws.length === 0) throw new FulmenError('SERVER_MISBEHAVED', `Server did not serve headers up to its tip ${height}`);
          chain.connect(start, raws);
          start += raws.length;
        }
        if (chain.parsedAt(height)?.hash !== tipHeader.hash) {
          throw new FulmenError('SERVER_MISBEHAVED', `Server's headers do not lead to the tip it announced at ${height}`);
        }
        record(chain.workAt(height)!);
        changedFrom = forkHeight;
      } else {
        const raws: Uint8Array[] = [];
        while (forkHeight + raws.length <= height) {
          const start = forkHeight + raws.length;
          raws.push(...(await this.fetchHeaders(iface, start, Math.min(RETARGET_INTERVAL, height - start + 1), true)));
        }
        if (parseHeader(raws[raws.length - 1]!).hash !== tipHeader.hash) {
          throw new FulmenError('SERVER_MISBEHAVED', `Server's headers do not lead to the tip it announced at ${height}`);
        }
        const theirWork = chain.branchWork(forkHeight, raws);
        record(theirWork);
        const ourWork = chain.workAt(chain.tipHeight())!;
        const backedByOthers = this.slots.some((s) => s !== slot && this.isUsable(s) && this.isOnOurChain(s));
        if (theirWork > ourWork || !backedByOthers) {
          chain.connect(forkHeight, raws);
          changedFrom = forkHeight;
          reorg = true;
        }
      }
    }
    if (changedFrom !== null && chain.tip().hash !== before) {
      this.emit(reorg ? { type: 'tip', header: chain.tip(), forkHeight: changedFrom } : { type: 'tip', header: chain.tip() });
    }
    this.flagStaleServers();
    this.electMain();
  }

  /** Emits `stale` once per tip for each connected server whose chain has less work than ours. */
  private flagStaleServers(): void {
    const ourWork = this.headers.workAt(this.headers.tipHeight())!;
    for (const slot of this.slots) {
      if (!this.isUsable(slot) || !slot.tip || slot.work === null || this.isOnOurChain(slot)) continue;
      if (slot.work > ourWork || slot.staleTipHash === slot.tip.hash) continue;
      slot.staleTipHash = slot.tip.hash;
      this.emit({ type: 'server', server: slot.server, status: 'stale', reason: `follows a chain with less work (tip ${slot.tip.height} ${slot.tip.hash})` });
    }
  }

  /**
   * Lowest height at which the server's chain (tip `serverHeight`) differs from ours, or our tip +
   * 1 when ours is a prefix of it. Walks back in growing steps (8, 64, 512, 2016 headers).
   * @throws FulmenError SERVER_MISBEHAVED when the server's chain does not contain our checkpoint.
   */
  private async findForkHeight(iface: ElectrumInterface, serverHeight: number, serverTipHash: string): Promise<number> {
    const chain = this.headers;
    let top = Math.min(chain.tipHeight(), serverHeight);
    const serverHashAtTop =
      top === serverHeight ? serverTipHash : parseHeader((await this.fetchHeaders(iface, top, 1, true))[0]!).hash;
    if (serverHashAtTop === chain.parsedAt(top)!.hash) return top + 1;
    let step = 8;
    for (;;) {
      const low = Math.max(chain.baseHeight, top - step + 1);
      const raws = await this.fetchHeaders(iface, low, top - low + 1, true);
      for (let h = top; h >= low; h -= 1) {
        if (parseHeader(raws[h - low]!).hash === chain.parsedAt(h)!.hash) return h + 1;
      }
      if (low === chain.baseHeight) {
        throw new FulmenError('SERVER_MISBEHAVED', `Server's chain does not contain the ${this.network} checkpoint`);
      }
      top = low - 1;
      step = Math.min(step * 8, RETARGET_INTERVAL);
    }
  }

  /**
   * `blockchain.block.headers(start, count)` split into 80-byte headers. The server may return
   * fewer than asked (its `max`, or its tip); `exact` demands all of them.
   * @throws FulmenError SERVER_MISBEHAVED for a malformed chunk.
   */
  private async fetchHeaders(iface: ElectrumInterface, start: number, count: number, exact = false): Promise<Uint8Array[]> {
    const chunk = await iface.request('blockchain.block.headers', [start, count], headersChunkSchema);
    if (chunk.count > count || chunk.hex.length !== chunk.count * 160 || !isHex(chunk.hex) || (exact && chunk.count !== count)) {
      throw new FulmenError('SERVER_MISBEHAVED', `Server sent a malformed header chunk at ${start}`);
    }
    const bytes = fromHex(chunk.hex);
    const raws: Uint8Array[] = [];
    for (let i = 0; i < chunk.count; i += 1) raws.push(bytes.subarray(i * 80, i * 80 + 80));
    return raws;
  }

  // ---- transactions ------------------------------------------------------------------------------

  /**
   * From the cache, or from `iface` checked against `txid` (then cached). Concurrent calls for
   * one txid on one interface share its request. The parsed transaction is shared: read only.
   */
  private fetchOnce(iface: ElectrumInterface, txid: string, cache: boolean): Promise<CheckedTransaction> {
    const buffered = this.txWriteBuffer.get(txid);
    if (buffered) return Promise.resolve(buffered);
    let fetches = this.txFetches.get(iface);
    if (!fetches) this.txFetches.set(iface, (fetches = new Map()));
    const inFlight = fetches.get(txid);
    if (inFlight) return inFlight;
    const fetch = this.fetchCheckedTransaction(iface, txid, cache).finally(() => fetches.delete(txid));
    fetches.set(txid, fetch);
    return fetch;
  }

  /** `cache` false: not written to chain_transactions (the caller stores the bytes). */
  private async fetchCheckedTransaction(iface: ElectrumInterface, txid: string, cache: boolean): Promise<CheckedTransaction> {
    const cached = this.selectTx.get(txid) as { raw: Buffer } | undefined;
    if (cached) {
      const raw = new Uint8Array(cached.raw);
      return { raw, tx: Transaction.fromBuffer(raw) };
    }
    let hex: string;
    try {
      hex = await iface.request('blockchain.transaction.get', [txid], txHexSchema);
    } catch (err) {
      if (err instanceof ServerRpcError) throw new FulmenError('NOT_FOUND', `Server does not have transaction ${txid}: ${err.serverMessage}`);
      throw err;
    }
    const checked = parseTransaction(hex, (message) => new FulmenError('SERVER_MISBEHAVED', `Server sent an invalid transaction for ${txid}: ${message}`));
    if (txidOf(checked.raw, checked.tx) !== txid) {
      throw new FulmenError('SERVER_MISBEHAVED', `Server sent a transaction that does not hash to ${txid}`);
    }
    if (!cache) return checked;
    if (this.txWriteBuffer.size === 0) setTimeout(() => this.flushTxWriteBuffer(), TX_WRITE_DELAY_MS);
    this.txWriteBuffer.set(txid, checked);
    return checked;
  }

  /** Writes the buffered transactions in one SQLite transaction (best effort: a closed db skips the cache). */
  private flushTxWriteBuffer(): void {
    if (this.txWriteBuffer.size === 0) return;
    const entries = [...this.txWriteBuffer];
    this.txWriteBuffer.clear();
    try {
      this.db.transaction(() => {
        for (const [txid, { raw }] of entries) this.insertTx.run(txid, raw);
      })();
    } catch {
      // Only a cache: the transactions are fetched (and checked) again when needed.
    }
  }

  private emit(event: ChainEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch {
        // A listener's failure is its own; the other listeners still get the event.
      }
    }
  }
}

function toHistory(entries: z.infer<typeof historySchema>): HistoryEntry[] {
  return entries.map((entry) => ({ txid: entry.tx_hash.toLowerCase(), height: entry.height }));
}

/** Lowercases a 32-byte hex hash. @throws FulmenError BAD_INPUT when malformed. */
function normalizeHash(value: string, what: string): string {
  if (typeof value !== 'string' || !isHash32Hex(value)) throw badInput(`Invalid ${what}: expected 64 hex characters`);
  return value.toLowerCase();
}

function normalizeStatus(status: string | null): string | null {
  return status === null ? null : status.toLowerCase();
}

/** Parses a whole transaction from hex (trailing bytes rejected by bitcoinjs), decoding the hex once. */
function parseTransaction(hex: string, fail: (message: string) => FulmenError): CheckedTransaction {
  if (typeof hex !== 'string' || hex.length === 0 || !isHex(hex)) throw fail('not hex');
  const raw = fromHex(hex);
  try {
    return { raw, tx: Transaction.fromBuffer(raw) };
  } catch (err) {
    throw fail(err instanceof Error ? err.message : 'unparseable');
  }
}
