// Bundles the Node hosts of the core with esbuild (ESM, Node platform, npm packages left external
// and resolved from node_modules at run time):
//   electron: dist/electron/main.js and preload.cjs (CommonJS: sandboxed preloads cannot be ES
//             modules); electron-builder ships them.
//   cli:      dist/cli/fulmen.js, the CLI and daemon (core/daemon/cli.ts) that bin/fulmen runs
//             without compiling TypeScript at every start. Pure-JS packages are bundled too (one
//             file loads ~2x faster than hundreds of ESM modules); native ones stay external.
//             dist/cli/inputs.json lists the sources it was built from (and package-lock.json):
//             bin/fulmen falls back to tsx when one is newer than the bundle.
//             dist/cli/ sits two levels under the repo, as core/daemon/ does, so paths the core
//             derives from import.meta.url (server.ts: <repo>/dist/renderer; secp.ts's
//             createRequire of the native secp256k1 binding) stay right.
//   bench:    dist/bench/sync-fulmen.js and payments-daemon.js (bench/support/), only when asked for.
// Usage: node build/build.mjs [electron|cli|bench ...]   (no argument: electron and cli)
import { build } from 'esbuild';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const common = { absWorkingDir: root, bundle: true, platform: 'node', target: 'node20', sourcemap: true, logLevel: 'warning' };
const targets = process.argv.slice(2);
const wanted = (name) => targets.length === 0 || targets.includes(name);

if (wanted('electron')) {
  await build({
    ...common,
    entryPoints: ['electron/main.ts'],
    outfile: 'dist/electron/main.js',
    format: 'esm',
    packages: 'external',
  });
  await build({
    ...common,
    entryPoints: ['electron/preload.ts'],
    outfile: 'dist/electron/preload.cjs',
    format: 'cjs',
    external: ['electron'],
  });
  console.log('[build] dist/electron');
}

/**
 * Bundles the Node entry `entry` into `outfile` (ESM, pure-JS packages included, native ones
 * external), written next to it and renamed so a concurrent reader never sees half a file.
 * @returns the repo-relative source files it was built from.
 */
async function bundleNode(entry, outfile) {
  const tmp = `${outfile}.${process.pid}.tmp.js`;
  const result = await build({
    ...common,
    entryPoints: [entry],
    outfile: tmp,
    format: 'esm',
    // Native addons (they load files next to their own module) and the
    // optional native speed-ups of ws.
    external: ['better-sqlite3', 'secp256k1', 'bufferutil', 'utf-8-validate'],
    // Bundled CommonJS packages call require(); give the ES module bundle one.
    banner: { js: "import { createRequire as fulmenCreateRequire } from 'node:module'; const require = fulmenCreateRequire(import.meta.url);" },
    metafile: true,
  });
  fs.renameSync(`${root}/${tmp}.map`, `${root}/${outfile}.map`);
  fs.renameSync(`${root}/${tmp}`, `${root}/${outfile}`);
  return Object.keys(result.metafile.inputs).filter((file) => !file.startsWith('node_modules/'));
}

if (wanted('cli')) {
  const inputs = await bundleNode('core/daemon/cli.ts', 'dist/cli/fulmen.js');
  fs.writeFileSync(`${root}/dist/cli/inputs.json`, JSON.stringify([...inputs, 'package-lock.json']) + '\n');
  console.log(`[build] dist/cli/fulmen.js (${inputs.length} sources)`);
}

// `npm run bench -- sync` and `-- payments` run their Fulmen children from these bundles, as
// bin/fulmen runs dist/cli/fulmen.js (the shipped form: no TypeScript loader at run time).
if (targets.includes('bench')) {
  await bundleNode('bench/support/sync-fulmen.ts', 'dist/bench/sync-fulmen.js');
  await bundleNode('bench/support/payments-daemon.ts', 'dist/bench/payments-daemon.js');
  console.log('[build] dist/bench/sync-fulmen.js, dist/bench/payments-daemon.js');
}
