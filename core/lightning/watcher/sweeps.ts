import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Psbt, Transaction, payments } from 'bitcoinjs-lib';
import { buildTransaction, dustThresholdSat, feeForVsize, inputPrevTxid } from '../../bitcoin/transaction.js';
import { derivePrivkey, deriveRevocationPrivkey, pubkeyFromSecret, signDigest } from '../channel/keys.js';
import {
  anchorToRemoteScript,
  buildHtlcTx,
  p2wsh,
  setHtlcWitness,
  signInput,
  toLocalScript,
  toWitnessSignature,
  txidToHash,
  SIGHASH_ALL,
  type CommitmentOutput,
} from '../channel/transactions.js';
import { hasAnchors, ourToRemoteScript, releasedPreimages, toSelfDelayOf, type ChannelView, type FundingSpend, type RebuiltCommitment } from './commitments.js';

/**
 * BOLT 5 on-chain resolution of a closed channel (Electrum's lnsweep): for each output of the
 * closing transaction that is ours or contested, how to spend it and when. Every transaction here
 * is version 2, signed SIGHASH_ALL with keys derived per BOLT 3 "Keys" from our basepoint secrets,
 * and single-input except our option_anchors HTLC transactions, which get wallet inputs (and a
 * change output) for their fee. Channel types: option_static_remotekey, with or without
 * option_anchors (to_remote and HTLC spends then wait one block: `1 OP_CHECKSEQUENCEVERIFY`).
 */

/** An output to spend: display-order txid, index, value in sat. */
export interface Prevout {
  txid: string;
  vout: number;
  valueSat: number;
}

/** What a sweep spends (BOLT 5 names in the comments). */
export type SweepKind =
  /** Our commitment: to_local through OP_CSV after to_self_delay. */
  | 'to_local'
  /** Remote (or revoked, or unknown) commitment: to_remote, P2WPKH of our static payment key (P2WSH with CSV 1 with anchors). */
  | 'to_remote'
  /** Our commitment: an HTLC we offered, by the peer-signed HTLC-timeout transaction. */
  | 'htlc_timeout_tx'
  /** Our commitment: an HTLC we received, by the peer-signed HTLC-success transaction (preimage). */
  | 'htlc_success_tx'
  /** Output of our HTLC-timeout/success transaction, after to_self_delay. */
  | 'htlc_tx_output'
  /** Remote commitment: an HTLC the remote offered, claimed directly with the preimage. */
  | 'htlc_claim_preimage'
  /** Remote commitment: an HTLC we offered, claimed directly after cltv_expiry. */
  | 'htlc_claim_timeout'
  /** Revoked remote commitment: to_local through the revocation key. */
  | 'justice_to_local'
  /** Revoked remote commitment: an HTLC output through the revocation key. */
  | 'justice_htlc'
  /** Revoked remote commitment: output of the remote's HTLC transaction, through the revocation key. */
  | 'justice_htlc_tx_output'
  /** Our unconfirmed commitment (option_anchors): our anchor spent by a CPFP child that a wallet input pays for. */
  | 'anchor_cpfp';

/**
 * Inputs a sweep needs at build time: integer sat/vB feerate and our wallet's scriptPubKey; for
 * option_anchors HTLC transactions also the wallet that pays their fee.
 */
export interface SweepBuildParams {
  feerateSatPerVbyte: number;
  destination: Uint8Array;
  feeWallet?: FeeWallet;
  /**
   * A wallet-funded transaction replacing one in the mempool (BIP 125 rules 3 and 4): the absolute
   * fee of the replaced version, sat; the replacement pays at least that plus 1 sat/vB of its own
   * vsize (the default incremental relay feerate).
   */
  replacedFeeSat?: number;
}

/** A confirmed wallet coin (P2WPKH of ours) that can pay a fee. */
export interface FeeCoin {
  txid: string;
  vout: number;
  valueSat: number;
  scriptPubKey: Uint8Array;
}

/**
 * The on-chain wallet as the payer of an option_anchors HTLC transaction's fee (BOLT 5: its
 * SIGHASH_SINGLE|SIGHASH_ANYONECANPAY remote signature lets us add inputs and outputs).
 */
export interface FeeWallet {
  /** Spendable confirmed coins (used largest first). */
  coins(): FeeCoin[];
  /** A fresh change scriptPubKey of the wallet. */
  changeScript(): Uint8Array;
  /**
   * Signs and finalizes every input of the PSBT (base64) that spends one of the wallet's coins
   * (Wallet.signPsbt); `txHex` is the complete transaction once every input is final, else null.
   */
  signPsbt(psbtBase64: string): { txHex: string | null };
}

/**
 * One output of a closing (or second-stage) transaction that the watcher resolves. `kind: null`
 * means it is contested but not ours to take now (e.g. an HTLC the peer will time out): it is
 * resolved once anyone spends it.
 */
