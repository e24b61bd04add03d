/**
 * BOLT 2 receiving requirements, one test each: a peer's message that violates a "the receiving
 * node MUST / SHOULD ... fail" clause is rejected the way the spec says, and changes nothing.
 *
 * How a rejection maps to the wire (node.ts onChannelMessage):
 *   'error'   — FulmenError PROTOCOL: node sends `error` and fails the channel (force close once a
 *               commitment is signed; before that the channel is forgotten).
 *   'warning' — FulmenError PROTOCOL with details.disposition 'warning' (protocolWarning): node
 *               sends `warning` and closes the connection; the channel stays and resumes with
 *               channel_reestablish.
 * Where the spec allows either ("send a warning and close the connection, or send an error and
 * fail the channel") Fulmen fails the channel, as LDK does, except where noted.
 *
 * Requirement table (BOLT 2 section → clause → test):
 *   open_channel      chain_hash unknown; push_msat > funding; to_self_delay too large;
 *                     max_accepted_htlcs > 483; feerate too small / too large; invalid pubkeys;
 *                     dust_limit > reserve; dust_limit < 354; funder cannot pay the fee; both
 *                     balances ≤ reserve; funding ≥ 2^24 without large channels; no channel_type;
 *                     unsuitable channel_type (incl. zeroconf from an untrusted peer); invalid
 *                     upfront_shutdown_script
 *   channel_type      option_scid_alias accepted on private channels, refused with announce_channel;
 *                     option_zeroconf only from a trusted peer, then minimum_depth 0
 *   accept_channel    reserve < open's dust limit; open's reserve < dust limit; no channel_type;
 *                     channel_type ≠ open's; minimum_depth unreasonable (MAY); other fields as open
 *   funding_created   invalid signature
 *   funding_signed    invalid signature (both: also a valid but high-S signature, the LOW-S rule)
 *   channel_ready     a redundant channel_ready is ignored
 *   shutdown          before funding → error; scriptpubkey of no allowed form → warning; witness
 *                     v1+ only with option_shutdown_anysegwit; ≠ upfront script → warning and fail
 *                     the connection; (sender) our shutdown uses our upfront script
 *   closing_signed    invalid signature; no fee_range overlap → warning; funder: fee outside the
 *                     overlap → fail; fundee: fee ≠ the one it sent → fail; fee above the funder's
 *                     balance → fail
 *   update_add_htlc   amount 0; below htlc_minimum_msat; unaffordable; > max_accepted_htlcs;
 *                     > max_htlc_value_in_flight_msat; cltv_expiry ≥ 500000000; same payment_hash
 *                     allowed; repeated id ignored; other id violations; after shutdown
 *   update_fulfill/fail/fail_malformed   id not in the current commitment; preimage mismatch;
 *                     BADONION bit missing
 *   commitment_signed invalid signature; not LOW-S; num_htlcs ≠ HTLC outputs; invalid htlc_signature
 *   revoke_and_ack    secret does not generate the previous point → error; not a valid secret
 *                     key → error; none expected → error
 *   update_fee        from the non-funder; too low; unreasonably large; unaffordable; (sender)
 *                     follows the estimate, stays affordable, is retransmitted after reconnection
 *   dust exposure     max_dust_htlc_exposure_msat (dust-exposure.ts, scales with the feerate):
 *                     HTLCs within it pass at Electrum's 37,500 sat/kw; one past it is not sent, or
 *                     when received is marked and failed once committed; an update_fee raise (no
 *                     option_anchors) past it fails the channel (MAY), and the funder never sends one
 *   channel_reestablish  next_commitment_number 0; next_commitment_number ahead;
 *                     next_revocation_number ahead without proof / too old; wrong
 *                     your_last_per_commitment_secret
 *   (BOLT 7)          the peer's channel_update: newest kept, older ignored, survives reload
 */
import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, randomBytes } from '@noble/hashes/utils.js';
import { openDatabase } from '../../storage/db.js';
import { FulmenError } from '../../util/errors.js';
import { FeatureBits } from '../wire/features.js';
import type { ChannelMessage, ClosingSignedMessage, OpenChannelMessage, UpdateAddHtlcMessage } from '../wire/messages.js';
import { Channel, decodeChannelData, defaultLocalConfig, isWarningDisposition, type ChannelConfig, type ChannelContext, type NegotiatedFeatures } from './channel.js';
import { p2wpkh } from './transactions.js';
import { CHAIN, NODE_A, NODE_B, channelContext, deliver, openChannelPair } from './test-support.js';

const FUNDING_TXID = 'ab'.repeat(31) + '02';

function ctxOf(seed: number, estimate: number | null = null): ChannelContext {
  return channelContext(seed, openDatabase(':memory:'), () => estimate);
}

interface PairOptions {
  fundingSat?: number;
  pushMsat?: bigint;
  feeratePerKw?: number;
  /** A's (funder's) config: limits what B may offer A. */
  aConfig?: Partial<ChannelConfig>;
  upfront?: { a: Uint8Array; b: Uint8Array };
  features?: NegotiatedFeatures;
  estimate?: number | null;
  /** A's estimate when it differs from B's (`estimate`). */
  estimateA?: number | null;
  channelType?: 'static_remotekey' | 'anchors';
}

/** Two engines back to back (A funder, B fundee) taken to OPEN, with a message pump. */
class Pair {
  readonly a: Channel;
  readonly b: Channel;
  readonly toA: ChannelMessage[] = [];
  readonly toB: ChannelMessage[] = [];
  /** Drop every message sent after this is set (a dead connection). */
  lost = false;

  constructor(o: PairOptions = {}) {
    const fundingSat = o.fundingSat ?? 1_000_000;
    const { a, b } = openChannelPair(
      ctxOf(1, o.estimateA !== undefined ? o.estimateA : (o.estimate ?? null)),
      ctxOf(2, o.estimate ?? null),
      FUNDING_TXID,
      {
        fundingSat,
        pushMsat: o.pushMsat ?? 100_000_000n,
        feeratePerKw: o.feeratePerKw ?? 2500,
        localConfig: { ...defaultLocalConfig(fundingSat), ...o.aConfig },
        ...(o.upfront ? { upfrontShutdownScript: o.upfront.a } : {}),
        ...(o.features ? { features: o.features } : {}),
        ...(o.channelType ? { channelType: o.channelType } : {}),
      },
      { ...(o.upfront ? { upfrontShutdownScript: o.upfront.b } : {}), ...(o.features ? { features: o.features } : {}) },
    );
    this.a = a;
    this.b = b;
  }

  send(from: Channel, msgs: (ChannelMessage | null)[]): void {
    if (this.lost) return;
    for (const m of msgs) if (m) (from === this.a ? this.toB : this.toA).push(m);
  }

  /** Delivers everything, signing pending updates after each message (as node.ts does). */
  run(): void {
    for (let i = 0; i < 500; i++) {
      this.send(this.a, [this.a.signNextCommitment()]);
      this.send(this.b, [this.b.signNextCommitment()]);
      const [to, inbox] = this.toA.length ? [this.a, this.toA] : this.toB.length ? [this.b, this.toB] : [null, []];
      if (!to) return;
      this.send(to, deliver(to, inbox.shift()!));
    }
    throw new Error('pump did not settle');
  }

