import { describe, expect, it } from 'vitest';
import { MAX_FEERATE_PER_KW, MIN_FEERATE_PER_KW, acceptableFeerateRange, feerateUpdateTarget } from './feerate.js';

describe('commitment feerate policy (channel/feerate.ts)', () => {
  it('without an estimate accepts 253..200000 sat/kw', () => {
    expect(acceptableFeerateRange(null)).toEqual({ min: MIN_FEERATE_PER_KW, max: MAX_FEERATE_PER_KW });
  });

  it('with an estimate: too low below a tenth of it (never below 253); unreasonably large only above 200000', () => {
    expect(acceptableFeerateRange(10_000)).toEqual({ min: 1000, max: 200_000 });
    expect(acceptableFeerateRange(1000)).toEqual({ min: 253, max: 200_000 });
    expect(acceptableFeerateRange(253)).toEqual({ min: 253, max: 200_000 });
    expect(acceptableFeerateRange(50_000)).toEqual({ min: 5000, max: 200_000 });
  });

  it('the funder raises when the channel feerate falls to min(0.75×, estimate−253), lowers only at 2× the estimate', () => {
    expect(feerateUpdateTarget(2500, 2500)).toBeNull();
    expect(feerateUpdateTarget(1900, 2500)).toBeNull(); // above 0.75 × 2500 = 1875
    expect(feerateUpdateTarget(1875, 2500)).toBe(2500);
    expect(feerateUpdateTarget(4999, 2500)).toBeNull();
    expect(feerateUpdateTarget(5000, 2500)).toBe(2500);
    // small estimates: the gap is at least 253 sat/kw, so 253 ↔ 300 does not flap
    expect(feerateUpdateTarget(300, 253)).toBeNull();
    expect(feerateUpdateTarget(253, 600)).toBe(600);
    expect(feerateUpdateTarget(400, 600)).toBeNull();
    // never proposes below the relay floor
    expect(feerateUpdateTarget(10_000, 100)).toBe(253);
  });
});
