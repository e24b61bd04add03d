/**
 * Typed codecs for the BOLT 1 setup/control messages and the BOLT 2 channel messages
 * (v1 channel establishment, close, normal operation, reestablish).
 *
 * Field names are the spec names in camelCase. Units: `...Msat` fields are bigint millisatoshis,
 * `...Satoshis` fields are integer satoshis as `number`; `id` (HTLC id) is a u64 bigint;
 * commitment numbers are `number` (BOLT 3 limits them to 48 bits). Hashes, channel ids, txids,
 * points and signatures are Uint8Array in wire byte order (txids as serialized, i.e. not reversed).
 *
 * Decoding (BOLT 1 "Lightning Message Format"): the 2-byte type selects the codec; known fields are
 * read strictly; for messages with a TLV stream, the remainder is parsed as that stream
 * (unknown even TLV types → error, unknown odd ones ignored); for messages without one, extra
 * trailing bytes are ignored ("MUST ignore any additional data"). Unknown message types are
 * returned as `{ type: 'unknown' }` — the caller ignores odd ones and fails the connection on
 * even ones (BOLT 1). All decode failures throw WireDecodeError (code PROTOCOL).
 */
import { ByteReader, ByteWriter, WireDecodeError } from './codec.js';
import { decodeTlvStream, encodeTlvStream, tlvGet, type TlvRecord } from './tlv.js';

/** BOLT 1/2 message type numbers. */
export const MessageType = {
  warning: 1,
  init: 16,
  error: 17,
  ping: 18,
  pong: 19,
  open_channel: 32,
  accept_channel: 33,
  funding_created: 34,
  funding_signed: 35,
  channel_ready: 36,
  shutdown: 38,
  closing_signed: 39,
  update_add_htlc: 128,
  update_fulfill_htlc: 130,
  update_fail_htlc: 131,
  commitment_signed: 132,
  revoke_and_ack: 133,
  update_fee: 134,
  update_fail_malformed_htlc: 135,
  channel_reestablish: 136,
} as const;

export type MessageName = keyof typeof MessageType;

/** BOLT 1 `init`. `features`/`globalFeatures` are raw big-endian feature bytes (see FeatureBits). */
export interface InitMessage {
  type: 'init';
  globalFeatures: Uint8Array;
  features: Uint8Array;
  /** TLV 1 `networks`: chain hashes (32 bytes each) the sender is interested in. */
  networks?: Uint8Array[];
  /** TLV 3 `remote_addr`: the address the sender sees us at (BOLT 7 address descriptor). */
  remoteAddr?: Uint8Array;
}

/** BOLT 1 `error` (fatal for the channel, or all channels when channelId is all zeros). */
export interface ErrorMessage {
  type: 'error';
  channelId: Uint8Array;
  data: Uint8Array;
}

/** BOLT 1 `warning` (not fatal). */
export interface WarningMessage {
  type: 'warning';
  channelId: Uint8Array;
  data: Uint8Array;
}

export interface PingMessage {
  type: 'ping';
  numPongBytes: number;
  ignored: Uint8Array;
}

export interface PongMessage {
  type: 'pong';
  ignored: Uint8Array;
}

/** BOLT 2 `open_channel` (v1). */
export interface OpenChannelMessage {
  type: 'open_channel';
  chainHash: Uint8Array;
  temporaryChannelId: Uint8Array;
  fundingSatoshis: number;
  pushMsat: bigint;
  dustLimitSatoshis: number;
  maxHtlcValueInFlightMsat: bigint;
  channelReserveSatoshis: number;
  htlcMinimumMsat: bigint;
  feeratePerKw: number;
  toSelfDelay: number;
  maxAcceptedHtlcs: number;
  fundingPubkey: Uint8Array;
  revocationBasepoint: Uint8Array;
  paymentBasepoint: Uint8Array;
  delayedPaymentBasepoint: Uint8Array;
  htlcBasepoint: Uint8Array;
  firstPerCommitmentPoint: Uint8Array;
  channelFlags: number;
  /** TLV 0; an empty script means "no upfront shutdown script" per BOLT 2. */
  upfrontShutdownScript?: Uint8Array;
  /** TLV 1: feature bytes of the channel type (FeatureBits.fromBytes). */
  channelType?: Uint8Array;
}

