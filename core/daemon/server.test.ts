import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { FulmenApp } from '../app.js';
import { DaemonServer } from './server.js';

interface HttpReply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

function request(port: number, opts: { method?: string; path?: string; body?: string; auth?: string; headers?: Record<string, string> }): Promise<HttpReply> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: '127.0.0.1',
        port,
        method: opts.method ?? 'POST',
        path: opts.path ?? '/',
        headers: {
          ...(opts.body ? { 'Content-Type': 'application/json' } : {}),
          ...(opts.auth ? { Authorization: 'Basic ' + Buffer.from(opts.auth).toString('base64') } : {}),
          ...opts.headers,
        },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
      },
    );
    req.on('error', reject);
    req.end(opts.body);
  });
}

describe('DaemonServer', () => {
  let dir: string;
  let rendererDir: string;
  let app: FulmenApp;
  let server: DaemonServer;
  let auth: string;

  const rpc = async (method: string, params?: unknown, credentials = auth): Promise<{ status: number; json: any }> => {
    const reply = await request(server.port, { body: JSON.stringify({ jsonrpc: '2.0', id: 7, method, params }), auth: credentials });
    return { status: reply.status, json: reply.status === 200 ? JSON.parse(reply.body) : null };
  };

  beforeEach(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-server-'));
    rendererDir = path.join(dir, 'renderer');
    fs.mkdirSync(path.join(rendererDir, 'assets'), { recursive: true });
    fs.writeFileSync(path.join(rendererDir, 'index.html'), '<!doctype html><title>Fulmen</title>');
    fs.writeFileSync(path.join(rendererDir, 'assets', 'app.js'), 'console.log(1)');
    fs.writeFileSync(path.join(dir, 'secret.txt'), 'secret');
    app = new FulmenApp({ network: 'regtest', baseDir: dir });
    server = new DaemonServer({ app, rendererDir });
    await server.start();
    auth = `${app.config.get('rpcuser')}:${app.config.get('rpcpassword')}`;
  });

  afterEach(async () => {
    await server.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('generates credentials and a port, and stores them in the config file (mode 0600)', () => {
    expect(app.config.get('rpcuser')).toBe('user');
    expect(String(app.config.get('rpcpassword')).length).toBeGreaterThanOrEqual(20);
    expect(app.config.get('rpcport')).toBe(server.port);
    const stored = JSON.parse(fs.readFileSync(app.paths.config, 'utf8'));
    expect(stored.rpcport).toBe(server.port);
    expect(fs.statSync(app.paths.config).mode & 0o777).toBe(0o600);
  });

  it('answers a JSON-RPC call with named and positional params', async () => {
    expect((await rpc('version')).json).toEqual({ jsonrpc: '2.0', id: 7, result: '0.1.0' });
    expect((await rpc('setconfig', { key: 'oneserver', value: 'true' })).json.result).toBe(true);
    expect((await rpc('getconfig', ['oneserver'])).json.result).toBe(true);
    expect((await rpc('getconfig', { key: 'nothing' })).json.result).toBeNull();
  });

  it('refuses a wrong password or missing credentials with 401', async () => {
    expect((await rpc('version', {}, 'user:wrong')).status).toBe(401);
    expect((await rpc('version', {}, '')).status).toBe(401);
    const noAuth = await request(server.port, { body: '{"jsonrpc":"2.0","id":1,"method":"version"}' });
    expect(noAuth.status).toBe(401);
    expect(noAuth.headers['www-authenticate']).toMatch(/^Basic/);
  });

  it('reports bad params, unknown methods and malformed bodies as JSON-RPC errors with the Fulmen code', async () => {
    const bad = (await rpc('getconfig', {})).json;
    expect(bad.error).toEqual({ code: -32602, message: 'getconfig: missing parameter "key"', data: { code: 'BAD_INPUT' } });
    const extra = (await rpc('getconfig', { key: 'a', bogus: 1 })).json;
    expect(extra.error.message).toMatch(/unknown parameter\(s\): bogus/);
    const tooMany = (await rpc('getconfig', ['a', 'b'])).json;
    expect(tooMany.error.message).toMatch(/at most 1 positional/);
    const server1 = (await rpc('setconfig', { key: 'server', value: 'nonsense' })).json;
    expect(server1.error).toMatchObject({ code: -32602, data: { code: 'BAD_INPUT' } });
    expect(server1.error.message).toMatch(/Invalid server/);
    const unknown = (await rpc('frobnicate')).json;
    expect(unknown.error).toMatchObject({ code: -32601, data: { code: 'BAD_INPUT' } });
    const noWallet = (await rpc('getbalance')).json;
    expect(noWallet.error).toMatchObject({ code: -32000, data: { code: 'NO_WALLET' } });
    const parse = await request(server.port, { body: '{not json', auth });
    expect(JSON.parse(parse.body).error.code).toBe(-32700);
  });

  it('rejects requests whose Host is not the loopback origin (DNS rebinding)', async () => {
    const reply = await request(server.port, { body: '{}', auth, headers: { Host: `evil.example:${server.port}` } });
    expect(reply.status).toBe(403);
  });

  it('serves the GUI only with the session token, with a CSP, and never outside its directory', async () => {
    const url = new URL(server.guiUrl());
    expect(url.host).toBe(`127.0.0.1:${server.port}`);
    expect((await request(server.port, { method: 'GET', path: '/' })).status).toBe(401);
    expect((await request(server.port, { method: 'GET', path: '/?token=wrong' })).status).toBe(401);
    const index = await request(server.port, { method: 'GET', path: url.pathname + url.search });
    expect(index.status).toBe(200);
    expect(index.body).toContain('<title>Fulmen</title>');
    expect(index.headers['content-security-policy']).toContain("script-src 'self'");
    expect(index.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    const cookie = String(index.headers['set-cookie']).split(';')[0]!;
    expect((await request(server.port, { method: 'GET', path: '/', headers: { Cookie: cookie } })).status).toBe(200);
    expect((await request(server.port, { method: 'GET', path: '/assets/app.js' })).headers['content-type']).toMatch(/javascript/);
    expect((await request(server.port, { method: 'GET', path: '/../secret.txt' })).status).toBe(404);
    expect((await request(server.port, { method: 'GET', path: '/%2e%2e/secret.txt' })).status).toBe(404);
  });

  it('accepts WebSocket calls with the token and the daemon origin, and pushes status', async () => {
    const token = new URL(server.guiUrl()).searchParams.get('token')!;
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws?token=${token}`, { origin: `http://127.0.0.1:${server.port}` });
    const messages: any[] = [];
    const waitFor = (pred: (m: any) => boolean): Promise<any> =>
      new Promise((resolve) => {
        const check = (): void => {
          const found = messages.find(pred);
          if (found) resolve(found);
          else setTimeout(check, 10);
        };
        check();
      });
    ws.on('message', (raw) => messages.push(JSON.parse(raw.toString())));
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    const status = await waitFor((m) => m.event === 'status');
    expect(status.data).toMatchObject({ network: 'regtest', connected: false, wallet_loaded: false });
    ws.send(JSON.stringify({ id: 1, method: 'version', params: {} }));
    expect(await waitFor((m) => m.id === 1)).toEqual({ id: 1, result: '0.1.0' });
    ws.send(JSON.stringify({ id: 2, method: 'getconfig', params: {} }));
    expect((await waitFor((m) => m.id === 2)).error).toEqual({ code: 'BAD_INPUT', message: 'getconfig: missing parameter "key"' });
    ws.send(JSON.stringify({ id: 3, method: 'stop', params: {} }));
    expect((await waitFor((m) => m.id === 3)).error.code).toBe('BAD_INPUT');
    ws.close();
  });

  it('refuses WebSocket upgrades without the token or from another origin', async () => {
    const token = new URL(server.guiUrl()).searchParams.get('token')!;
    const attempt = (url: string, origin: string): Promise<number> =>
      new Promise((resolve) => {
        const ws = new WebSocket(url, { origin });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('open', () => {
          ws.close();
          resolve(101);
        });
        ws.on('error', () => resolve(-1));
      });
    const base = `ws://127.0.0.1:${server.port}/ws`;
    expect(await attempt(`${base}?token=wrong`, `http://127.0.0.1:${server.port}`)).toBe(401);
    expect(await attempt(`${base}?token=${token}`, 'http://evil.example')).toBe(403);
    expect(await attempt(`${base}?token=${token}`, `http://127.0.0.1:${server.port}`)).toBe(101);
  });

  it('stops on the stop command after replying', async () => {
    expect((await rpc('stop')).json.result).toBe('Daemon stopped');
    await server.stopped;
  });
});
