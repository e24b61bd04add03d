/**
 * BOLT 7 messages Fulmen speaks: `channel_update` (for private channels, sent to and received
 * from the channel peer only) and the gossip queries (`query_short_channel_ids`,
 * `reply_short_channel_ids_end`, `query_channel_range`, `reply_channel_range`,
 * `gossip_timestamp_filter`).
 *
 * These arrive from Peer as `{ type: 'unknown', typeNumber, payload }` (messages.ts has no codec
 * for gossip); `decodeGossipMessage` turns the payload into a typed message and
 * `encodeGossipMessage` builds the `UnknownMessage` to send. Field names are the spec's in
 * camelCase; `...Msat` are bigint msat; short channel ids are u64 bigints (wire/codec.ts scid
 * helpers). Decoding is strict for the known fields (WireDecodeError); trailing TLV streams are
 * checked (unknown even types rejected) and known odd TLVs kept only where Fulmen uses them.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ecdsaSign, ecdsaVerify } from '../../bitcoin/secp256k1.js';
import { ByteReader, ByteWriter, WireDecodeError } from './codec.js';
import type { UnknownMessage } from './messages.js';
import { decodeTlvStream, encodeTlvStream, tlvGet, type TlvRecord } from './tlv.js';

/** BOLT 7 message type numbers. */
export const GossipMessageType = {
  channel_announcement: 256,
  node_announcement: 257,
  channel_update: 258,
  announcement_signatures: 259,
  query_short_channel_ids: 261,
  reply_short_channel_ids_end: 262,
  query_channel_range: 263,
  reply_channel_range: 264,
  gossip_timestamp_filter: 265,
} as const;

/** BOLT 7 `channel_update`. `signature` covers everything after it (double SHA-256, node key). */
export interface ChannelUpdateMessage {
  type: 'channel_update';
  signature: Uint8Array;
  chainHash: Uint8Array;
  shortChannelId: bigint;
  /** Unix seconds; strictly increasing per (scid, direction). */
  timestamp: number;
  /** bit 0 must_be_one, bit 1 dont_forward. */
  messageFlags: number;
  /** bit 0 direction, bit 1 disable. */
  channelFlags: number;
  cltvExpiryDelta: number;
  htlcMinimumMsat: bigint;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  htlcMaximumMsat: bigint;
  /** Bytes after htlc_maximum_msat (future fields): covered by the signature, kept verbatim. */
  extra: Uint8Array;
}

export interface QueryShortChannelIdsMessage {
  type: 'query_short_channel_ids';
  chainHash: Uint8Array;
  shortChannelIds: bigint[];
  /** TLV 1 `query_flags`, one per short channel id, when present. */
  queryFlags?: bigint[];
}

export interface ReplyShortChannelIdsEndMessage {
  type: 'reply_short_channel_ids_end';
  chainHash: Uint8Array;
  /** 1 when the sender maintains up-to-date channel information for the chain, else 0. */
  fullInformation: number;
}

export interface QueryChannelRangeMessage {
  type: 'query_channel_range';
  chainHash: Uint8Array;
  firstBlocknum: number;
  numberOfBlocks: number;
  /** TLV 1 `query_option_flags` (bit 0 timestamps, bit 1 checksums), when present. */
  queryOptionFlags?: bigint;
}

export interface ReplyChannelRangeMessage {
  type: 'reply_channel_range';
  chainHash: Uint8Array;
  firstBlocknum: number;
  numberOfBlocks: number;
  /** 1 on the final reply. */
  syncComplete: number;
  /** Ascending. Encoded uncompressed (encoding type 0). */
  shortChannelIds: bigint[];
  /** TLV 1 `timestamps_tlv`: per scid [timestamp_node_id_1, timestamp_node_id_2]. */
  timestamps?: [number, number][];
}

export interface GossipTimestampFilterMessage {
  type: 'gossip_timestamp_filter';
  chainHash: Uint8Array;
  firstTimestamp: number;
  timestampRange: number;
}

export type GossipMessage =
  | ChannelUpdateMessage
  | QueryShortChannelIdsMessage
  | ReplyShortChannelIdsEndMessage
  | QueryChannelRangeMessage
  | ReplyChannelRangeMessage
  | GossipTimestampFilterMessage;

/** channel_update message_flags bit 0: MUST be one. */
export const MESSAGE_FLAG_MUST_BE_ONE = 1;
/** channel_update message_flags bit 1: do not forward (updates of unannounced channels). */
export const MESSAGE_FLAG_DONT_FORWARD = 2;
/** channel_update channel_flags bit 0: direction (0 when the origin is node_id_1, the lesser id). */
export const CHANNEL_FLAG_DIRECTION = 1;
/** channel_update channel_flags bit 1: channel disabled. */
export const CHANNEL_FLAG_DISABLE = 2;

