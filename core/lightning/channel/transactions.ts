import { Transaction, script as bscript, opcodes, crypto as bcrypto } from 'bitcoinjs-lib';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes } from '@noble/hashes/utils.js';
import { FulmenError } from '../../util/errors.js';
import { signDigest, verifyDigest } from './keys.js';

/**
 * BOLT 3 transactions for the two channel types Fulmen opens: option_static_remotekey, and
 * option_anchors (option_anchors_zero_fee_htlc_tx, which implies static_remotekey): funding
 * output, commitment transaction, HTLC-timeout / HTLC-success transactions, legacy closing
 * transaction, their fees and signatures. `anchors: true` selects the option_anchors variant of
 * each formula. Amounts: on-chain `number` sat, Lightning `bigint` msat.
 */

export const SIGHASH_ALL = 0x01;
/**
 * BOLT 3 "HTLC-Timeout and HTLC-Success Transactions" / BOLT 5: with option_anchors the remote's
 * signature on our second-stage HTLC transaction commits to its own input and output only, so we
 * may add inputs and outputs to pay its fee.
 */
export const SIGHASH_SINGLE_ANYONECANPAY = 0x83;
/** BOLT 3 "Fee Calculation", no option_anchors. */
export const COMMITMENT_BASE_WEIGHT = 724;
/** BOLT 3 "Fee Calculation", option_anchors (two 330-sat anchor outputs, P2WSH to_remote). */
export const ANCHOR_COMMITMENT_BASE_WEIGHT = 1124;
export const HTLC_OUTPUT_WEIGHT = 172;
export const HTLC_TIMEOUT_WEIGHT = 663;
export const HTLC_SUCCESS_WEIGHT = 703;
/** Option_anchors HTLC transaction weights (BOLT 3 Appendix A); their fee is 0 (paid by added inputs). */
export const ANCHOR_HTLC_TIMEOUT_WEIGHT = 666;
export const ANCHOR_HTLC_SUCCESS_WEIGHT = 706;
/** BOLT 3: value of each of `to_local_anchor` / `to_remote_anchor`. */
export const ANCHOR_OUTPUT_SAT = 330;

/** Lexicographic byte comparison (memcmp, shorter first on a common prefix). */
export function compareBytes(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i]! - b[i]!;
  return a.length - b.length;
}

/** P2WSH scriptPubKey `OP_0 <sha256(witnessScript)>`. */
export function p2wsh(witnessScript: Uint8Array): Uint8Array {
  return bscript.compile([opcodes.OP_0, sha256(witnessScript)]);
}

/** P2WPKH scriptPubKey `OP_0 <hash160(pubkey)>`. */
export function p2wpkh(pubkey: Uint8Array): Uint8Array {
  return bscript.compile([opcodes.OP_0, bcrypto.hash160(pubkey)]);
}

/** BOLT 3 funding output witness script: `2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG`, keys sorted. */
export function fundingScript(fundingPubkeyA: Uint8Array, fundingPubkeyB: Uint8Array): Uint8Array {
  const [k1, k2] = compareBytes(fundingPubkeyA, fundingPubkeyB) < 0 ? [fundingPubkeyA, fundingPubkeyB] : [fundingPubkeyB, fundingPubkeyA];
  return bscript.compile([opcodes.OP_2, k1, k2, opcodes.OP_2, opcodes.OP_CHECKMULTISIG]);
}

/** BOLT 3 `to_local` (and HTLC transaction output) witness script. */
export function toLocalScript(revocationPubkey: Uint8Array, toSelfDelay: number, localDelayedPubkey: Uint8Array): Uint8Array {
  return bscript.compile([
    opcodes.OP_IF,
    revocationPubkey,
    opcodes.OP_ELSE,
    bscript.number.encode(toSelfDelay),
    opcodes.OP_CHECKSEQUENCEVERIFY,
    opcodes.OP_DROP,
    localDelayedPubkey,
    opcodes.OP_ENDIF,
    opcodes.OP_CHECKSIG,
  ]);
}

