/**
 * The regtest network every integration and e2e test runs against: a real Bitcoin Knots node
 * (regtest, txindex) plus a real ElectrumX indexing it, on random loopback ports in a fresh
 * directory. Binaries come from the cache that scripts/setup-regtest.sh fills.
 *
 *   const net = await startRegtest();
 *   await net.mine(1);
 *   const txid = await net.sendToAddress(address, '0.5');
 *   ... connect the wallet to net.electrumServer ("127.0.0.1:PORT:t") ...
 *   await net.stop();
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ElectrumTipProbe } from './electrum-socket.js';

/** Paths of the cached regtest tools (see scripts/setup-regtest.sh). */
export interface RegtestBinaries {
  cacheDir: string;
  bitcoind: string;
  bitcoinCli: string;
  electrumxServer: string;
}

/** The cache root shared with scripts/setup-regtest.sh: `$FULMEN_CACHE` or `~/.cache/fulmen`. */
export function regtestCacheDir(): string {
  return process.env.FULMEN_CACHE || path.join(os.homedir(), '.cache', 'fulmen');
}

/**
 * Locates the cached bitcoind, bitcoin-cli and electrumx_server wrappers.
 * @throws Error naming the missing binary and telling to run scripts/setup-regtest.sh.
 */
export function locateRegtestBinaries(): RegtestBinaries {
  const cacheDir = regtestCacheDir();
  const bin = (name: string): string => {
    const file = path.join(cacheDir, 'bin', name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
    } catch {
      throw new Error(
        `Regtest binary ${file} is missing. Run \`bash scripts/setup-regtest.sh\` ` +
          `(installs Bitcoin Knots and ElectrumX into ${cacheDir}; set FULMEN_CACHE to change it).`,
      );
    }
    return file;
  };
  return {
    cacheDir,
    bitcoind: bin('bitcoind'),
    bitcoinCli: bin('bitcoin-cli'),
    electrumxServer: bin('electrumx_server'),
  };
}

/** Electrum protocol script hash: sha256(scriptPubKey), byte-reversed, hex (protocol "Script Hashes"). */
export function electrumScripthash(scriptPubKeyHex: string): string {
  return Buffer.from(createHash('sha256').update(Buffer.from(scriptPubKeyHex, 'hex')).digest())
    .reverse()
    .toString('hex');
}

/**
 * Polls `check` until it returns a value other than undefined/false, or throws after `timeoutMs`.
 * @throws Error "Timed out after N ms waiting for <what>" (with the last error seen, if any).
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | false> | T | undefined | false,
  opts: { what: string; timeoutMs?: number; intervalMs?: number },
): Promise<T> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let lastError: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value as T;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline) {
      const reason = lastError instanceof Error ? `: ${lastError.message}` : '';
      throw new Error(`Timed out after ${opts.timeoutMs ?? 30_000} ms waiting for ${opts.what}${reason}`);
    }
    await sleep(opts.intervalMs ?? 50);
  }
}

export interface StartRegtestOptions {
  /**
   * Directory for data and logs. Default: a fresh temp dir, deleted by stop(). A given dir is
   * kept; when it already holds a chain (bitcoind datadir with the miner wallet, ElectrumX db)
   * that chain is resumed: the miner wallet is loaded and no blocks are mined.
   */
  dir?: string;
  /** ElectrumX environment settings that replace the harness's (e.g. a bench's poll intervals). */
  electrumxEnv?: Record<string, string>;
}

