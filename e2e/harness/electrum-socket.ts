/**
 * A deliberately tiny Electrum-protocol client for the test harness: newline-delimited JSON-RPC 2.0
 * over plain TCP (Electrum protocol 1.4, "Basics"). It exists so the harness and integration
 * tests can ask ElectrumX questions without depending on the wallet's own ElectrumInterface
 * (core/chain), which is one of the things under test.
 */
import net from 'node:net';

interface PendingRequest {
  resolve(value: unknown): void;
  reject(error: Error): void;
  method: string;
}

/** A server-initiated notification (e.g. `blockchain.headers.subscribe` with a new header). */
export interface ElectrumNotification {
  method: string;
  params: unknown[];
}

export class ElectrumTestSocket {
  private nextId = 1;
  private buffer = '';
  private readonly pending = new Map<number, PendingRequest>();
  private closedError: Error | null = null;
  /** Notifications received so far, oldest first; tests may inspect or clear it. */
  readonly notifications: ElectrumNotification[] = [];
  /** Called once when the connection closes or fails. */
  onClose: (() => void) | null = null;

  private constructor(private readonly socket: net.Socket) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('error', (err) => this.failAll(err));
    socket.on('close', () => this.failAll(new Error('Electrum socket closed')));
  }

  /**
   * Opens a TCP connection to an Electrum server.
   * @throws Error when the connection is refused or does not open within `timeoutMs`.
   */
  static connect(host: string, port: number, timeoutMs = 5_000): Promise<ElectrumTestSocket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new Error(`Electrum connect to ${host}:${port} timed out`));
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeListener('error', reject);
        resolve(new ElectrumTestSocket(socket));
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(err);
      });
    });
  }

  /**
   * Sends one request and resolves with its `result`.
   * @throws Error carrying the server's error message, or on timeout / closed socket.
   */
  request<T = unknown>(method: string, params: unknown[] = [], timeoutMs = 30_000): Promise<T> {
    if (this.closedError) return Promise.reject(this.closedError);
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`Electrum request ${method} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (value) => {
          clearTimeout(timer);
          resolve(value as T);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.socket.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
    });
  }

  /** Closes the connection; pending requests reject. */
  close(): void {
    this.socket.destroy();
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let newline: number;
    while ((newline = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, newline).trim();
      this.buffer = this.buffer.slice(newline + 1);
      if (line) this.onMessage(line);
    }
  }

  private onMessage(line: string): void {
    let message: { id?: number | null; result?: unknown; error?: { message?: string; code?: number }; method?: string; params?: unknown[] };
    try {
      message = JSON.parse(line);
    } catch {
      this.failAll(new Error(`Electrum server sent invalid JSON: ${line.slice(0, 200)}`));
      this.socket.destroy();
      return;
    }
    if (message.method !== undefined && (message.id === undefined || message.id === null)) {
      this.notifications.push({ method: message.method, params: message.params ?? [] });
      return;
    }
    const pending = typeof message.id === 'number' ? this.pending.get(message.id) : undefined;
    if (!pending) return;
    this.pending.delete(message.id as number);
    if (message.error) {
      pending.reject(new Error(`Electrum ${pending.method} failed: ${message.error.message ?? JSON.stringify(message.error)}`));
    } else {
      pending.resolve(message.result);
    }
  }

  private failAll(error: Error): void {
    if (!this.closedError) {
      this.closedError = error;
      this.onClose?.();
    }
    for (const pending of this.pending.values()) pending.reject(error);
    this.pending.clear();
  }
}

/**
 * One reused harness connection to an Electrum server (ElectrumX or electrs) for polling its tip:
 * connected (and `server.version` negotiated) on first use, again after it closed.
 */
export class ElectrumTipProbe {
  private socket: ElectrumTestSocket | null = null;

  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  /** The server's tip (`blockchain.headers.subscribe`: height and header hex); notifications it brings are dropped. */
  async tip(): Promise<{ height: number; hex: string }> {
    const socket = await this.connect();
    const tip = await socket.request<{ height: number; hex: string }>('blockchain.headers.subscribe', [], 10_000);
    socket.notifications.length = 0;
    return tip;
  }

  close(): void {
    this.socket?.close();
    this.socket = null;
  }

  private async connect(): Promise<ElectrumTestSocket> {
    if (this.socket) return this.socket;
    const socket = await ElectrumTestSocket.connect(this.host, this.port, 2_000);
    socket.onClose = () => {
      if (this.socket === socket) this.socket = null;
    };
    await socket.request('server.version', ['fulmen-harness', '1.4']);
    this.socket = socket;
    return socket;
  }
}
