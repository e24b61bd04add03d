import { afterEach, describe, expect, it } from 'vitest';
import { Transaction } from 'bitcoinjs-lib';
import type { ChainSource } from '../../chain/types.js';
import { buildTransaction } from '../../bitcoin/transaction.js';
import { Watchtower } from './tower.js';
import { parseTowerUrl } from './protocol.js';

// The tower's HTTP/JSON-RPC layer and storage. The chain watch is covered on regtest
// (e2e/watchtower/watchtower.itest.ts); here the chain is offline, so nothing is watched.
const offlineChain: ChainSource = {
  tip: () => null,
  isConnected: () => false,
  on: () => () => undefined,
  subscribeScripthash: () => Promise.reject(new Error('offline')),
  getHistory: () => Promise.reject(new Error('offline')),
  getTransaction: () => Promise.reject(new Error('offline')),
  verifyTransaction: () => Promise.reject(new Error('offline')),
  broadcast: () => Promise.reject(new Error('offline')),
  estimateFeeSatPerVbyte: () => Promise.reject(new Error('offline')),
  relayFeeSatPerVbyte: () => Promise.reject(new Error('offline')),
  getHeader: () => Promise.reject(new Error('offline')),
};

const FUNDING = `${'ab'.repeat(32)}:1`;
const COMMITMENT_TXID = 'cd'.repeat(32);

function justiceLikeTx(vout: number): string {
  const tx = buildTransaction({ inputs: [{ txid: COMMITMENT_TXID, vout, sequence: 0xfffffffd }], outputs: [{ scriptPubKey: new Uint8Array(22).fill(1), valueSat: 1000 + vout }], lockTime: 0 });
  return tx.toHex();
}

describe('watchtower JSON-RPC over HTTP', () => {
  let tower: Watchtower | null = null;
  afterEach(async () => {
    await tower?.stop();
    tower = null;
  });

  async function started(): Promise<{ url: string; call: (body: unknown, auth?: string | null) => Promise<{ status: number; json: unknown }> }> {
    tower = new Watchtower({ chain: offlineChain, dbPath: ':memory:', port: 0, user: 'u', password: 'p w' });
    await tower.start();
    const url = `http://u:p%20w@127.0.0.1:${tower.port}`;
    const { endpoint, authorization } = parseTowerUrl(url);
    const call = async (body: unknown, auth: string | null = authorization) => {
      const res = await fetch(endpoint, { method: 'POST', headers: auth ? { authorization: auth } : {}, body: typeof body === 'string' ? body : JSON.stringify(body) });
      return { status: res.status, json: res.status === 200 ? await res.json() : null };
    };
    return { url, call };
  }

  it('parses watchtower_url into an endpoint without credentials and a Basic header', () => {
    expect(parseTowerUrl('http://user:pa%3Ass@127.0.0.1:9999')).toEqual({ endpoint: 'http://127.0.0.1:9999/', authorization: `Basic ${Buffer.from('user:pa:ss').toString('base64')}` });
    expect(() => parseTowerUrl('ftp://x@y:1')).toThrow(/http/);
  });

  it('refuses requests without the right credentials', async () => {
    const { call } = await started();
    expect((await call({ jsonrpc: '2.0', id: 1, method: 'get_ctn', params: { funding_outpoint: FUNDING } }, null)).status).toBe(401);
    expect((await call({ jsonrpc: '2.0', id: 1, method: 'get_ctn', params: { funding_outpoint: FUNDING } }, `Basic ${Buffer.from('u:wrong').toString('base64')}`)).status).toBe(401);
  });

  it('get_ctn is -1 for an unknown channel, then the highest ctn stored by add_sweep_tx (named or positional params)', async () => {
    const { call } = await started();
    expect((await call({ jsonrpc: '2.0', id: 1, method: 'get_ctn', params: { funding_outpoint: FUNDING } })).json).toEqual({ jsonrpc: '2.0', id: 1, result: -1 });
    const add = (ctn: number, vout: number) => call({ jsonrpc: '2.0', id: 2, method: 'add_sweep_tx', params: [FUNDING, ctn, justiceLikeTx(vout)] });
    expect((await add(4, 0)).json).toEqual({ jsonrpc: '2.0', id: 2, result: true });
    expect((await add(4, 0)).json).toEqual({ jsonrpc: '2.0', id: 2, result: true }); // idempotent
    expect((await add(5, 1)).json).toMatchObject({ result: true });
    expect((await call({ jsonrpc: '2.0', id: 3, method: 'get_ctn', params: [FUNDING] })).json).toEqual({ jsonrpc: '2.0', id: 3, result: 5 });
    const stored = tower!.store.sweepsSpending(COMMITMENT_TXID);
    expect(stored.map((s) => [s.ctn, s.status, s.txid])).toEqual([
      [4, 'stored', Transaction.fromHex(justiceLikeTx(0)).getId()],
      [5, 'stored', Transaction.fromHex(justiceLikeTx(1)).getId()],
    ]);
  });

  it('rejects malformed requests with JSON-RPC errors and stores nothing', async () => {
    const { call } = await started();
    const error = async (body: unknown) => ((await call(body)).json as { error: { code: number } }).error.code;
    expect(await error('{not json')).toBe(-32700);
    expect(await error({ jsonrpc: '2.0', id: 1 })).toBe(-32600);
    expect(await error({ jsonrpc: '2.0', id: 1, method: 'delete_everything', params: {} })).toBe(-32601);
    expect(await error({ jsonrpc: '2.0', id: 1, method: 'get_ctn', params: { funding_outpoint: 'nope' } })).toBe(-32602);
    expect(await error({ jsonrpc: '2.0', id: 1, method: 'add_sweep_tx', params: { funding_outpoint: FUNDING, ctn: -1, sweep_tx: justiceLikeTx(0) } })).toBe(-32602);
    expect(await error({ jsonrpc: '2.0', id: 1, method: 'add_sweep_tx', params: { funding_outpoint: FUNDING, ctn: 1, sweep_tx: 'abcd' } })).toBe(-32602);
    expect(await error({ jsonrpc: '2.0', id: 1, method: 'add_sweep_tx', params: { funding_outpoint: FUNDING, ctn: 1, sweep_tx: justiceLikeTx(0), extra: 1 } })).toBe(-32602);
    expect(tower!.store.getCtn(FUNDING)).toBe(-1);
  });
});
