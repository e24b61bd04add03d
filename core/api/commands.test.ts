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

describe('server bans (list_server_bans, unban_server)', () => {
  const server = 'electrum.example.org:50002:s';
  const run = (name: 'list_server_bans' | 'unban_server', ctx: CommandContext, params: Record<string, unknown>) => {
    const spec = commandTable.get(name)!;
    return spec.run(ctx, spec.params.parse(params) as never);
  };

  it('lists bans with unix-second times and lifts one by its server string', async () => {
    const lifted: string[] = [];
    const ctx = {
      serverBans: () => [{ server, reason: 'Header 7 fails proof of work', bannedAt: 1_700_000_000_000, expiresAt: 1_700_086_400_000 }],
      liftServerBan: (s: string) => void lifted.push(s),
    } as unknown as CommandContext;
    expect(await run('list_server_bans', ctx, {})).toEqual([
      { server, reason: 'Header 7 fails proof of work', banned_at: 1_700_000_000, expires_at: 1_700_086_400 },
    ]);
    expect(await run('unban_server', ctx, { server: ` ${server} ` })).toBe(true);
    expect(lifted).toEqual([server]);
  });

  it('unban_server takes host:port:t|s only (IPv6 in brackets)', () => {
    const params = declarations.unban_server.params;
    expect(params.safeParse({ server: '[::1]:50001:t' }).success).toBe(true);
    for (const bad of ['', 'example.org', 'example.org:50002', 'example.org:50002:x', 'a b:1:t']) expect(params.safeParse({ server: bad }).success).toBe(false);
  });

  describe('on the app', () => {
    let dir: string;
    beforeEach(() => {
      dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-bans-'));
    });
    afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

    it('needs the chain: refused offline', async () => {
      const app = new FulmenApp({ network: 'regtest', baseDir: dir, offline: true });
      await expect(app.call('list_server_bans')).rejects.toThrow(/offline/);
      expect(() => app.serverBans()).toThrow(FulmenError);
      await app.close();
    });

    it('lists no bans and answers NOT_FOUND for a server that is not banned', async () => {
      const app = new FulmenApp({ network: 'regtest', baseDir: dir });
      await app.call('setconfig', ['server', '127.0.0.1:1:t']);
      await app.start();
      expect(await app.call('list_server_bans')).toEqual([]);
      await expect(app.call('unban_server', ['127.0.0.1:1:t'])).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await app.close();
    });
  });
});

