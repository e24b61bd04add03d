/**
 * BOLT 11 invoices: decode (with signature check / node id recovery) and encode (sign).
 * Amounts are exact bigint millisatoshis; errors are FulmenError BAD_INPUT with user-facing text.
 */
import { bech32, bech32m, createBase58check } from '@scure/base';
import { createHash } from 'node:crypto';
import { ecdsaRecover, ecdsaSignRecoverable, ecdsaVerify, isCompressedPoint, lowSSignature, publicKeyCreate } from '../../bitcoin/secp256k1.js';
import { FulmenError, badInput } from '../../util/errors.js';
import { FeatureBits } from '../wire/features.js';
import { ByteReader, ByteWriter, bytesEqual } from '../wire/codec.js';

export type InvoiceNetwork = 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest';

/** BOLT 11 currency prefixes (after "ln"). */
/** BOLT 11 currency prefixes; testnet4 shares testnet's `tb` (as in Electrum's BitcoinTestnet4). */
const NETWORK_PREFIX: Record<InvoiceNetwork, string> = { mainnet: 'bc', testnet: 'tb', testnet4: 'tb', signet: 'tbs', regtest: 'bcrt' };

/** One hop of an `r` route hint (BOLT 11 / BOLT 7 channel_update fields). */
export interface RouteHintHop {
  pubkey: Uint8Array;
  shortChannelId: bigint;
  feeBaseMsat: number;
  feeProportionalMillionths: number;
  cltvExpiryDelta: number;
}

/** `f` field: version 0..16 = witness program, 17 = P2PKH hash, 18 = P2SH hash. */
export interface FallbackAddress {
  version: number;
  program: Uint8Array;
}

/** Everything an invoice says; input of encodeInvoice. */
export interface InvoiceFields {
  network: InvoiceNetwork;
  /** Absent for "any amount" invoices. */
  amountMsat?: bigint;
  /** Seconds since the epoch. */
  timestamp: number;
  paymentHash: Uint8Array;
  paymentSecret: Uint8Array;
  /** Exactly one of description / descriptionHash. */
  description?: string;
  descriptionHash?: Uint8Array;
  /** `x`, seconds; default 3600 when absent. */
  expirySec?: number;
  /** `c`; default 18 when absent. */
  minFinalCltvExpiryDelta?: number;
  fallbacks?: FallbackAddress[];
  /** One inner array per `r` field, hops in forward order. */
  routeHints?: RouteHintHop[][];
  /** `9`; encodeInvoice defaults to var_onion_optin + payment_secret required. */
  features?: FeatureBits;
  /** `m`. */
  paymentMetadata?: Uint8Array;
}

/** A decoded, verified invoice. */
export interface Invoice extends Required<Pick<InvoiceFields, 'network' | 'timestamp' | 'paymentHash' | 'paymentSecret'>> {
  /** The invoice string, lower case, without "lightning:". */
  paymentRequest: string;
  amountMsat?: bigint;
  description?: string;
  descriptionHash?: Uint8Array;
  /** Effective expiry (3600 when the invoice has no `x`). */
  expirySec: number;
  /** Effective value (18 when the invoice has no `c`). */
  minFinalCltvExpiryDelta: number;
  fallbacks: FallbackAddress[];
  routeHints: RouteHintHop[][];
  features: FeatureBits;
  paymentMetadata?: Uint8Array;
  /** From `n`, or recovered from the signature. */
  payeeNodeId: Uint8Array;
  /** 64-byte r||s followed by the recovery id. */
  signature: Uint8Array;
}

export const DEFAULT_EXPIRY_SEC = 3600;
export const DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA = 18;
const MAX_MSAT = 21_000_000n * 100_000_000_000n;
const SIGNATURE_WORDS = 104;
const TIMESTAMP_WORDS = 7;

const TAG = { p: 1, s: 16, d: 13, m: 27, n: 19, h: 23, x: 6, c: 24, f: 9, r: 3, features: 5 } as const;

const invalid = (why: string) => badInput(`Invalid invoice: ${why}`);

/** Converts between bit groups (BIP 173 convertbits). With pad=false, leftover bits are dropped. */
function convertBits(data: ArrayLike<number>, from: number, to: number, pad: boolean): number[] {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const maxv = (1 << to) - 1;
  for (let i = 0; i < data.length; i++) {
    acc = ((acc << from) | data[i]!) & 0xffffff;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >> bits) & maxv);
    }
  }
  if (pad && bits > 0) out.push((acc << (to - bits)) & maxv);
  return out;
}

