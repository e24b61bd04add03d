import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { sha256 } from '@noble/hashes/sha2.js';
import { FulmenError } from '../../util/errors.js';
import { bytesToHex, hexToBytes, formatScid } from '../wire/codec.js';
import { FeatureBits } from '../wire/features.js';
import { decodeInvoice, encodeInvoice, fallbackToAddress, isExpired, descriptionMatchesHash, type InvoiceFields } from './bolt11.js';

const examples = JSON.parse(readFileSync(new URL('./testdata/bolt11-examples.json', import.meta.url), 'utf8')) as {
  valid: { title: string; invoice: string }[];
  invalid: { title: string; invoice: string }[];
};
const PRIV = hexToBytes('e126f68f7eafcc8b74f54d269fe206be715000f94dac067d1c04a8ca3b2db734');
const NODE_ID = '03e7156ae33b0a208d0744199163177e909e80176e55d97a2f221ede0f934dd9ad';
const HASH = '0001020304050607080900010203040506070809000102030405060708090102';
const SECRET = '11'.repeat(32);
const CAKE =
  'One piece of chocolate cake, one icecream cone, one pickle, one slice of swiss cheese, one slice of salami, one lollypop, one piece of cherry pie, one sausage, one cupcake, and one slice of watermelon';

const byTitle = (t: string) => examples.valid.find((e) => e.title.startsWith(t))!.invoice;

/** Expected values per valid example (from the breakdowns in 11-payment-encoding.md). */
const expectations: [string, (inv: ReturnType<typeof decodeInvoice>) => void][] = [
  ['Please make a donation', (inv) => {
    expect(inv.amountMsat).toBeUndefined();
    expect(inv.description).toBe('Please consider supporting this project');
    expect(inv.features.bits()).toEqual([8, 14]);
  }],
  ['Please send $3 for a cup of coffee', (inv) => {
    expect(inv.amountMsat).toBe(250_000_000n);
    expect(inv.description).toBe('1 cup coffee');
    expect(inv.expirySec).toBe(60);
  }],
  ['Please send 0.0025 BTC for a cup of nonsense', (inv) => {
    expect(inv.amountMsat).toBe(250_000_000n);
    expect(inv.description).toBe('ナンセンス 1杯');
    expect(inv.expirySec).toBe(60);
  }],
  ['Now send $24', (inv) => {
    expect(inv.amountMsat).toBe(2_000_000_000n);
    expect(bytesToHex(inv.descriptionHash!)).toBe('3925b6f67e2c340036ed12093dd44e0368df1b6ea26c53dbe4811f58fd5db8c1');
    expect(descriptionMatchesHash(inv, CAKE)).toBe(true);
    expect(inv.expirySec).toBe(3600);
  }],
  ['The same, on testnet', (inv) => {
    expect(inv.network).toBe('testnet');
    expect(fallbackToAddress(inv.fallbacks[0]!, inv.network)).toBe('mk2QpYatsKicvFVuTAQLBryyccRXMUaGHP');
  }],
  ['On mainnet, with fallback address 1RustyRX2oai4EYYDpQGWvEL62BBGqN9T', (inv) => {
    expect(fallbackToAddress(inv.fallbacks[0]!, inv.network)).toBe('1RustyRX2oai4EYYDpQGWvEL62BBGqN9T');
    expect(inv.routeHints.length).toBe(1);
    const [a, b] = inv.routeHints[0]!;
    expect(bytesToHex(a!.pubkey)).toBe('029e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255');
    expect(formatScid(a!.shortChannelId)).toBe('66051x263430x1800');
    expect([a!.feeBaseMsat, a!.feeProportionalMillionths, a!.cltvExpiryDelta]).toEqual([1, 20, 3]);
    expect(bytesToHex(b!.pubkey)).toBe('039e03a901b85534ff1e92c43c74431f7ce72046060fcf7a95c37e148f78c77255');
    expect(formatScid(b!.shortChannelId)).toBe('197637x395016x2314');
    expect([b!.feeBaseMsat, b!.feeProportionalMillionths, b!.cltvExpiryDelta]).toEqual([2, 30, 4]);
  }],
  ['On mainnet, with fallback (P2SH)', (inv) => expect(fallbackToAddress(inv.fallbacks[0]!, inv.network)).toBe('3EktnHQD7RiAE6uzMj2ZifT9YgRrkSgzQX')],
  ['On mainnet, with fallback (P2WPKH)', (inv) =>
    expect(fallbackToAddress(inv.fallbacks[0]!, inv.network)).toBe('bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4')],
  ['On mainnet, with fallback (P2WSH)', (inv) =>
    expect(fallbackToAddress(inv.fallbacks[0]!, inv.network)).toBe('bc1qrp33g0q5c5txsp9arysrx4k6zdkfs4nce4xj0gdcccefvpysxf3qccfmv3')],
  ['On mainnet, with fallback (P2TR)', (inv) =>
    expect(fallbackToAddress(inv.fallbacks[0]!, inv.network)).toBe('bc1pptdvg0d2nj99568qn6ssdy4cygnwuxgw2ukmnwgwz7jpqjz2kszse2s3lm')],
  ['Please send 0.00967878534 BTC', (inv) => {
    expect(inv.amountMsat).toBe(967_878_534n);
    expect(inv.timestamp).toBe(1572468703);
    expect(bytesToHex(inv.paymentHash)).toBe('462264ede7e14047e9b249da94fefc47f41f7d02ee9b091815a5506bc8abf75f');
    expect(inv.expirySec).toBe(604800);
    expect(inv.minFinalCltvExpiryDelta).toBe(10);
    const hop = inv.routeHints[0]![0]!;
    expect(bytesToHex(hop.pubkey)).toBe('03d06758583bb5154774a6eb221b1276c9e82d65bbaceca806d90e20c108f4b1c7');
    expect(formatScid(hop.shortChannelId)).toBe('589390x3312x1');
    expect([hop.feeBaseMsat, hop.feeProportionalMillionths, hop.cltvExpiryDelta]).toEqual([1000, 2500, 40]);
  }],
  ['Please send $30 for coffee beans', (inv) => {
    expect(inv.amountMsat).toBe(2_500_000_000n);
    expect(inv.description).toBe('coffee beans');
    expect(inv.features.bits()).toEqual([8, 14, 99]);
  }],
  ['Same, but all upper case', (inv) => expect(inv.features.bits()).toEqual([8, 14, 99])],
  ['Same, but including fields which must be ignored', (inv) => {
    expect(bytesToHex(inv.paymentHash)).toBe(HASH);
    expect(bytesToHex(inv.paymentSecret)).toBe(SECRET);
    expect(inv.description).toBe('coffee beans');
    expect(inv.fallbacks).toEqual([]);
  }],
  ['Please send 0.01 BTC with payment metadata', (inv) => {
    expect(bytesToHex(inv.paymentMetadata!)).toBe('01fafaf0');
    expect(inv.features.bits()).toEqual([8, 14, 48]);
  }],
  ['Public-key recovery with high-S signature', (inv) => expect(inv.description).toBe('Please consider supporting this project')],
];

