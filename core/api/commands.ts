import { randomBytes } from 'node:crypto';
import { isValidAddress } from '../bitcoin/address.js';
import { verifyMessage } from '../bitcoin/message.js';
import { parseTransaction } from '../bitcoin/transaction.js';
import { depthForFeerate, etaBlocksForFeerate, feerateForDepth } from '../wallet/fees.js';
import { convertPsbt, describeTransaction, finalizePsbtToHex } from '../wallet/psbt.js';
import { looksLikePsbt } from '../wallet/wallet.js';
import type { CreatedTransaction } from '../wallet/wallet.js';
import { badInput, FulmenError } from '../util/errors.js';
import { formatMsatAsBtc, formatSatAsBtc, satToMsat } from '../util/money.js';
import type { PaymentRequest } from '../wallet/requests.js';
import type {
  BalanceResult,
  CommandResults,
  DecodedInvoiceResult,
  HistoryItem,
  LightningHistoryItem,
  OnchainHistoryItem,
  OnchainHistoryResult,
  RequestResult,
  ServerBanItem,
} from './client-types.js';
import type { CommandContext, LightningPayment } from './context.js';
import { btcAmountOrMax, type CommandDeclaration, type CommandName, declarations, type ParamsOut } from './schemas.js';

/**
 * The one command table: each declaration of core/api/schemas.ts with its handler. Hosts look
 * commands up here (`commandTable.get(name)`), validate params with `spec.params` and run
 * `spec.run(ctx, params)`; FulmenApp.call does both. Results follow Electrum's shapes.
 */

type Handler<K extends CommandName> = (ctx: CommandContext, params: ParamsOut<K>) => Promise<CommandResults[K]>;
type Handlers = { [K in CommandName]: Handler<K> };

/** Electrum's request status codes (invoices.py PR_*). */
const PR_STATUS = { unpaid: 0, expired: 1, paid: 3, inflight: 4 } as const;
const PR_STATUS_STR = { unpaid: 'Unpaid', expired: 'Expired', paid: 'Paid', inflight: 'In progress' } as const;

