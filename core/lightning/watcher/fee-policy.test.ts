import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEFAULT_SWEEP_FEE_POLICY as P, decideAnchorCpfp, decideSweepFee, maxFeerateForValue, resolutionUrgency, sweepFeeTarget, urgencyOf } from './fee-policy.js';

describe('sweep fee policy', () => {
  it('classifies sweeps: justice and HTLC claims are urgent, delayed and to_remote outputs patient, HTLC txs pre-signed', () => {
    expect(['justice_to_local', 'justice_htlc', 'justice_htlc_tx_output', 'htlc_claim_preimage', 'htlc_claim_timeout'].map((k) => urgencyOf(k as never))).toEqual(Array(5).fill('urgent'));
    expect(['to_local', 'to_remote', 'htlc_tx_output'].map((k) => urgencyOf(k as never))).toEqual(Array(3).fill('patient'));
    expect(['htlc_timeout_tx', 'htlc_success_tx'].map((k) => urgencyOf(k as never))).toEqual(['presigned', 'presigned']);
  });

  it('deadline → confirmation target: patient sweeps take the long target, urgent ones shorten it as the deadline nears', () => {
    expect(sweepFeeTarget('patient', 1000, null, P)).toBe(25);
    expect(sweepFeeTarget('patient', 1000, 1001, P)).toBe(25);
    expect(sweepFeeTarget('urgent', 1000, null, P)).toBe(2); // unknown deadline (parent unconfirmed)
    expect(sweepFeeTarget('urgent', 1000, 1144, P)).toBe(6); // justice right after a 144-block to_self_delay started
    expect(sweepFeeTarget('urgent', 1000, 1036, P)).toBe(2);
    expect(sweepFeeTarget('urgent', 1000, 1004, P)).toBe(2);
    expect(sweepFeeTarget('urgent', 1000, 1003, P)).toBe(1);
    expect(sweepFeeTarget('urgent', 1000, 0, P)).toBe(1); // contested at any time (the peer may have the preimage)
  });

  it('the value cap keeps the builder fee ((vsize + 1) × feerate) within the share', () => {
    expect(maxFeerateForValue(100_000, 121, 10)).toBe(81); // 10_000 / 122
    fc.assert(
      fc.property(fc.integer({ min: 330, max: 2_100_000_000 }), fc.integer({ min: 60, max: 400 }), fc.integer({ min: 1, max: 100 }), (value, vsize, percent) => {
        const rate = maxFeerateForValue(value, vsize, percent);
        expect((vsize + 1) * rate * 100).toBeLessThanOrEqual(value * percent);
        expect((vsize + 1) * (rate + 1) * 100).toBeGreaterThan(value * percent);
      }),
    );
  });

  it('a patient sweep waits while fees are high (lnwatcher_waits_until_fees_go_down), then signs at the estimate', () => {
    const base = { urgency: 'patient' as const, valueCapSatPerVbyte: 500, tipHeight: 1000, current: null };
    expect(decideSweepFee({ ...base, estimateSatPerVbyte: 120 }, P)).toEqual({ action: 'wait', reason: 'feerate_above_cap' });
    expect(decideSweepFee({ ...base, estimateSatPerVbyte: 15, valueCapSatPerVbyte: 10 }, P)).toEqual({ action: 'wait', reason: 'fee_above_value_share' });
    expect(decideSweepFee({ ...base, estimateSatPerVbyte: 4 }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 4 });
    // Once broadcast, a patient sweep is never bumped.
    expect(decideSweepFee({ ...base, estimateSatPerVbyte: 4, tipHeight: 2000, current: { feerateSatPerVbyte: 4, broadcastHeight: 1000 } }, P)).toEqual({ action: 'keep' });
  });

  it('an urgent sweep pays the estimate even above the patient cap, within its value share', () => {
    const base = { urgency: 'urgent' as const, tipHeight: 1000, current: null };
    expect(decideSweepFee({ ...base, estimateSatPerVbyte: 120, valueCapSatPerVbyte: 500 }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 120 });
    expect(decideSweepFee({ ...base, estimateSatPerVbyte: 120, valueCapSatPerVbyte: 90 }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 90 });
    expect(decideSweepFee({ ...base, estimateSatPerVbyte: 2.4, valueCapSatPerVbyte: 90 }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 3 });
  });

  it('an unconfirmed urgent sweep is replaced after bumpAfterBlocks, by at least 25 % and 1 sat/vB, up to the cap', () => {
    const current = { feerateSatPerVbyte: 10, broadcastHeight: 1000 };
    const base = { urgency: 'urgent' as const, estimateSatPerVbyte: 10, valueCapSatPerVbyte: 100, current };
    expect(decideSweepFee({ ...base, tipHeight: 1002 }, P)).toEqual({ action: 'keep' });
    expect(decideSweepFee({ ...base, tipHeight: 1003 }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 13 });
    expect(decideSweepFee({ ...base, tipHeight: 1003, estimateSatPerVbyte: 40 }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 40 });
    expect(decideSweepFee({ ...base, tipHeight: 1003, current: { feerateSatPerVbyte: 1, broadcastHeight: 1000 }, estimateSatPerVbyte: 1 }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 2 });
    expect(decideSweepFee({ ...base, tipHeight: 1003, valueCapSatPerVbyte: 11 }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 11 });
    expect(decideSweepFee({ ...base, tipHeight: 1003, valueCapSatPerVbyte: 10 }, P)).toEqual({ action: 'keep' }); // at the cap
    expect(decideSweepFee({ ...base, tipHeight: 1001 }, { ...P, bumpAfterBlocks: 1 })).toEqual({ action: 'sign', feerateSatPerVbyte: 13 });
  });

  it('option_anchors: wallet-funded HTLC transactions are urgent sweeps', () => {
    expect(resolutionUrgency({ kind: 'htlc_timeout_tx', walletFunded: true })).toBe('urgent');
    expect(resolutionUrgency({ kind: 'htlc_success_tx', walletFunded: false })).toBe('presigned');
  });

  it('anchor CPFP: none while the commitment pays the estimate, else the estimate within the cap, bumped while unconfirmed', () => {
    const base = { commitmentFeerateSatPerVbyte: 1.01, maxFeerateSatPerVbyte: 80, tipHeight: 1000, current: null };
    expect(decideAnchorCpfp({ ...base, estimateSatPerVbyte: 1 }, P)).toEqual({ action: 'none' });
    expect(decideAnchorCpfp({ ...base, estimateSatPerVbyte: 12.3 }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 13 });
    expect(decideAnchorCpfp({ ...base, estimateSatPerVbyte: 300 }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 80 });
    expect(decideAnchorCpfp({ ...base, commitmentFeerateSatPerVbyte: 5, maxFeerateSatPerVbyte: 4, estimateSatPerVbyte: 20 }, P)).toEqual({ action: 'none' });
    const current = { feerateSatPerVbyte: 13, broadcastHeight: 1000 };
    expect(decideAnchorCpfp({ ...base, estimateSatPerVbyte: 12, current, tipHeight: 1001 }, P)).toEqual({ action: 'keep' });
    expect(decideAnchorCpfp({ ...base, estimateSatPerVbyte: 12, current, tipHeight: 1000 + P.bumpAfterBlocks }, P)).toEqual({ action: 'sign', feerateSatPerVbyte: 17 });
  });
});
