import { walletMigrations } from './wallet.js';
import { chainMigrations } from './chain.js';
import { lightningMigrations } from './lightning.js';

export interface Migration {
  /** Unique, ordered id, e.g. '001_wallet_keys'. Never edit a migration once released. */
  id: string;
  sql: string;
}

/** All migrations in application order. Each layer owns its file. */
export const migrations: Migration[] = [...walletMigrations, ...chainMigrations, ...lightningMigrations];
