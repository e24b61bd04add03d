import type { CommandName, Commands, FulmenEventName, FulmenEvents } from '../../core/api/client-types.js';

/**
 * The GUI's one API client. It speaks to whichever host started the GUI:
 *  - Electron: the preload's `window.fulmen.call/on` (contextBridge, IPC to the main process);
 *  - daemon: the authenticated WebSocket at `/ws` of the origin that served the page, with the
 *    session token taken from the page URL (`?token=...`). Requests are `{id, method, params}`,
 *    replies `{id, result}` or `{id, error: {code, message}}`, pushes `{event, data}`.
 * The WebSocket reconnects with backoff when dropped; calls in flight fail with code NETWORK.
 */

/** A command error as the host reports it: a stable code (core/util/errors.ts) and a user message. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export type ConnectionState = 'connecting' | 'open' | 'closed';

export type Method = CommandName;
export type ParamsOf<K extends Method> = Commands[K]['params'];
export type ResultOf<K extends Method> = Commands[K]['result'];

type EventHandler = (data: unknown) => void;

/** What the Electron preload exposes (electron/preload.ts). */
interface PreloadBridge {
  call(method: string, params: unknown): Promise<unknown>;
  on(event: string, handler: (data: unknown) => void): (() => void) | void;
}

declare global {
  interface Window {
    fulmen?: PreloadBridge;
  }
}

interface Transport {
  call(method: string, params: unknown): Promise<unknown>;
  subscribe(event: string, handler: EventHandler): () => void;
  onConnection(listener: (state: ConnectionState) => void): () => void;
  readonly state: ConnectionState;
}

/** Turns whatever a host threw into an ApiError with a readable message. */
function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (err && typeof err === 'object') {
    const e = err as { code?: unknown; message?: unknown };
    // Electron IPC serialises thrown errors into "Error invoking remote method 'x': CODE: msg".
    const raw = typeof e.message === 'string' ? e.message.replace(/^Error invoking remote method '[^']+': (Error: )?/, '') : '';
    const prefixed = /^([A-Z_]{3,}): (.*)$/s.exec(raw);
    if (typeof e.code === 'string') return new ApiError(e.code, raw || e.code);
    if (prefixed) return new ApiError(prefixed[1]!, prefixed[2]!);
    if (raw) return new ApiError('INTERNAL', raw);
  }
  return new ApiError('INTERNAL', String(err));
}

class ElectronTransport implements Transport {
  readonly state: ConnectionState = 'open';
  constructor(private readonly bridge: PreloadBridge) {}
  async call(method: string, params: unknown): Promise<unknown> {
    try {
      return await this.bridge.call(method, params);
    } catch (err) {
      throw toApiError(err);
    }
  }
  subscribe(event: string, handler: EventHandler): () => void {
    const off = this.bridge.on(event, handler);
    return typeof off === 'function' ? off : () => {};
  }
  onConnection(listener: (state: ConnectionState) => void): () => void {
    listener('open');
    return () => {};
  }
}

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: ApiError) => void;
}

class WebSocketTransport implements Transport {
  state: ConnectionState = 'connecting';
  private socket: WebSocket | null = null;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private readonly handlers = new Map<string, Set<EventHandler>>();
  private readonly connectionListeners = new Set<(state: ConnectionState) => void>();
  private readonly queue: string[] = [];
  private retryMs = 250;

  constructor(private readonly url: string) {
    this.connect();
  }

  private setState(state: ConnectionState): void {
    if (this.state === state) return;
    this.state = state;
    for (const l of this.connectionListeners) l(state);
  }

  private connect(): void {
    this.setState('connecting');
    const ws = new WebSocket(this.url);
    this.socket = ws;
    ws.onopen = () => {
      this.retryMs = 250;
      this.setState('open');
      for (const frame of this.queue.splice(0)) ws.send(frame);
    };
    ws.onmessage = (ev) => this.receive(typeof ev.data === 'string' ? ev.data : '');
    ws.onclose = () => {
      if (this.socket !== ws) return;
      this.socket = null;
      this.setState('closed');
      this.queue.length = 0;
      for (const [id, p] of this.pending) {
        p.reject(new ApiError('NETWORK', 'The connection to Fulmen was lost; try again'));
        this.pending.delete(id);
      }
      const delay = this.retryMs;
      this.retryMs = Math.min(this.retryMs * 2, 5000);
      setTimeout(() => this.connect(), delay);
    };
  }

  private receive(text: string): void {
    let msg: { id?: number; result?: unknown; error?: { code?: string; message?: string }; event?: string; data?: unknown };
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (typeof msg.event === 'string') {
      for (const h of this.handlers.get(msg.event) ?? []) h(msg.data);
      return;
    }
    if (typeof msg.id !== 'number') return;
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    if (msg.error) p.reject(new ApiError(msg.error.code ?? 'INTERNAL', msg.error.message ?? 'Unknown error'));
    else p.resolve(msg.result);
  }

  call(method: string, params: unknown): Promise<unknown> {
    const id = this.nextId++;
    const frame = JSON.stringify({ id, method, params: params ?? {} });
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(frame);
      else this.queue.push(frame);
    });
  }

  subscribe(event: string, handler: EventHandler): () => void {
    let set = this.handlers.get(event);
    if (!set) this.handlers.set(event, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }

  onConnection(listener: (state: ConnectionState) => void): () => void {
    this.connectionListeners.add(listener);
    listener(this.state);
    return () => this.connectionListeners.delete(listener);
  }
}

/** The WebSocket URL for the daemon that served this page, carrying the session token. */
export function daemonSocketUrl(location: { protocol: string; host: string; search: string }): string {
  const token = new URLSearchParams(location.search).get('token') ?? '';
  const scheme = location.protocol === 'https:' ? 'wss:' : 'ws:';
  return `${scheme}//${location.host}/ws?token=${encodeURIComponent(token)}`;
}

function createTransport(): Transport {
  if (typeof window !== 'undefined' && window.fulmen) return new ElectronTransport(window.fulmen);
  return new WebSocketTransport(daemonSocketUrl(window.location));
}

let transport: Transport | null = null;
function getTransport(): Transport {
  return (transport ??= createTransport());
}

/**
 * Calls a command of the table with typed params and result.
 * @throws ApiError with the host's code (BAD_INPUT, INSUFFICIENT_FUNDS, NETWORK, ...) and message.
 */
export function call<K extends Method>(method: K, ...args: {} extends ParamsOf<K> ? [params?: ParamsOf<K>] : [params: ParamsOf<K>]): Promise<ResultOf<K>> {
  return getTransport().call(method, args[0] ?? {}) as Promise<ResultOf<K>>;
}

/** Subscribes to a pushed event (core/api/events.ts), typed by name. Returns unsubscribe. */
export function on<E extends FulmenEventName>(event: E, handler: (data: FulmenEvents[E]) => void): () => void {
  return getTransport().subscribe(event, handler as EventHandler);
}

/** Follows the connection to the host (Electron is always 'open'). Returns unsubscribe. */
export function onConnection(listener: (state: ConnectionState) => void): () => void {
  return getTransport().onConnection(listener);
}

/** The message to show inline for any error thrown by `call`. */
export function errorMessage(err: unknown): string {
  return toApiError(err).message;
}