const wordsToBytes = (words: ArrayLike<number>) => Uint8Array.from(convertBits(words, 5, 8, false));
const bytesToWords = (bytes: Uint8Array) => convertBits(bytes, 8, 5, true);

function wordsToInt(words: ArrayLike<number>, what: string): number {
  if (words.length > 0 && words[0] === 0) throw invalid(`non-minimal ${what}`);
  let v = 0;
  for (let i = 0; i < words.length; i++) {
    v = v * 32 + words[i]!;
    if (v > Number.MAX_SAFE_INTEGER) throw invalid(`${what} too large`);
  }
  return v;
}

function intToWords(v: number): number[] {
  if (!Number.isSafeInteger(v) || v < 0) throw new FulmenError('INTERNAL', `Invalid invoice integer ${v}`);
  const out: number[] = [];
  let t = v;
  while (t > 0) {
    out.unshift(t % 32);
    t = Math.floor(t / 32);
  }
  return out;
}

function featuresFromWords(words: ArrayLike<number>): FeatureBits {
  if (words.length > 0 && words[0] === 0) throw invalid('non-minimal feature field');
  const bits: number[] = [];
  for (let i = 0; i < words.length; i++) {
    const w = words[words.length - 1 - i]!;
    for (let j = 0; j < 5; j++) if (w & (1 << j)) bits.push(i * 5 + j);
  }
  return FeatureBits.fromBits(bits);
}

function featuresToWords(f: FeatureBits): number[] {
  const bits = f.bits();
  if (bits.length === 0) return [];
  const n = Math.floor(Math.max(...bits) / 5) + 1;
  const words = new Array<number>(n).fill(0);
  for (const b of bits) words[n - 1 - Math.floor(b / 5)]! |= 1 << b % 5;
  return words;
}

/** Parses the human-readable part: "ln" + currency + optional amount/multiplier. */
function parseHrp(hrp: string): { network: InvoiceNetwork; amountMsat?: bigint } {
  const m = /^ln(bcrt|bc|tbs|tb)(\d*)([munp]?)$/.exec(hrp);
  if (!m) {
    if (/^ln(bcrt|bc|tbs|tb)/.test(hrp)) throw invalid('bad amount or multiplier');
    throw invalid(`unknown prefix "${hrp}"`);
  }
  const network = (Object.keys(NETWORK_PREFIX) as InvoiceNetwork[]).find((n) => NETWORK_PREFIX[n] === m[1])!;
  const digits = m[2]!;
  const multiplier = m[3]!;
  if (digits === '') {
    if (multiplier) throw invalid('multiplier without amount');
    return { network };
  }
  if (digits.startsWith('0')) throw invalid('amount has leading zeros or is zero');
  const value = BigInt(digits);
  let msat: bigint;
  switch (multiplier) {
    case '':
      msat = value * 100_000_000_000n;
      break;
    case 'm':
      msat = value * 100_000_000n;
      break;
    case 'u':
      msat = value * 100_000n;
      break;
    case 'n':
      msat = value * 100n;
      break;
    default: // 'p': 1 pico-BTC = 0.1 msat
      if (value % 10n !== 0n) throw invalid('amount has sub-millisatoshi precision');
      msat = value / 10n;
  }
  if (msat > MAX_MSAT) throw invalid('amount exceeds 21 million BTC');
  return { network, amountMsat: msat };
}

/** Shortest HRP amount for msat (BOLT 11 writer "SHOULD use the shortest representation"). */
function formatHrpAmount(msat: bigint): string {
  if (msat <= 0n) throw badInput('Invoice amount must be positive');
  if (msat % 100_000_000_000n === 0n) return `${msat / 100_000_000_000n}`;
  if (msat % 100_000_000n === 0n) return `${msat / 100_000_000n}m`;
  if (msat % 100_000n === 0n) return `${msat / 100_000n}u`;
  if (msat % 100n === 0n) return `${msat / 100n}n`;
  return `${msat * 10n}p`;
}

/** SHA-256 (node:crypto: invoices are decoded on every payment). */
function sha256(bytes: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update(bytes).digest());
}

function signingHash(hrp: string, dataWords: ArrayLike<number>): Uint8Array {
  const hrpBytes = new TextEncoder().encode(hrp);
  const data = Uint8Array.from(convertBits(dataWords, 5, 8, true));
  const msg = new Uint8Array(hrpBytes.length + data.length);
  msg.set(hrpBytes, 0);
  msg.set(data, hrpBytes.length);
  return sha256(msg);
}

const NETWORK_NAMES: Record<InvoiceNetwork, string> = { mainnet: 'mainnet', testnet: 'testnet', testnet4: 'testnet4', signet: 'signet', regtest: 'regtest' };

