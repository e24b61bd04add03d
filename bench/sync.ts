/**
 * `npm run bench -- sync [--sizes 1000,10000] [--runs 3] [--no-electrum] [--cpu-prof <dir>]`
 *
 * Wallet synchronisation on regtest (e2e/harness/regtest.ts: Knots + ElectrumX), Fulmen against
 * Electrum 4.5.8 (Debian's, as in e2e/harness/electrum.ts), for a wallet with N transactions:
 *   - restore: from the seed to fully synced and verified (every transaction fetched and
 *     merkle-verified, confirmed balance equal to the expected sum). Fulmen: from opening an empty
 *     db (Wallet.restore) to synced. Electrum: from the `restore` RPC call (daemon already up)
 *     through `load_wallet` to `is_synchronized` (synchronizer and SPV verifier idle) with the
 *     expected confirmed balance.
 *   - start: an already synced wallet. Fulmen: open db + connect + up to date (in a fresh process;
 *     `fulmen_start_process_s` also counts starting node and loading the code, bundled by
 *     build/build.mjs as bin/fulmen's is). Electrum: from spawning the daemon, through
 *     `load_wallet`, to synchronized.
 * Both wallets are the same Electrum segwit seed (Fulmen restores those at m/0').
 * After each sync the history is read: Fulmen's `onchain_history` command implementation (the
 * GUI's history call) and Electrum's `onchain_history` RPC, timed, and checked: N transactions,
 * all verified.
 *
 * The chain: each wallet transaction spends one output of a bench-owned funding key and pays one
 * of N/5 receive addresses (round robin) and, one time in four, also one of N/40 change
 * addresses; 1,000 transactions per block. Built once and cached (bitcoind datadir + ElectrumX db
 * + meta.json) in ${FULMEN_CACHE:-~/.cache/fulmen}/bench-sync-<CHAIN_VERSION>/txs-<N>; each run
 * copies it to a temp dir. Delete that directory to rebuild.
 *
 * Prints ONE JSON line:
 *   {"bench":"sync","runs":R,"txs_1000":{"fulmen_restore_s":…,"electrum_restore_s":…,"fulmen_start_s":…,
 *    "electrum_start_s":…,"ratio_restore":…,"ratio_start":…,"fulmen_start_process_s":…,
 *    "fulmen_onchain_history_ms":…,"electrum_onchain_history_ms":…,"fulmen_restore_cpu_s":…,
 *    "fulmen_restore_electrumx_cpu_s":…,"fulmen_restore_bitcoind_cpu_s":…,"electrum_restore_cpu_s":…,…},
 *    "txs_10000":{…},"electrumx_settings":{"COST_SOFT_LIMIT":…,…},"loadavg":[…]}
 * `*_cpu_s`: CPU seconds (user + system, /proc) spent during the restore by the wallet process,
 * ElectrumX and bitcoind: wall time well above their sum means waiting (or a loaded machine).
 * `electrumx_settings`: ElectrumX's session-throttling environment (one server for both wallets).
 * Figures are medians over the runs; ratio = Electrum / Fulmen (higher is better for Fulmen).
 */
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { regtestCacheDir, startRegtest, type Regtest } from '../e2e/harness/regtest.js';
import { makeElectrumSegwitSeed } from '../e2e/harness/electrum.js';
import { ELECTRUM_SEGWIT_ACCOUNT_PATH, electrumMnemonicToSeed } from '../core/bitcoin/electrum-seed.js';
import { accountFromSeed, bip32, deriveAccountKey, CHANGE_CHAIN, RECEIVE_CHAIN } from '../core/bitcoin/keys.js';
import { p2wpkhAddress, p2wpkhScript } from '../core/bitcoin/address.js';
import { buildTransaction, signP2wpkhInput } from '../core/bitcoin/transaction.js';
import { formatSatAsBtc, parseBtcToSat } from '../core/util/money.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The Fulmen child, bundled by build/build.mjs (as bin/fulmen runs dist/cli/fulmen.js: no TypeScript compiled at start). */
const CHILD = path.join(ROOT, 'dist/bench/sync-fulmen.js');
/** Bump when the chain layout changes: a new cache directory is built. */
const CHAIN_VERSION = 'v1';
const TXS_PER_BLOCK = 1_000;
const FEE_SAT = 400;

