import net from 'node:net';
import tls from 'node:tls';
import { z } from 'zod';
import { FulmenError } from '../util/errors.js';

/**
 * ElectrumInterface: one connection to one Electrum server (Electrum's `interface`).
 *
 * Transport: TCP (`host:port:t`) or TLS (`host:port:s`), newline-delimited JSON-RPC 2.0
 * (Electrum protocol 1.4, https://electrum-protocol.readthedocs.io). The first request is
 * `server.version("fulmen", "1.4")`; a `server.ping` keeps the session alive.
 *
 * TLS: the connection is encrypted but the server's certificate is accepted without checking it
 * (self-signed certificates are the norm for Electrum servers and on regtest). It is not used for
 * trust: every header, proof and transaction is verified by HeaderChain/SpvVerifier. Pinning the
 * certificate on first use (as Electrum does) is the planned next step; until then an active
 * attacker can read or drop traffic but cannot feed the wallet false chain data.
 *
 * Errors: connection failures, closes and timeouts reject with FulmenError NETWORK; malformed
 * JSON, unknown response ids and results of the wrong shape reject with SERVER_MISBEHAVED and
 * close the connection; a JSON-RPC error object rejects with `ServerRpcError` (code NETWORK,
 * carrying the server's message).
 */

/** Client name and protocol version sent in `server.version`. */
export const CLIENT_NAME = 'fulmen';
export const PROTOCOL_VERSION = '1.4';

const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
const DEFAULT_KEEPALIVE_MS = 60_000;
/** Longest line accepted from a server: a 4 MWU transaction as hex plus framing, with margin. */
const MAX_LINE_BYTES = 16 * 1024 * 1024;

/** A parsed server string `host:port:t|s` (IPv6 hosts in brackets: `[::1]:50001:t`). */
export interface ServerAddress {
  host: string;
  port: number;
  protocol: 't' | 's';
}

/**
 * Parses Electrum's server string format.
 * @throws FulmenError BAD_INPUT for anything else.
 */
export function parseServerString(server: string): ServerAddress {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5}):([ts])$/.exec(server.trim());
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) {
    throw new FulmenError('BAD_INPUT', `Invalid server "${server}" (expected host:port:t or host:port:s)`);
  }
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return { host, port, protocol: m[3] as 't' | 's' };
}

/** A JSON-RPC error returned by the server for one request (e.g. a rejected broadcast). */
export class ServerRpcError extends FulmenError {
  constructor(
    readonly method: string,
    readonly rpcCode: number,
    readonly serverMessage: string,
  ) {
    super('NETWORK', `Server error for ${method}: ${serverMessage}`, { method, rpcCode });
    this.name = 'ServerRpcError';
  }
}

export interface ElectrumInterfaceOptions {
  /** `host:port:t` or `host:port:s`. */
  server: string;
  /** Per-request timeout in milliseconds (default 30 s). */
  requestTimeoutMs?: number;
  /** Interval of `server.ping` in milliseconds (default 60 s). */
  keepaliveMs?: number;
  /** Timeout for the TCP/TLS connect and version handshake (default: requestTimeoutMs). */
  connectTimeoutMs?: number;
}

type NotificationHandler = (method: string, params: unknown) => void;
type CloseHandler = (reason: FulmenError) => void;

interface PendingRequest {
  method: string;
  schema: z.ZodType<unknown>;
  resolve: (value: unknown) => void;
  reject: (err: FulmenError) => void;
  timer: NodeJS.Timeout;
}

const errorObjectSchema = z.object({ code: z.number(), message: z.string() });
const incomingSchema = z.object({
  jsonrpc: z.literal('2.0').optional(),
  id: z.union([z.number(), z.string(), z.null()]).optional(),
  result: z.unknown().optional(),
  error: z.unknown().optional(),
  method: z.string().optional(),
  params: z.unknown().optional(),
});
const versionSchema = z.tuple([z.string(), z.string()]);

/** Messages built from server text are trimmed and stripped of control characters. */
export function sanitizeServerText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').trim().slice(0, 300);
}

