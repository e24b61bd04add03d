import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { WireDecodeError, compareBytes } from './codec.js';
import {
  GossipMessageType,
  decodeGossipMessage,
  encodeGossipMessage,
  signChannelUpdate,
  verifyChannelUpdate,
  type ChannelUpdateMessage,
  type GossipMessage,
} from './gossip.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });

const gossipArb: fc.Arbitrary<GossipMessage> = fc.oneof(
  fc.record({
    type: fc.constant('channel_update' as const),
    signature: bytes(64),
    chainHash: bytes(32),
    shortChannelId: u64,
    timestamp: u32,
    messageFlags: fc.integer({ min: 0, max: 255 }),
    channelFlags: fc.integer({ min: 0, max: 255 }),
    cltvExpiryDelta: fc.integer({ min: 0, max: 0xffff }),
    htlcMinimumMsat: u64,
    feeBaseMsat: u32,
    feeProportionalMillionths: u32,
    htlcMaximumMsat: u64,
    extra: fc.uint8Array({ maxLength: 20 }),
  }),
  fc.record(
    {
      type: fc.constant('query_short_channel_ids' as const),
      chainHash: bytes(32),
      shortChannelIds: fc.array(u64, { maxLength: 20 }),
    },
    { requiredKeys: ['type', 'chainHash', 'shortChannelIds'] },
  ),
  fc.record({ type: fc.constant('reply_short_channel_ids_end' as const), chainHash: bytes(32), fullInformation: fc.integer({ min: 0, max: 1 }) }),
  fc.record(
    {
      type: fc.constant('query_channel_range' as const),
      chainHash: bytes(32),
      firstBlocknum: u32,
      numberOfBlocks: u32,
      queryOptionFlags: fc.bigInt({ min: 0n, max: 3n }),
    },
    { requiredKeys: ['type', 'chainHash', 'firstBlocknum', 'numberOfBlocks'] },
  ),
  fc
    .record({
      type: fc.constant('reply_channel_range' as const),
      chainHash: bytes(32),
      firstBlocknum: u32,
      numberOfBlocks: u32,
      syncComplete: fc.integer({ min: 0, max: 1 }),
      shortChannelIds: fc.array(u64, { maxLength: 20 }),
      withTimestamps: fc.boolean(),
    })
    .map(({ withTimestamps, ...m }) => (withTimestamps ? { ...m, timestamps: m.shortChannelIds.map((_, i) => [i, i + 1] as [number, number]) } : m)),
  fc.record({ type: fc.constant('gossip_timestamp_filter' as const), chainHash: bytes(32), firstTimestamp: u32, timestampRange: u32 }),
);

describe('BOLT 7 gossip codecs (wire/gossip.ts)', () => {
  it('decode(encode(m)) = m for every message Fulmen speaks (property)', () => {
    fc.assert(
      fc.property(gossipArb, (m) => {
        // query flags must match the ids one to one: derive them here
        const msg = m.type === 'query_short_channel_ids' && m.shortChannelIds.length % 2 === 0 ? { ...m, queryFlags: m.shortChannelIds.map((_, i) => BigInt(i % 31)) } : m;
        expect(decodeGossipMessage(encodeGossipMessage(msg))).toEqual(msg);
      }),
      { numRuns: 300 },
    );
  });

  it('garbage never throws anything but WireDecodeError', () => {
    fc.assert(
      fc.property(fc.constantFrom(258, 261, 262, 263, 264, 265), fc.uint8Array({ maxLength: 200 }), (typeNumber, payload) => {
        try {
          decodeGossipMessage({ type: 'unknown', typeNumber, payload });
        } catch (e) {
          expect(e).toBeInstanceOf(WireDecodeError);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('rejects the zlib encoding, partial short_channel_ids and a query_flags count mismatch (BOLT 7)', () => {
    const chainHash = new Uint8Array(32);
    const zlib = { type: 'unknown' as const, typeNumber: GossipMessageType.query_short_channel_ids, payload: Uint8Array.of(...chainHash, 0, 1, 1) };
    expect(() => decodeGossipMessage(zlib)).toThrow(/encoding 1/);
    const partial = { type: 'unknown' as const, typeNumber: GossipMessageType.query_short_channel_ids, payload: Uint8Array.of(...chainHash, 0, 4, 0, 1, 2, 3) };
    expect(() => decodeGossipMessage(partial)).toThrow(/whole number/);
    const noFlags = encodeGossipMessage({ type: 'query_short_channel_ids', chainHash, shortChannelIds: [1n, 2n] });
    // TLV 1 query_flags: encoding 0, a single flag for two short_channel_ids
    const dropOneFlag = { ...noFlags, payload: Uint8Array.of(...noFlags.payload, 1, 2, 0, 1) };
    expect(() => decodeGossipMessage(dropOneFlag)).toThrow(/one flag per/);
    expect(decodeGossipMessage({ type: 'unknown', typeNumber: GossipMessageType.channel_announcement, payload: new Uint8Array(0) })).toBeNull();
  });

  it('signs channel_update over the double SHA-256 of the fields after the signature; any change breaks it', () => {
    const priv = new Uint8Array(32).fill(9);
    const nodeId = secp256k1.getPublicKey(priv, true);
    const update = signChannelUpdate(
      {
        chainHash: new Uint8Array(32).fill(6),
        shortChannelId: 123n << 40n,
        timestamp: 1_700_000_000,
        messageFlags: 3,
        channelFlags: 1,
        cltvExpiryDelta: 144,
        htlcMinimumMsat: 1n,
        feeBaseMsat: 1000,
        feeProportionalMillionths: 1,
        htlcMaximumMsat: 990_000_000n,
        extra: new Uint8Array(0),
      },
      priv,
    );
    expect(verifyChannelUpdate(update, nodeId)).toBe(true);
    const decoded = decodeGossipMessage(encodeGossipMessage(update)) as ChannelUpdateMessage;
    expect(verifyChannelUpdate(decoded, nodeId)).toBe(true);
    expect(verifyChannelUpdate({ ...update, feeBaseMsat: 1001 }, nodeId)).toBe(false);
    expect(verifyChannelUpdate({ ...update, extra: Uint8Array.of(1) }, nodeId)).toBe(false);
    expect(verifyChannelUpdate(update, secp256k1.getPublicKey(new Uint8Array(32).fill(8), true))).toBe(false);
  });

  it('orders node ids lexicographically (BOLT 7 node_id_1 is the lesser)', () => {
    expect(compareBytes(Uint8Array.of(2, 1), Uint8Array.of(3, 0))).toBe(-1);
    expect(compareBytes(Uint8Array.of(3, 1), Uint8Array.of(3, 0))).toBe(1);
    expect(compareBytes(Uint8Array.of(3, 1), Uint8Array.of(3, 1))).toBe(0);
  });
});
