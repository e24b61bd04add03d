#!/usr/bin/env node
// `npm test`: typecheck, CLI bundle, unit tests, integration tests (real regtest network), Playwright e2e.
// Stops at the first failing step, exits non-zero, and always prints one summary line.
// The regtest binaries are installed by `bash scripts/setup-regtest.sh` (.ci/run does it);
// this script only checks that they are there.
import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const cacheDir = process.env.FULMEN_CACHE || path.join(homedir(), '.cache', 'fulmen');
const regtestBinaries = ['bitcoind', 'bitcoin-cli', 'electrumx_server'].map((name) => path.join(cacheDir, 'bin', name));

function missingRegtestBinaries() {
  return regtestBinaries.filter((file) => {
    try {
      accessSync(file, constants.X_OK);
      return false;
    } catch {
      return true;
    }
  });
}

const steps = [
  { name: 'typecheck', cmd: ['npx', 'tsc', '--noEmit', '-p', 'tsconfig.json'] },
  // bin/fulmen runs this bundle (falls back to compiling the sources with tsx when it is stale).
  { name: 'build', cmd: ['node', 'build/build.mjs', 'cli'] },
  { name: 'unit', cmd: ['npx', 'vitest', 'run'] },
  { name: 'integration', cmd: ['npx', 'vitest', 'run', '-c', 'vitest.integration.config.ts'], needsRegtest: true },
];
if (existsSync(path.join(root, 'playwright.config.ts'))) {
  // The daemon serves the GUI from dist/renderer.
  steps.push({ name: 'build:renderer', cmd: ['npm', 'run', '--silent', 'build:renderer'] });
  steps.push({ name: 'e2e', cmd: ['npx', 'playwright', 'test'], needsRegtest: true });
}

const results = [];
let failed = null;
for (const step of steps) {
  if (step.needsRegtest) {
    const missing = missingRegtestBinaries();
    if (missing.length > 0) {
      console.error(
        `\n[test] ${step.name}: regtest binaries missing (${missing.join(', ')}).\n` +
          `[test] Run \`bash scripts/setup-regtest.sh\` first (cache: ${cacheDir}; set FULMEN_CACHE to change).`,
      );
      results.push(`${step.name} FAILED (setup missing)`);
      failed = step.name;
      break;
    }
  }
  console.log(`\n[test] ${step.name}: ${step.cmd.join(' ')}`);
  const started = Date.now();
  const run = spawnSync(step.cmd[0], step.cmd.slice(1), { cwd: root, stdio: 'inherit', env: process.env });
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  if (run.status !== 0) {
    const why = run.error ? run.error.message : run.signal ? `signal ${run.signal}` : `exit ${run.status}`;
    results.push(`${step.name} FAILED (${why}, ${seconds}s)`);
    failed = step.name;
    break;
  }
  results.push(`${step.name} ok (${seconds}s)`);
}
for (const step of steps.slice(results.length)) results.push(`${step.name} skipped`);

console.log(`\n[test] ${failed ? 'FAILED' : 'PASSED'}: ${results.join(', ')}`);
process.exit(failed ? 1 : 0);
