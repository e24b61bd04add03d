/**
 * NoiseConnection: a BOLT 8 encrypted, framed message stream over a node:net Socket.
 * Handles the handshake (with a timeout), reassembly of packets across TCP chunk boundaries,
 * and surfaces failures as FulmenError NETWORK (unreachable, timeout, disconnect) or PROTOCOL
 * (bad handshake, bad MAC).
 */
import net from 'node:net';
import { FulmenError } from '../../util/errors.js';
import {
  ACT_ONE_LENGTH,
  ACT_THREE_LENGTH,
  ACT_TWO_LENGTH,
  LENGTH_HEADER_LENGTH,
  MAC_LENGTH,
  NoiseCipher,
  NoiseInitiator,
  NoiseResponder,
} from './noise.js';

export const DEFAULT_HANDSHAKE_TIMEOUT_MS = 10_000;

export interface ConnectOptions {
  host: string;
  port: number;
  /** Our node private key (32 bytes). */
  localPrivkey: Uint8Array;
  /** The remote node id (33-byte compressed pubkey). */
  remotePubkey: Uint8Array;
  /** Covers TCP connect and the three acts. Default 10 s. */
  timeoutMs?: number;
}

/** Accumulates TCP chunks and hands out exact-size reads. */
class ChunkBuffer {
  private chunks: Uint8Array[] = [];
  private total = 0;

  push(chunk: Uint8Array): void {
    this.chunks.push(chunk);
    this.total += chunk.length;
  }

  get length(): number {
    return this.total;
  }

  /** Removes and returns exactly n bytes; the caller checks `length >= n` first. */
  take(n: number): Uint8Array {
    const out = new Uint8Array(n);
    let filled = 0;
    while (filled < n) {
      const head = this.chunks[0]!;
      const want = n - filled;
      if (head.length <= want) {
        out.set(head, filled);
        filled += head.length;
        this.chunks.shift();
      } else {
        out.set(head.subarray(0, want), filled);
        this.chunks[0] = head.subarray(want);
        filled += want;
      }
    }
    this.total -= n;
    return out;
  }
}

type MessageHandler = (message: Uint8Array) => void;
type CloseHandler = (error?: FulmenError) => void;

/**
 * An established BOLT 8 session. Messages (decrypted Lightning messages, type included) are
 * delivered in order to the `onMessage` handler; messages that arrive before a handler is
 * registered are queued. `onClose` fires exactly once, with the error that ended the session
 * (undefined for a local `close()` or an orderly remote close).
 */
export class NoiseConnection {
  private messageHandler: MessageHandler | undefined;
  private readonly pending: Uint8Array[] = [];
  private readonly closeHandlers: CloseHandler[] = [];
  private closed = false;
  private closeError: FulmenError | undefined;
  private bodyLength: number | undefined;

  private constructor(
    private readonly socket: net.Socket,
    private readonly cipher: NoiseCipher,
    /** The remote node id (33 bytes). */
    readonly remotePubkey: Uint8Array,
    private readonly buffer: ChunkBuffer,
  ) {
    socket.on('data', (chunk: Buffer) => {
      this.buffer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
      this.drain();
    });
    socket.on('error', (err) => this.finish(new FulmenError('NETWORK', `Peer connection error: ${err.message}`)));
    socket.on('close', () => this.finish(undefined));
    socket.setNoDelay(true);
    // Bytes that arrived in the same chunk as the last handshake act.
    queueMicrotask(() => this.drain());
  }

