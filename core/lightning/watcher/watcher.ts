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
import { channelView, classifyFundingSpend, type FundingSpend } from './commitments.js';
import { extractPreimage, resolutionsFor, type OutputResolution, type SweepKind } from './sweeps.js';
import { SweepStore, type SweepRow } from './store.js';
import { DEFAULT_SWEEP_FEE_POLICY, decideSweepFee, maxFeerateForValue, sweepFeeTarget, urgencyOf, type SweepFeePolicy } from './fee-policy.js';

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
  /** Where sweeps go (a fresh receive address) and how they are broadcast (recorded as the wallet's). */
  wallet: { getUnusedAddress(): string; broadcast(txHex: string): Promise<string> };
  network: NetworkName;
  lightningRootSecret: Uint8Array;
  /** The node's channels (read on every check). */
  channels: () => Iterable<WatchedChannel>;
  /** A channel's state changed (for UI events). */
  onChannelChanged?: (channel: WatchedChannel) => void;
  /** An outgoing HTLC was settled on chain (learned preimage, or timed out and confirmed). */
  onHtlcResolved?: (e: OnchainHtlcResolution) => void;
  /** Confirmations after which the channel is REDEEMED. Default 30 (reorg safety margin). */
  redeemDepth?: number;
  /** Overrides of DEFAULT_SWEEP_FEE_POLICY (fee-policy.ts); regtest tests shorten bumpAfterBlocks. */
  feePolicy?: Partial<SweepFeePolicy>;
}

