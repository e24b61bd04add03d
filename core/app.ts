import fs from 'node:fs';
import { z } from 'zod';
import { isCommandName } from './api/schemas.js';
import { balanceResult, commandTable, type CommandSpec, mergedHistory, serverBanList } from './api/commands.js';
import type {
  ChainStatus,
  CommandContext,
  DecodedInvoice,
  HostServices,
  LightningFacade,
  WalletFacade,
} from './api/context.js';
import type { ChannelInfo, ChannelSweepsResult } from './api/client-types.js';
import type { FulmenEventMessage, FulmenEventName, FulmenEvents, StatusEvent } from './api/events.js';
import type { NetworkName } from './bitcoin/network.js';
import type { ServerBan } from './chain/bans.js';
import { ChainNetwork } from './chain/network.js';
import { ConfigStore, dataPaths, defaultBaseDir, type DataPaths } from './daemon/config.js';
import { openDatabase, type Db } from './storage/db.js';
import { badInput, FulmenError, toFulmenError } from './util/errors.js';
import { processAlive } from './util/process.js';
import { Wallet } from './wallet/wallet.js';
import { LightningNode, countAnchorChannels } from './lightning/node.js';
import { ChannelStore } from './lightning/channel/store.js';
import { Watchtower } from './lightning/watchtower/tower.js';
import { decodeInvoice, fallbackToAddress } from './lightning/invoice/index.js';
import { deriveStorageKey } from './storage/crypto.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex } from '@noble/hashes/utils.js';

/** Fulmen's version, reported by `version` and `getinfo`. */
export const FULMEN_VERSION = '0.1.0';

/** Default Electrum server per network (Electrum's `--server`); regtest: a local ElectrumX. */
const DEFAULT_SERVERS: Record<NetworkName, string | null> = {
  mainnet: 'electrum.blockstream.info:50002:s',
  testnet: 'electrum.blockstream.info:60002:s',
  // One of Electrum's testnet4 servers (electrum/chains/testnet4/servers.json).
  testnet4: 'blackie.c3-soft.com:57010:s',
  signet: null,
  regtest: '127.0.0.1:51001:t',
};

export interface FulmenAppOptions {
  network: NetworkName;
  /** Base data directory (default ~/.fulmen, or $FULMEN_DIR). */
  baseDir?: string;
  /** `--offline`: no network, no Lightning; only commands marked offline run. */
  offline?: boolean;
}

/**
 * The composition root that every host drives (daemon, Electron main, offline CLI): data
 * directory and config, the wallet file, the chain connection (ChainNetwork), the Lightning node,
 * the event bus, and `call(method, params)` over the command table (core/api/commands.ts).
 *
 * Lifecycle: `new FulmenApp(opts)` → `start()` (connects to the configured server unless
 * offline) → `call(...)` / `on(...)` → `close()`. The wallet is opened by `load_wallet` (or by
 * `create`/`restore` in a networked app); `--offline` hosts call `openWalletOffline` first.
 */
export class FulmenApp implements CommandContext {
  readonly network: NetworkName;
  readonly offline: boolean;
  readonly version = FULMEN_VERSION;
  readonly paths: DataPaths;
  readonly config: ConfigStore;
  host: HostServices | null = null;

  private chainDb: Db | null = null;
  private chain: ChainNetwork | null = null;
  private walletDb: Db | null = null;
  private walletInstance: Wallet | null = null;
  private walletView: WalletFacade | null = null;
  private lightningNode: LightningFacade | null = null;
  private node: LightningNode | null = null;
  /** Our watchtower for other wallets (config `run_watchtower`), on the app's chain connection. */
  private tower: Watchtower | null = null;
  private feeEstimateSatPerVbyte: number | null = null;
  private readonly unsubscribers: (() => void)[] = [];
  private readonly walletUnsubscribers: (() => void)[] = [];
  private readonly listeners = new Set<(message: FulmenEventMessage) => void>();
  /** Serialises wallet lifecycle commands (create, restore, load, close). */
  private lifecycle: Promise<unknown> = Promise.resolve();
  /** Lightning-driven state events waiting to be emitted (scheduleLightningState). */
  private lightningStatePending: { history: boolean } | null = null;
  private closed = false;
  private lockHeld = false;

