/**
 * Electrum 4.5.8 as the cheater (BOLT 5 "revoked transaction close handling"): a Fulmen–Electrum
 * channel on regtest, Electrum's commitment of one state exported with Electrum's own
 * `get_channel_ctx <channel_point> --iknowwhatimdoing` (commands.py: `chan.force_close_tx()`,
 * signed), payments that revoke it, then that old commitment broadcast through bitcoind. Fulmen
 * must take Electrum's to_local with a justice transaction (revocation key) and its own output
 * (to_remote, option_static_remotekey) and end with the whole channel, minus fees.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction } from 'bitcoinjs-lib';
import type { ChainNetwork } from '../../core/chain/network.js';
import type { Wallet } from '../../core/wallet/wallet.js';
import type { ChannelInfo, LightningNode } from '../../core/lightning/node.js';
import type { Channel } from '../../core/lightning/channel/channel.js';
import type { SweepRow } from '../../core/lightning/watcher/store.js';
import { inputPrevTxid } from '../../core/bitcoin/transaction.js';
import { startElectrumPeer, type ElectrumPeer } from '../harness/electrum.js';
import { startRegtest, waitFor, type Regtest } from '../harness/regtest.js';
import { fundSide, startSide } from '../harness/nodes.js';

/** Electrum 4.5.8 `list_channels` row (fields used here). */
interface ElectrumChannel {
  channel_point: string;
  state: string;
  local_balance: number;
  remote_balance: number;
  local_unsettled_sent: number;
  remote_unsettled_sent: number;
}

interface ElectrumRequest {
  lightning_invoice: string;
}

const FUNDING_SAT = 1_000_000;
const REDEEM_DEPTH = 3;