function option(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] !== undefined ? process.argv[i + 1]! : fallback;
}
const SIZES = option('sizes', '1000,10000').split(',').map(Number);
const RUNS = Number(option('runs', '3'));
const WITH_ELECTRUM = !process.argv.includes('--no-electrum');
/** `--cpu-prof <dir>`: the Fulmen child runs with `node --cpu-prof` and writes its .cpuprofile files there. */
const CPU_PROF_DIR = option('cpu-prof', '');
const log = (text: string): void => void process.stderr.write(`[bench sync] ${text}\n`);

interface ChainMeta {
  version: string;
  txs: number;
  seed: string;
  balanceSat: number;
  tipHeight: number;
  /** Blocks mined on top of the last wallet transaction (Electrum rolls its gap limit forward only past 3 confirmations). */
  settledBlocks?: number;
}

/** Electrum's address_is_old needs 3 confirmations before it derives past the gap; 6 for margin. */
const SETTLE_BLOCKS = 6;

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const round = (x: number, digits = 3): number => Number(x.toFixed(digits));

/** sendrawtransaction errors that mean "already accepted" (a retried batch resends them). */
const ALREADY_SENT = /txn-already-in-mempool|txn-already-known|already in block ?chain|Transaction outputs already in utxo set/i;

/**
 * One HTTP POST to bitcoind on a fresh connection (no keep-alive: bitcoind closes idle
 * connections, and undici's fetch then fails with "fetch failed" on the reused socket).
 */
function postJson(url: string, auth: string, body: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const request = http.request(url, { method: 'POST', agent: false, headers: { 'content-type': 'application/json', authorization: auth, connection: 'close' } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (c: Buffer) => chunks.push(c));
      response.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      response.on('error', reject);
    });
    request.setTimeout(120_000, () => request.destroy(new Error('bitcoind RPC timed out')));
    request.on('error', reject);
    request.end(body);
  });
}

/**
 * JSON-RPC batch to bitcoind (one HTTP request for many calls), retried up to 5 times on a
 * transport failure; on a retry, a sendrawtransaction answered "already in mempool/chain" counts
 * as sent (the first attempt may have reached bitcoind).
 */
async function rpcBatch(regtest: Regtest, calls: { method: string; params: unknown[] }[], wallet?: string): Promise<unknown[]> {
  const url = wallet ? `${regtest.rpcUrl}wallet/${wallet}` : regtest.rpcUrl;
  const auth = 'Basic ' + Buffer.from(`${regtest.rpcUser}:${regtest.rpcPassword}`).toString('base64');
  const payload = JSON.stringify(calls.map((c, id) => ({ jsonrpc: '1.0', id, ...c })));
  for (let attempt = 1; ; attempt++) {
    let text: string;
    try {
      text = await postJson(url, auth, payload);
    } catch (err) {
      if (attempt >= 5) throw err;
      log(`bitcoind batch failed (${err instanceof Error ? err.message : String(err)}), retry ${attempt}`);
      await sleep(500 * attempt);
      continue;
    }
    const body = JSON.parse(text) as { id: number; result: unknown; error: { message: string } | null }[];
    return body
      .sort((a, b) => a.id - b.id)
      .map((r) => {
        if (r.error && !(attempt > 1 && calls[r.id]!.method === 'sendrawtransaction' && ALREADY_SENT.test(r.error.message))) {
          throw new Error(`bitcoind batch: ${r.error.message}`);
        }
        return r.result;
      });
  }
}

