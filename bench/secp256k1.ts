/**
 * `npm run bench -- secp256k1 [--ms 1500]`: ECDSA sign / verify and the point operation of BOLT 3
 * key derivation (basepoint + tweak·G) per second, for each secp256k1 backend Fulmen could use:
 * @noble/curves (what the code used), @noble/secp256k1, @bitcoinerlab/secp256k1 (noble inside),
 * tiny-secp256k1 (libsecp256k1 compiled to WASM) and `secp256k1` (native libsecp256k1 N-API
 * binding), per second of CPU time. All sign 32-byte digests with RFC 6979 nonces and low-S; verification checks the
 * 64-byte compact signature the Lightning wire uses. Prints one JSON line.
 */
import { createRequire } from 'node:module';
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { secp256k1 as nobleCurves } from '@noble/curves/secp256k1.js';
import * as nobleSecp from '@noble/secp256k1';
import * as bitcoinerlab from '@bitcoinerlab/secp256k1';
import * as tiny from 'tiny-secp256k1';
import { sha256 } from '@noble/hashes/sha2.js';
import { hmac } from '@noble/hashes/hmac.js';

const require = createRequire(import.meta.url);
/** `secp256k1/bindings` throws unless the native addon loads (no silent fallback to its JS elliptic build). */
const native = require('secp256k1/bindings') as {
  ecdsaSign(msg: Uint8Array, key: Uint8Array): { signature: Uint8Array; recid: number };
  ecdsaVerify(sig: Uint8Array, msg: Uint8Array, pub: Uint8Array): boolean;
  publicKeyTweakAdd(pub: Uint8Array, tweak: Uint8Array, compressed: boolean): Uint8Array;
};

nobleSecp.hashes.sha256 = sha256;
nobleSecp.hashes.hmacSha256 = (key: Uint8Array, msg: Uint8Array) => hmac(sha256, key, msg);

interface Backend {
  sign(digest: Uint8Array, priv: Uint8Array): Uint8Array;
  verify(sig: Uint8Array, digest: Uint8Array, pub: Uint8Array): boolean;
  tweakAdd(pub: Uint8Array, tweak: Uint8Array): Uint8Array;
}

const backends: Record<string, Backend> = {
  '@noble/curves': {
    sign: (d, k) => nobleCurves.sign(d, k, { prehash: false, lowS: true }),
    verify: (s, d, p) => nobleCurves.verify(s, d, p, { prehash: false, lowS: true }),
    tweakAdd: (p, t) => nobleCurves.Point.fromBytes(p).add(nobleCurves.Point.BASE.multiply(BigInt('0x' + Buffer.from(t).toString('hex')))).toBytes(true),
  },
  '@noble/secp256k1': {
    sign: (d, k) => nobleSecp.sign(d, k, { prehash: false, lowS: true }),
    verify: (s, d, p) => nobleSecp.verify(s, d, p, { prehash: false, lowS: true }),
    tweakAdd: (p, t) => nobleSecp.Point.fromBytes(p).add(nobleSecp.Point.BASE.multiply(BigInt('0x' + Buffer.from(t).toString('hex')))).toBytes(true),
  },
  '@bitcoinerlab/secp256k1': {
    sign: (d, k) => bitcoinerlab.sign(d, k),
    verify: (s, d, p) => bitcoinerlab.verify(d, p, s, true),
    tweakAdd: (p, t) => bitcoinerlab.pointAddScalar(p, t, true)!,
  },
  'tiny-secp256k1 (WASM)': {
    sign: (d, k) => tiny.sign(d, k),
    verify: (s, d, p) => tiny.verify(d, p, s, true),
    tweakAdd: (p, t) => tiny.pointAddScalar(p, t, true)!,
  },
  'secp256k1 (native)': {
    sign: (d, k) => native.ecdsaSign(d, k).signature,
    verify: (s, d, p) => native.ecdsaVerify(s, d, p),
    tweakAdd: (p, t) => native.publicKeyTweakAdd(p, t, true),
  },
};

const ms = Number(process.argv[process.argv.indexOf('--ms') + 1] ?? 1500) || 1500;
const priv = new Uint8Array(randomBytes(32));
const pub = nobleCurves.getPublicKey(priv, true);
const digests = Array.from({ length: 64 }, () => new Uint8Array(randomBytes(32)));

/** Operations per second of this thread's CPU time (not wall time: the machine may be shared). */
function opsPerSecond(fn: (i: number) => void): number {
  for (let i = 0; i < 200; i++) fn(i); // warm up (JIT, noble's precomputed tables)
  let n = 0;
  const start = performance.now();
  const cpuStart = process.cpuUsage();
  while (performance.now() - start < ms) for (let j = 0; j < 20; j++) fn(n++);
  const cpu = process.cpuUsage(cpuStart);
  return Math.round(n / ((cpu.user + cpu.system) / 1e6));
}

const result: Record<string, { sign_per_s: number; verify_per_s: number; tweak_add_per_s: number }> = {};
for (const [name, b] of Object.entries(backends)) {
  const sigs = digests.map((d) => b.sign(d, priv));
  // Every backend must accept every other backend's signatures (same RFC 6979 low-S output).
  for (const [other, ob] of Object.entries(backends)) if (!ob.verify(sigs[0]!, digests[0]!, pub)) throw new Error(`${other} rejects a ${name} signature`);
  result[name] = {
    sign_per_s: opsPerSecond((i) => b.sign(digests[i % 64]!, priv)),
    verify_per_s: opsPerSecond((i) => {
      if (!b.verify(sigs[i % 64]!, digests[i % 64]!, pub)) throw new Error(`${name}: verify failed`);
    }),
    tweak_add_per_s: opsPerSecond((i) => b.tweakAdd(pub, digests[i % 64]!)),
  };
}
const os = await import('node:os');
console.log(JSON.stringify({ bench: 'secp256k1', ms_per_measure: ms, loadavg: os.loadavg()[0]!.toFixed(2), backends: result }));
