import type { SweepKind } from './sweeps.js';

/**
 * Fee policy of the ChannelWatcher's sweeps (BOLT 5 gives no numbers; this follows Electrum's
 * lnwatcher scenarios, e.g. `lnwatcher_waits_until_fees_go_down`).
 *
 * - Patient sweeps (our to_local after to_self_delay, to_remote, the delayed output of our
 *   HTLC transactions): nobody else can take the output, so we aim at a long confirmation target
 *   and do not broadcast at all while that feerate is above a cap (absolute, and relative to the
 *   value). The output waits on chain, safe, until fees go down.
 * - Urgent sweeps (justice transactions, HTLC claims): the other side can take the output once a
 *   deadline passes (their to_self_delay, an HTLC's cltv_expiry) or at any time. The target gets
 *   shorter as the deadline comes closer, and a sweep still unconfirmed `bumpAfterBlocks` after
 *   its broadcast is replaced by the same spend at a higher feerate (BIP 125 RBF: every sweep
 *   signals it with nSequence < 0xfffffffe), up to a fee of `urgentMaxFeePercent` of the value.
 * - Pre-signed second-stage HTLC transactions pay the commitment's feerate; no choice there.
 *   With option_anchors they pay no fee of their own: a wallet input pays it, and they are
 *   urgent sweeps (the peer can take the HTLC with the preimage, or after cltv_expiry).
 *
 * Feerates are integer sat/vB; fees are integer sat.
 */
export interface SweepFeePolicy {
  /** Confirmation target of patient sweeps, in blocks. Default 25. */
  patientTargetBlocks: number;
  /** Patient sweeps wait while the estimate for their target is above this. Default 20 sat/vB. */
  patientMaxFeerateSatPerVbyte: number;
  /** Patient sweeps wait while the fee would exceed this share of the value. Default 10 (%). */
  patientMaxFeePercent: number;
  /** Urgent sweeps never pay more than this share of the value. Default 50 (%). */
  urgentMaxFeePercent: number;
  /** An urgent sweep unconfirmed this many blocks after its broadcast is replaced with a higher fee. Default 3. */
  bumpAfterBlocks: number;
}

export const DEFAULT_SWEEP_FEE_POLICY: SweepFeePolicy = {
  patientTargetBlocks: 25,
  patientMaxFeerateSatPerVbyte: 20,
  patientMaxFeePercent: 10,
  urgentMaxFeePercent: 50,
  bumpAfterBlocks: 3,
};

/** Sweeps racing the other side (justice, HTLC claims). */
const URGENT_KINDS: ReadonlySet<SweepKind> = new Set(['justice_to_local', 'justice_htlc', 'justice_htlc_tx_output', 'htlc_claim_preimage', 'htlc_claim_timeout']);
/** Second-stage HTLC transactions: pre-signed by the peer at the commitment's feerate. */
const PRESIGNED_KINDS: ReadonlySet<SweepKind> = new Set(['htlc_timeout_tx', 'htlc_success_tx']);

export type SweepUrgency = 'urgent' | 'patient' | 'presigned';

/** How a sweep of `kind` is paid for (see the policy above). */
export function urgencyOf(kind: SweepKind): SweepUrgency {
  if (PRESIGNED_KINDS.has(kind)) return 'presigned';
  return URGENT_KINDS.has(kind) ? 'urgent' : 'patient';
}

/** Urgency of one output's sweep: `urgencyOf` its kind, except that wallet-funded (option_anchors) HTLC transactions are urgent. */
export function resolutionUrgency(r: { kind: SweepKind | null; walletFunded: boolean }): SweepUrgency {
  if (r.kind === null) throw new Error('resolutionUrgency of an output that is not ours to sweep');
  return r.walletFunded ? 'urgent' : urgencyOf(r.kind);
}

/**
 * Confirmation target (blocks, for `blockchain.estimatefee`) of a sweep at `tipHeight`.
 * Urgent: `deadlineHeight` is the first block in which the other side can take the output
 * (null: unknown or already now): null or at most 3 blocks left → 1; at most 36 → 2; else 6.
 * Patient: `policy.patientTargetBlocks`.
 */
export function sweepFeeTarget(urgency: Exclude<SweepUrgency, 'presigned'>, tipHeight: number, deadlineHeight: number | null, policy: SweepFeePolicy): number {
  if (urgency === 'patient') return policy.patientTargetBlocks;
  if (deadlineHeight === null) return 2;
  const blocksLeft = deadlineHeight - tipHeight;
  if (blocksLeft <= 3) return 1;
  if (blocksLeft <= 36) return 2;
  return 6;
}

