import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { NetworkName } from '../bitcoin/network.js';
import { badInput, FulmenError } from '../util/errors.js';
import { parseProxyString, parseServerString } from '../chain/interface.js';

/**
 * Fulmen's data directory and config file, laid out like Electrum's:
 *
 *   <dir>                      default ~/.fulmen (FULMEN_DIR overrides), `-D DIR` on the CLI
 *   <dir>/config               mainnet config (JSON object), mode 0600
 *   <dir>/wallets/default_wallet.sqlite
 *   <dir>/<network>/config     testnet / testnet4 / signet / regtest (Electrum: <dir>/testnet, <dir>/testnet4, <dir>/regtest)
 *   <dir>/<network>/wallets/default_wallet.sqlite
 *   <dir>/<network>/logs/daemon.log   output of a detached daemon
 */

/** Default base directory: $FULMEN_DIR or ~/.fulmen. */
export function defaultBaseDir(): string {
  return process.env.FULMEN_DIR || path.join(os.homedir(), '.fulmen');
}

/** The per-network directory: the base dir itself for mainnet, `<dir>/<network>` otherwise. */
export function networkDir(baseDir: string, network: NetworkName): string {
  return network === 'mainnet' ? baseDir : path.join(baseDir, network);
}

export interface DataPaths {
  dir: string;
  config: string;
  walletsDir: string;
  defaultWallet: string;
  logsDir: string;
}

export function dataPaths(baseDir: string, network: NetworkName): DataPaths {
  const dir = networkDir(path.resolve(baseDir), network);
  return {
    dir,
    config: path.join(dir, 'config'),
    walletsDir: path.join(dir, 'wallets'),
    defaultWallet: path.join(dir, 'wallets', 'default_wallet.sqlite'),
    logsDir: path.join(dir, 'logs'),
  };
}

/** Config keys Fulmen reads, with their meaning (any other key is stored as given). */
export const KNOWN_CONFIG_KEYS = {
  server: 'Electrum server host:port:t|s (t: TCP, s: TLS)',
  oneserver: 'connect to the configured server only (bool)',
  servers: 'more Electrum servers for headers and cross-checks (JSON list of host:port:t|s)',
  proxy: 'SOCKS5 proxy for Electrum connections, e.g. Tor: socks5:127.0.0.1:9050',
  rpcuser: 'JSON-RPC user name (generated when unset)',
  rpcpassword: 'JSON-RPC password (generated when unset)',
  rpcport: 'JSON-RPC port on 127.0.0.1 (random free port stored when unset)',
  rpchost: 'JSON-RPC host the CLI connects to (the daemon always binds 127.0.0.1)',
  lightning_listen: 'accept Lightning connections on host:port',
  use_recoverable_channels: 'funding transactions carry an encrypted OP_RETURN so the seed alone finds our channels (bool, default true)',
  run_watchtower: 'run a watchtower for other wallets in the daemon (bool; Electrum name; protocol: core/lightning/watchtower/protocol.ts)',
  watchtower_port: 'port of our watchtower on 127.0.0.1 (needed with run_watchtower)',
  watchtower_user: 'user name clients of our watchtower authenticate with',
  watchtower_password: 'password clients of our watchtower authenticate with',
  watchtower_url: 'watchtower we send justice transactions to: http://user:pass@host:port',
} as const;

/** Keys whose values are kept as strings (Electrum does the same for rpcuser/rpcpassword). */
const STRING_KEYS = new Set(['rpcuser', 'rpcpassword', 'rpchost', 'server', 'lightning_listen', 'proxy', 'watchtower_user', 'watchtower_password', 'watchtower_url']);

const HOST_PORT_RE = /^([^\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})$/;

/**
 * Normalises a value given to `setconfig`, as Electrum does: a string that parses as JSON becomes
 * that JSON value ("7777" → 7777, "true" → true), other strings stay strings; rpcuser,
 * rpcpassword, rpchost, server, lightning_listen and proxy always stay strings. Known keys are checked.
 * @throws FulmenError BAD_INPUT for a malformed server, servers, proxy, lightning_listen or rpcport.
 */
