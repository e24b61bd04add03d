import { FulmenError } from '../util/errors.js';
import { fromDisplayHex, isHash32Hex, isHex, sha256d, toDisplayHex } from './bytes.js';
import type { TxConfirmation, VerifiedHeader } from './types.js';

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
  let root = '';
  for (const step of merklePath(txid, branch, pos)) root = step.node;
  return root;
}

/** One node on a merkle path: its level (0 = the leaf), index within the level, and hash (display hex). */
interface MerkleStep {
  level: number;
  index: number;
  node: string;
}

/**
 * The nodes from the leaf `txid` up to the root that `branch` and `pos` give, leaf first (see
 * `merkleRootFromBranch` for the rules and errors; the checks run before the first node).
 */
function* merklePath(txid: string, branch: readonly string[], pos: number): Generator<MerkleStep> {
  if (!isHash32Hex(txid)) throw misbehaved(`Malformed txid in merkle proof`);
  if (!Number.isSafeInteger(pos) || pos < 0) throw misbehaved(`Merkle proof position ${pos} is invalid`);
  if (branch.length > 32 || (branch.length < 32 && pos >= 2 ** branch.length)) {
    throw misbehaved(`Merkle proof position ${pos} does not fit a branch of ${branch.length} hashes`);
  }
  if (!branch.every(isHash32Hex)) throw misbehaved('Malformed hash in merkle proof');
  let node = fromDisplayHex(txid);
  let index = pos;
  yield { level: 0, index, node: txid.toLowerCase() };
  for (let level = 0; level < branch.length; level++) {
    const sibling = fromDisplayHex(branch[level]!);
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
    yield { level: level + 1, index, node: toDisplayHex(node) };
  }
}

/** Merkle roots whose proven nodes are remembered (a wallet's confirmations cluster in few blocks). */
const PROVEN_ROOTS_KEPT = 32;

export class SpvVerifier {
  /**
   * Per merkle root (display hex): the nodes of already verified paths, "level:index" → hash.
   * A path that reaches one of them (above the leaf) at the same level and index is committed to
   * that root through it, so hashing stops there (siblings above that node are not used): proofs of many transactions of one block cost about one hash per
   * distinct tree node instead of one per level per transaction. Only fully checked paths are kept.
   */
  private readonly proven = new Map<string, Map<string, string>>();

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
    const merkleRoot = headerMerkleRoot(header);
    const known = this.proven.get(merkleRoot);
    const path: MerkleStep[] = [];
    let provenThroughKnownNode = false;
    for (const step of merklePath(txid, proof.merkle, proof.pos)) {
      // From level 1 up: the same transaction verified again is checked in full.
      if (step.level > 0 && known?.get(`${step.level}:${step.index}`) === step.node) {
        provenThroughKnownNode = true;
        break;
      }
      path.push(step);
    }
    if (!provenThroughKnownNode && path[path.length - 1]!.node !== merkleRoot) {
      throw misbehaved(`Merkle proof for ${txid} does not match block ${header.height}`, { txid, height: header.height });
    }
    this.remember(merkleRoot, path);
    return {
      txid,
      height: header.height,
      verified: true,
      blockHash: header.hash,
      timestamp: header.timestamp,
      position: proof.pos,
    };
  }

  /** Records the nodes of a verified path under its root (the oldest root is forgotten beyond PROVEN_ROOTS_KEPT). */
  private remember(root: string, path: readonly MerkleStep[]): void {
    let nodes = this.proven.get(root);
    if (!nodes) {
      if (this.proven.size >= PROVEN_ROOTS_KEPT) this.proven.delete(this.proven.keys().next().value!);
      this.proven.set(root, (nodes = new Map()));
    }
    for (const step of path) nodes.set(`${step.level}:${step.index}`, step.node);
  }
}

/**
 * The merkle root field (bytes 36..68, display hex) of a validated header: read directly, the
 * header's hash (checked when it was validated) is not recomputed per proof.
 * @throws FulmenError SERVER_MISBEHAVED when `raw` is not 80 bytes of hex.
 */
function headerMerkleRoot(header: VerifiedHeader): string {
  if (header.raw.length !== 160 || !isHex(header.raw)) throw misbehaved(`Block header at ${header.height} is not 80 bytes`);
  return toDisplayHex(Buffer.from(header.raw.slice(72, 136), 'hex'));
}
