import { describe, expect, it } from 'vitest';
import type { ServerBanItem } from '../../core/api/client-types.js';
import { formatDate } from './history.js';
import { serverBanViews } from './server-bans.js';

const ban = (server: string, bannedAt: number, reason = 'Header 101 fails proof of work'): ServerBanItem => ({
  server,
  reason,
  banned_at: bannedAt,
  expires_at: bannedAt + 86_400,
});

describe('server ban display', () => {
  it('lists the most recent ban first, ties by server, with the expiry in local time', () => {
    const views = serverBanViews([ban('b.example:50002:s', 1_700_000_000), ban('c.example:50001:t', 1_700_000_500, 'Invalid merkle proof'), ban('a.example:50002:s', 1_700_000_000)]);
    expect(views.map((v) => v.server)).toEqual(['c.example:50001:t', 'a.example:50002:s', 'b.example:50002:s']);
    expect(views[0]).toEqual({ server: 'c.example:50001:t', reason: 'Invalid merkle proof', until: formatDate(1_700_086_900) });
    expect(views[0]!.until).toMatch(/^\d{1,2} Nov 2023, \d{2}:\d{2}$/);
  });
  it('leaves the host list untouched, and an empty list empty', () => {
    const list = [ban('b.example:50002:s', 1), ban('a.example:50002:s', 2)];
    serverBanViews(list);
    expect(list.map((b) => b.server)).toEqual(['b.example:50002:s', 'a.example:50002:s']);
    expect(serverBanViews([])).toEqual([]);
  });
});
