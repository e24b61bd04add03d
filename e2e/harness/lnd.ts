/**
 * A real lnd (built from source by scripts/setup-regtest.sh, cached as <cache>/bin/lnd) running
 * as a Lightning peer on the regtest network of e2e/harness/regtest.ts. It uses the harness's
 * bitcoind as its chain backend through RPC polling (`--bitcoind.rpcpolling`: no ZMQ needed)
 * and is driven through its REST API (HTTPS with the self-signed tls.cert of its data dir, the
 * admin macaroon in the `Grpc-Metadata-macaroon` header), so no lncli process per call.
 *
 *   const net = await startRegtest();
 *   const lnd = await startLnd(net, { name: 'carol' });
 *   await net.sendToAddress(await lnd.newAddress(), '1');
 *   await net.mine(1);
 *   await lnd.waitForBalance(100_000_000);
 *   ... lnd.openChannel(nodeId, 1_000_000), lnd.addInvoice(...), lnd.payInvoice(...) ...
 *   await lnd.stop();
 */
import https from 'node:https';
import fs from 'node:fs';
import path from 'node:path';
import { ManagedProcess, forgetAtExit, freePorts, killAtExit, regtestCacheDir, waitFor, type Regtest } from './regtest.js';

/**
 * Where the setup script put lnd: `<cache>/bin/lnd` and `<cache>/bin/lncli` (symlinks into
 * lnd-<version>/bin). The harness drives lnd over REST; lncli is there for debugging by hand
 * (`lncli --lnddir=<dir> --network=regtest --rpcserver=127.0.0.1:<rpc port> ...`).
 */
export interface LndBinaries {
  lnd: string;
  lncli: string;
}

/**
 * The cached lnd binaries, or a sentence saying why there are none (for `describe.skipIf`).
 * Never throws.
 */
export function locateLnd(): { binaries: LndBinaries; missing?: undefined } | { binaries?: undefined; missing: string } {
  const bin = path.join(regtestCacheDir(), 'bin');
  const lnd = path.join(bin, 'lnd');
  const lncli = path.join(bin, 'lncli');
  for (const file of [lnd, lncli]) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch {
      return { missing: `lnd is not installed (${file} missing): run \`bash scripts/setup-regtest.sh\`, which builds it with Go` };
    }
  }
  return { binaries: { lnd, lncli } };
}

export interface StartLndOptions {
  /** Name used as alias, in the data dir and in error messages. Default "lnd". */
  name?: string;
  /**
   * Extra lnd command-line flags (e.g. `--protocol.no-anchors`). They come after the defaults,
   * so a flag given here wins where lnd lets the last one win.
   */
  extraArgs?: string[];
  /** Deadline for the startup (wallet created, RPC up, synced to bitcoind's tip). Default 60 s. */
  timeoutMs?: number;
}

/** `GetInfo` (fields used here). */
export interface LndInfo {
  identity_pubkey: string;
  alias: string;
  block_height: number;
  synced_to_chain: boolean;
  version: string;
  features: Record<string, { name: string; is_required: boolean; is_known: boolean }>;
}

/** One row of `ListChannels` (int64 fields are decimal strings in lnd's REST JSON). */
export interface LndChannel {
  active: boolean;
  remote_pubkey: string;
  channel_point: string;
  chan_id: string;
  capacity: string;
  local_balance: string;
  remote_balance: string;
  commit_fee: string;
  commit_weight: string;
  fee_per_kw: string;
  unsettled_balance: string;
  pending_htlcs: unknown[];
  private: boolean;
  initiator: boolean;
  commitment_type: string;
  local_constraints: { chan_reserve_sat: string; dust_limit_sat: string; csv_delay: number };
  remote_constraints: { chan_reserve_sat: string; dust_limit_sat: string; csv_delay: number };
}

/** One row of `ClosedChannels`. */
export interface LndClosedChannel {
  channel_point: string;
  closing_tx_hash: string;
  close_type: string;
  settled_balance: string;
  open_initiator: string;
  close_initiator: string;
}

/** `SendPaymentV2` final update (a `Payment`). */
export interface LndPayment {
  payment_hash: string;
  payment_preimage: string;
  status: 'UNKNOWN' | 'IN_FLIGHT' | 'SUCCEEDED' | 'FAILED' | 'INITIATED';
  failure_reason: string;
  value_msat: string;
  fee_msat: string;
}

