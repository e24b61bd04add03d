import { z } from 'zod';
import { parseBtcToSat } from '../util/money.js';

/**
 * Declarations of every Fulmen command: Electrum's name, parameter schema (Electrum's parameter
 * names), CLI positional order, short flag aliases and what the command needs. Pure data (zod
 * only, no Node modules) so the renderer can import it to validate forms and to type its client.
 *
 * Handlers live in core/api/commands.ts, keyed by the same names; result types in
 * core/api/client-types.ts. CLI parsing (core/daemon/cli.ts), JSON-RPC (core/daemon/server.ts)
 * and Electron IPC (electron/main.ts) are all driven by this table.
 *
 * Amount parameters take Electrum's BTC decimal strings ("0.001"; JSON-RPC numbers are accepted
 * too) and reach handlers as integer satoshis; `"!"` means "everything" where Electrum allows it.
 */

/** BTC amount at the edge ("0.001" or 0.001) → integer satoshis. */
export const btcAmount = z.union([z.string(), z.number()]).transform((value, ctx) => {
  const sat = btcToSatOrIssue(value);
  if (sat === null) {
    ctx.issues.push({ code: 'custom', message: `Invalid amount: ${JSON.stringify(value)} (expected BTC, e.g. 0.001)`, input: value });
    return z.NEVER;
  }
  return sat;
});

/** BTC amount or "!" (max) → integer satoshis or 'max'. */
export const btcAmountOrMax = z.union([z.string(), z.number()]).transform((value, ctx): number | 'max' => {
  if (value === '!') return 'max';
  const sat = btcToSatOrIssue(value);
  if (sat === null) {
    ctx.issues.push({ code: 'custom', message: `Invalid amount: ${JSON.stringify(value)} (expected BTC, e.g. 0.001, or ! for max)`, input: value });
    return z.NEVER;
  }
  return sat;
});

/** parseBtcToSat (core/util/money.ts, dependency-free) without throwing: null when invalid. */
function btcToSatOrIssue(value: string | number): number | null {
  try {
    return parseBtcToSat(value);
  } catch {
    return null;
  }
}

const password = z.string().optional().describe('wallet password');
const channelPoint = z
  .string()
  .regex(/^[0-9a-fA-F]{64}:\d+$/, 'expected a channel point <funding txid>:<output index>')
  .describe('channel point <txid>:<vout>');

/** What a command needs from the host before its handler runs. */
export interface CommandRequirements {
  /** A loaded wallet (`load_wallet` first on the daemon; `--offline` opens the file itself). */
  wallet?: boolean;
  /** A running daemon with network (chain, Lightning); refused with `--offline`. */
  daemon?: boolean;
}

/** One declared command (no handler). */
export interface CommandDeclaration<P extends z.ZodObject = z.ZodObject> {
  name: string;
  /** One line for `fulmen help` and the GUI. */
  description: string;
  /** Named parameters, Electrum's names. */
  params: P;
  /** CLI positional order (also the order of positional JSON-RPC `params` arrays). */
  positional: readonly string[];
  /** CLI short flags: `{ m: 'memo' }` makes `-m` an alias of `--memo`. */
  short?: Readonly<Record<string, string>>;
  requires: CommandRequirements;
  /** May run with `--offline` directly on the wallet file / config, without a daemon. */
  offline?: boolean;
  /**
   * Which hosts offer it. Default: all (CLI/JSON-RPC, Electron IPC, browser GUI).
   * 'cli': only meaningful to the command-line client/daemon process (daemon, stop, gui_url).
   */
  hosts?: 'all' | 'cli';
}

function declare<P extends z.ZodObject>(d: CommandDeclaration<P>): CommandDeclaration<P> {
  return d;
}

