/**
 * Events pushed from the core to GUIs (Electron IPC channel `fulmen:event`, daemon WebSocket
 * messages `{ event, data }`). Each carries the new state, so a GUI store can replace its slice
 * without a round trip. Type-only apart from the name list; importable by renderer code.
 */
import type { BalanceResult, ChannelInfo, HistoryItem, ServerBanItem } from './client-types.js';

export interface StatusEvent {
  network: 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest';
  connected: boolean;
  /** `host:port:t|s`, null when disconnected. */
  server: string | null;
  blockchain_height: number;
  wallet_loaded: boolean;
  /** Lightning node running (wallet loaded and network started). */
  lightning: boolean;
}

export interface PaymentEvent {
  payment_hash: string;
  direction: 'sent' | 'received';
  status: 'pending' | 'complete' | 'failed';
  /** Integer msat, decimal string. */
  amount_msat: string;
  /** Failure reason for status 'failed'. */
  error?: string;
}

export interface FulmenEvents {
  /** The wallet balance changed (same shape as getbalance). */
  balance: BalanceResult;
  /** The merged history changed (same as the `history` command). */
  history: HistoryItem[];
  /** A channel was added or changed state/balance (same as list_channels). */
  channels: ChannelInfo[];
  /** A Lightning payment started, settled or failed. */
  payment: PaymentEvent;
  /** Connection, height or wallet state changed. */
  status: StatusEvent;
  /**
   * An Electrum server was banned for lying, or a ban was lifted (unban_server, or its expiry):
   * the bans now in force (same as list_server_bans).
   */
  server_bans: ServerBanItem[];
}

export type FulmenEventName = keyof FulmenEvents;

/** The wire form of a pushed event. */
export type FulmenEventMessage = { [K in FulmenEventName]: { event: K; data: FulmenEvents[K] } }[FulmenEventName];

export const FULMEN_EVENT_NAMES: readonly FulmenEventName[] = ['balance', 'history', 'channels', 'payment', 'status', 'server_bans'];
