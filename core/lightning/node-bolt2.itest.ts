import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from '@noble/hashes/utils.js';
import { startRegtest, waitFor, type Regtest } from '../../e2e/harness/regtest.js';
import { openDatabase, type Db } from '../storage/db.js';
import { ChainNetwork } from '../chain/network.js';
import { Wallet } from '../wallet/wallet.js';
import { LightningNode } from './node.js';
import { listen, Peer, type RemoteError } from './peer.js';
import { Channel } from './channel/channel.js';
import { ChannelStore } from './channel/store.js';
import { CHAIN_PARAMS } from '../chain/headers.js';
import { publicKeyCreate } from '../bitcoin/secp256k1.js';
import { bytesToHex, hexToBytes } from './wire/codec.js';
import type { AcceptChannelMessage, ChannelMessage } from './wire/messages.js';

/**
 * LightningNode's handling of BOLT 2 rules that live in node.ts, driven by a scripted remote:
 * Fulmen's own Peer and Channel engine act as the funder, message by message, against a real
 * LightningNode (regtest chain: Bitcoin Knots + ElectrumX). The funding transaction is never
 * broadcast: everything here happens before it would confirm.
 *
 * - open_channel repeated after a reconnection, before funding_created, replaces the first one.
 * - upfront_shutdown_script: the node commits to one in accept_channel and closes to it.
 * - a violation BOLT 2 answers with "send a warning and close the connection" (a shutdown
 *   scriptpubkey of no allowed form) leaves the channel as it was.
 * - the peer's error during opening, either side funding: the unfunded channel is forgotten, its
 *   reserved upfront shutdown address given back, and the node's own open_channel fails at once
 *   with the peer's text.
 */