describe('BOLT 11 valid examples', () => {
  it('covers every valid example in the spec', () => expect(expectations.length).toBe(examples.valid.length));
  for (const [title, check] of expectations) {
    it(title, () => {
      const inv = decodeInvoice(byTitle(title));
      expect(bytesToHex(inv.payeeNodeId)).toBe(NODE_ID);
      if (!title.startsWith('Please send 0.00967878534')) {
        expect(inv.timestamp).toBe(1496314658);
        expect(bytesToHex(inv.paymentHash)).toBe(HASH);
      }
      expect(bytesToHex(inv.paymentSecret)).toBe(SECRET);
      check(inv);
    });
  }
});

const invalidReasons: Record<string, RegExp> = {
  'Same, but adding invalid unknown feature 100': /unknown features \(bits 100\)/,
  'Bech32 checksum is invalid.': /bad checksum/,
  'Malformed bech32 string (no 1)': /not a bech32 string/,
  'Malformed bech32 string (mixed case)': /mixed upper and lower case|not a bech32/,
  'Signature is not recoverable.': /bad signature/,
  'String is too short.': /too short/,
  'Invalid multiplier': /bad amount or multiplier/,
  'Invalid sub-millisatoshi precision.': /sub-millisatoshi/,
  'Missing required `s` field.': /missing payment secret/,
  "Non canonical signature (high-S) with 'n' field defined": /high S|bad signature/,
};