describe('Electrum 4.5.8 broadcasts a revoked commitment; Fulmen takes the channel', () => {
  let regtest: Regtest;
  let electrum: ElectrumPeer;
  let wallet: Wallet;
  let chain: ChainNetwork;
  let node: LightningNode;

  const electrumChannel = async (cp: string) => (await electrum.call<ElectrumChannel[]>('list_channels')).find((c) => c.channel_point === cp);
  const fulmenChannel = (cp: string): ChannelInfo | undefined => node.listChannels().find((c) => c.channel_point === cp);
  const sweepsOf = (cp: string): SweepRow[] => {
    const ch = [...(node as unknown as { channels: Map<number, Channel> }).channels.values()].find((c) => c.channelPoint === cp)!;
    return node.watcher.liveSweepsOf(ch.keyIndex);
  };
  const inMempool = async (txid: string) => (await regtest.rpc<string[]>('getrawmempool')).includes(txid);

  /** Both sides show the same balances with nothing in flight (every revocation exchanged). */
  async function balancesAgree(cp: string, fulmenLocalSat: number): Promise<void> {
    await waitFor(
      async () => {
        const e = await electrumChannel(cp);
        const f = fulmenChannel(cp);
        if (!e || !f || f.local_balance !== fulmenLocalSat) return false;
        if (e.local_unsettled_sent !== 0 || e.remote_unsettled_sent !== 0) return false;
        return e.local_balance === f.remote_balance && e.remote_balance === f.local_balance && f.local_ctn === f.remote_ctn;
      },
      { what: 'balances to agree', timeoutMs: 30_000, intervalMs: 100 },
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${electrum.logTail(60)}`);
    });
    await new Promise((r) => setTimeout(r, 500));
  }

  beforeAll(async () => {
    regtest = await startRegtest();
    electrum = await startElectrumPeer(regtest, { name: 'cheater' });
    const fulmen = await startSide(regtest, { redeemDepth: REDEEM_DEPTH });
    ({ wallet, chain, node } = fulmen);
    await fundSide(regtest, fulmen, 5_000_000, 'Fulmen funded');
  });

  afterAll(async () => {
    await node?.stop();
    await chain?.stop();
    await electrum?.stop();
    await regtest?.stop();
  });

  it('justice transactions sweep Electrum\'s revoked commitment; Fulmen ends with the channel\'s funds', async () => {
    const opened = await node.openChannel(await electrum.connectString(), FUNDING_SAT, 0n);
    const cp = opened.channelPoint;
    await waitFor(() => inMempool(opened.fundingTxid), { what: 'funding tx in mempool' });
    await electrum.waitForTx(opened.fundingTxid); // mined only once Electrum holds it: see waitForTx
    await regtest.mine(3); // Electrum's minimum_depth as fundee
    await waitFor(async () => fulmenChannel(cp)?.state === 'OPEN' && (await electrumChannel(cp))?.state === 'OPEN', { what: 'channel OPEN on both sides', timeoutMs: 60_000 });

    // Fulmen pays Electrum 400k: Electrum's commitment of this state gives it 400k.
    const first = await electrum.call<ElectrumRequest>('add_request', { amount: '0.004', memo: 'to electrum', expiry: 3600, force: true });
    expect((await node.pay(first.lightning_invoice)).success).toBe(true);
    await balancesAgree(cp, FUNDING_SAT - 400_000);
    const oldCommitment = await electrum.call<string>('get_channel_ctx', { channel_point: cp, iknowwhatimdoing: true });
    const cheat = Transaction.fromHex(oldCommitment);
    expect(`${inputPrevTxid(cheat.ins[0]!)}:${cheat.ins[0]!.index}`).toBe(cp);

    // Electrum pays 300k back: its 400k commitment is revoked.
    const { invoice } = node.createInvoice(300_000_000n, 'back to fulmen', 3600);
    const back = await electrum.call<{ success: boolean }>('lnpay', { invoice, timeout: 30 });
    expect(back, electrum.logTail(40)).toMatchObject({ success: true });
    await balancesAgree(cp, FUNDING_SAT - 100_000);
    const fulmenBefore = wallet.getBalance().confirmedSat;

    const cheatTxid = await regtest.rpc<string>('sendrawtransaction', [oldCommitment]);
    expect(cheatTxid).toBe(cheat.getId());
    await waitFor(() => fulmenChannel(cp)?.state === 'FORCE_CLOSING' && fulmenChannel(cp)?.closing_txid === cheatTxid, { what: 'Fulmen sees the revoked commitment' });
    const justice = await waitFor(
      async () => {
        const row = sweepsOf(cp).find((r) => r.kind === 'justice_to_local' && r.txid);
        return row && (await inMempool(row.txid!)) ? row : undefined;
      },
      { what: 'justice transaction in mempool', timeoutMs: 30_000 },
    );
    expect(justice.outpoint.startsWith(cheatTxid)).toBe(true);
    expect(justice.valueSat).toBe(400_000); // Electrum's to_local in the revoked state (Fulmen paid the commitment fee)
    const toRemote = await waitFor(
      async () => {
        const row = sweepsOf(cp).find((r) => r.kind === 'to_remote' && r.txid);
        return row && (await inMempool(row.txid!)) ? row : undefined;
      },
      { what: 'to_remote sweep in mempool', timeoutMs: 30_000 },
    );
    expect(toRemote.valueSat).toBeGreaterThan(FUNDING_SAT - 400_000 - 10_000);
    // What get_channel_sweeps (the Channels tab) shows: a breach, the whole channel still locked until the sweeps confirm.
    const onchain = node.channelOnchain(cp);
    expect(onchain.close).toMatchObject({ closeKind: 'breach', closingTxid: cheatTxid, closingHeight: null });
    expect(onchain.sweeps.map((s) => s.kind).sort()).toEqual(['justice_to_local', 'to_remote']);

    await electrum.waitForTx(cheatTxid); // Electrum must see its commitment confirm: see waitForTx
    await regtest.mine(1 + REDEEM_DEPTH);
    await waitFor(() => fulmenChannel(cp)?.state === 'REDEEMED', { what: 'Fulmen REDEEMED', timeoutMs: 60_000 });
    const taken = [justice, toRemote].reduce((sum, r) => sum + Number(Transaction.fromHex(r.rawTx!).outs[0]!.value), 0);
    const commitmentFee = FUNDING_SAT - cheat.outs.reduce((sum, o) => sum + Number(o.value), 0);
    expect(taken).toBeGreaterThan(FUNDING_SAT - commitmentFee - 2_000); // everything but the fees of three transactions
    await waitFor(() => wallet.getBalance().confirmedSat === fulmenBefore + taken, { what: 'Fulmen wallet has the whole channel', timeoutMs: 30_000 });
    // Electrum got nothing from the channel: its to_local went to Fulmen.
    for (const r of [justice, toRemote]) expect((await regtest.rpc<{ confirmations: number }>('getrawtransaction', [r.txid, true])).confirmations).toBeGreaterThan(0);
    await waitFor(async () => (await electrumChannel(cp))?.state !== 'OPEN', { what: 'Electrum sees its channel closed', timeoutMs: 30_000 });
  });
});
