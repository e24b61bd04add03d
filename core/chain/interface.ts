import { createHash } from 'node:crypto';
import net from 'node:net';
import tls from 'node:tls';
import { SocksClient } from 'socks';
import { z } from 'zod';
import { FulmenError } from '../util/errors.js';

/**
 * ElectrumInterface: one connection to one Electrum server (Electrum's `interface`).
 *
 * Transport: TCP (`host:port:t`) or TLS (`host:port:s`), newline-delimited JSON-RPC 2.0
 * (Electrum protocol 1.4, https://electrum-protocol.readthedocs.io). The first request is
 * `server.version("fulmen", "1.4")`; a `server.ping` keeps the session alive.
 *
 * TLS: self-signed certificates are the norm for Electrum servers, so no CA is required. Instead
 * the certificate is pinned on first use (TOFU, as Electrum does): with a `certificatePins` store,
 * the SHA-256 of the certificate's DER bytes is remembered on the first connection and any later
 * certificate with another fingerprint is refused (SERVER_MISBEHAVED "certificate changed") before
 * a single request is sent. TLS is not what the wallet's safety rests on: every header, proof and
 * transaction is verified by HeaderChain/SpvVerifier; pinning stops a later man in the middle from
 * reading the wallet's addresses or silently dropping its traffic.
 *
 * Proxy: with `proxy` set (`socks5:host:port`, e.g. Tor's 127.0.0.1:9050) the TCP connection goes
 * through that SOCKS5 proxy (RFC 1928, CONNECT with the host name, so .onion names and DNS are
 * resolved by the proxy, never locally); TLS, when asked, runs inside the tunnel.
 *
 * Batching: with a server whose software is known to accept JSON-RPC 2.0 batch arrays
 * (ElectrumX, Fulcrum, electrs; from the `server.version` answer), requests issued in the same
 * event-loop turn are written as batches of at most MAX_BATCH (one line, one parse and one reply
 * on the server instead of one per request; ElectrumX spends a good part of its time per
 * message). Answers are accepted batched or not. A batch item that ElectrumX refuses because the
 * whole batch reply grew past its MAX_SEND ("response too large") is sent again on its own.
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
/** Most requests in one JSON-RPC batch (small enough for a reply of typical transactions to stay under ElectrumX's default 1 MB MAX_SEND). */
export const MAX_BATCH = 100;
/** `server.version` software names of servers that answer JSON-RPC batch arrays. */
const BATCHING_SOFTWARE = /^(electrumx|fulcrum|electrs)/i;

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

/** A SOCKS5 proxy (Tor's SOCKS port, or any RFC 1928 proxy); optional username/password auth (RFC 1929). */
export interface ProxyAddress {
  host: string;
  port: number;
  username?: string;
  password?: string;
}

/**
 * Parses a proxy setting `socks5:host:port` or `socks5:host:port:user:password` (Electrum's
 * `proxy` config format; a trailing empty `::` is accepted).
 * @throws FulmenError BAD_INPUT for other schemes or a malformed address.
 */
export function parseProxyString(proxy: string): ProxyAddress {
  const m = /^socks5:(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):(\d{1,5})(?::([^:]*):([^:]*))?$/.exec(proxy.trim());
  const port = m ? Number(m[2]) : 0;
  if (!m || port < 1 || port > 65535) {
    throw new FulmenError('BAD_INPUT', `Invalid proxy "${proxy}" (expected socks5:host:port)`);
  }
  const host = m[1]!.startsWith('[') ? m[1]!.slice(1, -1) : m[1]!;
  return m[3] ? { host, port, username: m[3], password: m[4] ?? '' } : { host, port };
}

/**
 * Where TLS certificate fingerprints are remembered (trust on first use). Keys are `host:port`;
 * values the lowercase hex SHA-256 of the certificate's DER encoding.
 */
export interface CertificatePinStore {
  get(hostPort: string): string | null;
  set(hostPort: string, sha256Hex: string): void;
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
  /** Connect through this SOCKS5 proxy (see `parseProxyString`). */
  proxy?: ProxyAddress;
  /** TLS certificate pins (TOFU); without it, TLS certificates are not pinned. */
  certificatePins?: CertificatePinStore;
  /** Send JSON-RPC batches to servers known to accept them (default true; see the class comment). */
  batchRequests?: boolean;
}

