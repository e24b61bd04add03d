/** BOLT 1 wire layer: fundamental types, TLV, feature bits (BOLT 9) and message codecs. */
export * from './codec.js';
export * from './tlv.js';
export * from './features.js';
export * from './messages.js';
