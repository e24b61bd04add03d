/**
 * Bench-only daemon entry (used by bench/payments.ts, not a product command).
 *
 * It starts exactly what `bin/fulmen daemon` starts (FulmenApp + DaemonServer on 127.0.0.1, the
 * wallet's LightningNode listening on `lightning_listen`), and additionally takes orders from its
 * parent over the Node IPC channel:
 *   { id, op: 'call', method, params }            a command of the table (app.call, same path as JSON-RPC)
 *   { id, op: 'invoices', count, amountMsat }      `count` BOLT 11 invoices (LightningNode.createInvoice)
 *   { id, op: 'pay', invoices, concurrency }       pays them through LightningNode.pay, `concurrency`
 *                                                  at a time; returns per-payment latencies (ms) and
 *                                                  completion times (ms since the run started)
 *   { id, op: 'cpu' }                              CPU time used by this process so far, ms (user + system)
 *   { id, op: 'stop' }
 * Payments are driven in-process so that the figure measures the Lightning node (channel state
 * machine, SQLite, BOLT 8 transport between the two daemons), not 10,000 HTTP round trips of
 * the JSON-RPC layer; each payment is still a real `LightningNode.pay` of a real invoice.
 *
 * argv: <data dir>
 */
import { performance } from 'node:perf_hooks';
import { FulmenApp } from '../../core/app.js';
import { DaemonServer } from '../../core/daemon/server.js';
import type { LightningNode } from '../../core/lightning/node.js';

type Order =
  | { id: number; op: 'call'; method: string; params?: unknown }
  | { id: number; op: 'invoices'; count: number; amountMsat: string }
  | { id: number; op: 'pay'; invoices: string[]; concurrency: number; pauseMs?: number }
  | { id: number; op: 'cpu' }
  | { id: number; op: 'stop' };

const baseDir = process.argv[2];
if (!baseDir || !process.send) {
  console.error('usage: forked by bench/payments.ts with <data dir>');
  process.exit(2);
}

const app = new FulmenApp({ network: 'regtest', baseDir });
const server = new DaemonServer({ app });
await app.start();
await server.start();
await app.call('load_wallet', {});

/** FulmenApp keeps its LightningNode private; the bench reads it to drive payments in-process. */
function lightningNode(): LightningNode {
  const node = (app as unknown as { node: LightningNode | null }).node;
  if (!node) throw new Error('Lightning node not started');
  return node;
}

/** Pays `invoices`, `concurrency` at a time; each worker first waits `pauseMs` (not counted in the latency) before each payment. */
async function payAll(invoices: string[], concurrency: number, pauseMs = 0): Promise<{ latenciesMs: number[]; doneAtMs: number[]; failures: string[]; totalMs: number }> {
  const node = lightningNode();
  const latenciesMs: number[] = [];
  const doneAtMs: number[] = [];
  const failures: string[] = [];
  const start = performance.now();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < invoices.length) {
      const invoice = invoices[next++]!;
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
      const t0 = performance.now();
      try {
        const r = await node.pay(invoice);
        if (!r.success) failures.push(r.error ?? 'failed');
      } catch (err) {
        failures.push((err as Error).message);
      }
      const t1 = performance.now();
      latenciesMs.push(t1 - t0);
      doneAtMs.push(t1 - start);
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { latenciesMs, doneAtMs, failures, totalMs: performance.now() - start };
}

async function handle(order: Order): Promise<unknown> {
  switch (order.op) {
    case 'call':
      return app.call(order.method, order.params);
    case 'invoices': {
      const node = lightningNode();
      const amount = BigInt(order.amountMsat);
      return Array.from({ length: order.count }, (_, i) => node.createInvoice(amount, `bench ${i}`).invoice);
    }
    case 'pay':
      return payAll(order.invoices, order.concurrency, order.pauseMs);
    case 'cpu': {
      const { user, system } = process.cpuUsage();
      return (user + system) / 1000;
    }
    case 'stop':
      await server.stop();
      await app.close();
      setImmediate(() => process.exit(0));
      return true;
  }
}

process.on('message', (order: Order) => {
  handle(order).then(
    (result) => process.send!({ id: order.id, result }),
    (err: unknown) => process.send!({ id: order.id, error: err instanceof Error ? err.message : String(err) }),
  );
});
process.send({ ready: true });
