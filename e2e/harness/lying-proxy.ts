/**
 * A lying Electrum server for hostile-server tests: a TCP proxy between Fulmen and a real
 * ElectrumX that parses the newline-delimited JSON-RPC (Electrum protocol 1.4) in both
 * directions and, per test, rewrites the server's answers with one `Lie`.
 *
 *   const liar = await startLyingProxy(regtest.electrumHost, regtest.electrumPort);
 *   liar.setLie(lies.wrongMerkleProof());
 *   ... ChainNetwork({ server: liar.server, servers: [regtest.electrumServer] }) ...
 *   await liar.close();
 *
 * A lie sees every answer (`result` of a request, with its method and params) and every
 * notification, and returns the value to send instead (or `DROP` to send nothing, or `RAW` with
 * bytes to send verbatim). It may ask the upstream server questions of its own (`ask`), e.g. to
 * compute a status that is consistent with a history it falsified.
 */
import { createHash, randomBytes } from 'node:crypto';
import net from 'node:net';

/** What a lie returns to suppress a message, or to send raw text instead of JSON. */
export const DROP = Symbol('drop');
export interface RawReply {
  raw: string;
}
/** Returned by a lie to answer with a JSON-RPC error object instead of a result. */
export class RpcErrorReply {
  constructor(
    readonly code: number,
    readonly message: string,
  ) {}
}

export interface LieContext {
  /** Sends a request of the proxy's own to the upstream server on this connection. */
  ask(method: string, params: unknown[]): Promise<unknown>;
}

export interface Lie {
  /** Rewrites the result of a request; return the result unchanged to pass it through. */
  onResult?(
    method: string,
    params: unknown[],
    result: unknown,
    ctx: LieContext,
  ): unknown | typeof DROP | RawReply | RpcErrorReply | Promise<unknown | typeof DROP | RawReply | RpcErrorReply>;
  /** Rewrites the params of a notification; DROP suppresses it. */
  onNotification?(method: string, params: unknown[], ctx: LieContext): unknown[] | typeof DROP | Promise<unknown[] | typeof DROP>;
}

export interface LyingProxy {
  /** Electrum server string of the proxy, "127.0.0.1:PORT:t". */
  readonly server: string;
  /** Requests seen from clients (method names), for assertions. */
  readonly requests: string[];
  /** Sets (or clears, with null) the lie applied from now on. */
  setLie(lie: Lie | null): void;
  /** Closes the listener and every connection. */
  close(): Promise<void>;
}

interface JsonRpcMessage {
  id?: number | string | null;
  method?: string;
  params?: unknown[];
  result?: unknown;
  error?: unknown;
}

/**
 * Starts a proxy on loopback (`listenPort`, default a random free port) forwarding to
 * `upstreamHost:upstreamPort`. Messages are passed through in order: an answer that a lie
 * rewrites asynchronously holds back the ones after it on that connection.
 */
export async function startLyingProxy(upstreamHost: string, upstreamPort: number, listenPort = 0): Promise<LyingProxy> {
  let lie: Lie | null = null;
  const sockets = new Set<net.Socket>();
  const requests: string[] = [];

  const listener = net.createServer((client) => {
    const upstream = net.createConnection({ host: upstreamHost, port: upstreamPort });
    sockets.add(client);
    sockets.add(upstream);
    const sent = new Map<number | string, { method: string; params: unknown[] }>();
    const own = new Map<string, (value: unknown) => void>();
    let ownId = 0;
    let toClient: Promise<void> = Promise.resolve();
    const ctx: LieContext = {
      ask(method, params) {
        const id = `lying-proxy-${++ownId}`;
        return new Promise((resolve) => {
          own.set(id, resolve);
          upstream.write(JSON.stringify({ jsonrpc: '2.0', id, method, params }) + '\n');
        });
      },
    };
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);

    const noteRequest = (msg: JsonRpcMessage) => {
      if (msg.method !== undefined && msg.id !== undefined && msg.id !== null) {
        sent.set(msg.id, { method: msg.method, params: msg.params ?? [] });
        requests.push(msg.method);
      }
    };
    lineReader(client, (line) => {
      let parsed: unknown;
      try {
        parsed = JSON.parse(line);
      } catch {
        upstream.write(line + '\n'); // not ours to judge: forwarded as is
        return;
      }
      if (Array.isArray(parsed) && parsed.length > 0) {
        // A JSON-RPC batch: split into single requests upstream, so that every answer passes
        // the lie on its own; the client gets them one per line (which it must accept).
        for (const item of parsed as JsonRpcMessage[]) {
          noteRequest(item);
          upstream.write(JSON.stringify(item) + '\n');
        }
        return;
      }
      noteRequest(parsed as JsonRpcMessage);
      upstream.write(line + '\n');
    });

    lineReader(upstream, (line) => {
      let msg: JsonRpcMessage;
      try {
        msg = JSON.parse(line) as JsonRpcMessage;
      } catch {
        toClient = toClient.then(() => void client.write(line + '\n'));
        return;
      }
      if (typeof msg.id === 'string' && own.has(msg.id)) {
        own.get(msg.id)!(msg.result);
        own.delete(msg.id);
        return;
      }
      const current = lie;
      toClient = toClient.then(async () => {
        let out: JsonRpcMessage | typeof DROP | RawReply = msg;
        if (current && msg.id !== undefined && msg.id !== null && 'result' in msg && sent.has(msg.id)) {
          const request = sent.get(msg.id)!;
          const result = current.onResult ? await current.onResult(request.method, request.params, msg.result, ctx) : msg.result;
          if (result instanceof RpcErrorReply) out = { id: msg.id, error: { code: result.code, message: result.message } };
          else out = result === DROP || isRaw(result) ? result : { ...msg, result };
        } else if (current?.onNotification && msg.method !== undefined && (msg.id === undefined || msg.id === null)) {
          const params = await current.onNotification(msg.method, msg.params ?? [], ctx);
          out = params === DROP ? DROP : { ...msg, params };
        }
        if (msg.id !== undefined && msg.id !== null) sent.delete(msg.id);
        if (out === DROP || client.destroyed) return;
        client.write((isRaw(out) ? out.raw : JSON.stringify(out)) + '\n');
      });
    });
  });
  await new Promise<void>((resolve) => listener.listen(listenPort, '127.0.0.1', resolve));
  const port = (listener.address() as net.AddressInfo).port;
  return {
    server: `127.0.0.1:${port}:t`,
    requests,
    setLie(next) {
      lie = next;
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => listener.close(() => resolve()));
    },
  };
}

