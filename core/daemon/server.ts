import { randomBytes, timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { declarations, isCommandName } from '../api/schemas.js';
import type { FulmenApp } from '../app.js';
import { type ErrorCode, FulmenError, toFulmenError } from '../util/errors.js';
import { guiContentSecurityPolicy } from './csp.js';

/**
 * The daemon's HTTP server, bound to 127.0.0.1 only:
 *
 *  - `POST /`: Electrum-compatible JSON-RPC 2.0 (basic auth with the config's rpcuser/rpcpassword;
 *    named params object or positional array). Errors: `{ code, message, data: { code: ErrorCode } }`
 *    with -32700 parse error, -32600 invalid request, -32601 unknown method, -32602 invalid params
 *    (BAD_INPUT), -32000 any other FulmenError.
 *  - `GET /?token=T`: the browser GUI (static build in dist/renderer), only with the session token
 *    (or the HttpOnly SameSite=Strict session cookie set then); `/assets/...` are public build files.
 *  - `GET /ws?token=T` WebSocket: `{id, method, params}` → `{id, result}` | `{id, error: {code, message}}`,
 *    pushed `{event, data}`. Origin must be this server's own origin.
 *
 * Every request must carry Host 127.0.0.1:PORT or localhost:PORT (DNS-rebinding defence).
 */

export interface DaemonServerOptions {
  app: FulmenApp;
  /** Directory of the built GUI (index.html, assets/). Default: <repo>/dist/renderer. */
  rendererDir?: string;
  /** Max JSON-RPC body, bytes (default 4 MiB). */
  maxBodyBytes?: number;
}

/** JSON-RPC error codes (JSON-RPC 2.0 §5.1). */
export const JSONRPC = {
  PARSE_ERROR: -32700,
  INVALID_REQUEST: -32600,
  METHOD_NOT_FOUND: -32601,
  INVALID_PARAMS: -32602,
  SERVER_ERROR: -32000,
} as const;

const SESSION_COOKIE = 'fulmen_session';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.woff': 'font/woff',
  '.webmanifest': 'application/manifest+json',
  '.txt': 'text/plain; charset=utf-8',
};

/** Default location of the GUI build: <repo>/dist/renderer (this file is <repo>/core/daemon/server.ts). */
export function defaultRendererDir(): string {
  return path.resolve(path.dirname(new URL(import.meta.url).pathname), '..', '..', 'dist', 'renderer');
}

/** Maps a FulmenError code to a JSON-RPC error code. */
function jsonRpcCode(code: ErrorCode): number {
  return code === 'BAD_INPUT' ? JSONRPC.INVALID_PARAMS : JSONRPC.SERVER_ERROR;
}

/** JSON.stringify that writes bigint as a decimal string (results are meant to hold none). */
function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v));
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

export class DaemonServer {
  readonly app: FulmenApp;
  private readonly rendererDir: string;
  private readonly maxBodyBytes: number;
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly sessionToken = randomBytes(32).toString('hex');
  private rpcUser = '';
  private rpcPassword = '';
  private portNumber = 0;
  private unsubscribeEvents: (() => void) | null = null;
  private stopping: Promise<void> | null = null;
  private resolveStopped!: () => void;
  /** Resolves once the server and the app are stopped (by `stop()` or the `stop` command). */
  readonly stopped: Promise<void>;

