#!/usr/bin/env node
// `npm run demo` (node --import tsx scripts/demo.mjs): a regtest playground with two Fulmen
// wallets, Alice and Bob, and a funded Alice→Bob channel, driven only through the real CLI
// (bin/fulmen, commands of docs/COMMANDS.md).
//
//   1. installs the regtest toolchain (scripts/setup-regtest.sh) when its binaries are missing;
//   2. starts bitcoind + ElectrumX (e2e/harness/regtest.ts);
//   3. per wallet: `create`, `setconfig server`, `setconfig lightning_listen`, `daemon -d`, `load_wallet`;
//   4. funds Alice with 1 BTC, opens a 0.01 BTC channel to Bob, mines until both see it OPEN;
//   5. opens Alice in Electron when its binary is installed (her daemon is stopped first: one
//      process per wallet), else prints both daemons' browser GUI URLs (`gui_url`);
//   6. waits for Ctrl-C, then stops the GUI, the daemons and the network and deletes the data.
//
// Env: FULMEN_CACHE (toolchain cache, as setup-regtest.sh), FULMEN_DEMO_KEEP=1 keeps the wallet
// dirs (the regtest network is deleted anyway, so they are only worth reading, not reopening).
import { execFile, spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { locateRegtestBinaries, startRegtest, waitFor } from '../e2e/harness/regtest.ts';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(root, 'bin', 'fulmen');
const CHANNEL_BTC = '0.01';
const FUNDING_BTC = '1';

const log = (text) => console.log(`[demo] ${text}`);

/** Runs `bin/fulmen --regtest -D <dir> ...args`; resolves with trimmed stdout. @throws Error with stderr on a non-zero exit. */
function fulmen(dir, ...args) {
  return new Promise((resolve, reject) => {
    execFile(BIN, ['--regtest', '-D', dir, ...args], { timeout: 180_000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`fulmen ${args.join(' ')} failed: ${stderr.trim() || err.message}`));
      else resolve(stdout.trim());
    });
  });
}

