import Database from 'better-sqlite3';
import { migrations } from './migrations/index.js';

export type Db = Database.Database;

/**
 * Opens (creating if needed) the wallet database at `path` with the durability Fulmen relies on:
 * WAL journal, `synchronous=FULL` (a committed transaction survives power loss), foreign keys on.
 * Applies pending migrations in order inside one transaction each.
 * Use ':memory:' for tests.
 */
export function openDatabase(path: string): Db {
  const db = new Database(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = FULL');
  db.pragma('foreign_keys = ON');
  migrate(db);
  return db;
}

function migrate(db: Db): void {
  db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (id TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)');
  const applied = new Set(
    (db.prepare('SELECT id FROM schema_migrations').all() as { id: string }[]).map((r) => r.id),
  );
  for (const m of migrations) {
    if (applied.has(m.id)) continue;
    db.transaction(() => {
      db.exec(m.sql);
      db.prepare('INSERT INTO schema_migrations (id, applied_at) VALUES (?, ?)').run(m.id, Date.now());
    })();
  }
}