/**
 * BOLT 3 `to_remote` with option_anchors: `<remotepubkey> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY`
 * (a P2WSH spent with nSequence 1 and witness `<remote_sig>`).
 */
export function anchorToRemoteScript(remotePubkey: Uint8Array): Uint8Array {
  return bscript.compile([remotePubkey, opcodes.OP_CHECKSIGVERIFY, opcodes.OP_1, opcodes.OP_CHECKSEQUENCEVERIFY]);
}

/**
 * BOLT 3 `to_local_anchor` / `to_remote_anchor`:
 * `<funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF`.
 */
export function anchorScript(fundingPubkey: Uint8Array): Uint8Array {
  return bscript.compile([
    fundingPubkey, opcodes.OP_CHECKSIG, opcodes.OP_IFDUP,
    opcodes.OP_NOTIF,
    opcodes.OP_16, opcodes.OP_CHECKSEQUENCEVERIFY,
    opcodes.OP_ENDIF,
  ]);
}

/** BOLT 3 offered HTLC output witness script; with option_anchors the non-revocation branch adds `1 OP_CHECKSEQUENCEVERIFY OP_DROP`. */
export function offeredHtlcScript(
  revocationPubkey: Uint8Array,
  localHtlcPubkey: Uint8Array,
  remoteHtlcPubkey: Uint8Array,
  paymentHash: Uint8Array,
  anchors: boolean,
): Uint8Array {
  return bscript.compile([
    opcodes.OP_DUP, opcodes.OP_HASH160, bcrypto.hash160(revocationPubkey), opcodes.OP_EQUAL,
    opcodes.OP_IF,
    opcodes.OP_CHECKSIG,
    opcodes.OP_ELSE,
    remoteHtlcPubkey, opcodes.OP_SWAP, opcodes.OP_SIZE, bscript.number.encode(32), opcodes.OP_EQUAL,
    opcodes.OP_NOTIF,
    opcodes.OP_DROP, opcodes.OP_2, opcodes.OP_SWAP, localHtlcPubkey, opcodes.OP_2, opcodes.OP_CHECKMULTISIG,
    opcodes.OP_ELSE,
    opcodes.OP_HASH160, bcrypto.ripemd160(paymentHash), opcodes.OP_EQUALVERIFY,
    opcodes.OP_CHECKSIG,
    opcodes.OP_ENDIF,
    ...anchorCsv(anchors),
    opcodes.OP_ENDIF,
  ]);
}

/** `1 OP_CHECKSEQUENCEVERIFY OP_DROP`, the option_anchors addition to both HTLC scripts. */
function anchorCsv(anchors: boolean): number[] {
  return anchors ? [opcodes.OP_1, opcodes.OP_CHECKSEQUENCEVERIFY, opcodes.OP_DROP] : [];
}

/** BOLT 3 received HTLC output witness script; with option_anchors the non-revocation branch adds `1 OP_CHECKSEQUENCEVERIFY OP_DROP`. */
export function receivedHtlcScript(
  revocationPubkey: Uint8Array,
  localHtlcPubkey: Uint8Array,
  remoteHtlcPubkey: Uint8Array,
  paymentHash: Uint8Array,
  cltvExpiry: number,
  anchors: boolean,
): Uint8Array {
  return bscript.compile([
    opcodes.OP_DUP, opcodes.OP_HASH160, bcrypto.hash160(revocationPubkey), opcodes.OP_EQUAL,
    opcodes.OP_IF,
    opcodes.OP_CHECKSIG,
    opcodes.OP_ELSE,
    remoteHtlcPubkey, opcodes.OP_SWAP, opcodes.OP_SIZE, bscript.number.encode(32), opcodes.OP_EQUAL,
    opcodes.OP_IF,
    opcodes.OP_HASH160, bcrypto.ripemd160(paymentHash), opcodes.OP_EQUALVERIFY,
    opcodes.OP_2, opcodes.OP_SWAP, localHtlcPubkey, opcodes.OP_2, opcodes.OP_CHECKMULTISIG,
    opcodes.OP_ELSE,
    opcodes.OP_DROP, bscript.number.encode(cltvExpiry), opcodes.OP_CHECKLOCKTIMEVERIFY, opcodes.OP_DROP,
    opcodes.OP_CHECKSIG,
    opcodes.OP_ENDIF,
    ...anchorCsv(anchors),
    opcodes.OP_ENDIF,
  ]);
}