/** Builds the chain of `txs` wallet transactions in `dir` (a fresh regtest) and returns its meta. */
async function buildChain(dir: string, txs: number): Promise<ChainMeta> {
  const seed = makeElectrumSegwitSeed();
  const account = accountFromSeed(electrumMnemonicToSeed(seed), 'regtest', ELECTRUM_SEGWIT_ACCOUNT_PATH);
  const receiveCount = Math.ceil(txs / 5);
  const changeCount = Math.ceil(txs / 40);
  const receive = Array.from({ length: receiveCount }, (_, i) => p2wpkhScript(deriveAccountKey(account, RECEIVE_CHAIN, i).publicKey));
  const change = Array.from({ length: changeCount }, (_, i) => p2wpkhScript(deriveAccountKey(account, CHANGE_CHAIN, i).publicKey));

  const regtest = await startRegtest({ dir });
  try {
    const funders = Math.min(txs, TXS_PER_BLOCK);
    const rounds = Math.ceil(txs / funders);
    const perFunderSat = rounds * 30_000 + 10_000;
    const funderRoot = bip32.fromSeed(randomBytes(32));
    const funderKeys = Array.from({ length: funders }, (_, i) => funderRoot.derive(i));
    const funderScripts = funderKeys.map((k) => p2wpkhScript(k.publicKey));
    await regtest.mine(10); // more mature coinbase for the funding
    const amounts: Record<string, string> = {};
    funderKeys.forEach((k) => (amounts[p2wpkhAddress(k.publicKey, 'regtest')] = formatSatAsBtc(perFunderSat)));
    const fundingTxid = await regtest.rpc<string>('sendmany', ['', amounts], 'miner');
    await regtest.mine(1);
    const fundingTx = await regtest.rpc<{ vout: { n: number; scriptPubKey: { hex: string } }[] }>('getrawtransaction', [fundingTxid, true]);
    const coins = funderScripts.map((script) => {
      const hex = Buffer.from(script).toString('hex');
      const out = fundingTx.vout.find((o) => o.scriptPubKey.hex === hex)!;
      return { txid: fundingTxid, vout: out.n, valueSat: perFunderSat };
    });

    let balanceSat = 0;
    let k = 0;
    for (let round = 0; round < rounds; round++) {
      const raws: string[] = [];
      for (let f = 0; f < funders && k < txs; f++, k++) {
        const coin = coins[f]!;
        const outputs = [{ scriptPubKey: receive[k % receiveCount]!, valueSat: 10_000 + (k % 997) * 10 }];
        if (k % 4 === 0) outputs.push({ scriptPubKey: change[(k / 4) % changeCount]!, valueSat: 5_000 });
        const paid = outputs.reduce((s, o) => s + o.valueSat, 0);
        balanceSat += paid;
        const back = coin.valueSat - paid - FEE_SAT;
        outputs.push({ scriptPubKey: funderScripts[f]!, valueSat: back });
        const tx = buildTransaction({ inputs: [{ txid: coin.txid, vout: coin.vout }], outputs });
        signP2wpkhInput(tx, 0, funderKeys[f]!, coin.valueSat);
        raws.push(tx.toHex());
        coins[f] = { txid: tx.getId(), vout: outputs.length - 1, valueSat: back };
      }
      for (let i = 0; i < raws.length; i += 100) {
        await rpcBatch(regtest, raws.slice(i, i + 100).map((hex) => ({ method: 'sendrawtransaction', params: [hex] })));
      }
      await regtest.mine(1);
      log(`built ${k}/${txs} transactions`);
    }
    await regtest.mine(SETTLE_BLOCKS);
    const tipHeight = await regtest.rpc<number>('getblockcount');
    return { version: CHAIN_VERSION, txs, seed, balanceSat, tipHeight, settledBlocks: SETTLE_BLOCKS };
  } finally {
    await regtest.stop();
  }
}

/** The cached chain directory for `txs`, built when missing. */
async function cachedChain(txs: number): Promise<{ dir: string; meta: ChainMeta }> {
  const dir = path.join(regtestCacheDir(), `bench-sync-${CHAIN_VERSION}`, `txs-${txs}`);
  const metaFile = path.join(dir, 'meta.json');
  if (fs.existsSync(metaFile)) {
    const meta = JSON.parse(fs.readFileSync(metaFile, 'utf8')) as ChainMeta;
    if (!meta.settledBlocks) {
      // A cache built before the settle blocks existed: mine them into the cache once.
      const regtest = await startRegtest({ dir });
      try {
        await regtest.mine(SETTLE_BLOCKS);
        meta.tipHeight = await regtest.rpc<number>('getblockcount');
        meta.settledBlocks = SETTLE_BLOCKS;
      } finally {
        await regtest.stop();
      }
      fs.writeFileSync(metaFile, JSON.stringify(meta));
    }
    return { dir, meta };
  }
  log(`building the chain of ${txs} transactions (cached in ${dir})`);
  const building = `${dir}.building-${process.pid}`;
  fs.rmSync(building, { recursive: true, force: true });
  fs.mkdirSync(building, { recursive: true });
  const meta = await buildChain(building, txs);
  fs.writeFileSync(path.join(building, 'meta.json'), JSON.stringify(meta));
  fs.rmSync(dir, { recursive: true, force: true });
  fs.renameSync(building, dir);
  return { dir, meta };
}

