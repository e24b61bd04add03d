/**
 * What command handlers (core/api/commands.ts) need from the running application. FulmenApp
 * (core/app.ts) implements it over the real Wallet, ChainNetwork and LightningNode; handlers see
 * only these shapes, in core units (sat as number, msat as bigint, unix seconds).
 */
import type { NetworkName } from '../bitcoin/network.js';
import type { ServerBan } from '../chain/bans.js';
import type { RequestStore } from '../wallet/requests.js';
import type { CreatedTransaction, WalletAddress, WalletUtxo } from '../wallet/wallet.js';
import type { WalletReserve } from '../wallet/reserve.js';
import type { ChannelInfo, ChannelSweepsResult } from './client-types.js';

export interface WalletBalance {
  confirmedSat: number;
  unconfirmedSat: number;
  unmaturedSat: number;
}

/** One on-chain transaction as the wallet sees it. */
export interface OnchainTx {
  txid: string;
  /** Block height, 0 (or negative) while in the mempool. */
  height: number;
  /** Merkle-verified confirmations (0 while unverified). */
  confirmations: number;
  /** Block time, unix seconds; null while unconfirmed. */
  timestamp: number | null;
  /** Net effect on the wallet in sat (negative: outgoing, fee included). */
  deltaSat: number;
  /** Fee in sat when all inputs are known (ours), else null. */
  feeSat: number | null;
  label: string;
}

export interface SignedTransaction {
  txHex: string;
  txid: string;
  feeSat: number;
}

/** The wallet operations the commands use. */
export interface WalletFacade {
  getBalance(): WalletBalance;
  /** On-chain reserve kept for anchor channels' force-close fees (wallet/reserve.ts). */
  reserve(): WalletReserve;
  getUnusedAddress(): string;
  /**
   * Builds and signs a transaction. `feeSat` (absolute) wins over `feerateSatPerVbyte`.
   * @throws FulmenError BAD_INPUT (address), INSUFFICIENT_FUNDS.
   */
  createTransaction(req: {
    outputs: { address: string; amountSat: number | 'max' }[];
    feerateSatPerVbyte?: number;
    feeSat?: number;
    rbf: boolean;
  }): Promise<SignedTransaction>;
  /** Broadcasts and records the transaction. @returns txid. */
  broadcast(txHex: string): Promise<string>;
  /** Wallet transactions, newest first (unconfirmed first). */
  getOnchainHistory(): OnchainTx[];
  readonly requests: RequestStore;

  /** 'bip39', 'electrum' (Electrum segwit seed) or 'xpub' (watch-only). */
  readonly seedType: 'bip39' | 'electrum' | 'xpub';
  readonly isWatchOnly: boolean;
  /** Account key as zpub/vpub (Electrum getmpk). */
  masterPublicKey(): string;
  /** Unspent coins, largest first. */
  listUnspent(): WalletUtxo[];
  /** @throws FulmenError BAD_INPUT, NOT_FOUND. */
  setCoinFrozen(outpoint: string, frozen: boolean): void;
  /**
   * Builds a transaction with coin control and PSBT output (Wallet.createTransaction);
   * `feeSat` (absolute) wins over `feerateSatPerVbyte`.
   */
  createTransactionEx(req: {
    outputs: { address: string; amountSat: number | 'max' }[];
    feerateSatPerVbyte?: number;
    feeSat?: number;
    rbf: boolean;
    fromCoins?: string[];
    unsigned?: boolean;
  }): Promise<CreatedTransaction>;
  /** RBF (Electrum bumpfee). */
  bumpFee(txid: string, feerateSatPerVbyte: number, unsigned: boolean): CreatedTransaction;
  /** Double-spend to ourselves (Electrum dscancel). */
  cancelTransaction(txid: string, feerateSatPerVbyte: number, unsigned: boolean): CreatedTransaction;
  /** Child pays for parent. */
  cpfp(txid: string, feerateSatPerVbyte: number, unsigned: boolean): Promise<CreatedTransaction>;
  /** Signs our inputs of a PSBT; the raw tx once complete. */
  signPsbt(psbt: string): { psbt: string; complete: boolean; txHex: string | null; signedInputs: number };
  setLabel(key: string, text: string): void;
  exportLabels(): string;
  importLabels(jsonl: string): number;
  exportHistoryCsv(): string;
  signMessage(address: string, message: string, header: 'electrum' | 'bip137-p2wpkh'): string;
  /** Whether an address (string) or scriptPubKey (bytes) belongs to the wallet. */
  isMine(addressOrScript: string | Uint8Array): boolean;
  /** An output of a stored transaction, or null. */
  knownOutput(txid: string, vout: number): { valueSat: number; script: Uint8Array } | null;
  /** The label of a txid, address or txid:vout ('' when none). */
  getLabel(key: string): string;
  /** All derived addresses, receive chain first, by index. */
  listAddresses(): WalletAddress[];
  /** A stored transaction, raw hex. @throws FulmenError NOT_FOUND. */
  getRawTransaction(txid: string): string;
}

