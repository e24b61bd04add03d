/**
 * ChannelWatcher (Electrum's lnwatcher, BOLT 5): watches the funding output of every channel that
 * is not REDEEMED. When it is spent, the spending transaction is classified (mutual close, our
 * commitment, the remote's current/next commitment, a revoked remote commitment) and every output
 * that is ours or contested is resolved: swept to a fresh wallet address once its CSV/CLTV lock
 * allows, by the peer-signed HTLC transactions and then their delayed outputs, or by justice
 * transactions through the revocation key. Each sweep is written to `lightning_sweeps` before it
 * is broadcast and re-broadcast until it confirms (also after a restart). Feerates follow
 * fee-policy.ts: patient sweeps wait for low fees, urgent ones are replaced (RBF) with a higher
 * fee while they stay unconfirmed.
 *
 * Channel states: FORCE_CLOSING when a commitment spends the funding output, CLOSED once that
 * spend is confirmed (SPV-verified), REDEEMED once the spend and every resolution are
 * `redeemDepth` blocks deep (Electrum semantics: the channel needs no more watching).
 *
 * Reorgs: nothing is final before REDEEMED. Every check reads the chain again, so a commitment,
 * HTLC transaction or sweep whose block was reorged out is seen as unconfirmed (or gone): its
 * channel goes back to FORCE_CLOSING, its rows go back to 'waiting' with no confirmation and their
 * CSV heights are computed again from the parent's new height, and every signed transaction of
 * ours is broadcast again once it is valid (the closing transaction at once when it vanished from
 * the mempool). When a different commitment wins the reorg (e.g. the peer's instead of ours), it
 * is classified anew and its outputs resolved; rows of the losing transaction are kept but left out
 * of `liveSweepsOf`. Merkle proofs at or above a reorg's fork height are checked again. The
 * default `redeemDepth` of 30 blocks is the reorg margin after which a closed channel is no longer
 * watched (deeper reorgs than that are not expected on mainnet).
 */
import { chainEventConcerns, SerialCheck } from './serial-check.js';
import { bytesToHex } from '@noble/hashes/utils.js';
import { Transaction } from 'bitcoinjs-lib';
import type { ChainSource } from '../../chain/types.js';
import type { Db } from '../../storage/db.js';
import type { NetworkName } from '../../bitcoin/network.js';
import { addressToScriptPubKey, scriptHash } from '../../bitcoin/address.js';
import { inputPrevTxid } from '../../bitcoin/transaction.js';
import type { ChannelData, ChannelStateName } from '../channel/channel.js';
import { channelView, classifyFundingSpend, type FundingSpend, type RebuiltCommitment } from './commitments.js';
import { buildAnchorCpfp, extractPreimage, replacementFeeWallet, resolutionsFor, type FeeWallet, type OutputResolution, type SweepKind } from './sweeps.js';
import { SweepStore, type SweepRow } from './store.js';
import {
  ANCHOR_CPFP_CHILD_VSIZE,
  DEFAULT_SWEEP_FEE_POLICY,
  decideAnchorCpfp,
  decideSweepFee,
  maxFeerateForValue,
  resolutionUrgency,
  sweepFeeTarget,
  type SweepFeePolicy,
  type SweepUrgency,
} from './fee-policy.js';

/** What the watcher needs of a channel (implemented by channel/channel.ts `Channel`). */
export interface WatchedChannel {
  readonly keyIndex: number;
  readonly state: ChannelStateName;
  readonly fundingTxid: string | null;
  readonly fundingOutputIndex: number | null;
  fundingOutput(): { scriptPubKey: Uint8Array };
  snapshot(): ChannelData;
  markOnchainClose(state: 'FORCE_CLOSING' | 'CLOSED' | 'REDEEMED', closingTxHex: string | null): void;
}

/** An HTLC of ours settled on chain: the peer revealed the preimage, or we took it back after cltv_expiry. */
export interface OnchainHtlcResolution {
  channelKeyIndex: number;
  paymentHash: string;
  outcome: { kind: 'fulfilled'; preimage: string } | { kind: 'timed_out' };
}