  constructor(options: FulmenAppOptions) {
    this.network = options.network;
    this.offline = options.offline ?? false;
    this.paths = dataPaths(options.baseDir ?? defaultBaseDir(), options.network);
    this.config = new ConfigStore(this.paths.config);
  }

  get dataDir(): string {
    return this.paths.dir;
  }

  get walletPath(): string {
    return this.paths.defaultWallet;
  }

  /** The configured Electrum server (`server` key), else the network default. */
  serverString(): string | null {
    return this.config.getString('server') ?? DEFAULT_SERVERS[this.network];
  }

  /**
   * Starts the chain connection (not offline). Returns at once; the connection is made and
   * retried in the background (see `status` events).
   */
  async start(): Promise<void> {
    if (this.offline || this.chain || this.lockHeld) return;
    fs.mkdirSync(this.paths.dir, { recursive: true, mode: 0o700 });
    acquireLock(this.lockFile);
    this.lockHeld = true;
    const server = this.serverString();
    if (!server) return;
    this.chainDb = openDatabase(`${this.paths.dir}/chain.sqlite`);
    const chain = new ChainNetwork({
      network: this.network,
      server,
      oneserver: this.config.get('oneserver') === true,
      servers: (this.config.get('servers') as string[] | null) ?? undefined,
      proxy: this.config.getString('proxy') ?? undefined,
      db: this.chainDb,
    });
    this.chain = chain;
    this.unsubscribers.push(
      chain.on((event) => {
        if (event.type === 'tip') this.refreshFeeEstimate();
        if (event.type === 'tip' || event.type === 'connection') this.emitStatus();
        if (event.type === 'server' && (event.status === 'banned' || event.status === 'unbanned')) this.emitServerBans();
      }),
    );
    void chain.start().catch(() => this.emitStatus());
    if (this.config.get('run_watchtower') === true) await this.startWatchtower(chain);
  }

  /**
   * Starts the watchtower (core/lightning/watchtower/) on 127.0.0.1:`watchtower_port` with basic
   * auth `watchtower_user`/`watchtower_password`, storing into `<dir>/watchtower.sqlite`.
   * @throws FulmenError BAD_INPUT when a setting is missing, or the port cannot be bound.
   */
  private async startWatchtower(chain: ChainNetwork): Promise<void> {
    const port = this.config.getNumber('watchtower_port');
    const user = this.config.getString('watchtower_user');
    const password = this.config.getString('watchtower_password');
    if (port === null || user === null || password === null) {
      throw badInput('run_watchtower needs watchtower_port, watchtower_user and watchtower_password');
    }
    const tower = new Watchtower({ chain, dbPath: `${this.paths.dir}/watchtower.sqlite`, port, user, password });
    try {
      await tower.start();
    } catch (err) {
      await tower.stop();
      throw badInput(`Cannot start the watchtower on port ${port}: ${(err as Error).message}`);
    }
    this.tower = tower;
  }

  /** Stops Lightning, the wallet and the chain; closes the databases. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.closeWallet();
    for (const off of this.unsubscribers.splice(0)) off();
    await this.tower?.stop();
    this.tower = null;
    await this.chain?.stop();
    this.chain = null;
    this.chainDb?.close();
    this.chainDb = null;
    this.listeners.clear();
    if (this.lockHeld) fs.rmSync(this.lockFile, { force: true });
    this.lockHeld = false;
  }

  /** `<dir>/lock`: the pid of the one networked process (daemon or Electron) using this directory. */
  get lockFile(): string {
    return `${this.paths.dir}/lock`;
  }

  // ------------------------------------------------------------------ commands

