import type { Statement } from 'better-sqlite3';
import { FulmenError } from '../../util/errors.js';
import type { Db } from '../../storage/db.js';
import { seal, unseal } from '../../storage/crypto.js';
import { decodeChannelData, decodeStateJson, encodeStateJson, type ChannelData, type ChannelPersistence, type PersistableChannel } from './channel.js';
import type { HtlcRecord } from './htlc-log.js';

/**
 * SQLite persistence of channels (tables lightning_channels and lightning_htlc_archive,
 * core/storage/migrations/lightning.ts) on a database opened with synchronous=FULL. With a
 * `storageKey` (wallet password), the state JSON is sealed with XChaCha20-Poly1305
 * (core/storage/crypto.ts), bound to the row's key.
 *
 * Two modes:
 * - immediate (default): each `channelChanged` is one transaction, durable when it returns;
 * - commit group (`beginGroup` … `commitGroup`): one SQLite transaction for everything written
 *   in between, on this connection, by anyone (payments, invoices); each changed channel row is
 *   serialized once, at commit. The caller must not send a message that depends on the group
 *   before `commitGroup` returns (the node holds its peers' output until then). This is how many
 *   BOLT 2 updates share one fsync while "commit before send" still holds per batch.
 */
export class ChannelStore implements ChannelPersistence {
  private readonly changed = new Set<PersistableChannel>();
  private grouping = false;
  private readonly saveStatement: Statement;
  private readonly archiveStatement: Statement;

  constructor(
    private readonly db: Db,
    private readonly storageKey: Uint8Array | null = null,
  ) {
    this.saveStatement = db.prepare(
      `INSERT INTO lightning_channels (key_index, channel_id, remote_node_id, state, is_funder, funding_txid,
         funding_output_index, short_channel_id, sealed, data, updated_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (key_index) DO UPDATE SET channel_id = excluded.channel_id, state = excluded.state,
         funding_txid = excluded.funding_txid, funding_output_index = excluded.funding_output_index,
         short_channel_id = excluded.short_channel_id, sealed = excluded.sealed, data = excluded.data,
         updated_at = excluded.updated_at`,
    );
    this.archiveStatement = db.prepare('INSERT OR REPLACE INTO lightning_htlc_archive (channel_key_index, seq, sealed, data) VALUES (?, ?, ?, ?)');
  }

  private seal(text: string, aad: string): Buffer {
    const bytes = new TextEncoder().encode(text);
    return Buffer.from(this.storageKey ? seal(this.storageKey, bytes, new TextEncoder().encode(aad)) : bytes);
  }

  private unseal(blob: Buffer, sealed: number, aad: string): string {
    let bytes: Uint8Array = new Uint8Array(blob);
    if (sealed) {
      if (!this.storageKey) throw new FulmenError('WRONG_PASSWORD', 'The wallet password is needed to open its channels');
      bytes = unseal(this.storageKey, bytes, new TextEncoder().encode(aad));
    }
    return new TextDecoder().decode(bytes);
  }

  /** Writes one channel's row and appends its newly settled HTLCs (inside the caller's transaction). */
  private write(channel: PersistableChannel): void {
    const r = channel.record();
    for (const h of channel.takeSettledHtlcs()) {
      this.archiveStatement.run(r.keyIndex, h.seq, this.storageKey ? 1 : 0, this.seal(encodeStateJson(h), `lightning_htlc_archive/${r.keyIndex}/${h.seq}`));
    }
    this.saveStatement.run(
      r.keyIndex,
      r.channelId,
      r.remoteNodeId,
      r.state,
      r.isFunder ? 1 : 0,
      r.fundingTxid,
      r.fundingOutputIndex,
      r.shortChannelId === null ? null : r.shortChannelId.toString(),
      this.storageKey ? 1 : 0,
      this.seal(r.data, `lightning_channels/${r.keyIndex}`),
      Date.now(),
    );
  }

  channelChanged(channel: PersistableChannel): void {
    if (this.grouping) {
      this.changed.add(channel);
      return;
    }
    this.db.transaction(() => this.write(channel))();
  }

  /** True between beginGroup and commitGroup/abortGroup. */
  get inGroup(): boolean {
    return this.grouping;
  }

  /**
   * Opens a commit group: one SQLite transaction (BEGIN IMMEDIATE) until `commitGroup`.
   * @throws FulmenError INTERNAL when a group is open or another transaction is active.
   */
  beginGroup(): void {
    if (this.grouping || this.db.inTransaction) throw new FulmenError('INTERNAL', 'A storage transaction is already open');
    this.db.exec('BEGIN IMMEDIATE');
    this.grouping = true;
  }

  /** Writes every channel changed in the group and commits (durable on return: synchronous=FULL). */
  commitGroup(): void {
    if (!this.grouping) return;
    try {
      for (const ch of this.changed) this.write(ch);
      this.db.exec('COMMIT');
    } catch (err) {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
      throw err;
    } finally {
      this.changed.clear();
      this.grouping = false;
    }
  }

  /** All stored channels' state. @throws FulmenError WRONG_PASSWORD when sealed rows cannot be opened. */
  loadAll(): ChannelData[] {
    const rows = this.db.prepare('SELECT key_index, sealed, data FROM lightning_channels ORDER BY key_index').all() as {
      key_index: number;
      sealed: number;
      data: Buffer;
    }[];
    return rows.map((row) => decodeChannelData(this.unseal(row.data, row.sealed, `lightning_channels/${row.key_index}`)));
  }

  settledHtlcs(keyIndex: number): HtlcRecord[] {
    const rows = this.db.prepare('SELECT seq, sealed, data FROM lightning_htlc_archive WHERE channel_key_index = ? ORDER BY seq').all(keyIndex) as {
      seq: number;
      sealed: number;
      data: Buffer;
    }[];
    return rows.map((row) => decodeStateJson<HtlcRecord>(this.unseal(row.data, row.sealed, `lightning_htlc_archive/${keyIndex}/${row.seq}`)));
  }

  /** Reserves the next per-channel key index (committed before it is used, never reused). */
  allocateKeyIndex(): number {
    return this.db.transaction(() => {
      const row = this.db.prepare("SELECT value FROM lightning_meta WHERE key = 'next_channel_key_index'").get() as { value: string } | undefined;
      const maxRow = this.db.prepare('SELECT MAX(key_index) AS m FROM lightning_channels').get() as { m: number | null };
      const next = Math.max(row ? Number(row.value) : 0, (maxRow.m ?? -1) + 1);
      this.db
        .prepare("INSERT INTO lightning_meta (key, value) VALUES ('next_channel_key_index', ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value")
        .run(String(next + 1));
      return next;
    })();
  }
}
