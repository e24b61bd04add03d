import * as bitcoin from 'bitcoinjs-lib';
import { hexToBytes } from '@noble/hashes/utils.js';
import { FulmenError, badInput } from '../util/errors.js';
import { MAX_MONEY_SAT } from '../util/money.js';
import './keys.js'; // initialises bitcoinjs-lib's ECC library

/** nSequence that signals opt-in replace-by-fee (BIP125) and allows nLockTime. */
export const SEQUENCE_RBF = 0xfffffffd;
/** nSequence that disables RBF but keeps nLockTime enforced. */
export const SEQUENCE_NO_RBF = 0xfffffffe;

/**
 * Witness weight of a P2WPKH input: item count (1) + signature (1 + 72, DER with sighash byte,
 * worst case) + compressed pubkey (1 + 33) = 108 WU (BIP141).
 */
export const P2WPKH_WITNESS_WEIGHT = 108;

/** How one input contributes to a transaction's weight. */
export interface InputWeightSpec {
  /** Serialized witness size in bytes (item count and items), 0 for a legacy input. */
  witnessSize: number;
  /** scriptSig length in bytes (0 for native segwit). */
  scriptSigSize?: number;
}

/** A P2WPKH input as seen by the size estimator. */
export const P2WPKH_INPUT: InputWeightSpec = { witnessSize: P2WPKH_WITNESS_WEIGHT };

function varIntSize(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9;
}

/**
 * Weight (BIP141) of a transaction with the given inputs and output scripts, before signing.
 * Signatures are counted at their maximum size, so the estimate never undershoots.
 */
export function estimateTxWeight(inputs: readonly InputWeightSpec[], outputScripts: readonly Uint8Array[]): number {
  let base = 4 + varIntSize(inputs.length) + varIntSize(outputScripts.length) + 4; // version, counts, locktime
  let witness = 0;
  for (const input of inputs) {
    const scriptSig = input.scriptSigSize ?? 0;
    base += 36 + varIntSize(scriptSig) + scriptSig + 4;
    witness += input.witnessSize;
  }
  for (const script of outputScripts) base += 8 + varIntSize(script.length) + script.length;
  const hasWitness = inputs.some((i) => i.witnessSize > 0);
  if (hasWitness) {
    witness += 2; // marker + flag
    witness += inputs.filter((i) => i.witnessSize === 0).length; // empty witness stack count byte
  }
  return base * 4 + witness;
}

/** Virtual size in vbytes = ceil(weight / 4) (BIP141). */
export function estimateTxVsize(inputs: readonly InputWeightSpec[], outputScripts: readonly Uint8Array[]): number {
  return Math.ceil(estimateTxWeight(inputs, outputScripts) / 4);
}

/** Fee in integer satoshis for `vsize` vbytes at `feerateSatPerVbyte`, rounded up. */
export function feeForVsize(vsize: number, feerateSatPerVbyte: number): number {
  return Math.ceil(vsize * feerateSatPerVbyte);
}

/**
 * Smallest output value that Bitcoin Core relays for `scriptPubKey` (policy GetDustThreshold with
 * the default dustrelayfee of 3 sat/vB): 294 sat P2WPKH, 330 sat P2WSH/P2TR, 546 sat P2PKH,
 * 540 sat P2SH. OP_RETURN outputs are never dust.
 */
export function dustThresholdSat(scriptPubKey: Uint8Array): number {
  if (scriptPubKey.length > 0 && scriptPubKey[0] === bitcoin.opcodes.OP_RETURN) return 0;
  const outputSize = 8 + varIntSize(scriptPubKey.length) + scriptPubKey.length;
  const isWitnessProgram =
    scriptPubKey.length >= 4 &&
    scriptPubKey.length <= 42 &&
    (scriptPubKey[0] === 0 || (scriptPubKey[0] >= 0x51 && scriptPubKey[0] <= 0x60)) &&
    scriptPubKey[1] + 2 === scriptPubKey.length;
  const spendSize = isWitnessProgram ? 32 + 4 + 1 + Math.floor(107 / 4) + 4 : 32 + 4 + 1 + 107 + 4;
  return (outputSize + spendSize) * 3;
}

/** An outpoint to spend. */
export interface TxInputSpec {
  /** Display-order txid (hex). */
  txid: string;
  vout: number;
  /** nSequence; default SEQUENCE_RBF. */
  sequence?: number;
}