const handlers: Handlers = {
  async version(ctx) {
    return ctx.version;
  },

  async create(ctx, p) {
    const { mnemonic } = await ctx.createWallet({ passphrase: p.passphrase, password: p.password });
    return {
      seed: mnemonic,
      path: ctx.walletPath,
      msg: 'Please keep your seed in a safe place; if you lose it, you will not be able to restore your wallet.',
    };
  },

  async restore(ctx, p) {
    const { seedType } = await ctx.restoreWallet({ mnemonic: p.text, passphrase: p.passphrase, password: p.password, seedType: p.seed_type });
    return {
      path: ctx.walletPath,
      seed_type: seedType,
      msg:
        (seedType === 'xpub' ? 'Watch-only wallet: it can make unsigned transactions (PSBT) but not sign. ' : '') +
        'This wallet was restored offline. It may contain more addresses than displayed. ' +
        'Start a daemon and use load_wallet to sync its history.',
    };
  },

  async setconfig(ctx, p) {
    ctx.setConfig(p.key, p.value);
    return true;
  },

  async getconfig(ctx, p) {
    return ctx.getConfig(p.key);
  },

  async daemon() {
    throw badInput('The daemon command is run by the command-line client: fulmen daemon [-d]');
  },

  async stop(ctx) {
    if (!ctx.host) throw badInput('stop: no daemon in this process');
    await ctx.host.stop();
    return 'Daemon stopped';
  },

  async gui_url(ctx) {
    if (!ctx.host) throw badInput('gui_url: the browser GUI is served by the daemon only');
    return ctx.host.guiUrl();
  },

  async load_wallet(ctx, p) {
    await ctx.loadWallet(p.password);
    return true;
  },

  async close_wallet(ctx) {
    await ctx.closeWallet();
    return true;
  },

  async getinfo(ctx) {
    const chain = ctx.chainStatus();
    const ln = ctx.lightningIfRunning();
    return {
      network: ctx.network,
      path: ctx.dataDir,
      server: chain.server,
      blockchain_height: chain.height,
      server_height: chain.serverHeight,
      connected: chain.connected,
      fee_per_kb: chain.feeEstimateSatPerVbyte === null ? null : chain.feeEstimateSatPerVbyte * 1000,
      spv_nodes: chain.serverCount,
      version: ctx.version,
      default_wallet: ctx.walletPath,
      wallet_loaded: ctx.walletLoaded(),
      wallet_exists: ctx.walletExists(),
      ...(ln ? { lightning_node_id: ln.nodeId } : {}),
    };
  },

  async list_server_bans(ctx) {
    return serverBanList(ctx);
  },

  async unban_server(ctx, p) {
    ctx.liftServerBan(p.server);
    return true;
  },

  async getbalance(ctx) {
    return balanceResult(ctx);
  },

  async getunusedaddress(ctx) {
    return ctx.wallet().getUnusedAddress();
  },

  async validateaddress(ctx, p) {
    return isValidAddress(p.address, ctx.network);
  },

  async payto(ctx, p) {
    const wallet = ctx.wallet();
    let feerate = p.feerate;
    if (p.fee === undefined && feerate === undefined) feerate = ctx.chainStatus().feeEstimateSatPerVbyte ?? undefined;
    if (p.fee === undefined && feerate === undefined) {
      throw new FulmenError('NETWORK', 'No fee estimate from the server yet; pass --feerate (sat/vB) or --fee (BTC)');
    }
    const tx = await wallet.createTransactionEx({
      outputs: [{ address: p.destination, amountSat: p.amount }],
      feerateSatPerVbyte: feerate,
      feeSat: p.fee,
      rbf: p.rbf,
      fromCoins: p.from_coins,
      unsigned: p.unsigned,
    });
    return txOrPsbt(tx);
  },

  async broadcast(ctx, p) {
    return ctx.wallet().broadcast(finalizePsbtToHex(p.tx, ctx.network));
  },

  async getmpk(ctx) {
    return ctx.wallet().masterPublicKey();
  },

  async listunspent(ctx) {
    const wallet = ctx.wallet();
    return wallet.listUnspent().map((u) => ({
      address: u.address,
      value: formatSatAsBtc(u.valueSat),
      value_sat: u.valueSat,
      prevout_hash: u.txid,
      prevout_n: u.vout,
      height: u.height,
      coinbase: u.coinbase,
      immature: u.immature,
      frozen: u.frozen,
      label: wallet.getLabel(`${u.txid}:${u.vout}`) || wallet.getLabel(u.address),
    }));
  },

  async freeze_utxo(ctx, p) {
    ctx.wallet().setCoinFrozen(p.coin, true);
    return true;
  },

  async unfreeze_utxo(ctx, p) {
    ctx.wallet().setCoinFrozen(p.coin, false);
    return true;
  },

  async listaddresses(ctx, p) {
    const wallet = ctx.wallet();
    const byAddress = new Map<string, { sat: number; coins: number }>();
    for (const u of wallet.listUnspent()) {
      const b = byAddress.get(u.address) ?? { sat: 0, coins: 0 };
      b.sat += u.valueSat;
      b.coins += 1;
      byAddress.set(u.address, b);
    }
    return wallet
      .listAddresses()
      .filter((a) => !(p.receiving && a.kind !== 'receive') && !(p.change && a.kind !== 'change'))
      .filter((a) => !(p.unused && a.used) && !(p.funded && !byAddress.has(a.address)))
      .map((a) => {
        const b = byAddress.get(a.address) ?? { sat: 0, coins: 0 };
        return {
          address: a.address,
          type: a.kind === 'receive' ? ('receiving' as const) : ('change' as const),
          index: a.index,
          used: a.used,
          balance: formatSatAsBtc(b.sat),
          balance_sat: b.sat,
          coins: b.coins,
          label: wallet.getLabel(a.address),
        };
      });
  },

  async gettransaction(ctx, p) {
    return ctx.wallet().getRawTransaction(p.txid.toLowerCase());
  },

  async paytomany(ctx, p) {
    const outputs = parseOutputsList(p.outputs);
    const tx = await ctx.wallet().createTransactionEx({
      outputs,
      feerateSatPerVbyte: p.feerate,
      feeSat: p.fee,
      rbf: p.rbf,
      fromCoins: p.from_coins,
      unsigned: p.unsigned,
    });
    return txOrPsbt(tx);
  },

  async getfeerate(ctx, p) {
    if (p.fee_method === 'eta') return (await ctx.estimateFeeSatPerVbyte(p.target)) * 1000;
    return feerateForDepth(await ctx.feeHistogram(), p.depth) * 1000;
  },

  async getfeehistogram(ctx, p) {
    const histogram = await ctx.feeHistogram();
    if (p.feerate === undefined) return { histogram };
    return {
      histogram,
      feerate: p.feerate,
      eta_blocks: etaBlocksForFeerate(histogram, p.feerate),
      depth_vbytes: depthForFeerate(histogram, p.feerate),
    };
  },

  async bumpfee(ctx, p) {
    return txOrPsbt(ctx.wallet().bumpFee(txidOf(p.tx), p.new_fee_rate, p.unsigned));
  },

  async dscancel(ctx, p) {
    return txOrPsbt(ctx.wallet().cancelTransaction(txidOf(p.tx), p.new_fee_rate, p.unsigned));
  },

  async cpfp(ctx, p) {
    return txOrPsbt(await ctx.wallet().cpfp(p.txid.toLowerCase(), p.fee_rate, p.unsigned));
  },

  async signtransaction(ctx, p) {
    if (!looksLikePsbt(p.tx)) throw badInput('signtransaction expects a PSBT (base64); raw transactions carry no input values to sign');
    const signed = ctx.wallet().signPsbt(p.tx);
    return signed.txHex ?? signed.psbt;
  },

  async serialize(ctx, p) {
    return finalizePsbtToHex(p.tx, ctx.network);
  },

  async convert_psbt(_ctx, p) {
    if (!looksLikePsbt(p.tx)) throw badInput('convert_psbt expects a PSBT (base64 or hex)');
    return convertPsbt(p.tx, p.version);
  },

  async deserialize(ctx, p) {
    const wallet = ctx.walletLoaded() ? ctx.wallet() : null;
    const d = describeTransaction(
      p.tx,
      ctx.network,
      (script) => wallet?.isMine(script) ?? false,
      (txid, vout) => wallet?.knownOutput(txid, vout) ?? null,
    );
    return {
      txid: d.txid,
      complete: d.complete,
      is_psbt: d.isPsbt,
      version: d.version,
      locktime: d.locktime,
      vsize: d.vsize,
      fee_sat: d.feeSat,
      inputs: d.inputs.map((i) => ({
        prevout_hash: i.txid,
        prevout_n: i.vout,
        nsequence: i.sequence,
        value_sat: i.valueSat,
        address: i.address,
        is_mine: i.isMine,
        signed: i.signed,
      })),
      outputs: d.outputs.map((o) => ({ address: o.address, scriptpubkey: o.scriptPubKeyHex, value_sat: o.valueSat, is_mine: o.isMine })),
    };
  },

  async setlabel(ctx, p) {
    ctx.wallet().setLabel(p.key.trim(), p.label);
    return true;
  },

  async export_labels(ctx) {
    return ctx.wallet().exportLabels();
  },

  async import_labels(ctx, p) {
    return ctx.wallet().importLabels(p.labels);
  },

  async export_history(ctx) {
    return ctx.wallet().exportHistoryCsv();
  },

  async signmessage(ctx, p) {
    return ctx.wallet().signMessage(p.address, p.message, p.bip137 ? 'bip137-p2wpkh' : 'electrum');
  },

  async verifymessage(ctx, p) {
    return verifyMessage(p.address.trim(), p.signature, p.message, ctx.network);
  },

  async onchain_history(ctx) {
    return onchainHistory(ctx);
  },

  async nodeid(ctx) {
    const ln = ctx.lightning();
    const listen = ln.listenAddress();
    return listen ? `${ln.nodeId}@${listen}` : ln.nodeId;
  },

  async open_channel(ctx, p) {
    const target = parseConnectionString(p.connection_string);
    if (p.amount <= 0) throw badInput('Channel amount must be positive');
    if (p.push_amount >= p.amount) throw badInput('push_amount must be smaller than the channel amount');
    return ctx.lightning().openChannel({ ...target, fundingSat: p.amount, pushMsat: satToMsat(p.push_amount), zeroconf: p.zeroconf });
  },

  async list_channels(ctx) {
    return ctx.lightning().listChannels();
  },

  async close_channel(ctx, p) {
    return ctx.lightning().closeChannel(p.channel_point.toLowerCase(), p.force);
  },

  async get_channel_ctx(ctx, p) {
    if (!p.iknowwhatimdoing) {
      throw badInput(
        'This command exports our latest commitment transaction. Broadcasting it force-closes the channel, ' +
          'and broadcasting it after a newer state exists loses all funds in the channel. ' +
          'Pass --iknowwhatimdoing to proceed.',
      );
    }
    return ctx.lightning().latestLocalCommitmentTx(p.channel_point.toLowerCase());
  },

  async get_channel_sweeps(ctx, p) {
    return ctx.lightning().channelSweeps(p.channel_point.toLowerCase());
  },

  async export_channel_backup(ctx, p) {
    return ctx.lightning().exportChannelBackup(p.channel_point.toLowerCase());
  },

  async import_channel_backup(ctx, p) {
    const channelPoint = ctx.lightning().importChannelBackup(p.encrypted);
    return `Channel backup imported: ${channelPoint}`;
  },

  async request_force_close(ctx, p) {
    await ctx.lightning().requestForceClose(p.channel_point.toLowerCase(), p.connection_string);
    return 'Force close requested: the peer publishes its commitment, then our output is swept to the wallet';
  },

  async add_request(ctx, p) {
    const wallet = ctx.wallet();
    const ln = ctx.lightningIfRunning();
    const amountSat = p.amount === 0 ? null : p.amount;
    const address = wallet.getUnusedAddress();
    let invoice: { invoice: string; paymentHash: string } | null = null;
    if (ln) {
      const amountMsat = amountSat === null ? null : satToMsat(amountSat);
      if (!p.force && amountMsat !== null && ln.canReceiveMsat() < amountMsat) {
        // Electrum: without inbound liquidity the request is on-chain only unless --force.
        invoice = null;
      } else {
        invoice = ln.createInvoice({ amountMsat, description: p.memo, expirySec: p.expiry });
      }
    }
    const stored = wallet.requests.add({
      rhash: invoice ? invoice.paymentHash : randomBytes(32).toString('hex'),
      amountSat,
      memo: p.memo,
      address,
      lightningInvoice: invoice ? invoice.invoice : null,
      createdAt: Math.floor(Date.now() / 1000),
      expirySec: p.expiry,
    });
    return requestResult(stored);
  },

  async list_requests(ctx, p) {
    const all = ctx.wallet().requests.list();
    const filtered = all.filter((r) => {
      if (p.pending) return r.status === 'unpaid';
      if (p.expired) return r.status === 'expired';
      if (p.paid) return r.status === 'paid';
      return true;
    });
    return filtered.map(requestResult);
  },

  async lnpay(ctx, p) {
    const r = await ctx.lightning().pay(p.invoice, p.timeout);
    return {
      success: r.success,
      payment_hash: r.paymentHash,
      preimage: r.preimage,
      ...(r.success ? {} : { error: r.error ?? 'Payment failed' }),
    };
  },

  async lightning_history(ctx) {
    return lightningHistory(ctx.lightning().payments());
  },

  async history(ctx) {
    return mergedHistory(ctx);
  },

  async decode_invoice(ctx, p) {
    const d = ctx.decodeInvoice(p.invoice);
    const result: DecodedInvoiceResult = {
      network: d.network,
      payment_hash: d.paymentHash,
      amount_msat: d.amountMsat === null ? null : d.amountMsat.toString(),
      amount_BTC: d.amountMsat === null ? null : formatMsatAsBtc(d.amountMsat),
      description: d.description,
      description_hash: d.descriptionHash,
      pubkey: d.payeeNodeId,
      timestamp: d.timestamp,
      expiry: d.expirySec,
      min_final_cltv_expiry: d.minFinalCltvExpiry,
      is_expired: Math.floor(Date.now() / 1000) >= d.timestamp + d.expirySec,
      fallback_address: d.fallbackAddress,
      route_hints_count: d.routeHintCount,
      features: d.features,
    };
    return result;
  },
};