/** `LookupInvoice` (fields used here). */
export interface LndInvoice {
  state: 'OPEN' | 'SETTLED' | 'CANCELED' | 'ACCEPTED';
  value_msat: string;
  amt_paid_msat: string;
  payment_request: string;
}

export interface LndNode {
  readonly name: string;
  /** lnd dir (`--lnddir`): tls.cert, data/, logs/bitcoin/regtest/lnd.log; stdout in <dir>/stdout.log. */
  readonly dir: string;
  /** Lightning P2P port on 127.0.0.1. */
  readonly p2pPort: number;
  /** REST port on 127.0.0.1. */
  readonly restPort: number;
  /** The node id: 33-byte compressed pubkey, hex. */
  readonly nodeId: string;
  /** Milliseconds startLnd took. */
  readonly startupMs: number;
  /** `<node id>@127.0.0.1:<p2pPort>`, what LightningNode.connect/openChannel take. */
  readonly connectString: string;
  /**
   * One REST call. `body` is sent as JSON (bytes fields base64, as lnd's REST mapping wants).
   * @throws Error "lnd <name> <METHOD> <path>: <lnd's message>" on an error reply; the log tail
   *   when lnd has died.
   */
  rest<T = unknown>(method: 'GET' | 'POST' | 'DELETE', urlPath: string, body?: unknown): Promise<T>;
  getInfo(): Promise<LndInfo>;
  /** A fresh P2WPKH address of lnd's wallet. */
  newAddress(): Promise<string>;
  /** On-chain wallet balance in sat. */
  walletBalance(): Promise<{ confirmedSat: number; unconfirmedSat: number }>;
  /** Waits until the confirmed on-chain balance is at least `confirmedSat` (default 60 s). */
  waitForBalance(confirmedSat: number, timeoutMs?: number): Promise<number>;
  /** Waits until lnd's wallet has processed bitcoind's best block. Returns the height. */
  waitForSync(timeoutMs?: number): Promise<number>;
  /** `ConnectPeer` (no error when already connected). */
  connect(nodeId: string, host: string, port: number): Promise<void>;
  /**
   * `OpenChannelSync`: opens a channel of `fundingSat` to a connected peer and returns once the
   * funding transaction is broadcast. `commitmentType` asks for that channel_type explicitly
   * (lnd's enum name, e.g. "STATIC_REMOTE_KEY"); default: lnd's own choice.
   * @returns the channel point "txid:index".
   */
  openChannel(nodeId: string, fundingSat: number, opts?: { private?: boolean; pushSat?: number; satPerVbyte?: number; commitmentType?: string }): Promise<string>;
  /** `AddInvoice`: a BOLT 11 invoice for `amountMsat` (null: any amount). Returns the invoice and payment hash (hex). */
  addInvoice(amountMsat: bigint | null, memo: string, opts?: { expirySec?: number; private?: boolean }): Promise<{ invoice: string; paymentHash: string }>;
  /** `LookupInvoice` by payment hash (hex). */
  lookupInvoice(paymentHash: string): Promise<LndInvoice>;
  /**
   * `SendPaymentV2` (router): pays `invoice` (with `amountMsat` when it has none) and resolves
   * with the final payment update (status SUCCEEDED or FAILED; never throws for a failed
   * payment, only for a refused request).
   */
  payInvoice(invoice: string, opts?: { amountMsat?: bigint; timeoutSec?: number; feeLimitSat?: number }): Promise<LndPayment>;
  /** `ListChannels` (open channels, active or not). */
  listChannels(): Promise<LndChannel[]>;
  /**
   * Whether lnd's own graph has the channel `chanId` (lnd's decimal scid) with lnd's policy:
   * lnd routes its own payments (even over a direct private channel) only through graph edges,
   * and adds a new channel to its graph up to 1 s after both channel_ready were exchanged
   * (funding manager polls every checkPeerChannelReadyInterval).
   */
  hasGraphEdge(chanId: string): Promise<boolean>;
  /** `PendingChannels`: channel points of channels waiting for their funding or closing transaction. */
  pendingChannels(): Promise<{ opening: string[]; waitingClose: string[] }>;
  /** `ClosedChannels`. */
  closedChannels(): Promise<LndClosedChannel[]>;
  /**
   * `CloseChannel` (cooperative unless `force`): returns the closing txid once lnd has broadcast
   * it (the `close_pending` update).
   */
  closeChannel(channelPoint: string, opts?: { force?: boolean; satPerVbyte?: number }): Promise<string>;
  /** Last lines of lnd's log (for assertion messages). */
  logTail(lines?: number): string;
  /** Stops lnd (SIGTERM, SIGKILL after 15 s). The dir stays (inside the regtest dir). Idempotent. */
  stop(): Promise<void>;
}