  /** A → B HTLC, fully committed on both sides. */
  pay(amountMsat: bigint, preimage = randomBytes(32)): { preimage: Uint8Array; id: bigint } {
    const add = this.a.addHtlc({ amountMsat, paymentHash: sha256(preimage), cltvExpiry: 800, onion: randomBytes(1366) });
    this.send(this.a, [add]);
    this.run();
    return { preimage, id: add.id };
  }

  /** Simulated reconnection: both sides drop uncommitted updates and exchange channel_reestablish. */
  reconnect(): void {
    this.lost = false;
    this.toA.length = 0;
    this.toB.length = 0;
    this.a.onDisconnected();
    this.b.onDisconnected();
    const ra = this.a.reestablishMessage();
    const rb = this.b.reestablishMessage();
    this.send(this.a, this.a.onChannelReestablish(rb));
    this.send(this.b, this.b.onChannelReestablish(ra));
    this.run();
  }
}

/**
 * Asserts `fn` is rejected as BOLT 2 asks: `disposition` 'error' (fail the channel) or 'warning'
 * (warn and close the connection), `pattern` in the message, and the channel's stored state unchanged.
 */
function rejects(ch: Channel | null, fn: () => unknown, disposition: 'error' | 'warning', pattern: RegExp): void {
  const before = ch?.record().data;
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a rejection').toBeInstanceOf(FulmenError);
  const err = thrown as FulmenError;
  expect(err.code).toBe('PROTOCOL');
  expect(isWarningDisposition(err) ? 'warning' : 'error').toBe(disposition);
  expect(err.message).toMatch(pattern);
  if (ch) expect(JSON.parse(ch.record().data)).toEqual(JSON.parse(before!));
}

/** An open_channel from a fresh funder, optionally modified. */
function openMessage(change: Partial<OpenChannelMessage> = {}, fundingSat = 1_000_000): OpenChannelMessage {
  const { message } = Channel.openOutbound({ keyIndex: 9, remoteNodeId: NODE_B, chainHash: CHAIN, fundingSat, pushMsat: 0n, feeratePerKw: 2500 }, ctxOf(3));
  return { ...message, ...change };
}

function accept(open: OpenChannelMessage, estimate: number | null = null, extra: { upfrontShutdownScript?: Uint8Array } = {}): unknown {
  return Channel.acceptInbound(open, { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 3, ...extra }, ctxOf(4, estimate));
}

/** The high-S twin of a valid low-S compact signature (r, n − s): valid ECDSA, non-standard (BOLT 2 LOW-S rule). */
function highS(sig: Uint8Array): Uint8Array {
  const n = 0xfffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141n;
  const s = BigInt('0x' + bytesToHex(sig.subarray(32)));
  const out = Uint8Array.from(sig);
  out.set(Buffer.from((n - s).toString(16).padStart(64, '0'), 'hex'), 32);
  return out;
}

const NOT_A_POINT = Uint8Array.of(0x02, ...new Uint8Array(32).fill(0xff));
const P2WPKH_A = p2wpkh(new Uint8Array(33).fill(2));
const P2WPKH_B = p2wpkh(Uint8Array.of(3, ...new Uint8Array(32).fill(7)));
const P2TR = Uint8Array.of(0x51, 0x20, ...new Uint8Array(32).fill(5));

function addMsg(ch: Channel, change: Partial<UpdateAddHtlcMessage>): UpdateAddHtlcMessage {
  return {
    type: 'update_add_htlc',
    channelId: Uint8Array.from(Buffer.from(ch.channelId, 'hex')),
    id: 0n,
    amountMsat: 1_000_000n,
    paymentHash: sha256(randomBytes(32)),
    cltvExpiry: 800,
    onionRoutingPacket: randomBytes(1366),
    ...change,
  };
}

describe('BOLT 2 open_channel: the receiving node MUST fail the channel if', () => {
  it('the chain_hash is for a chain unknown to it', () => rejects(null, () => accept(openMessage({ chainHash: new Uint8Array(32).fill(9) })), 'error', /another chain/));
  it('push_msat is greater than funding_satoshis * 1000', () => rejects(null, () => accept(openMessage({ pushMsat: 1_000_000_001n })), 'error', /push_msat/));
  it('to_self_delay is unreasonably large', () => rejects(null, () => accept(openMessage({ toSelfDelay: 5000 })), 'error', /to_self_delay/));
  it('max_accepted_htlcs is greater than 483', () => rejects(null, () => accept(openMessage({ maxAcceptedHtlcs: 484 })), 'error', /max_accepted_htlcs/));
  it('feerate_per_kw is too small for timely processing (below 253, or far below our estimate)', () => {
    rejects(null, () => accept(openMessage({ feeratePerKw: 252 })), 'error', /feerate_per_kw 252/);
    rejects(null, () => accept(openMessage({ feeratePerKw: 2500 }), 50_000), 'error', /feerate_per_kw 2500/);
  });
  it('feerate_per_kw is unreasonably large (above 200000 sat/kw, whatever our estimate)', () => {
    rejects(null, () => accept(openMessage({ feeratePerKw: 200_001 })), 'error', /feerate_per_kw/);
    rejects(null, () => accept(openMessage({ feeratePerKw: 200_001 }), 150_000), 'error', /feerate_per_kw 200001/);
    accept(openMessage({ feeratePerKw: 37_500 }), 253); // Electrum's static regtest feerate vs a 1 sat/vB estimate
  });
  it('a basepoint or funding_pubkey is not a valid secp256k1 pubkey', () => {
    for (const field of ['fundingPubkey', 'revocationBasepoint', 'paymentBasepoint', 'delayedPaymentBasepoint', 'htlcBasepoint'] as const) {
      rejects(null, () => accept(openMessage({ [field]: NOT_A_POINT })), 'error', /Invalid secp256k1 point/);
    }
  });
  it('dust_limit_satoshis is greater than channel_reserve_satoshis', () => rejects(null, () => accept(openMessage({ dustLimitSatoshis: 20_000 })), 'error', /dust_limit_satoshis greater/));
  it('dust_limit_satoshis is smaller than 354', () => rejects(null, () => accept(openMessage({ dustLimitSatoshis: 353 })), 'error', /below 354/));
  it('the funder cannot pay the initial commitment fee', () =>
    rejects(null, () => accept(openMessage({ fundingSatoshis: 20_000, pushMsat: 19_900_000n, channelReserveSatoshis: 546 })), 'error', /initial commitment fee/));
  it('both to_local and to_remote are at or below channel_reserve_satoshis', () =>
    // funder keeps 2300 sat − 1810 sat fee ≤ our 546 sat reserve; we get 17 700 sat ≤ its 18 000 sat reserve
    rejects(null, () => accept(openMessage({ fundingSatoshis: 20_000, pushMsat: 17_700_000n, channelReserveSatoshis: 18_000 })), 'error', /at or below the channel reserve/));
  it('funding_satoshis ≥ 2^24 and option_support_large_channel is not supported', () =>
    rejects(null, () => accept(openMessage({ fundingSatoshis: 2 ** 24 })), 'error', /option_support_large_channel/));
  it('the message has no channel_type', () => {
    const { channelType: _omit, ...open } = openMessage();
    rejects(null, () => accept(open as OpenChannelMessage), 'error', /without channel_type/);
  });
  it('the channel_type is not suitable, including option_zeroconf from a peer it does not trust', () => {
    rejects(null, () => accept(openMessage({ channelType: FeatureBits.fromBits([22]).toBytes() })), 'error', /Unsupported channel_type/);
    rejects(null, () => accept(openMessage({ channelType: FeatureBits.fromBits([12, 46, 50]).toBytes() })), 'error', /Unsupported channel_type/);
  });
  it('(option_upfront_shutdown_script) the upfront_shutdown_script is not a valid shutdown scriptpubkey', () => {
    const bad = Uint8Array.of(0x76, 0xa9, 0x14, ...new Uint8Array(20), 0x88, 0xac); // P2PKH
    rejects(null, () => accept(openMessage({ upfrontShutdownScript: bad }), null, { upfrontShutdownScript: new Uint8Array(0) }), 'error', /upfront_shutdown_script/);
    // P2TR without option_shutdown_anysegwit is not a valid form either
    rejects(null, () => accept(openMessage({ upfrontShutdownScript: P2TR }), null, { upfrontShutdownScript: new Uint8Array(0) }), 'error', /upfront_shutdown_script/);
  });
});

