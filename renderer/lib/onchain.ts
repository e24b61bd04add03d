/**
 * On-chain helpers of the GUI: fee rates (slider steps, parsing, ETA from the server's mempool
 * histogram or confirmation-target estimates), coin control and what a transaction's details
 * allow (bump fee, cancel, CPFP). Pure functions over the host's results; amounts are integer sat,
 * fee rates are sat/vB (`feerateSatPerVbyte`, fractions allowed: they are no amount of money).
 */
import type { DeserializedTx, UnspentItem } from '../../core/api/client-types.js';
import { etaBlocksForFeerate, type FeeHistogram } from '../../core/wallet/fees.js';

/** Slider positions, sat/vB: fine steps where most fees are, coarser above. */
export const FEERATE_STEPS: readonly number[] = [
  1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 15, 18, 20, 25, 30, 35, 40, 50, 60, 70, 80, 100, 120, 150, 200, 250, 300, 400, 500, 700, 1000,
];

/** Highest fee rate the GUI accepts (sat/vB); the core refuses above 100 000. */
export const MAX_FEERATE_SAT_PER_VBYTE = 10_000;

/** Thrown by parseFeerate; `message` is written for an inline field error. */
export class FeerateError extends Error {
  override name = 'FeerateError';
}

/**
 * Parses a fee rate typed by the user: a decimal number of sat/vB with at most one decimal
 * (Bitcoin Core's sat/vB precision in the GUI), between 1 and 10 000.
 * @throws FeerateError.
 */
export function parseFeerate(text: string): number {
  const t = text.trim().replace(',', '.');
  if (!/^\d+(\.\d)?$/.test(t)) throw new FeerateError('Fee rate must be a number of sat/vB with at most one decimal');
  const v = Number(t);
  if (v < 1) throw new FeerateError('Fee rate must be at least 1 sat/vB');
  if (v > MAX_FEERATE_SAT_PER_VBYTE) throw new FeerateError(`Fee rate must be at most ${MAX_FEERATE_SAT_PER_VBYTE} sat/vB`);
  return v;
}

/** The slider position whose step is closest to `feerate` (the lower one on ties). */
export function stepIndexFor(feerate: number): number {
  let best = 0;
  for (let i = 1; i < FEERATE_STEPS.length; i++) {
    if (Math.abs(FEERATE_STEPS[i]! - feerate) < Math.abs(FEERATE_STEPS[best]! - feerate)) best = i;
  }
  return best;
}

/** Server estimates by confirmation target: `{ targetBlocks: feerateSatPerVbyte }` (getfeerate, eta method). */
export type FeeEstimates = ReadonlyMap<number, number>;

/**
 * Estimated blocks until a transaction paying `feerate` confirms. With a non-empty mempool
 * histogram (mempool.get_fee_histogram), Electrum's depth-to-ETA: 1 + vbytes ahead / 1 MvB.
 * Without one, the smallest confirmation target whose server estimate `feerate` meets; with an
 * empty mempool and no estimate, any feerate confirms in the next block. null: below every
 * estimate (slower than the largest target).
 */
export function etaBlocks(feerate: number, histogram: FeeHistogram, estimates: FeeEstimates): number | null {
  if (histogram.length > 0) return etaBlocksForFeerate(histogram, feerate);
  const targets = [...estimates.keys()].sort((a, b) => a - b);
  if (targets.length === 0) return 1;
  for (const target of targets) if (feerate >= estimates.get(target)!) return target;
  return null;
}

/** "next block (~10 min)", "~3 blocks (~30 min)", "~144 blocks (~1 day)"; null → "more than N blocks". */
export function etaText(blocks: number | null, largestTarget = 144): string {
  if (blocks === null) return `more than ${largestTarget} blocks — may not confirm for days`;
  const minutes = blocks * 10;
  const time = minutes < 60 ? `${minutes} min` : minutes < 24 * 60 ? `${Math.round(minutes / 60)} h` : `${Math.round(minutes / (24 * 60))} day${minutes >= 36 * 60 ? 's' : ''}`;
  return blocks <= 1 ? 'next block (~10 min)' : `~${blocks} blocks (~${time})`;
}

