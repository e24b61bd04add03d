import fs from 'node:fs';
import { createRequire } from 'node:module';
import { chromium, type Browser } from '@playwright/test';
import { writeQrY4m } from './fake-camera.js';

/** Debian's Chromium: the only browser the GUI tests use (no Playwright browser download). */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/** Chromium flags for headless runs in containers, with a fake camera that is granted without a prompt. */
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];

/**
 * Launches a Chromium whose camera shows `text` as a QR code (a Y4M file written to `y4mFile`,
 * `--use-file-for-fake-video-capture`). The flag is per process, hence a browser per scan.
 */
export async function launchWithCameraShowing(text: string, y4mFile: string): Promise<Browser> {
  writeQrY4m(y4mFile, text);
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: [...CHROMIUM_ARGS, `--use-file-for-fake-video-capture=${y4mFile}`] });
}

/** The Electron binary when the package's postinstall downloaded it, else null. */
export function electronBinary(): string | null {
  try {
    const binary = createRequire(import.meta.url)('electron') as unknown;
    return typeof binary === 'string' && fs.existsSync(binary) ? binary : null;
  } catch {
    return null;
  }
}
