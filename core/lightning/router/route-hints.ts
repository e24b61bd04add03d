/**
 * Routes through a BOLT 11 route hint (`r` field) that starts at one of our channel peers:
 * us → hint[0].pubkey → … → hint[n-1].pubkey → payee, each hint hop forwarding over its
 * short_channel_id with the fee and cltv_expiry_delta it advertises (BOLT 11 `r`, BOLT 7 fees).
 * No graph: Fulmen has no gossip store, so payments reach non-peers only through hints.
 */
import type { RouteHintHop } from '../invoice/bolt11.js';
import type { HopPayload } from '../onion/payload.js';
import { forwardingFeeMsat } from '../onion/forward.js';

/** One onion hop: the node that peels it and its payload (BOLT 4). */
export interface RouteHop {
  pubkey: Uint8Array;
  payload: HopPayload;
}

export interface HintRoute {
  /** Our channel peer the first HTLC goes to (hint[0].pubkey), hex. */
  firstHopNodeId: string;
  /** amount_msat and cltv_expiry of the HTLC we offer to the first hop. */
  amountMsat: bigint;
  cltvExpiry: number;
  /** Total fee paid to the hint hops, msat. */
  feeMsat: bigint;
  /** Onion hops in route order, the payee last (its payload carries `final`). */
  hops: RouteHop[];
}

/**
 * Builds the route through `hint` to the payee.
 * @param amountMsat what the payee receives (amt_to_forward of the final hop).
 * @param finalCltvExpiry absolute outgoing_cltv_value of the final hop (tip + min_final_cltv_expiry_delta + margin).
 * @param finalPayload the payee's payload fields besides amt_to_forward/outgoing_cltv_value (payment_data, payment_metadata).
 * @returns null for an empty hint.
 */
export function routeThroughHint(
  hint: readonly RouteHintHop[],
  payee: Uint8Array,
  amountMsat: bigint,
  finalCltvExpiry: number,
  finalPayload: Omit<HopPayload, 'amtToForward' | 'outgoingCltvValue' | 'shortChannelId'>,
): HintRoute | null {
  if (hint.length === 0) return null;
  const hops: RouteHop[] = [{ pubkey: payee, payload: { ...finalPayload, amtToForward: amountMsat, outgoingCltvValue: finalCltvExpiry } }];
  let amt = amountMsat;
  let cltv = finalCltvExpiry;
  // Walk back from the payee: hint hop i forwards `amt` over its scid and is paid its fee.
  for (let i = hint.length - 1; i >= 0; i--) {
    const h = hint[i]!;
    hops.unshift({ pubkey: h.pubkey, payload: { amtToForward: amt, outgoingCltvValue: cltv, shortChannelId: h.shortChannelId } });
    amt += forwardingFeeMsat(h, amt);
    cltv += h.cltvExpiryDelta;
  }
  const first = hint[0]!.pubkey;
  return { firstHopNodeId: Buffer.from(first).toString('hex'), amountMsat: amt, cltvExpiry: cltv, feeMsat: amt - amountMsat, hops };
}