describe('BOLT 2 channel_type variations option_scid_alias / option_zeroconf (fundee)', () => {
  const withBits = (bits: number[]) => FeatureBits.fromBits(bits).toBytes();
  it('accepts option_scid_alias on a private channel, and echoes the channel_type', () => {
    const { channel, message } = accept(openMessage({ channelType: withBits([12, 46]) })) as { channel: Channel; message: { channelType?: Uint8Array; minimumDepth: number } };
    expect(channel.scidAliasType).toBe(true);
    expect(channel.zeroconf).toBe(false);
    expect(message.channelType).toEqual(withBits([12, 46]));
    expect(message.minimumDepth).toBe(3);
  });
  it('fails the channel when option_scid_alias comes with announce_channel (the sender MUST NOT)', () =>
    rejects(null, () => accept(openMessage({ channelType: withBits([12, 46]), channelFlags: 1 })), 'error', /announced channel/));
  it('accepts option_zeroconf only from a trusted peer, and then MUST set minimum_depth to zero', () => {
    rejects(null, () => accept(openMessage({ channelType: withBits([12, 46, 50]) })), 'error', /do not trust/);
    const { channel, message } = Channel.acceptInbound(
      openMessage({ channelType: withBits([12, 46, 50]) }),
      { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 3, trustZeroconf: true },
      ctxOf(4),
    );
    expect(message.minimumDepth).toBe(0);
    expect(channel.minimumDepth).toBe(0);
    expect(channel.zeroconf && channel.scidAliasType).toBe(true);
  });
});

describe('BOLT 2 channel_type option_scid_alias / option_zeroconf (funder)', () => {
  const withBits = (bits: number[]) => FeatureBits.fromBits(bits).toBytes();
  const params = { keyIndex: 0, remoteNodeId: NODE_B, chainHash: CHAIN, fundingSat: 1_000_000, pushMsat: 0n, feeratePerKw: 2500 };
  it('proposes it on both channel types; the fundee takes it and both sides keep the real scid out', () => {
    for (const [channelType, bits] of [['static_remotekey', [12, 46]], ['anchors', [12, 22, 46]]] as const) {
      const { channel: a, message: open } = Channel.openOutbound({ ...params, channelType, scidAlias: true }, ctxOf(1));
      expect(open.channelType).toEqual(withBits([...bits]));
      const { channel: b, message: acceptMsg } = Channel.acceptInbound(open, { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 3 }, ctxOf(2));
      a.onAcceptChannel(acceptMsg);
      expect([a.scidAliasType, b.scidAliasType]).toEqual([true, true]);
      expect(Channel.load(decodeChannelData(a.record().data), ctxOf(1)).scidAliasType).toBe(true);
    }
  });
  it('fails the opening when accept_channel answers with another channel_type (the variation dropped)', () => {
    const { channel: a, message: open } = Channel.openOutbound({ ...params, scidAlias: true }, ctxOf(1));
    const { message: acceptMsg } = Channel.acceptInbound(open, { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 3 }, ctxOf(2));
    expect(() => a.onAcceptChannel({ ...acceptMsg, channelType: withBits([12]) })).toThrow(/channel_type does not match/);
  });
  it('is never proposed on an announced channel', () => {
    expect(() => Channel.openOutbound({ ...params, scidAlias: true, announce: true }, ctxOf(1))).toThrow(/unannounced/);
  });
  it('option_zeroconf proposed (with option_scid_alias): a trusting fundee answers minimum_depth 0 and both sides keep it; one that does not trust us fails it', () => {
    const { channel: a, message: open } = Channel.openOutbound({ ...params, channelType: 'anchors', zeroconf: true }, ctxOf(1));
    expect(open.channelType).toEqual(withBits([12, 22, 46, 50]));
    rejects(null, () => Channel.acceptInbound(open, { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 3 }, ctxOf(2)), 'error', /do not trust/);
    const { channel: b, message: acceptMsg } = Channel.acceptInbound(open, { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 3, trustZeroconf: true }, ctxOf(2));
    a.onAcceptChannel(acceptMsg);
    expect([a.minimumDepth, b.minimumDepth]).toEqual([0, 0]);
    expect([a.zeroconf, b.zeroconf, a.scidAliasType]).toEqual([true, true, true]);
    expect(Channel.load(decodeChannelData(a.record().data), ctxOf(1)).zeroconf).toBe(true);
  });
});

describe('BOLT 7 channel_update from the channel peer (stored per channel)', () => {
  const policy = (timestamp: number, feeBaseMsat = 1000) => ({
    timestamp,
    feeBaseMsat,
    feeProportionalMillionths: 10,
    cltvExpiryDelta: 80,
    htlcMinimumMsat: 1000n,
    htlcMaximumMsat: 990_000_000n,
    disabled: false,
  });
  it('keeps the newest policy; an update not newer than the last is ignored; it survives a reload', () => {
    const p = new Pair();
    expect(p.b.remotePolicy).toBeNull();
    expect(p.b.onRemoteChannelUpdate(policy(100))).toBe(true);
    expect(p.b.onRemoteChannelUpdate(policy(100, 5))).toBe(false);
    expect(p.b.onRemoteChannelUpdate(policy(99, 5))).toBe(false);
    expect(p.b.onRemoteChannelUpdate(policy(101, 7))).toBe(true);
    expect(p.b.remotePolicy).toEqual(policy(101, 7));
    const reloaded = Channel.load(decodeChannelData(p.b.record().data), ctxOf(2));
    expect(reloaded.remotePolicy).toEqual(policy(101, 7));
  });
});