const NEED_NO_WATCHING: readonly ChannelStateName[] = ['PREOPENING', 'REDEEMED'];

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
    this.unsubscribe = this.opts.chain.on((e) => chainEventConcerns(e, this.subscribed) && this.checks.schedule());
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
    if (!funding) return;
    const view = channelView(ch.snapshot(), this.opts.lightningRootSecret);
    const spend = classifyFundingSpend(view, funding.tx);
    const changed = this.updateState(ch, spend, funding);
    const resolutions = resolutionsFor(view, spend, funding.tx);
    let allResolved = funding.confirmed && this.depthOf(funding.height) >= this.redeemDepth;
    for (const r of resolutions) {
      const resolved = await this.resolve(ch, r, funding.confirmed ? funding.height : null);
      allResolved &&= resolved;
    }
    if (allResolved) ch.markOnchainClose('REDEEMED', null);
    if (changed || allResolved) this.opts.onChannelChanged?.(ch);
  }

  /** FORCE_CLOSING when a commitment is seen, CLOSED once the spend is confirmed. Returns whether the state changed. */
  private updateState(ch: WatchedChannel, spend: FundingSpend, funding: SpendInfo): boolean {
    const before = ch.state;
    const txHex = funding.tx.toHex();
    if (funding.confirmed) ch.markOnchainClose('CLOSED', txHex);
    else if (spend.kind !== 'mutual') ch.markOnchainClose('FORCE_CLOSING', txHex);
    return ch.state !== before;
  }

  /**
   * Resolves one output: finds who spent it (learning a preimage from the peer's spend), follows
   * a second-stage output, or builds, records and broadcasts our sweep once it is valid in the
   * next block, at the feerate of the fee policy (an urgent sweep still unconfirmed is replaced
   * by RBF). Returns true when the output is settled `redeemDepth` deep (or not worth a sweep).
   */
  private async resolve(ch: WatchedChannel, r: OutputResolution, parentHeight: number | null): Promise<boolean> {
    const outpoint = `${r.prevout.txid}:${r.prevout.vout}`;
    let row = this.store.get(outpoint);
    const spender = await this.findSpender(r.scriptPubKey, r.prevout.txid, r.prevout.vout);
    if (spender) {
      const spenderTxid = spender.tx.getId();
      const ours = row !== null && (row.txid === spenderTxid || row.priorTxids.includes(spenderTxid));
      if (r.paymentHash && r.outgoingHtlcId !== null) this.reportHtlc(ch, r, spender, ours);
      if (row) {
        const status = ours ? (spender.confirmed ? 'confirmed' : 'broadcast') : 'spent_by_other';
        const confirmedHeight = spender.confirmed ? spender.height : null;
        // An earlier version (replaced by RBF) confirmed after all: it becomes the row's transaction.
        const version = ours && row.txid !== spenderTxid ? { txid: spenderTxid, rawTx: spender.tx.toHex(), priorTxids: row.priorTxids.filter((t) => t !== spenderTxid).concat(row.txid ?? []) } : {};
        if (row.status !== status || row.confirmedHeight !== confirmedHeight || 'txid' in version) {
          row = { ...row, ...version, status, confirmedHeight };
          this.store.save(row);
        }
      }
      if (ours && !spender.confirmed && row && r.build && urgencyOf(r.kind!) === 'urgent') await this.feeStep(r, row, parentHeight);
      let settled = spender.confirmed && this.depthOf(spender.height) >= this.redeemDepth;
      const next = r.next?.(spender.tx) ?? null;
      if (next) settled = (await this.resolve(ch, next, spender.confirmed ? spender.height : null)) && settled;
      return settled;
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
    if (current.spendableHeight !== spendableHeight && current.rawTx === null) current = { ...current, spendableHeight };
    if (!row || row.spendableHeight !== current.spendableHeight) this.store.save(current);
    if (spendableHeight === null || tip.height + 1 < spendableHeight) return false;
    if (current.rawTx !== null && current.status !== 'broadcast') {
      current = { ...current, status: 'broadcast', confirmedHeight: null }; // its earlier spend vanished (reorg or eviction)
      this.store.save(current);
    }
    if (urgencyOf(r.kind) === 'presigned') {
      if (current.rawTx === null) {
        const tx = r.build({ feerateSatPerVbyte: 0, destination: new Uint8Array(0) })!;
        current = { ...current, txid: tx.getId(), rawTx: tx.toHex(), status: 'broadcast', broadcastHeight: tip.height };
        this.store.save(current); // recorded before it leaves the process
      }
      await this.broadcast(r.kind, current.rawTx!);
      return false;
    }
    const result = await this.feeStep(r, current, parentHeight);
    if (result === 'dust') return true;
    if (result === 'keep' && current.rawTx !== null) await this.broadcast(r.kind, current.rawTx);
    return false;
  }

  /**
   * Applies the fee policy to a wallet-paying sweep: signs its first version, or replaces the
   * unconfirmed one with a higher feerate (same input, BIP 125), recording the new version before
   * broadcasting it. Returns 'dust' when the output is not worth a sweep, 'wait' when a patient
   * sweep waits for lower fees, 'keep' when the current version stays, 'signed' after a broadcast.
   */
  private async feeStep(r: OutputResolution, row: SweepRow, parentHeight: number | null): Promise<'dust' | 'wait' | 'keep' | 'signed'> {
    const urgency = urgencyOf(r.kind!);
    if (urgency === 'presigned') return 'keep';
    const tip = this.opts.chain.tip()!;
    const destination = addressToScriptPubKey(this.opts.wallet.getUnusedAddress(), this.opts.network);
    const probe = r.build!({ feerateSatPerVbyte: 1, destination });
    if (!probe) {
      if (row.rawTx !== null) return 'keep';
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
    const tx = r.build!({ feerateSatPerVbyte: decision.feerateSatPerVbyte, destination });
    if (!tx) return row.rawTx !== null ? 'keep' : 'wait';
    const priorTxids = row.txid !== null ? [...row.priorTxids, row.txid] : row.priorTxids;
    this.store.save({ ...row, txid: tx.getId(), rawTx: tx.toHex(), status: 'broadcast', confirmedHeight: null, feerateSatPerVbyte: decision.feerateSatPerVbyte, broadcastHeight: tip.height, priorTxids });
    await this.broadcast(r.kind!, tx.toHex()); // recorded before it leaves the process
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

  private async broadcast(kind: SweepKind, rawTx: string): Promise<void> {
    try {
      if (urgencyOf(kind) === 'presigned') await this.opts.chain.broadcast(rawTx);
      else await this.opts.wallet.broadcast(rawTx);
    } catch {
      // Rejected (e.g. a conflicting spend not seen yet) or offline: retried on the next check.
    }
  }

  /** Reports an outgoing HTLC settled on chain: the peer's spend revealing the preimage, or our timeout spend confirmed. */
  private reportHtlc(ch: WatchedChannel, r: OutputResolution, spender: SpendInfo, ours: boolean): void {
    const key = `${r.prevout.txid}:${r.prevout.vout}`;
    if (this.reportedHtlcs.has(key)) return;
    const preimage = ours ? null : extractPreimage(spender.tx, r.prevout, r.paymentHash!);
    if (preimage) {
      this.reportedHtlcs.add(key);
      this.opts.onHtlcResolved?.({ channelKeyIndex: ch.keyIndex, paymentHash: r.paymentHash!, outcome: { kind: 'fulfilled', preimage: bytesToHex(preimage) } });
    } else if (ours && spender.confirmed) {
      this.reportedHtlcs.add(key);
      this.opts.onHtlcResolved?.({ channelKeyIndex: ch.keyIndex, paymentHash: r.paymentHash!, outcome: { kind: 'timed_out' } });
    }
  }
}
