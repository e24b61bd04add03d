import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { Shachain } from './shachain.js';
import { generateFromSeed, START_INDEX } from './keys.js';
import appendixD from './testdata/bolt3-appendix-d.json' with { type: 'json' };

describe('BOLT 3 Appendix D: compact storage', () => {
  for (const v of appendixD.storage) {
    it(v.name, () => {
      const chain = new Shachain();
      for (const step of v.steps) {
        const insert = () => chain.insert(hexToBytes(step.secret), BigInt(step.index));
        if (step.ok) insert();
        else expect(insert).toThrow(/does not match/);
      }
    });
  }
});

describe('Shachain', () => {
  const seed = new Uint8Array(32).fill(0x42);
  it('derives every older secret from at most 49 entries, and survives serialization', () => {
    let chain = new Shachain();
    const count = 300n;
    for (let i = 0n; i < count; i++) {
      chain.insert(generateFromSeed(seed, START_INDEX - i), START_INDEX - i);
      if (i % 37n === 0n) chain = Shachain.deserialize(chain.serialize());
    }
    expect((JSON.parse(chain.serialize()) as unknown[]).length).toBeLessThanOrEqual(49);
    for (let i = 0n; i < count; i++) {
      expect(bytesToHex(chain.get(START_INDEX - i)!)).toBe(bytesToHex(generateFromSeed(seed, START_INDEX - i)));
    }
    expect(chain.get(START_INDEX - count)).toBeNull();
    expect(chain.lowestIndex()).toBe(START_INDEX - count + 1n);
  });
  it('rejects a secret that skips an index', () => {
    const chain = new Shachain();
    chain.insert(generateFromSeed(seed, START_INDEX), START_INDEX);
    expect(() => chain.insert(generateFromSeed(seed, START_INDEX - 2n), START_INDEX - 2n)).toThrow(/out of order/);
  });
});
