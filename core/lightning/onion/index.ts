/** BOLT 4 onion routing: Sphinx packets, hop payloads, failure messages. */
export * from './sphinx.js';
export * from './payload.js';
export * from './failure.js';
export * from './failure-codes.js';
