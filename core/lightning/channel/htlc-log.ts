import { FulmenError } from '../../util/errors.js';

/**
 * HtlcLog (Electrum's lnhtlc): every update of a channel (HTLC adds, their removals, fee updates)
 * with the commitment number (ctn) at which it first appears in each side's commitment
 * transaction. Which HTLCs, balances and feerate a given commitment (side, ctn) has is computed
 * from the log, so both commitments, retransmission after reconnect and "irrevocably committed"
 * questions have one source of truth.
 *
 * Ctn assignment (BOLT 2 "Normal Operation"): an update proposed by X first enters the
 * commitment of the other side Y, at Y's next ctn; once Y revokes the commitment before it, the
 * update enters X's next commitment.
 */

export type Side = 'local' | 'remote';

export const otherSide = (s: Side): Side => (s === 'local' ? 'remote' : 'local');

/** Ctn at which an update appears in each side's commitment; null: not yet. */
export interface CtnPair {
  local: number | null;
  remote: number | null;
}

export type HtlcRemoval =
  | { kind: 'fulfill'; preimage: string; seq: number; ctn: CtnPair }
  | { kind: 'fail'; reason: string; seq: number; ctn: CtnPair }
  | { kind: 'fail_malformed'; sha256OfOnion: string; failureCode: number; seq: number; ctn: CtnPair };

export interface HtlcRecord {
  htlcId: bigint;
  /** Who sent update_add_htlc. */
  offeredBy: Side;
  amountMsat: bigint;
  /** 32-byte hex. */
  paymentHash: string;
  cltvExpiry: number;
  /**
   * 1366-byte onion, hex (kept to retransmit the identical update_add_htlc, or to process it);
   * '' once no longer needed (HtlcLog.forgetSpentOnions) and in archived records.
   */
  onion: string;
  /** Order in which updates were sent/received on this channel. */
  seq: number;
  lockedIn: CtnPair;
  removal?: HtlcRemoval;
  /**
   * Set on an HTLC the peer offered that, trimmed to dust, took a commitment's dust exposure past
   * max_dust_htlc_exposure_msat (channel.ts onUpdateAddHtlc): to fail once committed, never fulfil.
   */
  dustExposureExceeded?: true;
}

export interface FeeUpdate {
  feeratePerKw: number;
  proposer: Side;
  seq: number;
  ctn: CtnPair;
}

/** A pending update of one side in the order it was sent (for retransmission). */
export type LoggedUpdate =
  | { kind: 'add'; htlc: HtlcRecord }
  | { kind: 'remove'; htlc: HtlcRecord; removal: HtlcRemoval }
  | { kind: 'fee'; fee: FeeUpdate };

function appearsBy(ctnOf: number | null, ctn: number): boolean {
  return ctnOf !== null && ctnOf <= ctn;
}

export interface HtlcLogState {
  htlcs: HtlcRecord[];
  fees: FeeUpdate[];
  nextSeq: number;
  /**
   * Net balance change (msat) of each side from settled HTLCs taken out of the log
   * (`takeSettled`, kept append-only by the store); absent = none taken out.
   */
  settledMsat?: { local: bigint; remote: bigint };
  /** Per offerer, one more than the highest htlc_id among the settled HTLCs taken out. */
  settledNextHtlcId?: { local: bigint; remote: bigint };
}

/**
 * Live HTLCs only: settled ones (removal irrevocably committed in both current commitments) are
 * taken out by `takeSettled` and folded into `settledMsat`, so every update costs O(HTLCs in
 * flight), not O(channel history). Commitments older than the current ones (the watcher's
 * revoked states) need the full log: build it from the store's archive plus this (no
 * settledMsat), as Channel.snapshot() does.
 */
export class HtlcLog {
  private readonly htlcs = new Map<string, HtlcRecord>();
  private fees: FeeUpdate[];
  private nextSeq: number;
  private settledMsat: { local: bigint; remote: bigint };
  private settledNextHtlcId: { local: bigint; remote: bigint };
  /** nextHtlcId per offerer, cached (null: recompute); dropped whenever a record leaves the map. */
  private nextHtlcIdCache: { local: bigint | null; remote: bigint | null } = { local: null, remote: null };
  /** Undo steps of the open transactions (`begin`), oldest first; null when none is open. */
  private journal: (() => void)[] | null = null;
  /** Open (nested) transactions. */
  private depth = 0;

