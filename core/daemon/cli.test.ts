import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { btcAmount } from '../api/schemas.js';
import { formatResult, helpText, paramKind, parseCommandLine, runCli } from './cli.js';

describe('parseCommandLine', () => {
  it('reads globals before and after the command', () => {
    const a = parseCommandLine(['--regtest', '-D', '/tmp/x', 'getbalance']);
    expect(a.globals).toMatchObject({ network: 'regtest', baseDir: '/tmp/x', offline: false });
    expect(a.command).toBe('getbalance');
    const b = parseCommandLine(['getbalance', '--testnet', '--offline', '-W', 'pw']);
    expect(b.globals).toMatchObject({ network: 'testnet', offline: true, password: 'pw' });
    expect(parseCommandLine(['version']).globals.network).toBe('mainnet');
  });

  it('maps positionals in the table order and flags by name, converting numbers and booleans', () => {
    const payto = parseCommandLine(['payto', 'bcrt1qexample', '0.001', '--feerate', '2.5', '--no-rbf']);
    expect(payto.params).toEqual({ destination: 'bcrt1qexample', amount: '0.001', feerate: 2.5, rbf: false });
    const req = parseCommandLine(['add_request', '0.0001', '-m', 'coffee', '--expiry', '600', '--force']);
    expect(req.params).toEqual({ amount: '0.0001', memo: 'coffee', expiry: 600, force: true });
    const daemon = parseCommandLine(['--regtest', 'daemon', '-d']);
    expect(daemon.params).toEqual({ detach: true });
    const create = parseCommandLine(['create', '--password', 'secret', '--passphrase', 'ext']);
    expect(create.params).toEqual({ password: 'secret', passphrase: 'ext' });
  });

  it('keeps setconfig values as text (normalised by the config) and amounts exact', () => {
    expect(parseCommandLine(['setconfig', 'rpcport', '7777']).params).toEqual({ key: 'rpcport', value: '7777' });
    expect(parseCommandLine(['open_channel', '02' + 'ab'.repeat(32) + '@127.0.0.1:9735', '0.1']).params.amount).toBe('0.1');
  });

  it('rejects unknown commands, unknown options, extra arguments and two networks', () => {
    expect(() => parseCommandLine(['frobnicate'])).toThrow(/Unknown command: frobnicate/);
    expect(() => parseCommandLine(['getbalance', '--bogus'])).toThrow(/bogus/);
    expect(() => parseCommandLine(['getconfig', 'a', 'b'])).toThrow(/getconfig takes key; got 2/);
    expect(() => parseCommandLine(['--regtest', '--testnet', 'version'])).toThrow(/one network/);
  });

  it('parses help', () => {
    expect(parseCommandLine([]).command).toBeNull();
    expect(parseCommandLine(['help', 'payto'])).toMatchObject({ command: 'help', params: { command: 'payto' } });
  });
});

describe('paramKind', () => {
  it('sees through optional, default and transforms', () => {
    expect(paramKind(z.boolean().default(false))).toBe('boolean');
    expect(paramKind(z.number().int().positive().default(3600))).toBe('number');
    expect(paramKind(z.number().optional())).toBe('number');
    expect(paramKind(btcAmount.optional())).toBe('string');
    expect(paramKind(z.unknown())).toBe('string');
  });
});

describe('output', () => {
  it('prints strings raw, null as nothing, and other values as sorted 4-space JSON (Electrum)', () => {
    expect(formatResult('bcrt1qabc')).toBe('bcrt1qabc');
    expect(formatResult(null)).toBeNull();
    expect(formatResult(true)).toBe('true');
    expect(formatResult({ unconfirmed: '0.5', confirmed: '1' })).toBe('{\n    "confirmed": "1",\n    "unconfirmed": "0.5"\n}');
  });

  it('lists every command in help and describes one', () => {
    const all = helpText();
    for (const name of ['create', 'restore', 'payto', 'open_channel', 'lnpay', 'close_channel', 'add_request']) expect(all).toContain(name);
    const one = helpText('add_request');
    expect(one).toContain('fulmen add_request <amount>');
    expect(one).toContain('-m, --memo');
  });
});

describe('runCli (offline, real files)', () => {
  it('creates a wallet offline, refuses a second one, and reads config', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-cli-'));
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) };
    try {
      expect(await runCli(['--regtest', '-D', dir, '--offline', 'create'], io)).toBe(0);
      const created = JSON.parse(out.pop()!);
      expect(created.seed.split(' ')).toHaveLength(12);
      expect(created.path).toBe(path.join(dir, 'regtest', 'wallets', 'default_wallet.sqlite'));
      expect(await runCli(['--regtest', '-D', dir, '--offline', 'create'], io)).toBe(1);
      expect(err.pop()).toMatch(/Remove the existing wallet first/);
      expect(await runCli(['--regtest', '-D', dir, '--offline', 'getunusedaddress'], io)).toBe(0);
      expect(out.pop()).toMatch(/^bcrt1q/);
      expect(await runCli(['--regtest', '-D', dir, '--offline', 'getbalance'], io)).toBe(0);
      expect(JSON.parse(out.pop()!)).toEqual({ confirmed: '0' });
      expect(await runCli(['--regtest', '-D', dir, 'setconfig', 'lightning_listen', '127.0.0.1:9735'], io)).toBe(0);
      expect(await runCli(['--regtest', '-D', dir, 'getconfig', 'lightning_listen'], io)).toBe(0);
      expect(out.pop()).toBe('127.0.0.1:9735');
      expect(await runCli(['--regtest', '-D', dir, '--offline', 'payto', 'bcrt1qx', '1'], io)).toBe(1);
      expect(err.pop()).toMatch(/payto needs a running daemon/);
      expect(await runCli(['--regtest', '-D', dir, 'getbalance', '--bogus'], io)).toBe(1);
      expect(err.pop()).toMatch(/bogus/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('restores offline with a password and refuses a wrong one', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-cli-'));
    const out: string[] = [];
    const err: string[] = [];
    const io = { stdout: (t: string) => out.push(t), stderr: (t: string) => err.push(t) };
    const mnemonic = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
    try {
      expect(await runCli(['--regtest', '-D', dir, '--offline', 'restore', mnemonic, '--password', 'pw'], io)).toBe(0);
      expect(await runCli(['--regtest', '-D', dir, '--offline', '-W', 'nope', 'getunusedaddress'], io)).toBe(1);
      expect(err.pop()).toMatch(/password/i);
      expect(await runCli(['--regtest', '-D', dir, '--offline', '-W', 'pw', 'getunusedaddress'], io)).toBe(0);
      // BIP84 test vector account (m/84'/1'/0' on regtest), first receive address.
      expect(out.pop()).toBe('bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk');
      expect(await runCli(['--regtest', '-D', dir, '--offline', 'restore', 'not a mnemonic'], io)).toBe(1);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
