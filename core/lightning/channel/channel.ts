import { sha256 } from '@noble/hashes/sha2.js';
import { randomBytes } from '@noble/hashes/utils.js';
import { Transaction } from 'bitcoinjs-lib';
import { FulmenError } from '../../util/errors.js';
import { bytesEqual, bytesToHex, hexToBytes } from '../wire/codec.js';
import { FeatureBits } from '../wire/features.js';
import type {
  AcceptChannelMessage,
  ChannelMessage,
  ChannelReadyMessage,
  ChannelReestablishMessage,
  ClosingSignedMessage,
  CommitmentSignedMessage,
  ErrorMessage,
  FundingCreatedMessage,
  FundingSignedMessage,
  OpenChannelMessage,
  RevokeAndAckMessage,
  ShutdownMessage,
  UpdateAddHtlcMessage,
  UpdateFailHtlcMessage,
  UpdateFailMalformedHtlcMessage,
  UpdateFeeMessage,
  UpdateFulfillHtlcMessage,
} from '../wire/messages.js';
import { HtlcLog, otherSide, type HtlcLogState, type HtlcRecord, type Side } from './htlc-log.js';
import {
  basepointsOf,
  channelSecretsFor,
  derivePrivkey,
  derivePubkey,
  deriveRevocationPubkey,
  deriveRevocationPubkeyKnowing,
  isValidPoint,
  perCommitmentPoint,
  perCommitmentSecret,
  pubkeyFromSecret,
  START_INDEX,
  type ChannelBasepoints,
  type ChannelKeyDerivation,
  type ChannelSecrets,
} from './keys.js';
import { Shachain } from './shachain.js';
import { acceptableFeerateRange, feerateUpdateTarget, MIN_FEERATE_PER_KW } from './feerate.js';
import { dustBufferFeerateSatPerKw, dustExposureMsat, maxDustHtlcExposureMsat } from './dust-exposure.js';
import {
  buildClosingTx,
  buildCommitmentTx,
  buildHtlcTx,
  closingTxWeight,
  commitmentFeeMsat,
  commitmentFeeSat,
  commitmentObscuringFactor,
  computeTxid,
  fundingScript,
  isHtlcTrimmed,
  p2wsh,
  remoteHtlcSighashType,
  setFundingWitness,
  signInput,
  verifyInputSignature,
  ANCHOR_OUTPUT_SAT,
  type CommitmentHtlc,
  type CommitmentKeys,
  type CommitmentTx,
} from './transactions.js';

/**
 * One channel's BOLT 2 state machine (Electrum's lnchannel): a deterministic object that takes
 * wire messages in, returns the messages to send, and commits every state change through
 * `ChannelPersistence.saveChannel` (one SQLite transaction) BEFORE returning those messages.
 * A handler that throws leaves the channel exactly as it was (its changes are rolled back);
 * the caller then decides to warn or fail the channel (`failChannel`).
 *
 * Channel types: option_static_remotekey (BOLT 3 Appendix C transactions) and option_anchors
 * (option_anchors_zero_fee_htlc_tx, Appendix F), chosen by the funder's channel_type.
 */

/** Channel states as Electrum shows them in list_channels. */
export type ChannelStateName =
  | 'PREOPENING'
  | 'OPENING'
  | 'FUNDED'
  | 'OPEN'
  | 'SHUTDOWN'
  | 'CLOSING'
  | 'FORCE_CLOSING'
  | 'CLOSED'
  | 'REDEEMED';

/** The parameters one side announces in open_channel / accept_channel (BOLT 2). */
export interface ChannelConfig {
  dustLimitSat: number;
  /** Cap on the value of HTLCs the OTHER side may offer to the announcing side. */
  maxHtlcValueInFlightMsat: bigint;
  /** Reserve the OTHER side must keep in its balance (channel_reserve_satoshis). */
  channelReserveSat: number;
  /** Smallest HTLC the announcing side accepts. */
  htlcMinimumMsat: bigint;
  /** Delay the OTHER side's to_local outputs must wait (to_self_delay). */
  toSelfDelay: number;
  /** Most HTLCs the OTHER side may offer to the announcing side at once. */
  maxAcceptedHtlcs: number;
}

/** Limits Fulmen applies to what a peer proposes (BOLT 2 "receiving node MUST fail ... if"). */
export const CHANNEL_LIMITS = {
  maxToSelfDelay: 2016,
  maxAcceptedHtlcs: 483,
  minDustLimitSat: 354,
  maxDustLimitSat: 5000,
  minFeeratePerKw: 253,
  maxMinimumDepth: 144,
  maxFundingSat: 2 ** 24 - 1,
  maxCltvExpiry: 500_000_000,
} as const;

/** Fulmen's defaults for its own side of a channel of `fundingSat`. */
export function defaultLocalConfig(fundingSat: number): ChannelConfig {
  return {
    dustLimitSat: 546,
    maxHtlcValueInFlightMsat: BigInt(fundingSat) * 1000n,
    channelReserveSat: Math.max(Math.floor(fundingSat / 100), 546),
    htlcMinimumMsat: 1n,
    toSelfDelay: 144,
    // BOLT 2's maximum: a busy channel batches hundreds of HTLCs per commitment_signed (the
    // funder still has to afford the fee of every HTLC output: checkProposal).
    maxAcceptedHtlcs: 483,
  };
}

/** channel_type for option_static_remotekey (bit 12). */
export const STATIC_REMOTEKEY_CHANNEL_TYPE = FeatureBits.fromBits([12]);
/** channel_type for option_anchors with option_static_remotekey (bits 22 and 12, BOLT 2 "Defined Channel Types"). */
export const ANCHORS_CHANNEL_TYPE = FeatureBits.fromBits([12, 22]);

/** The channel types Fulmen opens and accepts (no scid_alias / zeroconf variations). */
export type ChannelTypeName = 'static_remotekey' | 'anchors';

/** channel_type bits of a channel type. */
export function channelTypeBits(type: ChannelTypeName): FeatureBits {
  return type === 'anchors' ? ANCHORS_CHANNEL_TYPE : STATIC_REMOTEKEY_CHANNEL_TYPE;
}

/** The channel type a `channel_type` TLV names, or null when Fulmen does not support it. */
export function channelTypeFromBytes(bytes: Uint8Array): ChannelTypeName | null {
  const bits = FeatureBits.fromBytes(bytes);
  if (bits.equals(ANCHORS_CHANNEL_TYPE)) return 'anchors';
  if (bits.equals(STATIC_REMOTEKEY_CHANNEL_TYPE)) return 'static_remotekey';
  return null;
}

/** channel_type variation bits (BOLT 2 "Defined Channel Types": each basic type may add them). */
const SCID_ALIAS_TYPE_BIT = 46;
const ZEROCONF_TYPE_BIT = 50;
/** HTLCs a channel may carry and still count as quiet (nextCommitmentOnlySettles): a payment being settled and the next one. */
const QUIET_CHANNEL_HTLCS = 2;

/** `channel_type` TLV bytes of a basic type plus the option_scid_alias / option_zeroconf variations. */
export function channelTypeBytes(type: ChannelTypeName, variations: { scidAlias: boolean; zeroconf: boolean } = { scidAlias: false, zeroconf: false }): Uint8Array {
  const bits = [...channelTypeBits(type).bits()];
  if (variations.scidAlias) bits.push(SCID_ALIAS_TYPE_BIT);
  if (variations.zeroconf) bits.push(ZEROCONF_TYPE_BIT);
  return FeatureBits.fromBits(bits).toBytes();
}

/**
 * A `channel_type` TLV as a basic type (channelTypeFromBytes) plus the option_scid_alias and
 * option_zeroconf variations, or null when the basic type is not supported.
 */
export function parseChannelType(bytes: Uint8Array): { type: ChannelTypeName; scidAlias: boolean; zeroconf: boolean } | null {
  const bits = FeatureBits.fromBytes(bytes);
  const basic = FeatureBits.fromBits(bits.bits().filter((b) => b !== SCID_ALIAS_TYPE_BIT && b !== ZEROCONF_TYPE_BIT));
  const type = channelTypeFromBytes(basic.toBytes());
  return type ? { type, scidAlias: bits.hasBit(SCID_ALIAS_TYPE_BIT), zeroconf: bits.hasBit(ZEROCONF_TYPE_BIT) } : null;
}

/**
 * Where channels commit their state (channel/store.ts ChannelStore over SQLite, synchronous=FULL).
 * DESIGN safety rule: a change is durable before any message that depends on it is sent.
 */
export interface ChannelPersistence {
  /**
   * `channel` changed. The store writes `channel.record()` and appends `channel.takeSettledHtlcs()`
   * in one transaction, either at once or, inside a commit group (ChannelStore.beginGroup), at
   * the group's commit, which the caller performs before it sends the group's messages.
   * @throws on a storage failure.
   */
  channelChanged(channel: PersistableChannel): void;
  /** Settled HTLCs taken out of the channel's live log, oldest first (append-only archive). */
  settledHtlcs(keyIndex: number): HtlcRecord[];
}

/** What a ChannelPersistence needs from a channel. */
export interface PersistableChannel {
  readonly keyIndex: number;
  /** The row to store; `data` holds the live state only (settled HTLCs are archived apart). */
  record(): PersistedChannel;
  /** Settled HTLCs not yet handed to the store (each is returned once). */
  takeSettledHtlcs(): HtlcRecord[];
}

/** The row the store keeps per channel. `data` is the JSON state (sealed by the store if a key is set). */
export interface PersistedChannel {
  keyIndex: number;
  channelId: string;
  remoteNodeId: string;
  state: ChannelStateName;
  isFunder: boolean;
  fundingTxid: string | null;
  fundingOutputIndex: number | null;
  shortChannelId: bigint | null;
  data: string;
}

interface ClosingState {
  feerateSatPerKw: number;
  lastSentFee: number | null;
  ourRange: { min: number; max: number } | null;
  closingTxHex: string | null;
}

/**
 * Everything that defines a channel; JSON-serializable (bigint via the codec below). Nested
 * objects are replaced, never changed in place (Channel.transact keeps a shallow copy to roll back).
 */
export interface ChannelData {
  version: 1;
  channelId: string;
  temporaryChannelId: string;
  remoteNodeId: string;
  state: ChannelStateName;
  isFunder: boolean;
  keyIndex: number;
  /** How our secrets derive from the seed (keys.ts); absent: legacy derivation from keyIndex. */
  keyDerivation?: ChannelKeyDerivation;
  chainHash: string;
  fundingSat: number;
  pushMsat: bigint;
  fundingTxid: string | null;
  fundingOutputIndex: number | null;
  shortChannelId: bigint | null;
  /** Depth the funding tx needs before we send channel_ready. */
  minimumDepth: number;
  /** Negotiated channel_type (BOLT 2); absent in channels stored before anchors: static_remotekey. */
  channelType?: ChannelTypeName;
  /** channel_type variations (BOLT 2): option_scid_alias, option_zeroconf. Absent: neither. */
  channelTypeVariations?: { scidAlias: boolean; zeroconf: boolean };
  localConfig: ChannelConfig;
  remoteConfig: ChannelConfig | null;
  remoteBasepoints: Record<keyof ChannelBasepoints, string> | null;
  /** Oldest unrevoked = latest local commitment number (we revoke as soon as we receive a new one). */
  localCtn: number;
  /** Oldest unrevoked remote commitment number. */
  remoteCtn: number;
  /** We sent commitment_signed for remoteCtn + 1 and wait for its revoke_and_ack. */
  remoteCommitPending: boolean;
  remoteCurrentPoint: string | null;
  remoteNextPoint: string | null;
  remoteSecrets: string;
  /** The remote's signatures on our current local commitment (to force close). */
  localCommitSig: { signature: string; htlcSignatures: string[] } | null;
  log: HtlcLogState;
  msgCounter: number;
  lastCommitSentAt: number;
  lastRevokeSentAt: number;
  channelReadySent: boolean;
  channelReadyReceived: boolean;
  remoteAlias: bigint | null;
  localAlias: bigint;
  localShutdownScript: string | null;
  remoteShutdownScript: string | null;
  /**
   * option_upfront_shutdown_script, when both peers advertised it at opening (BOLT 2): the
   * scripts (hex) each side committed to in open_channel/accept_channel, '' for none. Absent:
   * not negotiated (channels opened before Fulmen supported it, or a peer without the feature).
   */
  upfrontShutdown?: { local: string; remote: string };
  /** The peer's latest channel_update for its direction of this channel (BOLT 7), once received. */
  remoteUpdate?: RemoteChannelPolicy;
  closing: ClosingState | null;
  /** Fully signed transaction we broadcast to close (mutual or force), if any. */
  closingTxHex: string | null;
  /** Peer proved (channel_reestablish) that we lost state: never broadcast our commitment. */
  weAreBehind: boolean;
  createdAt: number;
}

const ZERO32 = new Uint8Array(32);

/** JSON that keeps bigints (as `{ "$bigint": "<decimal>" }`): the stored form of channel state. */
export function encodeStateJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? { $bigint: v.toString() } : v));
}

/** Inverse of encodeStateJson. @throws SyntaxError on malformed JSON. */
export function decodeStateJson<T>(text: string): T {
  return JSON.parse(text, (_k, v) =>
    v && typeof v === 'object' && typeof (v as { $bigint?: unknown }).$bigint === 'string' ? BigInt((v as { $bigint: string }).$bigint) : v,
  ) as T;
}

export function encodeChannelData(d: ChannelData): string {
  return encodeStateJson(d);
}

export function decodeChannelData(text: string): ChannelData {
  return decodeStateJson<ChannelData>(text);
}

/**
 * What the funder's initial balance must cover besides HTLCs, in sat: the base commitment fee
 * with no HTLC, plus the two 330-sat anchors with option_anchors (BOLT 3 "Fee Payment").
 */
function funderCommitmentCostSat(feeratePerKw: number, anchors: boolean): number {
  return commitmentFeeSat(feeratePerKw, 0, anchors) + (anchors ? 2 * ANCHOR_OUTPUT_SAT : 0);
}

/**
 * The feerates we accept from the funder (feerate.ts acceptableFeerateRange). With option_anchors
 * the lower bound is the relay minimum (253 sat/kw) whatever our estimate: the commitment only has
 * to enter the mempool, our anchor bumps it by CPFP (BOLT 2 update_fee rationale).
 */
function commitmentFeerateRange(estimatePerKw: number | null, anchors: boolean): { min: number; max: number } {
  const range = acceptableFeerateRange(estimatePerKw);
  return anchors ? { min: MIN_FEERATE_PER_KW, max: range.max } : range;
}

function protocolError(message: string): FulmenError {
  return new FulmenError('PROTOCOL', message);
}

function stateError(message: string): FulmenError {
  return new FulmenError('CHANNEL_STATE', message);
}