export interface Regtest {
  /** Electrum server string, Electrum's format: "127.0.0.1:PORT:t" (t = plain TCP). */
  readonly electrumServer: string;
  readonly electrumHost: string;
  readonly electrumPort: number;
  /** bitcoind JSON-RPC endpoint and credentials (e.g. for a second tool that needs the node). */
  readonly rpcUrl: string;
  readonly rpcUser: string;
  readonly rpcPassword: string;
  /** bitcoind P2P port on 127.0.0.1. */
  readonly p2pPort: number;
  /** Data and log directory: bitcoind.log, electrumx.log. */
  readonly dir: string;
  /** An address of the miner wallet ("miner"), the default coinbase destination. */
  readonly minerAddress: string;
  /**
   * bitcoind JSON-RPC call. `wallet` routes to /wallet/<name> (needed once several wallets are
   * loaded). Amounts in params may be BTC strings ("0.1"); bitcoind parses them exactly.
   * @throws Error "bitcoind <method>: <message> (code N)" on an RPC error.
   */
  rpc<T = unknown>(method: string, params?: unknown[], wallet?: string): Promise<T>;
  /** Mines `n` blocks to `address` (default: minerAddress), then waits until ElectrumX has the tip. Returns block hashes. */
  mine(n: number, address?: string): Promise<string[]>;
  /** Pays `amountBtc` (decimal string, e.g. "0.5") from the miner wallet; returns the txid. Does not mine. */
  sendToAddress(address: string, amountBtc: string): Promise<string>;
  /** Waits until ElectrumX's tip header equals bitcoind's best block header. Returns the height. */
  waitForElectrumTip(timeoutMs?: number): Promise<number>;
  /**
   * Waits until the Electrum server `name` polled through `probe` has bitcoind's best block header
   * as its tip (`assertAlive` throws once its process died). Returns the height.
   */
  waitForServerTip(name: string, probe: ElectrumTipProbe, assertAlive: () => void, timeoutMs: number, intervalMs: number): Promise<number>;
  /** Electrum script hash of an address (via bitcoind validateaddress). */
  scripthashOf(address: string): Promise<string>;
  /** Stops ElectrumX and bitcoind and deletes the temp dir (not a caller-given dir). Idempotent. */
  stop(): Promise<void>;
}

const MINER_WALLET = 'miner';

/**
 * Runs the ElectrumX console script (argv[1]) after one test-only change: ElectrumX >= 1.18 sends
 * Electrum-protocol TCP/SSL replies through PaddedRSTransport, which pads them to >= 1024 bytes
 * and, once a session has used its 1024-byte warm-up budget, holds a short reply for up to
 * WAIT_FOR_BUFFER_GROWTH_SECONDS (1.0 s) hoping to coalesce it with the next one (traffic-analysis
 * countermeasure, src/electrumx/server/transport.py). On loopback that only adds up to 1 s to
 * every request and notification; 0 keeps the padding but sends at once.
 */
const ELECTRUMX_LAUNCHER = [
  'import runpy, sys',
  'try:',
  '    from electrumx.server.transport import PaddedRSTransport',
  '    PaddedRSTransport.WAIT_FOR_BUFFER_GROWTH_SECONDS = 0.0',
  'except ImportError:',
  '    pass  # ElectrumX < 1.18 sends unpadded replies at once',
  'sys.argv = sys.argv[1:]',
  "runpy.run_path(sys.argv[0], run_name='__main__')",
].join('\n');

const RPC_USER = 'fulmen';
const LOG_TAIL_LINES = 40;

/** Everything of the harness still running (networks, Electrum daemons, lnd nodes), killed at process exit if a test forgot to stop it. */
const liveAtExit = new Set<{ killNow(): void }>();
let exitHookInstalled = false;

/** Registers `p` to be killed (`killNow`) when the test process exits before `forgetAtExit(p)`. */
export function killAtExit(p: { killNow(): void }): void {
  if (!exitHookInstalled) {
    exitHookInstalled = true;
    process.once('exit', () => {
      for (const live of liveAtExit) live.killNow();
    });
  }
  liveAtExit.add(p);
}

/** `p` is stopping: process exit no longer kills it. */
export function forgetAtExit(p: { killNow(): void }): void {
  liveAtExit.delete(p);
}

/** A free TCP port on 127.0.0.1 (the harness's one helper for picking ports). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** `count` distinct free TCP ports on 127.0.0.1 (see freePort). */
export async function freePorts(count: number): Promise<number[]> {
  const ports = new Set<number>();
  while (ports.size < count) ports.add(await freePort());
  return [...ports];
}

/** The last `lines` lines of `file`, or a note that there is no such file. */
export function tailOfFile(file: string, lines = LOG_TAIL_LINES): string {
  try {
    const text = fs.readFileSync(file, 'utf8');
    return text.split('\n').slice(-lines - 1).join('\n');
  } catch {
    return `(no log at ${file})`;
  }
}

/**
 * A child process of the harness (bitcoind, ElectrumX, Electrum, lnd) whose stdout and stderr are
 * appended to `logFile`. `exited`/`exitCode` follow it (exitCode null after a spawn error or a signal).
 */
