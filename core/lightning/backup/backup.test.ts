import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import { Transaction } from 'bitcoinjs-lib';
import { FulmenError } from '../../util/errors.js';
import {
  channelSecretsFor,
  deriveChannelSecrets,
  deriveRecoverableChannelSecrets,
  deriveRecoverableFundingKey,
  deriveStaticPaymentSecret,
  pubkeyFromSecret,
  type ChannelKeyDerivation,
} from '../channel/keys.js';
import { fundingScript, p2wpkh, p2wsh } from '../channel/transactions.js';
import { decodeFundingOpReturn, encodeFundingOpReturn, findFundingOutput, MAX_OP_RETURN_DATA } from './onchain.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { channelBackupKey, decodeChannelBackup, encodeChannelBackup, type BackupContents } from './static-backup.js';

const ROOT = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const OTHER_ROOT = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const NODE_A = bytesToHex(pubkeyFromSecret(Uint8Array.from({ length: 32 }, () => 7)));
const NODE_B = bytesToHex(pubkeyFromSecret(Uint8Array.from({ length: 32 }, () => 9)));
const te = (s: string) => new TextEncoder().encode(s);

describe('recoverable channel keys (channel/keys.ts)', () => {
  it('derives the funding key of a channel we opened from the node id prefix and nLockTime, as documented', () => {
    const d: ChannelKeyDerivation = { scheme: 'opened', remoteNodeId: NODE_A, fundingLocktime: 123_456 };
    const fundingRoot = hmac(sha256, ROOT, te('fulmen/funding-root'));
    const expected = hmac(sha256, fundingRoot, concatBytes(te('opened'), hexToBytes(NODE_A).slice(0, 16), Uint8Array.of(0x40, 0xe2, 0x01, 0x00)));
    expect(bytesToHex(deriveRecoverableFundingKey(ROOT, d))).toBe(bytesToHex(expected));
    // Only the first 16 bytes of the node id enter the derivation (what a prefix search can find).
    const sameprefix = NODE_A.slice(0, 32) + 'ff'.repeat(17);
    expect(deriveRecoverableFundingKey(ROOT, { ...d, remoteNodeId: sameprefix })).toEqual(deriveRecoverableFundingKey(ROOT, d));
    expect(deriveRecoverableFundingKey(ROOT, { ...d, fundingLocktime: 123_457 })).not.toEqual(deriveRecoverableFundingKey(ROOT, d));
    expect(deriveRecoverableFundingKey(OTHER_ROOT, d)).not.toEqual(deriveRecoverableFundingKey(ROOT, d));
  });

  it('derives the funding key of a channel opened to us from the node id and the remote funding pubkey', () => {
    const d: ChannelKeyDerivation = { scheme: 'accepted', remoteNodeId: NODE_A, remoteFundingPubkey: NODE_B };
    const fundingRoot = hmac(sha256, ROOT, te('fulmen/funding-root'));
    const expected = hmac(sha256, fundingRoot, concatBytes(te('accepted'), hexToBytes(NODE_A), hexToBytes(NODE_B)));
    expect(bytesToHex(deriveRecoverableFundingKey(ROOT, d))).toBe(bytesToHex(expected));
    expect(deriveRecoverableFundingKey(ROOT, { ...d, remoteFundingPubkey: NODE_A })).not.toEqual(expected);
  });

  it('makes every per-channel secret depend on the funding key, and the payment basepoint wallet-wide (static to_remote)', () => {
    const one = deriveRecoverableChannelSecrets(ROOT, { scheme: 'opened', remoteNodeId: NODE_A, fundingLocktime: 100 });
    const two = deriveRecoverableChannelSecrets(ROOT, { scheme: 'opened', remoteNodeId: NODE_A, fundingLocktime: 101 });
    expect(one.paymentBasepointSecret).toEqual(deriveStaticPaymentSecret(ROOT));
    expect(two.paymentBasepointSecret).toEqual(one.paymentBasepointSecret);
    const seed = hmac(sha256, one.fundingPrivkey, te('fulmen/channel-seed'));
    expect(one.revocationBasepointSecret).toEqual(hmac(sha256, seed, te('revocation')));
    expect(one.perCommitmentSeed).toEqual(hmac(sha256, seed, te('per_commitment_seed')));
    for (const k of ['fundingPrivkey', 'revocationBasepointSecret', 'delayedPaymentBasepointSecret', 'htlcBasepointSecret', 'perCommitmentSeed'] as const) {
      expect(one[k]).not.toEqual(two[k]);
    }
    // Restoring the seed restores them all.
    expect(deriveRecoverableChannelSecrets(ROOT, { scheme: 'opened', remoteNodeId: NODE_A, fundingLocktime: 100 })).toEqual(one);
  });

  it('keeps the legacy key-index derivation for channels without keyDerivation', () => {
    expect(channelSecretsFor(ROOT, { keyIndex: 3 })).toEqual(deriveChannelSecrets(ROOT, 3));
    const d: ChannelKeyDerivation = { scheme: 'accepted', remoteNodeId: NODE_A, remoteFundingPubkey: NODE_B };
    expect(channelSecretsFor(ROOT, { keyIndex: 3, keyDerivation: d })).toEqual(deriveRecoverableChannelSecrets(ROOT, d));
  });

  it('rejects malformed inputs with typed errors', () => {
    expect(() => deriveRecoverableFundingKey(ROOT, { scheme: 'opened', remoteNodeId: 'zz', fundingLocktime: 1 })).toThrow(FulmenError);
    expect(() => deriveRecoverableFundingKey(ROOT, { scheme: 'opened', remoteNodeId: NODE_A, fundingLocktime: -1 })).toThrow(FulmenError);
    expect(() => deriveRecoverableFundingKey(new Uint8Array(31), { scheme: 'opened', remoteNodeId: NODE_A, fundingLocktime: 1 })).toThrow(FulmenError);
  });
});

