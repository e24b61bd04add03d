import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FulmenApp } from '../app.js';
import { FulmenError } from '../util/errors.js';
import { balanceResult, commandTable, parseConnectionString, parseOutputsList, requestResult } from './commands.js';
import type { CommandContext } from './context.js';
import { btcAmount, btcAmountOrMax, commandNames, declarations } from './schemas.js';

const NODE = '02' + 'ab'.repeat(32);

describe('command table', () => {
  it('has a handler for every declared command and positionals that name params', () => {
    expect([...commandTable.keys()].sort()).toEqual([...commandNames].sort());
    for (const spec of commandTable.values()) {
      expect(typeof spec.run).toBe('function');
      for (const p of spec.positional) expect(Object.keys(spec.params.shape)).toContain(p);
    }
  });

  it('covers the commands of docs/COMMANDS.md', () => {
    const documented = [
      'create', 'restore', 'setconfig', 'getconfig', 'daemon', 'stop', 'load_wallet', 'getinfo', 'getbalance',
      'getunusedaddress', 'payto', 'broadcast', 'onchain_history', 'nodeid', 'open_channel', 'list_channels',
      'add_request', 'list_requests', 'lnpay', 'close_channel', 'get_channel_ctx', 'lightning_history', 'history',
      'decode_invoice', 'validateaddress',
    ];
    for (const name of documented) expect(declarations).toHaveProperty(name);
  });
});

describe('amount schemas', () => {
  it('turns BTC strings and JSON numbers into exact satoshis', () => {
    expect(btcAmount.parse('0.001')).toBe(100_000);
    expect(btcAmount.parse(0.1)).toBe(10_000_000);
    expect(btcAmount.parse('21000000')).toBe(2_100_000_000_000_000);
    expect(btcAmountOrMax.parse('!')).toBe('max');
  });

  it('rejects negative, over-precise and non-numeric amounts', () => {
    for (const bad of ['-1', '0.000000001', 'abc', '1e3', '21000000.00000001']) expect(btcAmount.safeParse(bad).success).toBe(false);
    expect(btcAmount.safeParse('!').success).toBe(false);
  });
});

describe('parseConnectionString', () => {
  it('accepts a node id with or without host:port', () => {
    expect(parseConnectionString(`${NODE}@127.0.0.1:9735`)).toEqual({ nodeId: NODE, host: '127.0.0.1', port: 9735 });
    expect(parseConnectionString(`${NODE.toUpperCase()}@[::1]:9735`)).toEqual({ nodeId: NODE, host: '::1', port: 9735 });
    expect(parseConnectionString(NODE)).toEqual({ nodeId: NODE, host: null, port: null });
  });

  it('rejects malformed strings', () => {
    for (const bad of ['', 'abc@host:1', `${NODE}@host`, `${NODE}@host:70000`, '04' + 'ab'.repeat(32)]) {
      expect(() => parseConnectionString(bad)).toThrow();
    }
  });
});

describe('result shapes', () => {
  it('formats a request like Electrum with a BIP21 URI carrying the invoice', () => {
    const r = requestResult({
      rhash: 'ff'.repeat(32),
      amountSat: 150_000,
      memo: 'coffee & cake',
      address: 'bcrt1qexample',
      lightningInvoice: 'lnbcrt1500u1example',
      createdAt: 1_700_000_000,
      expirySec: 3600,
      status: 'unpaid',
    });
    expect(r).toEqual({
      rhash: 'ff'.repeat(32),
      amount_BTC: '0.0015',
      amount_sat: 150_000,
      message: 'coffee & cake',
      timestamp: 1_700_000_000,
      expiry: 3600,
      status: 0,
      status_str: 'Unpaid',
      address: 'bcrt1qexample',
      URI: 'bitcoin:bcrt1qexample?amount=0.0015&message=coffee%20%26%20cake&lightning=lnbcrt1500u1example',
      lightning_invoice: 'lnbcrt1500u1example',
      is_lightning: true,
    });
  });
});

