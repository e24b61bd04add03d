import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ElectrumInterface } from '../../core/chain/interface.js';
import { ChainNetwork } from '../../core/chain/network.js';
import { SqliteCertificatePins } from '../../core/chain/pins.js';
import type { ChainEvent } from '../../core/chain/types.js';
import { openDatabase } from '../../core/storage/db.js';
import { FulmenError } from '../../core/util/errors.js';
import { freePort, startRegtest, waitFor, type Regtest } from '../harness/regtest.js';

// Transport security against real servers on loopback: TLS with trust-on-first-use certificate
// pinning (a Node TLS terminator with a self-signed certificate made by openssl at test time, in
// front of ElectrumX), and SOCKS5 through Debian's microsocks (a stand-in for Tor's SOCKS port:
// no Tor runs here; the client speaks the same RFC 1928 CONNECT to both).
describe('transport: TLS pinning and SOCKS5 (real servers on loopback)', () => {
  let regtest: Regtest;
  let dir: string;
  const children: ChildProcess[] = [];
  const closers: (() => void)[] = [];

  beforeAll(async () => {
    regtest = await startRegtest();
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-transport-'));
  });

  afterAll(async () => {
    for (const close of closers) close();
    for (const child of children) child.kill('SIGTERM');
    await regtest?.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  /** A fresh self-signed certificate (openssl req -x509), PEM key and cert. */
  function selfSignedCertificate(name: string): { key: string; cert: string } {
    const keyFile = path.join(dir, `${name}.key`);
    const certFile = path.join(dir, `${name}.crt`);
    execFileSync('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
      '-keyout', keyFile, '-out', certFile, '-days', '2', '-subj', `/CN=${name}`,
    ], { stdio: 'ignore' });
    return { key: fs.readFileSync(keyFile, 'utf8'), cert: fs.readFileSync(certFile, 'utf8') };
  }

  /** TLS on `port` (0: any), each connection piped to ElectrumX's TCP port. */
  async function tlsTerminator(credentials: { key: string; cert: string }, port = 0): Promise<{ port: number; close(): void }> {
    const sockets = new Set<net.Socket>();
    const server = tls.createServer(credentials, (secure) => {
      const upstream = net.createConnection({ host: regtest.electrumHost, port: regtest.electrumPort });
      sockets.add(secure).add(upstream);
      secure.pipe(upstream).pipe(secure);
      const end = () => {
        secure.destroy();
        upstream.destroy();
      };
      secure.on('error', end).on('close', end);
      upstream.on('error', end).on('close', end);
    });
    await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
    const close = () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    };
    closers.push(close);
    return { port: (server.address() as net.AddressInfo).port, close };
  }

  it('TLS: pins the certificate on first use, reconnects with it, refuses a changed one', async () => {
    const first = await tlsTerminator(selfSignedCertificate('first'));
    const server = `127.0.0.1:${first.port}:s`;
    const db = openDatabase(path.join(dir, 'tls.sqlite'));
    const chain = new ChainNetwork({ network: 'regtest', server, oneserver: true, db });
    await chain.start();
    expect(chain.isConnected()).toBe(true);
    expect(chain.tip()!.hash).toBe(await regtest.rpc<string>('getbestblockhash'));
    const pin = new SqliteCertificatePins(db).get(`127.0.0.1:${first.port}`);
    expect(pin).toMatch(/^[0-9a-f]{64}$/);
    await chain.stop();

    // Same certificate: accepted again.
    const again = new ChainNetwork({ network: 'regtest', server, oneserver: true, db });
    await again.start();
    expect(again.isConnected()).toBe(true);
    await again.stop();

    // Same address, another certificate (a man in the middle, or a re-keyed server): refused.
    first.close();
    await tlsTerminator(selfSignedCertificate('second'), first.port);
    const direct = await new ElectrumInterface({ server, certificatePins: new SqliteCertificatePins(db) }).connect().catch((e: unknown) => e);
    expect(direct).toBeInstanceOf(FulmenError);
    expect((direct as FulmenError).code).toBe('SERVER_MISBEHAVED');
    expect((direct as FulmenError).message).toMatch(/certificate changed/);

    const events: ChainEvent[] = [];
    const refused = new ChainNetwork({ network: 'regtest', server, oneserver: true, db });
    refused.on((event) => events.push(event));
    await refused.start();
    expect(refused.isConnected()).toBe(false);
    expect(events).toContainEqual(expect.objectContaining({ type: 'server', server, status: 'banned', reason: expect.stringMatching(/certificate changed/) }));
    expect(new SqliteCertificatePins(db).get(`127.0.0.1:${first.port}`)).toBe(pin); // the pin is not replaced
    await refused.stop();
    db.close();
  });

  it('SOCKS5: connects through microsocks (auth required), TCP and TLS inside the tunnel', async () => {
    const proxyPort = await freePort();
    const socks = spawn('microsocks', ['-i', '127.0.0.1', '-p', String(proxyPort), '-u', 'fulmen', '-P', 'tor-stand-in'], { stdio: 'ignore' });
    children.push(socks);
    await waitFor(
      () =>
        new Promise<boolean>((resolve) => {
          const probe = net.createConnection({ host: '127.0.0.1', port: proxyPort }, () => {
            probe.destroy();
            resolve(true);
          });
          probe.on('error', () => resolve(false));
        }),
      { what: 'microsocks listening' },
    );

    // The proxy demands credentials, so a working connection proves the traffic went through it.
    const tcp = new ChainNetwork({
      network: 'regtest',
      server: `localhost:${regtest.electrumPort}:t`, // the name is resolved by the proxy
      oneserver: true,
      db: openDatabase(':memory:'),
      proxy: `socks5:127.0.0.1:${proxyPort}:fulmen:tor-stand-in`,
    });
    await tcp.start();
    expect(tcp.isConnected()).toBe(true);
    expect(tcp.tip()!.hash).toBe(await regtest.rpc<string>('getbestblockhash'));
    await tcp.stop();

    const tlsServer = await tlsTerminator(selfSignedCertificate('socks-tls'));
    const overTls = new ChainNetwork({
      network: 'regtest',
      server: `127.0.0.1:${tlsServer.port}:s`,
      oneserver: true,
      db: openDatabase(':memory:'),
      proxy: `socks5:127.0.0.1:${proxyPort}:fulmen:tor-stand-in`,
    });
    await overTls.start();
    expect(overTls.isConnected()).toBe(true);
    await overTls.stop();

    const withoutCredentials = await new ElectrumInterface({
      server: regtest.electrumServer,
      proxy: { host: '127.0.0.1', port: proxyPort },
      requestTimeoutMs: 5_000,
    })
      .connect()
      .catch((e: unknown) => e);
    expect(withoutCredentials).toBeInstanceOf(FulmenError);
    expect((withoutCredentials as FulmenError).code).toBe('NETWORK');
    expect((withoutCredentials as FulmenError).message).toMatch(/through proxy/);
  });
});