const LOG_TAIL_LINES = 40;

/** lnd's txid byte order in `funding_txid_bytes` is the internal one: reversed hex. */
function txidFromBase64(b64: string): string {
  return Buffer.from(b64, 'base64').reverse().toString('hex');
}

const hexToBase64 = (hex: string): string => Buffer.from(hex, 'hex').toString('base64');
const base64ToHex = (b64: string): string => Buffer.from(b64, 'base64').toString('hex');

interface LndErrorBody {
  code?: number;
  message?: string;
  error?: { code?: number; message?: string };
}

class LndProcess implements LndNode {
  nodeId = '';
  startupMs = 0;
  private proc: ManagedProcess | null = null;
  private stopped = false;
  private macaroonHex = '';
  private tlsCert: Buffer | null = null;
  private readonly agent: https.Agent;

  constructor(
    readonly name: string,
    readonly dir: string,
    private readonly binaries: LndBinaries,
    private readonly regtest: Regtest,
    readonly p2pPort: number,
    readonly restPort: number,
    private readonly rpcPort: number,
  ) {
    this.agent = new https.Agent({ keepAlive: true, maxSockets: 16 });
  }

  get connectString(): string {
    return `${this.nodeId}@127.0.0.1:${this.p2pPort}`;
  }

  private get logFile(): string {
    return path.join(this.dir, 'logs', 'bitcoin', 'regtest', 'lnd.log');
  }

  private get macaroonFile(): string {
    return path.join(this.dir, 'data', 'chain', 'bitcoin', 'regtest', 'admin.macaroon');
  }

  spawn(extraArgs: string[]): void {
    const rpcUrl = new URL(this.regtest.rpcUrl);
    const args = [
      `--lnddir=${this.dir}`,
      `--alias=${this.name}`,
      '--noseedbackup',
      '--nobootstrap',
      '--bitcoin.regtest',
      '--bitcoin.node=bitcoind',
      `--bitcoind.rpchost=${rpcUrl.hostname}:${rpcUrl.port}`,
      `--bitcoind.rpcuser=${this.regtest.rpcUser}`,
      `--bitcoind.rpcpass=${this.regtest.rpcPassword}`,
      // No ZMQ: lnd polls bitcoind for blocks and mempool transactions.
      '--bitcoind.rpcpolling',
      '--bitcoind.blockpollinginterval=100ms',
      '--bitcoind.txpollinginterval=100ms',
      `--listen=127.0.0.1:${this.p2pPort}`,
      `--rpclisten=127.0.0.1:${this.rpcPort}`,
      `--restlisten=127.0.0.1:${this.restPort}`,
      // One confirmation for channels lnd accepts (its minimum_depth) and opens.
      '--bitcoin.defaultchanconfs=1',
      // Gossip batches go out every 50 ms instead of 5 s.
      '--trickledelay=50',
      '--maxpendingchannels=10',
      '--debuglevel=info,PEER=debug,FNDG=debug,CHCL=debug,HSWC=debug,LNWL=debug,CRTR=debug',
      ...extraArgs,
    ];
    fs.mkdirSync(this.dir, { recursive: true });
    this.proc = new ManagedProcess(`lnd ${this.name}`, this.binaries.lnd, args, path.join(this.dir, 'stdout.log'), { PATH: process.env.PATH, HOME: this.dir });
  }

  private assertAlive(): void {
    if (this.proc?.exited) throw new Error(`lnd ${this.name} exited (code ${this.proc.exitCode}).\n${this.logTail()}`);
  }

