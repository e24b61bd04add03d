import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { openDatabase, type Db } from '../../storage/db.js';
import { Channel, type ChannelContext } from './channel.js';
import { channelContext, deliver, openChannelPair, reloadChannel } from './test-support.js';
import type { ChannelMessage } from '../wire/messages.js';
import { parseCrashSpec } from '../crashpoints.js';

/**
 * A process killed at any instant restarts from its last committed channel state, without the
 * `onDisconnected` a clean disconnection runs. These tests replay such restarts with two real
 * Channel engines (each on its own SQLite database) wired back to back.
 */

const FUNDING_TXID = 'bb'.repeat(31) + '02';

interface Node {
  db: Db;
  ctx: ChannelContext;
  channel: Channel;
}

function node(seed: number): { db: Db; ctx: ChannelContext } {
  const db = openDatabase(':memory:');
  return { db, ctx: channelContext(seed, db) };
}

function openPair(): { a: Node; b: Node } {
  const na = node(7);
  const nb = node(8);
  const { a, b } = openChannelPair(na.ctx, nb.ctx, FUNDING_TXID, { pushMsat: 0n });
  return { a: { ...na, channel: a }, b: { ...nb, channel: b } };
}

/** What a restart does: the channel as last committed to SQLite. */
function restart(n: Node): void {
  n.channel = reloadChannel(n.db, n.ctx);
}

/** Delivers `toB` / `toA` and everything they cause (signing after each message) until quiet. */
function run(p: { a: Node; b: Node }, toB: ChannelMessage[] = [], toA: ChannelMessage[] = []): void {
  for (let i = 0; i < 200; i++) {
    const sa = p.a.channel.signNextCommitment();
    if (sa) toB.push(sa);
    const sb = p.b.channel.signNextCommitment();
    if (sb) toA.push(sb);
    if (toB.length) toA.push(...deliver(p.b.channel, toB.shift()!));
    else if (toA.length) toB.push(...deliver(p.a.channel, toA.shift()!));
    else return;
  }
  throw new Error('did not settle');
}

function reestablish(p: { a: Node; b: Node }): { toA: ChannelMessage[]; toB: ChannelMessage[] } {
  const reA = p.a.channel.reestablishMessage();
  const reB = p.b.channel.reestablishMessage();
  return { toB: p.a.channel.onChannelReestablish(reB), toA: p.b.channel.onChannelReestablish(reA) };
}

function payAtoB(p: { a: Node; b: Node }, amountMsat: bigint): { id: bigint; preimage: Uint8Array; paymentHash: string } {
  const preimage = randomBytes(32);
  const add = p.a.channel.addHtlc({ amountMsat, paymentHash: sha256(preimage), cltvExpiry: 500, onion: randomBytes(1366) });
  run(p, [add]);
  expect(p.b.channel.pendingIncomingHtlcs().map((h) => h.htlcId)).toEqual([add.id]);
  return { id: add.id, preimage, paymentHash: bytesToHex(sha256(preimage)) };
}

