/**
 * Shared fixtures of the Channel unit tests (channel.test.ts, bolt2-musts.test.ts,
 * crash-restart.test.ts): two real engines taken to OPEN back to back, the message dispatch
 * node.ts does, and a restart from SQLite. Test-only: imported by *.test.ts files alone.
 */
import { expect } from 'vitest';
import { openDatabase, type Db } from '../../storage/db.js';
import type { ChannelMessage } from '../wire/messages.js';
import { Channel, type ChannelContext, type InboundParams, type OutboundParams } from './channel.js';
import { ChannelStore } from './store.js';

/** Chain hash the test channels use (any 32 bytes: the engines only compare it). */
export const CHAIN = new Uint8Array(32).fill(6);
/** Node ids (33-byte compressed pubkeys, hex) of the funder A and the fundee B. */
export const NODE_A = '02' + 'aa'.repeat(32);
export const NODE_B = '02' + 'bb'.repeat(32);

/** A ChannelContext with root secret 32 × `seed` on `db` (default: a new in-memory database). */
export function channelContext(seed: number, db: Db = openDatabase(':memory:'), feerateEstimatePerKw?: () => number | null): ChannelContext {
  return { lightningRootSecret: new Uint8Array(32).fill(seed), persistence: new ChannelStore(db), ...(feerateEstimatePerKw ? { feerateEstimatePerKw } : {}) };
}

/**
 * Opens a channel from A (funder, `ctxA`) to B (fundee, `ctxB`) funded by output 0 of
 * `fundingTxid` and takes both to OPEN (short channel id 1 << 40), asserting each step: the funding
 * amount, OPENING on both after funding_signed, one channel_id, OPEN on both after channel_ready.
 * Defaults: keyIndex 0, 1,000,000 sat, push 100,000,000 msat, 2,500 sat/kw, B's minimum_depth 1;
 * `outbound` / `inbound` override any of A's OutboundParams / B's InboundParams.
 */
export function openChannelPair(
  ctxA: ChannelContext,
  ctxB: ChannelContext,
  fundingTxid: string,
  outbound: Partial<OutboundParams> = {},
  inbound: Partial<InboundParams> = {},
): { a: Channel; b: Channel } {
  const fundingSat = outbound.fundingSat ?? 1_000_000;
  const { channel: a, message: open } = Channel.openOutbound(
    { keyIndex: 0, remoteNodeId: NODE_B, chainHash: CHAIN, pushMsat: 100_000_000n, feeratePerKw: 2500, ...outbound, fundingSat },
    ctxA,
  );
  const { channel: b, message: accept } = Channel.acceptInbound(open, { keyIndex: 0, remoteNodeId: NODE_A, chainHash: CHAIN, minimumDepth: 1, ...inbound }, ctxB);
  expect(a.onAcceptChannel(accept).amountSat).toBe(fundingSat);
  a.onFundingSigned(b.onFundingCreated(a.fundingCreated(fundingTxid, 0)));
  expect(a.state).toBe('OPENING');
  expect(b.state).toBe('OPENING');
  expect(a.channelId).toBe(b.channelId);
  const readyA = a.fundingLocked(1n << 40n)!;
  const readyB = b.fundingLocked(1n << 40n)!;
  a.onChannelReady(readyB);
  b.onChannelReady(readyA);
  expect(a.state).toBe('OPEN');
  expect(b.state).toBe('OPEN');
  return { a, b };
}

/**
 * Hands one peer message to `ch` the way node.ts dispatches it and returns the replies (the
 * revoke_and_ack answering commitment_signed). `onFulfilled` gets the payment hash (hex) of each
 * update_fulfill_htlc. Throws on a message type the tests do not exchange.
 */
export function deliver(ch: Channel, m: ChannelMessage, onFulfilled?: (paymentHash: string) => void): ChannelMessage[] {
  switch (m.type) {
    case 'update_add_htlc':
      ch.onUpdateAddHtlc(m);
      return [];
    case 'update_fulfill_htlc': {
      const { paymentHash } = ch.onUpdateFulfillHtlc(m);
      onFulfilled?.(paymentHash);
      return [];
    }
    case 'update_fail_htlc':
      ch.onUpdateFailHtlc(m);
      return [];
    case 'update_fail_malformed_htlc':
      ch.onUpdateFailMalformedHtlc(m);
      return [];
    case 'update_fee':
      ch.onUpdateFee(m);
      return [];
    case 'commitment_signed':
      return [ch.onCommitmentSigned(m)];
    case 'revoke_and_ack':
      ch.onRevokeAndAck(m);
      return [];
    case 'channel_ready':
      ch.onChannelReady(m);
      return [];
    case 'shutdown':
      ch.onShutdown(m);
      return [];
    default:
      throw new Error(`test dispatch does not handle ${m.type}`);
  }
}

/** What a restart does: the (only) channel in `db` as last committed, loaded with `ctx`. */
export function reloadChannel(db: Db, ctx: ChannelContext): Channel {
  const [data] = new ChannelStore(db).loadAll();
  return Channel.load(data!, ctx);
}
