import type { Db } from '../storage/db.js';

/** A ban lasts a day by default: long enough to outlive a restart, short enough for a fixed server to come back. */
export const DEFAULT_BAN_DURATION_MS = 24 * 60 * 60 * 1000;

/** One remembered ban. Times in unix milliseconds (stored as seconds, rounded up for the expiry). */
export interface ServerBan {
  server: string;
  reason: string;
  bannedAt: number;
  expiresAt: number;
}

/**
 * Bans of Electrum servers that lied, kept in SQLite (`chain_server_bans`,
 * core/storage/migrations/chain.ts) so that a restart does not hand the wallet back to a server
 * already caught lying. Each ban has an expiry; expired rows are ignored and deleted on read.
 * Keys are server strings as configured (`host:port:t|s`).
 */
export class SqliteServerBans {
  private readonly selectActive: { all(now: number): unknown[] };
  private readonly deleteExpired: { run(now: number): unknown };
  private readonly upsert: { run(server: string, reason: string, bannedAt: number, expiresAt: number): unknown };
  private readonly remove: { run(server: string): unknown };

  constructor(db: Db) {
    this.selectActive = db.prepare('SELECT server, reason, banned_at, expires_at FROM chain_server_bans WHERE expires_at > ?');
    this.deleteExpired = db.prepare('DELETE FROM chain_server_bans WHERE expires_at <= ?');
    this.upsert = db.prepare(
      'INSERT INTO chain_server_bans (server, reason, banned_at, expires_at) VALUES (?, ?, ?, ?) ' +
        'ON CONFLICT(server) DO UPDATE SET reason = excluded.reason, banned_at = excluded.banned_at, expires_at = excluded.expires_at',
    );
    this.remove = db.prepare('DELETE FROM chain_server_bans WHERE server = ?');
  }

  /** Bans still in force at `nowMs` (unix ms); expired ones are deleted. */
  active(nowMs: number = Date.now()): ServerBan[] {
    const now = Math.floor(nowMs / 1000);
    this.deleteExpired.run(now);
    return (this.selectActive.all(now) as { server: string; reason: string; banned_at: number; expires_at: number }[]).map((row) => ({
      server: row.server,
      reason: row.reason,
      bannedAt: row.banned_at * 1000,
      expiresAt: row.expires_at * 1000,
    }));
  }

  /** Records (or renews) the ban of `server` from `nowMs` for `durationMs`. */
  add(server: string, reason: string, durationMs: number, nowMs: number = Date.now()): ServerBan {
    const bannedAt = Math.floor(nowMs / 1000);
    const expiresAt = Math.ceil((nowMs + durationMs) / 1000);
    this.upsert.run(server, reason, bannedAt, expiresAt);
    return { server, reason, bannedAt: bannedAt * 1000, expiresAt: expiresAt * 1000 };
  }

  /** Lifts the ban of `server` (the user trusts it again). */
  lift(server: string): void {
    this.remove.run(server);
  }
}