  constructor(state: HtlcLogState) {
    for (const h of state.htlcs) this.htlcs.set(HtlcLog.key(h.offeredBy, h.htlcId), h);
    this.fees = state.fees;
    this.nextSeq = state.nextSeq;
    this.settledMsat = state.settledMsat ? { ...state.settledMsat } : { local: 0n, remote: 0n };
    this.settledNextHtlcId = state.settledNextHtlcId ? { ...state.settledNextHtlcId } : { local: 0n, remote: 0n };
  }

  /**
   * Opens a transaction (the rollback point of a channel update; may nest): from now on every
   * change records how to undo it, so `rollback` costs O(changes) and `begin` O(1), whatever the
   * number of HTLCs in flight. @returns the mark to pass to `rollback`.
   */
  begin(): number {
    if (this.depth++ === 0) this.journal = [];
    return this.journal!.length;
  }

  /** Closes the innermost transaction, keeping its changes. */
  commit(): void {
    if (this.depth === 0) throw new FulmenError('INTERNAL', 'HtlcLog.commit without begin');
    if (--this.depth === 0) this.journal = null;
  }

  /** Undoes every change since `begin` returned `mark` (newest first) and closes that transaction. */
  rollback(mark: number): void {
    if (this.depth === 0) throw new FulmenError('INTERNAL', 'HtlcLog.rollback without begin');
    const journal = this.journal!;
    while (journal.length > mark) journal.pop()!();
    if (--this.depth === 0) this.journal = null;
  }

  /** Records how to undo a change about to be made (only inside a transaction). */
  private undo(step: () => void): void {
    this.journal?.push(step);
  }

  /** Sets `ctn[side]`, journaled. */
  private setCtn(ctn: CtnPair, side: Side, value: number | null): void {
    const old = ctn[side];
    this.undo(() => (ctn[side] = old));
    ctn[side] = value;
  }

  /** Removes an HTLC record, journaled. */
  private deleteHtlc(key: string, h: HtlcRecord): void {
    this.undo(() => {
      this.htlcs.set(key, h);
      this.nextHtlcIdCache = { local: null, remote: null };
    });
    this.htlcs.delete(key);
    this.nextHtlcIdCache = { local: null, remote: null };
  }

  /** Removes a removal (BOLT 2 reversal of an unsigned update), journaled. */
  private clearRemoval(h: HtlcRecord): void {
    const removal = h.removal;
    this.undo(() => (h.removal = removal));
    delete h.removal;
  }

  /** Replaces the fee list, journaled (the old list's records stay as they are). */
  private setFees(fees: FeeUpdate[]): void {
    const old = this.fees;
    this.undo(() => (this.fees = old));
    this.fees = fees;
  }

  /** Takes the next update sequence number, journaled. */
  private takeSeq(): number {
    const seq = this.nextSeq++;
    this.undo(() => (this.nextSeq = seq));
    return seq;
  }

  /**
   * Takes out the HTLCs whose removal is in both current commitments (`localCtn`, `remoteCtn`),
   * which both sides have revoked every commitment with the HTLC in: they can no longer change
   * any current or future commitment. Their balance effect moves into `settledMsat`; the caller
   * stores them append-only (the watcher needs them for revoked commitments).
   */
  takeSettled(localCtn: number, remoteCtn: number, offeredBy?: Side): HtlcRecord[] {
    const out: HtlcRecord[] = [];
    for (const [key, h] of this.htlcs) {
      const r = h.removal;
      if (!r || (offeredBy && h.offeredBy !== offeredBy)) continue;
      if (!appearsBy(r.ctn.local, localCtn) || !appearsBy(r.ctn.remote, remoteCtn)) continue;
      this.deleteHtlc(key, h);
      const settledMsat = { ...this.settledMsat };
      const settledNextHtlcId = { ...this.settledNextHtlcId };
      this.undo(() => {
        this.settledMsat = settledMsat;
        this.settledNextHtlcId = settledNextHtlcId;
      });
      this.settledMsat[h.offeredBy] -= h.amountMsat;
      if (r.kind === 'fulfill') this.settledMsat[otherSide(h.offeredBy)] += h.amountMsat;
      else this.settledMsat[h.offeredBy] += h.amountMsat;
      if (h.htlcId >= this.settledNextHtlcId[h.offeredBy]) this.settledNextHtlcId[h.offeredBy] = h.htlcId + 1n;
      out.push(h);
    }
    return out;
  }

