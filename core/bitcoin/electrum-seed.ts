import { hmac } from '@noble/hashes/hmac.js';
import { sha512 } from '@noble/hashes/sha2.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { pbkdf2Sha512 } from './keys.js';

/**
 * Electrum's own seed format ("version 2" seeds, Electrum ≥ 2.0; electrum/mnemonic.py). Unlike
 * BIP39 the words carry no checksum: the seed's type is the hex prefix of
 * HMAC-SHA512(key "Seed version", normalized text), and the BIP32 seed is
 * PBKDF2-HMAC-SHA512(normalized text, "electrum" + normalized passphrase, 2048).
 */

/** Electrum seed types by their version prefix (electrum/version.py). */
export type ElectrumSeedType = 'standard' | 'segwit' | '2fa' | '2fa_segwit';

const PREFIXES: readonly [ElectrumSeedType, string][] = [
  ['standard', '01'],
  ['segwit', '100'],
  ['2fa', '101'],
  ['2fa_segwit', '102'],
];

/** Unicode blocks Electrum treats as CJK (electrum/mnemonic.py CJK_INTERVALS). */
const CJK_INTERVALS: readonly [number, number][] = [
  [0x4e00, 0x9fff], [0x3400, 0x4dbf], [0x20000, 0x2a6df], [0x2a700, 0x2b73f], [0x2b740, 0x2b81f],
  [0xf900, 0xfaff], [0x2f800, 0x2fa1d], [0x3190, 0x319f], [0x2e80, 0x2eff], [0x2f00, 0x2fdf],
  [0x31c0, 0x31ef], [0x2ff0, 0x2fff], [0xe0100, 0xe01ef], [0x3100, 0x312f], [0x31a0, 0x31bf],
  [0xff00, 0xffef], [0x3040, 0x309f], [0x30a0, 0x30ff], [0x31f0, 0x31ff], [0x1b000, 0x1b0ff],
  [0xac00, 0xd7af], [0x1100, 0x11ff], [0xa960, 0xa97f], [0xd7b0, 0xd7ff], [0x3130, 0x318f],
  [0xa4d0, 0xa4ff], [0x16f00, 0x16f9f], [0xa000, 0xa48f], [0xa490, 0xa4cf],
];

function isCjk(ch: string | undefined): boolean {
  if (ch === undefined) return false;
  const n = ch.codePointAt(0)!;
  return CJK_INTERVALS.some(([lo, hi]) => n >= lo && n <= hi);
}

/**
 * Electrum's `normalize_text`: NFKD, lower case, combining marks (accents) removed, whitespace
 * collapsed to single spaces, and spaces between two CJK characters removed.
 */
export function normalizeElectrumText(text: string): string {
  const collapsed = text
    .normalize('NFKD')
    .toLowerCase()
    .replace(/\p{M}/gu, '')
    .split(/\s+/u)
    .filter((w) => w.length > 0)
    .join(' ');
  const chars = [...collapsed];
  return chars.filter((c, i) => !(c === ' ' && isCjk(chars[i - 1]) && isCjk(chars[i + 1]))).join('');
}

/**
 * The Electrum seed type of `text`, or null when it is not an Electrum "new" seed. Like
 * Electrum's calc_seed_type, '2fa' needs 12 or ≥ 20 words. Old (pre-2.0) seeds are not
 * recognised: Fulmen does not restore them.
 */
export function electrumSeedType(text: string): ElectrumSeedType | null {
  const normalized = normalizeElectrumText(text);
  if (normalized.length === 0) return null;
  const version = bytesToHex(hmac(sha512, utf8ToBytes('Seed version'), utf8ToBytes(normalized)));
  const words = normalized.split(' ').length;
  for (const [type, prefix] of PREFIXES) {
    if (!version.startsWith(prefix)) continue;
    if (type === '2fa' && !(words === 12 || words >= 20)) continue;
    return type;
  }
  return null;
}

/**
 * Electrum's `Mnemonic.mnemonic_to_seed`: 64-byte BIP32 seed =
 * PBKDF2-HMAC-SHA512(normalized mnemonic, "electrum" + normalized passphrase, 2048 rounds).
 */
export function electrumMnemonicToSeed(mnemonic: string, passphrase = ''): Uint8Array {
  return pbkdf2Sha512(normalizeElectrumText(mnemonic), 'electrum' + normalizeElectrumText(passphrase));
}

/** Electrum's account path for segwit seeds: m/0' (addresses at m/0'/{0,1}/i, P2WPKH). */
export const ELECTRUM_SEGWIT_ACCOUNT_PATH = "m/0'";
