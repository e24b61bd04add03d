import * as bitcoin from 'bitcoinjs-lib';
import { badInput } from '../util/errors.js';

/**
 * PSBT version 2 (BIP 370) at the byte level, and conversion between v2 and v0 (BIP 174) so that
 * the rest of the wallet (bitcoinjs-lib's Psbt, v0 only) handles both.
 *
 * Format (BIP 174 "Specification"): magic `psbt 0xff`, the global map, one map per input, one
 * map per output. A map is key-value pairs `<compactSize keylen><key><compactSize vallen><value>`
 * ended by a 0x00 byte; key[0] is the type. v0 counts inputs and outputs from
 * PSBT_GLOBAL_UNSIGNED_TX; v2 has no unsigned transaction but PSBT_GLOBAL_INPUT_COUNT /
 * OUTPUT_COUNT, and each input/output map carries its outpoint, sequence, amount and script.
 *
 * Errors: every malformed or rule-breaking PSBT throws FulmenError BAD_INPUT "Invalid PSBT: …".
 */

/** One key-value pair of a map (raw bytes; key[0] is the type). */
export interface PsbtKeyValue {
  key: Uint8Array;
  value: Uint8Array;
}

/** A parsed PSBT: its maps, in order. */
export interface PsbtMaps {
  global: PsbtKeyValue[];
  inputs: PsbtKeyValue[][];
  outputs: PsbtKeyValue[][];
}

const MAGIC = Uint8Array.from([0x70, 0x73, 0x62, 0x74, 0xff]);

/** Key types (BIP 174 / BIP 370 names). */
export const PSBT_GLOBAL_UNSIGNED_TX = 0x00;
export const PSBT_GLOBAL_TX_VERSION = 0x02;
export const PSBT_GLOBAL_FALLBACK_LOCKTIME = 0x03;
export const PSBT_GLOBAL_INPUT_COUNT = 0x04;
export const PSBT_GLOBAL_OUTPUT_COUNT = 0x05;
export const PSBT_GLOBAL_TX_MODIFIABLE = 0x06;
export const PSBT_GLOBAL_VERSION = 0xfb;
export const PSBT_IN_PREVIOUS_TXID = 0x0e;
export const PSBT_IN_OUTPUT_INDEX = 0x0f;
export const PSBT_IN_SEQUENCE = 0x10;
export const PSBT_IN_REQUIRED_TIME_LOCKTIME = 0x11;
export const PSBT_IN_REQUIRED_HEIGHT_LOCKTIME = 0x12;
export const PSBT_OUT_AMOUNT = 0x03;
export const PSBT_OUT_SCRIPT = 0x04;

/** Fields that only a v2 PSBT may have (and a v2 PSBT must not have PSBT_GLOBAL_UNSIGNED_TX). */
const V2_GLOBAL = [PSBT_GLOBAL_TX_VERSION, PSBT_GLOBAL_FALLBACK_LOCKTIME, PSBT_GLOBAL_INPUT_COUNT, PSBT_GLOBAL_OUTPUT_COUNT, PSBT_GLOBAL_TX_MODIFIABLE];
const V2_INPUT = [PSBT_IN_PREVIOUS_TXID, PSBT_IN_OUTPUT_INDEX, PSBT_IN_SEQUENCE, PSBT_IN_REQUIRED_TIME_LOCKTIME, PSBT_IN_REQUIRED_HEIGHT_LOCKTIME];
const V2_OUTPUT = [PSBT_OUT_AMOUNT, PSBT_OUT_SCRIPT];

/** Lock times from 500 000 000 on are timestamps (consensus LOCKTIME_THRESHOLD). */
const LOCKTIME_THRESHOLD = 500_000_000;

const invalid = (why: string) => badInput(`Invalid PSBT: ${why}`);

