/**
 * Commitment feerate policy (BOLT 2 "Updating Fees: update_fee"): when the funder proposes a new
 * feerate, and which feerates a receiver accepts in open_channel and update_fee.
 *
 * Units: every feerate is `feerate_per_kw` (satoshi per 1000 weight units), an integer `number`.
 * The estimate is the node's current target (chain `estimatefee`, sat/vB × 250, floored at 253).
 *
 * The thresholds follow Electrum (lnpeer.maybe_update_fee: raise early, lower late) and LDK
 * (check_remote_fee: a lenient lower bound, since estimators differ between implementations and a
 * rejected update_fee costs the channel).
 */

/** Lowest feerate a commitment may have: 1 sat/vB minimum relay fee (BOLT 3 uses 253 sat/kw). */
export const MIN_FEERATE_PER_KW = 253;
/** A feerate above this is "unreasonably large" whatever the estimate (800 sat/vB). */
export const MAX_FEERATE_PER_KW = 200_000;
/** A peer's feerate this many times below our estimate is "too low for timely processing". */
const TOO_LOW_DIVISOR = 10;

/**
 * The feerates a receiver accepts from the funder (open_channel `feerate_per_kw`, update_fee),
 * given our estimate (`null`: none yet, only the absolute bounds apply). Only the lower bound
 * follows the estimate: the funder pays the commitment fee, and peers' estimators legitimately
 * differ by large factors (Electrum on regtest uses a static 37500 sat/kw), so "unreasonably
 * large" is the absolute MAX_FEERATE_PER_KW (LDK has dropped its relative upper bound too).
 * @returns inclusive bounds `{ min, max }` in sat/kw.
 * Source: BOLT 2 open_channel and update_fee receiving requirements ("too small for timely
 * processing or unreasonably large").
 */
export function acceptableFeerateRange(estimatePerKw: number | null): { min: number; max: number } {
  if (estimatePerKw === null || !(estimatePerKw > 0)) return { min: MIN_FEERATE_PER_KW, max: MAX_FEERATE_PER_KW };
  return { min: Math.max(MIN_FEERATE_PER_KW, Math.floor(estimatePerKw / TOO_LOW_DIVISOR)), max: MAX_FEERATE_PER_KW };
}

/**
 * Funder side: the feerate to propose in update_fee, or null when the channel's latest feerate
 * (`currentPerKw`, the one the peer's next commitment would use) is close enough to the estimate.
 * Raises when the current one is at or below min(0.75 × estimate, estimate − 253); lowers only
 * when it is at or above twice the estimate (overpaying is cheap, underpaying can leave the
 * commitment stuck out of the mempool). The caller still checks the funder can afford it.
 * Source: BOLT 2 "SHOULD send update_fee to ensure the current fee rate is sufficient (by a
 * significant margin)"; Electrum lnpeer.maybe_update_fee.
 */
export function feerateUpdateTarget(currentPerKw: number, estimatePerKw: number): number | null {
  const target = Math.min(MAX_FEERATE_PER_KW, Math.max(MIN_FEERATE_PER_KW, Math.round(estimatePerKw)));
  const high = 2 * target;
  const low = Math.min(0.75 * target, target - MIN_FEERATE_PER_KW);
  if (currentPerKw > low && currentPerKw < high) return null;
  return target === currentPerKw ? null : target;
}