/**
 * Decodes and verifies a BOLT 11 invoice (an optional "lightning:" prefix is accepted).
 * Checks: bech32 checksum (no length limit), prefix/amount (exact msat, no sub-msat),
 * tagged field lengths (wrong-length p/h/s/n and unknown f versions are skipped as the spec
 * requires), exactly one of d/h, presence of p and s, minimal x/c/9, no unknown required
 * features and complete feature dependencies, signature (low-S against `n` when present,
 * otherwise public-key recovery), and the network when `expectedNetwork` is given.
 * @throws FulmenError BAD_INPUT ("Invalid invoice: ...", "Invoice is for testnet, this wallet is on regtest").
 */
export function decodeInvoice(text: string, expectedNetwork?: InvoiceNetwork): Invoice {
  let str = text.trim();
  if (/^lightning:/i.test(str)) str = str.slice('lightning:'.length);
  let decoded: { prefix: string; words: number[] };
  try {
    decoded = bech32.decode(str as `${string}1${string}`, false);
  } catch (e) {
    const msg = (e as Error).message;
    if (/checksum/i.test(msg)) throw invalid('bad checksum');
    if (/case/i.test(msg)) throw invalid('mixed upper and lower case');
    throw invalid('not a bech32 string');
  }
  const hrp = decoded.prefix;
  const words = decoded.words;
  const parsedHrp = parseHrp(hrp);
  const amountMsat = parsedHrp.amountMsat;
  if (expectedNetwork && NETWORK_PREFIX[parsedHrp.network] !== NETWORK_PREFIX[expectedNetwork])
    throw badInput(`Invoice is for ${NETWORK_NAMES[parsedHrp.network]}, this wallet is on ${NETWORK_NAMES[expectedNetwork]}`);
  // `tb` is testnet3's and testnet4's: the wallet's network tells which.
  const network = expectedNetwork ?? parsedHrp.network;
  if (words.length < TIMESTAMP_WORDS + SIGNATURE_WORDS) throw invalid('too short');

  const dataWords = words.slice(0, words.length - SIGNATURE_WORDS);
  const sigBytes = wordsToBytes(words.slice(words.length - SIGNATURE_WORDS));
  const timestamp = dataWords.slice(0, TIMESTAMP_WORDS).reduce((acc, w) => acc * 32 + w, 0);

  let paymentHash: Uint8Array | undefined;
  let paymentSecret: Uint8Array | undefined;
  let description: string | undefined;
  let descriptionHash: Uint8Array | undefined;
  let descriptionCount = 0;
  let nodeId: Uint8Array | undefined;
  let expirySec: number | undefined;
  let minFinalCltvExpiryDelta: number | undefined;
  let features = FeatureBits.empty();
  let paymentMetadata: Uint8Array | undefined;
  const fallbacks: FallbackAddress[] = [];
  const routeHints: RouteHintHop[][] = [];

  let i = TIMESTAMP_WORDS;
  while (i < dataWords.length) {
    if (i + 3 > dataWords.length) throw invalid('truncated tagged field');
    const tag = dataWords[i]!;
    const len = dataWords[i + 1]! * 32 + dataWords[i + 2]!;
    const field = dataWords.slice(i + 3, i + 3 + len);
    if (field.length !== len) throw invalid('tagged field longer than the invoice');
    i += 3 + len;
    switch (tag) {
      case TAG.p:
        if (len === 52 && paymentHash === undefined) paymentHash = wordsToBytes(field);
        break;
      case TAG.s:
        if (len === 52 && paymentSecret === undefined) paymentSecret = wordsToBytes(field);
        break;
      case TAG.h:
        if (len === 52) {
          descriptionCount++;
          descriptionHash = wordsToBytes(field);
        }
        break;
      case TAG.n:
        if (len === 53 && nodeId === undefined) nodeId = wordsToBytes(field);
        break;
      case TAG.d: {
        descriptionCount++;
        try {
          description = new TextDecoder('utf-8', { fatal: true }).decode(wordsToBytes(field));
        } catch {
          throw invalid('description is not valid UTF-8');
        }
        break;
      }
      case TAG.x:
        expirySec = wordsToInt(field, 'expiry');
        break;
      case TAG.c:
        minFinalCltvExpiryDelta = wordsToInt(field, 'min_final_cltv_expiry_delta');
        break;
      case TAG.f: {
        if (len < 1) break;
        const version = field[0]!;
        const program = wordsToBytes(field.slice(1));
        const ok =
          ((version === 17 || version === 18) && program.length === 20) ||
          (version === 0 && (program.length === 20 || program.length === 32)) ||
          (version >= 1 && version <= 16 && program.length >= 2 && program.length <= 40);
        if (ok) fallbacks.push({ version, program });
        break;
      }
      case TAG.r: {
        const bytes = wordsToBytes(field);
        if (bytes.length === 0 || bytes.length % 51 !== 0) throw invalid('malformed route hint');
        const r = new ByteReader(bytes);
        const hops: RouteHintHop[] = [];
        while (r.remaining > 0) {
          const pubkey = r.bytesN(33);
          if (!isValidPubkey(pubkey)) throw invalid('route hint has an invalid node id');
          hops.push({
            pubkey,
            shortChannelId: r.u64(),
            feeBaseMsat: r.u32(),
            feeProportionalMillionths: r.u32(),
            cltvExpiryDelta: r.u16(),
          });
        }
        routeHints.push(hops);
        break;
      }
      case TAG.features:
        features = featuresFromWords(field);
        break;
      case TAG.m:
        paymentMetadata = wordsToBytes(field);
        break;
      default:
      // unknown tags are ignored (BOLT 11: forward compatibility)
    }
  }

  if (!paymentHash) throw invalid('missing payment hash');
  if (!paymentSecret) throw invalid('missing payment secret');
  if (descriptionCount !== 1) throw invalid(descriptionCount === 0 ? 'missing description' : 'more than one description');
  const unknownRequired = features.unknownRequiredBits('9');
  if (unknownRequired.length > 0) throw invalid(`requires unknown features (bits ${unknownRequired.join(', ')})`);
  const missing = features.missingDependencies();
  if (missing.length > 0) throw invalid(`feature ${missing[0]!.feature} set without ${missing[0]!.missing}`);

  const hash = signingHash(hrp, dataWords);
  const recid = sigBytes[64]!;
  let payeeNodeId: Uint8Array;
  try {
    if (recid > 3) throw new Error('bad recovery id');
    const sig = sigBytes.subarray(0, 64);
    const lowS = lowSSignature(sig);
    const highS = !lowS.every((byte, i) => byte === sig[i]);
    if (nodeId) {
      if (!isValidPubkey(nodeId)) throw new Error('bad n');
      if (highS) throw invalid('signature is not canonical (high S)');
      if (!ecdsaVerify(sig, hash, nodeId)) throw new Error('bad signature');
      payeeNodeId = nodeId;
    } else {
      // The spec's "Public-key recovery with high-S signature" vector expects a high S to be
      // normalised to low S, keeping the recovery id, before recovering.
      payeeNodeId = ecdsaRecover(lowS, recid, hash);
    }
  } catch (e) {
    if (e instanceof FulmenError) throw e;
    throw invalid('bad signature');
  }

  const invoice: Invoice = {
    paymentRequest: str.toLowerCase(),
    network,
    timestamp,
    paymentHash,
    paymentSecret,
    expirySec: expirySec ?? DEFAULT_EXPIRY_SEC,
    minFinalCltvExpiryDelta: minFinalCltvExpiryDelta ?? DEFAULT_MIN_FINAL_CLTV_EXPIRY_DELTA,
    fallbacks,
    routeHints,
    features,
    payeeNodeId,
    signature: sigBytes,
  };
  if (amountMsat !== undefined) invoice.amountMsat = amountMsat;
  if (description !== undefined) invoice.description = description;
  if (descriptionHash !== undefined) invoice.descriptionHash = descriptionHash;
  if (paymentMetadata !== undefined) invoice.paymentMetadata = paymentMetadata;
  return invoice;
}