export interface ChannelWatcherOptions {
  db: Db;
  chain: ChainSource;
  /**
   * Where sweeps go (a fresh receive address), how they are broadcast (recorded as the wallet's),
   * and the wallet labels (txid keys) that name each sweep in the history unless the user set one.
   */
  wallet: {
    getUnusedAddress(): string;
    broadcast(txHex: string): Promise<string>;
    getLabel(key: string): string;
    setLabel(key: string, text: string): void;
    /** For the fee of option_anchors HTLC transactions (sweeps.ts FeeWallet). */
    listUnspent(): { txid: string; vout: number; valueSat: number; address: string; height: number; frozen: boolean; coinbase: boolean }[];
    getNewChangeAddress(): string;
    signPsbt(psbtBase64: string): { txHex: string | null };
    /** For BIP 125 replacements of wallet-funded transactions (sweeps.ts replacementFeeWallet). */
    knownOutput(txid: string, vout: number): { valueSat: number; script: Uint8Array } | null;
    isMine(addressOrScript: string | Uint8Array): boolean;
  };
  network: NetworkName;
  lightningRootSecret: Uint8Array;
  /** The node's channels (read on every check). */
  channels: () => Iterable<WatchedChannel>;
  /** A channel's state changed (for UI events). */
  onChannelChanged?: (channel: WatchedChannel) => void;
  /**
   * An outgoing HTLC was settled on chain: a preimage learned (at once: it stays valid whatever
   * the chain does), or our timeout spend confirmed ANTI_REORG_DEPTH deep (capped at redeemDepth),
   * so that a reorg cannot turn a payment reported failed into one the peer claims.
   */
  onHtlcResolved?: (e: OnchainHtlcResolution) => void;
  /** Preimages of HTLCs the channel's peer offered that the node learnt from forwards (ChannelView.knownPreimages), by payment hash. */
  forwardPreimages?: (channelKeyIndex: number) => Map<string, Uint8Array>;
  /** Confirmations after which the channel is REDEEMED. Default 30 (reorg safety margin). */
  redeemDepth?: number;
  /** Overrides of DEFAULT_SWEEP_FEE_POLICY (fee-policy.ts); regtest tests shorten bumpAfterBlocks. */
  feePolicy?: Partial<SweepFeePolicy>;
}

const NEED_NO_WATCHING: readonly ChannelStateName[] = ['PREOPENING', 'REDEEMED'];

/** Confirmations of our HTLC timeout spend before its payment is reported failed (LDK's ANTI_REORG_DELAY is also 6). */
const ANTI_REORG_DEPTH = 6;

/** Wallet label of a sweep paying the wallet, by kind (History shows it). */
const SWEEP_LABELS: Partial<Record<SweepKind, string>> = {
  to_local: 'Force close: our channel balance',
  to_remote: 'Force close: our channel balance (peer closed)',
  htlc_tx_output: 'Force close: payment returned after an HTLC transaction',
  htlc_claim_preimage: 'Force close: incoming payment claimed on chain',
  htlc_claim_timeout: 'Force close: outgoing payment taken back on chain',
  justice_to_local: 'Justice: revoked channel state punished',
  justice_htlc: 'Justice: revoked channel state punished (HTLC)',
  justice_htlc_tx_output: 'Justice: revoked channel state punished (HTLC transaction)',
  anchor_cpfp: 'Force close: fee bump of our commitment (anchor CPFP)',
};

/** How the funding output was spent, as shown to users: FundingSpend kinds folded (commitments.ts). */
export type CloseKind = 'mutual' | 'local' | 'remote' | 'breach';

/** The on-chain close of one channel as the latest check saw it (for get_channel_sweeps). */
export interface ChannelCloseView {
  /** 'local': our commitment (also a revoked one of ours), 'remote': the peer's, 'breach': a revoked one of the peer's. */
  closeKind: CloseKind;
  closingTxid: string;
  /** Height of the block holding the closing transaction (SPV-verified), null while unconfirmed. */
  closingHeight: number | null;
}

interface SpendInfo {
  tx: Transaction;
  height: number;
  confirmed: boolean;
}

export class ChannelWatcher {
  private readonly store: SweepStore;
  private readonly subscribed = new Set<string>();
  private readonly txCache = new Map<string, Transaction>();
  private readonly verified = new Set<string>();
  private readonly reportedHtlcs = new Set<string>();
  /** Per channel key index: outpoints resolved in the latest check (outputs of the close now on chain). */
  private readonly live = new Map<number, Set<string>>();
  /** Per channel key index: the funding spend seen by the latest check. */
  private readonly closes = new Map<number, ChannelCloseView>();
  private readonly redeemDepth: number;
  private readonly feePolicy: SweepFeePolicy;
  private unsubscribe: (() => void) | null = null;
  private stopped = false;
  private readonly checks = new SerialCheck(() => this.checkAll(), () => this.stopped);

