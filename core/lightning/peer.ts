/**
 * Peer: one BOLT 8 connection to one remote node, speaking BOLT 1 (init, ping/pong,
 * error/warning) and dispatching channel messages (BOLT 2) to the node's handler.
 * Electrum's lnpeer.Peer is the model.
 */
import type net from 'node:net';
import { randomBytes } from 'node:crypto';
import { FulmenError, toFulmenError } from '../util/errors.js';
import { NoiseConnection, listenNoise, DEFAULT_HANDSHAKE_TIMEOUT_MS } from './transport/connection.js';
import {
  decodeMessage,
  encodeMessage,
  errorDataText,
  type ChannelMessage,
  type LightningMessage,
  type UnknownMessage,
} from './wire/messages.js';
import { FeatureBits } from './wire/features.js';
import { WireDecodeError, bytesEqual, bytesToHex } from './wire/codec.js';
import { decodeGossipMessage, encodeGossipMessage, type GossipMessage } from './wire/gossip.js';

/**
 * Default init features (BOLT 9): the ASSUMED features Fulmen needs are required; channel_type,
 * anchors and shutdown_anysegwit optional.
 */
export const DEFAULT_PEER_FEATURES: FeatureBits = FeatureBits.fromFeatures({
  option_data_loss_protect: 'required',
  var_onion_optin: 'required',
  option_static_remotekey: 'required',
  payment_secret: 'required',
  option_channel_type: 'optional',
  // option_anchors_zero_fee_htlc_tx: the channel type Fulmen proposes when the peer has it too.
  option_anchors: 'optional',
  option_shutdown_anysegwit: 'optional',
  option_upfront_shutdown_script: 'optional',
  // Aliases in channel_ready (always sent) and option_scid_alias channel types accepted (BOLT 2).
  option_scid_alias: 'optional',
  // Zero-conf channel types understood: proposed when asked (open_channel zeroconf), accepted only
  // from the node's zeroconfTrustedPeers (BOLT 2: the fundee MAY fail them).
  option_zeroconf: 'optional',
  // Electrum 4.5.8 refuses peers without it. Queries are answered from what Fulmen knows of the
  // public graph: nothing (it keeps no gossip store; its own channels are unannounced).
  gossip_queries: 'optional',
});

/** BOLT 7 gossip message types: known to the spec, so never "unknown even" to us. */
const GOSSIP_TYPES = new Set([256, 257, 258, 259, 261, 262, 263, 264, 265]);
/** The gossip queries and replies (BOLT 7 "Query Messages") Peer handles itself. */
const GOSSIP_QUERY_TYPES = new Set([261, 262, 263, 264, 265]);

export interface PeerOptions {
  /** Our node private key (32 bytes). */
  localPrivkey: Uint8Array;
  /** Chain we operate on: sent in init `networks` and required in the remote's, if it sends one. */
  chainHash: Uint8Array;
  /** Init features; default DEFAULT_PEER_FEATURES. */
  localFeatures?: FeatureBits;
  /** Ping every this many ms of the connection's life (default 30 s). */
  pingIntervalMs?: number;
  /** Close when a pong does not arrive within this many ms (default 20 s). */
  pongTimeoutMs?: number;
  /** Handshake + init exchange deadline (default 10 s). */
  initTimeoutMs?: number;
}

export interface RemoteError {
  /** 32 bytes; all zeros = all channels with this peer. */
  channelId: Uint8Array;
  /** Printable text of the error data (hex when not printable). */
  text: string;
  isWarning: boolean;
}

interface PeerEvents {
  /** Init exchanged and checked. */
  ready: () => void;
  /** The connection is gone; `error` says why (undefined for a clean local close). */
  closed: (error?: FulmenError) => void;
  /** The peer sent `error` or `warning` (BOLT 1). */
  remoteError: (error: RemoteError) => void;
  /**
   * BOLT 7 gossip messages other than the queries Peer answers itself, undecoded
   * (wire/gossip.ts decodeGossipMessage decodes channel_update).
   */
  gossipMessage: (message: UnknownMessage) => void;
}

type Listeners = { [K in keyof PeerEvents]: PeerEvents[K][] };

