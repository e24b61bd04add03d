import { Transaction } from 'bitcoinjs-lib';
import { z } from 'zod';
import type { NetworkName } from '../bitcoin/network.js';
import type { Db } from '../storage/db.js';
import { FulmenError, badInput } from '../util/errors.js';
import { fromHex, isHash32Hex, isHex, toHex } from './bytes.js';
import { HeaderChain, parseHeader, RETARGET_INTERVAL } from './headers.js';
import { ElectrumInterface, ServerRpcError } from './interface.js';
import { SpvVerifier } from './spv.js';
import type { ChainEvent, ChainSource, HistoryEntry, TxConfirmation, VerifiedHeader } from './types.js';

/**
 * ChainNetwork: the wallet's view of the Bitcoin chain through Electrum servers (Electrum's
 * `network` + `verifier`), implementing ChainSource (core/chain/types.ts).
 *
 * Today it keeps one ElectrumInterface to `server` (Electrum's `--oneserver` behaviour). Per-server
 * work (handshake, header sync, subscriptions) takes the interface as a parameter, so adding
 * more interfaces and choosing the branch with the most work among them is a change to
 * `connectServer`/`onInterfaceClosed`, not to the ChainSource methods.
 *
 * Trust: the server chooses the branch (one server), but everything it says is checked: headers
 * by HeaderChain (linkage, PoW, difficulty), confirmations by SpvVerifier (merkle proofs against
 * those headers), transactions by their txid.
 */

export interface ChainNetworkOptions {
  network: NetworkName;
  /** Electrum server, `host:port:t` (TCP) or `host:port:s` (TLS). */
  server: string;
  /**
   * Electrum's `--oneserver`: use only `server`. Fulmen currently connects to one server either
   * way; the flag is kept so that adding server discovery later does not change callers.
   */
  oneserver: boolean;
  db: Db;
  /** Per-request timeout, ms (default 30 000). */
  requestTimeoutMs?: number;
  /** `server.ping` interval, ms (default 60 000). */
  keepaliveMs?: number;
  /** Reconnect backoff: first delay and ceiling, ms (default 1 000 and 60 000; doubles each failure). */
  reconnectDelayMs?: { initial: number; max: number };
}

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
  merkle: z.array(hash32Schema).max(32),
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

export class ChainNetwork implements ChainSource {
  readonly network: NetworkName;
  readonly server: string;
  readonly oneserver: boolean;
  readonly headers: HeaderChain;

  private readonly db: Db;
  private readonly verifier = new SpvVerifier();
  private readonly requestTimeoutMs: number | undefined;
  private readonly keepaliveMs: number | undefined;
  private readonly reconnectDelay: { initial: number; max: number };
  private primary: ElectrumInterface | null = null;
  private running = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private nextReconnectDelay: number;
  private readonly listeners = new Set<(event: ChainEvent) => void>();
  /** Subscribed scripthashes and their last status, re-subscribed after every reconnect. */
  private readonly scripthashes = new Map<string, string | null>();
  /** Header syncs run one after another, in notification order. */
  private headerWork: Promise<void> = Promise.resolve();
  private readonly selectTx: { get(txid: string): unknown };
  private readonly insertTx: { run(txid: string, raw: Uint8Array): unknown };

  /**
   * Loads the stored header chain of `options.network`; does not connect (call `start()`).
   * @throws FulmenError BAD_INPUT for a malformed server string.
   */
  constructor(options: ChainNetworkOptions) {
    this.network = options.network;
    this.server = options.server;
    this.oneserver = options.oneserver;
    this.db = options.db;
    this.requestTimeoutMs = options.requestTimeoutMs;
    this.keepaliveMs = options.keepaliveMs;
    this.reconnectDelay = options.reconnectDelayMs ?? { initial: 1_000, max: 60_000 };
    this.nextReconnectDelay = this.reconnectDelay.initial;
    // Validates the server string now rather than on the first connect.
    new ElectrumInterface({ server: options.server });
    this.headers = new HeaderChain(options.network, options.db);
    this.selectTx = this.db.prepare('SELECT raw FROM chain_transactions WHERE txid = ?');
    this.insertTx = this.db.prepare('INSERT OR IGNORE INTO chain_transactions (txid, raw) VALUES (?, ?)');
  }