  constructor(private readonly opts: ChannelWatcherOptions) {
    this.store = new SweepStore(opts.db);
    this.redeemDepth = opts.redeemDepth ?? 30;
    this.feePolicy = { ...DEFAULT_SWEEP_FEE_POLICY, ...opts.feePolicy };
  }

  /** Starts listening to the chain and checks every channel (re-broadcasts pending sweeps). */
  start(): void {
    this.stopped = false;
    this.unsubscribe = this.opts.chain.on((e) => {
      if (e.type === 'tip' && e.forkHeight !== undefined) this.forgetProofsFrom(e.forkHeight);
      if (chainEventConcerns(e, this.subscribed)) this.checks.schedule();
    });
    this.checks.schedule();
  }

  /** Stops listening; waits for a check in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unsubscribe?.();
    this.unsubscribe = null;
    await this.checks.runNow();
  }

  /** The sweeps recorded for a channel (by key index), for list_channels details and tests. */
  sweepsOf(channelKeyIndex: number): SweepRow[] {
    return this.store.forChannel(channelKeyIndex);
  }

  /**
   * The sweeps of the close now on chain: rows of `sweepsOf` whose output belongs to the funding
   * spend seen by the latest check (or its HTLC transactions). Before the first check after a
   * start, all rows. Rows of a transaction that a reorg replaced are left out.
   */
  liveSweepsOf(channelKeyIndex: number): SweepRow[] {
    const rows = this.store.forChannel(channelKeyIndex);
    const live = this.live.get(channelKeyIndex);
    return live ? rows.filter((r) => live.has(r.outpoint)) : rows;
  }

  /** The channel's close as the latest check saw it, null before the watcher saw its funding output spent. */
  closeOf(channelKeyIndex: number): ChannelCloseView | null {
    return this.closes.get(channelKeyIndex) ?? null;
  }

  /** Drops merkle-proof results at or above a reorg's fork height (they are checked again). */
  private forgetProofsFrom(forkHeight: number): void {
    for (const key of this.verified) {
      if (Number(key.slice(key.indexOf('@') + 1)) >= forkHeight) this.verified.delete(key);
    }
  }

  /** Runs one check of every channel now; resolves when it is done (tests, after a broadcast). */
  checkNow(): Promise<void> {
    return this.checks.runNow();
  }


  private async checkAll(): Promise<void> {
    const chain = this.opts.chain;
    if (this.stopped || !chain.isConnected() || !chain.tip()) return;
    for (const ch of [...this.opts.channels()]) {
      if (this.stopped) return;
      if (NEED_NO_WATCHING.includes(ch.state) || ch.fundingTxid === null || ch.fundingOutputIndex === null) continue;
      if (!ch.snapshot().remoteBasepoints) continue;
      await this.checkChannel(ch);
    }
  }

  private async watchScript(scriptPubKey: Uint8Array): Promise<string> {
    const sh = scriptHash(scriptPubKey);
    if (!this.subscribed.has(sh)) {
      await this.opts.chain.subscribeScripthash(sh);
      this.subscribed.add(sh);
    }
    return sh;
  }

  private async fetchTx(txid: string): Promise<Transaction> {
    let tx = this.txCache.get(txid);
    if (!tx) {
      tx = Transaction.fromHex(await this.opts.chain.getTransaction(txid));
      this.txCache.set(txid, tx);
    }
    return tx;
  }

  private async isVerified(txid: string, height: number): Promise<boolean> {
    if (height <= 0) return false;
    const key = `${txid}@${height}`;
    if (this.verified.has(key)) return true;
    const conf = await this.opts.chain.verifyTransaction(txid, height);
    if (conf.verified) this.verified.add(key);
    return conf.verified;
  }

  /** The transaction spending `txid:vout`, from the history of the output's script (confirmed first). */
  /**
   * Records on a sweep row what spent its output: our transaction (broadcast or confirmed; an
   * earlier version replaced by RBF that confirmed after all becomes the row's transaction) or
   * someone else's (spent_by_other). Saves only when something changed; returns the row as stored.
   */
  private recordSpender(row: SweepRow, spender: SpendInfo, ours: boolean): SweepRow {
    const spenderTxid = spender.tx.getId();
    const status = ours ? (spender.confirmed ? 'confirmed' : 'broadcast') : 'spent_by_other';
    const confirmedHeight = spender.confirmed ? spender.height : null;
    const version = ours && row.txid !== spenderTxid ? { txid: spenderTxid, rawTx: spender.tx.toHex(), priorTxids: row.priorTxids.filter((t) => t !== spenderTxid).concat(row.txid ?? []) } : {};
    if (row.status === status && row.confirmedHeight === confirmedHeight && !('txid' in version)) return row;
    const updated: SweepRow = { ...row, ...version, status, confirmedHeight };
    this.store.save(updated);
    return updated;
  }