const ENCODING_UNCOMPRESSED = 0;

function readEncodedScids(bytes: Uint8Array): bigint[] {
  if (bytes.length === 0) return []; // some implementations send an empty array for "none"
  if (bytes[0] !== ENCODING_UNCOMPRESSED) throw new WireDecodeError(`Unsupported encoded_short_ids encoding ${bytes[0]}`);
  if ((bytes.length - 1) % 8 !== 0) throw new WireDecodeError('encoded_short_ids is not a whole number of short_channel_ids');
  const r = new ByteReader(bytes.subarray(1));
  const out: bigint[] = [];
  while (r.remaining > 0) out.push(r.u64('short_channel_id'));
  return out;
}

function encodeScids(scids: readonly bigint[]): Uint8Array {
  const w = new ByteWriter().u8(ENCODING_UNCOMPRESSED);
  for (const s of scids) w.u64(s);
  return w.finish();
}

/** The part of a channel_update the signature covers (everything after `signature`). */
function channelUpdateSignedPart(m: Omit<ChannelUpdateMessage, 'signature' | 'type'>): Uint8Array {
  return new ByteWriter()
    .bytesN(m.chainHash, 32, 'chain_hash')
    .u64(m.shortChannelId)
    .u32(m.timestamp)
    .u8(m.messageFlags)
    .u8(m.channelFlags)
    .u16(m.cltvExpiryDelta)
    .u64(m.htlcMinimumMsat)
    .u32(m.feeBaseMsat)
    .u32(m.feeProportionalMillionths)
    .u64(m.htlcMaximumMsat)
    .bytes(m.extra)
    .finish();
}

/**
 * Signs a channel_update with the origin's node private key: signature over
 * SHA256(SHA256(fields after signature)) (BOLT 7).
 */
export function signChannelUpdate(fields: Omit<ChannelUpdateMessage, 'signature' | 'type'>, nodePrivkey: Uint8Array): ChannelUpdateMessage {
  const digest = sha256(sha256(channelUpdateSignedPart(fields)));
  return { type: 'channel_update', signature: ecdsaSign(digest, nodePrivkey), ...fields };
}

/** True when `m.signature` is the signature of `nodeId` (33 bytes) over the update (BOLT 7). */
export function verifyChannelUpdate(m: ChannelUpdateMessage, nodeId: Uint8Array): boolean {
  const { signature, type: _type, ...fields } = m;
  return ecdsaVerify(signature, sha256(sha256(channelUpdateSignedPart(fields))), nodeId);
}

/**
 * Decodes a BOLT 7 message Fulmen handles, from Peer's `{ type: 'unknown' }` form.
 * @returns null for other gossip types (channel_announcement, node_announcement, ...).
 * @throws WireDecodeError when a handled message does not parse.
 */
