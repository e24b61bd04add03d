/**
 * The typed contract between a GUI and whichever host runs it (Electron IPC, or the daemon's
 * WebSocket). Type-only except for re-exported names: importable by renderer code without
 * pulling Node modules.
 *
 * Transport, identical for both hosts:
 *  - Electron: `window.fulmen.call(method, params)` → Promise<result>, rejects with
 *    `{ code: ErrorCode, message }`; `window.fulmen.on(event, handler)` → unsubscribe function.
 *  - Browser (daemon at http://127.0.0.1:PORT/?token=T): WebSocket `ws://127.0.0.1:PORT/ws?token=T`
 *    (the session cookie set when index.html was served also works). Send
 *    `{ id, method, params }`, receive `{ id, result }` or `{ id, error: { code, message } }`;
 *    pushed events arrive as `{ event, data }` (see core/api/events.ts).
 *
 * Amount conventions follow Electrum: BTC decimal strings in results ("0.001"), except
 * list_channels balances (integer sat) and Lightning history (`amount_msat`, integer msat).
 */
import type { ErrorCode } from '../util/errors.js';
import type { CommandName, ParamsIn } from './schemas.js';
import type { ChannelInfo as LightningChannelInfo } from '../lightning/node.js';

export type { CommandName } from './schemas.js';
export type { ErrorCode } from '../util/errors.js';
export type { FulmenEvents, FulmenEventName, FulmenEventMessage } from './events.js';

/** An error as it crosses a host boundary. */
export interface FulmenCallError {
  code: ErrorCode;
  message: string;
}

export interface CreateResult {
  /** The new mnemonic: shown once, never stored in clear when a password is set. */
  seed: string;
  path: string;
  msg: string;
}

export interface RestoreResult {
  path: string;
  msg: string;
  /** How the text was read: BIP39 mnemonic, Electrum segwit seed, or extended public key (watch-only). */
  seed_type: 'bip39' | 'electrum' | 'xpub';
}

/** One ban of list_server_bans: an Electrum server caught lying, not used until `expires_at`. */
export interface ServerBanItem {
  /** `host:port:t|s`. */
  server: string;
  /** What the server was caught at (e.g. an invalid header or merkle proof). */
  reason: string;
  /** Unix seconds. */
  banned_at: number;
  /** Unix seconds; the ban is lifted by itself then (or earlier by unban_server). */
  expires_at: number;
}

/** One coin of listunspent (Electrum's shape, plus `frozen` and `label`). */
export interface UnspentItem {
  address: string;
  /** BTC string. */
  value: string;
  value_sat: number;
  prevout_hash: string;
  prevout_n: number;
  /** 0 while unconfirmed. */
  height: number;
  coinbase: boolean;
  /** Coinbase output with fewer than 100 confirmations: not spendable yet (coin control cannot pick it). */
  immature: boolean;
  frozen: boolean;
  label: string;
}

/**
 * One address of listaddresses. Electrum prints bare strings (or tuples with --balance/--labels);
 * Fulmen always returns records so the GUI and scripts read named fields.
 */
export interface AddressItem {
  address: string;
  type: 'receiving' | 'change';
  /** Index on its chain (m/84'/coin'/0'/(0|1)/index). */
  index: number;
  /** Has history (on chain or in a local transaction). */
  used: boolean;
  /** Unspent value on the address (confirmed and unconfirmed), BTC string. */
  balance: string;
  balance_sat: number;
  /** Number of unspent coins on the address. */
  coins: number;
  label: string;
}

export interface FeeHistogramResult {
  /** [feerate sat/vB, vsize] pairs, feerate descending (mempool.get_fee_histogram). */
  histogram: [number, number][];
  /** Present when a feerate was given. */
  feerate?: number;
  /** Estimated blocks to confirm at `feerate` if no new transactions arrived. */
  eta_blocks?: number;
  /** vbytes of mempool paying more than `feerate`. */
  depth_vbytes?: number;
}

/** deserialize: a transaction or PSBT, decoded. */
export interface DeserializedTx {
  txid: string;
  /** True for a PSBT whose inputs are all finalized, or a raw transaction. */
  complete: boolean;
  is_psbt: boolean;
  version: number;
  locktime: number;
  vsize: number;
  /** Known when every input's value is known (PSBT UTXO fields, or our coins). */
  fee_sat: number | null;
  inputs: { prevout_hash: string; prevout_n: number; nsequence: number; value_sat: number | null; address: string | null; is_mine: boolean; signed: boolean }[];
  outputs: { address: string | null; scriptpubkey: string; value_sat: number; is_mine: boolean }[];
}