type NotificationHandler = (method: string, params: unknown) => void;
type CloseHandler = (reason: FulmenError) => void;

interface PendingRequest {
  method: string;
  /** The request's JSON text, kept to send it again alone (see "response too large"). */
  line: string;
  /** Sent inside a batch. */
  batched: boolean;
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
  private readonly proxy: ProxyAddress | undefined;
  private readonly certificatePins: CertificatePinStore | undefined;
  /** SHA-256 (hex) of the server's TLS certificate, set after a TLS `connect()`. */
  certificateSha256: string | null = null;
  private socket: net.Socket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, PendingRequest>();
  private readonly notificationHandlers = new Set<NotificationHandler>();
  private readonly closeHandlers = new Set<CloseHandler>();
  private buffer = '';
  private keepaliveTimer: NodeJS.Timeout | null = null;
  private closed = false;
  private readonly batchRequests: boolean;
  /** True once the server is known to accept batches (set after `server.version`). */
  private batching = false;
  /** Requests of this event-loop turn, written by `flush`. */
  private outgoing: string[] = [];

  /** @throws FulmenError BAD_INPUT for a malformed server string. */
  constructor(options: ElectrumInterfaceOptions) {
    this.server = options.server;
    this.address = parseServerString(options.server);
    this.requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.keepaliveMs = options.keepaliveMs ?? DEFAULT_KEEPALIVE_MS;
    this.connectTimeoutMs = options.connectTimeoutMs ?? this.requestTimeoutMs;
    this.proxy = options.proxy;
    this.certificatePins = options.certificatePins;
    this.batchRequests = options.batchRequests ?? true;
  }

  /**
   * TCP (direct or through the SOCKS5 proxy), then TLS for `:s` servers with the certificate
   * pin checked. @throws FulmenError NETWORK (unreachable, proxy refused, timeout),
   * SERVER_MISBEHAVED (certificate changed, or no certificate).
   */
  private async openTransport(): Promise<net.Socket> {
    const { host, port, protocol } = this.address;
    const deadline = Date.now() + this.connectTimeoutMs;
    const remaining = () => Math.max(1, deadline - Date.now());
    let tcp: net.Socket;
    if (this.proxy) {
      try {
        const { socket } = await SocksClient.createConnection({
          proxy: { host: this.proxy.host, port: this.proxy.port, type: 5, userId: this.proxy.username, password: this.proxy.password },
          command: 'connect',
          destination: { host, port },
          timeout: remaining(),
        });
        tcp = socket;
      } catch (err) {
        const message = err instanceof Error ? err.message : String(err);
        throw new FulmenError('NETWORK', `Cannot connect to ${this.server} through proxy ${this.proxy.host}:${this.proxy.port}: ${sanitizeServerText(message)}`);
      }
    } else {
      tcp = await this.waitConnected(net.createConnection({ host, port }), 'connect', remaining());
    }
    if (protocol === 't') return tcp;
    // Certificates are not checked against CAs (see the class comment): the pin decides.
    const secure = await this.waitConnected(
      tls.connect({ socket: tcp, servername: net.isIP(host) ? undefined : host, rejectUnauthorized: false }),
      'secureConnect',
      remaining(),
    ).catch((err: unknown) => {
      tcp.destroy();
      throw err;
    });
    try {
      this.checkCertificate(secure as tls.TLSSocket);
    } catch (err) {
      secure.destroy();
      throw err;
    }
    return secure;
  }

  /** Resolves once `sock` emits `event`; NETWORK error on 'error' or after `timeoutMs`. */
  private waitConnected(sock: net.Socket, event: 'connect' | 'secureConnect', timeoutMs: number): Promise<net.Socket> {
    return new Promise<net.Socket>((resolve, reject) => {
      const onError = (err: Error) => {
        clearTimeout(timer);
        sock.removeListener(event, onReady);
        sock.destroy();
        reject(new FulmenError('NETWORK', `Cannot connect to ${this.server}: ${err.message}`));
      };
      const onReady = () => {
        clearTimeout(timer);
        sock.removeListener('error', onError);
        resolve(sock);
      };
      const timer = setTimeout(() => onError(new Error('timed out')), timeoutMs);
      sock.once('error', onError);
      sock.once(event, onReady);
    });
  }