export const declarations = {
  version: declare({
    name: 'version',
    description: 'Return the version of Fulmen.',
    params: z.object({}),
    positional: [],
    requires: {},
    offline: true,
  }),
  create: declare({
    name: 'create',
    description: 'Create a new wallet (BIP39 seed, native segwit). Prints the seed once: write it down.',
    params: z.object({
      passphrase: z.string().optional().describe('seed extension (BIP39 passphrase)'),
      password,
      seed_type: z.enum(['segwit']).default('segwit').describe('seed type (only segwit)'),
    }),
    positional: [],
    requires: {},
    offline: true,
  }),
  restore: declare({
    name: 'restore',
    description: 'Restore a wallet from a BIP39 mnemonic.',
    params: z.object({
      text: z.string().min(1).describe('the mnemonic (12 or 24 words)'),
      passphrase: z.string().optional().describe('seed extension (BIP39 passphrase)'),
      password,
    }),
    positional: ['text'],
    requires: {},
    offline: true,
  }),
  setconfig: declare({
    name: 'setconfig',
    description: 'Set a configuration variable (values that parse as JSON are stored as JSON).',
    params: z.object({
      key: z.string().min(1).describe('configuration key'),
      value: z.unknown().describe('value (JSON or text); null deletes the key'),
    }),
    positional: ['key', 'value'],
    requires: {},
    offline: true,
  }),
  getconfig: declare({
    name: 'getconfig',
    description: 'Return the current value of a configuration variable (null when unset).',
    params: z.object({ key: z.string().min(1).describe('configuration key') }),
    positional: ['key'],
    requires: {},
    offline: true,
  }),
  daemon: declare({
    name: 'daemon',
    description: 'Run the daemon in the foreground, or detached with -d.',
    params: z.object({ detach: z.boolean().default(false).describe('run in the background') }),
    positional: [],
    short: { d: 'detach' },
    requires: {},
    hosts: 'cli',
  }),
  stop: declare({
    name: 'stop',
    description: 'Stop the daemon.',
    params: z.object({}),
    positional: [],
    requires: { daemon: true },
    hosts: 'cli',
  }),
  gui_url: declare({
    name: 'gui_url',
    description: 'Return the URL of the browser GUI served by the daemon (with a session token).',
    params: z.object({}),
    positional: [],
    requires: { daemon: true },
    hosts: 'cli',
  }),
  load_wallet: declare({
    name: 'load_wallet',
    description: 'Open the default wallet in the daemon, connect it to the network and start Lightning.',
    params: z.object({ password }),
    positional: [],
    requires: { daemon: true },
  }),
  close_wallet: declare({
    name: 'close_wallet',
    description: 'Close the loaded wallet (stops Lightning).',
    params: z.object({}),
    positional: [],
    requires: { daemon: true, wallet: true },
  }),
  getinfo: declare({
    name: 'getinfo',
    description: 'Network, server, heights, fee estimate, wallet path and Lightning node id.',
    params: z.object({}),
    positional: [],
    requires: {},
    offline: true,
  }),
  getbalance: declare({
    name: 'getbalance',
    description: 'Return the balance of your wallet (BTC).',
    params: z.object({}),
    positional: [],
    requires: { wallet: true },
    offline: true,
  }),
  getunusedaddress: declare({
    name: 'getunusedaddress',
    description: 'Return the first unused receiving address.',
    params: z.object({}),
    positional: [],
    requires: { wallet: true },
    offline: true,
  }),
  validateaddress: declare({
    name: 'validateaddress',
    description: 'Check that an address is valid for this network.',
    params: z.object({ address: z.string().describe('bitcoin address') }),
    positional: ['address'],
    requires: {},
    offline: true,
  }),
  payto: declare({
    name: 'payto',
    description: 'Create and sign a transaction (not broadcast; use broadcast). Amount "!" sends everything.',
    params: z.object({
      destination: z.string().min(1).describe('bitcoin address'),
      amount: btcAmountOrMax.describe('amount in BTC, or ! for max'),
      fee: btcAmount.optional().describe('absolute fee in BTC'),
      feerate: z.number().positive().optional().describe('fee rate in sat/vbyte'),
      rbf: z.boolean().default(true).describe('signal replace-by-fee (default true)'),
    }),
    positional: ['destination', 'amount'],
    requires: { wallet: true, daemon: true },
  }),
  broadcast: declare({
    name: 'broadcast',
    description: 'Broadcast a signed transaction; returns its txid.',
    params: z.object({ tx: z.string().regex(/^[0-9a-fA-F]+$/, 'expected a raw transaction in hex').describe('raw transaction (hex)') }),
    positional: ['tx'],
    requires: { wallet: true, daemon: true },
  }),
  onchain_history: declare({
    name: 'onchain_history',
    description: 'On-chain wallet history, newest first.',
    params: z.object({}),
    positional: [],
    requires: { wallet: true },
    offline: true,
  }),
  nodeid: declare({
    name: 'nodeid',
    description: 'Lightning node id (pubkey@host:port when listening).',
    params: z.object({}),
    positional: [],
    requires: { wallet: true, daemon: true },
  }),
  open_channel: declare({
    name: 'open_channel',
    description: 'Open a Lightning channel; returns the channel point.',
    params: z.object({
      connection_string: z.string().min(1).describe('node id, nodeid@host:port'),
      amount: btcAmount.describe('channel capacity in BTC'),
      push_amount: btcAmount.default(0).describe('amount given to the peer in BTC'),
    }),
    positional: ['connection_string', 'amount'],
    requires: { wallet: true, daemon: true },
  }),
  list_channels: declare({
    name: 'list_channels',
    description: 'List Lightning channels (balances in sat).',
    params: z.object({}),
    positional: [],
    requires: { wallet: true, daemon: true },
  }),
  close_channel: declare({
    name: 'close_channel',
    description: 'Close a channel cooperatively (--force: publish our commitment); returns the closing txid.',
    params: z.object({
      channel_point: channelPoint,
      force: z.boolean().default(false).describe('force close (unilateral)'),
    }),
    positional: ['channel_point'],
    requires: { wallet: true, daemon: true },
  }),
  get_channel_ctx: declare({
    name: 'get_channel_ctx',
    description: 'Return our latest signed commitment transaction. Broadcasting an old one loses funds.',
    params: z.object({
      channel_point: channelPoint,
      iknowwhatimdoing: z.boolean().default(false).describe('acknowledge the risk'),
    }),
    positional: ['channel_point'],
    requires: { wallet: true, daemon: true },
  }),
  add_request: declare({
    name: 'add_request',
    description: 'Create a payment request (Lightning invoice with on-chain fallback address).',
    params: z.object({
      amount: btcAmount.describe('amount in BTC (0 for any amount)'),
      memo: z.string().default('').describe('description'),
      expiry: z.number().int().positive().default(3600).describe('seconds'),
      force: z.boolean().default(false).describe('create even without enough inbound liquidity'),
    }),
    positional: ['amount'],
    short: { m: 'memo' },
    requires: { wallet: true },
  }),
  list_requests: declare({
    name: 'list_requests',
    description: 'List payment requests.',
    params: z.object({
      pending: z.boolean().default(false).describe('only unpaid, unexpired'),
      expired: z.boolean().default(false).describe('only expired'),
      paid: z.boolean().default(false).describe('only paid'),
    }),
    positional: [],
    requires: { wallet: true },
    offline: true,
  }),
  lnpay: declare({
    name: 'lnpay',
    description: 'Pay a BOLT11 Lightning invoice.',
    params: z.object({
      invoice: z.string().min(1).describe('BOLT11 invoice'),
      timeout: z.number().int().positive().default(120).describe('seconds'),
    }),
    positional: ['invoice'],
    requires: { wallet: true, daemon: true },
  }),
  lightning_history: declare({
    name: 'lightning_history',
    description: 'Lightning payments, newest first.',
    params: z.object({}),
    positional: [],
    requires: { wallet: true, daemon: true },
  }),
  history: declare({
    name: 'history',
    description: 'On-chain and Lightning history merged, newest first.',
    params: z.object({}),
    positional: [],
    requires: { wallet: true },
  }),
  decode_invoice: declare({
    name: 'decode_invoice',
    description: 'Decode a BOLT11 invoice.',
    params: z.object({ invoice: z.string().min(1).describe('BOLT11 invoice') }),
    positional: ['invoice'],
    requires: {},
    offline: true,
  }),
} as const;

export type Declarations = typeof declarations;
export type CommandName = keyof Declarations;
/** Parameters as a caller passes them (BTC strings, optional flags). */
export type ParamsIn<K extends CommandName> = z.input<Declarations[K]['params']>;
/** Parameters as a handler receives them (satoshis, defaults applied). */
export type ParamsOut<K extends CommandName> = z.output<Declarations[K]['params']>;

export const commandNames = Object.keys(declarations) as CommandName[];

export function isCommandName(name: string): name is CommandName {
  return Object.prototype.hasOwnProperty.call(declarations, name);
}