  /**
   * Forgets onions that can no longer be needed (the record keeps `onion: ''`): ours once the
   * HTLC is irrevocably committed (in both current commitments, `localCtn` and `remoteCtn`: never
   * retransmitted after that, BOLT 2 channel_reestablish), the peer's once we fulfilled or failed
   * it (already processed). Keeps the stored channel row small while many HTLCs are in flight.
   */
  forgetSpentOnions(localCtn: number, remoteCtn: number): void {
    for (const h of this.htlcs.values()) {
      if (h.onion === '') continue;
      const spent = h.offeredBy === 'local' ? appearsBy(h.lockedIn.local, localCtn) && appearsBy(h.lockedIn.remote, remoteCtn) : h.removal !== undefined;
      if (!spent) continue;
      const onion = h.onion;
      this.undo(() => (h.onion = onion));
      h.onion = '';
    }
  }

  /** Log of a new channel whose commitments #0 use `feeratePerKw`. */
  static create(initialFeeratePerKw: number, funder: Side): HtlcLog {
    return new HtlcLog({ htlcs: [], fees: [{ feeratePerKw: initialFeeratePerKw, proposer: funder, seq: 0, ctn: { local: 0, remote: 0 } }], nextSeq: 1 });
  }

  private static key(offeredBy: Side, htlcId: bigint): string {
    return `${offeredBy}:${htlcId}`;
  }

  state(): HtlcLogState {
    return {
      htlcs: [...this.htlcs.values()],
      fees: this.fees,
      nextSeq: this.nextSeq,
      settledMsat: { ...this.settledMsat },
      settledNextHtlcId: { ...this.settledNextHtlcId },
    };
  }

  get(offeredBy: Side, htlcId: bigint): HtlcRecord | undefined {
    return this.htlcs.get(HtlcLog.key(offeredBy, htlcId));
  }

  /** How many HTLCs the log holds (live ones and those not yet archived). */
  count(): number {
    return this.htlcs.size;
  }

  all(): HtlcRecord[] {
    return [...this.htlcs.values()];
  }

  /** Next htlc_id `offeredBy` must use (BOLT 2: 0, then +1 each offer, never reset). */
  nextHtlcId(offeredBy: Side): bigint {
    const cached = this.nextHtlcIdCache[offeredBy];
    if (cached !== null) return cached;
    let next = this.settledNextHtlcId[offeredBy];
    for (const h of this.htlcs.values()) if (h.offeredBy === offeredBy && h.htlcId >= next) next = h.htlcId + 1n;
    this.nextHtlcIdCache[offeredBy] = next;
    return next;
  }

  /**
   * Records an update_add_htlc proposed by `by`; it enters the other side's commitment at
   * `nextCtnOfOther`.
   */
  addHtlc(by: Side, h: Omit<HtlcRecord, 'offeredBy' | 'seq' | 'lockedIn' | 'removal'>, nextCtnOfOther: number): HtlcRecord {
    const key = HtlcLog.key(by, h.htlcId);
    if (this.htlcs.has(key)) throw new FulmenError('PROTOCOL', 'Duplicate HTLC id');
    const lockedIn: CtnPair = by === 'local' ? { local: null, remote: nextCtnOfOther } : { local: nextCtnOfOther, remote: null };
    const rec: HtlcRecord = { ...h, offeredBy: by, seq: this.takeSeq(), lockedIn };
    this.undo(() => {
      this.htlcs.delete(key);
      this.nextHtlcIdCache[by] = null;
    });
    this.htlcs.set(key, rec);
    const cached = this.nextHtlcIdCache[by];
    if (cached !== null && h.htlcId >= cached) this.nextHtlcIdCache[by] = h.htlcId + 1n;
    return rec;
  }

