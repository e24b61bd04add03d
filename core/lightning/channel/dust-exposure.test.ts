import { describe, expect, it } from 'vitest';
import { DUST_EXPOSURE_MSAT_PER_SAT_PER_KW, MIN_MAX_DUST_HTLC_EXPOSURE_MSAT, dustBufferFeerateSatPerKw, dustExposureMsat, maxDustHtlcExposureMsat } from './dust-exposure.js';

describe('max_dust_htlc_exposure_msat policy (BOLT 2; LDK FeeRateMultiplier and get_dust_buffer_feerate)', () => {
  it('the bound is 10,000 msat per sat/kw, never below 5,000,000 msat', () => {
    expect(DUST_EXPOSURE_MSAT_PER_SAT_PER_KW).toBe(10_000n);
    expect(MIN_MAX_DUST_HTLC_EXPOSURE_MSAT).toBe(5_000_000n);
    expect(maxDustHtlcExposureMsat(253)).toBe(5_000_000n);
    expect(maxDustHtlcExposureMsat(500)).toBe(5_000_000n);
    expect(maxDustHtlcExposureMsat(501)).toBe(5_010_000n);
    expect(maxDustHtlcExposureMsat(2500)).toBe(25_000_000n);
    expect(maxDustHtlcExposureMsat(37_500)).toBe(375_000_000n); // Electrum's regtest feerate
    expect(maxDustHtlcExposureMsat(200_000)).toBe(2_000_000_000n);
  });

  it('exposure is counted at max(feerate + 2,530, feerate × 1.25) sat/kw', () => {
    expect(dustBufferFeerateSatPerKw(253)).toBe(2783);
    expect(dustBufferFeerateSatPerKw(2500)).toBe(5030);
    expect(dustBufferFeerateSatPerKw(10_120)).toBe(12_650); // both rules agree
    expect(dustBufferFeerateSatPerKw(37_500)).toBe(46_875);
    expect(dustBufferFeerateSatPerKw(37_501)).toBe(46_876); // floor(46,876.25)
  });

  it('sums the HTLCs trimmed with the owner\'s dust limit (BOLT 3: received ones by the HTLC-success fee, offered ones by the HTLC-timeout fee)', () => {
    // 37,500 sat/kw: HTLC-success fee 26,362 sat, HTLC-timeout fee 24,862 sat; dust limit 546 sat.
    const htlcs = [
      { direction: 'received' as const, amountMsat: 26_907_999n }, // 26,907 sat − 26,362 = 545 < 546: trimmed
      { direction: 'received' as const, amountMsat: 26_908_000n }, // 546: kept
      { direction: 'offered' as const, amountMsat: 25_407_000n }, // 25,407 − 24,862 = 545: trimmed
      { direction: 'offered' as const, amountMsat: 25_408_000n }, // kept
    ];
    expect(dustExposureMsat(htlcs, 37_500, 546, false)).toBe(26_907_999n + 25_407_000n);
    // option_anchors: second-stage fees are zero, only the dust limit trims.
    expect(dustExposureMsat([...htlcs, { direction: 'offered', amountMsat: 545_999n }], 37_500, 546, true)).toBe(545_999n);
    expect(dustExposureMsat([], 37_500, 546, false)).toBe(0n);
  });
});