// ---------------------------------------------------------------- CPU accounting

/** Clock ticks per second of /proc/<pid>/stat times (USER_HZ, 100 on Linux). */
const CLOCK_TICKS = 100;

/** User + system CPU seconds used so far by process `pid` (Linux /proc/<pid>/stat), 0 when unreadable. */
function cpuSecondsOf(pid: number): number {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at index 2 (state);
    // utime and stime are fields 14 and 15 (1-based).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return 0;
  }
}

/**
 * The pids of this regtest's ElectrumX and bitcoind: the processes whose command line or
 * environment names its directory (`-datadir=<dir>/bitcoind`, `DB_DIRECTORY=<dir>/electrumx-db`).
 */
function serverPids(regtest: Regtest): { electrumx: number[]; bitcoind: number[] } {
  const found = { electrumx: [] as number[], bitcoind: [] as number[] };
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      if (cmdline.includes(`-datadir=${path.join(regtest.dir, 'bitcoind')}`)) found.bitcoind.push(Number(entry));
      else if (cmdline.includes('electrumx') && fs.readFileSync(`/proc/${entry}/environ`, 'utf8').includes(`DB_DIRECTORY=${path.join(regtest.dir, 'electrumx-db')}`)) {
        found.electrumx.push(Number(entry));
      }
    } catch {
      // A process that ended meanwhile, or one we may not read.
    }
  }
  return found;
}

/** ElectrumX's session-throttling and polling settings, as read from the running process's environment. */
const THROTTLE_SETTINGS = [
  'COST_SOFT_LIMIT',
  'COST_HARD_LIMIT',
  'INITIAL_CONCURRENT',
  'REQUEST_SLEEP',
  'BANDWIDTH_UNIT_COST',
  'MAX_SESSIONS',
  'MAX_SEND',
  'MAX_RECV',
  'DAEMON_POLL_INTERVAL_BLOCKS',
  'DAEMON_POLL_INTERVAL_MEMPOOL',
];

/**
 * The bench's chain does not change while it runs, so ElectrumX polls bitcoind once a second
 * instead of the harness's every 20 ms (which costs ElectrumX and bitcoind about 0.15 CPU-second
 * per second, taken from both wallets' syncs on a 2-core machine). Same server for both wallets.
 */
const BENCH_ELECTRUMX_ENV = { DAEMON_POLL_INTERVAL_BLOCKS: '1000', DAEMON_POLL_INTERVAL_MEMPOOL: '1000' };

/**
 * The throttling settings the regtest's ElectrumX runs with (the one server both wallets use, so
 * the same for both). Unset ones are absent (ElectrumX's defaults apply).
 */
function electrumxSettings(regtest: Regtest): Record<string, string> {
  const pid = serverPids(regtest).electrumx[0];
  if (pid === undefined) return {};
  const settings: Record<string, string> = {};
  for (const entry of fs.readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
    const eq = entry.indexOf('=');
    if (eq > 0 && THROTTLE_SETTINGS.includes(entry.slice(0, eq))) settings[entry.slice(0, eq)] = entry.slice(eq + 1);
  }
  return settings;
}

/** CPU seconds used by the regtest's servers between `start()` and the returned function's call. */
function serverCpuMeter(regtest: Regtest): () => { electrumx: number; bitcoind: number } {
  const pids = serverPids(regtest);
  const sum = (list: number[]) => list.reduce((s, pid) => s + cpuSecondsOf(pid), 0);
  const before = { electrumx: sum(pids.electrumx), bitcoind: sum(pids.bitcoind) };
  return () => ({ electrumx: sum(pids.electrumx) - before.electrumx, bitcoind: sum(pids.bitcoind) - before.bitcoind });
}

// ---------------------------------------------------------------- Fulmen

interface FulmenResult {
  seconds: number;
  /** The Fulmen process's CPU seconds over `seconds`. */
  cpuSeconds: number;
  txs: number;
  balanceSat: number;
  historyMs: number;
  onchainHistoryMs: number;
  balanceMs: number;
  processSeconds: number;
}