  constructor(options: DaemonServerOptions) {
    this.app = options.app;
    this.rendererDir = options.rendererDir ?? defaultRendererDir();
    this.maxBodyBytes = options.maxBodyBytes ?? 4 * 1024 * 1024;
    this.server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => {
        if (!res.headersSent) res.writeHead(500).end();
      });
    });
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024 });
    this.server.on('upgrade', (req, socket, head) => this.upgrade(req, socket, head));
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  get port(): number {
    return this.portNumber;
  }

  /** `http://127.0.0.1:PORT/?token=...`: opens the GUI in a browser. */
  guiUrl(): string {
    return `http://127.0.0.1:${this.portNumber}/?token=${this.sessionToken}`;
  }

  /**
   * Generates rpcuser/rpcpassword when unset (stored in the config, like Electrum), listens on
   * 127.0.0.1:rpcport (a random free port, then stored, when unset) and registers the app's host
   * services (stop, gui_url).
   * @throws FulmenError NETWORK when the port is taken.
   */
  async start(): Promise<void> {
    const config = this.app.config;
    this.rpcUser = config.getString('rpcuser') ?? (config.set('rpcuser', 'user') as string);
    this.rpcPassword = config.getString('rpcpassword') ?? (config.set('rpcpassword', randomBytes(18).toString('base64url')) as string);
    const wantedPort = config.getNumber('rpcport') ?? 0;
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        reject(
          new FulmenError(
            'NETWORK',
            err.code === 'EADDRINUSE' ? `Port ${wantedPort} is in use (is a daemon already running?)` : `Cannot listen: ${err.message}`,
          ),
        );
      };
      this.server.once('error', onError);
      this.server.listen(wantedPort, '127.0.0.1', () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    this.portNumber = (this.server.address() as AddressInfo).port;
    if (wantedPort === 0) config.set('rpcport', this.portNumber);
    this.app.host = { stop: async () => this.requestStop(), guiUrl: () => this.guiUrl() };
  }

  /**
   * Forwards app events to the WebSocket clients while there is at least one: with none, the app
   * has no listener and skips building them (a `history` event costs O(history)).
   */
  private followEvents(ws: WebSocket): void {
    this.unsubscribeEvents ??= this.app.on((message) => {
      const frame = toJson(message);
      for (const client of this.wss.clients) if (client.readyState === client.OPEN) client.send(frame);
    });
    ws.on('close', () => {
      if ([...this.wss.clients].some((c) => c !== ws && c.readyState === c.OPEN)) return;
      this.unsubscribeEvents?.();
      this.unsubscribeEvents = null;
    });
  }

  /** Closes WebSocket clients, the HTTP server and the app. Idempotent. */
  stop(): Promise<void> {
    this.stopping ??= (async () => {
      this.unsubscribeEvents?.();
      for (const client of this.wss.clients) client.close(1001, 'daemon stopping');
      this.wss.close();
      await new Promise<void>((resolve) => {
        this.server.close(() => resolve());
        this.server.closeIdleConnections();
      });
      await this.app.close();
      this.resolveStopped();
    })();
    return this.stopping;
  }

  /** The `stop` command: reply first, then stop. */
  private requestStop(): void {
    setTimeout(() => void this.stop(), 20);
  }

  // ------------------------------------------------------------------ HTTP

  private hostAllowed(host: string | undefined): boolean {
    return host === `127.0.0.1:${this.portNumber}` || host === `localhost:${this.portNumber}`;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    res.setHeader('X-Content-Type-Options', 'nosniff');
    res.setHeader('Referrer-Policy', 'no-referrer');
    res.setHeader('Cache-Control', 'no-store');
    if (!this.hostAllowed(req.headers.host)) {
      res.writeHead(403, { 'Content-Type': 'text/plain' }).end('Forbidden host\n');
      return;
    }
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    if (req.method === 'POST' && url.pathname === '/') return this.handleJsonRpc(req, res);
    if (req.method === 'GET' || req.method === 'HEAD') return this.handleStatic(req, res, url);
    res.writeHead(405, { Allow: 'GET, HEAD, POST', 'Content-Type': 'text/plain' }).end('Method not allowed\n');
  }

  private basicAuthOk(header: string | undefined): boolean {
    if (!header?.startsWith('Basic ')) return false;
    const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
    const sep = decoded.indexOf(':');
    if (sep < 0) return false;
    const userOk = safeEqual(decoded.slice(0, sep), this.rpcUser);
    const passOk = safeEqual(decoded.slice(sep + 1), this.rpcPassword);
    return userOk && passOk;
  }

  private async handleJsonRpc(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    if (!this.basicAuthOk(req.headers.authorization)) {
      res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="fulmen", charset="UTF-8"', 'Content-Type': 'text/plain' });
      res.end('Unauthorized: wrong rpcuser/rpcpassword\n');
      req.resume();
      return;
    }
    let body: string;
    try {
      body = await readBody(req, this.maxBodyBytes);
    } catch {
      res.writeHead(413, { 'Content-Type': 'text/plain' }).end('Request too large\n');
      return;
    }
    const reply = await this.jsonRpc(body);
    res.writeHead(200, { 'Content-Type': 'application/json' }).end(toJson(reply));
  }

  /** One JSON-RPC 2.0 request (no batches) → response object. */
  private async jsonRpc(body: string): Promise<Record<string, unknown>> {
    let request: unknown;
    try {
      request = JSON.parse(body);
    } catch {
      return rpcError(null, JSONRPC.PARSE_ERROR, 'Parse error: the body is not JSON', 'BAD_INPUT');
    }
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      return rpcError(null, JSONRPC.INVALID_REQUEST, 'Invalid request: expected one JSON-RPC 2.0 request object', 'BAD_INPUT');
    }
    const { id = null, method, params } = request as { id?: unknown; method?: unknown; params?: unknown };
    const replyId = typeof id === 'string' || typeof id === 'number' ? id : null;
    if (typeof method !== 'string') return rpcError(replyId, JSONRPC.INVALID_REQUEST, 'Invalid request: method must be a string', 'BAD_INPUT');
    if (!isCommandName(method) || method === 'daemon') {
      return rpcError(replyId, JSONRPC.METHOD_NOT_FOUND, `Unknown command: ${method}`, 'BAD_INPUT');
    }
    try {
      const result = await this.app.call(method, params);
      return { jsonrpc: '2.0', id: replyId, result: result ?? null };
    } catch (err) {
      const e = toFulmenError(err);
      return rpcError(replyId, jsonRpcCode(e.code), e.message, e.code);
    }
  }

  private sessionFrom(req: http.IncomingMessage, url: URL): boolean {
    const token = url.searchParams.get('token');
    if (token !== null && safeEqual(token, this.sessionToken)) return true;
    const cookie = (req.headers.cookie ?? '')
      .split(';')
      .map((c) => c.trim())
      .find((c) => c.startsWith(`${SESSION_COOKIE}=`));
    return cookie !== undefined && safeEqual(cookie.slice(SESSION_COOKIE.length + 1), this.sessionToken);
  }

  private async handleStatic(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    const isIndex = url.pathname === '/' || url.pathname === '/index.html';
    if (isIndex && !this.sessionFrom(req, url)) {
      res.writeHead(401, { 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('Fulmen: open the URL printed by `fulmen gui_url` (it carries the session token).\n');
      return;
    }
    const relative = isIndex ? 'index.html' : decodeURIComponent(url.pathname).replace(/^\/+/, '');
    const root = path.resolve(this.rendererDir);
    const file = path.resolve(root, relative);
    if (!file.startsWith(root + path.sep)) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found\n');
      return;
    }
    let data: Buffer;
    try {
      data = await fs.promises.readFile(file);
    } catch {
      if (isIndex) {
        res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8' });
        res.end(`Fulmen: the GUI is not built (${root}); run \`npm run build:renderer\`.\n`);
      } else {
        res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not found\n');
      }
      return;
    }
    const headers: http.OutgoingHttpHeaders = {
      'Content-Type': CONTENT_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream',
      'Content-Length': data.length,
    };
    if (isIndex) {
      const origins = [`ws://127.0.0.1:${this.portNumber}`, `ws://localhost:${this.portNumber}`];
      headers['Content-Security-Policy'] = guiContentSecurityPolicy(origins);
      headers['X-Frame-Options'] = 'DENY';
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Set-Cookie'] = `${SESSION_COOKIE}=${this.sessionToken}; HttpOnly; SameSite=Strict; Path=/`;
    }
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : data);
  }

  // ------------------------------------------------------------------ WebSocket

  private upgrade(req: http.IncomingMessage, socket: Duplex, head: Buffer): void {
    const refuse = (status: number, text: string): void => {
      socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
    };
    if (!this.hostAllowed(req.headers.host)) return refuse(403, 'Forbidden');
    const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
    if (url.pathname !== '/ws') return refuse(404, 'Not Found');
    const origin = req.headers.origin;
    if (origin !== `http://127.0.0.1:${this.portNumber}` && origin !== `http://localhost:${this.portNumber}`) {
      return refuse(403, 'Forbidden');
    }
    if (!this.sessionFrom(req, url)) return refuse(401, 'Unauthorized');
    this.wss.handleUpgrade(req, socket, head, (ws) => this.serveSocket(ws));
  }

  private serveSocket(ws: WebSocket): void {
    this.followEvents(ws);
    ws.send(toJson({ event: 'status', data: this.app.status() }));
    ws.on('message', (raw, isBinary) => {
      if (isBinary) return;
      void this.socketCall(ws, raw.toString());
    });
  }

  private async socketCall(ws: WebSocket, text: string): Promise<void> {
    let msg: { id?: unknown; method?: unknown; params?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    const id = typeof msg.id === 'number' || typeof msg.id === 'string' ? msg.id : null;
    let reply: unknown;
    if (typeof msg.method !== 'string' || !isCommandName(msg.method) || declarations[msg.method].hosts === 'cli') {
      reply = { id, error: { code: 'BAD_INPUT', message: `Unknown command: ${String(msg.method)}` } };
    } else {
      try {
        reply = { id, result: (await this.app.call(msg.method, msg.params)) ?? null };
      } catch (err) {
        const e = toFulmenError(err);
        reply = { id, error: { code: e.code, message: e.message } };
      }
    }
    if (ws.readyState === ws.OPEN) ws.send(toJson(reply));
  }
}

function rpcError(id: string | number | null, code: number, message: string, fulmenCode: ErrorCode): Record<string, unknown> {
  return { jsonrpc: '2.0', id, error: { code, message, data: { code: fulmenCode } } };
}

function readBody(req: http.IncomingMessage, limit: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        reject(new Error('too large'));
        req.destroy();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}