/**
 * A violation for which BOLT 2 asks to "send a `warning` and close the connection" rather than
 * fail the channel (e.g. shutdown with a script other than the upfront one). Code PROTOCOL with
 * `details.disposition = 'warning'`: node.ts sends a warning and disconnects; the channel stays.
 */
export function protocolWarning(message: string): FulmenError {
  return new FulmenError('PROTOCOL', message, { disposition: 'warning' });
}

/** True for errors made by `protocolWarning` (warn and disconnect, do not fail the channel). */
export function isWarningDisposition(err: FulmenError): boolean {
  return err.code === 'PROTOCOL' && err.details?.disposition === 'warning';
}

/** BOLT 2: channel_id = funding_txid (wire byte order) XOR funding_output_index in the last 2 bytes. */
export function channelIdFromFunding(fundingTxidDisplay: string, outputIndex: number): Uint8Array {
  const id = hexToBytes(fundingTxidDisplay).reverse();
  id[30] ^= outputIndex >> 8;
  id[31] ^= outputIndex & 0xff;
  return id;
}

function eqBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/**
 * BOLT 2 shutdown `scriptpubkey` forms: P2WPKH, P2WSH, and, only if option_shutdown_anysegwit is
 * negotiated (`anysegwit`, default true for our own scripts), witness v1..16 with a 2..40 byte
 * program. (The OP_RETURN form needs option_simple_close, which Fulmen does not negotiate.)
 */
export function isValidShutdownScript(script: Uint8Array, anysegwit = true): boolean {
  if (script.length === 22 && script[0] === 0x00 && script[1] === 0x14) return true;
  if (script.length === 34 && script[0] === 0x00 && script[1] === 0x20) return true;
  const op = script[0];
  if (anysegwit && op !== undefined && op >= 0x51 && op <= 0x60) {
    const len = script[1];
    return len !== undefined && len >= 2 && len <= 40 && script.length === len + 2;
  }
  return false;
}

export interface ChannelContext {
  lightningRootSecret: Uint8Array;
  persistence: ChannelPersistence;
  /**
   * Our current commitment feerate estimate, sat/kw, or null when none is known yet: bounds the
   * feerates we accept from the funder (feerate.ts acceptableFeerateRange). Absent: null.
   */
  feerateEstimatePerKw?: () => number | null;
}

/**
 * The forwarding policy the peer announced for its direction of the channel in its (verified)
 * channel_update (BOLT 7): what a route hint through the peer to us must use.
 */
export interface RemoteChannelPolicy {
  /** channel_update timestamp, unix seconds. */
  timestamp: number;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  cltvExpiryDelta: number;
  htlcMinimumMsat: bigint;
  htlcMaximumMsat: bigint;
  /** channel_flags `disable` bit. */
  disabled: boolean;
}

/** Features negotiated in `init` that change how a channel validates messages (per connection). */
export interface NegotiatedFeatures {
  /** option_shutdown_anysegwit: both advertised it (BOLT 9 bit 26/27). */
  anysegwit: boolean;
}

export interface OutboundParams {
  keyIndex: number;
  remoteNodeId: string;
  chainHash: Uint8Array;
  fundingSat: number;
  pushMsat: bigint;
  feeratePerKw: number;
  localConfig?: ChannelConfig;
  /** Announce the channel (channel_flags bit 0). Fulmen opens private channels. */
  announce?: boolean;
  /** channel_type to propose (default static_remotekey); 'anchors' only when the peer advertised option_anchors. */
  channelType?: ChannelTypeName;
  /**
   * Propose the option_scid_alias variation (BOLT 2): only aliases name the channel, never its
   * real short_channel_id. Only for unannounced channels, when both peers advertised option_scid_alias.
   */
  scidAlias?: boolean;
  /**
   * Propose the option_zeroconf variation (with option_scid_alias, which it needs): the channel is
   * used before its funding confirms (BOLT 2 minimum_depth 0). Only when both peers advertised
   * option_zeroconf; the fundee must trust us.
   */
  zeroconf?: boolean;
  /**
   * nLockTime the funding transaction will have: when given, the channel keys are recoverable
   * from the seed (keys.ts ChannelKeyDerivation 'opened'); the funding tx MUST use it.
   */
  fundingLocktime?: number;
  /**
   * Given when both peers advertised option_upfront_shutdown_script: the script we commit to be
   * paid to on a mutual close (empty: negotiated, but no commitment). BOLT 2 open_channel TLV 0.
   */
  upfrontShutdownScript?: Uint8Array;
  /** Features negotiated with the peer; default none (strictest validation). */
  features?: NegotiatedFeatures;
}

export interface InboundParams {
  keyIndex: number;
  remoteNodeId: string;
  chainHash: Uint8Array;
  minimumDepth: number;
  localConfig?: ChannelConfig;
  /** Derive the channel keys from the remote funding pubkey (keys.ts ChannelKeyDerivation 'accepted'). */
  recoverableKeys?: boolean;
  /** As OutboundParams.upfrontShutdownScript (accept_channel TLV 0). */
  upfrontShutdownScript?: Uint8Array;
  /**
   * We trust this peer to open an unconfirmed channel: a channel_type with option_zeroconf is
   * accepted (minimum_depth 0), otherwise refused (BOLT 2). Default false.
   */
  trustZeroconf?: boolean;
  /** Features negotiated with the peer; default none (strictest validation). */
  features?: NegotiatedFeatures;
}

/** An HTLC event the node acts on. */
export interface ResolvedOutgoingHtlc {
  htlcId: bigint;
  paymentHash: string;
  amountMsat: bigint;
  outcome: { kind: 'fulfilled'; preimage: string } | { kind: 'failed'; reason: string } | { kind: 'malformed'; failureCode: number; sha256OfOnion: string };
}

export class Channel implements PersistableChannel {
  private data: ChannelData;
  private log: HtlcLog;
  private readonly secrets: ChannelSecrets;
  private readonly basepoints: ChannelBasepoints;
  /** Settled HTLCs taken out of `log` and not yet written to the store's archive. */
  private settledToArchive: HtlcRecord[] = [];
  /**
   * Set by `onDisconnected` (a restart is one too: node.ts start), cleared by the peer's
   * channel_reestablish. Not stored: it describes the connection, not the channel.
   */
  private awaitingReestablish = false;
  /** init features of the current connection that affect validation (node.ts sets them on connect). */
  private features: NegotiatedFeatures = { anysegwit: false };
  /**
   * Our per-commitment secrets and points by ctn (each costs up to 48 SHA256 + a point
   * multiplication); the secret is revealed two rounds after its point was sent.
   */
  private readonly localPointCache = new Map<number, { secret: Uint8Array; point: Uint8Array }>();
  /** Commitment keys by owner + per-commitment point hex (commitmentKeys; the few newest are kept). */
  private readonly keysCache = new Map<string, CommitmentKeys>();
  /** Byte forms of fixed channel parameters, computed once they are known. */
  private fixed: { channelId: string; remoteBasepoints: ChannelBasepoints; fundingWitnessScript: Uint8Array; obscuringFactor: bigint } | null = null;

  private constructor(
    data: ChannelData,
    private readonly ctx: ChannelContext,
  ) {
    this.data = data;
    this.log = new HtlcLog(data.log);
    this.secrets = channelSecretsFor(ctx.lightningRootSecret, data);
    this.basepoints = basepointsOf(this.secrets);
  }

  // ---------------------------------------------------------------- creation and loading

  /** Re-creates a channel from its stored state. */
  static load(data: ChannelData, ctx: ChannelContext): Channel {
    return new Channel(data, ctx);
  }

  /**
   * Funder side: a new channel and its `open_channel` (BOLT 2) with channel_type `p.channelType`.
   * Persisted as PREOPENING.
   */
  static openOutbound(p: OutboundParams, ctx: ChannelContext): { channel: Channel; message: OpenChannelMessage } {
    if (!Number.isInteger(p.fundingSat) || p.fundingSat <= 0 || p.fundingSat > CHANNEL_LIMITS.maxFundingSat) {
      throw new FulmenError('BAD_INPUT', `Channel size must be between 1 and ${CHANNEL_LIMITS.maxFundingSat} sat`);
    }
    if (p.pushMsat < 0n || p.pushMsat > BigInt(p.fundingSat) * 1000n) throw new FulmenError('BAD_INPUT', 'push amount exceeds the channel size');
    const localConfig = p.localConfig ?? defaultLocalConfig(p.fundingSat);
    const temporaryChannelId = randomBytes(32);
    const data = Channel.initialData({
      temporaryChannelId: bytesToHex(temporaryChannelId),
      remoteNodeId: p.remoteNodeId,
      isFunder: true,
      keyIndex: p.keyIndex,
      chainHash: bytesToHex(p.chainHash),
      fundingSat: p.fundingSat,
      pushMsat: p.pushMsat,
      feeratePerKw: p.feeratePerKw,
      minimumDepth: 0,
      localConfig,
    });
    if (p.fundingLocktime !== undefined) data.keyDerivation = { scheme: 'opened', remoteNodeId: p.remoteNodeId, fundingLocktime: p.fundingLocktime };
    const channelType = p.channelType ?? 'static_remotekey';
    data.channelType = channelType;
    if (p.scidAlias || p.zeroconf) {
      if (p.announce) throw new FulmenError('BAD_INPUT', 'option_scid_alias is only for unannounced channels (BOLT 2)');
      data.channelTypeVariations = { scidAlias: true, zeroconf: p.zeroconf ?? false };
    }
    if (p.upfrontShutdownScript !== undefined) {
      if (p.upfrontShutdownScript.length > 0 && !isValidShutdownScript(p.upfrontShutdownScript, p.features?.anysegwit ?? false)) throw new FulmenError('BAD_INPUT', 'Unsupported upfront shutdown script');
      data.upfrontShutdown = { local: bytesToHex(p.upfrontShutdownScript), remote: '' };
    }
    const channel = new Channel(data, ctx);
    if (p.features) channel.features = p.features;
    const toFunderSat = p.fundingSat - Number(p.pushMsat / 1000n);
    if (toFunderSat - funderCommitmentCostSat(p.feeratePerKw, channelType === 'anchors') < localConfig.channelReserveSat) {
      throw new FulmenError('INSUFFICIENT_FUNDS', 'Channel too small to pay the commitment fee and reserve');
    }
    const bp = channel.basepoints;
    const message: OpenChannelMessage = {
      type: 'open_channel',
      chainHash: p.chainHash,
      temporaryChannelId,
      fundingSatoshis: p.fundingSat,
      pushMsat: p.pushMsat,
      dustLimitSatoshis: localConfig.dustLimitSat,
      maxHtlcValueInFlightMsat: localConfig.maxHtlcValueInFlightMsat,
      channelReserveSatoshis: localConfig.channelReserveSat,
      htlcMinimumMsat: localConfig.htlcMinimumMsat,
      feeratePerKw: p.feeratePerKw,
      toSelfDelay: localConfig.toSelfDelay,
      maxAcceptedHtlcs: localConfig.maxAcceptedHtlcs,
      fundingPubkey: bp.fundingPubkey,
      revocationBasepoint: bp.revocationBasepoint,
      paymentBasepoint: bp.paymentBasepoint,
      delayedPaymentBasepoint: bp.delayedPaymentBasepoint,
      htlcBasepoint: bp.htlcBasepoint,
      firstPerCommitmentPoint: perCommitmentPoint(channel.secrets.perCommitmentSeed, 0n),
      channelFlags: p.announce ? 1 : 0,
      upfrontShutdownScript: p.upfrontShutdownScript ?? new Uint8Array(0),
      channelType: channel.channelTypeTlv(),
    };
    channel.persist();
    return { channel, message };
  }

