import { Transaction, script as bscript, opcodes, type TxOutput } from 'bitcoinjs-lib';
import { ripemd160 } from '@noble/hashes/legacy.js';
import { concatBytes } from '@noble/hashes/utils.js';
import { fromDisplayHex, sha256, sha256d, toDisplayHex } from '../../chain/bytes.js';
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

/** RIPEMD160(SHA256(data)), 20 bytes. */
function hash160(data: Uint8Array): Uint8Array {
  return ripemd160(sha256(data));
}

/**
 * Serializes script chunks (opcodes as numbers, data pushes as bytes) byte for byte as bitcoinjs
 * `script.compile` does, with BIP62 minimal pushes (empty → OP_0, one byte 1..16 → OP_1..OP_16,
 * 0x81 → OP_1NEGATE, else a direct push or OP_PUSHDATA1/2/4), without its per-call schema
 * validation (every chunk here comes from our own typed values).
 */
function compileScript(chunks: readonly (number | Uint8Array)[]): Uint8Array {
  let size = 0;
  for (const c of chunks) size += typeof c === 'number' || minimalPushOp(c) !== null ? 1 : pushPrefixSize(c.length) + c.length;
  const out = new Uint8Array(size);
  let o = 0;
  for (const c of chunks) {
    if (typeof c === 'number') {
      out[o++] = c;
      continue;
    }
    const op = minimalPushOp(c);
    if (op !== null) {
      out[o++] = op;
      continue;
    }
    const n = c.length;
    const prefix = pushPrefixSize(n);
    if (prefix === 1) out[o] = n;
    else {
      // OP_PUSHDATA1/2/4 followed by the length, little-endian.
      out[o] = prefix === 2 ? opcodes.OP_PUSHDATA1 : prefix === 3 ? opcodes.OP_PUSHDATA2 : opcodes.OP_PUSHDATA4;
      for (let i = 1; i < prefix; i++) out[o + i] = (n >>> (8 * (i - 1))) & 0xff;
    }
    out.set(c, o + prefix);
    o += prefix + n;
  }
  return out;
}

/** Bytes before the data of an `n`-byte push: 1 (direct), 2 (OP_PUSHDATA1), 3 (OP_PUSHDATA2) or 5 (OP_PUSHDATA4). */
function pushPrefixSize(n: number): number {
  return n < opcodes.OP_PUSHDATA1 ? 1 : n <= 0xff ? 2 : n <= 0xffff ? 3 : 5;
}

/** The single opcode that pushes `data` under BIP62 minimal push rules, or null. */
function minimalPushOp(data: Uint8Array): number | null {
  if (data.length === 0) return opcodes.OP_0;
  if (data.length !== 1) return null;
  const b = data[0]!;
  if (b >= 1 && b <= 16) return opcodes.OP_1 + b - 1;
  return b === 0x81 ? opcodes.OP_1NEGATE : null;
}

/**
 * Minimal CScriptNum encoding (little-endian, 0x00 appended when the top bit is set) of a
 * non-negative integer below 2^32 (a to_self_delay or cltv_expiry); same bytes as bitcoinjs
 * `script.number.encode`. @throws FulmenError INTERNAL out of that range.
 */
function scriptNum(n: number): Uint8Array {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new FulmenError('INTERNAL', 'Script number out of range');
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.push(v % 256);
  if (bytes.length > 0 && bytes[bytes.length - 1]! & 0x80) bytes.push(0);
  return Uint8Array.from(bytes);
}

/** P2WSH scriptPubKey `OP_0 <sha256(witnessScript)>`. */
export function p2wsh(witnessScript: Uint8Array): Uint8Array {
  const out = new Uint8Array(34);
  out[1] = 32;
  out.set(sha256(witnessScript), 2);
  return out;
}

/** P2WPKH scriptPubKey `OP_0 <hash160(pubkey)>`. */
export function p2wpkh(pubkey: Uint8Array): Uint8Array {
  const out = new Uint8Array(22);
  out[1] = 20;
  out.set(hash160(pubkey), 2);
  return out;
}

/** BOLT 3 funding output witness script: `2 <pubkey1> <pubkey2> 2 OP_CHECKMULTISIG`, keys sorted. */
export function fundingScript(fundingPubkeyA: Uint8Array, fundingPubkeyB: Uint8Array): Uint8Array {
  const [k1, k2] = compareBytes(fundingPubkeyA, fundingPubkeyB) < 0 ? [fundingPubkeyA, fundingPubkeyB] : [fundingPubkeyB, fundingPubkeyA];
  return compileScript([opcodes.OP_2, k1, k2, opcodes.OP_2, opcodes.OP_CHECKMULTISIG]);
}

