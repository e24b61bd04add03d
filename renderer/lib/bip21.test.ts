import { describe, expect, it } from 'vitest';
import { buildBip21, parseBip21, UriError } from './bip21.js';

const ADDR = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const INVOICE = 'lnbcrt1500n1pjqxyz0pp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypq';

describe('parseBip21', () => {
  it('parses address, amount, label, message and lightning', () => {
    const uri = parseBip21(`bitcoin:${ADDR}?amount=0.0015&label=Luke-Jr&message=Donation%20for%20project%20xyz&lightning=${INVOICE}`);
    expect(uri).toEqual({
      address: ADDR,
      amountSat: 150_000,
      label: 'Luke-Jr',
      message: 'Donation for project xyz',
      lightning: INVOICE,
      extra: {},
    });
  });
  it('accepts an upper-case scheme and an address alone (BIP21 examples)', () => {
    expect(parseBip21('BITCOIN:175tWpb8K1S7NmH4Zx6rewF9WQrcZv245W')).toEqual({ address: '175tWpb8K1S7NmH4Zx6rewF9WQrcZv245W', extra: {} });
    expect(parseBip21('bitcoin:175tWpb8K1S7NmH4Zx6rewF9WQrcZv245W?amount=50&label=Luke-Jr').amountSat).toBe(5_000_000_000);
    expect(parseBip21('bitcoin:175tWpb8K1S7NmH4Zx6rewF9WQrcZv245W?amount=20.3').amountSat).toBe(2_030_000_000);
  });
  it('accepts a Lightning-only link and keeps unknown optional params', () => {
    const uri = parseBip21(`bitcoin:?lightning=${INVOICE}&somethingelse=x`);
    expect(uri.address).toBe('');
    expect(uri.lightning).toBe(INVOICE);
    expect(uri.extra).toEqual({ somethingelse: 'x' });
  });
  it('rejects bad links with readable reasons', () => {
    const cases: [string, string][] = [
      [`btc:${ADDR}`, 'must start with "bitcoin:"'],
      [`bitcoin:${ADDR}?amount=1e-3`, 'not a BTC number'],
      [`bitcoin:${ADDR}?amount=0.000000001`, '8 decimals'],
      [`bitcoin:${ADDR}?amount=1,5`, 'not a BTC number'],
      [`bitcoin:${ADDR}?amount=1&amount=2`, 'repeats "amount"'],
      [`bitcoin:${ADDR}?req-somethingyoudontunderstand=50`, 'requires "somethingyoudontunderstand"'],
      [`bitcoin:${ADDR}?message=%E0%A4%A`, 'not properly encoded'],
      [`bitcoin:${ADDR}?lightning=notaninvoice!`, 'Lightning invoice in the payment link is malformed'],
      ['bitcoin:', 'has no address'],
      ['bitcoin:bc1q<script>', 'address in the payment link is malformed'],
    ];
    for (const [text, reason] of cases) {
      expect(() => parseBip21(text), text).toThrow(UriError);
      expect(() => parseBip21(text), text).toThrow(reason);
    }
  });
});

describe('buildBip21', () => {
  it('builds what parseBip21 reads back', () => {
    const text = buildBip21({ address: ADDR, amountSat: 150_000, message: 'coffee & cake', lightning: INVOICE });
    expect(text).toBe(`bitcoin:${ADDR}?amount=0.0015&message=coffee%20%26%20cake&lightning=${INVOICE}`);
    expect(parseBip21(text)).toEqual({ address: ADDR, amountSat: 150_000, message: 'coffee & cake', lightning: INVOICE, extra: {} });
  });
  it('omits absent fields', () => {
    expect(buildBip21({ address: ADDR })).toBe(`bitcoin:${ADDR}`);
  });
});
