/**
 * Electron main process: runs FulmenApp (core/app.ts) in-process and is the GUI's host over IPC.
 *
 * Security (DESIGN.md): the window is sandboxed (contextIsolation, sandbox, no nodeIntegration),
 * loads only the packaged GUI through the privileged `app://fulmen/` scheme with a strict CSP,
 * never navigates or opens windows, and grants no permission except the camera (QR scanning).
 * IPC: `fulmen:call` (method, params) → `{ ok: true, result } | { ok: false, error: { code, message } }`,
 * accepted only from our own frame; core events go to the window on `fulmen:event` as `{ event, data }`.
 *
 * Command line: `fulmen-gui [--regtest|--testnet|--testnet4|--signet] [-D DIR]` (same data dir as the CLI).
 */
import { app, BrowserWindow, ipcMain, net, protocol, session, type IpcMainInvokeEvent } from 'electron';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { declarations, isCommandName, type CommandDeclaration } from '../core/api/schemas.js';
import { FulmenApp } from '../core/app.js';
import type { NetworkName } from '../core/bitcoin/network.js';
import { defaultBaseDir } from '../core/daemon/config.js';
import { guiContentSecurityPolicy } from '../core/daemon/csp.js';
import { toFulmenError } from '../core/util/errors.js';

const SCHEME = 'app';
const ORIGIN = `${SCHEME}://fulmen`;
/** dist/electron/main.js → dist/renderer. */
const RENDERER_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'renderer');
const PRELOAD = path.join(path.dirname(fileURLToPath(import.meta.url)), 'preload.cjs');

protocol.registerSchemesAsPrivileged([{ scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
app.enableSandbox();

function parseOptions(argv: string[]): { network: NetworkName; baseDir: string } {
  const { values } = parseArgs({
    args: argv,
    options: { regtest: { type: 'boolean' }, testnet: { type: 'boolean' }, testnet4: { type: 'boolean' }, signet: { type: 'boolean' }, dir: { type: 'string', short: 'D' } },
    strict: false,
    allowPositionals: true,
  });
  const network: NetworkName = values.regtest ? 'regtest' : values.testnet ? 'testnet' : values.testnet4 ? 'testnet4' : values.signet ? 'signet' : 'mainnet';
  return { network, baseDir: typeof values.dir === 'string' ? values.dir : defaultBaseDir() };
}

/** Serves dist/renderer under app://fulmen/ with the CSP; nothing outside that directory. */
function registerAppProtocol(): void {
  const root = path.resolve(RENDERER_DIR);
  protocol.handle(SCHEME, async (request) => {
    const url = new URL(request.url);
    const relative = decodeURIComponent(url.pathname).replace(/^\/+/, '') || 'index.html';
    const file = path.resolve(root, relative);
    if (url.host !== 'fulmen' || !file.startsWith(root + path.sep)) return new Response('Not found', { status: 404 });
    const response = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(response.headers);
    headers.set('Content-Security-Policy', guiContentSecurityPolicy());
    headers.set('X-Content-Type-Options', 'nosniff');
    return new Response(response.body, { status: response.status, headers });
  });
}

function isOurFrame(event: IpcMainInvokeEvent): boolean {
  const url = event.senderFrame?.url;
  return typeof url === 'string' && url.startsWith(`${ORIGIN}/`);
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1100,
    height: 760,
    minWidth: 720,
    minHeight: 520,
    title: 'Fulmen',
    show: false,
    webPreferences: {
      preload: PRELOAD,
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInWorker: false,
      webSecurity: true,
      allowRunningInsecureContent: false,
      webviewTag: false,
      spellcheck: false,
    },
  });
  win.webContents.setWindowOpenHandler(() => ({ action: 'deny' }));
  win.webContents.on('will-navigate', (event, url) => {
    if (!url.startsWith(`${ORIGIN}/`)) event.preventDefault();
  });
  win.webContents.on('will-attach-webview', (event) => event.preventDefault());
  win.once('ready-to-show', () => win.show());
  void win.loadURL(`${ORIGIN}/index.html`);
  return win;
}

async function main(): Promise<void> {
  const options = parseOptions(process.argv.slice(1));
  await app.whenReady();
  registerAppProtocol();
  session.defaultSession.setPermissionRequestHandler((_webContents, permission, callback, details) => {
    const fromUs = details.requestingUrl.startsWith(`${ORIGIN}/`);
    callback(fromUs && permission === 'media' && !(details as { mediaTypes?: string[] }).mediaTypes?.includes('audio'));
  });
  session.defaultSession.setPermissionCheckHandler((_wc, permission, origin) => permission === 'media' && origin === ORIGIN);

  const fulmen = new FulmenApp(options);
  await fulmen.start();

  ipcMain.handle('fulmen:call', async (event, method: unknown, params: unknown) => {
    if (!isOurFrame(event)) return { ok: false, error: { code: 'BAD_INPUT', message: 'Untrusted sender' } };
    if (typeof method !== 'string' || !isCommandName(method) || (declarations[method] as CommandDeclaration).hosts === 'cli') {
      return { ok: false, error: { code: 'BAD_INPUT', message: `Unknown command: ${String(method)}` } };
    }
    try {
      return { ok: true, result: (await fulmen.call(method, params)) ?? null };
    } catch (err) {
      const e = toFulmenError(err);
      return { ok: false, error: { code: e.code, message: e.message } };
    }
  });

  let win: BrowserWindow | null = createWindow();
  win.on('closed', () => (win = null));
  fulmen.on((message) => {
    if (win && !win.isDestroyed()) win.webContents.send('fulmen:event', message);
  });
  app.on('activate', () => {
    if (!win) {
      win = createWindow();
      win.on('closed', () => (win = null));
    }
  });

  let quitting = false;
  app.on('before-quit', (event) => {
    if (quitting) return;
    event.preventDefault();
    quitting = true;
    void fulmen.close().finally(() => app.quit());
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
}

main().catch((err) => {
  console.error(`Fulmen failed to start: ${toFulmenError(err).message}`);
  app.exit(1);
});