  private async findSpender(scriptPubKey: Uint8Array, txid: string, vout: number): Promise<SpendInfo | null> {
    const sh = await this.watchScript(scriptPubKey);
    const history = await this.opts.chain.getHistory(sh);
    const candidates = history.filter((h) => h.txid !== txid).sort((a, b) => (b.height > 0 ? 1 : 0) - (a.height > 0 ? 1 : 0));
    for (const h of candidates) {
      const tx = await this.fetchTx(h.txid);
      if (!tx.ins.some((i) => inputPrevTxid(i) === txid && i.index === vout)) continue;
      return { tx, height: h.height, confirmed: await this.isVerified(h.txid, h.height) };
    }
    return null;
  }

  private depthOf(height: number): number {
    const tip = this.opts.chain.tip();
    return tip && height > 0 ? tip.height - height + 1 : 0;
  }

  private async checkChannel(ch: WatchedChannel): Promise<void> {
    const funding = await this.findSpender(ch.fundingOutput().scriptPubKey, ch.fundingTxid!, ch.fundingOutputIndex!);
    if (!funding) {
      this.closes.delete(ch.keyIndex);
      await this.fundingSpendVanished(ch);
      return;
    }
    const rowsBefore = this.rowsFingerprint(ch.keyIndex);
    const view = channelView(ch.snapshot(), this.opts.lightningRootSecret);
    const known = this.opts.forwardPreimages?.(ch.keyIndex);
    if (known?.size) view.knownPreimages = known;
    const spend = classifyFundingSpend(view, funding.tx);
    const closeKind: CloseKind = spend.kind === 'local_revoked' ? 'local' : spend.kind === 'remote_unknown' ? 'remote' : spend.kind;
    this.closes.set(ch.keyIndex, { closeKind, closingTxid: funding.tx.getId(), closingHeight: funding.confirmed ? funding.height : null });
    const changed = this.updateState(ch, spend, funding);
    const resolutions = resolutionsFor(view, spend, funding.tx);
    let allResolved = funding.confirmed && this.depthOf(funding.height) >= this.redeemDepth;
    const visited = new Set<string>();
    for (const r of resolutions) {
      const resolved = await this.resolve(ch, r, funding.confirmed ? funding.height : null, visited);
      allResolved &&= resolved;
    }
    if (spend.kind === 'local' && spend.rebuilt.anchors) await this.anchorCpfp(ch, spend.rebuilt, funding, visited);
    this.live.set(ch.keyIndex, visited);
    this.unconfirmOrphans(ch.keyIndex, visited);
    if (allResolved) ch.markOnchainClose('REDEEMED', null);
    if (changed || allResolved || this.rowsFingerprint(ch.keyIndex) !== rowsBefore) this.opts.onChannelChanged?.(ch);
  }

  /** What a GUI shows of a channel's sweeps (status, txid, heights): a change is announced as a channel change. */
  private rowsFingerprint(channelKeyIndex: number): string {
    return this.store
      .forChannel(channelKeyIndex)
      .map((r) => `${r.outpoint} ${r.status} ${r.txid} ${r.spendableHeight} ${r.confirmedHeight}`)
      .join('|');
  }

  /**
   * FORCE_CLOSING when a commitment is seen (also when a reorg unconfirmed it), CLOSED once the
   * spend is confirmed; the funding spend on chain becomes the channel's closing transaction.
   * Returns whether the state or the closing transaction changed.
   */
  private updateState(ch: WatchedChannel, spend: FundingSpend, funding: SpendInfo): boolean {
    const before = `${ch.state}/${ch.snapshot().closingTxHex ?? ''}`;
    const txHex = funding.tx.toHex();
    if (funding.confirmed) ch.markOnchainClose('CLOSED', txHex);
    else if (spend.kind !== 'mutual' || ch.state === 'CLOSED') ch.markOnchainClose('FORCE_CLOSING', txHex);
    return `${ch.state}/${ch.snapshot().closingTxHex ?? ''}` !== before;
  }

