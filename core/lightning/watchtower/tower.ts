import http from 'node:http';
import { chainEventConcerns, SerialCheck } from '../watcher/serial-check.js';
import { timingSafeEqual } from 'node:crypto';
import { Transaction } from 'bitcoinjs-lib';
import type { ChainSource } from '../../chain/types.js';
import { scriptHash } from '../../bitcoin/address.js';
import { inputPrevTxid } from '../../bitcoin/transaction.js';
import { RPC_ERRORS, towerMethods, type TowerMethod } from './protocol.js';
import { TowerStore } from './store.js';

/**
 * Fulmen as a watchtower (Electrum's WatchTower; protocol in protocol.ts): an HTTP JSON-RPC
 * server with basic auth storing clients' justice transactions in its own SQLite file, and a
 * watcher on its own ChainSource. For every stored channel it subscribes to the funding output's
 * script hash; when a transaction spends the funding output, every stored justice transaction
 * spending that transaction is broadcast, and re-broadcast on each new block until it confirms.
 * A channel whose funding spend is `closeDepth` deep with nothing left to confirm is no longer watched.
 */
export interface WatchtowerOptions {
  chain: ChainSource;
  /** SQLite file of the tower (':memory:' for tests). */
  dbPath: string;
  /** Listening address; default host 127.0.0.1. Port 0: any free port. */
  host?: string;
  port: number;
  user: string;
  password: string;
  /** Confirmations after which a settled channel is no longer watched. Default 100. */
  closeDepth?: number;
}

const MAX_BODY_BYTES = 1_000_000;

export class Watchtower {
  readonly store: TowerStore;
  private server: http.Server | null = null;
  private readonly subscribed = new Map<string, string>(); // scripthash -> funding outpoint
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  private readonly checks = new SerialCheck(() => this.checkAll(), () => this.stopped);

  constructor(private readonly opts: WatchtowerOptions) {
    this.store = new TowerStore(opts.dbPath);
  }

  /** Bound port once started. */
  get port(): number | null {
    const a = this.server?.address();
    return a && typeof a === 'object' ? a.port : null;
  }

