/**
 * A real Electrum (Debian's `electrum` 4.5.8, see scripts/setup-regtest.sh) running as a
 * Lightning peer on the regtest network of e2e/harness/regtest.ts. It syncs from our ElectrumX,
 * listens for Lightning connections on a loopback port and is driven through its daemon's
 * JSON-RPC (HTTP, basic auth), the same interface `electrum <command>` uses.
 *
 *   const net = await startRegtest();
 *   const electrum = await startElectrumPeer(net, { name: 'bob' });
 *   await net.sendToAddress(await electrum.getUnusedAddress(), '1');
 *   await net.mine(1);
 *   await electrum.waitForBalance({ confirmedSat: 100_000_000 });
 *   ... connect a Fulmen Peer to electrum.lightningPort, or electrum.call('add_peer', [ours]) ...
 *   await electrum.stop();
 *
 * Startup: the config is written as a file (what `setconfig --offline` would write, without a
 * Python start per key), the daemon runs in the foreground as our child process (so a crashed
 * test can always kill it), and the wallet is restored over RPC from a seed made here.
 */
import { createHmac, randomBytes, randomInt } from 'node:crypto';
import * as bip39 from 'bip39';
import fs from 'node:fs';
import path from 'node:path';
import { parseBtcToSat } from '../../core/util/money.js';
import { ManagedProcess, forgetAtExit, freePorts, killAtExit, waitFor, type Regtest } from './regtest.js';

export interface StartElectrumPeerOptions {
  /** Name used in the data dir and in error messages. Default "electrum". */
  name?: string;
  /**
   * Electrum seed of the wallet (fixed node id). Default: a fresh random one from
   * makeElectrumSegwitSeed() (Electrum's own `create` spends seconds brute-forcing one).
   */
  seed?: string;
  /**
   * Extra config keys written before the daemon starts (Electrum names, e.g.
   * `lightning_forward_payments: true`, `test_force_disable_mpp: true`). Override the defaults.
   */
  config?: Record<string, unknown>;
  /** Deadline for the whole startup (daemon RPC, wallet, sync). Default 90 s. */
  timeoutMs?: number;
}

/** Result of Electrum's `getbalance`, in integer satoshis. */
export interface ElectrumBalance {
  confirmedSat: number;
  unconfirmedSat: number;
  /** Lightning balance (sum of local channel balances); 0 when Electrum omits it. */
  lightningSat: number;
}

/** One entry of Electrum's `list_peers`. */
export interface ElectrumPeerInfo {
  node_id: string;
  address: string;
  initialized: boolean;
  features: string;
  channels: string[];
}

/** Electrum's `getinfo` (fields this harness relies on). */
export interface ElectrumInfo {
  network: string;
  server: string;
  blockchain_height: number;
  server_height: number;
  connected: boolean;
  version: string;
}

