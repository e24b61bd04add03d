/**
 * `npm run bench -- payments [--payments N] [--sequential N] [--lone N] [--concurrency C] [--profile DIR]`
 *
 * Two Fulmen daemons on loopback (bench/support/payments-daemon.ts, bundled by build/build.mjs as
 * bin/fulmen's daemon is: the `bin/fulmen daemon` app and JSON-RPC server, plus an IPC channel to
 * drive payments in-process) on a regtest network from
 * e2e/harness/regtest.ts. Alice funds one channel to Bob through the command table
 * (open_channel), the funding confirms, then:
 *   - N payments (default 10,000) Alice → Bob, `concurrency` in flight at once (default 100, within
 *     Bob's max_accepted_htlcs of 483 with room for HTLCs still being removed), each a real
 *     LightningNode.pay of a Bob invoice;
 *   - `sequential` single payments (default 200), one at a time back to back, after that history;
 *   - `lone` single payments (default 200), each after the channel was idle for 50 ms.
 * Prints ONE JSON line:
 *   {"bench":"payments","payments":N,"payments_per_s":…,"p50_ms":…,"p99_ms":…,
 *    "sequential":{"payments":…,"p50_ms":…,"p99_ms":…,"cpu_ms_per_payment":{"alice":…,"bob":…}},
 *    "lone":{"payments":…,"pause_ms":50,"p50_ms":…,"p99_ms":…},"first_1000_per_s":…,"last_1000_per_s":…,
 *    "secp256k1":"<backend>","failures":…,"cpu_ms_per_payment":{"alice":…,"bob":…},
 *    "commitments_per_payment":…,"loadavg":[…]}
 * `--profile DIR` runs both daemons with `node --cpu-prof` (profiles in DIR/alice, DIR/bob).
 */
import { execFile, fork, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort, startRegtest, waitFor, type Regtest } from '../e2e/harness/regtest.js';
import { SECP256K1_BACKEND } from '../core/bitcoin/secp256k1.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const BIN = path.join(ROOT, 'bin/fulmen');
const DAEMON = path.join(ROOT, 'dist/bench/payments-daemon.js');

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}

const PAYMENTS = Number(option('payments', '10000'));
const SEQUENTIAL = Number(option('sequential', '200'));
const LONE = Number(option('lone', '200'));
/** Idle time before each lone payment: long enough for the previous payment's last revoke_and_ack. */
const LONE_PAUSE_MS = 50;
const CONCURRENCY = Number(option('concurrency', '100'));
const PROFILE_DIR = option('profile', '');
const PAYMENT_MSAT = 1_000_000n; // 1000 sat: above the dust limit, so every HTLC has an output and signatures
const log = (text: string): void => void process.stderr.write(`[bench payments] ${text}\n`);

function offline(dir: string, ...args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(BIN, ['--regtest', '-D', dir, '--offline', ...args], { timeout: 120_000 }, (err, stdout, stderr) =>
      err ? reject(new Error(`fulmen ${args.join(' ')}: ${stderr}`)) : resolve(stdout.trim()),
    );
  });
}

