/**
 * Bench-only child process of bench/sync.ts: one Fulmen wallet sync, measured in a fresh process
 * (no warm JIT, no cache shared between runs).
 *
 * argv: <mode: restore|start> <wallet db> <chain db> <electrum server> <seed> <expected txs> <expected balance sat>
 *   restore: creates the wallet from the (Electrum segwit) seed in an empty db, syncs.
 *   start:   opens the already-synced wallet, connects, waits until up to date.
 * "Synced" = Wallet.waitUntilSynced resolved and the confirmed (merkle-verified) balance and the
 * number of verified transactions equal the expected ones (every bench transaction pays the wallet,
 * so a verified balance equal to the expected sum means every transaction was fetched and proven).
 * Prints ONE JSON line: {"seconds":…,"cpuSeconds":…,"txs":…,"balanceSat":…,"historyMs":…,"onchainHistoryMs":…,"balanceMs":…}
 * (seconds: from just before opening the db to synced, wall clock; cpuSeconds: this process's user +
 * system CPU time over the same span; the imports are not counted in either).
 */
import { performance } from 'node:perf_hooks';
import { openDatabase } from '../../core/storage/db.js';
import { ChainNetwork } from '../../core/chain/network.js';
import { Wallet } from '../../core/wallet/wallet.js';
import { onchainHistory } from '../../core/api/commands.js';
import type { CommandContext } from '../../core/api/context.js';

const [mode, walletDbPath, chainDbPath, server, seed, expectedTxsText, expectedBalanceText] = process.argv.slice(2);
const expectedTxs = Number(expectedTxsText);
const expectedBalance = Number(expectedBalanceText);

async function main(): Promise<void> {
  const began = performance.now();
  const cpuBefore = process.cpuUsage();
  const walletDb = openDatabase(walletDbPath!);
  const chainDb = openDatabase(chainDbPath!);
  const wallet =
    mode === 'restore' ? Wallet.restore(walletDb, { network: 'regtest', text: seed!, seedType: 'electrum' }).wallet : Wallet.open(walletDb);
  const chain = new ChainNetwork({ network: 'regtest', server: server!, oneserver: true, db: chainDb, requestTimeoutMs: 120_000 });
  await chain.start();
  await wallet.attachChain(chain);
  const deadline = Date.now() + 30 * 60_000;
  for (;;) {
    await wallet.waitUntilSynced(Math.max(1, deadline - Date.now()));
    if (wallet.getBalance().confirmedSat === expectedBalance) break;
    if (Date.now() > deadline) throw new Error(`balance ${JSON.stringify(wallet.getBalance())}, expected ${expectedBalance}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  const seconds = (performance.now() - began) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;

  let t = performance.now();
  const history = wallet.getOnchainHistory();
  const historyMs = performance.now() - t;
  t = performance.now();
  const command = onchainHistory({ wallet: () => wallet } as unknown as CommandContext);
  const onchainHistoryMs = performance.now() - t;
  t = performance.now();
  const balance = wallet.getBalance();
  const balanceMs = performance.now() - t;
  const verified = history.filter((h) => h.verified).length;
  if (history.length !== expectedTxs || verified !== expectedTxs || command.summary.count !== expectedTxs) {
    throw new Error(`history: ${history.length} txs, ${verified} verified, expected ${expectedTxs}`);
  }
  process.stdout.write(JSON.stringify({ seconds, cpuSeconds, txs: verified, balanceSat: balance.confirmedSat, historyMs, onchainHistoryMs, balanceMs }) + '\n');
  wallet.detachChain();
  await chain.stop();
  walletDb.close();
  chainDb.close();
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`sync-fulmen ${mode}: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(1);
  },
);
