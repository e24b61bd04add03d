import type { Transaction } from 'bitcoinjs-lib';
import type { ChainSource } from '../../chain/types.js';
import type { NetworkName } from '../../bitcoin/network.js';
import { addressToScriptPubKey } from '../../bitcoin/address.js';
import type { ChannelData, ChannelStateName } from '../channel/channel.js';
import { pubkeyFromSecret, START_INDEX } from '../channel/keys.js';
import { Shachain } from '../channel/shachain.js';
import { channelView, rebuildCommitment, type ChannelView } from '../watcher/commitments.js';
import { resolutionsFor } from '../watcher/sweeps.js';
import { parseTowerUrl } from './protocol.js';

/**
 * Justice transactions for the remote's revoked commitment `ctn` (BOLT 5 "Revoked Transaction
 * Close Handling"): the commitment is rebuilt from the channel's full HTLC log and the
 * per_commitment_secret from our shachain, then its to_local and HTLC outputs are spent through
 * the revocation key to `destination` at `feerateSatPerVbyte` (watcher/sweeps.ts builders).
 * Outputs too small to pay their fee are left out. Second-stage (HTLC transaction) outputs are
 * not covered. @returns [] when the secret is unknown (ctn not revoked).
 */
export function justiceTransactionsFor(view: ChannelView, ctn: number, destination: Uint8Array, feerateSatPerVbyte: number): Transaction[] {
  const perCommitmentSecret = Shachain.deserialize(view.data.remoteSecrets).get(START_INDEX - BigInt(ctn));
  if (!perCommitmentSecret) return [];
  const rebuilt = rebuildCommitment(view, 'remote', ctn, pubkeyFromSecret(perCommitmentSecret));
  const resolutions = resolutionsFor(view, { kind: 'breach', rebuilt, perCommitmentSecret }, rebuilt.commitment.tx);
  const out: Transaction[] = [];
  for (const r of resolutions) {
    if ((r.kind !== 'justice_to_local' && r.kind !== 'justice_htlc') || !r.build) continue;
    const tx = r.build({ feerateSatPerVbyte, destination });
    if (tx) out.push(tx);
  }
  return out;
}

/** What the client needs of a channel (implemented by channel/channel.ts `Channel`). */
export interface TowerWatchedChannel {
  readonly channelPoint: string | null;
  readonly state: ChannelStateName;
  /** Oldest unrevoked remote ctn: every remote commitment below it is revoked. */
  readonly remoteCtn: number;
  snapshot(): ChannelData;
}

export interface WatchtowerClientOptions {
  /** `http://user:pass@host:port` (config `watchtower_url`). */
  url: string;
  chain: ChainSource;
  /** Where justice transactions pay (a receive address of the wallet). */
  wallet: { getUnusedAddress(): string };
  network: NetworkName;
  lightningRootSecret: Uint8Array;
  channels: () => Iterable<TowerWatchedChannel>;
  /** Delay before retrying after the tower or the chain failed. Default 30 s. */
  retryMs?: number;
  /** Confirmation target for the justice feerate. Default 2. */
  feeTargetBlocks?: number;
}

/** Channel states in which the remote can still broadcast a revoked commitment we should cover. */
const COVERED_STATES: readonly ChannelStateName[] = ['OPEN', 'SHUTDOWN', 'CLOSING', 'FUNDED', 'OPENING'];

/**
 * Client of a watchtower (protocol.ts), Electrum's `sync_with_remote_watchtower`: after each
 * revoke_and_ack we receive (`notifyRevoked`), and on start, every channel's revoked remote
 * commitments the tower does not have yet (above its `get_ctn`) get their justice transactions
 * sent with `add_sweep_tx`, oldest first.
 *
 * The queue is persistent without a table of its own: what is owed to the tower is the range
 * (tower's ctn, our channel's remoteCtn - 1], derived from channel state that is committed to
 * SQLite (remoteCtn, the shachain of revocation secrets, the HTLC archive). After a crash or
 * while the tower is offline nothing is lost; the next sync (retried every `retryMs`) resumes
 * from the tower's answer. Payments never wait for the tower.
 */
