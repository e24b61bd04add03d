import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { branchAndBound, selectCoins, type SelectionCoin } from './coinselection.js';

const coin = (n: number, valueSat: number, address = `addr${n}`): SelectionCoin => ({ outpoint: `${'00'.repeat(31)}${n.toString(16).padStart(2, '0')}:0`, valueSat, address });
const base = { inputFeeSat: 68, costOfChangeSat: 99, changeOutputFeeSat: 31, minChangeSat: 294 };

describe('branch and bound', () => {
  it('finds the exact subset (Bitcoin Core style: effective values within the cost of change)', () => {
    const coins = [coin(1, 100_068), coin(2, 50_068), coin(3, 30_068), coin(4, 20_068), coin(5, 7_068)];
    const r = selectCoins({ ...base, coins, targetSat: 57_000 });
    expect(r?.algorithm).toBe('bnb');
    expect(r!.coins.map((c) => c.valueSat).sort()).toEqual([50_068, 7_068].sort());
  });

  it('prefers the least excess, then fewer inputs', () => {
    const groups = [30, 20, 10].map((v) => ({ coins: [v], effectiveSat: v }));
    expect(branchAndBound(groups, 30, 5)!.map((g) => g.effectiveSat)).toEqual([30]);
    expect(branchAndBound(groups, 29, 5)!.map((g) => g.effectiveSat)).toEqual([30]);
    expect(branchAndBound(groups, 61, 5)).toBeNull();
  });

  it('falls back to a random draw (deterministic here) with room for non-dust change', () => {
    const coins = [coin(1, 100_000), coin(2, 60_000), coin(3, 40_000)];
    const r = selectCoins({ ...base, coins, targetSat: 45_000, random: () => 0 });
    expect(r?.algorithm).toBe('srd');
    const total = r!.coins.reduce((s, c) => s + c.valueSat - 68, 0);
    expect(total).toBeGreaterThanOrEqual(45_000 + 31 + 294);
  });

  it('spends every coin of an address together', () => {
    const coins = [coin(1, 30_068, 'a'), coin(2, 10_068, 'a'), coin(3, 40_068, 'b')];
    const r = selectCoins({ ...base, coins, targetSat: 30_000, random: () => 0 });
    const addresses = new Set(r!.coins.map((c) => c.address));
    for (const a of addresses) expect(r!.coins.filter((c) => c.address === a)).toHaveLength(coins.filter((c) => c.address === a).length);
  });

  it('returns null when the coins cannot pay', () => {
    expect(selectCoins({ ...base, coins: [coin(1, 1_000)], targetSat: 5_000 })).toBeNull();
    expect(selectCoins({ ...base, coins: [coin(1, 50)], targetSat: 1 })).toBeNull(); // uneconomic: below its input fee
  });

  it('property: any selection covers the target, BnB ones within the cost of change', () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 2_000_000 }), { minLength: 1, maxLength: 12 }),
        fc.integer({ min: 1, max: 5_000_000 }),
        fc.integer({ min: 1, max: 6 }),
        (values, target, addrCount) => {
          const coins = values.map((v, i) => coin(i, v, `a${i % addrCount}`));
          const r = selectCoins({ ...base, coins, targetSat: target, random: (n) => (target + n) % n });
          const grouped = new Map<string, number>();
          for (const c of coins) grouped.set(c.address, (grouped.get(c.address) ?? 0) + c.valueSat - 68);
          const reachable = [...grouped.values()].filter((v) => v > 0).reduce((s, v) => s + v, 0);
          if (!r) return reachable < target;
          const eff = r.coins.reduce((s, c) => s + c.valueSat - 68, 0);
          if (eff < target) return false;
          return r.algorithm === 'srd' || eff <= target + base.costOfChangeSat;
        },
      ),
      { numRuns: 300 },
    );
  });
});
