import type { Db } from '../../storage/db.js';
import type { SweepKind } from './sweeps.js';

/**
 * Rows of `lightning_sweeps` (core/storage/migrations/lightning.ts): one per closed-channel output
 * the ChannelWatcher spends. A row gets its signed transaction before that transaction is
 * broadcast, so a restart re-broadcasts exactly what may already be in a mempool.
 */
export type SweepStatus = 'waiting' | 'broadcast' | 'confirmed' | 'spent_by_other' | 'dust';

export interface SweepRow {
  /** "txid:vout" of the output spent. */
  outpoint: string;
  channelKeyIndex: number;
  kind: SweepKind;
  valueSat: number;
  /** First block height in which the sweep can be mined (CSV / CLTV), null while unknown. */
  spendableHeight: number | null;
  txid: string | null;
  rawTx: string | null;
  status: SweepStatus;
  confirmedHeight: number | null;
  /** Feerate `rawTx` pays (fee-policy.ts), null for pre-signed transactions and rows older than the policy. */
  feerateSatPerVbyte: number | null;
  /** Tip height when `rawTx` was signed and first broadcast (RBF: bump after N blocks). */
  broadcastHeight: number | null;
  /** Earlier versions of our sweep replaced by RBF (any of them may still confirm). */
  priorTxids: string[];
}

interface DbRow {
  outpoint: string;
  channel_key_index: number;
  kind: SweepKind;
  value_sat: number;
  spendable_height: number | null;
  txid: string | null;
  raw_tx: string | null;
  status: SweepStatus;
  confirmed_height: number | null;
  feerate_sat_per_vbyte: number | null;
  broadcast_height: number | null;
  prior_txids: string;
}

function fromDb(r: DbRow): SweepRow {
  return {
    outpoint: r.outpoint,
    channelKeyIndex: r.channel_key_index,
    kind: r.kind,
    valueSat: r.value_sat,
    spendableHeight: r.spendable_height,
    txid: r.txid,
    rawTx: r.raw_tx,
    status: r.status,
    confirmedHeight: r.confirmed_height,
    feerateSatPerVbyte: r.feerate_sat_per_vbyte,
    broadcastHeight: r.broadcast_height,
    priorTxids: JSON.parse(r.prior_txids) as string[],
  };
}

export class SweepStore {
  constructor(private readonly db: Db) {}

  get(outpoint: string): SweepRow | null {
    const r = this.db.prepare('SELECT * FROM lightning_sweeps WHERE outpoint = ?').get(outpoint) as DbRow | undefined;
    return r ? fromDb(r) : null;
  }

  /** All sweeps of one channel (by its key index), oldest first. */
  forChannel(channelKeyIndex: number): SweepRow[] {
    const rows = this.db.prepare('SELECT * FROM lightning_sweeps WHERE channel_key_index = ? ORDER BY created_at, outpoint').all(channelKeyIndex) as DbRow[];
    return rows.map(fromDb);
  }

  /** Inserts or replaces the row (one transaction; durable when it returns: synchronous=FULL). */
  save(row: SweepRow): void {
    const now = Date.now();
    this.db
      .prepare(
        `INSERT INTO lightning_sweeps (outpoint, channel_key_index, kind, value_sat, spendable_height, txid, raw_tx, status, confirmed_height,
           feerate_sat_per_vbyte, broadcast_height, prior_txids, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (outpoint) DO UPDATE SET kind = excluded.kind, spendable_height = excluded.spendable_height, txid = excluded.txid,
           raw_tx = excluded.raw_tx, status = excluded.status, confirmed_height = excluded.confirmed_height,
           feerate_sat_per_vbyte = excluded.feerate_sat_per_vbyte, broadcast_height = excluded.broadcast_height,
           prior_txids = excluded.prior_txids, updated_at = excluded.updated_at`,
      )
      .run(
        row.outpoint,
        row.channelKeyIndex,
        row.kind,
        row.valueSat,
        row.spendableHeight,
        row.txid,
        row.rawTx,
        row.status,
        row.confirmedHeight,
        row.feerateSatPerVbyte,
        row.broadcastHeight,
        JSON.stringify(row.priorTxids),
        now,
        now,
      );
  }
}
