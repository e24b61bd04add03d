import { hexToBytes } from '@noble/hashes/utils.js';
import type { Transaction } from 'bitcoinjs-lib';
import type { ChannelData } from '../channel/channel.js';
import { HtlcLog, otherSide, type HtlcRecord, type Side } from '../channel/htlc-log.js';
import {
  basepointsOf,
  channelSecretsFor,
  derivePubkey,
  deriveRevocationPubkey,
  perCommitmentPoint,
  pubkeyFromSecret,
  START_INDEX,
  type ChannelBasepoints,
  type ChannelSecrets,
} from '../channel/keys.js';
import { Shachain } from '../channel/shachain.js';
import {
  anchorToRemoteScript,
  buildCommitmentTx,
  commitmentObscuringFactor,
  decodeCommitmentNumber,
  p2wpkh,
  p2wsh,
  type CommitmentHtlc,
  type CommitmentKeys,
  type CommitmentTx,
} from '../channel/transactions.js';

/**
 * What the ChannelWatcher knows about one channel to recognise a transaction spending its funding
 * output (BOLT 5 "Failing a Channel" / "Requirements" for each kind of close): the stored channel
 * state (`Channel.snapshot()`) plus our channel secrets, re-derived from the lightning root secret
 * and the channel's key index. Commitments are rebuilt from the HTLC log with the same BOLT 3
 * builder the channel engine uses (channel/transactions.ts).
 */
export interface ChannelView {
  data: ChannelData;
  secrets: ChannelSecrets;
  local: ChannelBasepoints;
  remote: ChannelBasepoints;
  /**
   * Preimages (by payment hash, hex) of HTLCs the remote offered that we learnt outside this
   * channel's log: forwards whose outgoing HTLC was fulfilled after this channel stopped being
   * usable off chain (node.ts lightning_forwards). Claimed on chain like released ones.
   */
  knownPreimages?: Map<string, Uint8Array>;
}

/** Builds the view of a channel whose remote parameters are known. @throws Error when they are not. */
export function channelView(data: ChannelData, lightningRootSecret: Uint8Array): ChannelView {
  if (!data.remoteBasepoints || !data.remoteConfig) throw new Error('channel has no remote parameters');
  const secrets = channelSecretsFor(lightningRootSecret, data);
  const rb = data.remoteBasepoints;
  return {
    data,
    secrets,
    local: basepointsOf(secrets),
    remote: {
      fundingPubkey: hexToBytes(rb.fundingPubkey),
      revocationBasepoint: hexToBytes(rb.revocationBasepoint),
      paymentBasepoint: hexToBytes(rb.paymentBasepoint),
      delayedPaymentBasepoint: hexToBytes(rb.delayedPaymentBasepoint),
      htlcBasepoint: hexToBytes(rb.htlcBasepoint),
    },
  };
}

/** BOLT 3 keys of `owner`'s commitment for `perCommitmentPoint` (option_static_remotekey, with or without anchors). */
export function commitmentKeysFor(view: ChannelView, owner: Side, point: Uint8Array): CommitmentKeys {
  const [ownerBp, otherBp] = owner === 'local' ? [view.local, view.remote] : [view.remote, view.local];
  return {
    revocationPubkey: deriveRevocationPubkey(otherBp.revocationBasepoint, point),
    localDelayedPubkey: derivePubkey(ownerBp.delayedPaymentBasepoint, point),
    localHtlcPubkey: derivePubkey(ownerBp.htlcBasepoint, point),
    remoteHtlcPubkey: derivePubkey(otherBp.htlcBasepoint, point),
    remotePaymentPubkey: otherBp.paymentBasepoint,
    localFundingPubkey: ownerBp.fundingPubkey,
    remoteFundingPubkey: otherBp.fundingPubkey,
  };
}

/** option_anchors_zero_fee_htlc_tx applies to the channel (its stored channel_type). */
export function hasAnchors(view: ChannelView): boolean {
  return view.data.channelType === 'anchors';
}

