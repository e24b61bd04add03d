import { describe, expect, it } from 'vitest';
import { mnemonicShapeError, mnemonicWords, pickConfirmationPositions } from './seedCheck.js';

describe('mnemonic shape', () => {
  const twelve = 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about';
  it('normalises whitespace and case', () => {
    expect(mnemonicWords(`  ${twelve.toUpperCase().replace(/ /g, '\n ')}  `)).toEqual(twelve.split(' '));
  });
  it('accepts 12 and 24 words and explains other shapes', () => {
    expect(mnemonicShapeError(twelve)).toBeNull();
    expect(mnemonicShapeError(`${twelve} ${twelve}`)).toBeNull();
    expect(mnemonicShapeError('')).toBe('Enter your recovery phrase');
    expect(mnemonicShapeError('abandon about')).toBe('A recovery phrase has 12 or 24 words; this one has 2');
    expect(mnemonicShapeError(twelve.replace('about', 'ab0ut'))).toBe('"ab0ut" is not a recovery-phrase word (letters only)');
  });
});

describe('pickConfirmationPositions', () => {
  it('returns distinct sorted positions within range', () => {
    let seed = 1;
    const random = () => ((seed = (seed * 16807) % 2147483647) - 1) / 2147483646;
    for (let n = 0; n < 50; n++) {
      const p = pickConfirmationPositions(12, 3, random);
      expect(p).toHaveLength(3);
      expect(new Set(p).size).toBe(3);
      expect([...p].sort((a, b) => a - b)).toEqual(p);
      expect(p.every((i) => i >= 0 && i < 12)).toBe(true);
    }
  });
});
