import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { openDatabase } from '../storage/db.js';
import { FulmenError } from '../util/errors.js';
import { ElectrumInterface, parseProxyString, parseServerString, ServerRpcError } from './interface.js';
import { closeFakeServers, fakeServer, lineServer, ok, withVersion, type Answer, type JsonRpcRequest } from './test-support.js';
import { btcPerKvbToSatPerVbyte, ChainNetwork, historyStatus } from './network.js';
import { CHAIN_PARAMS } from './headers.js';
import type { ChainEvent } from './types.js';

afterEach(closeFakeServers);

async function connected(answer: Answer, options: { requestTimeoutMs?: number } = {}): Promise<ElectrumInterface> {
  const iface = new ElectrumInterface({ server: await fakeServer(withVersion(answer)), ...options });
  await iface.connect();
  return iface;
}

async function rejection(promise: Promise<unknown>): Promise<FulmenError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FulmenError);
  return err as FulmenError;
}

describe('parseServerString', () => {
  it("parses Electrum's host:port:t|s", () => {
    expect(parseServerString('electrum.example.org:50002:s')).toEqual({ host: 'electrum.example.org', port: 50002, protocol: 's' });
    expect(parseServerString('127.0.0.1:50001:t')).toEqual({ host: '127.0.0.1', port: 50001, protocol: 't' });
    expect(parseServerString('[::1]:50001:t')).toEqual({ host: '::1', port: 50001, protocol: 't' });
  });

  it('rejects anything else with BAD_INPUT', () => {
    for (const bad of ['example.org', 'example.org:50001', 'example.org:50001:x', 'example.org:0:t', 'example.org:70000:s', '']) {
      expect(() => parseServerString(bad)).toThrow(FulmenError);
    }
  });
});

describe('ElectrumInterface (protocol edge cases, fake server)', () => {
  it('negotiates server.version and answers requests with validated results', async () => {
    const iface = await connected((r) => (r.method === 'server.ping' ? ok(r.id, null) : ok(r.id, 42)));
    expect(iface.serverVersion).toEqual({ software: 'FakeX 1.0', protocol: '1.4' });
    expect(await iface.request('server.ping', [], z.null())).toBeNull();
    expect(await iface.request('blockchain.relayfee', [], z.number())).toBe(42);
    iface.close();
  });

  it('rejects a malformed JSON line with SERVER_MISBEHAVED and closes', async () => {
    const iface = await connected(() => '{"jsonrpc": "2.0", "id": 2, "result": [1, 2');
    const closed = new Promise<FulmenError>((resolve) => iface.onClose(resolve));
    const err = await rejection(iface.request('blockchain.relayfee', [], z.number()));
    expect(err.code).toBe('SERVER_MISBEHAVED');
    expect((await closed).code).toBe('SERVER_MISBEHAVED');
    expect(iface.isConnected()).toBe(false);
  });

  it('rejects a result of the wrong shape with SERVER_MISBEHAVED', async () => {
    const iface = await connected((r) => ok(r.id, { not: 'a number' }));
    expect((await rejection(iface.request('blockchain.relayfee', [], z.number()))).code).toBe('SERVER_MISBEHAVED');
    expect(iface.isConnected()).toBe(false);
  });

  it('rejects a response to an id that was never sent', async () => {
    const iface = await connected(() => ok(9999, 1));
    expect((await rejection(iface.request('blockchain.relayfee', [], z.number()))).code).toBe('SERVER_MISBEHAVED');
  });

  it('surfaces a JSON-RPC error object as ServerRpcError with the server message', async () => {
    const iface = await connected((r) => JSON.stringify({ jsonrpc: '2.0', id: r.id, error: { code: 2, message: 'no such\ntx' } }));
    const err = await rejection(iface.request('blockchain.transaction.get', ['00'.repeat(32)], z.string()));
    expect(err).toBeInstanceOf(ServerRpcError);
    expect((err as ServerRpcError).serverMessage).toBe('no such tx');
    expect(err.code).toBe('NETWORK');
    expect(iface.isConnected()).toBe(true);
    iface.close();
  });

  it('times out a request the server never answers, with NETWORK', async () => {
    const iface = await connected(() => null, { requestTimeoutMs: 100 });
    const err = await rejection(iface.request('blockchain.relayfee', [], z.number()));
    expect(err.code).toBe('NETWORK');
    expect(err.message).toMatch(/did not answer/);
    iface.close();
  });

  it('dispatches notifications', async () => {
    const notification = JSON.stringify({ jsonrpc: '2.0', method: 'blockchain.scripthash.subscribe', params: ['ab'.repeat(32), null] });
    const iface = await connected((r) => `${notification}\n${ok(r.id, null)}`);
    const seen: [string, unknown][] = [];
    iface.onNotification((method, params) => seen.push([method, params]));
    await iface.request('server.ping', [], z.null());
    expect(seen).toEqual([['blockchain.scripthash.subscribe', ['ab'.repeat(32), null]]]);
    iface.close();
  });

  it('fails to connect to a closed port with NETWORK', async () => {
    const server = await fakeServer(() => null);
    closeFakeServers(); // the port closes: nothing listens there any more
    await new Promise((resolve) => setTimeout(resolve, 20));
    const err = await rejection(new ElectrumInterface({ server }).connect());
    expect(err.code).toBe('NETWORK');
  });

  it('rejects a server that does not speak protocol 1.4', async () => {
    const server = await fakeServer((r) => ok(r.id, ['Old 0.9', '1.2']));
    const err = await rejection(new ElectrumInterface({ server }).connect());
    expect(err.code).toBe('NETWORK');
    expect(err.message).toMatch(/protocol 1.2/);
  });
});