export interface ElectrumPeer {
  readonly name: string;
  /** The wallet's Electrum seed (12 words), e.g. for a restore test. */
  readonly seed: string;
  /** Electrum data dir (`-D`); logs in <dir>/regtest/logs, daemon stdout in <dir>/daemon.log. */
  readonly dir: string;
  /** Lightning listen address (`lightning_listen`). */
  readonly lightningHost: string;
  readonly lightningPort: number;
  /** Daemon JSON-RPC port on 127.0.0.1. */
  readonly rpcPort: number;
  /** Milliseconds startElectrumPeer took (config, daemon, wallet, sync). */
  readonly startupMs: number;
  /**
   * Calls a daemon command, e.g. `call('getinfo')`, `call('add_peer', ['<id>@host:port'])`,
   * `call('open_channel', { connection_string, amount: '0.1' })`. Params: positional array or
   * named object (Electrum's parameter names). BTC amounts are decimal strings.
   * @throws Error "electrum <name> <method>: <message>" (with Electrum's exception for internal
   *   errors) on an RPC error; the daemon log tail when the daemon has died.
   */
  call<T = unknown>(method: string, params?: unknown[] | Record<string, unknown>): Promise<T>;
  /** The Lightning node id: 33-byte compressed pubkey, hex (from `nodeid`). */
  nodeId(): Promise<string>;
  /** `<node id>@127.0.0.1:<lightningPort>`, what `add_peer`/`open_channel` of another node take. */
  connectString(): Promise<string>;
  /** A fresh receiving address of the wallet (`getunusedaddress`). */
  getUnusedAddress(): Promise<string>;
  /** `getbalance`, converted to integer satoshis. */
  getBalance(): Promise<ElectrumBalance>;
  /**
   * Waits until the confirmed balance is at least `confirmedSat` (and, if given, the
   * unconfirmed one at least `unconfirmedSat`). Returns the balance seen.
   * @throws Error after `timeoutMs` (default 60 s) with the last balance and the log tail.
   */
  waitForBalance(target: { confirmedSat?: number; unconfirmedSat?: number; timeoutMs?: number }): Promise<ElectrumBalance>;
  /**
   * Waits until the wallet holds transaction `txid` (downloaded after ElectrumX listed it in the
   * history of one of its addresses, e.g. a channel's funding output: `get_tx_status` answers)
   * and is synchronized. Returns Electrum's confirmation count of it.
   *
   * Call it after broadcasting a transaction Electrum must follow and BEFORE mining it. Electrum
   * 4.5.8's Synchronizer downloads a tx with the height of the history that first listed it
   * (`requested_tx`) and applies that height when the download ends (receive_tx_callback). A block
   * mined in between (after history #1 said height 0, before the download answered) makes it
   * store the mined height from history #2, SPV-verify it, then reset it to unconfirmed with the
   * stale 0 ("previously SPV-verified but now in mempool"). ElectrumX's status (txid:height) no longer
   * changes, so no later block repairs it: the tx stays unconfirmed until Electrum reconnects.
   * On a real network the tx sits in the mempool for minutes; tests that mine within
   * milliseconds of the broadcast must wait here instead.
   * @throws Error after `timeoutMs` (default 30 s) with the log tail.
   */
  waitForTx(txid: string, timeoutMs?: number): Promise<number>;
  /**
   * Waits until Electrum is connected, its header chain is at bitcoind's tip, and the wallet
   * is synchronized (`getinfo` + `is_synchronized`; Electrum 4.5.8 has no `wait_for_sync`).
   * Returns the height. `is_synchronized` is also true when a tx was left with a stale height
   * (see waitForTx): this does not prove Electrum saw a confirmation.
   */
  waitForSync(timeoutMs?: number): Promise<number>;
  /** `list_peers` of the wallet's Lightning worker. */
  listPeers(): Promise<ElectrumPeerInfo[]>;
  /** Last lines of the Electrum log (for assertion messages). */
  logTail(lines?: number): string;
  /** Stops the daemon (RPC `stop`, then SIGTERM/SIGKILL). The dir stays (inside the regtest dir). Idempotent. */
  stop(): Promise<void>;
}

const DEFAULT_NAME = 'electrum';
const LOG_TAIL_LINES = 40;
const RPC_USER = 'fulmen';


/**
 * A random 12-word Electrum "segwit" seed: hmac-sha512(key "Seed version", words) starts with
 * "100" (Electrum mnemonic.is_new_seed, version.SEED_PREFIX_SW). Like Electrum's make_seed it
 * rejects phrases that are also valid BIP39 (checksum). English BIP39 wordlist (Electrum's).
 * About 4096 HMACs, a few ms; Electrum 4.5.8's `create` takes 1-4 s for the same search.
 */
export function makeElectrumSegwitSeed(): string {
  const words = bip39.wordlists.english!;
  for (;;) {
    const phrase = Array.from({ length: 12 }, () => words[randomInt(words.length)]!).join(' ');
    if (!createHmac('sha512', 'Seed version').update(phrase, 'utf8').digest('hex').startsWith('100')) continue;
    if (bip39.validateMnemonic(phrase, words)) continue;
    return phrase;
  }
}

