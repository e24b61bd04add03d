import { defineConfig } from 'vitest/config';

// Integration tests against the real regtest network (e2e/harness/regtest.ts). Each file starts
// its own bitcoind + ElectrumX; files run one at a time because CI has 2 cores.
export default defineConfig({
  test: {
    include: ['core/**/*.itest.ts', 'e2e/**/*.itest.ts'],
    pool: 'forks',
    fileParallelism: false,
    hookTimeout: 180_000,
    testTimeout: 300_000,
    teardownTimeout: 60_000,
  },
});
