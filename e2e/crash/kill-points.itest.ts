import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRegtest, waitFor, type Regtest } from '../harness/regtest.js';
import { processAlive } from '../../core/util/process.js';
import { ConfigStore, dataPaths } from '../../core/daemon/config.js';
import { rpcCall, rpcEndpointFromConfig } from '../../core/daemon/rpc-client.js';

/**
 * Crash safety of the BOLT 2 update protocol between two Fulmen daemons (bin/fulmen) on regtest.
 *
 * Alice (funder, payer) pays Bob over one channel, a stream of payments per round: ok, fail
 * (Bob lost the invoice: update_fail_htlc), ok, ok. Each round restarts one daemon with
 * FULMEN_CRASH_AT=<point>:<n> (core/lightning/crashpoints.ts) so it SIGKILLs itself the n-th
 * time it reaches the point, mid-stream; the harness waits for the death, restarts it without
 * the hook, waits for channel_reestablish to settle and checks:
 *  - both sides agree: local/remote of Alice = remote/local of Bob, and the ctns match;
 *  - no HTLC is left: local + remote = capacity on both sides (balances exclude HTLCs in flight);
 *  - no sent payment is left pending; each one completed exactly once (Alice holds a preimage of
 *    the hash, Bob's invoice is paid once) or failed with nothing deducted; the totals match.
 *
 * FULMEN_CRASH_POINTS=<substring>[,<substring>] runs only the matching points.
 */
const BIN = fileURLToPath(new URL('../../bin/fulmen', import.meta.url));
const CAPACITY_SAT = 1_000_000;

type Who = 'alice' | 'bob';
interface KillPoint {
  victim: Who;
  point: string;
  occurrence: number;
}

/**
 * Occurrences counted from the victim's start, chosen to land mid-stream: payment 1 (ok) sends
 * one update_add_htlc and two commitment_signed / revoke_and_ack each way; payment 2 is the
 * first failure, payment 3 the second fulfill.
 */
function occurrenceFor(msg: string): number {
  if (msg === 'update_fail_htlc') return 1;
  if (msg === 'update_fulfill_htlc' || msg === 'update_add_htlc') return 2;
  return 3;
}

function pointsOf(victim: Who, sends: string[], receives: string[]): KillPoint[] {
  const kinds = [
    ...sends.flatMap((m) => [`persisted:${m}`, `sent:${m}`]),
    ...receives.flatMap((m) => [`received:${m}`, `received-persisted:${m}`]),
  ];
  return kinds.map((point) => ({ victim, point, occurrence: occurrenceFor(point.slice(point.indexOf(':') + 1)) }));
}

const ALL_POINTS: KillPoint[] = [
  ...pointsOf('alice', ['update_add_htlc', 'commitment_signed', 'revoke_and_ack'], ['update_fulfill_htlc', 'update_fail_htlc', 'commitment_signed', 'revoke_and_ack']),
  ...pointsOf('bob', ['update_fulfill_htlc', 'update_fail_htlc', 'commitment_signed', 'revoke_and_ack'], ['update_add_htlc', 'commitment_signed', 'revoke_and_ack']),
];
const only = process.env.FULMEN_CRASH_POINTS?.split(',').filter(Boolean);
const POINTS = only ? ALL_POINTS.filter((p) => only.some((o) => `${p.victim}:${p.point}`.includes(o))) : ALL_POINTS;

function fulmen(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const childEnv = { ...process.env, ...env };
    if (!('FULMEN_CRASH_AT' in env)) delete childEnv.FULMEN_CRASH_AT;
    execFile(BIN, ['--regtest', '-D', dir, ...args], { timeout: 180_000, env: childEnv }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
    });
  });
}

