import type { Migration } from './index.js';

/** Tables owned by core/lightning. */
export const lightningMigrations: Migration[] = [];
