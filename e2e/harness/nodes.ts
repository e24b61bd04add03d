import { startRegtest, waitFor, type Regtest } from './regtest.js';
import { openDatabase, type Db } from '../../core/storage/db.js';
import { ChainNetwork } from '../../core/chain/network.js';
import { Wallet } from '../../core/wallet/wallet.js';
import { LightningNode, type ChannelInfo, type LightningNodeOptions } from '../../core/lightning/node.js';
import type { Channel } from '../../core/lightning/channel/channel.js';
import { ChannelStore } from '../../core/lightning/channel/store.js';
import type { SweepRow } from '../../core/lightning/watcher/store.js';

// Fulmen nodes in the test process on a regtest (Bitcoin Knots + ElectrumX): each with an in-memory
// database, a fresh regtest wallet and its own ChainNetwork (oneserver) on the regtest's ElectrumX.

/** One Fulmen node in this process. */
export interface Side {
  db: Db;
  wallet: Wallet;
  chain: ChainNetwork;
  node: LightningNode;
}

/** LightningNode options of a side; `network` is regtest and db/wallet/chain are the side's own. */
export type SideOptions = Omit<LightningNodeOptions, 'db' | 'wallet' | 'chain' | 'network'>;

/** A regtest with started sides; `stop()` stops the nodes, then their chains, then the regtest. */
export interface RegtestNodes {
  regtest: Regtest;
  sides: Side[];
  stop(): Promise<void>;
}

/**
 * Starts a side on `regtest`: the wallet is synced (20 s at most) before the node starts, listening
 * on 127.0.0.1 (any free port), with minimumDepth 1 and paymentTimeoutMs 30 s unless `opts` sets them.
 * When a step fails the chain is stopped and the error rethrown.
 */
export async function startSide(regtest: Regtest, opts: SideOptions = {}): Promise<Side> {
  const db = openDatabase(':memory:');
  const { wallet } = Wallet.create(db, { network: 'regtest' });
  const chain = new ChainNetwork({ network: 'regtest', server: regtest.electrumServer, oneserver: true, db });
  try {
    await chain.start();
    await wallet.attachChain(chain);
    await wallet.waitUntilSynced(20_000);
    const node = newSideNode({ db, wallet, chain }, opts);
    await node.start();
    return { db, wallet, chain, node };
  } catch (err) {
    await chain.stop();
    throw err;
  }
}

/**
 * A node (not started) on the side's db, wallet and chain: regtest, listening on 127.0.0.1 (any free
 * port), minimumDepth 1 and paymentTimeoutMs 30 s unless `opts` sets them. For a restart from the
 * database, pass the old node's `listen` address.
 */
export function newSideNode(s: Pick<Side, 'db' | 'wallet' | 'chain'>, opts: SideOptions = {}): LightningNode {
  return new LightningNode({ db: s.db, wallet: s.wallet, chain: s.chain, network: 'regtest', listen: '127.0.0.1:0', minimumDepth: 1, paymentTimeoutMs: 30_000, ...opts });
}

/**
 * Pays `amountSat` from the miner to the side's wallet, mines one block and waits (30 s) until that
 * is the wallet's confirmed balance (`what` names the wait in its timeout error).
 */
export async function fundSide(regtest: Regtest, s: Side, amountSat: number, what = 'A funded'): Promise<void> {
  await regtest.sendToAddress(s.wallet.getUnusedAddress(), (amountSat / 1e8).toFixed(8));
  await regtest.mine(1);
  await waitFor(() => s.wallet.getBalance().confirmedSat === amountSat, { what, timeoutMs: 30_000 });
}

/**
 * Starts a regtest and `count` sides with the same options, then pays `fundSat` (sat) from the miner
 * to the first side's wallet, mines one block and waits (30 s) until that is its confirmed balance.
 * On any failure everything started is stopped and the error rethrown.
 */
export async function startRegtestNodes(count: number, opts: SideOptions, fundSat: number): Promise<RegtestNodes> {
  const regtest = await startRegtest();
  const sides: Side[] = [];
  const stop = async () => {
    for (const s of sides) await s.node.stop();
    for (const s of sides) await s.chain.stop();
    await regtest.stop();
  };
  try {
    for (let i = 0; i < count; i++) sides.push(await startSide(regtest, opts));
    await fundSide(regtest, sides[0]!, fundSat);
  } catch (err) {
    await stop();
    throw err;
  }
  return { regtest, sides, stop };
}

/** The side's channel with channel point `cp` ("txid:vout"), as list_channels shows it. */
export const channelOf = (s: Side, cp: string): ChannelInfo | undefined => s.node.listChannels().find((c) => c.channel_point === cp);

/** The key index of the side's live channel `cp` (node internals; throws when there is none). */
export const keyIndexOf = (s: Side, cp: string): number =>
  [...(s.node as unknown as { channels: Map<number, Channel> }).channels.values()].find((c) => c.channelPoint === cp)!.keyIndex;

/** Every sweep the side's watcher planned for channel `cp`. */
export const sweepsOf = (s: Side, cp: string): SweepRow[] => s.node.watcher.sweepsOf(keyIndexOf(s, cp));

