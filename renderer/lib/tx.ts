/**
 * A minimal reader of a signed transaction (BIP141 serialization), used by the Send tab's review
 * step to show what `payto` built before it is broadcast: outputs and virtual size. Input values
 * are not in the transaction, so the fee shown is the wallet's feerate times this vsize.
 */

export interface TxOutputView {
  valueSat: number;
  scriptPubKeyHex: string;
}

export interface TxSummary {
  /** Virtual size in vbytes: ceil(weight / 4) (BIP141). */
  vsize: number;
  inputCount: number;
  outputs: TxOutputView[];
}

/** Thrown when the hex is not a transaction. */
export class TxParseError extends Error {
  override name = 'TxParseError';
}

class Reader {
  pos = 0;
  constructor(readonly bytes: Uint8Array) {}
  take(n: number): Uint8Array {
    if (this.pos + n > this.bytes.length) throw new TxParseError('Transaction is truncated');
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }
  u8(): number {
    return this.take(1)[0]!;
  }
  uint64le(): bigint {
    const b = this.take(8);
    let v = 0n;
    for (let i = 7; i >= 0; i--) v = (v << 8n) | BigInt(b[i]!);
    return v;
  }
  varint(): number {
    const first = this.u8();
    if (first < 0xfd) return first;
    const size = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
    const b = this.take(size);
    let v = 0;
    for (let i = size - 1; i >= 0; i--) v = v * 256 + b[i]!;
    if (!Number.isSafeInteger(v)) throw new TxParseError('Transaction count too large');
    return v;
  }
}

function hexToBytes(hex: string): Uint8Array {
  if (!/^([0-9a-fA-F]{2})+$/.test(hex)) throw new TxParseError('Transaction is not hex');
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

function bytesToHex(b: Uint8Array): string {
  return Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
}

/**
 * Summarises a raw transaction.
 * @throws TxParseError for malformed hex or trailing bytes.
 */
export function summarizeTx(hex: string): TxSummary {
  const r = new Reader(hexToBytes(hex));
  r.take(4); // version
  let segwit = false;
  if (r.bytes[r.pos] === 0x00 && r.bytes[r.pos + 1] === 0x01) {
    segwit = true;
    r.take(2);
  }
  const baseStart = r.pos;
  const inputCount = r.varint();
  for (let i = 0; i < inputCount; i++) {
    r.take(36);
    r.take(r.varint());
    r.take(4);
  }
  const outputCount = r.varint();
  const outputs: TxOutputView[] = [];
  for (let i = 0; i < outputCount; i++) {
    const value = r.uint64le();
    outputs.push({ valueSat: Number(value), scriptPubKeyHex: bytesToHex(r.take(r.varint())) });
  }
  const baseEnd = r.pos;
  if (segwit) {
    for (let i = 0; i < inputCount; i++) {
      const items = r.varint();
      for (let j = 0; j < items; j++) r.take(r.varint());
    }
  }
  r.take(4); // locktime
  if (r.pos !== r.bytes.length) throw new TxParseError('Transaction has trailing bytes');
  // weight = 3 * stripped size + total size; stripped size = version + ins/outs + locktime.
  const strippedSize = 4 + (baseEnd - baseStart) + 4;
  const totalSize = r.bytes.length;
  const weight = strippedSize * 3 + totalSize;
  return { vsize: Math.ceil(weight / 4), inputCount, outputs };
}
