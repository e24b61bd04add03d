import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { WireDecodeError, hexToBytes, bytesToHex } from './codec.js';
import { decodeMessage, encodeMessage, MessageType, type LightningMessage } from './messages.js';
import { FeatureBits, assertFeaturesSupported } from './features.js';

const bytes = (n: number) => fc.uint8Array({ minLength: n, maxLength: n });
const varBytes = fc.uint8Array({ maxLength: 200 });
const point = fc.tuple(fc.constantFrom(2, 3), bytes(32)).map(([p, x]) => Uint8Array.from([p, ...x]));
const u16 = fc.integer({ min: 0, max: 0xffff });
const u32 = fc.integer({ min: 0, max: 0xffffffff });
const u64 = fc.bigInt({ min: 0n, max: (1n << 64n) - 1n });
const sat = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });
const sig = bytes(64);
const id32 = bytes(32);
const opt = <T>(a: fc.Arbitrary<T>) => fc.option(a, { nil: undefined });

const channelParams = {
  dustLimitSatoshis: sat,
  maxHtlcValueInFlightMsat: u64,
  channelReserveSatoshis: sat,
  htlcMinimumMsat: u64,
  toSelfDelay: u16,
  maxAcceptedHtlcs: u16,
  fundingPubkey: point,
  revocationBasepoint: point,
  paymentBasepoint: point,
  delayedPaymentBasepoint: point,
  htlcBasepoint: point,
  firstPerCommitmentPoint: point,
  upfrontShutdownScript: opt(varBytes),
  channelType: opt(fc.uint8Array({ maxLength: 8 })),
};

const arbitraries: { [K in LightningMessage['type']]: fc.Arbitrary<Extract<LightningMessage, { type: K }>> } = {
  init: fc.record(
    {
      type: fc.constant('init' as const),
      globalFeatures: varBytes,
      features: varBytes,
      networks: opt(fc.array(id32, { maxLength: 3 })),
      remoteAddr: opt(varBytes),
    },
    { requiredKeys: ['type', 'globalFeatures', 'features'] },
  ),
  error: fc.record({ type: fc.constant('error' as const), channelId: id32, data: varBytes }),
  warning: fc.record({ type: fc.constant('warning' as const), channelId: id32, data: varBytes }),
  ping: fc.record({ type: fc.constant('ping' as const), numPongBytes: u16, ignored: varBytes }),
  pong: fc.record({ type: fc.constant('pong' as const), ignored: varBytes }),
  open_channel: fc.record(
    {
      type: fc.constant('open_channel' as const),
      chainHash: id32,
      temporaryChannelId: id32,
      fundingSatoshis: sat,
      pushMsat: u64,
      feeratePerKw: u32,
      channelFlags: fc.integer({ min: 0, max: 255 }),
      ...channelParams,
    },
  ),
  accept_channel: fc.record({ type: fc.constant('accept_channel' as const), temporaryChannelId: id32, minimumDepth: u32, ...channelParams }),
  funding_created: fc.record({
    type: fc.constant('funding_created' as const),
    temporaryChannelId: id32,
    fundingTxid: id32,
    fundingOutputIndex: u16,
    signature: sig,
  }),
  funding_signed: fc.record({ type: fc.constant('funding_signed' as const), channelId: id32, signature: sig }),
  channel_ready: fc.record({ type: fc.constant('channel_ready' as const), channelId: id32, secondPerCommitmentPoint: point, alias: opt(u64) }),
  shutdown: fc.record({ type: fc.constant('shutdown' as const), channelId: id32, scriptpubkey: varBytes }),
  closing_signed: fc.record({
    type: fc.constant('closing_signed' as const),
    channelId: id32,
    feeSatoshis: sat,
    signature: sig,
    feeRange: opt(fc.record({ minFeeSatoshis: sat, maxFeeSatoshis: sat })),
  }),
  update_add_htlc: fc.record({
    type: fc.constant('update_add_htlc' as const),
    channelId: id32,
    id: u64,
    amountMsat: u64,
    paymentHash: id32,
    cltvExpiry: u32,
    onionRoutingPacket: bytes(1366),
    pathKey: opt(point),
  }),
  update_fulfill_htlc: fc.record({ type: fc.constant('update_fulfill_htlc' as const), channelId: id32, id: u64, paymentPreimage: id32 }),
  update_fail_htlc: fc.record({ type: fc.constant('update_fail_htlc' as const), channelId: id32, id: u64, reason: varBytes }),
  update_fail_malformed_htlc: fc.record({
    type: fc.constant('update_fail_malformed_htlc' as const),
    channelId: id32,
    id: u64,
    sha256OfOnion: id32,
    failureCode: u16,
  }),
  commitment_signed: fc.record({
    type: fc.constant('commitment_signed' as const),
    channelId: id32,
    signature: sig,
    htlcSignatures: fc.array(sig, { maxLength: 5 }),
  }),
  revoke_and_ack: fc.record({
    type: fc.constant('revoke_and_ack' as const),
    channelId: id32,
    perCommitmentSecret: id32,
    nextPerCommitmentPoint: point,
  }),
  update_fee: fc.record({ type: fc.constant('update_fee' as const), channelId: id32, feeratePerKw: u32 }),
  channel_reestablish: fc.record({
    type: fc.constant('channel_reestablish' as const),
    channelId: id32,
    nextCommitmentNumber: sat,
    nextRevocationNumber: sat,
    yourLastPerCommitmentSecret: id32,
    myCurrentPerCommitmentPoint: point,
  }),
};

