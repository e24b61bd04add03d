#!/usr/bin/env node
// `npm run bench -- <name>`: runs bench/<name>.ts, which prints one JSON line.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const available = readdirSync(join(root, 'bench'))
  .filter((f) => f.endsWith('.ts'))
  .map((f) => f.slice(0, -3));
const name = process.argv[2];
if (!name || !existsSync(join(root, 'bench', `${name}.ts`))) {
  console.error(`usage: npm run bench -- <name>   (available: ${available.join(', ') || 'none'})`);
  process.exit(2);
}
const result = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'bench', `${name}.ts`), ...process.argv.slice(3)], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(result.status ?? 1);