/** Handles one channel message; may be async (the next message waits for it). */
export type ChannelMessageHandler = (msg: ChannelMessage) => void | Promise<void>;

/**
 * One connection to one remote node. Create with `Peer.connect` (outbound) or `listen`
 * (inbound); both resolve/deliver the Peer once `init` has been exchanged (`isReady`).
 */
export class Peer {
  private readonly listeners: Listeners = { ready: [], closed: [], remoteError: [], gossipMessage: [] };
  private channelHandler: ChannelMessageHandler | undefined;
  private readonly queuedChannelMessages: ChannelMessage[] = [];
  private dispatching = false;
  /** Encoded messages held by `hold()` until `release()`; null when sending directly. */
  private heldOutput: Uint8Array[] | null = null;
  private readonly unheardRemoteErrors: RemoteError[] = [];
  private readonly unheardGossip: UnknownMessage[] = [];
  private ready = false;
  private closedWith: { error?: FulmenError } | undefined;
  private remoteFeatureBits: FeatureBits = FeatureBits.empty();
  private remoteNetworkList: Uint8Array[] | undefined;
  private pingTimer: NodeJS.Timeout | undefined;
  private pongTimer: NodeJS.Timeout | undefined;
  private initTimer: NodeJS.Timeout | undefined;
  private pendingPong: { numPongBytes: number; waiters: (() => void)[] } | undefined;
  private lastReceivedAt = Date.now();
  private timestampFilter: { firstTimestamp: number; timestampRange: number } | null = null;
  readonly localFeatures: FeatureBits;

  private constructor(
    private readonly conn: NoiseConnection,
    private readonly opts: PeerOptions,
  ) {
    this.localFeatures = opts.localFeatures ?? DEFAULT_PEER_FEATURES;
    conn.onClose((err) => this.finish(err));
  }

  /** The remote node id (33-byte compressed pubkey). */
  get remoteNodeId(): Uint8Array {
    return this.conn.remotePubkey;
  }

  /** Features the remote sent in init (globalfeatures ∪ features). Empty before ready. */
  get remoteFeatures(): FeatureBits {
    return this.remoteFeatureBits;
  }

  /** Chains listed in the remote's init `networks` TLV (undefined when absent). */
  get remoteNetworks(): Uint8Array[] | undefined {
    return this.remoteNetworkList;
  }

  get isReady(): boolean {
    return this.ready && !this.closedWith;
  }

  get isClosed(): boolean {
    return this.closedWith !== undefined;
  }

  /**
   * The remote's latest gossip_timestamp_filter for our chain (BOLT 7), or null when it sent
   * none: the range of gossip timestamps it wants relayed. Fulmen relays no third-party gossip.
   */
  get gossipTimestampFilter(): { firstTimestamp: number; timestampRange: number } | null {
    return this.timestampFilter;
  }

  /** Milliseconds since anything was last received (BOLT 2: ping before commitment_signed if stale). */
  get msSinceLastMessage(): number {
    return Date.now() - this.lastReceivedAt;
  }

  /** "hex(node id)@host:port" for logs. */
  toString(): string {
    return `${bytesToHex(this.remoteNodeId)}@${this.conn.remoteAddress}`;
  }

  /**
   * Connects to `remoteNodeId` at host:port, runs the BOLT 8 handshake and the init exchange.
   * @throws FulmenError NETWORK (unreachable, timeout, closed during init), PROTOCOL (bad
   *   handshake, incompatible features or chain).
   */
  static async connect(opts: PeerOptions & { host: string; port: number; remoteNodeId: Uint8Array }): Promise<Peer> {
    const conn = await NoiseConnection.connect({
      host: opts.host,
      port: opts.port,
      localPrivkey: opts.localPrivkey,
      remotePubkey: opts.remoteNodeId,
      timeoutMs: opts.initTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
    });
    const peer = new Peer(conn, opts);
    await peer.start();
    return peer;
  }

  /** Wraps an accepted NoiseConnection and runs the init exchange (used by `listen`). */
  static async fromConnection(conn: NoiseConnection, opts: PeerOptions): Promise<Peer> {
    const peer = new Peer(conn, opts);
    await peer.start();
    return peer;
  }

