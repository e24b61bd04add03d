import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { processAlive } from './process.js';

describe('processAlive', () => {
  it('sees this process and not one that has exited', () => {
    expect(processAlive(process.pid)).toBe(true);
    const exited = spawnSync(process.execPath, ['-e', '0']);
    expect(exited.pid).toBeGreaterThan(0);
    expect(processAlive(exited.pid!)).toBe(false);
  });
});
