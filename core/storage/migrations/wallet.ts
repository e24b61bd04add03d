import type { Migration } from './index.js';

/** Tables owned by core/wallet. */
export const walletMigrations: Migration[] = [
  {
    id: '001_wallet',
    sql: `
      -- One row: the wallet's keys. secret_box holds JSON {mnemonic, passphrase, seed} sealed with
      -- the password-derived key (core/storage/crypto.ts), or in clear when password_salt is NULL.
      CREATE TABLE wallet_keys (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        network TEXT NOT NULL,
        xpub TEXT NOT NULL,
        password_salt BLOB,
        secret_box BLOB NOT NULL,
        created_at INTEGER NOT NULL
      );
      -- Derived addresses (BIP84 m/84'/coin'/0'/chain/idx). status: last Electrum status seen.
      CREATE TABLE wallet_addresses (
        script_hash TEXT PRIMARY KEY,
        address TEXT NOT NULL UNIQUE,
        chain INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        script_pubkey BLOB NOT NULL,
        status TEXT,
        UNIQUE (chain, idx)
      );
      -- Server history per script hash (blockchain.scripthash.get_history).
      CREATE TABLE wallet_address_history (
        script_hash TEXT NOT NULL REFERENCES wallet_addresses(script_hash),
        txid TEXT NOT NULL,
        height INTEGER NOT NULL,
        PRIMARY KEY (script_hash, txid)
      );
      -- Transactions touching the wallet. height: >0 block height, 0/-1 mempool. verified: merkle
      -- proof checked. local: broadcast by us and not (yet) reported by the server.
      CREATE TABLE wallet_txs (
        txid TEXT PRIMARY KEY,
        raw BLOB NOT NULL,
        height INTEGER NOT NULL,
        verified INTEGER NOT NULL DEFAULT 0,
        block_hash TEXT,
        timestamp INTEGER,
        is_coinbase INTEGER NOT NULL,
        local INTEGER NOT NULL DEFAULT 0,
        first_seen INTEGER NOT NULL
      );
      -- Outputs of wallet_txs paying to our addresses.
      CREATE TABLE wallet_txos (
        txid TEXT NOT NULL REFERENCES wallet_txs(txid) ON DELETE CASCADE,
        vout INTEGER NOT NULL,
        script_hash TEXT NOT NULL,
        value_sat INTEGER NOT NULL,
        PRIMARY KEY (txid, vout)
      );
      -- Every input of wallet_txs (to find spends of our outputs and compute fees).
      CREATE TABLE wallet_txins (
        txid TEXT NOT NULL REFERENCES wallet_txs(txid) ON DELETE CASCADE,
        n INTEGER NOT NULL,
        prev_txid TEXT NOT NULL,
        prev_vout INTEGER NOT NULL,
        PRIMARY KEY (txid, n)
      );
      CREATE INDEX wallet_txins_prevout ON wallet_txins (prev_txid, prev_vout);
      CREATE TABLE wallet_labels (
        key TEXT PRIMARY KEY,
        text TEXT NOT NULL
      );
      -- Receive requests (Electrum add_request). created_at unix seconds; expiry_sec 0 = never.
      CREATE TABLE payment_requests (
        rhash TEXT PRIMARY KEY,
        amount_sat INTEGER,
        memo TEXT NOT NULL,
        address TEXT,
        lightning_invoice TEXT,
        created_at INTEGER NOT NULL,
        expiry_sec INTEGER NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('unpaid', 'paid', 'expired', 'inflight'))
      );
      CREATE INDEX payment_requests_address ON payment_requests (address);
    `,
  },
  {
    id: '002_wallet_seed_types_coin_control',
    sql: `
      -- seed_type: 'bip39' (BIP84 m/84'/coin'/0'), 'electrum' (Electrum segwit seed, m/0'), or
      -- 'xpub' (watch-only, no secret). account_path: derivation of xpub from the seed (NULL for
      -- xpub). root_fingerprint: BIP32 fingerprint of the master key (hex), for PSBT key origins.
      ALTER TABLE wallet_keys ADD COLUMN seed_type TEXT NOT NULL DEFAULT 'bip39';
      ALTER TABLE wallet_keys ADD COLUMN account_path TEXT;
      ALTER TABLE wallet_keys ADD COLUMN root_fingerprint TEXT;
      -- Coins the user froze (Electrum freeze_utxo): never selected automatically. "txid:vout".
      CREATE TABLE wallet_frozen_coins (
        outpoint TEXT PRIMARY KEY
      );
    `,
  },
  {
    id: '003_wallet_sync_indexes',
    sql: `
      -- Confirmations still to merkle-verify (the sync worker asks after every pass).
      CREATE INDEX wallet_txs_unverified ON wallet_txs (height) WHERE verified = 0;
      -- Which script hashes list a transaction (reorgs, removal of vanished transactions).
      CREATE INDEX wallet_address_history_txid ON wallet_address_history (txid);
      -- Outputs of one address (requests paid, used addresses).
      CREATE INDEX wallet_txos_script_hash ON wallet_txos (script_hash);
    `,
  },
  {
    id: '004_wallet_tx_state_index',
    sql: `
      -- The state columns of wallet_txs without its raw blobs: balance and coin queries join
      -- every output with its transaction and would otherwise read each raw transaction's pages.
      CREATE INDEX wallet_txs_state ON wallet_txs (txid, height, verified, is_coinbase);
    `,
  },
  {
    id: '005_wallet_reserved_addresses',
    sql: `
      -- Addresses handed out once for a purpose that commits to them ahead of use (a channel's
      -- BOLT 2 upfront_shutdown_script): getUnusedAddress/getNewChangeAddress skip them until they
      -- have history, and the look-ahead trim keeps them. purpose: free text, e.g.
      -- 'upfront_shutdown_script'. created_at: unix seconds.
      CREATE TABLE wallet_reserved_addresses (
        script_hash TEXT PRIMARY KEY,
        purpose TEXT NOT NULL,
        created_at INTEGER NOT NULL
      );
    `,
  },
  {
    id: '006_wallet_tx_block_position',
    sql: `
      -- Index of a verified transaction in its block (the merkle proof's pos; NULL until verified,
      -- and for transactions verified before this column): history lists a block's transactions
      -- in chain order, the same on every wallet restored from the seed.
      ALTER TABLE wallet_txs ADD COLUMN block_pos INTEGER;
    `,
  },
];
