/**
 * A real electrs (romanz/electrs, the Rust Electrum server most self-hosters run; built by
 * scripts/setup-regtest.sh, cached as <cache>/bin/electrs) serving the regtest network of
 * e2e/harness/regtest.ts next to its ElectrumX: a second server implementation for interop tests.
 * electrs reads blocks from bitcoind over P2P, everything else over RPC (user/password), and keeps
 * its RocksDB index in <regtest dir>/electrs-<name>.
 *
 *   const net = await startRegtest();
 *   const electrs = await startElectrs(net);
 *   ... ChainNetwork({ server: electrs.electrumServer, oneserver: true, ... }) ...
 *   await net.mine(1); await electrs.waitForTip();
 *   await electrs.stop();
 */
import fs from 'node:fs';
import path from 'node:path';
import { ElectrumTipProbe } from './electrum-socket.js';
import { ManagedProcess, forgetAtExit, freePorts, killAtExit, regtestCacheDir, tailOfFile, type Regtest } from './regtest.js';

/**
 * The cached electrs binary, or a sentence saying why there is none (for `describe.skipIf`).
 * Never throws.
 */
export function locateElectrs(): { binary: string; missing?: undefined } | { binary?: undefined; missing: string } {
  const binary = path.join(regtestCacheDir(), 'bin', 'electrs');
  try {
    fs.accessSync(binary, fs.constants.X_OK);
  } catch {
    return { missing: `electrs is not installed (${binary} missing): run \`bash scripts/setup-regtest.sh\`, which builds it with cargo` };
  }
  return { binary };
}

export interface StartElectrsOptions {
  /** Name used in the data dir and in error messages. Default "electrs". */
  name?: string;
  /** Deadline for the startup (index synced to bitcoind's tip, Electrum port answering). Default 60 s. */
  timeoutMs?: number;
}

export interface ElectrsServer {
  /** Electrum server string, Electrum's format: "127.0.0.1:PORT:t" (plain TCP; electrs has no TLS). */
  readonly electrumServer: string;
  readonly electrumHost: string;
  readonly electrumPort: number;
  /** Data dir (RocksDB index) and log file. */
  readonly dir: string;
  readonly logFile: string;
  /**
   * Waits until electrs's tip header equals bitcoind's best block header (electrs learns of a
   * block through its P2P connection, of a mempool change at its next poll: `--wait-duration-secs`
   * is 1 here). Returns the height.
   */
  waitForTip(timeoutMs?: number): Promise<number>;
  /** Stops electrs (SIGTERM, then SIGKILL). Its dir stays in the regtest dir. Idempotent. */
  stop(): Promise<void>;
}

/** Seconds between electrs's bitcoind polls (mempool and tip); its default is 10. */
const WAIT_DURATION_SECS = 1;

class ElectrsProcess implements ElectrsServer {
  readonly electrumHost = '127.0.0.1';
  readonly logFile: string;
  private proc: ManagedProcess | null = null;
  private readonly probe: ElectrumTipProbe;
  private stopped = false;

  constructor(
    readonly name: string,
    readonly dir: string,
    private readonly binary: string,
    private readonly regtest: Regtest,
    readonly electrumPort: number,
    private readonly monitoringPort: number,
  ) {
    this.logFile = path.join(dir, 'electrs.log');
    this.probe = new ElectrumTipProbe(this.electrumHost, electrumPort);
  }

  get electrumServer(): string {
    return `${this.electrumHost}:${this.electrumPort}:t`;
  }

  spawn(): void {
    fs.mkdirSync(path.join(this.dir, 'db'), { recursive: true });
    const rpcPort = new URL(this.regtest.rpcUrl).port;
    // electrs takes the RPC password only from a config file (TOML), never from the command line.
    const conf = path.join(this.dir, 'electrs.toml');
    fs.writeFileSync(conf, `auth = ${JSON.stringify(`${this.regtest.rpcUser}:${this.regtest.rpcPassword}`)}\n`, { mode: 0o600 });
    this.proc = new ManagedProcess(
      `electrs ${this.name}`,
      this.binary,
      [
        '--skip-default-conf-files',
        `--conf=${conf}`,
        '--network=regtest',
        `--db-dir=${path.join(this.dir, 'db')}`,
        `--daemon-dir=${path.join(this.regtest.dir, 'bitcoind')}`,
        `--daemon-rpc-addr=127.0.0.1:${rpcPort}`,
        `--daemon-p2p-addr=127.0.0.1:${this.regtest.p2pPort}`,
        `--electrum-rpc-addr=127.0.0.1:${this.electrumPort}`,
        `--monitoring-addr=127.0.0.1:${this.monitoringPort}`,
        `--wait-duration-secs=${WAIT_DURATION_SECS}`,
        '--log-filters=INFO',
      ],
      this.logFile,
      { PATH: process.env.PATH, HOME: process.env.HOME },
    );
  }

  async waitForTip(timeoutMs = 60_000): Promise<number> {
    return this.regtest.waitForServerTip('electrs', this.probe, () => this.proc?.assertAlive(), timeoutMs, 20);
  }


  /** Rejects once the process has exited (for a start that fails), naming its exit code; never resolves. */
  exited(): Promise<never> {
    const proc = this.proc!;
    const failure = () => new Error(`electrs ${this.name} exited (code ${proc.exitCode})`);
    if (proc.exited) return Promise.reject(failure());
    return new Promise((_, reject) => proc.child.once('exit', () => reject(failure())));
  }

  logTail(lines?: number): string {
    return tailOfFile(this.logFile, lines);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    forgetAtExit(this);
    this.probe.close();
    await this.proc?.stop(10_000);
  }

  killNow(): void {
    this.proc?.killNow();
  }
}

/**
 * Starts electrs against the running regtest bitcoind (RPC user/password, P2P port) on free
 * 127.0.0.1 ports; resolves once it has indexed bitcoind's tip and answers on its Electrum port.
 * @throws Error when electrs is not installed (run scripts/setup-regtest.sh) or does not start in
 *   time (message includes the log tail).
 */
export async function startElectrs(regtest: Regtest, opts: StartElectrsOptions = {}): Promise<ElectrsServer> {
  const located = locateElectrs();
  if (!located.binary) throw new Error(located.missing);
  const name = opts.name ?? 'electrs';
  const [electrumPort, monitoringPort] = (await freePorts(2)) as [number, number];
  const server = new ElectrsProcess(name, path.join(regtest.dir, `electrs-${name}`), located.binary, regtest, electrumPort, monitoringPort);
  killAtExit(server);
  server.spawn();
  try {
    const exited = server.exited();
    exited.catch(() => undefined); // a later exit (the caller's stop) is nobody's error
    await Promise.race([server.waitForTip(opts.timeoutMs ?? 60_000), exited]);
  } catch (err) {
    await server.stop();
    throw new Error(`startElectrs ${name} failed: ${(err as Error).message}\n${server.logTail()}`);
  }
  return server;
}