  /** Waits for tls.cert, the admin macaroon and a GetInfo answer synced to bitcoind's tip. */
  async waitUntilReady(timeoutMs: number): Promise<void> {
    const began = Date.now();
    await waitFor(
      () => {
        this.assertAlive();
        if (!fs.existsSync(this.macaroonFile) || !fs.existsSync(path.join(this.dir, 'tls.cert'))) return false;
        this.tlsCert = fs.readFileSync(path.join(this.dir, 'tls.cert'));
        this.macaroonHex = fs.readFileSync(this.macaroonFile).toString('hex');
        return true;
      },
      { what: `lnd ${this.name} to create its wallet and macaroons`, timeoutMs, intervalMs: 50 },
    );
    const info = await waitFor(
      async () => {
        this.assertAlive();
        const i = await this.getInfo();
        return i.synced_to_chain && i;
      },
      { what: `lnd ${this.name} to sync to the chain`, timeoutMs: Math.max(1_000, timeoutMs - (Date.now() - began)), intervalMs: 100 },
    );
    this.nodeId = info.identity_pubkey;
    await this.waitForSync(Math.max(1_000, timeoutMs - (Date.now() - began)));
    // GetInfo answers before lnd's server (peers, channels) has started: ConnectPeer would fail with
    // "server is still in the process of starting" until the State service says SERVER_ACTIVE.
    await waitFor(async () => (await this.rest<{ state: string }>('GET', '/v1/state')).state === 'SERVER_ACTIVE', {
      what: `lnd ${this.name} server active`,
      timeoutMs: Math.max(1_000, timeoutMs - (Date.now() - began)),
      intervalMs: 100,
    });
  }

