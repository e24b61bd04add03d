import { AmountError, btcToSat } from './units.js';

/**
 * A parsed BIP21 payment URI (https://github.com/bitcoin/bips/blob/master/bip-0021.mediawiki),
 * with the `lightning=` extension carrying a BOLT11 invoice (as Electrum, Phoenix, BTCPay emit).
 */
export interface Bip21 {
  /** The on-chain address; empty when the URI only carries a Lightning invoice. */
  address: string;
  /** `amount=` in integer sats (BIP21 amounts are BTC decimals). */
  amountSat?: number;
  label?: string;
  message?: string;
  /** `lightning=` BOLT11 invoice. */
  lightning?: string;
  /** Other optional parameters, kept for display. */
  extra: Record<string, string>;
}

/** Thrown by `parseBip21`; `message` is written for the user. */
export class UriError extends Error {
  override name = 'UriError';
}

/** True when `text` starts with the `bitcoin:` scheme (case-insensitive, as BIP21 allows). */
export function isBip21(text: string): boolean {
  return /^bitcoin:/i.test(text.trim());
}

function decodeComponent(value: string, key: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, '%20'));
  } catch {
    throw new UriError(`The "${key}" field of the payment link is not properly encoded`);
  }
}

/**
 * Parses `bitcoin:<address>?amount=..&label=..&message=..&lightning=..`.
 * Rules (BIP21): the scheme is case-insensitive; `amount` is a decimal BTC number with "." and at
 * most 8 decimals; an unknown `req-` parameter makes the URI unusable; a parameter may not repeat.
 * The address may be empty only if `lightning=` is present.
 * @throws UriError with a message suitable for an inline error.
 */
export function parseBip21(text: string): Bip21 {
  const trimmed = text.trim();
  if (!isBip21(trimmed)) throw new UriError('A payment link must start with "bitcoin:"');
  const rest = trimmed.slice('bitcoin:'.length);
  const q = rest.indexOf('?');
  const rawAddress = q === -1 ? rest : rest.slice(0, q);
  const query = q === -1 ? '' : rest.slice(q + 1);
  const address = decodeComponent(rawAddress, 'address').replace(/^\/\//, '');
  if (address && !/^[a-zA-Z0-9]+$/.test(address)) throw new UriError('The address in the payment link is malformed');

  const result: Bip21 = { address, extra: {} };
  const seen = new Set<string>();
  for (const part of query.split('&')) {
    if (part === '') continue;
    const eq = part.indexOf('=');
    const key = (eq === -1 ? part : part.slice(0, eq)).toLowerCase();
    const value = eq === -1 ? '' : decodeComponent(part.slice(eq + 1), key);
    if (seen.has(key)) throw new UriError(`The payment link repeats "${key}"`);
    seen.add(key);
    switch (key) {
      case 'amount': {
        if (!/^\d*\.?\d+$|^\d+\.$/.test(value)) throw new UriError(`The amount "${value}" in the payment link is not a BTC number`);
        try {
          result.amountSat = btcToSat(value.endsWith('.') ? value.slice(0, -1) : value);
        } catch (err) {
          throw new UriError(err instanceof AmountError ? err.message : 'Invalid amount in the payment link');
        }
        if (result.amountSat === 0) delete result.amountSat;
        break;
      }
      case 'label':
        result.label = value;
        break;
      case 'message':
        result.message = value;
        break;
      case 'lightning':
        if (!/^ln[a-z0-9]+$/i.test(value)) throw new UriError('The Lightning invoice in the payment link is malformed');
        result.lightning = value;
        break;
      default:
        if (key.startsWith('req-')) throw new UriError(`The payment link requires "${key.slice(4)}", which Fulmen does not support`);
        result.extra[key] = value;
    }
  }
  if (!result.address && !result.lightning) throw new UriError('The payment link has no address');
  return result;
}

/**
 * Builds a BIP21 URI. The address is upper-cased when it is bech32 and nothing else would break
 * (denser QR alphanumeric mode), following BIP173's QR advice only when no params need lowercase;
 * parameters are percent-encoded.
 */
export function buildBip21(p: { address: string; amountSat?: number; message?: string; lightning?: string }): string {
  const params: string[] = [];
  if (p.amountSat !== undefined && p.amountSat > 0) {
    const sat = BigInt(p.amountSat);
    const frac = (sat % 100_000_000n).toString().padStart(8, '0').replace(/0+$/, '');
    params.push(`amount=${sat / 100_000_000n}${frac ? '.' + frac : ''}`);
  }
  if (p.message) params.push(`message=${encodeURIComponent(p.message)}`);
  if (p.lightning) params.push(`lightning=${p.lightning}`);
  return `bitcoin:${p.address}${params.length ? '?' + params.join('&') : ''}`;
}