/** Path of Debian's electrum: `$FULMEN_ELECTRUM` or the first `electrum` on PATH. */
function locateElectrum(): string {
  const candidates = process.env.FULMEN_ELECTRUM
    ? [process.env.FULMEN_ELECTRUM]
    : (process.env.PATH ?? '').split(path.delimiter).filter(Boolean).map((d) => path.join(d, 'electrum'));
  for (const file of candidates) {
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {
      // next candidate
    }
  }
  throw new Error(
    'Electrum is not installed (no `electrum` on PATH, FULMEN_ELECTRUM unset). ' +
      'Run `bash scripts/setup-regtest.sh` (installs Electrum 4.5.8 from bookworm-backports).',
  );
}

function tailOf(text: string, lines: number): string {
  return text.split('\n').slice(-lines - 1).join('\n');
}

class ElectrumDaemon implements ElectrumPeer {
  readonly lightningHost = '127.0.0.1';
  startupMs = 0;
  private proc: ManagedProcess | null = null;
  private stopped = false;
  private cachedNodeId: string | undefined;
  private readonly rpcPassword = randomBytes(16).toString('hex');
  private readonly authHeader: string;
  private readonly stdoutLog: string;

  constructor(
    readonly name: string,
    readonly seed: string,
    readonly dir: string,
    private readonly electrum: string,
    private readonly regtest: Regtest,
    readonly lightningPort: number,
    readonly rpcPort: number,
  ) {
    this.authHeader = 'Basic ' + Buffer.from(`${RPC_USER}:${this.rpcPassword}`).toString('base64');
    this.stdoutLog = path.join(dir, 'daemon.log');
  }

  /** The config Electrum's own regtest suite sets (tests/regtest/regtest.sh `init`), plus ours. */
  writeConfig(extra: Record<string, unknown>): void {
    const config: Record<string, unknown> = {
      config_version: 3,
      server: this.regtest.electrumServer,
      oneserver: true,
      auto_connect: false,
      // Without gossip Electrum routes through trampolines, and regtest has none.
      use_gossip: true,
      lightning_listen: `${this.lightningHost}:${this.lightningPort}`,
      lightning_to_self_delay: 144,
      rpcuser: RPC_USER,
      rpcpassword: this.rpcPassword,
      rpchost: '127.0.0.1',
      rpcport: this.rpcPort,
      rpcsock: 'tcp',
      log_to_file: true,
      check_updates: false,
      ...extra,
    };
    const configDir = path.join(this.dir, 'regtest');
    // The CLI creates wallets/ at startup; a wallet created over RPC needs it to exist already.
    fs.mkdirSync(path.join(configDir, 'wallets'), { recursive: true, mode: 0o700 });
    fs.writeFileSync(path.join(configDir, 'config'), JSON.stringify(config, null, 4), { mode: 0o600 });
  }

  spawnDaemon(): void {
    // HOME inside the dir: nothing of the developer's ~/.electrum is read or written.
    this.proc = new ManagedProcess(`electrum ${this.name}`, this.electrum, ['--regtest', '-D', this.dir, 'daemon'], this.stdoutLog, {
      PATH: process.env.PATH,
      HOME: this.dir,
      LANG: 'C.UTF-8',
    });
  }

  private assertAlive(): void {
    if (this.proc?.exited) {
      throw new Error(`electrum ${this.name} daemon exited (code ${this.proc.exitCode}).\n${this.logTail()}`);
    }
  }