export interface OutputResolution {
  prevout: Prevout;
  scriptPubKey: Uint8Array;
  kind: SweepKind | null;
  /** Blocks after the parent confirmed before our spend is valid (OP_CSV); 0: none. */
  csvDelay: number;
  /** Absolute locktime of our spend (valid from block cltvExpiry + 1); 0: none. */
  cltvExpiry: number;
  /** Payment hash of an HTLC output (to learn a preimage when the peer claims it). */
  paymentHash: string | null;
  /** Our outgoing HTLC's id when this output carries one (to fail or fulfill the payment). */
  outgoingHtlcId: bigint | null;
  /**
   * When the other side can spend this output too (the deadline of an urgent sweep, fee-policy.ts):
   * `csvDelay` blocks after the parent confirmed and from block `cltvExpiry` (0: no such lock;
   * both 0: at any time). Null: nobody races us for it.
   */
  raceFrom: { csvDelay: number; cltvExpiry: number } | null;
  /**
   * Builds our signed spend, or null when the output would be dust after the fee. Second-stage
   * HTLC transactions are pre-signed by the peer and ignore `params`.
   */
  build: ((params: SweepBuildParams) => Transaction | null) | null;
  /** When `spender` (any transaction spending this output) creates an output for us, its resolution. */
  next: ((spender: Transaction) => OutputResolution | null) | null;
  /**
   * Our option_anchors HTLC transaction: pre-signed by the peer with no fee, paid by wallet inputs
   * at the feerate of an urgent sweep (fee-policy.ts `resolutionUrgency`), so `build` needs
   * `params.feeWallet` and returns null while the wallet cannot pay.
   */
  walletFunded: boolean;
}

const WITNESS_TRUE = Uint8Array.of(1);
const EMPTY = new Uint8Array(0);

function p2wpkhScriptCode(pubkey: Uint8Array): Uint8Array {
  return payments.p2pkh({ pubkey }).output!;
}

interface SingleInputSweep {
  prevout: Prevout;
  sequence: number;
  locktime: number;
  /** Script the signature commits to (BIP 143 scriptCode): the witness script, or P2PKH for P2WPKH. */
  scriptCode: Uint8Array;
  privkey: Uint8Array;
  /** Witness stack for a DER signature with sighash byte. */
  witness: (signature: Uint8Array) => Uint8Array[];
}

/**
 * A one-input, one-output transaction paying `destination`; the fee is its signed vsize (plus one
 * vbyte for signature length variance) times the feerate. Null when the rest would be dust.
 */
export function buildSingleInputSweep(s: SingleInputSweep, params: SweepBuildParams): Transaction | null {
  const make = (valueSat: number): Transaction => {
    const tx = buildTransaction({
      inputs: [{ txid: s.prevout.txid, vout: s.prevout.vout, sequence: s.sequence }],
      outputs: [{ scriptPubKey: params.destination, valueSat }],
      lockTime: s.locktime,
    });
    const digest = tx.hashForWitnessV0(0, s.scriptCode, BigInt(s.prevout.valueSat), SIGHASH_ALL);
    tx.setWitness(0, s.witness(toWitnessSignature(signDigest(digest, s.privkey))));
    return tx;
  };
  const probe = make(s.prevout.valueSat);
  const fee = feeForVsize(probe.virtualSize() + 1, params.feerateSatPerVbyte);
  const value = s.prevout.valueSat - fee;
  if (value < dustThresholdSat(params.destination)) return null;
  return make(value);
}

// ---------------------------------------------------------------- spend paths (BOLT 3 / 5)

/** to_local (or HTLC-tx output) after to_self_delay: witness `<local_delayedsig> <>`, nSequence = to_self_delay. */
export function sweepDelayedOutput(
  p: { prevout: Prevout; witnessScript: Uint8Array; toSelfDelay: number; delayedPrivkey: Uint8Array },
  params: SweepBuildParams,
): Transaction | null {
  return buildSingleInputSweep(
    { prevout: p.prevout, sequence: p.toSelfDelay, locktime: 0, scriptCode: p.witnessScript, privkey: p.delayedPrivkey, witness: (sig) => [sig, EMPTY, p.witnessScript] },
    params,
  );
}

/** Revoked to_local (or revoked HTLC-tx output): witness `<revocation_sig> 1`. */
export function sweepRevokedDelayedOutput(p: { prevout: Prevout; witnessScript: Uint8Array; revocationPrivkey: Uint8Array }, params: SweepBuildParams): Transaction | null {
  return buildSingleInputSweep(
    { prevout: p.prevout, sequence: 0xfffffffd, locktime: 0, scriptCode: p.witnessScript, privkey: p.revocationPrivkey, witness: (sig) => [sig, WITNESS_TRUE, p.witnessScript] },
    params,
  );
}