class Reader {
  private offset = 0;
  constructor(private readonly bytes: Uint8Array) {}
  done(): boolean {
    return this.offset >= this.bytes.length;
  }
  byte(): number {
    if (this.offset >= this.bytes.length) throw invalid('truncated');
    return this.bytes[this.offset++]!;
  }
  take(n: number): Uint8Array {
    if (n > this.bytes.length - this.offset) throw invalid('truncated');
    const out = this.bytes.subarray(this.offset, this.offset + n);
    this.offset += n;
    return out;
  }
  compactSize(): number {
    const first = this.byte();
    if (first < 0xfd) return first;
    const n = first === 0xfd ? 2 : first === 0xfe ? 4 : 8;
    const b = this.take(n);
    let value = 0;
    for (let i = n - 1; i >= 0; i--) value = value * 256 + b[i]!;
    if (!Number.isSafeInteger(value)) throw invalid('length out of range');
    return value;
  }
}

function compactSize(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8);
  const out = new Uint8Array(5);
  out[0] = 0xfe;
  new DataView(out.buffer).setUint32(1, n, true);
  return out;
}

function readMap(reader: Reader, what: string): PsbtKeyValue[] {
  const map: PsbtKeyValue[] = [];
  const seen = new Set<string>();
  for (;;) {
    const keyLength = reader.compactSize();
    if (keyLength === 0) return map;
    const key = reader.take(keyLength);
    const value = reader.take(reader.compactSize());
    const id = Buffer.from(key).toString('hex');
    if (seen.has(id)) throw invalid(`duplicate key ${id} in the ${what} map`);
    seen.add(id);
    map.push({ key, value });
  }
}

/** The value of the single-byte key `type` in `map`, or undefined. Keydata on these types is refused. */
function field(map: readonly PsbtKeyValue[], type: number, what: string): Uint8Array | undefined {
  const entry = map.find((kv) => kv.key[0] === type);
  if (entry && entry.key.length !== 1) throw invalid(`${what} key 0x${type.toString(16)} must have no key data`);
  return entry?.value;
}

function uint32(value: Uint8Array | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (value.length !== 4) throw invalid(`${name} must be 4 bytes`);
  return new DataView(value.buffer, value.byteOffset, 4).getUint32(0, true);
}

function uint32Bytes(n: number): Uint8Array {
  const out = new Uint8Array(4);
  new DataView(out.buffer).setUint32(0, n >>> 0, true);
  return out;
}

/**
 * Splits a PSBT (bytes) into its maps. The input and output counts come from
 * PSBT_GLOBAL_UNSIGNED_TX (v0) or PSBT_GLOBAL_INPUT_COUNT / OUTPUT_COUNT (v2).
 * @throws FulmenError BAD_INPUT for a bad magic, truncation, duplicate keys, trailing bytes, or
 *   no way to count the inputs and outputs.
 */
export function parsePsbtMaps(bytes: Uint8Array): PsbtMaps {
  if (bytes.length < MAGIC.length || MAGIC.some((b, i) => bytes[i] !== b)) throw invalid('bad magic');
  const reader = new Reader(bytes.subarray(MAGIC.length));
  const global = readMap(reader, 'global');
  const unsignedTx = field(global, PSBT_GLOBAL_UNSIGNED_TX, 'global');
  let inputCount: number;
  let outputCount: number;
  if (unsignedTx) {
    let tx: bitcoin.Transaction;
    try {
      tx = bitcoin.Transaction.fromBuffer(unsignedTx);
    } catch {
      throw invalid('unparseable PSBT_GLOBAL_UNSIGNED_TX');
    }
    inputCount = tx.ins.length;
    outputCount = tx.outs.length;
  } else {
    const inputs = field(global, PSBT_GLOBAL_INPUT_COUNT, 'global');
    const outputs = field(global, PSBT_GLOBAL_OUTPUT_COUNT, 'global');
    if (!inputs) throw invalid('PSBT_GLOBAL_INPUT_COUNT is required in a v2 PSBT');
    if (!outputs) throw invalid('PSBT_GLOBAL_OUTPUT_COUNT is required in a v2 PSBT');
    inputCount = new Reader(inputs).compactSize();
    outputCount = new Reader(outputs).compactSize();
  }
  const inputMaps: PsbtKeyValue[][] = [];
  for (let i = 0; i < inputCount; i++) inputMaps.push(readMap(reader, `input ${i}`));
  const outputMaps: PsbtKeyValue[][] = [];
  for (let i = 0; i < outputCount; i++) outputMaps.push(readMap(reader, `output ${i}`));
  if (!reader.done()) throw invalid('trailing bytes after the last output map');
  return { global, inputs: inputMaps, outputs: outputMaps };
}