/** HTLC-timeout fee in sat: floor(feerate_per_kw * 663 / 1000); 0 with option_anchors (BOLT 3 Fee Calculation). */
export function htlcTimeoutFeeSat(feerateSatPerKw: number, anchors: boolean): number {
  return anchors ? 0 : Math.floor((feerateSatPerKw * HTLC_TIMEOUT_WEIGHT) / 1000);
}

/** HTLC-success fee in sat: floor(feerate_per_kw * 703 / 1000); 0 with option_anchors (BOLT 3 Fee Calculation). */
export function htlcSuccessFeeSat(feerateSatPerKw: number, anchors: boolean): number {
  return anchors ? 0 : Math.floor((feerateSatPerKw * HTLC_SUCCESS_WEIGHT) / 1000);
}

/** Expected commitment weight: 724 (1124 with option_anchors) + 172 * untrimmed HTLC outputs. */
export function commitmentWeight(untrimmedHtlcCount: number, anchors: boolean): number {
  return (anchors ? ANCHOR_COMMITMENT_BASE_WEIGHT : COMMITMENT_BASE_WEIGHT) + HTLC_OUTPUT_WEIGHT * untrimmedHtlcCount;
}

/** Base commitment fee in sat: floor(feerate_per_kw * commitmentWeight / 1000). Excludes the anchors' 2 × 330 sat. */
export function commitmentFeeSat(feerateSatPerKw: number, untrimmedHtlcCount: number, anchors: boolean): number {
  return Math.floor((feerateSatPerKw * commitmentWeight(untrimmedHtlcCount, anchors)) / 1000);
}

/**
 * What the funder pays for a commitment in msat, before BOLT 3's rounding down to whole sat:
 * feerate_per_kw * commitmentWeight (sat/kw × weight / 1000 = sat, so × 1000 / 1000 = msat),
 * plus 2 × 330 sat of anchor outputs with option_anchors (BOLT 3 "Fee Payment"). For spending
 * limits, where a peer may compare against the unrounded fee.
 */
export function commitmentFeeMsat(feerateSatPerKw: number, untrimmedHtlcCount: number, anchors: boolean): bigint {
  const anchorsMsat = anchors ? BigInt(2 * ANCHOR_OUTPUT_SAT) * 1000n : 0n;
  return BigInt(feerateSatPerKw) * BigInt(commitmentWeight(untrimmedHtlcCount, anchors)) + anchorsMsat;
}

/**
 * BOLT 3: the lower 48 bits of SHA256(opener payment_basepoint || accepter payment_basepoint).
 */
export function commitmentObscuringFactor(openerPaymentBasepoint: Uint8Array, accepterPaymentBasepoint: Uint8Array): bigint {
  const h = sha256(concatBytes(openerPaymentBasepoint, accepterPaymentBasepoint));
  let v = 0n;
  for (let i = 26; i < 32; i++) v = (v << 8n) | BigInt(h[i]!);
  return v;
}

/** Recovers the commitment number from a commitment transaction's locktime and input sequence. */
export function decodeCommitmentNumber(locktime: number, sequence: number, obscuringFactor: bigint): bigint {
  const obscured = (BigInt(sequence & 0xffffff) << 24n) | BigInt(locktime & 0xffffff);
  return obscured ^ obscuringFactor;
}