/** BOLT 2 `accept_channel` (v1). */
export interface AcceptChannelMessage {
  type: 'accept_channel';
  temporaryChannelId: Uint8Array;
  dustLimitSatoshis: number;
  maxHtlcValueInFlightMsat: bigint;
  channelReserveSatoshis: number;
  htlcMinimumMsat: bigint;
  minimumDepth: number;
  toSelfDelay: number;
  maxAcceptedHtlcs: number;
  fundingPubkey: Uint8Array;
  revocationBasepoint: Uint8Array;
  paymentBasepoint: Uint8Array;
  delayedPaymentBasepoint: Uint8Array;
  htlcBasepoint: Uint8Array;
  firstPerCommitmentPoint: Uint8Array;
  upfrontShutdownScript?: Uint8Array;
  channelType?: Uint8Array;
}

export interface FundingCreatedMessage {
  type: 'funding_created';
  temporaryChannelId: Uint8Array;
  /** 32 bytes, serialized (internal) byte order as in the spec. */
  fundingTxid: Uint8Array;
  fundingOutputIndex: number;
  signature: Uint8Array;
}

export interface FundingSignedMessage {
  type: 'funding_signed';
  channelId: Uint8Array;
  signature: Uint8Array;
}

export interface ChannelReadyMessage {
  type: 'channel_ready';
  channelId: Uint8Array;
  secondPerCommitmentPoint: Uint8Array;
  /** TLV 1 `short_channel_id`: the scid alias the sender wants us to use (u64). */
  alias?: bigint;
}

export interface ShutdownMessage {
  type: 'shutdown';
  channelId: Uint8Array;
  scriptpubkey: Uint8Array;
}

export interface ClosingSignedMessage {
  type: 'closing_signed';
  channelId: Uint8Array;
  feeSatoshis: number;
  signature: Uint8Array;
  /** TLV 1 `fee_range`. */
  feeRange?: { minFeeSatoshis: number; maxFeeSatoshis: number };
}

export interface UpdateAddHtlcMessage {
  type: 'update_add_htlc';
  channelId: Uint8Array;
  id: bigint;
  amountMsat: bigint;
  paymentHash: Uint8Array;
  cltvExpiry: number;
  /** 1366 bytes (BOLT 4). */
  onionRoutingPacket: Uint8Array;
  /** TLV 0 `blinded_path.path_key` (route blinding). */
  pathKey?: Uint8Array;
}

export interface UpdateFulfillHtlcMessage {
  type: 'update_fulfill_htlc';
  channelId: Uint8Array;
  id: bigint;
  paymentPreimage: Uint8Array;
}

export interface UpdateFailHtlcMessage {
  type: 'update_fail_htlc';
  channelId: Uint8Array;
  id: bigint;
  /** Encrypted failure onion (BOLT 4 "Returning Errors"). */
  reason: Uint8Array;
}

export interface UpdateFailMalformedHtlcMessage {
  type: 'update_fail_malformed_htlc';
  channelId: Uint8Array;
  id: bigint;
  sha256OfOnion: Uint8Array;
  failureCode: number;
}

export interface CommitmentSignedMessage {
  type: 'commitment_signed';
  channelId: Uint8Array;
  signature: Uint8Array;
  /** One 64-byte signature per HTLC output, in BOLT 3 output order. */
  htlcSignatures: Uint8Array[];
}

export interface RevokeAndAckMessage {
  type: 'revoke_and_ack';
  channelId: Uint8Array;
  perCommitmentSecret: Uint8Array;
  nextPerCommitmentPoint: Uint8Array;
}

export interface UpdateFeeMessage {
  type: 'update_fee';
  channelId: Uint8Array;
  feeratePerKw: number;
}

export interface ChannelReestablishMessage {
  type: 'channel_reestablish';
  channelId: Uint8Array;
  nextCommitmentNumber: number;
  nextRevocationNumber: number;
  /** option_data_loss_protect: 32 bytes (all zeros when none yet). */
  yourLastPerCommitmentSecret: Uint8Array;
  /** option_data_loss_protect: 33-byte point. */
  myCurrentPerCommitmentPoint: Uint8Array;
}

