/**
 * Channel backups of a LightningNode (Electrum's ChannelBackup / lnworker backup handling): the
 * channels a wallet knows only from a backup, imported (`import_channel_backup`) or found in its
 * own funding transactions (encrypted OP_RETURN, backup/onchain.ts). Such a channel cannot be
 * used; it can only be closed by the peer (`request_force_close`, node.ts). This class keeps the
 * records (table lightning_channel_backups), scans the wallet's transactions for recoverable
 * channels, watches each funding output and, once a commitment spends it, sweeps what is ours
 * to a fresh wallet address:
 *
 * - to_remote of the peer's commitment: P2WPKH of our payment basepoint (static key from the
 *   seed), spendable at once (BOLT 3 option_static_remotekey);
 * - to_local of our own commitment (published before the wallet was lost), after to_self_delay:
 *   needs the peer's revocation and payment basepoints and its to_self_delay, which only a
 *   static backup carries (an OP_RETURN-found channel cannot do this).
 *
 * Sweeps are built deterministically from the chain and the seed, recorded before broadcast and
 * re-broadcast on every check until the output is spent.
 */
import { chainEventConcerns, SerialCheck } from '../watcher/serial-check.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { Transaction } from 'bitcoinjs-lib';
import type { ChainSource } from '../../chain/types.js';
import type { Db } from '../../storage/db.js';
import type { NetworkName } from '../../bitcoin/network.js';
import { addressToScriptPubKey, scriptHash } from '../../bitcoin/address.js';
import { inputPrevTxid } from '../../bitcoin/transaction.js';
import { FulmenError } from '../../util/errors.js';
import { channelIdFromFunding, type ChannelTypeName } from '../channel/channel.js';
import { channelSecretsFor, derivePrivkey, derivePubkey, deriveRevocationPubkey, perCommitmentPoint, pubkeyFromSecret, START_INDEX, type ChannelKeyDerivation } from '../channel/keys.js';
import { anchorToRemoteScript, commitmentObscuringFactor, decodeCommitmentNumber, p2wpkh, p2wsh, toLocalScript } from '../channel/transactions.js';
import { isCommitmentShaped } from '../watcher/commitments.js';
import { sweepAnchorToRemote, sweepDelayedOutput, sweepStaticToRemote, type Prevout, type SweepBuildParams } from '../watcher/sweeps.js';
import { findFundingOutput } from './onchain.js';
import type { BackupContents, DecodedBackupContents } from './static-backup.js';

/** BACKUP: nothing on chain yet; FORCE_CLOSE_REQUESTED: we asked the peer; then as channels. */
export type BackupState = 'BACKUP' | 'FORCE_CLOSE_REQUESTED' | 'FORCE_CLOSING' | 'CLOSED' | 'REDEEMED';

/** A channel known from a backup. */
export interface BackupRecord {
  /** "txid:vout" */
  channelPoint: string;
  channelId: string;
  source: 'imported' | 'onchain';
  fundingTxid: string;
  fundingOutputIndex: number;
  fundingSat: number;
  fundingScriptPubKey: string;
  remoteNodeId: string;
  host: string | null;
  port: number | null;
  isInitiator: boolean;
  keyIndex: number | null;
  keyDerivation: ChannelKeyDerivation | null;
  /** The peer's static parameters (static backups only). */
  remote: BackupContents['remote'] | null;
  /**
   * BOLT 2 channel_type from a version 2 static backup; null or absent (records stored before,
   * version 1 backups, channels found on chain): unknown, both to_remote forms are tried.
   */
  channelType?: ChannelTypeName | null;
  state: BackupState;
  closingTxid: string | null;
  /** Our sweeps by kind: txid and whether it confirmed. */
  sweeps: Partial<Record<'to_remote' | 'to_local', { txid: string; rawTx: string; valueSat: number; confirmed: boolean }>>;
}

export interface ChannelBackupsOptions {
  db: Db;
  chain: ChainSource;
  wallet: {
    getUnusedAddress(): string;
    broadcast(txHex: string): Promise<string>;
    getOnchainHistory(): { txid: string; deltaSat: number }[];
    on(listener: (e: { type: string }) => void): () => void;
  };
  network: NetworkName;
  lightningRootSecret: Uint8Array;
  /** True when the node has this channel (then no backup record is kept). */
  hasChannel(channelPoint: string): boolean;
  onChanged?: (r: BackupRecord) => void;
}

