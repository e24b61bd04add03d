import Database from 'better-sqlite3';

/**
 * The watchtower's own SQLite file (`<data dir>/watchtower.sqlite`), apart from any wallet:
 *
 * - tower_channels: funding outpoints the tower watches; the funding scriptPubKey once fetched
 *   (to subscribe to its Electrum script hash); `closed` once the funding spend is settled.
 * - tower_sweeps: the clients' justice transactions, per funding outpoint and revoked ctn,
 *   indexed by the txid of the revoked commitment they spend (`commitment_txid`).
 *
 * WAL journal with synchronous=FULL, as the wallet database: an acknowledged add_sweep_tx is durable.
 */
export interface TowerChannel {
  fundingOutpoint: string;
  fundingScript: string | null;
  closed: boolean;
}

export interface TowerSweep {
  fundingOutpoint: string;
  ctn: number;
  commitmentTxid: string;
  txid: string;
  rawTx: string;
  status: 'stored' | 'broadcast' | 'confirmed';
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS tower_channels (
    funding_outpoint TEXT PRIMARY KEY,
    funding_script TEXT,
    closed INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
  );
  CREATE TABLE IF NOT EXISTS tower_sweeps (
    funding_outpoint TEXT NOT NULL REFERENCES tower_channels (funding_outpoint),
    ctn INTEGER NOT NULL,
    commitment_txid TEXT NOT NULL,
    txid TEXT NOT NULL,
    raw_tx TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('stored', 'broadcast', 'confirmed')),
    created_at INTEGER NOT NULL,
    PRIMARY KEY (funding_outpoint, txid)
  );
  CREATE INDEX IF NOT EXISTS tower_sweeps_commitment ON tower_sweeps (commitment_txid);
`;

interface SweepDbRow {
  funding_outpoint: string;
  ctn: number;
  commitment_txid: string;
  txid: string;
  raw_tx: string;
  status: TowerSweep['status'];
}

const sweepFromDb = (r: SweepDbRow): TowerSweep => ({
  fundingOutpoint: r.funding_outpoint,
  ctn: r.ctn,
  commitmentTxid: r.commitment_txid,
  txid: r.txid,
  rawTx: r.raw_tx,
  status: r.status,
});

export class TowerStore {
  private readonly db: Database.Database;

  /** Opens (creating) the tower database at `path` (':memory:' for tests). */
  constructor(path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.exec(SCHEMA);
  }

  close(): void {
    this.db.close();
  }

  /** Highest ctn stored for the channel, -1 when none (the protocol's get_ctn). */
  getCtn(fundingOutpoint: string): number {
    const r = this.db.prepare('SELECT MAX(ctn) AS ctn FROM tower_sweeps WHERE funding_outpoint = ?').get(fundingOutpoint) as { ctn: number | null };
    return r.ctn ?? -1;
  }

  /** Stores a justice transaction (idempotent), registering its channel. Returns whether the channel is new. */
  addSweep(s: Omit<TowerSweep, 'status'>): boolean {
    return this.db.transaction(() => {
      const now = Date.now();
      const isNew = this.db.prepare('INSERT OR IGNORE INTO tower_channels (funding_outpoint, created_at) VALUES (?, ?)').run(s.fundingOutpoint, now).changes > 0;
      this.db
        .prepare(`INSERT OR IGNORE INTO tower_sweeps (funding_outpoint, ctn, commitment_txid, txid, raw_tx, status, created_at) VALUES (?, ?, ?, ?, ?, 'stored', ?)`)
        .run(s.fundingOutpoint, s.ctn, s.commitmentTxid, s.txid, s.rawTx, now);
      return isNew;
    })();
  }

  /** Channels still watched. */
  watchedChannels(): TowerChannel[] {
    const rows = this.db.prepare('SELECT funding_outpoint, funding_script, closed FROM tower_channels WHERE closed = 0').all() as { funding_outpoint: string; funding_script: string | null; closed: number }[];
    return rows.map((r) => ({ fundingOutpoint: r.funding_outpoint, fundingScript: r.funding_script, closed: r.closed !== 0 }));
  }

  setFundingScript(fundingOutpoint: string, scriptHex: string): void {
    this.db.prepare('UPDATE tower_channels SET funding_script = ? WHERE funding_outpoint = ?').run(scriptHex, fundingOutpoint);
  }

  /** Stops watching a channel whose funding spend and justice transactions are settled. */
  markClosed(fundingOutpoint: string): void {
    this.db.prepare('UPDATE tower_channels SET closed = 1 WHERE funding_outpoint = ?').run(fundingOutpoint);
  }

  /** Justice transactions spending outputs of `commitmentTxid`. */
  sweepsSpending(commitmentTxid: string): TowerSweep[] {
    return (this.db.prepare('SELECT * FROM tower_sweeps WHERE commitment_txid = ? ORDER BY ctn, txid').all(commitmentTxid) as SweepDbRow[]).map(sweepFromDb);
  }

  setSweepStatus(fundingOutpoint: string, txid: string, status: TowerSweep['status']): void {
    this.db.prepare('UPDATE tower_sweeps SET status = ? WHERE funding_outpoint = ? AND txid = ?').run(status, fundingOutpoint, txid);
  }
}
