/**
 * Byte-level reading and writing of BOLT 1 fundamental types (big-endian integers, BigSize,
 * fixed-size byte strings, short_channel_id, point, 64-byte compact signature).
 * Source: BOLT 1 "Fundamental Types".
 */
import { FulmenError } from '../../util/errors.js';

/**
 * The only error the wire decoders throw: a peer (or a file) gave bytes that do not parse.
 * Code is PROTOCOL because on a live connection it means the peer violated BOLT 1.
 */
export class WireDecodeError extends FulmenError {
  constructor(message: string) {
    super('PROTOCOL', message);
    this.name = 'WireDecodeError';
  }
}

const U64_MAX = (1n << 64n) - 1n;

/** Sequential reader over a byte array; every read checks bounds and throws WireDecodeError. */
export class ByteReader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}

  get remaining(): number {
    return this.bytes.length - this.offset;
  }

  get position(): number {
    return this.offset;
  }

  private need(n: number, what: string): void {
    if (this.remaining < n) throw new WireDecodeError(`Truncated ${what}: need ${n} bytes, have ${this.remaining}`);
  }

  u8(what = 'byte'): number {
    this.need(1, what);
    return this.bytes[this.offset++]!;
  }

  u16(what = 'u16'): number {
    this.need(2, what);
    const v = (this.bytes[this.offset]! << 8) | this.bytes[this.offset + 1]!;
    this.offset += 2;
    return v;
  }

  u32(what = 'u32'): number {
    this.need(4, what);
    const b = this.bytes;
    const o = this.offset;
    const v = ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
    this.offset += 4;
    return v;
  }

  u64(what = 'u64'): bigint {
    this.need(8, what);
    let v = 0n;
    for (let i = 0; i < 8; i++) v = (v << 8n) | BigInt(this.bytes[this.offset + i]!);
    this.offset += 8;
    return v;
  }

  /** u64 that must fit a JS safe integer (satoshi amounts, commitment numbers). */
  u64Number(what = 'u64'): number {
    const v = this.u64(what);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new WireDecodeError(`${what} out of range: ${v}`);
    return Number(v);
  }

  /** BigSize (BOLT 1): canonical (minimal) encoding is required. */
  bigSize(what = 'bigsize'): bigint {
    const first = this.u8(what);
    if (first < 0xfd) return BigInt(first);
    if (first === 0xfd) {
      const v = this.u16(what);
      if (v < 0xfd) throw new WireDecodeError(`Non-canonical ${what}`);
      return BigInt(v);
    }
    if (first === 0xfe) {
      const v = this.u32(what);
      if (v < 0x10000) throw new WireDecodeError(`Non-canonical ${what}`);
      return BigInt(v);
    }
    const v = this.u64(what);
    if (v < 0x100000000n) throw new WireDecodeError(`Non-canonical ${what}`);
    return v;
  }

  bytesN(n: number, what = 'bytes'): Uint8Array {
    this.need(n, what);
    const out = this.bytes.slice(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }

  /** u16 length prefix followed by that many bytes. */
  varBytes16(what = 'bytes'): Uint8Array {
    const len = this.u16(`${what} length`);
    return this.bytesN(len, what);
  }

  rest(): Uint8Array {
    return this.bytesN(this.remaining, 'rest');
  }

  /** Compressed secp256k1 point: 33 bytes with prefix 0x02/0x03 (curve membership is checked by users). */
  point(what = 'point'): Uint8Array {
    const p = this.bytesN(33, what);
    if (p[0] !== 0x02 && p[0] !== 0x03) throw new WireDecodeError(`Invalid ${what}: bad prefix`);
    return p;
  }

  /** 64-byte compact ECDSA signature (r || s). */
  signature(what = 'signature'): Uint8Array {
    return this.bytesN(64, what);
  }

  /** Truncated unsigned integer (tu16/tu32/tu64, BOLT 1): minimal big-endian, 0..max bytes. */
  truncatedUint(maxBytes: number, what = 'tu'): bigint {
    const n = this.remaining;
    if (n > maxBytes) throw new WireDecodeError(`${what} too long: ${n} bytes`);
    if (n > 0 && this.bytes[this.offset] === 0) throw new WireDecodeError(`Non-minimal ${what}`);
    let v = 0n;
    for (let i = 0; i < n; i++) v = (v << 8n) | BigInt(this.u8(what));
    return v;
  }
}

/** Appending writer; checks every integer range and throws FulmenError INTERNAL on misuse. */
export class ByteWriter {
  private chunks: Uint8Array[] = [];
  private length = 0;

  private push(b: Uint8Array): this {
    this.chunks.push(b);
    this.length += b.length;
    return this;
  }

  private checkInt(v: number, max: number, what: string): void {
    if (!Number.isInteger(v) || v < 0 || v > max) throw new FulmenError('INTERNAL', `${what} out of range: ${v}`);
  }

  u8(v: number): this {
    this.checkInt(v, 0xff, 'u8');
    return this.push(Uint8Array.of(v));
  }

  u16(v: number): this {
    this.checkInt(v, 0xffff, 'u16');
    return this.push(Uint8Array.of(v >>> 8, v & 0xff));
  }

  u32(v: number): this {
    this.checkInt(v, 0xffffffff, 'u32');
    return this.push(Uint8Array.of(v >>> 24, (v >>> 16) & 0xff, (v >>> 8) & 0xff, v & 0xff));
  }

  u64(v: bigint | number): this {
    const x = BigInt(v);
    if (x < 0n || x > U64_MAX) throw new FulmenError('INTERNAL', `u64 out of range: ${x}`);
    const out = new Uint8Array(8);
    let t = x;
    for (let i = 7; i >= 0; i--) {
      out[i] = Number(t & 0xffn);
      t >>= 8n;
    }
    return this.push(out);
  }

