import { describe, expect, it } from 'vitest';
import { openDatabase } from '../storage/db.js';
import { FulmenError } from '../util/errors.js';
import { RequestStore } from './requests.js';

describe('RequestStore', () => {
  const base = { memo: 'coffee', address: 'bcrt1qaddr', lightningInvoice: null, createdAt: 1_000, expirySec: 3600 };

  it('adds, gets, lists newest first and finds by address', () => {
    const store = new RequestStore(openDatabase(':memory:'), () => 2_000);
    store.add({ ...base, rhash: 'a', amountSat: 1_000 });
    store.add({ ...base, rhash: 'b', amountSat: null, createdAt: 1_500, address: null, lightningInvoice: 'lnbcrt1...' });
    expect(store.get('a')).toEqual({ ...base, rhash: 'a', amountSat: 1_000, status: 'unpaid' });
    expect(store.get('nope')).toBeNull();
    expect(store.list().map((r) => r.rhash)).toEqual(['b', 'a']);
    expect(store.findByAddress('bcrt1qaddr').map((r) => r.rhash)).toEqual(['a']);
  });

  it('reports unpaid requests past their expiry as expired; expiry 0 never expires', () => {
    let now = 2_000;
    const store = new RequestStore(openDatabase(':memory:'), () => now);
    store.add({ ...base, rhash: 'a', amountSat: 1_000 });
    store.add({ ...base, rhash: 'forever', amountSat: 1_000, expirySec: 0 });
    now = 1_000 + 3600;
    expect(store.get('a')!.status).toBe('expired');
    expect(store.get('forever')!.status).toBe('unpaid');
    store.setStatus('a', 'paid');
    expect(store.get('a')!.status).toBe('paid');
  });

  it('status changes and errors', () => {
    const store = new RequestStore(openDatabase(':memory:'));
    store.add({ ...base, rhash: 'a', amountSat: 1_000, createdAt: Math.floor(Date.now() / 1000) });
    store.setStatus('a', 'inflight');
    expect(store.get('a')!.status).toBe('inflight');
    expect(() => store.setStatus('missing', 'paid')).toThrow(FulmenError);
    expect(() => store.setStatus('a', 'bogus' as never)).toThrow(FulmenError);
    expect(() => store.add({ ...base, rhash: 'a', amountSat: 1 })).toThrow(/already exists/);
    expect(() => store.add({ ...base, rhash: 'c', amountSat: 1.5 })).toThrow(FulmenError);
    expect(() => store.add({ ...base, rhash: 'd', amountSat: 1, address: null })).toThrow(FulmenError);
    expect(store.remove('a')).toBe(true);
    expect(store.remove('a')).toBe(false);
  });
});
