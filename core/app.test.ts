import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ServerBanItem } from './api/client-types.js';
import { FulmenApp } from './app.js';
import { CHAIN_PARAMS } from './chain/headers.js';
import { closeFakeServers, fakeServer, ok, withVersion } from './chain/test-support.js';
import { FulmenError } from './util/errors.js';

describe('FulmenApp', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-app-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  afterEach(closeFakeServers);

  it('lays out the data directory like Electrum and validates params against the table', async () => {
    const app = new FulmenApp({ network: 'regtest', baseDir: dir, offline: true });
    expect(app.walletPath).toBe(path.join(dir, 'regtest', 'wallets', 'default_wallet.sqlite'));
    expect(await app.call('setconfig', ['custom', '[1, 2]'])).toBe(true);
    expect(await app.call('getconfig', { key: 'custom' })).toEqual([1, 2]);
    await expect(app.call('getconfig', { key: 5 })).rejects.toThrow(/invalid parameter "key"/);
    await expect(app.call('nope')).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(app.call('open_channel', {})).rejects.toThrow(/cannot run with --offline/);
    await expect(app.call('getbalance')).rejects.toMatchObject({ code: 'NO_WALLET', message: expect.stringMatching(/create/) });
    await app.close();
  });

  it('creates a wallet once and opens it with its password only', async () => {
    const app = new FulmenApp({ network: 'regtest', baseDir: dir, offline: true });
    const created = (await app.call('create', { password: 'pw' })) as { seed: string };
    expect(created.seed.split(' ')).toHaveLength(12);
    await expect(app.call('restore', { text: created.seed })).rejects.toMatchObject({ code: 'WALLET_EXISTS' });
    await app.close();
    const again = new FulmenApp({ network: 'regtest', baseDir: dir, offline: true });
    expect(() => again.openWalletOffline('wrong')).toThrow(FulmenError);
    again.openWalletOffline('pw');
    expect(await again.call('getunusedaddress')).toMatch(/^bcrt1q/);
    await again.close();
  });

  it('leaves no file behind when restoring an invalid mnemonic', async () => {
    const app = new FulmenApp({ network: 'regtest', baseDir: dir, offline: true });
    await expect(app.call('restore', { text: 'not a valid mnemonic at all' })).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(fs.existsSync(app.walletPath)).toBe(false);
    await app.close();
  });

  it('lets one networked process at a time use a data directory', async () => {
    const first = new FulmenApp({ network: 'regtest', baseDir: dir });
    first.config.set('server', '127.0.0.1:9:t'); // discard port: nothing answers
    await first.start();
    const second = new FulmenApp({ network: 'regtest', baseDir: dir });
    await expect(second.start()).rejects.toThrow(/already running/);
    await first.close();
    await second.start();
    await second.close();
    expect(fs.existsSync(path.join(dir, 'regtest', 'lock'))).toBe(false);
  });

  it('pushes server_bans when a lying server is banned and when it is unbanned', async () => {
    // A fake Electrum server on loopback (chain/test-support.ts): honest, it serves the regtest
    // genesis as its tip; lying, its tip has the wrong shape (malformed result: SERVER_MISBEHAVED, so banned).
    let lying = true;
    const results = (method: string): unknown =>
      ({
        'blockchain.headers.subscribe': lying ? { height: 'tip' } : { height: 0, hex: CHAIN_PARAMS.regtest.checkpoint.rawHex },
        'blockchain.estimatefee': -1,
        'blockchain.relayfee': 0.00001,
      })[method] ?? null;
    const server = await fakeServer(withVersion((r) => ok(r.id, results(r.method))));
    const app = new FulmenApp({ network: 'regtest', baseDir: dir });
    app.config.set('server', server);
    const pushed: ServerBanItem[][] = [];
    app.on((message) => {
      if (message.event === 'server_bans') pushed.push(message.data);
    });
    try {
      await app.start();
      for (let i = 0; i < 200 && pushed.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      expect(pushed).toEqual([[{ server, reason: expect.stringMatching(/^Malformed result for blockchain\.headers\.subscribe/), banned_at: expect.any(Number), expires_at: expect.any(Number) }]]);
      expect(pushed[0]![0]!.expires_at - pushed[0]![0]!.banned_at).toBeGreaterThanOrEqual(24 * 60 * 60);
      expect(await app.call('list_server_bans')).toEqual(pushed[0]);

      lying = false;
      await app.call('unban_server', [server]);
      expect(pushed).toHaveLength(2);
      expect(pushed[1]).toEqual([]);
    } finally {
      await app.close();
    }
  });
});
