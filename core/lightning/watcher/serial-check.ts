import type { ChainEvent } from '../../chain/types.js';

/**
 * Runs a chain-driven check one pass at a time (used by the ChannelWatcher, the watchtower and
 * channel backups): a pass requested while one runs is coalesced into one more pass, and a pass
 * that throws (a network error) is dropped: the next tip or notification retries.
 */
export class SerialCheck {
  private work: Promise<void> = Promise.resolve();
  private queued = false;

  constructor(
    private readonly check: () => Promise<void>,
    private readonly stopped: () => boolean,
  ) {}

  /** Requests a pass (no-op when one is already queued or the owner stopped). */
  schedule(): void {
    if (this.queued || this.stopped()) return;
    this.queued = true;
    this.work = this.work
      .then(async () => {
        this.queued = false;
        await this.check();
      })
      .catch(() => {
        this.queued = false;
      });
  }

  /** Requests a pass and resolves once it has run (never rejects). */
  runNow(): Promise<void> {
    this.schedule();
    return this.work;
  }
}

/** Whether a chain event calls for a pass: a new tip, a reconnect, or a watched scripthash's status. */
export function chainEventConcerns(e: ChainEvent, watched: { has(scripthash: string): boolean }): boolean {
  return e.type === 'tip' || (e.type === 'connection' && e.connected) || (e.type === 'scripthash' && watched.has(e.scripthash));
}
