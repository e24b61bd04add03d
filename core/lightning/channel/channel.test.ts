import { describe, expect, it, beforeEach } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { Transaction } from 'bitcoinjs-lib';
import { openDatabase, type Db } from '../../storage/db.js';
import { ANCHORS_CHANNEL_TYPE, Channel, STATIC_REMOTEKEY_CHANNEL_TYPE, type ChannelContext, type ChannelTypeName } from './channel.js';
import { ChannelStore } from './store.js';
import { CHAIN, NODE_A, NODE_B, channelContext, deliver, openChannelPair, reloadChannel } from './test-support.js';
import { anchorScript, anchorToRemoteScript, p2wpkh, p2wsh } from './transactions.js';
import { FeatureBits } from '../wire/features.js';
import type { ChannelMessage } from '../wire/messages.js';

/**
 * Two real Channel engines wired back to back in memory, each with its own SQLite database.
 * `Pump` delivers messages in order and, like the node does, signs pending updates after every
 * message it handles.
 */

const FUNDING_TXID = 'aa'.repeat(31) + '01';

interface Side {
  name: string;
  db: Db;
  ctx: ChannelContext;
  channel: Channel;
  inbox: ChannelMessage[];
}

class Pump {
  dropped: ChannelMessage[] = [];
  /** Set to a predicate to drop matching messages in flight (simulated loss). */
  drop: ((from: Side, m: ChannelMessage) => boolean) | null = null;
  fulfilled: string[] = [];

  constructor(
    readonly a: Side,
    readonly b: Side,
  ) {}

  other(s: Side): Side {
    return s === this.a ? this.b : this.a;
  }

  /** After a dropped message the connection is dead: everything later is lost too. */
  send(from: Side, msgs: (ChannelMessage | null)[]): void {
    for (const m of msgs) {
      if (!m) continue;
      if (this.dropped.length > 0 || this.drop?.(from, m)) {
        this.dropped.push(m);
        continue;
      }
      this.other(from).inbox.push(m);
    }
  }

  /** Delivers until both inboxes are empty, signing pending updates on both sides. */
  run(): void {
    for (let i = 0; i < 1000; i++) {
      this.send(this.a, [this.a.channel.signNextCommitment()]);
      this.send(this.b, [this.b.channel.signNextCommitment()]);
      const side = this.a.inbox.length ? this.a : this.b.inbox.length ? this.b : null;
      if (!side) return;
      const m = side.inbox.shift()!;
      this.send(side, deliver(side.channel, m, (hash) => this.fulfilled.push(hash)));
    }
    throw new Error('message loop did not settle');
  }
}

function openPair(fundingSat = 1_000_000, pushMsat = 100_000_000n, channelType: ChannelTypeName = 'static_remotekey'): Pump {
  const dbA = openDatabase(':memory:');
  const dbB = openDatabase(':memory:');
  const ctxA = channelContext(1, dbA);
  const ctxB = channelContext(2, dbB);
  const { a, b } = openChannelPair(ctxA, ctxB, FUNDING_TXID, { fundingSat, pushMsat, channelType });
  return new Pump({ name: 'A', db: dbA, ctx: ctxA, channel: a, inbox: [] }, { name: 'B', db: dbB, ctx: ctxB, channel: b, inbox: [] });
}

function onion(): Uint8Array {
  return randomBytes(1366);
}

function addHtlc(p: Pump, from: Side, amountMsat: bigint, preimage = randomBytes(32), cltvExpiry = 500) {
  const msg = from.channel.addHtlc({ amountMsat, paymentHash: sha256(preimage), cltvExpiry, onion: onion() });
  p.send(from, [msg]);
  return { id: msg.id, preimage };
}

/** Reloads a side's channel from its own database (what a restart does). */
function reload(s: Side): void {
  s.channel = reloadChannel(s.db, s.ctx);
}