describe('BOLT 2 accept_channel: the receiver MUST fail the channel if', () => {
  function funder(fundingSat = 1_000_000): { ch: Channel; accept: Parameters<Channel['onAcceptChannel']>[0] } {
    const { channel, message } = Channel.openOutbound({ keyIndex: 0, remoteNodeId: NODE_B, chainHash: CHAIN, fundingSat, pushMsat: 0n, feeratePerKw: 2500 }, ctxOf(1));
    const { message: acceptMsg } = Channel.acceptInbound(message, { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 3 }, ctxOf(2));
    return { ch: channel, accept: acceptMsg };
  }
  it('channel_reserve_satoshis is less than dust_limit_satoshis within open_channel', () => {
    const { ch, accept: msg } = funder();
    rejects(ch, () => ch.onAcceptChannel({ ...msg, channelReserveSatoshis: 545, dustLimitSatoshis: 354 }), 'error', /below our dust_limit/);
  });
  it('channel_reserve_satoshis from open_channel is less than dust_limit_satoshis', () => {
    const { ch, accept: msg } = funder(100_000); // our reserve for them: 1000 sat
    rejects(ch, () => ch.onAcceptChannel({ ...msg, dustLimitSatoshis: 2000, channelReserveSatoshis: 20_000 }), 'error', /reserve is below their dust_limit/);
  });
  it('the message has no channel_type', () => {
    const { ch, accept: msg } = funder();
    const { channelType: _omit, ...rest } = msg;
    rejects(ch, () => ch.onAcceptChannel(rest as typeof msg), 'error', /channel_type/);
  });
  it('channel_type does not match the channel_type from open_channel', () => {
    const { ch, accept: msg } = funder();
    rejects(ch, () => ch.onAcceptChannel({ ...msg, channelType: FeatureBits.fromBits([12, 22]).toBytes() }), 'error', /channel_type/);
  });
  it('(MAY) minimum_depth is unreasonably large', () => {
    const { ch, accept: msg } = funder();
    rejects(ch, () => ch.onAcceptChannel({ ...msg, minimumDepth: 1000 }), 'error', /minimum_depth/);
  });
  it('other fields have the requirements of open_channel (to_self_delay, max_accepted_htlcs, points)', () => {
    const { ch, accept: msg } = funder();
    rejects(ch, () => ch.onAcceptChannel({ ...msg, toSelfDelay: 5000 }), 'error', /to_self_delay/);
    rejects(ch, () => ch.onAcceptChannel({ ...msg, maxAcceptedHtlcs: 484 }), 'error', /max_accepted_htlcs/);
    rejects(ch, () => ch.onAcceptChannel({ ...msg, htlcBasepoint: NOT_A_POINT }), 'error', /point/);
  });
});

describe('BOLT 2 funding_created / funding_signed: an incorrect signature fails the channel', () => {
  function setup() {
    const { channel: a, message: open } = Channel.openOutbound({ keyIndex: 0, remoteNodeId: NODE_B, chainHash: CHAIN, fundingSat: 1_000_000, pushMsat: 0n, feeratePerKw: 2500 }, ctxOf(1));
    const { channel: b, message: acc } = Channel.acceptInbound(open, { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 3 }, ctxOf(2));
    a.onAcceptChannel(acc);
    return { a, b, created: a.fundingCreated(FUNDING_TXID, 0) };
  }
  it('funding_created with a signature that does not verify', () => {
    const { b, created } = setup();
    const signature = Uint8Array.from(created.signature);
    signature[40]! ^= 1;
    rejects(b, () => b.onFundingCreated({ ...created, signature }), 'error', /Invalid commitment signature/);
    rejects(b, () => b.onFundingCreated({ ...created, signature: highS(created.signature) }), 'error', /Invalid commitment signature/);
    expect(b.state).toBe('PREOPENING');
  });
  it('funding_signed with a signature that does not verify (the funding transaction is never broadcast)', () => {
    const { a, b, created } = setup();
    const signed = b.onFundingCreated(created);
    const signature = Uint8Array.from(signed.signature);
    signature[10]! ^= 1;
    rejects(a, () => a.onFundingSigned({ ...signed, signature }), 'error', /Invalid commitment signature/);
    expect(a.state).toBe('PREOPENING');
  });
});

describe('BOLT 2 channel_ready: the receiver', () => {
  it('MUST ignore any redundant channel_ready (e.g. retransmitted after reconnection), keeping the latest alias', () => {
    const p = new Pair();
    p.pay(2_000_000n);
    const before = JSON.parse(p.b.record().data);
    // a valid point that is not the one we hold as the peer's next: must not replace it
    const otherPoint = p.a.reestablishMessage().myCurrentPerCommitmentPoint;
    p.b.onChannelReady({ type: 'channel_ready', channelId: Buffer.from(p.b.channelId, 'hex'), secondPerCommitmentPoint: otherPoint, alias: 77n });
    const after = JSON.parse(p.b.record().data);
    expect(after.remoteNextPoint).toBe(before.remoteNextPoint);
    expect(after.remoteCtn).toBe(before.remoteCtn);
    expect(p.b.remoteAlias).toBe(77n);
  });
});

