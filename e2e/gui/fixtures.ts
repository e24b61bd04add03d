import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { test as base, expect, type Page } from '@playwright/test';
import jsQRModule from 'jsqr';
import { freePort, startRegtest, type Regtest } from '../harness/regtest.js';

/**
 * Fixtures of the GUI specs: a regtest network (bitcoind + ElectrumX, one per worker) and Fulmen
 * daemons started the way a user would (`bin/fulmen --regtest -D dir ...`), each with the URL of
 * its browser GUI. Daemons are stopped after each test; their data dirs are kept under
 * test-results when FULMEN_KEEP_DAEMONS is set.
 */

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const fulmenBin = path.join(repoRoot, 'bin', 'fulmen');
const run = promisify(execFile);


export interface FulmenNode {
  readonly name: string;
  readonly dir: string;
  /** `http://127.0.0.1:PORT/?token=...` (null when the daemon was not started). */
  readonly guiUrl: string;
  /** `host:port` Lightning listens on. */
  readonly lightningListen: string;
  /** Runs `fulmen --regtest -D dir <args>`; returns stdout parsed as JSON, or the raw text. */
  cli<T = unknown>(...args: string[]): Promise<T>;
  stop(): Promise<void>;
}

export interface StartFulmenOptions {
  /** 'create': a new wallet (offline, before the daemon), 'restore': from `mnemonic`, 'none': first-run wizard. */
  wallet?: 'create' | 'restore' | 'none';
  mnemonic?: string;
  /** More Electrum servers (`servers` config, oneserver off), e.g. a lying proxy (e2e/harness/lying-proxy.ts) next to ElectrumX. */
  servers?: string[];
}

async function fulmenCli(dir: string, args: string[]): Promise<string> {
  try {
    const { stdout } = await run(fulmenBin, ['--regtest', '-D', dir, ...args], { cwd: repoRoot, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`fulmen ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`);
  }
}

function parseOutput<T>(text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    return text as T;
  }
}

/**
 * Starts one Fulmen daemon against `regtest`: configures server, Lightning listen address and
 * RPC port offline, creates or restores the wallet (unless 'none'), runs `daemon -d`, then
 * `load_wallet`. Returns once the daemon answers and, with a wallet, is synchronised.
 */
export async function startFulmen(name: string, regtest: Regtest, opts: StartFulmenOptions = {}): Promise<FulmenNode> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `fulmen-gui-${name}-`));
  const [rpcPort, lnPort] = [await freePort(), await freePort()];
  const lightningListen = `127.0.0.1:${lnPort}`;
  const cli = async <T,>(...args: string[]): Promise<T> => parseOutput<T>(await fulmenCli(dir, args));
  await cli('--offline', 'setconfig', 'server', regtest.electrumServer);
  await cli('--offline', 'setconfig', 'oneserver', opts.servers ? 'false' : 'true');
  if (opts.servers) await cli('--offline', 'setconfig', 'servers', JSON.stringify(opts.servers));
  await cli('--offline', 'setconfig', 'lightning_listen', lightningListen);
  await cli('--offline', 'setconfig', 'rpcport', String(rpcPort));
  const wallet = opts.wallet ?? 'create';
  if (wallet === 'create') await cli('--offline', 'create');
  if (wallet === 'restore') await cli('--offline', 'restore', opts.mnemonic ?? '');
  await cli('daemon', '-d');
  let stopped = false;
  const node: FulmenNode = {
    name,
    dir,
    lightningListen,
    guiUrl: await cli<string>('gui_url'),
    cli,
    async stop() {
      if (stopped) return;
      stopped = true;
      await cli('stop').catch(() => undefined);
      if (!process.env.FULMEN_KEEP_DAEMONS) fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  if (wallet !== 'none') {
    await cli('load_wallet');
    await expect
      .poll(async () => (await cli<{ connected: boolean; blockchain_height: number; server_height: number }>('getinfo')), {
        message: `${name} connects to ElectrumX and catches up`,
        timeout: 60_000,
      })
      .toMatchObject({ connected: true });
  }
  return node;
}

/** getbalance as integer sats (confirmed, unconfirmed, Lightning rounded down). */
export async function balanceSat(node: FulmenNode): Promise<{ confirmed: number; unconfirmed: number; lightning: number }> {
  const b = await node.cli<{ confirmed: string; unconfirmed?: string; lightning?: string }>('getbalance');
  const sat = (btc: string | undefined) => {
    const [whole, frac = ''] = (btc ?? '0').replace('-', '').split('.');
    const v = BigInt(whole!) * 100_000_000n + BigInt(frac.slice(0, 8).padEnd(8, '0'));
    return Number((btc ?? '').startsWith('-') ? -v : v);
  };
  return { confirmed: sat(b.confirmed), unconfirmed: sat(b.unconfirmed), lightning: sat(b.lightning) };
}

/** Opens a tab of the GUI by its accessible name. */
export async function openTab(page: Page, name: 'History' | 'Send' | 'Receive' | 'Channels' | 'Preferences'): Promise<void> {
  await page.getByRole('tab', { name }).click();
  await expect(page.getByRole('tab', { name })).toHaveAttribute('aria-selected', 'true');
}

/** Saves a full-page screenshot as a test attachment (and file under the test's output dir). */
export async function snap(page: Page, name: string): Promise<void> {
  const info = test.info();
  const file = info.outputPath(`${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  await info.attach(name, { path: file, contentType: 'image/png' });
}

interface Fixtures {
  /** Starts a daemon; stopped after the test. */
  fulmen(name: string, opts?: StartFulmenOptions): Promise<FulmenNode>;
}

interface WorkerFixtures {
  regtest: Regtest;
}

export const test = base.extend<Fixtures, WorkerFixtures>({
  regtest: [
    async ({}, use) => {
      const regtest = await startRegtest();
      await use(regtest);
      await regtest.stop();
    },
    { scope: 'worker', timeout: 180_000 },
  ],
  fulmen: async ({ regtest }, use) => {
    const nodes: FulmenNode[] = [];
    await use(async (name, opts) => {
      const node = await startFulmen(name, regtest, opts);
      nodes.push(node);
      return node;
    });
    await Promise.all(nodes.map((n) => n.stop()));
  },
});

export { expect };

/**
 * jsqr's `module.exports` is the function itself while its typings declare an ES default export;
 * under NodeNext the default import is typed as the namespace.
 */
const jsQR = jsQRModule as unknown as typeof jsQRModule.default;

/** Reads the pixels of the QR <canvas> with `testId` and decodes them with jsQR. */
export async function decodeQrCanvas(page: Page, testId: string): Promise<string | null> {
  const image = await page.getByTestId(testId).evaluate((canvas: HTMLCanvasElement) => {
    const data = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height);
    return { width: data.width, height: data.height, pixels: Array.from(data.data) };
  });
  return jsQR(Uint8ClampedArray.from(image.pixels), image.width, image.height)?.data ?? null;
}