  /** Records a fulfill/fail proposed by `by` for an HTLC offered by the other side. */
  removeHtlc(by: Side, htlcId: bigint, removal: DistributiveOmit<HtlcRemoval, 'seq' | 'ctn'>, nextCtnOfOther: number): HtlcRecord {
    const h = this.get(otherSide(by), htlcId);
    if (!h) throw new FulmenError('PROTOCOL', `Unknown HTLC id ${htlcId}`);
    if (h.removal) throw new FulmenError('PROTOCOL', `HTLC ${htlcId} was already removed`);
    const ctn: CtnPair = by === 'local' ? { local: null, remote: nextCtnOfOther } : { local: nextCtnOfOther, remote: null };
    const seq = this.takeSeq();
    this.undo(() => delete h.removal);
    h.removal = { ...removal, seq, ctn } as HtlcRemoval;
    return h;
  }

  /** Records update_fee proposed by `by`. */
  updateFee(by: Side, feeratePerKw: number, nextCtnOfOther: number): void {
    const ctn: CtnPair = by === 'local' ? { local: null, remote: nextCtnOfOther } : { local: nextCtnOfOther, remote: null };
    // A later update_fee replaces an earlier one not yet in any commitment (BOLT 2 update_fee).
    const seq = this.takeSeq();
    this.setFees([...this.fees.filter((f) => !(f.proposer === by && f.ctn.local === null && f.ctn.remote === null)), { feeratePerKw, proposer: by, seq, ctn }]);
  }

  /**
   * Side `revoker` revoked its commitment; its new current ctn is `revokerCtn`. Updates proposed
   * by the other side that are in that commitment now enter the other side's commitment at
   * `nextCtnOfProposer`.
   */
  onRevoked(revoker: Side, revokerCtn: number, nextCtnOfProposer: number): void {
    const proposer = otherSide(revoker);
    const lock = (ctn: CtnPair) => {
      if (ctn[proposer] === null && appearsBy(ctn[revoker], revokerCtn)) this.setCtn(ctn, proposer, nextCtnOfProposer);
    };
    for (const h of this.htlcs.values()) {
      if (h.offeredBy === proposer) lock(h.lockedIn);
      else if (h.removal) lock(h.removal.ctn);
    }
    for (const f of this.fees) if (f.proposer === proposer) lock(f.ctn);
  }

  /**
   * BOLT 2 "upon disconnection: MUST reverse any uncommitted updates sent by the other side":
   * drops updates by `by` that no commitment_signed of theirs covered (not in `other`'s commitment
   * up to `signedCtnOfOther`).
   */
  reverseUnsigned(by: Side, signedCtnOfOther: number): void {
    const other = otherSide(by);
    const unsigned = (ctn: CtnPair) => ctn[by] === null && !appearsBy(ctn[other], signedCtnOfOther);
    for (const [key, h] of this.htlcs) {
      if (h.offeredBy === by && unsigned(h.lockedIn)) this.deleteHtlc(key, h);
      else if (h.offeredBy === other && h.removal && unsigned(h.removal.ctn)) this.clearRemoval(h);
    }
    this.setFees(this.fees.filter((f) => !(f.proposer === by && unsigned(f.ctn))));
  }

