import { badInput } from '../util/errors.js';

/**
 * Mempool fee histogram helpers. The histogram is the Electrum server's
 * `mempool.get_fee_histogram`: [feerate sat/vB, vsize vB] pairs, feerate descending, each vsize
 * the mempool weight paying about that feerate. A block holds about 1 000 000 vB.
 */
export type FeeHistogram = readonly (readonly [number, number])[];

/** Virtual bytes per block used for ETA estimates (4 MWU / 4). */
export const BLOCK_VSIZE = 1_000_000;

/** Validates and sorts a histogram (feerate descending). @throws FulmenError BAD_INPUT. */
export function normalizeHistogram(histogram: FeeHistogram): [number, number][] {
  for (const [feerate, vsize] of histogram) {
    if (!Number.isFinite(feerate) || feerate < 0 || !Number.isSafeInteger(vsize) || vsize < 0) throw badInput('Malformed fee histogram');
  }
  return histogram.map(([f, v]) => [f, v] as [number, number]).sort((a, b) => b[0] - a[0]);
}

/**
 * Mempool depth ahead of a transaction paying `feerateSatPerVbyte`: the vsize of everything
 * paying strictly more (Electrum's fee_to_depth, counting the bucket at our feerate as behind us).
 */
export function depthForFeerate(histogram: FeeHistogram, feerateSatPerVbyte: number): number {
  let depth = 0;
  for (const [feerate, vsize] of normalizeHistogram(histogram)) {
    if (feerate <= feerateSatPerVbyte) break;
    depth += vsize;
  }
  return depth;
}

/**
 * Estimated blocks until a transaction paying `feerateSatPerVbyte` confirms, if no new
 * transactions arrived: 1 + floor(depth / 1 000 000 vB). (Electrum's depth_to_eta.)
 */
export function etaBlocksForFeerate(histogram: FeeHistogram, feerateSatPerVbyte: number): number {
  return 1 + Math.floor(depthForFeerate(histogram, feerateSatPerVbyte) / BLOCK_VSIZE);
}

/**
 * The feerate (sat/vB, at least `minFeerate`) to be within `depthVbytes` of the mempool's top
 * (Electrum's depth_to_fee, the "mempool" fee method): the lowest bucket feerate reached by that
 * depth, plus 1 sat/vB to get ahead of it; `minFeerate` when the mempool is shallower.
 */
export function feerateForDepth(histogram: FeeHistogram, depthVbytes: number, minFeerate = 1): number {
  let depth = 0;
  for (const [feerate, vsize] of normalizeHistogram(histogram)) {
    depth += vsize;
    if (depth >= depthVbytes) return Math.max(minFeerate, Math.ceil(feerate) + 1);
  }
  return minFeerate;
}