/** Revoked offered/received HTLC output: witness `<revocation_sig> <revocationpubkey>`. */
export function sweepRevokedHtlcOutput(p: { prevout: Prevout; witnessScript: Uint8Array; revocationPrivkey: Uint8Array }, params: SweepBuildParams): Transaction | null {
  const revocationPubkey = pubkeyFromSecret(p.revocationPrivkey);
  return buildSingleInputSweep(
    { prevout: p.prevout, sequence: 0xfffffffd, locktime: 0, scriptCode: p.witnessScript, privkey: p.revocationPrivkey, witness: (sig) => [sig, revocationPubkey, p.witnessScript] },
    params,
  );
}

/**
 * to_remote with option_anchors: P2WSH of `<our payment_basepoint> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY`,
 * nSequence 1, witness `<sig>` (BOLT 3 to_remote Output).
 */
export function sweepAnchorToRemote(p: { prevout: Prevout; paymentBasepointSecret: Uint8Array }, params: SweepBuildParams): Transaction | null {
  const witnessScript = anchorToRemoteScript(pubkeyFromSecret(p.paymentBasepointSecret));
  return buildSingleInputSweep(
    { prevout: p.prevout, sequence: 1, locktime: 0, scriptCode: witnessScript, privkey: p.paymentBasepointSecret, witness: (sig) => [sig, witnessScript] },
    params,
  );
}

/** to_remote with option_static_remotekey: P2WPKH of our payment_basepoint, witness `<sig> <pubkey>`. */
export function sweepStaticToRemote(p: { prevout: Prevout; paymentBasepointSecret: Uint8Array }, params: SweepBuildParams): Transaction | null {
  const pubkey = pubkeyFromSecret(p.paymentBasepointSecret);
  return buildSingleInputSweep(
    { prevout: p.prevout, sequence: 0xfffffffd, locktime: 0, scriptCode: p2wpkhScriptCode(pubkey), privkey: p.paymentBasepointSecret, witness: (sig) => [sig, pubkey] },
    params,
  );
}

/**
 * Remote commitment, HTLC the remote offered: witness `<remotehtlcsig> <payment_preimage>` (we are
 * "remote" there); nSequence 1 with option_anchors (`1 OP_CHECKSEQUENCEVERIFY`).
 */
export function claimHtlcWithPreimage(
  p: { prevout: Prevout; witnessScript: Uint8Array; htlcPrivkey: Uint8Array; preimage: Uint8Array; anchors: boolean },
  params: SweepBuildParams,
): Transaction | null {
  return buildSingleInputSweep(
    { prevout: p.prevout, sequence: p.anchors ? 1 : 0xfffffffd, locktime: 0, scriptCode: p.witnessScript, privkey: p.htlcPrivkey, witness: (sig) => [sig, p.preimage, p.witnessScript] },
    params,
  );
}

/**
 * Remote commitment, HTLC we offered: after cltv_expiry, witness `<remotehtlcsig> <>`, nLockTime =
 * cltv_expiry; nSequence 1 with option_anchors.
 */
export function claimHtlcAfterTimeout(
  p: { prevout: Prevout; witnessScript: Uint8Array; htlcPrivkey: Uint8Array; cltvExpiry: number; anchors: boolean },
  params: SweepBuildParams,
): Transaction | null {
  return buildSingleInputSweep(
    { prevout: p.prevout, sequence: p.anchors ? 1 : 0xfffffffd, locktime: p.cltvExpiry, scriptCode: p.witnessScript, privkey: p.htlcPrivkey, witness: (sig) => [sig, EMPTY, p.witnessScript] },
    params,
  );
}

/** What signing one of our second-stage HTLC transactions needs. */
export interface SecondStageHtlc {
  rebuilt: RebuiltCommitment;
  htlcOutput: Extract<CommitmentOutput, { kind: 'htlc' }>;
  toSelfDelay: number;
  remoteHtlcSignature: Uint8Array;
  localHtlcPrivkey: Uint8Array;
  preimage: Uint8Array | null;
}

/**
 * Our commitment: the HTLC-timeout (preimage null) or HTLC-success transaction, with the peer's
 * signature from its commitment_signed and ours: witness `0 <remotehtlcsig> <localhtlcsig> <preimage or empty>`.
 * Without option_anchors it is complete (its fee is pre-agreed); with it, see `fundAnchorHtlcTx`.
 */