/** One bench daemon process and its IPC request/response channel. */
class BenchDaemon {
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private constructor(
    readonly name: string,
    readonly dir: string,
    private readonly child: ChildProcess,
  ) {
    child.on('message', (m: { id?: number; result?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      this.waiting.delete(m.id);
      if (m.error !== undefined) w?.reject(new Error(`${name}: ${m.error}`));
      else w?.resolve(m.result);
    });
    child.on('exit', (code) => {
      for (const w of this.waiting.values()) w.reject(new Error(`${name} daemon exited (${code})`));
      this.waiting.clear();
    });
  }

  static async start(name: string, regtest: Regtest): Promise<BenchDaemon> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fulmen-bench-${name}-`));
    await offline(dir, 'setconfig', 'server', regtest.electrumServer);
    await offline(dir, 'setconfig', 'lightning_listen', `127.0.0.1:${await freePort()}`);
    await offline(dir, 'create');
    const execArgv = PROFILE_DIR ? ['--cpu-prof', '--cpu-prof-dir', path.join(PROFILE_DIR, name)] : [];
    const logFd = fs.openSync(path.join(dir, 'bench-daemon.log'), 'a');
    const child = fork(DAEMON, [dir], { execArgv, stdio: ['ignore', logFd, logFd, 'ipc'] });
    await new Promise<void>((resolve, reject) => {
      child.once('message', () => resolve());
      child.once('exit', (code) => reject(new Error(`${name} daemon exited (${code}); see ${dir}/bench-daemon.log`)));
    });
    return new BenchDaemon(name, dir, child);
  }

  request<T>(order: Record<string, unknown>): Promise<T> {
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
      this.child.send({ id, ...order });
    });
  }

  call<T = any>(method: string, params: unknown = {}): Promise<T> {
    return this.request<T>({ op: 'call', method, params });
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    await this.request({ op: 'stop' }).catch(() => undefined);
    await Promise.race([exited, new Promise((r) => setTimeout(r, 10_000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

const round = (x: number, digits = 2): number => Number(x.toFixed(digits));

/** Sum of both commitment numbers (local_ctn + remote_ctn) of the channel, as `d` lists it. */
async function commitments(d: BenchDaemon, channelPoint: string): Promise<number> {
  const c = (await d.call<{ channel_point: string; local_ctn: number; remote_ctn: number }[]>('list_channels')).find((x) => x.channel_point === channelPoint);
  if (!c) throw new Error(`${d.name}: channel ${channelPoint} not listed`);
  return c.local_ctn + c.remote_ctn;
}

/** Payments per second over completions [from, to) of a run (completion times sorted). */
function rateBetween(doneAtMs: number[], from: number, to: number): number {
  const sorted = [...doneAtMs].sort((a, b) => a - b);
  const end = Math.min(to, sorted.length) - 1;
  const startAt = from === 0 ? 0 : sorted[from - 1]!;
  return (end + 1 - from) / ((sorted[end]! - startAt) / 1000);
}

const built = spawnSync(process.execPath, [path.join(ROOT, 'build/build.mjs'), 'bench'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
if (built.status !== 0) throw new Error('node build/build.mjs bench failed');
const regtest = await startRegtest();
const daemons: BenchDaemon[] = [];
try {
  await regtest.mine(101);
  const [alice, bob] = await Promise.all([BenchDaemon.start('alice', regtest), BenchDaemon.start('bob', regtest)]);
  daemons.push(alice!, bob!);
  log('daemons up; funding alice');
  await regtest.sendToAddress(await alice!.call<string>('getunusedaddress'), '1');
  await regtest.mine(1);
  await waitFor(async () => (await alice!.call<{ confirmed: string }>('getbalance')).confirmed === '1', { what: 'alice funded', timeoutMs: 60_000 });
  const channelPoint = await alice!.call<string>('open_channel', { connection_string: await bob!.call<string>('nodeid'), amount: '0.16' });
  await regtest.mine(3);
  for (const d of [alice!, bob!]) {
    await waitFor(async () => (await d.call<{ channel_point: string; state: string }[]>('list_channels')).find((c) => c.channel_point === channelPoint && c.state === 'OPEN'), {
      what: `${d.name}: channel OPEN`,
      timeoutMs: 120_000,
    });
  }
  log(`channel ${channelPoint} OPEN; creating ${PAYMENTS + SEQUENTIAL + LONE} invoices`);
  const invoices = await bob!.request<string[]>({ op: 'invoices', count: PAYMENTS + SEQUENTIAL + LONE, amountMsat: PAYMENT_MSAT.toString() });
  type PayResult = { latenciesMs: number[]; doneAtMs: number[]; failures: string[]; totalMs: number };
  log(`paying ${PAYMENTS} with concurrency ${CONCURRENCY}`);
  const loadBefore = os.loadavg();
  const cpuBefore = await Promise.all([alice!.request<number>({ op: 'cpu' }), bob!.request<number>({ op: 'cpu' })]);
  const ctnBefore = await commitments(alice!, channelPoint);
  const concurrent = await alice!.request<PayResult>({ op: 'pay', invoices: invoices.slice(0, PAYMENTS), concurrency: CONCURRENCY });
  const cpuAfter = await Promise.all([alice!.request<number>({ op: 'cpu' }), bob!.request<number>({ op: 'cpu' })]);
  const cpuMsPerPayment = cpuAfter.map((after, i) => (after - cpuBefore[i]!) / PAYMENTS);
  const commitmentsPerPayment = ((await commitments(alice!, channelPoint)) - ctnBefore) / PAYMENTS;
  log(`concurrent: ${concurrent.totalMs.toFixed(0)} ms, ${concurrent.failures.length} failures ${concurrent.failures.slice(0, 3).join('; ')}`);
  const sequential = await alice!.request<PayResult>({ op: 'pay', invoices: invoices.slice(PAYMENTS, PAYMENTS + SEQUENTIAL), concurrency: 1 });
  const cpuAfterSequential = await Promise.all([alice!.request<number>({ op: 'cpu' }), bob!.request<number>({ op: 'cpu' })]);
  const cpuMsPerSequentialPayment = cpuAfterSequential.map((after, i) => (after - cpuAfter[i]!) / SEQUENTIAL);
  const lone = await alice!.request<PayResult>({ op: 'pay', invoices: invoices.slice(PAYMENTS + SEQUENTIAL), concurrency: 1, pauseMs: LONE_PAUSE_MS });
  const loadAfter = os.loadavg();
  const lat = [...concurrent.latenciesMs].sort((a, b) => a - b);
  const seq = [...sequential.latenciesMs].sort((a, b) => a - b);
  const alone = [...lone.latenciesMs].sort((a, b) => a - b);
  const window = Math.min(1000, Math.floor(PAYMENTS / 2));
  console.log(
    JSON.stringify({
      bench: 'payments',
      payments: PAYMENTS,
      payments_per_s: round(PAYMENTS / (concurrent.totalMs / 1000), 1),
      p50_ms: round(percentile(lat, 50)),
      p99_ms: round(percentile(lat, 99)),
      // One payment at a time, back to back (each one's add waits for the previous one's last
      // revoke_and_ack); cpu_ms_per_payment: CPU each daemon spent per payment (the rest of the
      // latency is waiting: fsync, loopback, the scheduler).
      sequential: {
        payments: SEQUENTIAL,
        p50_ms: round(percentile(seq, 50)),
        p99_ms: round(percentile(seq, 99)),
        cpu_ms_per_payment: { alice: round(cpuMsPerSequentialPayment[0]!, 3), bob: round(cpuMsPerSequentialPayment[1]!, 3) },
      },
      // One payment at a time on an idle channel (LONE_PAUSE_MS before each, not counted): what
      // paying one invoice takes, from pay() to the preimage.
      lone: { payments: LONE, pause_ms: LONE_PAUSE_MS, p50_ms: round(percentile(alone, 50)), p99_ms: round(percentile(alone, 99)) },
      first_1000_per_s: round(rateBetween(concurrent.doneAtMs, 0, window), 1),
      last_1000_per_s: round(rateBetween(concurrent.doneAtMs, PAYMENTS - window, PAYMENTS), 1),
      secp256k1: SECP256K1_BACKEND,
      concurrency: CONCURRENCY,
      failures: concurrent.failures.length + sequential.failures.length + lone.failures.length,
      // CPU time per payment of each daemon during the concurrent run (load-independent): each
      // daemon is one thread, so 1000 / the larger one bounds payments/s on an idle machine.
      cpu_ms_per_payment: { alice: round(cpuMsPerPayment[0]!, 3), bob: round(cpuMsPerPayment[1]!, 3) },
      cpu_bound_payments_per_s: round(1000 / Math.max(cpuMsPerPayment[0]!, cpuMsPerPayment[1]!), 0),
      // New commitments (both sides' ctn) per payment during the concurrent run: the batching
      // figure (each one costs a signature per HTLC in it on one side and a check on the other).
      commitments_per_payment: round(commitmentsPerPayment, 3),
      loadavg: [round(loadBefore[0]!), round(loadAfter[0]!)],
    }),
  );
} finally {
  await Promise.all(daemons.map((d) => d.stop()));
  await regtest.stop();
  for (const d of daemons) if (!process.env.FULMEN_KEEP_BENCH) fs.rmSync(d.dir, { recursive: true, force: true });
}