  /**
   * Subscribes to an event. `remoteError` and `gossipMessage` events that happen while nobody
   * listens (e.g. right after init, before the caller subscribed) are kept and delivered to the
   * first listener (gossip: at most 1000 kept). `closed` fires at once if already closed.
   */
  on<K extends keyof PeerEvents>(event: K, handler: PeerEvents[K]): void {
    if (event === 'closed' && this.closedWith) {
      (handler as PeerEvents['closed'])(this.closedWith.error);
      return;
    }
    this.listeners[event].push(handler);
    if (event === 'remoteError') for (const e of this.unheardRemoteErrors.splice(0)) (handler as PeerEvents['remoteError'])(e);
    if (event === 'gossipMessage') for (const m of this.unheardGossip.splice(0)) (handler as PeerEvents['gossipMessage'])(m);
  }

  private emit<K extends keyof PeerEvents>(event: K, ...args: Parameters<PeerEvents[K]>): void {
    if (this.listeners[event].length === 0) {
      if (event === 'remoteError') this.unheardRemoteErrors.push(args[0] as RemoteError);
      if (event === 'gossipMessage' && this.unheardGossip.length < 1000) this.unheardGossip.push(args[0] as UnknownMessage);
      return;
    }
    for (const h of [...this.listeners[event]]) (h as (...a: Parameters<PeerEvents[K]>) => void)(...args);
  }

  /**
   * Registers the handler for messages that belong to a channel (open/accept/funding_*,
   * channel_ready, shutdown, closing_signed, update_*, commitment_signed, revoke_and_ack,
   * channel_reestablish). Messages are delivered strictly one at a time in arrival order: when
   * the handler returns a promise, the next message waits for it (so a handler can commit to
   * SQLite before replying). Messages received before registration are queued. A handler that
   * throws/rejects disconnects the peer with that error (channels resume via reestablish).
   */
  onChannelMessage(handler: ChannelMessageHandler): void {
    this.channelHandler = handler;
    void this.pumpChannelMessages();
  }

  private async pumpChannelMessages(): Promise<void> {
    if (this.dispatching) return;
    this.dispatching = true;
    try {
      while (this.channelHandler && this.queuedChannelMessages.length > 0 && !this.closedWith) {
        const msg = this.queuedChannelMessages.shift()!;
        try {
          await this.channelHandler(msg);
        } catch (e) {
          this.fail(toFulmenError(e));
        }
      }
    } finally {
      this.dispatching = false;
    }
  }

  /**
   * Sends a message (after init); `{ type: 'unknown' }` sends raw types without a codec yet
   * (gossip, custom). The caller has already persisted any state the message depends on
   * (DESIGN.md safety rule).
   * @throws FulmenError NETWORK when the connection is closed or not ready.
   */
  send(msg: LightningMessage | UnknownMessage): void {
    if (this.closedWith) throw new FulmenError('NETWORK', 'Peer is disconnected');
    if (!this.ready && msg.type !== 'init') throw new FulmenError('NETWORK', 'Peer is not ready (init not exchanged)');
    if (this.heldOutput) this.heldOutput.push(encodeMessage(msg));
    else this.conn.send(encodeMessage(msg));
  }

  /**
   * Holds every message sent from now on until `release()`: the node commits the state a batch
   * of messages depends on (one SQLite transaction) before any of them leaves (DESIGN safety rule).
   */
  hold(): void {
    this.heldOutput ??= [];
  }

  /** Sends the held messages, in order, with one socket write; afterwards sends go out at once. */
  release(): void {
    const held = this.heldOutput;
    this.heldOutput = null;
    if (held && held.length > 0 && !this.closedWith) this.conn.sendMany(held);
  }

  /** Sends `error` (BOLT 1); all-zero channelId means all channels. */
  sendError(channelId: Uint8Array, text: string): void {
    this.send({ type: 'error', channelId, data: new TextEncoder().encode(text) });
  }

  /** Sends `warning` (BOLT 1). */
  sendWarning(channelId: Uint8Array, text: string): void {
    this.send({ type: 'warning', channelId, data: new TextEncoder().encode(text) });
  }