/** A created transaction as Electrum prints it: raw hex when signed, PSBT (base64) otherwise. */
function txOrPsbt(tx: CreatedTransaction): string {
  return tx.complete ? tx.txHex : tx.psbt;
}

/** bumpfee/dscancel take a txid or the raw transaction (Electrum accepts both). */
function txidOf(text: string): string {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return t.toLowerCase();
  return parseTransaction(t).getId();
}

/**
 * paytomany's outputs: [[address, amount], ...] as JSON text or an array; amounts in BTC, "!"
 * for max (at most one). @throws FulmenError BAD_INPUT.
 */
export function parseOutputsList(value: string | [string, string | number][]): { address: string; amountSat: number | 'max' }[] {
  let list: unknown = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value);
    } catch {
      throw badInput('outputs: expected a JSON list of [address, amount] pairs');
    }
  }
  if (!Array.isArray(list) || list.length === 0) throw badInput('outputs: expected a non-empty list of [address, amount] pairs');
  return list.map((item, i) => {
    if (!Array.isArray(item) || item.length !== 2 || typeof item[0] !== 'string') throw badInput(`outputs[${i}]: expected [address, amount]`);
    const parsed = btcAmountOrMax.safeParse(item[1]);
    if (!parsed.success) throw badInput(`outputs[${i}]: invalid amount ${JSON.stringify(item[1])}`);
    return { address: item[0], amountSat: parsed.data };
  });
}