/** One HTLC as seen from the owner of a commitment transaction. */
export interface CommitmentHtlc {
  /** 'offered': the owner offered it (HTLC-timeout path); 'received': the owner may claim it. */
  direction: 'offered' | 'received';
  htlcId: bigint;
  amountMsat: bigint;
  paymentHash: Uint8Array;
  cltvExpiry: number;
}

/** Keys of one commitment transaction, already derived for its per_commitment_point (BOLT 3 Keys). */
export interface CommitmentKeys {
  revocationPubkey: Uint8Array;
  localDelayedPubkey: Uint8Array;
  localHtlcPubkey: Uint8Array;
  remoteHtlcPubkey: Uint8Array;
  /** option_static_remotekey: the remote's payment_basepoint. */
  remotePaymentPubkey: Uint8Array;
  /** funding_pubkey of the commitment's owner (its to_local_anchor; option_anchors only). */
  localFundingPubkey: Uint8Array;
  /** funding_pubkey of the other side (its to_remote_anchor; option_anchors only). */
  remoteFundingPubkey: Uint8Array;
}

export interface CommitmentParams {
  fundingTxid: string;
  fundingOutputIndex: number;
  fundingSat: number;
  /** Commitment number (ctn) of this transaction. */
  commitmentNumber: bigint;
  obscuringFactor: bigint;
  /** True when the owner of this commitment is the channel funder (pays the fee). */
  ownerIsFunder: boolean;
  toLocalMsat: bigint;
  toRemoteMsat: bigint;
  feerateSatPerKw: number;
  /** dust_limit_satoshis of the owner of this commitment. */
  dustLimitSat: number;
  /** to_self_delay that applies to the owner's outputs (set by the other side). */
  toSelfDelay: number;
  keys: CommitmentKeys;
  htlcs: CommitmentHtlc[];
  /** option_anchors_zero_fee_htlc_tx applies to this channel. */
  anchors: boolean;
}

export type CommitmentOutput =
  | { kind: 'to_local'; index: number; amountSat: number; witnessScript: Uint8Array }
  /** `witnessScript`: P2WSH script with option_anchors; null for the P2WPKH of static_remotekey. */
  | { kind: 'to_remote'; index: number; amountSat: number; witnessScript: Uint8Array | null }
  | { kind: 'htlc'; index: number; amountSat: number; witnessScript: Uint8Array; htlc: CommitmentHtlc }
  /** option_anchors: `to_local_anchor` (owner 'local') or `to_remote_anchor` (owner 'remote'). */
  | { kind: 'anchor'; owner: 'local' | 'remote'; index: number; amountSat: number; witnessScript: Uint8Array };

export interface CommitmentTx {
  tx: Transaction;
  /** Outputs in transaction order. */
  outputs: CommitmentOutput[];
  /** Untrimmed HTLC outputs in transaction order (the order of htlc_signatures). */
  htlcOutputs: Extract<CommitmentOutput, { kind: 'htlc' }>[];
  feeSat: number;
}

/**
 * True when the HTLC is trimmed from a commitment whose owner has `dustLimitSat` (BOLT 3 Trimmed
 * Outputs): amount minus its second-stage fee (0 with option_anchors) below the dust limit.
 */
export function isHtlcTrimmed(
  htlc: Pick<CommitmentHtlc, 'direction' | 'amountMsat'>,
  feerateSatPerKw: number,
  dustLimitSat: number,
  anchors: boolean,
): boolean {
  const fee = htlc.direction === 'offered' ? htlcTimeoutFeeSat(feerateSatPerKw, anchors) : htlcSuccessFeeSat(feerateSatPerKw, anchors);
  return Number(htlc.amountMsat / 1000n) - fee < dustLimitSat;
}