async function fulmenJson(dir, ...args) {
  return JSON.parse(await fulmen(dir, ...args));
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Runs a step, logs its outcome and duration; rethrows with the step's name. */
async function step(name, fn) {
  const started = Date.now();
  try {
    const result = await fn();
    log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
    return result;
  } catch (err) {
    log(`FAIL ${name}: ${err.message}`);
    throw err;
  }
}

function ensureToolchain() {
  try {
    locateRegtestBinaries();
    return;
  } catch {
    log('regtest binaries missing: running scripts/setup-regtest.sh (Knots + ElectrumX only)');
  }
  const run = spawnSync('bash', [path.join(root, 'scripts', 'setup-regtest.sh')], {
    stdio: 'inherit',
    env: { ...process.env, FULMEN_SKIP_SYSTEM: '1' },
  });
  if (run.status !== 0) throw new Error('scripts/setup-regtest.sh failed');
  locateRegtestBinaries();
}

/** Builds what the GUI needs (dist/renderer for both hosts, dist/electron for Electron) when missing. */
function ensureBuilt(withElectron) {
  const builds = [];
  if (!fs.existsSync(path.join(root, 'dist', 'renderer', 'index.html'))) builds.push(['npm', ['run', 'build:renderer']]);
  if (withElectron && !fs.existsSync(path.join(root, 'dist', 'electron', 'main.js'))) builds.push(['npm', ['run', 'build:electron']]);
  for (const [cmd, args] of builds) {
    log(`building: ${cmd} ${args.join(' ')}`);
    const run = spawnSync(cmd, args, { cwd: root, stdio: 'inherit' });
    if (run.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
  }
}

/** The Electron executable when the binary is installed (require('electron') is its path), else null. */
function electronExecutable() {
  try {
    const executable = createRequire(import.meta.url)('electron');
    return typeof executable === 'string' && fs.existsSync(executable) ? executable : null;
  } catch {
    return null; // ELECTRON_SKIP_BINARY_DOWNLOAD: the package throws "Electron failed to install correctly"
  }
}

const demoDir = fs.mkdtempSync(path.join(os.tmpdir(), 'fulmen-demo-'));
const wallets = { alice: path.join(demoDir, 'alice'), bob: path.join(demoDir, 'bob') };
const runningDaemons = new Set();
let network = null;
let electron = null;
let shuttingDown = false;

async function shutdown(code) {
  if (shuttingDown) return;
  shuttingDown = true;
  log('stopping');
  if (electron && electron.exitCode === null) {
    const exited = new Promise((resolve) => electron.once('exit', resolve));
    electron.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
  }
  for (const dir of runningDaemons) {
    await fulmen(dir, 'stop').catch((err) => log(`stop ${path.basename(dir)}: ${err.message}`));
  }
  await network?.stop().catch((err) => log(`network stop: ${err.message}`));
  if (process.env.FULMEN_DEMO_KEEP) log(`wallet dirs kept in ${demoDir}`);
  else fs.rmSync(demoDir, { recursive: true, force: true });
  process.exit(code);
}

async function startWallet(name) {
  const dir = wallets[name];
  await step(`${name}: create`, () => fulmen(dir, '--offline', 'create'));
  await step(`${name}: setconfig server ${network.electrumServer}`, () => fulmen(dir, '--offline', 'setconfig', 'server', network.electrumServer));
  const listen = `127.0.0.1:${await freePort()}`;
  await step(`${name}: setconfig lightning_listen ${listen}`, () => fulmen(dir, '--offline', 'setconfig', 'lightning_listen', listen));
  await step(`${name}: daemon -d`, async () => {
    await fulmen(dir, 'daemon', '-d');
    runningDaemons.add(dir);
  });
  await step(`${name}: load_wallet`, async () => {
    const loaded = await fulmen(dir, 'load_wallet');
    if (loaded !== 'true') throw new Error(`load_wallet printed "${loaded}"`);
  });
}

async function main() {
  process.once('SIGINT', () => void shutdown(0));
  process.once('SIGTERM', () => void shutdown(0));
  log(`data in ${demoDir}`);
  await step('regtest toolchain', async () => ensureToolchain());
  const executable = electronExecutable();
  await step(`GUI build (dist/renderer${executable ? ', dist/electron' : ''})`, async () => ensureBuilt(executable !== null));
  network = await step('regtest network (bitcoind + ElectrumX)', () => startRegtest());
  log(`electrum server ${network.electrumServer}, bitcoind RPC ${network.rpcUrl} (user ${network.rpcUser}, password ${network.rpcPassword})`);

  await startWallet('alice');
  await startWallet('bob');

  await step(`fund alice with ${FUNDING_BTC} BTC`, async () => {
    const address = await fulmen(wallets.alice, 'getunusedaddress');
    await network.sendToAddress(address, FUNDING_BTC);
    await network.mine(1);
    await waitFor(async () => (await fulmenJson(wallets.alice, 'getbalance')).confirmed === FUNDING_BTC, {
      what: `alice's confirmed balance ${FUNDING_BTC}`,
      timeoutMs: 60_000,
      intervalMs: 250,
    });
  });

  const bobNodeId = await step('bob: nodeid', () => fulmen(wallets.bob, 'nodeid'));
  const channelPoint = await step(`alice: open_channel ${bobNodeId} ${CHANNEL_BTC}`, () => fulmen(wallets.alice, 'open_channel', bobNodeId, CHANNEL_BTC));
  await step('mine 3 blocks, wait until both list the channel OPEN', async () => {
    await waitFor(async () => (await network.rpc('getrawmempool')).includes(channelPoint.split(':')[0]), {
      what: 'the funding transaction in the mempool',
      timeoutMs: 30_000,
      intervalMs: 100,
    });
    await network.mine(3);
    for (const dir of [wallets.alice, wallets.bob]) {
      await waitFor(
        async () => (await fulmenJson(dir, 'list_channels')).some((c) => c.channel_point === channelPoint && c.state === 'OPEN'),
        { what: `${path.basename(dir)}'s channel ${channelPoint} OPEN`, timeoutMs: 90_000, intervalMs: 500 },
      );
    }
  });

  if (executable) {
    await step('stop alice\'s daemon (Electron hosts her wallet itself)', async () => {
      await fulmen(wallets.alice, 'stop');
      runningDaemons.delete(wallets.alice);
    });
    electron = spawn(executable, [path.join(root, 'dist', 'electron', 'main.js'), '--regtest', '-D', wallets.alice], { stdio: 'inherit' });
    electron.once('exit', (code) => log(`Electron exited (code ${code}); Ctrl-C stops the demo`));
    log(`Electron started on alice (${wallets.alice})`);
    log(`bob's GUI: ${await fulmen(wallets.bob, 'gui_url')}`);
  } else {
    log('Electron binary not installed: open the browser GUIs instead');
    for (const name of ['alice', 'bob']) log(`${name}'s GUI: ${await fulmen(wallets[name], 'gui_url')}`);
  }
  log(`CLI: bin/fulmen --regtest -D ${wallets.alice} <command>   (and -D ${wallets.bob})`);
  log('running; Ctrl-C stops everything');
}

main().catch(() => void shutdown(1));