describe('BOLT 2 shutdown: a receiving node', () => {
  it('if it has not received funding_created (fundee): SHOULD send an error and fail the channel', () => {
    const { message: open } = Channel.openOutbound({ keyIndex: 0, remoteNodeId: NODE_B, chainHash: CHAIN, fundingSat: 1_000_000, pushMsat: 0n, feeratePerKw: 2500 }, ctxOf(1));
    const { channel: b } = Channel.acceptInbound(open, { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 3 }, ctxOf(2));
    rejects(b, () => b.onShutdown({ type: 'shutdown', channelId: open.temporaryChannelId, scriptpubkey: P2WPKH_A }), 'error', /Unexpected shutdown/);
  });
  it('if the scriptpubkey is not in one of the allowed forms: SHOULD send a warning', () => {
    const p = new Pair();
    const p2pkh = Uint8Array.of(0x76, 0xa9, 0x14, ...new Uint8Array(20), 0x88, 0xac);
    rejects(p.b, () => p.b.onShutdown({ type: 'shutdown', channelId: Buffer.from(p.b.channelId, 'hex'), scriptpubkey: p2pkh }), 'warning', /Invalid shutdown scriptpubkey/);
  });
  it('accepts witness v1..16 only if option_shutdown_anysegwit is negotiated', () => {
    const strict = new Pair();
    const shutdown = (ch: Channel) => ({ type: 'shutdown' as const, channelId: Buffer.from(ch.channelId, 'hex'), scriptpubkey: P2TR });
    rejects(strict.b, () => strict.b.onShutdown(shutdown(strict.b)), 'warning', /Invalid shutdown scriptpubkey/);
    const anysegwit = new Pair({ features: { anysegwit: true } });
    anysegwit.b.onShutdown(shutdown(anysegwit.b));
    expect(anysegwit.b.shutdownReceived).toBe(true);
  });
  it('if both advertised option_upfront_shutdown_script and the scriptpubkey differs from the non-empty upfront one: warning, MUST fail the connection (the channel stays)', () => {
    const p = new Pair({ upfront: { a: P2WPKH_A, b: new Uint8Array(0) } });
    const channelId = Buffer.from(p.b.channelId, 'hex');
    rejects(p.b, () => p.b.onShutdown({ type: 'shutdown', channelId, scriptpubkey: P2WPKH_B }), 'warning', /upfront_shutdown_script/);
    expect(p.b.state).toBe('OPEN');
    p.b.onShutdown({ type: 'shutdown', channelId, scriptpubkey: P2WPKH_A });
    expect(p.b.shutdownReceived).toBe(true);
  });
  it('(sender) after committing to an upfront script, our shutdown uses it; an empty upfront script leaves us free', () => {
    const p = new Pair({ upfront: { a: P2WPKH_A, b: new Uint8Array(0) } });
    expect(p.a.upfrontShutdownScript).toEqual(P2WPKH_A);
    expect(() => p.a.shutdown(P2WPKH_B)).toThrow(/upfront_shutdown_script/);
    expect(p.a.shutdown(P2WPKH_A).scriptpubkey).toEqual(P2WPKH_A);
    expect(p.b.upfrontShutdownScript).toBeNull();
    const other = new Pair({ upfront: { a: P2WPKH_A, b: new Uint8Array(0) } });
    other.b.onShutdown({ type: 'shutdown', channelId: Buffer.from(other.b.channelId, 'hex'), scriptpubkey: P2WPKH_A });
    expect(other.b.shutdown(P2WPKH_B).scriptpubkey).toEqual(P2WPKH_B);
  });
  it('upfront scripts survive a reload from storage', () => {
    const p = new Pair({ upfront: { a: P2WPKH_A, b: P2WPKH_B } });
    const reloaded = Channel.load(decodeChannelData(p.b.record().data), ctxOf(2));
    expect(reloaded.upfrontShutdownScript).toEqual(P2WPKH_B);
    rejects(reloaded, () => reloaded.onShutdown({ type: 'shutdown', channelId: Buffer.from(reloaded.channelId, 'hex'), scriptpubkey: P2WPKH_B }), 'warning', /upfront/);
  });
});

describe('BOLT 2 closing_signed (legacy negotiation with fee_range): the receiving node', () => {
  function clean(): Pair {
    const p = new Pair();
    p.send(p.a, [p.a.shutdown(P2WPKH_A)]);
    p.run();
    p.send(p.b, [p.b.shutdown(P2WPKH_B)]);
    p.run();
    expect(p.a.isCleanForClosing() && p.b.isCleanForClosing()).toBe(true);
    return p;
  }
  type WithPrivate = { closingSignedMessage(fee: number, range: { min: number; max: number }): ClosingSignedMessage };
  it('if the signature is not valid for either closing transaction variant: fails the channel', () => {
    const p = clean();
    const first = p.a.startClosing(2500)!;
    const signature = Uint8Array.from(first.signature);
    signature[5]! ^= 1;
    rejects(p.b, () => p.b.onClosingSigned({ ...first, signature }), 'error', /Invalid closing signature/);
  });
  it('if there is no overlap between the fee_ranges: SHOULD send a warning', () => {
    const p = clean();
    const first = p.a.startClosing(2500)!;
    const far = { minFeeSatoshis: first.feeRange!.maxFeeSatoshis + 1, maxFeeSatoshis: first.feeRange!.maxFeeSatoshis + 10 };
    const reply = (p.b as unknown as WithPrivate).closingSignedMessage(first.feeSatoshis + 1, { min: far.minFeeSatoshis, max: far.maxFeeSatoshis });
    rejects(p.a, () => p.a.onClosingSigned(reply), 'warning', /No overlap/);
  });
  it('funder: if fee_satoshis is not in the overlap of the fee_ranges: MUST fail the channel', () => {
    const p = clean();
    const first = p.a.startClosing(2500)!;
    const range = { min: first.feeRange!.minFeeSatoshis, max: first.feeSatoshis + 5 };
    const reply = (p.b as unknown as WithPrivate).closingSignedMessage(first.feeSatoshis + 50, range);
    rejects(p.a, () => p.a.onClosingSigned(reply), 'error', /outside the agreed range/);
  });
  it('fundee: if it already sent closing_signed and fee_satoshis differs from it: MUST fail the channel', () => {
    const p = clean();
    const low = p.a.startClosing(100)!; // below the fundee's 253 sat/kw floor: it counters
    const { reply, closingTxHex } = p.b.onClosingSigned(low);
    expect(closingTxHex).toBeNull();
    expect(reply!.feeSatoshis).not.toBe(low.feeSatoshis);
    const again = (p.a as unknown as WithPrivate).closingSignedMessage(reply!.feeSatoshis + 1, { min: 1, max: reply!.feeSatoshis + 100 });
    rejects(p.b, () => p.b.onClosingSigned(again), 'error', /differs from the one we agreed/);
  });
  it('a fee above the funder balance fails the channel', () => {
    const p = clean();
    const huge = (p.a as unknown as WithPrivate).closingSignedMessage(950_000, { min: 1, max: 950_000 });
    rejects(p.b, () => p.b.onClosingSigned(huge), 'error', /exceeds the funder balance/);
  });
});

describe('BOLT 2 update_add_htlc: a receiving node fails the channel when', () => {
  it('amount_msat is 0', () => {
    const p = new Pair();
    rejects(p.a, () => p.a.onUpdateAddHtlc(addMsg(p.a, { amountMsat: 0n })), 'error', /htlc_minimum_msat/);
  });
  it('amount_msat is less than its htlc_minimum_msat', () => {
    const p = new Pair({ aConfig: { htlcMinimumMsat: 5000n } });
    rejects(p.a, () => p.a.onUpdateAddHtlc(addMsg(p.a, { amountMsat: 4999n })), 'error', /htlc_minimum_msat/);
  });
  it('the sender cannot afford it while keeping its channel reserve', () => {
    const p = new Pair(); // B has 100 000 sat, reserve 10 000 sat
    rejects(p.a, () => p.a.onUpdateAddHtlc(addMsg(p.a, { amountMsat: 95_000_000n })), 'error', /afford/);
  });
  it('the sender adds more than the receiver max_accepted_htlcs', () => {
    const p = new Pair({ aConfig: { maxAcceptedHtlcs: 2 } });
    p.a.onUpdateAddHtlc(addMsg(p.a, { id: 0n }));
    p.a.onUpdateAddHtlc(addMsg(p.a, { id: 1n }));
    rejects(p.a, () => p.a.onUpdateAddHtlc(addMsg(p.a, { id: 2n })), 'error', /Too many HTLCs/);
  });
  it('the sender adds more than the receiver max_htlc_value_in_flight_msat', () => {
    const p = new Pair({ aConfig: { maxHtlcValueInFlightMsat: 3_000_000n } });
    p.a.onUpdateAddHtlc(addMsg(p.a, { id: 0n, amountMsat: 2_000_000n }));
    rejects(p.a, () => p.a.onUpdateAddHtlc(addMsg(p.a, { id: 1n, amountMsat: 1_000_001n })), 'error', /in flight exceeds/);
  });
  it('cltv_expiry is 500000000 or more', () => {
    const p = new Pair();
    rejects(p.a, () => p.a.onUpdateAddHtlc(addMsg(p.a, { cltvExpiry: 500_000_000 })), 'error', /cltv_expiry/);
  });
  it('MUST allow multiple HTLCs with the same payment_hash', () => {
    const p = new Pair();
    const paymentHash = sha256(randomBytes(32));
    p.a.onUpdateAddHtlc(addMsg(p.a, { id: 0n, paymentHash }));
    p.a.onUpdateAddHtlc(addMsg(p.a, { id: 1n, paymentHash }));
  });
  it('MUST ignore a repeated id the sender retransmits; other id violations fail the channel', () => {
    const p = new Pair();
    const first = addMsg(p.a, { id: 0n });
    p.a.onUpdateAddHtlc(first);
    const before = JSON.parse(p.a.record().data);
    p.a.onUpdateAddHtlc(first);
    expect(JSON.parse(p.a.record().data)).toEqual(before);
    rejects(p.a, () => p.a.onUpdateAddHtlc(addMsg(p.a, { id: 0n, amountMsat: 7n })), 'error', /Repeated HTLC id/);
    rejects(p.a, () => p.a.onUpdateAddHtlc(addMsg(p.a, { id: 5n })), 'error', /expected 1/);
  });
  it('it comes after the sender sent shutdown', () => {
    const p = new Pair();
    p.a.onShutdown({ type: 'shutdown', channelId: Buffer.from(p.a.channelId, 'hex'), scriptpubkey: P2WPKH_B });
    rejects(p.a, () => p.a.onUpdateAddHtlc(addMsg(p.a, {})), 'error', /after shutdown/);
  });
});