describe('Channel state machine (two engines back to back)', () => {
  let p: Pump;
  beforeEach(() => {
    p = openPair();
  });

  it('opens with the pushed balance and persists the state', () => {
    expect(p.a.channel.balances()).toEqual({ localMsat: 900_000_000n, remoteMsat: 100_000_000n });
    expect(p.b.channel.balances()).toEqual({ localMsat: 100_000_000n, remoteMsat: 900_000_000n });
    const before = p.a.channel.snapshot();
    reload(p.a);
    expect(p.a.channel.snapshot()).toEqual(before);
    expect(p.a.channel.channelPoint).toBe(`${FUNDING_TXID}:0`);
  });

  it('BOLT 2 deadlines: an offered HTLC past cltv_expiry + grace, or a fulfilled one not removed by the fulfillment deadline', () => {
    const { id, preimage } = addHtlc(p, p.a, 50_000_000n, randomBytes(32), 500);
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.run();
    // A offered it: its timeout deadline is cltv_expiry + 1 block of grace.
    expect(p.a.channel.htlcPastDeadline(500, 1, 18)).toBeNull();
    expect(p.a.channel.htlcPastDeadline(501, 1, 18)).toBe('our HTLC 0 expired at block 500');
    // B received it and has not fulfilled it: no deadline of B's own (A resolves it by timeout).
    expect(p.b.channel.htlcPastDeadline(499, 1, 18)).toBeNull();
    // B fulfilled it; until A irrevocably commits the removal, B must go on chain from 500 - 18.
    p.send(p.b, [p.b.channel.fulfillHtlc(id, preimage)]);
    expect(p.b.channel.htlcPastDeadline(481, 1, 18)).toBeNull();
    expect(p.b.channel.htlcPastDeadline(482, 1, 18)).toMatch(/did not remove HTLC 0, which we fulfilled/);
    // Settled off chain: nothing left past any deadline on either side.
    p.send(p.b, [p.b.channel.signNextCommitment()]);
    p.run();
    expect(p.fulfilled).toEqual([bytesToHex(sha256(preimage))]);
    expect(p.a.channel.htlcPastDeadline(600, 1, 18)).toBeNull();
    expect(p.b.channel.htlcPastDeadline(600, 1, 18)).toBeNull();
  });

  it('pays A → B: add, commit, fulfill, commit; balances move and both commitments agree', () => {
    const { id, preimage } = addHtlc(p, p.a, 50_000_000n);
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.run();
    const incoming = p.b.channel.pendingIncomingHtlcs();
    expect(incoming.map((h) => h.htlcId)).toEqual([id]);
    p.send(p.b, [p.b.channel.fulfillHtlc(id, preimage)]);
    p.send(p.b, [p.b.channel.signNextCommitment()]);
    p.run();
    expect(p.fulfilled).toEqual([bytesToHex(sha256(preimage))]);
    expect(p.a.channel.balances()).toEqual({ localMsat: 850_000_000n, remoteMsat: 150_000_000n });
    expect(p.b.channel.balances()).toEqual({ localMsat: 150_000_000n, remoteMsat: 850_000_000n });
    expect(p.a.channel.localCtn).toBe(2);
    expect(p.b.channel.localCtn).toBe(2);
    // Each side can produce its fully signed commitment for a unilateral close.
    const txA = Transaction.fromHex(p.a.channel.signedLocalCommitment());
    expect(txA.ins[0]!.witness.length).toBe(4);
  });

  it('lists an incoming HTLC as not yet committed from its update_add_htlc until the revoke_and_ack that commits it, then as pending', () => {
    const { id } = addHtlc(p, p.a, 50_000_000n);
    deliver(p.b.channel, p.b.inbox.shift()!);
    expect(p.b.channel.incomingHtlcsNotYetCommitted().map((h) => h.htlcId)).toEqual([id]);
    expect(p.b.channel.pendingIncomingHtlcs()).toEqual([]);
    expect(p.a.channel.incomingHtlcsNotYetCommitted()).toEqual([]); // A offered it
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.run();
    expect(p.b.channel.incomingHtlcsNotYetCommitted()).toEqual([]);
    expect(p.b.channel.pendingIncomingHtlcs().map((h) => h.htlcId)).toEqual([id]);
  });

  it('nextCommitmentOnlySettles: a removal to sign on a quiet channel (a payment settled, the next one at most), never an add, never under load', () => {
    const { id, preimage } = addHtlc(p, p.a, 50_000_000n);
    expect(p.a.channel.nextCommitmentOnlySettles()).toBe(false); // the add waits for it
    p.run();
    expect(p.b.channel.nextCommitmentOnlySettles()).toBe(false); // nothing to sign
    p.send(p.b, [p.b.channel.fulfillHtlc(id, preimage)]);
    expect(p.b.channel.nextCommitmentOnlySettles()).toBe(true);
    addHtlc(p, p.a, 1_000_000n); // the next payment, received but not acknowledged by B's revoke_and_ack
    deliver(p.b.channel, p.b.inbox.shift()!);
    expect(p.b.channel.nextCommitmentOnlySettles()).toBe(true);
    addHtlc(p, p.a, 1_000_000n);
    deliver(p.b.channel, p.b.inbox.shift()!);
    expect(p.b.channel.nextCommitmentOnlySettles()).toBe(false); // three HTLCs: signed at once
  });

  it('hasSettlingHtlcs: from the fulfill until the removal is in both commitments; the received funds are spendable only then', () => {
    const { id, preimage } = addHtlc(p, p.a, 50_000_000n);
    p.run();
    expect(p.b.channel.hasSettlingHtlcs()).toBe(false); // committed, not removed
    const before = p.b.channel.availableToSendMsat();
    p.send(p.b, [p.b.channel.fulfillHtlc(id, preimage)]);
    expect([p.a.channel.hasSettlingHtlcs(), p.b.channel.hasSettlingHtlcs()]).toEqual([false, true]); // A has not received it yet
    expect(p.b.channel.availableToSendMsat()).toBe(before);
    p.run();
    expect([p.a.channel.hasSettlingHtlcs(), p.b.channel.hasSettlingHtlcs()]).toEqual([false, false]);
    expect(p.b.channel.availableToSendMsat()).toBe(before + 50_000_000n);
  });

  it('pays B → A and fails an HTLC: balances return, failure is reported once final', () => {
    const { id } = addHtlc(p, p.b, 20_000_000n);
    p.run();
    expect(p.a.channel.pendingIncomingHtlcs().length).toBe(1);
    p.send(p.a, [p.a.channel.failHtlc(id, new Uint8Array(292))]);
    // Watch for the failure to become final on B.
    const failures: bigint[] = [];
    const origRevoke = p.b.channel.onRevokeAndAck.bind(p.b.channel);
    p.b.channel.onRevokeAndAck = (m) => {
      const r = origRevoke(m);
      failures.push(...r.map((x) => x.htlcId));
      return r;
    };
    p.run();
    expect(failures).toEqual([id]);
    expect(p.b.channel.balances()).toEqual({ localMsat: 100_000_000n, remoteMsat: 900_000_000n });
    expect(p.a.channel.pendingIncomingHtlcs()).toEqual([]);
  });

  it('handles interleaved commitments: both sides add and sign at the same time', () => {
    const x = addHtlc(p, p.a, 30_000_000n);
    const y = addHtlc(p, p.b, 10_000_000n);
    const z = addHtlc(p, p.a, 5_000_000n);
    // Both sign before seeing each other's commitment_signed.
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.send(p.b, [p.b.channel.signNextCommitment()]);
    p.run();
    expect(p.b.channel.pendingIncomingHtlcs().map((h) => h.htlcId).sort()).toEqual([x.id, z.id].sort());
    expect(p.a.channel.pendingIncomingHtlcs().map((h) => h.htlcId)).toEqual([y.id]);
    p.send(p.b, [p.b.channel.fulfillHtlc(x.id, x.preimage), p.b.channel.fulfillHtlc(z.id, z.preimage)]);
    p.send(p.a, [p.a.channel.fulfillHtlc(y.id, y.preimage)]);
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.send(p.b, [p.b.channel.signNextCommitment()]);
    p.run();
    const expectA = 900_000_000n - 35_000_000n + 10_000_000n;
    expect(p.a.channel.balances().localMsat).toBe(expectA);
    expect(p.b.channel.balances().remoteMsat).toBe(expectA);
    expect(p.a.channel.snapshot().log.htlcs.every((h) => h.removal)).toBe(true);
  });

  it('keeps HTLC outputs and HTLC signatures for several untrimmed HTLCs', () => {
    for (let i = 0; i < 5; i++) addHtlc(p, p.a, 3_000_000n + BigInt(i) * 1000n, randomBytes(32), 600 + i);
    addHtlc(p, p.a, 100_000n); // trimmed (dust)
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.run();
    const txB = Transaction.fromHex(p.b.channel.signedLocalCommitment());
    expect(txB.outs.length).toBe(2 + 5);
    expect(p.b.channel.snapshot().localCommitSig!.htlcSignatures.length).toBe(5);
  });

  it('retransmits a lost commitment_signed (and its updates) after reconnection', () => {
    const { id, preimage } = addHtlc(p, p.a, 40_000_000n);
    p.drop = (from, m) => from === p.a && m.type === 'commitment_signed';
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.run();
    expect(p.dropped.map((m) => m.type)).toEqual(['commitment_signed']);
    p.drop = null;
    p.dropped = [];
    // Disconnect: B forgets A's unsigned add. Restart A from its database as well.
    p.b.channel.onDisconnected();
    p.a.channel.onDisconnected();
    reload(p.a);
    reload(p.b);
    expect(p.b.channel.snapshot().log.htlcs).toEqual([]);
    const reA = p.a.channel.reestablishMessage();
    const reB = p.b.channel.reestablishMessage();
    const fromA = p.a.channel.onChannelReestablish(reB);
    const fromB = p.b.channel.onChannelReestablish(reA);
    // Both next_commitment_number are 1: channel_ready is retransmitted first (BOLT 2).
    expect(fromA.map((m) => m.type)).toEqual(['channel_ready', 'update_add_htlc', 'commitment_signed']);
    expect(fromB.map((m) => m.type)).toEqual(['channel_ready']);
    p.send(p.a, fromA);
    p.send(p.b, fromB);
    p.run();
    expect(p.b.channel.pendingIncomingHtlcs().map((h) => h.htlcId)).toEqual([id]);
    p.send(p.b, [p.b.channel.fulfillHtlc(id, preimage), p.b.channel.signNextCommitment()]);
    p.run();
    expect(p.a.channel.balances().localMsat).toBe(860_000_000n);
  });

  it('retransmits a lost revoke_and_ack after reconnection', () => {
    const { id } = addHtlc(p, p.a, 40_000_000n);
    p.drop = (from, m) => from === p.b && m.type === 'revoke_and_ack';
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.run();
    expect(p.dropped.map((m) => m.type)).toEqual(['revoke_and_ack', 'commitment_signed']);
    p.drop = null;
    p.dropped = [];
    p.a.channel.onDisconnected();
    p.b.channel.onDisconnected();
    const reA = p.a.channel.reestablishMessage();
    const reB = p.b.channel.reestablishMessage();
    const fromA = p.a.channel.onChannelReestablish(reB);
    const fromB = p.b.channel.onChannelReestablish(reA);
    expect(fromA).toEqual([]);
    // B revoked, then signed A's new commitment (commitment_signed after revoke_and_ack).
    expect(fromB.map((m) => m.type)).toEqual(['revoke_and_ack', 'commitment_signed']);
    p.send(p.b, fromB);
    p.run();
    expect(p.b.channel.pendingIncomingHtlcs().map((h) => h.htlcId)).toEqual([id]);
  });

  it('detects that we lost state (data_loss_protect) and refuses to broadcast', () => {
    const oldState = p.b.channel.snapshot();
    const { id, preimage } = addHtlc(p, p.a, 10_000_000n);
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.run();
    p.send(p.b, [p.b.channel.fulfillHtlc(id, preimage), p.b.channel.signNextCommitment()]);
    p.run();
    // B restored from an old backup.
    const stale = Channel.load(oldState, p.b.ctx);
    p.a.channel.onDisconnected();
    const fromStale = stale.onChannelReestablish(p.a.channel.reestablishMessage());
    expect(fromStale).toEqual([]);
    expect(stale.weAreBehind).toBe(true);
    expect(stale.state).toBe('FORCE_CLOSING');
    expect(() => stale.signedLocalCommitment()).toThrow(/outdated/);
  });

  it('closes cooperatively: shutdown, closing_signed with fee_range, same closing tx on both sides', () => {
    const { id, preimage } = addHtlc(p, p.a, 50_000_000n);
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.run();
    p.send(p.b, [p.b.channel.fulfillHtlc(id, preimage), p.b.channel.signNextCommitment()]);
    p.run();
    const scriptA = p2wpkh(new Uint8Array(33).fill(2));
    const scriptB = p2wpkh(new Uint8Array(33).fill(3));
    p.b.channel.onShutdown(p.a.channel.shutdown(scriptA));
    p.a.channel.onShutdown(p.b.channel.shutdown(scriptB));
    expect(p.a.channel.isCleanForClosing()).toBe(true);
    expect(p.b.channel.startClosing(2000)).toBeNull(); // only the funder starts
    const first = p.a.channel.startClosing(2000)!;
    const atB = p.b.channel.onClosingSigned(first);
    expect(atB.reply!.feeSatoshis).toBe(first.feeSatoshis);
    expect(atB.closingTxHex).not.toBeNull();
    const atA = p.a.channel.onClosingSigned(atB.reply!);
    expect(atA.reply).toBeNull();
    expect(atA.closingTxHex).toBe(atB.closingTxHex);
    expect(p.a.channel.state).toBe('CLOSING');
    const tx = Transaction.fromHex(atA.closingTxHex!);
    const outs = tx.outs.map((o) => ({ script: bytesToHex(o.script), value: Number(o.value) }));
    expect(outs).toContainEqual({ script: bytesToHex(scriptB), value: 150_000 });
    expect(outs).toContainEqual({ script: bytesToHex(scriptA), value: 850_000 - first.feeSatoshis });
    // After reconnection the peer may retransmit shutdown / closing_signed: ignored, and an error
    // from the peer does not replace the agreed closing transaction with our commitment.
    p.b.channel.onShutdown({ type: 'shutdown', channelId: first.channelId, scriptpubkey: scriptA });
    expect(p.b.channel.onClosingSigned(first).closingTxHex).toBe(atB.closingTxHex);
    expect(p.b.channel.failChannel('peer error').commitmentTxHex).toBeNull();
    expect(p.b.channel.state).toBe('CLOSING');
  });

  it('negotiates a closing fee in three messages when the funder proposes less than the fundee accepts', () => {
    p.b.channel.onShutdown(p.a.channel.shutdown(p2wpkh(new Uint8Array(33).fill(2))));
    p.a.channel.onShutdown(p.b.channel.shutdown(p2wpkh(new Uint8Array(33).fill(3))));
    const first = p.a.channel.startClosing(100)!; // below the 253 sat/kw floor the fundee accepts
    const atB = p.b.channel.onClosingSigned(first);
    expect(atB.closingTxHex).toBeNull();
    expect(atB.reply!.feeSatoshis).toBeGreaterThan(first.feeSatoshis);
    const atA = p.a.channel.onClosingSigned(atB.reply!);
    expect(atA.reply!.feeSatoshis).toBe(atB.reply!.feeSatoshis);
    const done = p.b.channel.onClosingSigned(atA.reply!);
    expect(done.reply).toBeNull();
    expect(done.closingTxHex).toBe(atA.closingTxHex);
    expect(p.b.channel.state).toBe('CLOSING');
  });
});