describe('restart after a crash (channel state as last committed)', () => {
  it('payer killed after committing a received update_fulfill_htlc: the retransmitted fulfill is accepted once the restart drops the unsigned one', () => {
    const p = openPair();
    const { id, preimage, paymentHash } = payAtoB(p, 30_000_000n);
    const fulfill = p.b.channel.fulfillHtlc(id, preimage);
    p.a.channel.onUpdateFulfillHtlc(fulfill); // committed by A; A dies before B's commitment_signed
    restart(p.a);
    p.b.channel.onDisconnected(); // B saw the connection drop

    // Without the disconnection step, A still holds B's unsigned fulfill and the retransmission
    // looks like a second removal: a PROTOCOL error, which the node answers by failing the channel.
    const first = reestablish(p);
    expect(first.toA.map((m) => m.type)).toEqual(['update_fulfill_htlc']);
    expect(() => p.a.channel.onUpdateFulfillHtlc(first.toA[0] as Extract<ChannelMessage, { type: 'update_fulfill_htlc' }>)).toThrow(/already removed/);

    // What node.ts start() does for every active channel: a restart is a disconnection.
    restart(p.a);
    p.a.channel.onDisconnected();
    const again = reestablish(p);
    expect(again.toA.map((m) => m.type)).toEqual(['update_fulfill_htlc']);
    run(p, again.toB, again.toA);
    expect(p.a.channel.balances()).toEqual({ localMsat: 970_000_000n, remoteMsat: 30_000_000n });
    expect(p.b.channel.balances()).toEqual({ localMsat: 30_000_000n, remoteMsat: 970_000_000n });
    expect(p.a.channel.outgoingHtlcOutcomes(paymentHash)).toEqual([{ htlcId: id, outcome: { kind: 'fulfilled', preimage: bytesToHex(preimage) } }]);
  });

  it('payee killed after committing its commitment_signed for a fulfill: it resends the signature and the payment completes', () => {
    const p = openPair();
    const { id, preimage } = payAtoB(p, 10_000_000n);
    const fulfill = p.b.channel.fulfillHtlc(id, preimage);
    p.b.channel.signNextCommitment(); // committed, never sent
    restart(p.b);
    p.b.channel.onDisconnected();
    p.a.channel.onDisconnected();
    const { toA, toB } = reestablish(p);
    expect(toA.map((m) => m.type)).toEqual([fulfill.type, 'commitment_signed']);
    run(p, toB, toA);
    expect(p.a.channel.balances().localMsat).toBe(990_000_000n);
    expect(p.b.channel.balances().localMsat).toBe(10_000_000n);
  });

  it('payer killed twice around a received update_fail_htlc: the peer answers its retransmitted commitment_signed with one revoke_and_ack', () => {
    // e2e/crash/kill-points.itest.ts: alice received:update_fail_htlc:1, then
    // received-persisted:update_fail_htlc:1 during the recovery, then a restart.
    const p = openPair();
    const paid = payAtoB(p, 3_000_000n);
    run(p, [], [p.b.channel.fulfillHtlc(paid.id, paid.preimage)]);
    const { id, paymentHash } = payAtoB(p, 5_000_000n);
    const fail = p.b.channel.failHtlc(id, new Uint8Array(292));
    const signedByB = p.b.channel.signNextCommitment()!;
    // Kill 1: A dies on receiving B's update_fail_htlc (nothing of it stored).
    restart(p.a);
    p.a.channel.onDisconnected();
    p.b.channel.onDisconnected();
    const second = reestablish(p);
    expect(second.toA).toEqual([fail, signedByB]);
    expect(second.toB).toEqual([]);
    // Kill 2: A stores the failure, its revoke_and_ack and its commitment_signed, and dies before sending them.
    const revokeByA = deliver(p.a.channel, fail).concat(deliver(p.a.channel, signedByB));
    expect(revokeByA.map((m) => m.type)).toEqual(['revoke_and_ack']);
    expect(p.a.channel.signNextCommitment()?.type).toBe('commitment_signed');
    restart(p.a);
    p.a.channel.onDisconnected();
    p.b.channel.onDisconnected();

    // Restart: A reads B's channel_reestablish first and retransmits, in the original order.
    const toB = p.a.channel.onChannelReestablish(p.b.channel.reestablishMessage());
    expect(toB.map((m) => m.type)).toEqual(['revoke_and_ack', 'commitment_signed']);
    // Had they reached B before A's channel_reestablish, B would answer the commitment_signed and
    // then retransmit that revoke_and_ack for A's next_revocation_number: a duplicate that fails
    // the channel. B refuses them instead (the node drops the connection) and changes nothing.
    const before = p.b.channel.snapshot();
    expect(() => deliver(p.b.channel, toB[0]!)).toThrow(/before channel_reestablish/);
    expect(() => deliver(p.b.channel, toB[1]!)).toThrow(/before channel_reestablish/);
    expect(p.b.channel.snapshot()).toEqual(before);

    // In order (node.ts attachPeer sends channel_reestablish first): nothing to retransmit from B.
    expect(p.b.channel.onChannelReestablish(p.a.channel.reestablishMessage())).toEqual([]);
    const toA: ChannelMessage[] = [];
    for (const m of toB) toA.push(...deliver(p.b.channel, m));
    expect(toA.map((m) => m.type)).toEqual(['revoke_and_ack']);
    run(p, [], toA);
    expect(p.a.channel.outgoingHtlcOutcomes(paymentHash)).toEqual([{ htlcId: id, outcome: { kind: 'failed', reason: bytesToHex(new Uint8Array(292)) } }]);
    expect(p.a.channel.balances()).toEqual({ localMsat: 997_000_000n, remoteMsat: 3_000_000n });
    expect(p.b.channel.balances()).toEqual({ localMsat: 3_000_000n, remoteMsat: 997_000_000n });
    expect([p.a.channel.localCtn, p.a.channel.remoteCtn]).toEqual([p.b.channel.remoteCtn, p.b.channel.localCtn]);
  });

  it('refuses updates on a reconnected channel until the peer sent channel_reestablish', () => {
    const p = openPair();
    p.a.channel.onDisconnected();
    p.b.channel.onDisconnected();
    const add = p.a.channel.addHtlc({ amountMsat: 1_000_000n, paymentHash: sha256(randomBytes(32)), cltvExpiry: 500, onion: randomBytes(1366) });
    expect(() => p.b.channel.onUpdateAddHtlc(add)).toThrow(expect.objectContaining({ code: 'CHANNEL_STATE' }));
    const { toA, toB } = reestablish(p);
    run(p, [...toB, add], toA);
    expect(p.b.channel.pendingIncomingHtlcs().map((h) => h.htlcId)).toEqual([add.id]);
  });

  it('reports outgoing HTLC outcomes per payment hash: in flight, then failed once irrevocably removed', () => {
    const p = openPair();
    const { id, paymentHash } = payAtoB(p, 5_000_000n);
    expect(p.a.channel.outgoingHtlcOutcomes(paymentHash)).toEqual([{ htlcId: id, outcome: null }]);
    const fail = p.b.channel.failHtlc(id, new Uint8Array(292));
    p.a.channel.onUpdateFailHtlc(fail);
    expect(p.a.channel.outgoingHtlcOutcomes(paymentHash)[0]!.outcome).toBeNull(); // not final yet
    run(p);
    expect(p.a.channel.outgoingHtlcOutcomes(paymentHash)).toEqual([{ htlcId: id, outcome: { kind: 'failed', reason: bytesToHex(new Uint8Array(292)) } }]);
    expect(p.a.channel.outgoingHtlcOutcomes('00'.repeat(32))).toEqual([]);
    expect(p.a.channel.balances().localMsat).toBe(1_000_000_000n);
  });
});

describe('crash point spec (test hook)', () => {
  it('parses <point>:<n> and ignores malformed values', () => {
    expect(parseCrashSpec('persisted:commitment_signed:3')).toEqual({ point: 'persisted:commitment_signed', occurrence: 3 });
    expect(parseCrashSpec(undefined)).toBeNull();
    expect(parseCrashSpec('sent:update_add_htlc')).toBeNull();
    expect(parseCrashSpec('sent:update_add_htlc:0')).toBeNull();
    expect(parseCrashSpec(':2')).toBeNull();
  });
});
