import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import type { z } from 'zod';
import { type CommandDeclaration, type CommandName, commandNames, declarations, isCommandName } from '../api/schemas.js';
import { commandTable } from '../api/commands.js';
import { FulmenApp, parseParams } from '../app.js';
import type { NetworkName } from '../bitcoin/network.js';
import { badInput, FulmenError, toFulmenError } from '../util/errors.js';
import { ConfigStore, dataPaths, defaultBaseDir } from './config.js';
import { DaemonNotRunning, rpcCall, rpcEndpointFromConfig } from './rpc-client.js';
import { DaemonServer } from './server.js';

/**
 * The `fulmen` command line, Electrum's conventions:
 *
 *   fulmen [--regtest|--testnet|--testnet4|--signet] [-D DIR] [--offline] [-W PASSWORD] <command> [args] [--flag value]
 *
 * `daemon` runs the daemon (foreground; `-d` detaches and returns once it answers), `stop` stops
 * it; every other command goes to the running daemon over JSON-RPC (port and credentials from
 * the config). Commands marked offline (create, restore, setconfig, getconfig, read-only wallet
 * commands) run directly on the files with `--offline`, or when no daemon is running.
 *
 * Output is Electrum's: a string result printed as is, anything else as JSON with 4-space
 * indentation and sorted keys, nothing for null. Errors: message on stderr, exit code 1.
 */

export interface GlobalOptions {
  network: NetworkName;
  baseDir: string;
  offline: boolean;
  password: string | undefined;
  help: boolean;
}

export interface ParsedCommandLine {
  globals: GlobalOptions;
  /** null: no command (print help). */
  command: CommandName | 'help' | null;
  /** Named params, converted to the schema's primitive types; for 'help', `{ command? }`. */
  params: Record<string, unknown>;
}

const GLOBAL_OPTIONS = {
  regtest: { type: 'boolean' },
  testnet: { type: 'boolean' },
  testnet4: { type: 'boolean' },
  signet: { type: 'boolean' },
  dir: { type: 'string', short: 'D' },
  offline: { type: 'boolean', short: 'o' },
  password: { type: 'string', short: 'W' },
  help: { type: 'boolean', short: 'h' },
} as const satisfies ParseArgsConfig['options'];

/** Global options that take a value (so their value is not mistaken for the command name). */
const VALUE_OPTIONS = new Set(['-D', '--dir', '-W', '--password']);

type ParamKind = 'boolean' | 'number' | 'string';

/** The primitive a parameter takes on the command line, read from its zod schema. */
export function paramKind(schema: z.ZodType): ParamKind {
  let s: z.ZodType = schema;
  for (;;) {
    const def = (s as unknown as { _zod: { def: { type: string; innerType?: z.ZodType; in?: z.ZodType } } })._zod.def;
    if ((def.type === 'optional' || def.type === 'default' || def.type === 'nullable' || def.type === 'prefault') && def.innerType) {
      s = def.innerType;
    } else if (def.type === 'pipe' && def.in) {
      s = def.in;
    } else if (def.type === 'boolean') {
      return 'boolean';
    } else if (def.type === 'number' || def.type === 'int') {
      return 'number';
    } else {
      return 'string';
    }
  }
}

function shapeOf(decl: CommandDeclaration): Record<string, z.ZodType> {
  return decl.params.shape as Record<string, z.ZodType>;
}

/**
 * Parses argv (without node and script) into globals, command and named params, driven by the
 * command table: positionals in the command's positional order, one `--name` flag per other
 * parameter (`--no-name` for booleans), short aliases from the table. Numbers are converted;
 * amounts stay strings (parsed exactly later).
 * @throws FulmenError BAD_INPUT for unknown commands/options or too many arguments.
 */
