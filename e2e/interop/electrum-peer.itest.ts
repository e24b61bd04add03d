/**
 * Interop with a real Electrum 4.5.8 Lightning node on regtest: the harness peer itself, then
 * Fulmen's BOLT 8 transport + BOLT 1 Peer (init, ping/pong, disconnect) in both directions.
 * One Electrum daemon serves the whole file (its startup is the expensive part).
 */
import { randomBytes } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_PEER_FEATURES, Peer, listen, type PeerServer } from '../../core/lightning/peer.js';
import { bytesToHex, hexToBytes } from '../../core/lightning/wire/codec.js';
import { startElectrumPeer, type ElectrumPeer } from '../harness/electrum.js';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';

/**
 * Electrum's LNWallet sets gossip_queries REQUIRED (bit 6) in init (lnworker.LNWALLET_FEATURES:
 * "we do not want to receive unrequested gossip"); a node that does not know bit 6 must refuse
 * it (BOLT 1). The transport tests below therefore offer gossip_queries (optional) on top of
 * Fulmen's defaults; the first Peer test checks the defaults themselves.
 */
const FEATURES_WITH_GOSSIP_QUERIES = DEFAULT_PEER_FEATURES.with('gossip_queries', 'optional');

describe('Electrum 4.5.8 as a Lightning peer', () => {
  let network: Regtest;
  let electrum: ElectrumPeer;
  /** BOLT 0 chain_hash: the genesis block hash in internal byte order (RPC prints it reversed). */
  let chainHash: Uint8Array;
  const fulmenPrivkey = new Uint8Array(randomBytes(32));
  const fulmenNodeId = bytesToHex(secp256k1.getPublicKey(fulmenPrivkey, true));
  /** Fulmen's outbound Peer to Electrum (BOLT 8 handshake + init), with `localFeatures` or Fulmen's defaults. */
  const connectToElectrum = async (localFeatures?: typeof DEFAULT_PEER_FEATURES) =>
    Peer.connect({
      host: electrum.lightningHost,
      port: electrum.lightningPort,
      localPrivkey: fulmenPrivkey,
      remoteNodeId: hexToBytes(await electrum.nodeId()),
      chainHash,
      ...(localFeatures ? { localFeatures } : {}),
    });

  beforeAll(async () => {
    network = await startRegtest();
    electrum = await startElectrumPeer(network, { name: 'bob' });
    // CI budget: one line per file with the measured startup.
    console.info(`[electrum-peer] Electrum daemon + wallet + sync: ${electrum.startupMs} ms`);
    chainHash = hexToBytes(await network.rpc<string>('getblockhash', [0])).reverse();
  });

  afterAll(async () => {
    await electrum?.stop();
    await network?.stop();
  });

  it('syncs from our ElectrumX to bitcoind tip and exposes its node id', async () => {
    const info = await electrum.call<{ connected: boolean; blockchain_height: number; server: string; version: string; network: string }>(
      'getinfo',
    );
    expect(info).toMatchObject({ connected: true, server: '127.0.0.1', version: '4.5.8', network: 'regtest' });
    expect(info.blockchain_height).toBe(await network.rpc<number>('getblockcount'));
    const nodeId = await electrum.nodeId();
    expect(nodeId).toMatch(/^0[23][0-9a-f]{64}$/);
    expect(await electrum.connectString()).toBe(`${nodeId}@127.0.0.1:${electrum.lightningPort}`);
    // The wallet is the one restored from the harness-made seed, a segwit (Lightning-capable) wallet.
    expect(await electrum.call('getseed')).toBe(electrum.seed);
  });

  it('sees on-chain funds sent to its wallet once mined', async () => {
    const address = await electrum.getUnusedAddress();
    expect(address).toMatch(/^bcrt1q/);
    const txid = await network.sendToAddress(address, '1');
    // Mined only once Electrum holds the tx (see waitForTx); a block racing the download leaves it unconfirmed.
    expect(await electrum.waitForTx(txid)).toBe(0);
    await network.mine(1);
    const balance = await electrum.waitForBalance({ confirmedSat: 100_000_000, timeoutMs: 30_000 });
    expect(balance).toEqual({ confirmedSat: 100_000_000, unconfirmedSat: 0, lightningSat: 0 });
    expect(await electrum.waitForSync()).toBe(102);
  });

  it("completes init with Fulmen's DEFAULT_PEER_FEATURES (Electrum requires gossip_queries, bit 6)", async () => {
    const peer = await connectToElectrum();
    expect(peer.isReady).toBe(true);
    expect(peer.remoteFeatures.isRequired('gossip_queries')).toBe(true);
    peer.close();
  });

  it('accepts an outbound Fulmen Peer: BOLT 8 handshake, init, ping/pong, clean disconnect', async () => {
    const peer = await connectToElectrum(FEATURES_WITH_GOSSIP_QUERIES);
    try {
      expect(peer.isReady).toBe(true);
      expect(bytesToHex(peer.remoteNodeId)).toBe(await electrum.nodeId());
      // Electrum's LNWallet requires these (lnworker.LNWALLET_FEATURES); Peer accepted them.
      for (const feature of ['option_data_loss_protect', 'var_onion_optin', 'option_static_remotekey', 'payment_secret'] as const) {
        expect(peer.remoteFeatures.has(feature), feature).toBe(true);
      }
      // Electrum sends no `networks` TLV in 4.5.8 or sends ours; never another chain.
      for (const network of peer.remoteNetworks ?? []) expect(bytesToHex(network)).toBe(bytesToHex(chainHash));

      const seen = await waitFor(
        async () => (await electrum.listPeers()).find((p) => p.node_id === fulmenNodeId && p.initialized),
        { what: 'Electrum to list the Fulmen peer as initialized', timeoutMs: 10_000, intervalMs: 100 },
      );
      // Electrum names inbound transports "<short id>-<hash>(in)" rather than by address.
      expect(seen.address).toMatch(/\(in\)$/);

      await peer.ping();
      await peer.ping();
      expect(peer.isReady).toBe(true);
    } finally {
      peer.close();
    }
    expect(peer.isClosed).toBe(true);
    await waitFor(async () => !(await electrum.listPeers()).some((p) => p.node_id === fulmenNodeId), {
      what: 'Electrum to drop the Fulmen peer after disconnect',
      timeoutMs: 10_000,
      intervalMs: 100,
    });
  });

  it('connects to a Fulmen listener via add_peer: responder handshake, init, ping/pong, disconnect', async () => {
    const inbound: Peer[] = [];
    const rejected: Error[] = [];
    const server: PeerServer = await listen('127.0.0.1', 0, fulmenPrivkey, (p) => inbound.push(p), {
      chainHash,
      localFeatures: FEATURES_WITH_GOSSIP_QUERIES,
      onRejected: (err) => rejected.push(err),
    });
    try {
      // add_peer returns Electrum's existing session for a node id it still lists, so wait until
      // an earlier connection of ours is gone from Electrum's side.
      await waitFor(async () => !(await electrum.listPeers()).some((p) => p.node_id === fulmenNodeId), {
        what: 'Electrum to have no session with the Fulmen node id',
        timeoutMs: 10_000,
        intervalMs: 100,
      });
      // add_peer resolves once the handshake is done (Electrum's lnworker._add_peer).
      await electrum.call('add_peer', [`${fulmenNodeId}@127.0.0.1:${server.port}`]);
      const peer = await waitFor(() => inbound[0] ?? (rejected[0] ? Promise.reject(rejected[0]) : undefined), {
        what: 'Electrum to connect to the Fulmen listener',
        timeoutMs: 10_000,
      });
      expect(bytesToHex(peer.remoteNodeId)).toBe(await electrum.nodeId());
      expect(peer.localFeatures).toBe(FEATURES_WITH_GOSSIP_QUERIES);
      expect(peer.remoteFeatures.isRequired('gossip_queries')).toBe(true);
      await waitFor(
        async () => (await electrum.listPeers()).find((p) => p.node_id === fulmenNodeId && p.initialized),
        { what: 'Electrum to finish init with the Fulmen listener', timeoutMs: 10_000, intervalMs: 100 },
      );
      await peer.ping();

      const closedWith = new Promise<unknown>((resolve) => peer.on('closed', resolve));
      peer.close();
      expect(await closedWith).toBeUndefined();
      await waitFor(async () => !(await electrum.listPeers()).some((p) => p.node_id === fulmenNodeId), {
        what: 'Electrum to drop the Fulmen listener peer after disconnect',
        timeoutMs: 10_000,
        intervalMs: 100,
      });
      expect(rejected).toEqual([]);
    } finally {
      for (const p of inbound) p.close();
      await server.close();
    }
  });
});
