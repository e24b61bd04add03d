/** How History shows a row's date, status and status colour. */
import type { HistoryRow } from '../store/normalize.js';

/** "21 Nov 2026, 03:22" in the user's time zone; "Just now" for an unconfirmed transaction. */
export function formatDate(ts: number | null): string {
  if (ts === null) return 'Just now';
  return DATE_FORMAT.format(new Date(ts * 1000));
}

/** One formatter for every row: building an Intl.DateTimeFormat per call costs more than the formatting. */
const DATE_FORMAT = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });

/** Lightning: Complete / In progress / Failed; on-chain: Unconfirmed, n confirmation(s), Confirmed from 6. */
export function statusText(row: HistoryRow): string {
  if (row.kind === 'lightning') return row.status === 'complete' ? 'Complete' : row.status === 'pending' ? 'In progress' : 'Failed';
  if (row.confirmations === 0) return 'Unconfirmed';
  return row.confirmations >= 6 ? 'Confirmed' : `${row.confirmations} confirmation${row.confirmations === 1 ? '' : 's'}`;
}

/** The badge class: bad for failed, warn while pending or under 6 confirmations, ok otherwise. */
export function statusTone(row: HistoryRow): string {
  if (row.status === 'failed') return 'badge-bad';
  if (row.status === 'pending' || (row.kind === 'onchain' && row.confirmations < 6)) return 'badge-warn';
  return 'badge-ok';
}
