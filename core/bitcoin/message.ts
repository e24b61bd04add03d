import { sha256 } from '@noble/hashes/sha2.js';
import { utf8ToBytes } from '@noble/hashes/utils.js';
import * as bitcoin from 'bitcoinjs-lib';
import { badInput } from '../util/errors.js';
import { bitcoinNetwork, type NetworkName } from './network.js';
import { bitcoinjsEcc, ecdsaRecover, ecdsaSignRecoverable, pointUncompressed } from './secp256k1.js';
import './keys.js';

/**
 * Bitcoin signed messages as Electrum, Bitcoin Core and BIP137 write them: a 65-byte compact
 * recoverable ECDSA signature over sha256d("\x18Bitcoin Signed Message:\n" || varint(len) ||
 * message), base64-encoded. The header byte is 27 + recid (+4 for a compressed key); BIP137
 * (Trezor) adds 8 more for P2SH-P2WPKH (35-38) and 12 for P2WPKH (39-42).
 */

const MAGIC = utf8ToBytes('\x18Bitcoin Signed Message:\n');

function varInt(n: number): Uint8Array {
  if (n < 0xfd) return Uint8Array.of(n);
  if (n <= 0xffff) return Uint8Array.of(0xfd, n & 0xff, n >>> 8);
  return Uint8Array.of(0xfe, n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, n >>> 24);
}

/** sha256d of the "Bitcoin Signed Message" envelope of `message` (UTF-8). */
export function messageHash(message: string | Uint8Array): Uint8Array {
  const body = typeof message === 'string' ? utf8ToBytes(message) : message;
  const data = new Uint8Array(MAGIC.length + 9 + body.length);
  const len = varInt(body.length);
  data.set(MAGIC, 0);
  data.set(len, MAGIC.length);
  data.set(body, MAGIC.length + len.length);
  return sha256(sha256(data.subarray(0, MAGIC.length + len.length + body.length)));
}

/**
 * Signs `message` with a compressed key; returns the base64 signature.
 * @param header 'electrum' (default): 31-34 whatever the address type, as Electrum signs (its
 *   verifier then tries P2PKH, P2WPKH and P2SH-P2WPKH); 'bip137-p2wpkh': 39-42, as Trezor signs
 *   for native segwit addresses.
 */
export function signMessage(privateKey: Uint8Array, message: string, header: 'electrum' | 'bip137-p2wpkh' = 'electrum'): string {
  const { signature, recoveryId } = ecdsaSignRecoverable(messageHash(message), privateKey);
  const out = new Uint8Array(65);
  out[0] = 27 + recoveryId + 4 + (header === 'bip137-p2wpkh' ? 8 : 0);
  out.set(signature, 1);
  return Buffer.from(out).toString('base64');
}

/**
 * Verifies a signed message against an address: recovers the public key from the signature and
 * checks that it owns `address` (P2PKH, P2WPKH or P2SH-P2WPKH; a BIP137 header 35-42 restricts
 * the type). High-S signatures are accepted, as `bitcoin-cli verifymessage` does.
 * @returns false for any mismatch or malformed signature. @throws FulmenError BAD_INPUT for an
 *   address that is not valid on `network`.
 */
export function verifyMessage(address: string, signatureBase64: string, message: string, network: NetworkName): boolean {
  const params = bitcoinNetwork(network);
  try {
    bitcoin.address.toOutputScript(address, params);
  } catch {
    throw badInput(`Invalid address: ${address}`);
  }
  const sig = Buffer.from(signatureBase64.trim(), 'base64');
  if (sig.length !== 65 || sig.toString('base64') !== signatureBase64.trim().replace(/\s/g, '')) return false;
  let header = sig[0];
  if (header < 27 || header > 42) return false;
  let compressed = true;
  let types: ('p2pkh' | 'p2wpkh' | 'p2wpkh-p2sh')[] = ['p2pkh', 'p2wpkh', 'p2wpkh-p2sh'];
  if (header >= 39) {
    header -= 12;
    types = ['p2wpkh'];
  } else if (header >= 35) {
    header -= 8;
    types = ['p2wpkh-p2sh'];
  } else if (header >= 31) header -= 4;
  else {
    compressed = false;
    types = ['p2pkh'];
  }
  const recid = header - 27;
  const hash = messageHash(message);
  let publicKey: Uint8Array;
  try {
    publicKey = ecdsaRecover(sig.subarray(1), recid, hash);
    if (!bitcoinjsEcc.verify(hash, publicKey, sig.subarray(1))) return false;
    if (!compressed) publicKey = pointUncompressed(publicKey);
  } catch {
    return false;
  }
  const pubkey = Buffer.from(publicKey);
  return types.some((type) => {
    if (type === 'p2pkh') return bitcoin.payments.p2pkh({ pubkey, network: params }).address === address;
    if (!compressed) return false;
    const p2wpkh = bitcoin.payments.p2wpkh({ pubkey, network: params });
    if (type === 'p2wpkh') return p2wpkh.address?.toLowerCase() === address.toLowerCase();
    return bitcoin.payments.p2sh({ redeem: p2wpkh, network: params }).address === address;
  });
}