export interface GetInfoResult {
  network: 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest';
  /** Data directory of this network. */
  path: string;
  /** `host:port:t|s` of the configured server. */
  server: string;
  /** Our validated header-chain height (0 before the first header). */
  blockchain_height: number;
  /** The server's announced height. */
  server_height: number;
  connected: boolean;
  /** Fee estimate (2 blocks) in sat/kvB, null when unknown. */
  fee_per_kb: number | null;
  /** Number of connected servers. */
  spv_nodes: number;
  version: string;
  /** Path of the default wallet file (exists or not). */
  default_wallet: string;
  wallet_loaded: boolean;
  wallet_exists: boolean;
  lightning_node_id?: string;
}

/** Electrum's getbalance: keys other than `confirmed` are present only when non-zero. */
export interface BalanceResult {
  confirmed: string;
  unconfirmed?: string;
  unmatured?: string;
  lightning?: string;
  /**
   * Part of the on-chain balance kept for the fees of force closes of option_anchors channels
   * (core/wallet/reserve.ts): sends and channel opens cannot spend it. Fulmen's addition.
   */
  reserved?: string;
}

export interface OnchainHistoryItem {
  txid: string;
  /** 0: mempool. */
  height: number;
  confirmations: number;
  /** Unix seconds, null while unconfirmed. */
  timestamp: number | null;
  /** ISO 8601, null while unconfirmed. */
  date: string | null;
  /** Net effect on the wallet, signed BTC string ("-0.001"). */
  bc_value: string;
  /** Wallet balance after this transaction, BTC string. */
  bc_balance: string;
  fee_sat: number | null;
  label: string;
  incoming: boolean;
}

export interface OnchainHistoryResult {
  summary: {
    start_balance: string;
    end_balance: string;
    incoming: string;
    outgoing: string;
    count: number;
  };
  transactions: OnchainHistoryItem[];
}

/** A `list_channels` entry: the LightningNode's ChannelInfo once it has a funding outpoint. */
export type ChannelInfo = Omit<LightningChannelInfo, 'channel_point'> & { channel_point: string };

/** One sweep of a closed channel's output (get_channel_sweeps). */
export interface ChannelSweep {
  /** The output spent, "txid:vout" (of the closing transaction or of one of our HTLC transactions). */
  outpoint: string;
  /** watcher/sweeps.ts SweepKind: to_local, to_remote, htlc_timeout_tx, htlc_success_tx, htlc_tx_output, htlc_claim_preimage, htlc_claim_timeout, justice_to_local, justice_htlc, justice_htlc_tx_output, anchor_cpfp (option_anchors fee bump of our commitment). */
  kind: string;
  /** Value of the output, integer sat. */
  amount_sat: number;
  /** waiting (lock not reached, or parent unconfirmed), broadcast, confirmed, spent_by_other (the peer took it), dust (not worth a sweep). */
  status: 'waiting' | 'broadcast' | 'confirmed' | 'spent_by_other' | 'dust';
  /** Our sweep transaction (latest version), null before it is signed. */
  txid: string | null;
  /** First block in which the sweep can be mined (CSV/CLTV); null while its parent is unconfirmed. */
  spendable_height: number | null;
  confirmed_height: number | null;
}

/** get_channel_sweeps: a channel's on-chain close and what is still locked. */
export interface ChannelSweepsResult {
  channel_point: string;
  state: string;
  /** How the funding output was spent: mutual, local (our commitment), remote (the peer's), breach (a revoked one of the peer's); null before it was seen spent, and for a channel known only from a backup (closing_height is then null too). */
  close_kind: 'mutual' | 'local' | 'remote' | 'breach' | null;
  closing_txid: string | null;
  /** Block height of the closing transaction, null while unconfirmed. */
  closing_height: number | null;
  /** Blocks the peer asked us to wait on our to_local (to_self_delay), null before its parameters. */
  to_self_delay: number | null;
  tip_height: number | null;
  /** Our (or contested) outputs not yet swept and confirmed, integer sat. */
  locked_sat: number;
  /** Highest spendable_height of the sweeps still waiting for their lock; null when none waits on a known height. */
  locked_until_height: number | null;
  sweeps: ChannelSweep[];
}