export type LightningMessage =
  | InitMessage
  | ErrorMessage
  | WarningMessage
  | PingMessage
  | PongMessage
  | OpenChannelMessage
  | AcceptChannelMessage
  | FundingCreatedMessage
  | FundingSignedMessage
  | ChannelReadyMessage
  | ShutdownMessage
  | ClosingSignedMessage
  | UpdateAddHtlcMessage
  | UpdateFulfillHtlcMessage
  | UpdateFailHtlcMessage
  | UpdateFailMalformedHtlcMessage
  | CommitmentSignedMessage
  | RevokeAndAckMessage
  | UpdateFeeMessage
  | ChannelReestablishMessage;

/** A message whose type Fulmen has no codec for (gossip, dual funding, custom, ...). */
export interface UnknownMessage {
  type: 'unknown';
  typeNumber: number;
  payload: Uint8Array;
}

/** Messages that carry a `channel_id` (or `temporary_channel_id`) and belong to one channel. */
export type ChannelMessage = Exclude<LightningMessage, InitMessage | PingMessage | PongMessage | ErrorMessage | WarningMessage>;

export type MessageOf<T extends LightningMessage['type']> = Extract<LightningMessage, { type: T }>;

export const ONION_PACKET_LENGTH = 1366;

/** The channel id a message is about: `temporary_channel_id` for open/accept/funding_created. */
export function messageChannelId(msg: LightningMessage): Uint8Array | undefined {
  if ('channelId' in msg) return msg.channelId;
  if ('temporaryChannelId' in msg) return msg.temporaryChannelId;
  return undefined;
}

const NO_TLVS: ReadonlySet<bigint> = new Set();

interface Codec<M extends LightningMessage> {
  encode(w: ByteWriter, m: M): void;
  decode(r: ByteReader): M;
}

function tlvs(r: ByteReader, known: ReadonlySet<bigint>): TlvRecord[] {
  return decodeTlvStream(r.rest(), known);
}

function exactLength(value: Uint8Array, n: number, what: string): void {
  if (value.length !== n) throw new WireDecodeError(`Invalid ${what} TLV length ${value.length}`);
}

const CHANNEL_OPEN_TLVS: ReadonlySet<bigint> = new Set([0n, 1n]);

function openTlvRecords(m: { upfrontShutdownScript?: Uint8Array; channelType?: Uint8Array }): TlvRecord[] {
  const out: TlvRecord[] = [];
  if (m.upfrontShutdownScript !== undefined) out.push({ type: 0n, value: m.upfrontShutdownScript });
  if (m.channelType !== undefined) out.push({ type: 1n, value: m.channelType });
  return out;
}

function readOpenTlvs(r: ByteReader): { upfrontShutdownScript?: Uint8Array; channelType?: Uint8Array } {
  const recs = tlvs(r, CHANNEL_OPEN_TLVS);
  const out: { upfrontShutdownScript?: Uint8Array; channelType?: Uint8Array } = {};
  const script = tlvGet(recs, 0n);
  if (script !== undefined) out.upfrontShutdownScript = script;
  const channelType = tlvGet(recs, 1n);
  if (channelType !== undefined) out.channelType = channelType;
  return out;
}

function writeChannelIdAndBytes(w: ByteWriter, channelId: Uint8Array, data: Uint8Array): void {
  w.bytesN(channelId, 32, 'channel_id').varBytes16(data);
}