/** Serializes maps back to PSBT bytes (pairs in the order given). */
export function serializePsbtMaps(maps: PsbtMaps): Uint8Array {
  const parts: Uint8Array[] = [MAGIC];
  const writeMap = (map: readonly PsbtKeyValue[]) => {
    for (const { key, value } of map) parts.push(compactSize(key.length), key, compactSize(value.length), value);
    parts.push(Uint8Array.of(0));
  };
  writeMap(maps.global);
  maps.inputs.forEach(writeMap);
  maps.outputs.forEach(writeMap);
  return Buffer.concat(parts);
}

/**
 * The PSBT's version (PSBT_GLOBAL_VERSION, 0 when absent), after checking the fields against it:
 * v0 must have PSBT_GLOBAL_UNSIGNED_TX and none of BIP 370's fields; v2 the opposite, with every
 * required field (global TX_VERSION, INPUT_COUNT, OUTPUT_COUNT; per input PREVIOUS_TXID and
 * OUTPUT_INDEX; per output AMOUNT and SCRIPT) of the right size, and required lock times in
 * their ranges (time ≥ 500 000 000; 0 < height < 500 000 000).
 * @throws FulmenError BAD_INPUT naming the broken rule; also for versions other than 0 and 2.
 */
export function checkedPsbtVersion(maps: PsbtMaps): 0 | 2 {
  const version = uint32(field(maps.global, PSBT_GLOBAL_VERSION, 'global'), 'PSBT_GLOBAL_VERSION') ?? 0;
  if (version !== 0 && version !== 2) throw invalid(`unsupported PSBT version ${version}`);
  const hasAny = (map: readonly PsbtKeyValue[], types: readonly number[]) => map.some((kv) => types.includes(kv.key[0]!));
  if (version === 0) {
    if (!field(maps.global, PSBT_GLOBAL_UNSIGNED_TX, 'global')) throw invalid('PSBT_GLOBAL_UNSIGNED_TX is required in a v0 PSBT');
    if (hasAny(maps.global, V2_GLOBAL) || maps.inputs.some((m) => hasAny(m, V2_INPUT)) || maps.outputs.some((m) => hasAny(m, V2_OUTPUT))) {
      throw invalid('a v0 PSBT must not have PSBT v2 (BIP 370) fields');
    }
    return 0;
  }
  if (field(maps.global, PSBT_GLOBAL_UNSIGNED_TX, 'global')) throw invalid('a v2 PSBT must not have PSBT_GLOBAL_UNSIGNED_TX');
  if (uint32(field(maps.global, PSBT_GLOBAL_TX_VERSION, 'global'), 'PSBT_GLOBAL_TX_VERSION') === undefined) {
    throw invalid('PSBT_GLOBAL_TX_VERSION is required in a v2 PSBT');
  }
  uint32(field(maps.global, PSBT_GLOBAL_FALLBACK_LOCKTIME, 'global'), 'PSBT_GLOBAL_FALLBACK_LOCKTIME');
  const modifiable = field(maps.global, PSBT_GLOBAL_TX_MODIFIABLE, 'global');
  if (modifiable && modifiable.length !== 1) throw invalid('PSBT_GLOBAL_TX_MODIFIABLE must be 1 byte');
  maps.inputs.forEach((input, i) => {
    const txid = field(input, PSBT_IN_PREVIOUS_TXID, `input ${i}`);
    if (!txid) throw invalid(`input ${i}: PSBT_IN_PREVIOUS_TXID is required in a v2 PSBT`);
    if (txid.length !== 32) throw invalid(`input ${i}: PSBT_IN_PREVIOUS_TXID must be 32 bytes`);
    if (uint32(field(input, PSBT_IN_OUTPUT_INDEX, `input ${i}`), 'PSBT_IN_OUTPUT_INDEX') === undefined) {
      throw invalid(`input ${i}: PSBT_IN_OUTPUT_INDEX is required in a v2 PSBT`);
    }
    uint32(field(input, PSBT_IN_SEQUENCE, `input ${i}`), 'PSBT_IN_SEQUENCE');
    const time = uint32(field(input, PSBT_IN_REQUIRED_TIME_LOCKTIME, `input ${i}`), 'PSBT_IN_REQUIRED_TIME_LOCKTIME');
    if (time !== undefined && time < LOCKTIME_THRESHOLD) throw invalid(`input ${i}: PSBT_IN_REQUIRED_TIME_LOCKTIME below 500000000`);
    const height = uint32(field(input, PSBT_IN_REQUIRED_HEIGHT_LOCKTIME, `input ${i}`), 'PSBT_IN_REQUIRED_HEIGHT_LOCKTIME');
    if (height !== undefined && (height === 0 || height >= LOCKTIME_THRESHOLD)) {
      throw invalid(`input ${i}: PSBT_IN_REQUIRED_HEIGHT_LOCKTIME must be in 1..499999999`);
    }
  });
  maps.outputs.forEach((output, i) => {
    const amount = field(output, PSBT_OUT_AMOUNT, `output ${i}`);
    if (!amount) throw invalid(`output ${i}: PSBT_OUT_AMOUNT is required in a v2 PSBT`);
    if (amount.length !== 8) throw invalid(`output ${i}: PSBT_OUT_AMOUNT must be 8 bytes`);
    if (!field(output, PSBT_OUT_SCRIPT, `output ${i}`)) throw invalid(`output ${i}: PSBT_OUT_SCRIPT is required in a v2 PSBT`);
  });
  return 2;
}