export interface ChainStatus {
  connected: boolean;
  /** `host:port:t|s` of the server in use (or configured). */
  server: string;
  /** Validated tip height, 0 before the first header. */
  height: number;
  serverHeight: number;
  /** Connected servers. */
  serverCount: number;
  /** Latest fee estimate (sat/vB) for 2 blocks, null when unknown. */
  feeEstimateSatPerVbyte: number | null;
}

export interface LightningPayment {
  paymentHash: string;
  direction: 'sent' | 'received';
  status: 'pending' | 'complete' | 'failed';
  /** Amount delivered to the payee (positive). */
  amountMsat: bigint;
  /** Routing fees we paid (sent payments), null when unknown. */
  feeMsat: bigint | null;
  /** Unix seconds. */
  timestamp: number;
  preimage: string | null;
  label: string;
}

export interface DecodedInvoice {
  network: NetworkName;
  paymentHash: string;
  amountMsat: bigint | null;
  description: string | null;
  descriptionHash: string | null;
  payeeNodeId: string;
  timestamp: number;
  expirySec: number;
  minFinalCltvExpiry: number;
  fallbackAddress: string | null;
  routeHintCount: number;
  features: string[];
}

/** The Lightning operations the commands use. */
export interface LightningFacade {
  /** Our node id, hex (33-byte compressed pubkey). */
  readonly nodeId: string;
  /** `host:port` we listen on, or null. */
  listenAddress(): string | null;
  /** Connects and opens a channel as funder (`zeroconf`: option_zeroconf). @returns the channel point `<funding txid>:<vout>`. */
  openChannel(req: { nodeId: string; host: string | null; port: number | null; fundingSat: number; pushMsat: bigint; zeroconf: boolean }): Promise<string>;
  /** Electrum's list_channels rows (balances in sat). */
  listChannels(): ChannelInfo[];
  /** @returns closing txid. @throws NOT_FOUND, CHANNEL_STATE, NETWORK, TIMEOUT. */
  closeChannel(channelPoint: string, force: boolean): Promise<string>;
  /** Our latest signed local commitment transaction (hex). */
  latestLocalCommitmentTx(channelPoint: string): string;
  /** A channel's on-chain close, sweeps and locked funds (get_channel_sweeps). @throws NOT_FOUND. */
  channelSweeps(channelPoint: string): ChannelSweepsResult;
  /** Static backup of a channel, encrypted with a key from the seed. @throws NOT_FOUND, CHANNEL_STATE. */
  exportChannelBackup(channelPoint: string): string;
  /** Imports a backup of this wallet; @returns its channel point. @throws BAD_INPUT (other seed, malformed). */
  importChannelBackup(text: string): string;
  /** Asks the peer of a backup channel to force close. @throws NOT_FOUND, BAD_INPUT, NETWORK. */
  requestForceClose(channelPoint: string, connectionString?: string): Promise<void>;
  /** Creates a BOLT 11 invoice; the node keeps the preimage. */
  createInvoice(req: { amountMsat: bigint | null; description: string; expirySec: number }): { invoice: string; paymentHash: string };
  /** What we can receive over open channels. */
  canReceiveMsat(): bigint;
  /**
   * Pays an invoice; a failed attempt resolves with success false and the reason.
   * @throws FulmenError BAD_INPUT, INVOICE_EXPIRED, ALREADY_PAID, PAYMENT_FAILED (no route).
   */
  pay(invoice: string, timeoutSec: number): Promise<{ success: boolean; paymentHash: string; preimage: string | null; error?: string }>;
  /** Our balance over open channels. */
  balanceMsat(): bigint;
  /** Newest first. */
  payments(): LightningPayment[];
}