/** to_self_delay that applies to `owner`'s delayed outputs (it is set by the other side). */
export function toSelfDelayOf(view: ChannelView, owner: Side): number {
  return owner === 'local' ? view.data.remoteConfig!.toSelfDelay : view.data.localConfig.toSelfDelay;
}

function obscuringFactor(view: ChannelView): bigint {
  const [opener, accepter] = view.data.isFunder ? [view.local, view.remote] : [view.remote, view.local];
  return commitmentObscuringFactor(opener.paymentBasepoint, accepter.paymentBasepoint);
}

function initialBalances(data: ChannelData): { local: bigint; remote: bigint } {
  const total = BigInt(data.fundingSat) * 1000n;
  return data.isFunder ? { local: total - data.pushMsat, remote: data.pushMsat } : { local: data.pushMsat, remote: total - data.pushMsat };
}

/** An HTLC of a rebuilt commitment, with the log record it came from. */
export interface RebuiltCommitment {
  owner: Side;
  ctn: number;
  point: Uint8Array;
  keys: CommitmentKeys;
  feerateSatPerKw: number;
  /** option_anchors applies (its HTLC transactions have no fee and sequence 1). */
  anchors: boolean;
  commitment: CommitmentTx;
  /** Log record of every HTLC output (same order as commitment.htlcOutputs). */
  htlcRecords: HtlcRecord[];
}

/** Rebuilds `owner`'s commitment number `ctn` for `point` from the channel's HTLC log (BOLT 3). */
export function rebuildCommitment(view: ChannelView, owner: Side, ctn: number, point: Uint8Array): RebuiltCommitment {
  const d = view.data;
  const log = new HtlcLog(d.log);
  const keys = commitmentKeysFor(view, owner, point);
  const feerate = log.feerateIn(owner, ctn);
  const bal = log.balancesIn(owner, ctn, initialBalances(d));
  const records = log.htlcsIn(owner, ctn);
  const toCommitmentHtlc = (h: HtlcRecord): CommitmentHtlc => ({
    direction: h.offeredBy === owner ? 'offered' : 'received',
    htlcId: h.htlcId,
    amountMsat: h.amountMsat,
    paymentHash: hexToBytes(h.paymentHash),
    cltvExpiry: h.cltvExpiry,
  });
  const commitment = buildCommitmentTx({
    fundingTxid: d.fundingTxid!,
    fundingOutputIndex: d.fundingOutputIndex!,
    fundingSat: d.fundingSat,
    commitmentNumber: BigInt(ctn),
    obscuringFactor: obscuringFactor(view),
    ownerIsFunder: (owner === 'local') === d.isFunder,
    toLocalMsat: bal[owner],
    toRemoteMsat: bal[otherSide(owner)],
    feerateSatPerKw: feerate,
    dustLimitSat: owner === 'local' ? d.localConfig.dustLimitSat : d.remoteConfig!.dustLimitSat,
    toSelfDelay: toSelfDelayOf(view, owner),
    keys,
    htlcs: records.map(toCommitmentHtlc),
    anchors: hasAnchors(view),
  });
  const htlcRecords = commitment.htlcOutputs.map((o) => {
    const rec = records.find((r) => r.htlcId === o.htlc.htlcId && (r.offeredBy === owner) === (o.htlc.direction === 'offered'));
    return rec!;
  });
  return { owner, ctn, point, keys, feerateSatPerKw: feerate, anchors: hasAnchors(view), commitment, htlcRecords };
}

/** How the funding output was spent (BOLT 5: mutual close, unilateral close, revoked transaction close). */
export type FundingSpend =
  | { kind: 'mutual' }
  /** Our latest commitment (a local force close). */
  | { kind: 'local'; rebuilt: RebuiltCommitment }
  /** One of our revoked commitments (restored from an old backup): the peer may punish it. */
  | { kind: 'local_revoked'; rebuilt: RebuiltCommitment }
  /** The remote's current or next (signed, not yet revoked) commitment. */
  | { kind: 'remote'; rebuilt: RebuiltCommitment }
  /** A revoked remote commitment: everything is ours through the revocation key. */
  | { kind: 'breach'; rebuilt: RebuiltCommitment; perCommitmentSecret: Uint8Array }
  /** A remote commitment we cannot rebuild (we lost state): only to_remote is claimable. */
  | { kind: 'remote_unknown'; ctn: number };