export class ManagedProcess {
  readonly child: ChildProcess;
  exited = false;
  exitCode: number | null = null;
  private readonly exitPromise: Promise<void>;

  constructor(
    readonly name: string,
    command: string,
    args: string[],
    readonly logFile: string,
    env: NodeJS.ProcessEnv,
  ) {
    const fd = fs.openSync(logFile, 'a');
    try {
      this.child = spawn(command, args, { stdio: ['ignore', fd, fd], env });
    } finally {
      fs.closeSync(fd);
    }
    this.exitPromise = new Promise((resolve) => {
      this.child.once('exit', (code) => {
        this.exited = true;
        this.exitCode = code;
        resolve();
      });
      this.child.once('error', () => {
        this.exited = true;
        resolve();
      });
    });
  }

  /** Throws with the log tail when the process has died. */
  assertAlive(): void {
    if (this.exited) {
      throw new Error(`${this.name} exited (code ${this.exitCode}). Last lines of ${this.logFile}:\n${tailOfFile(this.logFile)}`);
    }
  }

  /** Whether the process exits within `ms` (true at once when it has exited). */
  async exitedWithin(ms: number): Promise<boolean> {
    return Promise.race([this.exitPromise.then(() => true), sleep(ms).then(() => false)]);
  }

  /** SIGTERM, then SIGKILL when it has not exited within `graceMs`; resolves once it exited. */
  async stop(graceMs: number): Promise<void> {
    if (this.exited) return;
    this.child.kill('SIGTERM');
    if (!(await this.exitedWithin(graceMs)) && !this.exited) {
      this.child.kill('SIGKILL');
      await this.exitPromise;
    }
  }