  /**
   * Connects to the server and syncs headers to its tip. Resolves after that first attempt
   * whether it succeeded or not; on failure it keeps retrying with backoff (watch `connection`
   * events or `isConnected()`).
   */
  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.connectServer(this.server);
  }

  /** Closes the connection and stops reconnecting. Subscriptions are forgotten. */
  async stop(): Promise<void> {
    this.running = false;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.primary?.close();
    this.primary = null;
    this.scripthashes.clear();
    await this.headerWork;
  }

  tip(): VerifiedHeader | null {
    return this.headers.tipHeight() > this.headers.baseHeight || this.primary ? this.headers.tip() : null;
  }

  isConnected(): boolean {
    return this.primary?.isConnected() ?? false;
  }

  on(listener: (event: ChainEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** @throws FulmenError BAD_INPUT (malformed scripthash), NETWORK, SERVER_MISBEHAVED. */
  async subscribeScripthash(scripthash: string): Promise<string | null> {
    const normalized = normalizeHash(scripthash, 'scripthash');
    const iface = this.requireInterface();
    const status = normalizeStatus(await iface.request('blockchain.scripthash.subscribe', [normalized], statusSchema));
    this.scripthashes.set(normalized, status);
    return status;
  }

  /** Heights: > 0 confirmed, 0 or -1 in the mempool (-1: has unconfirmed parents). */
  async getHistory(scripthash: string): Promise<HistoryEntry[]> {
    const normalized = normalizeHash(scripthash, 'scripthash');
    const history = await this.requireInterface().request('blockchain.scripthash.get_history', [normalized], historySchema);
    return history.map((entry) => ({ txid: entry.tx_hash.toLowerCase(), height: entry.height }));
  }

  /**
   * Raw transaction hex, from the local cache or the server; bytes from the server must hash
   * (non-witness serialization, double SHA-256) to `txid`.
   * @throws FulmenError BAD_INPUT (malformed txid), NOT_FOUND (server does not know it), NETWORK,
   *   SERVER_MISBEHAVED (bytes do not parse or hash to another txid).
   */
  async getTransaction(txid: string): Promise<string> {
    return toHex((await this.getCheckedTransaction(normalizeHash(txid, 'txid'))).raw);
  }

  /**
   * Height ≤ 0: returns `{ height: 0, verified: false }` (mempool, nothing to prove).
   * @throws FulmenError NOT_FOUND when the header at `height` is not in our chain (above the tip,
   *   or below the checkpoint), SERVER_MISBEHAVED when the proof or transaction is wrong, NETWORK.
   */
  async verifyTransaction(txid: string, height: number): Promise<TxConfirmation> {
    const normalized = normalizeHash(txid, 'txid');
    if (!Number.isSafeInteger(height)) throw badInput(`Invalid height ${height}`);
    if (height <= 0) return { txid: normalized, height: 0, verified: false };
    const header = await this.getHeader(height);
    const iface = this.requireInterface();
    const proof = await iface.request('blockchain.transaction.get_merkle', [normalized, height], merkleSchema);
    const { tx } = await this.getCheckedTransaction(normalized);
    const confirmation = this.verifier.verify(
      normalized,
      tx.byteLength(false),
      { blockHeight: proof.block_height, merkle: proof.merkle, pos: proof.pos },
      header,
    );
    // A reorg while we waited could have replaced the header: only report what is still ours.
    if (this.headers.header(height)?.hash !== header.hash) {
      throw new FulmenError('NETWORK', `Block ${height} was reorganised while verifying ${normalized}; try again`);
    }
    return confirmation;
  }

  /**
   * Broadcasts a raw transaction (`blockchain.transaction.broadcast`).
   * @returns the txid. @throws FulmenError BAD_INPUT (not a transaction, or rejected by the
   *   server's node: the message is the node's, e.g. "min relay fee not met"), NETWORK,
   *   SERVER_MISBEHAVED (server answers with another txid).
   */
  async broadcast(rawTxHex: string): Promise<string> {
    const tx = parseTransaction(rawTxHex, (message) => badInput(`Not a valid transaction: ${message}`));
    const txid = tx.getId();
    const iface = this.requireInterface();
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
    this.insertTx.run(txid, fromHex(rawTxHex));
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
    const iface = this.requireInterface();
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

  /** `blockchain.relayfee` as integer sat/vB, rounded up, at least 1. */
  async relayFeeSatPerVbyte(): Promise<number> {
    const relay = await this.requireInterface().request('blockchain.relayfee', [], feeSchema);
    return Math.max(1, btcPerKvbToSatPerVbyte(relay));
  }

  /**
   * Validated header at `height`; waits for a header sync under way first.
   * @throws FulmenError NOT_FOUND above our tip or below the network's checkpoint.
   */
  async getHeader(height: number): Promise<VerifiedHeader> {
    if (!Number.isSafeInteger(height) || height < 0) throw badInput(`Invalid height ${height}`);
    await this.headerWork;
    const header = this.headers.header(height);
    if (header) return header;
    if (height < this.headers.baseHeight) {
      throw new FulmenError('NOT_FOUND', `Header ${height} is below the ${this.network} checkpoint (${this.headers.baseHeight})`);
    }
    throw new FulmenError('NOT_FOUND', `Header ${height} is not known yet (tip ${this.headers.tipHeight()})`);
  }

  // ---- connection management ------------------------------------------------------------------

  private async connectServer(server: string): Promise<void> {
    const iface = new ElectrumInterface({ server, requestTimeoutMs: this.requestTimeoutMs, keepaliveMs: this.keepaliveMs });
    try {
      await iface.connect();
      iface.onNotification((method, params) => this.onNotification(iface, method, params));
      iface.onClose(() => this.onInterfaceClosed(iface));
      const tip = await iface.request('blockchain.headers.subscribe', [], headerNotificationSchema);
      await this.enqueueHeaderSync(iface, tip.height, tip.hex);
      if (iface.isConnected() === false) throw new FulmenError('NETWORK', `Connection to ${server} lost during sync`);
      this.primary = iface;
      this.nextReconnectDelay = this.reconnectDelay.initial;
      this.emit({ type: 'connection', connected: true, server });
      await this.resubscribe(iface);
    } catch (err) {
      iface.close();
      if (this.primary === iface) this.primary = null;
      this.scheduleReconnect();
      if (!(err instanceof FulmenError)) throw err;
    }
  }

  private onInterfaceClosed(iface: ElectrumInterface): void {
    if (this.primary !== iface) return;
    this.primary = null;
    this.emit({ type: 'connection', connected: false, server: iface.server });
    this.scheduleReconnect();
  }

  private scheduleReconnect(): void {
    if (!this.running || this.reconnectTimer) return;
    const delay = this.nextReconnectDelay;
    this.nextReconnectDelay = Math.min(delay * 2, this.reconnectDelay.max);
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null;
      if (this.running && !this.primary) void this.connectServer(this.server);
    }, delay);
  }

  /** Re-subscribes every scripthash on a new connection; emits an event for each changed status. */
  private async resubscribe(iface: ElectrumInterface): Promise<void> {
    for (const [scripthash, previous] of [...this.scripthashes]) {
      const status = normalizeStatus(await iface.request('blockchain.scripthash.subscribe', [scripthash], statusSchema));
      if (!this.scripthashes.has(scripthash)) continue;
      this.scripthashes.set(scripthash, status);
      if (status !== previous) this.emit({ type: 'scripthash', scripthash, status });
    }
  }

  private onNotification(iface: ElectrumInterface, method: string, params: unknown): void {
    if (method === 'blockchain.headers.subscribe') {
      const parsed = z.tuple([headerNotificationSchema]).safeParse(params);
      // A malformed notification means a misbehaving server: drop it (the owner reconnects).
      if (!parsed.success) return iface.close();
      // A failed sync already closed the interface (see enqueueHeaderSync).
      this.enqueueHeaderSync(iface, parsed.data[0].height, parsed.data[0].hex).catch(() => undefined);
    } else if (method === 'blockchain.scripthash.subscribe') {
      const parsed = z.tuple([hash32Schema, statusSchema]).safeParse(params);
      if (!parsed.success) return iface.close();
      const scripthash = parsed.data[0].toLowerCase();
      if (!this.scripthashes.has(scripthash)) return;
      const status = normalizeStatus(parsed.data[1]);
      this.scripthashes.set(scripthash, status);
      this.emit({ type: 'scripthash', scripthash, status });
    }
  }

  // ---- headers ---------------------------------------------------------------------------------

  /** Queues a sync to the server's tip; a failure drops that server (it lied or went away). */
  private enqueueHeaderSync(iface: ElectrumInterface, height: number, hex: string): Promise<void> {
    const work = this.headerWork.then(() => this.syncHeaders(iface, height, fromHex(hex)));
    this.headerWork = work.catch(() => iface.close());
    return work;
  }

  /**
   * Brings our chain to the server's tip (`height`, `tipRaw`): extends it, or finds where the
   * server's branch leaves ours (walking back), replaces our headers from there (reorg), or
   * truncates ours when the server's best chain is shorter. Emits one `tip` event when the tip
   * changed.
   */
  private async syncHeaders(iface: ElectrumInterface, height: number, tipRaw: Uint8Array): Promise<void> {
    if (!iface.isConnected()) return;
    const chain = this.headers;
    const before = chain.tip().hash;
    const tipHeader = parseHeader(tipRaw);
    let lowestChanged: number | null = null;
    let reorg = false;
    const note = (forkHeight: number | null, replaced: boolean) => {
      if (forkHeight === null) return;
      lowestChanged = lowestChanged === null ? forkHeight : Math.min(lowestChanged, forkHeight);
      reorg ||= replaced;
    };

    if (height === chain.tipHeight() + 1 && tipHeader.prevHash === before) {
      const result = chain.connect(height, [tipRaw]);
      note(result.forkHeight, result.reorg);
    } else if (height < chain.baseHeight) {
      throw new FulmenError('SERVER_MISBEHAVED', `Server tip ${height} is below the ${this.network} checkpoint`);
    } else {
      let start = await this.findForkHeight(iface, height, tipHeader.hash);
      while (start <= height) {
        const raws = await this.fetchHeaders(iface, start, Math.min(RETARGET_INTERVAL, height - start + 1));
        if (raws.length === 0) break;
        const result = chain.connect(start, raws);
        note(result.forkHeight, result.reorg);
        start += raws.length;
      }
      if (chain.tipHeight() > height) {
        chain.truncate(height);
        note(height + 1, true);
      }
    }
    if (chain.tip().hash !== before || lowestChanged !== null) {
      const event: ChainEvent =
        reorg && lowestChanged !== null
          ? { type: 'tip', header: chain.tip(), forkHeight: lowestChanged }
          : { type: 'tip', header: chain.tip() };
      this.emit(event);
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

  private async getCheckedTransaction(txid: string): Promise<{ raw: Uint8Array; tx: Transaction }> {
    const cached = this.selectTx.get(txid) as { raw: Buffer } | undefined;
    if (cached) {
      const raw = new Uint8Array(cached.raw);
      return { raw, tx: Transaction.fromBuffer(raw) };
    }
    let hex: string;
    try {
      hex = await this.requireInterface().request('blockchain.transaction.get', [txid], txHexSchema);
    } catch (err) {
      if (err instanceof ServerRpcError) throw new FulmenError('NOT_FOUND', `Server does not have transaction ${txid}: ${err.serverMessage}`);
      throw err;
    }
    const tx = parseTransaction(hex, (message) => new FulmenError('SERVER_MISBEHAVED', `Server sent an invalid transaction for ${txid}: ${message}`));
    if (tx.getId() !== txid) {
      throw new FulmenError('SERVER_MISBEHAVED', `Server sent a transaction that does not hash to ${txid}`);
    }
    const raw = fromHex(hex);
    this.insertTx.run(txid, raw);
    return { raw, tx };
  }

  private requireInterface(): ElectrumInterface {
    const iface = this.primary;
    if (!iface || !iface.isConnected()) throw new FulmenError('NETWORK', 'Not connected to an Electrum server');
    return iface;
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

/** Lowercases a 32-byte hex hash. @throws FulmenError BAD_INPUT when malformed. */
function normalizeHash(value: string, what: string): string {
  if (typeof value !== 'string' || !isHash32Hex(value)) throw badInput(`Invalid ${what}: expected 64 hex characters`);
  return value.toLowerCase();
}

function normalizeStatus(status: string | null): string | null {
  return status === null ? null : status.toLowerCase();
}

/** Parses a whole transaction from hex (trailing bytes rejected by bitcoinjs). */
function parseTransaction(hex: string, fail: (message: string) => FulmenError): Transaction {
  if (typeof hex !== 'string' || hex.length === 0 || !isHex(hex)) throw fail('not hex');
  try {
    return Transaction.fromHex(hex);
  } catch (err) {
    throw fail(err instanceof Error ? err.message : 'unparseable');
  }
}
