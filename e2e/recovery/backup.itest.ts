import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction } from 'bitcoinjs-lib';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';
import { openDatabase, type Db } from '../../core/storage/db.js';
import { ChainNetwork } from '../../core/chain/network.js';
import { Wallet } from '../../core/wallet/wallet.js';
import { LightningNode, type ChannelInfo } from '../../core/lightning/node.js';

// Recovery on regtest (Bitcoin Knots + ElectrumX) with Fulmen nodes in one process. Each case
// loses the funder's machine (database gone), restores its seed into a fresh database and gets
// the channel's funds back: (a) with an imported static backup and request_force_close, (b) from
// the seed alone through the funding transaction's OP_RETURN, (c) after a local force close whose
// to_local was not swept yet. to_self_delay is 10 blocks on both sides.
const TO_SELF_DELAY = 10;
const CHANNEL_SAT = 1_000_000;

interface Side {
  db: Db;
  wallet: Wallet;
  chain: ChainNetwork;
  node: LightningNode;
  mnemonic: string;
}

describe('channel backups and recovery from seed on regtest', () => {
  let regtest: Regtest;
  const sides: Side[] = [];
  let b: Side;

  async function makeSide(mnemonic?: string, listen = true): Promise<Side> {
    const db = openDatabase(':memory:');
    const created = Wallet.create(db, { network: 'regtest', ...(mnemonic ? { mnemonic } : {}) });
    const chain = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db });
    await chain.start();
    await created.wallet.attachChain(chain);
    await created.wallet.waitUntilSynced(20_000);
    const node = new LightningNode({
      db,
      wallet: created.wallet,
      chain,
      network: 'regtest',
      ...(listen ? { listen: '127.0.0.1:0' } : {}),
      minimumDepth: 1,
      toSelfDelay: TO_SELF_DELAY,
      redeemDepth: 3,
    });
    await node.start();
    const side = { db, wallet: created.wallet, chain, node, mnemonic: created.mnemonic };
    sides.push(side);
    return side;
  }

  /** The machine is lost: node and chain stop, the database is gone. */
  async function lose(s: Side): Promise<void> {
    await s.node.stop();
    s.wallet.detachChain();
    await s.chain.stop();
    s.db.close();
    sides.splice(sides.indexOf(s), 1);
  }

  const channel = (s: Side, cp: string): ChannelInfo | undefined => s.node.listChannels().find((c) => c.channel_point === cp);
  const inMempool = async (txid: string) => (await regtest.rpc<string[]>('getrawmempool')).includes(txid);

  async function fundedFunder(): Promise<Side> {
    const a = await makeSide();
    await regtest.sendToAddress(a.wallet.getUnusedAddress(), '0.2');
    await regtest.mine(1);
    await waitFor(() => a.wallet.getBalance().confirmedSat === 20_000_000, { what: 'A funded', timeoutMs: 30_000 });
    return a;
  }

  async function openChannel(a: Side): Promise<string> {
    const { channelPoint, fundingTxid } = await a.node.openChannel(`${b.node.nodeIdHex}@127.0.0.1:${b.node.listenPort}`, CHANNEL_SAT, 0n);
    await waitFor(() => inMempool(fundingTxid), { what: 'funding tx in mempool' });
    await regtest.mine(1);
    await waitFor(() => channel(a, channelPoint)?.state === 'OPEN' && channel(b, channelPoint)?.state === 'OPEN', { what: 'channel OPEN', timeoutMs: 30_000 });
    // B pays nothing: A's whole balance (minus the commitment fee) is its to_remote on B's commitment.
    return channelPoint;
  }

  /** Mines until the restored wallet's confirmed balance rises above `before` (the sweep confirmed). */
  async function sweptInto(s: Side, before: number): Promise<number> {
    return waitFor(
      async () => {
        const mempool = await regtest.rpc<string[]>('getrawmempool');
        if (mempool.length > 0) await regtest.mine(1);
        const bal = s.wallet.getBalance().confirmedSat;
        return bal > before ? bal : undefined;
      },
      { what: 'sweep confirmed in the restored wallet', timeoutMs: 90_000, intervalMs: 1000 },
    );
  }

  beforeAll(async () => {
    regtest = await startRegtest();
    b = await makeSide();
  });

  afterAll(async () => {
    for (const s of [...sides]) {
      await s.node.stop();
      await s.chain.stop();
    }
    await regtest?.stop();
  });

  it('(a) exported backup, wallet lost, seed restored, backup imported, request_force_close: to_remote swept', async () => {
    const a = await fundedFunder();
    const cp = await openChannel(a);
    const backup = a.node.exportChannelBackup(cp);
    expect(backup.startsWith('fulmen_backup:')).toBe(true);
    // A wallet with another seed cannot open it.
    const stranger = await makeSide(undefined, false);
    expect(() => stranger.node.importChannelBackup(backup)).toThrow(/another seed/);
    await lose(stranger);

    const mnemonic = a.mnemonic;
    await lose(a);
    const restored = await makeSide(mnemonic, false);
    expect(restored.node.nodeIdHex).toBe(a.node.nodeIdHex);
    const balanceBefore = restored.wallet.getBalance().confirmedSat;
    expect(restored.node.importChannelBackup(backup)).toBe(cp);
    const listed = channel(restored, cp)!;
    expect(listed.type).toBe('BACKUP');
    expect(listed.capacity).toBe(CHANNEL_SAT);
    expect(listed.channel_type).toBe(channel(b, cp)!.channel_type); // version 2 backups name the channel type
    expect(listed.channel_type).not.toBeNull();

    await restored.node.requestForceClose(cp);
    await waitFor(() => channel(b, cp)?.state === 'FORCE_CLOSING' || channel(b, cp)?.state === 'CLOSED', { what: 'B force-closes' });
    const bal = await sweptInto(restored, balanceBefore);
    // All but the commitment fee and the sweep fee comes back.
    expect(bal - balanceBefore).toBeGreaterThan(CHANNEL_SAT - 20_000);
    await waitFor(() => channel(restored, cp)?.state === 'CLOSED' || channel(restored, cp)?.state === 'REDEEMED', { what: 'backup CLOSED' });
    expect(channel(restored, cp)!.closing_txid).not.toBeNull();
  });

  it('(b) no backup: the seed alone finds the channel through the funding OP_RETURN, request_force_close, swept', async () => {
    const a = await fundedFunder();
    const cp = await openChannel(a);
    const mnemonic = a.mnemonic;
    await lose(a);
    const restored = await makeSide(mnemonic, false);
    const balanceBefore = restored.wallet.getBalance().confirmedSat;
    const found = await waitFor(
      async () => {
        await restored.node.backups.checkNow();
        return channel(restored, cp);
      },
      { what: 'channel found from the funding OP_RETURN', timeoutMs: 30_000, intervalMs: 500 },
    );
    expect(found.type).toBe('BACKUP');
    expect(found.remote_pubkey).toBe(b.node.nodeIdHex);
    expect(found.capacity).toBe(CHANNEL_SAT);

    await restored.node.requestForceClose(cp);
    await waitFor(() => channel(b, cp)?.state === 'FORCE_CLOSING' || channel(b, cp)?.state === 'CLOSED', { what: 'B force-closes' });
    const bal = await sweptInto(restored, balanceBefore);
    expect(bal - balanceBefore).toBeGreaterThan(CHANNEL_SAT - 20_000);
  });

  it('(c) local force close, machine lost before the to_local sweep: the restored wallet sweeps to_local after to_self_delay', async () => {
    const a = await fundedFunder();
    const cp = await openChannel(a);
    const backup = a.node.exportChannelBackup(cp);
    const { closingTxid } = await a.node.forceCloseChannel(cp);
    await waitFor(() => inMempool(closingTxid), { what: 'commitment in mempool' });
    await regtest.mine(1);
    const closeHeight = await regtest.rpc<number>('getblockcount');
    const mnemonic = a.mnemonic;
    await lose(a); // to_local is still locked for TO_SELF_DELAY blocks

    const restored = await makeSide(mnemonic, false);
    const balanceBefore = restored.wallet.getBalance().confirmedSat;
    restored.node.importChannelBackup(backup);
    await waitFor(
      async () => {
        await restored.node.backups.checkNow();
        return channel(restored, cp)?.closing_txid === closingTxid;
      },
      { what: 'restored wallet sees our commitment', timeoutMs: 30_000, intervalMs: 500 },
    );
    // Not spendable before to_self_delay: nothing swept yet.
    expect(restored.node.backups.get(cp)!.sweeps.to_local).toBeUndefined();
    const height = await regtest.rpc<number>('getblockcount');
    if (closeHeight + TO_SELF_DELAY - 1 - height > 0) await regtest.mine(closeHeight + TO_SELF_DELAY - 1 - height);
    const bal = await sweptInto(restored, balanceBefore);
    expect(bal - balanceBefore).toBeGreaterThan(CHANNEL_SAT - 20_000);
    const sweep = restored.node.backups.get(cp)!.sweeps.to_local!;
    const sweepHeight = (await regtest.rpc<{ blockhash: string }>('getrawtransaction', [sweep.txid, true])).blockhash;
    expect(sweepHeight).toBeTruthy();
    // get_channel_sweeps (the Channels tab) shows the backup channel's sweep.
    expect(restored.node.channelOnchain(cp).sweeps).toEqual([expect.objectContaining({ kind: 'to_local', txid: sweep.txid, outpoint: `${closingTxid}:${Transaction.fromHex(sweep.rawTx).ins[0]!.index}` })]);
  });
});