  killNow(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

class RegtestNetwork implements Regtest {
  readonly electrumHost = '127.0.0.1';
  readonly rpcUser = RPC_USER;
  readonly rpcPassword = randomBytes(16).toString('hex');
  readonly rpcUrl: string;
  minerAddress = '';
  private bitcoind: ManagedProcess | null = null;
  private electrumx: ManagedProcess | null = null;
  private probe: ElectrumTipProbe | null = null;
  private stopped = false;
  private readonly authHeader: string;

  constructor(
    readonly dir: string,
    private readonly ownsDir: boolean,
    private readonly binaries: RegtestBinaries,
    private readonly rpcPort: number,
    readonly p2pPort: number,
    readonly electrumPort: number,
    private readonly electrumxRpcPort: number,
    private readonly electrumxEnv: Record<string, string> = {},
  ) {
    this.rpcUrl = `http://127.0.0.1:${rpcPort}/`;
    this.authHeader = 'Basic ' + Buffer.from(`${this.rpcUser}:${this.rpcPassword}`).toString('base64');
  }

  get electrumServer(): string {
    return `${this.electrumHost}:${this.electrumPort}:t`;
  }

  async rpc<T = unknown>(method: string, params: unknown[] = [], wallet?: string): Promise<T> {
    const url = wallet ? `${this.rpcUrl}wallet/${encodeURIComponent(wallet)}` : this.rpcUrl;
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: this.authHeader },
      body: JSON.stringify({ jsonrpc: '1.0', id: 'fulmen-harness', method, params }),
    });
    const text = await response.text();
    let body: { result?: T; error?: { code: number; message: string } | null };
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`bitcoind ${method}: HTTP ${response.status} ${text.slice(0, 200)}`);
    }
    if (body.error) throw new Error(`bitcoind ${method}: ${body.error.message} (code ${body.error.code})`);
    return body.result as T;
  }

  async mine(n: number, address?: string): Promise<string[]> {
    const hashes = await this.rpc<string[]>('generatetoaddress', [n, address ?? this.minerAddress]);
    await this.waitForElectrumTip();
    return hashes;
  }

  async sendToAddress(address: string, amountBtc: string): Promise<string> {
    if (!/^\d+(\.\d{1,8})?$/.test(amountBtc)) throw new Error(`amountBtc must be a decimal BTC string, got "${amountBtc}"`);
    return this.rpc<string>('sendtoaddress', [address, amountBtc], MINER_WALLET);
  }

  async scripthashOf(address: string): Promise<string> {
    const info = await this.rpc<{ isvalid: boolean; scriptPubKey?: string }>('validateaddress', [address]);
    if (!info.isvalid || !info.scriptPubKey) throw new Error(`not a regtest address: ${address}`);
    return electrumScripthash(info.scriptPubKey);
  }

  async waitForElectrumTip(timeoutMs = 60_000): Promise<number> {
    this.probe ??= new ElectrumTipProbe(this.electrumHost, this.electrumPort);
    return this.waitForServerTip('ElectrumX', this.probe, () => this.electrumx?.assertAlive(), timeoutMs, 10);
  }

  async waitForServerTip(name: string, probe: ElectrumTipProbe, assertAlive: () => void, timeoutMs: number, intervalMs: number): Promise<number> {
    const bestHash = await this.rpc<string>('getbestblockhash');
    const header = await this.rpc<{ height: number }>('getblockheader', [bestHash, true]);
    const headerHex = await this.rpc<string>('getblockheader', [bestHash, false]);
    await waitFor(
      async () => {
        assertAlive();
        return (await probe.tip()).hex === headerHex;
      },
      { what: `${name} to reach height ${header.height} (${bestHash})`, timeoutMs, intervalMs },
    );
    return header.height;
  }

  /** Starts bitcoind, the miner wallet and ElectrumX; mines 101 blocks. */
  async start(): Promise<void> {
    const bitcoindDir = path.join(this.dir, 'bitcoind');
    fs.mkdirSync(bitcoindDir, { recursive: true });
    const conf = path.join(bitcoindDir, 'bitcoin.conf');
    fs.writeFileSync(
      conf,
      [
        'regtest=1',
        'server=1',
        'txindex=1',
        'fallbackfee=0.0002',
        'printtoconsole=1',
        'logtimemicros=1',
        'debuglogfile=0',
        'dnsseed=0',
        'fixedseeds=0',
        'listenonion=0',
        'dbcache=16',
        'keypool=20',
        'rpcthreads=8',
        'rpcworkqueue=256',
        '[regtest]',
        `rpcport=${this.rpcPort}`,
        'rpcbind=127.0.0.1',
        'rpcallowip=127.0.0.1',
        `rpcuser=${this.rpcUser}`,
        `rpcpassword=${this.rpcPassword}`,
        `port=${this.p2pPort}`,
        `bind=127.0.0.1:${this.p2pPort}`,
        '',
      ].join('\n'),
    );
    this.bitcoind = new ManagedProcess(
      'bitcoind',
      this.binaries.bitcoind,
      [`-datadir=${bitcoindDir}`, `-conf=${conf}`],
      path.join(this.dir, 'bitcoind.log'),
      { PATH: process.env.PATH, HOME: process.env.HOME },
    );
    await waitFor(
      async () => {
        this.bitcoind!.assertAlive();
        await this.rpc('getblockchaininfo');
        return true;
      },
      { what: 'bitcoind RPC', timeoutMs: 60_000, intervalMs: 50 },
    ).catch((err: Error) => {
      this.bitcoind!.assertAlive();
      throw new Error(`${err.message}\nLast lines of bitcoind.log:\n${tailOfFile(this.bitcoind!.logFile)}`);
    });

    // ElectrumX syncs while the miner wallet is created and funded.
    this.startElectrumx();
    // A dir holding the chain of an earlier run (e.g. a cached copy, bench/sync.ts) is resumed.
    const resumed = fs.existsSync(path.join(bitcoindDir, 'regtest', 'wallets', MINER_WALLET));
    await this.rpc(resumed ? 'loadwallet' : 'createwallet', [MINER_WALLET]);
    this.minerAddress = await this.rpc<string>('getnewaddress', ['miner', 'bech32'], MINER_WALLET);
    if (!resumed) await this.rpc('generatetoaddress', [101, this.minerAddress]);
    try {
      await this.waitForElectrumTip(60_000);
    } catch (err) {
      throw new Error(`${(err as Error).message}\nLast lines of electrumx.log:\n${tailOfFile(this.electrumx!.logFile)}`);
    }
  }

  private startElectrumx(): void {
    const dbDir = path.join(this.dir, 'electrumx-db');
    fs.mkdirSync(dbDir, { recursive: true });
    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      COIN: 'Bitcoin',
      NET: 'regtest',
      DB_ENGINE: 'leveldb',
      DB_DIRECTORY: dbDir,
      DAEMON_URL: `http://${this.rpcUser}:${this.rpcPassword}@127.0.0.1:${this.rpcPort}/`,
      SERVICES: `tcp://127.0.0.1:${this.electrumPort},rpc://127.0.0.1:${this.electrumxRpcPort}`,
      ALLOW_ROOT: '1',
      PEER_DISCOVERY: 'off',
      PEER_ANNOUNCE: '',
      BLACKLIST_URL: '',
      CACHE_MB: '50',
      // Regtest blocks arrive on demand: poll bitcoind every 20 ms instead of every 5 s (both
      // loops matter: a new tip is announced only after the mempool refresh at that height).
      DAEMON_POLL_INTERVAL_BLOCKS: '20',
      DAEMON_POLL_INTERVAL_MEMPOOL: '20',
      // No per-session throttling: tests hammer one server from one IP.
      COST_SOFT_LIMIT: '0',
      COST_HARD_LIMIT: '0',
      INITIAL_CONCURRENT: '1000',
      REQUEST_SLEEP: '0',
      BANDWIDTH_UNIT_COST: '1000000',
      MAX_SEND: '100000000',
      MAX_RECV: '100000000',
      MAX_SESSIONS: '500',
      REQUEST_TIMEOUT: '60',
      SESSION_TIMEOUT: '3600',
      LOG_SESSIONS: '0',
      LOG_LEVEL: process.env.FULMEN_ELECTRUMX_LOG_LEVEL ?? 'info',
      LOG_FORMAT: '%(asctime)s %(levelname)s:%(name)s:%(message)s',
      ...this.electrumxEnv,
    };
    // The console script's own interpreter (its venv), so that the launcher imports that ElectrumX.
    const script = fs.realpathSync(this.binaries.electrumxServer);
    const python = path.join(path.dirname(script), 'python3');
    this.electrumx = new ManagedProcess(
      'electrumx',
      python,
      ['-c', ELECTRUMX_LAUNCHER, script],
      path.join(this.dir, 'electrumx.log'),
      env,
    );
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    forgetAtExit(this);
    this.probe?.close();
    this.probe = null;
    await this.electrumx?.stop(10_000);
    await this.bitcoind?.stop(15_000);
    if (this.ownsDir && !process.env.FULMEN_KEEP_REGTEST) fs.rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous kill (process exit, failed start); deletes an owned dir only if `removeDir`. */
  killNow(removeDir = true): void {
    this.electrumx?.killNow();
    this.bitcoind?.killNow();
    if (removeDir && this.ownsDir && !process.env.FULMEN_KEEP_REGTEST) {
      try {
        fs.rmSync(this.dir, { recursive: true, force: true });
      } catch {
        // best effort at exit
      }
    }
  }
}

