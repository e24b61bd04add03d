import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction } from 'bitcoinjs-lib';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';
import { openDatabase, type Db } from '../../core/storage/db.js';
import { ChainNetwork } from '../../core/chain/network.js';
import { Wallet } from '../../core/wallet/wallet.js';
import { LightningNode, type ChannelInfo } from '../../core/lightning/node.js';
import { Channel } from '../../core/lightning/channel/channel.js';
import { ChannelStore } from '../../core/lightning/channel/store.js';
import type { SweepRow } from '../../core/lightning/watcher/store.js';

// Reorgs under a force close (BOLT 5 on regtest: Bitcoin Knots + ElectrumX, two Fulmen nodes in one
// process). Blocks are taken away with bitcoind `invalidateblock`; the competing chain is mined with
// `generateblock` (chosen transactions) and made longer than the old one, so ElectrumX and both
// Fulmen header chains follow it. Cases: a to_local sweep and its commitment reorged out and mined
// again; our commitment replaced by the peer's; a breach (justice confirmed) replaced by the
// cheater's latest commitment. Nothing may be forgotten: what was confirmed and reorged out is
// watched, re-broadcast and confirmed again, and no channel is REDEEMED before its sweeps are
// REDEEM_DEPTH deep on the chain that won. The reorgs here are up to TO_SELF_DELAY + 2 blocks deep,
// less than REDEEM_DEPTH (a REDEEMED channel is no longer watched: watcher.ts).
const TO_SELF_DELAY = 6;
const REDEEM_DEPTH = 10;

interface Side {
  db: Db;
  wallet: Wallet;
  chain: ChainNetwork;
  node: LightningNode;
}

