import http from 'node:http';
import { type ErrorCode, FulmenError } from '../util/errors.js';
import type { ConfigStore } from './config.js';

/** Where and how to reach a daemon's JSON-RPC endpoint. */
export interface RpcEndpoint {
  host: string;
  port: number;
  user: string;
  password: string;
}

/** The endpoint from a config (rpchost default 127.0.0.1), or null when rpcport/credentials are unset. */
export function rpcEndpointFromConfig(config: ConfigStore): RpcEndpoint | null {
  const port = config.getNumber('rpcport');
  const user = config.getString('rpcuser');
  const password = config.getString('rpcpassword');
  if (port === null || user === null || password === null) return null;
  return { host: config.getString('rpchost') ?? '127.0.0.1', port, user, password };
}

/** Raised when nothing listens at the endpoint (the daemon is not running). */
export class DaemonNotRunning extends FulmenError {
  constructor() {
    super('NETWORK', "Daemon not running; try 'fulmen daemon -d'");
  }
}

/** Every ErrorCode (a Record, so the compiler flags one added to errors.ts but missing here). */
const KNOWN_CODES: Record<ErrorCode, true> = {
  BAD_INPUT: true, INSUFFICIENT_FUNDS: true, NOT_FOUND: true, NO_WALLET: true, WALLET_EXISTS: true, WRONG_PASSWORD: true,
  NETWORK: true, SERVER_MISBEHAVED: true, PROTOCOL: true, PEER_ERROR: true, PAYMENT_FAILED: true, INVOICE_EXPIRED: true,
  ALREADY_PAID: true, CHANNEL_STATE: true, TIMEOUT: true, INTERNAL: true,
};

/**
 * One JSON-RPC 2.0 call (named params) to the daemon.
 * @throws DaemonNotRunning when the connection is refused; FulmenError with the daemon's
 *   FulmenError code (from `error.data.code`) for a JSON-RPC error; WRONG_PASSWORD on HTTP 401.
 */
export function rpcCall(endpoint: RpcEndpoint, method: string, params: unknown, timeoutMs = 10 * 60_000): Promise<unknown> {
  const body = JSON.stringify({ jsonrpc: '2.0', id: 1, method, params });
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: endpoint.host,
        port: endpoint.port,
        method: 'POST',
        path: '/',
        headers: {
          'Content-Type': 'application/json',
          'Content-Length': Buffer.byteLength(body),
          Authorization: 'Basic ' + Buffer.from(`${endpoint.user}:${endpoint.password}`).toString('base64'),
        },
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode === 401) {
            reject(new FulmenError('WRONG_PASSWORD', 'The daemon refused our rpcuser/rpcpassword (check the config)'));
            return;
          }
          let reply: { result?: unknown; error?: { message?: string; data?: { code?: string } } };
          try {
            reply = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            reject(new FulmenError('NETWORK', `Unexpected reply from the daemon (HTTP ${res.statusCode})`));
            return;
          }
          if (reply.error) {
            const code = reply.error.data?.code;
            reject(new FulmenError(code && Object.hasOwn(KNOWN_CODES, code) ? (code as ErrorCode) : 'INTERNAL', reply.error.message ?? 'Unknown error'));
          } else {
            resolve(reply.result ?? null);
          }
        });
      },
    );
    req.on('timeout', () => req.destroy(new FulmenError('TIMEOUT', 'The daemon did not answer in time')));
    req.on('error', (err: NodeJS.ErrnoException) => {
      if (err instanceof FulmenError) reject(err);
      else if (err.code === 'ECONNREFUSED') reject(new DaemonNotRunning());
      else reject(new FulmenError('NETWORK', `Cannot reach the daemon: ${err.message}`));
    });
    req.end(body);
  });
}