export function signSecondStageHtlcTx(p: SecondStageHtlc): Transaction {
  const { rebuilt, htlcOutput } = p;
  const anchors = rebuilt.anchors;
  const tx = buildHtlcTx(rebuilt.commitment.tx.getId(), htlcOutput, rebuilt.feerateSatPerKw, p.toSelfDelay, rebuilt.keys.revocationPubkey, rebuilt.keys.localDelayedPubkey, anchors);
  const localSig = signInput(tx, 0, htlcOutput.witnessScript, htlcOutput.amountSat, p.localHtlcPrivkey);
  setHtlcWitness(tx, p.remoteHtlcSignature, localSig, p.preimage, htlcOutput.witnessScript, anchors);
  return tx;
}

/** BIP 144 serialized witness stack (a PSBT input's finalScriptWitness). */
function serializeWitness(stack: Uint8Array[]): Uint8Array {
  const varint = (n: number): number[] => (n < 0xfd ? [n] : [0xfd, n & 0xff, n >> 8]);
  const parts: number[] = [...varint(stack.length)];
  for (const item of stack) parts.push(...varint(item.length), ...item);
  return Uint8Array.from(parts);
}

/** The first input (and optional first output) of a transaction whose fee the wallet pays. */
interface WalletFundedSpend {
  locktime: number;
  input: { hash: Uint8Array; index: number; sequence: number; scriptPubKey: Uint8Array; valueSat: number };
  /** Output 0 (kept whole), or null when everything not paid in fee is change. */
  output: { script: Uint8Array; value: bigint } | null;
  /** Witness of input 0, signed SIGHASH_ALL over the final (unsigned) transaction. */
  witness: (unsigned: Transaction) => Uint8Array[];
  /** Fee in sat for the signed transaction of `vsize` vbytes. */
  feeSat: (vsize: number) => number;
}

/**
 * Adds wallet coins (largest first, as few as needed) as inputs after `s.input` and a wallet
 * change output after `s.output`, so that the transaction pays `s.feeSat` of its signed vsize
 * (measured on a signed probe, plus one vbyte for signature length variance). Input 0 is signed
 * by `s.witness` once the transaction is final; the wallet signs its inputs (PSBT).
 * @returns the signed transaction, or null when the wallet cannot pay or cannot sign.
 */
function fundWithWallet(s: WalletFundedSpend, wallet: FeeWallet, replacedFeeSat?: number): Transaction | null {
  const changeScript = wallet.changeScript();
  const feeSat = (vsize: number) => (replacedFeeSat === undefined ? s.feeSat(vsize) : Math.max(s.feeSat(vsize), replacedFeeSat + vsize));
  const make = (coins: FeeCoin[], changeSat: number): Transaction | null => {
    const inputs = [
      s.input,
      ...coins.map((c) => ({ hash: txidToHash(c.txid), index: c.vout, sequence: 0xfffffffd, scriptPubKey: c.scriptPubKey, valueSat: c.valueSat })),
    ];
    const outputs = [...(s.output ? [s.output] : []), { script: changeScript, value: BigInt(changeSat) }];
    const psbt = new Psbt();
    const unsigned = new Transaction();
    psbt.setVersion(2);
    psbt.setLocktime(s.locktime);
    unsigned.version = 2;
    unsigned.locktime = s.locktime;
    for (const i of inputs) {
      psbt.addInput({ hash: i.hash, index: i.index, sequence: i.sequence, witnessUtxo: { script: i.scriptPubKey, value: BigInt(i.valueSat) } });
      unsigned.addInput(i.hash, i.index, i.sequence);
    }
    for (const o of outputs) {
      psbt.addOutput(o);
      unsigned.addOutput(o.script, o.value);
    }
    psbt.updateInput(0, { finalScriptWitness: serializeWitness(s.witness(unsigned)) });
    try {
      const { txHex } = wallet.signPsbt(psbt.toBase64());
      return txHex === null ? null : Transaction.fromHex(txHex);
    } catch {
      return null; // e.g. a watch-only wallet: nothing can pay the fee
    }
  };
  const dust = dustThresholdSat(changeScript);
  const fixedIn = s.input.valueSat - (s.output ? Number(s.output.value) : 0);
  const selected: FeeCoin[] = [];
  for (const coin of wallet.coins().sort((x, y) => y.valueSat - x.valueSat)) {
    selected.push(coin);
    const total = fixedIn + selected.reduce((sum, c) => sum + c.valueSat, 0);
    const probe = make(selected, total);
    if (!probe) return null;
    const changeSat = total - feeSat(probe.virtualSize() + 1);
    if (changeSat >= dust) return make(selected, changeSat);
  }
  return null;
}

/**
 * Our option_anchors HTLC-timeout / HTLC-success transaction with its fee paid by the wallet
 * (BOLT 5 "Generation of HTLC Transactions"): input 0 and output 0 are the zero-fee HTLC
 * transaction the peer signed with SIGHASH_SINGLE|SIGHASH_ANYONECANPAY; wallet coins are added as
 * inputs and the rest returns to a wallet change output 1 (`fundWithWallet`). The fee is the
 * signed vsize (plus one vbyte) times `params.feerateSatPerVbyte`. Our HTLC signature
 * (SIGHASH_ALL) covers the final transaction.
 * @returns the signed transaction, or null when `params.feeWallet` is missing or cannot pay.
 */
