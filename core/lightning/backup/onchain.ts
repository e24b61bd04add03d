/**
 * Recoverable channels: an encrypted OP_RETURN output in every funding transaction we build, so
 * a wallet restored from its seed finds its channels by scanning its own transactions (the idea
 * of Electrum's recoverable channels, lnworker "CB_MAGIC"; Fulmen's own format below, because it
 * carries the full peer node id and address: Fulmen has no gossip database to look a prefix up).
 *
 * Format (version 1), the single push of an OP_RETURN output (at most 80 bytes, standard):
 *
 *     payload    = "FLC" 0x01 || ciphertext (plaintext length + 16-byte Poly1305 tag)
 *     key        = HMAC-SHA256(lightningRootSecret, "fulmen/onchain-backup")
 *     nonce      = SHA256(funding output scriptPubKey)[0:12]      (unique: our funding key is)
 *     aad        = "fulmen/onchain-backup/v1"
 *     ciphertext = ChaCha20-Poly1305(key, nonce, aad, plaintext)
 *     plaintext  = remote_node_id (33) || addr_type (1) || addr
 *       addr_type 0: none; 1: IPv4 (4) || port (u16 BE); 2: IPv6 (16) || port;
 *       3: hostname length (1) || hostname (ASCII, 1..23 bytes) || port
 *
 * The funding output is the transaction output whose scriptPubKey authenticates the payload (the
 * nonce binds them), and the funding key follows from the node id and the transaction's
 * nLockTime (channel/keys.ts deriveRecoverableFundingKey, scheme 'opened').
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, concatBytes, hexToBytes } from '@noble/hashes/utils.js';
import type { Transaction } from 'bitcoinjs-lib';
import { isIP } from 'node:net';
import { FulmenError } from '../../util/errors.js';

const MAGIC = Uint8Array.of(0x46, 0x4c, 0x43, 0x01); // "FLC" v1
const AAD = new TextEncoder().encode('fulmen/onchain-backup/v1');
const OP_RETURN = 0x6a;
const OP_PUSHDATA1 = 0x4c;
/** Standard relay limit on OP_RETURN data. */
export const MAX_OP_RETURN_DATA = 80;
const MAX_HOSTNAME = MAX_OP_RETURN_DATA - MAGIC.length - 33 - 1 - 1 - 2 - 16;

/** What the OP_RETURN tells a restored wallet about the channel. */
export interface OnchainChannelHint {
  /** 33-byte compressed node id, hex. */
  remoteNodeId: string;
  /** Where the peer listened when we opened the channel (null: not representable in 80 bytes). */
  host: string | null;
  port: number | null;
}

/** A channel found in one of our transactions. */
export interface FoundFundingOutput extends OnchainChannelHint {
  fundingOutputIndex: number;
  fundingSat: number;
  fundingScriptPubKey: string;
  /** nLockTime of the funding transaction (input of the funding key derivation). */
  fundingLocktime: number;
}

/** The OP_RETURN encryption key: HMAC-SHA256(lightningRootSecret, "fulmen/onchain-backup"). */
export function onchainBackupKey(lightningRootSecret: Uint8Array): Uint8Array {
  return hmac(sha256, lightningRootSecret, new TextEncoder().encode('fulmen/onchain-backup'));
}

function nonceFor(fundingScriptPubKey: Uint8Array): Uint8Array {
  return sha256(fundingScriptPubKey).slice(0, 12);
}

function encodeAddress(host: string | null, port: number | null): Uint8Array {
  if (host === null || port === null || !Number.isInteger(port) || port < 1 || port > 65535) return Uint8Array.of(0);
  const portBytes = Uint8Array.of(port >> 8, port & 0xff);
  const h = host.replace(/^\[|\]$/g, '');
  const family = isIP(h);
  if (family === 4) return concatBytes(Uint8Array.of(1), Uint8Array.from(h.split('.').map(Number)), portBytes);
  if (family === 6) return concatBytes(Uint8Array.of(2), ipv6Bytes(h), portBytes);
  const name = new TextEncoder().encode(h);
  if (name.length === 0 || name.length > MAX_HOSTNAME || !/^[A-Za-z0-9.-]+$/.test(h)) return Uint8Array.of(0);
  return concatBytes(Uint8Array.of(3, name.length), name, portBytes);
}

function ipv6Bytes(h: string): Uint8Array {
  const [head, tail] = h.includes('::') ? h.split('::') : [h, null];
  const parts = (s: string | null | undefined) => (s ? s.split(':') : []);
  const groups = tail === null ? parts(head) : [...parts(head), ...Array(8 - parts(head).length - parts(tail).length).fill('0'), ...parts(tail)];
  const out = new Uint8Array(16);
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  return out;
}

