import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Transaction } from 'bitcoinjs-lib';
import { waitFor, type Regtest } from '../harness/regtest.js';
import { channelOf, heightOf, inMempoolOf, startRegtestNodes, sweepsOf as sweepsOfChannel, type RegtestNodes, type Side } from '../harness/nodes.js';
import type { ChannelInfo } from '../../core/lightning/node.js';
import type { SweepRow } from '../../core/lightning/watcher/store.js';
import { FulmenError } from '../../core/util/errors.js';
import { inputPrevTxid } from '../../core/bitcoin/transaction.js';

// The on-chain reserve of anchor channels (core/wallet/reserve.ts) on regtest (Bitcoin Knots +
// ElectrumX), two Fulmen nodes with option_anchors: (a) opening a channel must leave 10,000 sat,
// sends cannot spend it, send-max keeps it as change; (b) with only that coin left, a force close's
// zero-fee HTLC-timeout takes it for its fee, and the fee bump (BIP 125) spends the same coin again.
const EXTERNAL = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';

describe('anchor channel reserve on regtest', () => {
  let net: RegtestNodes;
  let regtest: Regtest;
  let a: Side;
  let b: Side;
  let cp = '';

  const channel = (s: Side): ChannelInfo | undefined => channelOf(s, cp);
  const sweepsOf = (s: Side): SweepRow[] => sweepsOfChannel(s, cp);
  const inMempool = (txid: string) => inMempoolOf(regtest, txid);
  const height = () => heightOf(regtest);
  const connectB = () => `${b.node.nodeIdHex}@127.0.0.1:${b.node.listenPort}`;

  beforeAll(async () => {
    net = await startRegtestNodes(
      2,
      {
        toSelfDelay: 144, // A's to_local is not swept (a second coin) before the HTLC-timeout is bumped
        redeemDepth: 3,
        sweepFeePolicy: { bumpAfterBlocks: 1 },
      },
      1_000_000,
    );
    ({ regtest } = net);
    [a, b] = net.sides as [Side, Side];
  });

  afterAll(() => net?.stop());

  it('(a) an anchor channel open must leave the reserve; sends cannot spend it; send-max keeps it as change', async () => {
    expect(a.wallet.reserve().reservedSat).toBe(0);
    const refused = await a.node.openChannel(connectB(), 995_000, 0n).then(
      () => null,
      (e: unknown) => e,
    );
    expect(refused).toBeInstanceOf(FulmenError);
    expect((refused as FulmenError).code).toBe('INSUFFICIENT_FUNDS');
    expect((refused as FulmenError).message).toMatch(/10000 sat reserved .* 1 anchor channel \(with the new one\)/);
    expect(a.node.anchorChannelCount()).toBe(0);

    const opened = await a.node.openChannel(connectB(), 900_000, 0n);
    cp = opened.channelPoint;
    await waitFor(() => inMempool(opened.fundingTxid), { what: 'funding tx in mempool' });
    await regtest.mine(1);
    await waitFor(() => channel(a)?.state === 'OPEN' && channel(b)?.state === 'OPEN', { what: 'channel OPEN', timeoutMs: 30_000 });
    expect(channel(a)?.channel_type).toBe('anchors');
    expect(a.wallet.reserve()).toEqual({ reservedSat: 10_000, anchorChannels: 1 });
    expect(b.wallet.reserve()).toEqual({ reservedSat: 10_000, anchorChannels: 1 }); // the acceptor's HTLC transactions need fees too

    const left = a.wallet.getBalance().confirmedSat;
    expect(left).toBeGreaterThan(90_000);
    expect(() => a.wallet.createTransaction({ outputs: [{ address: EXTERNAL, amountSat: left - 5_000 }], feerateSatPerVbyte: 2 })).toThrow(/below the 10000 sat reserved/);
    const max = a.wallet.createTransaction({ outputs: [{ address: EXTERNAL, amountSat: 'max' }], feerateSatPerVbyte: 2 });
    expect(Number(Transaction.fromHex(max.txHex).outs[max.changeIndex!]!.value)).toBe(10_000);
    await a.wallet.broadcast(max.txHex);
    expect(await inMempool(max.txid)).toBe(true);
    await regtest.mine(1);
    await waitFor(() => a.wallet.getBalance().confirmedSat === 10_000 && a.wallet.getBalance().unconfirmedSat === 0, { what: 'A keeps only the reserve' });
    expect(a.wallet.listUnspent()).toHaveLength(1);
  });

  it('(b) the reserve coin pays the HTLC-timeout fee at a force close, and the fee bump reuses it', async () => {
    expect(cp).not.toBe('');
    // B holds the incoming HTLC (never fulfills nor fails it), as a hold invoice would.
    (b.node as unknown as { resolveIncoming: () => void }).resolveIncoming = () => undefined;
    const { invoice } = b.node.createInvoice(60_000_000n, 'held', 3600);
    const payment = a.node.pay(invoice);
    await waitFor(() => channel(a)?.local_balance === 900_000 - 60_000 && channel(b)?.remote_balance === 900_000 - 60_000, { what: 'HTLC in both commitments' });
    await new Promise((r) => setTimeout(r, 300));
    const reserveCoin = a.wallet.listUnspent()[0]!;

    const { closingTxid } = await a.node.forceCloseChannel(cp);
    expect((await payment).success).toBe(false);
    await waitFor(() => inMempool(closingTxid), { what: 'commitment in mempool' });
    await regtest.mine(1);
    const planned = await waitFor(() => sweepsOf(a).find((r) => r.kind === 'htlc_timeout_tx' && r.spendableHeight !== null), { what: 'HTLC-timeout planned' });
    await regtest.mine(planned.spendableHeight! - 1 - (await height()));
    const v1Row = await waitFor(
      async () => {
        const row = sweepsOf(a).find((r) => r.kind === 'htlc_timeout_tx' && r.txid);
        return row && (await inMempool(row.txid!)) ? row : undefined;
      },
      { what: 'HTLC-timeout in mempool', timeoutMs: 60_000 },
    );
    const v1 = Transaction.fromHex(v1Row.rawTx!);
    // Fee input: the reserve coin, or the change of an anchor CPFP child that spent it (both: the only coin A had).
    const walletInputs = v1.ins.slice(1).map((i) => `${inputPrevTxid(i)}:${i.index}`);
    expect(walletInputs).toHaveLength(1);
    // No second confirmed coin (the wallet learns that v1 spent its coin from the server, a moment later).
    await waitFor(() => a.wallet.listUnspent().filter((u) => u.height > 0).length === 0, { what: 'A has no confirmed coin left' });
    const cpfp = sweepsOf(a).find((r) => r.kind === 'anchor_cpfp' && r.txid);
    expect(walletInputs[0]).toBe(cpfp ? walletInputs[0] : `${reserveCoin.txid}:${reserveCoin.vout}`);

    // The next block leaves it out (a negative priority delta keeps it unmined): one block later the
    // watcher replaces it at a higher feerate, spending the same wallet coin (BIP 125).
    await regtest.rpc('prioritisetransaction', [v1Row.txid!, 0, -100_000_000]);
    await regtest.mine(1);
    const v2Row = await waitFor(
      async () => {
        const row = sweepsOf(a).find((r) => r.kind === 'htlc_timeout_tx');
        return row?.txid && row.txid !== v1Row.txid && (await inMempool(row.txid)) ? row : undefined;
      },
      { what: 'HTLC-timeout replaced', timeoutMs: 60_000 },
    );
    const v2 = Transaction.fromHex(v2Row.rawTx!);
    expect(v2.ins.slice(1).map((i) => `${inputPrevTxid(i)}:${i.index}`)).toEqual(walletInputs);
    expect(a.wallet.listUnspent().filter((u) => u.height > 0)).toHaveLength(0); // still no other confirmed coin
    expect(v2Row.feerateSatPerVbyte!).toBeGreaterThan(v1Row.feerateSatPerVbyte!);
    expect(v2Row.priorTxids).toContain(v1Row.txid);
    expect(await inMempool(v1Row.txid!)).toBe(false);
    await regtest.mine(1);
    await waitFor(() => regtest.rpc<{ confirmations?: number }>('getrawtransaction', [v2Row.txid!, true]).then((t) => (t.confirmations ?? 0) > 0), { what: 'replacement confirmed' });
    delete (b.node as unknown as { resolveIncoming?: unknown }).resolveIncoming;
  });
});
