/** BOLT 11 payment requests. */
export * from './bolt11.js';