describe('BOLT 11 invalid examples', () => {
  it('covers every invalid example in the spec', () => expect(Object.keys(invalidReasons).length).toBe(examples.invalid.length));
  for (const { title, invoice } of examples.invalid) {
    it(title, () => {
      let err: unknown;
      try {
        decodeInvoice(invoice);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(FulmenError);
      expect((err as FulmenError).code).toBe('BAD_INPUT');
      expect((err as Error).message).toMatch(/^Invalid invoice: /);
      expect((err as Error).message).toMatch(invalidReasons[title]!);
    });
  }
});

describe('BOLT 11 encoding', () => {
  it('re-creates spec examples byte for byte (same field order, RFC 6979 signatures)', () => {
    const base = { network: 'mainnet' as const, timestamp: 1496314658, paymentHash: hexToBytes(HASH), paymentSecret: hexToBytes(SECRET) };
    expect(encodeInvoice({ ...base, description: 'Please consider supporting this project' }, PRIV)).toBe(byTitle('Please make a donation'));
    expect(encodeInvoice({ ...base, amountMsat: 250_000_000n, description: '1 cup coffee', expirySec: 60 }, PRIV)).toBe(
      byTitle('Please send $3 for a cup of coffee'),
    );
    expect(encodeInvoice({ ...base, amountMsat: 2_000_000_000n, descriptionHash: sha256(new TextEncoder().encode(CAKE)) }, PRIV)).toBe(
      byTitle('Now send $24'),
    );
    const rusty = decodeInvoice(byTitle('On mainnet, with fallback address 1Rusty'));
    expect(
      encodeInvoice({ ...base, amountMsat: 2_000_000_000n, descriptionHash: rusty.descriptionHash!, fallbacks: rusty.fallbacks, routeHints: rusty.routeHints }, PRIV),
    ).toBe(rusty.paymentRequest);
  });

  it('round-trips random invoices (property) and includes n when asked', () => {
    const arb = fc.record({
      network: fc.constantFrom('mainnet', 'testnet', 'signet', 'regtest') as fc.Arbitrary<InvoiceFields['network']>,
      amountMsat: fc.option(fc.bigInt({ min: 1n, max: 2_100_000_000_000_000_000n }), { nil: undefined }),
      timestamp: fc.integer({ min: 0, max: 2 ** 35 - 1 }),
      paymentHash: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      paymentSecret: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      description: fc.string({ maxLength: 200 }),
      expirySec: fc.option(fc.integer({ min: 1, max: 2 ** 40 }), { nil: undefined }),
      minFinalCltvExpiryDelta: fc.option(fc.integer({ min: 1, max: 5000 }), { nil: undefined }),
      paymentMetadata: fc.option(fc.uint8Array({ minLength: 1, maxLength: 50 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(arb, fc.boolean(), (fields, withN) => {
        const text = encodeInvoice(fields, PRIV, { includePayeeNodeId: withN });
        const inv = decodeInvoice(text, fields.network);
        expect(bytesToHex(inv.payeeNodeId)).toBe(NODE_ID);
        expect(inv.amountMsat).toBe(fields.amountMsat);
        expect(inv.timestamp).toBe(fields.timestamp);
        expect(inv.paymentHash).toEqual(fields.paymentHash);
        expect(inv.paymentSecret).toEqual(fields.paymentSecret);
        expect(inv.description).toBe(fields.description);
        expect(inv.expirySec).toBe(fields.expirySec ?? 3600);
        expect(inv.minFinalCltvExpiryDelta).toBe(fields.minFinalCltvExpiryDelta ?? 18);
        expect(inv.paymentMetadata).toEqual(fields.paymentMetadata);
        expect(inv.features.equals(FeatureBits.fromFeatures({ var_onion_optin: 'required', payment_secret: 'required' }))).toBe(true);
      }),
      { numRuns: 40 },
    );
  });

  it('garbage only ever throws BAD_INPUT', () => {
    const valid = byTitle('Please send $3 for a cup of coffee');
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.nat(valid.length - 1).chain((i) => fc.constant(valid.slice(0, i) + 'q' + valid.slice(i + 1)))), (s) => {
        try {
          decodeInvoice(s);
        } catch (e) {
          expect(e).toBeInstanceOf(FulmenError);
          expect((e as FulmenError).code).toBe('BAD_INPUT');
        }
      }),
    );
  });
});

describe('BOLT 11 network and expiry helpers', () => {
  const regtestInvoice = encodeInvoice(
    { network: 'regtest', timestamp: 1_700_000_000, paymentHash: new Uint8Array(32), paymentSecret: new Uint8Array(32).fill(1), description: 'x', amountMsat: 1n },
    PRIV,
  );
  it('prefixes: lnbc, lntb, lntbs, lnbcrt; sub-satoshi amounts use p', () => {
    expect(regtestInvoice.startsWith('lnbcrt10p1')).toBe(true);
    const signet = encodeInvoice({ network: 'signet', timestamp: 1, paymentHash: new Uint8Array(32), paymentSecret: new Uint8Array(32), description: '' }, PRIV);
    expect(signet.startsWith('lntbs1')).toBe(true);
    expect(decodeInvoice(signet).network).toBe('signet');
    expect(decodeInvoice('lightning:' + regtestInvoice).amountMsat).toBe(1n);
  });
  it('rejects an invoice for another network with a clear message', () => {
    expect(() => decodeInvoice(byTitle('The same, on testnet'), 'regtest')).toThrow('Invoice is for testnet, this wallet is on regtest');
    expect(() => decodeInvoice(regtestInvoice, 'mainnet')).toThrow('Invoice is for regtest, this wallet is on mainnet');
  });
  it('isExpired uses timestamp + expiry (default 3600)', () => {
    const inv = decodeInvoice(regtestInvoice);
    expect(isExpired(inv, 1_700_000_000 + 3600)).toBe(false);
    expect(isExpired(inv, 1_700_000_000 + 3601)).toBe(true);
  });
});
