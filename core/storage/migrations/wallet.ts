import type { Migration } from './index.js';

/** Tables owned by core/wallet. */
export const walletMigrations: Migration[] = [];