function runFulmen(mode: 'restore' | 'start', dir: string, regtest: Regtest, meta: ChainMeta): Promise<FulmenResult> {
  const began = performance.now();
  const profile = CPU_PROF_DIR ? ['--cpu-prof', '--cpu-prof-dir', path.resolve(CPU_PROF_DIR), '--cpu-prof-name', `fulmen-${mode}-${meta.txs}-${Date.now()}.cpuprofile`] : [];
  const args = [...profile, CHILD, mode, path.join(dir, 'wallet.sqlite'), path.join(dir, 'chain.sqlite'), regtest.electrumServer, meta.seed, String(meta.txs), String(meta.balanceSat)];
  return new Promise((resolve, reject) => {
    execFile(process.execPath, args, { cwd: ROOT, timeout: 30 * 60_000, maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err) return reject(new Error(`fulmen ${mode}: ${stderr || err.message}`));
      resolve({ ...(JSON.parse(stdout.trim().split('\n').at(-1)!) as Omit<FulmenResult, 'processSeconds'>), processSeconds: (performance.now() - began) / 1000 });
    });
  });
}

// ---------------------------------------------------------------- Electrum

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Electrum 4.5.8's daemon on one data dir, restartable (the harness peer is start-once). */
class ElectrumSyncDaemon {
  private child: ChildProcess | null = null;
  private exited = false;
  private readonly password = randomBytes(16).toString('hex');
  readonly walletPath: string;

  constructor(
    readonly dir: string,
    private readonly rpcPort: number,
    server: string,
  ) {
    const configDir = path.join(dir, 'regtest');
    fs.mkdirSync(path.join(configDir, 'wallets'), { recursive: true, mode: 0o700 });
    this.walletPath = path.join(configDir, 'wallets', 'default_wallet');
    const config = {
      config_version: 3,
      server,
      oneserver: true,
      auto_connect: false,
      rpcuser: 'fulmen',
      rpcpassword: this.password,
      rpchost: '127.0.0.1',
      rpcport: rpcPort,
      rpcsock: 'tcp',
      check_updates: false,
    };
    fs.writeFileSync(path.join(configDir, 'config'), JSON.stringify(config, null, 4), { mode: 0o600 });
  }

  /** Spawns the daemon and waits for its RPC. */
  async start(): Promise<void> {
    const electrum = process.env.FULMEN_ELECTRUM ?? 'electrum';
    const fd = fs.openSync(path.join(this.dir, 'daemon.log'), 'a');
    this.exited = false;
    this.child = spawn(electrum, ['--regtest', '-D', this.dir, 'daemon'], { stdio: ['ignore', fd, fd], env: { PATH: process.env.PATH, HOME: this.dir, LANG: 'C.UTF-8' } });
    fs.closeSync(fd);
    this.child.once('exit', () => (this.exited = true));
    for (;;) {
      if (this.exited) throw new Error(`electrum daemon exited; see ${this.dir}/daemon.log`);
      try {
        if (await this.call('ping')) return;
      } catch {
        await sleep(20);
      }
    }
  }

  /** The daemon's pid (for CPU accounting), or 0 when not running. */
  pid(): number {
    return this.child && !this.exited ? (this.child.pid ?? 0) : 0;
  }

  async call<T = unknown>(method: string, params: unknown[] | Record<string, unknown> = []): Promise<T> {
    const response = await fetch(`http://127.0.0.1:${this.rpcPort}/`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic ' + Buffer.from(`fulmen:${this.password}`).toString('base64') },
      body: JSON.stringify({ jsonrpc: '2.0', id: 1, method, params }),
    });
    const body = (await response.json()) as { result?: T; error?: { message: string } | null };
    if (body.error) throw new Error(`electrum ${method}: ${body.error.message}`);
    return body.result as T;
  }

  /** Polls until synchronized (synchronizer + verifier idle) at `tipHeight` with `balanceSat` confirmed. */
  async waitSynced(tipHeight: number, balanceSat: number): Promise<void> {
    const deadline = Date.now() + 60 * 60_000;
    for (;;) {
      const info = await this.call<{ connected: boolean; blockchain_height: number }>('getinfo');
      if (info.connected && info.blockchain_height === tipHeight && (await this.call<boolean>('is_synchronized'))) {
        const balance = await this.call<{ confirmed: string; unconfirmed?: string }>('getbalance');
        if (parseBtcToSat(balance.confirmed) === balanceSat && !balance.unconfirmed) return;
      }
      if (Date.now() > deadline) throw new Error('electrum did not sync');
      await sleep(50);
    }
  }

  async stop(): Promise<void> {
    if (!this.child || this.exited) return;
    const exited = new Promise((r) => this.child!.once('exit', r));
    await this.call('stop').catch(() => undefined);
    await Promise.race([exited, sleep(20_000)]);
    if (!this.exited) this.child.kill('SIGKILL');
  }
}