/**
 * list_server_bans (also the `server_bans` event): bans in force, times in unix seconds.
 * @throws FulmenError NETWORK without a chain connection (offline).
 */
export function serverBanList(ctx: CommandContext): ServerBanItem[] {
  return ctx.serverBans().map((ban) => ({
    server: ban.server,
    reason: ban.reason,
    banned_at: Math.floor(ban.bannedAt / 1000),
    expires_at: Math.ceil(ban.expiresAt / 1000),
  }));
}

/** getbalance, Electrum's shape: keys other than `confirmed` only when non-zero. */
export function balanceResult(ctx: CommandContext): BalanceResult {
  const b = ctx.wallet().getBalance();
  const out: BalanceResult = { confirmed: formatSatAsBtc(b.confirmedSat) };
  if (b.unconfirmedSat) out.unconfirmed = formatSatAsBtc(b.unconfirmedSat);
  if (b.unmaturedSat) out.unmatured = formatSatAsBtc(b.unmaturedSat);
  const lightningMsat = ctx.lightningIfRunning()?.balanceMsat() ?? 0n;
  if (lightningMsat !== 0n) out.lightning = formatMsatAsBtc(lightningMsat);
  const reservedSat = ctx.wallet().reserve().reservedSat;
  if (reservedSat) out.reserved = formatSatAsBtc(reservedSat);
  return out;
}

