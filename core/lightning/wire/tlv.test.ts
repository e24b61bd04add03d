import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ByteReader, WireDecodeError, decodeBigSize, encodeBigSize, hexToBytes, bytesToHex } from './codec.js';
import { decodeTlvStream, encodeTlvStream, type TlvRecord } from './tlv.js';

// BOLT 1 Appendix A: BigSize test vectors (data).
const bigSizeDecode: { name: string; value: string; bytes: string; fails?: true }[] = [
  { name: 'zero', value: '0', bytes: '00' },
  { name: 'one byte high', value: '252', bytes: 'fc' },
  { name: 'two byte low', value: '253', bytes: 'fd00fd' },
  { name: 'two byte high', value: '65535', bytes: 'fdffff' },
  { name: 'four byte low', value: '65536', bytes: 'fe00010000' },
  { name: 'four byte high', value: '4294967295', bytes: 'feffffffff' },
  { name: 'eight byte low', value: '4294967296', bytes: 'ff0000000100000000' },
  { name: 'eight byte high', value: '18446744073709551615', bytes: 'ffffffffffffffffff' },
  { name: 'two byte not canonical', value: '0', bytes: 'fd00fc', fails: true },
  { name: 'four byte not canonical', value: '0', bytes: 'fe0000ffff', fails: true },
  { name: 'eight byte not canonical', value: '0', bytes: 'ff00000000ffffffff', fails: true },
  { name: 'two byte short read', value: '0', bytes: 'fd00', fails: true },
  { name: 'four byte short read', value: '0', bytes: 'feffff', fails: true },
  { name: 'eight byte short read', value: '0', bytes: 'ffffffffff', fails: true },
  { name: 'one byte no read', value: '0', bytes: '', fails: true },
  { name: 'two byte no read', value: '0', bytes: 'fd', fails: true },
  { name: 'four byte no read', value: '0', bytes: 'fe', fails: true },
  { name: 'eight byte no read', value: '0', bytes: 'ff', fails: true },
];

describe('BigSize (BOLT 1 Appendix A)', () => {
  for (const v of bigSizeDecode) {
    it(`decode: ${v.name}`, () => {
      if (v.fails) expect(() => decodeBigSize(hexToBytes(v.bytes))).toThrow(WireDecodeError);
      else expect(decodeBigSize(hexToBytes(v.bytes))).toBe(BigInt(v.value));
    });
    if (!v.fails)
      it(`encode: ${v.name}`, () => {
        expect(bytesToHex(encodeBigSize(BigInt(v.value)))).toBe(v.bytes);
      });
  }

  it('round-trips every u64', () => {
    fc.assert(fc.property(fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), (v) => decodeBigSize(encodeBigSize(v)) === v));
  });
});

// Test-only decoders for the BOLT 1 Appendix B namespaces n1 and n2.
function decodeN1(bytes: Uint8Array): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const rec of decodeTlvStream(bytes, new Set([1n, 2n, 3n, 254n]))) {
    const r = new ByteReader(rec.value);
    if (rec.type === 1n) out.tlv1 = r.truncatedUint(8, 'amount_msat');
    else if (rec.type === 2n) out.tlv2 = r.u64('scid');
    else if (rec.type === 3n) out.tlv3 = { nodeId: bytesToHex(r.point('node_id')), amount1: r.u64(), amount2: r.u64() };
    else if (rec.type === 254n) out.tlv4 = r.u16('cltv_delta');
    else continue;
    if (r.remaining !== 0) throw new WireDecodeError('TLV value longer than its type');
  }
  return out;
}

function decodeN2(bytes: Uint8Array): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const rec of decodeTlvStream(bytes, new Set([0n, 11n]))) {
    const r = new ByteReader(rec.value);
    if (rec.type === 0n) out.tlv1 = r.truncatedUint(8);
    else if (rec.type === 11n) out.tlv2 = r.truncatedUint(4);
  }
  return out;
}

const h = (s: string) => hexToBytes(s.replace(/0x/g, '').replace(/ /g, ''));

const invalidAnyNamespace = [
  '0xfd',
  '0xfd01',
  '0xfd0001 00',
  '0xfd0101',
  '0x0f fd',
  '0x0f fd26',
  '0x0f fd2602',
  '0x0f fd0001 00',
  '0x0f fd0201 ' + '00'.repeat(256),
  '0x12 00',
  '0xfd0102 00',
  '0xfe01000002 00',
  '0xff0100000000000002 00',
];

