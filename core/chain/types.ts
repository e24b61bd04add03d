/**
 * The contract between the chain layer (Electrum protocol, SPV) and its consumers (wallet,
 * lightning watcher, node). Implemented by `ChainNetwork` in core/chain/network.ts.
 *
 * Hex strings: txids and block hashes in the usual display (big-endian) order; scripthashes as in
 * the Electrum protocol (sha256 of the scriptPubKey, byte-reversed, hex).
 */
import type { Transaction } from 'bitcoinjs-lib';

/** One entry of `blockchain.scripthash.get_history` (height 0 or -1: mempool). */
export interface HistoryEntry {
  txid: string;
  height: number;
}

/** A block header already validated by HeaderChain (linkage and PoW). */
export interface VerifiedHeader {
  height: number;
  hash: string;
  /** 80-byte raw header, hex. */
  raw: string;
  /** Block time, unix seconds. */
  timestamp: number;
}

/** Confirmation state of a transaction as proven by SPV. */
export interface TxConfirmation {
  txid: string;
  /** Block height, or 0 for unconfirmed (mempool). */
  height: number;
  /** true once the merkle proof against our verified header chain has been checked. */
  verified: boolean;
  blockHash?: string;
  timestamp?: number;
  /**
   * Index of the transaction in its block (`pos` of blockchain.transaction.get_merkle), when the
   * proof was checked. Lightning needs it for short_channel_id (BOLT 7).
   */
  position?: number;
}

export type ChainEvent =
  /**
   * A new validated tip. `forkHeight` is set after a reorg: headers at and above it were replaced,
   * so confirmations at those heights must be verified again.
   */
  | { type: 'tip'; header: VerifiedHeader; forkHeight?: number }
  | { type: 'connection'; connected: boolean; server: string | null }
  | { type: 'scripthash'; scripthash: string; status: string | null }
  /**
   * One Electrum server's state changed (several servers: see ChainNetwork). `banned`: it was
   * caught lying (bad header, proof, transaction, history, JSON; `reason` says which) and is not
   * used again this session (the ban is stored first, so `serverBans()` lists it). `unbanned`:
   * its ban was lifted (`liftBan`). `stale`: it follows a chain with less work than ours (not used as
   * main server). `main`: it became the server for wallet data. `connected`/`disconnected`:
   * its connection went up or down (reconnects follow with backoff).
   */
  | {
      type: 'server';
      server: string;
      status: 'connected' | 'disconnected' | 'main' | 'stale' | 'banned' | 'unbanned';
      reason?: string;
    };

/** A transaction's raw bytes, checked to hash to its txid, and the transaction parsed from them. */
export interface CheckedTransaction {
  raw: Uint8Array;
  tx: Transaction;
}

/**
 * What the wallet and Lightning layers may ask of the chain. Every method that returns chain
 * data returns only data that was checked: transactions hash to their txid, confirmations are
 * merkle-verified against validated headers.
 */
export interface ChainSource {
  /** Current validated tip, or null before the first header arrived. */
  tip(): VerifiedHeader | null;
  /** True while at least one server connection is up. */
  isConnected(): boolean;
  /** Subscribe to chain events. Returns an unsubscribe function. */
  on(listener: (event: ChainEvent) => void): () => void;
  /**
   * `blockchain.scripthash.subscribe`; the listener registered with `on` then receives
   * `scripthash` events when the status changes. Returns the current status (null: no history).
   * @throws FulmenError NETWORK when no server is connected.
   */
  subscribeScripthash(scripthash: string): Promise<string | null>;
  /** `blockchain.scripthash.get_history`. @throws FulmenError NETWORK / SERVER_MISBEHAVED. */
  getHistory(scripthash: string): Promise<HistoryEntry[]>;
  /**
   * `blockchain.transaction.get`, checked: the returned bytes hash to `txid`.
   * @returns raw transaction hex. @throws FulmenError SERVER_MISBEHAVED on mismatch.
   */
  getTransaction(txid: string): Promise<string>;
  /**
   * `getTransaction` without the hex round trip: the checked bytes and the transaction parsed from
   * them (one parse, one txid hash; the parsed transaction may be shared: read only).
   * `options.cache` false: the caller stores the bytes itself, so they are not also written to the
   * chain's transaction cache (default true). Optional for ChainSource stand-ins.
   * @throws as `getTransaction`.
   */
  getCheckedTransaction?(txid: string, options?: { cache?: boolean }): Promise<CheckedTransaction>;
  /**
   * Proves that `txid` is in the block at `height` (`blockchain.transaction.get_merkle` checked
   * against our validated header). `size`: the transaction's non-witness serialized size in bytes
   * when the caller holds bytes already checked to hash to `txid` (spares fetching the transaction
   * again for the 64-byte check); otherwise the transaction is fetched and checked.
   * @throws FulmenError SERVER_MISBEHAVED when the proof is wrong.
   */
  verifyTransaction(txid: string, height: number, size?: number): Promise<TxConfirmation>;
  /** `blockchain.transaction.broadcast`. @returns txid. @throws FulmenError NETWORK or BAD_INPUT (rejected). */
  broadcast(rawTxHex: string): Promise<string>;
  /** `blockchain.estimatefee` for `targetBlocks`, converted to integer sat/vB (>= relay fee). */
  estimateFeeSatPerVbyte(targetBlocks: number): Promise<number>;
  /** `blockchain.relayfee` as integer sat/vB (rounded up). */
  relayFeeSatPerVbyte(): Promise<number>;
  /**
   * `mempool.get_fee_histogram`: [feerate sat/vB, vsize] pairs, feerate descending; each vsize is
   * the mempool weight (vbytes) paying about that feerate. Optional for ChainSource stand-ins.
   */
  getFeeHistogram?(): Promise<[number, number][]>;
  /** Validated header at `height` (downloaded if needed). */
  getHeader(height: number): Promise<VerifiedHeader>;
}