function isRaw(value: unknown): value is RawReply {
  return typeof value === 'object' && value !== null && 'raw' in value && typeof (value as RawReply).raw === 'string';
}

function lineReader(socket: net.Socket, onLine: (line: string) => void): void {
  let buffer = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => {
    buffer += chunk;
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      const line = buffer.slice(0, newline).trim();
      buffer = buffer.slice(newline + 1);
      if (line.length > 0) onLine(line);
      newline = buffer.indexOf('\n');
    }
  });
}

// ---- header fabrication -----------------------------------------------------------------------

function sha256d(data: Uint8Array): Buffer {
  return createHash('sha256').update(createHash('sha256').update(data).digest()).digest();
}

/** Block hash (display hex) of an 80-byte header given as hex. */
export function headerHash(rawHex: string): string {
  return Buffer.from(sha256d(Buffer.from(rawHex, 'hex'))).reverse().toString('hex');
}

const REGTEST_TARGET = 0x7fffffn << 232n; // nBits 0x207fffff

/**
 * Mines `count` regtest headers (nBits 0x207fffff: about two hashes each) on top of the header
 * `parentHex`: valid linkage and proof of work, random merkle roots (no real blocks behind them).
 * @returns the headers as hex, lowest first.
 */
export function fabricateRegtestBranch(parentHex: string, count: number): string[] {
  const out: string[] = [];
  let parent = parentHex;
  let time = Buffer.from(parentHex, 'hex').readUInt32LE(68);
  for (let i = 0; i < count; i += 1) {
    time += 1;
    const header = Buffer.alloc(80);
    header.writeInt32LE(0x20000000, 0);
    sha256d(Buffer.from(parent, 'hex')).copy(header, 4);
    randomBytes(32).copy(header, 36);
    header.writeUInt32LE(time, 68);
    header.writeUInt32LE(0x207fffff, 72);
    for (let nonce = 0; ; nonce += 1) {
      header.writeUInt32LE(nonce, 76);
      if (BigInt('0x' + Buffer.from(sha256d(header)).reverse().toString('hex')) <= REGTEST_TARGET) break;
    }
    parent = header.toString('hex');
    out.push(parent);
  }
  return out;
}

/** `header` with its nonce changed until its hash fails regtest's proof of work (linkage kept). */
export function breakProofOfWork(rawHex: string): string {
  const header = Buffer.from(rawHex, 'hex');
  for (let nonce = header.readUInt32LE(76) + 1; ; nonce += 1) {
    header.writeUInt32LE(nonce >>> 0, 76);
    if (BigInt('0x' + Buffer.from(sha256d(header)).reverse().toString('hex')) > REGTEST_TARGET) return header.toString('hex');
  }
}

// ---- the lies -----------------------------------------------------------------------------------

type HistoryItem = { tx_hash: string; height: number; fee?: number };

function statusOf(history: HistoryItem[]): string | null {
  if (history.length === 0) return null;
  return createHash('sha256')
    .update(history.map((h) => `${h.tx_hash}:${h.height}:`).join(''))
    .digest('hex');
}