function sampleBackup(overrides: Partial<BackupContents> = {}): BackupContents {
  const ours = pubkeyFromSecret(deriveRecoverableFundingKey(ROOT, { scheme: 'opened', remoteNodeId: NODE_A, fundingLocktime: 500 }));
  return {
    version: 2,
    channelType: 'anchors',
    network: 'regtest',
    channelId: 'ab'.repeat(32),
    fundingTxid: 'cd'.repeat(32),
    fundingOutputIndex: 1,
    fundingSat: 1_000_000,
    fundingScriptPubKey: bytesToHex(p2wsh(fundingScript(ours, hexToBytes(NODE_B)))),
    remoteNodeId: NODE_A,
    host: '127.0.0.1',
    port: 9735,
    isInitiator: true,
    keyIndex: null,
    keyDerivation: { scheme: 'opened', remoteNodeId: NODE_A, fundingLocktime: 500 },
    remote: {
      fundingPubkey: NODE_B,
      revocationBasepoint: NODE_B,
      paymentBasepoint: NODE_B,
      delayedPaymentBasepoint: NODE_B,
      htlcBasepoint: NODE_B,
      toSelfDelay: 144,
      dustLimitSat: 546,
    },
    local: { toSelfDelay: 144, dustLimitSat: 546 },
    createdAt: 1_700_000_000,
    ...overrides,
  };
}