export class ElectrumInterface {
  readonly server: string;
  readonly address: ServerAddress;
  /** Server software and negotiated protocol, set after `connect()`. */
  serverVersion: { software: string; protocol: string } | null = null;

  private readonly requestTimeoutMs: number;
  private readonly keepaliveMs: number;
  private readonly connectTimeoutMs: number;
  private socket: net.Socket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly notificationHandlers = new Set<NotificationHandler>();
  private readonly closeHandlers = new Set<CloseHandler>();
  private buffer = '';
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private closed = false;

  /** @throws FulmenError BAD_INPUT for a malformed server string. */
  constructor(options: ElectrumInterfaceOptions) {
    this.server = options.server;
    this.address = parseServerString(options.server);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? this.requestTimeoutMs;
  }

  /**
   * Opens the connection and negotiates `server.version`. An interface connects once; after a
   * close, create a new one.
   * @throws FulmenError NETWORK when the server is unreachable or the handshake fails;
   *   SERVER_MISBEHAVED when it answers with something that is not a version.
   */
  async connect(): Promise<void> {
    if (this.socket || this.closed) throw new FulmenError('INTERNAL', 'ElectrumInterface.connect called twice');
    const { host, port, protocol } = this.address;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const ready = () => {
        clearTimeout(timer);
        sock.removeListener('error', onError);
        resolve(sock);
      };
      const sock: net.Socket =
        protocol === 's'
          ? tls.connect(
              {
                host,
                port,
                servername: net.isIP(host) ? undefined : host,
                // Certificate not checked: see the class comment (TOFU pinning planned).
                rejectUnauthorized: false,
              },
              ready,
            )
          : net.createConnection({ host, port }, ready);
      const onError = (err: Error) => {
        clearTimeout(timer);
        sock.destroy();
        reject(new FulmenError('NETWORK', `Cannot connect to ${this.server}: ${err.message}`));
      };
      const timer = setTimeout(() => onError(new Error('timed out')), this.connectTimeoutMs);
      sock.once('error', onError);
    });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new FulmenError('NETWORK', `Connection to ${this.server} failed: ${err.message}`)));
    socket.on('close', () => this.fail(new FulmenError('NETWORK', `Connection to ${this.server} closed`)));
    try {
      const [software, negotiated] = await this.request('server.version', [CLIENT_NAME, PROTOCOL_VERSION], versionSchema, this.connectTimeoutMs);
      if (negotiated !== PROTOCOL_VERSION) {
        throw new FulmenError('NETWORK', `Server ${this.server} negotiated protocol ${sanitizeServerText(negotiated)}, need ${PROTOCOL_VERSION}`);
      }
      this.serverVersion = { software: sanitizeServerText(software), protocol: negotiated };
    } catch (err) {
      this.close();
      throw err;
    }
    this.keepaliveTimer = setInterval(() => {
      this.request('server.ping', [], z.null()).catch(() => {
        // A ping that fails or times out means the session is dead: drop it so the owner reconnects.
        this.fail(new FulmenError('NETWORK', `Server ${this.server} stopped answering`));
      });
    }, this.keepaliveMs);
    this.keepaliveTimer.unref();
  }

  /** True between a successful `connect()` and the close. */
  isConnected(): boolean {
    return this.socket !== null && !this.closed && this.serverVersion !== null;
  }

  /**
   * Sends one JSON-RPC request and resolves with its result validated by `schema`.
   * @throws FulmenError NETWORK (not connected, closed, timed out), ServerRpcError (JSON-RPC
   *   error object), SERVER_MISBEHAVED (result of the wrong shape; the connection is closed).
   */
  request<T>(method: string, params: readonly unknown[], schema: z.ZodType<T>, timeoutMs = this.requestTimeoutMs): Promise<T> {
    const socket = this.socket;
    if (!socket || this.closed) return Promise.reject(new FulmenError('NETWORK', `Not connected to ${this.server}`));
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new FulmenError('NETWORK', `Server ${this.server} did not answer ${method} in ${timeoutMs} ms`, { timeout: true }));
      }, timeoutMs);
      this.pending.set(id, { method, schema, resolve: resolve as (v: unknown) => void, reject, timer });
      socket.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }

  /** Registers a handler for server notifications (`blockchain.headers.subscribe`, `blockchain.scripthash.subscribe`). */
  onNotification(handler: NotificationHandler): () => void {
    this.notificationHandlers.add(handler);
    return () => this.notificationHandlers.delete(handler);
  }

  /** Registers a handler called once when the connection ends (for any reason, including `close()`). */
  onClose(handler: CloseHandler): () => void {
    this.closeHandlers.add(handler);
    return () => this.closeHandlers.delete(handler);
  }

  /** Closes the connection; pending requests reject with NETWORK. Idempotent. */
  close(): void {
    this.fail(new FulmenError('NETWORK', `Connection to ${this.server} closed`));
  }

  private onData(chunk: string): void {
    if (this.closed) return;
    this.buffer += chunk;
    let newline = this.buffer.indexOf('\n');
    while (newline !== -1) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line.length > 0) this.onLine(line);
      if (this.closed) return;
      newline = this.buffer.indexOf('\n');
    }
    if (this.buffer.length > MAX_LINE_BYTES) this.misbehaved('Server sent an oversized message');
  }

  private onLine(line: string): void {
    let json: unknown;
    try {
      json = JSON.parse(line);
    } catch {
      this.misbehaved('Server sent malformed JSON');
      return;
    }
    const parsed = incomingSchema.safeParse(json);
    if (!parsed.success) {
      this.misbehaved('Server sent a message that is not a JSON-RPC object');
      return;
    }
    const msg = parsed.data;
    const hasId = msg.id !== undefined && msg.id !== null;
    if (!hasId && msg.method !== undefined) {
      for (const handler of this.notificationHandlers) handler(msg.method, msg.params);
      return;
    }
    const pending = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
    if (!pending) {
      // A late answer to a request that already timed out is dropped; any other id was never sent.
      const lateAnswer = typeof msg.id === 'number' && Number.isInteger(msg.id) && msg.id > 0 && msg.id < this.nextId;
      if (!lateAnswer) this.misbehaved('Server answered a request that was not sent');
      return;
    }
    this.pending.delete(msg.id as number);
    clearTimeout(pending.timer);
    if (msg.error !== undefined && msg.error !== null) {
      const error = errorObjectSchema.safeParse(msg.error);
      const message = error.success ? sanitizeServerText(error.data.message) : sanitizeServerText(JSON.stringify(msg.error));
      pending.reject(new ServerRpcError(pending.method, error.success ? error.data.code : 0, message));
      return;
    }
    if (!('result' in msg)) {
      pending.reject(new FulmenError('SERVER_MISBEHAVED', `Server sent neither result nor error for ${pending.method}`));
      this.misbehaved(`Malformed response to ${pending.method}`);
      return;
    }
    const result = pending.schema.safeParse(msg.result);
    if (!result.success) {
      pending.reject(new FulmenError('SERVER_MISBEHAVED', `Server sent a malformed result for ${pending.method}`));
      this.misbehaved(`Malformed result for ${pending.method}`);
      return;
    }
    pending.resolve(result.data);
  }

  /** Fails everything with SERVER_MISBEHAVED and closes: a server that breaks the protocol is dropped. */
  private misbehaved(message: string): void {
    this.fail(new FulmenError('SERVER_MISBEHAVED', `${message} (${this.server})`));
  }

  private fail(reason: FulmenError): void {
    if (this.closed) return;
    this.closed = true;
    if (this.keepaliveTimer) clearInterval(this.keepaliveTimer);
    this.socket?.destroy();
    for (const [, pending] of this.pending) {
      clearTimeout(pending.timer);
      pending.reject(reason);
    }
    this.pending.clear();
    for (const handler of this.closeHandlers) handler(reason);
    this.closeHandlers.clear();
    this.notificationHandlers.clear();
  }
}