export function fundAnchorHtlcTx(p: SecondStageHtlc, params: SweepBuildParams): Transaction | null {
  if (!params.feeWallet) return null;
  const base = signSecondStageHtlcTx(p);
  const htlcIn = base.ins[0]!;
  return fundWithWallet(
    {
      locktime: base.locktime,
      input: { hash: htlcIn.hash, index: htlcIn.index, sequence: htlcIn.sequence, scriptPubKey: p2wsh(p.htlcOutput.witnessScript), valueSat: p.htlcOutput.amountSat },
      output: { script: base.outs[0]!.script, value: base.outs[0]!.value },
      witness: (unsigned) => {
        const localSig = signInput(unsigned, 0, p.htlcOutput.witnessScript, p.htlcOutput.amountSat, p.localHtlcPrivkey);
        setHtlcWitness(unsigned, p.remoteHtlcSignature, localSig, p.preimage, p.htlcOutput.witnessScript, true);
        return unsigned.ins[0]!.witness;
      },
      feeSat: (vsize) => feeForVsize(vsize, params.feerateSatPerVbyte),
    },
    params.feeWallet,
    params.replacedFeeSat,
  );
}

/** What a CPFP of our own commitment through our anchor needs (option_anchors). */
export interface AnchorCpfp {
  /** Our commitment transaction (unconfirmed). */
  commitment: Transaction;
  /** Its fee in sat (funding amount minus its outputs). */
  commitmentFeeSat: number;
  /** Our `to_local_anchor`: output index and witness script (`<local_funding_pubkey> OP_CHECKSIG OP_IFDUP ...`). */
  anchorVout: number;
  anchorWitnessScript: Uint8Array;
  /** Our funding private key (the anchor is locked to our funding_pubkey). */
  fundingPrivkey: Uint8Array;
}

/**
 * Child-pays-for-parent of our commitment (BOLT 3 `to_local_anchor`: witness `<local_sig>`): spends
 * our 330-sat anchor and wallet coins into one wallet change output, with a fee such that parent
 * and child together pay `params.feerateSatPerVbyte`: childFee = feerate × (parentVsize +
 * childVsize) − parentFee, at least 1 sat/vB of the child. nSequence 0xfffffffd (BIP 125: the
 * child is replaced to bump further).
 * @returns the signed child, or null when `params.feeWallet` is missing or cannot pay.
 */
export function buildAnchorCpfp(p: AnchorCpfp, params: SweepBuildParams): Transaction | null {
  if (!params.feeWallet) return null;
  const anchor = p.commitment.outs[p.anchorVout]!;
  const valueSat = Number(anchor.value);
  const parentVsize = p.commitment.virtualSize();
  return fundWithWallet(
    {
      locktime: 0,
      input: { hash: p.commitment.getHash(), index: p.anchorVout, sequence: 0xfffffffd, scriptPubKey: anchor.script, valueSat },
      output: null,
      witness: (unsigned) => {
        const sig = signDigest(unsigned.hashForWitnessV0(0, p.anchorWitnessScript, BigInt(valueSat), SIGHASH_ALL), p.fundingPrivkey);
        return [toWitnessSignature(sig), p.anchorWitnessScript];
      },
      feeSat: (vsize) => Math.max(feeForVsize(parentVsize + vsize, params.feerateSatPerVbyte) - p.commitmentFeeSat, vsize),
    },
    params.feeWallet,
    params.replacedFeeSat,
  );
}

/**
 * The payer of a BIP 125 replacement of a wallet-funded transaction in the mempool (an
 * option_anchors HTLC transaction or anchor CPFP child, built by `fundWithWallet`). The wallet
 * counts the coins that version spends as spent, but a replacement may spend them again (and,
 * rule 2, even unconfirmed ones, since the replaced version spent them): they are added to
 * `wallet.coins()` (deduplicated), so a bump needs no second coin.
 * @param replaced the version in the mempool: input 0 is the HTLC output or anchor (`firstInputValueSat`), the others wallet coins
 * @param walletOutput value and scriptPubKey of one of the wallet's own outputs (Wallet.knownOutput + isMine), null otherwise
 * @returns the fee wallet, and `replacedFeeSat` (the replaced version's absolute fee, for
 *   SweepBuildParams.replacedFeeSat), null when an input's value is unknown
 */