  /** Remote address as "host:port" (for logs). */
  get remoteAddress(): string {
    return `${this.socket.remoteAddress ?? '?'}:${this.socket.remotePort ?? '?'}`;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Opens a TCP connection and runs the handshake as initiator (BOLT 8).
   * @throws FulmenError NETWORK when unreachable / timed out, PROTOCOL on a failed handshake
   *   (e.g. the node at that address does not own `remotePubkey`).
   */
  static async connect(opts: ConnectOptions): Promise<NoiseConnection> {
    const initiator = new NoiseInitiator(opts.localPrivkey, opts.remotePubkey);
    const socket = net.connect({ host: opts.host, port: opts.port });
    const reader = new HandshakeReader(socket, opts.timeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS, `${opts.host}:${opts.port}`);
    try {
      await reader.connected();
      socket.write(initiator.act1());
      const act2 = await reader.read(ACT_TWO_LENGTH, 'act 2');
      const { act3, cipher, remotePubkey } = initiator.act2(act2);
      socket.write(act3);
      return new NoiseConnection(socket, cipher, remotePubkey, reader.release());
    } catch (err) {
      reader.abort();
      throw err;
    }
  }

  /**
   * Runs the responder handshake on an accepted socket (BOLT 8).
   * @throws FulmenError NETWORK on timeout / disconnect, PROTOCOL on a failed handshake.
   */
  static async accept(socket: net.Socket, localPrivkey: Uint8Array, timeoutMs = DEFAULT_HANDSHAKE_TIMEOUT_MS): Promise<NoiseConnection> {
    const responder = new NoiseResponder(localPrivkey);
    const reader = new HandshakeReader(socket, timeoutMs, `${socket.remoteAddress}:${socket.remotePort}`);
    try {
      const act1 = await reader.read(ACT_ONE_LENGTH, 'act 1');
      socket.write(responder.act1(act1));
      const act3 = await reader.read(ACT_THREE_LENGTH, 'act 3');
      const { cipher, remotePubkey } = responder.act3(act3);
      return new NoiseConnection(socket, cipher, remotePubkey, reader.release());
    } catch (err) {
      reader.abort();
      throw err;
    }
  }

  /** Registers the (single) message handler and flushes queued messages to it. */
  onMessage(handler: MessageHandler): void {
    this.messageHandler = handler;
    while (this.pending.length > 0 && this.messageHandler === handler) handler(this.pending.shift()!);
  }

  /** Registers a close handler; called immediately if already closed. */
  onClose(handler: CloseHandler): void {
    if (this.closed) handler(this.closeError);
    else this.closeHandlers.push(handler);
  }

  /**
   * Encrypts and sends one Lightning message (≤ 65535 bytes).
   * @throws FulmenError NETWORK when the connection is closed.
   */
  send(message: Uint8Array): void {
    if (this.closed) throw new FulmenError('NETWORK', 'Peer connection is closed');
    this.socket.write(this.cipher.encrypt(message));
  }

  /**
   * Encrypts `messages` in order and writes them with one socket write (one TCP send for a
   * batch of BOLT 2 updates instead of one per message).
   * @throws FulmenError NETWORK when the connection is closed.
   */
  sendMany(messages: readonly Uint8Array[]): void {
    if (this.closed) throw new FulmenError('NETWORK', 'Peer connection is closed');
    if (messages.length === 0) return;
    this.socket.write(Buffer.concat(messages.map((m) => this.cipher.encrypt(m))));
  }

  /** Closes the connection (after flushing queued writes). */
  close(): void {
    if (this.closed) return;
    this.finish(undefined);
    this.socket.end();
    // Do not wait forever for the remote side to acknowledge the FIN.
    setTimeout(() => this.socket.destroy(), 2000).unref();
  }

  private drain(): void {
    try {
      while (!this.closed) {
        if (this.bodyLength === undefined) {
          if (this.buffer.length < LENGTH_HEADER_LENGTH) return;
          this.bodyLength = this.cipher.decryptLength(this.buffer.take(LENGTH_HEADER_LENGTH));
        }
        if (this.buffer.length < this.bodyLength + MAC_LENGTH) return;
        const message = this.cipher.decryptBody(this.buffer.take(this.bodyLength + MAC_LENGTH));
        this.bodyLength = undefined;
        if (this.messageHandler) this.messageHandler(message);
        else this.pending.push(message);
      }
    } catch (err) {
      const error = err instanceof FulmenError ? err : new FulmenError('PROTOCOL', String(err));
      this.finish(error);
      this.socket.destroy();
    }
  }

  private finish(error: FulmenError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    this.closeError = error;
    for (const h of this.closeHandlers.splice(0)) h(error);
  }
}

/** Reads exact handshake acts from a socket with one overall deadline. */
class HandshakeReader {
  private readonly buffer = new ChunkBuffer();
  private waiter: { n: number; resolve: (b: Uint8Array) => void; reject: (e: FulmenError) => void; what: string } | undefined;
  private failure: FulmenError | undefined;
  private readonly timer: NodeJS.Timeout;
  private isConnected: boolean;
  private connectWaiter: { resolve: () => void; reject: (e: FulmenError) => void } | undefined;
  private readonly onData = (chunk: Buffer) => {
    this.buffer.push(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.length));
    this.serve();
  };
  private readonly onError = (err: Error) =>
    this.fail(new FulmenError('NETWORK', `Cannot connect to ${this.label}: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
  private readonly onClose = () =>
    this.fail(new FulmenError('NETWORK', `Connection to ${this.label} closed during handshake`), { peerClosed: true });
  private readonly onConnect = () => {
    this.isConnected = true;
    this.connectWaiter?.resolve();
  };

  constructor(
    private readonly socket: net.Socket,
    timeoutMs: number,
    private readonly label: string,
  ) {
    this.isConnected = !socket.connecting;
    socket.on('data', this.onData);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('connect', this.onConnect);
    this.timer = setTimeout(() => this.fail(new FulmenError('NETWORK', `Handshake with ${label} timed out`)), timeoutMs);
  }

  connected(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.isConnected) return Promise.resolve();
    return new Promise((resolve, reject) => (this.connectWaiter = { resolve, reject }));
  }

  read(n: number, what: string): Promise<Uint8Array> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.waiter = { n, resolve, reject, what };
      this.serve();
    });
  }

  private serve(): void {
    const w = this.waiter;
    if (w && this.buffer.length >= w.n) {
      this.waiter = undefined;
      w.resolve(this.buffer.take(w.n));
    }
  }

  private fail(error: FulmenError, opts: { peerClosed?: boolean } = {}): void {
    if (this.failure) return;
    this.failure = error;
    clearTimeout(this.timer);
    this.connectWaiter?.reject(error);
    this.connectWaiter = undefined;
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = undefined;
      // A close in the middle of an act is a short read of that act (BOLT 8 "ACTn_READ_FAILED").
      w.reject(
        opts.peerClosed && this.isConnected
          ? new FulmenError('PROTOCOL', `Noise handshake failed: ${w.what} short read (${this.buffer.length} of ${w.n} bytes)`)
          : error,
      );
    }
    this.socket.destroy();
  }

  private detach(): void {
    clearTimeout(this.timer);
    this.socket.off('data', this.onData);
    this.socket.off('error', this.onError);
    this.socket.off('close', this.onClose);
    this.socket.off('connect', this.onConnect);
  }

  /** Hands the socket over: returns bytes already read past the last act. */
  release(): ChunkBuffer {
    this.detach();
    return this.buffer;
  }

  abort(): void {
    this.detach();
    this.socket.destroy();
  }
}

/**
 * Listens for inbound BOLT 8 connections. Each accepted socket runs the responder handshake;
 * successful sessions go to `onConnection`, failed handshakes to `onHandshakeError` (if given).
 * Resolves once the server is listening; `server.address()` gives the bound port.
 */
export function listenNoise(
  host: string,
  port: number,
  localPrivkey: Uint8Array,
  onConnection: (conn: NoiseConnection) => void,
  opts: { timeoutMs?: number; onHandshakeError?: (err: FulmenError) => void } = {},
): Promise<net.Server> {
  const server = net.createServer((socket) => {
    NoiseConnection.accept(socket, localPrivkey, opts.timeoutMs).then(onConnection, (err: unknown) => {
      opts.onHandshakeError?.(err instanceof FulmenError ? err : new FulmenError('PROTOCOL', String(err)));
    });
  });
  return new Promise((resolve, reject) => {
    server.once('error', (err) => reject(new FulmenError('NETWORK', `Cannot listen on ${host}:${port}: ${err.message}`)));
    server.listen(port, host, () => resolve(server));
  });
}
