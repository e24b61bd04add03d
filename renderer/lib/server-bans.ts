/** How Preferences lists the Electrum servers banned for lying (list_server_bans). Pure, so unit-tested. */
import type { ServerBanItem } from '../../core/api/client-types.js';
import { formatDate } from './history.js';

export interface ServerBanView {
  /** `host:port:t|s`, as unban_server takes it. */
  server: string;
  /** What the server was caught at, from the host (core/chain/network.ts). */
  reason: string;
  /** When the ban lifts by itself, in the user's time zone: "21 Nov 2026, 03:22". */
  until: string;
}

/** Bans for display, the most recent first (ties by server, so the order is stable across refreshes). */
export function serverBanViews(list: readonly ServerBanItem[]): ServerBanView[] {
  return [...list]
    .sort((a, b) => b.banned_at - a.banned_at || a.server.localeCompare(b.server))
    .map((ban) => ({ server: ban.server, reason: ban.reason, until: formatDate(ban.expires_at) }));
}