  /**
   * Fundee side: checks an `open_channel` against BOLT 2's receiving requirements and returns
   * the channel with its `accept_channel`. @throws FulmenError PROTOCOL when the peer's
   * parameters are unacceptable (the caller answers with an error for the temporary id).
   */
  static acceptInbound(open: OpenChannelMessage, p: InboundParams, ctx: ChannelContext): { channel: Channel; message: AcceptChannelMessage } {
    if (!eqBytes(open.chainHash, p.chainHash)) throw protocolError('open_channel is for another chain');
    if (open.fundingSatoshis > CHANNEL_LIMITS.maxFundingSat) throw protocolError('funding_satoshis too large (option_support_large_channel not supported)');
    if (open.pushMsat > BigInt(open.fundingSatoshis) * 1000n) throw protocolError('push_msat exceeds funding');
    if (!open.channelType) throw protocolError('open_channel without channel_type');
    const parsedType = parseChannelType(open.channelType);
    if (!parsedType) throw protocolError('Unsupported channel_type');
    const channelType = parsedType.type;
    // BOLT 2: the sender MUST NOT set option_scid_alias with announce_channel; we MUST fail a
    // zero-conf channel from a peer we do not trust to open an unconfirmed channel.
    if (parsedType.scidAlias && (open.channelFlags & 1) !== 0) throw protocolError('Unsupported channel_type: option_scid_alias on an announced channel');
    if (parsedType.zeroconf && !p.trustZeroconf) throw protocolError('Unsupported channel_type: option_zeroconf from a peer we do not trust');
    const minimumDepth = parsedType.zeroconf ? 0 : p.minimumDepth;
    const remoteConfig: ChannelConfig = {
      dustLimitSat: open.dustLimitSatoshis,
      maxHtlcValueInFlightMsat: open.maxHtlcValueInFlightMsat,
      channelReserveSat: open.channelReserveSatoshis,
      htlcMinimumMsat: open.htlcMinimumMsat,
      toSelfDelay: open.toSelfDelay,
      maxAcceptedHtlcs: open.maxAcceptedHtlcs,
    };
    Channel.checkRemoteConfig(remoteConfig);
    const feerates = commitmentFeerateRange(ctx.feerateEstimatePerKw?.() ?? null, channelType === 'anchors');
    if (open.feeratePerKw < feerates.min || open.feeratePerKw > feerates.max) {
      throw protocolError(`Unacceptable feerate_per_kw ${open.feeratePerKw} (accepted: ${feerates.min}..${feerates.max})`);
    }
    const remoteUpfront = p.upfrontShutdownScript !== undefined ? Channel.checkUpfrontScript(open.upfrontShutdownScript, p.features) : null;
    Channel.checkPoints([open.fundingPubkey, open.revocationBasepoint, open.paymentBasepoint, open.delayedPaymentBasepoint, open.htlcBasepoint, open.firstPerCommitmentPoint]);
    const localConfig = p.localConfig ?? defaultLocalConfig(open.fundingSatoshis);
    if (localConfig.channelReserveSat < remoteConfig.dustLimitSat) localConfig.channelReserveSat = remoteConfig.dustLimitSat;
    if (remoteConfig.channelReserveSat < localConfig.dustLimitSat) throw protocolError('channel_reserve_satoshis below our dust limit');
    const toFunderSat = open.fundingSatoshis - Number(open.pushMsat / 1000n);
    const fee = funderCommitmentCostSat(open.feeratePerKw, channelType === 'anchors');
    if (toFunderSat < fee) throw protocolError('Funder cannot pay the initial commitment fee');
    if (toFunderSat - fee <= localConfig.channelReserveSat && Number(open.pushMsat / 1000n) <= remoteConfig.channelReserveSat) {
      throw protocolError('Both initial balances are at or below the channel reserve');
    }
    const data = Channel.initialData({
      temporaryChannelId: bytesToHex(open.temporaryChannelId),
      remoteNodeId: p.remoteNodeId,
      isFunder: false,
      keyIndex: p.keyIndex,
      chainHash: bytesToHex(open.chainHash),
      fundingSat: open.fundingSatoshis,
      pushMsat: open.pushMsat,
      feeratePerKw: open.feeratePerKw,
      minimumDepth,
      localConfig,
    });
    data.channelType = channelType;
    if (parsedType.scidAlias || parsedType.zeroconf) data.channelTypeVariations = { scidAlias: parsedType.scidAlias, zeroconf: parsedType.zeroconf };
    data.remoteConfig = remoteConfig;
    data.remoteBasepoints = {
      fundingPubkey: bytesToHex(open.fundingPubkey),
      revocationBasepoint: bytesToHex(open.revocationBasepoint),
      paymentBasepoint: bytesToHex(open.paymentBasepoint),
      delayedPaymentBasepoint: bytesToHex(open.delayedPaymentBasepoint),
      htlcBasepoint: bytesToHex(open.htlcBasepoint),
    };
    data.remoteCurrentPoint = bytesToHex(open.firstPerCommitmentPoint);
    if (p.recoverableKeys) data.keyDerivation = { scheme: 'accepted', remoteNodeId: p.remoteNodeId, remoteFundingPubkey: bytesToHex(open.fundingPubkey) };
    if (p.upfrontShutdownScript !== undefined && remoteUpfront !== null) {
      if (p.upfrontShutdownScript.length > 0 && !isValidShutdownScript(p.upfrontShutdownScript, p.features?.anysegwit ?? false)) throw new FulmenError('BAD_INPUT', 'Unsupported upfront shutdown script');
      data.upfrontShutdown = { local: bytesToHex(p.upfrontShutdownScript), remote: remoteUpfront };
    }
    const channel = new Channel(data, ctx);
    if (p.features) channel.features = p.features;
    const bp = channel.basepoints;
    const message: AcceptChannelMessage = {
      type: 'accept_channel',
      temporaryChannelId: open.temporaryChannelId,
      dustLimitSatoshis: localConfig.dustLimitSat,
      maxHtlcValueInFlightMsat: localConfig.maxHtlcValueInFlightMsat,
      channelReserveSatoshis: localConfig.channelReserveSat,
      htlcMinimumMsat: localConfig.htlcMinimumMsat,
      minimumDepth,
      toSelfDelay: localConfig.toSelfDelay,
      maxAcceptedHtlcs: localConfig.maxAcceptedHtlcs,
      fundingPubkey: bp.fundingPubkey,
      revocationBasepoint: bp.revocationBasepoint,
      paymentBasepoint: bp.paymentBasepoint,
      delayedPaymentBasepoint: bp.delayedPaymentBasepoint,
      htlcBasepoint: bp.htlcBasepoint,
      firstPerCommitmentPoint: perCommitmentPoint(channel.secrets.perCommitmentSeed, 0n),
      upfrontShutdownScript: p.upfrontShutdownScript ?? new Uint8Array(0),
      channelType: open.channelType,
    };
    channel.persist();
    return { channel, message };
  }

  /**
   * The peer's upfront_shutdown_script (open_channel/accept_channel TLV 0) when the feature is
   * negotiated: '' when absent or empty, else its hex. BOLT 2: the sender MUST include it, with a
   * valid shutdown scriptpubkey or zero length. @throws PROTOCOL on a script of no valid form.
   */
  private static checkUpfrontScript(script: Uint8Array | undefined, features: NegotiatedFeatures | undefined): string {
    if (script === undefined || script.length === 0) return '';
    if (!isValidShutdownScript(script, features?.anysegwit ?? false)) throw protocolError('Invalid upfront_shutdown_script');
    return bytesToHex(script);
  }

  /**
   * The init features of the (new) connection to this channel's peer (node.ts, on connect).
   * Not stored: BOLT 9 features are negotiated per connection.
   */
  setNegotiatedFeatures(features: NegotiatedFeatures): void {
    this.features = features;
  }

  /** feerate_per_kw of our current (latest signed) commitment transaction. */
  get feeratePerKw(): number {
    return this.log.feerateIn('local', this.data.localCtn);
  }

  /** The peer's forwarding policy from its latest channel_update, or null before one arrived. */
  get remotePolicy(): RemoteChannelPolicy | null {
    return this.data.remoteUpdate ?? null;
  }

  /**
   * Stores the peer's channel_update policy (the caller verified the signature, chain and that
   * the short_channel_id names this channel). BOLT 7: an update not newer than the last one is
   * ignored. @returns whether it was stored.
   */
  onRemoteChannelUpdate(policy: RemoteChannelPolicy): boolean {
    const last = this.data.remoteUpdate;
    if (last && policy.timestamp <= last.timestamp) return false;
    this.transact(() => {
      this.data.remoteUpdate = policy;
    });
    return true;
  }

  /**
   * Where our mutual-close output must go: the upfront_shutdown_script we committed to at opening
   * (BOLT 2: "MUST send the same value in scriptpubkey"), or null when we are free to choose.
   */
  get upfrontShutdownScript(): Uint8Array | null {
    const local = this.data.upfrontShutdown?.local;
    return local ? hexToBytes(local) : null;
  }

  private static initialData(p: {
    temporaryChannelId: string;
    remoteNodeId: string;
    isFunder: boolean;
    keyIndex: number;
    chainHash: string;
    fundingSat: number;
    pushMsat: bigint;
    feeratePerKw: number;
    minimumDepth: number;
    localConfig: ChannelConfig;
  }): ChannelData {
    return {
      version: 1,
      channelId: p.temporaryChannelId,
      temporaryChannelId: p.temporaryChannelId,
      remoteNodeId: p.remoteNodeId,
      state: 'PREOPENING',
      isFunder: p.isFunder,
      keyIndex: p.keyIndex,
      chainHash: p.chainHash,
      fundingSat: p.fundingSat,
      pushMsat: p.pushMsat,
      fundingTxid: null,
      fundingOutputIndex: null,
      shortChannelId: null,
      minimumDepth: p.minimumDepth,
      localConfig: p.localConfig,
      remoteConfig: null,
      remoteBasepoints: null,
      localCtn: 0,
      remoteCtn: 0,
      remoteCommitPending: false,
      remoteCurrentPoint: null,
      remoteNextPoint: null,
      remoteSecrets: new Shachain().serialize(),
      localCommitSig: null,
      log: HtlcLog.create(p.feeratePerKw, p.isFunder ? 'local' : 'remote').state(),
      msgCounter: 0,
      lastCommitSentAt: 0,
      lastRevokeSentAt: 0,
      channelReadySent: false,
      channelReadyReceived: false,
      remoteAlias: null,
      localAlias: BigInt('0x' + bytesToHex(randomBytes(8))) & ((1n << 64n) - 1n),
      localShutdownScript: null,
      remoteShutdownScript: null,
      closing: null,
      closingTxHex: null,
      weAreBehind: false,
      createdAt: Math.floor(Date.now() / 1000),
    };
  }

  private static checkRemoteConfig(c: ChannelConfig): void {
    if (c.toSelfDelay > CHANNEL_LIMITS.maxToSelfDelay) throw protocolError(`to_self_delay ${c.toSelfDelay} is unreasonably large`);
    if (c.maxAcceptedHtlcs > CHANNEL_LIMITS.maxAcceptedHtlcs) throw protocolError('max_accepted_htlcs greater than 483');
    if (c.maxAcceptedHtlcs < 1) throw protocolError('max_accepted_htlcs is zero');
    if (c.dustLimitSat > c.channelReserveSat) throw protocolError('dust_limit_satoshis greater than channel_reserve_satoshis');
    if (c.dustLimitSat < CHANNEL_LIMITS.minDustLimitSat) throw protocolError('dust_limit_satoshis below 354');
    if (c.dustLimitSat > CHANNEL_LIMITS.maxDustLimitSat) throw protocolError('dust_limit_satoshis too large');
  }

  private static checkPoints(points: Uint8Array[]): void {
    for (const p of points) if (!isValidPoint(p)) throw protocolError('Invalid secp256k1 point');
  }

  // ---------------------------------------------------------------- accessors

  get channelId(): string {
    return this.data.channelId;
  }
  get temporaryChannelId(): string {
    return this.data.temporaryChannelId;
  }
  get state(): ChannelStateName {
    return this.data.state;
  }
  get remoteNodeId(): string {
    return this.data.remoteNodeId;
  }
  get isFunder(): boolean {
    return this.data.isFunder;
  }
  get keyIndex(): number {
    return this.data.keyIndex;
  }
  /** How the channel keys derive from the seed (undefined: legacy key-index derivation). */
  get keyDerivation(): ChannelKeyDerivation | undefined {
    return this.data.keyDerivation;
  }
  get fundingSat(): number {
    return this.data.fundingSat;
  }
  /** Negotiated channel_type (BOLT 2). */
  get channelType(): ChannelTypeName {
    return this.data.channelType ?? 'static_remotekey';
  }

  /** Our channel's full `channel_type` (basic type and variations), as open_channel/accept_channel carry it. */
  channelTypeTlv(): Uint8Array {
    return channelTypeBytes(this.channelType, this.data.channelTypeVariations);
  }

  /** channel_type has option_scid_alias: only aliases may name the channel in route hints (BOLT 2). */
  get scidAliasType(): boolean {
    return this.data.channelTypeVariations?.scidAlias ?? false;
  }
  /** channel_type has option_zeroconf: usable before the funding confirms (BOLT 2, minimum_depth 0). */
  get zeroconf(): boolean {
    return this.data.channelTypeVariations?.zeroconf ?? false;
  }
  /** option_anchors_zero_fee_htlc_tx applies to this channel's commitments. */
  get anchors(): boolean {
    return this.channelType === 'anchors';
  }
  get shortChannelId(): bigint | null {
    return this.data.shortChannelId;
  }
  get remoteAlias(): bigint | null {
    return this.data.remoteAlias;
  }
  get localAlias(): bigint {
    return this.data.localAlias;
  }
  get minimumDepth(): number {
    return this.data.minimumDepth;
  }
  get localConfig(): ChannelConfig {
    return this.data.localConfig;
  }
  get remoteConfig(): ChannelConfig | null {
    return this.data.remoteConfig;
  }
  get closingTxHex(): string | null {
    return this.data.closingTxHex;
  }
  get weAreBehind(): boolean {
    return this.data.weAreBehind;
  }
  get shutdownSent(): boolean {
    return this.data.localShutdownScript !== null;
  }
  get shutdownReceived(): boolean {
    return this.data.remoteShutdownScript !== null;
  }
  /** "txid:index" once the funding outpoint is known. */
  get channelPoint(): string | null {
    return this.data.fundingTxid === null ? null : `${this.data.fundingTxid}:${this.data.fundingOutputIndex}`;
  }
  get fundingTxid(): string | null {
    return this.data.fundingTxid;
  }
  get fundingOutputIndex(): number | null {
    return this.data.fundingOutputIndex;
  }
  get localCtn(): number {
    return this.data.localCtn;
  }
  get remoteCtn(): number {
    return this.data.remoteCtn;
  }
  /**
   * A copy of the full state with the complete HTLC history (archived settled HTLCs included, no
   * `settledMsat`), so any past commitment can be rebuilt: for the watcher, tests and diagnostics.
   * Contains no secrets we own. Cost O(channel history): not for hot paths.
   */
  snapshot(): ChannelData {
    const live = this.log.state();
    const settled = [...this.ctx.persistence.settledHtlcs(this.data.keyIndex), ...this.settledToArchive];
    const log: HtlcLogState = { htlcs: [...settled, ...live.htlcs], fees: live.fees, nextSeq: live.nextSeq };
    return decodeChannelData(encodeChannelData({ ...this.data, log }));
  }

  /** P2WSH funding output (BOLT 3) once both funding pubkeys are known. */
  fundingOutput(): { scriptPubKey: Uint8Array; witnessScript: Uint8Array; amountSat: number } {
    const witnessScript = this.fundingWitnessScript();
    return { scriptPubKey: p2wsh(witnessScript), witnessScript, amountSat: this.data.fundingSat };
  }

  private fundingWitnessScript(): Uint8Array {
    return this.fixedParams().fundingWitnessScript;
  }

  private remoteBp(name: keyof ChannelBasepoints): Uint8Array {
    return this.fixedParams().remoteBasepoints[name];
  }

  /** Remote basepoints, funding script and obscuring factor as bytes, cached once known (they never change). */
  private fixedParams(): NonNullable<Channel['fixed']> {
    const rb = this.data.remoteBasepoints;
    if (!rb) throw stateError('Remote channel parameters are not known yet');
    if (this.fixed && this.fixed.channelId === this.data.channelId) return this.fixed;
    const remoteBasepoints: ChannelBasepoints = {
      fundingPubkey: hexToBytes(rb.fundingPubkey),
      revocationBasepoint: hexToBytes(rb.revocationBasepoint),
      paymentBasepoint: hexToBytes(rb.paymentBasepoint),
      delayedPaymentBasepoint: hexToBytes(rb.delayedPaymentBasepoint),
      htlcBasepoint: hexToBytes(rb.htlcBasepoint),
    };
    const mine = this.basepoints.paymentBasepoint;
    const theirs = remoteBasepoints.paymentBasepoint;
    this.fixed = {
      channelId: this.data.channelId,
      remoteBasepoints,
      fundingWitnessScript: fundingScript(this.basepoints.fundingPubkey, remoteBasepoints.fundingPubkey),
      obscuringFactor: this.data.isFunder ? commitmentObscuringFactor(mine, theirs) : commitmentObscuringFactor(theirs, mine),
    };
    return this.fixed;
  }

  private remoteCfg(): ChannelConfig {
    if (!this.data.remoteConfig) throw stateError('Remote channel parameters are not known yet');
    return this.data.remoteConfig;
  }

  private initialBalances(): { local: bigint; remote: bigint } {
    const total = BigInt(this.data.fundingSat) * 1000n;
    const toFundee = this.data.pushMsat;
    return this.data.isFunder ? { local: total - toFundee, remote: toFundee } : { local: toFundee, remote: total - toFundee };
  }

  private latestRemoteCtn(): number {
    return this.data.remoteCtn + (this.data.remoteCommitPending ? 1 : 0);
  }