describe('on-chain wallet commands (offline app, Electrum names)', () => {
  const ELECTRUM_SEGWIT = 'bitter grass shiver impose acquire brush forget axis eager alone wine silver';
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-cmds-'));
  });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('restore detects an Electrum segwit seed; getmpk, setlabel, labels, signmessage/verifymessage', async () => {
    const app = new FulmenApp({ network: 'mainnet', baseDir: dir, offline: true });
    expect(await app.call('restore', [ELECTRUM_SEGWIT])).toMatchObject({ seed_type: 'electrum' });
    expect(await app.call('getmpk')).toBe('zpub6nsHdRuY92FsMKdbn9BfjBCG6X8pyhCibNP6uDvpnw2cyrVhecvHRMa3Ne8kdJZxjxgwnpbHLkcR4bfnhHy6auHPJyDTQ3kianeuVLdkCYQ');
    const address = 'bc1q3g5tmkmlvxryhh843v4dz026avatc0zzr6h3af';
    expect(await app.call('setlabel', [address, 'donations'])).toBe(true);
    expect(await app.call('export_labels')).toBe(`{"type":"addr","ref":"${address}","label":"donations"}\n`);
    expect(await app.call('import_labels', [`{"type":"addr","ref":"${address}","label":"tips"}`])).toBe(1);
    expect(await app.call('listunspent')).toEqual([]);
    const signature = (await app.call('signmessage', [address, 'hello'])) as string;
    expect(await app.call('verifymessage', [address, signature, 'hello'])).toBe(true);
    expect(await app.call('verifymessage', [address, signature, 'hello?'])).toBe(false);
    await expect(app.call('freeze_utxo', ['ab'.repeat(32) + ':0'])).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(app.call('freeze_utxo', ['nonsense'])).rejects.toMatchObject({ code: 'BAD_INPUT' });
    expect(await app.call('export_history')).toBe('transaction_hash,label,confirmations,value,fee,balance,timestamp\n');
    await app.close();
  });

  it('restore of a vpub gives a watch-only wallet', async () => {
    const app = new FulmenApp({ network: 'regtest', baseDir: dir, offline: true });
    // BIP84 test vector account on test networks, as vpub (m/84'/1'/0' of "abandon ... about").
    const mnemonicApp = new FulmenApp({ network: 'regtest', baseDir: path.join(dir, 'other'), offline: true });
    await mnemonicApp.call('restore', ['abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about']);
    const vpub = (await mnemonicApp.call('getmpk')) as string;
    expect(vpub).toMatch(/^vpub/);
    expect(await app.call('restore', [vpub])).toMatchObject({ seed_type: 'xpub' });
    expect(await app.call('getunusedaddress')).toBe(await mnemonicApp.call('getunusedaddress'));
    await expect(app.call('signmessage', [await app.call('getunusedaddress'), 'x'])).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await app.close();
    await mnemonicApp.close();
  });

  it('deserialize and serialize raw transactions; PSBT parameters are validated', async () => {
    const app = new FulmenApp({ network: 'mainnet', baseDir: dir, offline: true });
    // BIP143 native P2WPKH example (unsigned), as in core/bitcoin/testdata.
    const vector = JSON.parse(fs.readFileSync(new URL('../bitcoin/testdata/bip143-native-p2wpkh.json', import.meta.url), 'utf8')) as { unsignedTx: string };
    const d = (await app.call('deserialize', [vector.unsignedTx])) as { is_psbt: boolean; complete: boolean; inputs: unknown[]; outputs: { value_sat: number }[]; fee_sat: number | null };
    expect(d).toMatchObject({ is_psbt: false, complete: false, fee_sat: null });
    expect(d.inputs).toHaveLength(2);
    expect(d.outputs.map((o) => o.value_sat)).toEqual([112_340_000, 223_450_000]);
    expect(await app.call('serialize', [vector.unsignedTx])).toBe(vector.unsignedTx);
    await expect(app.call('deserialize', ['cHNidP8BAAA='])).rejects.toMatchObject({ code: 'BAD_INPUT' });
    await expect(app.call('paytomany', { outputs: '[]' })).rejects.toThrow(/offline/);
    await app.close();
  });
});

describe('paytomany outputs and from_coins', () => {
  it('parses [[address, amount], ...] with one "!"', () => {
    expect(parseOutputsList('[["bc1qa", "0.001"], ["bc1qb", "!"]]')).toEqual([
      { address: 'bc1qa', amountSat: 100_000 },
      { address: 'bc1qb', amountSat: 'max' },
    ]);
    expect(parseOutputsList([['bc1qa', 0.5]])).toEqual([{ address: 'bc1qa', amountSat: 50_000_000 }]);
    for (const bad of ['', '[]', '{}', '[["a"]]', '[["a", "-1"]]', '[[1, "0.1"]]']) expect(() => parseOutputsList(bad)).toThrow(FulmenError);
  });

  it('from_coins accepts Electrum\'s comma list and rejects malformed coins', () => {
    const txid = 'ab'.repeat(32);
    expect(declarations.payto.params.parse({ destination: 'x', amount: '1', from_coins: `${txid}:0, ${txid}:1` }).from_coins).toEqual([`${txid}:0`, `${txid}:1`]);
    expect(declarations.payto.params.safeParse({ destination: 'x', amount: '1', from_coins: 'nope' }).success).toBe(false);
  });
});

describe('getbalance', () => {
  const ctxWith = (reservedSat: number) =>
    ({
      wallet: () => ({ getBalance: () => ({ confirmedSat: 150_000, unconfirmedSat: 0, unmaturedSat: 0 }), reserve: () => ({ reservedSat, anchorChannels: reservedSat / 10_000 }) }),
      lightningIfRunning: () => null,
    }) as unknown as CommandContext;

  it('shows the anchor channel reserve as `reserved` (BTC) only when there is one', () => {
    expect(balanceResult(ctxWith(0))).toEqual({ confirmed: '0.0015' });
    expect(balanceResult(ctxWith(20_000))).toEqual({ confirmed: '0.0015', reserved: '0.0002' });
  });
});
