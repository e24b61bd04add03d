import * as bitcoin from 'bitcoinjs-lib';
import { BIP32Factory, type BIP32Interface } from 'bip32';
import * as bip39 from 'bip39';
import { createHmac, pbkdf2Sync } from 'node:crypto';
import { createBase58check } from '@scure/base';
import { sha256 } from '@noble/hashes/sha2.js';
import { FulmenError, badInput } from '../util/errors.js';
import { bip84CoinType, bitcoinNetwork, type NetworkName } from './network.js';
import { bitcoinjsEcc, pointAddTweak } from './secp256k1.js';

// bitcoinjs' self-test of the library (tens of ms at every start, CLI included) is skipped here;
// keys.test.ts runs it, so the adapter is still checked.
bitcoin.initEccLib(bitcoinjsEcc, { DANGER_DO_NOT_VERIFY_ECCLIB: true });

/** BIP32 factory bound to Fulmen's one secp256k1 backend (native libsecp256k1, core/bitcoin/secp256k1.ts). */
export const bip32 = BIP32Factory(bitcoinjsEcc);
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
  return pbkdf2Sha512(normalized, 'mnemonic' + passphrase.normalize('NFKD'));
}

/**
 * PBKDF2-HMAC-SHA512, 2048 iterations, 64 bytes, of UTF-8 `password` and `salt` (the BIP39 and
 * Electrum seed stretching), with OpenSSL through node:crypto (~30x faster than pure JS).
 */
