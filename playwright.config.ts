import { defineConfig } from '@playwright/test';
import { CHROMIUM_ARGS, CHROMIUM_PATH } from './e2e/gui/browser.js';

/**
 * End-to-end tests of the GUI. `chromium-daemon`: the GUI served by `fulmen daemon` in Debian's
 * Chromium (never a Playwright browser download). `electron`: the desktop app, run only when the
 * Electron binary is installed (e2e/gui/electron.spec.ts skips with the reason otherwise).
 * Specs start their own regtest network and daemons (e2e/gui/fixtures.ts); one worker, since
 * each scenario owns bitcoind, ElectrumX and two daemons.
 */

export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  outputDir: 'test-results',
  workers: 1,
  fullyParallel: false,
  timeout: 5 * 60_000,
  expect: { timeout: 20_000 },
  reporter: [['list'], ['html', { open: 'never', outputFolder: 'playwright-report' }]],
  use: {
    screenshot: 'on',
    trace: 'retain-on-failure',
    viewport: { width: 1180, height: 820 },
  },
  projects: [
    {
      name: 'chromium-daemon',
      testIgnore: '**/electron.spec.ts',
      use: {
        browserName: 'chromium',
        launchOptions: { executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS },
      },
    },
    {
      name: 'electron',
      testMatch: '**/electron.spec.ts',
    },
  ],
});
