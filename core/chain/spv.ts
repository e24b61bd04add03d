import { FulmenError } from '../util/errors.js';
import { fromDisplayHex, isHash32Hex, sha256d, toDisplayHex } from './bytes.js';
import type { TxConfirmation, VerifiedHeader } from './types.js';
import { parseHeader } from './headers.js';

/**
 * SpvVerifier: checks that a transaction is committed to by a validated block header, from the
 * merkle branch returned by `blockchain.transaction.get_merkle` (Electrum protocol 1.4):
 * `{ block_height, merkle: [hex hashes, display order], pos }`.
 *
 * The root is recomputed with Bitcoin's rules: leaves and nodes in internal byte order (the
 * reverse of the displayed hex), parent = hash256(left ‖ right), the index bit at each level
 * telling whether our node is the right child.
 *
 * A 64-byte transaction could be mistaken for an inner node (its bytes are the concatenation of
 * two 32-byte hashes), which would let a server "prove" a transaction that is not in the block.
 * The verifier therefore needs the transaction's non-witness size and rejects 64 bytes.
 */

/** A merkle branch as returned by the server. */
export interface MerkleProof {
  blockHeight: number;
  /** Sibling hashes from the leaf up, display hex. */
  merkle: readonly string[];
  /** Position of the transaction in the block. */
  pos: number;
}

function misbehaved(message: string, details?: Record<string, unknown>): FulmenError {
  return new FulmenError('SERVER_MISBEHAVED', message, details);
}

/**
 * Computes the merkle root (display hex) that `txid` at `pos` with `branch` commits to.
 * @throws FulmenError SERVER_MISBEHAVED for malformed hashes, a negative/non-integer position, or
 *   a position that does not fit the branch depth (pos ≥ 2^depth).
 */
export function merkleRootFromBranch(txid: string, branch: readonly string[], pos: number): string {
  if (!isHash32Hex(txid)) throw misbehaved(`Malformed txid in merkle proof`);
  if (!Number.isSafeInteger(pos) || pos < 0) throw misbehaved(`Merkle proof position ${pos} is invalid`);
  if (branch.length > 32 || (branch.length < 32 && pos >= 2 ** branch.length)) {
    throw misbehaved(`Merkle proof position ${pos} does not fit a branch of ${branch.length} hashes`);
  }
  let node = fromDisplayHex(txid);
  let index = pos;
  for (const siblingHex of branch) {
    if (!isHash32Hex(siblingHex)) throw misbehaved('Malformed hash in merkle proof');
    const sibling = fromDisplayHex(siblingHex);
    const pair = new Uint8Array(64);
    if (index & 1) {
      pair.set(sibling, 0);
      pair.set(node, 32);
    } else {
      pair.set(node, 0);
      pair.set(sibling, 32);
    }
    node = sha256d(pair);
    index = Math.floor(index / 2);
  }
  return toDisplayHex(node);
}

export class SpvVerifier {
  /**
   * Verifies that `txid` is in the block of `header` using `proof`.
   * `txSizeNonWitness`: byte length of the transaction's non-witness serialization (the bytes its
   * txid hashes), already checked against `txid` by the caller.
   * @returns the confirmation (verified: true), with the header's hash, timestamp and the
   *   transaction's position in the block (for short_channel_id, BOLT 7).
   * @throws FulmenError SERVER_MISBEHAVED when the proof is for another height, the root does not
   *   match the header's merkle root, or the transaction is 64 bytes (inner-node ambiguity).
   */
  verify(txid: string, txSizeNonWitness: number, proof: MerkleProof, header: VerifiedHeader): TxConfirmation {
    if (txSizeNonWitness === 64) {
      throw misbehaved(`Transaction ${txid} is 64 bytes and cannot be proven by a merkle branch`);
    }
    if (proof.blockHeight !== header.height) {
      throw misbehaved(`Merkle proof is for height ${proof.blockHeight}, expected ${header.height}`);
    }
    const root = merkleRootFromBranch(txid, proof.merkle, proof.pos);
    const parsed = parseHeader(Buffer.from(header.raw, 'hex'));
    if (root !== parsed.merkleRoot) {
      throw misbehaved(`Merkle proof for ${txid} does not match block ${header.height}`, { txid, height: header.height });
    }
    return {
      txid,
      height: header.height,
      verified: true,
      blockHash: header.hash,
      timestamp: header.timestamp,
      position: proof.pos,
    };
  }
}