interface ElectrumResult {
  restoreSeconds: number;
  /** The Electrum daemon's CPU seconds during the restore. */
  restoreCpuSeconds: number;
  /** ElectrumX's and bitcoind's CPU seconds during the restore. */
  restoreServerCpu: { electrumx: number; bitcoind: number };
  startSeconds: number;
  onchainHistoryMs: number;
}

async function runElectrum(dir: string, regtest: Regtest, meta: ChainMeta): Promise<ElectrumResult> {
  const daemon = new ElectrumSyncDaemon(dir, await freePort(), regtest.electrumServer);
  try {
    await daemon.start();
    const meter = serverCpuMeter(regtest);
    const cpuBefore = cpuSecondsOf(daemon.pid());
    let began = performance.now();
    await daemon.call('restore', { text: meta.seed, wallet_path: daemon.walletPath });
    await daemon.call('load_wallet', { wallet_path: daemon.walletPath });
    await daemon.waitSynced(meta.tipHeight, meta.balanceSat);
    const restoreSeconds = (performance.now() - began) / 1000;
    const restoreCpuSeconds = cpuSecondsOf(daemon.pid()) - cpuBefore;
    const restoreServerCpu = meter();
    await daemon.stop();

    began = performance.now();
    await daemon.start();
    await daemon.call('load_wallet', { wallet_path: daemon.walletPath });
    await daemon.waitSynced(meta.tipHeight, meta.balanceSat);
    const startSeconds = (performance.now() - began) / 1000;

    const t = performance.now();
    const history = await daemon.call<{ transactions: { confirmations: number }[] }>('onchain_history');
    const onchainHistoryMs = performance.now() - t;
    const verified = history.transactions.filter((h) => h.confirmations > 0).length;
    if (history.transactions.length !== meta.txs || verified !== meta.txs) {
      throw new Error(`electrum history: ${history.transactions.length} txs, ${verified} confirmed, expected ${meta.txs}`);
    }
    return { restoreSeconds, restoreCpuSeconds, restoreServerCpu, startSeconds, onchainHistoryMs };
  } finally {
    await daemon.stop();
  }
}

// ---------------------------------------------------------------- main

/** ElectrumX settings of the last measured regtest (printed in the JSON line). */
let serverSettings: Record<string, string> = {};