  /** Starts the HTTP server and the chain watch. @throws on a listen error (port in use). */
  async start(): Promise<void> {
    this.stopped = false;
    this.unsubscribe = this.opts.chain.on((e) => chainEventConcerns(e, this.subscribed) && this.checks.schedule());
    const server = http.createServer((req, res) => void this.handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.checks.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    const server = this.server;
    this.server = null;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
    await this.checks.runNow();
    this.store.close();
  }

  /** Runs one pass over the watched channels now (tests). */
  checkNow(): Promise<void> {
    return this.checks.runNow();
  }

  // ------------------------------------------------------------------ HTTP / JSON-RPC

  private authorized(req: http.IncomingMessage): boolean {
    const expected = Buffer.from(`Basic ${Buffer.from(`${this.opts.user}:${this.opts.password}`).toString('base64')}`);
    const given = Buffer.from(req.headers.authorization ?? '');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method !== 'POST') return reply(405, { error: 'POST JSON-RPC requests' });
    if (!this.authorized(req)) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="fulmen-watchtower"' });
      res.end();
      return;
    }
    let body = '';
    let size = 0;
    try {
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > MAX_BODY_BYTES) return reply(413, { error: 'request too large' });
        body += (chunk as Buffer).toString('utf8');
      }
    } catch {
      return;
    }
    let msg: { id?: unknown; method?: unknown; params?: unknown };
    try {
      msg = JSON.parse(body) as typeof msg;
    } catch {
      return reply(200, { jsonrpc: '2.0', id: null, error: { code: RPC_ERRORS.parse, message: 'Parse error' } });
    }
    const id = typeof msg?.id === 'number' || typeof msg?.id === 'string' ? msg.id : null;
    const error = (code: number, message: string) => reply(200, { jsonrpc: '2.0', id, error: { code, message } });
    if (typeof msg !== 'object' || msg === null || typeof msg.method !== 'string') return error(RPC_ERRORS.invalidRequest, 'Invalid request');
    if (!Object.prototype.hasOwnProperty.call(towerMethods, msg.method)) return error(RPC_ERRORS.methodNotFound, `Unknown method ${msg.method}`);
    const method = msg.method as TowerMethod;
    const spec = towerMethods[method];
    const named = Array.isArray(msg.params) ? Object.fromEntries(msg.params.map((v, i) => [spec.positional[i] ?? `#${i}`, v])) : (msg.params ?? {});
    const parsed = spec.params.safeParse(named);
    if (!parsed.success) return error(RPC_ERRORS.invalidParams, parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
    try {
      if (method === 'get_ctn') return reply(200, { jsonrpc: '2.0', id, result: this.store.getCtn((parsed.data as { funding_outpoint: string }).funding_outpoint) });
      const p = parsed.data as { funding_outpoint: string; ctn: number; sweep_tx: string };
      this.addSweepTx(p.funding_outpoint, p.ctn, p.sweep_tx);
      return reply(200, { jsonrpc: '2.0', id, result: true });
    } catch (e) {
      return error(RPC_ERRORS.invalidParams, e instanceof Error ? e.message : 'invalid');
    }
  }

  /**
   * Stores a justice transaction for revoked commitment `ctn` of the channel at `fundingOutpoint`.
   * @throws Error when `sweepTxHex` is not a transaction or its inputs do not all spend one transaction.
   */
  addSweepTx(fundingOutpoint: string, ctn: number, sweepTxHex: string): void {
    let tx: Transaction;
    try {
      tx = Transaction.fromHex(sweepTxHex);
    } catch {
      throw new Error('sweep_tx is not a transaction');
    }
    const parents = new Set(tx.ins.map((i) => inputPrevTxid(i)));
    if (tx.ins.length === 0 || parents.size !== 1 || tx.outs.length === 0) throw new Error('sweep_tx must spend outputs of one commitment transaction');
    const [commitmentTxid] = parents;
    if (this.store.addSweep({ fundingOutpoint, ctn, commitmentTxid: commitmentTxid!, txid: tx.getId(), rawTx: sweepTxHex })) this.checks.schedule();
  }

  // ------------------------------------------------------------------ chain watch


  private async checkAll(): Promise<void> {
    const chain = this.opts.chain;
    if (this.stopped || !chain.isConnected() || !chain.tip()) return;
    for (const c of this.store.watchedChannels()) {
      if (this.stopped) return;
      await this.checkChannel(c.fundingOutpoint, c.fundingScript);
    }
  }

  private async checkChannel(fundingOutpoint: string, knownScript: string | null): Promise<void> {
    const chain = this.opts.chain;
    const [fundingTxid, voutText] = fundingOutpoint.split(':') as [string, string];
    const vout = Number(voutText);
    let scriptHex = knownScript;
    if (scriptHex === null) {
      const funding = Transaction.fromHex(await chain.getTransaction(fundingTxid));
      const out = funding.outs[vout];
      if (!out) return;
      scriptHex = Buffer.from(out.script).toString('hex');
      this.store.setFundingScript(fundingOutpoint, scriptHex);
    }
    const sh = scriptHash(Buffer.from(scriptHex, 'hex'));
    if (!this.subscribed.has(sh)) {
      await chain.subscribeScripthash(sh);
      this.subscribed.set(sh, fundingOutpoint);
    }
    const history = await chain.getHistory(sh);
    for (const h of history) {
      if (h.txid === fundingTxid) continue;
      const spender = Transaction.fromHex(await chain.getTransaction(h.txid));
      if (!spender.ins.some((i) => inputPrevTxid(i) === fundingTxid && i.index === vout)) continue;
      const settled = await this.answerSpend(spender);
      const tip = chain.tip()!;
      if (settled && h.height > 0 && tip.height - h.height + 1 >= (this.opts.closeDepth ?? 100)) this.store.markClosed(fundingOutpoint);
      return;
    }
  }

  /** Broadcasts the stored justice transactions spending `spender`'s outputs. Returns true when none is left unconfirmed. */
  private async answerSpend(spender: Transaction): Promise<boolean> {
    const chain = this.opts.chain;
    let settled = true;
    for (const s of this.store.sweepsSpending(spender.getId())) {
      if (s.status === 'confirmed') continue;
      const tx = Transaction.fromHex(s.rawTx);
      const spent = spender.outs[tx.ins[0]!.index];
      if (spent) {
        const sh = scriptHash(spent.script);
        // Settled once ours, or any other spend of that output (the client's own sweep), is confirmed.
        const entry = (await chain.getHistory(sh)).find((h) => h.txid !== spender.getId() && h.height > 0);
        if (entry && (await chain.verifyTransaction(entry.txid, entry.height)).verified) {
          if (entry.txid === s.txid) this.store.setSweepStatus(s.fundingOutpoint, s.txid, 'confirmed');
          continue;
        }
      }
      settled = false;
      try {
        await chain.broadcast(s.rawTx);
        if (s.status === 'stored') this.store.setSweepStatus(s.fundingOutpoint, s.txid, 'broadcast');
      } catch {
        // Already in the mempool, or its output was taken another way: retried on the next block.
      }
    }
    return settled;
  }
}
