import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseServerString } from '../chain/interface.js';
import { ConfigStore, dataPaths, normalizeConfigValue } from './config.js';

describe('data directory layout (Electrum)', () => {
  it('keeps mainnet at the root and other networks in subdirectories', () => {
    expect(dataPaths('/d', 'mainnet')).toMatchObject({ config: '/d/config', defaultWallet: '/d/wallets/default_wallet.sqlite' });
    expect(dataPaths('/d', 'regtest')).toMatchObject({ dir: '/d/regtest', config: '/d/regtest/config', defaultWallet: '/d/regtest/wallets/default_wallet.sqlite' });
  });
});

describe('normalizeConfigValue', () => {
  it('parses JSON when it parses, like Electrum, and keeps other text', () => {
    expect(normalizeConfigValue('rpcport', '7777')).toBe(7777);
    expect(normalizeConfigValue('oneserver', 'true')).toBe(true);
    expect(normalizeConfigValue('custom', '{"a":[1,2]}')).toEqual({ a: [1, 2] });
    expect(normalizeConfigValue('custom', 'plain words')).toBe('plain words');
    expect(normalizeConfigValue('custom', 'null')).toBeNull();
  });

  it('keeps credentials and addresses as strings', () => {
    expect(normalizeConfigValue('rpcpassword', '123')).toBe('123');
    expect(normalizeConfigValue('rpcuser', 42)).toBe('42');
    expect(normalizeConfigValue('server', '127.0.0.1:51001:t')).toBe('127.0.0.1:51001:t');
  });

  it('rejects malformed known keys', () => {
    expect(() => normalizeConfigValue('server', '127.0.0.1:51001')).toThrow(/Invalid server/);
    expect(() => normalizeConfigValue('server', 'host:99999:t')).toThrow(/Invalid server/);
    expect(() => normalizeConfigValue('lightning_listen', 'nohost')).toThrow(/lightning_listen/);
    expect(() => normalizeConfigValue('rpcport', '0')).toThrow(/rpcport/);
    expect(() => normalizeConfigValue('oneserver', 'yes')).toThrow(/oneserver/);
  });

  it('splits server strings, IPv6 included', () => {
    expect(parseServerString('[::1]:50002:s')).toEqual({ host: '::1', port: 50002, protocol: 's' });
  });
});

describe('ConfigStore', () => {
  it('persists atomically with mode 0600, deletes on null, and refuses a corrupt file', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-config-'));
    try {
      const file = path.join(dir, 'regtest', 'config');
      const a = new ConfigStore(file);
      expect(a.get('server')).toBeNull();
      a.set('server', '127.0.0.1:51001:t');
      a.set('rpcport', '8000');
      expect(new ConfigStore(file).all()).toEqual({ server: '127.0.0.1:51001:t', rpcport: 8000 });
      expect(fs.statSync(file).mode & 0o777).toBe(0o600);
      a.set('rpcport', null);
      expect(new ConfigStore(file).get('rpcport')).toBeNull();
      expect(() => a.set('server', 'bad')).toThrow();
      expect(new ConfigStore(file).get('server')).toBe('127.0.0.1:51001:t');
      fs.writeFileSync(file, '[1,2]');
      expect(() => new ConfigStore(file)).toThrow(/JSON object/);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
