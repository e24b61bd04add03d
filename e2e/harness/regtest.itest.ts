import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElectrumTestSocket } from './electrum-socket.js';
import { startRegtest, waitFor, type Regtest } from './regtest.js';

interface HistoryEntry {
  tx_hash: string;
  height: number;
}

describe('regtest harness: Bitcoin Knots + ElectrumX', () => {
  let network: Regtest;
  let electrum: ElectrumTestSocket;

  beforeAll(async () => {
    network = await startRegtest();
    electrum = await ElectrumTestSocket.connect(network.electrumHost, network.electrumPort);
  });

  afterAll(async () => {
    electrum?.close();
    await network?.stop();
  });

  it('serves the Electrum protocol at the advertised server string', async () => {
    expect(network.electrumServer).toBe(`127.0.0.1:${network.electrumPort}:t`);
    const [serverSoftware, protocol] = await electrum.request<[string, string]>('server.version', ['fulmen-itest', '1.4']);
    expect(serverSoftware).toMatch(/ElectrumX/);
    expect(protocol).toBe('1.4');
  });

  it('starts with 101 blocks indexed and a miner with spendable coins', async () => {
    const tip = await electrum.request<{ height: number; hex: string }>('blockchain.headers.subscribe');
    expect(tip.height).toBe(101);
    expect(tip.hex).toBe(await network.rpc('getblockheader', [await network.rpc('getbestblockhash'), false]));
    const balances = await network.rpc<{ mine: { trusted: number } }>('getbalances', [], 'miner');
    expect(balances.mine.trusted).toBe(50);
  });

  it('mine() returns only once ElectrumX has the new tip', async () => {
    const hashes = await network.mine(3);
    expect(hashes).toHaveLength(3);
    const tip = await electrum.request<{ height: number }>('blockchain.headers.subscribe');
    expect(tip.height).toBe(104);
  });

  it('sendToAddress is seen by ElectrumX in the mempool, then confirmed after mining', async () => {
    const address = await network.rpc<string>('getnewaddress', ['receiver', 'bech32'], 'miner');
    const scripthash = await network.scripthashOf(address);
    const txid = await network.sendToAddress(address, '0.12345678');
    expect(txid).toMatch(/^[0-9a-f]{64}$/);

    const unconfirmed = await waitFor(
      async () => {
        const history = await electrum.request<HistoryEntry[]>('blockchain.scripthash.get_history', [scripthash]);
        return history.find((entry) => entry.tx_hash === txid);
      },
      { what: `ElectrumX mempool to contain ${txid}` },
    );
    expect(unconfirmed.height).toBeLessThanOrEqual(0);

    const [blockHash] = await network.mine(1);
    const history = await electrum.request<HistoryEntry[]>('blockchain.scripthash.get_history', [scripthash]);
    expect(history).toEqual([{ tx_hash: txid, height: 105 }]);
    const block = await network.rpc<{ tx: string[] }>('getblock', [blockHash, 1]);
    expect(block.tx).toContain(txid);

    const balance = await electrum.request<{ confirmed: number; unconfirmed: number }>(
      'blockchain.scripthash.get_balance',
      [scripthash],
    );
    expect(balance).toEqual({ confirmed: 12_345_678, unconfirmed: 0 });
    const rawTx = await electrum.request<string>('blockchain.transaction.get', [txid]);
    expect(rawTx).toBe(await network.rpc('getrawtransaction', [txid]));
  });

  it('answers short requests at once, past the padded transport warm-up budget', async () => {
    // ElectrumX >= 1.18 would hold each of these replies for up to 1 s (PaddedRSTransport);
    // the harness launcher turns that wait off. 20 sequential pings: ~20 s held, well under 5 s not.
    const started = Date.now();
    for (let i = 0; i < 20; i++) await electrum.request('server.ping');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('rpc() surfaces bitcoind errors with method and code', async () => {
    await expect(network.rpc('getblockhash', [10_000])).rejects.toThrow(/getblockhash: .*code -8/);
  });
});