  /**
   * Runs a command of the table: checks that it may run here (offline, wallet), validates
   * `params` (named object, or an array in the command's positional order) with its schema,
   * then runs the handler.
   * @throws FulmenError — BAD_INPUT for an unknown command or bad params (message names the
   *   parameter), NO_WALLET, and whatever the handler throws (anything else becomes INTERNAL).
   */
  async call(method: string, params?: unknown): Promise<unknown> {
    if (!isCommandName(method)) throw badInput(`Unknown command: ${method}. Try "help".`);
    const spec = commandTable.get(method)!;
    if (this.offline && !spec.offline) throw badInput(`${method} needs a running daemon; it cannot run with --offline`);
    const parsed = parseParams(spec, params);
    if (spec.requires.wallet && !this.walletLoaded()) {
      throw new FulmenError(
        'NO_WALLET',
        this.walletExists() ? 'Wallet not loaded. Use "load_wallet" first.' : 'No wallet. Use "create" or "restore" first.',
      );
    }
    try {
      return await (spec.run as (ctx: CommandContext, params: unknown) => Promise<unknown>)(this, parsed);
    } catch (err) {
      throw toFulmenError(err);
    }
  }

  // ------------------------------------------------------------------ events

  /** Subscribes to pushed events (all kinds). Returns an unsubscribe function. */
  on(listener: (message: FulmenEventMessage) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit<K extends FulmenEventName>(event: K, data: FulmenEvents[K]): void {
    const message = { event, data } as FulmenEventMessage;
    for (const listener of [...this.listeners]) {
      try {
        listener(message);
      } catch {
        // A failing host listener must not break the core.
      }
    }
  }

  /** The current status (also pushed as `status` events). */
  status(): StatusEvent {
    const chain = this.chainStatus();
    return {
      network: this.network,
      connected: chain.connected,
      server: chain.connected ? chain.server : null,
      blockchain_height: chain.height,
      wallet_loaded: this.walletLoaded(),
      lightning: this.lightningNode !== null,
    };
  }

  private emitStatus(): void {
    this.emit('status', this.status());
  }

  private emitServerBans(): void {
    this.emit('server_bans', serverBanList(this));
  }

  private emitWalletState(historyChanged: boolean): void {
    if (!this.walletView || this.listeners.size === 0) return; // nobody listens: skip the O(history) work
    this.emit('balance', balanceResult(this));
    if (historyChanged) this.emit('history', mergedHistory(this));
  }

  private refreshFeeEstimate(): void {
    const chain = this.chain;
    if (!chain) return;
    chain.estimateFeeSatPerVbyte(2).then(
      (fee) => {
        this.feeEstimateSatPerVbyte = fee;
      },
      () => {
        // Keep the previous estimate; payto asks for --feerate when there is none.
      },
    );
  }

  // ------------------------------------------------------------------ CommandContext

  getConfig(key: string): unknown {
    return this.config.get(key);
  }

  setConfig(key: string, value: unknown): unknown {
    return this.config.set(key, value);
  }

  walletExists(): boolean {
    return fs.existsSync(this.walletPath);
  }

  walletLoaded(): boolean {
    return this.walletView !== null;
  }

  createWallet(opts: { passphrase?: string; password?: string }): Promise<{ mnemonic: string }> {
    return this.serialised(async () => {
      const { wallet, mnemonic } = this.createWalletFile({ passphrase: opts.passphrase, password: opts.password });
      await this.attachWallet(wallet, opts.password);
      return { mnemonic };
    });
  }

  restoreWallet(opts: {
    mnemonic: string;
    passphrase?: string;
    password?: string;
    seedType?: 'electrum' | 'bip39';
  }): Promise<{ seedType: 'bip39' | 'electrum' | 'xpub' }> {
    return this.serialised(async () => {
      const { wallet } = this.createWalletFile({ ...opts, restore: true });
      await this.attachWallet(wallet, opts.password);
      return { seedType: wallet.seedType };
    });
  }

  loadWallet(password?: string): Promise<void> {
    return this.serialised(async () => {
      if (this.walletInstance) return;
      await this.attachWallet(this.openWalletFile(password), password);
    });
  }

  /**
   * Opens the wallet file without network (the `--offline` CLI does this before wallet commands).
   * @throws FulmenError NO_WALLET / WRONG_PASSWORD.
   */
  openWalletOffline(password?: string): void {
    if (this.walletInstance) return;
    const wallet = this.openWalletFile(password);
    // No LightningNode offline: the anchor reserve (wallet/reserve.ts) counts the stored channels.
    const channels = new ChannelStore(this.walletDb!, this.lightningStorageKey(wallet, password));
    wallet.setAnchorChannelCounter(() => countAnchorChannels(channels.loadAll()));
    this.walletInstance = wallet;
    this.walletView = walletFacade(wallet, () => this.feeEstimateSatPerVbyte);
  }

  closeWallet(): Promise<void> {
    return this.serialised(async () => {
      for (const off of this.walletUnsubscribers.splice(0)) off();
      this.lightningNode = null;
      await this.node?.stop();
      this.node = null;
      this.walletInstance?.detachChain();
      this.walletInstance = null;
      this.walletView = null;
      this.walletDb?.close();
      this.walletDb = null;
      if (!this.closed) this.emitStatus();
    });
  }

  wallet(): WalletFacade {
    if (!this.walletView) throw new FulmenError('NO_WALLET', 'Wallet not loaded. Use "load_wallet" first.');
    return this.walletView;
  }

  chainStatus(): ChainStatus {
    const chain = this.chain;
    const height = chain?.tip()?.height ?? 0;
    const connected = chain?.isConnected() ?? false;
    return {
      connected,
      server: this.serverString() ?? '',
      height,
      serverHeight: connected ? height : 0,
      serverCount: connected ? 1 : 0,
      feeEstimateSatPerVbyte: this.feeEstimateSatPerVbyte,
    };
  }

  serverBans(): ServerBan[] {
    return this.chainNetwork().serverBans();
  }

  liftServerBan(server: string): void {
    const chain = this.chainNetwork();
    if (!chain.serverBans().some((ban) => ban.server === server)) throw new FulmenError('NOT_FOUND', `Server ${server} is not banned`);
    chain.liftBan(server);
  }

  /** @throws FulmenError NETWORK when the chain is not running (offline, no server). */
  private chainNetwork(): ChainNetwork {
    if (!this.chain) throw new FulmenError('NETWORK', 'Not connected to a server (offline)');
    return this.chain;
  }

  lightning(): LightningFacade {
    if (this.lightningNode) return this.lightningNode;
    if (!this.walletLoaded()) throw new FulmenError('NO_WALLET', 'Wallet not loaded. Use "load_wallet" first.');
    throw new FulmenError('NETWORK', 'Lightning is not running (it needs the daemon and a loaded wallet)');
  }

  lightningIfRunning(): LightningFacade | null {
    return this.lightningNode;
  }

  async estimateFeeSatPerVbyte(targetBlocks: number): Promise<number> {
    if (!this.chain) throw new FulmenError('NETWORK', 'Not connected to a server (offline)');
    return this.chain.estimateFeeSatPerVbyte(targetBlocks);
  }

  async feeHistogram(): Promise<[number, number][]> {
    if (!this.chain?.getFeeHistogram) throw new FulmenError('NETWORK', 'Not connected to a server (offline)');
    return this.chain.getFeeHistogram();
  }

  decodeInvoice(invoice: string): DecodedInvoice {
    const inv = decodeInvoice(invoice, this.network);
    return {
      network: inv.network,
      paymentHash: bytesToHex(inv.paymentHash),
      amountMsat: inv.amountMsat ?? null,
      description: inv.description ?? null,
      descriptionHash: inv.descriptionHash ? bytesToHex(inv.descriptionHash) : null,
      payeeNodeId: bytesToHex(inv.payeeNodeId),
      timestamp: inv.timestamp,
      expirySec: inv.expirySec,
      minFinalCltvExpiry: inv.minFinalCltvExpiryDelta,
      fallbackAddress: inv.fallbacks[0] ? fallbackToAddress(inv.fallbacks[0], inv.network) : null,
      routeHintCount: inv.routeHints.length,
      features: inv.features.describe().map((f) => (f.required ? `${f.name} (required)` : f.name)),
    };
  }

  // ------------------------------------------------------------------ wallet file

  private serialised<T>(task: () => Promise<T>): Promise<T> {
    const run = this.lifecycle.then(task, task);
    this.lifecycle = run.catch(() => undefined);
    return run;
  }

  /**
   * Creates the wallet file: a new BIP39 wallet, or with `restore` whatever `mnemonic` holds
   * (Wallet.restore: Electrum segwit seed, BIP39 mnemonic, or zpub/vpub for watch-only).
   */
  private createWalletFile(opts: {
    mnemonic?: string;
    passphrase?: string;
    password?: string;
    restore?: boolean;
    seedType?: 'electrum' | 'bip39';
  }): { wallet: Wallet; mnemonic: string } {
    if (this.walletInstance || this.walletExists()) {
      throw new FulmenError('WALLET_EXISTS', `Remove the existing wallet first! (${this.walletPath})`);
    }
    fs.mkdirSync(this.paths.walletsDir, { recursive: true, mode: 0o700 });
    const db = openDatabase(this.walletPath);
    try {
      if (opts.restore && opts.mnemonic !== undefined) {
        const { wallet } = Wallet.restore(db, {
          network: this.network,
          text: opts.mnemonic,
          passphrase: opts.passphrase || undefined,
          password: opts.password || undefined,
          seedType: opts.seedType,
        });
        this.walletDb = db;
        return { wallet, mnemonic: '' };
      }
      const created = Wallet.create(db, {
        network: this.network,
        mnemonic: opts.mnemonic,
        passphrase: opts.passphrase || undefined,
        password: opts.password || undefined,
      });
      this.walletDb = db;
      return created;
    } catch (err) {
      db.close();
      removeDatabaseFiles(this.walletPath);
      throw err;
    }
  }

  private openWalletFile(password?: string): Wallet {
    if (!this.walletExists()) throw new FulmenError('NOT_FOUND', `Wallet file not found: ${this.walletPath}. Use "create" or "restore".`);
    const db = openDatabase(this.walletPath);
    try {
      const wallet = Wallet.open(db, { password: password || undefined });
      this.walletDb = db;
      return wallet;
    } catch (err) {
      db.close();
      if (err instanceof FulmenError) throw err;
      throw new FulmenError('WRONG_PASSWORD', 'Incorrect password');
    }
  }

  /** Makes `wallet` the loaded wallet; in a networked app attaches the chain and starts Lightning. */
  private async attachWallet(wallet: Wallet, password: string | undefined): Promise<void> {
    this.walletInstance = wallet;
    this.walletView = walletFacade(wallet, () => this.feeEstimateSatPerVbyte);
    this.walletUnsubscribers.push(
      wallet.on((event) => {
        if (event.type === 'balance') this.emitWalletState(false);
        if (event.type === 'history') this.emitWalletState(true);
      }),
    );
    if (this.offline) return;
    if (this.chain) {
      await wallet.attachChain(this.chain);
      // A watch-only wallet has no keys for a Lightning node.
      if (!wallet.isWatchOnly) await this.startLightning(wallet, password);
    }
    this.emitStatus();
    this.emitWalletState(true);
  }

  /** The key sealing channel state (see startLightning), null without a password. */
  private lightningStorageKey(wallet: Wallet, password: string | undefined): Uint8Array | null {
    const saltRow = this.walletDb!.prepare('SELECT password_salt FROM wallet_keys WHERE id = 1').get() as { password_salt: Uint8Array | null } | undefined;
    return wallet.hasPassword && password && saltRow?.password_salt
      ? hmac(sha256, deriveStorageKey(password, new Uint8Array(saltRow.password_salt)), new TextEncoder().encode('fulmen/lightning-storage'))
      : null;
  }

  /**
   * Starts the LightningNode on the wallet database (listening on `lightning_listen` when set).
   * With a password, channel secrets are sealed under a key derived from it (scrypt with the
   * wallet's salt, then HMAC-SHA256 "fulmen/lightning-storage" for domain separation).
   */
  private async startLightning(wallet: Wallet, password: string | undefined): Promise<void> {
    const db = this.walletDb!;
    const storageKey = this.lightningStorageKey(wallet, password);
    const listen = this.config.getString('lightning_listen');
    // Electrum's use_recoverable_channels: funding OP_RETURN so the seed alone finds our channels.
    const recoverableChannels = this.config.get('use_recoverable_channels') !== false;
    const watchtowerUrl = this.config.getString('watchtower_url');
    const node = new LightningNode({ db, wallet, chain: this.chain!, network: this.network, storageKey, listen, recoverableChannels, watchtowerUrl });
    await node.start();
    this.node = node;
    this.lightningNode = lightningFacade(node, listen);
    this.walletUnsubscribers.push(
      node.on((event) => {
        if (event.type === 'channel') {
          this.scheduleLightningState(false);
          return;
        }
        const direction = event.type === 'payment_received' ? 'received' : 'sent';
        const record = event.type === 'payment_failed' ? node.getPayment(event.paymentHash, direction) : undefined;
        this.emit('payment', {
          payment_hash: event.paymentHash,
          direction,
          status: event.type === 'payment_failed' ? 'failed' : 'complete',
          amount_msat: (event.type === 'payment_failed' ? (record?.amountMsat ?? 0n) : event.amountMsat).toString(),
          ...(event.type === 'payment_failed' ? { error: event.error } : {}),
        });
        this.scheduleLightningState(true);
      }),
    );
  }

  /**
   * `channels`, `balance` and (if `historyChanged`) `history` events after Lightning activity,
   * at most once per 500 ms: each costs O(channels + history), and a busy channel changes state
   * thousands of times per second.
   */
  private scheduleLightningState(historyChanged: boolean): void {
    if (this.lightningStatePending) {
      this.lightningStatePending.history ||= historyChanged;
      return;
    }
    this.lightningStatePending = { history: historyChanged };
    setTimeout(() => {
      const pending = this.lightningStatePending;
      this.lightningStatePending = null;
      if (!pending || !this.lightningNode) return;
      this.emit('channels', this.lightningNode.listChannels());
      this.emitWalletState(pending.history);
    }, 500).unref();
  }
}

/** Channel states whose balance counts as ours over Lightning (Electrum: not closed). */
const LIGHTNING_BALANCE_STATES = new Set(['OPENING', 'FUNDED', 'OPEN', 'SHUTDOWN']);

/**
 * get_channel_sweeps from the node's view: sweeps in API form, `locked_sat` the outputs not yet
 * swept and confirmed (nor taken by the peer, nor dust), `locked_until_height` the last lock
 * height among those still waiting for it.
 */
function channelSweeps(node: LightningNode, channelPoint: string): ChannelSweepsResult {
  const { info, close, sweeps, ourToSelfDelay, tipHeight } = node.channelOnchain(channelPoint);
  const open = sweeps.filter((s) => s.status === 'waiting' || s.status === 'broadcast');
  const lockHeights = open.filter((s) => s.status === 'waiting' && s.spendableHeight !== null).map((s) => s.spendableHeight!);
  return {
    channel_point: info.channel_point ?? channelPoint,
    state: info.state,
    close_kind: close?.closeKind ?? null,
    closing_txid: close?.closingTxid ?? info.closing_txid,
    closing_height: close?.closingHeight ?? null,
    to_self_delay: ourToSelfDelay,
    tip_height: tipHeight,
    locked_sat: open.reduce((sum, s) => sum + s.valueSat, 0),
    locked_until_height: lockHeights.length > 0 ? Math.max(...lockHeights) : null,
    sweeps: sweeps.map((s) => ({
      outpoint: s.outpoint,
      kind: s.kind,
      amount_sat: s.valueSat,
      status: s.status,
      txid: s.txid,
      spendable_height: s.spendableHeight,
      confirmed_height: s.confirmedHeight,
    })),
  };
}

/** The LightningNode as the command handlers see it. */
function lightningFacade(node: LightningNode, listen: string | null): LightningFacade {
  // Electrum lists channels once they have a funding outpoint.
  const listChannels = (): ChannelInfo[] =>
    node.listChannels().flatMap((c) => (c.channel_point === null ? [] : [{ ...c, channel_point: c.channel_point }]));
  const openChannels = () => listChannels().filter((c) => LIGHTNING_BALANCE_STATES.has(c.state));
  return {
    nodeId: node.nodeIdHex,
    listenAddress() {
      const port = node.listenPort;
      if (!listen || port === null) return null;
      return `${listen.slice(0, listen.lastIndexOf(':'))}:${port}`;
    },
    async openChannel(req) {
      if (req.host === null || req.port === null) throw badInput('Give the peer as <node id>@<host>:<port>');
      const host = req.host.includes(':') ? `[${req.host}]` : req.host;
      const opened = await node.openChannel(`${req.nodeId}@${host}:${req.port}`, req.fundingSat, req.pushMsat, { zeroconf: req.zeroconf });
      return opened.channelPoint;
    },
    listChannels,
    async closeChannel(channelPoint, force) {
      const closed = force ? await node.forceCloseChannel(channelPoint) : await node.closeChannel(channelPoint);
      return closed.closingTxid;
    },
    latestLocalCommitmentTx: (channelPoint) => node.latestLocalCommitmentTx(channelPoint),
    channelSweeps: (channelPoint) => channelSweeps(node, channelPoint),
    exportChannelBackup: (channelPoint) => node.exportChannelBackup(channelPoint),
    importChannelBackup: (text) => node.importChannelBackup(text),
    requestForceClose: (channelPoint, connectionString) => node.requestForceClose(channelPoint, connectionString),
    createInvoice: (req) => node.createInvoice(req.amountMsat, req.description, req.expirySec),
    canReceiveMsat: () =>
      listChannels()
        .filter((c) => c.state === 'OPEN')
        .reduce((sum, c) => sum + BigInt(Math.max(0, c.remote_balance - c.remote_reserve)) * 1000n, 0n),
    async pay(invoice, timeoutSec) {
      const payment = node.pay(invoice);
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<null>((resolve) => {
        timer = setTimeout(() => resolve(null), timeoutSec * 1000);
      });
      const r = await Promise.race([payment, timeout]).finally(() => clearTimeout(timer));
      if (r === null) {
        const paymentHash = decodeInvoice(invoice).paymentHash;
        return { success: false, paymentHash: bytesToHex(paymentHash), preimage: null, error: `Payment still pending after ${timeoutSec} s` };
      }
      return { success: r.success, paymentHash: r.paymentHash, preimage: r.preimage ?? null, ...(r.error ? { error: r.error } : {}) };
    },
    balanceMsat: () => openChannels().reduce((sum, c) => sum + BigInt(c.local_balance) * 1000n, 0n),
    payments: () =>
      node.listPayments().map((p) => ({
        paymentHash: p.paymentHash,
        direction: p.direction,
        status: p.status === 'succeeded' ? 'complete' : p.status,
        amountMsat: p.amountMsat,
        feeMsat: p.direction === 'sent' ? p.feeMsat : null,
        timestamp: p.timestamp,
        preimage: p.preimage,
        label: p.memo,
      })),
  };
}

/**
 * Takes the data directory's lock file (O_EXCL, containing our pid). A lock left by a process
 * that no longer exists is replaced. Two networked processes on one wallet would run two
 * Lightning nodes with the same keys, so this is refused.
 * @throws FulmenError BAD_INPUT naming the pid holding the lock.
 */
function acquireLock(file: string): void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(file, `${process.pid}\n`, { flag: 'wx', mode: 0o600 });
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(fs.readFileSync(file, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
        throw badInput(`Fulmen is already running on ${file.replace(/\/lock$/, '')} (pid ${pid})`);
      }
      fs.rmSync(file, { force: true });
    }
  }
  throw new FulmenError('INTERNAL', `Cannot take the lock ${file}`);
}