describe('ElectrumInterface JSON-RPC batching', () => {
  /** A fake server that answers batch arrays with arrays (as ElectrumX), recording each line's request count. */
  async function batchingServer(software: string, answer: (request: JsonRpcRequest, batchSize: number) => unknown) {
    const lines: number[] = [];
    const server = await lineServer((line) => {
      const message = JSON.parse(line);
      const requests = (Array.isArray(message) ? message : [message]) as JsonRpcRequest[];
      lines.push(requests.length);
      const replies = requests.map((r) => (r.method === 'server.version' ? { jsonrpc: '2.0', id: r.id, result: [software, '1.4'] } : { jsonrpc: '2.0', id: r.id, ...(answer(r, requests.length) as object) }));
      return JSON.stringify(Array.isArray(message) ? replies : replies[0]);
    });
    return { server, lines };
  }

  it('sends the requests of one turn as batches to ElectrumX and resolves each from the batch reply', async () => {
    const fake = await batchingServer('ElectrumX 1.20.0', (r) => ({ result: (r.params[0] as number) * 2 }));
    const iface = new ElectrumInterface({ server: fake.server });
    await iface.connect();
    const results = await Promise.all(Array.from({ length: 250 }, (_, i) => iface.request('double', [i], z.number())));
    expect(results).toEqual(Array.from({ length: 250 }, (_, i) => i * 2));
    expect(fake.lines).toEqual([1, 100, 100, 50]); // server.version alone, then batches of at most MAX_BATCH
    iface.close();
  });

  it('sends one request per line to servers not known to accept batches', async () => {
    const fake = await batchingServer('SomeServer 0.1', (r) => ({ result: r.params[0] }));
    const iface = new ElectrumInterface({ server: fake.server });
    await iface.connect();
    await Promise.all([1, 2, 3].map((i) => iface.request('echo', [i], z.number())));
    expect(fake.lines).toEqual([1, 1, 1, 1]);
    iface.close();
  });

  it('re-sends alone a batch item refused as "response too large" (ElectrumX MAX_SEND)', async () => {
    const fake = await batchingServer('ElectrumX 1.20.0', (r, batchSize) =>
      r.params[0] === 'big' && batchSize > 1 ? { error: { code: -32600, message: 'response too large (over 1,000,000 bytes' } } : { result: `ok ${r.params[0]}` },
    );
    const iface = new ElectrumInterface({ server: fake.server });
    await iface.connect();
    const results = await Promise.all(['a', 'big', 'c'].map((p) => iface.request('get', [p], z.string())));
    expect(results).toEqual(['ok a', 'ok big', 'ok c']);
    expect(fake.lines).toEqual([1, 3, 1]);
    iface.close();
  });

  it('drops a server that answers with an empty batch', async () => {
    const server = await fakeServer((request) => (request.method === 'server.version' ? ok(request.id, ['ElectrumX 1.20.0', '1.4']) : '[]'));
    const iface = new ElectrumInterface({ server });
    await iface.connect();
    const err = await rejection(iface.request('anything', [], z.unknown()));
    expect(err.code).toBe('SERVER_MISBEHAVED');
    expect(iface.isConnected()).toBe(false);
  });
});