  /**
   * The commitment of `owner` at `ctn` in one pass over the live HTLCs: the HTLCs in it and both
   * sides' balances (msat, before commitment fees), starting from the balances of commitment #0.
   */
  commitmentIn(owner: Side, ctn: number, initial: { local: bigint; remote: bigint }): { htlcs: HtlcRecord[]; balances: { local: bigint; remote: bigint } } {
    const htlcs: HtlcRecord[] = [];
    const balances = { local: initial.local + this.settledMsat.local, remote: initial.remote + this.settledMsat.remote };
    for (const h of this.htlcs.values()) {
      if (!appearsBy(h.lockedIn[owner], ctn)) continue;
      balances[h.offeredBy] -= h.amountMsat;
      const r = h.removal;
      if (r && appearsBy(r.ctn[owner], ctn)) balances[r.kind === 'fulfill' ? otherSide(h.offeredBy) : h.offeredBy] += h.amountMsat;
      else htlcs.push(h);
    }
    return { htlcs, balances };
  }

  /** Whether `h` is in the commitment of `owner` at `ctn` (added by then, not yet removed). */
  static inCommitment(h: HtlcRecord, owner: Side, ctn: number): boolean {
    return appearsBy(h.lockedIn[owner], ctn) && !(h.removal && appearsBy(h.removal.ctn[owner], ctn));
  }

  /** HTLCs in the commitment of `owner` at `ctn` (commitmentIn). */
  htlcsIn(owner: Side, ctn: number): HtlcRecord[] {
    return this.commitmentIn(owner, ctn, { local: 0n, remote: 0n }).htlcs;
  }

  /** Balances (msat, before commitment fees) in the commitment of `owner` at `ctn` (commitmentIn). */
  balancesIn(owner: Side, ctn: number, initial: { local: bigint; remote: bigint }): { local: bigint; remote: bigint } {
    return this.commitmentIn(owner, ctn, initial).balances;
  }

  /** Feerate of the commitment of `owner` at `ctn`. */
  feerateIn(owner: Side, ctn: number): number {
    let best: FeeUpdate | undefined;
    for (const f of this.fees) if (appearsBy(f.ctn[owner], ctn) && (!best || f.seq > best.seq)) best = f;
    if (!best) throw new FulmenError('INTERNAL', 'No feerate for commitment');
    return best.feeratePerKw;
  }

  /** True if some update is waiting to enter `owner`'s commitment at `ctn` (something to sign). */
  hasUpdatesFor(owner: Side, ctn: number): boolean {
    const at = (c: CtnPair) => c[owner] === ctn;
    for (const h of this.htlcs.values()) {
      if (at(h.lockedIn) || (h.removal && at(h.removal.ctn))) return true;
    }
    return this.fees.some((f) => at(f.ctn));
  }

  /** Whether the updates entering `owner`'s commitment at `ctn` are only HTLC removals (no add, no update_fee). */
  onlyRemovalsFor(owner: Side, ctn: number): boolean {
    for (const h of this.htlcs.values()) if (h.lockedIn[owner] === ctn) return false;
    return !this.fees.some((f) => f.ctn[owner] === ctn);
  }

  /** Updates proposed by `by` that enter the other side's commitment at ctn >= `fromCtn`, in send order. */
  updatesBy(by: Side, fromCtn: number): { ctn: number; update: LoggedUpdate }[] {
    const other = otherSide(by);
    const out: { ctn: number; seq: number; update: LoggedUpdate }[] = [];
    for (const h of this.htlcs.values()) {
      if (h.offeredBy === by && h.lockedIn[other] !== null && h.lockedIn[other]! >= fromCtn) {
        out.push({ ctn: h.lockedIn[other]!, seq: h.seq, update: { kind: 'add', htlc: h } });
      }
      if (h.offeredBy === other && h.removal && h.removal.ctn[other] !== null && h.removal.ctn[other]! >= fromCtn) {
        out.push({ ctn: h.removal.ctn[other]!, seq: h.removal.seq, update: { kind: 'remove', htlc: h, removal: h.removal } });
      }
    }
    for (const f of this.fees) {
      if (f.proposer === by && f.seq > 0 && f.ctn[other] !== null && f.ctn[other]! >= fromCtn) out.push({ ctn: f.ctn[other]!, seq: f.seq, update: { kind: 'fee', fee: f } });
    }
    out.sort((a, b) => a.seq - b.seq);
    return out.map(({ ctn, update }) => ({ ctn, update }));
  }
}

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