export function parseCommandLine(argv: readonly string[]): ParsedCommandLine {
  let commandIndex = -1;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (VALUE_OPTIONS.has(arg)) {
      i++;
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') {
      commandIndex = i;
      break;
    }
  }
  const commandWord = commandIndex >= 0 ? argv[commandIndex]! : null;
  if (commandWord !== null && commandWord !== 'help' && !isCommandName(commandWord)) {
    throw badInput(`Unknown command: ${commandWord}. Run "fulmen help" for the list.`);
  }
  const decl = commandWord && commandWord !== 'help' ? (declarations[commandWord as CommandName] as CommandDeclaration) : null;

  const options: NonNullable<ParseArgsConfig['options']> = { ...GLOBAL_OPTIONS };
  const shape = decl ? shapeOf(decl) : {};
  const shortByName = new Map(Object.entries(decl?.short ?? {}).map(([s, n]) => [n, s]));
  for (const [name, schema] of Object.entries(shape)) {
    if (decl!.positional.includes(name)) continue;
    if (name in options) continue; // `password` is also a global option (-W)
    const short = shortByName.get(name);
    options[name] = { type: paramKind(schema) === 'boolean' ? 'boolean' : 'string', ...(short ? { short } : {}) };
  }
  const rest = commandIndex >= 0 ? [...argv.slice(0, commandIndex), ...argv.slice(commandIndex + 1)] : [...argv];
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, allowNegative: true, strict: true });
  } catch (err) {
    throw badInput(`${(err as Error).message.replace(/\. To specify a positional.*$/s, '')}${decl ? ` (see "fulmen help ${decl.name}")` : ''}`);
  }
  const values = parsed.values as Record<string, string | boolean | undefined>;
  const networks = (['regtest', 'testnet', 'testnet4', 'signet'] as const).filter((n) => values[n] === true);
  if (networks.length > 1) throw badInput('Choose one network: --regtest, --testnet, --testnet4 or --signet');
  const globals: GlobalOptions = {
    network: networks[0] ?? 'mainnet',
    baseDir: (values.dir as string | undefined) ?? defaultBaseDir(),
    offline: values.offline === true,
    password: values.password as string | undefined,
    help: values.help === true,
  };

  if (commandWord === null || commandWord === 'help') {
    if (parsed.positionals.length > 1) throw badInput('help takes at most one command name');
    return { globals, command: commandWord === null ? null : 'help', params: parsed.positionals[0] ? { command: parsed.positionals[0] } : {} };
  }
  const params: Record<string, unknown> = {};
  const positionals = parsed.positionals;
  if (positionals.length > decl!.positional.length) {
    throw badInput(
      `${decl!.name} takes ${decl!.positional.length ? decl!.positional.join(', ') : 'no positional arguments'}; got ${positionals.length} argument(s)`,
    );
  }
  positionals.forEach((value, i) => {
    const name = decl!.positional[i]!;
    params[name] = convert(value, paramKind(shape[name]!));
  });
  for (const [name, schema] of Object.entries(shape)) {
    if (decl!.positional.includes(name)) continue;
    const v = name === 'password' ? globals.password : values[name];
    if (v === undefined) continue;
    params[name] = typeof v === 'boolean' ? v : convert(v, paramKind(schema));
  }
  return { globals, command: decl!.name as CommandName, params };
}

/** CLI text → the parameter's primitive ("3600" → 3600); a non-number stays a string so the schema names the problem. */
function convert(value: string, kind: ParamKind): unknown {
  if (kind === 'number') {
    const n = Number(value);
    return value.trim() !== '' && Number.isFinite(n) ? n : value;
  }
  if (kind === 'boolean') {
    if (value === 'true') return true;
    if (value === 'false') return false;
  }
  return value;
}

/** JSON with 4-space indentation and sorted keys (Electrum's json_encode). */
export function formatJson(value: unknown): string {
  const sort = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(sort);
    if (v && typeof v === 'object') {
      return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort((v as Record<string, unknown>)[k])]));
    }
    return typeof v === 'bigint' ? v.toString() : v;
  };
  return JSON.stringify(sort(value), null, 4);
}

