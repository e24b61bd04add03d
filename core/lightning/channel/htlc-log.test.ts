import { describe, expect, it } from 'vitest';
import { HtlcLog, type HtlcLogState } from './htlc-log.js';

const ONION = 'ab'.repeat(1366);

function add(log: HtlcLog, by: 'local' | 'remote', htlcId: bigint, nextCtnOfOther: number): void {
  log.addHtlc(by, { htlcId, amountMsat: 1_000_000n + htlcId, paymentHash: htlcId.toString(16).padStart(64, '0'), cltvExpiry: 500, onion: ONION }, nextCtnOfOther);
}

/** The state with HTLCs in id order (a rollback may re-insert them in another order). */
function normalized(log: HtlcLog): HtlcLogState {
  const s = structuredClone(log.state());
  s.htlcs.sort((a, b) => (a.offeredBy + a.htlcId).localeCompare(b.offeredBy + b.htlcId));
  return s;
}

/** A log with one HTLC each way, both irrevocably committed at local ctn 2 / remote ctn 2. */
function logWithLockedHtlcs(): HtlcLog {
  const log = HtlcLog.create(253, 'local');
  add(log, 'local', 0n, 1); // enters remote #1
  add(log, 'remote', 0n, 1); // enters local #1
  log.onRevoked('remote', 1, 2); // ours enter local #2
  log.onRevoked('local', 1, 2); // theirs enter remote #2
  return log;
}

describe('HtlcLog transactions (undo journal)', () => {
  it('rollback undoes adds, removals, fee updates, revocations and settlement', () => {
    const log = logWithLockedHtlcs();
    const before = normalized(log);
    const mark = log.begin();
    add(log, 'local', 1n, 3);
    log.removeHtlc('local', 0n, { kind: 'fulfill', preimage: '11'.repeat(32) }, 3);
    log.removeHtlc('remote', 0n, { kind: 'fail', reason: '22' }, 3);
    log.updateFee('local', 1000, 3);
    log.onRevoked('remote', 3, 3);
    log.onRevoked('local', 3, 4);
    expect(log.takeSettled(4, 4)).toHaveLength(2);
    log.forgetSpentOnions(4, 4);
    log.reverseUnsigned('remote', 0);
    log.rollback(mark);
    expect(normalized(log)).toEqual(before);
    expect(log.nextHtlcId('local')).toBe(1n);
    expect(log.balancesIn('local', 2, { local: 10_000_000n, remote: 0n })).toEqual({ local: 10_000_000n - 1_000_000n, remote: -1_000_000n });
  });

  it('nests: an inner rollback keeps the outer changes, an outer rollback undoes both', () => {
    const log = HtlcLog.create(253, 'local');
    const empty = normalized(log);
    const outer = log.begin();
    add(log, 'local', 0n, 1);
    const inner = log.begin();
    add(log, 'local', 1n, 1);
    log.rollback(inner);
    expect(log.all().map((h) => h.htlcId)).toEqual([0n]);
    log.begin();
    add(log, 'local', 1n, 1);
    log.commit();
    expect(log.all().map((h) => h.htlcId)).toEqual([0n, 1n]);
    log.rollback(outer);
    expect(normalized(log)).toEqual(empty);
  });

  it('commit keeps the changes; outside a transaction nothing is journaled', () => {
    const log = HtlcLog.create(253, 'local');
    log.begin();
    add(log, 'local', 0n, 1);
    log.commit();
    add(log, 'local', 1n, 1);
    expect(log.all()).toHaveLength(2);
    expect(() => log.commit()).toThrow(/without begin/);
    expect(() => log.rollback(0)).toThrow(/without begin/);
  });

  it('forgetSpentOnions drops ours once irrevocably committed and theirs once removed, nothing else', () => {
    const log = logWithLockedHtlcs();
    add(log, 'local', 1n, 3); // not yet in any commitment: still needed for retransmission
    log.forgetSpentOnions(1, 1); // ours are in remote #1 but not yet in local #2
    expect(log.all().every((h) => h.onion === ONION)).toBe(true);
    log.forgetSpentOnions(2, 2);
    expect(log.get('local', 0n)!.onion).toBe('');
    expect(log.get('local', 1n)!.onion).toBe(ONION);
    expect(log.get('remote', 0n)!.onion).toBe(ONION); // not processed yet
    log.removeHtlc('local', 0n, { kind: 'fulfill', preimage: '11'.repeat(32) }, 3);
    const mark = log.begin();
    log.forgetSpentOnions(2, 2);
    expect(log.get('remote', 0n)!.onion).toBe('');
    log.rollback(mark);
    expect(log.get('remote', 0n)!.onion).toBe(ONION);
  });
});

describe('HtlcLog.onlyRemovalsFor', () => {
  it('holds while the updates entering a commitment only remove HTLCs; an add or an update_fee ends it', () => {
    const log = logWithLockedHtlcs();
    log.removeHtlc('local', 0n, { kind: 'fulfill', preimage: '11'.repeat(32) }, 3); // we settle their HTLC: enters remote #3
    expect(log.hasUpdatesFor('remote', 3)).toBe(true);
    expect(log.onlyRemovalsFor('remote', 3)).toBe(true);
    const mark = log.begin();
    add(log, 'local', 1n, 3);
    expect(log.onlyRemovalsFor('remote', 3)).toBe(false);
    log.rollback(mark);
    log.updateFee('local', 1000, 3);
    expect(log.onlyRemovalsFor('remote', 3)).toBe(false);
    expect(log.onlyRemovalsFor('local', 3)).toBe(true); // nothing enters our #3
  });
});