describe('reorgs during force closes on regtest', () => {
  let regtest: Regtest;
  const chains: ChainNetwork[] = [];
  let a: Side;
  let b: Side;

  async function makeSide(): Promise<Side> {
    const db = openDatabase(':memory:');
    const { wallet } = Wallet.create(db, { network: 'regtest' });
    const chain = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db });
    chains.push(chain);
    await chain.start();
    await wallet.attachChain(chain);
    await wallet.waitUntilSynced(20_000);
    const node = new LightningNode({ db, wallet, chain, network: 'regtest', listen: '127.0.0.1:0', minimumDepth: 1, paymentTimeoutMs: 30_000, toSelfDelay: TO_SELF_DELAY, redeemDepth: REDEEM_DEPTH });
    await node.start();
    return { db, wallet, chain, node };
  }

  const channel = (s: Side, cp: string): ChannelInfo | undefined => s.node.listChannels().find((c) => c.channel_point === cp);
  const keyIndexOf = (s: Side, cp: string): number => [...(s.node as unknown as { channels: Map<number, Channel> }).channels.values()].find((c) => c.channelPoint === cp)!.keyIndex;
  const sweepsOf = (s: Side, cp: string): SweepRow[] => s.node.watcher.sweepsOf(keyIndexOf(s, cp));
  const liveSweepsOf = (s: Side, cp: string): SweepRow[] => s.node.watcher.liveSweepsOf(keyIndexOf(s, cp));
  const channelData = (s: Side, cp: string) => new ChannelStore(s.db).loadAll().find((d) => `${d.fundingTxid}:${d.fundingOutputIndex}` === cp)!;
  const signedCommitmentOf = (s: Side, cp: string): string =>
    Channel.load(channelData(s, cp), { lightningRootSecret: s.wallet.lightningRootSecret(), persistence: new ChannelStore(s.db) }).signedLocalCommitment();
  const inMempool = async (txid: string) => (await regtest.rpc<string[]>('getrawmempool')).includes(txid);
  const height = async () => regtest.rpc<number>('getblockcount');
  /** Height of the block holding `txid` on bitcoind's best chain, null when unconfirmed. */
  const confirmedAt = async (txid: string): Promise<number | null> => {
    const tx = await regtest.rpc<{ blockhash?: string; confirmations?: number }>('getrawtransaction', [txid, true]).catch(() => null);
    if (!tx?.blockhash || !tx.confirmations) return null;
    return (await regtest.rpc<{ height: number }>('getblockheader', [tx.blockhash])).height;
  };

  /**
   * Reorg: invalidates the block at `forkHeight` (and all above), mines one block at `forkHeight`
   * holding exactly `txs` (raw hex; [] for an empty block), then empty blocks (the mempool stays
   * unmined) until the new chain is one block longer than the old one. Waits for ElectrumX.
   * Returns the new tip height.
   */
  async function reorg(forkHeight: number, txs: string[]): Promise<number> {
    const oldTip = await height();
    await regtest.rpc('invalidateblock', [await regtest.rpc<string>('getblockhash', [forkHeight])]);
    await regtest.rpc('generateblock', [regtest.minerAddress, txs]);
    for (let h = forkHeight; h <= oldTip; h++) await regtest.rpc('generateblock', [regtest.minerAddress, []]);
    await regtest.waitForElectrumTip();
    return height();
  }

  async function openChannel(fundingSat: number): Promise<string> {
    const { channelPoint, fundingTxid } = await a.node.openChannel(`${b.node.nodeIdHex}@127.0.0.1:${b.node.listenPort}`, fundingSat, 0n);
    await waitFor(() => inMempool(fundingTxid), { what: 'funding tx in mempool' });
    await regtest.mine(1);
    await waitFor(() => channel(a, channelPoint)?.state === 'OPEN' && channel(b, channelPoint)?.state === 'OPEN', { what: 'channel OPEN', timeoutMs: 30_000 });
    return channelPoint;
  }

  async function payAndSettle(cp: string, amountSat: number): Promise<void> {
    const { invoice } = b.node.createInvoice(BigInt(amountSat) * 1000n, 'test', 3600);
    expect((await a.node.pay(invoice)).success).toBe(true);
    await waitFor(
      () => {
        const x = channel(a, cp);
        const y = channel(b, cp);
        return !!x && !!y && x.local_ctn === y.remote_ctn && x.remote_ctn === y.local_ctn && x.local_balance === y.remote_balance;
      },
      { what: 'commitments settled' },
    );
    await new Promise((r) => setTimeout(r, 300));
  }

  async function sweepInMempool(s: Side, cp: string, kind: SweepRow['kind']): Promise<SweepRow> {
    return waitFor(
      async () => {
        const row = liveSweepsOf(s, cp).find((r) => r.kind === kind && r.txid);
        return row && (await inMempool(row.txid!)) ? row : undefined;
      },
      { what: `${kind} sweep in mempool`, timeoutMs: 30_000 },
    );
  }

  beforeAll(async () => {
    regtest = await startRegtest();
    a = await makeSide();
    b = await makeSide();
    await regtest.sendToAddress(a.wallet.getUnusedAddress(), '0.2');
    await regtest.mine(1);
    await waitFor(() => a.wallet.getBalance().confirmedSat === 20_000_000, { what: 'A funded', timeoutMs: 30_000 });
  });

  afterAll(async () => {
    await a?.node.stop();
    await b?.node.stop();
    for (const c of chains) await c.stop();
    await regtest?.stop();
  });

  it('a confirmed to_local sweep reorged out (with its commitment) is confirmed again; REDEEMED waits for depth on the new chain', async () => {
    const cp = await openChannel(700_000);
    await payAndSettle(cp, 100_000);
    const aBefore = a.wallet.getBalance().confirmedSat;
    const { closingTxid } = await a.node.forceCloseChannel(cp);
    await waitFor(() => inMempool(closingTxid), { what: 'commitment in mempool' });
    const commitmentHex = await regtest.rpc<string>('getrawtransaction', [closingTxid]);
    await regtest.mine(1);
    const closeHeight = await height();
    await waitFor(() => channel(a, cp)?.state === 'CLOSED', { what: 'A CLOSED' });
    await regtest.mine(TO_SELF_DELAY - 1);
    const toLocal = await sweepInMempool(a, cp, 'to_local');
    await regtest.mine(1);
    await waitFor(() => liveSweepsOf(a, cp).find((r) => r.kind === 'to_local')?.status === 'confirmed', { what: 'to_local confirmed' });

    // The block of the commitment goes: bitcoind puts the commitment back in its mempool and drops
    // the sweep (not BIP 68 final any more). The new chain confirms nothing for 2 blocks.
    const tip = await reorg(closeHeight, []);
    expect(await confirmedAt(closingTxid)).toBeNull();
    await waitFor(() => channel(a, cp)?.state === 'FORCE_CLOSING', { what: 'A back to FORCE_CLOSING', timeoutMs: 30_000 });
    await waitFor(() => sweepsOf(a, cp).find((r) => r.kind === 'to_local')?.status === 'waiting', { what: 'to_local back to waiting' });
    const row = sweepsOf(a, cp).find((r) => r.kind === 'to_local')!;
    expect(row).toMatchObject({ confirmedHeight: null, txid: toLocal.txid });
    // Whether or not a mempool kept the commitment, Fulmen's copy goes out again.
    if (!(await inMempool(closingTxid))) await waitFor(() => inMempool(closingTxid), { what: 'commitment re-broadcast' });
    expect(await inMempool(toLocal.txid!)).toBe(false);

    // The commitment confirms again at a new height: the same signed sweep is valid TO_SELF_DELAY later.
    await regtest.rpc('generateblock', [regtest.minerAddress, [commitmentHex]]);
    await regtest.mine(1);
    const newCloseHeight = tip + 1;
    expect(await confirmedAt(closingTxid)).toBe(newCloseHeight);
    await waitFor(() => channel(a, cp)?.state === 'CLOSED', { what: 'A CLOSED again' });
    await waitFor(() => sweepsOf(a, cp).find((r) => r.kind === 'to_local')?.spendableHeight === newCloseHeight + TO_SELF_DELAY, { what: 'to_local re-planned' });
    await regtest.mine(newCloseHeight + TO_SELF_DELAY - 1 - (await height()));
    const again = await sweepInMempool(a, cp, 'to_local');
    expect(again.txid).toBe(toLocal.txid); // the recorded transaction, broadcast again
    await regtest.mine(1);
    await regtest.mine(REDEEM_DEPTH - 2);
    await a.node.watcher.checkNow();
    expect(channel(a, cp)!.state).toBe('CLOSED'); // one block short of REDEEM_DEPTH on the new chain
    await regtest.mine(1);
    await waitFor(() => channel(a, cp)?.state === 'REDEEMED', { what: 'A REDEEMED', timeoutMs: 30_000 });
    const swept = Number(Transaction.fromHex(toLocal.rawTx!).outs[0]!.value);
    await waitFor(() => a.wallet.getBalance().confirmedSat === aBefore + swept, { what: 'A wallet has its to_local once' });
  });

  it('our commitment reorged out and replaced by the peer\'s: the new close is classified and swept, the old plan dropped', async () => {
    const cp = await openChannel(600_000);
    await payAndSettle(cp, 150_000);
    const peerCommitment = signedCommitmentOf(b, cp);
    const aBefore = a.wallet.getBalance().confirmedSat;
    const { closingTxid } = await a.node.forceCloseChannel(cp);
    await waitFor(() => inMempool(closingTxid), { what: 'A commitment in mempool' });
    await regtest.mine(1);
    const closeHeight = await height();
    await waitFor(() => liveSweepsOf(a, cp).some((r) => r.kind === 'to_local' && r.spendableHeight === closeHeight + TO_SELF_DELAY), { what: 'A plans to_local' });
    await regtest.mine(TO_SELF_DELAY);
    await sweepInMempool(a, cp, 'to_local');
    await regtest.mine(1);
    await waitFor(() => liveSweepsOf(a, cp).find((r) => r.kind === 'to_local')?.status === 'confirmed', { what: 'A to_local confirmed' });

    // The winning chain confirms B's commitment instead (it conflicts with A's, which leaves every mempool).
    const peerTxid = Transaction.fromHex(peerCommitment).getId();
    await reorg(closeHeight, [peerCommitment]);
    expect(await confirmedAt(peerTxid)).toBe(closeHeight);
    expect(await inMempool(closingTxid)).toBe(false);
    await waitFor(() => channel(a, cp)?.closing_txid === peerTxid, { what: 'A records the peer commitment as the close', timeoutMs: 30_000 });
    const toRemote = await sweepInMempool(a, cp, 'to_remote');
    expect(toRemote.outpoint.startsWith(peerTxid)).toBe(true);
    expect(toRemote.valueSat).toBeGreaterThan(440_000); // 450k minus the commitment fee A pays as funder
    expect(liveSweepsOf(a, cp).map((r) => r.kind)).toEqual(['to_remote']);
    expect(sweepsOf(a, cp).find((r) => r.kind === 'to_local')).toMatchObject({ status: 'waiting', confirmedHeight: null, spendableHeight: null });
    // B sees its own commitment and plans its to_local.
    await waitFor(() => b.node.watcher.liveSweepsOf(keyIndexOf(b, cp)).some((r) => r.kind === 'to_local' && r.spendableHeight === closeHeight + TO_SELF_DELAY), { what: 'B plans its to_local' });

    await regtest.mine(1 + REDEEM_DEPTH);
    await waitFor(() => channel(a, cp)?.state === 'REDEEMED', { what: 'A REDEEMED', timeoutMs: 30_000 });
    const swept = Number(Transaction.fromHex(toRemote.rawTx!).outs[0]!.value);
    await waitFor(() => a.wallet.getBalance().confirmedSat === aBefore + swept, { what: 'A wallet has the to_remote of the winning close (and nothing of the lost one)' });
  });

  it('a breach whose justice transaction confirmed is reorged into the cheater\'s latest commitment: B sweeps that close instead', async () => {
    const cp = await openChannel(500_000);
    await payAndSettle(cp, 50_000);
    const revoked = signedCommitmentOf(a, cp);
    await payAndSettle(cp, 100_000);
    const latest = signedCommitmentOf(a, cp);
    const bBefore = b.wallet.getBalance().confirmedSat;
    const cheatTxid = await regtest.rpc<string>('sendrawtransaction', [revoked]);
    await waitFor(() => channel(b, cp)?.state === 'FORCE_CLOSING', { what: 'B sees the revoked commitment' });
    const justice = await sweepInMempool(b, cp, 'justice_to_local');
    expect(b.node.channelOnchain(cp).close).toMatchObject({ closeKind: 'breach', closingTxid: cheatTxid });
    await regtest.mine(1);
    const cheatHeight = await height();
    await waitFor(() => liveSweepsOf(b, cp).find((r) => r.kind === 'justice_to_local')?.status === 'confirmed', { what: 'justice confirmed' });

    // The winning chain has A's latest (not revoked) commitment instead: no breach any more.
    const latestTxid = Transaction.fromHex(latest).getId();
    await reorg(cheatHeight, [latest]);
    expect(await confirmedAt(latestTxid)).toBe(cheatHeight);
    expect(await confirmedAt(cheatTxid)).toBeNull();
    expect(await confirmedAt(justice.txid!)).toBeNull();
    await waitFor(() => channel(b, cp)?.closing_txid === latestTxid, { what: 'B records the latest commitment as the close', timeoutMs: 30_000 });
    const toRemote = await sweepInMempool(b, cp, 'to_remote');
    expect(toRemote.outpoint.startsWith(latestTxid)).toBe(true);
    expect(toRemote.valueSat).toBe(150_000);
    expect(liveSweepsOf(b, cp).some((r) => r.kind.startsWith('justice'))).toBe(false);
    expect(b.node.channelOnchain(cp).close).toMatchObject({ closeKind: 'remote', closingTxid: latestTxid, closingHeight: cheatHeight });
    expect(sweepsOf(b, cp).find((r) => r.kind === 'justice_to_local')).toMatchObject({ status: 'waiting', confirmedHeight: null });

    await regtest.mine(1 + REDEEM_DEPTH);
    await waitFor(() => channel(b, cp)?.state === 'REDEEMED', { what: 'B REDEEMED', timeoutMs: 30_000 });
    const swept = Number(Transaction.fromHex(toRemote.rawTx!).outs[0]!.value);
    await waitFor(() => b.wallet.getBalance().confirmedSat === bBefore + swept, { what: 'B wallet has its balance of the latest state (the justice output is gone)' });
  });
});
