/**
 * Money formatting for the GUI. Amounts are integers everywhere: on-chain satoshis as `number`,
 * Lightning millisatoshis as `bigint`. BTC strings are produced and parsed with integer math only;
 * no float ever touches an amount.
 */

/** The display unit chosen in Preferences. */
export type Unit = 'BTC' | 'sat';

export const UNITS: readonly Unit[] = ['BTC', 'sat'];

const SAT_PER_BTC = 100_000_000n;
const MSAT_PER_SAT = 1000n;
const MAX_MONEY_SAT = 21_000_000n * SAT_PER_BTC;

/** Thrown by the parsers below; `message` is written for the user. */
export class AmountError extends Error {
  override name = 'AmountError';
}

/**
 * Parses a BTC decimal string (Electrum/JSON-RPC edge: "0.001", "1", "-0.5") into integer sats.
 * @throws AmountError for non-numeric text, more than 8 decimals or more than 21M BTC.
 */
export function btcToSat(text: string): number {
  const m = /^(-)?(\d+)(?:\.(\d*))?$/.exec(text.trim());
  if (!m) throw new AmountError(`"${text}" is not a BTC amount`);
  if ((m[3] ?? '').length > 8) throw new AmountError('BTC amounts have at most 8 decimals');
  const sat = BigInt(m[2]!) * SAT_PER_BTC + BigInt((m[3] ?? '').padEnd(8, '0'));
  if (sat > MAX_MONEY_SAT) throw new AmountError('Amount is larger than 21 million BTC');
  return Number(m[1] ? -sat : sat);
}

/** Formats integer sats as a BTC string with trailing zeros trimmed: 150000 → "0.0015". */
export function satToBtc(sat: number | bigint): string {
  const v = BigInt(sat);
  const neg = v < 0n;
  const abs = neg ? -v : v;
  const frac = (abs % SAT_PER_BTC).toString().padStart(8, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${abs / SAT_PER_BTC}${frac ? '.' + frac : ''}`;
}

/** Groups digits in threes with thin spaces: 1234567 → "1 234 567". */
function groupThousands(digits: string): string {
  return digits.replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

/**
 * Formats sats for display in `unit`: "0.0015 BTC" or "150 000 sat". With `sign`, a positive
 * amount gets a leading "+" (history rows). Negative amounts always get a minus sign.
 */
export function formatSat(sat: number | bigint, unit: Unit, opts: { sign?: boolean; suffix?: boolean } = {}): string {
  const v = BigInt(sat);
  const prefix = v < 0n ? '\u2212' : opts.sign && v > 0n ? '+' : '';
  const abs = v < 0n ? -v : v;
  const body = unit === 'BTC' ? satToBtc(abs) : groupThousands(abs.toString());
  return `${prefix}${body}${opts.suffix === false ? '' : ' ' + unit}`;
}

/**
 * Formats millisatoshis in `unit`. Whole sats print like `formatSat`; a sub-sat remainder is shown
 * exactly (BTC with up to 11 decimals, sat with up to 3 decimals) rather than rounded away.
 */
export function formatMsat(msat: bigint, unit: Unit, opts: { sign?: boolean; suffix?: boolean } = {}): string {
  if (msat % MSAT_PER_SAT === 0n) return formatSat(msat / MSAT_PER_SAT, unit, opts);
  const prefix = msat < 0n ? '\u2212' : opts.sign && msat > 0n ? '+' : '';
  const abs = msat < 0n ? -msat : msat;
  const sub = (abs % MSAT_PER_SAT).toString().padStart(3, '0').replace(/0+$/, '');
  let body: string;
  if (unit === 'sat') {
    body = `${groupThousands((abs / MSAT_PER_SAT).toString())}.${sub}`;
  } else {
    const perBtc = SAT_PER_BTC * MSAT_PER_SAT;
    const frac = (abs % perBtc).toString().padStart(11, '0').replace(/0+$/, '');
    body = `${abs / perBtc}.${frac}`;
  }
  return `${prefix}${body}${opts.suffix === false ? '' : ' ' + unit}`;
}

/**
 * Parses what the user typed in an amount field, in `unit`, into integer sats.
 * BTC accepts up to 8 decimals ("0.001", ".5", "1,5" with a decimal comma); sat accepts digits
 * with optional spaces/underscores as separators. Zero and negative amounts are rejected.
 * @throws AmountError with a message suitable for an inline field error.
 */
export function parseAmountInput(text: string, unit: Unit): number {
  const cleaned = text.trim().replace(/[\s_\u2009]/g, '');
  if (cleaned === '') throw new AmountError('Enter an amount');
  let sat: bigint;
  if (unit === 'sat') {
    if (!/^\d+$/.test(cleaned)) throw new AmountError('Amount in sat must be a whole number');
    sat = BigInt(cleaned);
  } else {
    const m = /^(\d*)(?:[.,](\d*))?$/.exec(cleaned);
    if (!m || (m[1] === '' && (m[2] ?? '') === '')) throw new AmountError(`"${text.trim()}" is not a BTC amount`);
    if ((m[2] ?? '').length > 8) throw new AmountError('BTC amounts have at most 8 decimals');
    sat = BigInt(m[1] || '0') * SAT_PER_BTC + BigInt((m[2] ?? '').padEnd(8, '0'));
  }
  if (sat === 0n) throw new AmountError('Amount must be more than zero');
  if (sat > MAX_MONEY_SAT) throw new AmountError('Amount is larger than 21 million BTC');
  return Number(sat);
}

/** The value to prefill an amount field with, in `unit` (no suffix, no grouping). */
export function satToInput(sat: number, unit: Unit): string {
  return unit === 'BTC' ? satToBtc(sat) : String(sat);
}

/**
 * Parses a BTC decimal string with up to 11 decimals (Electrum prints Lightning balances to the
 * msat) into millisatoshis.
 * @throws AmountError for malformed text.
 */
export function btcToMsat(text: string): bigint {
  const m = /^(-)?(\d+)(?:\.(\d{0,11}))?$/.exec(text.trim());
  if (!m) throw new AmountError(`"${text}" is not a BTC amount`);
  const msat = BigInt(m[2]!) * SAT_PER_BTC * MSAT_PER_SAT + BigInt((m[3] ?? '').padEnd(11, '0'));
  return m[1] ? -msat : msat;
}

/** Reads an msat amount that JSON carried as an integer number or a decimal-integer string. */
export function msatFromJson(value: unknown): bigint {
  if (typeof value === 'bigint') return value;
  if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
  if (typeof value === 'string' && /^-?\d+$/.test(value)) return BigInt(value);
  throw new AmountError(`Unexpected msat amount ${JSON.stringify(value)}`);
}
