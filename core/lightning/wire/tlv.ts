/**
 * TLV streams (BOLT 1 "Type-Length-Value Format"): a sequence of records
 * `bigsize type || bigsize length || value`, strictly increasing by type.
 */
import { ByteReader, ByteWriter, WireDecodeError } from './codec.js';
import { FulmenError } from '../../util/errors.js';

export interface TlvRecord {
  type: bigint;
  value: Uint8Array;
}

/**
 * Decodes a whole TLV stream. Enforces BOLT 1: canonical BigSize, lengths within the stream,
 * strictly increasing types (no duplicates), and rejects unknown even types when `knownTypes`
 * is given (unknown odd types are returned so callers may keep or ignore them).
 * @throws WireDecodeError on any violation.
 */
export function decodeTlvStream(bytes: Uint8Array, knownTypes?: ReadonlySet<bigint>): TlvRecord[] {
  const r = new ByteReader(bytes);
  const records: TlvRecord[] = [];
  let last = -1n;
  while (r.remaining > 0) {
    const type = r.bigSize('tlv type');
    const length = r.bigSize('tlv length');
    if (length > BigInt(r.remaining)) throw new WireDecodeError(`TLV record ${type} length exceeds stream`);
    const value = r.bytesN(Number(length), 'tlv value');
    if (type <= last) throw new WireDecodeError(`TLV stream not strictly increasing at type ${type}`);
    last = type;
    if (knownTypes && !knownTypes.has(type) && type % 2n === 0n) throw new WireDecodeError(`Unknown even TLV type ${type}`);
    records.push({ type, value });
  }
  return records;
}

/** Encodes TLV records, sorting them by type. @throws FulmenError INTERNAL on duplicate types. */
export function encodeTlvStream(records: readonly TlvRecord[]): Uint8Array {
  const sorted = [...records].sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
  const w = new ByteWriter();
  for (let i = 0; i < sorted.length; i++) {
    const rec = sorted[i]!;
    if (i > 0 && sorted[i - 1]!.type === rec.type) throw new FulmenError('INTERNAL', `Duplicate TLV type ${rec.type}`);
    w.bigSize(rec.type).bigSize(rec.value.length).bytes(rec.value);
  }
  return w.finish();
}

/** Looks up a record by type (streams are tiny; a linear scan is fine). */
export function tlvGet(records: readonly TlvRecord[], type: bigint): Uint8Array | undefined {
  for (const r of records) if (r.type === type) return r.value;
  return undefined;
}
