import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { payments, type Transaction } from 'bitcoinjs-lib';
import { buildTransaction, dustThresholdSat, feeForVsize, inputPrevTxid } from '../../bitcoin/transaction.js';
import { derivePrivkey, deriveRevocationPrivkey, pubkeyFromSecret, signDigest } from '../channel/keys.js';
import {
  buildHtlcTx,
  p2wsh,
  setHtlcWitness,
  signInput,
  toLocalScript,
  toWitnessSignature,
  SIGHASH_ALL,
  type CommitmentOutput,
} from '../channel/transactions.js';
import { ourStaticToRemoteScript, releasedPreimages, toSelfDelayOf, type ChannelView, type FundingSpend, type RebuiltCommitment } from './commitments.js';

/**
 * BOLT 5 on-chain resolution of a closed channel (Electrum's lnsweep): for each output of the
 * closing transaction that is ours or contested, how to spend it and when. Every transaction here
 * is single-input, version 2, signed SIGHASH_ALL with keys derived per BOLT 3 "Keys" from our
 * basepoint secrets. Channel type: option_static_remotekey without anchors.
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
  /** Remote (or revoked, or unknown) commitment: to_remote, P2WPKH of our static payment key. */
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
  | 'justice_htlc_tx_output';

/** Inputs a sweep needs at build time: integer sat/vB feerate and our wallet's scriptPubKey. */
export interface SweepBuildParams {
  feerateSatPerVbyte: number;
  destination: Uint8Array;
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

/** to_remote with option_static_remotekey: P2WPKH of our payment_basepoint, witness `<sig> <pubkey>`. */
export function sweepStaticToRemote(p: { prevout: Prevout; paymentBasepointSecret: Uint8Array }, params: SweepBuildParams): Transaction | null {
  const pubkey = pubkeyFromSecret(p.paymentBasepointSecret);
  return buildSingleInputSweep(
    { prevout: p.prevout, sequence: 0xfffffffd, locktime: 0, scriptCode: p2wpkhScriptCode(pubkey), privkey: p.paymentBasepointSecret, witness: (sig) => [sig, pubkey] },
    params,
  );
}

/** Remote commitment, HTLC the remote offered: witness `<remotehtlcsig> <payment_preimage>` (we are "remote" there). */
export function claimHtlcWithPreimage(
  p: { prevout: Prevout; witnessScript: Uint8Array; htlcPrivkey: Uint8Array; preimage: Uint8Array },
  params: SweepBuildParams,
): Transaction | null {
  return buildSingleInputSweep(
    { prevout: p.prevout, sequence: 0xfffffffd, locktime: 0, scriptCode: p.witnessScript, privkey: p.htlcPrivkey, witness: (sig) => [sig, p.preimage, p.witnessScript] },
    params,
  );
}

/** Remote commitment, HTLC we offered: after cltv_expiry, witness `<remotehtlcsig> <>`, nLockTime = cltv_expiry. */
export function claimHtlcAfterTimeout(
  p: { prevout: Prevout; witnessScript: Uint8Array; htlcPrivkey: Uint8Array; cltvExpiry: number },
  params: SweepBuildParams,
): Transaction | null {
  return buildSingleInputSweep(
    { prevout: p.prevout, sequence: 0xfffffffd, locktime: p.cltvExpiry, scriptCode: p.witnessScript, privkey: p.htlcPrivkey, witness: (sig) => [sig, EMPTY, p.witnessScript] },
    params,
  );
}

/**
 * Our commitment: the HTLC-timeout (preimage null) or HTLC-success transaction, with the peer's
 * signature from its commitment_signed and ours: witness `0 <remotehtlcsig> <localhtlcsig> <preimage or empty>`.
 */
export function signSecondStageHtlcTx(p: {
  rebuilt: RebuiltCommitment;
  htlcOutput: Extract<CommitmentOutput, { kind: 'htlc' }>;
  toSelfDelay: number;
  remoteHtlcSignature: Uint8Array;
  localHtlcPrivkey: Uint8Array;
  preimage: Uint8Array | null;
}): Transaction {
  const { rebuilt, htlcOutput } = p;
  const tx = buildHtlcTx(rebuilt.commitment.tx.getId(), htlcOutput, rebuilt.feerateSatPerKw, p.toSelfDelay, rebuilt.keys.revocationPubkey, rebuilt.keys.localDelayedPubkey);
  const localSig = signInput(tx, 0, htlcOutput.witnessScript, htlcOutput.amountSat, p.localHtlcPrivkey);
  setHtlcWitness(tx, p.remoteHtlcSignature, localSig, p.preimage, htlcOutput.witnessScript);
  return tx;
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
  return { csvDelay: 0, cltvExpiry: 0, paymentHash: null, outgoingHtlcId: null, raceFrom: null, next: null, ...base };
}

function prevoutOf(tx: Transaction, vout: number): Prevout {
  return { txid: tx.getId(), vout, valueSat: Number(tx.outs[vout]!.value) };
}

/** The resolution of output 0 of a second-stage HTLC transaction paying the to_local script. */
function secondStageOutput(
  spender: Transaction,
  witnessScript: Uint8Array,
  kind: 'htlc_tx_output' | 'justice_htlc_tx_output',
  build: (prevout: Prevout) => (params: SweepBuildParams) => Transaction | null,
  csvDelay: number,
  raceFrom: OutputResolution['raceFrom'] = null,
): OutputResolution | null {
  const out = spender.outs[0];
  const scriptPubKey = p2wsh(witnessScript);
  if (!out || bytesToHex(out.script) !== bytesToHex(scriptPubKey)) return null;
  const prevout = prevoutOf(spender, 0);
  return resolution({ prevout, scriptPubKey, kind, csvDelay, raceFrom, build: build(prevout) });
}

function ourCommitmentResolutions(view: ChannelView, rebuilt: RebuiltCommitment, tx: Transaction, withHtlcs: boolean): OutputResolution[] {
  const out: OutputResolution[] = [];
  const delay = toSelfDelayOf(view, 'local');
  const delayedPrivkey = derivePrivkey(view.secrets.delayedPaymentBasepointSecret, rebuilt.point);
  const htlcPrivkey = derivePrivkey(view.secrets.htlcBasepointSecret, rebuilt.point);
  const secondStageScript = toLocalScript(rebuilt.keys.revocationPubkey, delay, rebuilt.keys.localDelayedPubkey);
  const sweepSecondStage = (spender: Transaction) =>
    secondStageOutput(spender, secondStageScript, 'htlc_tx_output', (prevout) => (params) => sweepDelayedOutput({ prevout, witnessScript: secondStageScript, toSelfDelay: delay, delayedPrivkey }, params), delay);
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
            build: remoteSig ? () => signSecondStageHtlcTx({ rebuilt, htlcOutput: o, toSelfDelay: delay, remoteHtlcSignature: remoteSig, localHtlcPrivkey: htlcPrivkey, preimage: null }) : null,
            next: sweepSecondStage,
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
            build: canClaim ? () => signSecondStageHtlcTx({ rebuilt, htlcOutput: o, toSelfDelay: delay, remoteHtlcSignature: remoteSig, localHtlcPrivkey: htlcPrivkey, preimage }) : null,
            next: sweepSecondStage,
          }),
        );
      }
    }
  }
  return out;
}

