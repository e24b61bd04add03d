import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction } from 'bitcoinjs-lib';
import { waitFor, type Regtest } from '../harness/regtest.js';
import { channelDataOf, channelOf, heightOf, inMempoolOf, keyIndexOf, openChannelBetween, startRegtestNodes, sweepsOf, waitSettled, type RegtestNodes, type Side } from '../harness/nodes.js';
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

describe('reorgs during force closes on regtest', () => {
  let net: RegtestNodes;
  let regtest: Regtest;
  let a: Side;
  let b: Side;

  const channel = channelOf;
  const liveSweepsOf = (s: Side, cp: string): SweepRow[] => s.node.watcher.liveSweepsOf(keyIndexOf(s, cp));
  const signedCommitmentOf = (s: Side, cp: string): string =>
    Channel.load(channelDataOf(s, cp), { lightningRootSecret: s.wallet.lightningRootSecret(), persistence: new ChannelStore(s.db) }).signedLocalCommitment();
  const inMempool = (txid: string) => inMempoolOf(regtest, txid);
  const height = () => heightOf(regtest);
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

  const openChannel = (fundingSat: number) => openChannelBetween(regtest, a, b, fundingSat);

  async function payAndSettle(cp: string, amountSat: number): Promise<void> {
    const { invoice } = b.node.createInvoice(BigInt(amountSat) * 1000n, 'test', 3600);
    expect((await a.node.pay(invoice)).success).toBe(true);
    await waitSettled(a, b, cp);
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
    net = await startRegtestNodes(2, { toSelfDelay: TO_SELF_DELAY, redeemDepth: REDEEM_DEPTH }, 20_000_000);
    ({ regtest } = net);
    [a, b] = net.sides as [Side, Side];
  });

  afterAll(() => net?.stop());

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