describe('BOLT 2 update_fulfill_htlc / update_fail_htlc / update_fail_malformed_htlc: the receiving node fails the channel if', () => {
  it('the id does not correspond to an HTLC in its current commitment transaction', () => {
    const p = new Pair();
    const channelId = Buffer.from(p.a.channelId, 'hex');
    const { id } = p.pay(5_000_000n);
    rejects(p.a, () => p.a.onUpdateFulfillHtlc({ type: 'update_fulfill_htlc', channelId, id: id + 1n, paymentPreimage: randomBytes(32) }), 'error', /not in our current commitment/);
    rejects(p.a, () => p.a.onUpdateFailHtlc({ type: 'update_fail_htlc', channelId, id: id + 1n, reason: randomBytes(40) }), 'error', /not in our current commitment/);
    // offered but not yet in our commitment (no commitment_signed for it yet)
    const add = p.a.addHtlc({ amountMsat: 5_000_000n, paymentHash: sha256(randomBytes(32)), cltvExpiry: 800, onion: randomBytes(1366) });
    rejects(p.a, () => p.a.onUpdateFailHtlc({ type: 'update_fail_htlc', channelId, id: add.id, reason: randomBytes(40) }), 'error', /not in our current commitment/);
  });
  it('the payment_preimage does not SHA256 to the payment_hash', () => {
    const p = new Pair();
    const { id } = p.pay(5_000_000n);
    rejects(p.a, () => p.a.onUpdateFulfillHtlc({ type: 'update_fulfill_htlc', channelId: Buffer.from(p.a.channelId, 'hex'), id, paymentPreimage: randomBytes(32) }), 'error', /payment_preimage/);
  });
  it('the BADONION bit is not set in update_fail_malformed_htlc', () => {
    const p = new Pair();
    const { id } = p.pay(5_000_000n);
    const msg = { type: 'update_fail_malformed_htlc' as const, channelId: Buffer.from(p.a.channelId, 'hex'), id, sha256OfOnion: randomBytes(32), failureCode: 0x4005 };
    rejects(p.a, () => p.a.onUpdateFailMalformedHtlc(msg), 'error', /BADONION/);
    p.a.onUpdateFailMalformedHtlc({ ...msg, failureCode: 0xc005 });
  });
});

describe('BOLT 2 commitment_signed: the receiving node fails the channel if', () => {
  function signed(): { p: Pair; msg: Extract<ChannelMessage, { type: 'commitment_signed' }> } {
    const p = new Pair();
    p.b.onUpdateAddHtlc(p.a.addHtlc({ amountMsat: 20_000_000n, paymentHash: sha256(randomBytes(32)), cltvExpiry: 800, onion: randomBytes(1366) }));
    const msg = p.a.signNextCommitment()!;
    expect(msg.htlcSignatures).toHaveLength(1);
    return { p, msg };
  }
  it('signature is not valid for its local commitment transaction', () => {
    const { p, msg } = signed();
    const signature = Uint8Array.from(msg.signature);
    signature[3]! ^= 1;
    rejects(p.b, () => p.b.onCommitmentSigned({ ...msg, signature }), 'error', /Invalid commitment signature/);
  });
  it('signature is valid but not LOW-S compliant (the same signature with s replaced by n − s)', () => {
    const { p, msg } = signed();
    rejects(p.b, () => p.b.onCommitmentSigned({ ...msg, signature: highS(msg.signature) }), 'error', /Invalid commitment signature/);
    rejects(p.b, () => p.b.onCommitmentSigned({ ...msg, htlcSignatures: [highS(msg.htlcSignatures[0]!)] }), 'error', /Invalid HTLC signature 0/);
  });
  it('num_htlcs is not equal to the number of HTLC outputs', () => {
    const { p, msg } = signed();
    rejects(p.b, () => p.b.onCommitmentSigned({ ...msg, htlcSignatures: [] }), 'error', /Expected 1 HTLC signatures, got 0/);
  });
  it('an htlc_signature is not valid for its HTLC transaction', () => {
    const { p, msg } = signed();
    const bad = Uint8Array.from(msg.htlcSignatures[0]!);
    bad[7]! ^= 1;
    rejects(p.b, () => p.b.onCommitmentSigned({ ...msg, htlcSignatures: [bad] }), 'error', /Invalid HTLC signature 0/);
  });
});

describe('BOLT 2 revoke_and_ack: the receiving node MUST send an error and fail the channel if', () => {
  function revoked(): { p: Pair; msg: Extract<ChannelMessage, { type: 'revoke_and_ack' }> } {
    const p = new Pair();
    p.b.onUpdateAddHtlc(p.a.addHtlc({ amountMsat: 2_000_000n, paymentHash: sha256(randomBytes(32)), cltvExpiry: 800, onion: randomBytes(1366) }));
    const msg = p.b.onCommitmentSigned(p.a.signNextCommitment()!);
    return { p, msg };
  }
  it('per_commitment_secret does not generate the previous per_commitment_point', () => {
    const { p, msg } = revoked();
    rejects(p.a, () => p.a.onRevokeAndAck({ ...msg, perCommitmentSecret: sha256(Uint8Array.of(1)) }), 'error', /does not match the per_commitment_point/);
  });
  it('per_commitment_secret is not a valid secret key', () => {
    const { p, msg } = revoked();
    rejects(p.a, () => p.a.onRevokeAndAck({ ...msg, perCommitmentSecret: new Uint8Array(32).fill(0xff) }), 'error', /not a valid secret key/);
  });
  it('no commitment_signed of ours is waiting for it', () => {
    const { p, msg } = revoked();
    p.a.onRevokeAndAck(msg);
    rejects(p.a, () => p.a.onRevokeAndAck(msg), 'error', /Unexpected revoke_and_ack/);
  });
});

