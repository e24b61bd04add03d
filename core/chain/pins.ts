import type { Db } from '../storage/db.js';
import type { CertificatePinStore } from './interface.js';

/**
 * TLS certificate pins kept in SQLite (`chain_server_certificates`, core/storage/migrations/chain.ts):
 * one SHA-256 fingerprint per server `host:port`, written on the first TLS connection and never
 * replaced automatically. A user who knows a server rotated its certificate removes the pin with
 * `forget`.
 */
export class SqliteCertificatePins implements CertificatePinStore {
  private readonly select: { get(hostPort: string): unknown };
  private readonly insert: { run(hostPort: string, sha256: string, firstSeen: number): unknown };
  private readonly remove: { run(hostPort: string): unknown };

  constructor(db: Db) {
    this.select = db.prepare('SELECT sha256 FROM chain_server_certificates WHERE host_port = ?');
    this.insert = db.prepare('INSERT OR IGNORE INTO chain_server_certificates (host_port, sha256, first_seen) VALUES (?, ?, ?)');
    this.remove = db.prepare('DELETE FROM chain_server_certificates WHERE host_port = ?');
  }

  /** Pinned fingerprint (lowercase hex) of `host:port`, or null when never seen. */
  get(hostPort: string): string | null {
    const row = this.select.get(hostPort) as { sha256: string } | undefined;
    return row?.sha256 ?? null;
  }

  /** Pins `sha256Hex` for `host:port` unless a pin exists already (first use wins). */
  set(hostPort: string, sha256Hex: string): void {
    this.insert.run(hostPort, sha256Hex.toLowerCase(), Math.floor(Date.now() / 1000));
  }

  /** Forgets the pin of `host:port` (the next connection pins whatever it is shown). */
  forget(hostPort: string): void {
    this.remove.run(hostPort);
  }
}
