import type { Migration } from './index.js';

/** Tables owned by core/chain. */
export const chainMigrations: Migration[] = [
  {
    // Validated block headers (HeaderChain), one row per height and network: the 80 raw bytes.
    // Heights are contiguous from the network's checkpoint to the tip; a reorg deletes the rows
    // from the fork height up and inserts the new branch in the same transaction.
    id: 'chain_001_headers',
    sql: `CREATE TABLE chain_headers (
      network TEXT NOT NULL,
      height INTEGER NOT NULL,
      raw BLOB NOT NULL CHECK (length(raw) = 80),
      PRIMARY KEY (network, height)
    ) WITHOUT ROWID;`,
  },
  {
    // Raw transactions already checked against their txid (non-witness double-SHA256). A txid
    // commits to the transaction's non-witness bytes, so an entry never goes stale.
    id: 'chain_002_transactions',
    sql: `CREATE TABLE chain_transactions (
      txid TEXT PRIMARY KEY,
      raw BLOB NOT NULL
    ) WITHOUT ROWID;`,
  },
  {
    // TLS certificate pins (trust on first use, ElectrumInterface): the SHA-256 of the DER
    // certificate each Electrum server (host:port) presented on its first TLS connection.
    id: 'chain_003_server_certificates',
    sql: `CREATE TABLE chain_server_certificates (
      host_port TEXT PRIMARY KEY,
      sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
      first_seen INTEGER NOT NULL
    ) WITHOUT ROWID;`,
  },
  {
    // Servers caught lying (ChainNetwork bans: invalid header, wrong merkle proof, transaction
    // bytes that do not hash to the txid, ...), remembered across restarts until `expires_at`
    // (unix seconds). `server` is the Electrum server string (host:port:t|s).
    id: 'chain_004_server_bans',
    sql: `CREATE TABLE chain_server_bans (
      server TEXT PRIMARY KEY,
      reason TEXT NOT NULL,
      banned_at INTEGER NOT NULL,
      expires_at INTEGER NOT NULL
    ) WITHOUT ROWID;`,
  },
];