/** onchain_history: Electrum's {summary, transactions} with a running balance, newest first. */
export function onchainHistory(ctx: CommandContext): OnchainHistoryResult {
  const oldestFirst = [...ctx.wallet().getOnchainHistory()].reverse();
  let balance = 0;
  let incoming = 0;
  let outgoing = 0;
  const rows: OnchainHistoryItem[] = oldestFirst.map((tx) => {
    balance += tx.deltaSat;
    if (tx.deltaSat >= 0) incoming += tx.deltaSat;
    else outgoing -= tx.deltaSat;
    const confirmed = tx.height > 0;
    return {
      txid: tx.txid,
      height: confirmed ? tx.height : 0,
      confirmations: tx.confirmations,
      timestamp: tx.timestamp,
      date: tx.timestamp === null ? null : new Date(tx.timestamp * 1000).toISOString(),
      bc_value: formatSatAsBtc(tx.deltaSat),
      bc_balance: formatSatAsBtc(balance),
      fee_sat: tx.feeSat,
      label: tx.label,
      incoming: tx.deltaSat >= 0,
    };
  });
  return {
    summary: {
      start_balance: '0',
      end_balance: formatSatAsBtc(balance),
      incoming: formatSatAsBtc(incoming),
      outgoing: formatSatAsBtc(outgoing),
      count: rows.length,
    },
    transactions: rows.reverse(),
  };
}

