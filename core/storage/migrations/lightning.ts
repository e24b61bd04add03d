import type { Migration } from './index.js';

/**
 * Tables owned by core/lightning.
 *
 * - lightning_channels: one row per channel, keyed by its key index (the per-channel key
 *   derivation index, never reused). `data` holds the channel state JSON, or a sealed box of it
 *   (core/storage/crypto.ts) when the wallet has a password; `sealed` says which. No private key
 *   is stored: channel keys are re-derived from the wallet's lightning root secret + key_index.
 * - lightning_meta: counters (next_channel_key_index).
 * - lightning_invoices: invoices we issued (payment_hash, preimage, payment_secret; the secrets
 *   sealed when the wallet has a password).
 * - lightning_payments: the lightning history (sent and received payments).
 * - lightning_peers: peers to reconnect to at start.
 * - lightning_htlc_archive: settled HTLCs of each channel, append-only (channel/store.ts): taken
 *   out of the channel's live state so updates do not re-serialize the history; the watcher
 *   rebuilds revoked commitments from them. `data` is the HTLC JSON (sealed like channel rows).
 * - lightning_sweeps: the ChannelWatcher's spends of closed-channel outputs (BOLT 5): which
 *   output, its kind, from which height it is spendable, the signed transaction (written before
 *   it is broadcast, re-broadcast after a restart) and its confirmation. No key material.
 * - lightning_forwards: HTLCs we forward (node.ts): incoming ↔ outgoing HTLC and the outgoing
 *   outcome (preimage, or the wrapped failure reason). No key material, no onion shared secret.
 */
export const lightningMigrations: Migration[] = [
  {
    id: '100_lightning_initial',
    sql: `
      CREATE TABLE lightning_meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
      );
      CREATE TABLE lightning_channels (
        key_index INTEGER PRIMARY KEY,
        channel_id TEXT NOT NULL,
        remote_node_id TEXT NOT NULL,
        state TEXT NOT NULL,
        is_funder INTEGER NOT NULL,
        funding_txid TEXT,
        funding_output_index INTEGER,
        short_channel_id TEXT,
        sealed INTEGER NOT NULL,
        data BLOB NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX lightning_channels_channel_id ON lightning_channels (channel_id);
      CREATE TABLE lightning_invoices (
        payment_hash TEXT PRIMARY KEY,
        amount_msat TEXT,
        memo TEXT NOT NULL,
        invoice TEXT NOT NULL,
        created_at INTEGER NOT NULL,
        expiry_sec INTEGER NOT NULL,
        min_final_cltv_expiry INTEGER NOT NULL,
        sealed INTEGER NOT NULL,
        secrets BLOB NOT NULL
      );
      CREATE TABLE lightning_payments (
        payment_hash TEXT NOT NULL,
        direction TEXT NOT NULL CHECK (direction IN ('sent', 'received')),
        amount_msat TEXT NOT NULL,
        fee_msat TEXT NOT NULL DEFAULT '0',
        status TEXT NOT NULL CHECK (status IN ('pending', 'succeeded', 'failed')),
        preimage TEXT,
        invoice TEXT,
        memo TEXT NOT NULL DEFAULT '',
        channel_id TEXT,
        htlc_id TEXT,
        error TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (payment_hash, direction)
      );
      CREATE TABLE lightning_peers (
        node_id TEXT PRIMARY KEY,
        host TEXT NOT NULL,
        port INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    id: '101_lightning_sweeps',
    sql: `
      CREATE TABLE lightning_sweeps (
        outpoint TEXT PRIMARY KEY,
        channel_key_index INTEGER NOT NULL,
        kind TEXT NOT NULL,
        value_sat INTEGER NOT NULL,
        spendable_height INTEGER,
        txid TEXT,
        raw_tx TEXT,
        status TEXT NOT NULL CHECK (status IN ('waiting', 'broadcast', 'confirmed', 'spent_by_other', 'dust')),
        confirmed_height INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
      );
      CREATE INDEX lightning_sweeps_channel ON lightning_sweeps (channel_key_index);
    `,
  },
  {
    id: '102_lightning_htlc_archive',
    sql: `
      CREATE TABLE lightning_htlc_archive (
        channel_key_index INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        sealed INTEGER NOT NULL,
        data BLOB NOT NULL,
        PRIMARY KEY (channel_key_index, seq)
      );
    `,
  },
  {
    id: '103_lightning_channel_backups',
    sql: `
      CREATE TABLE lightning_channel_backups (
        channel_point TEXT PRIMARY KEY,
        data TEXT NOT NULL,
        updated_at INTEGER NOT NULL
      );
    `,
  },
  {
    // Sweep fee policy (watcher/fee-policy.ts): the feerate and broadcast height of the signed
    // sweep (RBF bumps after N blocks) and the txids it replaced (one of them may still confirm).
    id: '110_lightning_sweep_fee_policy',
    sql: `
      ALTER TABLE lightning_sweeps ADD COLUMN feerate_sat_per_vbyte INTEGER;
      ALTER TABLE lightning_sweeps ADD COLUMN broadcast_height INTEGER;
      ALTER TABLE lightning_sweeps ADD COLUMN prior_txids TEXT NOT NULL DEFAULT '[]';
    `,
  },
  {
    // HTLC forwarding (node.ts): the link from an incoming HTLC (channel key index, htlc_id) to the
    // outgoing HTLC we offered for it, and the outgoing outcome to settle the incoming one with
    // (status 'fulfilled' + preimage, or 'failed' + the update_fail_htlc reason already wrapped
    // for the upstream hop). Written in the same commit as the outgoing update_add_htlc;
    // settled_at (unix ms): a fulfilled forward whose incoming HTLC is done (its removal irrevocably
    // committed, or its channel REDEEMED), so the per-block deadline check skips it.
    id: '111_lightning_forwards',
    sql: `
      CREATE TABLE lightning_forwards (
        in_key_index INTEGER NOT NULL,
        in_htlc_id TEXT NOT NULL,
        out_key_index INTEGER NOT NULL,
        out_htlc_id TEXT NOT NULL,
        payment_hash TEXT NOT NULL,
        in_amount_msat TEXT NOT NULL,
        out_amount_msat TEXT NOT NULL,
        status TEXT NOT NULL,
        preimage TEXT,
        fail_reason TEXT,
        settled_at INTEGER,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        PRIMARY KEY (in_key_index, in_htlc_id)
      );
      CREATE UNIQUE INDEX lightning_forwards_out ON lightning_forwards (out_key_index, out_htlc_id);
      CREATE INDEX lightning_forwards_open ON lightning_forwards (settled_at) WHERE settled_at IS NULL;
    `,
  },
];