function ipv6Text(b: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return groups.join(':');
}

function decodeAddress(b: Uint8Array): { host: string | null; port: number | null } | null {
  const type = b[0];
  const port = (off: number) => (b[off]! << 8) | b[off + 1]!;
  if (type === 0 && b.length === 1) return { host: null, port: null };
  if (type === 1 && b.length === 7) return { host: [...b.slice(1, 5)].join('.'), port: port(5) };
  if (type === 2 && b.length === 19) return { host: ipv6Text(b.slice(1, 17)), port: port(17) };
  if (type === 3 && b.length >= 2 && b.length === 2 + b[1]! + 2 && b[1]! > 0) {
    return { host: new TextDecoder().decode(b.slice(2, 2 + b[1]!)), port: port(2 + b[1]!) };
  }
  return null;
}

/**
 * The OP_RETURN scriptPubKey to add to the funding transaction whose funding output is
 * `fundingScriptPubKey`. @throws FulmenError BAD_INPUT for a malformed node id.
 */
export function encodeFundingOpReturn(lightningRootSecret: Uint8Array, fundingScriptPubKey: Uint8Array, hint: OnchainChannelHint): Uint8Array {
  if (!/^(02|03)[0-9a-f]{64}$/.test(hint.remoteNodeId)) throw new FulmenError('BAD_INPUT', 'Invalid remote node id');
  const plaintext = concatBytes(hexToBytes(hint.remoteNodeId), encodeAddress(hint.host, hint.port));
  const ciphertext = chacha20poly1305(onchainBackupKey(lightningRootSecret), nonceFor(fundingScriptPubKey), AAD).encrypt(plaintext);
  const payload = concatBytes(MAGIC, ciphertext);
  if (payload.length > MAX_OP_RETURN_DATA) throw new FulmenError('INTERNAL', 'Funding OP_RETURN too long');
  return payload.length <= 75 ? concatBytes(Uint8Array.of(OP_RETURN, payload.length), payload) : concatBytes(Uint8Array.of(OP_RETURN, OP_PUSHDATA1, payload.length), payload);
}

/** The data of an OP_RETURN output with one push, or null for any other script. */
function opReturnData(script: Uint8Array): Uint8Array | null {
  if (script[0] !== OP_RETURN || script.length < 2) return null;
  const op = script[1]!;
  if (op >= 1 && op <= 75 && script.length === 2 + op) return script.slice(2);
  if (op === OP_PUSHDATA1 && script.length >= 3 && script.length === 3 + script[2]!) return script.slice(3);
  return null;
}

/**
 * Decrypts a Fulmen OP_RETURN payload for the candidate funding output `fundingScriptPubKey`.
 * @returns the hint, or null when it is not ours (other seed, other output, other format).
 */
export function decodeFundingOpReturn(lightningRootSecret: Uint8Array, opReturnScript: Uint8Array, fundingScriptPubKey: Uint8Array): OnchainChannelHint | null {
  const data = opReturnData(opReturnScript);
  if (!data || data.length < MAGIC.length + 33 + 1 + 16 || !MAGIC.every((b, i) => data[i] === b)) return null;
  let plaintext: Uint8Array;
  try {
    plaintext = chacha20poly1305(onchainBackupKey(lightningRootSecret), nonceFor(fundingScriptPubKey), AAD).decrypt(data.slice(MAGIC.length));
  } catch {
    return null;
  }
  const nodeId = bytesToHex(plaintext.slice(0, 33));
  const address = decodeAddress(plaintext.slice(33));
  if (!address || !/^(02|03)/.test(nodeId)) return null;
  return { remoteNodeId: nodeId, ...address };
}

/**
 * Looks for our OP_RETURN in `tx` and the P2WSH output it authenticates: the funding output of
 * a channel we opened. @returns null when `tx` is not one of our funding transactions.
 */
export function findFundingOutput(lightningRootSecret: Uint8Array, tx: Transaction): FoundFundingOutput | null {
  const opReturns = tx.outs.filter((o) => opReturnData(o.script)?.slice(0, 4).every((b, i) => b === MAGIC[i]));
  if (opReturns.length === 0) return null;
  for (const [vout, out] of tx.outs.entries()) {
    const isP2wsh = out.script.length === 34 && out.script[0] === 0x00 && out.script[1] === 0x20;
    if (!isP2wsh) continue;
    for (const op of opReturns) {
      const hint = decodeFundingOpReturn(lightningRootSecret, op.script, out.script);
      if (hint) {
        return { ...hint, fundingOutputIndex: vout, fundingSat: Number(out.value), fundingScriptPubKey: bytesToHex(out.script), fundingLocktime: tx.locktime };
      }
    }
  }
  return null;
}
