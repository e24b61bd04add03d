import * as bitcoin from 'bitcoinjs-lib';
import * as ecc from '@bitcoinerlab/secp256k1';
import { BIP32Factory, type BIP32Interface } from 'bip32';
import * as bip39 from 'bip39';
import { FulmenError, badInput } from '../util/errors.js';
import { bip84CoinType, bitcoinNetwork, type NetworkName } from './network.js';

bitcoin.initEccLib(ecc);

/** BIP32 factory bound to libsecp256k1 (via @bitcoinerlab/secp256k1). */
export const bip32 = BIP32Factory(ecc);
export type { BIP32Interface };

/** Receive (external) and change (internal) chains of a BIP44-style account. */
export type KeyChain = 0 | 1;
export const RECEIVE_CHAIN: KeyChain = 0;
export const CHANGE_CHAIN: KeyChain = 1;

const VALID_WORD_COUNTS = [12, 15, 18, 21, 24];
const ENGLISH = bip39.wordlists.english!;
const ENGLISH_SET = new Set(ENGLISH);

/**
 * Generates a new BIP39 English mnemonic from the OS CSPRNG.
 * @param wordCount 12 (128-bit entropy, default) or 24 (256-bit).
 */
export function generateMnemonic(wordCount: 12 | 24 = 12): string {
  return bip39.generateMnemonic(wordCount === 24 ? 256 : 128, undefined, ENGLISH);
}

/**
 * Validates a BIP39 English mnemonic and returns it normalised (NFKD, lower case, single spaces).
 * @throws FulmenError BAD_INPUT naming the problem: wrong word count, the position of a word that
 *   is not in the BIP39 English list, or a bad checksum. The word itself is not echoed back, since
 *   it is part of a secret. `details.reason` is 'wrong_length' | 'unknown_word' | 'bad_checksum'.
 */
export function normalizeMnemonic(mnemonic: string): string {
  const words = mnemonic.normalize('NFKD').trim().toLowerCase().split(/\s+/).filter((w) => w.length > 0);
  if (!VALID_WORD_COUNTS.includes(words.length)) {
    throw badInput(
      `Invalid seed phrase: it has ${words.length} word${words.length === 1 ? '' : 's'}; ` +
        `a BIP39 seed has ${VALID_WORD_COUNTS.join(', ')} words`,
      { reason: 'wrong_length', wordCount: words.length },
    );
  }
  const unknown = words.map((w, i) => (ENGLISH_SET.has(w) ? -1 : i + 1)).filter((p) => p > 0);
  if (unknown.length > 0) {
    throw badInput(
      `Invalid seed phrase: word${unknown.length > 1 ? 's' : ''} ${unknown.join(', ')} ` +
        `${unknown.length > 1 ? 'are' : 'is'} not in the BIP39 English word list`,
      { reason: 'unknown_word', positions: unknown },
    );
  }
  const normalized = words.join(' ');
  if (!bip39.validateMnemonic(normalized, ENGLISH)) {
    throw badInput('Invalid seed phrase: the checksum does not match (a word may be wrong or out of order)', {
      reason: 'bad_checksum',
    });
  }
  return normalized;
}

/** True when `mnemonic` is a valid BIP39 English mnemonic. */
export function isValidMnemonic(mnemonic: string): boolean {
  try {
    normalizeMnemonic(mnemonic);
    return true;
  } catch (err) {
    if (err instanceof FulmenError) return false;
    throw err;
  }
}

/**
 * BIP39 seed (64 bytes): PBKDF2-HMAC-SHA512(mnemonic, "mnemonic" + passphrase, 2048).
 * @throws FulmenError BAD_INPUT for an invalid mnemonic (see normalizeMnemonic).
 */
export function mnemonicToSeed(mnemonic: string, passphrase = ''): Uint8Array {
  const normalized = normalizeMnemonic(mnemonic);
  return new Uint8Array(bip39.mnemonicToSeedSync(normalized, passphrase.normalize('NFKD')));
}

/** BIP84 account path m/84'/coin'/account' (coin 0 mainnet, 1 test networks). */
export function bip84AccountPath(network: NetworkName, account = 0): string {
  return `m/84'/${bip84CoinType(network)}'/${account}'`;
}

/** BIP32 master node from a BIP39 seed, with the network's xprv/tprv versions. */
export function masterKeyFromSeed(seed: Uint8Array, network: NetworkName): BIP32Interface {
  return bip32.fromSeed(seed, bitcoinNetwork(network));
}

/** BIP84 account node (private) m/84'/coin'/account'. */
export function bip84Account(seed: Uint8Array, network: NetworkName, account = 0): BIP32Interface {
  return masterKeyFromSeed(seed, network).derivePath(bip84AccountPath(network, account));
}

/**
 * Account extended public key in the standard BIP32 encoding of the network (xpub/tpub); the
 * wallet stores it in clear so addresses can be derived without the password.
 */
export function accountXpub(seed: Uint8Array, network: NetworkName, account = 0): string {
  return bip84Account(seed, network, account).neutered().toBase58();
}

/** Parses an account xpub/tpub written by `accountXpub`. @throws FulmenError BAD_INPUT. */
export function accountFromXpub(xpub: string, network: NetworkName): BIP32Interface {
  try {
    return bip32.fromBase58(xpub, bitcoinNetwork(network));
  } catch {
    throw badInput(`Invalid extended public key for ${network}`);
  }
}

/**
 * Child key of an account node: m/84'/coin'/account'/chain/index (private if the account is).
 * @param chain 0 receive, 1 change. @param index 0 ≤ index < 2^31.
 */
export function deriveAccountKey(account: BIP32Interface, chain: KeyChain, index: number): BIP32Interface {
  if (!Number.isInteger(index) || index < 0 || index >= 0x80000000) throw badInput(`Invalid key index ${index}`);
  return account.derive(chain).derive(index);
}

/**
 * The wallet's Lightning root secret: the 32-byte private key at BIP32 path m/67'/0'/0' of the
 * BIP39 seed (Fulmen's convention). The Lightning node derives its node key and channel keys
 * from it, so a restore from the seed restores the node id.
 */
export function lightningRootSecretFromSeed(seed: Uint8Array): Uint8Array {
  const node = bip32.fromSeed(seed).derivePath("m/67'/0'/0'");
  if (!node.privateKey) throw new FulmenError('INTERNAL', 'Lightning root key has no private key');
  return new Uint8Array(node.privateKey);
}
