import { afterEach, describe, expect, it, vi } from 'vitest';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { FulmenError } from '../util/errors.js';
import { DEFAULT_PEER_FEATURES, Peer, listen, type PeerServer } from './peer.js';
import { NoiseConnection, listenNoise } from './transport/connection.js';
import { decodeMessage, encodeMessage, type ChannelMessage, type LightningMessage } from './wire/messages.js';
import { FeatureBits } from './wire/features.js';
import { hexToBytes } from './wire/codec.js';
import { decodeGossipMessage, encodeGossipMessage, type GossipMessage } from './wire/gossip.js';

const REGTEST = hexToBytes('06226e46111a0b59caaf126043eb5bbf28c34f3a5e332a1fc7b2b73cf188910f');
const TESTNET = hexToBytes('43497fd7f826957108f4a30fd9cec3aeba79972084e90ead01ea330900000000');
const alicePriv = new Uint8Array(32).fill(0xa1);
const bobPriv = new Uint8Array(32).fill(0xb0);
const bobId = secp256k1.getPublicKey(bobPriv, true);
const aliceId = secp256k1.getPublicKey(alicePriv, true);

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function startBob(opts: Partial<Parameters<typeof listen>[4]> = {}): Promise<{ server: PeerServer; inbound: Promise<Peer>; rejected: Promise<FulmenError> }> {
  let onPeer!: (p: Peer) => void;
  let onRejected!: (e: FulmenError) => void;
  const inbound = new Promise<Peer>((r) => (onPeer = r));
  const rejected = new Promise<FulmenError>((r) => (onRejected = r));
  const server = await listen('127.0.0.1', 0, bobPriv, onPeer, { chainHash: REGTEST, onRejected, ...opts });
  cleanups.push(() => server.close());
  return { server, inbound, rejected };
}

function connectAlice(port: number, extra: Partial<Parameters<typeof Peer.connect>[0]> = {}): Promise<Peer> {
  return Peer.connect({ host: '127.0.0.1', port, localPrivkey: alicePriv, remoteNodeId: bobId, chainHash: REGTEST, ...extra });
}

const channelId = new Uint8Array(32).fill(7);
const updateFee = (feeratePerKw: number): LightningMessage => ({ type: 'update_fee', channelId, feeratePerKw });

/** A scripted remote: completes the handshake, answers init, then lets the test drive it. */
async function scriptedRemote(onMessage: (msg: ReturnType<typeof decodeMessage>, conn: NoiseConnection) => void, init?: LightningMessage) {
  let accepted!: (c: NoiseConnection) => void;
  const connP = new Promise<NoiseConnection>((r) => (accepted = r));
  const server = await listenNoise('127.0.0.1', 0, bobPriv, accepted);
  cleanups.push(() => new Promise((r) => server.close(r)));
  const port = (server.address() as { port: number }).port;
  void connP.then((conn) => {
    cleanups.push(() => conn.close());
    conn.send(encodeMessage(init ?? { type: 'init', globalFeatures: new Uint8Array(0), features: DEFAULT_PEER_FEATURES.toBytes(), networks: [REGTEST] }));
    conn.onMessage((bytes) => onMessage(decodeMessage(bytes), conn));
  });
  return { port, connP };
}