function isValidPubkey(p: Uint8Array): boolean {
  return isCompressedPoint(p);
}

/** Default `9` field for Fulmen invoices: var_onion_optin and payment_secret required. */
export const DEFAULT_INVOICE_FEATURES = FeatureBits.fromFeatures({ var_onion_optin: 'required', payment_secret: 'required' });

function tagged(tag: number, data: number[]): number[] {
  if (data.length > 1023) throw badInput('Invoice field too long');
  return [tag, data.length >> 5, data.length & 31, ...data];
}

/**
 * Builds and signs a BOLT 11 invoice. Field order: s, p, d|h, m, n, x, c, f..., r..., 9.
 * @param nodePrivkey the payee node key (32 bytes); `n` is included when includePayeeNodeId.
 * @throws FulmenError BAD_INPUT for invalid fields (both/neither description, bad lengths,
 *   non-positive amount, description over 639 bytes).
 */
export function encodeInvoice(fields: InvoiceFields, nodePrivkey: Uint8Array, opts: { includePayeeNodeId?: boolean } = {}): string {
  if (fields.paymentHash.length !== 32) throw badInput('Payment hash must be 32 bytes');
  if (fields.paymentSecret.length !== 32) throw badInput('Payment secret must be 32 bytes');
  if ((fields.description === undefined) === (fields.descriptionHash === undefined))
    throw badInput('An invoice needs exactly one of description or description hash');
  if (!Number.isSafeInteger(fields.timestamp) || fields.timestamp < 0 || fields.timestamp >= 2 ** 35) throw badInput('Invalid invoice timestamp');
  const hrp = `ln${NETWORK_PREFIX[fields.network]}${fields.amountMsat !== undefined ? formatHrpAmount(fields.amountMsat) : ''}`;

  const words: number[] = [];
  let t = fields.timestamp;
  const ts: number[] = [];
  for (let k = 0; k < TIMESTAMP_WORDS; k++) {
    ts.unshift(t % 32);
    t = Math.floor(t / 32);
  }
  words.push(...ts);
  words.push(...tagged(TAG.s, bytesToWords(fields.paymentSecret)));
  words.push(...tagged(TAG.p, bytesToWords(fields.paymentHash)));
  if (fields.description !== undefined) words.push(...tagged(TAG.d, bytesToWords(new TextEncoder().encode(fields.description))));
  else {
    if (fields.descriptionHash!.length !== 32) throw badInput('Description hash must be 32 bytes');
    words.push(...tagged(TAG.h, bytesToWords(fields.descriptionHash!)));
  }
  if (fields.paymentMetadata !== undefined) words.push(...tagged(TAG.m, bytesToWords(fields.paymentMetadata)));
  if (opts.includePayeeNodeId) words.push(...tagged(TAG.n, bytesToWords(publicKeyCreate(nodePrivkey))));
  if (fields.expirySec !== undefined) words.push(...tagged(TAG.x, intToWords(fields.expirySec)));
  if (fields.minFinalCltvExpiryDelta !== undefined) words.push(...tagged(TAG.c, intToWords(fields.minFinalCltvExpiryDelta)));
  for (const f of fields.fallbacks ?? []) words.push(...tagged(TAG.f, [f.version, ...bytesToWords(f.program)]));
  for (const hint of fields.routeHints ?? []) {
    const w = new ByteWriter();
    for (const h of hint)
      w.bytesN(h.pubkey, 33, 'pubkey').u64(h.shortChannelId).u32(h.feeBaseMsat).u32(h.feeProportionalMillionths).u16(h.cltvExpiryDelta);
    words.push(...tagged(TAG.r, bytesToWords(w.finish())));
  }
  const featureWords = featuresToWords(fields.features ?? DEFAULT_INVOICE_FEATURES);
  if (featureWords.length > 0) words.push(...tagged(TAG.features, featureWords));

  const { signature, recoveryId } = ecdsaSignRecoverable(signingHash(hrp, words), nodePrivkey);
  // BOLT 11: r || s || recovery id.
  const sig65 = new Uint8Array(65);
  sig65.set(signature, 0);
  sig65[64] = recoveryId;
  words.push(...bytesToWords(sig65));
  return bech32.encode(hrp, words, false);
}

