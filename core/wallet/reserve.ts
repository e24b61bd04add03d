import { FulmenError } from '../util/errors.js';

/**
 * On-chain reserve for option_anchors channels.
 *
 * An option_anchors_zero_fee_htlc_tx channel's force close pays its fees with wallet coins: a CPFP
 * child through our anchor (BOLT 3 `to_local_anchor`) and the fee inputs of our second-stage HTLC
 * transactions (BOLT 3 "HTLC-timeout and HTLC-success transactions": zero fee, signed
 * SIGHASH_SINGLE|SIGHASH_ANYONECANPAY). With an empty wallet neither can be paid, and an HTLC may
 * be lost to the peer after its cltv_expiry. So, like lnd (lnwallet `AnchorChanReservedValue`,
 * `MaxAnchorChanReservedValue`, `CheckReservedValue`), the wallet keeps a reserve while anchor
 * channels exist (being opened, open, or not yet resolved on chain): sends, channel funding and
 * fee bumps of the user's transactions must leave at least that much in the wallet (change
 * outputs count). Only the watcher's own fee-bumping (core/lightning/watcher) may spend it.
 *
 * Our figures are lnd's: 10,000 sat per anchor channel, at most 100,000 sat. 10,000 sat pays a
 * ~700 vB commitment + CPFP child package at ~14 sat/vB, or a few HTLC transactions; the cap keeps
 * a wallet with many channels usable, on the bet that they do not all close at once. Unlike lnd,
 * which counts public anchor channels only, every anchor channel counts: a wallet's channels are
 * mostly unannounced and their force closes need the fees just the same. Channels opened to us are
 * accepted even when the wallet cannot hold the reserve (an empty wallet receiving its first
 * channel); the reserve then holds back later sends.
 */

/** Reserve per option_anchors channel, sat (lnd's AnchorChanReservedValue). */
export const ANCHOR_RESERVE_PER_CHANNEL_SAT = 10_000;
/** Cap of the whole reserve, sat (lnd's MaxAnchorChanReservedValue, 10 channels' worth). */
export const ANCHOR_RESERVE_MAX_SAT = 100_000;

/** The reserve the wallet keeps now. */
export interface WalletReserve {
  /** Sat the wallet keeps for anchor fee-bumping (0 without anchor channels). */
  reservedSat: number;
  /** option_anchors channels counted (being opened, open, or not yet resolved on chain). */
  anchorChannels: number;
}

/**
 * Reserve for `anchorChannels` option_anchors channels: 10,000 sat each, capped at 100,000 sat.
 * @param anchorChannels non-negative integer
 * @returns sat
 */
export function anchorReserveSat(anchorChannels: number): number {
  if (!Number.isInteger(anchorChannels) || anchorChannels < 0) throw new RangeError(`Invalid anchor channel count: ${anchorChannels}`);
  return Math.min(anchorChannels * ANCHOR_RESERVE_PER_CHANNEL_SAT, ANCHOR_RESERVE_MAX_SAT);
}

/** `anchorReserveSat` with its channel count. */
export function walletReserve(anchorChannels: number): WalletReserve {
  return { reservedSat: anchorReserveSat(anchorChannels), anchorChannels };
}

/**
 * The error of a transaction that would leave less than the reserve in the wallet:
 * INSUFFICIENT_FUNDS, message saying how much is reserved and why, details
 * `{ reservedSat, anchorChannels, remainingSat }`.
 * @param remainingSat what the wallet would keep after the transaction (its change included)
 * @param opening true when the transaction funds a new anchor channel (counted in `reserve`)
 */
export function reserveError(reserve: WalletReserve, remainingSat: number, opening = false): FulmenError {
  const channels = `${reserve.anchorChannels} anchor channel${reserve.anchorChannels === 1 ? '' : 's'}${opening ? ' (with the new one)' : ''}`;
  const cap = reserve.reservedSat === ANCHOR_RESERVE_MAX_SAT ? ', capped at 100,000 sat' : '';
  return new FulmenError(
    'INSUFFICIENT_FUNDS',
    `This would leave ${Math.max(0, remainingSat)} sat on chain, below the ${reserve.reservedSat} sat reserved to pay the fees of a force close of ` +
      `${channels} (${ANCHOR_RESERVE_PER_CHANNEL_SAT} sat per channel${cap}). Send less, or close channels first.`,
    { reservedSat: reserve.reservedSat, anchorChannels: reserve.anchorChannels, remainingSat },
  );
}