  /**
   * BOLT 1/2 "send a warning and close the connection": the warning goes out at once, ahead of
   * any held output (which is dropped, as on every close: the state it depends on may not be
   * committed; channel_reestablish recovers it), then the connection closes with a PROTOCOL error.
   */
  warnAndClose(channelId: Uint8Array, text: string): void {
    this.trySend({ type: 'warning', channelId, data: new TextEncoder().encode(text) });
    this.fail(new FulmenError('PROTOCOL', text));
  }

  /**
   * Sends a ping and resolves when its pong arrives (BOLT 1). Concurrent calls share the
   * outstanding ping. @throws FulmenError NETWORK when disconnected or the pong times out.
   */
  ping(): Promise<void> {
    if (this.closedWith) return Promise.reject(new FulmenError('NETWORK', 'Peer is disconnected'));
    return new Promise((resolve, reject) => {
      const onClosed = (err?: FulmenError) => reject(err ?? new FulmenError('NETWORK', 'Peer disconnected before pong'));
      this.on('closed', onClosed);
      const waiter = () => {
        this.listeners.closed = this.listeners.closed.filter((h) => h !== onClosed);
        resolve();
      };
      if (this.pendingPong) this.pendingPong.waiters.push(waiter);
      else this.sendPing([waiter]);
    });
  }

  /** Closes the connection. */
  close(): void {
    this.conn.close();
    this.finish(undefined);
  }

