import type { BalanceResult as Balance, ChannelInfo as Channel, HistoryItem, RequestResult as PaymentRequest } from '../../core/api/client-types.js';
import { btcToMsat, btcToSat, msatFromJson } from '../lib/units.js';

/**
 * Converts the host's Electrum-style results (BTC strings) into the GUI's integer amounts once,
 * at the edge of the store. Every view reads only these shapes.
 */

export interface BalanceView {
  confirmedSat: number;
  unconfirmedSat: number;
  unmaturedSat: number;
  /** Kept on chain for the fees of anchor channels' force closes (getbalance `reserved`). */
  reservedSat: number;
  lightningMsat: bigint;
}

export function normalizeBalance(b: Balance): BalanceView {
  return {
    confirmedSat: btcToSat(b.confirmed),
    unconfirmedSat: btcToSat(b.unconfirmed ?? '0'),
    unmaturedSat: btcToSat(b.unmatured ?? '0'),
    reservedSat: btcToSat(b.reserved ?? '0'),
    lightningMsat: btcToMsat(b.lightning ?? '0'),
  };
}

export type HistoryStatus = 'pending' | 'confirmed' | 'failed' | 'complete';

export interface HistoryRow {
  /** txid or payment hash: stable React key and test id. */
  id: string;
  kind: 'onchain' | 'lightning';
  /** Seconds since epoch; null for unconfirmed on-chain transactions with no first-seen time. */
  timestamp: number | null;
  /** Signed: positive received, negative sent (fees included for on-chain sends, as Electrum). */
  amountMsat: bigint;
  direction: 'sent' | 'received';
  status: HistoryStatus;
  confirmations: number;
  label: string;
  /** Fee paid (Lightning routing fee or on-chain fee) when we paid it and the host knows it. */
  feeMsat: bigint | null;
}

export function normalizeHistoryItem(item: HistoryItem): HistoryRow {
  if (item.kind === 'lightning') {
    const amount = msatFromJson(item.amount_msat);
    return {
      id: item.payment_hash,
      kind: 'lightning',
      timestamp: item.timestamp,
      amountMsat: item.direction === 'sent' && amount > 0n ? -amount : amount,
      direction: item.direction,
      status: item.status,
      confirmations: 0,
      label: item.label,
      feeMsat: item.fee_msat === null ? null : msatFromJson(item.fee_msat),
    };
  }
  const sat = btcToSat(item.bc_value);
  return {
    id: item.txid,
    kind: 'onchain',
    timestamp: item.timestamp,
    amountMsat: BigInt(sat) * 1000n,
    direction: item.incoming ? 'received' : 'sent',
    status: item.confirmations > 0 ? 'confirmed' : 'pending',
    confirmations: item.confirmations,
    label: item.label,
    feeMsat: item.fee_sat === null || item.incoming ? null : BigInt(item.fee_sat) * 1000n,
  };
}

/** Newest first; unconfirmed (no timestamp) on top, as in Electrum. */
export function sortHistory(rows: HistoryRow[]): HistoryRow[] {
  return [...rows].sort((a, b) => (b.timestamp ?? Number.MAX_SAFE_INTEGER) - (a.timestamp ?? Number.MAX_SAFE_INTEGER));
}

export interface ChannelView {
  channelPoint: string;
  channelId: string;
  scid: string | null;
  state: string;
  localSat: number;
  remoteSat: number;
  capacitySat: number;
  remotePubkey: string;
  peerState: string;
  /** CHANNEL, or BACKUP: known only from a channel backup (the peer must close it: request_force_close). */
  type: 'CHANNEL' | 'BACKUP';
}

export function normalizeChannel(c: Channel): ChannelView {
  return {
    channelPoint: c.channel_point,
    channelId: c.channel_id,
    scid: c.short_channel_id ?? null,
    state: c.state,
    localSat: c.local_balance,
    remoteSat: c.remote_balance,
    capacitySat: c.capacity,
    remotePubkey: c.remote_pubkey,
    peerState: c.peer_state,
    type: c.type ?? 'CHANNEL',
  };
}

export interface RequestView {
  key: string;
  amountSat: number;
  message: string;
  timestamp: number;
  expiry: number;
  /** Electrum's PR_* code: 0 unpaid, 1 expired, 3 paid, 4 inflight, 5 failed, 7 unconfirmed. */
  status: number;
  statusText: string;
  address: string | undefined;
  uri: string | undefined;
  invoice: string | undefined;
}

export function normalizeRequest(r: PaymentRequest): RequestView {
  return {
    key: r.rhash,
    amountSat: r.amount_sat,
    message: r.message,
    timestamp: r.timestamp,
    expiry: r.expiry,
    status: r.status,
    statusText: r.status_str,
    address: r.address || undefined,
    uri: r.URI || undefined,
    invoice: r.lightning_invoice || undefined,
  };
}
