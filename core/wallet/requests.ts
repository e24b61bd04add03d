import type { Db } from '../storage/db.js';
import { FulmenError, badInput } from '../util/errors.js';

/** Status of a receive request (Electrum's PR_UNPAID / PR_PAID / PR_EXPIRED / PR_INFLIGHT). */
export type RequestStatus = 'unpaid' | 'paid' | 'expired' | 'inflight';

/** A receive request (Electrum `add_request`): on-chain address and/or BOLT 11 invoice. */
export interface PaymentRequest {
  /** Key: the Lightning payment hash (hex), or any unique id for an on-chain-only request. */
  rhash: string;
  /** Requested amount in integer satoshis, null for "any amount". */
  amountSat: number | null;
  memo: string;
  /** On-chain address, or null for a Lightning-only request. */
  address: string | null;
  /** BOLT 11 invoice, or null for an on-chain-only request. */
  lightningInvoice: string | null;
  /** Creation time, unix seconds. */
  createdAt: number;
  /** Seconds after createdAt until the request expires; 0 = never. */
  expirySec: number;
  /** Stored status, except that an unpaid request past its expiry reads as 'expired'. */
  status: RequestStatus;
}

export type NewPaymentRequest = Omit<PaymentRequest, 'status'>;

interface RequestRow {
  rhash: string;
  amount_sat: number | null;
  memo: string;
  address: string | null;
  lightning_invoice: string | null;
  created_at: number;
  expiry_sec: number;
  status: RequestStatus;
}

const STATUSES: readonly RequestStatus[] = ['unpaid', 'paid', 'expired', 'inflight'];

/** Receive requests stored in the wallet database (table `payment_requests`). */
export class RequestStore {
  constructor(
    private readonly db: Db,
    /** Clock in unix seconds (injectable for tests). */
    private readonly nowSec: () => number = () => Math.floor(Date.now() / 1000),
  ) {}

  /**
   * Stores a new request with status 'unpaid'.
   * @throws FulmenError BAD_INPUT for a duplicate rhash, a non-integer/negative amount or expiry,
   *   or a request with neither address nor invoice.
   */
  add(request: NewPaymentRequest): PaymentRequest {
    if (!request.rhash) throw badInput('A request needs an id (rhash)');
    if (request.amountSat !== null && (!Number.isSafeInteger(request.amountSat) || request.amountSat <= 0)) {
      throw badInput(`Invalid request amount: ${request.amountSat} sat`);
    }
    if (!Number.isSafeInteger(request.expirySec) || request.expirySec < 0) {
      throw badInput(`Invalid expiry: ${request.expirySec} s`);
    }
    if (!Number.isSafeInteger(request.createdAt) || request.createdAt < 0) {
      throw badInput(`Invalid creation time: ${request.createdAt}`);
    }
    if (request.address === null && request.lightningInvoice === null) {
      throw badInput('A request needs an address or a Lightning invoice');
    }
    if (this.getRow(request.rhash)) throw badInput(`A request with id ${request.rhash} already exists`);
    this.db
      .prepare(
        `INSERT INTO payment_requests (rhash, amount_sat, memo, address, lightning_invoice, created_at, expiry_sec, status)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'unpaid')`,
      )
      .run(
        request.rhash,
        request.amountSat,
        request.memo,
        request.address,
        request.lightningInvoice,
        request.createdAt,
        request.expirySec,
      );
    return this.get(request.rhash)!;
  }

  /** The request with this rhash, or null. */
  get(rhash: string): PaymentRequest | null {
    const row = this.getRow(rhash);
    return row ? this.toRequest(row) : null;
  }

  /** All requests, newest first. */
  list(): PaymentRequest[] {
    const rows = this.db.prepare('SELECT * FROM payment_requests ORDER BY created_at DESC, rowid DESC').all() as RequestRow[];
    return rows.map((r) => this.toRequest(r));
  }

  /** Requests that use this on-chain address, newest first. */
  findByAddress(address: string): PaymentRequest[] {
    const rows = this.db
      .prepare('SELECT * FROM payment_requests WHERE address = ? ORDER BY created_at DESC, rowid DESC')
      .all(address) as RequestRow[];
    return rows.map((r) => this.toRequest(r));
  }

  /** Sets the stored status. @throws FulmenError NOT_FOUND for an unknown rhash, BAD_INPUT for a bad status. */
  setStatus(rhash: string, status: RequestStatus): void {
    if (!STATUSES.includes(status)) throw badInput(`Invalid request status: ${status}`);
    const result = this.db.prepare('UPDATE payment_requests SET status = ? WHERE rhash = ?').run(status, rhash);
    if (result.changes === 0) throw new FulmenError('NOT_FOUND', `No request with id ${rhash}`);
  }

  /** Deletes a request. @returns false when there was none. */
  remove(rhash: string): boolean {
    return this.db.prepare('DELETE FROM payment_requests WHERE rhash = ?').run(rhash).changes > 0;
  }

  private getRow(rhash: string): RequestRow | undefined {
    return this.db.prepare('SELECT * FROM payment_requests WHERE rhash = ?').get(rhash) as RequestRow | undefined;
  }

  private toRequest(row: RequestRow): PaymentRequest {
    const expired = row.expiry_sec > 0 && this.nowSec() >= row.created_at + row.expiry_sec;
    return {
      rhash: row.rhash,
      amountSat: row.amount_sat,
      memo: row.memo,
      address: row.address,
      lightningInvoice: row.lightning_invoice,
      createdAt: row.created_at,
      expirySec: row.expiry_sec,
      status: row.status === 'unpaid' && expired ? 'expired' : row.status,
    };
  }
}