  async call<T = unknown>(method: string, params: unknown[] | Record<string, unknown> = []): Promise<T> {
    this.assertAlive();
    let response: Response;
    try {
      response = await fetch(`http://127.0.0.1:${this.rpcPort}/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: this.authHeader },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
      });
    } catch (err) {
      this.assertAlive();
      throw new Error(`electrum ${this.name} ${method}: RPC unreachable (${(err as Error).message})`);
    }
    const text = await response.text();
    let body: { result?: T; error?: { code: number; message: string; data?: { exception?: string } } | null };
    try {
      body = JSON.parse(text);
    } catch {
      throw new Error(`electrum ${this.name} ${method}: HTTP ${response.status} ${text.slice(0, 200)}`);
    }
    if (body.error) {
      const exception = body.error.data?.exception ? ` [${body.error.data.exception}]` : '';
      throw new Error(`electrum ${this.name} ${method}: ${body.error.message}${exception}`);
    }
    return body.result as T;
  }

  async nodeId(): Promise<string> {
    if (!this.cachedNodeId) {
      // With lightning_listen set, `nodeid` answers "<pubkey>@<listen address>".
      const answer = await this.call<string>('nodeid');
      this.cachedNodeId = answer.split('@')[0]!;
    }
    return this.cachedNodeId;
  }

  async connectString(): Promise<string> {
    return `${await this.nodeId()}@${this.lightningHost}:${this.lightningPort}`;
  }

  getUnusedAddress(): Promise<string> {
    return this.call<string>('getunusedaddress');
  }

  async getBalance(): Promise<ElectrumBalance> {
    const raw = await this.call<{ confirmed?: string; unconfirmed?: string; lightning?: string }>('getbalance');
    // Electrum prints BTC as decimal strings; unconfirmed may be negative (outgoing, unmined).
    // The lightning balance has msat precision (11 decimals): truncated to whole sat.
    const sat = (value: string | undefined): number =>
      value === undefined ? 0 : value.startsWith('-') ? -parseBtcToSat(value.slice(1)) : parseBtcToSat(value);
    return { confirmedSat: sat(raw.confirmed), unconfirmedSat: sat(raw.unconfirmed), lightningSat: sat(raw.lightning?.replace(/(\.\d{8})\d+$/, '$1')) };
  }

  async waitForBalance(target: { confirmedSat?: number; unconfirmedSat?: number; timeoutMs?: number }): Promise<ElectrumBalance> {
    let last: ElectrumBalance | undefined;
    try {
      return await waitFor(
        async () => {
          last = await this.getBalance();
          return last.confirmedSat >= (target.confirmedSat ?? 0) && last.unconfirmedSat >= (target.unconfirmedSat ?? 0) && last;
        },
        { what: `electrum ${this.name} balance ${JSON.stringify(target)}`, timeoutMs: target.timeoutMs ?? 60_000, intervalMs: 100 },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last balance ${JSON.stringify(last)}\n${this.logTail()}`);
    }
  }

  async waitForTx(txid: string, timeoutMs = 30_000): Promise<number> {
    try {
      const status = await waitFor(
        async () => {
          let confirmations: number;
          try {
            ({ confirmations } = await this.call<{ confirmations: number }>('get_tx_status', [txid]));
          } catch (err) {
            if ((err as Error).message.includes('Transaction not in wallet')) return false;
            throw err;
          }
          return (await this.call<boolean>('is_synchronized')) && { confirmations };
        },
        { what: `electrum ${this.name} to hold tx ${txid}`, timeoutMs, intervalMs: 50 },
      );
      return status.confirmations;
    } catch (err) {
      throw new Error(`${(err as Error).message}\n${this.logTail()}`);
    }
  }

  async waitForSync(timeoutMs = 60_000): Promise<number> {
    let height = await this.regtest.rpc<number>('getblockcount');
    let last: ElectrumInfo | undefined;
    try {
      await waitFor(
        async () => {
          // The tip is re-read each round: a block mined meanwhile moves the target, not the deadline.
          height = await this.regtest.rpc<number>('getblockcount');
          last = await this.call<ElectrumInfo>('getinfo');
          return last.connected && last.blockchain_height === height && (await this.call<boolean>('is_synchronized'));
        },
        { what: `electrum ${this.name} to sync to height ${height}`, timeoutMs, intervalMs: 100 },
      );
    } catch (err) {
      throw new Error(`${(err as Error).message}; last getinfo ${JSON.stringify(last)}\n${this.logTail()}`);
    }
    return height;
  }

