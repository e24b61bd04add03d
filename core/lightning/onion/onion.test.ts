import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, hexToBytes, ByteReader } from '../wire/codec.js';
import { createOnionPacket, processOnionPacket, generateOnionKey, ONION_PACKET_LENGTH, startOnionSession } from './sphinx.js';
import { decodeHopPayload, encodeHopPayload, type HopPayload } from './payload.js';
import { createFailureMessage, decodeFailure, obfuscateFailure, failureChannelUpdate } from './failure.js';
import { FailureCode, failureCodeName } from './failure-codes.js';

const load = (name: string) => JSON.parse(readFileSync(new URL(`./testdata/${name}`, import.meta.url), 'utf8'));
const onionVector = load('onion-test.json') as {
  generate: { session_key: string; associated_data: string; hops: { pubkey: string; payload: string }[] };
  onion: string;
  decode: string[];
};
const errorVector = load('onion-error-test.json') as {
  generate: { session_key: string; failure_message: string; hops: { pubkey: string; hop_shared_secret: string; ammag_key: string; um_key?: string; payload?: string }[] };
  errorpacket: string;
};
const returningErrors = load('returning-errors.json') as { encoded_failure_message: string; error_packets: Record<string, string> };

/** The vector payloads carry their bigsize length prefix; the API takes the bare TLV stream. */
function stripLength(hex: string): Uint8Array {
  const r = new ByteReader(hexToBytes(hex));
  const len = Number(r.bigSize());
  const payload = r.rest();
  expect(payload.length).toBe(len);
  return payload;
}

const hops = onionVector.generate.hops.map((h) => ({ pubkey: hexToBytes(h.pubkey), payload: stripLength(h.payload) }));
const assoc = hexToBytes(onionVector.generate.associated_data);
const sessionKey = hexToBytes(onionVector.generate.session_key);