const codecs: { [K in MessageName]: Codec<MessageOf<K>> } = {
  init: {
    encode(w, m) {
      w.varBytes16(m.globalFeatures).varBytes16(m.features);
      const recs: TlvRecord[] = [];
      if (m.networks !== undefined) {
        const nw = new ByteWriter();
        for (const h of m.networks) nw.bytesN(h, 32, 'chain_hash');
        recs.push({ type: 1n, value: nw.finish() });
      }
      if (m.remoteAddr !== undefined) recs.push({ type: 3n, value: m.remoteAddr });
      w.bytes(encodeTlvStream(recs));
    },
    decode(r) {
      const globalFeatures = r.varBytes16('globalfeatures');
      const features = r.varBytes16('features');
      const recs = tlvs(r, new Set([1n, 3n]));
      const m: InitMessage = { type: 'init', globalFeatures, features };
      const networks = tlvGet(recs, 1n);
      if (networks !== undefined) {
        if (networks.length % 32 !== 0) throw new WireDecodeError('Invalid networks TLV length');
        m.networks = [];
        for (let i = 0; i < networks.length; i += 32) m.networks.push(networks.slice(i, i + 32));
      }
      const remoteAddr = tlvGet(recs, 3n);
      if (remoteAddr !== undefined) m.remoteAddr = remoteAddr;
      return m;
    },
  },
  error: {
    encode: (w, m) => writeChannelIdAndBytes(w, m.channelId, m.data),
    decode: (r) => ({ type: 'error', channelId: r.bytesN(32, 'channel_id'), data: r.varBytes16('data') }),
  },
  warning: {
    encode: (w, m) => writeChannelIdAndBytes(w, m.channelId, m.data),
    decode: (r) => ({ type: 'warning', channelId: r.bytesN(32, 'channel_id'), data: r.varBytes16('data') }),
  },
  ping: {
    encode: (w, m) => void w.u16(m.numPongBytes).varBytes16(m.ignored),
    decode: (r) => ({ type: 'ping', numPongBytes: r.u16('num_pong_bytes'), ignored: r.varBytes16('ignored') }),
  },
  pong: {
    encode: (w, m) => void w.varBytes16(m.ignored),
    decode: (r) => ({ type: 'pong', ignored: r.varBytes16('ignored') }),
  },
  open_channel: {
    encode(w, m) {
      w.bytesN(m.chainHash, 32, 'chain_hash')
        .bytesN(m.temporaryChannelId, 32, 'temporary_channel_id')
        .u64(m.fundingSatoshis)
        .u64(m.pushMsat)
        .u64(m.dustLimitSatoshis)
        .u64(m.maxHtlcValueInFlightMsat)
        .u64(m.channelReserveSatoshis)
        .u64(m.htlcMinimumMsat)
        .u32(m.feeratePerKw)
        .u16(m.toSelfDelay)
        .u16(m.maxAcceptedHtlcs)
        .bytesN(m.fundingPubkey, 33, 'funding_pubkey')
        .bytesN(m.revocationBasepoint, 33, 'revocation_basepoint')
        .bytesN(m.paymentBasepoint, 33, 'payment_basepoint')
        .bytesN(m.delayedPaymentBasepoint, 33, 'delayed_payment_basepoint')
        .bytesN(m.htlcBasepoint, 33, 'htlc_basepoint')
        .bytesN(m.firstPerCommitmentPoint, 33, 'first_per_commitment_point')
        .u8(m.channelFlags)
        .bytes(encodeTlvStream(openTlvRecords(m)));
    },
    decode(r) {
      return {
        type: 'open_channel',
        chainHash: r.bytesN(32, 'chain_hash'),
        temporaryChannelId: r.bytesN(32, 'temporary_channel_id'),
        fundingSatoshis: r.u64Number('funding_satoshis'),
        pushMsat: r.u64('push_msat'),
        dustLimitSatoshis: r.u64Number('dust_limit_satoshis'),
        maxHtlcValueInFlightMsat: r.u64('max_htlc_value_in_flight_msat'),
        channelReserveSatoshis: r.u64Number('channel_reserve_satoshis'),
        htlcMinimumMsat: r.u64('htlc_minimum_msat'),
        feeratePerKw: r.u32('feerate_per_kw'),
        toSelfDelay: r.u16('to_self_delay'),
        maxAcceptedHtlcs: r.u16('max_accepted_htlcs'),
        fundingPubkey: r.point('funding_pubkey'),
        revocationBasepoint: r.point('revocation_basepoint'),
        paymentBasepoint: r.point('payment_basepoint'),
        delayedPaymentBasepoint: r.point('delayed_payment_basepoint'),
        htlcBasepoint: r.point('htlc_basepoint'),
        firstPerCommitmentPoint: r.point('first_per_commitment_point'),
        channelFlags: r.u8('channel_flags'),
        ...readOpenTlvs(r),
      };
    },
  },
  accept_channel: {
    encode(w, m) {
      w.bytesN(m.temporaryChannelId, 32, 'temporary_channel_id')
        .u64(m.dustLimitSatoshis)
        .u64(m.maxHtlcValueInFlightMsat)
        .u64(m.channelReserveSatoshis)
        .u64(m.htlcMinimumMsat)
        .u32(m.minimumDepth)
        .u16(m.toSelfDelay)
        .u16(m.maxAcceptedHtlcs)
        .bytesN(m.fundingPubkey, 33, 'funding_pubkey')
        .bytesN(m.revocationBasepoint, 33, 'revocation_basepoint')
        .bytesN(m.paymentBasepoint, 33, 'payment_basepoint')
        .bytesN(m.delayedPaymentBasepoint, 33, 'delayed_payment_basepoint')
        .bytesN(m.htlcBasepoint, 33, 'htlc_basepoint')
        .bytesN(m.firstPerCommitmentPoint, 33, 'first_per_commitment_point')
        .bytes(encodeTlvStream(openTlvRecords(m)));
    },
    decode(r) {
      return {
        type: 'accept_channel',
        temporaryChannelId: r.bytesN(32, 'temporary_channel_id'),
        dustLimitSatoshis: r.u64Number('dust_limit_satoshis'),
        maxHtlcValueInFlightMsat: r.u64('max_htlc_value_in_flight_msat'),
        channelReserveSatoshis: r.u64Number('channel_reserve_satoshis'),
        htlcMinimumMsat: r.u64('htlc_minimum_msat'),
        minimumDepth: r.u32('minimum_depth'),
        toSelfDelay: r.u16('to_self_delay'),
        maxAcceptedHtlcs: r.u16('max_accepted_htlcs'),
        fundingPubkey: r.point('funding_pubkey'),
        revocationBasepoint: r.point('revocation_basepoint'),
        paymentBasepoint: r.point('payment_basepoint'),
        delayedPaymentBasepoint: r.point('delayed_payment_basepoint'),
        htlcBasepoint: r.point('htlc_basepoint'),
        firstPerCommitmentPoint: r.point('first_per_commitment_point'),
        ...readOpenTlvs(r),
      };
    },
  },
  funding_created: {
    encode(w, m) {
      w.bytesN(m.temporaryChannelId, 32, 'temporary_channel_id')
        .bytesN(m.fundingTxid, 32, 'funding_txid')
        .u16(m.fundingOutputIndex)
        .bytesN(m.signature, 64, 'signature');
    },
    decode: (r) => ({
      type: 'funding_created',
      temporaryChannelId: r.bytesN(32, 'temporary_channel_id'),
      fundingTxid: r.bytesN(32, 'funding_txid'),
      fundingOutputIndex: r.u16('funding_output_index'),
      signature: r.signature(),
    }),
  },
  funding_signed: {
    encode: (w, m) => void w.bytesN(m.channelId, 32, 'channel_id').bytesN(m.signature, 64, 'signature'),
    decode: (r) => ({ type: 'funding_signed', channelId: r.bytesN(32, 'channel_id'), signature: r.signature() }),
  },
  channel_ready: {
    encode(w, m) {
      w.bytesN(m.channelId, 32, 'channel_id').bytesN(m.secondPerCommitmentPoint, 33, 'second_per_commitment_point');
      const recs: TlvRecord[] = [];
      if (m.alias !== undefined) recs.push({ type: 1n, value: new ByteWriter().u64(m.alias).finish() });
      w.bytes(encodeTlvStream(recs));
    },
    decode(r) {
      const m: ChannelReadyMessage = {
        type: 'channel_ready',
        channelId: r.bytesN(32, 'channel_id'),
        secondPerCommitmentPoint: r.point('second_per_commitment_point'),
      };
      const alias = tlvGet(tlvs(r, NO_TLVS), 1n);
      if (alias !== undefined) {
        exactLength(alias, 8, 'short_channel_id');
        m.alias = new ByteReader(alias).u64();
      }
      return m;
    },
  },
  shutdown: {
    encode: (w, m) => writeChannelIdAndBytes(w, m.channelId, m.scriptpubkey),
    decode: (r) => ({ type: 'shutdown', channelId: r.bytesN(32, 'channel_id'), scriptpubkey: r.varBytes16('scriptpubkey') }),
  },
  closing_signed: {
    encode(w, m) {
      w.bytesN(m.channelId, 32, 'channel_id').u64(m.feeSatoshis).bytesN(m.signature, 64, 'signature');
      const recs: TlvRecord[] = [];
      if (m.feeRange !== undefined)
        recs.push({ type: 1n, value: new ByteWriter().u64(m.feeRange.minFeeSatoshis).u64(m.feeRange.maxFeeSatoshis).finish() });
      w.bytes(encodeTlvStream(recs));
    },
    decode(r) {
      const m: ClosingSignedMessage = {
        type: 'closing_signed',
        channelId: r.bytesN(32, 'channel_id'),
        feeSatoshis: r.u64Number('fee_satoshis'),
        signature: r.signature(),
      };
      const range = tlvGet(tlvs(r, NO_TLVS), 1n);
      if (range !== undefined) {
        exactLength(range, 16, 'fee_range');
        const rr = new ByteReader(range);
        m.feeRange = { minFeeSatoshis: rr.u64Number('min_fee_satoshis'), maxFeeSatoshis: rr.u64Number('max_fee_satoshis') };
      }
      return m;
    },
  },
  update_add_htlc: {
    encode(w, m) {
      w.bytesN(m.channelId, 32, 'channel_id')
        .u64(m.id)
        .u64(m.amountMsat)
        .bytesN(m.paymentHash, 32, 'payment_hash')
        .u32(m.cltvExpiry)
        .bytesN(m.onionRoutingPacket, ONION_PACKET_LENGTH, 'onion_routing_packet');
      const recs: TlvRecord[] = [];
      if (m.pathKey !== undefined) recs.push({ type: 0n, value: m.pathKey });
      w.bytes(encodeTlvStream(recs));
    },
    decode(r) {
      const m: UpdateAddHtlcMessage = {
        type: 'update_add_htlc',
        channelId: r.bytesN(32, 'channel_id'),
        id: r.u64('id'),
        amountMsat: r.u64('amount_msat'),
        paymentHash: r.bytesN(32, 'payment_hash'),
        cltvExpiry: r.u32('cltv_expiry'),
        onionRoutingPacket: r.bytesN(ONION_PACKET_LENGTH, 'onion_routing_packet'),
      };
      const pathKey = tlvGet(tlvs(r, new Set([0n])), 0n);
      if (pathKey !== undefined) {
        exactLength(pathKey, 33, 'blinded_path');
        m.pathKey = new ByteReader(pathKey).point('path_key');
      }
      return m;
    },
  },
  update_fulfill_htlc: {
    encode: (w, m) =>
      void w.bytesN(m.channelId, 32, 'channel_id').u64(m.id).bytesN(m.paymentPreimage, 32, 'payment_preimage'),
    decode(r) {
      const m: UpdateFulfillHtlcMessage = {
        type: 'update_fulfill_htlc',
        channelId: r.bytesN(32, 'channel_id'),
        id: r.u64('id'),
        paymentPreimage: r.bytesN(32, 'payment_preimage'),
      };
      tlvs(r, NO_TLVS); // attribution_data (odd) is accepted and ignored
      return m;
    },
  },
  update_fail_htlc: {
    encode: (w, m) => void w.bytesN(m.channelId, 32, 'channel_id').u64(m.id).varBytes16(m.reason),
    decode(r) {
      const m: UpdateFailHtlcMessage = {
        type: 'update_fail_htlc',
        channelId: r.bytesN(32, 'channel_id'),
        id: r.u64('id'),
        reason: r.varBytes16('reason'),
      };
      tlvs(r, NO_TLVS);
      return m;
    },
  },
  update_fail_malformed_htlc: {
    encode: (w, m) =>
      void w
        .bytesN(m.channelId, 32, 'channel_id')
        .u64(m.id)
        .bytesN(m.sha256OfOnion, 32, 'sha256_of_onion')
        .u16(m.failureCode),
    decode: (r) => ({
      type: 'update_fail_malformed_htlc',
      channelId: r.bytesN(32, 'channel_id'),
      id: r.u64('id'),
      sha256OfOnion: r.bytesN(32, 'sha256_of_onion'),
      failureCode: r.u16('failure_code'),
    }),
  },
  commitment_signed: {
    encode(w, m) {
      w.bytesN(m.channelId, 32, 'channel_id').bytesN(m.signature, 64, 'signature').u16(m.htlcSignatures.length);
      for (const s of m.htlcSignatures) w.bytesN(s, 64, 'htlc_signature');
    },
    decode(r) {
      const channelId = r.bytesN(32, 'channel_id');
      const signature = r.signature();
      const n = r.u16('num_htlcs');
      const htlcSignatures: Uint8Array[] = [];
      for (let i = 0; i < n; i++) htlcSignatures.push(r.signature('htlc_signature'));
      tlvs(r, NO_TLVS); // funding_txid (splicing, odd) is accepted and ignored
      return { type: 'commitment_signed', channelId, signature, htlcSignatures };
    },
  },
  revoke_and_ack: {
    encode: (w, m) =>
      void w
        .bytesN(m.channelId, 32, 'channel_id')
        .bytesN(m.perCommitmentSecret, 32, 'per_commitment_secret')
        .bytesN(m.nextPerCommitmentPoint, 33, 'next_per_commitment_point'),
    decode: (r) => ({
      type: 'revoke_and_ack',
      channelId: r.bytesN(32, 'channel_id'),
      perCommitmentSecret: r.bytesN(32, 'per_commitment_secret'),
      nextPerCommitmentPoint: r.point('next_per_commitment_point'),
    }),
  },
  update_fee: {
    encode: (w, m) => void w.bytesN(m.channelId, 32, 'channel_id').u32(m.feeratePerKw),
    decode: (r) => ({ type: 'update_fee', channelId: r.bytesN(32, 'channel_id'), feeratePerKw: r.u32('feerate_per_kw') }),
  },
  channel_reestablish: {
    encode(w, m) {
      w.bytesN(m.channelId, 32, 'channel_id')
        .u64(m.nextCommitmentNumber)
        .u64(m.nextRevocationNumber)
        .bytesN(m.yourLastPerCommitmentSecret, 32, 'your_last_per_commitment_secret')
        .bytesN(m.myCurrentPerCommitmentPoint, 33, 'my_current_per_commitment_point');
    },
    decode(r) {
      const m: ChannelReestablishMessage = {
        type: 'channel_reestablish',
        channelId: r.bytesN(32, 'channel_id'),
        nextCommitmentNumber: r.u64Number('next_commitment_number'),
        nextRevocationNumber: r.u64Number('next_revocation_number'),
        yourLastPerCommitmentSecret: r.bytesN(32, 'your_last_per_commitment_secret'),
        myCurrentPerCommitmentPoint: r.point('my_current_per_commitment_point'),
      };
      tlvs(r, NO_TLVS); // next_funding / my_current_funding_locked (dual funding, splicing: odd) ignored
      return m;
    },
  },
};

