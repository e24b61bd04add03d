import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startRegtest, waitFor, type Regtest } from '../../e2e/harness/regtest.js';

// Two Fulmen daemons driven only through the real `bin/fulmen` binary on regtest:
// open_channel, add_request, lnpay, list_channels, close_channel.
const BIN = fileURLToPath(new URL('../../bin/fulmen', import.meta.url));

function fulmen(dir: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(BIN, ['--regtest', '-D', dir, ...args], { timeout: 180_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
    });
  });
}

async function ok(dir: string, ...args: string[]): Promise<string> {
  const r = await fulmen(dir, ...args);
  if (r.code !== 0) throw new Error(`fulmen ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

async function json<T = any>(dir: string, ...args: string[]): Promise<T> {
  return JSON.parse(await ok(dir, ...args)) as T;
}

describe('Lightning round trip through the CLI (two daemons)', () => {
  let regtest: Regtest;
  const dirs: string[] = [];
  let alice: string;
  let bob: string;
  let channelPoint: string;

  async function startNode(name: string): Promise<string> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fulmen-ln-${name}-`));
    dirs.push(dir);
    await ok(dir, '--offline', 'setconfig', 'server', regtest.electrumServer);
    await ok(dir, '--offline', 'setconfig', 'lightning_listen', `127.0.0.1:${await freePort()}`);
    await ok(dir, '--offline', 'create');
    await ok(dir, 'daemon', '-d');
    expect(await ok(dir, 'load_wallet')).toBe('true');
    return dir;
  }

  beforeAll(async () => {
    regtest = await startRegtest();
    await regtest.mine(101);
    alice = await startNode('alice');
    bob = await startNode('bob');
  });

  afterAll(async () => {
    for (const dir of dirs) {
      await fulmen(dir, 'stop');
      if (!process.env.FULMEN_KEEP_DAEMONS) fs.rmSync(dir, { recursive: true, force: true });
    }
    await regtest?.stop();
  });

  it('funds alice on chain', async () => {
    await regtest.sendToAddress(await ok(alice, 'getunusedaddress'), '1');
    await regtest.mine(1);
    await waitFor(async () => (await json(alice, 'getbalance')).confirmed === '1', { what: 'alice funded', timeoutMs: 30_000 });
  });

  it('opens a channel from alice to bob', async () => {
    const bobId = await ok(bob, 'nodeid');
    expect(bobId).toMatch(/^0[23][0-9a-f]{64}@127\.0\.0\.1:\d+$/);
    channelPoint = await ok(alice, 'open_channel', bobId, '0.01');
    expect(channelPoint).toMatch(/^[0-9a-f]{64}:\d+$/);
    await regtest.mine(3);
    for (const dir of [alice, bob]) {
      await waitFor(
        async () => (await json<{ channel_point: string; state: string }[]>(dir, 'list_channels')).find((c) => c.channel_point === channelPoint && c.state === 'OPEN'),
        { what: 'channel OPEN', timeoutMs: 60_000 },
      );
    }
    const [a] = await json(alice, 'list_channels');
    expect(a).toMatchObject({ capacity: 1_000_000, initiator: 'local', peer_state: 'GOOD' });
    expect(a.local_balance + a.remote_balance).toBeLessThanOrEqual(1_000_000);
    expect(a.short_channel_id).toMatch(/^\d+x\d+x\d+$/);
    expect((await json(alice, 'getbalance')).lightning).toBeDefined();
  });

  it('pays a request of bob from alice', async () => {
    const request = await json(bob, 'add_request', '0.001', '-m', 'cli round trip');
    expect(request).toMatchObject({ amount_sat: 100_000, amount_BTC: '0.001', message: 'cli round trip', status: 0, is_lightning: true });
    expect(request.lightning_invoice).toMatch(/^lnbcrt1m1/);
    const decoded = await json(alice, 'decode_invoice', request.lightning_invoice);
    expect(decoded).toMatchObject({ amount_msat: '100000000', description: 'cli round trip', payment_hash: request.rhash, network: 'regtest' });

    const paid = await json(alice, 'lnpay', request.lightning_invoice);
    expect(paid).toMatchObject({ success: true, payment_hash: request.rhash });
    expect(paid.preimage).toMatch(/^[0-9a-f]{64}$/);

    const [a] = await json(alice, 'list_channels');
    const [b] = await json(bob, 'list_channels');
    expect(b.local_balance).toBe(100_000);
    expect(a.remote_balance).toBe(100_000);
    const history = await json(alice, 'lightning_history');
    expect(history[0]).toMatchObject({ payment_hash: request.rhash, direction: 'sent', status: 'complete', amount_msat: '-100000000' });
    const again = await fulmen(alice, 'lnpay', request.lightning_invoice);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already paid/);
  });

  it('closes the channel cooperatively', async () => {
    const closingTxid = await ok(alice, 'close_channel', channelPoint);
    expect(closingTxid).toMatch(/^[0-9a-f]{64}$/);
    await waitFor(async () => (await regtest.rpc<string[]>('getrawmempool')).includes(closingTxid), { what: 'closing tx in mempool', timeoutMs: 30_000 });
    await regtest.mine(1);
    for (const dir of [alice, bob]) {
      await waitFor(async () => (await json(dir, 'list_channels'))[0]?.state === 'CLOSED', { what: 'channel CLOSED', timeoutMs: 60_000 });
    }
    await waitFor(async () => (await json(bob, 'getbalance')).confirmed === '0.001', { what: 'bob has his 0.001 on chain', timeoutMs: 60_000 });
  });
});