function toRemoteResolution(view: ChannelView, tx: Transaction): OutputResolution | null {
  const script = bytesToHex(ourStaticToRemoteScript(view));
  const vout = tx.outs.findIndex((o) => bytesToHex(o.script) === script);
  if (vout < 0) return null;
  const prevout = prevoutOf(tx, vout);
  return resolution({
    prevout,
    scriptPubKey: tx.outs[vout]!.script,
    kind: 'to_remote',
    build: (params) => sweepStaticToRemote({ prevout, paymentBasepointSecret: view.secrets.paymentBasepointSecret }, params),
  });
}

function remoteCommitmentResolutions(view: ChannelView, rebuilt: RebuiltCommitment, tx: Transaction): OutputResolution[] {
  const out: OutputResolution[] = [];
  const toRemote = toRemoteResolution(view, tx);
  if (toRemote) out.push(toRemote);
  const htlcPrivkey = derivePrivkey(view.secrets.htlcBasepointSecret, rebuilt.point);
  const preimages = releasedPreimages(view);
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
          raceFrom: { csvDelay: 0, cltvExpiry: o.htlc.cltvExpiry },
          build: preimage ? (params) => claimHtlcWithPreimage({ prevout, witnessScript: o.witnessScript, htlcPrivkey, preimage }, params) : null,
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
          raceFrom: { csvDelay: 0, cltvExpiry: 0 }, // the peer may know the preimage
          paymentHash: record.paymentHash,
          outgoingHtlcId: record.htlcId,
          build: (params) => claimHtlcAfterTimeout({ prevout, witnessScript: o.witnessScript, htlcPrivkey, cltvExpiry: o.htlc.cltvExpiry }, params),
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
  const justiceSecondStage = (spender: Transaction) =>
    secondStageOutput(spender, theirSecondStageScript, 'justice_htlc_tx_output', (prevout) => (params) => sweepRevokedDelayedOutput({ prevout, witnessScript: theirSecondStageScript, revocationPrivkey }, params), 0, {
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
          next: justiceSecondStage,
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
