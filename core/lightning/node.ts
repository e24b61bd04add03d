/**
 * LightningNode (Electrum's lnworker): one node id per wallet, its peers, channels and payments.
 *
 * - Node key: HMAC-SHA256(wallet.lightningRootSecret(), "fulmen/node"); channel keys derive from
 *   the same root per channel key index (channel/keys.ts deriveChannelSecrets).
 * - Channels: channel/channel.ts state machines, persisted by channel/store.ts. Every handler
 *   commits the channel state before the messages it returns are sent (DESIGN safety rule).
 * - Payments: direct to the channel peer, or through a route hint of the invoice that starts at a
 *   channel peer (router/route-hints.ts), with a real BOLT 4 onion; receiving checks the onion,
 *   payment_secret, amount and expiry against our invoice and fulfills.
 * - Forwarding (BOLT 4 intermediate node): an incoming HTLC whose onion names one of our channels
 *   is checked (onion/forward.ts) and offered on it; lightning_forwards links the two HTLCs, and
 *   the outgoing outcome (off chain, or on chain through the watcher) settles the incoming one.
 * - Chain: funding confirmation (channel_ready) and closing confirmation through ChainSource.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { Transaction } from 'bitcoinjs-lib';
import { inputPrevTxid } from '../bitcoin/transaction.js';
import type { Statement } from 'better-sqlite3';
import type { Db } from '../storage/db.js';
import { seal, unseal } from '../storage/crypto.js';
import { badInput, FulmenError, toFulmenError } from '../util/errors.js';
import type { ChainEvent, ChainSource } from '../chain/types.js';
import { CHAIN_PARAMS } from '../chain/headers.js';
import type { NetworkName } from '../bitcoin/network.js';
import { addressToScriptPubKey, scriptHash } from '../bitcoin/address.js';
import type { Wallet } from '../wallet/wallet.js';
import { DEFAULT_PEER_FEATURES, Peer, listen, type PeerServer } from './peer.js';
import type { FeatureBits } from './wire/features.js';
import { encodeMessage, type ChannelMessage, type OpenChannelMessage, type UnknownMessage } from './wire/messages.js';
import type { HtlcRecord } from './channel/htlc-log.js';
import { scidFromParts, formatScid, compareBytes, bytesToHex, hexToBytes } from './wire/codec.js';
import {
  CHANNEL_FLAG_DIRECTION,
  CHANNEL_FLAG_DISABLE,
  MESSAGE_FLAG_DONT_FORWARD,
  MESSAGE_FLAG_MUST_BE_ONE,
  decodeGossipMessage,
  encodeGossipMessage,
  signChannelUpdate,
  verifyChannelUpdate,
} from './wire/gossip.js';
import { createOnionPacket, processOnionPacket, startOnionSession, type OnionSession, type ProcessedOnion } from './onion/sphinx.js';
import { checkForward, failureData, type ForwardFailure } from './onion/forward.js';
import { routeThroughHint, type RouteHop } from './router/route-hints.js';
import { encodeHopPayload, type HopPayload } from './onion/payload.js';
import { createFailureMessage, decodeFailure, obfuscateFailure } from './onion/failure.js';
import { FailureCode, failureCodeName } from './onion/failure-codes.js';
import { decodeInvoice, encodeInvoice, isExpired, type Invoice, type RouteHintHop } from './invoice/bolt11.js';
import { Channel, defaultLocalConfig, isWarningDisposition, type ChannelContext, type ChannelStateName, type ChannelTypeName, type NegotiatedFeatures, type ResolvedOutgoingHtlc } from './channel/channel.js';
import { ChannelStore } from './channel/store.js';
import { deriveNodeSecret, pubkeyFromSecret } from './channel/keys.js';
import { ChannelWatcher, type ChannelCloseView } from './watcher/watcher.js';
import type { SweepRow } from './watcher/store.js';
import type { SweepFeePolicy } from './watcher/fee-policy.js';
import { WatchtowerClient } from './watchtower/client.js';
import { ChannelBackups, type BackupRecord, type BackupState } from './backup/manager.js';
import { encodeFundingOpReturn } from './backup/onchain.js';
import { CONTENTS_VERSION, decodeChannelBackup, encodeChannelBackup } from './backup/static-backup.js';
import { crashPoint } from './crashpoints.js';

/**
 * Channels (live Channel objects or stored ChannelData) counted for the wallet's anchor reserve
 * (wallet/reserve.ts): option_anchors ones from OPENING until REDEEMED. PREOPENING ones are
 * counted by their funding transaction instead (CreateTransactionRequest.opensAnchorChannel).
 */
export function countAnchorChannels(channels: Iterable<{ channelType?: ChannelTypeName; state: ChannelStateName }>): number {
  let n = 0;
  for (const ch of channels) if (ch.channelType === 'anchors' && ch.state !== 'PREOPENING' && ch.state !== 'REDEEMED') n++;
  return n;
}

/** One channel as `list_channels` shows it (Electrum's field names). */
export interface ChannelInfo {
  channel_id: string;
  /** `<funding txid>:<vout>`, null before the funding transaction exists (list_channels omits those). */
  channel_point: string | null;
  short_channel_id: string | null;
  /** PREOPENING, OPENING, FUNDED, OPEN, SHUTDOWN, CLOSING, FORCE_CLOSING, CLOSED, REDEEMED (Electrum's names), or a backup's state. */
  state: ChannelStateName | BackupState;
  /** Electrum's list_channels `type`: a usable channel, or one known only from a backup (request_force_close). */
  type: 'CHANNEL' | 'BACKUP';
  peer_state: 'GOOD' | 'DISCONNECTED';
  remote_pubkey: string;
  /** Our balance, integer sat. */
  local_balance: number;
  /** Their balance, integer sat. */
  remote_balance: number;
  local_ctn: number;
  remote_ctn: number;
  /** Reserve we must keep (set by the peer), sat. */
  local_reserve: number;
  /** Reserve the peer must keep, sat. */
  remote_reserve: number;
  initiator: 'local' | 'remote';
  /** Funding amount, sat. */
  capacity: number;
  closing_txid: string | null;
  /** Negotiated channel_type (BOLT 2): 'anchors' is option_anchors_zero_fee_htlc_tx; null for a backup that does not name it. */
  channel_type: ChannelTypeName | null;
  /** channel_type has option_scid_alias: only aliases name the channel, never its real scid (false for a backup). */
  scid_alias: boolean;
  /** channel_type has option_zeroconf: usable before its funding confirmed (false for a backup). */
  zeroconf: boolean;
}

export interface PaymentRecord {
  paymentHash: string;
  direction: 'sent' | 'received';
  amountMsat: bigint;
  feeMsat: bigint;
  status: 'pending' | 'succeeded' | 'failed';
  preimage: string | null;
  invoice: string | null;
  memo: string;
  error: string | null;
  /** unix seconds */
  timestamp: number;
}

export type LightningEvent =
  | { type: 'channel'; channel: ChannelInfo }
  | { type: 'payment_received'; paymentHash: string; amountMsat: bigint }
  | { type: 'payment_sent'; paymentHash: string; amountMsat: bigint; preimage: string }
  | { type: 'payment_failed'; paymentHash: string; error: string };

export interface LightningNodeOptions {
  db: Db;
  wallet: Wallet;
  chain: ChainSource;
  network: NetworkName;
  /** Wallet storage key (password-derived): seals channel state and invoice secrets at rest. */
  storageKey?: Uint8Array | null;
  /** Electrum's `lightning_listen`: "host:port" (port 0 = any free port). */
  listen?: string | null;
  /** Confirmations we require before channel_ready when we are the fundee. Default 3. */
  minimumDepth?: number;
  /** How long `pay` waits for the HTLC to resolve. Default 60 s. */
  paymentTimeoutMs?: number;
  /** to_self_delay we ask the peer to wait on its to_local (default: channel/channel.ts defaultLocalConfig). Regtest tests shorten it. */
  toSelfDelay?: number;
  /** Confirmations after which a closed channel is REDEEMED (watcher/watcher.ts, default 30). */
  redeemDepth?: number;
  /**
   * Electrum's `use_recoverable_channels` (default true): funding transactions we build carry an
   * encrypted OP_RETURN naming the peer (backup/onchain.ts), so a wallet restored from its seed
   * alone finds the channel. Off: no OP_RETURN (channel keys stay seed-derived either way).
   */
  recoverableChannels?: boolean;
  /** Electrum's `watchtower_url` (http://user:pass@host:port): justice transactions of revoked states go there (watchtower/client.ts). */
  watchtowerUrl?: string | null;
  /** Overrides of the watcher's sweep fee policy (watcher/fee-policy.ts; regtest tests shorten bumpAfterBlocks). */
  sweepFeePolicy?: Partial<SweepFeePolicy>;
  /**
   * Node ids (hex) trusted to open zero-conf channels to us (Electrum's zeroconf trusted node):
   * option_zeroconf channel types are accepted from them only (BOLT 2 "MUST fail the channel if
   * ... it does not trust the sender"). Default none.
   */
  zeroconfTrustedPeers?: string[];
  /**
   * Advertise option_anchors (default true): channels with peers that have it too are
   * option_anchors_zero_fee_htlc_tx, whose force closes need on-chain coins for fees (CPFP, HTLC
   * transactions). false: new channels stay option_static_remotekey.
   */
  anchors?: boolean;
  /** Ping/init options passed to Peer (tests shorten them). */
  peer?: { pingIntervalMs?: number; pongTimeoutMs?: number; initTimeoutMs?: number };
}

/** `nodeid@host:port` (Electrum's connect string). @throws BAD_INPUT. */
export function parseConnectString(text: string): { nodeId: Uint8Array; host: string; port: number } {
  const m = /^([0-9a-fA-F]{66})@(\[[^\]]+\]|[^:@]+):(\d{1,5})$/.exec(text.trim());
  if (!m) throw new FulmenError('BAD_INPUT', 'Expected nodeid@host:port');
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw new FulmenError('BAD_INPUT', 'Invalid port');
  return { nodeId: hexToBytes(m[1]!.toLowerCase()), host: m[2]!.replace(/^\[|\]$/g, ''), port };
}

/** A valid point for our stale channel_reestablish (BOLT 2 requires one; any will do). */
const STALE_STATE_POINT = pubkeyFromSecret(Uint8Array.from({ length: 32 }, (_, i) => (i === 31 ? 42 : 0)));
/** Fee policy advertised in route hints until the peer's channel_update is processed (Electrum defaults). */
const DEFAULT_HINT_POLICY = { feeBaseMsat: 1000, feeProportionalMillionths: 1, cltvExpiryDelta: 144 };
/** Our forwarding policy: in the channel_update we send our channel peers and checked on each forward (onion/forward.ts; Electrum's defaults). */
const OUR_CHANNEL_POLICY = { feeBaseMsat: 1000, feeProportionalMillionths: 1, cltvExpiryDelta: 144 };
const MIN_FINAL_CLTV_EXPIRY_DELTA = 18;
/** Blocks past an offered HTLC's cltv_expiry before we fail its channel (BOLT 2 timeout deadline grace). */
const TIMEOUT_GRACE_BLOCKS = 1;
/**
 * Blocks before an incoming HTLC's cltv_expiry by which its fulfill must be done off chain, else we
 * go on chain (BOLT 2 fulfillment deadline; lnd's IncomingBroadcastDelta). Well below
 * MIN_FINAL_CLTV_EXPIRY_DELTA, so a payment we receive is never past its deadline on arrival.
 */
const FULFILL_DEADLINE_BLOCKS = 10;
/** Blocks added on top of the invoice's min_final_cltv_expiry_delta (tip differences). */
const FINAL_CLTV_MARGIN = 3;
const ACTIVE_STATES: readonly ChannelStateName[] = ['OPENING', 'FUNDED', 'OPEN', 'SHUTDOWN'];
const SAT_PER_VBYTE_TO_PER_KW = 250;

interface PendingOpen {
  resolve: (v: { channel: Channel; accept: Extract<ChannelMessage, { type: 'accept_channel' }> }) => void;
  reject: (e: FulmenError) => void;
}

/** How a payment ended: the preimage, or the error with (when the failure decoded) the node that reported it. */
export interface PaymentOutcome {
  success: boolean;
  preimage?: string;
  error?: string;
  /** Node id (hex) of the hop whose BOLT 4 failure message authenticated (decodeFailure's failingHopIndex). */
  failingNodeId?: string;
}

interface PaymentWaiter {
  paymentHash: string;
  sharedSecrets: Uint8Array[];
  /** Node ids (hex) of the onion hops, in route order. */
  route: string[];
  resolve: (r: PaymentOutcome) => void;
}

export class LightningNode {
  readonly nodeId: Uint8Array;
  private readonly nodePrivkey: Uint8Array;
  private readonly rootSecret: Uint8Array;
  private readonly store: ChannelStore;
  private readonly ctx: ChannelContext;
  private readonly chainHash: Uint8Array;
  private readonly channels = new Map<number, Channel>();
  private readonly peers = new Map<string, Peer>();
  /** Channels whose channel_reestablish we received on the current connection (key index). */
  private readonly reestablished = new Set<number>();
  private readonly pendingOpens = new Map<string, PendingOpen>();
  private readonly pendingFundingSigned = new Map<string, { resolve: () => void; reject: (e: FulmenError) => void }>();
  private readonly paymentWaiters = new Map<string, PaymentWaiter>();
  /** Incoming HTLCs' onion layers, peeled once (peel), kept while their record lives. */
  private readonly peeledOnions = new WeakMap<HtlcRecord, ProcessedOnion>();
  /** One unused onion session per channel peer (node id hex), prepared while idle (prepareAhead), taken by pay. */
  private readonly onionSessions = new Map<string, OnionSession>();
  /** Channels whose `channel` event is due at the end of this event-loop turn (emitChannel). */
  private readonly channelsToEmit = new Set<Channel>();
  private readonly listeners = new Set<(e: LightningEvent) => void>();
  private readonly reconnectTimers = new Map<string, NodeJS.Timeout>();
  /** Timestamp of the last channel_update we sent per channel key index (BOLT 7: strictly increasing). */
  private readonly channelUpdateSentAt = new Map<number, number>();
  /**
   * The open commit group (see `joinGroup`): peers whose output is held until its SQLite
   * transaction commits, channels to sign at commit, and what waits for the commit.
   */
  private group: CommitGroup | null = null;
  private server: PeerServer | null = null;
  private unsubscribeChain: (() => void) | null = null;
  private feerateSatPerKw = 253;
  /** Whether `feerateSatPerKw` came from the chain (else it is the 253 floor, not an estimate). */
  private feerateKnown = false;
  private stopped = false;
  /** Removals of quiet channels a group left to the next one (deferSigning), and the timer that opens it. */
  private readonly deferredSigning = new Map<Channel, Peer>();
  private deferredSigningTimer: NodeJS.Timeout | undefined;
  /** Prepared statements by SQL text (preparing costs more than running a small one). */
  private readonly statements = new Map<string, Statement>();
  private chainWork: Promise<void> = Promise.resolve();
  /** BOLT 5: closes on chain, sweeps, justice transactions. */
  readonly watcher: ChannelWatcher;
  /** Channels known only from a backup (imported, or found through the funding OP_RETURN). */
  readonly backups: ChannelBackups;
  /** The remote watchtower we send justice transactions to, when `watchtowerUrl` is set. */
  readonly watchtower: WatchtowerClient | null;

