import * as bitcoin from 'bitcoinjs-lib';
import { badInput } from '../util/errors.js';
import { scriptPubKeyToAddress } from '../bitcoin/address.js';
import type { NetworkName } from '../bitcoin/network.js';
import { inputPrevTxid, outputValueSat, parseTransaction } from '../bitcoin/transaction.js';
import { looksLikePsbt, parsePsbt } from './wallet.js';
import { psbtToV0, psbtToV2 } from './psbt-v2.js';

/**
 * PSBT (BIP174) helpers for the command layer, over bitcoinjs-lib's Psbt: finalize/extract,
 * accept either a PSBT or a raw transaction, and decode either for display. bitcoinjs-lib reads
 * v0 only: v2 PSBTs (BIP370) are converted on the way in (`parsePsbt` → psbt-v2.ts `psbtToV0`),
 * and `convertPsbt` exports either version.
 */

/**
 * Finalizes every input of a fully signed PSBT and returns the raw transaction (Electrum
 * `serialize` of a complete transaction). A raw transaction hex is returned as is, after parsing.
 * @throws FulmenError BAD_INPUT for a malformed PSBT or one missing signatures.
 */
export function finalizePsbtToHex(text: string, network: NetworkName): string {
  if (!looksLikePsbt(text)) return parseTransaction(text.trim()).toHex();
  const psbt = parsePsbt(text, network);
  psbt.data.inputs.forEach((input, n) => {
    if (input.finalScriptWitness || input.finalScriptSig) return;
    try {
      psbt.finalizeInput(n);
    } catch {
      throw badInput(`PSBT input ${n} is not fully signed`);
    }
  });
  try {
    return psbt.extractTransaction(true).toHex();
  } catch (err) {
    throw badInput(`Cannot extract the transaction: ${err instanceof Error ? err.message : String(err)}`);
  }
}

/**
 * Converts a PSBT (base64 or hex, v0 or v2) to `version` and returns it in base64 (BIP370
 * "Backwards Compatibility": v2 ↔ v0 through the unsigned transaction; other fields kept).
 * @throws FulmenError BAD_INPUT for an invalid PSBT.
 */
export function convertPsbt(text: string, version: 0 | 2): string {
  const trimmed = text.trim();
  const bytes = new Uint8Array(Buffer.from(trimmed, /^70736274ff/i.test(trimmed) ? 'hex' : 'base64'));
  return Buffer.from(version === 2 ? psbtToV2(bytes) : psbtToV0(bytes)).toString('base64');
}

export interface DescribedTx {
  txid: string;
  complete: boolean;
  isPsbt: boolean;
  version: number;
  locktime: number;
  vsize: number;
  feeSat: number | null;
  inputs: { txid: string; vout: number; sequence: number; valueSat: number | null; address: string | null; isMine: boolean; signed: boolean }[];
  outputs: { address: string | null; scriptPubKeyHex: string; valueSat: number; isMine: boolean }[];
}

/**
 * Decodes a PSBT or raw transaction (Electrum `deserialize`). Input values come from the PSBT's
 * UTXO fields, else from `knownOutput` (the wallet's own coins).
 * @throws FulmenError BAD_INPUT when neither a PSBT nor a transaction.
 */
export function describeTransaction(
  text: string,
  network: NetworkName,
  isMine: (script: Uint8Array) => boolean,
  knownOutput: (txid: string, vout: number) => { valueSat: number; script: Uint8Array } | null,
): DescribedTx {
  const isPsbt = looksLikePsbt(text);
  let tx: bitcoin.Transaction;
  let psbt: bitcoin.Psbt | null = null;
  if (isPsbt) {
    psbt = parsePsbt(text, network);
    tx = bitcoin.Transaction.fromBuffer(psbt.data.getTransaction());
  } else tx = parseTransaction(text.trim());
  const inputs = tx.ins.map((input, n) => {
    const txid = inputPrevTxid(input);
    const data = psbt?.data.inputs[n];
    let prev: { valueSat: number; script: Uint8Array } | null = null;
    if (data?.witnessUtxo) prev = { valueSat: Number(data.witnessUtxo.value), script: data.witnessUtxo.script };
    else if (data?.nonWitnessUtxo) {
      const out = bitcoin.Transaction.fromBuffer(data.nonWitnessUtxo).outs[input.index];
      if (out) prev = { valueSat: outputValueSat(out), script: out.script };
    } else prev = knownOutput(txid, input.index);
    const signed = psbt ? Boolean(data?.finalScriptWitness || data?.finalScriptSig || data?.partialSig?.length) : input.witness.length > 0 || input.script.length > 0;
    return {
      txid,
      vout: input.index,
      sequence: input.sequence,
      valueSat: prev ? prev.valueSat : null,
      address: prev ? scriptPubKeyToAddress(prev.script, network) : null,
      isMine: prev ? isMine(prev.script) : false,
      signed,
    };
  });
  const outputs = tx.outs.map((o) => ({
    address: scriptPubKeyToAddress(o.script, network),
    scriptPubKeyHex: Buffer.from(o.script).toString('hex'),
    valueSat: outputValueSat(o),
    isMine: isMine(o.script),
  }));
  const inputTotal = inputs.every((i) => i.valueSat !== null) ? inputs.reduce((s, i) => s + i.valueSat!, 0) : null;
  const complete = psbt ? psbt.data.inputs.every((i) => i.finalScriptWitness || i.finalScriptSig) : inputs.every((i) => i.signed);
  return {
    txid: tx.getId(),
    complete,
    isPsbt,
    version: tx.version,
    locktime: tx.locktime,
    vsize: complete && psbt ? psbt.extractTransaction(true).virtualSize() : tx.virtualSize(),
    feeSat: inputTotal === null ? null : inputTotal - outputs.reduce((s, o) => s + o.valueSat, 0),
    inputs,
    outputs,
  };
}