/**
 * Starts bitcoind (Knots, regtest, txindex=1, fallbackfee=0.0002, wallet "miner" with 101 mined
 * blocks) and ElectrumX on free random 127.0.0.1 ports; resolves once ElectrumX serves the tip.
 * Logs: <dir>/bitcoind.log, <dir>/electrumx.log. Stop with `stop()`; process exit kills leftovers.
 * @throws Error when binaries are missing (run scripts/setup-regtest.sh) or a process fails to
 *   start (message includes the tail of its log; the dir is kept for inspection).
 */
export async function startRegtest(opts: StartRegtestOptions = {}): Promise<Regtest> {
  const binaries = locateRegtestBinaries();
  const ownsDir = opts.dir === undefined;
  const dir = opts.dir ?? fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-regtest-'));
  fs.mkdirSync(dir, { recursive: true });
  const [rpcPort, p2pPort, electrumPort, electrumxRpcPort] = await freePorts(4);
  const network = new RegtestNetwork(dir, ownsDir, binaries, rpcPort!, p2pPort!, electrumPort!, electrumxRpcPort!, opts.electrumxEnv);
  killAtExit(network);
  try {
    await network.start();
  } catch (err) {
    network.killNow(false);
    forgetAtExit(network);
    throw new Error(`startRegtest failed (data and logs in ${dir}): ${(err as Error).message}`);
  }
  return network;
}