describe('Channel rejects what BOLT 2 forbids, and changes nothing', () => {
  let p: Pump;
  beforeEach(() => {
    p = openPair();
  });

  it('refuses to offer below htlc_minimum or above the balance', () => {
    expect(() => p.a.channel.addHtlc({ amountMsat: 0n, paymentHash: new Uint8Array(32), cltvExpiry: 500, onion: onion() })).toThrow(/positive/);
    expect(() => p.a.channel.addHtlc({ amountMsat: 895_000_000n, paymentHash: new Uint8Array(32), cltvExpiry: 500, onion: onion() })).toThrow(/afford/);
    expect(p.a.channel.snapshot().log.htlcs).toEqual([]);
    expect(p.a.channel.availableToSendMsat()).toBeGreaterThan(0n);
    expect(p.a.channel.availableToSendMsat()).toBeLessThan(900_000_000n - 10_000_000n);
  });

  it('limits what it offers: reserve, and as funder a fee spike buffer in unrounded msat (BOLT 2; Electrum checks unrounded)', () => {
    // A (funder): 900k sat, reserve 10k sat, feerate 2500: 2 × 2500 × (724 + 172 × 2) msat kept for fees.
    const aCan = p.a.channel.availableToSendMsat();
    expect(aCan).toBe(900_000_000n - 10_000_000n - 2n * 2500n * (724n + 172n * 2n));
    // Electrum's receive-side check (lnchannel.available_to_spend, not strict): balance - reserve
    // - unrounded fee with the new HTLC. Ours must never exceed it.
    expect(aCan).toBeLessThanOrEqual(900_000_000n - 10_000_000n - 2500n * (724n + 172n));
    // B (fundee): 100k sat minus its 10k sat reserve; the funder pays the fee.
    expect(p.b.channel.availableToSendMsat()).toBe(90_000_000n);
    expect(p.a.channel.availableToReceiveMsat()).toBe(90_000_000n);
    expect(p.b.channel.availableToReceiveMsat()).toBe(900_000_000n - 10_000_000n - 2500n * (724n + 172n));
    // Both limits pass the peer's checks and complete the commitment dance.
    addHtlc(p, p.a, aCan);
    addHtlc(p, p.b, 90_000_000n);
    p.run();
    expect(p.a.channel.snapshot().log.htlcs).toHaveLength(2);
    expect(p.a.channel.availableToSendMsat()).toBe(0n);
    expect(p.b.channel.availableToSendMsat()).toBe(0n);
  });

  it('fails on an HTLC the peer cannot afford or with a wrong id', () => {
    const msg = p.a.channel.addHtlc({ amountMsat: 1_000_000n, paymentHash: new Uint8Array(32), cltvExpiry: 500, onion: onion() });
    expect(() => p.b.channel.onUpdateAddHtlc({ ...msg, id: 5n })).toThrow(/expected 0/);
    expect(() => p.b.channel.onUpdateAddHtlc({ ...msg, amountMsat: 899_000_000n })).toThrow(/afford/);
    expect(() => p.b.channel.onUpdateAddHtlc({ ...msg, cltvExpiry: 500_000_000 })).toThrow(/cltv_expiry/);
    expect(p.b.channel.snapshot().log.htlcs).toEqual([]);
    p.b.channel.onUpdateAddHtlc(msg);
    expect(p.b.channel.snapshot().log.htlcs.length).toBe(1);
  });

  it('fails on a bad commitment signature or HTLC signature, keeping the old state', () => {
    addHtlc(p, p.a, 5_000_000n);
    p.b.channel.onUpdateAddHtlc(p.b.inbox.shift() as never);
    const cs = p.a.channel.signNextCommitment()!;
    const before = p.b.channel.snapshot();
    const badSig = Uint8Array.from(cs.signature);
    badSig[10] ^= 1;
    expect(() => p.b.channel.onCommitmentSigned({ ...cs, signature: badSig })).toThrow(/Invalid commitment signature/);
    const badHtlc = cs.htlcSignatures.map((s) => Uint8Array.from(s));
    badHtlc[0]![5] ^= 1;
    expect(() => p.b.channel.onCommitmentSigned({ ...cs, htlcSignatures: badHtlc })).toThrow(/Invalid HTLC signature/);
    expect(() => p.b.channel.onCommitmentSigned({ ...cs, htlcSignatures: [] })).toThrow(/Expected 1 HTLC signatures/);
    expect(p.b.channel.snapshot()).toEqual(before);
    const rev = p.b.channel.onCommitmentSigned(cs);
    const wrong = { ...rev, perCommitmentSecret: randomBytes(32) };
    expect(() => p.a.channel.onRevokeAndAck(wrong)).toThrow(/does not match/);
    p.a.channel.onRevokeAndAck(rev);
  });

  it('rejects a wrong preimage, update_fee from the fundee and adds after shutdown', () => {
    const { id } = addHtlc(p, p.a, 5_000_000n);
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.run();
    const channelId = p.a.channel.snapshot().channelId;
    const cid = Uint8Array.from(Buffer.from(channelId, 'hex'));
    expect(() => p.b.channel.fulfillHtlc(id, randomBytes(32))).toThrow(/Preimage/);
    expect(() => p.a.channel.onUpdateFulfillHtlc({ type: 'update_fulfill_htlc', channelId: cid, id, paymentPreimage: randomBytes(32) })).toThrow(/does not match/);
    expect(() => p.a.channel.onUpdateFee({ type: 'update_fee', channelId: cid, feeratePerKw: 5000 })).toThrow(/non-funder/);
    expect(() => p.b.channel.updateFee(5000)).toThrow(/Only the funder/);
    p.b.channel.onShutdown(p.a.channel.shutdown(p2wpkh(new Uint8Array(33).fill(2))));
    expect(() => p.a.channel.addHtlc({ amountMsat: 1_000_000n, paymentHash: new Uint8Array(32), cltvExpiry: 500, onion: onion() })).toThrow(/not open/);
    expect(p.b.channel.isCleanForClosing()).toBe(false); // an HTLC is still in flight
  });
});

