/**
 * Typed errors for every layer. Each carries a stable `code` that hosts map to exit codes
 * (CLI), JSON-RPC error objects and inline GUI messages. Messages are written for the user
 * and never contain secrets.
 */
export type ErrorCode =
  | 'BAD_INPUT' // malformed parameter: address, amount, invoice, mnemonic, URI
  | 'INSUFFICIENT_FUNDS'
  | 'NOT_FOUND' // unknown channel, request, transaction
  | 'NO_WALLET' // command needs a loaded wallet
  | 'WALLET_EXISTS'
  | 'WRONG_PASSWORD'
  | 'NETWORK' // server or peer unreachable / disconnected
  | 'SERVER_MISBEHAVED' // Electrum server lied (bad proof, bad header, bad tx bytes)
  | 'PROTOCOL' // Lightning peer violated the spec
  | 'PEER_ERROR' // Lightning peer refused or failed the operation with an error message (BOLT 1)
  | 'PAYMENT_FAILED'
  | 'INVOICE_EXPIRED'
  | 'ALREADY_PAID'
  | 'CHANNEL_STATE' // operation not allowed in the channel's current state
  | 'TIMEOUT'
  | 'INTERNAL';

export class FulmenError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'FulmenError';
  }
}

/** Shorthand for rejecting user input: `throw badInput('Invalid address: ...')`. */
export function badInput(message: string, details?: Record<string, unknown>): FulmenError {
  return new FulmenError('BAD_INPUT', message, details);
}

/** Normalises anything thrown into a FulmenError without leaking internals. */
export function toFulmenError(err: unknown): FulmenError {
  if (err instanceof FulmenError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new FulmenError('INTERNAL', message);
}