  private start(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.on('ready', resolve);
      this.on('closed', (err) => reject(err ?? new FulmenError('NETWORK', 'Connection closed during init')));
      this.initTimer = setTimeout(
        () => this.fail(new FulmenError('NETWORK', 'Peer did not send init in time')),
        this.opts.initTimeoutMs ?? DEFAULT_HANDSHAKE_TIMEOUT_MS,
      );
      this.send({
        type: 'init',
        globalFeatures: new Uint8Array(0),
        features: this.localFeatures.toBytes(),
        networks: [this.opts.chainHash],
      });
      // Only now: the connection queues messages until a handler exists, so the remote's
      // init (possibly already received) is handled after our listeners are in place.
      this.conn.onMessage((bytes) => this.receive(bytes));
    });
  }

  private sendPing(waiters: (() => void)[]): void {
    // num_pong_bytes varies so traffic is not trivially fingerprinted; ignored is zeros (BOLT 1).
    const numPongBytes = randomBytes(1)[0]!;
    const pending = { numPongBytes, waiters };
    this.pendingPong = pending;
    this.send({ type: 'ping', numPongBytes, ignored: new Uint8Array(randomBytes(1)[0]! % 32) });
    this.armPongTimer(pending);
  }

  /**
   * Closes the connection when `pending`'s pong does not come within pongTimeoutMs of silence.
   * Node runs expired timers before it reads sockets, so after a turn longer than the timeout
   * (a busy node: hundreds of HTLCs per commit group) the timer would fire while the pong already
   * waits in the socket, unread. So the verdict waits for the next poll phase (setImmediate runs
   * after it), and the wait restarts when the peer sent anything meanwhile (alive, merely busy)
   * or when the timer fired late (our own event loop was blocked: the peer had no fair chance).
   */
  private armPongTimer(pending: NonNullable<Peer['pendingPong']>): void {
    const timeoutMs = this.opts.pongTimeoutMs ?? 20_000;
    const armedAt = Date.now();
    this.pongTimer = setTimeout(() => {
      const firedLate = Date.now() - armedAt - timeoutMs > timeoutMs / 4;
      setImmediate(() => {
        if (this.pendingPong !== pending || this.closedWith) return;
        if (firedLate || this.lastReceivedAt >= armedAt) this.armPongTimer(pending);
        else this.fail(new FulmenError('NETWORK', 'Peer did not answer ping'));
      });
    }, timeoutMs);
  }

  private schedulePings(): void {
    const interval = this.opts.pingIntervalMs ?? 30_000;
    this.pingTimer = setInterval(() => {
      if (!this.pendingPong && !this.closedWith) this.sendPing([]);
    }, interval);
    this.pingTimer.unref?.();
  }

  private receive(bytes: Uint8Array): void {
    if (this.closedWith) return;
    this.lastReceivedAt = Date.now();
    let msg: LightningMessage | UnknownMessage;
    try {
      msg = decodeMessage(bytes);
    } catch (e) {
      const reason = e instanceof WireDecodeError ? e.message : String(e);
      this.failWithWarning(`Malformed message: ${reason}`);
      return;
    }
    if (!this.ready) {
      if (msg.type !== 'init') {
        this.fail(new FulmenError('PROTOCOL', `Peer sent ${msg.type} before init`));
        return;
      }
      this.handleInit(msg);
      return;
    }
    switch (msg.type) {
      case 'init':
        this.failWithWarning('Duplicate init');
        return;
      case 'ping':
        if (msg.numPongBytes < 65532) this.send({ type: 'pong', ignored: new Uint8Array(msg.numPongBytes) });
        return;
      case 'pong':
        this.handlePong(msg.ignored.length);
        return;
      case 'error':
      case 'warning':
        this.emit('remoteError', { channelId: msg.channelId, text: errorDataText(msg.data), isWarning: msg.type === 'warning' });
        return;
      case 'unknown':
        if (GOSSIP_TYPES.has(msg.typeNumber)) this.receiveGossip(msg);
        else if (msg.typeNumber % 2 === 0) this.failWithWarning(`Unknown even message type ${msg.typeNumber}`);
        // unknown odd: ignore (BOLT 1 "it's ok to be odd")
        return;
      default:
        this.queuedChannelMessages.push(msg);
        void this.pumpChannelMessages();
    }
  }

  /**
   * BOLT 7 gossip: answers the queries (nothing of the public graph is known, so every answer is
   * an empty but complete, valid reply), keeps gossip_timestamp_filter, hands the rest (e.g.
   * channel_update) to `gossipMessage` listeners. A malformed query → warning and disconnect
   * (BOLT 7 "MAY send a warning, MAY close the connection").
   */
  private receiveGossip(msg: UnknownMessage): void {
    if (!GOSSIP_QUERY_TYPES.has(msg.typeNumber)) {
      this.emit('gossipMessage', msg);
      return;
    }
    let gossip: GossipMessage | null;
    try {
      gossip = decodeGossipMessage(msg);
    } catch (e) {
      this.failWithWarning(`Malformed gossip message ${msg.typeNumber}: ${e instanceof WireDecodeError ? e.message : String(e)}`);
      return;
    }
    switch (gossip?.type) {
      case 'query_channel_range': {
        // One reply covering the whole queried range (BOLT 7: first_blocknum ≤ the query's, and
        // first_blocknum + number_of_blocks ≥ the query's end), sync_complete set.
        const numberOfBlocks = Math.max(1, Math.min(gossip.numberOfBlocks, 0xffffffff - gossip.firstBlocknum));
        this.send(
          encodeGossipMessage({
            type: 'reply_channel_range',
            chainHash: gossip.chainHash,
            firstBlocknum: gossip.firstBlocknum,
            numberOfBlocks,
            syncComplete: 1,
            shortChannelIds: [],
            ...(gossip.queryOptionFlags !== undefined && gossip.queryOptionFlags & 1n ? { timestamps: [] } : {}),
          }),
        );
        return;
      }
      case 'query_short_channel_ids':
        // No channel_announcement/channel_update to send for any of them; full_information 0:
        // Fulmen does not maintain up-to-date channel information (BOLT 7).
        this.send(encodeGossipMessage({ type: 'reply_short_channel_ids_end', chainHash: gossip.chainHash, fullInformation: 0 }));
        return;
      case 'gossip_timestamp_filter':
        if (bytesEqual(gossip.chainHash, this.opts.chainHash)) this.timestampFilter = { firstTimestamp: gossip.firstTimestamp, timestampRange: gossip.timestampRange };
        return;
      case 'reply_channel_range':
      case 'reply_short_channel_ids_end':
        return; // Fulmen sends no queries: unsolicited replies are ignored
      default:
        this.emit('gossipMessage', msg);
    }
  }

  private handleInit(msg: Extract<LightningMessage, { type: 'init' }>): void {
    const remote = FeatureBits.fromBytes(msg.globalFeatures).union(FeatureBits.fromBytes(msg.features));
    // BOLT 1: unknown even (required) bits → fail. "Unknown" = anything we do not implement,
    // i.e. every even bit whose feature is not in our own set.
    const unsupported = remote.bits().filter((b) => b % 2 === 0 && !this.localFeatures.hasBit(b) && !this.localFeatures.hasBit(b + 1));
    if (unsupported.length > 0) {
      this.failWithError(`Unsupported required features: ${unsupported.join(', ')}`);
      return;
    }
    const missing = remote.missingDependencies();
    if (missing.length > 0) {
      this.failWithError(`Feature ${missing[0]!.feature} set without ${missing[0]!.missing}`);
      return;
    }
    const weRequireTheyLack = this.localFeatures
      .describe()
      .filter((f) => f.required && !remote.has(f.name))
      .map((f) => f.name);
    if (weRequireTheyLack.length > 0) {
      this.failWithError(`Missing required features: ${weRequireTheyLack.join(', ')}`);
      return;
    }
    if (msg.networks !== undefined && !msg.networks.some((h) => bytesEqual(h, this.opts.chainHash))) {
      this.failWithError('No common network (chain hash)');
      return;
    }
    this.remoteFeatureBits = remote;
    this.remoteNetworkList = msg.networks;
    this.ready = true;
    clearTimeout(this.initTimer);
    this.schedulePings();
    this.emit('ready');
  }

  private handlePong(length: number): void {
    const pending = this.pendingPong;
    if (!pending) return; // unsolicited pong: harmless
    if (length !== pending.numPongBytes) {
      this.failWithWarning(`Pong of ${length} bytes does not match ping (${pending.numPongBytes})`);
      return;
    }
    clearTimeout(this.pongTimer);
    this.pendingPong = undefined;
    for (const w of pending.waiters) w();
  }

  private failWithWarning(text: string): void {
    this.trySend({ type: 'warning', channelId: new Uint8Array(32), data: new TextEncoder().encode(text) });
    this.fail(new FulmenError('PROTOCOL', text));
  }

  private failWithError(text: string): void {
    this.trySend({ type: 'error', channelId: new Uint8Array(32), data: new TextEncoder().encode(text) });
    this.fail(new FulmenError('PROTOCOL', text));
  }

  private trySend(msg: LightningMessage): void {
    try {
      if (!this.closedWith) this.conn.send(encodeMessage(msg));
    } catch {
      // the connection is going away anyway
    }
  }

  private fail(error: FulmenError): void {
    this.finish(error);
    this.conn.close();
  }

  private finish(error: FulmenError | undefined): void {
    if (this.closedWith) return;
    this.closedWith = { error };
    this.heldOutput = null; // never sent: what they depended on may not be committed
    clearTimeout(this.initTimer);
    clearTimeout(this.pongTimer);
    clearInterval(this.pingTimer);
    this.emit('closed', error);
  }
}