  /** Sends one HTTPS request; streams newline-delimited JSON objects to `onObject` until it returns true. */
  private request(method: string, urlPath: string, body: unknown, onObject: (o: unknown) => boolean, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      let finished = false;
      const finish = (err?: Error) => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        req.destroy();
        if (err) reject(err);
        else resolve();
      };
      const what = `lnd ${this.name} ${method} ${urlPath}`;
      const req = https.request(
        {
          host: '127.0.0.1',
          port: this.restPort,
          method,
          path: urlPath,
          agent: this.agent,
          ca: this.tlsCert ?? undefined,
          headers: {
            'Grpc-Metadata-macaroon': this.macaroonHex,
            ...(payload !== undefined ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
          },
        },
        (res) => {
          res.setEncoding('utf8');
          let buffer = '';
          const handle = (text: string): void => {
            if (!text.trim()) return;
            let parsed: unknown;
            try {
              parsed = JSON.parse(text);
            } catch {
              finish(new Error(`${what}: HTTP ${res.statusCode} ${text.slice(0, 300)}`));
              return;
            }
            const e = parsed as LndErrorBody;
            const error = res.statusCode !== 200 ? e : e.error;
            if (error && (error.message !== undefined || res.statusCode !== 200)) {
              finish(new Error(`${what}: ${error.message ?? `HTTP ${res.statusCode}`}`));
              return;
            }
            if (onObject(parsed)) finish();
          };
          res.on('data', (chunk: string) => {
            buffer += chunk;
            let nl: number;
            while (!finished && (nl = buffer.indexOf('\n')) >= 0) {
              const line = buffer.slice(0, nl);
              buffer = buffer.slice(nl + 1);
              handle(line);
            }
          });
          res.on('end', () => {
            if (!finished) handle(buffer);
            finish();
          });
          res.on('error', (err) => finish(err));
        },
      );
      const timer = setTimeout(() => finish(new Error(`${what}: no answer within ${timeoutMs} ms\n${this.logTail(20)}`)), timeoutMs);
      req.on('error', (err) => {
        if (this.proc?.exited) finish(new Error(`lnd ${this.name} exited (code ${this.proc.exitCode}).\n${this.logTail()}`));
        else finish(new Error(`${what}: ${err.message}`));
      });
      if (payload !== undefined) req.write(payload);
      req.end();
    });
  }

  async rest<T = unknown>(method: 'GET' | 'POST' | 'DELETE', urlPath: string, body?: unknown): Promise<T> {
    this.assertAlive();
    let result: T | undefined;
    await this.request(method, urlPath, body, (o) => ((result = o as T), true), 60_000);
    return result as T;
  }

  getInfo(): Promise<LndInfo> {
    return this.rest<LndInfo>('GET', '/v1/getinfo');
  }

  async newAddress(): Promise<string> {
    return (await this.rest<{ address: string }>('GET', '/v1/newaddress?type=WITNESS_PUBKEY_HASH')).address;
  }

  async walletBalance(): Promise<{ confirmedSat: number; unconfirmedSat: number }> {
    const b = await this.rest<{ confirmed_balance: string; unconfirmed_balance: string }>('GET', '/v1/balance/blockchain');
    return { confirmedSat: Number(b.confirmed_balance ?? 0), unconfirmedSat: Number(b.unconfirmed_balance ?? 0) };
  }

  async waitForBalance(confirmedSat: number, timeoutMs = 60_000): Promise<number> {
    return waitFor(
      async () => {
        const b = await this.walletBalance();
        return b.confirmedSat >= confirmedSat && b.confirmedSat;
      },
      { what: `lnd ${this.name} confirmed balance >= ${confirmedSat} sat`, timeoutMs, intervalMs: 100 },
    );
  }

  async waitForSync(timeoutMs = 30_000): Promise<number> {
    const best = await this.regtest.rpc<number>('getblockcount');
    return waitFor(
      async () => {
        const info = await this.getInfo();
        return info.block_height >= best && info.synced_to_chain && info.block_height;
      },
      { what: `lnd ${this.name} to reach height ${best}`, timeoutMs, intervalMs: 100 },
    );
  }

  async connect(nodeId: string, host: string, port: number): Promise<void> {
    try {
      await this.rest('POST', '/v1/peers', { addr: { pubkey: nodeId, host: `${host}:${port}` }, perm: false, timeout: '10' });
    } catch (err) {
      if (!/already connected/.test((err as Error).message)) throw err;
    }
  }

  async openChannel(nodeId: string, fundingSat: number, opts: { private?: boolean; pushSat?: number; satPerVbyte?: number; commitmentType?: string } = {}): Promise<string> {
    const point = await this.rest<{ funding_txid_bytes: string; output_index?: number }>('POST', '/v1/channels', {
      node_pubkey: hexToBase64(nodeId),
      local_funding_amount: String(fundingSat),
      push_sat: String(opts.pushSat ?? 0),
      private: opts.private ?? true,
      sat_per_vbyte: String(opts.satPerVbyte ?? 2),
      ...(opts.commitmentType ? { commitment_type: opts.commitmentType } : {}),
    });
    return `${txidFromBase64(point.funding_txid_bytes)}:${point.output_index ?? 0}`;
  }

  async addInvoice(amountMsat: bigint | null, memo: string, opts: { expirySec?: number; private?: boolean } = {}): Promise<{ invoice: string; paymentHash: string }> {
    const r = await this.rest<{ r_hash: string; payment_request: string }>('POST', '/v1/invoices', {
      memo,
      value_msat: amountMsat === null ? '0' : amountMsat.toString(),
      expiry: String(opts.expirySec ?? 3600),
      private: opts.private ?? false,
    });
    return { invoice: r.payment_request, paymentHash: base64ToHex(r.r_hash) };
  }

  lookupInvoice(paymentHash: string): Promise<LndInvoice> {
    return this.rest<LndInvoice>('GET', `/v1/invoice/${paymentHash}`);
  }

  async payInvoice(invoice: string, opts: { amountMsat?: bigint; timeoutSec?: number; feeLimitSat?: number } = {}): Promise<LndPayment> {
    this.assertAlive();
    const timeoutSec = opts.timeoutSec ?? 30;
    let last: LndPayment | undefined;
    await this.request(
      'POST',
      '/v2/router/send',
      {
        payment_request: invoice,
        timeout_seconds: timeoutSec,
        fee_limit_sat: String(opts.feeLimitSat ?? 1_000),
        no_inflight_updates: true,
        ...(opts.amountMsat !== undefined ? { amt_msat: opts.amountMsat.toString() } : {}),
      },
      (o) => {
        last = (o as { result: LndPayment }).result;
        return last?.status === 'SUCCEEDED' || last?.status === 'FAILED';
      },
      (timeoutSec + 30) * 1000,
    );
    if (!last) throw new Error(`lnd ${this.name} SendPaymentV2: no payment update`);
    return last;
  }

  async listChannels(): Promise<LndChannel[]> {
    return (await this.rest<{ channels?: LndChannel[] }>('GET', '/v1/channels')).channels ?? [];
  }

  async hasGraphEdge(chanId: string): Promise<boolean> {
    try {
      const edge = await this.rest<{ node1_pub: string; node1_policy?: unknown; node2_policy?: unknown }>('GET', `/v1/graph/edge/${chanId}`);
      return (edge.node1_pub === this.nodeId ? edge.node1_policy : edge.node2_policy) != null;
    } catch (err) {
      if (/edge not found/.test((err as Error).message)) return false;
      throw err;
    }
  }

  async pendingChannels(): Promise<{ opening: string[]; waitingClose: string[] }> {
    type Row = { channel: { channel_point: string } };
    const r = await this.rest<{ pending_open_channels?: Row[]; waiting_close_channels?: Row[] }>('GET', '/v1/channels/pending');
    return {
      opening: (r.pending_open_channels ?? []).map((c) => c.channel.channel_point),
      waitingClose: (r.waiting_close_channels ?? []).map((c) => c.channel.channel_point),
    };
  }

  async closedChannels(): Promise<LndClosedChannel[]> {
    return (await this.rest<{ channels?: LndClosedChannel[] }>('GET', '/v1/channels/closed')).channels ?? [];
  }

  async closeChannel(channelPoint: string, opts: { force?: boolean; satPerVbyte?: number } = {}): Promise<string> {
    this.assertAlive();
    const [txid, index] = channelPoint.split(':');
    const query = new URLSearchParams({ force: String(opts.force ?? false) });
    if (opts.satPerVbyte !== undefined) query.set('sat_per_vbyte', String(opts.satPerVbyte));
    let closingTxid: string | undefined;
    await this.request(
      'DELETE',
      `/v1/channels/${txid}/${index}?${query.toString()}`,
      undefined,
      (o) => {
        const pending = (o as { result?: { close_pending?: { txid: string } } }).result?.close_pending;
        if (pending) closingTxid = txidFromBase64(pending.txid);
        return closingTxid !== undefined;
      },
      60_000,
    );
    if (!closingTxid) throw new Error(`lnd ${this.name} CloseChannel ${channelPoint}: no close_pending update\n${this.logTail()}`);
    return closingTxid;
  }

  logTail(lines = LOG_TAIL_LINES): string {
    for (const file of [this.logFile, path.join(this.dir, 'stdout.log')]) {
      try {
        const text = fs.readFileSync(file, 'utf8');
        return `--- ${file} ---\n` + text.split('\n').slice(-lines - 1).join('\n');
      } catch {
        // try the next one
      }
    }
    return `(no lnd log in ${this.dir})`;
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    forgetAtExit(this);
    this.agent.destroy();
    await this.proc?.stop(15_000);
  }

  killNow(): void {
    this.proc?.killNow();
  }
}

