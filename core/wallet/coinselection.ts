import { randomInt } from 'node:crypto';

/**
 * Coin selection. Coins are grouped by address first (Electrum's coinchooser buckets; Bitcoin
 * Core's -avoidpartialspends): a spend takes every coin of an address or none, so a transaction
 * never reveals that two outputs at one address have one owner only partly. Then:
 *
 * 1. Branch and bound (Bitcoin Core's SelectCoinsBnB, after Murch's "An Evaluation of Coin
 *    Selection Strategies"): a depth-first search over groups sorted by effective value for a
 *    set whose effective value lies in [target, target + costOfChange], so the transaction needs
 *    no change output (the small excess goes to the fee). Least excess wins, then fewest inputs.
 * 2. Otherwise single random draw over the groups: groups in random order until they cover the
 *    target plus a change output that is not dust. Random order avoids the fingerprint of
 *    largest-first and, unlike it, does not always sweep the big coins.
 *
 * Effective value = value − fee to spend the input at the target feerate (all amounts integer
 * satoshis, per-input fee rounded up). Groups with non-positive effective value are skipped.
 */

/** One spendable coin. */
export interface SelectionCoin {
  /** "txid:vout". */
  outpoint: string;
  valueSat: number;
  /** Coins sharing an address are spent together. */
  address: string;
}

export interface SelectionRequest<C extends SelectionCoin> {
  coins: readonly C[];
  /**
   * What the inputs' effective values must cover: the outputs' total plus the fee of the
   * transaction without inputs and without change (integer sat).
   */
  targetSat: number;
  /** Fee to spend one input at the feerate (integer sat, ≥ 0). */
  inputFeeSat: number;
  /** Fee of a change output at the feerate plus the fee to spend it later (BnB's window). */
  costOfChangeSat: number;
  /** Fee of adding a change output at the feerate (integer sat). */
  changeOutputFeeSat: number;
  /** Smallest change worth creating (dust limit of the change script). */
  minChangeSat: number;
  /** Random integer in [0, n) (tests inject a deterministic one). */
  random?: (n: number) => number;
}

export interface SelectionResult<C extends SelectionCoin> {
  coins: C[];
  /** 'bnb': exact match, no change. 'srd': random draw, change when above the dust limit. */
  algorithm: 'bnb' | 'srd';
}

/** Maximum search steps of branch and bound (Bitcoin Core: 100 000). */
export const BNB_MAX_TRIES = 100_000;

interface Group<C> {
  coins: C[];
  effectiveSat: number;
}

/** Groups coins by address with their summed effective value, largest first. */
function groupByAddress<C extends SelectionCoin>(coins: readonly C[], inputFeeSat: number): Group<C>[] {
  const byAddress = new Map<string, C[]>();
  for (const c of coins) {
    const list = byAddress.get(c.address);
    if (list) list.push(c);
    else byAddress.set(c.address, [c]);
  }
  return [...byAddress.values()]
    .map((list) => ({ coins: list, effectiveSat: list.reduce((s, c) => s + c.valueSat - inputFeeSat, 0) }))
    .filter((g) => g.effectiveSat > 0)
    .sort((a, b) => b.effectiveSat - a.effectiveSat || a.coins[0]!.outpoint.localeCompare(b.coins[0]!.outpoint));
}

/**
 * Branch and bound over `groups` (sorted by effective value, descending): the subset whose
 * effective sum is within [target, target + window] with the least excess, or null.
 */
export function branchAndBound<C>(groups: readonly Group<C>[], targetSat: number, windowSat: number): Group<C>[] | null {
  let available = groups.reduce((s, g) => s + g.effectiveSat, 0);
  if (available < targetSat) return null;
  const included: boolean[] = new Array(groups.length).fill(false);
  let value = 0;
  let i = 0;
  let best: { excess: number; picks: number[] } | null = null;
  for (let tries = 0; tries < BNB_MAX_TRIES; tries++) {
    let backtrack = false;
    if (value + available < targetSat || value > targetSat + windowSat) {
      backtrack = true;
    } else if (value >= targetSat) {
      const picks = included.map((inc, k) => (inc && k < i ? k : -1)).filter((k) => k >= 0);
      const excess = value - targetSat;
      if (!best || excess < best.excess || (excess === best.excess && picks.length < best.picks.length)) best = { excess, picks };
      if (excess === 0) break;
      backtrack = true;
    } else if (i >= groups.length) {
      backtrack = true;
    }
    if (backtrack) {
      // Walk back over omitted groups (they become available again), then omit the last included one.
      while (i > 0 && !included[i - 1]) {
        i--;
        available += groups[i]!.effectiveSat;
      }
      if (i === 0) break;
      i--;
      included[i] = false;
      value -= groups[i]!.effectiveSat;
      i++;
      continue;
    }
    const group = groups[i]!;
    available -= group.effectiveSat;
    // Omitting a group equal to an omitted predecessor explores the same sums again: skip.
    if (i > 0 && !included[i - 1] && groups[i - 1]!.effectiveSat === group.effectiveSat) {
      included[i] = false;
    } else {
      included[i] = true;
      value += group.effectiveSat;
    }
    i++;
  }
  return best ? best.picks.map((k) => groups[k]!) : null;
}

/**
 * Selects coins for a payment: branch and bound first, then single random draw.
 * @returns null when even all coins cannot pay the target (insufficient funds).
 */
export function selectCoins<C extends SelectionCoin>(req: SelectionRequest<C>): SelectionResult<C> | null {
  const groups = groupByAddress(req.coins, req.inputFeeSat);
  const exact = branchAndBound(groups, req.targetSat, req.costOfChangeSat);
  if (exact) return { coins: exact.flatMap((g) => g.coins), algorithm: 'bnb' };

  const random = req.random ?? ((n: number) => randomInt(n));
  const order = [...groups];
  for (let k = order.length - 1; k > 0; k--) {
    const j = random(k + 1);
    [order[k], order[j]] = [order[j]!, order[k]!];
  }
  const withChange = req.targetSat + req.changeOutputFeeSat + req.minChangeSat;
  const picked: Group<C>[] = [];
  let value = 0;
  for (const g of order) {
    picked.push(g);
    value += g.effectiveSat;
    if (value >= withChange) break;
  }
  if (value < req.targetSat) return null;
  return { coins: picked.flatMap((g) => g.coins), algorithm: 'srd' };
}
