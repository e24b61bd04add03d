import { describe, expect, it } from 'vitest';
import type { UnspentItem } from '../../core/api/client-types.js';
import {
  coinConfirmations,
  coinKey,
  coinSelectable,
  etaBlocks,
  etaText,
  FEERATE_STEPS,
  FeerateError,
  feerateOf,
  parseFeerate,
  signalsRbf,
  spendableCoins,
  stepIndexFor,
  suggestedBumpFeerate,
  txActions,
} from './onchain.js';

const coin = (n: number, sat: number, frozen = false): UnspentItem => ({
  address: `bcrt1q${n}`,
  value: '0',
  value_sat: sat,
  prevout_hash: String(n).repeat(64).slice(0, 64),
  prevout_n: n,
  height: 100,
  coinbase: false,
  immature: false,
  frozen,
  label: '',
});

describe('parseFeerate', () => {
  it('accepts whole and one-decimal rates, with a decimal comma', () => {
    expect(parseFeerate(' 12 ')).toBe(12);
    expect(parseFeerate('1.5')).toBe(1.5);
    expect(parseFeerate('2,5')).toBe(2.5);
  });
  it('refuses garbage, too many decimals, below 1 and above the maximum', () => {
    for (const bad of ['', 'abc', '1.25', '-3', '0.5', '0', '1e3', '10001']) expect(() => parseFeerate(bad), bad).toThrow(FeerateError);
  });
});

describe('slider steps', () => {
  it('are increasing and map a rate to the closest step', () => {
    for (let i = 1; i < FEERATE_STEPS.length; i++) expect(FEERATE_STEPS[i]!).toBeGreaterThan(FEERATE_STEPS[i - 1]!);
    expect(FEERATE_STEPS[stepIndexFor(1)]).toBe(1);
    expect(FEERATE_STEPS[stepIndexFor(9)]).toBe(8);
    expect(FEERATE_STEPS[stepIndexFor(11)]).toBe(10);
    expect(FEERATE_STEPS[stepIndexFor(99_999)]).toBe(1000);
  });
});

describe('ETA', () => {
  it('uses the mempool histogram when the server has one (1 + depth / 1 MvB)', () => {
    const histogram: [number, number][] = [
      [50, 400_000],
      [20, 900_000],
      [5, 2_000_000],
    ];
    expect(etaBlocks(60, histogram, new Map())).toBe(1);
    expect(etaBlocks(20, histogram, new Map())).toBe(1); // 400k ahead
    expect(etaBlocks(10, histogram, new Map())).toBe(2); // 1.3M ahead
    expect(etaBlocks(1, histogram, new Map())).toBe(4); // 3.3M ahead
  });
  it('falls back to confirmation-target estimates, then to the next block on an empty mempool', () => {
    const estimates = new Map([
      [1, 30],
      [6, 10],
      [144, 2],
    ]);
    expect(etaBlocks(30, [], estimates)).toBe(1);
    expect(etaBlocks(12, [], estimates)).toBe(6);
    expect(etaBlocks(2, [], estimates)).toBe(144);
    expect(etaBlocks(1, [], estimates)).toBeNull();
    expect(etaBlocks(1, [], new Map())).toBe(1);
  });
  it('reads as blocks and time', () => {
    expect(etaText(1)).toBe('next block (~10 min)');
    expect(etaText(3)).toBe('~3 blocks (~30 min)');
    expect(etaText(144)).toBe('~144 blocks (~1 day)');
    expect(etaText(null)).toMatch(/more than 144 blocks/);
  });
});

describe('coin control', () => {
  const coins = [coin(1, 50_000), coin(2, 30_000, true), coin(3, 20_000)];
  it('spends every unfrozen coin when none is chosen', () => {
    const s = spendableCoins(coins, new Set());
    expect(s.totalSat).toBe(70_000);
    expect(s.frozenSat).toBe(30_000);
  });
  it('counts confirmations from the tip, 0 while unconfirmed or the tip is unknown', () => {
    expect(coinConfirmations(100, 100)).toBe(1);
    expect(coinConfirmations(100, 105)).toBe(6);
    expect(coinConfirmations(0, 105)).toBe(0);
    expect(coinConfirmations(100, undefined)).toBe(0);
  });
  it('never spends an immature coinbase coin, chosen or not', () => {
    const immature = { ...coin(4, 5_000_000_000), coinbase: true, immature: true };
    const all = [...coins, immature];
    expect(coinSelectable(immature)).toBe(false);
    expect(coinSelectable(coins[0]!)).toBe(true);
    expect(coinSelectable(coins[1]!)).toBe(false);
    const auto = spendableCoins(all, new Set());
    expect(auto.totalSat).toBe(70_000);
    expect(auto.immatureSat).toBe(5_000_000_000);
    const picked = spendableCoins(all, new Set([coinKey(immature), coinKey(coins[0]!)]));
    expect(picked.coins.map(coinKey)).toEqual([coinKey(coins[0]!)]);
    expect(picked.totalSat).toBe(50_000);
  });
  it('spends only the chosen coins, never a frozen one', () => {
    const s = spendableCoins(coins, new Set([coinKey(coins[1]!), coinKey(coins[2]!)]));
    expect(s.coins.map(coinKey)).toEqual([coinKey(coins[2]!)]);
    expect(s.totalSat).toBe(20_000);
  });
});

describe('transaction actions', () => {
  const input = (isMine: boolean, nsequence = 0xfffffffd) => ({ prevout_hash: 'a'.repeat(64), prevout_n: 0, nsequence, value_sat: 1000, address: null, is_mine: isMine, signed: true });
  const output = (isMine: boolean) => ({ address: null, scriptpubkey: '', value_sat: 500, is_mine: isMine });
  it('offers bump and cancel for our unconfirmed RBF transaction', () => {
    expect(txActions({ inputs: [input(true)], outputs: [output(false), output(true)] }, 0, 1)).toEqual({ bump: true, cancel: true, cpfp: false });
  });
  it('offers nothing once confirmed, nor bump without the RBF signal', () => {
    expect(txActions({ inputs: [input(true)], outputs: [output(true)] }, 1, 1)).toEqual({ bump: false, cancel: false, cpfp: false });
    expect(txActions({ inputs: [input(true, 0xffffffff)], outputs: [output(true)] }, 0, 1).bump).toBe(false);
    expect(signalsRbf({ inputs: [input(true, 0xfffffffe)] })).toBe(false);
  });
  it('offers CPFP for an incoming unconfirmed transaction with an unspent output of ours', () => {
    expect(txActions({ inputs: [input(false)], outputs: [output(true)] }, 0, 1)).toEqual({ bump: false, cancel: false, cpfp: true });
    expect(txActions({ inputs: [input(false)], outputs: [output(true)] }, 0, 0).cpfp).toBe(false);
  });
  it('computes and suggests fee rates', () => {
    expect(feerateOf(282, 141)).toBe(2);
    expect(feerateOf(300, 141)).toBe(2.1);
    expect(suggestedBumpFeerate(2.1, null)).toBe(3);
    expect(suggestedBumpFeerate(2, 15)).toBe(15);
  });
});