  constructor(private readonly opts: LightningNodeOptions) {
    this.rootSecret = opts.wallet.lightningRootSecret();
    this.nodePrivkey = deriveNodeSecret(this.rootSecret);
    this.nodeId = pubkeyFromSecret(this.nodePrivkey);
    this.store = new ChannelStore(opts.db, opts.storageKey ?? null);
    this.ctx = {
      lightningRootSecret: this.rootSecret,
      persistence: this.store,
      feerateEstimatePerKw: () => (this.feerateKnown ? this.feerateSatPerKw : null),
    };
    this.chainHash = hexToBytes(CHAIN_PARAMS[opts.network].genesisHash).reverse();
    this.watcher = new ChannelWatcher({
      db: opts.db,
      chain: opts.chain,
      wallet: opts.wallet,
      network: opts.network,
      lightningRootSecret: this.rootSecret,
      channels: () => this.channels.values(),
      onChannelChanged: (ch) => this.emitChannel(ch as Channel),
      onHtlcResolved: (e) =>
        this.settleForwardOnchain(e.channelKeyIndex, e.paymentHash, e.outcome)
          ? undefined
          : e.outcome.kind === 'fulfilled'
          ? this.updatePayment(e.paymentHash, 'sent', 'succeeded', e.outcome.preimage, null)
          : this.updatePayment(e.paymentHash, 'sent', 'failed', null, 'HTLC timed out on chain after a force close'),
      forwardPreimages: (keyIndex) => this.forwardPreimages(keyIndex),
      ...(opts.redeemDepth !== undefined ? { redeemDepth: opts.redeemDepth } : {}),
      ...(opts.sweepFeePolicy ? { feePolicy: opts.sweepFeePolicy } : {}),
    });
    this.watchtower = opts.watchtowerUrl
      ? new WatchtowerClient({
          url: opts.watchtowerUrl,
          chain: opts.chain,
          wallet: opts.wallet,
          network: opts.network,
          lightningRootSecret: this.rootSecret,
          channels: () => this.channels.values(),
        })
      : null;
    this.backups = new ChannelBackups({
      db: opts.db,
      chain: opts.chain,
      wallet: opts.wallet,
      network: opts.network,
      lightningRootSecret: this.rootSecret,
      hasChannel: (channelPoint) => [...this.channels.values()].some((c) => c.channelPoint === channelPoint),
      onChanged: (r) => this.emit({ type: 'channel', channel: this.backupInfo(r) }),
    });
    opts.wallet.setAnchorChannelCounter(() => this.anchorChannelCount());
  }

  /**
   * option_anchors channels the wallet keeps its on-chain reserve for (wallet/reserve.ts): funded
   * (OPENING) up to resolved on chain (REDEEMED excluded); a channel still being negotiated
   * (PREOPENING) is counted by its funding transaction (`opensAnchorChannel`).
   */
  anchorChannelCount(): number {
    return countAnchorChannels(this.channels.values());
  }

  get nodeIdHex(): string {
    return bytesToHex(this.nodeId);
  }

  /** The bound listening port, or null when not listening. */
  get listenPort(): number | null {
    return this.server?.port ?? null;
  }