describe('BOLT 2 update_fee: a receiving node fails the channel if', () => {
  const fee = (ch: Channel, feeratePerKw: number) => ({ type: 'update_fee' as const, channelId: Buffer.from(ch.channelId, 'hex'), feeratePerKw });
  it('the sender is not responsible for paying the Bitcoin fee', () => {
    const p = new Pair();
    rejects(p.a, () => p.a.onUpdateFee(fee(p.a, 3000)), 'error', /non-funder/);
    expect(() => p.b.updateFee(3000)).toThrow(/Only the funder/);
  });
  it('the update_fee is too low for timely processing', () => {
    const floor = new Pair();
    rejects(floor.b, () => floor.b.onUpdateFee(fee(floor.b, 252)), 'error', /feerate_per_kw 252/);
    const p = new Pair({ estimate: 20_000, feeratePerKw: 2500 });
    rejects(p.b, () => p.b.onUpdateFee(fee(p.b, 1999)), 'error', /feerate_per_kw 1999/);
    p.b.onUpdateFee(fee(p.b, 2000));
  });
  it('the update_fee is unreasonably large', () => {
    const p = new Pair({ estimate: 1000 });
    rejects(p.b, () => p.b.onUpdateFee(fee(p.b, 200_001)), 'error', /feerate_per_kw 200001/);
    p.b.onUpdateFee(fee(p.b, 200_000));
  });
  it('the sender cannot afford the new fee rate on the receiving node commitment', () => {
    const p = new Pair({ fundingSat: 20_000, pushMsat: 0n });
    rejects(p.b, () => p.b.onUpdateFee(fee(p.b, 200_000)), 'error', /afford/);
  });
});