  /** Trust on first use: remember the certificate's SHA-256, refuse a different one later. */
  private checkCertificate(socket: tls.TLSSocket): void {
    const der = socket.getPeerCertificate(false)?.raw;
    if (!der || der.length === 0) throw new FulmenError('SERVER_MISBEHAVED', `Server ${this.server} presented no TLS certificate`);
    const fingerprint = createHash('sha256').update(der).digest('hex');
    this.certificateSha256 = fingerprint;
    if (!this.certificatePins) return;
    const key = `${this.address.host}:${this.address.port}`;
    const pinned = this.certificatePins.get(key);
    if (pinned === null) {
      this.certificatePins.set(key, fingerprint);
    } else if (pinned !== fingerprint) {
      throw new FulmenError(
        'SERVER_MISBEHAVED',
        `Server ${this.server}: certificate changed (pinned SHA-256 ${pinned.slice(0, 16)}…, got ${fingerprint.slice(0, 16)}…); refusing to connect`,
        { server: this.server, pinned, presented: fingerprint },
      );
    }
  }

  /**
   * Opens the connection and negotiates `server.version`. An interface connects once; after a
   * close, create a new one.
   * @throws FulmenError NETWORK when the server (or the proxy) is unreachable or the handshake
   *   fails; SERVER_MISBEHAVED when it answers with something that is not a version, or its TLS
   *   certificate differs from the pinned one ("certificate changed").
   */
  async connect(): Promise<void> {
    if (this.socket || this.closed) throw new FulmenError('INTERNAL', 'ElectrumInterface.connect called twice');
    const socket = await this.openTransport();
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
      this.batching = this.batchRequests && BATCHING_SOFTWARE.test(this.serverVersion.software);
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
      const line = JSON.stringify({ jsonrpc: '2.0', id, method, params });
      this.pending.set(id, { method, line, batched: this.batching, schema, resolve: resolve as (v: unknown) => void, reject, timer });
      if (!this.batching) {
        socket.write(line + '\n');
        return;
      }
      if (this.outgoing.length === 0) setImmediate(() => this.flush());
      this.outgoing.push(line);
    });
  }

  /** Writes this turn's requests: alone, or as batches of at most MAX_BATCH. */
  private flush(): void {
    const lines = this.outgoing;
    this.outgoing = [];
    if (this.closed || !this.socket) return;
    for (let i = 0; i < lines.length; i += MAX_BATCH) {
      const chunk = lines.slice(i, i + MAX_BATCH);
      this.socket.write((chunk.length === 1 ? chunk[0]! : `[${chunk.join(',')}]`) + '\n');
    }
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
    if (!Array.isArray(json)) {
      this.onMessage(json);
      return;
    }
    // A batch reply (JSON-RPC 2.0 §6): one response object per request of a batch we sent.
    if (json.length === 0) {
      this.misbehaved('Server sent an empty batch');
      return;
    }
    for (const message of json) {
      this.onMessage(message);
      if (this.closed) return;
    }
  }

  private onMessage(json: unknown): void {
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
    if (msg.error !== undefined && msg.error !== null) {
      const error = errorObjectSchema.safeParse(msg.error);
      const message = error.success ? sanitizeServerText(error.data.message) : sanitizeServerText(JSON.stringify(msg.error));
      if (pending.batched && /response too large/i.test(message) && this.socket) {
        // The batch's reply outgrew the server's limit: this one alone may fit (same id, same timer).
        pending.batched = false;
        this.socket.write(pending.line + '\n');
        return;
      }
      this.pending.delete(msg.id as number);
      clearTimeout(pending.timer);
      pending.reject(new ServerRpcError(pending.method, error.success ? error.data.code : 0, message));
      return;
    }
    this.pending.delete(msg.id as number);
    clearTimeout(pending.timer);
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