/** True when the transaction has the BOLT 3 commitment shape (locktime 0x20…, sequence 0x80…). */
export function isCommitmentShaped(tx: Transaction): boolean {
  const input = tx.ins[0];
  return tx.ins.length === 1 && input !== undefined && tx.locktime >>> 24 === 0x20 && input.sequence >>> 24 === 0x80;
}

/**
 * Classifies `tx`, which spends the channel's funding output, by decoding the obscured commitment
 * number (BOLT 3) and rebuilding the candidate commitments: ours at that ctn, the remote's current
 * or next one (per_commitment_point known), or a revoked remote one (per_commitment_secret from
 * our shachain). A rebuilt candidate must have the same txid.
 */
export function classifyFundingSpend(view: ChannelView, tx: Transaction): FundingSpend {
  if (!isCommitmentShaped(tx)) return { kind: 'mutual' };
  const d = view.data;
  const ctnBig = decodeCommitmentNumber(tx.locktime, tx.ins[0]!.sequence, obscuringFactor(view));
  if (ctnBig > BigInt(Number.MAX_SAFE_INTEGER)) return { kind: 'remote_unknown', ctn: -1 };
  const ctn = Number(ctnBig);
  const txid = tx.getId();
  const matches = (r: RebuiltCommitment) => r.commitment.tx.getId() === txid;

  if (ctn <= d.localCtn) {
    const local = rebuildCommitment(view, 'local', ctn, perCommitmentPoint(view.secrets.perCommitmentSeed, BigInt(ctn)));
    if (matches(local)) return ctn === d.localCtn ? { kind: 'local', rebuilt: local } : { kind: 'local_revoked', rebuilt: local };
  }
  const remotePoints: [number, string | null][] = [
    [d.remoteCtn, d.remoteCurrentPoint],
    [d.remoteCtn + 1, d.remoteNextPoint],
  ];
  for (const [c, point] of remotePoints) {
    if (c !== ctn || !point) continue;
    const remote = rebuildCommitment(view, 'remote', ctn, hexToBytes(point));
    if (matches(remote)) return { kind: 'remote', rebuilt: remote };
  }
  if (ctn < d.remoteCtn) {
    const secret = Shachain.deserialize(d.remoteSecrets).get(START_INDEX - BigInt(ctn));
    if (secret) {
      const revoked = rebuildCommitment(view, 'remote', ctn, pubkeyFromSecret(secret));
      if (matches(revoked)) return { kind: 'breach', rebuilt: revoked, perCommitmentSecret: secret };
    }
  }
  return { kind: 'remote_unknown', ctn };
}

/**
 * Our to_remote scriptPubKey on the peer's commitments (BOLT 3 to_remote Output): P2WPKH(our
 * payment_basepoint) with option_static_remotekey, P2WSH(`<payment_basepoint> OP_CHECKSIGVERIFY 1
 * OP_CHECKSEQUENCEVERIFY`) with option_anchors.
 */
export function ourToRemoteScript(view: ChannelView): Uint8Array {
  return hasAnchors(view) ? p2wsh(anchorToRemoteScript(view.local.paymentBasepoint)) : p2wpkh(view.local.paymentBasepoint);
}

/** Preimages we released for HTLCs the remote offered (update_fulfill_htlc we sent) or know from forwards (`knownPreimages`), by payment hash. */
export function releasedPreimages(view: ChannelView): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>(view.knownPreimages ?? []);
  for (const h of view.data.log.htlcs) {
    if (h.offeredBy === 'remote' && h.removal?.kind === 'fulfill') out.set(h.paymentHash, hexToBytes(h.removal.preimage));
  }
  return out;
}
