/**
 * BOLT 4 hop payload (`payload` TLV stream inside each onion layer).
 * Units: amtToForward / totalMsat are bigint millisatoshis; outgoingCltvValue is a block height.
 */
import { ByteReader, ByteWriter, WireDecodeError, encodeTruncatedUint } from '../wire/codec.js';
import { decodeTlvStream, encodeTlvStream, type TlvRecord } from '../wire/tlv.js';

export const HopPayloadType = {
  amt_to_forward: 2n,
  outgoing_cltv_value: 4n,
  short_channel_id: 6n,
  payment_data: 8n,
  encrypted_recipient_data: 10n,
  current_path_key: 12n,
  payment_metadata: 16n,
  total_amount_msat: 18n,
} as const;

export interface HopPayload {
  amtToForward: bigint;
  outgoingCltvValue: number;
  /** Outgoing channel; present for forwarding hops, absent for the final hop. */
  shortChannelId?: bigint;
  /** Final hop: the invoice's payment_secret and the total of all parts (MPP). */
  paymentData?: { paymentSecret: Uint8Array; totalMsat: bigint };
  paymentMetadata?: Uint8Array;
  /** Odd TLV records we do not interpret (kept so custom records survive decode/encode). */
  unknownOddRecords?: TlvRecord[];
}

/**
 * A payload we cannot accept: maps to `invalid_onion_payload` (PERM|22) with the offending TLV
 * type and its byte offset in the decrypted payload (BOLT 4 "Failure Messages").
 */
export class OnionPayloadError extends WireDecodeError {
  constructor(
    message: string,
    readonly tlvType: bigint,
    readonly offset: number,
  ) {
    super(message);
    this.name = 'OnionPayloadError';
  }
}

/** Serializes a hop payload TLV stream (without the bigsize length prefix). */
export function encodeHopPayload(p: HopPayload): Uint8Array {
  const recs: TlvRecord[] = [
    { type: HopPayloadType.amt_to_forward, value: encodeTruncatedUint(p.amtToForward, 8) },
    { type: HopPayloadType.outgoing_cltv_value, value: encodeTruncatedUint(BigInt(p.outgoingCltvValue), 4) },
  ];
  if (p.shortChannelId !== undefined) recs.push({ type: HopPayloadType.short_channel_id, value: new ByteWriter().u64(p.shortChannelId).finish() });
  if (p.paymentData !== undefined)
    recs.push({
      type: HopPayloadType.payment_data,
      value: new ByteWriter().bytesN(p.paymentData.paymentSecret, 32, 'payment_secret').truncatedUint(p.paymentData.totalMsat, 8).finish(),
    });
  if (p.paymentMetadata !== undefined) recs.push({ type: HopPayloadType.payment_metadata, value: p.paymentMetadata });
  for (const r of p.unknownOddRecords ?? []) recs.push(r);
  return encodeTlvStream(recs);
}

/** Byte offset of each record's type within the stream, for `invalid_onion_payload` data. */
function recordOffsets(bytes: Uint8Array): Map<bigint, number> {
  const offsets = new Map<bigint, number>();
  const r = new ByteReader(bytes);
  while (r.remaining > 0) {
    const at = r.position;
    const type = r.bigSize();
    const len = Number(r.bigSize());
    r.bytesN(len);
    offsets.set(type, at);
  }
  return offsets;
}

/**
 * Decodes and validates a hop payload (BOLT 4 "payload format", non-blinded reader rules):
 * amt_to_forward and outgoing_cltv_value required; short_channel_id required for non-final
 * hops; route blinding fields are not supported (rejected as invalid payload).
 * @throws OnionPayloadError (a WireDecodeError) naming the TLV type and offset at fault.
 */
export function decodeHopPayload(bytes: Uint8Array, isFinal: boolean): HopPayload {
  let records: TlvRecord[];
  try {
    records = decodeTlvStream(bytes, new Set([2n, 4n, 6n, 8n, 10n, 12n, 16n, 18n]));
  } catch (e) {
    throw new OnionPayloadError(`Invalid onion payload: ${(e as Error).message}`, 0n, 0);
  }
  const offsets = recordOffsets(bytes);
  const fail = (type: bigint, what: string): never => {
    throw new OnionPayloadError(`Invalid onion payload: ${what}`, type, offsets.get(type) ?? 0);
  };
  const parse = <T>(type: bigint, value: Uint8Array, fn: (r: ByteReader) => T): T => {
    try {
      const r = new ByteReader(value);
      const v = fn(r);
      if (r.remaining !== 0) fail(type, `trailing bytes in TLV ${type}`);
      return v;
    } catch (e) {
      if (e instanceof OnionPayloadError) throw e;
      return fail(type, `bad TLV ${type}: ${(e as Error).message}`);
    }
  };
  let amt: bigint | undefined;
  let cltv: number | undefined;
  const out: Partial<HopPayload> = {};
  const unknown: TlvRecord[] = [];
  for (const rec of records) {
    switch (rec.type) {
      case 2n:
        amt = parse(rec.type, rec.value, (r) => r.truncatedUint(8, 'amt_to_forward'));
        break;
      case 4n:
        cltv = Number(parse(rec.type, rec.value, (r) => r.truncatedUint(4, 'outgoing_cltv_value')));
        break;
      case 6n:
        out.shortChannelId = parse(rec.type, rec.value, (r) => r.u64('short_channel_id'));
        break;
      case 8n:
        out.paymentData = parse(rec.type, rec.value, (r) => ({ paymentSecret: r.bytesN(32, 'payment_secret'), totalMsat: r.truncatedUint(8, 'total_msat') }));
        break;
      case 16n:
        out.paymentMetadata = rec.value;
        break;
      case 10n:
      case 12n:
      case 18n:
        // encrypted_recipient_data / current_path_key / total_amount_msat: route blinding,
        // which Fulmen neither forwards nor terminates yet.
        fail(rec.type, 'route blinding is not supported');
        break;
      default:
        unknown.push(rec);
    }
  }
  if (amt === undefined) fail(HopPayloadType.amt_to_forward, 'missing amt_to_forward');
  if (cltv === undefined) fail(HopPayloadType.outgoing_cltv_value, 'missing outgoing_cltv_value');
  if (!isFinal && out.shortChannelId === undefined) fail(HopPayloadType.short_channel_id, 'missing short_channel_id');
  if (!isFinal && out.paymentData !== undefined) fail(HopPayloadType.payment_data, 'payment_data on a forwarding hop');
  const payload: HopPayload = { amtToForward: amt!, outgoingCltvValue: cltv!, ...out };
  if (unknown.length > 0) payload.unknownOddRecords = unknown;
  return payload;
}