const invalidN1 = [
  '0x01 09 ffffffffffffffffff',
  '0x01 01 00',
  '0x01 02 0001',
  '0x01 03 000100',
  '0x01 04 00010000',
  '0x01 05 0001000000',
  '0x01 06 000100000000',
  '0x01 07 00010000000000',
  '0x01 08 0001000000000000',
  '0x02 07 01010101010101',
  '0x02 09 010101010101010101',
  '0x03 21 023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb',
  '0x03 29 023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb0000000000000001',
  '0x03 30 023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb000000000000000100000000000001',
  '0x03 31 043da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb00000000000000010000000000000002',
  '0x03 32 023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb0000000000000001000000000000000001',
  '0xfd00fe 00',
  '0xfd00fe 01 01',
  '0xfd00fe 03 010101',
  '0x00 00',
  // stream-level failures
  '0x02 08 0000000000000226 01 01 2a',
  '0x02 08 0000000000000231 02 08 0000000000000451',
  '0x1f 00 0f 01 2a',
  '0x1f 00 1f 01 2a',
];

const validIgnored = ['0x', '0x21 00', '0xfd0201 00', '0xfd00fd 00', '0xfd00ff 00', '0xfe02000001 00', '0xff0200000000000001 00'];

const validN1: [string, Record<string, unknown>][] = [
  ['0x01 00', { tlv1: 0n }],
  ['0x01 01 01', { tlv1: 1n }],
  ['0x01 02 0100', { tlv1: 256n }],
  ['0x01 03 010000', { tlv1: 65536n }],
  ['0x01 04 01000000', { tlv1: 16777216n }],
  ['0x01 05 0100000000', { tlv1: 4294967296n }],
  ['0x01 06 010000000000', { tlv1: 1099511627776n }],
  ['0x01 07 01000000000000', { tlv1: 281474976710656n }],
  ['0x01 08 0100000000000000', { tlv1: 72057594037927936n }],
  ['0x02 08 0000000000000226', { tlv2: 0x226n }],
  [
    '0x03 31 023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb00000000000000010000000000000002',
    { tlv3: { nodeId: '023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb', amount1: 1n, amount2: 2n } },
  ],
  ['0xfd00fe 02 0226', { tlv4: 550 }],
];

describe('TLV streams (BOLT 1 Appendix B)', () => {
  for (const s of invalidAnyNamespace) {
    it(`rejects in n1 and n2: ${s.slice(0, 40)}`, () => {
      expect(() => decodeN1(h(s))).toThrow(WireDecodeError);
      expect(() => decodeN2(h(s))).toThrow(WireDecodeError);
    });
  }
  for (const s of invalidN1) {
    it(`rejects in n1: ${s.slice(0, 40)}`, () => expect(() => decodeN1(h(s))).toThrow(WireDecodeError));
  }
  it('rejects in n2: valid records but invalid ordering', () => {
    expect(() => decodeN2(h('0xffffffffffffffffff 00 00 00'))).toThrow(WireDecodeError);
  });
  for (const s of validIgnored) {
    it(`accepts and ignores: ${s}`, () => {
      expect(decodeN1(h(s))).toEqual({});
      expect(decodeN2(h(s))).toEqual({});
    });
  }
  for (const [s, values] of validN1) {
    it(`decodes n1: ${s.slice(0, 40)}`, () => expect(decodeN1(h(s))).toEqual(values));
  }
  it('appending an invalid stream to a valid one fails; appending a higher valid one succeeds', () => {
    for (const [valid] of validN1) {
      for (const bad of invalidAnyNamespace) expect(() => decodeN1(new Uint8Array([...h(valid), ...h(bad)]))).toThrow();
    }
    expect(decodeN1(h('0x01 01 01 0xfd00fe 02 0226'))).toEqual({ tlv1: 1n, tlv4: 550 });
  });

  it('encode/decode round-trip and garbage only throws WireDecodeError', () => {
    const record = fc.record({ type: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }), value: fc.uint8Array({ maxLength: 300 }) });
    fc.assert(
      fc.property(fc.uniqueArray(record, { selector: (r) => r.type, maxLength: 6 }), (records: TlvRecord[]) => {
        const sorted = [...records].sort((a, b) => (a.type < b.type ? -1 : 1));
        expect(decodeTlvStream(encodeTlvStream(records))).toEqual(sorted);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeTlvStream(bytes, new Set([1n]));
        } catch (e) {
          expect(e).toBeInstanceOf(WireDecodeError);
        }
      }),
    );
  });
});
