import { badInput } from '../util/errors.js';

/**
 * BIP329 wallet label export format: JSON Lines, one record per line,
 * `{"type", "ref", "label"?, "origin"?, "spendable"?}`. Types: tx (ref txid), addr (address),
 * pubkey, input (txid:vin), output (txid:vout; `spendable` false = frozen), xpub.
 */
export type Bip329Type = 'tx' | 'addr' | 'pubkey' | 'input' | 'output' | 'xpub';

export interface Bip329Record {
  type: Bip329Type;
  ref: string;
  label?: string;
  origin?: string;
  /** Outputs only: false when the coin must not be spent (frozen). */
  spendable?: boolean;
}

const TYPES: readonly Bip329Type[] = ['tx', 'addr', 'pubkey', 'input', 'output', 'xpub'];

/** Serializes records as BIP329 JSON Lines (newline-terminated). */
export function formatBip329(records: readonly Bip329Record[]): string {
  return records.map((r) => JSON.stringify(r) + '\n').join('');
}

/**
 * Parses BIP329 JSON Lines. Blank lines are skipped; records of an unknown type are skipped, as
 * BIP329 asks of importers.
 * @throws FulmenError BAD_INPUT naming the line for malformed JSON, a missing ref, or a label or
 *   spendable of the wrong type.
 */
export function parseBip329(text: string): Bip329Record[] {
  const out: Bip329Record[] = [];
  text.split(/\r?\n/).forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      throw badInput(`Labels line ${i + 1}: not valid JSON`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw badInput(`Labels line ${i + 1}: expected a JSON object`);
    const r = value as Record<string, unknown>;
    if (typeof r.type !== 'string' || !TYPES.includes(r.type as Bip329Type)) return;
    if (typeof r.ref !== 'string' || r.ref === '') throw badInput(`Labels line ${i + 1}: missing "ref"`);
    if (r.label !== undefined && typeof r.label !== 'string') throw badInput(`Labels line ${i + 1}: "label" must be a string`);
    if (r.spendable !== undefined && typeof r.spendable !== 'boolean') throw badInput(`Labels line ${i + 1}: "spendable" must be true or false`);
    const record: Bip329Record = { type: r.type as Bip329Type, ref: r.ref };
    if (r.label !== undefined) record.label = r.label as string;
    if (typeof r.origin === 'string') record.origin = r.origin;
    if (r.spendable !== undefined) record.spendable = r.spendable as boolean;
    out.push(record);
  });
  return out;
}

/**
 * The key a label is stored under in `wallet_labels` for a BIP329 record: the txid, address,
 * "txid:vout" (output), "input:txid:vin", "pubkey:<hex>", or the xpub itself.
 */
export function labelKey(type: Bip329Type, ref: string): string {
  if (type === 'input') return `input:${ref}`;
  if (type === 'pubkey') return `pubkey:${ref}`;
  return ref;
}

/** The BIP329 type and ref of a stored label key (inverse of labelKey). */
export function recordOfKey(key: string): { type: Bip329Type; ref: string } {
  if (key.startsWith('input:')) return { type: 'input', ref: key.slice(6) };
  if (key.startsWith('pubkey:')) return { type: 'pubkey', ref: key.slice(7) };
  if (/^[0-9a-f]{64}$/i.test(key)) return { type: 'tx', ref: key };
  if (/^[0-9a-f]{64}:\d+$/i.test(key)) return { type: 'output', ref: key };
  if (/^[xyztuv]pub[1-9A-HJ-NP-Za-km-z]{100,112}$/.test(key)) return { type: 'xpub', ref: key };
  return { type: 'addr', ref: key };
}

/** One CSV field (RFC 4180): quoted when it holds a comma, quote or line break. */
export function csvField(value: string | number | null): string {
  const text = value === null ? '' : String(value);
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