describe('BOLT 2 max_dust_htlc_exposure_msat (10,000 msat per sat/kw, counted at the buffered feerate)', () => {
  const fee = (ch: Channel, feeratePerKw: number) => ({ type: 'update_fee' as const, channelId: Buffer.from(ch.channelId, 'hex'), feeratePerKw });
  const SAT = 1000n;
  /** B → A HTLC, fully committed on both sides. */
  const payBack = (p: Pair, amountMsat: bigint) => {
    p.send(p.b, [p.b.addHtlc({ amountMsat, paymentHash: sha256(randomBytes(32)), cltvExpiry: 800, onion: randomBytes(1366) })]);
    p.run();
  };

  it('Electrum on regtest (37,500 sat/kw, static_remotekey): dust HTLCs of 1,000–20,000 sat both ways pass; the bound 375,000,000 msat still holds', () => {
    const p = new Pair({ feeratePerKw: 37_500 }); // every HTLC under ~26,900 sat is trimmed on both commitments
    for (const sat of [1_000n, 5_000n, 10_000n, 20_000n, 2_000n]) p.pay(sat * SAT);
    for (const sat of [20_000n, 5_000n]) payBack(p, sat * SAT);
    expect(p.b.pendingIncomingHtlcs()).toHaveLength(5);
    expect(p.a.pendingIncomingHtlcs()).toHaveLength(2);
    expect([...p.a.pendingIncomingHtlcs(), ...p.b.pendingIncomingHtlcs()].some((h) => h.dustExposureExceeded)).toBe(false);
    // 63,000 sat of dust in flight (the reverted fixed bound stopped at 5,000). Fill up to 375,000 sat:
    for (let i = 0; i < 15; i++) p.pay(20_000n * SAT); // 363,000 sat
    expect(() => p.a.addHtlc({ amountMsat: 20_000n * SAT, paymentHash: sha256(randomBytes(32)), cltvExpiry: 800, onion: randomBytes(1366) })).toThrow(
      expect.objectContaining({ code: 'CHANNEL_STATE', message: expect.stringMatching(/dust exposure to 383000000 msat, above max_dust_htlc_exposure_msat 375000000/) }),
    );
    p.pay(12_000n * SAT); // 375,000 sat: exactly the bound
    p.pay(40_000n * SAT); // not dust: not bounded
    expect(p.b.pendingIncomingHtlcs().every((h) => !h.dustExposureExceeded)).toBe(true);
  });

  it('sending: at 2,500 sat/kw (bound 25,000,000 msat) 3,000-sat HTLCs count as dust (trimmed at the buffered 5,030 sat/kw); the 9th is not sent', () => {
    const p = new Pair({ feeratePerKw: 2500 });
    for (let i = 0; i < 8; i++) p.pay(3_000n * SAT); // 24,000,000 msat
    expect(() => p.a.addHtlc({ amountMsat: 3_000n * SAT, paymentHash: sha256(randomBytes(32)), cltvExpiry: 800, onion: randomBytes(1366) })).toThrow(
      /Not sent: an HTLC of 3000000 msat is dust on (our|the peer's) commitment at 2500 sat\/kw/,
    );
    p.pay(5_000n * SAT); // not dust at 5,030 sat/kw either
  });

  it('receiving: an HTLC past the bound is accepted but marked, failed back once committed, and stays marked after reload', () => {
    // A (the sender) has a higher estimate, hence a higher bound than B: B is the one to refuse.
    const p = new Pair({ feeratePerKw: 37_500, estimateA: 50_000 });
    for (let i = 0; i < 18; i++) p.pay(20_000n * SAT); // 360,000,000 msat ≤ B's 375,000,000
    const over = p.pay(20_000n * SAT); // 380,000,000 msat: within A's 500,000,000, past B's
    p.pay(40_000n * SAT); // not dust
    const marks = () => p.b.pendingIncomingHtlcs().slice(-3).map((h) => [h.amountMsat, h.dustExposureExceeded ?? false]);
    expect(marks()).toEqual([[20_000n * SAT, false], [20_000n * SAT, true], [40_000n * SAT, false]]);
    const reloaded = Channel.load(decodeChannelData(p.b.record().data), ctxOf(2));
    expect(reloaded.incomingHtlc(over.id)?.dustExposureExceeded).toBe(true);
    // What node.ts does for a marked HTLC: fail it (temporary_channel_failure), never fulfil.
    p.send(p.b, [p.b.failHtlc(over.id, randomBytes(32))]);
    p.run();
    expect(p.a.outgoingHtlcOutcomes(bytesToHex(sha256(over.preimage)))).toEqual([{ htlcId: over.id, outcome: expect.objectContaining({ kind: 'failed' }) }]);
  });

  it('update_fee (no option_anchors): a raise that trims HTLCs past the bound fails the channel; a smaller one is accepted', () => {
    const p = new Pair({ feeratePerKw: 2500 });
    for (let i = 0; i < 15; i++) p.pay(7_000n * SAT); // not dust at 2,500 (nor at the buffered 5,030) sat/kw
    // At 10,000 sat/kw 7,000-sat HTLCs are trimmed: 105,000,000 msat > 10,000 × 10,000.
    rejects(p.b, () => p.b.onUpdateFee(fee(p.b, 10_000)), 'error', /update_fee: feerate 10000 sat\/kw puts 105000000 msat of HTLCs in dust on the (local|remote) commitment/);
    p.b.onUpdateFee(fee(p.b, 5000));
  });

  it('update_fee (sender, no option_anchors): never sends a raise past the bound, lowers it to the highest feerate within', () => {
    const p = new Pair({ feeratePerKw: 2500 });
    for (let i = 0; i < 15; i++) p.pay(7_000n * SAT);
    expect(() => p.a.updateFee(10_000)).toThrow(/update_fee not sent: feerate 10000 sat\/kw puts 105000000 msat/);
    const update = p.a.proposeFeeUpdate(10_000)!;
    expect(update.feeratePerKw).toBeGreaterThan(9000); // 7,000-sat HTLCs are trimmed on B's commitment from ~9,181 sat/kw
    expect(update.feeratePerKw).toBeLessThan(10_000);
    p.send(p.a, [update]);
    p.run(); // the fundee accepts it
    expect(p.b.feeratePerKw).toBe(update.feeratePerKw);
  });

  it('option_anchors at 253 sat/kw: only HTLCs below the 546-sat dust limit are dust, bounded by the 5,000,000 msat floor', () => {
    const p = new Pair({ feeratePerKw: 253, channelType: 'anchors' });
    for (let i = 0; i < 10; i++) p.pay(500n * SAT); // 5,000,000 msat
    expect(() => p.a.addHtlc({ amountMsat: 500n * SAT, paymentHash: sha256(randomBytes(32)), cltvExpiry: 800, onion: randomBytes(1366) })).toThrow(
      /above max_dust_htlc_exposure_msat 5000000 msat/,
    );
    p.pay(546n * SAT); // not trimmed with anchors (zero-fee HTLC transactions)
    p.b.onUpdateFee(fee(p.b, 10_000)); // a raise trims nothing more with anchors
  });
});

describe('BOLT 2 update_fee sending (funder): follows the estimate, stays affordable, survives reconnection', () => {
  it('sends update_fee only when the estimate moved enough (raise when 2500 ≤ min(0.75 e, e − 253), lower when 2500 ≥ 2 e)', () => {
    const p = new Pair({ feeratePerKw: 2500 });
    for (const estimate of [2600, 3300, 1300]) expect(p.a.proposeFeeUpdate(estimate)).toBeNull();
    expect(p.a.proposeFeeUpdate(1250)?.feeratePerKw).toBe(1250);
    const q = new Pair({ feeratePerKw: 2500 });
    expect(q.a.proposeFeeUpdate(3400)?.feeratePerKw).toBe(3400);
  });
  it('raises to the estimate and commits it on both sides', () => {
    const p = new Pair({ feeratePerKw: 2500 });
    const update = p.a.proposeFeeUpdate(10_000)!;
    expect(update.feeratePerKw).toBe(10_000);
    expect(p.b.proposeFeeUpdate(20_000)).toBeNull(); // the fundee never sends update_fee
    p.send(p.a, [update]);
    p.run();
    expect(p.a.feeratePerKw).toBe(10_000);
    expect(p.b.feeratePerKw).toBe(10_000);
    expect(p.a.proposeFeeUpdate(10_000)).toBeNull();
  });
  it('lowers the raise to what the funder can afford (reserve kept), and never sends an unaffordable one', () => {
    const p = new Pair({ fundingSat: 20_000, pushMsat: 0n, feeratePerKw: 2500 });
    const update = p.a.proposeFeeUpdate(150_000)!;
    expect(update.feeratePerKw).toBeGreaterThan(2500);
    expect(update.feeratePerKw).toBeLessThan(150_000);
    p.send(p.a, [update]);
    p.run(); // the fundee accepts it
    expect(p.b.feeratePerKw).toBe(update.feeratePerKw);
    expect(p.a.proposeFeeUpdate(150_000)).toBeNull(); // nothing affordable above the current one
  });
  it('is retransmitted with its commitment_signed when that was lost (channel_reestablish)', () => {
    const p = new Pair({ feeratePerKw: 2500 });
    const update = p.a.proposeFeeUpdate(7500)!;
    const commit = p.a.signNextCommitment()!;
    p.lost = true;
    p.send(p.a, [update, commit]);
    p.reconnect();
    expect(p.a.feeratePerKw).toBe(7500);
    expect(p.b.feeratePerKw).toBe(7500);
    // and a payment still works afterwards
    p.pay(3_000_000n);
    expect(p.b.balances().remoteMsat).toBe(p.a.balances().localMsat);
  });
});

describe('BOLT 2 channel_reestablish: the receiving node fails the channel if', () => {
  it('next_commitment_number is zero', () => {
    const p = new Pair();
    p.a.onDisconnected();
    rejects(p.a, () => p.a.onChannelReestablish({ ...p.b.reestablishMessage(), nextCommitmentNumber: 0 }), 'error', /next_commitment_number is 0/);
  });
  it('next_commitment_number is not the commitment number of the next commitment_signed it expects to send', () => {
    const p = new Pair();
    p.a.onDisconnected();
    rejects(p.a, () => p.a.onChannelReestablish({ ...p.b.reestablishMessage(), nextCommitmentNumber: 5 }), 'error', /next_commitment_number 5/);
  });
  it('next_revocation_number is ahead of our state without proof that we lost data', () => {
    const p = new Pair();
    p.a.onDisconnected();
    rejects(p.a, () => p.a.onChannelReestablish({ ...p.b.reestablishMessage(), nextRevocationNumber: 3 }), 'error', /next_revocation_number is ahead/);
  });
  it('next_revocation_number is older than the last revoke_and_ack we sent', () => {
    const p = new Pair();
    p.pay(2_000_000n);
    p.pay(2_000_000n);
    p.a.onDisconnected();
    rejects(p.a, () => p.a.onChannelReestablish({ ...p.b.reestablishMessage(), nextRevocationNumber: 0, yourLastPerCommitmentSecret: new Uint8Array(32) }), 'error', /too old/);
  });
  it('your_last_per_commitment_secret does not match', () => {
    const p = new Pair();
    p.pay(2_000_000n);
    p.pay(2_000_000n);
    p.a.onDisconnected();
    rejects(p.a, () => p.a.onChannelReestablish({ ...p.b.reestablishMessage(), yourLastPerCommitmentSecret: randomBytes(32) }), 'error', /your_last_per_commitment_secret/);
  });
});

describe('failing the channel (BOLT 1 error, BOLT 5): what an "error" rejection leads to', () => {
  it('once a commitment is signed, failChannel returns the error for the channel and our signed commitment to broadcast', () => {
    const p = new Pair();
    const { error, commitmentTxHex } = p.b.failChannel('update_fee from the non-funder');
    expect(error.type).toBe('error');
    expect(bytesToHex(error.channelId)).toBe(p.b.channelId);
    expect(commitmentTxHex).toMatch(/^02000000/);
    expect(p.b.state).toBe('FORCE_CLOSING');
  });
});