/** Services of the process that hosts the app (daemon only). */
export interface HostServices {
  /** Stops the host (daemon: the HTTP server and the app) after the reply is sent. */
  stop(): Promise<void>;
  /** URL of the browser GUI with a session token. */
  guiUrl(): string;
}

export interface CommandContext {
  readonly network: NetworkName;
  readonly version: string;
  /** Data directory of this network. */
  readonly dataDir: string;
  readonly walletPath: string;
  /** True when running from `--offline` (no network, no Lightning). */
  readonly offline: boolean;
  readonly host: HostServices | null;

  getConfig(key: string): unknown;
  /** Normalises and stores; returns the stored value. */
  setConfig(key: string, value: unknown): unknown;

  walletExists(): boolean;
  walletLoaded(): boolean;
  /** @throws FulmenError WALLET_EXISTS. @returns the new mnemonic. */
  createWallet(opts: { passphrase?: string; password?: string }): Promise<{ mnemonic: string }>;
  /**
   * Restores from a BIP39 mnemonic, an Electrum segwit seed or a zpub/vpub (watch-only).
   * @throws FulmenError WALLET_EXISTS, BAD_INPUT (mnemonic). @returns what `text` was read as.
   */
  restoreWallet(opts: { mnemonic: string; passphrase?: string; password?: string; seedType?: 'electrum' | 'bip39' }): Promise<{ seedType: 'bip39' | 'electrum' | 'xpub' }>;
  /** Opens the wallet, attaches chain and starts Lightning (daemon). @throws WRONG_PASSWORD, NOT_FOUND. */
  loadWallet(password?: string): Promise<void>;
  closeWallet(): Promise<void>;
  /** @throws FulmenError NO_WALLET. */
  wallet(): WalletFacade;
  /** Chain status; offline: disconnected with the configured server. */
  chainStatus(): ChainStatus;
  /** Electrum server bans in force (servers caught lying), times in unix ms. @throws FulmenError NETWORK without a chain connection (offline). */
  serverBans(): ServerBan[];
  /**
   * Lifts the ban of `server` (`host:port:t|s`); a server in use is connected again.
   * @throws FulmenError NOT_FOUND when it is not banned, NETWORK without a chain connection.
   */
  liftServerBan(server: string): void;
  /** @throws FulmenError NO_WALLET / NETWORK when Lightning is not running. */
  lightning(): LightningFacade;
  /** null when Lightning is not running. */
  lightningIfRunning(): LightningFacade | null;
  /** @throws FulmenError BAD_INPUT for a malformed invoice. */
  decodeInvoice(invoice: string): DecodedInvoice;
  /**
   * Server fee estimate for `targetBlocks` (blockchain.estimatefee), integer sat/vB.
   * @throws FulmenError NETWORK when offline/disconnected.
   */
  estimateFeeSatPerVbyte(targetBlocks: number): Promise<number>;
  /** Server mempool histogram ([sat/vB, vsize] pairs). @throws FulmenError NETWORK. */
  feeHistogram(): Promise<[number, number][]>;
}