describe('Peer over loopback TCP', () => {
  it('exchanges init, then delivers channel messages in order, one at a time (async handlers)', async () => {
    const { server, inbound } = await startBob();
    const alice = await connectAlice(server.port);
    const bob = await inbound;
    cleanups.push(() => alice.close(), () => bob.close());
    expect(alice.isReady && bob.isReady).toBe(true);
    expect(alice.remoteNodeId).toEqual(bobId);
    expect(bob.remoteNodeId).toEqual(aliceId);
    expect(alice.remoteFeatures.equals(DEFAULT_PEER_FEATURES)).toBe(true);
    expect(bob.remoteNetworks).toEqual([REGTEST]);

    // Alice sends before Bob registers a handler: messages are queued, not lost.
    for (let i = 1; i <= 5; i++) alice.send(updateFee(1000 + i));
    await new Promise((r) => setTimeout(r, 50));
    const seen: number[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const done = new Promise<void>((resolve) =>
      bob.onChannelMessage(async (msg: ChannelMessage) => {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        await new Promise((r) => setTimeout(r, 5));
        if (msg.type === 'update_fee') seen.push(msg.feeratePerKw);
        inFlight--;
        if (seen.length === 8) resolve();
      }),
    );
    for (let i = 6; i <= 8; i++) alice.send(updateFee(1000 + i));
    await done;
    expect(seen).toEqual([1001, 1002, 1003, 1004, 1005, 1006, 1007, 1008]);
    expect(maxInFlight).toBe(1);

    await alice.ping();
    expect(alice.msSinceLastMessage).toBeLessThan(1000);

    const bobClosed = new Promise<FulmenError | undefined>((r) => bob.on('closed', r));
    alice.close();
    expect((await bobClosed)?.code ?? 'clean').toBe('clean');
    expect(() => alice.send(updateFee(1))).toThrow(/disconnected/);
  });

  it('reports remote error and warning messages', async () => {
    const { server, inbound } = await startBob();
    const alice = await connectAlice(server.port);
    const bob = await inbound;
    cleanups.push(() => alice.close(), () => bob.close());
    const got: { text: string; isWarning: boolean }[] = [];
    const two = new Promise<void>((resolve) =>
      alice.on('remoteError', (e) => {
        got.push({ text: e.text, isWarning: e.isWarning });
        if (got.length === 2) resolve();
      }),
    );
    bob.sendWarning(channelId, 'fee too low');
    bob.sendError(new Uint8Array(32), 'internal error');
    await two;
    expect(got).toEqual([
      { text: 'fee too low', isWarning: true },
      { text: 'internal error', isWarning: false },
    ]);
  });

  it('rejects a peer that requires an unknown feature (even bit), with an error to it', async () => {
    const { server, inbound } = await startBob({ localFeatures: DEFAULT_PEER_FEATURES.union(FeatureBits.fromBits([100])) });
    const err = await connectAlice(server.port).then(
      () => undefined,
      (e: FulmenError) => e,
    );
    expect(err?.code).toBe('PROTOCOL');
    expect(err?.message).toMatch(/Unsupported required features: 100/);
    // Bob accepted Alice's init, then hears her error and loses the connection.
    const bob = await inbound;
    const remoteError = await new Promise<string>((r) => bob.on('remoteError', (e) => r(e.text)));
    expect(remoteError).toBe('Unsupported required features: 100');
    await new Promise((r) => bob.on('closed', r));
    expect(bob.isClosed).toBe(true);
  });

  it('accepts unknown optional (odd) feature bits', async () => {
    const { server, inbound } = await startBob({ localFeatures: DEFAULT_PEER_FEATURES.union(FeatureBits.fromBits([101])) });
    const alice = await connectAlice(server.port);
    const bob = await inbound;
    cleanups.push(() => alice.close(), () => bob.close());
    expect(alice.remoteFeatures.hasBit(101)).toBe(true);
  });

  it('rejects a peer on another chain (networks TLV)', async () => {
    const { server } = await startBob({ chainHash: TESTNET });
    await expect(connectAlice(server.port)).rejects.toThrow(/No common network/);
  });

  it('rejects a peer lacking a feature we require', async () => {
    const { server } = await startBob({ localFeatures: FeatureBits.fromFeatures({ var_onion_optin: 'required' }) });
    await expect(connectAlice(server.port)).rejects.toThrow(/Missing required features: option_data_loss_protect/);
  });

  it('answers pings, ignores unknown odd messages, and disconnects on unknown even ones', async () => {
    const pongs: number[] = [];
    const warnings: string[] = [];
    const { port } = await scriptedRemote((msg, conn) => {
      if (msg.type === 'init') {
        conn.send(encodeMessage({ type: 'ping', numPongBytes: 7, ignored: new Uint8Array(3) }));
        conn.send(encodeMessage({ type: 'ping', numPongBytes: 65532, ignored: new Uint8Array(0) })); // no reply expected
        conn.send(encodeMessage({ type: 'unknown', typeNumber: 32769, payload: new Uint8Array(4) }));
        conn.send(encodeMessage({ type: 'unknown', typeNumber: 258, payload: new Uint8Array(4) })); // gossip: known
        conn.send(encodeMessage({ type: 'ping', numPongBytes: 2, ignored: new Uint8Array(0) }));
      }
      if (msg.type === 'pong') {
        pongs.push(msg.ignored.length);
        if (pongs.length === 2) conn.send(encodeMessage({ type: 'unknown', typeNumber: 32768, payload: new Uint8Array(0) }));
      }
      if (msg.type === 'warning') warnings.push(new TextDecoder().decode(msg.data));
    });
    const alice = await connectAlice(port);
    const gossip: number[] = [];
    alice.on('gossipMessage', (m) => gossip.push(m.typeNumber));
    const closed = await new Promise<FulmenError | undefined>((r) => alice.on('closed', r));
    expect(pongs).toEqual([7, 2]);
    expect(gossip).toEqual([258]);
    expect(closed?.code).toBe('PROTOCOL');
    expect(closed?.message).toBe('Unknown even message type 32768');
    await new Promise((r) => setTimeout(r, 20));
    expect(warnings).toEqual(['Unknown even message type 32768']);
  });

  it('sends periodic pings and disconnects when the pong does not come', async () => {
    let pings = 0;
    const { port } = await scriptedRemote((msg) => {
      if (msg.type === 'ping') pings++; // never answered
    });
    const alice = await connectAlice(port, { pingIntervalMs: 30, pongTimeoutMs: 100 });
    const closed = await new Promise<FulmenError | undefined>((r) => alice.on('closed', r));
    expect(pings).toBe(1);
    expect(closed?.code).toBe('NETWORK');
    expect(closed?.message).toMatch(/did not answer ping/);
  });

  it('hold/release: batches of held messages, sends between release and the next hold, pings and socket backpressure lose and reorder nothing', async () => {
    // The node's group commit: hold at the first send of a turn, release at setImmediate. Both
    // sides do it at once, with batches far above the socket's high-water mark (write() returns false).
    const { server, inbound } = await startBob({ pingIntervalMs: 5 });
    const alice = await connectAlice(server.port, { pingIntervalMs: 5 });
    const bob = await inbound;
    cleanups.push(() => alice.close(), () => bob.close());
    const holdForThisTurn = (peer: Peer, state: { held: boolean }) => {
      if (state.held) return;
      state.held = true;
      peer.hold();
      setImmediate(() => {
        state.held = false;
        peer.release();
      });
    };
    const total = 3000;
    const bobSaw: bigint[] = [];
    const aliceSaw: number[] = [];
    const bobTurn = { held: false };
    const aliceTurn = { held: false };
    const done = new Promise<void>((resolve) => {
      bob.onChannelMessage((msg: ChannelMessage) => {
        if (msg.type !== 'update_add_htlc') return;
        bobSaw.push(msg.id);
        holdForThisTurn(bob, bobTurn);
        bob.send(updateFee(Number(msg.id) + 253)); // answered in Bob's next batch
      });
      alice.onChannelMessage((msg: ChannelMessage) => {
        if (msg.type === 'update_fee') aliceSaw.push(msg.feeratePerKw - 253);
        if (aliceSaw.length === total) resolve();
      });
    });
    for (let i = 0; i < total; i++) {
      // Every third message opens no hold itself: sent directly when no hold is open.
      if (i % 3 !== 0) holdForThisTurn(alice, aliceTurn);
      alice.send({ type: 'update_add_htlc', channelId, id: BigInt(i), amountMsat: 1000n, paymentHash: new Uint8Array(32), cltvExpiry: 500, onionRoutingPacket: new Uint8Array(1366) });
      if (i % 250 === 249) await new Promise((r) => setImmediate(r));
    }
    await done;
    expect(bobSaw).toEqual(Array.from({ length: total }, (_, i) => BigInt(i)));
    expect(aliceSaw).toEqual(Array.from({ length: total }, (_, i) => i));
    expect(alice.isReady && bob.isReady).toBe(true);
  });

  it('keeps the connection when a turn longer than the pong timeout delays reading the pong', async () => {
    // Timers run before sockets are read: without care, the expired pong timer fires while the
    // pong already waits in the socket (a busy node spuriously drops its peer).
    const { server, inbound } = await startBob();
    const alice = await connectAlice(server.port, { pingIntervalMs: 40, pongTimeoutMs: 100 });
    const bob = await inbound;
    cleanups.push(() => alice.close(), () => bob.close());
    let closedWith: FulmenError | undefined | 'open' = 'open';
    alice.on('closed', (e) => (closedWith = e));
    for (let turn = 0; turn < 5; turn++) {
      await new Promise((r) => setTimeout(r, 50)); // a ping goes out
      const start = Date.now();
      while (Date.now() - start < 300) {
        // one busy turn, three times the pong timeout
      }
    }
    await alice.ping();
    expect(closedWith).toBe('open');
    expect(alice.isReady).toBe(true);
  });

  it('fails the connection when the peer talks before init', async () => {
    const { port } = await scriptedRemote(() => undefined, updateFee(5));
    await expect(connectAlice(port)).rejects.toThrow(/sent update_fee before init/);
  });

  it('disconnects on a malformed known message with a warning', async () => {
    const { port, connP } = await scriptedRemote(() => undefined);
    const alice = await connectAlice(port);
    const conn = await connP;
    conn.send(Uint8Array.of(0x00, 0x86, 1, 2, 3)); // update_fee, truncated
    const closed = await new Promise<FulmenError | undefined>((r) => alice.on('closed', r));
    expect(closed?.message).toMatch(/Malformed message: Truncated channel_id/);
  });

  it('reports inbound connections that fail the handshake', async () => {
    const { server, rejected } = await startBob();
    const wrongId = secp256k1.getPublicKey(new Uint8Array(32).fill(0x33), true);
    await expect(connectAlice(server.port, { remoteNodeId: wrongId })).rejects.toMatchObject({ code: 'PROTOCOL' });
    expect((await rejected).message).toMatch(/act 1 bad MAC/);
  });

  it('answers gossip queries with complete, valid (empty) replies and keeps gossip_timestamp_filter (BOLT 7)', async () => {
    const replies: GossipMessage[] = [];
    const { port, connP } = await scriptedRemote((msg) => {
      if (msg.type !== 'unknown') return;
      const g = decodeGossipMessage(msg);
      if (g) replies.push(g);
    });
    const alice = await connectAlice(port);
    cleanups.push(() => alice.close());
    const conn = await connP;
    conn.send(encodeMessage(encodeGossipMessage({ type: 'gossip_timestamp_filter', chainHash: REGTEST, firstTimestamp: 1000, timestampRange: 0xffffffff })));
    conn.send(encodeMessage(encodeGossipMessage({ type: 'query_channel_range', chainHash: REGTEST, firstBlocknum: 100, numberOfBlocks: 500, queryOptionFlags: 1n })));
    conn.send(encodeMessage(encodeGossipMessage({ type: 'query_channel_range', chainHash: REGTEST, firstBlocknum: 0xfffffff0, numberOfBlocks: 0xffffffff })));
    conn.send(encodeMessage(encodeGossipMessage({ type: 'query_short_channel_ids', chainHash: REGTEST, shortChannelIds: [1n << 40n] })));
    await vi.waitFor(() => expect(replies).toHaveLength(3));
    const [range, edge, end] = replies;
    expect(range).toEqual({ type: 'reply_channel_range', chainHash: REGTEST, firstBlocknum: 100, numberOfBlocks: 500, syncComplete: 1, shortChannelIds: [], timestamps: [] });
    // first_blocknum + number_of_blocks covers the query without overflowing u32
    expect(edge).toMatchObject({ type: 'reply_channel_range', firstBlocknum: 0xfffffff0, numberOfBlocks: 0xf, syncComplete: 1 });
    expect(end).toEqual({ type: 'reply_short_channel_ids_end', chainHash: REGTEST, fullInformation: 0 });
    expect(alice.gossipTimestampFilter).toEqual({ firstTimestamp: 1000, timestampRange: 0xffffffff });
    expect(alice.isReady).toBe(true);
    // A query with the forbidden zlib encoding: warning, connection closed (BOLT 7 MAY).
    conn.send(Uint8Array.of(0x01, 0x05, ...REGTEST, 0, 1, 1));
    const closed = await new Promise<FulmenError | undefined>((r) => alice.on('closed', r));
    expect(closed?.message).toMatch(/Malformed gossip message 261/);
  });

  it('connect() to a closed port fails with NETWORK', async () => {
    const { server } = await startBob();
    const port = server.port;
    await server.close();
    await expect(connectAlice(port)).rejects.toMatchObject({ code: 'NETWORK' });
  });
});