interface Resolution {
  kind: 'to_remote' | 'to_local';
  prevout: Prevout;
  scriptPubKey: Uint8Array;
  csvDelay: number;
  build: (p: SweepBuildParams) => Transaction | null;
}

export class ChannelBackups {
  private readonly scanned = new Set<string>();
  private readonly subscribed = new Set<string>();
  private unsubscribers: (() => void)[] = [];
  private stopped = false;
  private readonly checks = new SerialCheck(() => this.checkAll(), () => this.stopped);

  /** `opts.db` has the table lightning_channel_backups (migration 103). */
  constructor(private readonly opts: ChannelBackupsOptions) {}

  /** Starts watching (chain tips, watched scripts, wallet history) and runs a first check. */
  start(): void {
    this.stopped = false;
    this.unsubscribers.push(this.opts.chain.on((e) => chainEventConcerns(e, this.subscribed) && this.checks.schedule()));
    this.unsubscribers.push(this.opts.wallet.on((e) => e.type === 'history' && this.checks.schedule()));
    this.checks.schedule();
  }

  /** Stops watching; waits for a check in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const u of this.unsubscribers) u();
    this.unsubscribers = [];
    await this.checks.runNow();
  }

  /** Runs one wallet scan and check of every backup now; resolves when done (tests, commands). */
  checkNow(): Promise<void> {
    return this.checks.runNow();
  }

  /** Every backup record, by channel point. */
  list(): BackupRecord[] {
    const rows = this.opts.db.prepare('SELECT data FROM lightning_channel_backups ORDER BY channel_point').all() as { data: string }[];
    return rows.map((r) => JSON.parse(r.data) as BackupRecord);
  }

  /** The backup of a channel point or channel id. */
  get(channelPoint: string): BackupRecord | undefined {
    return this.list().find((r) => r.channelPoint === channelPoint || r.channelId === channelPoint);
  }

  private save(r: BackupRecord): void {
    this.opts.db
      .prepare('INSERT INTO lightning_channel_backups (channel_point, data, updated_at) VALUES (?, ?, ?) ON CONFLICT (channel_point) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at')
      .run(r.channelPoint, JSON.stringify(r), Date.now());
    this.opts.onChanged?.(r);
  }

  /**
   * Adds an imported static backup (already decrypted and checked).
   * @throws FulmenError BAD_INPUT when the wallet has this channel already.
   */
  importBackup(c: DecodedBackupContents): BackupRecord {
    const channelPoint = `${c.fundingTxid}:${c.fundingOutputIndex}`;
    if (this.opts.hasChannel(channelPoint)) throw new FulmenError('BAD_INPUT', 'This channel is in the wallet already: its backup is not needed');
    const existing = this.get(channelPoint);
    const record: BackupRecord = {
      channelPoint,
      channelId: c.channelId,
      source: 'imported',
      fundingTxid: c.fundingTxid,
      fundingOutputIndex: c.fundingOutputIndex,
      fundingSat: c.fundingSat,
      fundingScriptPubKey: c.fundingScriptPubKey,
      remoteNodeId: c.remoteNodeId,
      host: c.host,
      port: c.port,
      isInitiator: c.isInitiator,
      keyIndex: c.keyIndex,
      keyDerivation: c.keyDerivation,
      remote: c.remote,
      channelType: c.channelType,
      state: existing?.state ?? 'BACKUP',
      closingTxid: existing?.closingTxid ?? null,
      sweeps: existing?.sweeps ?? {},
    };
    this.save(record);
    this.checks.schedule();
    return record;
  }

  /** Records that we asked the peer to force close. */
  markForceCloseRequested(channelPoint: string): void {
    const r = this.get(channelPoint);
    if (r && r.state === 'BACKUP') this.save({ ...r, state: 'FORCE_CLOSE_REQUESTED' });
  }