/**
 * BOLT 3 "Commitment Transaction Construction": trims dust HTLCs, subtracts the base fee (and with
 * option_anchors 2 × 330 sat of anchors) from the funder, omits outputs below the owner's dust
 * limit, adds the anchors (option_anchors: `to_local_anchor` if to_local exists or an HTLC is
 * untrimmed, likewise `to_remote_anchor`), sorts outputs BIP 69 + cltv_expiry.
 */
export function buildCommitmentTx(p: CommitmentParams): CommitmentTx {
  const untrimmed = p.htlcs.filter((h) => !isHtlcTrimmed(h, p.feerateSatPerKw, p.dustLimitSat, p.anchors));
  const funderPays = commitmentFeeSat(p.feerateSatPerKw, untrimmed.length, p.anchors) + (p.anchors ? 2 * ANCHOR_OUTPUT_SAT : 0);
  let toLocalSat = Number(p.toLocalMsat / 1000n);
  let toRemoteSat = Number(p.toRemoteMsat / 1000n);
  if (p.ownerIsFunder) toLocalSat -= funderPays;
  else toRemoteSat -= funderPays;

  type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;
  type Pending = { out: DistributiveOmit<CommitmentOutput, 'index'>; script: Uint8Array; cltv: number };
  const pending: Pending[] = [];
  for (const htlc of untrimmed) {
    const witnessScript =
      htlc.direction === 'offered'
        ? offeredHtlcScript(p.keys.revocationPubkey, p.keys.localHtlcPubkey, p.keys.remoteHtlcPubkey, htlc.paymentHash, p.anchors)
        : receivedHtlcScript(p.keys.revocationPubkey, p.keys.localHtlcPubkey, p.keys.remoteHtlcPubkey, htlc.paymentHash, htlc.cltvExpiry, p.anchors);
    pending.push({
      out: { kind: 'htlc', amountSat: Number(htlc.amountMsat / 1000n), witnessScript, htlc },
      script: p2wsh(witnessScript),
      cltv: htlc.cltvExpiry,
    });
  }
  const hasToLocal = toLocalSat >= p.dustLimitSat;
  const hasToRemote = toRemoteSat >= p.dustLimitSat;
  if (hasToLocal) {
    const witnessScript = toLocalScript(p.keys.revocationPubkey, p.toSelfDelay, p.keys.localDelayedPubkey);
    pending.push({ out: { kind: 'to_local', amountSat: toLocalSat, witnessScript }, script: p2wsh(witnessScript), cltv: 0 });
  }
  if (hasToRemote) {
    if (p.anchors) {
      const witnessScript = anchorToRemoteScript(p.keys.remotePaymentPubkey);
      pending.push({ out: { kind: 'to_remote', amountSat: toRemoteSat, witnessScript }, script: p2wsh(witnessScript), cltv: 0 });
    } else {
      pending.push({ out: { kind: 'to_remote', amountSat: toRemoteSat, witnessScript: null }, script: p2wpkh(p.keys.remotePaymentPubkey), cltv: 0 });
    }
  }
  if (p.anchors) {
    const anchorOwners: ('local' | 'remote')[] = [];
    if (hasToLocal || untrimmed.length > 0) anchorOwners.push('local');
    if (hasToRemote || untrimmed.length > 0) anchorOwners.push('remote');
    for (const owner of anchorOwners) {
      const witnessScript = anchorScript(owner === 'local' ? p.keys.localFundingPubkey : p.keys.remoteFundingPubkey);
      pending.push({ out: { kind: 'anchor', owner, amountSat: ANCHOR_OUTPUT_SAT, witnessScript }, script: p2wsh(witnessScript), cltv: 0 });
    }
  }
  pending.sort((a, b) => a.out.amountSat - b.out.amountSat || compareBytes(a.script, b.script) || a.cltv - b.cltv);

  const obscured = p.commitmentNumber ^ p.obscuringFactor;
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = Number(0x20000000n | (obscured & 0xffffffn));
  tx.addInput(txidToHash(p.fundingTxid), p.fundingOutputIndex, Number(0x80000000n | ((obscured >> 24n) & 0xffffffn)));
  const outputs: CommitmentOutput[] = pending.map((q, index) => {
    tx.addOutput(q.script, BigInt(q.out.amountSat));
    return { ...q.out, index } as CommitmentOutput;
  });
  const outSum = outputs.reduce((s, o) => s + o.amountSat, 0);
  return {
    tx,
    outputs,
    htlcOutputs: outputs.filter((o): o is Extract<CommitmentOutput, { kind: 'htlc' }> => o.kind === 'htlc'),
    feeSat: p.fundingSat - outSum,
  };
}

