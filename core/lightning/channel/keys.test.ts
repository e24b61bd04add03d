import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import {
  basepointsOf,
  deriveChannelSecrets,
  deriveNodeSecret,
  derivePrivkey,
  derivePubkey,
  deriveRevocationPrivkey,
  deriveRevocationPubkey,
  deriveRevocationPubkeyKnowing,
  generateFromSeed,
  perCommitmentPoint,
  perCommitmentSecret,
  pubkeyFromSecret,
  signDigest,
  START_INDEX,
  verifyDigest,
} from './keys.js';
import appendixD from './testdata/bolt3-appendix-d.json' with { type: 'json' };
import appendixE from './testdata/bolt3-appendix-e.json' with { type: 'json' };

const h = hexToBytes;

describe('BOLT 3 Appendix D: generate_from_seed', () => {
  for (const v of appendixD.generation) {
    it(v.name, () => {
      expect(bytesToHex(generateFromSeed(h(v.seed), BigInt(v.index)))).toBe(v.output);
    });
  }
});

describe('BOLT 3 Appendix E: key derivation', () => {
  const e = appendixE;
  it('base_point and per_commitment_point come from their secrets', () => {
    expect(bytesToHex(pubkeyFromSecret(h(e.base_secret)))).toBe(e.base_point);
    expect(bytesToHex(pubkeyFromSecret(h(e.per_commitment_secret)))).toBe(e.per_commitment_point);
  });
  it('derivation of pubkey from basepoint and per_commitment_point', () => {
    expect(bytesToHex(derivePubkey(h(e.base_point), h(e.per_commitment_point)))).toBe(e.localpubkey);
  });
  it('derivation of private key from basepoint secret and per_commitment_secret', () => {
    const priv = derivePrivkey(h(e.base_secret), h(e.per_commitment_point));
    expect(bytesToHex(priv)).toBe(e.localprivkey);
    expect(bytesToHex(pubkeyFromSecret(priv))).toBe(e.localpubkey);
  });
  it('derivation of revocation pubkey from basepoint and per_commitment_point', () => {
    expect(bytesToHex(deriveRevocationPubkey(h(e.base_point), h(e.per_commitment_point)))).toBe(e.revocationpubkey);
  });
  it('derivation of revocation pubkey knowing either secret gives the same point', () => {
    const [base, point] = [h(e.base_point), h(e.per_commitment_point)];
    expect(bytesToHex(deriveRevocationPubkeyKnowing(base, point, { revocationBasepointSecret: h(e.base_secret) }))).toBe(e.revocationpubkey);
    expect(bytesToHex(deriveRevocationPubkeyKnowing(base, point, { perCommitmentSecret: h(e.per_commitment_secret) }))).toBe(e.revocationpubkey);
  });
  it('derivation of revocation secret from basepoint_secret and per_commitment_secret', () => {
    const priv = deriveRevocationPrivkey(h(e.base_secret), h(e.per_commitment_secret));
    expect(bytesToHex(priv)).toBe(e.revocationprivkey);
    expect(bytesToHex(pubkeyFromSecret(priv))).toBe(e.revocationpubkey);
  });
});

describe('Fulmen channel key derivation', () => {
  const root = new Uint8Array(32).fill(7);
  it('is deterministic per (root, index) and differs between channels', () => {
    const a = deriveChannelSecrets(root, 0);
    const b = deriveChannelSecrets(root, 0);
    const c = deriveChannelSecrets(root, 1);
    expect(bytesToHex(a.fundingPrivkey)).toBe(bytesToHex(b.fundingPrivkey));
    expect(bytesToHex(a.fundingPrivkey)).not.toBe(bytesToHex(c.fundingPrivkey));
    const names = Object.values(a).map((x) => bytesToHex(x));
    expect(new Set(names).size).toBe(6);
    const bp = basepointsOf(a);
    expect(bp.fundingPubkey.length).toBe(33);
    expect(bytesToHex(deriveNodeSecret(root))).not.toBe(bytesToHex(a.fundingPrivkey));
  });
  it('commitment number 0 uses index 2^48-1', () => {
    const seed = new Uint8Array(32).fill(0xff);
    expect(bytesToHex(perCommitmentSecret(seed, 0n))).toBe(bytesToHex(generateFromSeed(seed, START_INDEX)));
    expect(bytesToHex(perCommitmentPoint(seed, 1n))).toBe(bytesToHex(pubkeyFromSecret(generateFromSeed(seed, START_INDEX - 1n))));
  });
  it('signs and verifies compact low-S signatures', () => {
    const digest = new Uint8Array(32).fill(1);
    const sk = h(appendixE.base_secret);
    const sig = signDigest(digest, sk);
    expect(sig.length).toBe(64);
    expect(verifyDigest(sig, digest, pubkeyFromSecret(sk))).toBe(true);
    const bad = Uint8Array.from(digest);
    bad[0] ^= 1;
    expect(verifyDigest(sig, bad, pubkeyFromSecret(sk))).toBe(false);
  });
});