export function decodeGossipMessage(msg: UnknownMessage): GossipMessage | null {
  const r = new ByteReader(msg.payload);
  switch (msg.typeNumber) {
    case GossipMessageType.channel_update:
      return {
        type: 'channel_update',
        signature: r.signature(),
        chainHash: r.bytesN(32, 'chain_hash'),
        shortChannelId: r.u64('short_channel_id'),
        timestamp: r.u32('timestamp'),
        messageFlags: r.u8('message_flags'),
        channelFlags: r.u8('channel_flags'),
        cltvExpiryDelta: r.u16('cltv_expiry_delta'),
        htlcMinimumMsat: r.u64('htlc_minimum_msat'),
        feeBaseMsat: r.u32('fee_base_msat'),
        feeProportionalMillionths: r.u32('fee_proportional_millionths'),
        htlcMaximumMsat: r.u64('htlc_maximum_msat'),
        extra: r.rest(),
      };
    case GossipMessageType.query_short_channel_ids: {
      const chainHash = r.bytesN(32, 'chain_hash');
      const shortChannelIds = readEncodedScids(r.varBytes16('encoded_short_ids'));
      const m: QueryShortChannelIdsMessage = { type: 'query_short_channel_ids', chainHash, shortChannelIds };
      const flags = tlvGet(decodeTlvStream(r.rest(), new Set([1n])), 1n);
      if (flags !== undefined) {
        if (flags[0] !== ENCODING_UNCOMPRESSED) throw new WireDecodeError(`Unsupported encoded_query_flags encoding ${flags[0]}`);
        const fr = new ByteReader(flags.subarray(1));
        const queryFlags: bigint[] = [];
        while (fr.remaining > 0) queryFlags.push(fr.bigSize('query_flag'));
        if (queryFlags.length !== shortChannelIds.length) throw new WireDecodeError('encoded_query_flags does not have one flag per short_channel_id');
        m.queryFlags = queryFlags;
      }
      return m;
    }
    case GossipMessageType.reply_short_channel_ids_end:
      return { type: 'reply_short_channel_ids_end', chainHash: r.bytesN(32, 'chain_hash'), fullInformation: r.u8('full_information') };
    case GossipMessageType.query_channel_range: {
      const m: QueryChannelRangeMessage = {
        type: 'query_channel_range',
        chainHash: r.bytesN(32, 'chain_hash'),
        firstBlocknum: r.u32('first_blocknum'),
        numberOfBlocks: r.u32('number_of_blocks'),
      };
      const option = tlvGet(decodeTlvStream(r.rest(), new Set([1n])), 1n);
      if (option !== undefined) {
        const or = new ByteReader(option);
        m.queryOptionFlags = or.bigSize('query_option_flags');
        if (or.remaining !== 0) throw new WireDecodeError('Invalid query_option TLV length');
      }
      return m;
    }
    case GossipMessageType.reply_channel_range: {
      const m: ReplyChannelRangeMessage = {
        type: 'reply_channel_range',
        chainHash: r.bytesN(32, 'chain_hash'),
        firstBlocknum: r.u32('first_blocknum'),
        numberOfBlocks: r.u32('number_of_blocks'),
        syncComplete: r.u8('sync_complete'),
        shortChannelIds: readEncodedScids(r.varBytes16('encoded_short_ids')),
      };
      const ts = tlvGet(decodeTlvStream(r.rest(), new Set([1n, 3n])), 1n);
      if (ts !== undefined) {
        if (ts[0] !== ENCODING_UNCOMPRESSED) throw new WireDecodeError(`Unsupported encoded_timestamps encoding ${ts[0]}`);
        if ((ts.length - 1) % 8 !== 0) throw new WireDecodeError('encoded_timestamps is not a whole number of timestamp pairs');
        const tr = new ByteReader(ts.subarray(1));
        const timestamps: [number, number][] = [];
        while (tr.remaining > 0) timestamps.push([tr.u32('timestamp_node_id_1'), tr.u32('timestamp_node_id_2')]);
        m.timestamps = timestamps;
      }
      return m;
    }
    case GossipMessageType.gossip_timestamp_filter:
      return {
        type: 'gossip_timestamp_filter',
        chainHash: r.bytesN(32, 'chain_hash'),
        firstTimestamp: r.u32('first_timestamp'),
        timestampRange: r.u32('timestamp_range'),
      };
    default:
      return null;
  }
}

/** Serializes a BOLT 7 message as the `UnknownMessage` Peer.send takes. */
export function encodeGossipMessage(m: GossipMessage): UnknownMessage {
  const w = new ByteWriter();
  switch (m.type) {
    case 'channel_update': {
      const { signature, type: _type, ...fields } = m;
      w.bytesN(signature, 64, 'signature').bytes(channelUpdateSignedPart(fields));
      break;
    }
    case 'query_short_channel_ids': {
      w.bytesN(m.chainHash, 32, 'chain_hash').varBytes16(encodeScids(m.shortChannelIds));
      const recs: TlvRecord[] = [];
      if (m.queryFlags !== undefined) {
        const fw = new ByteWriter().u8(ENCODING_UNCOMPRESSED);
        for (const f of m.queryFlags) fw.bigSize(f);
        recs.push({ type: 1n, value: fw.finish() });
      }
      w.bytes(encodeTlvStream(recs));
      break;
    }
    case 'reply_short_channel_ids_end':
      w.bytesN(m.chainHash, 32, 'chain_hash').u8(m.fullInformation);
      break;
    case 'query_channel_range': {
      w.bytesN(m.chainHash, 32, 'chain_hash').u32(m.firstBlocknum).u32(m.numberOfBlocks);
      const recs: TlvRecord[] = m.queryOptionFlags !== undefined ? [{ type: 1n, value: new ByteWriter().bigSize(m.queryOptionFlags).finish() }] : [];
      w.bytes(encodeTlvStream(recs));
      break;
    }
    case 'reply_channel_range': {
      w.bytesN(m.chainHash, 32, 'chain_hash').u32(m.firstBlocknum).u32(m.numberOfBlocks).u8(m.syncComplete).varBytes16(encodeScids(m.shortChannelIds));
      const recs: TlvRecord[] = [];
      if (m.timestamps !== undefined) {
        const tw = new ByteWriter().u8(ENCODING_UNCOMPRESSED);
        for (const [a, b] of m.timestamps) tw.u32(a).u32(b);
        recs.push({ type: 1n, value: tw.finish() });
      }
      w.bytes(encodeTlvStream(recs));
      break;
    }
    case 'gossip_timestamp_filter':
      w.bytesN(m.chainHash, 32, 'chain_hash').u32(m.firstTimestamp).u32(m.timestampRange);
      break;
  }
  return { type: 'unknown', typeNumber: GossipMessageType[m.type], payload: w.finish() };
}