const NAME_BY_NUMBER = new Map<number, MessageName>(
  (Object.entries(MessageType) as [MessageName, number][]).map(([name, n]) => [n, name]),
);

/** Maximum Lightning message size: 65535 bytes including the 2-byte type (BOLT 8 length prefix). */
export const MAX_MESSAGE_LENGTH = 65535;

/**
 * Serializes a message: u16 type || payload (BOLT 1).
 * @throws FulmenError INTERNAL when a field has the wrong size or range (a programming error).
 */
export function encodeMessage(msg: LightningMessage | UnknownMessage): Uint8Array {
  const w = new ByteWriter();
  if (msg.type === 'unknown') {
    w.u16(msg.typeNumber).bytes(msg.payload);
  } else {
    w.u16(MessageType[msg.type]);
    (codecs[msg.type] as Codec<LightningMessage>).encode(w, msg);
  }
  return w.finish();
}

/**
 * Parses one message (u16 type || payload). Unknown types come back as `{ type: 'unknown' }`.
 * @throws WireDecodeError (code PROTOCOL) when a known message does not parse.
 */
export function decodeMessage(bytes: Uint8Array): LightningMessage | UnknownMessage {
  const r = new ByteReader(bytes);
  const typeNumber = r.u16('message type');
  const name = NAME_BY_NUMBER.get(typeNumber);
  if (name === undefined) return { type: 'unknown', typeNumber, payload: r.rest() };
  return codecs[name].decode(r);
}

/** Readable text of an error/warning `data` field (printable ASCII only, else hex). */
export function errorDataText(data: Uint8Array): string {
  const printable = data.every((b) => (b >= 0x20 && b < 0x7f) || b === 0x0a || b === 0x09);
  if (printable) return new TextDecoder().decode(data);
  return Array.from(data, (b) => b.toString(16).padStart(2, '0')).join('');
}