/**
 * Starts lnd on the regtest network: bitcoind backend with RPC polling (100 ms), fresh wallet
 * without seed backup (`--noseedbackup`), P2P/gRPC/REST on free 127.0.0.1 ports,
 * `--bitcoin.defaultchanconfs=1`, `--trickledelay=50`. Resolves once lnd is synced to
 * bitcoind's tip. Data and logs in <regtest dir>/lnd-<name>.
 * @throws Error when lnd is not installed (run scripts/setup-regtest.sh) or does not start in
 *   time (message includes the log tail).
 */
export async function startLnd(regtest: Regtest, opts: StartLndOptions = {}): Promise<LndNode> {
  const located = locateLnd();
  if (!located.binaries) throw new Error(located.missing);
  const began = Date.now();
  const name = opts.name ?? 'lnd';
  const [p2pPort, restPort, rpcPort] = (await freePorts(3)) as [number, number, number];
  const node = new LndProcess(name, path.join(regtest.dir, `lnd-${name}`), located.binaries, regtest, p2pPort, restPort, rpcPort);
  killAtExit(node);
  node.spawn(opts.extraArgs ?? []);
  try {
    await node.waitUntilReady(opts.timeoutMs ?? 60_000);
  } catch (err) {
    await node.stop();
    throw new Error(`startLnd ${name} failed: ${(err as Error).message}\n${node.logTail()}`);
  }
  node.startupMs = Date.now() - began;
  return node;
}
