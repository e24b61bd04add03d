import { badInput } from './errors.js';

/**
 * Money conversions. On-chain amounts are integer satoshis (`number`, < 2^53), Lightning amounts
 * are millisatoshis (`bigint`). BTC decimal strings exist only at the CLI/JSON-RPC edge, as in
 * Electrum. No floats are ever used for money.
 */

export const SAT_PER_BTC = 100_000_000;
export const MAX_MONEY_SAT = 21_000_000 * SAT_PER_BTC;

/**
 * Parses a BTC decimal string ("0.001", "1", "1.23456789") into integer satoshis.
 * Also accepts a JS number from JSON-RPC by formatting it through its shortest decimal form.
 * @throws FulmenError BAD_INPUT for negative, non-numeric, > 8 decimals or > 21M BTC.
 */
export function parseBtcToSat(value: string | number): number {
  const text = typeof value === 'number' ? numberToDecimalString(value) : value.trim();
  const m = /^(\d+)(?:\.(\d{0,8}))?$/.exec(text);
  if (!m) throw badInput(`Invalid amount: ${JSON.stringify(value)} (expected BTC, e.g. 0.001)`);
  const whole = BigInt(m[1]!);
  const frac = BigInt((m[2] ?? '').padEnd(8, '0'));
  const sat = whole * 100_000_000n + frac;
  if (sat > BigInt(MAX_MONEY_SAT)) throw badInput(`Amount too large: ${text} BTC`);
  return Number(sat);
}

/** Formats integer satoshis as Electrum prints BTC: trailing zeros trimmed ("0.001", "1", "0"). */
export function formatSatAsBtc(sat: number | bigint): string {
  const v = BigInt(sat);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const whole = abs / 100_000_000n;
  const frac = (abs % 100_000_000n).toString().padStart(8, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? '.' + frac : ''}`;
}

/** Formats millisatoshis as BTC with up to 11 decimals (Electrum's lightning balance style). */
export function formatMsatAsBtc(msat: bigint): string {
  const neg = msat < 0n;
  const abs = neg ? -msat : msat;
  const whole = abs / 100_000_000_000n;
  const frac = (abs % 100_000_000_000n).toString().padStart(11, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${whole}${frac ? '.' + frac : ''}`;
}

/** msat → sat, rounding down (BOLT 3: amounts on chain are floor(msat / 1000)). */
export function msatToSat(msat: bigint): number {
  return Number(msat / 1000n);
}

/** sat → msat. */
export function satToMsat(sat: number): bigint {
  return BigInt(sat) * 1000n;
}

function numberToDecimalString(n: number): string {
  if (!Number.isFinite(n) || n < 0) throw badInput(`Invalid amount: ${n}`);
  // Number#toString gives the shortest round-trip decimal; expand exponent notation.
  const s = n.toString();
  if (!/e/i.test(s)) return s;
  return n.toFixed(8).replace(/\.?0+$/, '');
}