  /**
   * The funding output is unspent again (a reorg took the closing transaction out and no mempool
   * has it): the channel is FORCE_CLOSING again and our closing transaction is broadcast again.
   * A channel still in the mempool-less state the node handles (CLOSING) is left to the node.
   */
  private async fundingSpendVanished(ch: WatchedChannel): Promise<void> {
    const closingTxHex = ch.snapshot().closingTxHex;
    if (ch.state !== 'CLOSED' && ch.state !== 'FORCE_CLOSING') return;
    if (ch.state === 'CLOSED') {
      ch.markOnchainClose('FORCE_CLOSING', closingTxHex);
      this.opts.onChannelChanged?.(ch);
    }
    this.unconfirmOrphans(ch.keyIndex, new Set());
    if (closingTxHex) await this.opts.chain.broadcast(closingTxHex).catch(() => undefined); // retried on the next check
  }

  /** Rows of a channel whose output is not on chain now (parent reorged out or replaced): no confirmation, no CSV height. */
  private unconfirmOrphans(channelKeyIndex: number, visited: Set<string>): void {
    for (const row of this.store.forChannel(channelKeyIndex)) {
      if (visited.has(row.outpoint) || row.status === 'dust' || (row.status === 'waiting' && row.spendableHeight === null)) continue;
      this.store.save({ ...row, status: 'waiting', confirmedHeight: null, spendableHeight: null });
    }
  }

  /**
   * Resolves one output: finds who spent it (learning a preimage from the peer's spend), follows
   * a second-stage output, or builds, records and broadcasts our sweep once it is valid in the
   * next block, at the feerate of the fee policy (an urgent sweep still unconfirmed is replaced
   * by RBF). Returns true when the output is settled `redeemDepth` deep (or not worth a sweep).
   */
  private async resolve(ch: WatchedChannel, r: OutputResolution, parentHeight: number | null, visited: Set<string>): Promise<boolean> {
    const outpoint = `${r.prevout.txid}:${r.prevout.vout}`;
    visited.add(outpoint);
    let row = this.store.get(outpoint);
    const spender = await this.findSpender(r.scriptPubKey, r.prevout.txid, r.prevout.vout);
    if (spender) {
      const spenderTxid = spender.tx.getId();
      const ours = row !== null && (row.txid === spenderTxid || row.priorTxids.includes(spenderTxid));
      if (r.paymentHash && r.outgoingHtlcId !== null) this.reportHtlc(ch, r, spender, ours);
      if (row) row = this.recordSpender(row, spender, ours);
      if (ours && !spender.confirmed && row && r.build && resolutionUrgency(r) === 'urgent') await this.feeStep(r, row, parentHeight);
      let settled = spender.confirmed && this.depthOf(spender.height) >= this.redeemDepth;
      const next = r.next?.(spender.tx) ?? null;
      if (next) settled = (await this.resolve(ch, next, spender.confirmed ? spender.height : null, visited)) && settled;
      return settled;
    }
    if (row && (row.status === 'confirmed' || row.status === 'spent_by_other')) {
      row = { ...row, status: 'waiting', confirmedHeight: null }; // its spend was reorged out: ours is broadcast again below
      this.store.save(row);
    }
    if (!r.kind || !r.build) return false;
    if (row?.status === 'dust') return true;
    const spendableHeight = this.spendableHeight(r, parentHeight);
    const tip = this.opts.chain.tip()!;
    let current: SweepRow = row ?? {
      outpoint,
      channelKeyIndex: ch.keyIndex,
      kind: r.kind,
      valueSat: r.prevout.valueSat,
      spendableHeight,
      txid: null,
      rawTx: null,
      status: 'waiting',
      confirmedHeight: null,
      feerateSatPerVbyte: null,
      broadcastHeight: null,
      priorTxids: [],
    };
    if (current.spendableHeight !== spendableHeight) current = { ...current, spendableHeight }; // a signed CSV sweep stays valid: only its height moves
    if (!row || row.spendableHeight !== current.spendableHeight) this.store.save(current);
    if (spendableHeight === null || tip.height + 1 < spendableHeight) return false;
    if (current.rawTx !== null && current.status !== 'broadcast') {
      current = { ...current, status: 'broadcast', confirmedHeight: null }; // its earlier spend vanished (reorg or eviction)
      this.store.save(current);
    }
    if (resolutionUrgency(r) === 'presigned') {
      if (current.rawTx === null) {
        const tx = r.build({ feerateSatPerVbyte: 0, destination: new Uint8Array(0) })!;
        current = { ...current, txid: tx.getId(), rawTx: tx.toHex(), status: 'broadcast', broadcastHeight: tip.height };
        this.store.save(current); // recorded before it leaves the process
      }
      await this.broadcast('presigned', current.rawTx!);
      return false;
    }
    const result = await this.feeStep(r, current, parentHeight);
    if (result === 'dust') return true;
    if (result === 'keep' && current.rawTx !== null) await this.broadcast(resolutionUrgency(r), current.rawTx);
    return false;
  }