/** Deletes a SQLite database and its WAL/SHM side files (a wallet whose creation failed). */
function removeDatabaseFiles(file: string): void {
  for (const f of [file, `${file}-wal`, `${file}-shm`]) fs.rmSync(f, { force: true });
}

/** The wallet as the command handlers see it (absolute fees resolved to a feerate). */
function walletFacade(wallet: Wallet, feeEstimate: () => number | null): WalletFacade {
  const facade: WalletFacade = {
    requests: wallet.requests,
    seedType: wallet.seedType,
    isWatchOnly: wallet.isWatchOnly,
    getBalance: () => wallet.getBalance(),
    reserve: () => wallet.reserve(),
    getUnusedAddress: () => wallet.getUnusedAddress(),
    broadcast: (txHex) => wallet.broadcast(txHex),
    getOnchainHistory: () => wallet.getOnchainHistory(),
    masterPublicKey: () => wallet.masterPublicKey(),
    listUnspent: () => wallet.listUnspent(),
    setCoinFrozen: (outpoint, frozen) => wallet.setCoinFrozen(outpoint, frozen),
    bumpFee: (txid, feerate, unsigned) => wallet.bumpFee(txid, feerate, { unsigned }),
    cancelTransaction: (txid, feerate, unsigned) => wallet.cancelTransaction(txid, feerate, { unsigned }),
    cpfp: (txid, feerate, unsigned) => wallet.cpfp(txid, feerate, { unsigned }),
    signPsbt: (psbt) => wallet.signPsbt(psbt),
    setLabel: (key, text) => wallet.setLabel(key, text),
    exportLabels: () => wallet.exportLabels(),
    importLabels: (jsonl) => wallet.importLabels(jsonl),
    exportHistoryCsv: () => wallet.exportHistoryCsv(),
    signMessage: (address, message, header) => wallet.signMessage(address, message, header),
    isMine: (addressOrScript) => wallet.isMine(addressOrScript),
    knownOutput: (txid, vout) => wallet.knownOutput(txid, vout),
    getLabel: (key) => wallet.getLabel(key),
    listAddresses: () => wallet.listAddresses(),
    getRawTransaction: (txid) => wallet.getRawTransaction(txid),
    createTransaction: (req) => facade.createTransactionEx(req),
    async createTransactionEx(req) {
      const base = { outputs: req.outputs, rbf: req.rbf, fromCoins: req.fromCoins, unsigned: req.unsigned || wallet.isWatchOnly };
      if (req.feeSat === undefined) {
        const feerate = req.feerateSatPerVbyte ?? feeEstimate();
        if (feerate === null) throw new FulmenError('NETWORK', 'No fee estimate yet; pass a feerate');
        return wallet.createTransaction({ ...base, feerateSatPerVbyte: feerate });
      }
      // Absolute fee (Electrum's --fee): find the feerate that yields exactly feeSat for the
      // transaction's size; coin selection may change the size, so iterate a few times.
      // Later attempts keep the coins of the first one, so that the size converges.
      let feerate = 1;
      let pinned = base;
      for (let attempt = 0; attempt < 4; attempt++) {
        const tx = wallet.createTransaction({ ...pinned, feerateSatPerVbyte: feerate });
        if (tx.feeSat === req.feeSat) return tx;
        if (attempt === 0) pinned = { ...base, fromCoins: tx.inputs };
        feerate = req.feeSat / tx.vsize;
      }
      const tx = wallet.createTransaction({ ...pinned, feerateSatPerVbyte: feerate });
      if (tx.feeSat !== req.feeSat) {
        throw badInput(`Cannot build a transaction paying exactly ${req.feeSat} sat fee (got ${tx.feeSat}); use --feerate`);
      }
      return tx;
    },
  };
  return facade;
}

