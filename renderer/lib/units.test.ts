import { describe, expect, it } from 'vitest';
import { AmountError, btcToMsat, btcToSat, formatMsat, msatFromJson, formatSat, parseAmountInput, satToBtc, satToInput } from './units.js';

describe('satToBtc / btcToSat', () => {
  it('formats with trailing zeros trimmed', () => {
    expect(satToBtc(0)).toBe('0');
    expect(satToBtc(1)).toBe('0.00000001');
    expect(satToBtc(150_000)).toBe('0.0015');
    expect(satToBtc(100_000_000)).toBe('1');
    expect(satToBtc(-2_100_000_000_000_000n)).toBe('-21000000');
  });
  it('parses BTC strings exactly (no float rounding)', () => {
    expect(btcToSat('0.1')).toBe(10_000_000);
    expect(btcToSat('0.29')).toBe(29_000_000); // 0.29 * 1e8 = 28999999.999999996 in floats
    expect(btcToSat('1.00000001')).toBe(100_000_001);
    expect(btcToSat('-0.5')).toBe(-50_000_000);
    expect(btcToSat('21000000')).toBe(2_100_000_000_000_000);
  });
  it('round-trips every sat amount it formats', () => {
    for (const sat of [0, 1, 9, 10, 99_999_999, 100_000_000, 123_456_789, 2_100_000_000_000_000]) {
      expect(btcToSat(satToBtc(sat))).toBe(sat);
    }
  });
  it('rejects malformed BTC strings', () => {
    for (const bad of ['', 'abc', '1e-8', '0.123456789', '1.2.3', '21000000.00000001']) {
      expect(() => btcToSat(bad)).toThrow(AmountError);
    }
  });
});

describe('formatSat / formatMsat', () => {
  it('formats in the chosen unit with sign and grouping', () => {
    expect(formatSat(150_000, 'BTC')).toBe('0.0015 BTC');
    expect(formatSat(1_234_567, 'sat')).toBe('1\u2009234\u2009567 sat');
    expect(formatSat(-500, 'sat')).toBe('\u2212500 sat');
    expect(formatSat(500, 'sat', { sign: true })).toBe('+500 sat');
    expect(formatSat(0, 'sat', { sign: true })).toBe('0 sat');
    expect(formatSat(500, 'BTC', { suffix: false })).toBe('0.000005');
  });
  it('keeps sub-satoshi remainders of msat amounts', () => {
    expect(formatMsat(1_000n, 'sat')).toBe('1 sat');
    expect(formatMsat(1_500n, 'sat')).toBe('1.5 sat');
    expect(formatMsat(1_234_001n, 'sat')).toBe('1\u2009234.001 sat');
    expect(formatMsat(1n, 'BTC')).toBe('0.00000000001 BTC');
    expect(formatMsat(-150_000_000n, 'BTC', { sign: true })).toBe('\u22120.0015 BTC');
  });
});

describe('parseAmountInput', () => {
  it('parses BTC input, including a leading dot and a decimal comma', () => {
    expect(parseAmountInput('0.001', 'BTC')).toBe(100_000);
    expect(parseAmountInput('.5', 'BTC')).toBe(50_000_000);
    expect(parseAmountInput('1,25', 'BTC')).toBe(125_000_000);
    expect(parseAmountInput(' 2 ', 'BTC')).toBe(200_000_000);
  });
  it('parses sat input with separators', () => {
    expect(parseAmountInput('150 000', 'sat')).toBe(150_000);
    expect(parseAmountInput('1_000', 'sat')).toBe(1_000);
  });
  it('explains what is wrong', () => {
    expect(() => parseAmountInput('', 'BTC')).toThrow('Enter an amount');
    expect(() => parseAmountInput('0', 'sat')).toThrow('more than zero');
    expect(() => parseAmountInput('1.5', 'sat')).toThrow('whole number');
    expect(() => parseAmountInput('0.000000001', 'BTC')).toThrow('8 decimals');
    expect(() => parseAmountInput('-1', 'BTC')).toThrow('not a BTC amount');
    expect(() => parseAmountInput('.', 'BTC')).toThrow('not a BTC amount');
    expect(() => parseAmountInput('21000001', 'BTC')).toThrow('21 million');
  });
  it('prefills fields in the chosen unit', () => {
    expect(satToInput(150_000, 'BTC')).toBe('0.0015');
    expect(satToInput(150_000, 'sat')).toBe('150000');
  });
});

describe('btcToMsat / msatFromJson', () => {
  it('reads Electrum Lightning balances to the msat', () => {
    expect(btcToMsat('0.05')).toBe(5_000_000_000n);
    expect(btcToMsat('0.00000000001')).toBe(1n);
    expect(btcToMsat('-1')).toBe(-100_000_000_000n);
    expect(() => btcToMsat('0.000000000001')).toThrow(AmountError);
  });
  it('reads msat from JSON numbers and strings only when integral', () => {
    expect(msatFromJson(1500)).toBe(1500n);
    expect(msatFromJson('-99999999999999999')).toBe(-99_999_999_999_999_999n);
    expect(() => msatFromJson(1.5)).toThrow(AmountError);
    expect(() => msatFromJson('1e3')).toThrow(AmountError);
  });
});
