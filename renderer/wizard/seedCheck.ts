/**
 * Pure helpers of the first-run wizard: which seed words to ask back, and a first shape check of a
 * typed mnemonic before the host validates the words and checksum (BIP39).
 */

/** BIP39 mnemonic lengths. */
const MNEMONIC_LENGTHS = [12, 15, 18, 21, 24];

/** Splits a typed mnemonic into lower-case words (any whitespace, stray punctuation dropped). */
export function mnemonicWords(text: string): string[] {
  return text
    .toLowerCase()
    .split(/[\s,]+/)
    .filter(Boolean);
}

/** A message for an obviously malformed mnemonic, or null when the host should check it. */
export function mnemonicShapeError(text: string): string | null {
  const words = mnemonicWords(text);
  if (words.length === 0) return 'Enter your recovery phrase';
  const bad = words.find((w) => !/^[a-z]+$/.test(w));
  if (bad) return `"${bad}" is not a recovery-phrase word (letters only)`;
  if (!MNEMONIC_LENGTHS.includes(words.length)) return `A recovery phrase has 12 or 24 words; this one has ${words.length}`;
  return null;
}

/**
 * Picks `count` distinct word positions (0-based, ascending) to confirm, using `random` in [0, 1).
 */
export function pickConfirmationPositions(wordCount: number, count: number, random: () => number = Math.random): number[] {
  const positions = Array.from({ length: wordCount }, (_, i) => i);
  for (let i = positions.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [positions[i], positions[j]] = [positions[j]!, positions[i]!];
  }
  return positions.slice(0, Math.min(count, wordCount)).sort((a, b) => a - b);
}
