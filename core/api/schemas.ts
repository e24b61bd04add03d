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
const txidParam = z.string().regex(/^[0-9a-fA-F]{64}$/, 'expected a txid (64 hex digits)');
/** Electrum's --from_coins: comma-separated txid:vout list (or a JSON array). */
const fromCoins = z
  .union([z.string(), z.array(z.string())])
  .optional()
  .transform((v, ctx): string[] | undefined => {
    if (v === undefined) return undefined;
    const list = (Array.isArray(v) ? v : v.split(',')).map((c) => c.trim()).filter((c) => c !== '');
    for (const c of list) {
      if (!/^[0-9a-fA-F]{64}:\d+$/.test(c)) {
        ctx.issues.push({ code: 'custom', message: `invalid coin "${c}" (expected txid:vout)`, input: v });
        return z.NEVER;
      }
    }
    return list;
  })
  .describe('spend only these coins: txid:vout,txid:vout');
const feeRateSatVb = z.number().positive().max(100_000);
/** A PSBT (base64 or hex) or a raw transaction (hex). */
const txOrPsbt = z.string().min(1).describe('PSBT (base64) or raw transaction (hex)');
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
    description:
      'Restore a wallet from an Electrum segwit seed, a BIP39 mnemonic, or a zpub/vpub (watch-only). Detected as Electrum does: Electrum seed first, then BIP39.',
    params: z.object({
      text: z.string().min(1).describe('the seed words, or an extended public key for a watch-only wallet'),
      passphrase: z.string().optional().describe('seed extension (BIP39 or Electrum passphrase)'),
      password,
      seed_type: z.enum(['electrum', 'bip39']).optional().describe('force how the words are read'),
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
  list_server_bans: declare({
    name: 'list_server_bans',
    description: 'List the Electrum servers banned for lying (invalid header, proof or answer), with reason and expiry.',
    params: z.object({}),
    positional: [],
    requires: { daemon: true },
  }),
  unban_server: declare({
    name: 'unban_server',
    description: 'Lift the ban of an Electrum server (host:port:t|s) you trust again; it is connected again if in use.',
    params: z.object({
      server: z
        .string()
        .trim()
        .regex(/^(\[[0-9a-fA-F:.]+\]|[^:\s[\]]+):\d{1,5}:[ts]$/, 'expected host:port:t or host:port:s')
        .describe('server as listed by list_server_bans (host:port:t|s)'),
    }),
    positional: ['server'],
    requires: { daemon: true },
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
    description:
      'Create and sign a transaction (not broadcast; use broadcast). Amount "!" sends everything. --unsigned (or a watch-only wallet) returns a PSBT.',
    params: z.object({
      destination: z.string().min(1).describe('bitcoin address'),
      amount: btcAmountOrMax.describe('amount in BTC, or ! for max'),
      fee: btcAmount.optional().describe('absolute fee in BTC'),
      feerate: z.number().positive().optional().describe('fee rate in sat/vbyte'),
      rbf: z.boolean().default(true).describe('signal replace-by-fee (default true)'),
      from_coins: fromCoins,
      unsigned: z.boolean().default(false).describe('return an unsigned PSBT (base64)'),
    }),
    positional: ['destination', 'amount'],
    requires: { wallet: true, daemon: true },
  }),
  broadcast: declare({
    name: 'broadcast',
    description: 'Broadcast a signed transaction (raw hex, or a complete PSBT); returns its txid.',
    params: z.object({
      tx: z
        .string()
        .regex(/^(?:[0-9a-fA-F]+|cHNidP8[A-Za-z0-9+/=\s]+)$/, 'expected a raw transaction in hex or a PSBT')
        .describe('raw transaction (hex) or finalized PSBT (base64)'),
    }),
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
  getmpk: declare({
    name: 'getmpk',
    description: 'Return the master public key of the wallet (zpub/vpub).',
    params: z.object({}),
    positional: [],
    requires: { wallet: true },
    offline: true,
  }),
  listunspent: declare({
    name: 'listunspent',
    description: 'List unspent outputs (coins), with their frozen state.',
    params: z.object({}),
    positional: [],
    requires: { wallet: true },
    offline: true,
  }),
  freeze_utxo: declare({
    name: 'freeze_utxo',
    description: 'Freeze a coin (txid:vout): it is never spent unless unfrozen.',
    params: z.object({ coin: z.string().regex(/^[0-9a-fA-F]{64}:\d+$/, 'expected txid:vout').describe('coin txid:vout') }),
    positional: ['coin'],
    requires: { wallet: true },
    offline: true,
  }),
  unfreeze_utxo: declare({
    name: 'unfreeze_utxo',
    description: 'Unfreeze a coin (txid:vout).',
    params: z.object({ coin: z.string().regex(/^[0-9a-fA-F]{64}:\d+$/, 'expected txid:vout').describe('coin txid:vout') }),
    positional: ['coin'],
    requires: { wallet: true },
    offline: true,
  }),
  listaddresses: declare({
    name: 'listaddresses',
    description: 'List wallet addresses (receiving and change) with used state, balance and label. Filters as Electrum.',
    params: z.object({
      receiving: z.boolean().default(false).describe('only receiving addresses'),
      change: z.boolean().default(false).describe('only change addresses'),
      unused: z.boolean().default(false).describe('only addresses without history'),
      funded: z.boolean().default(false).describe('only addresses with a balance'),
    }),
    positional: [],
    requires: { wallet: true },
    offline: true,
  }),
  gettransaction: declare({
    name: 'gettransaction',
    description: 'Return a transaction the wallet stores, raw hex (decode it with deserialize).',
    params: z.object({ txid: txidParam.describe('transaction id') }),
    positional: ['txid'],
    requires: { wallet: true },
    offline: true,
  }),
  paytomany: declare({
    name: 'paytomany',
    description: 'Create and sign a transaction with several outputs: [["address", amount], ...]; one amount may be "!".',
    params: z.object({
      outputs: z
        .union([z.string(), z.array(z.tuple([z.string(), z.union([z.string(), z.number()])]))])
        .describe('JSON list of [address, amount in BTC]'),
      fee: btcAmount.optional().describe('absolute fee in BTC'),
      feerate: z.number().positive().optional().describe('fee rate in sat/vbyte'),
      rbf: z.boolean().default(true).describe('signal replace-by-fee (default true)'),
      from_coins: fromCoins,
      unsigned: z.boolean().default(false).describe('return an unsigned PSBT (base64)'),
    }),
    positional: ['outputs'],
    requires: { wallet: true, daemon: true },
  }),
  getfeerate: declare({
    name: 'getfeerate',
    description: 'Suggested fee rate in sat/kvB: by confirmation target (eta) or by mempool depth (mempool).',
    params: z.object({
      fee_method: z.enum(['eta', 'mempool']).default('eta').describe('eta: server estimate; mempool: from the fee histogram'),
      target: z.number().int().min(1).max(1008).default(2).describe('eta: confirmation target in blocks'),
      depth: z.number().int().positive().default(1_000_000).describe('mempool: vbytes from the top of the mempool'),
    }),
    positional: [],
    requires: { daemon: true },
  }),
  getfeehistogram: declare({
    name: 'getfeehistogram',
    description: "The server's mempool fee histogram ([sat/vB, vsize] pairs) and the ETA of a fee rate.",
    params: z.object({ feerate: feeRateSatVb.optional().describe('fee rate in sat/vB to estimate the ETA of') }),
    positional: ['feerate'],
    requires: { daemon: true },
  }),
  bumpfee: declare({
    name: 'bumpfee',
    description: 'Replace an unconfirmed transaction of ours (RBF) with one paying new_fee_rate; returns it (not broadcast).',
    params: z.object({
      tx: z.string().min(1).describe('txid (or raw hex) of the transaction to replace'),
      new_fee_rate: feeRateSatVb.describe('fee rate in sat/vB'),
      unsigned: z.boolean().default(false).describe('return an unsigned PSBT'),
    }),
    positional: ['tx', 'new_fee_rate'],
    requires: { wallet: true },
    offline: true,
  }),
  dscancel: declare({
    name: 'dscancel',
    description: 'Cancel an unconfirmed transaction of ours: double-spend its inputs to ourselves at new_fee_rate; returns it (not broadcast).',
    params: z.object({
      tx: z.string().min(1).describe('txid (or raw hex) of the transaction to cancel'),
      new_fee_rate: feeRateSatVb.describe('fee rate in sat/vB'),
      unsigned: z.boolean().default(false).describe('return an unsigned PSBT'),
    }),
    positional: ['tx', 'new_fee_rate'],
    requires: { wallet: true },
    offline: true,
  }),
  cpfp: declare({
    name: 'cpfp',
    description: 'Child pays for parent: spend our outputs of an unconfirmed transaction so the pair pays fee_rate; returns the child (not broadcast).',
    params: z.object({
      txid: txidParam.describe('the unconfirmed parent'),
      fee_rate: feeRateSatVb.describe('fee rate for parent and child together, sat/vB'),
      unsigned: z.boolean().default(false).describe('return an unsigned PSBT'),
    }),
    positional: ['txid', 'fee_rate'],
    requires: { wallet: true, daemon: true },
  }),
  signtransaction: declare({
    name: 'signtransaction',
    description: 'Sign the inputs of a PSBT that belong to this wallet; returns the raw transaction when complete, else the PSBT.',
    params: z.object({ tx: txOrPsbt, password }),
    positional: ['tx'],
    requires: { wallet: true },
    offline: true,
  }),
  serialize: declare({
    name: 'serialize',
    description: 'Finalize a fully signed PSBT and return the raw transaction (hex).',
    params: z.object({ tx: txOrPsbt }),
    positional: ['tx'],
    requires: {},
    offline: true,
  }),
  convert_psbt: declare({
    name: 'convert_psbt',
    description: 'Convert a PSBT between version 0 (BIP174) and version 2 (BIP370); returns it in base64.',
    params: z.object({
      tx: z.string().min(1).describe('PSBT (base64 or hex), version 0 or 2'),
      version: z.union([z.literal(0), z.literal(2)]).default(2).describe('PSBT version to return: 0 or 2 (default 2)'),
    }),
    positional: ['tx', 'version'],
    requires: {},
    offline: true,
  }),
  deserialize: declare({
    name: 'deserialize',
    description: 'Decode a raw transaction or PSBT (load a PSBT): inputs, outputs, fee, signing state.',
    params: z.object({ tx: txOrPsbt }),
    positional: ['tx'],
    requires: {},
    offline: true,
  }),
  setlabel: declare({
    name: 'setlabel',
    description: 'Set the label of a txid, address or coin (txid:vout); an empty label removes it.',
    params: z.object({ key: z.string().min(1).describe('txid, address or txid:vout'), label: z.string().describe('label') }),
    positional: ['key', 'label'],
    requires: { wallet: true },
    offline: true,
  }),
  export_labels: declare({
    name: 'export_labels',
    description: 'Export labels and frozen coins as BIP329 JSON Lines (print; redirect to a file).',
    params: z.object({}),
    positional: [],
    requires: { wallet: true },
    offline: true,
  }),
  import_labels: declare({
    name: 'import_labels',
    description: 'Import BIP329 JSON Lines labels (the file content); returns the number of records applied.',
    params: z.object({ labels: z.string().describe('BIP329 JSON Lines') }),
    positional: ['labels'],
    requires: { wallet: true },
    offline: true,
  }),
  export_history: declare({
    name: 'export_history',
    description: 'On-chain history as CSV (print; redirect to a file).',
    params: z.object({}),
    positional: [],
    requires: { wallet: true },
    offline: true,
  }),
  signmessage: declare({
    name: 'signmessage',
    description: 'Sign a message with the key of one of our addresses (base64 signature).',
    params: z.object({
      address: z.string().min(1).describe('bitcoin address of this wallet'),
      message: z.string().describe('message'),
      password,
      bip137: z.boolean().default(false).describe('use the BIP137 P2WPKH header (39-42, Trezor) instead of Electrum\'s'),
    }),
    positional: ['address', 'message'],
    requires: { wallet: true },
    offline: true,
  }),
  verifymessage: declare({
    name: 'verifymessage',
    description: 'Verify a signed message against an address.',
    params: z.object({
      address: z.string().min(1).describe('bitcoin address'),
      signature: z.string().min(1).describe('base64 signature'),
      message: z.string().describe('message'),
    }),
    positional: ['address', 'signature', 'message'],
    requires: {},
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
      zeroconf: z.boolean().default(false).describe('zero-conf channel (option_zeroconf): usable before the funding confirms; the peer must trust us'),
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
  get_channel_sweeps: declare({
    name: 'get_channel_sweeps',
    description: 'A closed channel on chain: how it closed, its sweeps, what is still locked and until which block.',
    params: z.object({ channel_point: channelPoint }),
    positional: ['channel_point'],
    requires: { wallet: true, daemon: true },
  }),
  export_channel_backup: declare({
    name: 'export_channel_backup',
    description: 'Export a static backup of a channel (encrypted with a key from the seed).',
    params: z.object({ channel_point: channelPoint }),
    positional: ['channel_point'],
    requires: { wallet: true, daemon: true },
  }),
  import_channel_backup: declare({
    name: 'import_channel_backup',
    description: 'Import a channel backup made by this wallet (same seed); it is listed with type BACKUP.',
    params: z.object({ encrypted: z.string().min(1).describe('the backup text (fulmen_backup:...)') }),
    positional: ['encrypted'],
    requires: { wallet: true, daemon: true },
  }),
  request_force_close: declare({
    name: 'request_force_close',
    description: 'Ask the peer of a backup channel to force close it; our to_remote is then swept.',
    params: z.object({
      channel_point: channelPoint,
      connection_string: z.string().optional().describe('nodeid@host:port, when the backup has no usable address'),
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