/** Display-order txid hex → the internal byte order used in outpoints. */
export function txidToHash(txid: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/i.test(txid)) throw new FulmenError('INTERNAL', 'Invalid txid');
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++) out[31 - i] = parseInt(txid.slice(i * 2, i * 2 + 2), 16);
  return out;
}

/**
 * BOLT 3 HTLC-timeout (offered, locktime cltv_expiry) or HTLC-success (received, locktime 0)
 * transaction spending `htlcOutput` of the commitment `commitmentTxid`. Its single output pays
 * P2WSH(to_local script) with the owner's revocationpubkey and local_delayedpubkey. With
 * option_anchors: input sequence 1 and no fee (the output keeps the whole HTLC amount).
 */
export function buildHtlcTx(
  commitmentTxid: string,
  htlcOutput: Extract<CommitmentOutput, { kind: 'htlc' }>,
  feerateSatPerKw: number,
  toSelfDelay: number,
  revocationPubkey: Uint8Array,
  localDelayedPubkey: Uint8Array,
  anchors: boolean,
): Transaction {
  const offered = htlcOutput.htlc.direction === 'offered';
  const fee = offered ? htlcTimeoutFeeSat(feerateSatPerKw, anchors) : htlcSuccessFeeSat(feerateSatPerKw, anchors);
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = offered ? htlcOutput.htlc.cltvExpiry : 0;
  tx.addInput(txidToHash(commitmentTxid), htlcOutput.index, anchors ? 1 : 0);
  tx.addOutput(p2wsh(toLocalScript(revocationPubkey, toSelfDelay, localDelayedPubkey)), BigInt(htlcOutput.amountSat - fee));
  return tx;
}

/**
 * BIP 143 digest of input `inputIndex` spending a P2WSH of `witnessScript` worth `valueSat`, with
 * `hashType` (SIGHASH_ALL unless told).
 */
export function witnessSighash(tx: Transaction, inputIndex: number, witnessScript: Uint8Array, valueSat: number, hashType = SIGHASH_ALL): Uint8Array {
  return tx.hashForWitnessV0(inputIndex, witnessScript, BigInt(valueSat), hashType);
}

/** Signs input `inputIndex` (P2WSH, `hashType`, SIGHASH_ALL unless told); returns the 64-byte compact signature. */
export function signInput(
  tx: Transaction,
  inputIndex: number,
  witnessScript: Uint8Array,
  valueSat: number,
  privkey: Uint8Array,
  hashType = SIGHASH_ALL,
): Uint8Array {
  return signDigest(witnessSighash(tx, inputIndex, witnessScript, valueSat, hashType), privkey);
}

/** Verifies a 64-byte compact signature on input `inputIndex` (P2WSH, `hashType`, SIGHASH_ALL unless told). */
export function verifyInputSignature(
  tx: Transaction,
  inputIndex: number,
  witnessScript: Uint8Array,
  valueSat: number,
  signature: Uint8Array,
  pubkey: Uint8Array,
  hashType = SIGHASH_ALL,
): boolean {
  return verifyDigest(signature, witnessSighash(tx, inputIndex, witnessScript, valueSat, hashType), pubkey);
}

/**
 * Sighash type of the remote's `htlc_signature` on our HTLC transactions (BOLT 3, BOLT 5):
 * SIGHASH_SINGLE|SIGHASH_ANYONECANPAY with option_anchors, SIGHASH_ALL otherwise. Our own
 * signature on them is always SIGHASH_ALL.
 */
