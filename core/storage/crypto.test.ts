import { describe, expect, it } from 'vitest';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { FulmenError } from '../util/errors.js';
import { SALT_BYTES, deriveStorageKey, newSalt, seal, unseal } from './crypto.js';

function expectWrongPassword(fn: () => unknown): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FulmenError);
    expect((err as FulmenError).code).toBe('WRONG_PASSWORD');
    return;
  }
  throw new Error('expected WRONG_PASSWORD');
}

describe('storage encryption', () => {
  const salt = newSalt();

  it('derives a deterministic 32-byte key (scrypt N=2^15)', () => {
    const key = deriveStorageKey('correct horse', salt);
    expect(key).toHaveLength(32);
    expect(bytesToHex(deriveStorageKey('correct horse', salt))).toBe(bytesToHex(key));
    expect(bytesToHex(deriveStorageKey('correct horse', newSalt()))).not.toBe(bytesToHex(key));
    expect(salt).toHaveLength(SALT_BYTES);
  });

  it('seal/unseal round-trips with a fresh nonce each time', () => {
    const key = deriveStorageKey('pw', salt);
    const plaintext = utf8ToBytes('seed words go here');
    const box1 = seal(key, plaintext);
    const box2 = seal(key, plaintext);
    expect(bytesToHex(box1)).not.toBe(bytesToHex(box2));
    expect(bytesToHex(box1)).not.toContain(bytesToHex(plaintext));
    expect(new TextDecoder().decode(unseal(key, box1))).toBe('seed words go here');
    expect(new TextDecoder().decode(unseal(key, box2))).toBe('seed words go here');
  });

  it('wrong password, tampering, truncation and wrong associated data fail with WRONG_PASSWORD', () => {
    const key = deriveStorageKey('pw', salt);
    const box = seal(key, utf8ToBytes('secret'), utf8ToBytes('purpose-a'));
    expectWrongPassword(() => unseal(deriveStorageKey('pw2', salt), box, utf8ToBytes('purpose-a')));
    const tampered = box.slice();
    tampered[tampered.length - 1] ^= 1;
    expectWrongPassword(() => unseal(key, tampered, utf8ToBytes('purpose-a')));
    expectWrongPassword(() => unseal(key, box.subarray(0, 20), utf8ToBytes('purpose-a')));
    expectWrongPassword(() => unseal(key, box, utf8ToBytes('purpose-b')));
    expect(new TextDecoder().decode(unseal(key, box, utf8ToBytes('purpose-a')))).toBe('secret');
  });

  it('rejects an empty password', () => {
    expect(() => deriveStorageKey('', salt)).toThrow(FulmenError);
  });
});