describe('static channel backups', () => {
  it('round-trips through encryption with the same seed', () => {
    const b = sampleBackup();
    const text = encodeChannelBackup(ROOT, b);
    expect(text.startsWith('fulmen_backup:')).toBe(true);
    expect(text).not.toContain(NODE_A); // encrypted
    expect(decodeChannelBackup(ROOT, text, 'regtest')).toEqual(b);
    const legacy = sampleBackup({ keyIndex: 4, keyDerivation: null, host: null, port: null });
    expect(decodeChannelBackup(ROOT, encodeChannelBackup(ROOT, legacy), 'regtest')).toEqual(legacy);
  });

  it('tells a backup of another seed, another network or a damaged one apart', () => {
    const text = encodeChannelBackup(ROOT, sampleBackup());
    expect(() => decodeChannelBackup(OTHER_ROOT, text, 'regtest')).toThrow(/another seed/);
    expect(() => decodeChannelBackup(ROOT, text, 'mainnet')).toThrow(/for regtest, not mainnet/);
    const bytes = Buffer.from(text.slice('fulmen_backup:'.length), 'base64');
    bytes[bytes.length - 1]! ^= 1;
    expect(() => decodeChannelBackup(ROOT, 'fulmen_backup:' + bytes.toString('base64'), 'regtest')).toThrow(/another seed, or it is damaged/);
    expect(() => decodeChannelBackup(ROOT, 'channel_backup:AAAA', 'regtest')).toThrow(/Not a Fulmen channel backup/);
  });

  it('version 2 contents name the channel type; version 1 backups (no channel type) still import, with channelType null', () => {
    const staticKey = sampleBackup({ channelType: 'static_remotekey' });
    expect(decodeChannelBackup(ROOT, encodeChannelBackup(ROOT, staticKey), 'regtest').channelType).toBe('static_remotekey');
    // A version 1 backup as earlier Fulmen versions wrote it: same envelope, JSON without channelType.
    const { channelType: _dropped, ...v1 } = { ...sampleBackup(), version: 1 };
    const nonce = new Uint8Array(24).fill(3);
    const sealed = xchacha20poly1305(channelBackupKey(ROOT), nonce, te('fulmen/channel-backup/v1')).encrypt(te(JSON.stringify(v1)));
    const v1Text = 'fulmen_backup:' + Buffer.from(concatBytes(Uint8Array.of(1), nonce, sealed)).toString('base64');
    expect(decodeChannelBackup(ROOT, v1Text, 'regtest')).toEqual({ ...v1, channelType: null });
    // A version 1 body with a channel type, or version 2 without one, or an unknown type: malformed.
    const seal = (json: object) =>
      'fulmen_backup:' + Buffer.from(concatBytes(Uint8Array.of(1), nonce, xchacha20poly1305(channelBackupKey(ROOT), nonce, te('fulmen/channel-backup/v1')).encrypt(te(JSON.stringify(json))))).toString('base64');
    expect(() => decodeChannelBackup(ROOT, seal({ ...v1, channelType: 'anchors' }), 'regtest')).toThrow(/malformed/);
    expect(() => decodeChannelBackup(ROOT, seal({ ...v1, version: 2 }), 'regtest')).toThrow(/malformed/);
    expect(() => decodeChannelBackup(ROOT, seal({ ...sampleBackup(), channelType: 'legacy' }), 'regtest')).toThrow(/malformed/);
    expect(() => encodeChannelBackup(ROOT, { ...sampleBackup(), version: 1 } as unknown as BackupContents)).toThrow(FulmenError);
  });

  it('refuses to encode contents that are not a backup', () => {
    expect(() => encodeChannelBackup(ROOT, sampleBackup({ keyIndex: 1 }))).toThrow(FulmenError); // both derivations
    expect(() => encodeChannelBackup(ROOT, sampleBackup({ fundingTxid: 'xyz' }))).toThrow(FulmenError);
  });

  it('property: decode(encode(x)) = x, and garbage only ever raises BAD_INPUT', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 1, max: 2 ** 24 }), fc.integer({ min: 0, max: 0xffffffff }), fc.boolean(), (vout, sat, locktime, init) => {
        const b = sampleBackup({ channelType: init ? 'anchors' : 'static_remotekey', fundingOutputIndex: vout, fundingSat: sat, isInitiator: init, keyDerivation: { scheme: 'opened', remoteNodeId: NODE_A, fundingLocktime: locktime } });
        expect(decodeChannelBackup(ROOT, encodeChannelBackup(ROOT, b), 'regtest')).toEqual(b);
      }),
      { numRuns: 50 },
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.uint8Array().map((u) => 'fulmen_backup:' + Buffer.from(u).toString('base64'))), (text) => {
        try {
          decodeChannelBackup(ROOT, text, 'regtest');
        } catch (e) {
          expect(e).toBeInstanceOf(FulmenError);
          expect((e as FulmenError).code).toBe('BAD_INPUT');
        }
      }),
    );
  });
});

