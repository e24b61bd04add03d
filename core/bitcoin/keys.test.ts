import { describe, expect, it } from 'vitest';
import { createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import * as bip39lib from 'bip39';
import * as bitcoin from 'bitcoinjs-lib';
import { bitcoinjsEcc } from './secp256k1.js';
import { pbkdf2 } from '@noble/hashes/pbkdf2.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import { FulmenError } from '../util/errors.js';
import {
  accountFromXpub,
  accountXpub,
  bip84Account,
  bip84AccountPath,
  deriveAccountKey,
  deriveAccountPublicKeys,
  generateMnemonic,
  isValidMnemonic,
  lightningRootSecretFromSeed,
  masterKeyFromSeed,
  mnemonicToSeed,
  normalizeMnemonic,
} from './keys.js';
import { p2wpkhAddress } from './address.js';
import bip39Vectors from './testdata/bip39-english.json' with { type: 'json' };
import bip84Vectors from './testdata/bip84.json' with { type: 'json' };

const base58check = createBase58check(sha256);

/** chain code || key bytes of a serialized extended key (BIP32), whatever its version prefix. */
function extendedKeyMaterial(serialized: string): string {
  const payload = base58check.decode(serialized);
  return bytesToHex(payload.subarray(13, 78));
}

function badInputReason(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FulmenError);
    expect((err as FulmenError).code).toBe('BAD_INPUT');
    return (err as FulmenError).details?.reason;
  }
  throw new Error('expected a BAD_INPUT error');
}

describe('BIP39 (official English vectors, passphrase TREZOR)', () => {
  for (const [entropy, mnemonic, seed] of bip39Vectors.english) {
    it(`${mnemonic.split(' ').slice(0, 3).join(' ')}… (${mnemonic.split(' ').length} words)`, () => {
      expect(normalizeMnemonic(mnemonic)).toBe(mnemonic);
      expect(bip39lib.mnemonicToEntropy(mnemonic)).toBe(entropy);
      expect(bytesToHex(mnemonicToSeed(mnemonic, bip39Vectors.passphrase))).toBe(seed);
    });
  }

  it('normalises case and whitespace', () => {
    const [, mnemonic, seed] = bip39Vectors.english[0];
    const messy = `  ${mnemonic.toUpperCase().split(' ').join('   ')}\n`;
    expect(bytesToHex(mnemonicToSeed(messy, 'TREZOR'))).toBe(seed);
  });

  it('names the problem of an invalid mnemonic without echoing words', () => {
    expect(badInputReason(() => normalizeMnemonic('abandon abandon abandon'))).toBe('wrong_length');
    expect(badInputReason(() => normalizeMnemonic(''))).toBe('wrong_length');
    const unknown = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandonx about';
    expect(badInputReason(() => normalizeMnemonic(unknown))).toBe('unknown_word');
    try {
      normalizeMnemonic(unknown);
    } catch (err) {
      expect((err as Error).message).toContain('word 11');
      expect((err as Error).message).not.toContain('abandonx');
    }
    const badChecksum = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon';
    expect(badInputReason(() => normalizeMnemonic(badChecksum))).toBe('bad_checksum');
    expect(isValidMnemonic(badChecksum)).toBe(false);
  });

  it('generates valid 12 and 24 word mnemonics', () => {
    const m12 = generateMnemonic();
    const m24 = generateMnemonic(24);
    expect(m12.split(' ')).toHaveLength(12);
    expect(m24.split(' ')).toHaveLength(24);
    expect(isValidMnemonic(m12) && isValidMnemonic(m24)).toBe(true);
    expect(generateMnemonic()).not.toBe(m12);
  });
});

