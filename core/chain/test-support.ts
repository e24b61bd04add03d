/**
 * A tiny fake Electrum server over loopback TCP for unit tests (chain/interface.test.ts,
 * app.test.ts), used ONLY for protocol edge cases that a real ElectrumX never produces (malformed
 * JSON, results of the wrong shape, lying about a transaction's bytes). Everything a real server
 * does is tested against ElectrumX in the integration tests. `answer` maps a request to the raw
 * line(s) to send back (null: stay silent). Test-only: imported by *.test.ts files alone; each
 * calls `afterEach(closeFakeServers)`.
 */
import net from 'node:net';

export type JsonRpcRequest = { id: number; method: string; params: unknown[] };
export type Answer = (request: JsonRpcRequest) => string | null;

const servers: net.Server[] = [];

/** Closes every server started since the last call. */
export function closeFakeServers(): void {
  for (const server of servers.splice(0)) server.close();
}

/**
 * Listens on a loopback port (closed by closeFakeServers) and answers each newline-terminated
 * line a client sends with `onLine(line)`, written back with a newline (null: stay silent).
 * Returns the server as Electrum's "127.0.0.1:port:t".
 */
export async function lineServer(onLine: (line: string) => string | null): Promise<string> {
  const server = net.createServer((socket) => {
    let buffer = '';
    socket.setEncoding('utf8');
    socket.on('error', () => undefined);
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let newline: number;
      while ((newline = buffer.indexOf('\n')) !== -1) {
        const reply = onLine(buffer.slice(0, newline));
        buffer = buffer.slice(newline + 1);
        if (reply !== null) socket.write(reply + '\n');
      }
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `127.0.0.1:${(server.address() as net.AddressInfo).port}:t`;
}

/** A fake server answering one JSON-RPC request per line with `answer`. */
export const fakeServer = (answer: Answer): Promise<string> => lineServer((line) => answer(JSON.parse(line) as JsonRpcRequest));

/** A JSON-RPC result line. */
export const ok = (id: number, result: unknown) => JSON.stringify({ jsonrpc: '2.0', id, result });

/** Answers server.version like ElectrumX, and the rest with `rest`. */
export const withVersion =
  (rest: Answer): Answer =>
  (request) =>
    request.method === 'server.version' ? ok(request.id, ['FakeX 1.0', '1.4']) : rest(request);