function lightningHistory(payments: LightningPayment[]): LightningHistoryItem[] {
  return payments
    .map((pay) => ({
      payment_hash: pay.paymentHash,
      amount_msat: (pay.direction === 'sent' ? -(pay.amountMsat + (pay.feeMsat ?? 0n)) : pay.amountMsat).toString(),
      fee_msat: pay.feeMsat === null ? null : pay.feeMsat.toString(),
      direction: pay.direction,
      status: pay.status,
      timestamp: pay.timestamp,
      preimage: pay.preimage,
      label: pay.label,
    }))
    .sort((a, b) => b.timestamp - a.timestamp);
}

/** history (GUI): on-chain and Lightning rows merged, unconfirmed first, then newest first. */
export function mergedHistory(ctx: CommandContext): HistoryItem[] {
  const onchain: HistoryItem[] = onchainHistory(ctx).transactions.map((t) => ({ kind: 'onchain' as const, ...t }));
  const ln = ctx.lightningIfRunning();
  const lightning: HistoryItem[] = ln ? lightningHistory(ln.payments()).map((p) => ({ kind: 'lightning' as const, ...p })) : [];
  const sortKey = (h: HistoryItem): number => h.timestamp ?? Number.MAX_SAFE_INTEGER;
  return [...onchain, ...lightning].sort((a, b) => sortKey(b) - sortKey(a));
}

/** Electrum's request dict; `URI` is BIP21 with the `lightning=` parameter (BIP21, Electrum). */
export function requestResult(r: PaymentRequest): RequestResult {
  const amountSat = r.amountSat ?? 0;
  let uri: string | null = null;
  if (r.address) {
    const query: string[] = [];
    if (amountSat > 0) query.push(`amount=${formatSatAsBtc(amountSat)}`);
    if (r.memo) query.push(`message=${encodeURIComponent(r.memo)}`);
    if (r.lightningInvoice) query.push(`lightning=${r.lightningInvoice}`);
    uri = `bitcoin:${r.address}${query.length ? '?' + query.join('&') : ''}`;
  }
  return {
    rhash: r.rhash,
    amount_BTC: formatSatAsBtc(amountSat),
    amount_sat: amountSat,
    message: r.memo,
    timestamp: r.createdAt,
    expiry: r.expirySec,
    status: PR_STATUS[r.status],
    status_str: PR_STATUS_STR[r.status],
    address: r.address,
    URI: uri,
    lightning_invoice: r.lightningInvoice,
    is_lightning: r.lightningInvoice !== null,
  };
}

/**
 * Parses Electrum's connection string: `<node id>` or `<node id>@<host>:<port>` (IPv6 in brackets).
 * @throws FulmenError BAD_INPUT.
 */
export function parseConnectionString(text: string): { nodeId: string; host: string | null; port: number | null } {
  const m = /^([0-9a-fA-F]{66})(?:@(\[[0-9a-fA-F:]+\]|[^\s:@]+):(\d{1,5}))?$/.exec(text.trim());
  if (!m) throw badInput(`Invalid connection string "${text}" (expected <node id>@<host>:<port>)`);
  const nodeId = m[1]!.toLowerCase();
  if (!/^0[23]/.test(nodeId)) throw badInput('Invalid node id (expected a 33-byte compressed public key)');
  if (!m[2]) return { nodeId, host: null, port: null };
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw badInput(`Invalid port ${m[3]}`);
  return { nodeId, host: m[2].replace(/^\[|\]$/g, ''), port };
}

/** One entry of the table: declaration plus handler. */
export interface CommandSpec<K extends CommandName = CommandName> extends CommandDeclaration<(typeof declarations)[K]['params']> {
  name: K;
  run: Handler<K>;
}

function buildTable(): ReadonlyMap<CommandName, CommandSpec> {
  const table = new Map<CommandName, CommandSpec>();
  for (const name of Object.keys(declarations) as CommandName[]) {
    const spec = { ...declarations[name], name, run: handlers[name] } as unknown as CommandSpec;
    table.set(name, spec);
  }
  return table;
}

/** Every command, by name. */
export const commandTable: ReadonlyMap<CommandName, CommandSpec> = buildTable();