  private nextCtn(owner: Side): number {
    return owner === 'local' ? this.data.localCtn + 1 : this.latestRemoteCtn() + 1;
  }

  private funderSide(): Side {
    return this.data.isFunder ? 'local' : 'remote';
  }

  /** Reserve that `side` must keep: set by the other side's channel_reserve_satoshis. */
  private reserveOfSat(side: Side): number {
    return side === 'local' ? this.remoteCfg().channelReserveSat : this.data.localConfig.channelReserveSat;
  }

  private configOf(side: Side): ChannelConfig {
    return side === 'local' ? this.data.localConfig : this.remoteCfg();
  }

  // ---------------------------------------------------------------- persistence

  /**
   * Runs `fn`; on success hands the new state to the persistence (committed before any message
   * that depends on it leaves: ChannelPersistence), on any throw restores the previous state.
   * The rollback point is a shallow copy of the fields and the HTLC log's undo journal
   * (HtlcLog.begin): O(changes), not O(HTLCs in flight) nor O(history). Shallow is enough because
   * ChannelData's nested objects (configs, closing, localCommitSig, ...) are only ever replaced,
   * never changed in place: keep it that way (a deep copy here cost ~70 µs per update).
   */
  private transact<T>(fn: () => T): T {
    const { log: _staleLog, ...fields } = this.data;
    const log = this.log;
    const before = { fields, logMark: log.begin(), archived: this.settledToArchive.length };
    try {
      const result = fn();
      this.persist();
      log.commit();
      return result;
    } catch (err) {
      this.data = { ...before.fields, log: this.data.log };
      this.log = log;
      log.rollback(before.logMark);
      this.settledToArchive.length = before.archived;
      throw err;
    }
  }

  private persist(): void {
    this.ctx.persistence.channelChanged(this);
  }

  /** The stored row (PersistableChannel): the live state, JSON with bigints kept. */
  record(): PersistedChannel {
    this.data.log = this.log.state();
    return {
      keyIndex: this.data.keyIndex,
      channelId: this.data.channelId,
      remoteNodeId: this.data.remoteNodeId,
      state: this.data.state,
      isFunder: this.data.isFunder,
      fundingTxid: this.data.fundingTxid,
      fundingOutputIndex: this.data.fundingOutputIndex,
      shortChannelId: this.data.shortChannelId,
      data: encodeChannelData(this.data),
    };
  }

  takeSettledHtlcs(): HtlcRecord[] {
    return this.settledToArchive.splice(0);
  }

  /** Moves settled HTLCs (optionally only those offered by `offeredBy`) out of the live log; forgets spent onions. */
  private archiveSettled(offeredBy?: Side): void {
    for (const h of this.log.takeSettled(this.data.localCtn, this.data.remoteCtn, offeredBy)) this.settledToArchive.push({ ...h, onion: '' });
    this.log.forgetSpentOnions(this.data.localCtn, this.data.remoteCtn);
  }

  // ---------------------------------------------------------------- commitments

  /**
   * BOLT 3 keys of `owner`'s commitment with per-commitment point `point` (five point operations),
   * cached by (owner, point): `prepareNextCommitments` derives the next ones while the peer is busy.
   */
  private commitmentKeys(owner: Side, point: Uint8Array): CommitmentKeys {
    const key = owner + bytesToHex(point);
    let keys = this.keysCache.get(key);
    if (!keys) {
      keys = this.deriveCommitmentKeys(owner, point);
      this.keysCache.set(key, keys);
      if (this.keysCache.size > 4) this.keysCache.delete(this.keysCache.keys().next().value!);
    }
    return keys;
  }

  /**
   * Derives, ahead of need, what the next commitments in each direction and our next
   * revoke_and_ack cost in point operations: the keys of our commitment localCtn+1 and of the
   * peer's remoteCtn+1 (when its point is known), our point for localCtn+2. Pure caching: the
   * results depend only on the points and basepoints. Called when the node is idle after a commit.
   */
  prepareNextCommitments(): void {
    if (this.data.state !== 'OPEN' || !this.data.remoteConfig) return;
    this.commitmentKeys('local', this.localPoint(this.data.localCtn + 1));
    this.localPoint(this.data.localCtn + 2);
    if (this.data.remoteNextPoint) this.commitmentKeys('remote', hexToBytes(this.data.remoteNextPoint));
  }

  private deriveCommitmentKeys(owner: Side, point: Uint8Array): CommitmentKeys {
    const mine = this.basepoints;
    if (owner === 'local') {
      const ourSecret = this.localSecretOfPoint(point);
      return {
        revocationPubkey: ourSecret
          ? deriveRevocationPubkeyKnowing(this.remoteBp('revocationBasepoint'), point, { perCommitmentSecret: ourSecret })
          : deriveRevocationPubkey(this.remoteBp('revocationBasepoint'), point),
        localDelayedPubkey: derivePubkey(mine.delayedPaymentBasepoint, point),
        localHtlcPubkey: derivePubkey(mine.htlcBasepoint, point),
        remoteHtlcPubkey: derivePubkey(this.remoteBp('htlcBasepoint'), point),
        remotePaymentPubkey: this.remoteBp('paymentBasepoint'),
        localFundingPubkey: mine.fundingPubkey,
        remoteFundingPubkey: this.remoteBp('fundingPubkey'),
      };
    }
    return {
      revocationPubkey: deriveRevocationPubkeyKnowing(mine.revocationBasepoint, point, { revocationBasepointSecret: this.secrets.revocationBasepointSecret }),
      localDelayedPubkey: derivePubkey(this.remoteBp('delayedPaymentBasepoint'), point),
      localHtlcPubkey: derivePubkey(this.remoteBp('htlcBasepoint'), point),
      remoteHtlcPubkey: derivePubkey(mine.htlcBasepoint, point),
      remotePaymentPubkey: mine.paymentBasepoint,
      localFundingPubkey: this.remoteBp('fundingPubkey'),
      remoteFundingPubkey: mine.fundingPubkey,
    };
  }

  private obscuringFactor(): bigint {
    return this.fixedParams().obscuringFactor;
  }

  /** Our per-commitment secret and point for `ctn`, cached (only the few newest are kept). */
  private localCommitmentSecret(ctn: number): { secret: Uint8Array; point: Uint8Array } {
    let entry = this.localPointCache.get(ctn);
    if (!entry) {
      const secret = perCommitmentSecret(this.secrets.perCommitmentSeed, BigInt(ctn));
      entry = { secret, point: pubkeyFromSecret(secret) };
      this.localPointCache.set(ctn, entry);
      if (this.localPointCache.size > 8) this.localPointCache.delete(this.localPointCache.keys().next().value!);
    }
    return entry;
  }

  /** Our per-commitment secret whose point is `point`, if it is among the cached ones (localCommitmentSecret). */
  private localSecretOfPoint(point: Uint8Array): Uint8Array | undefined {
    for (const entry of this.localPointCache.values()) if (bytesEqual(entry.point, point)) return entry.secret;
    return undefined;
  }

  /** Our per-commitment point for `ctn` (cached: localCommitmentSecret). */
  private localPoint(ctn: number): Uint8Array {
    return this.localCommitmentSecret(ctn).point;
  }

  /** Per-commitment point of `owner`'s commitment `ctn`. */
  private pointFor(owner: Side, ctn: number): Uint8Array {
    if (owner === 'local') return this.localPoint(ctn);
    if (ctn === this.data.remoteCtn && this.data.remoteCurrentPoint) return hexToBytes(this.data.remoteCurrentPoint);
    if (ctn === this.data.remoteCtn + 1 && this.data.remoteNextPoint) return hexToBytes(this.data.remoteNextPoint);
    throw stateError(`No per-commitment point for remote commitment ${ctn}`);
  }

  private toCommitmentHtlc(owner: Side, h: HtlcRecord): CommitmentHtlc {
    return {
      direction: h.offeredBy === owner ? 'offered' : 'received',
      htlcId: h.htlcId,
      amountMsat: h.amountMsat,
      paymentHash: hexToBytes(h.paymentHash),
      cltvExpiry: h.cltvExpiry,
    };
  }

  /** Builds `owner`'s commitment transaction number `ctn` from the HTLC log (BOLT 3). */
  private buildCommitment(owner: Side, ctn: number): { commitment: CommitmentTx; keys: CommitmentKeys; point: Uint8Array; feerate: number } {
    if (this.data.fundingTxid === null || this.data.fundingOutputIndex === null) throw stateError('Funding outpoint not known yet');
    const point = this.pointFor(owner, ctn);
    const keys = this.commitmentKeys(owner, point);
    const feerate = this.log.feerateIn(owner, ctn);
    const { htlcs, balances: bal } = this.log.commitmentIn(owner, ctn, this.initialBalances());
    const commitment = buildCommitmentTx({
      fundingTxid: this.data.fundingTxid,
      fundingOutputIndex: this.data.fundingOutputIndex,
      fundingSat: this.data.fundingSat,
      commitmentNumber: BigInt(ctn),
      obscuringFactor: this.obscuringFactor(),
      ownerIsFunder: owner === this.funderSide(),
      toLocalMsat: bal[owner],
      toRemoteMsat: bal[otherSide(owner)],
      feerateSatPerKw: feerate,
      dustLimitSat: this.configOf(owner).dustLimitSat,
      toSelfDelay: this.configOf(otherSide(owner)).toSelfDelay,
      keys,
      htlcs: htlcs.map((h) => this.toCommitmentHtlc(owner, h)),
      anchors: this.anchors,
    });
    return { commitment, keys, point, feerate };
  }

  /** Our signatures for the remote's commitment `ctn` (BOLT 2 commitment_signed). */
  private signRemoteCommitment(ctn: number): { signature: Uint8Array; htlcSignatures: Uint8Array[] } {
    const { commitment, keys, point, feerate } = this.buildCommitment('remote', ctn);
    const fundingWs = this.fundingWitnessScript();
    const signature = signInput(commitment.tx, 0, fundingWs, this.data.fundingSat, this.secrets.fundingPrivkey);
    const htlcPriv = derivePrivkey(this.secrets.htlcBasepointSecret, point, this.basepoints.htlcBasepoint);
    const txid = computeTxid(commitment.tx);
    const htlcSignatures = commitment.htlcOutputs.map((out) => {
      const htlcTx = buildHtlcTx(txid, out, feerate, this.data.localConfig.toSelfDelay, keys.revocationPubkey, keys.localDelayedPubkey, this.anchors);
      return signInput(htlcTx, 0, out.witnessScript, out.amountSat, htlcPriv, remoteHtlcSighashType(this.anchors));
    });
    return { signature, htlcSignatures };
  }

  /** Checks the remote's signatures on our commitment `ctn`. @throws PROTOCOL when one is wrong. */
  private verifyLocalCommitment(ctn: number, signature: Uint8Array, htlcSignatures: Uint8Array[]): void {
    const { commitment, keys, feerate } = this.buildCommitment('local', ctn);
    const ok = verifyInputSignature(commitment.tx, 0, this.fundingWitnessScript(), this.data.fundingSat, signature, this.remoteBp('fundingPubkey'));
    if (!ok) throw protocolError('Invalid commitment signature');
    if (htlcSignatures.length !== commitment.htlcOutputs.length) {
      throw protocolError(`Expected ${commitment.htlcOutputs.length} HTLC signatures, got ${htlcSignatures.length}`);
    }
    const txid = computeTxid(commitment.tx);
    commitment.htlcOutputs.forEach((out, i) => {
      const htlcTx = buildHtlcTx(txid, out, feerate, this.remoteCfg().toSelfDelay, keys.revocationPubkey, keys.localDelayedPubkey, this.anchors);
      const sighashType = remoteHtlcSighashType(this.anchors);
      if (!verifyInputSignature(htlcTx, 0, out.witnessScript, out.amountSat, htlcSignatures[i]!, keys.remoteHtlcPubkey, sighashType)) {
        throw protocolError(`Invalid HTLC signature ${i}`);
      }
    });
  }

  // ---------------------------------------------------------------- establishment

  /**
   * Funder: processes accept_channel (BOLT 2 receiver checks). Returns the funding output the
   * wallet must create. @throws PROTOCOL on unacceptable parameters.
   */
  onAcceptChannel(msg: AcceptChannelMessage): { scriptPubKey: Uint8Array; amountSat: number } {
    return this.transact(() => {
      if (this.data.state !== 'PREOPENING' || !this.data.isFunder || this.data.remoteConfig) throw protocolError('Unexpected accept_channel');
      if (bytesToHex(msg.temporaryChannelId) !== this.data.temporaryChannelId) throw protocolError('accept_channel for another channel');
      if (!msg.channelType || !FeatureBits.fromBytes(msg.channelType).equals(FeatureBits.fromBytes(this.channelTypeTlv()))) throw protocolError('channel_type does not match open_channel');
      if (msg.minimumDepth > CHANNEL_LIMITS.maxMinimumDepth) throw protocolError('minimum_depth is unreasonably large');
      const remoteConfig: ChannelConfig = {
        dustLimitSat: msg.dustLimitSatoshis,
        maxHtlcValueInFlightMsat: msg.maxHtlcValueInFlightMsat,
        channelReserveSat: msg.channelReserveSatoshis,
        htlcMinimumMsat: msg.htlcMinimumMsat,
        toSelfDelay: msg.toSelfDelay,
        maxAcceptedHtlcs: msg.maxAcceptedHtlcs,
      };
      Channel.checkRemoteConfig(remoteConfig);
      if (remoteConfig.channelReserveSat < this.data.localConfig.dustLimitSat) throw protocolError('channel_reserve_satoshis below our dust_limit_satoshis');
      if (this.data.localConfig.channelReserveSat < remoteConfig.dustLimitSat) throw protocolError('Our channel reserve is below their dust_limit_satoshis');
      if (this.data.upfrontShutdown) this.data.upfrontShutdown = { ...this.data.upfrontShutdown, remote: Channel.checkUpfrontScript(msg.upfrontShutdownScript, this.features) };
      Channel.checkPoints([msg.fundingPubkey, msg.revocationBasepoint, msg.paymentBasepoint, msg.delayedPaymentBasepoint, msg.htlcBasepoint, msg.firstPerCommitmentPoint]);
      this.data.remoteConfig = remoteConfig;
      this.data.remoteBasepoints = {
        fundingPubkey: bytesToHex(msg.fundingPubkey),
        revocationBasepoint: bytesToHex(msg.revocationBasepoint),
        paymentBasepoint: bytesToHex(msg.paymentBasepoint),
        delayedPaymentBasepoint: bytesToHex(msg.delayedPaymentBasepoint),
        htlcBasepoint: bytesToHex(msg.htlcBasepoint),
      };
      this.data.remoteCurrentPoint = bytesToHex(msg.firstPerCommitmentPoint);
      // Zero-conf: the fundee's minimum_depth (BOLT 2: 0) stands; otherwise at least one confirmation.
      this.data.minimumDepth = this.zeroconf ? msg.minimumDepth : Math.max(1, msg.minimumDepth);
      const out = this.fundingOutput();
      return { scriptPubKey: out.scriptPubKey, amountSat: out.amountSat };
    });
  }