describe('option_anchors channels (channel_type bits 12 and 22)', () => {
  it('negotiates the anchors channel_type, keeps it across reload and builds anchor commitments', () => {
    const p = openPair(1_000_000, 100_000_000n, 'anchors');
    expect(p.a.channel.channelType).toBe('anchors');
    expect(p.b.channel.channelType).toBe('anchors');
    reload(p.b);
    expect(p.b.channel.anchors).toBe(true);
    // HTLCs both ways in flight: HTLC signatures (SIGHASH_SINGLE|ANYONECANPAY) verified by each side.
    addHtlc(p, p.a, 30_000_000n);
    addHtlc(p, p.b, 20_000_000n);
    p.run();
    expect(p.b.channel.pendingIncomingHtlcs().length).toBe(1);
    expect(p.a.channel.pendingIncomingHtlcs().length).toBe(1);
    const tx = Transaction.fromHex(p.a.channel.signedLocalCommitment());
    const snapA = p.a.channel.snapshot();
    const fundingKeyA = new Uint8Array(Buffer.from(p.b.channel.snapshot().remoteBasepoints!.fundingPubkey, 'hex'));
    const fundingKeyB = new Uint8Array(Buffer.from(snapA.remoteBasepoints!.fundingPubkey, 'hex'));
    const paymentB = new Uint8Array(Buffer.from(snapA.remoteBasepoints!.paymentBasepoint, 'hex'));
    const scripts = tx.outs.map((o) => bytesToHex(o.script));
    const anchorOuts = tx.outs.filter((o) => Number(o.value) === 330);
    expect(anchorOuts.length).toBe(2);
    expect(scripts).toContain(bytesToHex(p2wsh(anchorScript(fundingKeyA))));
    expect(scripts).toContain(bytesToHex(p2wsh(anchorScript(fundingKeyB))));
    expect(scripts).toContain(bytesToHex(p2wsh(anchorToRemoteScript(paymentB))));
    expect(scripts).not.toContain(bytesToHex(p2wpkh(paymentB)));
    expect(tx.outs.length).toBe(6); // to_local, to_remote, two HTLCs, two anchors
  });

  it('the funder pays both anchors: open_channel is refused when it cannot afford them', () => {
    const ctx = channelContext(1);
    // Reserve 546 (the floor). At 253 sat/kw static_remotekey costs 183 sat (weight 724): 1200 - 183 ≥ 546;
    // anchors cost 284 (weight 1124) + 2 × 330: 1200 - 944 < 546.
    const fundingSat = 1200;
    const feeratePerKw = 253;
    const params = { keyIndex: 0, remoteNodeId: NODE_B, chainHash: CHAIN, fundingSat, pushMsat: 0n, feeratePerKw };
    expect(() => Channel.openOutbound({ ...params, channelType: 'anchors' }, ctx)).toThrow(/commitment fee/);
    expect(Channel.openOutbound({ ...params, channelType: 'static_remotekey' }, ctx).message.channelType).toEqual(STATIC_REMOTEKEY_CHANNEL_TYPE.toBytes());
  });

  it('with anchors a low commitment feerate is accepted whatever our estimate (CPFP can bump it); without, it is too low', () => {
    const open = (channelType: ChannelTypeName) =>
      Channel.openOutbound(
        { keyIndex: 0, remoteNodeId: NODE_B, chainHash: CHAIN, fundingSat: 1_000_000, pushMsat: 0n, feeratePerKw: 253, channelType },
        channelContext(1),
      ).message;
    const fundee = () => ({ ...channelContext(2), feerateEstimatePerKw: () => 10_000 });
    const inbound = { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 1 };
    expect(Channel.acceptInbound(open('anchors'), inbound, fundee()).channel.channelType).toBe('anchors');
    expect(() => Channel.acceptInbound(open('static_remotekey'), inbound, fundee())).toThrow(/Unacceptable feerate_per_kw 253/);
  });

  it('accept_channel must echo the channel_type of open_channel; unknown types are refused', () => {
    const ctxA = channelContext(1);
    const ctxB = channelContext(2);
    const { channel: a, message: open } = Channel.openOutbound(
      { keyIndex: 0, remoteNodeId: NODE_B, chainHash: CHAIN, fundingSat: 1_000_000, pushMsat: 0n, feeratePerKw: 2500, channelType: 'anchors' },
      ctxA,
    );
    expect(open.channelType).toEqual(ANCHORS_CHANNEL_TYPE.toBytes());
    const inbound = { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 1 };
    const { message: accept } = Channel.acceptInbound(open, inbound, ctxB);
    expect(accept.channelType).toEqual(ANCHORS_CHANNEL_TYPE.toBytes());
    expect(() => a.onAcceptChannel({ ...accept, channelType: STATIC_REMOTEKEY_CHANNEL_TYPE.toBytes() })).toThrow(/channel_type/);
    expect(a.snapshot().remoteConfig).toBeNull();
    const zeroconfAnchors = FeatureBits.fromBits([12, 22, 50]).toBytes();
    expect(() => Channel.acceptInbound({ ...open, channelType: zeroconfAnchors }, inbound, channelContext(3))).toThrow(
      /Unsupported channel_type/,
    );
  });
});