export function remoteHtlcSighashType(anchors: boolean): number {
  return anchors ? SIGHASH_SINGLE_ANYONECANPAY : SIGHASH_ALL;
}

/** Compact 64-byte signature → DER + sighash byte (SIGHASH_ALL unless told), as it appears in a witness. */
export function toWitnessSignature(compact: Uint8Array, hashType = SIGHASH_ALL): Uint8Array {
  return bscript.signature.encode(compact, hashType);
}

/**
 * Sets the 2-of-2 witness `0 <sig_for_pubkey1> <sig_for_pubkey2> <script>` on input 0 of a
 * commitment or closing transaction.
 */
export function setFundingWitness(
  tx: Transaction,
  localFundingPubkey: Uint8Array,
  remoteFundingPubkey: Uint8Array,
  localSig: Uint8Array,
  remoteSig: Uint8Array,
): void {
  const localFirst = compareBytes(localFundingPubkey, remoteFundingPubkey) < 0;
  const [s1, s2] = localFirst ? [localSig, remoteSig] : [remoteSig, localSig];
  tx.setWitness(0, [new Uint8Array(0), toWitnessSignature(s1), toWitnessSignature(s2), fundingScript(localFundingPubkey, remoteFundingPubkey)]);
}

/**
 * Sets the HTLC transaction witness on input 0: `0 <remotehtlcsig> <localhtlcsig> <payment_preimage>`
 * for HTLC-success, `0 <remotehtlcsig> <localhtlcsig> <>` for HTLC-timeout (preimage null). The
 * remote signature carries SIGHASH_SINGLE|SIGHASH_ANYONECANPAY with option_anchors.
 */
export function setHtlcWitness(
  tx: Transaction,
  remoteSig: Uint8Array,
  localSig: Uint8Array,
  preimage: Uint8Array | null,
  witnessScript: Uint8Array,
  anchors: boolean,
): void {
  tx.setWitness(0, [
    new Uint8Array(0),
    toWitnessSignature(remoteSig, remoteHtlcSighashType(anchors)),
    toWitnessSignature(localSig),
    preimage ?? new Uint8Array(0),
    witnessScript,
  ]);
}

/**
 * BOLT 3 legacy closing transaction (closing_signed): version 2, locktime 0, sequence 0xFFFFFFFF,
 * outputs below `dustLimitSat` removed, BIP 69 order. Amounts are whole sat after the funder's
 * `feeSat` was subtracted by the caller.
 */
export function buildClosingTx(
  fundingTxid: string,
  fundingOutputIndex: number,
  outputs: { scriptPubKey: Uint8Array; amountSat: number }[],
  dustLimitSat: number,
): Transaction {
  const kept = outputs.filter((o) => o.amountSat >= dustLimitSat);
  kept.sort((a, b) => a.amountSat - b.amountSat || compareBytes(a.scriptPubKey, b.scriptPubKey));
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = 0;
  tx.addInput(txidToHash(fundingTxid), fundingOutputIndex, 0xffffffff);
  for (const o of kept) tx.addOutput(o.scriptPubKey, BigInt(o.amountSat));
  return tx;
}

/** Weight of a closing transaction once both 73-byte signatures are in (for fee proposals). */
export function closingTxWeight(outputScripts: Uint8Array[]): number {
  // version 4, marker+flag 2 (witness), in count 1, outpoint 36, script len 1, sequence 4,
  // out count 1, each output 8 + 1 + len, locktime 4; witness: count 1, 0-len 1,
  // 2 x (1 + 73), script len 1 + 71.
  const base = 4 + 1 + 36 + 1 + 4 + 1 + outputScripts.reduce((s, o) => s + 9 + o.length, 0) + 4;
  const witness = 2 + 1 + 1 + 2 * 74 + 1 + 71;
  return base * 4 + witness;
}