  /**
   * Funder: the wallet built (not broadcast) the funding transaction; sign the remote's first
   * commitment and produce funding_created.
   */
  fundingCreated(fundingTxid: string, fundingOutputIndex: number): FundingCreatedMessage {
    return this.transact(() => {
      if (this.data.state !== 'PREOPENING' || !this.data.isFunder || !this.data.remoteConfig) throw stateError('Not waiting for a funding transaction');
      this.setFundingOutpoint(fundingTxid, fundingOutputIndex);
      const { signature } = this.signRemoteCommitment(0);
      return {
        type: 'funding_created',
        temporaryChannelId: hexToBytes(this.data.temporaryChannelId),
        fundingTxid: hexToBytes(fundingTxid).reverse(),
        fundingOutputIndex,
        signature,
      };
    });
  }

  private setFundingOutpoint(fundingTxid: string, fundingOutputIndex: number): void {
    this.data.fundingTxid = fundingTxid;
    this.data.fundingOutputIndex = fundingOutputIndex;
    this.data.channelId = bytesToHex(channelIdFromFunding(fundingTxid, fundingOutputIndex));
  }

  /** Fundee: verifies the funder's signature on our commitment #0 and signs theirs (funding_signed). */
  onFundingCreated(msg: FundingCreatedMessage): FundingSignedMessage {
    return this.transact(() => {
      if (this.data.state !== 'PREOPENING' || this.data.isFunder) throw protocolError('Unexpected funding_created');
      if (bytesToHex(msg.temporaryChannelId) !== this.data.temporaryChannelId) throw protocolError('funding_created for another channel');
      this.setFundingOutpoint(bytesToHex(Uint8Array.from(msg.fundingTxid).reverse()), msg.fundingOutputIndex);
      this.verifyLocalCommitment(0, msg.signature, []);
      this.data.localCommitSig = { signature: bytesToHex(msg.signature), htlcSignatures: [] };
      const { signature } = this.signRemoteCommitment(0);
      this.data.state = 'OPENING';
      return { type: 'funding_signed', channelId: hexToBytes(this.data.channelId), signature };
    });
  }

  /** Funder: verifies funding_signed. Afterwards (only) the funding transaction may be broadcast. */
  onFundingSigned(msg: FundingSignedMessage): void {
    this.transact(() => {
      if (this.data.state !== 'PREOPENING' || !this.data.isFunder || this.data.fundingTxid === null) throw protocolError('Unexpected funding_signed');
      if (bytesToHex(msg.channelId) !== this.data.channelId) throw protocolError('funding_signed for another channel');
      this.verifyLocalCommitment(0, msg.signature, []);
      this.data.localCommitSig = { signature: bytesToHex(msg.signature), htlcSignatures: [] };
      this.data.state = 'OPENING';
    });
  }

  /**
   * The funding transaction reached `minimumDepth` at `shortChannelId` (null when the chain
   * layer gave no tx position; the peer's alias is used then). The caller checked that the
   * outpoint pays exactly `fundingOutput()`. Returns channel_ready to send (once).
   */
  fundingLocked(shortChannelId: bigint | null): ChannelReadyMessage | null {
    return this.transact(() => {
      if (shortChannelId !== null) this.data.shortChannelId = shortChannelId;
      if (this.data.state !== 'OPENING' || this.data.channelReadySent) return null;
      this.data.channelReadySent = true;
      this.data.state = this.data.channelReadyReceived ? 'OPEN' : 'FUNDED';
      return this.channelReadyMessage();
    });
  }

  private channelReadyMessage(): ChannelReadyMessage {
    return {
      type: 'channel_ready',
      channelId: hexToBytes(this.data.channelId),
      secondPerCommitmentPoint: perCommitmentPoint(this.secrets.perCommitmentSeed, 1n),
      alias: this.data.localAlias,
    };
  }

  /** BOLT 2 channel_ready from the peer (redundant ones after reconnection are ignored). */
  onChannelReady(msg: ChannelReadyMessage): void {
    this.transact(() => {
      if (!['OPENING', 'FUNDED', 'OPEN'].includes(this.data.state)) throw protocolError('Unexpected channel_ready');
      if (!isValidPoint(msg.secondPerCommitmentPoint)) throw protocolError('Invalid second_per_commitment_point');
      if (msg.alias !== undefined) this.data.remoteAlias = msg.alias;
      if (this.data.channelReadyReceived) return;
      if (this.data.remoteCtn === 0 && !this.data.remoteNextPoint) this.data.remoteNextPoint = bytesToHex(msg.secondPerCommitmentPoint);
      this.data.channelReadyReceived = true;
      if (this.data.state === 'FUNDED') this.data.state = 'OPEN';
    });
  }

  // ---------------------------------------------------------------- HTLC updates

  private irrevocablyCommitted(ctn: { local: number | null; remote: number | null }): boolean {
    return ctn.local !== null && ctn.local <= this.data.localCtn && ctn.remote !== null && ctn.remote <= this.data.remoteCtn;
  }

  /**
   * After a proposal by `proposer`, checks that both next commitments stay valid (BOLT 2
   * update_add_htlc: max_accepted_htlcs, max_htlc_value_in_flight_msat, reserve and fee).
   * @throws FulmenError (PROTOCOL for remote proposals, INSUFFICIENT_FUNDS / CHANNEL_STATE for ours).
   */
  private checkProposal(proposer: Side): void {
    const fail = (message: string, localCode: 'INSUFFICIENT_FUNDS' | 'CHANNEL_STATE' = 'CHANNEL_STATE') =>
      proposer === 'remote' ? protocolError(message) : new FulmenError(localCode, message);
    const receiver = otherSide(proposer);
    const receiverCfg = this.configOf(receiver);
    for (const owner of ['local', 'remote'] as const) {
      const ctn = this.nextCtn(owner);
      const { htlcs, balances: bal } = this.log.commitmentIn(owner, ctn, this.initialBalances());
      const feerate = this.log.feerateIn(owner, ctn);
      const dust = this.configOf(owner).dustLimitSat;
      let offered = 0;
      let inFlight = 0n;
      let untrimmed = 0;
      for (const h of htlcs) {
        if (h.offeredBy === proposer) {
          offered++;
          inFlight += h.amountMsat;
        }
        if (!isHtlcTrimmed({ direction: h.offeredBy === owner ? 'offered' : 'received', amountMsat: h.amountMsat }, feerate, dust, this.anchors)) untrimmed++;
      }
      if (offered > receiverCfg.maxAcceptedHtlcs) throw fail('Too many HTLCs in flight');
      if (inFlight > receiverCfg.maxHtlcValueInFlightMsat) throw fail('HTLC value in flight exceeds the limit');
      // BOLT 2 update_add_htlc: with option_anchors the funder also pays both 330-sat anchors.
      const feeMsat = BigInt(commitmentFeeSat(feerate, untrimmed, this.anchors) + (this.anchors ? 2 * ANCHOR_OUTPUT_SAT : 0)) * 1000n;
      const funder = this.funderSide();
      const proposerAfterFee = bal[proposer] - (proposer === funder ? feeMsat : 0n);
      if (proposerAfterFee < BigInt(this.reserveOfSat(proposer)) * 1000n) throw fail('Cannot afford this HTLC while keeping the channel reserve', 'INSUFFICIENT_FUNDS');
      if (proposer === 'local' && bal[funder] < feeMsat) throw fail('Channel funder cannot afford the commitment fee', 'INSUFFICIENT_FUNDS');
    }
  }

  // ---------------------------------------------------------------- dust exposure (BOLT 2 max_dust_htlc_exposure_msat)

  /** HTLCs in our or their next commitment (each once): what a broadcast commitment may hold. */
  private pendingHtlcs(): HtlcRecord[] {
    return [...new Set([...this.log.htlcsIn('local', this.nextCtn('local')), ...this.log.htlcsIn('remote', this.nextCtn('remote'))])];
  }

  /**
   * Our max_dust_htlc_exposure_msat for a commitment at `feeratePerKw` (sat/kw), msat: scaled by
   * the larger of that feerate and our estimate (dust-exposure.ts maxDustHtlcExposureMsat).
   */
  private dustLimitMsat(feeratePerKw: number): bigint {
    return maxDustHtlcExposureMsat(Math.max(feeratePerKw, this.ctx.feerateEstimatePerKw?.() ?? 0));
  }

  /** Sum (msat) of `htlcs` trimmed from `owner`'s commitment at `feeratePerKw`, with `owner`'s dust limit. */
  private dustOn(owner: Side, htlcs: readonly Pick<HtlcRecord, 'offeredBy' | 'amountMsat'>[], feeratePerKw: number): bigint {
    const seen = htlcs.map((h) => ({ direction: h.offeredBy === owner ? ('offered' as const) : ('received' as const), amountMsat: h.amountMsat }));
    return dustExposureMsat(seen, feeratePerKw, this.configOf(owner).dustLimitSat, this.anchors);
  }

  /**
   * BOLT 2 max_dust_htlc_exposure_msat for a new HTLC of `amountMsat` offered by `offeredBy` (not
   * yet in the log): on each next commitment where it is trimmed, counted at the buffered feerate
   * (dustBufferFeerateSatPerKw), whether its amount plus that commitment's dust exposure exceeds
   * the bound. @returns why (for errors and logs), or null when within the bound.
   */
  private dustOverflowOfNewHtlc(offeredBy: Side, amountMsat: bigint): string | null {
    let pending: HtlcRecord[] | undefined;
    for (const owner of ['local', 'remote'] as const) {
      const feerate = this.log.feerateIn(owner, this.nextCtn(owner));
      const countAt = dustBufferFeerateSatPerKw(feerate);
      const added = this.dustOn(owner, [{ offeredBy, amountMsat }], countAt);
      if (added === 0n) continue; // not dust here: the common case costs no pass over the HTLCs
      pending ??= this.pendingHtlcs();
      const exposure = this.dustOn(owner, pending, countAt) + added;
      const limit = this.dustLimitMsat(feerate);
      if (exposure > limit) {
        const whose = owner === 'local' ? 'our' : "the peer's";
        return `an HTLC of ${amountMsat} msat is dust on ${whose} commitment at ${feerate} sat/kw and would take its dust exposure to ${exposure} msat, above max_dust_htlc_exposure_msat ${limit} msat`;
      }
    }
    return null;
  }

  /**
   * BOLT 2 update_fee without option_anchors: whether at `feeratePerKw` (counted exactly) the HTLCs
   * trimmed from either next commitment exceed max_dust_htlc_exposure_msat at that feerate.
   * Always null with option_anchors (trimming does not depend on the feerate). @returns why, or null.
   */
  private dustOverflowAtFeerate(feeratePerKw: number): string | null {
    if (this.anchors) return null;
    const pending = this.pendingHtlcs();
    const limit = this.dustLimitMsat(feeratePerKw);
    for (const owner of ['local', 'remote'] as const) {
      const exposure = this.dustOn(owner, pending, feeratePerKw);
      if (exposure > limit) {
        return `feerate ${feeratePerKw} sat/kw puts ${exposure} msat of HTLCs in dust on the ${owner} commitment, above max_dust_htlc_exposure_msat ${limit} msat`;
      }
    }
    return null;
  }

  /**
   * Offers an HTLC (update_add_htlc). `onion` is the 1366-byte BOLT 4 packet. Not one that is
   * trimmed on either commitment and would take its dust exposure past max_dust_htlc_exposure_msat
   * (BOLT 2 "SHOULD NOT send this HTLC"; node.ts fails a forward with temporary_channel_failure).
   * @throws FulmenError CHANNEL_STATE (also: dust exposure) / INSUFFICIENT_FUNDS / BAD_INPUT when
   *   BOLT 2 forbids it.
   */
  addHtlc(p: { amountMsat: bigint; paymentHash: Uint8Array; cltvExpiry: number; onion: Uint8Array }): UpdateAddHtlcMessage {
    return this.transact(() => {
      if (this.data.state !== 'OPEN' || this.shutdownSent || this.shutdownReceived) throw stateError('Channel is not open for payments');
      const remote = this.remoteCfg();
      if (p.amountMsat <= 0n) throw new FulmenError('BAD_INPUT', 'HTLC amount must be positive');
      if (p.amountMsat < remote.htlcMinimumMsat) throw new FulmenError('BAD_INPUT', `Amount below the peer's htlc_minimum_msat (${remote.htlcMinimumMsat})`);
      if (p.cltvExpiry >= CHANNEL_LIMITS.maxCltvExpiry) throw new FulmenError('BAD_INPUT', 'cltv_expiry too large');
      if (p.paymentHash.length !== 32) throw new FulmenError('BAD_INPUT', 'payment_hash must be 32 bytes');
      const dust = this.dustOverflowOfNewHtlc('local', p.amountMsat);
      if (dust) throw stateError(`Not sent: ${dust} (BOLT 2)`);
      const htlcId = this.log.nextHtlcId('local');
      this.log.addHtlc(
        'local',
        { htlcId, amountMsat: p.amountMsat, paymentHash: bytesToHex(p.paymentHash), cltvExpiry: p.cltvExpiry, onion: bytesToHex(p.onion) },
        this.nextCtn('remote'),
      );
      this.checkProposal('local');
      return {
        type: 'update_add_htlc',
        channelId: hexToBytes(this.data.channelId),
        id: htlcId,
        amountMsat: p.amountMsat,
        paymentHash: p.paymentHash,
        cltvExpiry: p.cltvExpiry,
        onionRoutingPacket: p.onion,
      };
    });
  }

  /**
   * Receives update_add_htlc (BOLT 2 receiving requirements). An HTLC trimmed on our or their
   * next commitment that would take its dust exposure past max_dust_htlc_exposure_msat is
   * accepted but marked `dustExposureExceeded`: node.ts fails it once irrevocably committed and
   * never reveals its preimage (BOLT 2 "Bounding exposure to trimmed in-flight HTLCs"). @throws PROTOCOL.
   */
  onUpdateAddHtlc(msg: UpdateAddHtlcMessage): void {
    this.requireReestablished(msg.type);
    this.transact(() => {
      if (!['OPEN', 'SHUTDOWN'].includes(this.data.state)) throw protocolError('update_add_htlc on a channel that is not open');
      if (this.shutdownReceived) throw protocolError('update_add_htlc after shutdown');
      const expected = this.log.nextHtlcId('remote');
      if (msg.id < expected) {
        const existing = this.log.get('remote', msg.id);
        if (existing && existing.paymentHash === bytesToHex(msg.paymentHash) && existing.amountMsat === msg.amountMsat) return; // repeated after reconnection
        throw protocolError(`Repeated HTLC id ${msg.id}`);
      }
      if (msg.id !== expected) throw protocolError(`HTLC id ${msg.id}, expected ${expected}`);
      if (msg.amountMsat <= 0n || msg.amountMsat < this.data.localConfig.htlcMinimumMsat) throw protocolError('HTLC amount below htlc_minimum_msat');
      if (msg.cltvExpiry >= CHANNEL_LIMITS.maxCltvExpiry) throw protocolError('cltv_expiry >= 500000000');
      const dust = this.dustOverflowOfNewHtlc('remote', msg.amountMsat);
      const rec = this.log.addHtlc(
        'remote',
        {
          htlcId: msg.id,
          amountMsat: msg.amountMsat,
          paymentHash: bytesToHex(msg.paymentHash),
          cltvExpiry: msg.cltvExpiry,
          onion: bytesToHex(msg.onionRoutingPacket),
        },
        this.nextCtn('local'),
      );
      this.checkProposal('remote');
      if (dust) rec.dustExposureExceeded = true;
    });
  }

