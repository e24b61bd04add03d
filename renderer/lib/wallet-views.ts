/**
 * Filtering and sorting of the History sub-views (Addresses, Coins), over the host's results
 * (listaddresses, listunspent). Pure, so unit-tested.
 */
import type { AddressItem, UnspentItem } from '../../core/api/client-types.js';

export interface AddressFilter {
  type: 'all' | 'receiving' | 'change';
  hideUsed: boolean;
}

/** The addresses matching `filter`, in the host's order (receiving first, by index). */
export function filterAddresses(list: readonly AddressItem[], filter: AddressFilter): AddressItem[] {
  return list.filter((a) => (filter.type === 'all' || a.type === filter.type) && !(filter.hideUsed && a.used));
}

export type CoinSort = 'value' | 'age';

/**
 * Coins sorted for display: by value (largest first) or by age (oldest confirmed first,
 * unconfirmed last); ties broken by outpoint so the order is stable.
 */
export function sortCoins(list: readonly UnspentItem[], by: CoinSort): UnspentItem[] {
  const height = (c: UnspentItem) => (c.height > 0 ? c.height : Number.MAX_SAFE_INTEGER);
  const outpoint = (a: UnspentItem, b: UnspentItem) => a.prevout_hash.localeCompare(b.prevout_hash) || a.prevout_n - b.prevout_n;
  return [...list].sort((a, b) => (by === 'value' ? b.value_sat - a.value_sat : height(a) - height(b)) || outpoint(a, b));
}

/** Totals of a coin list, integer sat: spendable, frozen, and immature coinbase outputs (not frozen, < 100 confirmations). */
export function coinTotals(list: readonly UnspentItem[]): { spendableSat: number; frozenSat: number; immatureSat: number } {
  let spendableSat = 0;
  let frozenSat = 0;
  let immatureSat = 0;
  for (const c of list) {
    if (c.frozen) frozenSat += c.value_sat;
    else if (c.immature) immatureSat += c.value_sat;
    else spendableSat += c.value_sat;
  }
  return { spendableSat, frozenSat, immatureSat };
}