/** Electrum's output rule: strings raw, null nothing, everything else formatJson. */
export function formatResult(result: unknown): string | null {
  if (result === null || result === undefined) return null;
  if (typeof result === 'string') return result;
  return formatJson(result);
}

/** `fulmen help [command]`. */
export function helpText(command?: string): string {
  if (command) {
    if (!isCommandName(command)) throw badInput(`Unknown command: ${command}`);
    const decl = declarations[command] as CommandDeclaration;
    const shape = shapeOf(decl);
    const shortByName = new Map(Object.entries(decl.short ?? {}).map(([s, n]) => [n, s]));
    const lines = [`fulmen ${decl.name}${decl.positional.map((p) => ` <${p}>`).join('')}`, '', `  ${decl.description}`, ''];
    for (const [name, schema] of Object.entries(shape)) {
      const flag = decl.positional.includes(name) ? `<${name}>` : `${shortByName.has(name) ? `-${shortByName.get(name)}, ` : ''}--${name}`;
      lines.push(`  ${flag.padEnd(26)} ${schema.description ?? ''}`);
    }
    const needs = [decl.requires.wallet ? 'a loaded wallet' : null, decl.requires.daemon ? 'the daemon' : null].filter(Boolean);
    if (needs.length) lines.push('', `  Needs ${needs.join(' and ')}.${decl.offline ? ' Runs with --offline.' : ''}`);
    else if (decl.offline) lines.push('', '  Runs with --offline.');
    return lines.join('\n');
  }
  const lines = [
    'Usage: fulmen [--regtest|--testnet|--testnet4|--signet] [-D DIR] [--offline] [-W PASSWORD] <command> [args]',
    '',
    'Commands:',
  ];
  for (const name of commandNames) {
    const decl = declarations[name] as CommandDeclaration;
    lines.push(`  ${name.padEnd(20)} ${decl.description}`);
  }
  lines.push('', 'Run "fulmen help <command>" for its arguments.');
  return lines.join('\n');
}

export interface CliIo {
  stdout: (text: string) => void;
  stderr: (text: string) => void;
}

const defaultIo: CliIo = {
  stdout: (t) => process.stdout.write(t + '\n'),
  stderr: (t) => process.stderr.write(t + '\n'),
};

/**
 * Runs one command line. Returns the exit code (0 ok, 1 error); `daemon` in the foreground
 * resolves when the daemon stops.
 */
export async function runCli(argv: readonly string[], io: CliIo = defaultIo): Promise<number> {
  try {
    const cmd = parseCommandLine(argv);
    if (cmd.command === null || cmd.command === 'help' || cmd.globals.help) {
      const topic = cmd.command === 'help' ? (cmd.params.command as string | undefined) : cmd.command ?? undefined;
      io.stdout(helpText(topic));
      return 0;
    }
    const result = await execute(cmd, io);
    const text = formatResult(result);
    if (text !== null) io.stdout(text);
    return 0;
  } catch (err) {
    const e = toFulmenError(err);
    io.stderr(e.code === 'INTERNAL' ? `Error: ${e.message}` : e.message);
    return 1;
  }
}

async function execute(cmd: ParsedCommandLine, io: CliIo): Promise<unknown> {
  const { globals } = cmd;
  const name = cmd.command as CommandName;
  const decl = declarations[name] as CommandDeclaration;
  if (name === 'daemon') {
    if (globals.offline) throw badInput('daemon cannot run with --offline');
    return cmd.params.detach === true ? startDetached(globals, io) : runDaemonForeground(globals, io);
  }
  // Check the parameters here too, so a typo gets a clear message even without a daemon.
  parseParams(commandTable.get(name)!, cmd.params);
  if (globals.offline) return runOffline(cmd);
  const config = new ConfigStore(dataPaths(globals.baseDir, globals.network).config);
  const endpoint = rpcEndpointFromConfig(config);
  try {
    if (!endpoint) throw new DaemonNotRunning();
    return await rpcCall(endpoint, name, cmd.params);
  } catch (err) {
    // Electrum: without a daemon, commands that need none run directly on the files.
    if (err instanceof DaemonNotRunning && decl.offline) return runOffline(cmd);
    throw err;
  }
}