/**
 * nLockTime of a checked v2 PSBT (BIP 370 "Determining Lock Time"): without any required lock
 * time, PSBT_GLOBAL_FALLBACK_LOCKTIME (0 when absent); otherwise the type every input that
 * names one supports (height when both are possible), and the largest value of that type.
 * @throws FulmenError BAD_INPUT when the inputs require incompatible lock time types.
 */
export function psbtV2Locktime(maps: PsbtMaps): number {
  const required = maps.inputs
    .map((input) => ({
      time: uint32(field(input, PSBT_IN_REQUIRED_TIME_LOCKTIME, 'input'), 'PSBT_IN_REQUIRED_TIME_LOCKTIME'),
      height: uint32(field(input, PSBT_IN_REQUIRED_HEIGHT_LOCKTIME, 'input'), 'PSBT_IN_REQUIRED_HEIGHT_LOCKTIME'),
    }))
    .filter((r) => r.time !== undefined || r.height !== undefined);
  if (required.length === 0) return uint32(field(maps.global, PSBT_GLOBAL_FALLBACK_LOCKTIME, 'global'), 'PSBT_GLOBAL_FALLBACK_LOCKTIME') ?? 0;
  if (required.every((r) => r.height !== undefined)) return Math.max(...required.map((r) => r.height!));
  if (required.every((r) => r.time !== undefined)) return Math.max(...required.map((r) => r.time!));
  throw invalid('its inputs require both a height and a time lock time: no nLockTime satisfies them all');
}

const without = (map: readonly PsbtKeyValue[], types: readonly number[]) => map.filter((kv) => !types.includes(kv.key[0]!));

/**
 * A v2 PSBT as v0: the unsigned transaction built from the v2 fields (version, inputs with their
 * sequence — 0xffffffff when absent —, outputs, lock time per `psbtV2Locktime`) becomes
 * PSBT_GLOBAL_UNSIGNED_TX; the v2-only fields are dropped; everything else (UTXOs, signatures,
 * derivations, proprietary and unknown fields) is kept. A v0 PSBT is returned checked, unchanged.
 * @throws FulmenError BAD_INPUT for an invalid PSBT (see `checkedPsbtVersion`, `psbtV2Locktime`).
 */