/**
 * Validates params against the command's schema. Arrays are mapped in the command's positional
 * order (JSON-RPC positional params, Electrum style).
 * @throws FulmenError BAD_INPUT naming the parameter.
 */
export function parseParams(spec: CommandSpec, params: unknown): unknown {
  let named: unknown = params ?? {};
  if (Array.isArray(named)) {
    const positional = spec.positional;
    if (named.length > positional.length) {
      throw badInput(`${spec.name} takes at most ${positional.length} positional parameter(s) (${positional.join(', ') || 'none'})`);
    }
    named = Object.fromEntries(named.map((v, i) => [positional[i]!, v]));
  }
  if (typeof named !== 'object' || named === null) throw badInput(`${spec.name}: params must be an object or an array`);
  const result = spec.params.strict().safeParse(named);
  if (result.success) return result.data;
  throw badInput(`${spec.name}: ${describeIssues(result.error, named as Record<string, unknown>)}`);
}

function describeIssues(error: z.ZodError, input: Record<string, unknown>): string {
  return error.issues
    .map((issue) => {
      const name = issue.path.length ? String(issue.path[0]) : '';
      if (issue.code === 'unrecognized_keys') return `unknown parameter(s): ${issue.keys.join(', ')}`;
      if (name && input[name] === undefined) return `missing parameter "${name}"`;
      return name ? `invalid parameter "${name}": ${issue.message}` : issue.message;
    })
    .join('; ');
}