/** BOLT 3 `to_local` (and HTLC transaction output) witness script. */
export function toLocalScript(revocationPubkey: Uint8Array, toSelfDelay: number, localDelayedPubkey: Uint8Array): Uint8Array {
  return compileScript([
    opcodes.OP_IF,
    revocationPubkey,
    opcodes.OP_ELSE,
    scriptNum(toSelfDelay),
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
  return compileScript([remotePubkey, opcodes.OP_CHECKSIGVERIFY, opcodes.OP_1, opcodes.OP_CHECKSEQUENCEVERIFY]);
}

/**
 * BOLT 3 `to_local_anchor` / `to_remote_anchor`:
 * `<funding_pubkey> OP_CHECKSIG OP_IFDUP OP_NOTIF OP_16 OP_CHECKSEQUENCEVERIFY OP_ENDIF`.
 */
export function anchorScript(fundingPubkey: Uint8Array): Uint8Array {
  return compileScript([
    fundingPubkey, opcodes.OP_CHECKSIG, opcodes.OP_IFDUP,
    opcodes.OP_NOTIF,
    opcodes.OP_16, opcodes.OP_CHECKSEQUENCEVERIFY,
    opcodes.OP_ENDIF,
  ]);
}

/**
 * BOLT 3 offered HTLC output witness script, given RIPEMD160(SHA256(revocationpubkey)) (which all
 * HTLCs of one commitment share); with option_anchors the non-revocation branch adds
 * `1 OP_CHECKSEQUENCEVERIFY OP_DROP`.
 */
function offeredHtlcScript(
  revocationHash: Uint8Array,
  localHtlcPubkey: Uint8Array,
  remoteHtlcPubkey: Uint8Array,
  paymentHash: Uint8Array,
  anchors: boolean,
): Uint8Array {
  return compileScript([
    ...htlcScriptHead(revocationHash, remoteHtlcPubkey),
    opcodes.OP_NOTIF,
    opcodes.OP_DROP, opcodes.OP_2, opcodes.OP_SWAP, localHtlcPubkey, opcodes.OP_2, opcodes.OP_CHECKMULTISIG,
    opcodes.OP_ELSE,
    opcodes.OP_HASH160, ripemd160(paymentHash), opcodes.OP_EQUALVERIFY,
    opcodes.OP_CHECKSIG,
    opcodes.OP_ENDIF,
    ...anchorCsv(anchors),
    opcodes.OP_ENDIF,
  ]);
}

/** The script number 32 (the preimage size both HTLC scripts check). */
const SCRIPT_NUM_32 = Uint8Array.of(32);

/**
 * The start both BOLT 3 HTLC scripts share: the revocation branch, then the check of the
 * witness element's size against 32 (preimage or not) that picks the next branch.
 */
function htlcScriptHead(revocationHash: Uint8Array, remoteHtlcPubkey: Uint8Array): (number | Uint8Array)[] {
  return [
    opcodes.OP_DUP, opcodes.OP_HASH160, revocationHash, opcodes.OP_EQUAL,
    opcodes.OP_IF,
    opcodes.OP_CHECKSIG,
    opcodes.OP_ELSE,
    remoteHtlcPubkey, opcodes.OP_SWAP, opcodes.OP_SIZE, SCRIPT_NUM_32, opcodes.OP_EQUAL,
  ];
}

/** `1 OP_CHECKSEQUENCEVERIFY OP_DROP`, the option_anchors addition to both HTLC scripts. */
function anchorCsv(anchors: boolean): number[] {
  return anchors ? [opcodes.OP_1, opcodes.OP_CHECKSEQUENCEVERIFY, opcodes.OP_DROP] : [];
}

/**
 * BOLT 3 received HTLC output witness script, given RIPEMD160(SHA256(revocationpubkey)); with
 * option_anchors the non-revocation branch adds `1 OP_CHECKSEQUENCEVERIFY OP_DROP`.
 */
function receivedHtlcScript(
  revocationHash: Uint8Array,
  localHtlcPubkey: Uint8Array,
  remoteHtlcPubkey: Uint8Array,
  paymentHash: Uint8Array,
  cltvExpiry: number,
  anchors: boolean,
): Uint8Array {
  return compileScript([
    ...htlcScriptHead(revocationHash, remoteHtlcPubkey),
    opcodes.OP_IF,
    opcodes.OP_HASH160, ripemd160(paymentHash), opcodes.OP_EQUALVERIFY,
    opcodes.OP_2, opcodes.OP_SWAP, localHtlcPubkey, opcodes.OP_2, opcodes.OP_CHECKMULTISIG,
    opcodes.OP_ELSE,
    opcodes.OP_DROP, scriptNum(cltvExpiry), opcodes.OP_CHECKLOCKTIMEVERIFY, opcodes.OP_DROP,
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
  const revocationHash = untrimmed.length > 0 ? hash160(p.keys.revocationPubkey) : null;
  for (const htlc of untrimmed) {
    const witnessScript =
      htlc.direction === 'offered'
        ? offeredHtlcScript(revocationHash!, p.keys.localHtlcPubkey, p.keys.remoteHtlcPubkey, htlc.paymentHash, p.anchors)
        : receivedHtlcScript(revocationHash!, p.keys.localHtlcPubkey, p.keys.remoteHtlcPubkey, htlc.paymentHash, htlc.cltvExpiry, p.anchors);
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
  const tx = oneInputTx(
    Number(0x20000000n | (obscured & 0xffffffn)),
    txidToHash(p.fundingTxid),
    p.fundingOutputIndex,
    Number(0x80000000n | ((obscured >> 24n) & 0xffffffn)),
  );
  const outputs: CommitmentOutput[] = pending.map((q, index) => {
    pushOutput(tx, q.script, q.out.amountSat);
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
  return fromDisplayHex(txid);
}

/** True for an integer in [0, 2^32). */
function isUint32(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= 0xffffffff;
}

/**
 * Version 2 transaction with one input spending `prevHash`:`prevIndex` (internal byte order),
 * empty scriptSig and witness. Fills bitcoinjs's public `ins` directly: its `addInput` and
 * `addOutput` run valibot schemas on every call, which dominated building a commitment.
 * @throws FulmenError INTERNAL when a field is not a uint32 or `prevHash` not 32 bytes.
 */
function oneInputTx(locktime: number, prevHash: Uint8Array, prevIndex: number, sequence: number): Transaction {
  if (!isUint32(locktime) || !isUint32(prevIndex) || !isUint32(sequence) || prevHash.length !== 32) {
    throw new FulmenError('INTERNAL', 'Invalid transaction input');
  }
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = locktime;
  tx.ins.push({ hash: prevHash, index: prevIndex, script: new Uint8Array(0), sequence, witness: [] });
  return tx;
}

/** Appends an output of `valueSat` (a non-negative safe integer) to `tx`. @throws FulmenError INTERNAL otherwise. */
function pushOutput(tx: Transaction, script: Uint8Array, valueSat: number): void {
  if (!Number.isSafeInteger(valueSat) || valueSat < 0) throw new FulmenError('INTERNAL', 'Invalid output amount');
  tx.outs.push({ script, value: BigInt(valueSat) });
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
  const tx = oneInputTx(offered ? htlcOutput.htlc.cltvExpiry : 0, txidToHash(commitmentTxid), htlcOutput.index, anchors ? 1 : 0);
  pushOutput(tx, p2wsh(toLocalScript(revocationPubkey, toSelfDelay, localDelayedPubkey)), htlcOutput.amountSat - fee);
  return tx;
}

/** CompactSize (var_int) length of `n` < 2^32. */
function varIntSize(n: number): number {
  return n < 0xfd ? 1 : n <= 0xffff ? 3 : 5;
}

/** Writes CompactSize `n` < 2^32 at `o`; returns the offset after it. */
function writeVarInt(view: DataView, o: number, n: number): number {
  if (n < 0xfd) {
    view.setUint8(o, n);
    return o + 1;
  }
  if (n <= 0xffff) {
    view.setUint8(o, 0xfd);
    view.setUint16(o + 1, n, true);
    return o + 3;
  }
  view.setUint8(o, 0xfe);
  view.setUint32(o + 1, n, true);
  return o + 5;
}

/** Writes `bytes` at `o` of `out`; returns the offset after them. */
function writeBytes(out: Uint8Array, o: number, bytes: Uint8Array): number {
  out.set(bytes, o);
  return o + bytes.length;
}

/** Serialized size of `outs`: per output 8-byte value, CompactSize script length, script. */
function outputsSize(outs: readonly TxOutput[]): number {
  let size = 0;
  for (const out of outs) size += 8 + varIntSize(out.script.length) + out.script.length;
  return size;
}

/** Writes `outs` (value int64 LE, CompactSize script length, script) at `o`; returns the offset after them. */
function writeOutputs(out: Uint8Array, view: DataView, o: number, outs: readonly TxOutput[]): number {
  for (const txOut of outs) {
    view.setBigUint64(o, txOut.value, true);
    o = writeBytes(out, writeVarInt(view, o + 8, txOut.script.length), txOut.script);
  }
  return o;
}

/** Double SHA-256 of `outs` serialized (BIP143 hashOutputs). */
function hashOutputs(outs: readonly TxOutput[]): Uint8Array {
  const bytes = new Uint8Array(outputsSize(outs));
  writeOutputs(bytes, new DataView(bytes.buffer), 0, outs);
  return sha256d(bytes);
}

/**
 * Display-order txid of `tx` (hex): double SHA-256 of its serialization without witness data
 * (BIP144 "txid"), byte-reversed. The same string as bitcoinjs `getId()`, without its
 * schema-checked serializer and JS hash.
 */
export function computeTxid(tx: Transaction): string {
  let size = 4 + varIntSize(tx.ins.length) + varIntSize(tx.outs.length) + outputsSize(tx.outs) + 4;
  for (const input of tx.ins) size += 40 + varIntSize(input.script.length) + input.script.length;
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  view.setUint32(0, tx.version, true);
  let o = writeVarInt(view, 4, tx.ins.length);
  for (const input of tx.ins) {
    o = writeBytes(out, o, input.hash);
    view.setUint32(o, input.index, true);
    o = writeBytes(out, writeVarInt(view, o + 4, input.script.length), input.script);
    view.setUint32(o, input.sequence, true);
    o += 4;
  }
  o = writeOutputs(out, view, writeVarInt(view, o, tx.outs.length), tx.outs);
  view.setUint32(o, tx.locktime, true);
  return toDisplayHex(sha256d(out));
}

const ZERO_HASH = new Uint8Array(32);
const SIGHASH_NONE = 0x02;
const SIGHASH_SINGLE = 0x03;
const SIGHASH_ANYONECANPAY = 0x80;

/**
 * BIP143 signature hash (segwit v0) of input `inputIndex` of `tx`, spending an output worth
 * `valueSat` whose script code is `witnessScript` (P2WSH; ours contain no OP_CODESEPARATOR), under
 * `hashType` (SIGHASH_ALL unless told): double SHA-256 of nVersion, hashPrevouts, hashSequence,
 * the outpoint, scriptCode, amount, nSequence, hashOutputs, nLockTime and nHashType, where
 * ANYONECANPAY zeroes hashPrevouts and hashSequence, SINGLE/NONE zero hashSequence, and
 * hashOutputs covers every output, only the output at `inputIndex` (SINGLE), or none (NONE, or
 * SINGLE past the last output). Written against BIP143: the same 32-byte digest as bitcoinjs
 * `hashForWitnessV0`, at a fraction of its cost (no schema checks, native SHA-256).
 * @throws FulmenError INTERNAL when `inputIndex` is not an input or `valueSat` not a non-negative safe integer.
 */
export function witnessSighash(tx: Transaction, inputIndex: number, witnessScript: Uint8Array, valueSat: number, hashType = SIGHASH_ALL): Uint8Array {
  const input = tx.ins[inputIndex];
  if (!input) throw new FulmenError('INTERNAL', 'No such input to sign');
  if (!Number.isSafeInteger(valueSat) || valueSat < 0) throw new FulmenError('INTERNAL', 'Invalid input amount');
  const anyoneCanPay = (hashType & SIGHASH_ANYONECANPAY) !== 0;
  const base = hashType & 0x1f;
  let prevouts: Uint8Array = ZERO_HASH;
  let sequences: Uint8Array = ZERO_HASH;
  if (!anyoneCanPay) {
    const buf = new Uint8Array(36 * tx.ins.length);
    const view = new DataView(buf.buffer);
    tx.ins.forEach((txIn, i) => {
      buf.set(txIn.hash, 36 * i);
      view.setUint32(36 * i + 32, txIn.index, true);
    });
    prevouts = sha256d(buf);
    if (base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) {
      const seq = new Uint8Array(4 * tx.ins.length);
      const seqView = new DataView(seq.buffer);
      tx.ins.forEach((txIn, i) => seqView.setUint32(4 * i, txIn.sequence, true));
      sequences = sha256d(seq);
    }
  }
  let outputs: Uint8Array = ZERO_HASH;
  if (base !== SIGHASH_SINGLE && base !== SIGHASH_NONE) outputs = hashOutputs(tx.outs);
  else if (base === SIGHASH_SINGLE && inputIndex < tx.outs.length) outputs = hashOutputs([tx.outs[inputIndex]!]);

  const pre = new Uint8Array(156 + varIntSize(witnessScript.length) + witnessScript.length);
  const view = new DataView(pre.buffer);
  view.setUint32(0, tx.version, true);
  pre.set(prevouts, 4);
  pre.set(sequences, 36);
  pre.set(input.hash, 68);
  view.setUint32(100, input.index, true);
  const o = writeBytes(pre, writeVarInt(view, 104, witnessScript.length), witnessScript);
  view.setBigUint64(o, BigInt(valueSat), true);
  view.setUint32(o + 8, input.sequence, true);
  pre.set(outputs, o + 12);
  view.setUint32(o + 44, tx.locktime, true);
  view.setUint32(o + 48, hashType, true);
  return new Uint8Array(sha256d(pre));
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
  const tx = oneInputTx(0, txidToHash(fundingTxid), fundingOutputIndex, 0xffffffff);
  for (const o of kept) pushOutput(tx, o.scriptPubKey, o.amountSat);
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