/** Electrum's request dict (add_request, list_requests). */
export interface RequestResult {
  /** Payment hash, hex. */
  rhash: string;
  /** BTC string, "0" for any amount. */
  amount_BTC: string;
  amount_sat: number;
  message: string;
  /** Unix seconds. */
  timestamp: number;
  /** Seconds after timestamp. */
  expiry: number;
  /** Electrum's PR_* numbers: 0 unpaid, 1 expired, 3 paid, 4 inflight, 5 failed, 7 unconfirmed. */
  status: number;
  status_str: string;
  address: string | null;
  URI: string | null;
  /** BOLT 11 invoice; null for an on-chain-only request. */
  lightning_invoice: string | null;
  is_lightning: boolean;
}

export interface LnPayResult {
  success: boolean;
  payment_hash: string;
  /** Hex, present on success. */
  preimage: string | null;
  /** Failure reason when success is false. */
  error?: string;
}

export interface LightningHistoryItem {
  payment_hash: string;
  /** Signed: negative for outgoing (fees included), integer msat as a decimal string (exact). */
  amount_msat: string;
  fee_msat: string | null;
  direction: 'sent' | 'received';
  status: 'pending' | 'complete' | 'failed';
  /** Unix seconds. */
  timestamp: number;
  preimage: string | null;
  label: string;
}

/** One row of the merged history (GUI). */
export type HistoryItem =
  | ({ kind: 'onchain' } & OnchainHistoryItem)
  | ({ kind: 'lightning' } & LightningHistoryItem);

export interface DecodedInvoiceResult {
  network: 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest';
  payment_hash: string;
  /** null for "any amount" invoices. */
  amount_msat: string | null;
  amount_BTC: string | null;
  description: string | null;
  description_hash: string | null;
  /** Payee node id, hex. */
  pubkey: string;
  timestamp: number;
  expiry: number;
  min_final_cltv_expiry: number;
  is_expired: boolean;
  fallback_address: string | null;
  route_hints_count: number;
  features: string[];
}

/** Result type of every command, by name. */
export interface CommandResults {
  /** Fulmen's version, e.g. "0.1.0" (Electrum prints its version string). */
  version: string;
  create: CreateResult;
  restore: RestoreResult;
  setconfig: true;
  getconfig: unknown;
  daemon: string;
  stop: string;
  gui_url: string;
  load_wallet: true;
  close_wallet: true;
  getinfo: GetInfoResult;
  list_server_bans: ServerBanItem[];
  unban_server: true;
  getbalance: BalanceResult;
  getunusedaddress: string;
  validateaddress: boolean;
  payto: string;
  broadcast: string;
  getmpk: string;
  listunspent: UnspentItem[];
  freeze_utxo: true;
  unfreeze_utxo: true;
  listaddresses: AddressItem[];
  /** Raw transaction, hex. */
  gettransaction: string;
  paytomany: string;
  /** sat/kvB, as Electrum returns it. */
  getfeerate: number;
  getfeehistogram: FeeHistogramResult;
  bumpfee: string;
  dscancel: string;
  cpfp: string;
  /** Raw transaction (hex) when complete, else the PSBT (base64). */
  signtransaction: string;
  serialize: string;
  /** The PSBT in the asked version, base64. */
  convert_psbt: string;
  deserialize: DeserializedTx;
  setlabel: true;
  export_labels: string;
  import_labels: number;
  export_history: string;
  signmessage: string;
  verifymessage: boolean;
  onchain_history: OnchainHistoryResult;
  nodeid: string;
  open_channel: string;
  list_channels: ChannelInfo[];
  close_channel: string;
  get_channel_ctx: string;
  get_channel_sweeps: ChannelSweepsResult;
  export_channel_backup: string;
  import_channel_backup: string;
  request_force_close: string;
  add_request: RequestResult;
  list_requests: RequestResult[];
  lnpay: LnPayResult;
  lightning_history: LightningHistoryItem[];
  history: HistoryItem[];
  decode_invoice: DecodedInvoiceResult;
}

/** Command name → params (as the caller passes them) and result. The GUI client's type. */
export type Commands = {
  [K in CommandName]: { params: ParamsIn<K>; result: CommandResults[K] };
};

/** The function both hosts expose to the GUI. */
export type CallFn = <K extends CommandName>(method: K, params: Commands[K]['params']) => Promise<Commands[K]['result']>;