describe('ChainNetwork (lying server, fake server)', () => {
  const RAW_TX_170 =
    '0100000001c997a5e56e104102fa209c6a852dd90660a20b2d9c352423edce25857fcd3704000000004847304402204e45e16932b8af514961a1d3a1a25fdf3f4f7732e9d624c6c61548ab5fb8cd410220181522ec8eca07de4860a4acdd12909d831cc56cbbac4622082221a8768d1d0901ffffffff0200ca9a3b00000000434104ae1a62fe09c5f51b13905f07f06b99a2f7159b2225f374cd378d71302fa28414e7aab37397f554a7df5f142c21c1b7303b8a0626f1baded5c72a704f7e6cd84cac00286bee0000000043410411db93e1dcdb8a016b49840f8c53bc1eb68a382e97b1482ecad7b148a6909a5cb2e0eaddfb84ccf9744464f82e160bfa9b8b64f9d4c03f999b8643f656b412a3ac00000000';
  const TXID_170 = 'f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16';

  it('rejects transaction bytes that do not hash to the txid, and caches checked ones', async () => {
    let transactionRequests = 0;
    const server = await fakeServer(
      withVersion((r) => {
        if (r.method === 'blockchain.headers.subscribe') return ok(r.id, { height: 0, hex: CHAIN_PARAMS.regtest.checkpoint.rawHex });
        if (r.method === 'blockchain.transaction.get') {
          transactionRequests += 1;
          return ok(r.id, RAW_TX_170); // whatever txid was asked for
        }
        return ok(r.id, null);
      }),
    );
    const chain = new ChainNetwork({ network: 'regtest', server, oneserver: true, db: openDatabase(':memory:') });
    const events: ChainEvent[] = [];
    chain.on((event) => events.push(event));
    await chain.start();
    expect(chain.isConnected()).toBe(true);
    expect(await chain.getTransaction(TXID_170)).toBe(RAW_TX_170);
    expect(await chain.getTransaction(TXID_170)).toBe(RAW_TX_170);
    expect(transactionRequests).toBe(1); // the second read of TXID_170 came from the cache
    const err = await rejection(chain.getTransaction('22'.repeat(32)));
    expect(err.code).toBe('SERVER_MISBEHAVED');
    // Caught lying: banned for the session, and with no other server, disconnected.
    expect(events).toContainEqual(expect.objectContaining({ type: 'server', server, status: 'banned' }));
    expect(chain.isConnected()).toBe(false);
    expect(chain.serverStates()[0]!.bannedReason).toMatch(/does not hash/);
    await chain.stop();
  });

  it('keeps a ban across restarts (chain_server_bans) until it expires, and lets a spare take its place', async () => {
    let versionRequests = 0;
    const liar = await fakeServer((r) => {
      if (r.method === 'server.version') versionRequests += 1;
      if (r.method === 'server.version') return ok(r.id, ['FakeX 1.0', '1.4']);
      if (r.method === 'blockchain.headers.subscribe') return ok(r.id, { height: 0, hex: CHAIN_PARAMS.regtest.checkpoint.rawHex });
      if (r.method === 'blockchain.transaction.get') return ok(r.id, RAW_TX_170);
      return ok(r.id, null);
    });
    const honest = await fakeServer(
      withVersion((r) => (r.method === 'blockchain.headers.subscribe' ? ok(r.id, { height: 0, hex: CHAIN_PARAMS.regtest.checkpoint.rawHex }) : ok(r.id, null))),
    );
    const db = openDatabase(':memory:');
    const first = new ChainNetwork({ network: 'regtest', server: liar, oneserver: true, db, banDurationMs: 60_000 });
    await first.start();
    expect((await rejection(first.getTransaction('22'.repeat(32)))).code).toBe('SERVER_MISBEHAVED');
    await first.stop();
    const stored = db.prepare('SELECT server, reason, banned_at, expires_at FROM chain_server_bans').all() as {
      server: string;
      reason: string;
      banned_at: number;
      expires_at: number;
    }[];
    expect(stored).toHaveLength(1);
    expect(stored[0]!.server).toBe(liar);
    expect(stored[0]!.reason).toMatch(/does not hash/);
    expect(stored[0]!.expires_at - stored[0]!.banned_at).toBeGreaterThanOrEqual(60);

    // Restart on the same db: the liar is not contacted again; with a spare, the spare is main.
    const connectionsBefore = versionRequests;
    const second = new ChainNetwork({ network: 'regtest', server: liar, servers: [honest], oneserver: false, maxAuxServers: 0, db });
    await second.start();
    expect(versionRequests).toBe(connectionsBefore);
    expect(second.mainServer()).toBe(honest);
    const liarState = second.serverStates().find((state) => state.server === liar)!;
    expect(liarState.connected).toBe(false);
    expect(liarState.bannedReason).toMatch(/does not hash/);
    await second.stop();

    // Expired (its expiry set in the past): the next start connects to it again, and the row is gone.
    db.prepare('UPDATE chain_server_bans SET expires_at = ?').run(Math.floor(Date.now() / 1000) - 1);
    const third = new ChainNetwork({ network: 'regtest', server: liar, oneserver: true, db });
    await third.start();
    expect(third.mainServer()).toBe(liar);
    expect(third.serverStates()[0]!.bannedReason).toBeNull();
    expect(db.prepare('SELECT COUNT(*) AS n FROM chain_server_bans').get()).toEqual({ n: 0 });
    await third.stop();
  });

  it('liftBan forgets a stored ban, says so (unbanned event) and reconnects the server', async () => {
    const server = await fakeServer(
      withVersion((r) => (r.method === 'blockchain.headers.subscribe' ? ok(r.id, { height: 0, hex: CHAIN_PARAMS.regtest.checkpoint.rawHex }) : ok(r.id, null))),
    );
    const db = openDatabase(':memory:');
    const bannedAt = Math.floor(Date.now() / 1000);
    db.prepare('INSERT INTO chain_server_bans (server, reason, banned_at, expires_at) VALUES (?, ?, ?, ?)').run(
      server,
      'Header 1 fails proof of work',
      bannedAt,
      bannedAt + 3600,
    );
    const chain = new ChainNetwork({ network: 'regtest', server, oneserver: true, db });
    expect(chain.serverBans()).toEqual([
      { server, reason: 'Header 1 fails proof of work', bannedAt: bannedAt * 1000, expiresAt: (bannedAt + 3600) * 1000 },
    ]);
    const events: ChainEvent[] = [];
    chain.on((event) => events.push(event));
    await chain.start();
    expect(chain.isConnected()).toBe(false);
    expect(chain.serverStates()[0]!.bannedReason).toMatch(/proof of work/);
    chain.liftBan(server);
    expect(events).toContainEqual({ type: 'server', server, status: 'unbanned' });
    for (let i = 0; i < 100 && !chain.isConnected(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(chain.isConnected()).toBe(true);
    expect(db.prepare('SELECT COUNT(*) AS n FROM chain_server_bans').get()).toEqual({ n: 0 });
    expect(chain.serverBans()).toEqual([]);
    await chain.stop();
  });

  it('a ban that expires while running is lifted then: unbanned event, the row gone, the server connected again', async () => {
    const server = await fakeServer(
      withVersion((r) => (r.method === 'blockchain.headers.subscribe' ? ok(r.id, { height: 0, hex: CHAIN_PARAMS.regtest.checkpoint.rawHex }) : ok(r.id, null))),
    );
    const db = openDatabase(':memory:');
    const nowS = Math.floor(Date.now() / 1000);
    db.prepare('INSERT INTO chain_server_bans (server, reason, banned_at, expires_at) VALUES (?, ?, ?, ?)').run(server, 'Header 1 fails proof of work', nowS - 3600, nowS + 1);
    const chain = new ChainNetwork({ network: 'regtest', server, oneserver: true, db });
    const events: ChainEvent[] = [];
    chain.on((event) => events.push(event));
    await chain.start();
    expect(chain.isConnected()).toBe(false);
    for (let i = 0; i < 300 && !chain.isConnected(); i++) await new Promise((r) => setTimeout(r, 10));
    expect(chain.isConnected()).toBe(true);
    expect(Date.now()).toBeGreaterThanOrEqual((nowS + 1) * 1000); // not before its expiry
    expect(events).toContainEqual({ type: 'server', server, status: 'unbanned' });
    expect(chain.serverBans()).toEqual([]);
    expect(chain.serverStates()[0]!.bannedReason).toBeNull();
    await chain.stop();
  });
});

describe('btcPerKvbToSatPerVbyte', () => {
  it('converts BTC/kvB to integer sat/vB, rounding up', () => {
    expect(btcPerKvbToSatPerVbyte(0.00001)).toBe(1);
    expect(btcPerKvbToSatPerVbyte(0.0001)).toBe(10);
    expect(btcPerKvbToSatPerVbyte(0.00012345)).toBe(13);
    expect(btcPerKvbToSatPerVbyte(0.000011)).toBe(2);
    expect(btcPerKvbToSatPerVbyte(0.000001)).toBe(1);
    expect(btcPerKvbToSatPerVbyte(0)).toBe(0);
  });

  it('rejects negative and non-finite rates as SERVER_MISBEHAVED', () => {
    for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => btcPerKvbToSatPerVbyte(bad)).toThrow(FulmenError);
    }
  });
});