export class WatchtowerClient {
  private readonly endpoint: string;
  private readonly authorization: string | null;
  /** Highest ctn the tower acknowledged, per channel point (a cache of its get_ctn). */
  private readonly towerCtn = new Map<string, number>();
  private work: Promise<void> = Promise.resolve();
  private queued = false;
  private stopped = true;
  private retryTimer: NodeJS.Timeout | null = null;
  private nextId = 1;
  /** Last failure talking to the tower (for status), null after a successful sync. */
  lastError: string | null = null;

  /** @throws Error when `opts.url` is malformed. */
  constructor(private readonly opts: WatchtowerClientOptions) {
    const { endpoint, authorization } = parseTowerUrl(opts.url);
    this.endpoint = endpoint;
    this.authorization = authorization;
  }

  start(): void {
    this.stopped = false;
    this.notifyRevoked();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = null;
    await this.work.catch(() => undefined);
  }

  /** A remote commitment was revoked (revoke_and_ack received): schedules a sync. Never throws or blocks. */
  notifyRevoked(): void {
    if (this.queued || this.stopped) return;
    this.queued = true;
    this.work = this.work.then(async () => {
      this.queued = false;
      try {
        await this.sync();
        this.lastError = null;
      } catch (e) {
        this.lastError = e instanceof Error ? e.message : String(e);
        this.scheduleRetry();
      }
    });
  }

  /** Runs a sync now and waits for it (tests). */
  async syncNow(): Promise<void> {
    this.notifyRevoked();
    await this.work;
  }

  /** Revoked remote commitments not yet acknowledged by the tower, over all channels (as far as known). */
  pendingCount(): number {
    let n = 0;
    for (const ch of this.opts.channels()) {
      if (!ch.channelPoint || !COVERED_STATES.includes(ch.state)) continue;
      n += Math.max(0, ch.remoteCtn - 1 - (this.towerCtn.get(ch.channelPoint) ?? -1));
    }
    return n;
  }

  private scheduleRetry(): void {
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      this.notifyRevoked();
    }, this.opts.retryMs ?? 30_000);
    this.retryTimer.unref();
  }

  private async sync(): Promise<void> {
    let feerateSatPerVbyte: number | null = null;
    for (const ch of [...this.opts.channels()]) {
      if (this.stopped) return;
      const cp = ch.channelPoint;
      if (!cp || !COVERED_STATES.includes(ch.state)) continue;
      const revokedUpTo = ch.remoteCtn - 1;
      if (revokedUpTo < 0) continue;
      let acked = this.towerCtn.get(cp);
      if (acked === undefined) {
        acked = await this.call<number>('get_ctn', { funding_outpoint: cp });
        this.towerCtn.set(cp, acked);
      }
      if (acked >= revokedUpTo) continue;
      feerateSatPerVbyte ??= await this.opts.chain.estimateFeeSatPerVbyte(this.opts.feeTargetBlocks ?? 2);
      const data = ch.snapshot();
      if (!data.remoteBasepoints) continue;
      const view = channelView(data, this.opts.lightningRootSecret);
      const destination = addressToScriptPubKey(this.opts.wallet.getUnusedAddress(), this.opts.network);
      for (let ctn = acked + 1; ctn <= revokedUpTo; ctn++) {
        for (const tx of justiceTransactionsFor(view, ctn, destination, feerateSatPerVbyte)) {
          await this.call<boolean>('add_sweep_tx', { funding_outpoint: cp, ctn, sweep_tx: tx.toHex() });
        }
        this.towerCtn.set(cp, ctn);
      }
    }
  }

  /** One JSON-RPC call to the tower. @throws Error on HTTP, auth or JSON-RPC errors (no secrets in messages). */
  private async call<T>(method: string, params: Record<string, unknown>): Promise<T> {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.authorization) headers.authorization = this.authorization;
    const res = await fetch(this.endpoint, {
      method: 'POST',
      headers,
      body: JSON.stringify({ jsonrpc: '2.0', id: this.nextId++, method, params }),
      signal: AbortSignal.timeout(15_000),
    });
    if (res.status === 401) throw new Error('watchtower refused our credentials');
    if (!res.ok) throw new Error(`watchtower HTTP ${res.status}`);
    const body = (await res.json()) as { result?: T; error?: { message?: string } };
    if (body.error) throw new Error(`watchtower ${method}: ${body.error.message ?? 'error'}`);
    return body.result as T;
  }
}