/** True when the invoice has expired at `nowSec` (timestamp + expiry, BOLT 11 `x`). */
export function isExpired(invoice: Pick<Invoice, 'timestamp' | 'expirySec'>, nowSec: number): boolean {
  return nowSec > invoice.timestamp + invoice.expirySec;
}

/** Renders a fallback as a Bitcoin address for the invoice's network. */
export function fallbackToAddress(f: FallbackAddress, network: InvoiceNetwork): string {
  const mainnet = network === 'mainnet';
  if (f.version === 17 || f.version === 18) {
    const versionByte = f.version === 17 ? (mainnet ? 0x00 : 0x6f) : mainnet ? 0x05 : 0xc4;
    const payload = new Uint8Array(21);
    payload[0] = versionByte;
    payload.set(f.program, 1);
    return createBase58check(sha256).encode(payload);
  }
  const hrp = mainnet ? 'bc' : network === 'regtest' ? 'bcrt' : 'tb';
  const data = [f.version, ...bech32.toWords(f.program)];
  return f.version === 0 ? bech32.encode(hrp, data) : bech32m.encode(hrp, data);
}

/** Checks `h` against a description received out of band (BOLT 11 reader requirement). */
export function descriptionMatchesHash(invoice: Pick<Invoice, 'descriptionHash'>, description: string): boolean {
  return invoice.descriptionHash !== undefined && bytesEqual(sha256(new TextEncoder().encode(description)), invoice.descriptionHash);
}