/** An output to create. */
export interface TxOutputSpec {
  scriptPubKey: Uint8Array;
  /** Integer satoshis. */
  valueSat: number;
}

/**
 * Builds an unsigned transaction (inputs and outputs in the given order).
 * @throws FulmenError BAD_INPUT for non-integer/negative/over-21M values or a bad txid.
 */
export function buildTransaction(spec: {
  inputs: readonly TxInputSpec[];
  outputs: readonly TxOutputSpec[];
  /** nVersion, default 2. */
  version?: number;
  /** nLockTime, default 0. */
  lockTime?: number;
}): bitcoin.Transaction {
  const tx = new bitcoin.Transaction();
  tx.version = spec.version ?? 2;
  tx.locktime = spec.lockTime ?? 0;
  for (const input of spec.inputs) {
    if (!/^[0-9a-fA-F]{64}$/.test(input.txid)) throw badInput(`Invalid txid: ${input.txid}`);
    if (!Number.isInteger(input.vout) || input.vout < 0) throw badInput(`Invalid output index: ${input.vout}`);
    tx.addInput(hexToBytes(input.txid).reverse(), input.vout, input.sequence ?? SEQUENCE_RBF);
  }
  for (const output of spec.outputs) {
    assertSatAmount(output.valueSat);
    tx.addOutput(output.scriptPubKey, BigInt(output.valueSat));
  }
  return tx;
}

/** Something that signs a 32-byte digest with ECDSA (a bip32 node or an ECPair). */
export interface EcdsaSigner {
  /** 33-byte compressed public key. */
  publicKey: Uint8Array;
  /** Compact 64-byte (r, s) signature; `lowR` grinds for a 32-byte r. */
  sign(hash: Uint8Array, lowR?: boolean): Uint8Array;
}

/**
 * BIP143 signature hash of a P2WPKH input (scriptCode = P2PKH script of the key), SIGHASH_ALL.
 * @param valueSat the value of the output being spent.
 */
export function p2wpkhSighash(tx: bitcoin.Transaction, inputIndex: number, publicKey: Uint8Array, valueSat: number): Uint8Array {
  const scriptCode = bitcoin.payments.p2pkh({ pubkey: publicKey }).output!;
  return tx.hashForWitnessV0(inputIndex, scriptCode, BigInt(valueSat), bitcoin.Transaction.SIGHASH_ALL);
}

/**
 * Signs P2WPKH input `inputIndex` of `tx` with SIGHASH_ALL (BIP143) and sets its witness
 * `[signature, pubkey]`. Signatures are low-R, low-S DER.
 */
export function signP2wpkhInput(tx: bitcoin.Transaction, inputIndex: number, signer: EcdsaSigner, valueSat: number): void {
  const sighash = p2wpkhSighash(tx, inputIndex, signer.publicKey, valueSat);
  const signature = bitcoin.script.signature.encode(signer.sign(sighash, true), bitcoin.Transaction.SIGHASH_ALL);
  tx.setWitness(inputIndex, [signature, signer.publicKey]);
}

/** Raw hex, txid and vsize of a (signed) transaction. */
export function serializeTransaction(tx: bitcoin.Transaction): { txHex: string; txid: string; vsize: number } {
  return { txHex: tx.toHex(), txid: tx.getId(), vsize: tx.virtualSize() };
}

/** Parses raw transaction hex. @throws FulmenError BAD_INPUT for malformed bytes. */
export function parseTransaction(txHex: string): bitcoin.Transaction {
  try {
    return bitcoin.Transaction.fromHex(txHex);
  } catch {
    throw badInput('Malformed transaction');
  }
}

/** Display-order txid of an input's previous output. */
export function inputPrevTxid(input: bitcoin.TxInput): string {
  return Buffer.from(input.hash).reverse().toString('hex');
}

/** Satoshi value of an output as a safe integer `number`. */
export function outputValueSat(output: bitcoin.TxOutput): number {
  const value = Number(output.value);
  if (!Number.isSafeInteger(value) || value < 0 || value > MAX_MONEY_SAT) {
    throw new FulmenError('SERVER_MISBEHAVED', 'Transaction output value out of range');
  }
  return value;
}

export type Transaction = bitcoin.Transaction;

function assertSatAmount(valueSat: number): void {
  if (!Number.isSafeInteger(valueSat) || valueSat < 0 || valueSat > MAX_MONEY_SAT) {
    throw badInput(`Invalid amount: ${valueSat} sat (integer satoshis expected)`);
  }
}