/** Drops keys whose value is undefined so toEqual compares the shapes the decoder produces. */
function clean<T extends object>(m: T): T {
  return Object.fromEntries(Object.entries(m).filter(([, v]) => v !== undefined)) as T;
}

describe('message codecs', () => {
  for (const [name, arb] of Object.entries(arbitraries)) {
    it(`${name}: decode(encode(x)) = x`, () => {
      fc.assert(
        fc.property(arb as fc.Arbitrary<LightningMessage>, (msg) => {
          const encoded = encodeMessage(msg);
          expect((encoded[0]! << 8) | encoded[1]!).toBe(MessageType[msg.type]);
          expect(decodeMessage(encoded)).toEqual(clean(msg));
        }),
        { numRuns: 60 },
      );
    });

    it(`${name}: truncations and garbage only throw WireDecodeError`, () => {
      fc.assert(
        fc.property(arb as fc.Arbitrary<LightningMessage>, fc.nat(), fc.uint8Array({ maxLength: 40 }), (msg, cut, tail) => {
          const encoded = encodeMessage(msg);
          const variants = [encoded.slice(0, cut % (encoded.length + 1)), Uint8Array.from([...encoded, ...tail])];
          for (const v of variants) {
            try {
              decodeMessage(v);
            } catch (e) {
              expect(e).toBeInstanceOf(WireDecodeError);
            }
          }
        }),
        { numRuns: 60 },
      );
    });
  }

  it('random bytes with a known type only throw WireDecodeError', () => {
    const types = Object.values(MessageType);
    fc.assert(
      fc.property(fc.constantFrom(...types), fc.uint8Array({ maxLength: 1500 }), (t, payload) => {
        try {
          decodeMessage(Uint8Array.from([t >> 8, t & 0xff, ...payload]));
        } catch (e) {
          expect(e).toBeInstanceOf(WireDecodeError);
        }
      }),
      { numRuns: 2000 },
    );
  });

  it('unknown types come back as unknown with their payload', () => {
    expect(decodeMessage(hexToBytes('0100aabb'))).toEqual({ type: 'unknown', typeNumber: 256, payload: hexToBytes('aabb') });
    expect(decodeMessage(hexToBytes('8001'))).toEqual({ type: 'unknown', typeNumber: 32769, payload: new Uint8Array(0) });
    expect(bytesToHex(encodeMessage({ type: 'unknown', typeNumber: 32769, payload: hexToBytes('01') }))).toBe('800101');
  });

  it('init: parses the BOLT 1 layout with networks TLV and rejects unknown even TLVs', () => {
    const regtest = '06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f';
    const msg = decodeMessage(hexToBytes('0010' + '0000' + '0002' + '2200' + '0120' + regtest)) as LightningMessage;
    expect(msg).toEqual({ type: 'init', globalFeatures: new Uint8Array(0), features: hexToBytes('2200'), networks: [hexToBytes(regtest)] });
    expect(() => decodeMessage(hexToBytes('0010000000000200'))).toThrow(WireDecodeError);
    expect(decodeMessage(hexToBytes('0010000000000500'))).toEqual({ type: 'init', globalFeatures: new Uint8Array(0), features: new Uint8Array(0) });
    expect(() => decodeMessage(hexToBytes('001000000000011f' + '00'.repeat(31)))).toThrow(WireDecodeError);
  });

  it('ping: ignores trailing data after the known fields of messages without a TLV stream', () => {
    expect(decodeMessage(hexToBytes('0012000400000102'))).toEqual({ type: 'ping', numPongBytes: 4, ignored: new Uint8Array(0) });
  });

  it('rejects u64 satoshi values beyond 2^53 (never valid amounts)', () => {
    const base = encodeMessage({ type: 'closing_signed', channelId: new Uint8Array(32), feeSatoshis: 1, signature: new Uint8Array(64) });
    base.set([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 34);
    expect(() => decodeMessage(base)).toThrow(WireDecodeError);
  });
});

describe('feature bits (BOLT 9)', () => {
  it('converts between bits and minimal big-endian bytes', () => {
    const f = FeatureBits.fromBits([0, 9, 15]);
    expect(bytesToHex(f.toBytes())).toBe('8201');
    expect(FeatureBits.fromBytes(hexToBytes('008201')).bits()).toEqual([0, 9, 15]);
    expect(FeatureBits.empty().toBytes().length).toBe(0);
    fc.assert(fc.property(fc.uniqueArray(fc.nat(300)), (bits) => FeatureBits.fromBytes(FeatureBits.fromBits(bits).toBytes()).equals(FeatureBits.fromBits(bits))));
  });

  it('set/has/required by name', () => {
    const f = FeatureBits.fromFeatures({ var_onion_optin: 'required', payment_secret: 'optional', basic_mpp: 'optional' });
    expect(f.bits()).toEqual([8, 15, 17]);
    expect(f.has('payment_secret')).toBe(true);
    expect(f.isRequired('payment_secret')).toBe(false);
    expect(f.isRequired('var_onion_optin')).toBe(true);
    expect(f.has('option_anchors')).toBe(false);
    const g = f.with('payment_secret', 'required').without('basic_mpp');
    expect(g.bits()).toEqual([8, 14]);
    // both bits set counts as required
    expect(FeatureBits.fromBits([14, 15]).isRequired('payment_secret')).toBe(true);
  });

  it('rejects unknown required (even) bits, accepts unknown optional (odd) ones', () => {
    expect(() => assertFeaturesSupported(FeatureBits.fromBits([9, 101]), 'I')).not.toThrow();
    expect(() => assertFeaturesSupported(FeatureBits.fromBits([9, 100]), 'I')).toThrow(/100/);
    // known feature, but not valid in the context: option_payment_metadata is invoice-only
    expect(FeatureBits.fromBits([48]).unknownRequiredBits('I')).toEqual([48]);
    expect(FeatureBits.fromBits([48]).unknownRequiredBits('9')).toEqual([]);
  });

  it('checks dependencies (basic_mpp needs payment_secret)', () => {
    expect(() => assertFeaturesSupported(FeatureBits.fromFeatures({ basic_mpp: 'optional' }), '9')).toThrow(/payment_secret/);
  });
});