describe('BOLT 4 onion-test.json', () => {
  it('creates the exact packet', () => {
    const { packet, sharedSecrets } = createOnionPacket(startOnionSession(sessionKey, hops[0]!.pubkey), hops, assoc);
    expect(bytesToHex(packet)).toBe(onionVector.onion);
    // same session key and hops as onion-error-test.json, which lists the shared secrets
    expect(sharedSecrets.map(bytesToHex)).toEqual(errorVector.generate.hops.map((h) => h.hop_shared_secret));
  });

  it('each hop peels its layer with its private key; the last one is final', () => {
    let packet = hexToBytes(onionVector.onion);
    for (let i = 0; i < hops.length; i++) {
      expect(secp256k1.getPublicKey(hexToBytes(onionVector.decode[i]!), true)).toEqual(hops[i]!.pubkey);
      const res = processOnionPacket(packet, hexToBytes(onionVector.decode[i]!), assoc);
      const isLast = i === hops.length - 1;
      expect(res.type).toBe(isLast ? 'final' : 'forward');
      if (res.type !== 'forward' && res.type !== 'final') throw new Error('unreachable');
      expect(bytesToHex(res.sharedSecret)).toBe(errorVector.generate.hops[i]!.hop_shared_secret);
      expect(encodeHopPayload(res.payload)).toEqual(hops[i]!.payload);
      if (res.type === 'forward') packet = res.nextPacket;
    }
  });

  it('decodes the vector payloads into typed fields', () => {
    const first = decodeHopPayload(hops[0]!.payload, false);
    expect(first).toEqual({ amtToForward: 15000n, outgoingCltvValue: 1500, shortChannelId: 1n });
    const second = decodeHopPayload(hops[1]!.payload, false);
    expect(second.amtToForward).toBe(14000n);
    expect(second.unknownOddRecords?.[0]?.type).toBe(513n);
    const last = decodeHopPayload(hops[4]!.payload, true);
    expect(last.amtToForward).toBe(10000n);
    expect(last.outgoingCltvValue).toBe(1000);
    expect(last.paymentData?.totalMsat).toBe(10000n);
    expect(bytesToHex(last.paymentData!.paymentSecret)).toBe('24a33562c54507a9334e79f0dc4f17d407e6d7c61f0e2f3d0d38599502f61704');
  });

  it('reports invalid_onion_hmac / invalid_onion_version / invalid_onion_key with sha256_of_onion', () => {
    const priv = hexToBytes(onionVector.decode[0]!);
    const good = hexToBytes(onionVector.onion);
    const tampered = good.slice();
    tampered[100]! ^= 1;
    expect(processOnionPacket(tampered, priv, assoc)).toMatchObject({ type: 'malformed', failureCode: FailureCode.invalid_onion_hmac });
    expect(processOnionPacket(good, priv, new Uint8Array(32))).toMatchObject({ type: 'malformed', failureCode: FailureCode.invalid_onion_hmac });
    const badVersion = good.slice();
    badVersion[0] = 1;
    expect(processOnionPacket(badVersion, priv, assoc)).toMatchObject({ type: 'malformed', failureCode: FailureCode.invalid_onion_version });
    const badKey = good.slice();
    badKey[1] = 0x04;
    const res = processOnionPacket(badKey, priv, assoc);
    expect(res).toMatchObject({ type: 'malformed', failureCode: FailureCode.invalid_onion_key });
    if (res.type === 'malformed') expect(res.sha256OfOnion.length).toBe(32);
  });

  it('returns invalid_onion_payload (type, offset) for a forwarding hop without short_channel_id', () => {
    const final: HopPayload = { amtToForward: 1000n, outgoingCltvValue: 100 };
    const nodes = [1, 2].map((k) => new Uint8Array(32).fill(k));
    const route = nodes.map((k) => ({ pubkey: secp256k1.getPublicKey(k, true), payload: encodeHopPayload(final) }));
    const { packet } = createOnionPacket(startOnionSession(new Uint8Array(32).fill(9), route[0]!.pubkey), route, assoc);
    const res = processOnionPacket(packet, nodes[0]!, assoc);
    expect(res.type).toBe('invalid_payload');
    if (res.type === 'invalid_payload') {
      expect(res.failureCode).toBe(FailureCode.invalid_onion_payload);
      expect(bytesToHex(res.failureData)).toBe('060000'); // type 6, offset 0 (not present)
    }
  });

  it('round-trips random routes and payloads (property)', () => {
    const payloadArb = fc.record({
      amtToForward: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
      outgoingCltvValue: fc.integer({ min: 0, max: 0xffffffff }),
      shortChannelId: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
    });
    fc.assert(
      fc.property(fc.array(payloadArb, { minLength: 1, maxLength: 6 }), fc.uint8Array({ minLength: 32, maxLength: 32 }), (payloads, ad) => {
        const privs = payloads.map((_, i) => new Uint8Array(32).fill(i + 1));
        const route = payloads.map((p, i) => {
          const isLast = i === payloads.length - 1;
          const hp: HopPayload = isLast ? { amtToForward: p.amtToForward, outgoingCltvValue: p.outgoingCltvValue } : p;
          return { pubkey: secp256k1.getPublicKey(privs[i]!, true), payload: encodeHopPayload(hp), hp };
        });
        let { packet } = createOnionPacket(startOnionSession(new Uint8Array(32).fill(0x55), route[0]!.pubkey), route, ad);
        expect(packet.length).toBe(ONION_PACKET_LENGTH);
        for (let i = 0; i < route.length; i++) {
          const res = processOnionPacket(packet, privs[i]!, ad);
          expect(res.type).toBe(i === route.length - 1 ? 'final' : 'forward');
          if (res.type === 'forward' || res.type === 'final') expect(res.payload).toEqual(route[i]!.hp);
          if (res.type === 'forward') packet = res.nextPacket;
        }
      }),
      { numRuns: 15 },
    );
  });

  it('rejects routes whose payloads exceed 1300 bytes', () => {
    const big = { pubkey: hops[0]!.pubkey, payload: new Uint8Array(700).fill(1) };
    expect(() => createOnionPacket(startOnionSession(sessionKey, big.pubkey), [big, big], assoc)).toThrow(/too large/);
  });

  it('a session builds onions only for routes that start at its first hop, and refuses a first hop that is not a point', () => {
    expect(() => createOnionPacket(startOnionSession(sessionKey, hops[1]!.pubkey), hops, assoc)).toThrow(/does not start at the session's first hop/);
    const notAPoint = new Uint8Array(33).fill(2);
    notAPoint[0] = 5;
    expect(() => startOnionSession(sessionKey, notAPoint)).toThrow(/first hop key is not a valid point/);
    expect(() => startOnionSession(new Uint8Array(32), hops[0]!.pubkey)).toThrow(/Invalid onion session key/);
  });
});

describe('BOLT 4 returning errors', () => {
  const secrets = errorVector.generate.hops.map((h) => hexToBytes(h.hop_shared_secret));

  it('key derivation matches the vector (ammag, um)', () => {
    for (const h of errorVector.generate.hops) {
      expect(bytesToHex(generateOnionKey('ammag', hexToBytes(h.hop_shared_secret)))).toBe(h.ammag_key);
      if (h.um_key) expect(bytesToHex(generateOnionKey('um', hexToBytes(h.hop_shared_secret)))).toBe(h.um_key);
    }
  });

  it('onion-error-test.json: node 4 creates, nodes 3..0 obfuscate, origin decodes', () => {
    let packet = createFailureMessage(secrets[4]!, 0x2002);
    // un-obfuscated content equals the vector payload (after the 32-byte HMAC)
    const inner = obfuscateFailure(secrets[4]!, packet);
    expect(bytesToHex(inner.subarray(32))).toBe(errorVector.generate.hops[4]!.payload);
    for (let i = 3; i >= 0; i--) packet = obfuscateFailure(secrets[i]!, packet);
    expect(bytesToHex(packet)).toBe(errorVector.errorpacket);
    const decoded = decodeFailure(secrets, packet);
    expect(decoded).toEqual({ failingHopIndex: 4, failureCode: FailureCode.temporary_node_failure, data: new Uint8Array(0) });
    expect(failureCodeName(decoded!.failureCode)).toBe('temporary_node_failure');
  });

  it('04-onion-routing.md "Returning Errors": every intermediate packet and the origin decode', () => {
    const packets = returningErrors.error_packets;
    for (let i = 3; i >= 0; i--) {
      expect(bytesToHex(obfuscateFailure(secrets[i]!, hexToBytes(packets[String(i + 1)]!)))).toBe(packets[String(i)]);
    }
    const decoded = decodeFailure(secrets, hexToBytes(packets['0']!));
    expect(decoded?.failingHopIndex).toBe(4);
    expect(decoded?.failureCode).toBe(FailureCode.incorrect_or_unknown_payment_details);
    const r = new ByteReader(decoded!.data);
    expect(r.u64()).toBe(100n); // htlc_msat
    expect(r.u32()).toBe(800000); // height
  });

  it('an intermediate failure is attributed to that hop; garbage is not attributed', () => {
    const data = new Uint8Array([0, 0, 0, 0, 0, 0, 0, 5, 0, 3, 7, 8, 9]);
    let packet = createFailureMessage(secrets[1]!, FailureCode.fee_insufficient, data);
    packet = obfuscateFailure(secrets[0]!, packet);
    const decoded = decodeFailure(secrets, packet);
    expect(decoded).toEqual({ failingHopIndex: 1, failureCode: FailureCode.fee_insufficient, data });
    expect(failureChannelUpdate(decoded!.failureCode, decoded!.data)).toEqual(Uint8Array.of(7, 8, 9));
    expect(decodeFailure(secrets, new Uint8Array(292).fill(7))).toBeUndefined();
    expect(decodeFailure(secrets, new Uint8Array(5))).toBeUndefined();
  });
});