async function ok(dir: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<string> {
  const r = await fulmen(dir, args, env);
  if (r.code !== 0) throw new Error(`fulmen ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}


/** Integer satoshis as a BTC string (the JSON-RPC amount format). */
function btc(sat: number): string {
  return (sat / 1e8).toFixed(8);
}

interface ChannelRow {
  state: string;
  peer_state: string;
  local_balance: number;
  remote_balance: number;
  local_ctn: number;
  remote_ctn: number;
  capacity: number;
}
interface HistoryRow {
  payment_hash: string;
  direction: 'sent' | 'received';
  status: string;
  amount_msat: string;
  preimage: string | null;
}

class Daemon {
  pid = 0;
  constructor(
    readonly name: Who,
    readonly dir: string,
  ) {}

  private get paths() {
    return dataPaths(this.dir, 'regtest');
  }

  /** JSON-RPC straight to the daemon (faster than a CLI process per call). */
  call<T>(method: string, params: Record<string, unknown> = {}, timeoutMs = 60_000): Promise<T> {
    const endpoint = rpcEndpointFromConfig(new ConfigStore(this.paths.config));
    if (!endpoint) throw new Error(`${this.name}: no rpc endpoint in config`);
    return rpcCall(endpoint, method, params, timeoutMs) as Promise<T>;
  }

  async start(crashAt?: string): Promise<void> {
    const t0 = Date.now();
    await ok(this.dir, ['daemon', '-d'], crashAt ? { FULMEN_CRASH_AT: crashAt } : {});
    const t1 = Date.now();
    await ok(this.dir, ['load_wallet']);
    if (process.env.FULMEN_CRASH_TRACE) console.log(`[crash] ${this.name} daemon -d ${t1 - t0} ms, load_wallet ${Date.now() - t1} ms`);
    this.pid = Number(fs.readFileSync(path.join(this.paths.dir, 'lock'), 'utf8').trim());
  }

  async stop(): Promise<void> {
    const t0 = Date.now();
    await fulmen(this.dir, ['stop']);
    await waitFor(() => !processAlive(this.pid), { what: `${this.name} stopped`, timeoutMs: 30_000, intervalMs: 100 });
    if (process.env.FULMEN_CRASH_TRACE) console.log(`[crash] ${this.name} stop ${Date.now() - t0} ms`);
  }

  get isAlive(): boolean {
    return processAlive(this.pid);
  }

  async channel(): Promise<ChannelRow> {
    const rows = await this.call<ChannelRow[]>('list_channels');
    if (rows.length !== 1) throw new Error(`${this.name}: expected one channel, got ${rows.length}`);
    return rows[0]!;
  }

  history(): Promise<HistoryRow[]> {
    return this.call<HistoryRow[]>('lightning_history');
  }

  /** Deletes an invoice from the wallet file while the daemon runs: Bob "lost" it, so he fails the HTLC. */
  forgetInvoice(paymentHash: string): void {
    const db = new Database(this.paths.defaultWallet);
    try {
      db.pragma('busy_timeout = 10000');
      db.prepare('DELETE FROM lightning_invoices WHERE payment_hash = ?').run(paymentHash);
    } finally {
      db.close();
    }
  }
}

interface Attempt {
  paymentHash: string;
  amountSat: number;
  /** Bob forgot the invoice: the payment must fail. */
  mustFail: boolean;
}

describe('crash at every point of the update protocol (two daemons, SIGKILL + restart)', () => {
  let regtest: Regtest;
  let alice: Daemon;
  let bob: Daemon;
  const attempts: Attempt[] = [];
  const dirs: string[] = [];

  async function create(name: Who): Promise<Daemon> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fulmen-crash-${name}-`));
    dirs.push(dir);
    await ok(dir, ['--offline', 'setconfig', 'server', regtest.electrumServer]);
    await ok(dir, ['--offline', 'setconfig', 'lightning_listen', `127.0.0.1:${await freePort()}`]);
    await ok(dir, ['--offline', 'create']);
    const d = new Daemon(name, dir);
    await d.start();
    return d;
  }

  /** Both peers connected, both views of the channel equal, no HTLC in flight, no payment pending. */
  let lastSeen = '';
  async function settled(): Promise<{ a: ChannelRow; b: ChannelRow } | false> {
    const [a, b] = [await alice.channel(), await bob.channel()];
    const pending = (await alice.history()).filter((h) => h.direction === 'sent' && h.status === 'pending').length;
    lastSeen = JSON.stringify({ alice: a, bob: b, pendingSent: pending });
    if (a.peer_state !== 'GOOD' || b.peer_state !== 'GOOD' || a.state !== 'OPEN' || b.state !== 'OPEN') return false;
    if (a.local_balance !== b.remote_balance || a.remote_balance !== b.local_balance) return false;
    if (a.local_ctn !== b.remote_ctn || a.remote_ctn !== b.local_ctn) return false;
    if (a.local_balance + a.remote_balance !== a.capacity || b.local_balance + b.remote_balance !== b.capacity) return false;
    if (pending > 0) return false;
    return { a, b };
  }

  /** The daemon started with the hook of POINTS[index] that has not fired yet, if any. */
  let armed: { who: Who; index: number } | null = null;
  const daemonOf = (who: Who): Daemon => (who === 'alice' ? alice : bob);

  /** Waits until the channel settles, or until the armed daemon kills itself ('killed'). */
  async function settleOrKill(what: string): Promise<{ a: ChannelRow; b: ChannelRow } | 'killed'> {
    try {
      return await waitFor(
        async () => {
          if (armed && !daemonOf(armed.who).isAlive) return 'killed' as const;
          return settled();
        },
        { what: `channel settled (${what})`, timeoutMs: 120_000, intervalMs: 250 },
      );
    } catch (e) {
      throw new Error(`${(e as Error).message}; last seen ${lastSeen}`);
    }
  }

  async function waitSettled(what: string): Promise<{ a: ChannelRow; b: ChannelRow }> {
    const r = await settleOrKill(what);
    if (r === 'killed') throw new Error(`a daemon died while settling (${what})`);
    return r;
  }

  const specOf = (p: KillPoint) => `${p.point}:${p.occurrence}`;

  /**
   * Whether `d` is dying: an RPC to a daemon being SIGKILLed fails (ECONNRESET) a moment before
   * the process is gone, so wait briefly for the exit before treating the error as real.
   */
  async function died(pid: number): Promise<boolean> {
    for (let i = 0; i < 40 && processAlive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    return !processAlive(pid);
  }

  /** lnpay, retried while Alice has not yet reestablished the channel after a restart. */
  async function pay(invoice: string): Promise<void> {
    for (let i = 0; i < 120; i++) {
      const [alicePid, bobPid] = [alice.pid, bob.pid];
      try {
        await alice.call('lnpay', { invoice, timeout: 30 }, 40_000);
        return;
      } catch (e) {
        if ((await died(alicePid)) || !processAlive(bobPid)) return;
        if (!/No open channel/.test((e as Error).message)) return; // outcome checked from the histories
        await new Promise((r) => setTimeout(r, 250));
      }
    }
  }

  /** Payments ok, fail, ok, ok (Bob's invoices), stopping as soon as the victim is dead. */
  async function stream(victim: Daemon, round: number): Promise<void> {
    const plan = [false, true, false, false];
    for (const [i, mustFail] of plan.entries()) {
      if (!victim.isAlive) return;
      const amountSat = 1000 + round * 10 + i;
      let request: { lightning_invoice: string; rhash: string };
      const bobPid = bob.pid;
      try {
        request = await bob.call('add_request', { amount: btc(amountSat), memo: `crash ${round}.${i}`, force: true });
      } catch (e) {
        if (await died(bobPid)) return;
        throw e;
      }
      if (mustFail) bob.forgetInvoice(request.rhash);
      attempts.push({ paymentHash: request.rhash, amountSat, mustFail });
      await pay(request.lightning_invoice);
    }
  }

  /** Every payment so far completed exactly once or failed with nothing moved; balances add up. */
  async function checkPayments(a: ChannelRow, b: ChannelRow, label: string): Promise<void> {
    const sent = new Map((await alice.history()).filter((h) => h.direction === 'sent').map((h) => [h.payment_hash, h]));
    const receivedRows = (await bob.history()).filter((h) => h.direction === 'received');
    let paidSat = 0;
    for (const t of attempts) {
      const s = sent.get(t.paymentHash);
      const received = receivedRows.filter((h) => h.payment_hash === t.paymentHash);
      const why = `${label}: payment ${t.paymentHash.slice(0, 8)} (${t.amountSat} sat${t.mustFail ? ', must fail' : ''})`;
      expect(s?.status, why).not.toBe('pending');
      if (s?.status === 'complete') {
        expect(t.mustFail, why).toBe(false);
        expect(bytesToHex(sha256(hexToBytes(s.preimage ?? ''))), why).toBe(t.paymentHash);
        expect(received.map((r) => r.status), why).toEqual(['complete']);
        expect(received[0]!.amount_msat, why).toBe(String(t.amountSat * 1000));
        paidSat += t.amountSat;
      } else {
        expect(received.filter((r) => r.status === 'complete'), why).toEqual([]);
      }
    }
    expect(b.local_balance, label).toBe(paidSat);
    expect(a.local_balance, label).toBe(CAPACITY_SAT - paidSat);
  }

  beforeAll(async () => {
    regtest = await startRegtest();
    await regtest.mine(101);
    [alice, bob] = await Promise.all([create('alice'), create('bob')]);
    await regtest.sendToAddress(await ok(alice.dir, ['getunusedaddress']), '1');
    await regtest.mine(1);
    await waitFor(async () => (await alice.call<{ confirmed: string }>('getbalance')).confirmed === '1', { what: 'alice funded', timeoutMs: 30_000 });
    const bobId = await bob.call<string>('nodeid');
    await alice.call('open_channel', { connection_string: bobId, amount: btc(CAPACITY_SAT) });
    await regtest.mine(3);
    await waitSettled('after opening');
  });

  afterAll(async () => {
    for (const d of [alice, bob]) if (d?.isAlive) await d.stop().catch(() => undefined);
    await regtest?.stop();
    if (!process.env.FULMEN_KEEP_DAEMONS) for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });

  it.each(POINTS.map((p, i) => [`${p.victim} ${specOf(p)}`, p, i] as const))('kill %s', async (name, p, i) => {
    const started = Date.now();
    const victim = daemonOf(p.victim);
    if (armed?.index !== i) {
      const before = await waitSettled(`before arming ${name}`);
      await checkPayments(before.a, before.b, `before ${name}`);
      await victim.stop();
      await victim.start(specOf(p));
      armed = { who: p.victim, index: i };
    }
    // The hook counts from the daemon's start: it may fire while the previous kill is recovered.
    const ready = await settleOrKill(`${name} armed`);
    // The stream's failure is kept and rethrown after the restart (never left unhandled meanwhile).
    let streamError: unknown = null;
    let streaming: Promise<void> = Promise.resolve();
    let phase = 'recovery of the previous kill';
    if (ready !== 'killed') {
      await checkPayments(ready.a, ready.b, `before ${name}`);
      streaming = stream(victim, i).catch((e: unknown) => {
        streamError = e;
      });
      await waitFor(() => !victim.isAlive, { what: `${p.victim} killed at ${specOf(p)}`, timeoutMs: 120_000, intervalMs: 50 });
      phase = 'payment stream';
    }
    const killedAt = Date.now();
    // Restart at once, armed with the next point when it has the same victim (one start per point).
    const next = POINTS[i + 1];
    armed = next?.victim === p.victim ? { who: p.victim, index: i + 1 } : null;
    await victim.start(armed ? specOf(next!) : undefined);
    await streaming;
    if (streamError) throw streamError;
    const after = await settleOrKill(`after ${name}`);
    if (after !== 'killed') await checkPayments(after.a, after.b, name);
    console.log(`[crash] ${name}: killed during the ${phase}; round ${Date.now() - started} ms, recovery ${Date.now() - killedAt} ms` + (after === 'killed' ? ' (next point fired during recovery)' : ''));
  });

  it('after all kills, a new payment still completes', async () => {
    const request = await bob.call<{ lightning_invoice: string; rhash: string }>('add_request', { amount: btc(2000), memo: 'after the crashes', force: true });
    attempts.push({ paymentHash: request.rhash, amountSat: 2000, mustFail: false });
    const paid = await alice.call<{ success: boolean }>('lnpay', { invoice: request.lightning_invoice, timeout: 60 });
    expect(paid.success).toBe(true);
    const { a, b } = await waitSettled('final payment');
    await checkPayments(a, b, 'final');
  });
});