describe('BIP84 (vectors from the BIP)', () => {
  const seed = mnemonicToSeed(bip84Vectors.mnemonic);

  it('root node and account 0 extended private key', () => {
    expect(bip84AccountPath('mainnet')).toBe("m/84'/0'/0'");
    const master = masterKeyFromSeed(seed, 'mainnet');
    expect(extendedKeyMaterial(master.toBase58())).toBe(extendedKeyMaterial(bip84Vectors.rootnode));
    const account = bip84Account(seed, 'mainnet');
    expect(extendedKeyMaterial(account.toBase58())).toBe(extendedKeyMaterial(bip84Vectors.account0Xprv));
  });

  for (const v of bip84Vectors.keys) {
    it(`${v.path}`, () => {
      const key = deriveAccountKey(bip84Account(seed, 'mainnet'), v.chain as 0 | 1, v.index);
      expect(key.toWIF()).toBe(v.privkey);
      expect(bytesToHex(key.publicKey)).toBe(v.pubkey);
      expect(p2wpkhAddress(key.publicKey, 'mainnet')).toBe(v.address);
      // The same public key derived from the watch-only account xpub.
      const watch = accountFromXpub(accountXpub(seed, 'mainnet'), 'mainnet');
      expect(bytesToHex(deriveAccountKey(watch, v.chain as 0 | 1, v.index).publicKey)).toBe(v.pubkey);
    });
  }

  it('deriveAccountPublicKeys gives the vectors and the same keys as deriveAccountKey', () => {
    const watch = accountFromXpub(accountXpub(seed, 'mainnet'), 'mainnet');
    for (const v of bip84Vectors.keys) {
      const [pubkey] = deriveAccountPublicKeys(watch, v.chain as 0 | 1, v.index, 1);
      expect(bytesToHex(pubkey!)).toBe(v.pubkey);
    }
    for (const chain of [0, 1] as const) {
      const fast = deriveAccountPublicKeys(watch, chain, 5, 40).map((k) => bytesToHex(k));
      const slow = Array.from({ length: 40 }, (_, i) => bytesToHex(deriveAccountKey(watch, chain, 5 + i).publicKey));
      expect(fast).toEqual(slow);
    }
    // From the private account node too (same public keys).
    expect(bytesToHex(deriveAccountPublicKeys(bip84Account(seed, 'mainnet'), 0, 0, 1)[0]!)).toBe(bip84Vectors.keys[0]!.pubkey);
    expect(deriveAccountPublicKeys(watch, 0, 3, 0)).toEqual([]);
    expect(() => deriveAccountPublicKeys(watch, 0, 0x7fffffff, 2)).toThrow(FulmenError);
    expect(() => deriveAccountPublicKeys(watch, 0, -1, 1)).toThrow(FulmenError);
  });

  it('uses coin type 1 and tpub on test networks', () => {
    expect(bip84AccountPath('regtest')).toBe("m/84'/1'/0'");
    expect(accountXpub(seed, 'regtest').startsWith('tpub')).toBe(true);
    expect(accountXpub(seed, 'mainnet').startsWith('xpub')).toBe(true);
  });
});

describe('lightningRootSecretFromSeed', () => {
  it('is the 32-byte private key at m/67h/0h/0h, deterministic and distinct from wallet keys', () => {
    const seed = mnemonicToSeed(bip84Vectors.mnemonic);
    const secret = lightningRootSecretFromSeed(seed);
    expect(secret).toHaveLength(32);
    expect(bytesToHex(secret)).toBe(bytesToHex(masterKeyFromSeed(seed, 'mainnet').derivePath("m/67'/0'/0'").privateKey!));
    expect(bytesToHex(lightningRootSecretFromSeed(mnemonicToSeed(bip84Vectors.mnemonic)))).toBe(bytesToHex(secret));
    expect(bytesToHex(secret)).not.toBe(bytesToHex(bip84Account(seed, 'mainnet').privateKey!));
  });
});

describe('crypto backends', () => {
  it('mnemonicToSeed (node:crypto PBKDF2) equals the pure-JS PBKDF2 of BIP39', () => {
    const mnemonic = bip39Vectors.english[3]![1]!;
    const expected = pbkdf2(sha512, utf8ToBytes(mnemonic), utf8ToBytes('mnemonic' + 'pässphrase'.normalize('NFKD')), { c: 2048, dkLen: 64 });
    expect(bytesToHex(mnemonicToSeed(mnemonic, 'pässphrase'))).toBe(bytesToHex(expected));
  });

  it('the native backend adapter passes the bitcoinjs-lib self-test (skipped at run time in keys.ts)', () => {
    expect(() => bitcoin.initEccLib(bitcoinjsEcc)).not.toThrow();
  });
});