describe('parseProxyString', () => {
  it('parses socks5:host:port, with optional credentials (Electrum format)', () => {
    expect(parseProxyString('socks5:127.0.0.1:9050')).toEqual({ host: '127.0.0.1', port: 9050 });
    expect(parseProxyString('socks5:[::1]:9050')).toEqual({ host: '::1', port: 9050 });
    expect(parseProxyString('socks5:localhost:1080:user:secret')).toEqual({ host: 'localhost', port: 1080, username: 'user', password: 'secret' });
  });

  it('refuses other schemes and bad ports with BAD_INPUT', () => {
    for (const bad of ['socks4:127.0.0.1:9050', 'http:proxy:80', 'socks5:host', 'socks5:host:0', 'socks5:host:70000', '']) {
      expect(() => parseProxyString(bad)).toThrow(FulmenError);
    }
  });
});

describe('historyStatus (Electrum protocol "Status")', () => {
  it('is sha256 of the concatenated "txid:height:" in server order, null when empty', () => {
    const history = [
      { txid: 'aa'.repeat(32), height: 120 },
      { txid: 'bb'.repeat(32), height: 0 },
    ];
    const expected = createHash('sha256').update(`${'aa'.repeat(32)}:120:${'bb'.repeat(32)}:0:`).digest('hex');
    expect(historyStatus(history)).toBe(expected);
    expect(historyStatus([history[1]!, history[0]!])).not.toBe(expected);
    expect(historyStatus([])).toBeNull();
  });
});