  private requireIncomingCommitted(htlcId: bigint): HtlcRecord {
    const h = this.log.get('remote', htlcId);
    if (!h) throw stateError(`Unknown incoming HTLC ${htlcId}`);
    if (h.removal) throw stateError(`HTLC ${htlcId} already resolved`);
    if (!this.irrevocablyCommitted(h.lockedIn)) throw stateError(`HTLC ${htlcId} is not irrevocably committed yet`);
    return h;
  }

  /** Settles an incoming HTLC with its preimage (update_fulfill_htlc). */
  fulfillHtlc(htlcId: bigint, preimage: Uint8Array): UpdateFulfillHtlcMessage {
    return this.transact(() => {
      const h = this.requireIncomingCommitted(htlcId);
      if (bytesToHex(sha256(preimage)) !== h.paymentHash) throw new FulmenError('BAD_INPUT', 'Preimage does not match the payment hash');
      this.log.removeHtlc('local', htlcId, { kind: 'fulfill', preimage: bytesToHex(preimage) }, this.nextCtn('remote'));
      return { type: 'update_fulfill_htlc', channelId: hexToBytes(this.data.channelId), id: htlcId, paymentPreimage: preimage };
    });
  }

  /** Fails an incoming HTLC with an encrypted BOLT 4 failure `reason` (update_fail_htlc). */
  failHtlc(htlcId: bigint, reason: Uint8Array): UpdateFailHtlcMessage {
    return this.transact(() => {
      this.requireIncomingCommitted(htlcId);
      this.log.removeHtlc('local', htlcId, { kind: 'fail', reason: bytesToHex(reason) }, this.nextCtn('remote'));
      return { type: 'update_fail_htlc', channelId: hexToBytes(this.data.channelId), id: htlcId, reason };
    });
  }

  /** Fails an incoming HTLC whose onion we could not parse (update_fail_malformed_htlc). */
  failMalformedHtlc(htlcId: bigint, sha256OfOnion: Uint8Array, failureCode: number): UpdateFailMalformedHtlcMessage {
    return this.transact(() => {
      if (!(failureCode & 0x8000)) throw new FulmenError('INTERNAL', 'failure code must have the BADONION bit');
      this.requireIncomingCommitted(htlcId);
      this.log.removeHtlc('local', htlcId, { kind: 'fail_malformed', sha256OfOnion: bytesToHex(sha256OfOnion), failureCode }, this.nextCtn('remote'));
      return { type: 'update_fail_malformed_htlc', channelId: hexToBytes(this.data.channelId), id: htlcId, sha256OfOnion, failureCode };
    });
  }

  /** The HTLC offered by us with `id` must be in our current commitment (BOLT 2 removal checks). */
  private requireOutgoingInCurrent(id: bigint): HtlcRecord {
    const h = this.log.get('local', id);
    if (!h || !HtlcLog.inCommitment(h, 'local', this.data.localCtn)) throw protocolError(`HTLC ${id} is not in our current commitment`);
    if (h.removal) throw protocolError(`HTLC ${id} already removed`);
    return h;
  }

  private checkRemovalState(): void {
    if (!['OPEN', 'SHUTDOWN'].includes(this.data.state)) throw protocolError('HTLC update on a channel that is not open');
  }

  /** Receives update_fulfill_htlc; returns the preimage so the payment can be marked paid at once. */
  onUpdateFulfillHtlc(msg: UpdateFulfillHtlcMessage): ResolvedOutgoingHtlc {
    this.requireReestablished(msg.type);
    return this.transact(() => {
      this.checkRemovalState();
      const h = this.requireOutgoingInCurrent(msg.id);
      if (bytesToHex(sha256(msg.paymentPreimage)) !== h.paymentHash) throw protocolError('payment_preimage does not match payment_hash');
      const preimage = bytesToHex(msg.paymentPreimage);
      this.log.removeHtlc('remote', msg.id, { kind: 'fulfill', preimage }, this.nextCtn('local'));
      return { htlcId: h.htlcId, paymentHash: h.paymentHash, amountMsat: h.amountMsat, outcome: { kind: 'fulfilled', preimage } };
    });
  }

  /** Receives update_fail_htlc (the failure becomes final once irrevocably committed). */
  onUpdateFailHtlc(msg: UpdateFailHtlcMessage): void {
    this.requireReestablished(msg.type);
    this.transact(() => {
      this.checkRemovalState();
      this.requireOutgoingInCurrent(msg.id);
      this.log.removeHtlc('remote', msg.id, { kind: 'fail', reason: bytesToHex(msg.reason) }, this.nextCtn('local'));
    });
  }

  /** Receives update_fail_malformed_htlc (BADONION bit required). */
  onUpdateFailMalformedHtlc(msg: UpdateFailMalformedHtlcMessage): void {
    this.requireReestablished(msg.type);
    this.transact(() => {
      this.checkRemovalState();
      if (!(msg.failureCode & 0x8000)) throw protocolError('update_fail_malformed_htlc without BADONION bit');
      this.requireOutgoingInCurrent(msg.id);
      this.log.removeHtlc(
        'remote',
        msg.id,
        { kind: 'fail_malformed', sha256OfOnion: bytesToHex(msg.sha256OfOnion), failureCode: msg.failureCode },
        this.nextCtn('local'),
      );
    });
  }

  /**
   * Funder: proposes a new commitment feerate (update_fee). Without option_anchors, not a raise
   * that puts more HTLCs in dust than max_dust_htlc_exposure_msat (BOLT 2 "MAY NOT send update_fee").
   * @throws FulmenError CHANNEL_STATE (also: dust exposure) / INSUFFICIENT_FUNDS.
   */
  updateFee(feeratePerKw: number): UpdateFeeMessage {
    return this.transact(() => {
      if (!this.data.isFunder) throw stateError('Only the funder sends update_fee');
      if (this.data.state !== 'OPEN') throw stateError('Channel is not open');
      if (feeratePerKw > this.log.feerateIn('remote', this.nextCtn('remote'))) {
        const dust = this.dustOverflowAtFeerate(feeratePerKw);
        if (dust) throw stateError(`update_fee not sent: ${dust} (BOLT 2)`);
      }
      this.log.updateFee('local', feeratePerKw, this.nextCtn('remote'));
      this.checkProposal('local');
      return { type: 'update_fee', channelId: hexToBytes(this.data.channelId), feeratePerKw };
    });
  }

  /**
   * Funder: the update_fee to send when our estimate (`estimatePerKw`, sat/kw) moved far enough
   * from the channel's latest feerate (feerate.ts feerateUpdateTarget), or null. A raise the
   * funder cannot afford in both next commitments (reserve kept, BOLT 2 update_fee), or that
   * would put more HTLCs in dust than max_dust_htlc_exposure_msat (no option_anchors, BOLT 2 "MAY
   * NOT send update_fee"), is lowered to the highest feerate above the current one that is
   * neither, or dropped. Only in OPEN without shutdown (after shutdown only HTLC-carrying
   * channels would need it; Electrum does the same).
   */
  proposeFeeUpdate(estimatePerKw: number): UpdateFeeMessage | null {
    if (!this.data.isFunder || this.data.state !== 'OPEN' || this.awaitingReestablish || this.shutdownSent || this.shutdownReceived) return null;
    const current = this.log.feerateIn('remote', this.nextCtn('remote'));
    const target = feerateUpdateTarget(current, estimatePerKw);
    if (target === null) return null;
    const tryFee = (feerate: number): UpdateFeeMessage | null => {
      try {
        return this.updateFee(feerate);
      } catch (e) {
        if (e instanceof FulmenError && e.code === 'INSUFFICIENT_FUNDS') return null;
        throw e;
      }
    };
    const raiseOk = (feerate: number) => this.dustOverflowAtFeerate(feerate) === null;
    const msg = target < current || raiseOk(target) ? tryFee(target) : null;
    if (msg || target < current) return msg;
    // Raise as far as affordable: binary search in (current, target).
    let lo = current;
    let hi = target;
    while (hi - lo > 1) {
      const mid = Math.floor((lo + hi) / 2);
      if (this.feeAffordable(mid) && raiseOk(mid)) lo = mid;
      else hi = mid;
    }
    return lo > current ? tryFee(lo) : null;
  }

  /** Whether the funder (us) could pay `feeratePerKw` in both next commitments, keeping its reserve. */
  private feeAffordable(feeratePerKw: number): boolean {
    const funder = this.funderSide();
    for (const owner of ['local', 'remote'] as const) {
      const ctn = this.nextCtn(owner);
      const { htlcs, balances: bal } = this.log.commitmentIn(owner, ctn, this.initialBalances());
      const dust = this.configOf(owner).dustLimitSat;
      const untrimmed = htlcs.filter((h) => !isHtlcTrimmed(this.toCommitmentHtlc(owner, h), feeratePerKw, dust, this.anchors)).length;
      const fee = BigInt(commitmentFeeSat(feeratePerKw, untrimmed, this.anchors) + (this.anchors ? 2 * ANCHOR_OUTPUT_SAT : 0)) * 1000n;
      if (bal[funder] - fee < BigInt(this.reserveOfSat(funder)) * 1000n) return false;
    }
    return true;
  }

  /**
   * Receives update_fee (BOLT 2): only from the funder; a feerate "too low for timely processing
   * or unreasonably large" against our estimate (feerate.ts acceptableFeerateRange); one the
   * funder cannot afford on our next commitment (checkProposal); without option_anchors, a raise
   * that puts more HTLCs in dust on either commitment than max_dust_htlc_exposure_msat (BOLT 2
   * update_fee "MAY fail the channel": failing it before signing keeps those HTLCs as outputs of
   * the current commitments). Each fails the channel.
   */
  onUpdateFee(msg: UpdateFeeMessage): void {
    this.requireReestablished(msg.type);
    this.transact(() => {
      if (this.data.isFunder) throw protocolError('update_fee from the non-funder');
      if (!['OPEN', 'SHUTDOWN'].includes(this.data.state)) throw protocolError('update_fee on a channel that is not open');
      const bounds = commitmentFeerateRange(this.ctx.feerateEstimatePerKw?.() ?? null, this.anchors);
      if (msg.feeratePerKw < bounds.min || msg.feeratePerKw > bounds.max) {
        throw protocolError(`Unacceptable feerate_per_kw ${msg.feeratePerKw} (accepted: ${bounds.min}..${bounds.max})`);
      }
      if (msg.feeratePerKw > this.log.feerateIn('local', this.nextCtn('local'))) {
        const dust = this.dustOverflowAtFeerate(msg.feeratePerKw);
        if (dust) throw protocolError(`update_fee: ${dust}`);
      }
      this.log.updateFee('remote', msg.feeratePerKw, this.nextCtn('local'));
      this.checkProposal('remote');
    });
  }

  // ---------------------------------------------------------------- commitment dance

  /** True when we proposed updates that no commitment_signed of ours covers yet. */
  hasUnsignedLocalUpdates(): boolean {
    return this.log.hasUpdatesFor('remote', this.nextCtn('remote'));
  }

  /**
   * True when we can sign a next commitment_signed (canSignNextCommitment) that would only remove
   * settled HTLCs from the peer's commitment (no add, no update_fee), and the channel carries at
   * most QUIET_CHANNEL_HTLCS HTLCs: signing it a little later then costs nothing but an HTLC
   * output or two in a commitment signed meanwhile. Under load (many HTLCs) removals are signed at
   * once: each one left in makes every commitment signed meanwhile one HTLC signature bigger.
   */
  nextCommitmentOnlySettles(): boolean {
    return this.log.count() <= QUIET_CHANNEL_HTLCS && this.canSignNextCommitment() && this.log.onlyRemovalsFor('remote', this.data.remoteCtn + 1);
  }

  /** True when updates wait for our commitment_signed and none is outstanding. */
  canSignNextCommitment(): boolean {
    return (
      !this.data.remoteCommitPending &&
      ['OPEN', 'SHUTDOWN'].includes(this.data.state) &&
      this.data.remoteNextPoint !== null &&
      this.log.hasUpdatesFor('remote', this.data.remoteCtn + 1)
    );
  }

  /**
   * Signs the remote's next commitment (commitment_signed) if there are updates to commit and
   * no earlier commitment_signed is awaiting its revoke_and_ack; otherwise null.
   */
  signNextCommitment(): CommitmentSignedMessage | null {
    if (!this.canSignNextCommitment()) return null;
    return this.transact(() => {
      const ctn = this.data.remoteCtn + 1;
      const { signature, htlcSignatures } = this.signRemoteCommitment(ctn);
      this.data.remoteCommitPending = true;
      this.data.lastCommitSentAt = ++this.data.msgCounter;
      return { type: 'commitment_signed', channelId: hexToBytes(this.data.channelId), signature, htlcSignatures };
    });
  }

  /**
   * Receives commitment_signed for our next commitment: verifies the commitment signature and
   * every HTLC signature, then revokes our previous commitment (revoke_and_ack).
   */
  onCommitmentSigned(msg: CommitmentSignedMessage): RevokeAndAckMessage {
    this.requireReestablished(msg.type);
    return this.transact(() => {
      if (!['OPEN', 'SHUTDOWN'].includes(this.data.state)) throw protocolError('commitment_signed on a channel that is not open');
      const ctn = this.data.localCtn + 1;
      this.verifyLocalCommitment(ctn, msg.signature, msg.htlcSignatures);
      this.data.localCommitSig = { signature: bytesToHex(msg.signature), htlcSignatures: msg.htlcSignatures.map(bytesToHex) };
      this.data.localCtn = ctn;
      this.log.onRevoked('local', ctn, this.nextCtn('remote'));
      this.data.lastRevokeSentAt = ++this.data.msgCounter;
      // Our removals of incoming HTLCs settle here; the peer's removals of ours settle on its
      // revoke_and_ack (where their failures are reported), so only incoming ones are taken out.
      this.archiveSettled('remote');
      return this.revokeMessage(ctn - 1);
    });
  }