async function measure(txs: number): Promise<Record<string, number>> {
  const cached = await cachedChain(txs);
  const work = fs.mkdtempSync(path.join(os.tmpdir(), `fulmen-bench-sync-${txs}-`));
  fs.cpSync(cached.dir, path.join(work, 'chain'), { recursive: true });
  const regtest = await startRegtest({ dir: path.join(work, 'chain'), electrumxEnv: BENCH_ELECTRUMX_ENV });
  const f = { restore: [] as number[], restoreCpu: [] as number[], restoreElectrumx: [] as number[], restoreBitcoind: [] as number[], start: [] as number[], startProcess: [] as number[], history: [] as number[], balance: [] as number[] };
  const e = { restore: [] as number[], restoreCpu: [] as number[], restoreElectrumx: [] as number[], restoreBitcoind: [] as number[], start: [] as number[], history: [] as number[] };
  try {
    if ((await regtest.rpc<number>('getblockcount')) !== cached.meta.tipHeight) throw new Error('cached chain has an unexpected height');
    serverSettings = electrumxSettings(regtest);
    for (let run = 0; run < RUNS; run++) {
      const fdir = path.join(work, `fulmen-${run}`);
      fs.mkdirSync(fdir);
      const meter = serverCpuMeter(regtest);
      const restore = await runFulmen('restore', fdir, regtest, cached.meta);
      const serverCpu = meter();
      const start = await runFulmen('start', fdir, regtest, cached.meta);
      f.restore.push(restore.seconds);
      f.restoreCpu.push(restore.cpuSeconds);
      f.restoreElectrumx.push(serverCpu.electrumx);
      f.restoreBitcoind.push(serverCpu.bitcoind);
      f.start.push(start.seconds);
      f.startProcess.push(start.processSeconds);
      f.history.push(start.onchainHistoryMs);
      f.balance.push(start.balanceMs);
      log(`txs ${txs} run ${run + 1}: fulmen restore ${restore.seconds.toFixed(2)} s (cpu: fulmen ${restore.cpuSeconds.toFixed(2)} s, electrumx ${serverCpu.electrumx.toFixed(2)} s, bitcoind ${serverCpu.bitcoind.toFixed(2)} s), start ${start.seconds.toFixed(2)} s, onchain_history ${start.onchainHistoryMs.toFixed(0)} ms`);
      if (WITH_ELECTRUM) {
        const electrum = await runElectrum(path.join(work, `electrum-${run}`), regtest, cached.meta);
        e.restore.push(electrum.restoreSeconds);
        e.restoreCpu.push(electrum.restoreCpuSeconds);
        e.restoreElectrumx.push(electrum.restoreServerCpu.electrumx);
        e.restoreBitcoind.push(electrum.restoreServerCpu.bitcoind);
        e.start.push(electrum.startSeconds);
        e.history.push(electrum.onchainHistoryMs);
        log(`txs ${txs} run ${run + 1}: electrum restore ${electrum.restoreSeconds.toFixed(2)} s (cpu: electrum ${electrum.restoreCpuSeconds.toFixed(2)} s, electrumx ${electrum.restoreServerCpu.electrumx.toFixed(2)} s, bitcoind ${electrum.restoreServerCpu.bitcoind.toFixed(2)} s), start ${electrum.startSeconds.toFixed(2)} s, onchain_history ${electrum.onchainHistoryMs.toFixed(0)} ms`);
      }
    }
  } finally {
    await regtest.stop();
    if (!process.env.FULMEN_KEEP_REGTEST) fs.rmSync(work, { recursive: true, force: true });
  }
  const out: Record<string, number> = {
    fulmen_restore_s: round(median(f.restore)),
    electrum_restore_s: round(median(e.restore)),
    fulmen_start_s: round(median(f.start)),
    electrum_start_s: round(median(e.start)),
    ratio_restore: round(median(e.restore) / median(f.restore), 2),
    ratio_start: round(median(e.start) / median(f.start), 2),
    fulmen_start_process_s: round(median(f.startProcess)),
    ratio_start_process: round(median(e.start) / median(f.startProcess), 2),
    fulmen_onchain_history_ms: round(median(f.history), 1),
    electrum_onchain_history_ms: round(median(e.history), 1),
    fulmen_getbalance_ms: round(median(f.balance), 2),
    // CPU seconds spent during the restore by the wallet process and by the servers it talked to.
    fulmen_restore_cpu_s: round(median(f.restoreCpu)),
    fulmen_restore_electrumx_cpu_s: round(median(f.restoreElectrumx)),
    fulmen_restore_bitcoind_cpu_s: round(median(f.restoreBitcoind)),
    electrum_restore_cpu_s: round(median(e.restoreCpu)),
    electrum_restore_electrumx_cpu_s: round(median(e.restoreElectrumx)),
    electrum_restore_bitcoind_cpu_s: round(median(e.restoreBitcoind)),
  };
  return out;
}

async function main(): Promise<void> {
  const built = spawnSync(process.execPath, [path.join(ROOT, 'build/build.mjs'), 'bench'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'inherit'] });
  if (built.status !== 0) throw new Error('node build/build.mjs bench failed');
  const result: Record<string, unknown> = { bench: 'sync', runs: RUNS };
  for (const txs of SIZES) result[`txs_${txs}`] = await measure(txs);
  result.electrumx_settings = serverSettings;
  result.loadavg = os.loadavg().map((x) => round(x, 2));
  result.cpus = os.cpus().length;
  process.stdout.write(JSON.stringify(result) + '\n');
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(err instanceof Error ? (err.stack ?? err.message) : String(err));
    process.exit(1);
  },
);
