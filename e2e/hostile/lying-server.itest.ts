import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ChainNetwork } from '../../core/chain/network.js';
import type { ChainEvent } from '../../core/chain/types.js';
import { openDatabase, type Db } from '../../core/storage/db.js';
import { Wallet } from '../../core/wallet/wallet.js';
import { fabricateRegtestBranch, lies, startLyingProxy, type Lie, type LyingProxy } from '../harness/lying-proxy.js';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';

// Hostile Electrum servers: Fulmen connects to two servers, a liar (e2e/harness/lying-proxy.ts in
// front of the real ElectrumX, told one lie per test) as its preferred main server, and the same
// ElectrumX directly (honest). For each lie Fulmen must catch it, ban or sideline the liar, never
// show unverified data as confirmed, and keep working on the honest server.
//
// What is caught, and how (ChainNetwork):
//   wrong merkle proof            SpvVerifier against our headers → banned, retried on the next server
//   header with bad PoW           HeaderChain.checkHeader → banned (and still banned after a restart)
//   valid fork with less work     chainwork comparison → flagged `stale`, never main (not banned)
//   heavier fabricated fork       followed (most work wins), until its proofs fail → banned, reorg back
//   history omitting a tx         status hash ≠ sha256(history) → banned
//     … with a consistent status  cross-check with an aux server + merkle proof of the omitted tx → banned
//   tx bytes ≠ txid               txid check → banned; withheld tx (RPC error) → fetched elsewhere, no ban
//   malformed JSON                ElectrumInterface → banned
//   tip frozen (lag > 2)          main switched to a server at our tip (not banned)
//   headers below the checkpoint  hash linkage down from the checkpoint → banned when broken
// Not catchable by anyone: a mempool transaction one server omits (mempools legitimately differ).
describe('hostile Electrum servers (lying proxy + honest ElectrumX)', () => {
  let regtest: Regtest;
  const cleanups: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    regtest = await startRegtest();
  });

  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
  });

  afterAll(async () => {
    await regtest?.stop();
  });

  interface Setup {
    db: Db;
    wallet: Wallet;
    /** Confirmed (mined, one more block on top) payment to the wallet, made before connecting. */
    paymentTxid: string;
    paymentHeight: number;
  }

  /** A wallet with 0.5 BTC received in a block with one block on top of it, not yet connected. */
  async function fundedWallet(): Promise<Setup> {
    const db = openDatabase(':memory:');
    const { wallet } = Wallet.create(db, { network: 'regtest', password: 'hostile' });
    const paymentTxid = await regtest.sendToAddress(wallet.getUnusedAddress(), '0.5');
    const [blockHash] = await regtest.mine(2);
    const paymentHeight = (await regtest.rpc<{ height: number }>('getblockheader', [blockHash])).height;
    return { db, wallet, paymentTxid, paymentHeight };
  }

  async function connect(
    setup: Setup,
    lie: Lie | null,
    opts: { oneserver?: boolean; checkpoint?: { height: number; rawHex: string } } = {},
  ): Promise<{ chain: ChainNetwork; liar: LyingProxy; events: ChainEvent[] }> {
    const liar = await startLyingProxy(regtest.electrumHost, regtest.electrumPort);
    liar.setLie(lie);
    const chain = new ChainNetwork({
      network: 'regtest',
      server: liar.server,
      servers: [regtest.electrumServer],
      oneserver: opts.oneserver ?? false,
      db: setup.db,
      reconnectDelayMs: { initial: 200, max: 2_000 },
      checkpoint: opts.checkpoint,
    });
    const events: ChainEvent[] = [];
    chain.on((event) => events.push(event));
    cleanups.push(async () => {
      setup.wallet.detachChain();
      await chain.stop();
      await liar.close();
    });
    await chain.start();
    await setup.wallet.attachChain(chain);
    return { chain, liar, events };
  }

  const bannedEvent = (events: ChainEvent[], server: string) =>
    events.find((e) => e.type === 'server' && e.server === server && e.status === 'banned') as
      | Extract<ChainEvent, { type: 'server' }>
      | undefined;

  /** Honest end state: the payment confirmed and merkle-verified, the tip equal to bitcoind's. */
  async function expectHonestOutcome(setup: Setup, chain: ChainNetwork): Promise<void> {
    await waitFor(() => setup.wallet.getBalance().confirmedSat === 50_000_000, { what: 'verified 0.5 BTC' });
    const item = setup.wallet.getOnchainHistory().find((h) => h.txid === setup.paymentTxid)!;
    expect(item).toMatchObject({ verified: true, height: setup.paymentHeight });
    await waitFor(async () => chain.tip()?.hash === (await regtest.rpc<string>('getbestblockhash')), { what: 'honest tip' });
    expect(chain.mainServer()).toBe(regtest.electrumServer);
  }

  /** Nothing the wallet shows as confirmed lacks a merkle proof. */
  function expectNothingUnverifiedConfirmed(wallet: Wallet): void {
    for (const item of wallet.getOnchainHistory()) if (item.confirmations > 0) expect(item.verified).toBe(true);
  }

  it('a wrong merkle proof: alone, the payment stays unconfirmed; with an honest server, the liar is banned', async () => {
    // Alone (oneserver): the proof is refused, the liar banned, nothing shown as confirmed.
    const alone = await fundedWallet();
    const { events: aloneEvents, liar: aloneLiar } = await connect(alone, lies.wrongMerkleProof(), { oneserver: true });
    await waitFor(() => bannedEvent(aloneEvents, aloneLiar.server), { what: 'ban of the lone liar' });
    expect(bannedEvent(aloneEvents, aloneLiar.server)!.reason).toMatch(/merkle proof/i);
    expect(alone.wallet.getBalance().confirmedSat).toBe(0);
    expectNothingUnverifiedConfirmed(alone.wallet);

    const setup = await fundedWallet();
    const { chain, liar, events } = await connect(setup, lies.wrongMerkleProof());
    await expectHonestOutcome(setup, chain);
    expect(bannedEvent(events, liar.server)!.reason).toMatch(/merkle proof/i);
    expect(liar.requests).toContain('blockchain.transaction.get_merkle');
    expectNothingUnverifiedConfirmed(setup.wallet);
  });

  it('a header with bad proof of work: the liar is banned at once', async () => {
    const setup = await fundedWallet();
    const { chain, liar, events } = await connect(setup, lies.badProofOfWorkTip());
    expect(bannedEvent(events, liar.server)!.reason).toMatch(/proof of work/);
    await expectHonestOutcome(setup, chain);
    // New blocks keep coming through the honest server.
    const [hash] = await regtest.mine(1);
    await waitFor(() => chain.tip()?.hash === hash, { what: 'next block' });
  });

  it('a banned liar stays banned after a restart (chain_server_bans): never contacted, the honest server is main', async () => {
    const setup = await fundedWallet();
    const { chain, liar, events } = await connect(setup, lies.badProofOfWorkTip());
    expect(bannedEvent(events, liar.server)!.reason).toMatch(/proof of work/);
    await expectHonestOutcome(setup, chain);
    setup.wallet.detachChain();
    await chain.stop();
    // Restart on the same chain db, the liar first in the list again (and honest now).
    liar.setLie(null);
    const seenBefore = liar.requests.length;
    const restarted = new ChainNetwork({ network: 'regtest', server: liar.server, servers: [regtest.electrumServer], oneserver: false, db: setup.db });
    cleanups.push(() => restarted.stop());
    await restarted.start();
    await setup.wallet.attachChain(restarted);
    await expectHonestOutcome(setup, restarted);
    expect(liar.requests.length).toBe(seenBefore);
    expect(restarted.serverStates().find((s) => s.server === liar.server)!.bannedReason).toMatch(/proof of work/);
  });

  it('a valid fork with less work: the liar is flagged stale, never main, our chain stays', async () => {
    const setup = await fundedWallet();
    const tipHeight = await regtest.waitForElectrumTip();
    const forkHeight = tipHeight - 3;
    const parentHex = await regtest.rpc<string>('getblockheader', [await regtest.rpc<string>('getblockhash', [forkHeight - 1]), false]);
    const branch = fabricateRegtestBranch(parentHex, 2); // ends at tipHeight - 2: less work
    const { chain, liar, events } = await connect(setup, lies.fork(forkHeight, branch));
    await expectHonestOutcome(setup, chain);
    await waitFor(() => events.find((e) => e.type === 'server' && e.server === liar.server && e.status === 'stale'), { what: 'stale flag' });
    expect(bannedEvent(events, liar.server)).toBeUndefined(); // a weaker chain is not a proven lie
    expect(chain.serverStates().find((s) => s.server === liar.server)).toMatchObject({ connected: true, main: false, onOurChain: false });
    expect(chain.tip()!.height).toBe(tipHeight);
  });

  it('a history that omits a transaction but keeps the real status: caught by the status hash', async () => {
    const setup = await fundedWallet();
    const { chain, liar, events } = await connect(setup, lies.omitFromHistory(setup.paymentTxid, false));
    await expectHonestOutcome(setup, chain);
    expect(bannedEvent(events, liar.server)!.reason).toMatch(/does not match its status/);
  });

  it('a history that omits a transaction with a consistent status: caught by the cross-check with another server', async () => {
    const setup = await fundedWallet();
    const { chain, liar, events } = await connect(setup, lies.omitFromHistory(setup.paymentTxid, true));
    await expectHonestOutcome(setup, chain);
    expect(bannedEvent(events, liar.server)!.reason).toMatch(new RegExp(`omitted confirmed transaction ${setup.paymentTxid}`));
  });

  it('transaction bytes that do not match the txid: the liar is banned, the honest bytes used', async () => {
    const setup = await fundedWallet();
    const { chain, liar, events } = await connect(setup, lies.wrongTransactionBytes());
    await expectHonestOutcome(setup, chain);
    expect(bannedEvent(events, liar.server)!.reason).toMatch(/does not hash to/);
    expect(await chain.getTransaction(setup.paymentTxid)).toBe(await regtest.rpc<string>('getrawtransaction', [setup.paymentTxid]));
  });

  it('withheld transactions (a JSON-RPC error): fetched from the other server, the liar stays main', async () => {
    const setup = await fundedWallet();
    const { chain, liar, events } = await connect(setup, lies.withholdTransactions());
    await waitFor(() => setup.wallet.getBalance().confirmedSat === 50_000_000, { what: 'verified 0.5 BTC' });
    expect(liar.requests).toContain('blockchain.transaction.get');
    // Declining to answer is not a provable lie: no ban, the bytes came from the other server.
    expect(bannedEvent(events, liar.server)).toBeUndefined();
    expect(chain.mainServer()).toBe(liar.server);
  });

  it('malformed JSON: the liar is banned, the request answered by the honest server', async () => {
    const setup = await fundedWallet();
    const { chain, liar, events } = await connect(setup, lies.malformedJson('blockchain.scripthash.get_history'));
    await expectHonestOutcome(setup, chain);
    expect(bannedEvent(events, liar.server)!.reason).toMatch(/malformed JSON/);
  });

  it('a main server that stops announcing blocks (lags > 2) is replaced, not banned', async () => {
    const setup = await fundedWallet();
    const { chain, liar, events } = await connect(setup, null);
    await waitFor(() => chain.mainServer() === liar.server, { what: 'liar as main' });
    liar.setLie(lies.frozenTip());
    const hashes = await regtest.mine(3);
    await waitFor(() => chain.mainServer() === regtest.electrumServer, { what: 'switch to the honest server' });
    expect(chain.tip()!.hash).toBe(hashes[2]);
    expect(bannedEvent(events, liar.server)).toBeUndefined();
    await expectHonestOutcome(setup, chain);
  });

  it('a transaction below the checkpoint is proven by hash linkage; a server breaking the linkage is banned', async () => {
    const setup = await fundedWallet();
    await regtest.mine(30);
    const checkpointHeight = setup.paymentHeight + 20;
    const checkpointHex = await regtest.rpc<string>('getblockheader', [await regtest.rpc<string>('getblockhash', [checkpointHeight]), false]);
    // The liar serves headers below the checkpoint with a changed merkle root (so they do not link).
    const brokenLinkage: Lie = {
      onResult(method, params, result) {
        if (method !== 'blockchain.block.headers' || (params[0] as number) >= checkpointHeight) return result;
        const chunk = result as { hex: string; count: number; max: number };
        return { ...chunk, hex: chunk.hex.slice(0, 80) + (chunk.hex[80] === '0' ? '1' : '0') + chunk.hex.slice(81) };
      },
    };
    const { chain, liar, events } = await connect(setup, brokenLinkage, { checkpoint: { height: checkpointHeight, rawHex: checkpointHex } });
    expect(chain.headers.baseHeight).toBe(checkpointHeight);
    await waitFor(() => setup.wallet.getBalance().confirmedSat === 50_000_000, { what: 'verified 0.5 BTC below the checkpoint' });
    expect(bannedEvent(events, liar.server)!.reason).toMatch(/does not link to the checkpoint/);
    const proven = await chain.getHeader(setup.paymentHeight);
    expect(proven.hash).toBe(await regtest.rpc<string>('getblockhash', [setup.paymentHeight]));
    expect(await chain.verifyTransaction(setup.paymentTxid, setup.paymentHeight)).toMatchObject({ verified: true, height: setup.paymentHeight });
  });

  it('a deeper fabricated fork with more work is followed (a 33-block reorg) until its proofs fail; then back to the honest chain', async () => {
    const setup = await fundedWallet();
    await regtest.mine(30);
    const tipHeight = await regtest.waitForElectrumTip();
    // From just below the payment's block, two headers longer than the real chain: more work.
    const forkHeight = setup.paymentHeight - 1;
    const parentHex = await regtest.rpc<string>('getblockheader', [await regtest.rpc<string>('getblockhash', [forkHeight - 1]), false]);
    const branch = fabricateRegtestBranch(parentHex, tipHeight - forkHeight + 3);
    const { chain, liar, events } = await connect(setup, lies.fork(forkHeight, branch));
    // The fabricated chain has the most work: it is followed, and the honest server is sidelined.
    await waitFor(() => events.find((e) => e.type === 'server' && e.server === regtest.electrumServer && e.status === 'stale'), {
      what: 'honest server flagged stale while the heavier fork is followed',
    });
    // The payment cannot be proven in a fabricated block: the liar is banned, Fulmen reorgs back.
    await expectHonestOutcome(setup, chain);
    expect(bannedEvent(events, liar.server)!.reason).toMatch(/merkle proof/i);
    const reorgs = events.filter((e) => e.type === 'tip' && e.forkHeight === forkHeight);
    expect(reorgs.length).toBeGreaterThanOrEqual(1);
    expect(chain.tip()!.height).toBe(tipHeight);
    expectNothingUnverifiedConfirmed(setup.wallet);
  });

  it('a server that goes away is reconnected with backoff and, being the preferred one, is main again', async () => {
    const setup = await fundedWallet();
    const { chain, liar, events } = await connect(setup, null);
    await waitFor(() => chain.mainServer() === liar.server, { what: 'preferred server as main' });
    const port = Number(liar.server.split(':')[1]);
    await liar.close();
    await waitFor(() => chain.mainServer() === regtest.electrumServer, { what: 'failover to the other server' });
    expect(events).toContainEqual(expect.objectContaining({ type: 'server', server: liar.server, status: 'disconnected' }));
    const back = await startLyingProxy(regtest.electrumHost, regtest.electrumPort, port);
    cleanups.push(() => back.close());
    await waitFor(() => chain.mainServer() === liar.server, { what: 'reconnected preferred server as main', timeoutMs: 15_000 });
    expect(bannedEvent(events, liar.server)).toBeUndefined();
    await waitFor(() => setup.wallet.getBalance().confirmedSat === 50_000_000, { what: 'balance after failover and back' });
    const [hash] = await regtest.mine(1);
    await waitFor(() => chain.tip()?.hash === hash, { what: 'next block through the reconnected main' });
  });
});