export function replacementFeeWallet(
  wallet: FeeWallet,
  replaced: Transaction,
  firstInputValueSat: number,
  walletOutput: (txid: string, vout: number) => { valueSat: number; scriptPubKey: Uint8Array } | null,
): { feeWallet: FeeWallet; replacedFeeSat: number | null } {
  const reused: FeeCoin[] = [];
  let inputSat: number | null = firstInputValueSat;
  for (const input of replaced.ins.slice(1)) {
    const txid = inputPrevTxid(input);
    const out = walletOutput(txid, input.index);
    if (!out) {
      inputSat = null;
      continue;
    }
    reused.push({ txid, vout: input.index, valueSat: out.valueSat, scriptPubKey: out.scriptPubKey });
    if (inputSat !== null) inputSat += out.valueSat;
  }
  const replacedFeeSat = inputSat === null ? null : inputSat - replaced.outs.reduce((sum, o) => sum + Number(o.value), 0);
  return {
    feeWallet: {
      coins: () => {
        const coins = wallet.coins();
        const listed = new Set(coins.map((c) => `${c.txid}:${c.vout}`));
        return [...coins, ...reused.filter((c) => !listed.has(`${c.txid}:${c.vout}`))];
      },
      changeScript: () => wallet.changeScript(),
      signPsbt: (psbt) => wallet.signPsbt(psbt),
    },
    replacedFeeSat,
  };
}

/** Finds a 32-byte witness item that hashes to `paymentHash` in the input spending `prevout`. */
export function extractPreimage(spender: Transaction, prevout: { txid: string; vout: number }, paymentHash: string): Uint8Array | null {
  for (const input of spender.ins) {
    if (inputPrevTxid(input) !== prevout.txid || input.index !== prevout.vout) continue;
    for (const item of input.witness) {
      if (item.length === 32 && bytesToHex(sha256(item)) === paymentHash) return Uint8Array.from(item);
    }
  }
  return null;
}

// ---------------------------------------------------------------- resolutions of a closing transaction

function resolution(base: Partial<OutputResolution> & Pick<OutputResolution, 'prevout' | 'scriptPubKey' | 'kind' | 'build'>): OutputResolution {
  return { csvDelay: 0, cltvExpiry: 0, paymentHash: null, outgoingHtlcId: null, raceFrom: null, next: null, walletFunded: false, ...base };
}

function prevoutOf(tx: Transaction, vout: number): Prevout {
  return { txid: tx.getId(), vout, valueSat: Number(tx.outs[vout]!.value) };
}

/**
 * The resolution of the output of a second-stage HTLC transaction `spender` that pays the
 * to_local script: the output with the index of the input spending the HTLC output `htlc`
 * (index 0 of a lone HTLC transaction; with option_anchors SIGHASH_SINGLE pairs input i with
 * output i in a batch).
 */
function secondStageOutput(
  spender: Transaction,
  htlc: Prevout,
  witnessScript: Uint8Array,
  kind: 'htlc_tx_output' | 'justice_htlc_tx_output',
  build: (prevout: Prevout) => (params: SweepBuildParams) => Transaction | null,
  csvDelay: number,
  raceFrom: OutputResolution['raceFrom'] = null,
): OutputResolution | null {
  const vout = spender.ins.findIndex((i) => inputPrevTxid(i) === htlc.txid && i.index === htlc.vout);
  const out = vout >= 0 ? spender.outs[vout] : undefined;
  const scriptPubKey = p2wsh(witnessScript);
  if (!out || bytesToHex(out.script) !== bytesToHex(scriptPubKey)) return null;
  const prevout = prevoutOf(spender, vout);
  return resolution({ prevout, scriptPubKey, kind, csvDelay, raceFrom, build: build(prevout) });
}

