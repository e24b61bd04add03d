import { afterEach, describe, expect, it } from 'vitest';
import net from 'node:net';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { FulmenError } from '../../util/errors.js';
import { NoiseConnection, listenNoise } from './connection.js';
import { NoiseResponder } from './noise.js';

const serverPriv = new Uint8Array(32).fill(0x21);
const serverPub = secp256k1.getPublicKey(serverPriv, true);
const clientPriv = new Uint8Array(32).fill(0x11);
const clientPub = secp256k1.getPublicKey(clientPriv, true);

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

function portOf(server: net.Server): number {
  return (server.address() as net.AddressInfo).port;
}

function collect(conn: NoiseConnection, count: number): Promise<Uint8Array[]> {
  const got: Uint8Array[] = [];
  return new Promise((resolve) =>
    conn.onMessage((m) => {
      got.push(m);
      if (got.length === count) resolve(got);
    }),
  );
}

async function expectFulmenError(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(FulmenError);
  expect((err as FulmenError).code).toBe(code);
  expect((err as Error).message).toMatch(pattern);
}

describe('NoiseConnection over loopback TCP', () => {
  it('handshakes, learns both node ids, and exchanges messages both ways (incl. 65535-byte and key rotation)', async () => {
    let accepted!: (c: NoiseConnection) => void;
    const inbound = new Promise<NoiseConnection>((r) => (accepted = r));
    const server = await listenNoise('127.0.0.1', 0, serverPriv, accepted);
    cleanups.push(() => server.close());
    const client = await NoiseConnection.connect({ host: '127.0.0.1', port: portOf(server), localPrivkey: clientPriv, remotePubkey: serverPub });
    const srv = await inbound;
    cleanups.push(() => client.close(), () => srv.close());
    expect(srv.remotePubkey).toEqual(clientPub);
    expect(client.remotePubkey).toEqual(serverPub);

    const big = new Uint8Array(65535).map((_, i) => i & 0xff);
    const toServer = collect(srv, 1202);
    client.send(big);
    for (let i = 0; i < 1200; i++) client.send(Uint8Array.of(i >> 8, i & 0xff)); // crosses several key rotations
    client.send(new Uint8Array(0));
    const got = await toServer;
    expect(got[0]).toEqual(big);
    for (let i = 0; i < 1200; i++) expect(got[i + 1]).toEqual(Uint8Array.of(i >> 8, i & 0xff));
    expect(got[1201]!.length).toBe(0);

    const toClient = collect(client, 1);
    srv.send(new TextEncoder().encode('pong'));
    expect(new TextDecoder().decode((await toClient)[0])).toBe('pong');

    const closed = new Promise<FulmenError | undefined>((r) => srv.onClose(r));
    client.close();
    expect(await closed).toBeUndefined();
    expect(() => client.send(Uint8Array.of(1))).toThrow(/closed/);
  });

  it('reassembles packets split into 1-byte TCP chunks and several packets in one chunk', async () => {
    // A raw responder that drives the handshake itself and controls TCP chunking.
    const server = net.createServer(async (socket) => {
      const responder = new NoiseResponder(serverPriv);
      const chunks: Buffer[] = [];
      const read = (n: number) =>
        new Promise<Uint8Array>((resolve) => {
          const check = () => {
            const all = Buffer.concat(chunks);
            if (all.length >= n) {
              socket.off('data', onData);
              chunks.length = 0;
              if (all.length > n) chunks.push(all.subarray(n));
              resolve(new Uint8Array(all.subarray(0, n)));
            }
          };
          const onData = (d: Buffer) => {
            chunks.push(d);
            check();
          };
          socket.on('data', onData);
          check();
        });
      socket.write(responder.act1(await read(50)));
      const { cipher } = responder.act3(await read(66));
      const packets = [cipher.encrypt(Uint8Array.of(1, 2, 3)), cipher.encrypt(Uint8Array.of(4)), cipher.encrypt(new Uint8Array(300).fill(7))];
      for (const b of packets[0]!) {
        socket.write(Uint8Array.of(b));
        await new Promise((r) => setTimeout(r, 1));
      }
      socket.write(Buffer.concat([packets[1]!, packets[2]!]));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    const client = await NoiseConnection.connect({ host: '127.0.0.1', port: portOf(server), localPrivkey: clientPriv, remotePubkey: serverPub });
    cleanups.push(() => client.close());
    const got = await collect(client, 3);
    expect(got).toEqual([Uint8Array.of(1, 2, 3), Uint8Array.of(4), new Uint8Array(300).fill(7)]);
  });

  it('fails with PROTOCOL when the node at the address does not own the expected node id', async () => {
    const handshakeErrors: FulmenError[] = [];
    const server = await listenNoise('127.0.0.1', 0, serverPriv, () => undefined, { onHandshakeError: (e) => handshakeErrors.push(e) });
    cleanups.push(() => server.close());
    const wrongPub = secp256k1.getPublicKey(new Uint8Array(32).fill(0x33), true);
    await expectFulmenError(
      NoiseConnection.connect({ host: '127.0.0.1', port: portOf(server), localPrivkey: clientPriv, remotePubkey: wrongPub }),
      'PROTOCOL',
      /act 2 short read/,
    );
    expect(handshakeErrors[0]?.message).toMatch(/act 1 bad MAC/);
  });

  it('fails with NETWORK when the port is closed', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = portOf(server);
    await new Promise((r) => server.close(r));
    await expectFulmenError(
      NoiseConnection.connect({ host: '127.0.0.1', port, localPrivkey: clientPriv, remotePubkey: serverPub }),
      'NETWORK',
      /Cannot connect to 127\.0\.0\.1:\d+: ECONNREFUSED/,
    );
  });

  it('fails with NETWORK when the handshake times out', async () => {
    const sockets: net.Socket[] = [];
    const server = net.createServer((s) => sockets.push(s)); // accepts, never answers
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => {
      for (const s of sockets) s.destroy();
      server.close();
    });
    await expectFulmenError(
      NoiseConnection.connect({ host: '127.0.0.1', port: portOf(server), localPrivkey: clientPriv, remotePubkey: serverPub, timeoutMs: 200 }),
      'NETWORK',
      /timed out/,
    );
  });

  it('closes with PROTOCOL when the peer sends a corrupted packet', async () => {
    const server = net.createServer(async (socket) => {
      const responder = new NoiseResponder(serverPriv);
      const buf: Buffer[] = [];
      socket.on('data', (d: Buffer) => {
        buf.push(d);
        const all = Buffer.concat(buf);
        if (all.length === 50) socket.write(responder.act1(new Uint8Array(all)));
        if (all.length === 116) {
          const { cipher } = responder.act3(new Uint8Array(all.subarray(50)));
          const pkt = cipher.encrypt(Uint8Array.of(9, 9));
          pkt[0]! ^= 0xff;
          socket.write(pkt);
        }
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanups.push(() => server.close());
    const client = await NoiseConnection.connect({ host: '127.0.0.1', port: portOf(server), localPrivkey: clientPriv, remotePubkey: serverPub });
    const err = await new Promise<FulmenError | undefined>((r) => client.onClose(r));
    expect(err?.code).toBe('PROTOCOL');
    expect(err?.message).toMatch(/bad MAC on message length/);
  });
});