  bigSize(v: bigint | number): this {
    return this.push(encodeBigSize(BigInt(v)));
  }

  bytes(b: Uint8Array): this {
    return this.push(b);
  }

  /** Fixed-size field: asserts the length so a wrong-size value never reaches the wire. */
  bytesN(b: Uint8Array, n: number, what: string): this {
    if (b.length !== n) throw new FulmenError('INTERNAL', `${what} must be ${n} bytes, got ${b.length}`);
    return this.push(b);
  }

  varBytes16(b: Uint8Array): this {
    this.u16(b.length);
    return this.push(b);
  }

  truncatedUint(v: bigint | number, maxBytes: number): this {
    return this.push(encodeTruncatedUint(BigInt(v), maxBytes));
  }

  finish(): Uint8Array {
    const out = new Uint8Array(this.length);
    let o = 0;
    for (const c of this.chunks) {
      out.set(c, o);
      o += c.length;
    }
    return out;
  }
}

/** BigSize encoding (BOLT 1): 1, 3, 5 or 9 bytes, always minimal. */
export function encodeBigSize(v: bigint): Uint8Array {
  if (v < 0n || v > U64_MAX) throw new FulmenError('INTERNAL', `bigsize out of range: ${v}`);
  if (v < 0xfdn) return Uint8Array.of(Number(v));
  if (v <= 0xffffn) return Uint8Array.of(0xfd, Number(v >> 8n), Number(v & 0xffn));
  if (v <= 0xffffffffn) {
    const n = Number(v);
    return Uint8Array.of(0xfe, n >>> 24, (n >>> 16) & 0xff, (n >>> 8) & 0xff, n & 0xff);
  }
  return new ByteWriter().u8(0xff).u64(v).finish();
}

/** Decodes one BigSize that must span the whole input (BOLT 1 bigsize test vectors). */
export function decodeBigSize(bytes: Uint8Array): bigint {
  const r = new ByteReader(bytes);
  const v = r.bigSize();
  if (r.remaining !== 0) throw new WireDecodeError('Trailing bytes after bigsize');
  return v;
}

/** Minimal big-endian encoding of an unsigned integer in at most `maxBytes` bytes (tu16/tu32/tu64). */
export function encodeTruncatedUint(v: bigint, maxBytes: number): Uint8Array {
  if (v < 0n || v >= 1n << BigInt(8 * maxBytes)) throw new FulmenError('INTERNAL', `truncated uint out of range: ${v}`);
  const out: number[] = [];
  let t = v;
  while (t > 0n) {
    out.unshift(Number(t & 0xffn));
    t >>= 8n;
  }
  return Uint8Array.from(out);
}

/**
 * short_channel_id (BOLT 7): block height (3 bytes) || tx index (3 bytes) || output index (2 bytes),
 * carried as a u64 bigint in Fulmen.
 */
export function scidFromParts(blockHeight: number, txIndex: number, outputIndex: number): bigint {
  if (blockHeight >= 1 << 24 || txIndex >= 1 << 24 || outputIndex >= 1 << 16 || blockHeight < 0 || txIndex < 0 || outputIndex < 0)
    throw new FulmenError('INTERNAL', 'short_channel_id part out of range');
  return (BigInt(blockHeight) << 40n) | (BigInt(txIndex) << 16n) | BigInt(outputIndex);
}

export function scidToParts(scid: bigint): { blockHeight: number; txIndex: number; outputIndex: number } {
  return {
    blockHeight: Number(scid >> 40n),
    txIndex: Number((scid >> 16n) & 0xffffffn),
    outputIndex: Number(scid & 0xffffn),
  };
}

/** Human form "BLOCKxTXxOUT" (BOLT 7), e.g. "539268x845x1". */
export function formatScid(scid: bigint): string {
  const p = scidToParts(scid);
  return `${p.blockHeight}x${p.txIndex}x${p.outputIndex}`;
}

/** Parses "BLOCKxTXxOUT". @throws FulmenError BAD_INPUT on a malformed string. */
export function parseScid(text: string): bigint {
  const m = /^(\d+)x(\d+)x(\d+)$/.exec(text.trim());
  if (!m) throw new FulmenError('BAD_INPUT', `Invalid short channel id: ${text}`);
  const [b, t, o] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (b >= 1 << 24 || t >= 1 << 24 || o >= 1 << 16) throw new FulmenError('BAD_INPUT', `Invalid short channel id: ${text}`);
  return scidFromParts(b, t, o);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * Lexicographic order of two byte strings (-1, 0, 1), shorter first on a common prefix: BOLT 7
 * orders node ids this way (node_id_1 is the lesser of the two compressed keys).
 */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! < b[i]! ? -1 : 1;
  return a.length === b.length ? 0 : a.length < b.length ? -1 : 1;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let len = 0;
  for (const p of parts) len += p.length;
  const out = new Uint8Array(len);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Hex (either case) → bytes, through Buffer's native decoder (several times faster than a JS loop
 * on 1366-byte onions). @throws FulmenError BAD_INPUT on odd length or a non-hex character.
 */
export function hexToBytes(hex: string): Uint8Array {
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) throw new FulmenError('BAD_INPUT', 'Invalid hex string');
  return new Uint8Array(Buffer.from(hex, 'hex'));
}

/** Bytes → lowercase hex (the chain layer's toHex: Buffer's native encoder). */
export { toHex as bytesToHex } from '../../chain/bytes.js';