/** Ready-made lies. */
export const lies = {
  /** Merkle proofs with one sibling hash flipped (or a position that does not fit). */
  wrongMerkleProof(): Lie {
    return {
      onResult(method, _params, result) {
        if (method !== 'blockchain.transaction.get_merkle') return result;
        const proof = result as { merkle: string[]; pos: number; block_height: number };
        if (proof.merkle.length === 0) return { ...proof, pos: proof.pos + 1 };
        const first = proof.merkle[0]!;
        return { ...proof, merkle: [(first[0] === '0' ? '1' : '0') + first.slice(1), ...proof.merkle.slice(1)] };
      },
    };
  },

  /**
   * The tip (subscribe answer and notifications) replaced by a header that links to its parent
   * but fails proof of work; header chunks that cover that height carry the bad header too.
   */
  badProofOfWorkTip(): Lie {
    const forged = new Map<number, string>();
    const tamper = (tip: { height: number; hex: string }) => {
      const hex = breakProofOfWork(tip.hex);
      forged.set(tip.height, hex);
      return { ...tip, hex };
    };
    return {
      onResult(method, params, result) {
        if (method === 'blockchain.headers.subscribe') return tamper(result as { height: number; hex: string });
        if (method === 'blockchain.block.headers') {
          const start = params[0] as number;
          const chunk = result as { hex: string; count: number; max: number };
          let hex = chunk.hex;
          for (const [height, bad] of forged) {
            const i = height - start;
            if (i >= 0 && i < chunk.count) hex = hex.slice(0, i * 160) + bad + hex.slice((i + 1) * 160);
          }
          return { ...chunk, hex };
        }
        return result;
      },
      onNotification(method, params) {
        return method === 'blockchain.headers.subscribe' ? [tamper(params[0] as { height: number; hex: string })] : params;
      },
    };
  },

  /**
   * A fork: the server claims `branch` (valid headers from `forkHeight` up, e.g. from
   * fabricateRegtestBranch) is its chain. Header notifications of the real chain are dropped.
   */
  fork(forkHeight: number, branch: string[]): Lie {
    const tipHeight = forkHeight + branch.length - 1;
    const tip = { height: tipHeight, hex: branch[branch.length - 1]! };
    return {
      onResult(method, params, result) {
        if (method === 'blockchain.headers.subscribe') return tip;
        if (method === 'blockchain.block.headers') {
          const [start, count] = params as [number, number];
          const real = result as { hex: string; count: number; max: number };
          const headers: string[] = [];
          for (let h = start; h < start + count && h <= tipHeight; h += 1) {
            headers.push(h >= forkHeight ? branch[h - forkHeight]! : real.hex.slice((h - start) * 160, (h - start + 1) * 160));
          }
          return { hex: headers.join(''), count: headers.length, max: real.max };
        }
        return result;
      },
      onNotification(method, params) {
        return method === 'blockchain.headers.subscribe' ? DROP : params;
      },
    };
  },

  /** Header notifications dropped: the server's announced tip stays where it was. */
  frozenTip(): Lie {
    return {
      onNotification(method, params) {
        return method === 'blockchain.headers.subscribe' ? DROP : params;
      },
    };
  },

  /**
   * Histories without `txid`. `consistentStatus`: the statuses sent (subscribe answers and
   * notifications) are recomputed from the falsified history, so the server agrees with itself;
   * otherwise the real status is sent and contradicts the history.
   */
  omitFromHistory(txid: string, consistentStatus: boolean): Lie {
    const strip = (history: HistoryItem[]) => history.filter((h) => h.tx_hash !== txid);
    const fakeStatus = async (scripthash: string, real: unknown, ctx: LieContext) => {
      const history = (await ctx.ask('blockchain.scripthash.get_history', [scripthash])) as HistoryItem[];
      return history.some((h) => h.tx_hash === txid) ? statusOf(strip(history)) : real;
    };
    return {
      async onResult(method, params, result, ctx) {
        if (method === 'blockchain.scripthash.get_history') return strip(result as HistoryItem[]);
        if (method === 'blockchain.scripthash.subscribe' && consistentStatus) return fakeStatus(params[0] as string, result, ctx);
        return result;
      },
      async onNotification(method, params, ctx) {
        if (method === 'blockchain.scripthash.subscribe' && consistentStatus) {
          return [params[0], await fakeStatus(params[0] as string, params[1], ctx)];
        }
        return params;
      },
    };
  },

  /** Transactions served with their locktime changed: they parse, but hash to another txid. */
  wrongTransactionBytes(): Lie {
    return {
      onResult(method, _params, result) {
        if (method !== 'blockchain.transaction.get' || typeof result !== 'string') return result;
        const locktime = result.slice(-8);
        return result.slice(0, -8) + (locktime === 'ffffffff' ? '00000000' : 'ffffffff');
      },
    };
  },

  /** `blockchain.transaction.get` answered with a JSON-RPC error: the server withholds transactions. */
  withholdTransactions(): Lie {
    return {
      onResult(method, _params, result) {
        return method === 'blockchain.transaction.get' ? new RpcErrorReply(2, 'no such transaction') : result;
      },
    };
  },

  /** The answer to `method` replaced by a line that is not JSON. */
  malformedJson(method: string): Lie {
    return {
      onResult(m, _params, result) {
        return m === method ? { raw: '{"jsonrpc": "2.0", "id": ' } : result;
      },
    };
  },
};