function ourCommitmentResolutions(view: ChannelView, rebuilt: RebuiltCommitment, tx: Transaction, withHtlcs: boolean): OutputResolution[] {
  const out: OutputResolution[] = [];
  const delay = toSelfDelayOf(view, 'local');
  const delayedPrivkey = derivePrivkey(view.secrets.delayedPaymentBasepointSecret, rebuilt.point);
  const htlcPrivkey = derivePrivkey(view.secrets.htlcBasepointSecret, rebuilt.point);
  const secondStageScript = toLocalScript(rebuilt.keys.revocationPubkey, delay, rebuilt.keys.localDelayedPubkey);
  const sweepSecondStage = (spender: Transaction, htlc: Prevout) =>
    secondStageOutput(spender, htlc, secondStageScript, 'htlc_tx_output', (prevout) => (params) => sweepDelayedOutput({ prevout, witnessScript: secondStageScript, toSelfDelay: delay, delayedPrivkey }, params), delay);
  const anchors = rebuilt.anchors;
  // option_anchors: the HTLC transaction (nSequence 1) waits one block and takes a wallet input for its fee.
  const secondStage = (p: SecondStageHtlc): Pick<OutputResolution, 'build' | 'walletFunded' | 'csvDelay'> =>
    anchors ? { build: (params) => fundAnchorHtlcTx(p, params), walletFunded: true, csvDelay: 1 } : { build: () => signSecondStageHtlcTx(p), walletFunded: false, csvDelay: 0 };
  const preimages = releasedPreimages(view);
  const remoteSigs = view.data.localCommitSig?.htlcSignatures ?? [];
  for (const o of rebuilt.commitment.outputs) {
    const prevout = prevoutOf(tx, o.index);
    const scriptPubKey = tx.outs[o.index]!.script;
    if (o.kind === 'to_local') {
      out.push(resolution({ prevout, scriptPubKey, kind: 'to_local', csvDelay: delay, build: (params) => sweepDelayedOutput({ prevout, witnessScript: o.witnessScript, toSelfDelay: delay, delayedPrivkey }, params) }));
    } else if (o.kind === 'htlc' && withHtlcs) {
      const i = rebuilt.commitment.htlcOutputs.findIndex((h) => h.index === o.index);
      const record = rebuilt.htlcRecords[i]!;
      const remoteSig = remoteSigs[i] ? hexToBytes(remoteSigs[i]!) : null;
      const paymentHash = record.paymentHash;
      if (o.htlc.direction === 'offered') {
        out.push(
          resolution({
            prevout,
            scriptPubKey,
            kind: remoteSig ? 'htlc_timeout_tx' : null,
            cltvExpiry: o.htlc.cltvExpiry,
            paymentHash,
            outgoingHtlcId: record.htlcId,
            build: null,
            ...(remoteSig ? secondStage({ rebuilt, htlcOutput: o, toSelfDelay: delay, remoteHtlcSignature: remoteSig, localHtlcPrivkey: htlcPrivkey, preimage: null }) : {}),
            // The peer may claim it with the preimage at any time.
            raceFrom: anchors ? { csvDelay: 0, cltvExpiry: 0 } : null,
            next: (spender) => sweepSecondStage(spender, prevout),
          }),
        );
      } else {
        const preimage = preimages.get(paymentHash) ?? null;
        const canClaim = remoteSig !== null && preimage !== null;
        out.push(
          resolution({
            prevout,
            scriptPubKey,
            kind: canClaim ? 'htlc_success_tx' : null,
            paymentHash,
            build: null,
            ...(canClaim ? secondStage({ rebuilt, htlcOutput: o, toSelfDelay: delay, remoteHtlcSignature: remoteSig, localHtlcPrivkey: htlcPrivkey, preimage }) : {}),
            // The peer takes it back after cltv_expiry.
            raceFrom: anchors ? { csvDelay: 0, cltvExpiry: o.htlc.cltvExpiry } : null,
            next: (spender) => sweepSecondStage(spender, prevout),
          }),
        );
      }
    }
  }
  return out;
}

function toRemoteResolution(view: ChannelView, tx: Transaction): OutputResolution | null {
  const script = bytesToHex(ourToRemoteScript(view));
  const vout = tx.outs.findIndex((o) => bytesToHex(o.script) === script);
  if (vout < 0) return null;
  const prevout = prevoutOf(tx, vout);
  const paymentBasepointSecret = view.secrets.paymentBasepointSecret;
  if (hasAnchors(view)) {
    return resolution({ prevout, scriptPubKey: tx.outs[vout]!.script, kind: 'to_remote', csvDelay: 1, build: (params) => sweepAnchorToRemote({ prevout, paymentBasepointSecret }, params) });
  }
  return resolution({
    prevout,
    scriptPubKey: tx.outs[vout]!.script,
    kind: 'to_remote',
    build: (params) => sweepStaticToRemote({ prevout, paymentBasepointSecret }, params),
  });
}

