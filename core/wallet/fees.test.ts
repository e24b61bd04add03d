import { describe, expect, it } from 'vitest';
import { depthForFeerate, etaBlocksForFeerate, feerateForDepth, normalizeHistogram } from './fees.js';

// A histogram shaped like ElectrumX's mempool.get_fee_histogram reply.
const HISTOGRAM: [number, number][] = [
  [50, 200_000],
  [20, 900_000],
  [10, 1_500_000],
  [2, 3_000_000],
];

describe('fee histogram', () => {
  it('depth and ETA of a feerate', () => {
    expect(depthForFeerate(HISTOGRAM, 100)).toBe(0);
    expect(etaBlocksForFeerate(HISTOGRAM, 100)).toBe(1);
    expect(depthForFeerate(HISTOGRAM, 20)).toBe(200_000);
    expect(etaBlocksForFeerate(HISTOGRAM, 20)).toBe(1);
    expect(depthForFeerate(HISTOGRAM, 15)).toBe(1_100_000);
    expect(etaBlocksForFeerate(HISTOGRAM, 15)).toBe(2);
    expect(etaBlocksForFeerate(HISTOGRAM, 1)).toBe(6);
  });

  it('feerate for a depth (mempool fee method)', () => {
    expect(feerateForDepth(HISTOGRAM, 100_000)).toBe(51);
    expect(feerateForDepth(HISTOGRAM, 1_000_000)).toBe(21);
    expect(feerateForDepth(HISTOGRAM, 50_000_000, 3)).toBe(3);
    expect(feerateForDepth([], 1_000_000)).toBe(1);
  });

  it('sorts unsorted input and rejects garbage', () => {
    expect(normalizeHistogram([[1, 5], [9, 1]])).toEqual([[9, 1], [1, 5]]);
    expect(() => normalizeHistogram([[Number.NaN, 1]])).toThrow(/Malformed/);
    expect(() => normalizeHistogram([[1, -1]])).toThrow(/Malformed/);
  });
});