  private async checkAll(): Promise<void> {
    const chain = this.opts.chain;
    if (this.stopped || !chain.isConnected() || !chain.tip()) return;
    await this.scanWallet();
    for (const r of this.list()) {
      if (this.stopped) return;
      if (r.state === 'REDEEMED') continue;
      if (this.opts.hasChannel(r.channelPoint)) continue;
      await this.checkBackup(r);
    }
  }

  /**
   * Recoverable channels: every transaction of the wallet that spent our coins is checked for
   * our OP_RETURN; a match is a channel we opened, kept as an 'onchain' backup.
   */
  private async scanWallet(): Promise<void> {
    for (const item of this.opts.wallet.getOnchainHistory()) {
      if (item.deltaSat >= 0 || this.scanned.has(item.txid)) continue;
      const tx = Transaction.fromHex(await this.opts.chain.getTransaction(item.txid));
      this.scanned.add(item.txid);
      const found = findFundingOutput(this.opts.lightningRootSecret, tx);
      if (!found) continue;
      const channelPoint = `${item.txid}:${found.fundingOutputIndex}`;
      if (this.opts.hasChannel(channelPoint) || this.get(channelPoint)) continue;
      this.save({
        channelPoint,
        channelId: bytesToHex(channelIdFromFunding(item.txid, found.fundingOutputIndex)),
        source: 'onchain',
        fundingTxid: item.txid,
        fundingOutputIndex: found.fundingOutputIndex,
        fundingSat: found.fundingSat,
        fundingScriptPubKey: found.fundingScriptPubKey,
        remoteNodeId: found.remoteNodeId,
        host: found.host,
        port: found.port,
        isInitiator: true,
        keyIndex: null,
        keyDerivation: { scheme: 'opened', remoteNodeId: found.remoteNodeId, fundingLocktime: found.fundingLocktime },
        remote: null,
        state: 'BACKUP',
        closingTxid: null,
        sweeps: {},
      });
    }
  }

  private async watch(scriptPubKey: Uint8Array): Promise<string> {
    const sh = scriptHash(scriptPubKey);
    if (!this.subscribed.has(sh)) {
      await this.opts.chain.subscribeScripthash(sh);
      this.subscribed.add(sh);
    }
    return sh;
  }

  /** The transaction spending `txid:vout` (from the history of its script) and whether it is confirmed (SPV). */
  private async findSpender(scriptPubKey: Uint8Array, txid: string, vout: number): Promise<{ tx: Transaction; height: number; confirmed: boolean } | null> {
    const chain = this.opts.chain;
    const history = await chain.getHistory(await this.watch(scriptPubKey));
    for (const h of history.filter((x) => x.txid !== txid)) {
      const tx = Transaction.fromHex(await chain.getTransaction(h.txid));
      if (!tx.ins.some((i) => inputPrevTxid(i) === txid && i.index === vout)) continue;
      const confirmed = h.height > 0 && (await chain.verifyTransaction(h.txid, h.height)).verified;
      return { tx, height: h.height, confirmed };
    }
    return null;
  }

  private async checkBackup(r: BackupRecord): Promise<void> {
    const closing = await this.findSpender(hexToBytes(r.fundingScriptPubKey), r.fundingTxid, r.fundingOutputIndex);
    if (!closing) return;
    let record: BackupRecord = { ...r, closingTxid: closing.tx.getId(), state: closing.confirmed ? 'CLOSED' : 'FORCE_CLOSING' };
    const tip = this.opts.chain.tip()!;
    let allConfirmed = closing.confirmed;
    for (const res of this.resolutions(record, closing.tx)) {
      const spender = await this.findSpender(res.scriptPubKey, res.prevout.txid, res.prevout.vout);
      const known = record.sweeps[res.kind];
      if (spender) {
        const txid = spender.tx.getId();
        if (known?.txid === txid && known.confirmed !== spender.confirmed) record = { ...record, sweeps: { ...record.sweeps, [res.kind]: { ...known, confirmed: spender.confirmed } } };
        allConfirmed &&= spender.confirmed;
        continue;
      }
      allConfirmed = false;
      if (res.csvDelay > 0 && (!closing.confirmed || tip.height + 1 < closing.height + res.csvDelay)) continue;
      let sweep = known;
      if (!sweep) {
        const feerateSatPerVbyte = await this.opts.chain.estimateFeeSatPerVbyte(6);
        const destination = addressToScriptPubKey(this.opts.wallet.getUnusedAddress(), this.opts.network);
        const tx = res.build({ feerateSatPerVbyte, destination });
        if (!tx) continue; // dust after the fee
        sweep = { txid: tx.getId(), rawTx: tx.toHex(), valueSat: res.prevout.valueSat, confirmed: false };
        record = { ...record, sweeps: { ...record.sweeps, [res.kind]: sweep } };
        this.save(record); // recorded before it leaves the process
      }
      await this.opts.wallet.broadcast(sweep.rawTx).catch(() => undefined); // retried on the next check
    }
    if (allConfirmed && Object.keys(record.sweeps).length > 0) record = { ...record, state: 'REDEEMED' };
    if (JSON.stringify(record) !== JSON.stringify(r)) this.save(record);
  }