/** Runs an offline-capable command in this process, without network. */
async function runOffline(cmd: ParsedCommandLine): Promise<unknown> {
  const name = cmd.command as CommandName;
  const decl = declarations[name] as CommandDeclaration;
  const app = new FulmenApp({ network: cmd.globals.network, baseDir: cmd.globals.baseDir, offline: true });
  try {
    if (decl.requires.wallet) app.openWalletOffline(cmd.globals.password);
    return await app.call(name, cmd.params);
  } finally {
    await app.close();
  }
}

/** Starts the daemon in this process; resolves when it stops (the `stop` command or a signal). */
async function runDaemonForeground(globals: GlobalOptions, io: CliIo): Promise<string> {
  const app = new FulmenApp({ network: globals.network, baseDir: globals.baseDir });
  const existing = rpcEndpointFromConfig(app.config);
  if (existing && (await answers(existing))) throw badInput('Daemon already running');
  const server = new DaemonServer({ app });
  try {
    await app.start();
    await server.start();
  } catch (err) {
    await app.close();
    throw err;
  }
  const onSignal = (): void => void server.stop();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  io.stderr(`Fulmen daemon (${globals.network}) listening on http://127.0.0.1:${server.port}`);
  io.stderr(`GUI: ${server.guiUrl()}`);
  await server.stopped;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  return 'Daemon stopped';
}

async function answers(endpoint: NonNullable<ReturnType<typeof rpcEndpointFromConfig>>): Promise<boolean> {
  try {
    await rpcCall(endpoint, 'version', {}, 5_000);
    return true;
  } catch (err) {
    return !(err instanceof DaemonNotRunning) && !(err instanceof FulmenError && err.code === 'TIMEOUT');
  }
}

/**
 * `daemon -d`: spawns this same script as a detached `daemon` (output to <dir>/logs/daemon.log),
 * waits until its JSON-RPC answers, then returns. @throws FulmenError when it exits or times out.
 */
async function startDetached(globals: GlobalOptions, io: CliIo): Promise<null> {
  const paths = dataPaths(globals.baseDir, globals.network);
  const config = new ConfigStore(paths.config);
  const before = rpcEndpointFromConfig(config);
  if (before && (await answers(before))) throw badInput('Daemon already running');
  fs.mkdirSync(paths.logsDir, { recursive: true, mode: 0o700 });
  const logFile = path.join(paths.logsDir, 'daemon.log');
  const log = fs.openSync(logFile, 'a', 0o600);
  const script = process.argv[1];
  if (!script) throw new FulmenError('INTERNAL', 'Cannot find the fulmen script to start the daemon');
  const args = [...process.execArgv, script, '-D', globals.baseDir, ...(globals.network === 'mainnet' ? [] : [`--${globals.network}`]), 'daemon'];
  const child = spawn(process.execPath, args, { detached: true, stdio: ['ignore', log, log], env: process.env });
  fs.closeSync(log);
  let exitCode: number | null = null;
  child.once('exit', (code) => (exitCode = code ?? 1));
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exitCode !== null) throw new FulmenError('INTERNAL', `The daemon exited (code ${exitCode}); see ${logFile}`);
    if (Date.now() > deadline) throw new FulmenError('TIMEOUT', `The daemon did not answer within 60 s; see ${logFile}`);
    config.reload();
    const endpoint = rpcEndpointFromConfig(config);
    if (endpoint && (await answers(endpoint))) {
      io.stderr(`starting daemon (PID ${child.pid})`);
      const url = await rpcCall(endpoint, 'gui_url', {}).catch(() => null);
      if (typeof url === 'string') io.stderr(`GUI: ${url}`);
      child.unref();
      return null;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}
