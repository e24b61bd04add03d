import path from 'node:path';
import { _electron as electron, expect, test } from '@playwright/test';
import { electronBinary } from './browser.js';

/**
 * The desktop host: the same GUI build loaded by Electron's main process, talking over the
 * preload bridge. Runs only when the Electron binary is installed.
 */
const binary = electronBinary();

test('Electron window shows the GUI over the preload bridge', async ({}, testInfo) => {
  test.skip(!binary, 'Electron binary not installed (node_modules/electron has no dist/); the desktop host cannot be launched here');
  const app = await electron.launch({
    executablePath: binary!,
    args: [path.resolve('dist/electron/main.js'), '--regtest', '-D', testInfo.outputPath('fulmen-data')],
  });
  try {
    const window = await app.firstWindow();
    await expect(window.getByRole('heading', { name: 'Fulmen' })).toBeVisible();
    expect(await window.evaluate(() => typeof (window as unknown as { fulmen?: unknown }).fulmen)).toBe('object');
    await expect(window.getByTestId('status-bar')).toContainText('regtest', { ignoreCase: true });
    await window.screenshot({ path: testInfo.outputPath('electron-window.png') });
  } finally {
    await app.close();
  }
});