  /** The outputs of the closing transaction `tx` that we can spend with what the backup knows. */
  private resolutions(r: BackupRecord, tx: Transaction): Resolution[] {
    if (!isCommitmentShaped(tx)) return []; // a mutual close pays our wallet directly
    const secrets = channelSecretsFor(this.opts.lightningRootSecret, { keyIndex: r.keyIndex ?? 0, keyDerivation: r.keyDerivation ?? undefined });
    const txid = tx.getId();
    const out: Resolution[] = [];
    const paymentBasepoint = pubkeyFromSecret(secrets.paymentBasepointSecret);
    // to_remote is P2WPKH (static_remotekey) or, with option_anchors, P2WSH `<key>
    // OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY` (BOLT 3): the form of the backup's channel type,
    // or both when it does not name one.
    const toRemoteForms = [
      { type: 'static_remotekey', scriptPubKey: p2wpkh(paymentBasepoint), csvDelay: 0, sweep: sweepStaticToRemote },
      { type: 'anchors', scriptPubKey: p2wsh(anchorToRemoteScript(paymentBasepoint)), csvDelay: 1, sweep: sweepAnchorToRemote },
    ].filter((f) => !r.channelType || f.type === r.channelType);
    for (const form of toRemoteForms) {
      const toRemoteVout = tx.outs.findIndex((o) => bytesToHex(o.script) === bytesToHex(form.scriptPubKey));
      if (toRemoteVout < 0) continue;
      const prevout = { txid, vout: toRemoteVout, valueSat: Number(tx.outs[toRemoteVout]!.value) };
      out.push({ kind: 'to_remote', prevout, scriptPubKey: form.scriptPubKey, csvDelay: form.csvDelay, build: (p) => form.sweep({ prevout, paymentBasepointSecret: secrets.paymentBasepointSecret }, p) });
    }
    if (r.remote) {
      // Our own commitment? Decode its number (BOLT 3 obscured commitment number) and rebuild to_local.
      const theirs = hexToBytes(r.remote.paymentBasepoint);
      const factor = r.isInitiator ? commitmentObscuringFactor(paymentBasepoint, theirs) : commitmentObscuringFactor(theirs, paymentBasepoint);
      const ctn = decodeCommitmentNumber(tx.locktime, tx.ins[0]!.sequence, factor);
      if (ctn > START_INDEX) return out; // not one of our commitments
      const point = perCommitmentPoint(secrets.perCommitmentSeed, ctn);
      const delay = r.remote.toSelfDelay;
      const witnessScript = toLocalScript(
        deriveRevocationPubkey(hexToBytes(r.remote.revocationBasepoint), point),
        delay,
        derivePubkey(pubkeyFromSecret(secrets.delayedPaymentBasepointSecret), point),
      );
      const script = p2wsh(witnessScript);
      const vout = tx.outs.findIndex((o) => bytesToHex(o.script) === bytesToHex(script));
      if (vout >= 0) {
        const prevout = { txid, vout, valueSat: Number(tx.outs[vout]!.value) };
        const delayedPrivkey = derivePrivkey(secrets.delayedPaymentBasepointSecret, point);
        out.push({ kind: 'to_local', prevout, scriptPubKey: script, csvDelay: delay, build: (p) => sweepDelayedOutput({ prevout, witnessScript, toSelfDelay: delay, delayedPrivkey }, p) });
      }
    }
    return out;
  }
}