  listPeers(): Promise<ElectrumPeerInfo[]> {
    return this.call<ElectrumPeerInfo[]>('list_peers');
  }

  logTail(lines = LOG_TAIL_LINES): string {
    const parts: string[] = [];
    const logsDir = path.join(this.dir, 'regtest', 'logs');
    try {
      const newest = fs
        .readdirSync(logsDir)
        .filter((f) => f.endsWith('.log'))
        .sort()
        .at(-1);
      if (newest) parts.push(`Last lines of ${path.join(logsDir, newest)}:\n${tailOf(fs.readFileSync(path.join(logsDir, newest), 'utf8'), lines)}`);
    } catch {
      // no log dir yet
    }
    try {
      const stdout = fs.readFileSync(this.stdoutLog, 'utf8').trim();
      if (stdout) parts.push(`Last lines of ${this.stdoutLog}:\n${tailOf(stdout, lines)}`);
    } catch {
      // daemon never started
    }
    return parts.join('\n') || `(no Electrum log in ${this.dir})`;
  }

  /** Waits for the daemon's RPC, sets up the wallet, waits for chain and wallet sync. */
  async start(timeoutMs: number): Promise<void> {
    const began = Date.now();
    await waitFor(() => this.call<boolean>('ping'), { what: `electrum ${this.name} daemon RPC`, timeoutMs, intervalMs: 50 });
    const walletPath = path.join(this.dir, 'regtest', 'wallets', 'default_wallet');
    await this.call('restore', { text: this.seed, wallet_path: walletPath });
    await this.call('load_wallet', { wallet_path: walletPath });
    await this.waitForSync(Math.max(1_000, timeoutMs - (Date.now() - began)));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    forgetAtExit(this);
    if (!this.proc || this.proc.exited) return;
    try {
      await this.call('stop');
    } catch {
      // already going down; the signals below finish the job
    }
    if (!(await this.proc.exitedWithin(10_000))) await this.proc.stop(5_000);
  }

  killNow(): void {
    this.proc?.killNow();
  }
}

/**
 * Starts Electrum as a Lightning peer on `regtest`: data dir `<regtest.dir>/electrum-<name>`,
 * server = our ElectrumX (oneserver), use_gossip, lightning_listen and JSON-RPC on free loopback
 * ports, lightning_to_self_delay 144, log_to_file; a wallet restored from `seed` (default: a fresh
 * random one), loaded; resolves
 * once Electrum is connected, at bitcoind's tip and the wallet synchronized.
 * @throws Error when electrum is missing (run scripts/setup-regtest.sh) or the daemon fails to
 *   start or sync in time (message includes the Electrum log tail; the dir is kept).
 */
export async function startElectrumPeer(regtest: Regtest, opts: StartElectrumPeerOptions = {}): Promise<ElectrumPeer> {
  const began = Date.now();
  const electrum = locateElectrum();
  const name = opts.name ?? DEFAULT_NAME;
  if (!/^[\w-]+$/.test(name)) throw new Error(`Electrum peer name must be [A-Za-z0-9_-], got "${name}"`);
  const dir = path.join(regtest.dir, `electrum-${name}`);
  if (fs.existsSync(dir)) throw new Error(`An Electrum peer named "${name}" already exists in ${regtest.dir}`);
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const [lightningPort, rpcPort] = (await freePorts(2)) as [number, number];

  const daemon = new ElectrumDaemon(name, opts.seed ?? makeElectrumSegwitSeed(), dir, electrum, regtest, lightningPort, rpcPort);
  daemon.writeConfig(opts.config ?? {});
  killAtExit(daemon);
  daemon.spawnDaemon();
  try {
    await daemon.start(opts.timeoutMs ?? 90_000);
  } catch (err) {
    const message = (err as Error).message;
    const tail = message.includes('Last lines of') ? '' : `\n${daemon.logTail()}`;
    await daemon.stop();
    throw new Error(`startElectrumPeer(${name}) failed (data and logs in ${dir}): ${message}${tail}`);
  }
  daemon.startupMs = Date.now() - began;
  return daemon;
}
