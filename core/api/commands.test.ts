import { describe, expect, it } from 'vitest';
import { commandTable, parseConnectionString, requestResult } from './commands.js';
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