describe('listaddresses and gettransaction', () => {
  const txid = 'ab'.repeat(32);
  const addresses = [
    { address: 'bcrt1qr0', kind: 'receive', index: 0, used: true },
    { address: 'bcrt1qr1', kind: 'receive', index: 1, used: false },
    { address: 'bcrt1qc0', kind: 'change', index: 0, used: true },
    { address: 'bcrt1qc1', kind: 'change', index: 1, used: false },
  ];
  const coins = [
    { txid, vout: 0, valueSat: 150_000, address: 'bcrt1qr0', height: 101, frozen: false, coinbase: false, immature: false },
    { txid, vout: 1, valueSat: 2_500, address: 'bcrt1qr0', height: 101, frozen: true, coinbase: false, immature: false },
    { txid: 'cd'.repeat(32), vout: 0, valueSat: 70_000, address: 'bcrt1qc0', height: 0, frozen: false, coinbase: false, immature: false },
  ];
  const asked: string[] = [];
  const ctx = {
    wallet: () => ({
      listAddresses: () => addresses,
      listUnspent: () => coins,
      getLabel: (key: string) => (key === 'bcrt1qr0' ? 'donations' : ''),
      getRawTransaction: (id: string) => {
        asked.push(id);
        if (id !== txid) throw new FulmenError('NOT_FOUND', `Unknown transaction ${id}`);
        return '0200';
      },
    }),
  } as unknown as CommandContext;
  const run = (name: 'listaddresses' | 'gettransaction', params: Record<string, unknown>) => {
    const spec = commandTable.get(name)!;
    return spec.run(ctx, spec.params.parse(params) as never);
  };
  const names = (items: unknown) => (items as { address: string }[]).map((a) => a.address);

  it('lists every address with Electrum type names, balance (BTC and sat, frozen coins included), coin count and label', async () => {
    expect(await run('listaddresses', {})).toEqual([
      { address: 'bcrt1qr0', type: 'receiving', index: 0, used: true, balance: '0.001525', balance_sat: 152_500, coins: 2, label: 'donations' },
      { address: 'bcrt1qr1', type: 'receiving', index: 1, used: false, balance: '0', balance_sat: 0, coins: 0, label: '' },
      { address: 'bcrt1qc0', type: 'change', index: 0, used: true, balance: '0.0007', balance_sat: 70_000, coins: 1, label: '' },
      { address: 'bcrt1qc1', type: 'change', index: 1, used: false, balance: '0', balance_sat: 0, coins: 0, label: '' },
    ]);
  });

  it('filters as Electrum: --receiving, --change, --unused, --funded, combined', async () => {
    expect(names(await run('listaddresses', { receiving: true }))).toEqual(['bcrt1qr0', 'bcrt1qr1']);
    expect(names(await run('listaddresses', { change: true }))).toEqual(['bcrt1qc0', 'bcrt1qc1']);
    expect(names(await run('listaddresses', { unused: true }))).toEqual(['bcrt1qr1', 'bcrt1qc1']);
    expect(names(await run('listaddresses', { funded: true }))).toEqual(['bcrt1qr0', 'bcrt1qc0']);
    expect(names(await run('listaddresses', { change: true, funded: true }))).toEqual(['bcrt1qc0']);
    expect(names(await run('listaddresses', { receiving: true, unused: true }))).toEqual(['bcrt1qr1']);
  });

  it('gettransaction returns the stored raw hex, accepts an upper-case txid and rejects a malformed one', async () => {
    expect(await run('gettransaction', { txid: txid.toUpperCase() })).toBe('0200');
    expect(asked.at(-1)).toBe(txid);
    await expect(run('gettransaction', { txid: 'cd'.repeat(32) })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    expect(declarations.gettransaction.params.safeParse({ txid: 'nope' }).success).toBe(false);
  });

  it('on an offline wallet: fresh addresses are unused and empty; an unknown txid is NOT_FOUND', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-addrs-'));
    try {
      const app = new FulmenApp({ network: 'regtest', baseDir: dir, offline: true });
      await app.call('restore', ['abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about']);
      const all = (await app.call('listaddresses')) as { address: string; type: string; index: number; used: boolean; balance_sat: number; coins: number }[];
      const receiving = all.filter((a) => a.type === 'receiving');
      expect(receiving.length).toBeGreaterThan(0);
      expect(all.some((a) => a.type === 'change')).toBe(true);
      expect(receiving.map((a) => a.index)).toEqual(receiving.map((_, i) => i));
      // BIP84 test vector m/84'/1'/0'/0/0 of "abandon ... about" (tb1q6rz28mcfaxtmd6v789l9rrlrusdprr9pqcpvkl), with the regtest hrp.
      expect(receiving[0]!.address).toBe('bcrt1q6rz28mcfaxtmd6v789l9rrlrusdprr9pz3cppk');
      expect(await app.call('getunusedaddress')).toBe(receiving[0]!.address);
      expect(all.every((a) => !a.used && a.balance_sat === 0 && a.coins === 0)).toBe(true);
      expect(await app.call('listaddresses', { funded: true })).toEqual([]);
      expect(await app.call('listaddresses', { unused: true, receiving: true })).toEqual(receiving);
      await expect(app.call('gettransaction', ['ef'.repeat(32)])).rejects.toMatchObject({ code: 'NOT_FOUND' });
      await app.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
