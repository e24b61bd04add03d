/**
 * Fulmen's `max_dust_htlc_exposure_msat` policy (BOLT 2 "Bounding exposure to trimmed in-flight
 * HTLCs": "The exact value used is a matter of node policy"). An HTLC trimmed from a commitment
 * (BOLT 3 Trimmed Outputs) becomes miner fee if that commitment is broadcast, so the sum of
 * trimmed HTLCs on each commitment is bounded.
 *
 * The bound scales with the feerate, as LDK's default `MaxDustHTLCExposure::FeeRateMultiplier`
 * (lightning/src/util/config.rs: 10,000 × feerate_per_kw msat): without anchors, what is trimmed
 * grows with the feerate (amount minus the second-stage fee below the dust limit), and at a high
 * feerate small HTLCs are uneconomical to claim anyway. A fixed bound refused every ordinary
 * payment with Electrum on regtest (37,500 sat/kw: all HTLCs under ~27,000 sat are trimmed).
 *
 * Exposure is counted at a buffered feerate (LDK channel.rs get_dust_buffer_feerate), so a fee
 * rise of up to max(2,530 sat/kw, 25 %) cannot trim more than was counted.
 *
 * Units: feerates are sat/kw (`number`, integer), amounts msat (`bigint`). Integer arithmetic only.
 */
import { isHtlcTrimmed, type CommitmentHtlc } from './transactions.js';

/**
 * msat of dust exposure allowed per sat/kw of feerate (LDK's default FeeRateMultiplier, 10,000):
 * 2,530,000 msat at 253 sat/kw, 25,000,000 at 2,500, 375,000,000 at 37,500 sat/kw.
 */
export const DUST_EXPOSURE_MSAT_PER_SAT_PER_KW = 10_000n;

/**
 * Floor of the bound, msat: LDK's former fixed default (FixedLimitMsat 5,000,000). Keeps room for
 * a few dust HTLCs at the relay-minimum feerate, where option_anchors channels usually sit (their
 * trimming does not depend on the feerate: BOLT 3 zero-fee HTLC transactions).
 */
export const MIN_MAX_DUST_HTLC_EXPOSURE_MSAT = 5_000_000n;

/** Extra feerate, sat/kw, assumed when counting exposure: 10 sat/vB (LDK get_dust_buffer_feerate). */
export const DUST_BUFFER_FEERATE_SAT_PER_KW = 2530;

/**
 * Our `max_dust_htlc_exposure_msat` for a commitment at `feerateSatPerKw` (the larger of the
 * commitment's feerate and our own estimate, chosen by the caller):
 * max(MIN_MAX_DUST_HTLC_EXPOSURE_MSAT, DUST_EXPOSURE_MSAT_PER_SAT_PER_KW × feerateSatPerKw), msat.
 * Source: BOLT 2 max_dust_htlc_exposure_msat (node policy); LDK MaxDustHTLCExposure::FeeRateMultiplier.
 */
export function maxDustHtlcExposureMsat(feerateSatPerKw: number): bigint {
  const scaled = DUST_EXPOSURE_MSAT_PER_SAT_PER_KW * BigInt(Math.max(0, Math.floor(feerateSatPerKw)));
  return scaled > MIN_MAX_DUST_HTLC_EXPOSURE_MSAT ? scaled : MIN_MAX_DUST_HTLC_EXPOSURE_MSAT;
}

/**
 * The feerate, sat/kw, at which exposure is counted for a commitment at `feerateSatPerKw`:
 * max(feerate + 2,530, floor(feerate × 1.25)) (LDK channel.rs get_dust_buffer_feerate).
 */
export function dustBufferFeerateSatPerKw(feerateSatPerKw: number): number {
  return Math.max(feerateSatPerKw + DUST_BUFFER_FEERATE_SAT_PER_KW, Math.floor((feerateSatPerKw * 1250) / 1000));
}

/**
 * Dust exposure of one commitment, msat: the sum of `htlcs` (direction as seen from the
 * commitment's owner) trimmed at `feerateSatPerKw` with the owner's `dustLimitSat` (BOLT 3
 * Trimmed Outputs, transactions.ts isHtlcTrimmed).
 */
export function dustExposureMsat(
  htlcs: Iterable<Pick<CommitmentHtlc, 'direction' | 'amountMsat'>>,
  feerateSatPerKw: number,
  dustLimitSat: number,
  anchors: boolean,
): bigint {
  let sum = 0n;
  for (const h of htlcs) if (isHtlcTrimmed(h, feerateSatPerKw, dustLimitSat, anchors)) sum += h.amountMsat;
  return sum;
}