/** The stored ChannelData of the side's channel `cp`. */
export const channelDataOf = (s: Side, cp: string) => new ChannelStore(s.db).loadAll().find((d) => `${d.fundingTxid}:${d.fundingOutputIndex}` === cp)!;

/** Whether bitcoind's mempool holds `txid`. */
export const inMempoolOf = async (regtest: Regtest, txid: string): Promise<boolean> => (await regtest.rpc<string[]>('getrawmempool')).includes(txid);

/** bitcoind's block count (tip height). */
export const heightOf = (regtest: Regtest): Promise<number> => regtest.rpc<number>('getblockcount');

/** The output values (sat) of transaction `txid`, as bitcoind decodes it. */
export async function outputValuesSat(regtest: Regtest, txid: string): Promise<number[]> {
  const tx = await regtest.rpc<{ vout: { value: number }[] }>('getrawtransaction', [txid, true]);
  return tx.vout.map((o) => Math.round(o.value * 1e8));
}

/**
 * `node` opens a channel of `fundingSat` (no push) to the peer at `connectString`
 * ("nodeid@host:port", Fulmen or another implementation) and waits (30 s) until the funding tx is
 * in bitcoind's mempool. Nothing is mined.
 */
export async function openChannelTo(regtest: Regtest, node: LightningNode, connectString: string, fundingSat: number): Promise<{ channelPoint: string; fundingTxid: string }> {
  const opened = await node.openChannel(connectString, fundingSat, 0n);
  await waitFor(() => inMempoolOf(regtest, opened.fundingTxid), { what: 'funding tx in mempool' });
  return opened;
}

/**
 * Fulmen's output (sat) of the cooperative close `closingTxid` of `channel` (Fulmen's view just
 * before it), which Fulmen funded: checks that the closing tx pays the peer its `remote_balance`
 * and Fulmen its `local_balance` less the closing fee (under 5,000 sat), which the funder pays
 * (BOLT 2 closing_signed). Throws when it does not.
 */
export async function funderCloseOutputSat(regtest: Regtest, closingTxid: string, channel: ChannelInfo): Promise<number> {
  const values = await outputValuesSat(regtest, closingTxid);
  const [fulmenSat, ...others] = values.filter((v) => v !== channel.remote_balance);
  const feeSat = channel.local_balance - (fulmenSat ?? 0);
  if (values.length !== 2 || fulmenSat === undefined || others.length > 0 || feeSat <= 0 || feeSat >= 5_000) {
    throw new Error(`closing tx ${closingTxid} pays ${values.join(' + ')} sat: expected ${channel.remote_balance} to the peer and ${channel.local_balance} less a fee under 5,000 sat to Fulmen`);
  }
  return fulmenSat;
}

/**
 * Mines one block every 4 s until `check` holds, at most `maxBlocks` blocks (for steps whose block
 * count is not fixed). When it never does, throws the last timeout with `logTail()` (the peer's
 * log) appended.
 */
export async function mineUntil(regtest: Regtest, what: string, check: () => Promise<boolean> | boolean, maxBlocks: number, logTail: () => string): Promise<void> {
  for (let i = 0; i <= maxBlocks; i++) {
    try {
      await waitFor(async () => (await check()) || undefined, { what, timeoutMs: 4_000, intervalMs: 100 });
      return;
    } catch (err) {
      if (i === maxBlocks) throw new Error(`${(err as Error).message}\n${logTail()}`);
      await regtest.mine(1);
    }
  }
}

/**
 * `a` opens a channel of `fundingSat` (no push) to `b`, the funding tx is mined once it is in the
 * mempool, and both sides see the channel OPEN (30 s). Returns the channel point.
 */
export async function openChannelBetween(regtest: Regtest, a: Side, b: Side, fundingSat: number): Promise<string> {
  const { channelPoint } = await openChannelTo(regtest, a.node, `${b.node.nodeIdHex}@127.0.0.1:${b.node.listenPort}`, fundingSat);
  await regtest.mine(1);
  await waitFor(() => channelOf(a, channelPoint)?.state === 'OPEN' && channelOf(b, channelPoint)?.state === 'OPEN', { what: 'channel OPEN', timeoutMs: 30_000 });
  return channelPoint;
}

/**
 * Waits until `a` and `b` agree on every commitment number of `cp` (no signature or revocation in
 * flight) and, with `noHtlc`, until no HTLC is in flight either (each side's balances add up to the
 * capacity: a fulfill leaves before the commitment that removes its HTLC is signed), then 300 ms more.
 */
export async function waitSettled(a: Side, b: Side, cp: string, opts: { noHtlc?: boolean } = {}): Promise<void> {
  const noHtlc = (c: ChannelInfo) => c.local_balance + c.remote_balance === c.capacity;
  await waitFor(
    () => {
      const x = channelOf(a, cp);
      const y = channelOf(b, cp);
      if (!x || !y || x.local_ctn !== y.remote_ctn || x.remote_ctn !== y.local_ctn || x.local_balance !== y.remote_balance) return false;
      return !opts.noHtlc || (noHtlc(x) && noHtlc(y));
    },
    { what: opts.noHtlc ? 'commitments settled, no HTLC in flight' : 'commitments settled' },
  );
  await new Promise((r) => setTimeout(r, 300));
}
