import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegtest, waitFor, type Regtest } from '../../e2e/harness/regtest.js';

// The real `bin/fulmen` binary against the real regtest network (Knots + ElectrumX): offline
// create, a detached daemon, funding, payto + broadcast, stop.
const BIN = fileURLToPath(new URL('../../bin/fulmen', import.meta.url));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function fulmen(dir: string, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(BIN, ['--regtest', '-D', dir, ...args], { timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout: stdout.trim(), stderr: stderr.trim() });
    });
  });
}

/** Runs a command that must succeed; returns stdout. */
async function ok(dir: string, ...args: string[]): Promise<string> {
  const r = await fulmen(dir, ...args);
  if (r.code !== 0) throw new Error(`fulmen ${args.join(' ')} failed (${r.code}): ${r.stderr}`);
  return r.stdout;
}

describe('fulmen CLI + daemon on regtest', () => {
  let regtest: Regtest;
  let dir: string;

  beforeAll(async () => {
    regtest = await startRegtest();
    await regtest.mine(101);
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-cli-itest-'));
  });

  afterAll(async () => {
    if (dir) {
      await fulmen(dir, 'stop');
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await regtest?.stop();
  });

  it('creates a wallet offline and configures the server', async () => {
    const created = JSON.parse(await ok(dir, '--offline', 'create'));
    expect(created.seed.split(' ')).toHaveLength(12);
    expect(fs.existsSync(created.path)).toBe(true);
    expect(await ok(dir, 'setconfig', 'server', regtest.electrumServer)).toBe('true');
    expect(await ok(dir, 'getconfig', 'server')).toBe(regtest.electrumServer);
  });

  it('starts a detached daemon that answers, and refuses a second one', async () => {
    const started = await fulmen(dir, 'daemon', '-d');
    expect(started.code).toBe(0);
    expect(started.stderr).toMatch(/starting daemon \(PID \d+\)/);
    expect(started.stderr).toMatch(/GUI: http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64}/);
    const again = await fulmen(dir, 'daemon', '-d');
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already running/);
    const config = JSON.parse(fs.readFileSync(path.join(dir, 'regtest', 'config'), 'utf8'));
    expect(config).toMatchObject({ rpcuser: 'user', rpcport: expect.any(Number), rpcpassword: expect.any(String) });
  });

  it('loads the wallet, receives and spends on chain', async () => {
    expect(await ok(dir, 'load_wallet')).toBe('true');
    const address = await ok(dir, 'getunusedaddress');
    expect(address).toMatch(/^bcrt1q/);
    expect(await ok(dir, 'validateaddress', address)).toBe('true');

    await regtest.sendToAddress(address, '0.5');
    await waitFor(async () => JSON.parse(await ok(dir, 'getbalance')).unconfirmed === '0.5', { what: 'unconfirmed 0.5', timeoutMs: 30_000 });
    await regtest.mine(1);
    await waitFor(async () => JSON.stringify(JSON.parse(await ok(dir, 'getbalance'))) === '{"confirmed":"0.5"}', {
      what: 'confirmed 0.5',
      timeoutMs: 30_000,
    });
    const info = JSON.parse(await ok(dir, 'getinfo'));
    expect(info).toMatchObject({ network: 'regtest', connected: true, wallet_loaded: true, server: regtest.electrumServer });
    expect(info.blockchain_height).toBe(await regtest.rpc('getblockcount'));

    const bad = await fulmen(dir, 'payto', address, 'lots');
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/invalid parameter "amount"/);
    const tooMuch = await fulmen(dir, 'payto', regtest.minerAddress, '1', '--feerate', '2');
    expect(tooMuch.code).toBe(1);

    const txHex = await ok(dir, 'payto', regtest.minerAddress, '0.1', '--feerate', '2');
    expect(txHex).toMatch(/^[0-9a-f]+$/);
    const decoded = await regtest.rpc<{ txid: string; vout: { value: number; scriptPubKey: { address?: string } }[] }>('decoderawtransaction', [txHex]);
    expect(decoded.vout.some((o) => o.scriptPubKey.address === regtest.minerAddress && o.value === 0.1)).toBe(true);
    expect(await ok(dir, 'broadcast', txHex)).toBe(decoded.txid);
    expect(await regtest.rpc<string[]>('getrawmempool')).toContain(decoded.txid);
    await regtest.mine(1);
    const history = await waitFor(
      async () => {
        const h = JSON.parse(await ok(dir, 'onchain_history'));
        return h.transactions.length === 2 && h.transactions.every((t: { confirmations: number }) => t.confirmations > 0) ? h : undefined;
      },
      { what: 'two confirmed transactions', timeoutMs: 30_000 },
    );
    expect(history.transactions[0]).toMatchObject({ txid: decoded.txid, incoming: false });
    expect(history.transactions[0].bc_value).toBe(`-${(0.1 + history.transactions[0].fee_sat / 1e8).toFixed(8).replace(/0+$/, '')}`);
    expect(history.transactions[1]).toMatchObject({ bc_value: '0.5', bc_balance: '0.5', incoming: true });
    const balance = JSON.parse(await ok(dir, 'getbalance'));
    expect(balance.confirmed).toBe(history.summary.end_balance);
  });

  it('stops the daemon', async () => {
    expect(await ok(dir, 'stop')).toBe('Daemon stopped');
    const after = await waitFor(async () => {
      const r = await fulmen(dir, 'load_wallet'); // needs the daemon (getinfo would run offline)
      return r.code !== 0 ? r : undefined;
    }, { what: 'daemon gone', timeoutMs: 15_000 });
    expect(after.stderr).toMatch(/Daemon not running/);
  });
});
