import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { formatMsatAsBtc, formatSatAsBtc, MAX_MONEY_SAT, parseBtcToSat } from './money.js';
import { FulmenError } from './errors.js';

describe('BTC <-> sat at the CLI/JSON-RPC edge', () => {
  it('parses decimal strings exactly', () => {
    expect(parseBtcToSat('0.001')).toBe(100_000);
    expect(parseBtcToSat('1')).toBe(100_000_000);
    expect(parseBtcToSat('0.00000001')).toBe(1);
    expect(parseBtcToSat('20999999.99999999')).toBe(MAX_MONEY_SAT - 1);
    // 0.1 + 0.2 style float traps do not apply: the decimal is parsed as text.
    expect(parseBtcToSat(0.3)).toBe(30_000_000);
  });

  it('rejects bad amounts with BAD_INPUT', () => {
    for (const bad of ['', '-1', '1e3', 'abc', '0.000000001', '21000001', '1.2.3']) {
      expect(() => parseBtcToSat(bad)).toThrowError(FulmenError);
      try {
        parseBtcToSat(bad);
      } catch (e) {
        expect((e as FulmenError).code).toBe('BAD_INPUT');
      }
    }
  });

  it('formats like Electrum (trailing zeros trimmed)', () => {
    expect(formatSatAsBtc(0)).toBe('0');
    expect(formatSatAsBtc(100_000)).toBe('0.001');
    expect(formatSatAsBtc(-150_000_000)).toBe('-1.5');
    expect(formatMsatAsBtc(1n)).toBe('0.00000000001');
  });

  it('round-trips every amount', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: MAX_MONEY_SAT }), (sat) => {
        expect(parseBtcToSat(formatSatAsBtc(sat))).toBe(sat);
      }),
    );
  });
});