  /** revoke_and_ack revealing the secret of our commitment `revokedCtn`. */
  private revokeMessage(revokedCtn: number): RevokeAndAckMessage {
    return {
      type: 'revoke_and_ack',
      channelId: hexToBytes(this.data.channelId),
      perCommitmentSecret: this.localCommitmentSecret(revokedCtn).secret,
      nextPerCommitmentPoint: this.localPoint(revokedCtn + 2),
    };
  }

  /**
   * Receives revoke_and_ack: the secret must generate the remote's current per_commitment_point
   * and be consistent with the previous ones (shachain). Returns outgoing HTLCs whose failure
   * just became final.
   */
  onRevokeAndAck(msg: RevokeAndAckMessage): ResolvedOutgoingHtlc[] {
    this.requireReestablished(msg.type);
    return this.transact(() => {
      if (!this.data.remoteCommitPending) throw protocolError('Unexpected revoke_and_ack');
      if (!isValidPoint(msg.nextPerCommitmentPoint)) throw protocolError('Invalid next_per_commitment_point');
      let point: Uint8Array;
      try {
        point = pubkeyFromSecret(msg.perCommitmentSecret);
      } catch {
        throw protocolError('per_commitment_secret is not a valid secret key');
      }
      if (bytesToHex(point) !== this.data.remoteCurrentPoint) throw protocolError('per_commitment_secret does not match the per_commitment_point');
      const chain = Shachain.deserialize(this.data.remoteSecrets);
      chain.insert(msg.perCommitmentSecret, START_INDEX - BigInt(this.data.remoteCtn));
      this.data.remoteSecrets = chain.serialize();
      const failedBefore = new Set(this.finalFailures().map((f) => f.htlcId));
      this.data.remoteCtn += 1;
      this.data.remoteCommitPending = false;
      this.data.remoteCurrentPoint = this.data.remoteNextPoint;
      this.data.remoteNextPoint = bytesToHex(msg.nextPerCommitmentPoint);
      this.log.onRevoked('remote', this.data.remoteCtn, this.nextCtn('local'));
      const newlyFailed = this.finalFailures().filter((f) => !failedBefore.has(f.htlcId));
      this.archiveSettled();
      return newlyFailed;
    });
  }

  /** Outgoing HTLCs failed by the peer whose removal is irrevocably committed. */
  private finalFailures(): ResolvedOutgoingHtlc[] {
    const out: ResolvedOutgoingHtlc[] = [];
    for (const h of this.log.all()) {
      if (h.offeredBy !== 'local' || !h.removal || h.removal.kind === 'fulfill') continue;
      if (!this.irrevocablyCommitted(h.removal.ctn)) continue;
      out.push({
        htlcId: h.htlcId,
        paymentHash: h.paymentHash,
        amountMsat: h.amountMsat,
        outcome: h.removal.kind === 'fail' ? { kind: 'failed', reason: h.removal.reason } : { kind: 'malformed', failureCode: h.removal.failureCode, sha256OfOnion: h.removal.sha256OfOnion },
      });
    }
    return out;
  }

  /** Whether an HTLC was fulfilled or failed and its removal is not yet in both commitments (it settles on its own, in a few round trips). */
  hasSettlingHtlcs(): boolean {
    return this.log.all().some((h) => h.removal !== undefined);
  }

  /** Incoming HTLCs irrevocably committed and not yet fulfilled or failed: the node must act. */
  pendingIncomingHtlcs(): HtlcRecord[] {
    return this.log.all().filter((h) => h.offeredBy === 'remote' && !h.removal && this.irrevocablyCommitted(h.lockedIn));
  }

  /** HTLCs the peer offered that are not removed and not yet irrevocably committed (pendingIncomingHtlcs lists them once they are). */
  incomingHtlcsNotYetCommitted(): HtlcRecord[] {
    return this.log.all().filter((h) => h.offeredBy === 'remote' && !h.removal && !this.irrevocablyCommitted(h.lockedIn));
  }

  /**
   * BOLT 2 deadlines (update_fulfill_htlc requirements): an HTLC we offered, in a commitment and
   * not removed, `graceBlocks` past its cltv_expiry (timeout deadline); or one the peer offered
   * that we fulfilled, whose removal is not irrevocably committed `fulfillDeadlineBlocks` before
   * its cltv_expiry (fulfillment deadline: past it the peer could time it out on chain while
   * holding our preimage). Either means the channel must be failed and resolved on chain.
   * @returns what is past its deadline at block `height`, or null.
   */
  htlcPastDeadline(height: number, graceBlocks: number, fulfillDeadlineBlocks: number): string | null {
    for (const h of this.log.all()) {
      const inCommitment = h.lockedIn.local !== null || h.lockedIn.remote !== null;
      if (h.offeredBy === 'local' && inCommitment && !h.removal && height >= h.cltvExpiry + graceBlocks) {
        return `our HTLC ${h.htlcId} expired at block ${h.cltvExpiry}`;
      }
      if (h.offeredBy === 'remote' && h.removal?.kind === 'fulfill' && !this.irrevocablyCommitted(h.removal.ctn) && height >= h.cltvExpiry - fulfillDeadlineBlocks) {
        return `the peer did not remove HTLC ${h.htlcId}, which we fulfilled, ${fulfillDeadlineBlocks} blocks before its expiry at ${h.cltvExpiry}`;
      }
    }
    return null;
  }

  /** Outgoing HTLC by id (to look up its payment). */
  outgoingHtlc(htlcId: bigint): HtlcRecord | undefined {
    return this.log.get('local', htlcId);
  }

  /** Incoming HTLC by id while it is in the live log (not yet archived: in some commitment, or its removal not yet irrevocably committed). */
  incomingHtlc(htlcId: bigint): HtlcRecord | undefined {
    return this.log.get('remote', htlcId);
  }

  /**
   * Our HTLCs for `paymentHash` (hex) with their outcome: fulfilled (we hold the preimage),
   * failed (the removal is irrevocably committed) or null while in flight. Archived (settled)
   * HTLCs included. Lets the node settle payments a crash left pending (node.ts
   * reconcilePendingPayments). Cost O(channel history): for start-up, not hot paths.
   */
  outgoingHtlcOutcomes(paymentHash: string): { htlcId: bigint; outcome: ResolvedOutgoingHtlc['outcome'] | null }[] {
    const failed = new Map(this.finalFailures().map((f) => [f.htlcId, f.outcome]));
    const outcomeOf = (h: HtlcRecord, settled: boolean): ResolvedOutgoingHtlc['outcome'] | null => {
      const r = h.removal;
      if (r?.kind === 'fulfill') return { kind: 'fulfilled', preimage: r.preimage };
      if (!settled || !r) return failed.get(h.htlcId) ?? null;
      return r.kind === 'fail' ? { kind: 'failed', reason: r.reason } : { kind: 'malformed', failureCode: r.failureCode, sha256OfOnion: r.sha256OfOnion };
    };
    const archived = [...this.ctx.persistence.settledHtlcs(this.data.keyIndex), ...this.settledToArchive];
    const ours = (h: HtlcRecord) => h.offeredBy === 'local' && h.paymentHash === paymentHash;
    return [
      ...archived.filter(ours).map((h) => ({ htlcId: h.htlcId, outcome: outcomeOf(h, true) })),
      ...this.log.all().filter(ours).map((h) => ({ htlcId: h.htlcId, outcome: outcomeOf(h, false) })),
    ];
  }

  // ---------------------------------------------------------------- balances

  /** Balances in our current commitment, msat (HTLCs in flight excluded from both). */
  balances(): { localMsat: bigint; remoteMsat: bigint } {
    const b = this.log.balancesIn('local', this.data.localCtn, this.initialBalances());
    return { localMsat: b.local, remoteMsat: b.remote };
  }

  /**
   * What we could send now in one HTLC, msat, checked in both next commitments: our balance
   * minus the reserve the peer asked for and, when we are the funder, the BOLT 2 "fee spike
   * buffer" (commitment fee at twice the feerate with this HTLC and one more). As the fundee we
   * also require the funder to afford the fee with one more HTLC (Electrum's receiving check).
   * Fees here are exact msat (feerate_per_kw × weight / 1000 sat, not rounded down): the peer
   * may check with unrounded fees (Electrum lnchannel.available_to_spend), and an HTLC it
   * rejects costs the connection.
   */
  availableToSendMsat(): bigint {
    if (this.data.state !== 'OPEN' || !this.data.remoteConfig) return 0n;
    let available: bigint | null = null;
    for (const owner of ['local', 'remote'] as const) {
      const ctn = this.nextCtn(owner);
      const { htlcs: inCommitment, balances: bal } = this.log.commitmentIn(owner, ctn, this.initialBalances());
      const feerate = this.log.feerateIn(owner, ctn);
      const htlcs = inCommitment.length;
      let v = bal.local - BigInt(this.reserveOfSat('local')) * 1000n;
      if (this.data.isFunder) v -= 2n * commitmentFeeMsat(feerate, htlcs + 2, this.anchors);
      else if (bal.remote - BigInt(this.reserveOfSat('remote')) * 1000n - commitmentFeeMsat(feerate, htlcs + 1, this.anchors) < 0n) v = 0n;
      available = available === null || v < available ? v : available;
    }
    return available !== null && available > 0n ? available : 0n;
  }

  /** What the peer could send us now, msat (balance minus its reserve and, as funder, the exact fee with one more HTLC). */
  availableToReceiveMsat(): bigint {
    if (this.data.state !== 'OPEN' || !this.data.remoteConfig) return 0n;
    const ctn = this.nextCtn('local');
    const { htlcs, balances: bal } = this.log.commitmentIn('local', ctn, this.initialBalances());
    const feerate = this.log.feerateIn('local', ctn);
    const fee = this.data.isFunder ? 0n : commitmentFeeMsat(feerate, htlcs.length + 1, this.anchors);
    const v = bal.remote - fee - BigInt(this.reserveOfSat('remote')) * 1000n;
    return v > 0n ? v : 0n;
  }

  // ---------------------------------------------------------------- reestablish

  /**
   * Called when the connection dropped: BOLT 2 "MUST reverse any uncommitted updates sent by the
   * other side". Closing fee negotiation restarts after reconnection. Until the peer's next
   * channel_reestablish, its updates are refused (requireReestablished).
   */
  onDisconnected(): void {
    this.transact(() => {
      this.log.reverseUnsigned('remote', this.data.localCtn);
      if (this.data.closing) this.data.closing = { ...this.data.closing, lastSentFee: null, ourRange: null };
    });
    this.awaitingReestablish = true;
  }

  /**
   * BOLT 2: after a reconnection the peer's channel_reestablish comes first. An update,
   * commitment_signed or revoke_and_ack before it is refused: what the peer retransmits (and
   * what we retransmit to it) is decided by the two channel_reestablish, so a message taken
   * before ours was read would be answered twice (a duplicate revoke_and_ack fails the channel).
   * @throws FulmenError CHANNEL_STATE (not PROTOCOL: the node drops the connection, the channel
   * resumes with the next channel_reestablish).
   */
  private requireReestablished(what: string): void {
    if (this.awaitingReestablish) throw stateError(`${what} before channel_reestablish on this connection`);
  }

  /** Our channel_reestablish (with option_data_loss_protect fields). */
  reestablishMessage(): ChannelReestablishMessage {
    const nextRevocation = this.data.remoteCtn;
    let lastSecret: Uint8Array = ZERO32;
    if (nextRevocation > 0) {
      const s = Shachain.deserialize(this.data.remoteSecrets).get(START_INDEX - BigInt(nextRevocation - 1));
      if (s) lastSecret = s;
    }
    return {
      type: 'channel_reestablish',
      channelId: hexToBytes(this.data.channelId),
      nextCommitmentNumber: this.data.localCtn + 1,
      nextRevocationNumber: nextRevocation,
      yourLastPerCommitmentSecret: lastSecret,
      myCurrentPerCommitmentPoint: perCommitmentPoint(this.secrets.perCommitmentSeed, BigInt(this.data.localCtn)),
    };
  }

  /**
   * Processes the peer's channel_reestablish (BOLT 2 "Message Retransmission") and returns what
   * must be retransmitted, in the original order: channel_ready, revoke_and_ack and/or our
   * lost commitment_signed with its updates, our updates the peer dropped, shutdown.
   * When the peer proves we lost state, marks the channel (never broadcast our commitment) and
   * throws CHANNEL_STATE.
   */
  onChannelReestablish(msg: ChannelReestablishMessage): ChannelMessage[] {
    const out = this.retransmissionsFor(msg);
    this.awaitingReestablish = false;
    return out;
  }

  private retransmissionsFor(msg: ChannelReestablishMessage): ChannelMessage[] {
    return this.transact(() => {
      if (['PREOPENING', 'CLOSED', 'REDEEMED', 'FORCE_CLOSING'].includes(this.data.state)) throw protocolError('channel_reestablish on an inactive channel');
      const d = this.data;
      const seed = this.secrets.perCommitmentSeed;
      if (msg.nextCommitmentNumber === 0) throw protocolError('next_commitment_number is 0');
      // Revocations the peer expects from us.
      const R = msg.nextRevocationNumber;
      if (R > d.localCtn) {
        const claimed = msg.yourLastPerCommitmentSecret;
        if (eqBytes(claimed, perCommitmentSecret(seed, BigInt(R - 1)))) {
          d.weAreBehind = true;
          d.state = 'FORCE_CLOSING';
          return [];
        }
        throw protocolError('next_revocation_number is ahead of our state');
      }
      if (R < d.localCtn - 1) throw protocolError('next_revocation_number is too old');
      if (R > 0 && !eqBytes(msg.yourLastPerCommitmentSecret, perCommitmentSecret(seed, BigInt(R - 1)))) {
        throw protocolError('your_last_per_commitment_secret does not match');
      }
      const resendRevoke = R === d.localCtn - 1;
      // Commitments the peer expects from us.
      const N = msg.nextCommitmentNumber;
      const latestRemote = this.latestRemoteCtn();
      let resendCommit = false;
      if (d.remoteCommitPending && N === latestRemote) resendCommit = true;
      else if (N !== latestRemote + 1) throw protocolError(`next_commitment_number ${N} does not match our ${latestRemote + 1}`);

      const out: ChannelMessage[] = [];
      if (d.channelReadySent && N === 1 && d.localCtn === 0) out.push(this.channelReadyMessage());
      const updates = this.log.updatesBy('local', N).map(({ ctn, update }) => ({ ctn, message: this.updateMessage(update) }));
      const commitBlock: ChannelMessage[] = [];
      if (resendCommit) {
        commitBlock.push(...updates.filter((u) => u.ctn === N).map((u) => u.message));
        const { signature, htlcSignatures } = this.signRemoteCommitment(N);
        commitBlock.push({ type: 'commitment_signed', channelId: hexToBytes(d.channelId), signature, htlcSignatures });
      }
      const revoke = resendRevoke ? [this.revokeMessage(d.localCtn - 1)] : [];
      if (d.lastRevokeSentAt > d.lastCommitSentAt) out.push(...commitBlock, ...revoke);
      else out.push(...revoke, ...commitBlock);
      // Our updates the peer dropped on disconnection (not covered by a commitment_signed it got).
      out.push(...updates.filter((u) => !resendCommit || u.ctn > N).map((u) => u.message));
      if (d.localShutdownScript) out.push({ type: 'shutdown', channelId: hexToBytes(d.channelId), scriptpubkey: hexToBytes(d.localShutdownScript) });
      return out;
    });
  }