  /**
   * Applies the fee policy to a wallet-paying sweep: signs its first version, or replaces the
   * unconfirmed one with a higher feerate (same input, BIP 125), recording the new version before
   * broadcasting it. Returns 'dust' when the output is not worth a sweep, 'wait' when a patient
   * sweep waits for lower fees, 'keep' when the current version stays, 'signed' after a broadcast.
   */
  private async feeStep(r: OutputResolution, row: SweepRow, parentHeight: number | null): Promise<'dust' | 'wait' | 'keep' | 'signed'> {
    const urgency = resolutionUrgency(r);
    if (urgency === 'presigned') return 'keep';
    const tip = this.opts.chain.tip()!;
    const destination = addressToScriptPubKey(this.opts.wallet.getUnusedAddress(), this.opts.network);
    const funded = r.walletFunded ? this.feeWallet(row.rawTx, r.prevout.valueSat) : undefined;
    const feeWallet = funded?.feeWallet;
    const replacedFeeSat = funded?.replacedFeeSat;
    const probe = r.build!({ feerateSatPerVbyte: 1, destination, feeWallet, replacedFeeSat });
    if (!probe) {
      if (row.rawTx !== null) return 'keep';
      if (r.walletFunded) return 'wait'; // the wallet cannot pay the fee yet: tried again next block
      this.store.save({ ...row, status: 'dust' });
      return 'dust';
    }
    const percent = urgency === 'urgent' ? this.feePolicy.urgentMaxFeePercent : this.feePolicy.patientMaxFeePercent;
    const valueCapSatPerVbyte = maxFeerateForValue(r.prevout.valueSat, probe.virtualSize(), percent);
    const targetBlocks = sweepFeeTarget(urgency, tip.height, this.deadlineHeight(r, parentHeight), this.feePolicy);
    const estimateSatPerVbyte = await this.opts.chain.estimateFeeSatPerVbyte(targetBlocks);
    const current = row.rawTx !== null ? { feerateSatPerVbyte: row.feerateSatPerVbyte ?? this.feerateOf(row), broadcastHeight: row.broadcastHeight ?? tip.height } : null;
    const decision = decideSweepFee({ urgency, estimateSatPerVbyte, valueCapSatPerVbyte, tipHeight: tip.height, current }, this.feePolicy);
    if (decision.action !== 'sign') return decision.action;
    const tx = r.build!({ feerateSatPerVbyte: decision.feerateSatPerVbyte, destination, feeWallet, replacedFeeSat });
    if (!tx) return row.rawTx !== null ? 'keep' : 'wait';
    const priorTxids = row.txid !== null ? [...row.priorTxids, row.txid] : row.priorTxids;
    this.store.save({ ...row, txid: tx.getId(), rawTx: tx.toHex(), status: 'broadcast', confirmedHeight: null, feerateSatPerVbyte: decision.feerateSatPerVbyte, broadcastHeight: tip.height, priorTxids });
    const label = SWEEP_LABELS[r.kind!];
    if (label && this.opts.wallet.getLabel(tx.getId()) === '') this.opts.wallet.setLabel(tx.getId(), label);
    await this.broadcast(urgency, tx.toHex()); // recorded before it leaves the process
    return 'signed';
  }

  /** Feerate (sat/vB, rounded down) a signed single-input sweep pays: rows signed before the policy existed. */
  private feerateOf(row: SweepRow): number {
    const tx = Transaction.fromHex(row.rawTx!);
    const fee = row.valueSat - tx.outs.reduce((sum, o) => sum + Number(o.value), 0);
    return Math.max(1, Math.floor(fee / (tx.virtualSize() + 1)));
  }

  /** First block in which the other side can take `r` (fee-policy.ts deadline), null when unknown or not raced. */
  private deadlineHeight(r: OutputResolution, parentHeight: number | null): number | null {
    if (!r.raceFrom) return null;
    if (r.raceFrom.csvDelay > 0) return parentHeight === null ? null : Math.max(parentHeight + r.raceFrom.csvDelay, r.raceFrom.cltvExpiry);
    return r.raceFrom.cltvExpiry;
  }