/** Fee rate of a transaction, sat/vB rounded to one decimal (display only). */
export function feerateOf(feeSat: number, vsize: number): number {
  return vsize > 0 ? Math.round((feeSat * 10) / vsize) / 10 : 0;
}

/** Confirmations of a coin at `height` (0: unconfirmed) for a tip at `tip` (unknown: 0). */
export function coinConfirmations(height: number, tip: number | undefined): number {
  return height > 0 && tip !== undefined && tip >= height ? tip - height + 1 : 0;
}

/** "txid:vout", the key of a coin everywhere (from_coins, labels, freeze). */
export function coinKey(c: Pick<UnspentItem, 'prevout_hash' | 'prevout_n'>): string {
  return `${c.prevout_hash}:${c.prevout_n}`;
}

/** Whether coin control may pick `c`: not frozen and not an immature coinbase output (< 100 confirmations). */
export function coinSelectable(c: Pick<UnspentItem, 'frozen' | 'immature'>): boolean {
  return !c.frozen && !c.immature;
}

/**
 * What coin control leaves spendable: the chosen coins (all selectable ones when none is chosen),
 * frozen coins and immature coinbase outputs never. `totalSat` is their sum; `frozenSat` and
 * `immatureSat` (sat) the sums of the coins left out for each reason.
 */
export function spendableCoins(
  coins: readonly UnspentItem[],
  chosen: ReadonlySet<string>,
): { coins: UnspentItem[]; totalSat: number; frozenSat: number; immatureSat: number } {
  const open = coins.filter(coinSelectable);
  const picked = chosen.size === 0 ? open : open.filter((c) => chosen.has(coinKey(c)));
  return {
    coins: picked,
    totalSat: picked.reduce((s, c) => s + c.value_sat, 0),
    frozenSat: coins.filter((c) => c.frozen).reduce((s, c) => s + c.value_sat, 0),
    immatureSat: coins.filter((c) => !c.frozen && c.immature).reduce((s, c) => s + c.value_sat, 0),
  };
}

/** BIP125: a transaction signals replaceability when one of its inputs has nSequence < 0xfffffffe. */
export function signalsRbf(tx: Pick<DeserializedTx, 'inputs'>): boolean {
  return tx.inputs.some((i) => i.nsequence < 0xfffffffe);
}

export interface TxActions {
  /** Replace with a higher fee (bumpfee): our unconfirmed transaction, RBF-signalling. */
  bump: boolean;
  /** Double-spend back to ourselves (dscancel): same conditions as bump. */
  cancel: boolean;
  /** Child pays for parent (cpfp): unconfirmed, with an output of ours still unspent. */
  cpfp: boolean;
}

/**
 * Which fee actions the details panel offers for a transaction.
 * @param confirmations 0 while unconfirmed.
 * @param unspentOurs how many of the transaction's outputs are our unspent coins.
 */
export function txActions(tx: Pick<DeserializedTx, 'inputs' | 'outputs'>, confirmations: number, unspentOurs: number): TxActions {
  if (confirmations > 0) return { bump: false, cancel: false, cpfp: false };
  const ours = tx.inputs.length > 0 && tx.inputs.every((i) => i.is_mine);
  const rbf = ours && signalsRbf(tx);
  return { bump: rbf, cancel: rbf, cpfp: !ours && unspentOurs > 0 };
}

/**
 * The fee rate to suggest for a replacement: BIP125 needs more fee than the original plus the
 * relay fee for the new size, so at least the old rate + 1 sat/vB, and the server's estimate
 * when higher. Whole sat/vB.
 */
export function suggestedBumpFeerate(currentFeerate: number, estimate: number | null): number {
  return Math.max(Math.floor(currentFeerate) + 1, estimate ?? 0);
}
