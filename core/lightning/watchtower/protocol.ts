import { z } from 'zod';

/**
 * Fulmen's watchtower protocol: JSON-RPC 2.0 over HTTP, modelled on Electrum's watchtower
 * (electrum/lnwatcher.py WatchTower, `get_ctn` / `add_sweep_tx`), with HTTP basic auth.
 *
 *   POST / HTTP/1.1
 *   Authorization: Basic base64(watchtower_user:watchtower_password)
 *   Content-Type: application/json
 *
 *   {"jsonrpc":"2.0","id":1,"method":"get_ctn","params":{"funding_outpoint":"<txid>:<vout>"}}
 *     → {"jsonrpc":"2.0","id":1,"result":41}
 *     The highest commitment number (ctn) of the channel for which the tower holds justice
 *     transactions; -1 when it knows nothing of the channel. The client resumes from there.
 *
 *   {"jsonrpc":"2.0","id":2,"method":"add_sweep_tx",
 *    "params":{"funding_outpoint":"<txid>:<vout>","ctn":42,"sweep_tx":"<raw tx hex>"}}
 *     → {"jsonrpc":"2.0","id":2,"result":true}
 *     Stores one fully signed justice transaction for the client's revoked remote commitment
 *     `ctn`. It spends outputs of that commitment (its inputs name the commitment's txid). The
 *     tower watches the funding output through its own Electrum connection; when a transaction
 *     spends it, the tower broadcasts every stored transaction spending that transaction's
 *     outputs, and re-broadcasts them until they confirm. Adding the same transaction twice is
 *     harmless.
 *
 * Params may also be positional: get_ctn [funding_outpoint], add_sweep_tx [funding_outpoint, ctn, sweep_tx].
 * Errors: HTTP 401 without valid credentials; JSON-RPC errors -32700 (parse), -32600 (request),
 * -32601 (unknown method), -32602 (bad params).
 *
 * Privacy (as Electrum's tower): the tower learns every channel's funding outpoint and, from the
 * justice transactions, the revoked commitments' txids, amounts and our sweep address. Use a tower
 * you run yourself. The justice transactions are pre-signed at the feerate of the moment they were
 * made (the tower cannot bump them).
 */

export const MAX_SWEEP_TX_HEX_CHARS = 200_000;

const outpoint = z.string().regex(/^[0-9a-f]{64}:\d{1,6}$/, 'expected <txid>:<vout> (lowercase hex txid)');
const ctn = z.number().int().min(0).max(2 ** 48 - 1);
const txHex = z.string().regex(/^([0-9a-f]{2})+$/, 'expected lowercase hex').max(MAX_SWEEP_TX_HEX_CHARS);

export const towerMethods = {
  get_ctn: { positional: ['funding_outpoint'], params: z.object({ funding_outpoint: outpoint }).strict() },
  add_sweep_tx: { positional: ['funding_outpoint', 'ctn', 'sweep_tx'], params: z.object({ funding_outpoint: outpoint, ctn, sweep_tx: txHex }).strict() },
} as const;

export type TowerMethod = keyof typeof towerMethods;
export type TowerParams<M extends TowerMethod> = z.infer<(typeof towerMethods)[M]['params']>;

/** JSON-RPC 2.0 error codes used by the tower. */
export const RPC_ERRORS = { parse: -32700, invalidRequest: -32600, methodNotFound: -32601, invalidParams: -32602 } as const;

/** `http://user:pass@host:port` → the endpoint without credentials and the Basic auth header. @throws Error on a malformed URL. */
export function parseTowerUrl(url: string): { endpoint: string; authorization: string | null } {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') throw new Error('watchtower_url must be http(s)://user:pass@host:port');
  const user = decodeURIComponent(u.username);
  const pass = decodeURIComponent(u.password);
  u.username = '';
  u.password = '';
  return { endpoint: u.toString(), authorization: user || pass ? `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}` : null };
}