  /** First block height in which our spend of `r` is valid: parent confirmed + CSV, and cltv_expiry + 1. */
  private spendableHeight(r: OutputResolution, parentHeight: number | null): number | null {
    let height = r.cltvExpiry > 0 ? r.cltvExpiry + 1 : 0;
    if (r.csvDelay > 0) {
      if (parentHeight === null) return null;
      height = Math.max(height, parentHeight + r.csvDelay);
    }
    return height;
  }

  /**
   * option_anchors: while our commitment is unconfirmed and pays less than the fee estimate for
   * its target (the first HTLC cltv_expiry, else the patient target), a CPFP child spends our
   * anchor and wallet coins (sweeps.ts buildAnchorCpfp, fee-policy.ts decideAnchorCpfp) and is
   * replaced with a higher fee while it stays unconfirmed. The child is a row of kind
   * 'anchor_cpfp' (recorded before it is broadcast); it never holds the channel back from REDEEMED.
   */
  private async anchorCpfp(ch: WatchedChannel, rebuilt: RebuiltCommitment, funding: SpendInfo, visited: Set<string>): Promise<void> {
    const anchor = rebuilt.commitment.outputs.find((o) => o.kind === 'anchor' && o.owner === 'local');
    if (!anchor || anchor.kind !== 'anchor') return;
    const commitment = funding.tx;
    const txid = commitment.getId();
    const outpoint = `${txid}:${anchor.index}`;
    let row = this.store.get(outpoint);
    if (!row && funding.confirmed) return; // confirmed without help
    visited.add(outpoint);
    const spender = await this.findSpender(commitment.outs[anchor.index]!.script, txid, anchor.index);
    if (spender) {
      const spenderTxid = spender.tx.getId();
      const ours = row !== null && (row.txid === spenderTxid || row.priorTxids.includes(spenderTxid));
      if (row) row = this.recordSpender(row, spender, ours);
      if (!ours || spender.confirmed || funding.confirmed) return;
    } else if (funding.confirmed) {
      return; // the commitment confirmed: no child needed any more
    }
    const tip = this.opts.chain.tip()!;
    const expiries = rebuilt.commitment.htlcOutputs.map((o) => o.htlc.cltvExpiry);
    const targetBlocks = expiries.length > 0 ? sweepFeeTarget('urgent', tip.height, Math.min(...expiries), this.feePolicy) : this.feePolicy.patientTargetBlocks;
    const estimateSatPerVbyte = await this.opts.chain.estimateFeeSatPerVbyte(targetBlocks);
    const commitmentFeeSat = ch.snapshot().fundingSat - commitment.outs.reduce((sum, o) => sum + Number(o.value), 0);
    const parentVsize = commitment.virtualSize();
    const stakeSat = rebuilt.commitment.outputs.reduce((sum, o) => sum + (o.kind === 'to_local' || o.kind === 'htlc' ? o.amountSat : 0), 0);
    const decision = decideAnchorCpfp(
      {
        commitmentFeerateSatPerVbyte: commitmentFeeSat / parentVsize,
        estimateSatPerVbyte,
        maxFeerateSatPerVbyte: maxFeerateForValue(stakeSat, parentVsize + ANCHOR_CPFP_CHILD_VSIZE, this.feePolicy.urgentMaxFeePercent),
        tipHeight: tip.height,
        current: row?.rawTx ? { feerateSatPerVbyte: row.feerateSatPerVbyte ?? 1, broadcastHeight: row.broadcastHeight ?? tip.height } : null,
      },
      this.feePolicy,
    );
    if (decision.action === 'keep' && row?.rawTx && !spender) await this.broadcast('urgent', row.rawTx); // vanished from the mempool
    if (decision.action !== 'sign') return;
    const view = channelView(ch.snapshot(), this.opts.lightningRootSecret);
    const funded = this.feeWallet(row?.rawTx ?? null, anchor.amountSat);
    const tx = buildAnchorCpfp(
      { commitment, commitmentFeeSat, anchorVout: anchor.index, anchorWitnessScript: anchor.witnessScript, fundingPrivkey: view.secrets.fundingPrivkey },
      { feerateSatPerVbyte: decision.feerateSatPerVbyte, destination: new Uint8Array(0), feeWallet: funded.feeWallet, replacedFeeSat: funded.replacedFeeSat },
    );
    if (!tx) return; // the wallet cannot pay: tried again on the next check
    const priorTxids = row?.txid ? [...row.priorTxids, row.txid] : [];
    this.store.save({
      outpoint,
      channelKeyIndex: ch.keyIndex,
      kind: 'anchor_cpfp',
      valueSat: anchor.amountSat,
      spendableHeight: tip.height + 1,
      txid: tx.getId(),
      rawTx: tx.toHex(),
      status: 'broadcast',
      confirmedHeight: null,
      feerateSatPerVbyte: decision.feerateSatPerVbyte,
      broadcastHeight: tip.height,
      priorTxids,
    });
    if (this.opts.wallet.getLabel(tx.getId()) === '') this.opts.wallet.setLabel(tx.getId(), SWEEP_LABELS.anchor_cpfp!);
    await this.broadcast('urgent', tx.toHex()); // recorded before it leaves the process
  }