export function pbkdf2Sha512(password: string, salt: string): Uint8Array {
  return new Uint8Array(pbkdf2Sync(Buffer.from(password, 'utf8'), Buffer.from(salt, 'utf8'), 2048, 64, 'sha512'));
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

/** Public key and chain code of a BIP32 node. */
interface PublicNode {
  publicKey: Uint8Array;
  chainCode: Uint8Array;
}

/** account → its chain nodes (m/…/0, m/…/1), derived once per account object. */
const chainNodes = new WeakMap<BIP32Interface, Map<KeyChain, PublicNode>>();

/**
 * BIP32 CKDpub of a non-hardened `index`: HMAC-SHA512 from node:crypto, point tweak from native
 * libsecp256k1. null where BIP32 calls the child invalid (IL ≥ n or the point at infinity).
 */
function childPublicNode(parent: PublicNode, index: number): PublicNode | null {
  const data = Buffer.alloc(37);
  data.set(parent.publicKey, 0);
  data.writeUInt32BE(index, 33);
  const I = createHmac('sha512', parent.chainCode).update(data).digest();
  try {
    return { publicKey: pointAddTweak(parent.publicKey, I.subarray(0, 32)), chainCode: I.subarray(32) };
  } catch {
    return null;
  }
}

/**
 * Compressed public keys of m/…/account'/chain/i for i in [from, from + count): BIP32 CKDpub
 * (non-hardened) on native libsecp256k1, ~10x faster than `deriveAccountKey(...).publicKey`
 * (same keys; where BIP32 calls a child invalid, probability < 2^-127, the answer is the
 * bip32 library's, which moves on to the next index).
 * @throws FulmenError BAD_INPUT when an index is outside 0 ≤ i < 2^31.
 */
export function deriveAccountPublicKeys(account: BIP32Interface, chain: KeyChain, from: number, count: number): Uint8Array[] {
  if (!Number.isInteger(from) || !Number.isInteger(count) || from < 0 || count < 0 || from + count > 0x80000000) {
    throw badInput(`Invalid key index range ${from}+${count}`);
  }
  let nodes = chainNodes.get(account);
  if (!nodes) chainNodes.set(account, (nodes = new Map()));
  let node = nodes.get(chain);
  if (!node) {
    node = childPublicNode(account, chain) ?? account.derive(chain);
    nodes.set(chain, node);
  }
  const keys: Uint8Array[] = [];
  for (let index = from; index < from + count; index++) {
    keys.push(childPublicNode(node, index)?.publicKey ?? deriveAccountKey(account, chain, index).publicKey);
  }
  return keys;
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

/** Script type an account's extended public key stands for (SLIP-132 version bytes). */
export type ExtendedKeyScriptType = 'p2wpkh' | 'p2wpkh-p2sh' | 'unspecified';

/** SLIP-132 public version bytes → (mainnet?, script type). xpub/tpub say nothing of the script. */
const SLIP132_PUBLIC_VERSIONS: Record<number, { mainnet: boolean; scriptType: ExtendedKeyScriptType }> = {
  0x0488b21e: { mainnet: true, scriptType: 'unspecified' }, // xpub
  0x049d7cb2: { mainnet: true, scriptType: 'p2wpkh-p2sh' }, // ypub
  0x04b24746: { mainnet: true, scriptType: 'p2wpkh' }, // zpub
  0x043587cf: { mainnet: false, scriptType: 'unspecified' }, // tpub
  0x044a5262: { mainnet: false, scriptType: 'p2wpkh-p2sh' }, // upub
  0x045f1cf6: { mainnet: false, scriptType: 'p2wpkh' }, // vpub
};

/** True when `text` looks like a base58 extended public key (xpub/ypub/zpub/tpub/upub/vpub). */
export function looksLikeExtendedPublicKey(text: string): boolean {
  return /^[xyztuv]pub[1-9A-HJ-NP-Za-km-z]{100,112}$/.test(text.trim());
}

/**
 * Parses an account extended public key in any SLIP-132 encoding (xpub/zpub on mainnet,
 * tpub/vpub on test networks) into a BIP32 node with the network's standard versions.
 * zpub/vpub are P2WPKH (BIP84); xpub/tpub are taken as P2WPKH too, since Fulmen wallets are
 * native segwit only (Electrum would read an xpub as P2PKH).
 * @throws FulmenError BAD_INPUT for a bad checksum, a private key, another network, or a
 *   ypub/upub (P2SH-wrapped segwit, not supported).
 */
export function parseAccountExtendedKey(text: string, network: NetworkName): BIP32Interface {
  const trimmed = text.trim();
  let payload: Uint8Array;
  try {
    payload = decodeBase58Check(trimmed);
  } catch {
    throw badInput('Invalid extended public key (bad base58 checksum)');
  }
  if (payload.length !== 78) throw badInput('Invalid extended public key (wrong length)');
  const version = ((payload[0] << 24) | (payload[1] << 16) | (payload[2] << 8) | payload[3]) >>> 0;
  const info = SLIP132_PUBLIC_VERSIONS[version];
  if (!info) throw badInput('Not an extended public key (xpub/zpub/tpub/vpub expected; private keys are not accepted)');
  if (info.mainnet !== (network === 'mainnet')) {
    throw badInput(`This extended public key is for ${info.mainnet ? 'mainnet' : 'a test network'}, but the wallet is on ${network}`);
  }
  if (info.scriptType === 'p2wpkh-p2sh') throw badInput('P2SH-wrapped segwit keys (ypub/upub) are not supported; use a zpub/vpub');
  const standard = new Uint8Array(payload);
  const std = bitcoinNetwork(network).bip32.public;
  standard.set([(std >>> 24) & 0xff, (std >>> 16) & 0xff, (std >>> 8) & 0xff, std & 0xff], 0);
  try {
    return bip32.fromBase58(encodeBase58Check(standard), bitcoinNetwork(network));
  } catch {
    throw badInput('Invalid extended public key (not a valid curve point)');
  }
}

/**
 * The account key in Electrum's SLIP-132 encoding for P2WPKH: zpub on mainnet, vpub on test
 * networks (what Electrum's `getmpk` prints).
 */
export function toSegwitExtendedKey(account: BIP32Interface, network: NetworkName): string {
  const payload = decodeBase58Check(account.neutered().toBase58());
  const version = network === 'mainnet' ? 0x04b24746 : 0x045f1cf6;
  payload.set([(version >>> 24) & 0xff, (version >>> 16) & 0xff, (version >>> 8) & 0xff, version & 0xff], 0);
  return encodeBase58Check(payload);
}

/** BIP32 fingerprint (first 4 bytes of hash160 of the public key) of a seed's master key, hex. */
export function masterFingerprint(seed: Uint8Array, network: NetworkName): string {
  return Buffer.from(masterKeyFromSeed(seed, network).fingerprint).toString('hex');
}

const base58check = createBase58check(sha256);

function decodeBase58Check(text: string): Uint8Array {
  return new Uint8Array(base58check.decode(text));
}

function encodeBase58Check(payload: Uint8Array): string {
  return base58check.encode(payload);
}

/** Private account node at `path` (e.g. "m/84'/1'/0'" or Electrum's "m/0'") of a BIP32 seed. */
export function accountFromSeed(seed: Uint8Array, network: NetworkName, path: string): BIP32Interface {
  return masterKeyFromSeed(seed, network).derivePath(path);
}
