import { describe, expect, it } from 'vitest';
import type { AddressItem, UnspentItem } from '../../core/api/client-types.js';
import { coinTotals, filterAddresses, sortCoins } from './wallet-views.js';

const address = (address: string, type: AddressItem['type'], used: boolean): AddressItem => ({
  address,
  type,
  index: 0,
  used,
  balance: '0',
  balance_sat: 0,
  coins: 0,
  label: '',
});

const coin = (hash: string, n: number, sat: number, height: number, frozen = false): UnspentItem => ({
  address: 'bcrt1q',
  value: '0',
  value_sat: sat,
  prevout_hash: hash.repeat(64),
  prevout_n: n,
  height,
  coinbase: false,
  immature: false,
  frozen,
  label: '',
});

describe('filterAddresses', () => {
  const list = [address('r0', 'receiving', true), address('r1', 'receiving', false), address('c0', 'change', true), address('c1', 'change', false)];
  it('keeps the host order and filters by type and use', () => {
    expect(filterAddresses(list, { type: 'all', hideUsed: false }).map((a) => a.address)).toEqual(['r0', 'r1', 'c0', 'c1']);
    expect(filterAddresses(list, { type: 'receiving', hideUsed: false }).map((a) => a.address)).toEqual(['r0', 'r1']);
    expect(filterAddresses(list, { type: 'change', hideUsed: true }).map((a) => a.address)).toEqual(['c1']);
  });
});

describe('coins', () => {
  const list = [coin('a', 0, 500, 0), coin('b', 1, 2000, 120, true), coin('c', 0, 2000, 101), coin('c', 1, 10, 101)];
  it('sorts by value (ties by outpoint) or by age (unconfirmed last)', () => {
    expect(sortCoins(list, 'value').map((c) => [c.prevout_hash[0], c.prevout_n])).toEqual([
      ['b', 1],
      ['c', 0],
      ['a', 0],
      ['c', 1],
    ]);
    expect(sortCoins(list, 'age').map((c) => [c.prevout_hash[0], c.prevout_n])).toEqual([
      ['c', 0],
      ['c', 1],
      ['b', 1],
      ['a', 0],
    ]);
  });
  it('totals spendable and frozen sats', () => {
    expect(coinTotals(list)).toEqual({ spendableSat: 2510, frozenSat: 2000, immatureSat: 0 });
  });
  it('counts an immature coinbase coin apart from the spendable ones', () => {
    const mined = { ...coin('d', 0, 5_000_000_000, 150), coinbase: true, immature: true };
    expect(coinTotals([...list, mined])).toEqual({ spendableSat: 2510, frozenSat: 2000, immatureSat: 5_000_000_000 });
  });
});