function remoteCommitmentResolutions(view: ChannelView, rebuilt: RebuiltCommitment, tx: Transaction): OutputResolution[] {
  const out: OutputResolution[] = [];
  const toRemote = toRemoteResolution(view, tx);
  if (toRemote) out.push(toRemote);
  const htlcPrivkey = derivePrivkey(view.secrets.htlcBasepointSecret, rebuilt.point);
  const preimages = releasedPreimages(view);
  const anchors = rebuilt.anchors;
  // option_anchors: both HTLC claims need the commitment one block deep (`1 OP_CHECKSEQUENCEVERIFY`).
  const csvDelay = anchors ? 1 : 0;
  rebuilt.commitment.htlcOutputs.forEach((o, i) => {
    const record = rebuilt.htlcRecords[i]!;
    const prevout = prevoutOf(tx, o.index);
    const scriptPubKey = tx.outs[o.index]!.script;
    if (o.htlc.direction === 'offered') {
      // The remote offered it to us: ours with the preimage, theirs after cltv_expiry.
      const preimage = preimages.get(record.paymentHash) ?? null;
      out.push(
        resolution({
          prevout,
          scriptPubKey,
          kind: preimage ? 'htlc_claim_preimage' : null,
          paymentHash: record.paymentHash,
          csvDelay,
          raceFrom: { csvDelay: 0, cltvExpiry: o.htlc.cltvExpiry },
          build: preimage ? (params) => claimHtlcWithPreimage({ prevout, witnessScript: o.witnessScript, htlcPrivkey, preimage, anchors }, params) : null,
        }),
      );
    } else {
      // We offered it: ours after cltv_expiry, theirs with the preimage (which we then learn).
      out.push(
        resolution({
          prevout,
          scriptPubKey,
          kind: 'htlc_claim_timeout',
          cltvExpiry: o.htlc.cltvExpiry,
          csvDelay,
          raceFrom: { csvDelay: 0, cltvExpiry: 0 }, // the peer may know the preimage
          paymentHash: record.paymentHash,
          outgoingHtlcId: record.htlcId,
          build: (params) => claimHtlcAfterTimeout({ prevout, witnessScript: o.witnessScript, htlcPrivkey, cltvExpiry: o.htlc.cltvExpiry, anchors }, params),
        }),
      );
    }
  });
  return out;
}

function breachResolutions(view: ChannelView, rebuilt: RebuiltCommitment, tx: Transaction, perCommitmentSecret: Uint8Array): OutputResolution[] {
  const out: OutputResolution[] = [];
  const revocationPrivkey = deriveRevocationPrivkey(view.secrets.revocationBasepointSecret, perCommitmentSecret);
  const theirDelay = toSelfDelayOf(view, 'remote');
  const theirSecondStageScript = toLocalScript(rebuilt.keys.revocationPubkey, theirDelay, rebuilt.keys.localDelayedPubkey);
  const justiceSecondStage = (spender: Transaction, htlc: Prevout) =>
    secondStageOutput(spender, htlc, theirSecondStageScript, 'justice_htlc_tx_output', (prevout) => (params) => sweepRevokedDelayedOutput({ prevout, witnessScript: theirSecondStageScript, revocationPrivkey }, params), 0, {
      csvDelay: theirDelay,
      cltvExpiry: 0,
    });
  const toRemote = toRemoteResolution(view, tx);
  if (toRemote) out.push(toRemote);
  for (const o of rebuilt.commitment.outputs) {
    const prevout = prevoutOf(tx, o.index);
    const scriptPubKey = tx.outs[o.index]!.script;
    if (o.kind === 'to_local') {
      out.push(resolution({ prevout, scriptPubKey, kind: 'justice_to_local', raceFrom: { csvDelay: theirDelay, cltvExpiry: 0 }, build: (params) => sweepRevokedDelayedOutput({ prevout, witnessScript: o.witnessScript, revocationPrivkey }, params) }));
    } else if (o.kind === 'htlc') {
      const record = rebuilt.htlcRecords[rebuilt.commitment.htlcOutputs.findIndex((h) => h.index === o.index)]!;
      out.push(
        resolution({
          prevout,
          scriptPubKey,
          kind: 'justice_htlc',
          paymentHash: record.paymentHash,
          // Offered by them: their HTLC-timeout after cltv_expiry; offered by us: their HTLC-success at any time.
          raceFrom: { csvDelay: 0, cltvExpiry: o.htlc.direction === 'offered' ? o.htlc.cltvExpiry : 0 },
          build: (params) => sweepRevokedHtlcOutput({ prevout, witnessScript: o.witnessScript, revocationPrivkey }, params),
          next: (spender) => justiceSecondStage(spender, prevout),
        }),
      );
    }
  }
  return out;
}

/**
 * BOLT 5: the outputs of the funding-spending transaction `tx` we must resolve, given how it was
 * classified. A mutual close needs nothing (our output pays our wallet).
 */
export function resolutionsFor(view: ChannelView, spend: FundingSpend, tx: Transaction): OutputResolution[] {
  switch (spend.kind) {
    case 'mutual':
      return [];
    case 'local':
      return ourCommitmentResolutions(view, spend.rebuilt, tx, true);
    case 'local_revoked':
      // The peer may punish it; our to_local is still ours if it does not (no HTLC signatures kept).
      return ourCommitmentResolutions(view, spend.rebuilt, tx, false);
    case 'remote':
      return remoteCommitmentResolutions(view, spend.rebuilt, tx);
    case 'breach':
      return breachResolutions(view, spend.rebuilt, tx, spend.perCommitmentSecret);
    case 'remote_unknown': {
      const toRemote = toRemoteResolution(view, tx);
      return toRemote ? [toRemote] : [];
    }
  }
}