describe('Settled-HTLC archive and commit groups (channel/store.ts)', () => {
  const storedRow = (s: Side) => JSON.parse((s.db.prepare('SELECT data FROM lightning_channels').get() as { data: Buffer }).data.toString()) as { log: { htlcs: unknown[] } };

  it('settles 20 HTLCs in one commitment dance, archives them apart from the row and keeps balances and htlc ids across reload', () => {
    const p = openPair();
    const adds = Array.from({ length: 20 }, () => addHtlc(p, p.a, 1_000_000n));
    const ctnBefore = p.b.channel.localCtn;
    p.send(p.a, [p.a.channel.signNextCommitment()]);
    p.run();
    expect(p.b.channel.localCtn - ctnBefore).toBe(1); // one commitment_signed carried all 20 adds
    expect(p.b.channel.pendingIncomingHtlcs()).toHaveLength(20);
    for (const { id, preimage } of adds) p.send(p.b, [p.b.channel.fulfillHtlc(id, preimage)]);
    p.run();
    expect(p.fulfilled).toHaveLength(20);
    expect(p.a.channel.balances()).toEqual({ localMsat: 880_000_000n, remoteMsat: 120_000_000n });
    for (const s of [p.a, p.b]) {
      expect(storedRow(s).log.htlcs).toHaveLength(0);
      expect((s.db.prepare('SELECT COUNT(*) AS n FROM lightning_htlc_archive').get() as { n: number }).n).toBe(20);
      expect(s.channel.snapshot().log.htlcs).toHaveLength(20); // full history for the watcher
      const balances = s.channel.balances();
      reload(s);
      expect(s.channel.balances()).toEqual(balances);
    }
    expect(addHtlc(p, p.a, 1_000_000n).id).toBe(20n);
  });

  it('inside a commit group a channel row is written once, at commitGroup', () => {
    const p = openPair();
    const store = p.a.ctx.persistence as ChannelStore;
    const before = storedRow(p.a).log.htlcs.length;
    store.beginGroup();
    for (let i = 0; i < 3; i++) addHtlc(p, p.a, 1_000_000n);
    expect(storedRow(p.a).log.htlcs).toHaveLength(before);
    store.commitGroup();
    expect(storedRow(p.a).log.htlcs).toHaveLength(before + 3);
    expect(p.a.db.inTransaction).toBe(false);
  });
});