  /** Subscribes to node events (channel changes, payments). Returns an unsubscribe function. */
  on(listener: (e: LightningEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(e: LightningEvent): void {
    for (const l of [...this.listeners]) {
      try {
        l(e);
      } catch {
        // listeners must not break the node
      }
    }
  }

  /**
   * Emits a `channel` event with `ch`'s state, once per event-loop turn however many updates the
   * turn made (a batch of payments changes the channel hundreds of times; listeners want the
   * latest state, and channelInfo costs a pass over the HTLCs in flight).
   */
  private emitChannel(ch: Channel): void {
    if (this.channelsToEmit.size === 0) setImmediate(() => this.emitChangedChannels());
    this.channelsToEmit.add(ch);
  }

  private emitChangedChannels(): void {
    const channels = [...this.channelsToEmit];
    this.channelsToEmit.clear();
    for (const ch of channels) this.emit({ type: 'channel', channel: this.channelInfo(ch) });
  }

  // ---------------------------------------------------------------- lifecycle

  /**
   * Loads channels, starts listening (if configured), watches funding and closing transactions
   * and reconnects to the peers of active channels (channel_reestablish follows).
   */
  async start(): Promise<void> {
    for (const data of this.store.loadAll()) {
      const ch = Channel.load(data, this.ctx);
      if (ch.state === 'PREOPENING') {
        this.abandonUnfunded(ch, 'abandoned before funding'); // never funded: nothing to remember (BOLT 2)
        continue;
      }
      // A restart is a disconnection: drop the peer's unsigned updates, it retransmits them (BOLT 2).
      if (ACTIVE_STATES.includes(ch.state)) ch.onDisconnected();
      this.channels.set(ch.keyIndex, ch);
    }
    this.reconcilePendingPayments();
    this.unsubscribeChain = this.opts.chain.on((e) => this.onChainEvent(e));
    this.watcher.start();
    this.watchtower?.start();
    this.backups.start();
    void this.refreshFeerate();
    if (this.opts.listen) {
      const i = this.opts.listen.lastIndexOf(':');
      const host = this.opts.listen.slice(0, i);
      const port = Number(this.opts.listen.slice(i + 1));
      this.server = await listen(host, port, this.nodePrivkey, (peer) => this.attachPeer(peer), { chainHash: this.chainHash, localFeatures: this.peerFeatures(), ...this.opts.peer });
    }
    for (const ch of this.channels.values()) if (ACTIVE_STATES.includes(ch.state) || ch.state === 'CLOSING') this.scheduleChainCheck(ch);
    const toReconnect = new Set([...this.channels.values()].filter((c) => ACTIVE_STATES.includes(c.state)).map((c) => c.remoteNodeId));
    for (const nodeId of toReconnect) this.reconnect(nodeId, 0);
  }

  /** Closes peers and the listener; channels stay persisted. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.deferredSigningTimer); // left unsigned: retransmitted and signed after channel_reestablish
    this.commitGroup(); // what is already decided is stored (and its messages sent) before closing
    this.unsubscribeChain?.();
    for (const t of this.reconnectTimers.values()) clearTimeout(t);
    this.reconnectTimers.clear();
    for (const p of this.peers.values()) p.close();
    this.peers.clear();
    await this.server?.close();
    this.server = null;
    await this.chainWork.catch(() => undefined);
    await this.watcher.stop();
    await this.watchtower?.stop();
    await this.backups.stop();
  }

  private async refreshFeerate(): Promise<void> {
    try {
      const satPerVbyte = await this.opts.chain.estimateFeeSatPerVbyte(6);
      this.feerateSatPerKw = Math.max(253, Math.round(satPerVbyte * SAT_PER_VBYTE_TO_PER_KW));
      this.feerateKnown = true;
    } catch {
      // keep the previous estimate
    }
  }

  /**
   * As funder, sends update_fee (and the commitment_signed that carries it, in the commit group)
   * on every connected, reestablished OPEN channel whose feerate is far from the estimate
   * (Channel.proposeFeeUpdate; BOLT 2 "SHOULD send update_fee to ensure the current fee rate is
   * sufficient"). Runs on each new block, after the estimate is refreshed. A failure drops the
   * connection, as a failing message handler does.
   */
  private maybeUpdateFees(): void {
    for (const ch of this.channels.values()) {
      const peer = this.peers.get(ch.remoteNodeId);
      if (!ch.isFunder || ch.state !== 'OPEN' || !peer || peer.isClosed || !this.reestablished.has(ch.keyIndex)) continue;
      this.joinGroup();
      try {
        const update = ch.proposeFeeUpdate(this.feerateSatPerKw);
        if (!update) continue;
        this.send(peer, [update]);
        this.signSoon(peer, ch);
        this.emitChannel(ch);
      } catch (e) {
        console.error(`lightning: cannot update the fee of ${ch.channelId}: ${toFulmenError(e).message}`);
        peer.close();
      }
    }
  }

  /**
   * Sends our channel_update for `ch` to its peer only (BOLT 7 "MAY create a channel_update to
   * communicate the channel parameters to the channel peer, even though the channel has not yet
   * been announced"): once the channel is OPEN (channel_ready received), with the peer's alias (or
   * the real scid), dont_forward set, our policy (OUR_CHANNEL_POLICY) and htlc_minimum/maximum
   * from what the peer accepts. Timestamps strictly increase per channel.
   */
  private sendChannelUpdate(peer: Peer, ch: Channel): void {
    if (ch.state !== 'OPEN' || peer.isClosed) return;
    const timestamp = Math.max(Math.floor(Date.now() / 1000), (this.channelUpdateSentAt.get(ch.keyIndex) ?? 0) + 1);
    const update = this.channelUpdateOf(ch, timestamp);
    if (!update) return;
    this.channelUpdateSentAt.set(ch.keyIndex, timestamp);
    this.holdPeer(peer);
    peer.send(encodeGossipMessage(update));
  }

  /**
   * Our signed channel_update for `ch` (see sendChannelUpdate), or null before the channel has
   * an scid the peer knows it by or the peer's parameters.
   * @param timestamp unix seconds (the last one sent, for the update carried by a BOLT 4 failure).
   * @param scid the short_channel_id to name (default: the peer's alias, else the real scid); a
   *   forwarding failure names the one the payer's onion used.
   */
  private channelUpdateOf(ch: Channel, timestamp: number, scid: bigint | null = ch.remoteAlias ?? (ch.scidAliasType ? null : ch.shortChannelId)): ReturnType<typeof signChannelUpdate> | null {
    const remote = ch.remoteConfig;
    if (scid === null || !remote) return null;
    const capacityMsat = BigInt(ch.fundingSat) * 1000n;
    const maxMsat = remote.maxHtlcValueInFlightMsat < capacityMsat ? remote.maxHtlcValueInFlightMsat : capacityMsat;
    const minMsat = remote.htlcMinimumMsat > maxMsat ? maxMsat : remote.htlcMinimumMsat;
    return signChannelUpdate(
      {
        chainHash: this.chainHash,
        shortChannelId: scid,
        timestamp,
        messageFlags: MESSAGE_FLAG_MUST_BE_ONE | MESSAGE_FLAG_DONT_FORWARD,
        channelFlags: (compareBytes(this.nodeId, hexToBytes(ch.remoteNodeId)) < 0 ? 0 : CHANNEL_FLAG_DIRECTION) | (ch.state === 'OPEN' ? 0 : CHANNEL_FLAG_DISABLE),
        cltvExpiryDelta: OUR_CHANNEL_POLICY.cltvExpiryDelta,
        htlcMinimumMsat: minMsat,
        feeBaseMsat: OUR_CHANNEL_POLICY.feeBaseMsat,
        feeProportionalMillionths: OUR_CHANNEL_POLICY.feeProportionalMillionths,
        htlcMaximumMsat: maxMsat,
        extra: new Uint8Array(0),
      },
      this.nodePrivkey,
    );
  }

  /**
   * The peer's channel_update for one of our channels with it (BOLT 7 "SHOULD accept
   * channel_updates for its own channels (even if non-public)"): matched by our alias, its alias
   * or the real scid; other chains and other channels are ignored; a bad signature → warning and
   * disconnect ("MUST NOT process the message further"). Other gossip is ignored (no graph), and
   * so is a channel_update that does not parse (e.g. an old one without htlc_maximum_msat).
   */
  private onGossipMessage(peer: Peer, msg: UnknownMessage): void {
    let update;
    try {
      update = decodeGossipMessage(msg);
    } catch {
      return;
    }
    if (update?.type !== 'channel_update' || bytesToHex(update.chainHash) !== bytesToHex(this.chainHash)) return;
    const scid = update.shortChannelId;
    const ch = this.channelsOf(bytesToHex(peer.remoteNodeId)).find((c) => c.localAlias === scid || c.shortChannelId === scid || c.remoteAlias === scid);
    if (!ch || !['OPEN', 'FUNDED', 'SHUTDOWN'].includes(ch.state)) return;
    if (!verifyChannelUpdate(update, peer.remoteNodeId)) {
      peer.warnAndClose(new Uint8Array(32), 'channel_update with an invalid signature');
      return;
    }
    const stored = ch.onRemoteChannelUpdate({
      timestamp: update.timestamp,
      feeBaseMsat: update.feeBaseMsat,
      feeProportionalMillionths: update.feeProportionalMillionths,
      cltvExpiryDelta: update.cltvExpiryDelta,
      htlcMinimumMsat: update.htlcMinimumMsat,
      htlcMaximumMsat: update.htlcMaximumMsat,
      disabled: (update.channelFlags & CHANNEL_FLAG_DISABLE) !== 0,
    });
    if (stored) this.emitChannel(ch);
  }

  /** Our init features: DEFAULT_PEER_FEATURES (without option_anchors when `anchors` is false). */
  private peerFeatures(): FeatureBits {
    return this.opts.anchors === false ? DEFAULT_PEER_FEATURES.without('option_anchors') : DEFAULT_PEER_FEATURES;
  }

  /** init features both sides advertised that change how channels validate (per connection). */
  private negotiatedFeatures(peer: Peer): NegotiatedFeatures {
    return { anysegwit: peer.localFeatures.has('option_shutdown_anysegwit') && peer.remoteFeatures.has('option_shutdown_anysegwit') };
  }

  /**
   * The channel_type we propose in open_channel (BOLT 2 "Defined Channel Types"): option_anchors
   * when both sides advertised it in init, else option_static_remotekey.
   */
  private channelTypeFor(peer: Peer): ChannelTypeName {
    return peer.localFeatures.has('option_anchors') && peer.remoteFeatures.has('option_anchors') ? 'anchors' : 'static_remotekey';
  }

  /**
   * The script we commit to in open_channel/accept_channel when both advertised
   * option_upfront_shutdown_script (a wallet change address reserved for it: Wallet.reserveAddress),
   * else undefined (BOLT 2).
   */
  private upfrontShutdownScriptFor(peer: Peer): Uint8Array | undefined {
    const both = peer.localFeatures.has('option_upfront_shutdown_script') && peer.remoteFeatures.has('option_upfront_shutdown_script');
    // A reserved address: the funding transaction's change (getNewChangeAddress) must not take it too.
    return both ? addressToScriptPubKey(this.opts.wallet.reserveAddress('upfront_shutdown_script'), this.opts.network) : undefined;
  }

  // ---------------------------------------------------------------- peers

  /** The prepared statement for `text`, prepared once per node. */
  private sql(text: string): Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      statement = this.opts.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  private peerAddress(nodeId: string): { host: string; port: number } | null {
    const row = this.sql('SELECT host, port FROM lightning_peers WHERE node_id = ?').get(nodeId) as { host: string; port: number } | undefined;
    return row ?? null;
  }

  private reconnect(nodeId: string, delayMs: number): void {
    if (this.stopped || this.peers.has(nodeId) || this.reconnectTimers.has(nodeId)) return;
    const addr = this.peerAddress(nodeId);
    if (!addr) return; // inbound-only peer: it reconnects to us
    const timer = setTimeout(() => {
      this.reconnectTimers.delete(nodeId);
      this.connect(`${nodeId}@${addr.host}:${addr.port}`).catch(() => this.reconnect(nodeId, Math.min(Math.max(delayMs * 2, 2000), 60_000)));
    }, delayMs);
    timer.unref?.();
    this.reconnectTimers.set(nodeId, timer);
  }

  /**
   * Connects to `nodeid@host:port` (BOLT 8 + init) unless already connected, and remembers the
   * address for reconnection. @throws FulmenError BAD_INPUT / NETWORK / PROTOCOL.
   */
  async connect(connectString: string): Promise<Peer> {
    const { nodeId, host, port } = parseConnectString(connectString);
    const id = bytesToHex(nodeId);
    const existing = this.peers.get(id);
    if (existing && !existing.isClosed) return existing;
    const peer = await Peer.connect({ host, port, remoteNodeId: nodeId, localPrivkey: this.nodePrivkey, chainHash: this.chainHash, localFeatures: this.peerFeatures(), ...this.opts.peer });
    this
      .sql('INSERT INTO lightning_peers (node_id, host, port, updated_at) VALUES (?, ?, ?, ?) ON CONFLICT (node_id) DO UPDATE SET host = excluded.host, port = excluded.port, updated_at = excluded.updated_at')
      .run(id, host, port, Date.now());
    this.attachPeer(peer);
    return peer;
  }

  /**
   * Closes the connection to `nodeId` (hex) if there is one. Channels stay; the node reconnects
   * to peers of active channels after a short delay (channel_reestablish follows). Returns
   * whether a connection was closed.
   */
  disconnectPeer(nodeId: string): boolean {
    const peer = this.peers.get(nodeId.toLowerCase());
    if (!peer || peer.isClosed) return false;
    peer.close();
    return true;
  }

  private attachPeer(peer: Peer): void {
    this.holdPeer(peer); // inside an open commit group, even channel_reestablish waits for its commit
    const id = bytesToHex(peer.remoteNodeId);
    const old = this.peers.get(id);
    if (old && old !== peer) old.close();
    this.peers.set(id, peer);
    peer.on('closed', () => this.onPeerClosed(id, peer));
    peer.on('gossipMessage', (msg) => this.onGossipMessage(peer, msg));
    peer.on('remoteError', (err) => {
      if (!err.isWarning) this.onRemoteError(id, err.channelId, err.text);
    });
    // Our channel_reestablish goes first (BOLT 2), before registering the handler: registering
    // handles at once the peer's messages that arrived during init, and the retransmissions its
    // channel_reestablish asks for must follow ours. Otherwise the peer takes our revoke_and_ack and
    // commitment_signed before our channel_reestablish, answers the commitment_signed, then
    // retransmits that revoke_and_ack again because our (earlier) next_revocation_number asks for it.
    const features = this.negotiatedFeatures(peer);
    for (const ch of this.channelsOf(id)) {
      ch.setNegotiatedFeatures(features);
      if (ACTIVE_STATES.includes(ch.state)) peer.send(ch.reestablishMessage());
      this.emitChannel(ch);
    }
    peer.onChannelMessage((msg) => this.onChannelMessage(peer, msg));
  }

  /**
   * The peer's error (BOLT 1) names one channel (its channel_id, or before funding_created its
   * temporary_channel_id) or, all zero, every channel with us. A named channel still being opened
   * (PREOPENING: no funding transaction was broadcast) is forgotten, and a waiting open_channel
   * fails at once with the peer's text (FulmenError PEER_ERROR) instead of waiting out its
   * timeout; any other is failed (BOLT 2: force close from our latest commitment).
   */
  private onRemoteError(nodeId: string, channelId: Uint8Array, text: string): void {
    const all = channelId.every((b) => b === 0);
    const named = all ? this.channelsOf(nodeId) : [this.findChannel(nodeId, channelId)].filter((c) => c !== undefined);
    const reason = `peer sent error: ${text}`;
    for (const ch of named) {
      if (ch.state !== 'PREOPENING') {
        this.failChannel(ch, null, reason);
        continue;
      }
      this.abandonUnfunded(ch, reason);
      this.rejectOpenWaiters(ch, new FulmenError('PEER_ERROR', `The peer refused the channel: ${text}`));
    }
  }

  /** Ends openChannel's wait for the peer's accept_channel or funding_signed on `ch` with `error`. */
  private rejectOpenWaiters(ch: Channel, error: FulmenError): void {
    this.pendingOpens.get(ch.temporaryChannelId)?.reject(error);
    this.pendingOpens.delete(ch.temporaryChannelId);
    this.pendingFundingSigned.get(ch.channelId)?.reject(error);
    this.pendingFundingSigned.delete(ch.channelId);
  }

  private onPeerClosed(id: string, peer: Peer): void {
    if (this.peers.get(id) !== peer) return;
    this.peers.delete(id);
    for (const ch of this.channelsOf(id)) {
      this.reestablished.delete(ch.keyIndex);
      if (ACTIVE_STATES.includes(ch.state)) ch.onDisconnected();
      if (ch.state === 'PREOPENING') this.rejectOpenWaiters(ch, new FulmenError('NETWORK', 'Peer disconnected during channel opening'));
      this.emitChannel(ch);
    }
    if ([...this.channelsOf(id)].some((c) => ACTIVE_STATES.includes(c.state))) this.reconnect(id, 1000);
  }

  private channelsOf(nodeId: string): Channel[] {
    return [...this.channels.values()].filter((c) => c.remoteNodeId === nodeId);
  }

  private findChannel(nodeId: string, channelId: Uint8Array): Channel | undefined {
    const hex = bytesToHex(channelId);
    return this.channelsOf(nodeId).find((c) => c.channelId === hex || (c.state === 'PREOPENING' && c.temporaryChannelId === hex));
  }

  private send(peer: Peer, msgs: (ChannelMessage | null | undefined)[]): void {
    for (const m of msgs) {
      if (!m || peer.isClosed) continue;
      if (this.group) {
        this.holdPeer(peer);
        this.group.sentTypes.push(m.type); // crash points fire at commit (commitGroup)
        peer.send(m);
        continue;
      }
      crashPoint(`persisted:${m.type}`); // test hook (crashpoints.ts)
      peer.send(m);
      crashPoint(`sent:${m.type}`);
    }
  }

  // ---------------------------------------------------------------- commit groups

  /**
   * Joins (opening if needed) the commit group of this turn of the event loop: one SQLite
   * transaction (ChannelStore.beginGroup) for every state change until `commitGroup` runs
   * (setImmediate: after the messages already received are handled), while every peer's output
   * is held. At commit the channels with pending updates sign one commitment_signed each (BOLT 2
   * allows any number of updates per commitment), then the transaction commits (one fsync,
   * synchronous=FULL) and only then the held messages leave. "Commit before send" holds per batch.
   */
  private joinGroup(): CommitGroup {
    if (this.group) return this.group;
    this.store.beginGroup();
    const group: CommitGroup = { held: new Set(), toSign: new Map(this.deferredSigning), signsAll: false, afterCommit: [], sentTypes: [], receivedTypes: [] };
    this.deferredSigning.clear();
    clearTimeout(this.deferredSigningTimer);
    this.group = group;
    for (const p of this.peers.values()) this.holdPeer(p);
    setImmediate(() => this.commitGroup());
    return group;
  }

  private holdPeer(peer: Peer): void {
    if (!this.group || this.group.held.has(peer)) return;
    peer.hold();
    this.group.held.add(peer);
  }

  /**
   * Signs what the group collected, commits, then releases the held messages (in order). The
   * commitments are left to a later group (deferSigning), so the group is committed and released
   * without waiting for the signatures (and the peer for their check), when:
   * - an outcome waits for the commit (a payment's is reported once stored);
   * - the group sends an HTLC resolution (update_fulfill_htlc / update_fail_*: the payer's outcome);
   * - they only remove settled HTLCs of a quiet channel (Channel.nextCommitmentOnlySettles).
   * The group deferSigning's timer opens for quiet channels signs them all.
   */
  private commitGroup(): void {
    const group = this.group;
    if (!group) return;
    const outcomeWaits = group.afterCommit.length > 0 || group.sentTypes.some((t) => HTLC_RESOLUTIONS.has(t));
    const quiet = group.toSign.size > 0 && [...group.toSign.keys()].every((ch) => ch.nextCommitmentOnlySettles());
    const deferred = group.toSign.size > 0 && !group.signsAll && (outcomeWaits || quiet);
    for (const [ch, peer] of deferred ? [] : group.toSign) {
      if (peer.isClosed || !this.reestablished.has(ch.keyIndex)) continue;
      try {
        this.send(peer, [ch.signNextCommitment()]);
      } catch (e) {
        // As when a message handler throws: drop the connection, the channel resumes via reestablish.
        console.error(`lightning: cannot sign the next commitment of ${ch.channelId}: ${toFulmenError(e).message}`);
        peer.close();
      }
    }
    this.group = null;
    try {
      this.store.commitGroup();
    } catch (e) {
      // Storage failed: nothing of the group may leave. The channels resume from what is stored
      // (restart) or through channel_reestablish; closing the connections drops the held output.
      console.error(`lightning: storing channel state failed: ${toFulmenError(e).message}`);
      for (const p of group.held) p.close();
      for (const f of group.afterCommit) f(false);
      return;
    }
    for (const t of group.receivedTypes) crashPoint(`received-persisted:${t}`); // test hooks (crashpoints.ts)
    for (const t of group.sentTypes) crashPoint(`persisted:${t}`);
    for (const p of group.held) p.release();
    for (const t of group.sentTypes) crashPoint(`sent:${t}`);
    for (const f of group.afterCommit) f(true);
    if (deferred) this.deferSigning(group.toSign, quiet);
    // While the peer handles what was just sent (a round trip at least): off the latency of a lone payment.
    if (group.toSign.size > 0) this.afterSend(() => this.prepareAhead([...group.toSign.keys()]));
  }

  /**
   * Leaves the commitments of `toSign` to a later group. When they only remove settled HTLCs of
   * quiet channels (`quiet`), that is the group the peer's next message opens (a back-to-back payment's
   * messages then carry the removal: no extra commitment_signed / revoke_and_ack turn between
   * payments), else the one opened after SETTLE_SIGNING_WAIT_MS. Otherwise (an add or a fee waits
   * for them) it is a group of their own, opened at once on a timer for the reason afterSend gives.
   */
  private deferSigning(toSign: Map<Channel, Peer>, quiet: boolean): void {
    if (!quiet) {
      this.afterSend(() => {
        const next = this.joinGroup();
        for (const [ch, peer] of toSign) next.toSign.set(ch, peer);
      });
      return;
    }
    for (const [ch, peer] of toSign) this.deferredSigning.set(ch, peer);
    clearTimeout(this.deferredSigningTimer);
    this.deferredSigningTimer = setTimeout(() => {
      if (!this.stopped) this.joinGroup().signsAll = true;
    }, SETTLE_SIGNING_WAIT_MS);
  }

  /**
   * Runs `work` that follows a send on a timer, not setImmediate: the process sleeps for a
   * moment first, so a peer on this machine runs at once. Linux wakes the reader of a socket on
   * the writer's core (a "sync" wakeup, on the bet that the writer sleeps next), and would make
   * it wait for that work. Skipped once the node is stopped.
   */
  private afterSend(work: () => void): void {
    setTimeout(() => {
      if (!this.stopped) work();
    }, 0);
  }

  /**
   * Work the next messages will need, done while the peer handles what was just sent: the point
   * operations of the next commitments (Channel.prepareNextCommitments), the onions of the
   * HTLCs just received (peel), which are resolved once the peer's revoke_and_ack commits them,
   * and the onion session of the next payment over the channel (its ECDH with the peer).
   */
  private prepareAhead(channels: Channel[]): void {
    for (const ch of channels) {
      try {
        ch.prepareNextCommitments();
        for (const h of ch.incomingHtlcsNotYetCommitted()) if (h.onion) this.peel(h);
        if (ch.state === 'OPEN' && !this.onionSessions.has(ch.remoteNodeId)) {
          this.onionSessions.set(ch.remoteNodeId, startOnionSession(randomBytes(32), hexToBytes(ch.remoteNodeId)));
        }
      } catch (e) {
        console.error(`lightning: preparing the next commitment of ${ch.channelId}: ${toFulmenError(e).message}`);
      }
    }
  }

  /** Resolves once what was written so far is committed (at once when no group is open); false when the commit failed. */
  private committed(): Promise<boolean> {
    const group = this.group;
    if (!group) return Promise.resolve(true);
    return new Promise((resolve) => group.afterCommit.push(resolve));
  }

  /** Signs `ch`'s next commitment now, or at the group's commit so all updates of the batch share it. */
  private signSoon(peer: Peer, ch: Channel): void {
    if (this.group && ch.state === 'OPEN') this.group.toSign.set(ch, peer);
    else this.send(peer, [ch.signNextCommitment()]);
  }

  // ---------------------------------------------------------------- message handling

  private async onChannelMessage(peer: Peer, msg: ChannelMessage): Promise<void> {
    crashPoint(`received:${msg.type}`); // test hook (crashpoints.ts)
    this.joinGroup().receivedTypes.push(msg.type);
    const nodeId = bytesToHex(peer.remoteNodeId);
    if (msg.type === 'open_channel') return this.onOpenChannel(peer, msg);
    const channelId = 'channelId' in msg ? msg.channelId : msg.temporaryChannelId;
    if (msg.type === 'accept_channel') {
      const pending = this.pendingOpens.get(bytesToHex(msg.temporaryChannelId));
      const ch = this.findChannel(nodeId, msg.temporaryChannelId);
      if (!pending || !ch) return peer.sendWarning(msg.temporaryChannelId, 'Unknown temporary_channel_id');
      this.pendingOpens.delete(bytesToHex(msg.temporaryChannelId));
      pending.resolve({ channel: ch, accept: msg });
      return;
    }
    const ch = this.findChannel(nodeId, channelId);
    if (!ch) {
      peer.sendError(channelId, 'Unknown channel');
      return;
    }
    try {
      this.dispatch(peer, ch, msg); // committed with its group; crash point `received-persisted:` fires there
    } catch (e) {
      const err = toFulmenError(e);
      if (err.code !== 'PROTOCOL') throw err; // disconnects; the channel resumes via reestablish
      if (isWarningDisposition(err)) {
        // BOLT 2 "send a warning and close the connection": the channel stays, uncommitted updates are dropped.
        peer.warnAndClose(hexToBytes(ch.channelId), err.message);
        return;
      }
      this.failChannel(ch, peer, err.message);
      return;
    }
    this.afterUpdate(peer, ch);
  }

  private dispatch(peer: Peer, ch: Channel, msg: ChannelMessage): void {
    switch (msg.type) {
      case 'funding_created': {
        const reply = ch.onFundingCreated(msg);
        this.reestablished.add(ch.keyIndex);
        this.send(peer, [reply]);
        this.scheduleChainCheck(ch);
        return;
      }
      case 'funding_signed': {
        ch.onFundingSigned(msg);
        this.reestablished.add(ch.keyIndex);
        const waiter = this.pendingFundingSigned.get(ch.channelId);
        this.pendingFundingSigned.delete(ch.channelId);
        waiter?.resolve();
        return;
      }
      case 'channel_ready': {
        const wasOpen = ch.state === 'OPEN';
        ch.onChannelReady(msg);
        if (!wasOpen) this.sendChannelUpdate(peer, ch); // redundant channel_ready (after reestablish): already sent
        return;
      }
      case 'channel_reestablish': {
        const out = ch.onChannelReestablish(msg);
        this.reestablished.add(ch.keyIndex);
        if (ch.weAreBehind) {
          peer.sendError(hexToBytes(ch.channelId), 'We lost channel state: please force close');
          return;
        }
        this.send(peer, out);
        this.sendChannelUpdate(peer, ch);
        this.scheduleChainCheck(ch);
        return;
      }
      case 'update_add_htlc':
        ch.onUpdateAddHtlc(msg);
        return;
      case 'update_fulfill_htlc': {
        const resolved = ch.onUpdateFulfillHtlc(msg);
        this.onOutgoingResolved(ch, resolved);
        return;
      }
      case 'update_fail_htlc':
        ch.onUpdateFailHtlc(msg);
        return;
      case 'update_fail_malformed_htlc':
        ch.onUpdateFailMalformedHtlc(msg);
        return;
      case 'update_fee':
        ch.onUpdateFee(msg);
        return;
      case 'commitment_signed':
        this.send(peer, [ch.onCommitmentSigned(msg)]);
        return;
      case 'revoke_and_ack':
        for (const r of ch.onRevokeAndAck(msg)) this.onOutgoingResolved(ch, r);
        this.watchtower?.notifyRevoked(); // async: payments never wait for the tower
        return;
      case 'shutdown':
        ch.onShutdown(msg);
        return;
      case 'closing_signed': {
        const { reply, closingTxHex } = ch.onClosingSigned(msg);
        this.send(peer, [reply]);
        if (closingTxHex) this.broadcast(closingTxHex);
        return;
      }
      default:
        throw new FulmenError('PROTOCOL', `Unexpected ${msg.type}`);
    }
  }

  /**
   * After any change: resolve incoming HTLCs, sign what is pending, continue shutdown and
   * closing negotiation. Only after the peer's channel_reestablish on this connection.
   */
  private afterUpdate(peer: Peer, ch: Channel): void {
    if (!this.reestablished.has(ch.keyIndex) || peer.isClosed) {
      this.emitChannel(ch);
      return;
    }
    this.resolveIncoming(peer, ch);
    this.signSoon(peer, ch);
    if (ch.state === 'SHUTDOWN' && ch.shutdownReceived && !ch.shutdownSent && !ch.hasUnsignedLocalUpdates()) {
      this.send(peer, [ch.shutdown(this.closingScript(ch))]);
    }
    if (ch.state === 'SHUTDOWN') this.send(peer, [ch.startClosing(this.feerateSatPerKw)]);
    this.emitChannel(ch);
  }

  /** Where `ch`'s mutual close pays us: its upfront_shutdown_script if it has one (BOLT 2), else a fresh change address. */
  private closingScript(ch: Channel): Uint8Array {
    return ch.upfrontShutdownScript ?? addressToScriptPubKey(this.opts.wallet.getNewChangeAddress(), this.opts.network);
  }

  private failChannel(ch: Channel, peer: Peer | null, reason: string): void {
    if (['CLOSED', 'REDEEMED', 'FORCE_CLOSING'].includes(ch.state)) return;
    this.releaseUpfrontReservation(ch); // only before funding (PREOPENING)
    const { error, commitmentTxHex } = ch.failChannel(reason);
    if (peer && !peer.isClosed) peer.send(error);
    if (commitmentTxHex) this.broadcast(commitmentTxHex);
    for (const [key, w] of this.paymentWaiters) {
      if (key.startsWith(`${ch.keyIndex}:`)) w.resolve({ success: false, error: 'Channel failed: ' + reason });
    }
    this.emitChannel(ch);
  }

  /**
   * Drops a channel that never got past PREOPENING (no funding transaction can exist: BOLT 2,
   * nothing to remember) and gives back the address reserved for its upfront shutdown script.
   */
  private abandonUnfunded(ch: Channel, reason: string): void {
    this.releaseUpfrontReservation(ch);
    ch.failChannel(reason);
    this.channels.delete(ch.keyIndex);
  }

  /**
   * Before funding, nothing can ever pay the channel's upfront shutdown script: its wallet
   * reservation (upfrontShutdownScriptFor) is released, so failed opens leave no unused hole in
   * the change chain past which a restore from seed (gap limit) would stop looking.
   */
  private releaseUpfrontReservation(ch: Channel): void {
    const script = ch.upfrontShutdownScript;
    if (script && ch.state === 'PREOPENING') this.opts.wallet.releaseReservation(script);
  }

  /** Broadcasts a closing or commitment transaction once the state that produced it is committed. */
  private broadcast(txHex: string): void {
    const send = (committed: boolean): void => {
      if (!committed) return;
      this.opts.chain.broadcast(txHex).catch(() => {
        // retried by the next chain check (closing) or visible in the channel state
      });
    };
    if (this.group) this.group.afterCommit.push(send);
    else send(true);
  }

  // ---------------------------------------------------------------- opening

  private onOpenChannel(peer: Peer, msg: OpenChannelMessage): void {
    const nodeId = bytesToHex(peer.remoteNodeId);
    /** Reserved for this attempt and not yet held by a channel: released if the attempt fails. */
    let upfront: Uint8Array | undefined;
    try {
      // Our keys derive from (peer, funding_pubkey): a reused funding_pubkey would reuse them.
      const fundingPubkey = bytesToHex(msg.fundingPubkey);
      // BOLT 2: an open_channel repeated (after a reconnection) before funding_created replaces the
      // previous one. Nothing was funded yet: the earlier attempt is forgotten.
      for (const old of this.channelsOf(nodeId)) {
        const same = old.temporaryChannelId === bytesToHex(msg.temporaryChannelId) || (old.keyDerivation?.scheme === 'accepted' && old.keyDerivation.remoteFundingPubkey === fundingPubkey);
        if (old.state !== 'PREOPENING' || old.isFunder || !same) continue;
        this.abandonUnfunded(old, 'replaced by a new open_channel');
      }
      if (this.channelsOf(nodeId).some((c) => c.keyDerivation?.scheme === 'accepted' && c.keyDerivation.remoteFundingPubkey === fundingPubkey)) {
        throw new FulmenError('PROTOCOL', 'funding_pubkey already used in another channel with us');
      }
      upfront = this.upfrontShutdownScriptFor(peer);
      const { channel, message } = Channel.acceptInbound(
        msg,
        {
          keyIndex: this.store.allocateKeyIndex(),
          remoteNodeId: nodeId,
          chainHash: this.chainHash,
          minimumDepth: this.opts.minimumDepth ?? 3,
          localConfig: this.localConfigFor(msg.fundingSatoshis),
          recoverableKeys: true,
          upfrontShutdownScript: upfront,
          features: this.negotiatedFeatures(peer),
          trustZeroconf: this.opts.zeroconfTrustedPeers?.includes(nodeId) ?? false,
        },
        this.ctx,
      );
      upfront = undefined; // the channel holds it now (released if abandoned: abandonUnfunded)
      this.channels.set(channel.keyIndex, channel);
      peer.send(message);
      this.emitChannel(channel);
    } catch (e) {
      if (upfront) this.opts.wallet.releaseReservation(upfront);
      const err = toFulmenError(e);
      peer.sendError(msg.temporaryChannelId, err.message);
    }
  }

  /**
   * Opens a channel as funder (Electrum `open_channel`): connects, negotiates (channel_type
   * option_anchors_zero_fee_htlc_tx or option_static_remotekey), has the wallet build the P2WSH
   * funding transaction, exchanges funding_created / funding_signed, then broadcasts.
   * channel_ready follows once the funding transaction has the peer's minimum_depth; with
   * `zeroconf` (option_zeroconf + option_scid_alias, BOLT 2; the peer must advertise both and
   * trust us) it follows once the funding transaction is seen unconfirmed.
   * @returns the channel point "txid:index" and channel id.
   * @throws FulmenError BAD_INPUT (also: zero-conf the peer does not offer), INSUFFICIENT_FUNDS,
   *   NETWORK, PROTOCOL, PEER_ERROR (the peer refused, e.g. it does not trust us for zero-conf).
   */
  async openChannel(
    connectString: string,
    fundingSat: number,
    pushMsat = 0n,
    opts: { zeroconf?: boolean } = {},
  ): Promise<{ channelPoint: string; channelId: string; fundingTxid: string }> {
    const peer = await this.connect(connectString);
    const nodeId = bytesToHex(peer.remoteNodeId);
    const scidAlias = peer.localFeatures.has('option_scid_alias') && peer.remoteFeatures.has('option_scid_alias');
    if (opts.zeroconf && !(scidAlias && peer.remoteFeatures.has('option_zeroconf'))) {
      throw badInput('The peer does not offer zero-conf channels (option_zeroconf with option_scid_alias)');
    }
    await this.refreshFeerate();
    const fundingLocktime = this.fundingLocktimeFor(nodeId);
    const channelType = this.channelTypeFor(peer);
    const feerateSatPerVbyte = Math.max(1, Math.ceil(this.feerateSatPerKw / SAT_PER_VBYTE_TO_PER_KW));
    // Funds and the anchor reserve (wallet/reserve.ts) are checked before the peer is asked, with a
    // stand-in P2WSH output of the same size: INSUFFICIENT_FUNDS here changes nothing.
    this.opts.wallet.createTransaction({
      outputs: this.fundingOutputs(Uint8Array.of(0x00, 0x20, ...new Uint8Array(32)), fundingSat, nodeId, connectString),
      feerateSatPerVbyte,
      unsigned: true,
      opensAnchorChannel: channelType === 'anchors',
    });
    const { channel, message } = Channel.openOutbound(
      {
        keyIndex: this.store.allocateKeyIndex(),
        remoteNodeId: nodeId,
        chainHash: this.chainHash,
        fundingSat,
        pushMsat,
        feeratePerKw: this.feerateSatPerKw,
        localConfig: this.localConfigFor(fundingSat),
        fundingLocktime,
        upfrontShutdownScript: this.upfrontShutdownScriptFor(peer),
        features: this.negotiatedFeatures(peer),
        channelType,
        // Our channels are unannounced: where both support it, only aliases ever name them (BOLT 2).
        scidAlias,
        zeroconf: opts.zeroconf ?? false,
      },
      this.ctx,
    );
    this.channels.set(channel.keyIndex, channel);
    const accepted = new Promise<{ channel: Channel; accept: Extract<ChannelMessage, { type: 'accept_channel' }> }>((resolve, reject) =>
      this.pendingOpens.set(channel.temporaryChannelId, { resolve, reject }),
    );
    peer.send(message);
    try {
      const { accept } = await withTimeout(accepted, 30_000, 'The peer did not accept the channel');
      const output = channel.onAcceptChannel(accept);
      const outputs = this.fundingOutputs(output.scriptPubKey, output.amountSat, nodeId, connectString);
      const funding = this.opts.wallet.createTransaction({ outputs, feerateSatPerVbyte, lockTime: fundingLocktime, opensAnchorChannel: channel.anchors });
      const outputIndex = funding.outputIndexes[0]!;
      const created = channel.fundingCreated(funding.txid, outputIndex);
      const signed = new Promise<void>((resolve, reject) => this.pendingFundingSigned.set(channel.channelId, { resolve, reject }));
      peer.send(created);
      await withTimeout(signed, 30_000, 'The peer did not sign the funding');
      // funding_signed is handled in a commit group: its signature must be durable before the funding can confirm.
      if (!(await this.committed())) throw new FulmenError('INTERNAL', 'Could not store the channel state');
      await this.opts.wallet.broadcast(funding.txHex);
      this.scheduleChainCheck(channel);
      this.emitChannel(channel);
      return { channelPoint: channel.channelPoint!, channelId: channel.channelId, fundingTxid: funding.txid };
    } catch (e) {
      this.pendingOpens.delete(channel.temporaryChannelId);
      if (channel.state === 'PREOPENING') {
        this.abandonUnfunded(channel, 'opening failed');
        if (!peer.isClosed) peer.sendError(hexToBytes(channel.temporaryChannelId), 'Channel opening failed');
      }
      throw toFulmenError(e);
    }
  }

  /** Outputs of a funding transaction: the funding output, then (recoverable channels) the OP_RETURN naming the peer (backup/onchain.ts). */
  private fundingOutputs(scriptPubKey: Uint8Array, amountSat: number, nodeId: string, connectString: string): { scriptPubKey: Uint8Array; amountSat: number }[] {
    const outputs = [{ scriptPubKey, amountSat }];
    if (this.opts.recoverableChannels ?? true) {
      const { host, port } = parseConnectString(connectString);
      outputs.push({ scriptPubKey: encodeFundingOpReturn(this.rootSecret, scriptPubKey, { remoteNodeId: nodeId, host, port }), amountSat: 0 });
    }
    return outputs;
  }

  /**
   * nLockTime of a new funding transaction with `nodeId`: the tip height (anti fee sniping), or
   * lower while a channel with this peer (same 16-byte node id prefix) already uses it, since the
   * funding key derives from (peer prefix, nLockTime) alone (channel/keys.ts).
   */
  private fundingLocktimeFor(nodeId: string): number {
    const used = new Set(
      [...this.channels.values()].flatMap((c) =>
        c.keyDerivation?.scheme === 'opened' && c.keyDerivation.remoteNodeId.slice(0, 32) === nodeId.slice(0, 32) ? [c.keyDerivation.fundingLocktime] : [],
      ),
    );
    let locktime = this.opts.chain.tip()?.height ?? 0;
    while (used.has(locktime) && locktime > 0) locktime--;
    if (used.has(locktime)) throw new FulmenError('CHANNEL_STATE', 'Cannot open another channel with this peer now');
    return locktime;
  }

  // ---------------------------------------------------------------- chain

  private onChainEvent(e: ChainEvent): void {
    if (e.type === 'tip') {
      // update_fee only on new blocks: not in the middle of a close or an open (they refresh too)
      void this.refreshFeerate().then(() => this.maybeUpdateFees());
      this.closeChannelsPastHtlcDeadlines();
      for (const ch of this.channels.values()) if (ACTIVE_STATES.includes(ch.state) || ch.state === 'CLOSING' || ch.state === 'FORCE_CLOSING') this.scheduleChainCheck(ch);
    } else if (e.type === 'scripthash') {
      for (const ch of this.channels.values()) {
        if (ch.fundingTxid && scriptHash(ch.fundingOutput().scriptPubKey) === e.scripthash) this.scheduleChainCheck(ch);
      }
    }
  }

  /** Serializes chain checks (they await the server) so channel updates never interleave. */
  private scheduleChainCheck(ch: Channel): void {
    this.chainWork = this.chainWork.then(() => this.checkChain(ch)).catch(() => undefined);
  }

  /**
   * Funding depth → channel_ready (the fundee checks the output pays exactly the funding
   * script and amount, SPV-verified); funding spent and confirmed → CLOSED.
   */
  private async checkChain(ch: Channel): Promise<void> {
    if (this.stopped || !ch.fundingTxid || ch.fundingOutputIndex === null) return;
    const chain = this.opts.chain;
    const tip = chain.tip();
    if (!tip || !chain.isConnected()) return;
    const out = ch.fundingOutput();
    const sh = scriptHash(out.scriptPubKey);
    await chain.subscribeScripthash(sh);
    const history = await chain.getHistory(sh);
    const funding = history.find((h) => h.txid === ch.fundingTxid);
    // Zero-conf (minimum_depth 0, option_zeroconf from a trusted peer): ready once the funding
    // transaction is seen, before it confirms; the real scid is learned when it does (below).
    const deepEnough = funding !== undefined && (ch.minimumDepth === 0 || (funding.height > 0 && tip.height - funding.height + 1 >= ch.minimumDepth));
    if (ch.state === 'OPENING' && funding && deepEnough) {
      const tx = Transaction.fromHex(await chain.getTransaction(funding.txid));
      const o = tx.outs[ch.fundingOutputIndex];
      if (!o || Number(o.value) !== out.amountSat || bytesToHex(o.script) !== bytesToHex(out.scriptPubKey)) {
        this.failChannel(ch, this.peers.get(ch.remoteNodeId) ?? null, 'Funding output does not match');
        return;
      }
      let scid: bigint | null = null;
      if (funding.height > 0) {
        const conf = await chain.verifyTransaction(funding.txid, funding.height);
        if (!conf.verified) return;
        scid = conf.position !== undefined ? scidFromParts(funding.height, conf.position, ch.fundingOutputIndex) : null;
      }
      const ready = ch.fundingLocked(scid);
      const peer = this.peers.get(ch.remoteNodeId);
      if (peer && this.reestablished.has(ch.keyIndex)) {
        this.send(peer, [ready]);
        this.sendChannelUpdate(peer, ch);
      }
      if (peer) this.afterUpdate(peer, ch);
      else this.emitChannel(ch);
    }
    if (ch.zeroconf && ch.shortChannelId === null && funding && funding.height > 0 && ['FUNDED', 'OPEN', 'SHUTDOWN'].includes(ch.state)) {
      const conf = await chain.verifyTransaction(funding.txid, funding.height);
      if (conf.verified && conf.position !== undefined) {
        ch.fundingLocked(scidFromParts(funding.height, conf.position, ch.fundingOutputIndex));
        this.emitChannel(ch);
      }
    }
    if (['SHUTDOWN', 'CLOSING', 'FORCE_CLOSING', 'OPEN', 'FUNDED'].includes(ch.state)) {
      const spend = history.find((h) => h.txid !== ch.fundingTxid && h.height > 0);
      if (spend) {
        const conf = await chain.verifyTransaction(spend.txid, spend.height);
        if (conf.verified) {
          ch.markClosed();
          this.emitChannel(ch);
        }
      } else if (ch.closingTxHex && ['CLOSING', 'FORCE_CLOSING'].includes(ch.state) && !history.some((h) => h.txid !== ch.fundingTxid)) {
        this.broadcast(ch.closingTxHex); // not seen yet: (re)broadcast
      }
    }
  }

  // ---------------------------------------------------------------- invoices and payments

  /**
   * Creates a BOLT 11 invoice (Electrum `add_request` for lightning): random preimage and
   * payment_secret, our node id, route hints for our private channels (peer's alias or scid).
   * @param amountMsat null for "any amount". @returns the bech32 invoice and its payment hash.
   */
  createInvoice(amountMsat: bigint | null, memo: string, expirySec = 3600): { invoice: string; paymentHash: string } {
    if (amountMsat !== null && amountMsat <= 0n) throw new FulmenError('BAD_INPUT', 'Amount must be positive');
    const preimage = randomBytes(32);
    const paymentSecret = randomBytes(32);
    const paymentHash = sha256(preimage);
    const now = Math.floor(Date.now() / 1000);
    const routeHints: RouteHintHop[][] = [];
    for (const ch of this.channels.values()) {
      // BOLT 2: with option_scid_alias in the channel_type the real scid MUST NOT appear in `r` fields.
      const scid = ch.remoteAlias ?? (ch.scidAliasType ? null : ch.shortChannelId);
      if (ch.state !== 'OPEN' || scid === null) continue;
      const policy = ch.remotePolicy;
      if (policy?.disabled) continue;
      const hop = policy
        ? { feeBaseMsat: policy.feeBaseMsat, feeProportionalMillionths: policy.feeProportionalMillionths, cltvExpiryDelta: policy.cltvExpiryDelta }
        : DEFAULT_HINT_POLICY;
      routeHints.push([{ pubkey: hexToBytes(ch.remoteNodeId), shortChannelId: scid, ...hop }]);
    }
    const invoice = encodeInvoice(
      {
        network: this.opts.network,
        ...(amountMsat !== null ? { amountMsat } : {}),
        timestamp: now,
        paymentHash,
        paymentSecret,
        description: memo,
        expirySec,
        minFinalCltvExpiryDelta: MIN_FINAL_CLTV_EXPIRY_DELTA,
        routeHints,
      },
      this.nodePrivkey,
    );
    const secrets = new TextEncoder().encode(JSON.stringify({ preimage: bytesToHex(preimage), paymentSecret: bytesToHex(paymentSecret) }));
    const key = this.opts.storageKey ?? null;
    const hashHex = bytesToHex(paymentHash);
    this
      .sql(
        `INSERT INTO lightning_invoices (payment_hash, amount_msat, memo, invoice, created_at, expiry_sec, min_final_cltv_expiry, sealed, secrets)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      )
      .run(hashHex, amountMsat?.toString() ?? null, memo, invoice, now, expirySec, MIN_FINAL_CLTV_EXPIRY_DELTA, key ? 1 : 0, Buffer.from(key ? seal(key, secrets, invoiceAad(hashHex)) : secrets));
    return { invoice, paymentHash: hashHex };
  }

  private lookupInvoice(paymentHash: string): { preimage: Uint8Array; paymentSecret: Uint8Array; amountMsat: bigint | null; createdAt: number; expirySec: number; minFinalCltv: number; memo: string; invoice: string } | null {
    const row = this.sql('SELECT * FROM lightning_invoices WHERE payment_hash = ?').get(paymentHash) as
      | { amount_msat: string | null; memo: string; invoice: string; created_at: number; expiry_sec: number; min_final_cltv_expiry: number; sealed: number; secrets: Buffer }
      | undefined;
    if (!row) return null;
    let bytes: Uint8Array = new Uint8Array(row.secrets);
    if (row.sealed) {
      if (!this.opts.storageKey) return null;
      bytes = unseal(this.opts.storageKey, bytes, invoiceAad(paymentHash));
    }
    const s = JSON.parse(new TextDecoder().decode(bytes)) as { preimage: string; paymentSecret: string };
    return {
      preimage: hexToBytes(s.preimage),
      paymentSecret: hexToBytes(s.paymentSecret),
      amountMsat: row.amount_msat === null ? null : BigInt(row.amount_msat),
      createdAt: row.created_at,
      expirySec: row.expiry_sec,
      minFinalCltv: row.min_final_cltv_expiry,
      memo: row.memo,
      invoice: row.invoice,
    };
  }

  /**
   * BOLT 4 "Onion Decryption" of incoming HTLC `h` (processOnionPacket), done once per HTLC:
   * prepareAhead peels what just arrived while the peer works, so resolveIncoming finds
   * it done. Pure (our node key, the onion and the payment_hash), so peeling ahead changes nothing.
   */
  private peel(h: HtlcRecord): ProcessedOnion {
    let onion = this.peeledOnions.get(h);
    if (!onion) {
      onion = processOnionPacket(hexToBytes(h.onion), this.nodePrivkey, hexToBytes(h.paymentHash));
      this.peeledOnions.set(h, onion);
    }
    return onion;
  }

  /** BOLT 4 final-node checks for each irrevocably committed incoming HTLC; fulfill or fail. */
  private resolveIncoming(peer: Peer, ch: Channel): void {
    const height = this.opts.chain.tip()?.height ?? 0;
    for (const h of ch.pendingIncomingHtlcs()) {
      const link = this.forwardOf(ch.keyIndex, h.htlcId);
      if (link) {
        // Forwarded: settled only with the outgoing HTLC's outcome (never failed back while it is pending).
        let msg;
        if (link.status === 'fulfilled' && link.preimage) msg = ch.fulfillHtlc(h.htlcId, hexToBytes(link.preimage));
        else if (link.status === 'failed' && link.fail_reason) msg = ch.failHtlc(h.htlcId, hexToBytes(link.fail_reason));
        if (msg) this.send(peer, [msg]);
        continue;
      }
      const onion = this.peel(h);
      if (onion.type === 'malformed') {
        this.send(peer, [ch.failMalformedHtlc(h.htlcId, onion.sha256OfOnion, onion.failureCode)]);
        continue;
      }
      if (onion.type === 'invalid_payload') {
        this.send(peer, [ch.failHtlc(h.htlcId, createFailureMessage(onion.sharedSecret, onion.failureCode, onion.failureData))]);
        continue;
      }
      const fail = (code: number, data: Uint8Array = new Uint8Array(0)) => this.send(peer, [ch.failHtlc(h.htlcId, createFailureMessage(onion.sharedSecret, code, data))]);
      if (h.dustExposureExceeded) {
        // BOLT 2 max_dust_htlc_exposure_msat: fail it once committed, never reveal its preimage
        // (temporary_channel_failure with our channel_update, as LDK does for its dust limit).
        const f = this.failureWithUpdate(ch, { failureCode: FailureCode.temporary_channel_failure, data: new Uint8Array(0), needsChannelUpdate: true });
        fail(f.failureCode, f.data);
        continue;
      }
      const unknownDetails = () => {
        const data = new Uint8Array(12);
        const view = new DataView(data.buffer);
        view.setBigUint64(0, h.amountMsat);
        view.setUint32(8, height);
        fail(FailureCode.incorrect_or_unknown_payment_details, data);
      };
      if (onion.type === 'forward') {
        const failure = this.forwardHtlc(ch, h, onion, height);
        if (failure) fail(failure.failureCode, failure.data);
        continue;
      }
      const p = onion.payload;
      if (p.amtToForward > h.amountMsat) {
        const data = new Uint8Array(8);
        new DataView(data.buffer).setBigUint64(0, h.amountMsat);
        fail(FailureCode.final_incorrect_htlc_amount, data);
        continue;
      }
      if (h.cltvExpiry < p.outgoingCltvValue) {
        const data = new Uint8Array(4);
        new DataView(data.buffer).setUint32(0, h.cltvExpiry);
        fail(FailureCode.final_incorrect_cltv_expiry, data);
        continue;
      }
      const inv = this.lookupInvoice(h.paymentHash);
      const now = Math.floor(Date.now() / 1000);
      const alreadyPaid = this.getPayment(h.paymentHash, 'received')?.status === 'succeeded';
      if (
        !inv ||
        alreadyPaid ||
        !p.paymentData ||
        bytesToHex(p.paymentData.paymentSecret) !== bytesToHex(inv.paymentSecret) ||
        p.paymentData.totalMsat !== h.amountMsat || // multi-part payments are not supported yet
        (inv.amountMsat !== null && (h.amountMsat < inv.amountMsat || h.amountMsat > 2n * inv.amountMsat)) ||
        now > inv.createdAt + inv.expirySec ||
        h.cltvExpiry < height + inv.minFinalCltv
      ) {
        unknownDetails();
        continue;
      }
      // One transaction: a crash between the two must not leave the invoice paid with the HTLC
      // unresolved (after a restart the HTLC would be failed as "already paid").
      const fulfill = this.opts.db.transaction(() => {
        this.savePayment({
          paymentHash: h.paymentHash,
          direction: 'received',
          amountMsat: h.amountMsat,
          feeMsat: 0n,
          status: 'succeeded',
          preimage: bytesToHex(inv.preimage),
          invoice: inv.invoice,
          memo: inv.memo,
          error: null,
          timestamp: now,
        });
        return ch.fulfillHtlc(h.htlcId, inv.preimage);
      })();
      this.send(peer, [fulfill]);
      this.emit({ type: 'payment_received', paymentHash: h.paymentHash, amountMsat: h.amountMsat });
    }
  }

  // ---------------------------------------------------------------- forwarding (BOLT 4 intermediate node)

  /**
   * A BOLT 4 failure `f` with its failuremsg data, carrying (UPDATE codes) our latest
   * channel_update of `ch` (as last sent, naming `scid`; see channelUpdateOf), none without `ch`.
   */
  private failureWithUpdate(ch: Channel | undefined, f: ForwardFailure, scid?: bigint): { failureCode: number; data: Uint8Array } {
    const update = ch ? this.channelUpdateOf(ch, this.channelUpdateSentAt.get(ch.keyIndex) ?? Math.floor(Date.now() / 1000), scid) : null;
    return { failureCode: f.failureCode, data: failureData(f, update ? encodeMessage(encodeGossipMessage(update)) : null) };
  }

  /** The forward of incoming HTLC (channel key index, htlc_id), or undefined. */
  private forwardOf(inKeyIndex: number, inHtlcId: bigint): ForwardRow | undefined {
    return this.sql('SELECT * FROM lightning_forwards WHERE in_key_index = ? AND in_htlc_id = ?').get(inKeyIndex, inHtlcId.toString()) as ForwardRow | undefined;
  }

  /**
   * Forwards an irrevocably committed incoming HTLC whose onion names a next channel (BOLT 4
   * "Requirements" for intermediate nodes, onion/forward.ts checkForward): the outgoing channel
   * by our alias or (without option_scid_alias) its real scid, our policy OUR_CHANNEL_POLICY. On
   * success offers the outgoing HTLC with the peeled onion and records the link
   * (lightning_forwards) in the same commit group, so it survives restarts.
   * @returns null when forwarded, else the failure (code, data with the channel_update) to return.
   */
  private forwardHtlc(inCh: Channel, h: HtlcRecord, onion: Extract<ProcessedOnion, { type: 'forward' }>, height: number): { failureCode: number; data: Uint8Array } | null {
    const scid = onion.payload.shortChannelId!;
    const outCh = [...this.channels.values()].find(
      (c) => c !== inCh && ACTIVE_STATES.includes(c.state) && (c.localAlias === scid || (!c.scidAliasType && c.shortChannelId === scid)),
    );
    const outPeer = outCh ? this.peers.get(outCh.remoteNodeId) : undefined;
    const usable = !!outCh && outCh.state === 'OPEN' && !!outPeer && !outPeer.isClosed && this.reestablished.has(outCh.keyIndex);
    const withUpdate = (f: ForwardFailure) => this.failureWithUpdate(outCh, f, scid);
    const failure = checkForward({
      incomingAmountMsat: h.amountMsat,
      incomingCltvExpiry: h.cltvExpiry,
      amtToForward: onion.payload.amtToForward,
      outgoingCltvValue: onion.payload.outgoingCltvValue,
      height,
      policy: OUR_CHANNEL_POLICY,
      outgoing: outCh
        ? { usable, htlcMinimumMsat: outCh.remoteConfig?.htlcMinimumMsat ?? 1n, availableToSendMsat: usable ? outCh.availableToSendMsat() : 0n }
        : null,
    });
    if (failure) return withUpdate(failure);
    let add;
    try {
      add = outCh!.addHtlc({ amountMsat: onion.payload.amtToForward, paymentHash: hexToBytes(h.paymentHash), cltvExpiry: onion.payload.outgoingCltvValue, onion: onion.nextPacket });
    } catch (e) {
      console.error(`lightning: cannot forward over ${outCh!.channelId}: ${toFulmenError(e).message}`);
      return withUpdate({ failureCode: FailureCode.temporary_channel_failure, data: new Uint8Array(0), needsChannelUpdate: true });
    }
    const now = Date.now();
    this
      .sql(
        `INSERT INTO lightning_forwards (in_key_index, in_htlc_id, out_key_index, out_htlc_id, payment_hash, in_amount_msat, out_amount_msat, status, preimage, fail_reason, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, 'pending', NULL, NULL, ?, ?)`,
      )
      .run(inCh.keyIndex, h.htlcId.toString(), outCh!.keyIndex, add.id.toString(), h.paymentHash, h.amountMsat.toString(), add.amountMsat.toString(), now, now);
    this.send(outPeer!, [add]);
    this.signSoon(outPeer!, outCh!);
    this.emitChannel(outCh!);
    return null;
  }

  /**
   * The outgoing HTLC (channel key index, htlc_id) of a forward was resolved, off chain or on
   * chain: records the outcome for the incoming HTLC (BOLT 4 "Returning Errors": a downstream
   * failure is obfuscated with the incoming onion's shared secret; update_fail_malformed_htlc
   * becomes an update_fail_htlc with its failure_code and sha256_of_onion; a timeout on chain
   * becomes permanent_channel_failure) and settles the incoming HTLC now when its peer is
   * connected (else at its channel_reestablish, through resolveIncoming).
   * @returns false when that HTLC is not a forward (our own payment).
   */
  private settleForward(outKeyIndex: number, outHtlcId: bigint, outcome: ResolvedOutgoingHtlc['outcome'] | { kind: 'timed_out' }): boolean {
    const row = this.sql('SELECT * FROM lightning_forwards WHERE out_key_index = ? AND out_htlc_id = ?').get(outKeyIndex, outHtlcId.toString()) as ForwardRow | undefined;
    if (!row) return false;
    if (row.status !== 'pending') return true;
    this.joinGroup();
    const inCh = this.channels.get(row.in_key_index);
    const inH = inCh?.pendingIncomingHtlcs().find((x) => x.htlcId === BigInt(row.in_htlc_id));
    let preimage: string | null = null;
    let reason: Uint8Array | null = null;
    if (outcome.kind === 'fulfilled') preimage = outcome.preimage;
    else if (inH && inH.onion !== '') {
      const onion = this.peel(inH);
      if (onion.type === 'forward') {
        if (outcome.kind === 'failed') reason = obfuscateFailure(onion.sharedSecret, hexToBytes(outcome.reason));
        else if (outcome.kind === 'malformed') reason = createFailureMessage(onion.sharedSecret, outcome.failureCode, hexToBytes(outcome.sha256OfOnion));
        else reason = createFailureMessage(onion.sharedSecret, FailureCode.permanent_channel_failure);
      }
    }
    this
      .sql('UPDATE lightning_forwards SET status = ?, preimage = ?, fail_reason = ?, updated_at = ? WHERE in_key_index = ? AND in_htlc_id = ?')
      .run(preimage ? 'fulfilled' : 'failed', preimage, reason ? bytesToHex(reason) : null, Date.now(), row.in_key_index, row.in_htlc_id);
    const inPeer = inCh ? this.peers.get(inCh.remoteNodeId) : undefined;
    if (inCh && inH && inPeer && !inPeer.isClosed && this.reestablished.has(inCh.keyIndex) && ['OPEN', 'SHUTDOWN'].includes(inCh.state)) {
      try {
        this.resolveIncoming(inPeer, inCh);
        this.signSoon(inPeer, inCh);
      } catch (e) {
        // The incoming channel's trouble must not fail the outgoing one (we may be in its handler):
        // drop that connection, the link row settles the HTLC after channel_reestablish.
        console.error(`lightning: cannot settle forwarded HTLC on ${inCh.channelId}: ${toFulmenError(e).message}`);
        inPeer.close();
      }
      this.emitChannel(inCh);
    } else if (preimage && inCh && inH && !ACTIVE_STATES.includes(inCh.state)) {
      void this.watcher.checkNow(); // closed on chain: claim the incoming HTLC with the preimage (forwardPreimages)
    }
    return true;
  }

  /**
   * Preimages of forwards fulfilled downstream whose incoming HTLC is on channel `inKeyIndex`, by
   * payment hash: the watcher claims that HTLC on chain with them (BOLT 5) when the incoming channel
   * closed before we could fulfill it off chain.
   */
  private forwardPreimages(inKeyIndex: number): Map<string, Uint8Array> {
    const rows = this.sql("SELECT payment_hash, preimage FROM lightning_forwards WHERE in_key_index = ? AND status = 'fulfilled' AND settled_at IS NULL").all(inKeyIndex) as Pick<ForwardRow, 'payment_hash' | 'preimage'>[];
    return new Map(rows.filter((r) => r.preimage).map((r) => [r.payment_hash, hexToBytes(r.preimage!)]));
  }

  /**
   * BOLT 2 deadlines, on each tip. "An offering node: if an HTLC which it offered is in either
   * node's current commitment transaction, AND is past this timeout deadline: MUST ... fail the
   * channel" (cltv_expiry + TIMEOUT_GRACE_BLOCKS: its HTLC-timeout then resolves it on chain; for a
   * forward, while the incoming HTLC, cltv_expiry_delta later, is still ours to fail back). "A
   * fulfilling node: if an HTLC it has fulfilled is in either node's current commitment
   * transaction, AND is past this fulfillment deadline: MUST fail the channel" (cltv_expiry -
   * FULFILL_DEADLINE_BLOCKS; the watcher claims it with the preimage): HTLCs we fulfilled whose
   * removal is not irrevocably committed, and forwards fulfilled downstream whose fulfill could not
   * reach the incoming channel yet (the peer is away).
   */
  private closeChannelsPastHtlcDeadlines(): void {
    const height = this.opts.chain.tip()?.height;
    if (height === undefined) return;
    const closing = new Set<Channel>();
    const close = (ch: Channel, why: string) => {
      if (closing.has(ch)) return;
      closing.add(ch);
      console.error(`lightning: ${why} on ${ch.channelId}: force closing`);
      this.forceCloseChannel(ch.channelPoint!).catch((e) => console.error(`lightning: force close of ${ch.channelId} failed: ${toFulmenError(e).message}`));
    };
    for (const ch of this.channels.values()) {
      if (!ACTIVE_STATES.includes(ch.state) || ch.channelPoint === null) continue;
      const why = ch.htlcPastDeadline(height, TIMEOUT_GRACE_BLOCKS, FULFILL_DEADLINE_BLOCKS);
      if (why) close(ch, why);
    }
    const fulfilled = this.sql("SELECT * FROM lightning_forwards WHERE settled_at IS NULL AND status = 'fulfilled'").all() as ForwardRow[];
    for (const r of fulfilled) {
      const ch = this.channels.get(r.in_key_index);
      const h = ch?.incomingHtlc(BigInt(r.in_htlc_id));
      if (!ch || !h || ch.state === 'REDEEMED') {
        // Its removal is irrevocably committed (archived) or the channel is resolved on chain: done.
        this.sql('UPDATE lightning_forwards SET settled_at = ? WHERE in_key_index = ? AND in_htlc_id = ?').run(Date.now(), r.in_key_index, r.in_htlc_id);
        continue;
      }
      if (!ACTIVE_STATES.includes(ch.state) || ch.channelPoint === null) continue;
      if (height >= h.cltvExpiry - FULFILL_DEADLINE_BLOCKS) close(ch, `incoming HTLC ${r.in_htlc_id} fulfilled downstream but not removed upstream by its deadline`);
    }
  }

  /**
   * The watcher resolved an outgoing HTLC on chain (BOLT 5): the downstream peer's spend revealed
   * the preimage (Electrum's extract_preimage) or our HTLC-timeout confirmed (fw_fail_htlc). Settles
   * the forwards of that channel and payment_hash (a timeout: the oldest pending one; each timed-out
   * output is reported once). @returns false when none is a forward.
   */
  private settleForwardOnchain(channelKeyIndex: number, paymentHash: string, outcome: { kind: 'fulfilled'; preimage: string } | { kind: 'timed_out' }): boolean {
    const rows = this.sql("SELECT * FROM lightning_forwards WHERE out_key_index = ? AND payment_hash = ? AND status = 'pending' ORDER BY created_at").all(channelKeyIndex, paymentHash) as ForwardRow[];
    const targets = outcome.kind === 'fulfilled' ? rows : rows.slice(0, 1);
    for (const r of targets) this.settleForward(r.out_key_index, BigInt(r.out_htlc_id), outcome);
    return targets.length > 0;
  }

  /**
   * Pays a BOLT 11 invoice (Electrum `lnpay`) over a direct channel to the payee, else through
   * the first route hint (`r`) that starts at a channel peer with enough balance, with a Sphinx
   * onion (the payee's payload carries payment_secret and total_msat). No graph, no retries.
   * When no channel has enough yet but one of those channels is settling HTLCs (funds just
   * received), waits for them to settle, at most SETTLING_WAIT_MS.
   * @returns success with the preimage, or failure with the decoded reason and the failing node.
   * @throws FulmenError BAD_INPUT (invoice), INVOICE_EXPIRED, ALREADY_PAID, PAYMENT_FAILED (no route).
   */
  async pay(invoiceText: string, opts: { amountMsat?: bigint } = {}): Promise<{ paymentHash: string } & PaymentOutcome> {
    const inv = decodeInvoice(invoiceText, this.opts.network);
    const paymentHash = bytesToHex(inv.paymentHash);
    if (isExpired(inv, Math.floor(Date.now() / 1000))) throw new FulmenError('INVOICE_EXPIRED', 'The invoice has expired');
    const amountMsat = inv.amountMsat ?? opts.amountMsat;
    if (amountMsat === undefined || amountMsat <= 0n) throw new FulmenError('BAD_INPUT', 'The invoice has no amount: give one');
    const refuseRepeat = () => {
      const previous = this.getPayment(paymentHash, 'sent');
      if (previous?.status === 'succeeded') throw new FulmenError('ALREADY_PAID', 'This invoice was already paid');
      if (previous?.status === 'pending') throw new FulmenError('PAYMENT_FAILED', 'A payment for this invoice is in progress');
    };
    refuseRepeat();
    const payee = bytesToHex(inv.payeeNodeId);
    const height = this.opts.chain.tip()?.height;
    if (height === undefined) throw new FulmenError('NETWORK', 'No blockchain tip yet');
    const finalCltvExpiry = height + inv.minFinalCltvExpiryDelta + FINAL_CLTV_MARGIN;
    const finalPayload = {
      paymentData: { paymentSecret: inv.paymentSecret, totalMsat: amountMsat },
      ...(inv.paymentMetadata ? { paymentMetadata: inv.paymentMetadata } : {}),
    };
    const firstHops = [payee];
    for (const hint of inv.routeHints ?? []) if (hint[0]) firstHops.push(bytesToHex(hint[0].pubkey));
    let path = this.paymentPath(inv, amountMsat, finalCltvExpiry, finalPayload);
    // Funds just received are spendable once their HTLC's removal is in both commitments, a few
    // round trips after the fulfill: a payment made at once waits for that, not fails.
    const settlingUntil = Date.now() + SETTLING_WAIT_MS;
    while (!path && Date.now() < settlingUntil && firstHops.some((id) => this.usableChannelsTo(id).some((c) => c.hasSettlingHtlcs()))) {
      await this.nextChannelChange(settlingUntil - Date.now());
      refuseRepeat(); // another pay of this invoice may have started meanwhile
      path = this.paymentPath(inv, amountMsat, finalCltvExpiry, finalPayload);
    }
    const peer = path ? this.peers.get(path.ch.remoteNodeId) : undefined;
    if (!path || !peer || peer.isClosed) throw new FulmenError('PAYMENT_FAILED', 'No open channel with enough balance to the payee or to a route hint of its invoice');
    const { ch: outCh, hops, htlcAmountMsat, cltvExpiry } = path;
    const session = this.onionSessions.get(outCh.remoteNodeId) ?? startOnionSession(randomBytes(32), hops[0]!.pubkey);
    this.onionSessions.delete(outCh.remoteNodeId); // a session builds one onion
    const onion = createOnionPacket(
      session,
      hops.map((h) => ({ pubkey: h.pubkey, payload: encodeHopPayload(h.payload) })),
      inv.paymentHash,
    );
    const now = Math.floor(Date.now() / 1000);
    this.joinGroup(); // this payment's row, HTLC and commitment share one commit with the others of this tick
    this.savePayment({
      paymentHash,
      direction: 'sent',
      amountMsat,
      feeMsat: htlcAmountMsat - amountMsat,
      status: 'pending',
      preimage: null,
      invoice: inv.paymentRequest,
      memo: inv.description ?? '',
      error: null,
      timestamp: now,
    });
    let add;
    try {
      add = outCh.addHtlc({ amountMsat: htlcAmountMsat, paymentHash: inv.paymentHash, cltvExpiry, onion: onion.packet });
    } catch (e) {
      this.updatePayment(paymentHash, 'sent', 'failed', null, toFulmenError(e).message);
      throw new FulmenError('PAYMENT_FAILED', toFulmenError(e).message);
    }
    const route = hops.map((h) => bytesToHex(h.pubkey));
    const result = new Promise<PaymentOutcome>((resolve) =>
      this.paymentWaiters.set(`${outCh.keyIndex}:${add.id}`, { paymentHash, sharedSecrets: onion.sharedSecrets, route, resolve }),
    );
    this.send(peer, [add]);
    this.signSoon(peer, outCh);
    this.emitChannel(outCh);
    const timeoutMs = this.opts.paymentTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    const r = await Promise.race([result, new Promise<null>((resolve) => (timer = setTimeout(() => resolve(null), timeoutMs)))]);
    clearTimeout(timer);
    if (r === null) return { success: false, paymentHash, error: 'Payment still pending (timeout waiting for the peer)' };
    await this.committed(); // the outcome is stored before it is reported
    return { paymentHash, ...r };
  }

  /** Our OPEN, reestablished channels to `nodeId` (hex). */
  private usableChannelsTo(nodeId: string): Channel[] {
    return this.channelsOf(nodeId).filter((c) => c.state === 'OPEN' && this.reestablished.has(c.keyIndex));
  }

  /**
   * How pay sends `amountMsat` to the invoice's payee: over a direct channel with enough to send,
   * else through the first route hint that starts at a channel peer with enough. Null when none can.
   */
  private paymentPath(inv: Invoice, amountMsat: bigint, finalCltvExpiry: number, finalPayload: Omit<HopPayload, 'amtToForward' | 'outgoingCltvValue' | 'shortChannelId'>): { ch: Channel; hops: RouteHop[]; htlcAmountMsat: bigint; cltvExpiry: number } | null {
    const payee = bytesToHex(inv.payeeNodeId);
    const direct = this.usableChannelsTo(payee).find((c) => c.availableToSendMsat() >= amountMsat);
    if (direct) {
      const hops = [{ pubkey: inv.payeeNodeId, payload: { ...finalPayload, amtToForward: amountMsat, outgoingCltvValue: finalCltvExpiry } }];
      return { ch: direct, hops, htlcAmountMsat: amountMsat, cltvExpiry: finalCltvExpiry };
    }
    for (const hint of inv.routeHints ?? []) {
      const route = routeThroughHint(hint, inv.payeeNodeId, amountMsat, finalCltvExpiry, finalPayload);
      const first = route ? this.usableChannelsTo(route.firstHopNodeId).find((c) => c.availableToSendMsat() >= route.amountMsat) : undefined;
      if (route && first) return { ch: first, hops: route.hops, htlcAmountMsat: route.amountMsat, cltvExpiry: route.cltvExpiry };
    }
    return null;
  }

  /** Resolves at the next `channel` event (emitChangedChannels) or after `timeoutMs`. */
  private nextChannelChange(timeoutMs: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, timeoutMs);
      const unsubscribe = this.on((e) => e.type === 'channel' && done());
      function done(): void {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      }
    });
  }

  /**
   * At start: settles sent payments that a crash left 'pending' from the channels' HTLC logs (the
   * channel state and the payment row are two writes). Fulfilled HTLC → succeeded; every HTLC
   * failed → failed; no HTLC at all (stopped before it was added) → failed, nothing was sent.
   * Payments with an HTLC in flight stay pending until the peer settles it.
   */
  private reconcilePendingPayments(): void {
    for (const p of this.listPayments()) {
      if (p.direction !== 'sent' || p.status !== 'pending') continue;
      const htlcs = [...this.channels.values()].flatMap((ch) => ch.outgoingHtlcOutcomes(p.paymentHash));
      const fulfilled = htlcs.find((h) => h.outcome?.kind === 'fulfilled')?.outcome;
      if (fulfilled?.kind === 'fulfilled') this.updatePayment(p.paymentHash, 'sent', 'succeeded', fulfilled.preimage, null);
      else if (htlcs.length === 0) this.updatePayment(p.paymentHash, 'sent', 'failed', null, 'Not sent: the wallet stopped before the payment left');
      else if (htlcs.every((h) => h.outcome !== null)) this.updatePayment(p.paymentHash, 'sent', 'failed', null, 'Payment failed');
    }
  }

  private onOutgoingResolved(ch: Channel, r: ResolvedOutgoingHtlc): void {
    if (this.settleForward(ch.keyIndex, r.htlcId, r.outcome)) return;
    const key = `${ch.keyIndex}:${r.htlcId}`;
    const waiter = this.paymentWaiters.get(key);
    if (r.outcome.kind === 'fulfilled') {
      this.updatePayment(r.paymentHash, 'sent', 'succeeded', r.outcome.preimage, null);
      this.emit({ type: 'payment_sent', paymentHash: r.paymentHash, amountMsat: r.amountMsat, preimage: r.outcome.preimage });
      waiter?.resolve({ success: true, preimage: r.outcome.preimage });
    } else {
      let error: string;
      let failingNodeId: string | undefined;
      if (r.outcome.kind === 'malformed') error = `Peer could not parse the onion (${failureCodeName(r.outcome.failureCode)})`;
      else {
        const decoded = waiter ? decodeFailure(waiter.sharedSecrets, hexToBytes(r.outcome.reason)) : undefined;
        error = decoded ? failureCodeName(decoded.failureCode) : 'Payment failed (undecodable error)';
        failingNodeId = decoded ? waiter?.route[decoded.failingHopIndex] : undefined;
      }
      this.updatePayment(r.paymentHash, 'sent', 'failed', null, error);
      this.emit({ type: 'payment_failed', paymentHash: r.paymentHash, error });
      waiter?.resolve({ success: false, error, ...(failingNodeId ? { failingNodeId } : {}) });
    }
    this.paymentWaiters.delete(key);
  }

  private savePayment(p: PaymentRecord): void {
    this
      .sql(
        `INSERT INTO lightning_payments (payment_hash, direction, amount_msat, fee_msat, status, preimage, invoice, memo, error, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
         ON CONFLICT (payment_hash, direction) DO UPDATE SET amount_msat = excluded.amount_msat, status = excluded.status,
           preimage = excluded.preimage, error = excluded.error, updated_at = excluded.updated_at`,
      )
      .run(p.paymentHash, p.direction, p.amountMsat.toString(), p.feeMsat.toString(), p.status, p.preimage, p.invoice, p.memo, p.error, p.timestamp, Date.now());
  }

  private updatePayment(paymentHash: string, direction: 'sent' | 'received', status: PaymentRecord['status'], preimage: string | null, error: string | null): void {
    this
      .sql('UPDATE lightning_payments SET status = ?, preimage = COALESCE(?, preimage), error = ?, updated_at = ? WHERE payment_hash = ? AND direction = ?')
      .run(status, preimage, error, Date.now(), paymentHash, direction);
  }

  /** One payment by (payment_hash, direction), or undefined. */
  getPayment(paymentHash: string, direction: 'sent' | 'received'): PaymentRecord | undefined {
    const row = this.sql('SELECT * FROM lightning_payments WHERE payment_hash = ? AND direction = ?').get(paymentHash, direction) as PaymentRow | undefined;
    return row ? paymentFromRow(row) : undefined;
  }

  /** Lightning history, newest first. */
  listPayments(): PaymentRecord[] {
    return (this.sql('SELECT * FROM lightning_payments ORDER BY created_at DESC, updated_at DESC').all() as PaymentRow[]).map(paymentFromRow);
  }

  // ---------------------------------------------------------------- closing and listing

  /** Our side's channel parameters: the defaults, with the configured to_self_delay. */
  private localConfigFor(fundingSat: number): ReturnType<typeof defaultLocalConfig> {
    const config = defaultLocalConfig(fundingSat);
    if (this.opts.toSelfDelay !== undefined) config.toSelfDelay = this.opts.toSelfDelay;
    return config;
  }

  /**
   * What a channel has on chain (get_channel_sweeps): its list_channels row, the close the
   * ChannelWatcher saw (null before the funding output was spent, and for a channel known only
   * from a backup, whose sweeps come from backup/manager.ts), the sweeps of that close
   * (`liveSweepsOf`: outputs of a transaction a reorg replaced are left out), and the to_self_delay
   * (blocks) the peer asked us to wait on our to_local (null before the peer's parameters), and
   * the chain tip height (null before the first header).
   * @throws FulmenError NOT_FOUND for an unknown channel point or id.
   */
  channelOnchain(channelPoint: string): { info: ChannelInfo; close: ChannelCloseView | null; sweeps: SweepRow[]; ourToSelfDelay: number | null; tipHeight: number | null } {
    const ch = [...this.channels.values()].find((c) => c.channelPoint === channelPoint || c.channelId === channelPoint);
    const tipHeight = this.opts.chain.tip()?.height ?? null;
    if (!ch) {
      // A channel known only from a backup: its sweeps (backup/manager.ts), no classified close.
      const r = this.backups.get(channelPoint);
      if (!r) throw new FulmenError('NOT_FOUND', `Unknown channel ${channelPoint}`);
      const sweeps = Object.entries(r.sweeps).map(([kind, s]): SweepRow => {
        const input = Transaction.fromHex(s.rawTx).ins[0]!;
        const outpoint = `${inputPrevTxid(input)}:${input.index}`;
        const status = s.confirmed ? 'confirmed' : 'broadcast';
        return { outpoint, channelKeyIndex: -1, kind: kind as SweepRow['kind'], valueSat: s.valueSat, spendableHeight: null, txid: s.txid, rawTx: s.rawTx, status, confirmedHeight: null, feerateSatPerVbyte: null, broadcastHeight: null, priorTxids: [] };
      });
      return { info: this.backupInfo(r), close: null, sweeps, ourToSelfDelay: r.remote?.toSelfDelay ?? null, tipHeight };
    }
    return {
      info: this.channelInfo(ch),
      close: this.watcher.closeOf(ch.keyIndex),
      sweeps: this.watcher.liveSweepsOf(ch.keyIndex),
      ourToSelfDelay: ch.remoteConfig?.toSelfDelay ?? null,
      tipHeight,
    };
  }

  /**
   * Our latest signed local commitment transaction, raw hex (Electrum `get_channel_ctx`). It is
   * fully signed: broadcasting it force-closes the channel, and once a newer state exists it is a
   * revoked state the peer may punish. For tests and recovery tooling only.
   * @throws FulmenError NOT_FOUND for an unknown channel point or id.
   */
  latestLocalCommitmentTx(channelPoint: string): string {
    const ch = [...this.channels.values()].find((c) => c.channelPoint === channelPoint || c.channelId === channelPoint);
    if (!ch) throw new FulmenError('NOT_FOUND', `Unknown channel ${channelPoint}`);
    return ch.signedLocalCommitment();
  }

  /**
   * Unilateral close (Electrum `close_channel --force`): marks the channel FORCE_CLOSING (no new
   * commitment is signed from then on), broadcasts our latest signed commitment
   * (`signedLocalCommitment()`), and leaves the rest to the ChannelWatcher (to_local after
   * to_self_delay, HTLC transactions). If the broadcast fails it is retried on the next block.
   * Refused when the peer proved our state is outdated (broadcasting would be punished) and once a
   * mutual close is signed (CLOSING).
   * @returns the commitment txid. @throws FulmenError NOT_FOUND, CHANNEL_STATE.
   */
  async forceCloseChannel(channelPoint: string): Promise<{ closingTxid: string }> {
    const ch = [...this.channels.values()].find((c) => c.channelPoint === channelPoint || c.channelId === channelPoint);
    if (!ch) throw new FulmenError('NOT_FOUND', `Unknown channel ${channelPoint}`);
    if (ch.weAreBehind) throw new FulmenError('CHANNEL_STATE', 'Our channel state is outdated: the peer must close the channel');
    if (ch.state === 'FORCE_CLOSING' && ch.closingTxHex) {
      this.broadcast(ch.closingTxHex);
      return { closingTxid: Transaction.fromHex(ch.closingTxHex).getId() };
    }
    if (!ACTIVE_STATES.includes(ch.state)) throw new FulmenError('CHANNEL_STATE', `Cannot force close a channel in state ${ch.state}`);
    // Like Electrum, no error is sent: the peer learns of the close on chain (an error would make it
    // broadcast its own commitment as well).
    const { commitmentTxHex } = ch.failChannel('force close requested');
    if (!commitmentTxHex) throw new FulmenError('CHANNEL_STATE', 'The channel has no signed commitment yet');
    for (const [key, w] of this.paymentWaiters) {
      if (key.startsWith(`${ch.keyIndex}:`)) w.resolve({ success: false, error: 'Channel force-closed' });
    }
    this.emitChannel(ch);
    await this.opts.chain.broadcast(commitmentTxHex).catch(() => undefined);
    void this.watcher.checkNow();
    return { closingTxid: Transaction.fromHex(commitmentTxHex).getId() };
  }

  /**
   * Cooperative close (Electrum `close_channel`): shutdown, then closing_signed negotiation;
   * resolves with the closing txid once both signed it (it is broadcast).
   * @throws FulmenError NOT_FOUND, CHANNEL_STATE, NETWORK, TIMEOUT.
   */
  async closeChannel(channelPoint: string): Promise<{ closingTxid: string }> {
    const ch = [...this.channels.values()].find((c) => c.channelPoint === channelPoint || c.channelId === channelPoint);
    if (!ch) throw new FulmenError('NOT_FOUND', `Unknown channel ${channelPoint}`);
    const peer = this.peers.get(ch.remoteNodeId);
    if (!peer || peer.isClosed || !this.reestablished.has(ch.keyIndex)) throw new FulmenError('NETWORK', 'The channel peer is not connected');
    await this.refreshFeerate();
    if (!ch.shutdownSent) {
      this.send(peer, [ch.signNextCommitment()]);
      if (ch.hasUnsignedLocalUpdates()) throw new FulmenError('CHANNEL_STATE', 'Payments are in flight; try again in a moment');
      this.send(peer, [ch.shutdown(this.closingScript(ch))]);
    }
    this.afterUpdate(peer, ch);
    const deadline = Date.now() + 60_000;
    while (!ch.closingTxHex) {
      if (Date.now() > deadline) throw new FulmenError('TIMEOUT', 'Closing negotiation did not finish');
      if (peer.isClosed) throw new FulmenError('NETWORK', 'The channel peer disconnected during closing');
      await new Promise((r) => setTimeout(r, 100));
    }
    return { closingTxid: Transaction.fromHex(ch.closingTxHex).getId() };
  }

  private channelInfo(ch: Channel): ChannelInfo {
    const b = ch.balances();
    return {
      channel_id: ch.channelId,
      channel_point: ch.channelPoint,
      short_channel_id: ch.shortChannelId !== null ? formatScid(ch.shortChannelId) : null,
      state: ch.state,
      type: 'CHANNEL',
      peer_state: this.peers.get(ch.remoteNodeId)?.isReady ? 'GOOD' : 'DISCONNECTED',
      remote_pubkey: ch.remoteNodeId,
      local_balance: Number(b.localMsat / 1000n),
      remote_balance: Number(b.remoteMsat / 1000n),
      local_ctn: ch.localCtn,
      remote_ctn: ch.remoteCtn,
      local_reserve: ch.remoteConfig?.channelReserveSat ?? 0,
      remote_reserve: ch.localConfig.channelReserveSat,
      initiator: ch.isFunder ? 'local' : 'remote',
      capacity: ch.fundingSat,
      closing_txid: ch.closingTxHex ? Transaction.fromHex(ch.closingTxHex).getId() : null,
      channel_type: ch.channelType,
      scid_alias: ch.scidAliasType,
      zeroconf: ch.zeroconf,
    };
  }

  /**
   * What one channel can carry now, msat: the largest single HTLC we may offer (`canSendMsat`:
   * balance minus the reserve the peer asked for and, as funder, the commitment fee with one more
   * HTLC) and what the peer may offer us (`canReceiveMsat`). Channel by channel point or id.
   * @throws FulmenError NOT_FOUND.
   */
  channelLimits(channelPoint: string): { canSendMsat: bigint; canReceiveMsat: bigint } {
    const ch = [...this.channels.values()].find((c) => c.channelPoint === channelPoint || c.channelId === channelPoint);
    if (!ch) throw new FulmenError('NOT_FOUND', `Unknown channel ${channelPoint}`);
    return { canSendMsat: ch.availableToSendMsat(), canReceiveMsat: ch.availableToReceiveMsat() };
  }

  /** Electrum `list_channels`: our channels, then the channels known only from a backup (type BACKUP). */
  listChannels(): ChannelInfo[] {
    const channels = [...this.channels.values()].filter((c) => c.state !== 'PREOPENING').map((c) => this.channelInfo(c));
    const points = new Set(channels.map((c) => c.channel_point));
    return [...channels, ...this.backups.list().filter((r) => !points.has(r.channelPoint)).map((r) => this.backupInfo(r))];
  }

  private backupInfo(r: BackupRecord): ChannelInfo {
    return {
      channel_id: r.channelId,
      channel_point: r.channelPoint,
      short_channel_id: null,
      state: r.state,
      type: 'BACKUP',
      peer_state: this.peers.get(r.remoteNodeId)?.isReady ? 'GOOD' : 'DISCONNECTED',
      remote_pubkey: r.remoteNodeId,
      local_balance: 0,
      remote_balance: 0,
      local_ctn: 0,
      remote_ctn: 0,
      local_reserve: 0,
      remote_reserve: 0,
      initiator: r.isInitiator ? 'local' : 'remote',
      capacity: r.fundingSat,
      closing_txid: r.closingTxid,
      channel_type: r.channelType ?? null,
      scid_alias: false,
      zeroconf: false,
    };
  }

  // ---------------------------------------------------------------- backups and recovery

  /**
   * Electrum `export_channel_backup`: the static backup of a channel, encrypted with a key from
   * the seed (backup/static-backup.ts). @throws FulmenError NOT_FOUND, CHANNEL_STATE (no funding
   * outpoint or remote parameters yet).
   */
  exportChannelBackup(channelPoint: string): string {
    const ch = [...this.channels.values()].find((c) => c.channelPoint === channelPoint || c.channelId === channelPoint);
    if (!ch) throw new FulmenError('NOT_FOUND', `Unknown channel ${channelPoint}`);
    const d = ch.snapshot();
    if (d.fundingTxid === null || d.fundingOutputIndex === null || !d.remoteBasepoints || !d.remoteConfig) {
      throw new FulmenError('CHANNEL_STATE', 'The channel has no funding transaction yet');
    }
    const addr = this.peerAddress(d.remoteNodeId);
    return encodeChannelBackup(this.rootSecret, {
      version: CONTENTS_VERSION,
      channelType: ch.channelType,
      network: this.opts.network,
      channelId: d.channelId,
      fundingTxid: d.fundingTxid,
      fundingOutputIndex: d.fundingOutputIndex,
      fundingSat: d.fundingSat,
      fundingScriptPubKey: bytesToHex(ch.fundingOutput().scriptPubKey),
      remoteNodeId: d.remoteNodeId,
      host: addr?.host ?? null,
      port: addr?.port ?? null,
      isInitiator: d.isFunder,
      keyIndex: d.keyDerivation ? null : d.keyIndex,
      keyDerivation: d.keyDerivation ?? null,
      remote: { ...d.remoteBasepoints, toSelfDelay: d.remoteConfig.toSelfDelay, dustLimitSat: d.remoteConfig.dustLimitSat },
      local: { toSelfDelay: d.localConfig.toSelfDelay, dustLimitSat: d.localConfig.dustLimitSat },
      createdAt: d.createdAt,
    });
  }

  /**
   * Electrum `import_channel_backup`: decrypts (same seed only) and keeps a channel backup; it is
   * listed with type BACKUP and watched on chain. @returns its channel point.
   * @throws FulmenError BAD_INPUT (not a backup, other seed, other network, channel already here).
   */
  importChannelBackup(text: string): string {
    const contents = decodeChannelBackup(this.rootSecret, text, this.opts.network);
    return this.backups.importBackup(contents).channelPoint;
  }

  /**
   * Electrum `request_force_close`: for a channel known only from a backup, connects to the peer
   * and sends channel_reestablish with a stale state (next_commitment_number 0,
   * next_revocation_number 0, your_last_per_commitment_secret zero: BOLT 2 option_data_loss_protect)
   * followed by an error for the channel, so the peer publishes its commitment; the backup
   * watcher then sweeps our to_remote output (static key from the seed).
   * @param connectString `nodeid@host:port` when the backup has no usable address.
   * @throws FulmenError NOT_FOUND, BAD_INPUT (no address), NETWORK.
   */
  async requestForceClose(channelPoint: string, connectString?: string): Promise<void> {
    const r = this.backups.get(channelPoint);
    if (!r) {
      const isChannel = [...this.channels.values()].some((c) => c.channelPoint === channelPoint || c.channelId === channelPoint);
      throw new FulmenError('NOT_FOUND', isChannel ? 'This channel is not a backup: use close_channel --force' : `Unknown channel ${channelPoint}`);
    }
    let target = connectString;
    if (!target) {
      const addr = r.host !== null && r.port !== null ? { host: r.host, port: r.port } : this.peerAddress(r.remoteNodeId);
      if (!addr) throw new FulmenError('BAD_INPUT', 'The peer address is unknown: give it as nodeid@host:port');
      target = `${r.remoteNodeId}@${addr.host.includes(':') ? `[${addr.host}]` : addr.host}:${addr.port}`;
    }
    if (parseConnectString(target).nodeId.some((b, i) => b !== hexToBytes(r.remoteNodeId)[i])) throw new FulmenError('BAD_INPUT', 'That node is not the peer of this channel');
    const peer = await this.connect(target);
    const channelId = hexToBytes(r.channelId);
    peer.send({
      type: 'channel_reestablish',
      channelId,
      nextCommitmentNumber: 0,
      nextRevocationNumber: 0,
      yourLastPerCommitmentSecret: new Uint8Array(32),
      myCurrentPerCommitmentPoint: STALE_STATE_POINT,
    });
    // Peers that do not close on a stale reestablish do on an error (BOLT 1: MUST fail the channel).
    peer.sendError(channelId, 'We lost our channel state: please force close the channel');
    this.backups.markForceCloseRequested(r.channelPoint);
    void this.backups.checkNow();
  }
}

/** A row of lightning_payments. */
/** A row of lightning_forwards (migration 111): htlc ids and amounts as decimal strings. */
interface ForwardRow {
  in_key_index: number;
  in_htlc_id: string;
  out_key_index: number;
  out_htlc_id: string;
  payment_hash: string;
  in_amount_msat: string;
  out_amount_msat: string;
  status: 'pending' | 'fulfilled' | 'failed';
  preimage: string | null;
  /** update_fail_htlc reason for the incoming HTLC (hex), already obfuscated for the upstream hop. */
  fail_reason: string | null;
  /** Fulfilled forwards: when the incoming HTLC left its channel's live log (removal irrevocably committed) or the channel was REDEEMED (unix ms); null before. */
  settled_at: number | null;
  created_at: number;
  updated_at: number;
}

interface PaymentRow {
  payment_hash: string;
  direction: 'sent' | 'received';
  amount_msat: string;
  fee_msat: string;
  status: PaymentRecord['status'];
  preimage: string | null;
  invoice: string | null;
  memo: string;
  error: string | null;
  created_at: number;
}

function paymentFromRow(r: PaymentRow): PaymentRecord {
  return {
    paymentHash: r.payment_hash,
    direction: r.direction,
    amountMsat: BigInt(r.amount_msat),
    feeMsat: BigInt(r.fee_msat),
    status: r.status,
    preimage: r.preimage,
    invoice: r.invoice,
    memo: r.memo,
    error: r.error,
    timestamp: r.created_at,
  };
}

/** State of an open commit group (LightningNode.joinGroup). */
interface CommitGroup {
  /** Peers whose output is held until the commit. */
  held: Set<Peer>;
  /** Channels whose next commitment is signed at the commit, with their peer. */
  toSign: Map<Channel, Peer>;
  /** Opened by deferSigning's timer for quiet channels: signs all of toSign (commitGroup defers nothing). */
  signsAll: boolean;
  /** Called after the commit (true) or when it failed (false). */
  afterCommit: ((committed: boolean) => void)[];
  /** Types of the messages held (and received) in the group: for the crash-test hooks, and sentTypes for commitGroup's split. */
  sentTypes: string[];
  receivedTypes: string[];
}

/** The longest a deferred commitment_signed that only removes settled HTLCs waits for the peer's next message (deferSigning). */
const SETTLE_SIGNING_WAIT_MS = 10;

/** The longest pay waits for HTLCs being settled on a channel to make the amount spendable. */
const SETTLING_WAIT_MS = 5_000;

/** Messages that settle an HTLC: released before the commitment_signed that covers them is signed (commitGroup). */
const HTLC_RESOLUTIONS: ReadonlySet<string> = new Set(['update_fulfill_htlc', 'update_fail_htlc', 'update_fail_malformed_htlc']);

function invoiceAad(paymentHash: string): Uint8Array {
  return new TextEncoder().encode(`lightning_invoices/${paymentHash}`);
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new FulmenError('TIMEOUT', message)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