describe('funding transaction OP_RETURN', () => {
  const fundingSpk = p2wsh(fundingScript(hexToBytes(NODE_A), hexToBytes(NODE_B)));

  it('round-trips the peer node id and IPv4, IPv6, hostname or no address, within 80 bytes', () => {
    const hints = [
      { remoteNodeId: NODE_A, host: '127.0.0.1', port: 9735 },
      { remoteNodeId: NODE_A, host: '2001:db8:0:0:0:0:0:1', port: 19735 },
      { remoteNodeId: NODE_A, host: 'node.example.com', port: 9735 },
      { remoteNodeId: NODE_A, host: null, port: null },
    ];
    for (const hint of hints) {
      const script = encodeFundingOpReturn(ROOT, fundingSpk, hint);
      expect(script[0]).toBe(0x6a);
      expect(script.length).toBeLessThanOrEqual(MAX_OP_RETURN_DATA + 3);
      expect(decodeFundingOpReturn(ROOT, script, fundingSpk)).toEqual(hint);
      expect(decodeFundingOpReturn(OTHER_ROOT, script, fundingSpk)).toBeNull();
      expect(decodeFundingOpReturn(ROOT, script, p2wpkh(hexToBytes(NODE_B)))).toBeNull();
    }
    // A hostname too long for 80 bytes is left out (the user then gives the address).
    const long = encodeFundingOpReturn(ROOT, fundingSpk, { remoteNodeId: NODE_A, host: 'a-very-long-host-name.example.org', port: 9735 });
    expect(decodeFundingOpReturn(ROOT, long, fundingSpk)).toEqual({ remoteNodeId: NODE_A, host: null, port: null });
  });

  it('finds the funding output and nLockTime in a funding transaction', () => {
    const tx = new Transaction();
    tx.version = 2;
    tx.locktime = 812;
    tx.addInput(new Uint8Array(32).fill(1), 0, 0xfffffffd);
    tx.addOutput(p2wpkh(hexToBytes(NODE_B)), 50_000n);
    tx.addOutput(encodeFundingOpReturn(ROOT, fundingSpk, { remoteNodeId: NODE_A, host: '10.0.0.2', port: 9735 }), 0n);
    tx.addOutput(fundingSpk, 1_000_000n);
    expect(findFundingOutput(ROOT, tx)).toEqual({
      remoteNodeId: NODE_A,
      host: '10.0.0.2',
      port: 9735,
      fundingOutputIndex: 2,
      fundingSat: 1_000_000,
      fundingScriptPubKey: bytesToHex(fundingSpk),
      fundingLocktime: 812,
    });
    expect(findFundingOutput(OTHER_ROOT, tx)).toBeNull();
  });

  it('property: random hints round-trip; random scripts never throw', () => {
    fc.assert(
      fc.property(fc.ipV4(), fc.integer({ min: 1, max: 65535 }), fc.uint8Array({ minLength: 34, maxLength: 34 }), (host, port, spk) => {
        const script = encodeFundingOpReturn(ROOT, spk, { remoteNodeId: NODE_B, host, port });
        expect(decodeFundingOpReturn(ROOT, script, spk)).toEqual({ remoteNodeId: NODE_B, host, port });
      }),
      { numRuns: 100 },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 90 }), (script) => {
        expect(decodeFundingOpReturn(ROOT, Uint8Array.of(0x6a, script.length, ...script), fundingSpk)).toBeNull();
        expect(decodeFundingOpReturn(ROOT, script, fundingSpk)).toBeNull();
      }),
    );
  });
});