/**
 * Highest integer feerate (sat/vB) whose fee, as the sweep builder computes it ((vsize + 1) ×
 * feerate), stays within `percent` % of `valueSat`.
 */
export function maxFeerateForValue(valueSat: number, vsize: number, percent: number): number {
  return Math.floor((valueSat * percent) / (100 * (vsize + 1)));
}

/** The fee state of a sweep already signed and broadcast. */
export interface BroadcastFeeState {
  feerateSatPerVbyte: number;
  /** Tip height when this version was broadcast. */
  broadcastHeight: number;
}

export type SweepFeeDecision =
  /** Do not broadcast now (patient sweep above its cap). */
  | { action: 'wait'; reason: 'feerate_above_cap' | 'fee_above_value_share' }
  /** Keep the signed transaction; (re)broadcast it if it is not in the mempool. */
  | { action: 'keep' }
  /** Sign (or, with a current one, replace by RBF) at this feerate. */
  | { action: 'sign'; feerateSatPerVbyte: number };

/**
 * The fee step of one sweep.
 * @param p.estimateSatPerVbyte the estimate for the target of `sweepFeeTarget`
 * @param p.valueCapSatPerVbyte `maxFeerateForValue` for the policy's percent of this urgency
 * @param p.current the broadcast version, or null before the first broadcast
 */
export function decideSweepFee(
  p: { urgency: Exclude<SweepUrgency, 'presigned'>; estimateSatPerVbyte: number; valueCapSatPerVbyte: number; tipHeight: number; current: BroadcastFeeState | null },
  policy: SweepFeePolicy,
): SweepFeeDecision {
  const estimate = Math.max(1, Math.ceil(p.estimateSatPerVbyte));
  if (p.current === null) {
    if (p.urgency === 'patient') {
      if (estimate > policy.patientMaxFeerateSatPerVbyte) return { action: 'wait', reason: 'feerate_above_cap' };
      if (estimate > p.valueCapSatPerVbyte) return { action: 'wait', reason: 'fee_above_value_share' };
      return { action: 'sign', feerateSatPerVbyte: estimate };
    }
    return { action: 'sign', feerateSatPerVbyte: Math.max(1, Math.min(estimate, p.valueCapSatPerVbyte)) };
  }
  if (p.urgency === 'patient') return { action: 'keep' };
  if (p.tipHeight - p.current.broadcastHeight < policy.bumpAfterBlocks) return { action: 'keep' };
  const previous = p.current.feerateSatPerVbyte;
  // BIP 125 rule 4: the replacement pays at least the incremental relay fee (1 sat/vB) more; we step by 25 % at least.
  const stepped = previous + Math.max(1, Math.ceil(previous / 4));
  const next = Math.min(Math.max(estimate, stepped), p.valueCapSatPerVbyte);
  return next > previous ? { action: 'sign', feerateSatPerVbyte: next } : { action: 'keep' };
}

/**
 * vsize of a typical anchor CPFP child (one P2WSH anchor input, one P2WPKH wallet input, one
 * P2WPKH change output), vbytes: for the fee cap before the child is built.
 */
export const ANCHOR_CPFP_CHILD_VSIZE = 180;

/**
 * CPFP of our own unconfirmed commitment through our anchor (option_anchors, BOLT 3
 * `to_local_anchor`). 'none' while the commitment alone pays at least the estimate for its target
 * (or the cap allows no more than it pays); else a child bringing the package to the estimate,
 * capped at `maxFeerateSatPerVbyte`; an unconfirmed child is replaced (BIP 125) `bumpAfterBlocks`
 * after its broadcast, stepping up as urgent sweeps do (`decideSweepFee`). Feerates are the
 * package's, sat/vB; `commitmentFeerateSatPerVbyte` may be fractional.
 */
export function decideAnchorCpfp(
  p: { commitmentFeerateSatPerVbyte: number; estimateSatPerVbyte: number; maxFeerateSatPerVbyte: number; tipHeight: number; current: BroadcastFeeState | null },
  policy: SweepFeePolicy,
): SweepFeeDecision | { action: 'none' } {
  if (p.current === null && p.commitmentFeerateSatPerVbyte >= Math.max(1, Math.ceil(p.estimateSatPerVbyte))) return { action: 'none' };
  const decision = decideSweepFee(
    { urgency: 'urgent', estimateSatPerVbyte: p.estimateSatPerVbyte, valueCapSatPerVbyte: p.maxFeerateSatPerVbyte, tipHeight: p.tipHeight, current: p.current },
    policy,
  );
  if (p.current === null && decision.action === 'sign' && decision.feerateSatPerVbyte <= p.commitmentFeerateSatPerVbyte) return { action: 'none' };
  return decision;
}