export function psbtToV0(bytes: Uint8Array): Uint8Array {
  const maps = parsePsbtMaps(bytes);
  if (checkedPsbtVersion(maps) === 0) return bytes;
  const tx = new bitcoin.Transaction();
  const txVersion = field(maps.global, PSBT_GLOBAL_TX_VERSION, 'global')!;
  tx.version = new DataView(txVersion.buffer, txVersion.byteOffset, 4).getInt32(0, true);
  tx.locktime = psbtV2Locktime(maps);
  for (const input of maps.inputs) {
    const sequence = uint32(field(input, PSBT_IN_SEQUENCE, 'input'), 'PSBT_IN_SEQUENCE') ?? 0xffffffff;
    tx.addInput(Uint8Array.from(field(input, PSBT_IN_PREVIOUS_TXID, 'input')!), uint32(field(input, PSBT_IN_OUTPUT_INDEX, 'input'), 'PSBT_IN_OUTPUT_INDEX')!, sequence);
  }
  for (const output of maps.outputs) {
    const amount = field(output, PSBT_OUT_AMOUNT, 'output')!;
    const value = new DataView(amount.buffer, amount.byteOffset, 8).getBigInt64(0, true);
    if (value < 0n) throw invalid('negative PSBT_OUT_AMOUNT');
    tx.addOutput(Uint8Array.from(field(output, PSBT_OUT_SCRIPT, 'output')!), value);
  }
  return serializePsbtMaps({
    global: [{ key: Uint8Array.of(PSBT_GLOBAL_UNSIGNED_TX), value: tx.toBuffer() }, ...without(maps.global, [...V2_GLOBAL, PSBT_GLOBAL_VERSION])],
    inputs: maps.inputs.map((m) => without(m, V2_INPUT)),
    outputs: maps.outputs.map((m) => without(m, V2_OUTPUT)),
  });
}

/**
 * A PSBT as v2 (BIP 370): from a v0 one, its unsigned transaction is spread into the v2 fields
 * (PSBT_GLOBAL_TX_VERSION, FALLBACK_LOCKTIME = its nLockTime, INPUT_COUNT, OUTPUT_COUNT,
 * VERSION = 2; per input PREVIOUS_TXID, OUTPUT_INDEX, SEQUENCE; per output AMOUNT, SCRIPT), every
 * other field kept. No PSBT_GLOBAL_TX_MODIFIABLE is set: the transaction is not open to changes.
 * A v2 PSBT is returned checked, unchanged.
 * @throws FulmenError BAD_INPUT for an invalid PSBT.
 */
export function psbtToV2(bytes: Uint8Array): Uint8Array {
  const maps = parsePsbtMaps(bytes);
  if (checkedPsbtVersion(maps) === 2) return bytes;
  const tx = bitcoin.Transaction.fromBuffer(field(maps.global, PSBT_GLOBAL_UNSIGNED_TX, 'global')!);
  const int32 = (n: number) => {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setInt32(0, n, true);
    return out;
  };
  const kv = (type: number, value: Uint8Array): PsbtKeyValue => ({ key: Uint8Array.of(type), value });
  const amount = (value: bigint) => {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setBigInt64(0, value, true);
    return out;
  };
  return serializePsbtMaps({
    global: [
      kv(PSBT_GLOBAL_TX_VERSION, int32(tx.version)),
      kv(PSBT_GLOBAL_FALLBACK_LOCKTIME, uint32Bytes(tx.locktime)),
      kv(PSBT_GLOBAL_INPUT_COUNT, compactSize(tx.ins.length)),
      kv(PSBT_GLOBAL_OUTPUT_COUNT, compactSize(tx.outs.length)),
      ...without(maps.global, [PSBT_GLOBAL_UNSIGNED_TX, PSBT_GLOBAL_VERSION]),
      kv(PSBT_GLOBAL_VERSION, uint32Bytes(2)),
    ],
    inputs: maps.inputs.map((m, i) => [
      ...m,
      kv(PSBT_IN_PREVIOUS_TXID, Uint8Array.from(tx.ins[i]!.hash)),
      kv(PSBT_IN_OUTPUT_INDEX, uint32Bytes(tx.ins[i]!.index)),
      kv(PSBT_IN_SEQUENCE, uint32Bytes(tx.ins[i]!.sequence)),
    ]),
    outputs: maps.outputs.map((m, i) => [...m, kv(PSBT_OUT_AMOUNT, amount(BigInt(tx.outs[i]!.value))), kv(PSBT_OUT_SCRIPT, Uint8Array.from(tx.outs[i]!.script))]),
  });
}