describe('LightningNode BOLT 2 rules against a scripted funder', () => {
  let regtest: Regtest;
  let db: Db;
  let chain: ChainNetwork;
  let node: LightningNode;
  let wallet: Wallet;
  const remotePriv = randomBytes(32);
  const chainHash = hexToBytes(CHAIN_PARAMS.regtest.genesisHash).reverse();
  const funder = { lightningRootSecret: randomBytes(32), persistence: new ChannelStore(openDatabase(':memory:')) };

  /** A connection to the node that records channel messages and errors/warnings. */
  async function connect(): Promise<{ peer: Peer; inbox: ChannelMessage[]; remoteErrors: RemoteError[] }> {
    const peer = await Peer.connect({ host: '127.0.0.1', port: node.listenPort!, remoteNodeId: node.nodeId, localPrivkey: remotePriv, chainHash });
    const inbox: ChannelMessage[] = [];
    const remoteErrors: RemoteError[] = [];
    peer.onChannelMessage((m) => void inbox.push(m));
    peer.on('remoteError', (e) => remoteErrors.push(e));
    return { peer, inbox, remoteErrors };
  }

  async function next<T extends ChannelMessage['type']>(inbox: ChannelMessage[], type: T): Promise<Extract<ChannelMessage, { type: T }>> {
    return waitFor(() => inbox.find((m) => m.type === type) as Extract<ChannelMessage, { type: T }> | undefined, { what: type, timeoutMs: 10_000, intervalMs: 20 });
  }

  beforeAll(async () => {
    regtest = await startRegtest();
    db = openDatabase(':memory:');
    ({ wallet } = Wallet.create(db, { network: 'regtest' }));
    chain = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db });
    await chain.start();
    await wallet.attachChain(chain);
    await wallet.waitUntilSynced(20_000);
    node = new LightningNode({ db, wallet, chain, network: 'regtest', listen: '127.0.0.1:0', minimumDepth: 1 });
    await node.start();
  });

  afterAll(async () => {
    await node?.stop();
    await chain?.stop();
    await regtest?.stop();
  });

  let channel: Channel;
  let accept: AcceptChannelMessage;

  it('open_channel repeated after a reconnection (before funding_created) replaces the first; the node signs with the second', async () => {
    const opened = Channel.openOutbound({ keyIndex: 0, remoteNodeId: node.nodeIdHex, chainHash, fundingSat: 400_000, pushMsat: 0n, feeratePerKw: 253 }, funder);
    channel = opened.channel;
    const first = await connect();
    first.peer.send(opened.message);
    await next(first.inbox, 'accept_channel');
    first.peer.close();
    const second = await connect();
    second.peer.send(opened.message);
    accept = await next(second.inbox, 'accept_channel');
    expect(second.remoteErrors).toEqual([]);
    channel.onAcceptChannel(accept);
    second.peer.send(channel.fundingCreated('cd'.repeat(32), 0));
    const signed = await next(second.inbox, 'funding_signed');
    channel.onFundingSigned(signed); // verifies the node's signature: it used the second accept's keys
    expect(channel.state).toBe('OPENING');
    expect(node.listChannels().filter((c) => c.channel_point === channel.channelPoint)).toHaveLength(1);
    second.peer.close();
  });

  it('accept_channel carries the node upfront_shutdown_script (both advertise option_upfront_shutdown_script)', () => {
    expect(accept.upfrontShutdownScript).toHaveLength(22); // P2WPKH of a wallet change address
  });

  it('a shutdown scriptpubkey of no allowed form: warning, connection closed, the channel unchanged (BOLT 2 SHOULD send a warning)', async () => {
    const c = await connect();
    c.peer.send(channel.reestablishMessage());
    await next(c.inbox, 'channel_reestablish');
    const p2pkh = Uint8Array.of(0x76, 0xa9, 0x14, ...new Uint8Array(20), 0x88, 0xac);
    c.peer.send({ type: 'shutdown', channelId: hexToBytes(channel.channelId), scriptpubkey: p2pkh });
    await waitFor(() => c.peer.isClosed || undefined, { what: 'the node to close the connection', timeoutMs: 10_000 });
    expect(c.remoteErrors).toMatchObject([{ isWarning: true, text: 'Invalid shutdown scriptpubkey' }]);
    expect(node.listChannels().find((x) => x.channel_point === channel.channelPoint)?.state).toBe('OPENING');
  });

  it('on our shutdown the node answers with a shutdown to its upfront_shutdown_script', async () => {
    const c = await connect();
    c.peer.send(channel.reestablishMessage());
    await next(c.inbox, 'channel_reestablish');
    c.peer.send(channel.shutdown(Uint8Array.of(0x00, 0x14, ...new Uint8Array(20).fill(3))));
    const reply = await next(c.inbox, 'shutdown');
    expect(reply.scriptpubkey).toEqual(accept.upfrontShutdownScript);
    expect(c.remoteErrors).toEqual([]);
    c.peer.close();
  });

  it("the funder's error after accept_channel: the node forgets the unfunded channel and gives back its upfront shutdown address", async () => {
    const before = node.listChannels().length;
    const opened = Channel.openOutbound({ keyIndex: 1, remoteNodeId: node.nodeIdHex, chainHash, fundingSat: 400_000, pushMsat: 0n, feeratePerKw: 253 }, funder);
    const c = await connect();
    c.peer.send(opened.message);
    const refusedAccept = await next(c.inbox, 'accept_channel');
    c.peer.sendError(opened.message.temporaryChannelId, 'changed my mind');
    // The released address is the next one reserved: a second open is offered the same script.
    const again = Channel.openOutbound({ keyIndex: 2, remoteNodeId: node.nodeIdHex, chainHash, fundingSat: 400_000, pushMsat: 0n, feeratePerKw: 253 }, funder);
    c.inbox.length = 0;
    c.peer.send(again.message);
    const nextAccept = await next(c.inbox, 'accept_channel');
    expect(nextAccept.temporaryChannelId).toEqual(again.message.temporaryChannelId);
    expect(nextAccept.upfrontShutdownScript).toEqual(refusedAccept.upfrontShutdownScript);
    expect(node.listChannels()).toHaveLength(before); // neither unfunded channel is listed, none as CLOSED
    expect(c.remoteErrors).toEqual([]); // an error is not answered with one
    c.peer.close();
  });

  it("the fundee's error to the node's open_channel: openChannel fails at once with the peer's text (PEER_ERROR), nothing kept", async () => {
    const address = wallet.getUnusedAddress();
    await regtest.sendToAddress(address, '0.01');
    await regtest.mine(1);
    await waitFor(() => wallet.getBalance().confirmedSat >= 1_000_000 || undefined, { what: 'wallet funds', timeoutMs: 30_000 });
    const refuser = randomBytes(32);
    const server = await listen('127.0.0.1', 0, refuser, (peer) => {
      peer.onChannelMessage((m) => {
        if (m.type === 'open_channel') peer.sendError(m.temporaryChannelId, 'chan size of 0.001 BTC is below min chan size');
      });
    }, { chainHash });
    const refuserId = bytesToHex(publicKeyCreate(refuser));
    try {
      const before = node.listChannels().length;
      const started = Date.now();
      const failure = await node.openChannel(`${refuserId}@127.0.0.1:${server.port}`, 100_000).then(() => null, (e: unknown) => e);
      expect(failure).toMatchObject({ code: 'PEER_ERROR', message: 'The peer refused the channel: chan size of 0.001 BTC is below min chan size' });
      expect(Date.now() - started).toBeLessThan(5_000); // not the 30 s wait for accept_channel
      expect(node.listChannels()).toHaveLength(before);
      expect(wallet.getBalance().confirmedSat).toBeGreaterThanOrEqual(1_000_000); // no funding was signed or sent
    } finally {
      node.disconnectPeer(refuserId); // the server closes once its connections have
      await server.close();
    }
  });
});