  /**
   * The wallet as payer of option_anchors fees (HTLC transactions, anchor CPFP): its confirmed,
   * mature, unfrozen coins, and, when `replacedRawTx` (the version in the mempool, whose input 0
   * is worth `firstInputValueSat`) is replaced, the coins it spends and its fee (sweeps.ts
   * replacementFeeWallet, BIP 125). The anchor reserve (wallet/reserve.ts) is for exactly this:
   * these coins ignore it.
   */
  private feeWallet(replacedRawTx: string | null, firstInputValueSat: number): { feeWallet: FeeWallet; replacedFeeSat?: number } {
    const wallet = this.opts.wallet;
    const network = this.opts.network;
    const confirmed: FeeWallet = {
      coins: () =>
        wallet
          .listUnspent()
          .filter((u) => u.height > 0 && !u.frozen && !u.coinbase)
          .map((u) => ({ txid: u.txid, vout: u.vout, valueSat: u.valueSat, scriptPubKey: addressToScriptPubKey(u.address, network) })),
      changeScript: () => addressToScriptPubKey(wallet.getNewChangeAddress(), network),
      signPsbt: (psbt) => wallet.signPsbt(psbt),
    };
    if (replacedRawTx === null) return { feeWallet: confirmed };
    const walletOutput = (txid: string, vout: number) => {
      const out = wallet.knownOutput(txid, vout);
      return out && wallet.isMine(out.script) ? { valueSat: out.valueSat, scriptPubKey: out.script } : null;
    };
    const r = replacementFeeWallet(confirmed, Transaction.fromHex(replacedRawTx), firstInputValueSat, walletOutput);
    return r.replacedFeeSat === null ? { feeWallet: r.feeWallet } : { feeWallet: r.feeWallet, replacedFeeSat: r.replacedFeeSat };
  }

  /** Pre-signed transactions go to the server as they are; sweeps paying the wallet are recorded by it. */
  private async broadcast(urgency: SweepUrgency, rawTx: string): Promise<void> {
    try {
      if (urgency === 'presigned') await this.opts.chain.broadcast(rawTx);
      else await this.opts.wallet.broadcast(rawTx);
    } catch {
      // Rejected (e.g. a conflicting spend not seen yet) or offline: retried on the next check.
    }
  }

  /** Reports an outgoing HTLC settled on chain: the peer's spend revealing the preimage, or our timeout spend confirmed deep enough (onHtlcResolved). */
  private reportHtlc(ch: WatchedChannel, r: OutputResolution, spender: SpendInfo, ours: boolean): void {
    const key = `${r.prevout.txid}:${r.prevout.vout}`;
    if (this.reportedHtlcs.has(key)) return;
    const preimage = ours ? null : extractPreimage(spender.tx, r.prevout, r.paymentHash!);
    if (preimage) {
      this.reportedHtlcs.add(key);
      this.opts.onHtlcResolved?.({ channelKeyIndex: ch.keyIndex, paymentHash: r.paymentHash!, outcome: { kind: 'fulfilled', preimage: bytesToHex(preimage) } });
    } else if (ours && spender.confirmed && this.depthOf(spender.height) >= Math.min(ANTI_REORG_DEPTH, this.redeemDepth)) {
      this.reportedHtlcs.add(key);
      this.opts.onHtlcResolved?.({ channelKeyIndex: ch.keyIndex, paymentHash: r.paymentHash!, outcome: { kind: 'timed_out' } });
    }
  }
}