export function normalizeConfigValue(key: string, value: unknown): unknown {
  let v = value;
  if (STRING_KEYS.has(key)) {
    if (v !== null && typeof v !== 'string') v = typeof v === 'number' || typeof v === 'boolean' ? String(v) : JSON.stringify(v);
  } else if (typeof v === 'string') {
    try {
      v = JSON.parse(v);
    } catch {
      // not JSON: stored as the string given
    }
  }
  if (v === null) return null;
  switch (key) {
    case 'server':
      parseServerString(v as string);
      break;
    case 'servers':
      if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) {
        throw badInput('servers must be a JSON list of host:port:t|s strings');
      }
      v.forEach((s: string) => parseServerString(s));
      break;
    case 'proxy':
      parseProxyString(v as string);
      break;
    case 'lightning_listen': {
      const m = HOST_PORT_RE.exec(v as string);
      if (!m || !validPort(m[2]!)) throw badInput(`Invalid lightning_listen "${String(v)}" (expected host:port)`);
      break;
    }
    case 'rpcport':
    case 'watchtower_port':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1 || v > 65535) {
        throw badInput(`Invalid ${key} ${JSON.stringify(v)} (expected 1-65535)`);
      }
      break;
    case 'watchtower_url': {
      let url: URL | null = null;
      try {
        url = new URL(v as string);
      } catch {
        // reported below
      }
      if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || !url.port) throw badInput('watchtower_url must look like http://user:pass@host:port');
      break;
    }
    case 'oneserver':
    case 'use_recoverable_channels':
    case 'run_watchtower':
      if (typeof v !== 'boolean') throw badInput(`${key} must be true or false`);
      break;
  }
  return v;
}

function validPort(text: string): boolean {
  const port = Number(text);
  return Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** Splits "host:port". */
export function parseHostPort(text: string): { host: string; port: number } {
  const m = HOST_PORT_RE.exec(text);
  if (!m || !validPort(m[2]!)) throw badInput(`Invalid address "${text}" (expected host:port)`);
  return { host: m[1]!.replace(/^\[|\]$/g, ''), port: Number(m[2]) };
}

/**
 * The JSON config file of one network directory. Every `set` rewrites the file atomically
 * (temp file + rename, mode 0600: it holds the RPC password). Reads come from memory; `reload`
 * re-reads the file (the CLI does so to see what a daemon wrote).
 */
export class ConfigStore {
  private values: Record<string, unknown> = {};

  constructor(readonly file: string) {
    this.reload();
  }

  /** Re-reads the file. @throws FulmenError BAD_INPUT when the file is not a JSON object. */
  reload(): void {
    let text: string;
    try {
      text = fs.readFileSync(this.file, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        this.values = {};
        return;
      }
      throw new FulmenError('INTERNAL', `Cannot read config file ${this.file}: ${(err as Error).message}`);
    }
    let parsed: unknown;
    try {
      parsed = text.trim() === '' ? {} : JSON.parse(text);
    } catch {
      throw badInput(`Config file ${this.file} is not valid JSON; fix or delete it`);
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      throw badInput(`Config file ${this.file} must hold a JSON object`);
    }
    this.values = parsed as Record<string, unknown>;
  }

  /** The value, or null when unset. */
  get(key: string): unknown {
    return Object.prototype.hasOwnProperty.call(this.values, key) ? this.values[key] : null;
  }

  getString(key: string): string | null {
    const v = this.get(key);
    return typeof v === 'string' && v !== '' ? v : null;
  }

  getNumber(key: string): number | null {
    const v = this.get(key);
    return typeof v === 'number' && Number.isFinite(v) ? v : null;
  }

  /** A copy of every key. */
  all(): Record<string, unknown> {
    return { ...this.values };
  }

  /**
   * Normalises (see normalizeConfigValue) and stores `value`; null deletes the key.
   * @returns the stored value. @throws FulmenError BAD_INPUT for a malformed value of a known key.
   */
  set(key: string, value: unknown): unknown {
    const normalized = normalizeConfigValue(key, value);
    const next = { ...this.values };
    if (normalized === null || normalized === undefined) delete next[key];
    else next[key] = normalized;
    this.write(next);
    this.values = next;
    return normalized ?? null;
  }

  private write(values: Record<string, unknown>): void {
    fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const tmp = `${this.file}.tmp-${process.pid}`;
    fs.writeFileSync(tmp, JSON.stringify(values, null, 4) + '\n', { mode: 0o600 });
    fs.renameSync(tmp, this.file);
  }
}
