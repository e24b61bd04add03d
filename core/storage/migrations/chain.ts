import type { Migration } from './index.js';

/** Tables owned by core/chain. */
export const chainMigrations: Migration[] = [];