export interface PeerServer {
  /** The bound TCP port (useful with port 0). */
  port: number;
  server: net.Server;
  /** Stops accepting connections (existing peers stay open). */
  close(): Promise<void>;
}

/**
 * Accepts inbound peers on host:port: each connection runs the BOLT 8 responder handshake
 * and the init exchange; peers that complete both are passed to `onPeer`. Failed handshakes
 * and inits go to `onRejected` (if given) and are otherwise dropped.
 * @throws FulmenError NETWORK when the port cannot be bound.
 */
export async function listen(
  host: string,
  port: number,
  nodePrivkey: Uint8Array,
  onPeer: (peer: Peer) => void,
  opts: Omit<PeerOptions, 'localPrivkey'> & { onRejected?: (err: FulmenError) => void },
): Promise<PeerServer> {
  const peerOpts: PeerOptions = { ...opts, localPrivkey: nodePrivkey };
  const rejected = (err: unknown) => opts.onRejected?.(err instanceof FulmenError ? err : new FulmenError('PROTOCOL', String(err)));
  const server = await listenNoise(
    host,
    port,
    nodePrivkey,
    (conn) => {
      Peer.fromConnection(conn, peerOpts).then(onPeer, rejected);
    },
    { timeoutMs: opts.initTimeoutMs, onHandshakeError: rejected },
  );
  return {
    port: (server.address() as net.AddressInfo).port,
    server,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