  private updateMessage(u: ReturnType<HtlcLog['updatesBy']>[number]['update']): ChannelMessage {
    const channelId = hexToBytes(this.data.channelId);
    if (u.kind === 'add') {
      return {
        type: 'update_add_htlc',
        channelId,
        id: u.htlc.htlcId,
        amountMsat: u.htlc.amountMsat,
        paymentHash: hexToBytes(u.htlc.paymentHash),
        cltvExpiry: u.htlc.cltvExpiry,
        onionRoutingPacket: hexToBytes(u.htlc.onion),
      };
    }
    if (u.kind === 'fee') return { type: 'update_fee', channelId, feeratePerKw: u.fee.feeratePerKw };
    const r = u.removal;
    if (r.kind === 'fulfill') return { type: 'update_fulfill_htlc', channelId, id: u.htlc.htlcId, paymentPreimage: hexToBytes(r.preimage) };
    if (r.kind === 'fail') return { type: 'update_fail_htlc', channelId, id: u.htlc.htlcId, reason: hexToBytes(r.reason) };
    return { type: 'update_fail_malformed_htlc', channelId, id: u.htlc.htlcId, sha256OfOnion: hexToBytes(r.sha256OfOnion), failureCode: r.failureCode };
  }

  // ---------------------------------------------------------------- close

  /**
   * Starts a cooperative close (shutdown) paying us to `scriptPubKey`. Our pending updates must
   * be signed first (BOLT 2: no shutdown while updates are pending on the peer's commitment).
   */
  shutdown(scriptPubKey: Uint8Array): ShutdownMessage {
    return this.transact(() => {
      if (!['OPENING', 'FUNDED', 'OPEN', 'SHUTDOWN'].includes(this.data.state)) throw stateError(`Cannot close a channel in state ${this.data.state}`);
      if (this.shutdownSent) throw stateError('Shutdown already sent');
      if (!isValidShutdownScript(scriptPubKey, this.features.anysegwit)) throw new FulmenError('BAD_INPUT', 'Unsupported closing script');
      const upfront = this.upfrontShutdownScript;
      if (upfront && !eqBytes(upfront, scriptPubKey)) throw new FulmenError('BAD_INPUT', 'The closing script must be the upfront_shutdown_script given at opening');
      if (this.hasUnsignedLocalUpdates()) throw stateError('Updates are pending; sign them before shutdown');
      this.data.localShutdownScript = bytesToHex(scriptPubKey);
      this.data.state = 'SHUTDOWN';
      return { type: 'shutdown', channelId: hexToBytes(this.data.channelId), scriptpubkey: scriptPubKey };
    });
  }

  /**
   * Receives shutdown. The caller answers with `shutdown(...)` if we have not sent ours.
   * BOLT 2: a scriptpubkey of no allowed form (witness v1+ only with option_shutdown_anysegwit)
   * → warning; one other than the peer's non-empty upfront_shutdown_script → warning and the
   * connection fails (protocolWarning; the channel stays open). Before funding → error.
   */
  onShutdown(msg: ShutdownMessage): void {
    this.transact(() => {
      if (this.data.state === 'CLOSING') return; // retransmitted after reconnection: already agreed
      if (!['OPENING', 'FUNDED', 'OPEN', 'SHUTDOWN'].includes(this.data.state)) throw protocolError('Unexpected shutdown');
      if (!isValidShutdownScript(msg.scriptpubkey, this.features.anysegwit)) throw protocolWarning('Invalid shutdown scriptpubkey');
      const upfront = this.data.upfrontShutdown?.remote;
      if (upfront && upfront !== bytesToHex(msg.scriptpubkey)) throw protocolWarning('shutdown scriptpubkey differs from the upfront_shutdown_script');
      if (this.data.remoteShutdownScript && this.data.remoteShutdownScript !== bytesToHex(msg.scriptpubkey)) throw protocolError('Different scriptpubkey in repeated shutdown');
      this.data.remoteShutdownScript = bytesToHex(msg.scriptpubkey);
      this.data.state = 'SHUTDOWN';
    });
  }

  /** Both shutdowns exchanged, no HTLC in either commitment and nothing left to sign or revoke. */
  isCleanForClosing(): boolean {
    const d = this.data;
    return (
      d.state === 'SHUTDOWN' &&
      this.shutdownSent &&
      this.shutdownReceived &&
      !d.remoteCommitPending &&
      this.log.htlcsIn('local', d.localCtn).length === 0 &&
      this.log.htlcsIn('remote', d.remoteCtn).length === 0 &&
      !this.log.hasUpdatesFor('local', d.localCtn + 1) &&
      !this.log.hasUpdatesFor('remote', d.remoteCtn + 1)
    );
  }

  private closingOutputs(feeSat: number): { scriptPubKey: Uint8Array; amountSat: number; mine: boolean }[] {
    const b = this.balances();
    let local = Number(b.localMsat / 1000n);
    let remote = Number(b.remoteMsat / 1000n);
    if (this.data.isFunder) local -= feeSat;
    else remote -= feeSat;
    return [
      { scriptPubKey: hexToBytes(this.data.localShutdownScript!), amountSat: local, mine: true },
      { scriptPubKey: hexToBytes(this.data.remoteShutdownScript!), amountSat: remote, mine: false },
    ];
  }

  private closingTx(feeSat: number, variant: 'ours' | 'theirs' | 'their-output-dropped'): Transaction {
    const outs = this.closingOutputs(feeSat).filter((o) => variant !== 'their-output-dropped' || o.mine);
    const dust = variant === 'theirs' ? this.remoteCfg().dustLimitSat : this.data.localConfig.dustLimitSat;
    return buildClosingTx(this.data.fundingTxid!, this.data.fundingOutputIndex!, outs, dust);
  }

  private closingWeight(): number {
    return closingTxWeight([hexToBytes(this.data.localShutdownScript!), hexToBytes(this.data.remoteShutdownScript!)]);
  }

  private funderBalanceSat(): number {
    const b = this.balances();
    return Number((this.data.isFunder ? b.localMsat : b.remoteMsat) / 1000n);
  }

  /**
   * Funder: first closing_signed once the channel is clean (BOLT 2 legacy closing with
   * fee_range). `feerateSatPerKw` is the caller's estimate. Null when not (yet) our turn.
   */
  startClosing(feerateSatPerKw: number): ClosingSignedMessage | null {
    if (!this.data.isFunder || !this.isCleanForClosing() || this.data.closing?.lastSentFee != null) return null;
    return this.transact(() => {
      const weight = this.closingWeight();
      const fee = Math.min(Math.ceil((weight * feerateSatPerKw) / 1000), this.funderBalanceSat());
      const min = Math.min(fee, Math.ceil((weight * CHANNEL_LIMITS.minFeeratePerKw) / 1000));
      const max = Math.min(this.funderBalanceSat(), Math.max(fee * 2, fee + 1000));
      this.data.closing = { feerateSatPerKw, lastSentFee: fee, ourRange: { min, max }, closingTxHex: null };
      return this.closingSignedMessage(fee, { min, max });
    });
  }

  private closingSignedMessage(fee: number, range: { min: number; max: number }): ClosingSignedMessage {
    const tx = this.closingTx(fee, 'ours');
    const signature = signInput(tx, 0, this.fundingWitnessScript(), this.data.fundingSat, this.secrets.fundingPrivkey);
    return {
      type: 'closing_signed',
      channelId: hexToBytes(this.data.channelId),
      feeSatoshis: fee,
      signature,
      feeRange: { minFeeSatoshis: range.min, maxFeeSatoshis: range.max },
    };
  }

  /**
   * Receives closing_signed (BOLT 2 legacy negotiation with fee_range). Returns our reply (if
   * any) and, when both signatures are for the same fee, the fully signed closing transaction
   * (state CLOSING; the caller broadcasts it).
   */
  onClosingSigned(msg: ClosingSignedMessage): { reply: ClosingSignedMessage | null; closingTxHex: string | null } {
    return this.transact(() => {
      if (this.data.state === 'CLOSING') return { reply: null, closingTxHex: this.data.closingTxHex }; // already agreed
      if (!this.isCleanForClosing()) throw protocolError('closing_signed before the channel is clean');
      const fee = msg.feeSatoshis;
      if (fee > this.funderBalanceSat()) throw protocolError('Closing fee exceeds the funder balance');
      const ws = this.fundingWitnessScript();
      const theirKey = this.remoteBp('fundingPubkey');
      const variants = ['theirs', 'ours', 'their-output-dropped'] as const;
      const variant = variants.find((v) => verifyInputSignature(this.closingTx(fee, v), 0, ws, this.data.fundingSat, msg.signature, theirKey));
      if (!variant) throw protocolError('Invalid closing signature');
      // A copy: ChannelData's nested objects are replaced, never changed in place (transact).
      const closing: ClosingState = { ...(this.data.closing ?? { feerateSatPerKw: 0, lastSentFee: null, ourRange: null, closingTxHex: null }) };
      this.data.closing = closing;
      const weight = this.closingWeight();
      const complete = (reply: ClosingSignedMessage | null) => {
        const tx = this.closingTx(fee, variant);
        const ours = signInput(tx, 0, ws, this.data.fundingSat, this.secrets.fundingPrivkey);
        setFundingWitness(tx, this.basepoints.fundingPubkey, theirKey, ours, msg.signature);
        closing.closingTxHex = tx.toHex();
        this.data.closingTxHex = closing.closingTxHex;
        this.data.state = 'CLOSING';
        return { reply, closingTxHex: closing.closingTxHex };
      };
      if (closing.lastSentFee === fee) return complete(null);
      const ourRange = closing.ourRange ?? {
        min: Math.ceil((weight * CHANNEL_LIMITS.minFeeratePerKw) / 1000),
        max: msg.feeRange ? Math.max(msg.feeRange.maxFeeSatoshis, 0) : Math.max(fee, 1),
      };
      let overlap = ourRange;
      if (msg.feeRange) {
        overlap = { min: Math.max(ourRange.min, msg.feeRange.minFeeSatoshis), max: Math.min(ourRange.max, msg.feeRange.maxFeeSatoshis) };
        // BOLT 2: "SHOULD send a warning" (the channel fails only if no better range comes).
        if (overlap.min > overlap.max) throw protocolWarning('No overlap between closing fee ranges');
        if (this.data.isFunder && (fee < overlap.min || fee > overlap.max)) throw protocolError('closing fee outside the agreed range');
        if (!this.data.isFunder && closing.lastSentFee !== null) throw protocolError('closing fee differs from the one we agreed to');
      }
      const chosen = Math.min(Math.max(fee, overlap.min), overlap.max);
      closing.ourRange = ourRange;
      closing.lastSentFee = chosen;
      const reply = this.closingSignedMessage(chosen, ourRange);
      if (chosen === fee) return complete(reply);
      return { reply, closingTxHex: null };
    });
  }

  /**
   * Our latest commitment transaction, fully signed (for a unilateral close). Refuses when the
   * peer proved we lost state (broadcasting would hand them our funds).
   */
  signedLocalCommitment(): string {
    if (this.data.weAreBehind) throw stateError('Our channel state is outdated; waiting for the peer to close');
    if (!this.data.localCommitSig) throw stateError('No signed commitment yet');
    const { commitment } = this.buildCommitment('local', this.data.localCtn);
    const ours = signInput(commitment.tx, 0, this.fundingWitnessScript(), this.data.fundingSat, this.secrets.fundingPrivkey);
    setFundingWitness(commitment.tx, this.basepoints.fundingPubkey, this.remoteBp('fundingPubkey'), ours, hexToBytes(this.data.localCommitSig.signature));
    return commitment.tx.toHex();
  }

  /**
   * Fails the channel (BOLT 1/5): marks it FORCE_CLOSING (or CLOSED before any commitment was
   * signed) and returns the error to send and the commitment to broadcast, if any. A channel
   * whose mutual close was already agreed (CLOSING) keeps its closing transaction.
   */
  failChannel(reason: string): { error: ErrorMessage; commitmentTxHex: string | null } {
    return this.transact(() => {
      let commitmentTxHex: string | null = null;
      // After a mutual close was agreed (CLOSING) its transaction stays the one to confirm.
      if (this.data.localCommitSig && !this.data.weAreBehind && !['CLOSING', 'CLOSED', 'REDEEMED'].includes(this.data.state)) {
        commitmentTxHex = this.signedLocalCommitment();
        this.data.closingTxHex = commitmentTxHex;
        this.data.state = 'FORCE_CLOSING';
      } else if (this.data.state === 'PREOPENING') {
        this.data.state = 'CLOSED';
      }
      return { error: { type: 'error', channelId: hexToBytes(this.data.channelId), data: new TextEncoder().encode(reason) }, commitmentTxHex };
    });
  }

  /** The closing (mutual or commitment) transaction confirmed: the channel is CLOSED. */
  markClosed(): void {
    this.transact(() => {
      this.data.state = 'CLOSED';
    });
  }

  /**
   * For the ChannelWatcher (BOLT 5): the funding output was spent on chain. Moves the state
   * forward (FORCE_CLOSING: a commitment is seen; CLOSED: the spend confirmed; REDEEMED: all our
   * outputs are swept and confirmed), or from CLOSED back to FORCE_CLOSING when a reorg took the
   * spend's confirmation away (REDEEMED is final), and records `closingTxHex` as the spending
   * transaction (the one on chain replaces the one we broadcast, e.g. the peer's commitment).
   */
  markOnchainClose(state: 'FORCE_CLOSING' | 'CLOSED' | 'REDEEMED', closingTxHex: string | null): void {
    const order: ChannelStateName[] = ['FORCE_CLOSING', 'CLOSED', 'REDEEMED'];
    const current = order.indexOf(this.data.state);
    const advances = order.indexOf(state) > current || (state === 'FORCE_CLOSING' && this.data.state === 'CLOSED');
    const recordsTx = closingTxHex !== null && this.data.closingTxHex !== closingTxHex;
    if (!advances && !recordsTx) return;
    this.transact(() => {
      if (advances) this.data.state = state;
      if (recordsTx) this.data.closingTxHex = closingTxHex;
    });
  }
}
