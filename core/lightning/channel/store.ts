import { FulmenError } from '../../util/errors.js';
import type { Db } from '../../storage/db.js';
import { seal, unseal } from '../../storage/crypto.js';
import { decodeChannelData, type ChannelData, type ChannelPersistence, type PersistedChannel } from './channel.js';

/**
 * SQLite persistence of channels (table lightning_channels, core/storage/migrations/lightning.ts).
 * Each save is one transaction on a database opened with synchronous=FULL, so it is durable
 * when `saveChannel` returns. With a `storageKey` (wallet password), the state JSON is sealed
 * with XChaCha20-Poly1305 (core/storage/crypto.ts), bound to the row's key index.
 */
export class ChannelStore implements ChannelPersistence {
  constructor(
    private readonly db: Db,
    private readonly storageKey: Uint8Array | null = null,
  ) {}

  private aad(keyIndex: number): Uint8Array {
    return new TextEncoder().encode(`lightning_channels/${keyIndex}`);
  }

  saveChannel(r: PersistedChannel): void {
    const text = new TextEncoder().encode(r.data);
    const blob = this.storageKey ? seal(this.storageKey, text, this.aad(r.keyIndex)) : text;
    this.db
      .prepare(
        `INSERT INTO lightning_channels (key_index, channel_id, remote_node_id, state, is_funder, funding_txid,
           funding_output_index, short_channel_id, sealed, data, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (key_index) DO UPDATE SET channel_id = excluded.channel_id, state = excluded.state,
           funding_txid = excluded.funding_txid, funding_output_index = excluded.funding_output_index,
           short_channel_id = excluded.short_channel_id, sealed = excluded.sealed, data = excluded.data,
           updated_at = excluded.updated_at`,
      )
      .run(
        r.keyIndex,
        r.channelId,
        r.remoteNodeId,
        r.state,
        r.isFunder ? 1 : 0,
        r.fundingTxid,
        r.fundingOutputIndex,
        r.shortChannelId === null ? null : r.shortChannelId.toString(),
        this.storageKey ? 1 : 0,
        Buffer.from(blob),
        Date.now(),
      );
  }

  /** All stored channels' state. @throws FulmenError WRONG_PASSWORD when sealed rows cannot be opened. */
  loadAll(): ChannelData[] {
    const rows = this.db.prepare('SELECT key_index, sealed, data FROM lightning_channels ORDER BY key_index').all() as {
      key_index: number;
      sealed: number;
      data: Buffer;
    }[];
    return rows.map((row) => {
      let bytes: Uint8Array = new Uint8Array(row.data);
      if (row.sealed) {
        if (!this.storageKey) throw new FulmenError('WRONG_PASSWORD', 'The wallet password is needed to open its channels');
        bytes = unseal(this.storageKey, bytes, this.aad(row.key_index));
      }
      return decodeChannelData(new TextDecoder().decode(bytes));
    });
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
