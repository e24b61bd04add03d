import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { FulmenError } from '../../util/errors.js';
import { deriveSecret } from './keys.js';

/**
 * BOLT 3 "Efficient Per-commitment Secret Storage": the received per-commitment secrets of the
 * remote side kept as at most 49 (index, secret) pairs, one per count of trailing zero bits.
 * Secrets must arrive in descending index order starting at 2^48 - 1.
 */
export class Shachain {
  /** known[b]: the secret whose index has exactly b trailing zeros (b = 48: index 0). */
  private readonly known: ({ index: bigint; secret: Uint8Array } | undefined)[] = [];

  /** BOLT 3 where_to_put_secret: count of trailing zero bits of `index` (48 for index 0). */
  static bucketOf(index: bigint): number {
    for (let b = 0; b < 48; b++) if ((index >> BigInt(b)) & 1n) return b;
    return 48;
  }

  /**
   * BOLT 3 insert_secret: stores `secret` for `index` after checking that every secret already
   * held derives from it. @throws FulmenError PROTOCOL when the secret is inconsistent.
   */
  insert(secret: Uint8Array, index: bigint): void {
    if (secret.length !== 32) throw new FulmenError('PROTOCOL', 'per_commitment_secret must be 32 bytes');
    const lowest = this.lowestIndex();
    if (lowest !== null && index !== lowest - 1n) {
      throw new FulmenError('PROTOCOL', 'per_commitment_secret received out of order');
    }
    const bucket = Shachain.bucketOf(index);
    for (let b = 0; b < bucket; b++) {
      const k = this.known[b];
      if (!k) continue;
      if (bytesToHex(deriveSecret(secret, bucket, k.index)) !== bytesToHex(k.secret)) {
        throw new FulmenError('PROTOCOL', 'per_commitment_secret does not match the previous secrets');
      }
    }
    this.known[bucket] = { index, secret: Uint8Array.from(secret) };
  }

  /** BOLT 3 derive_old_secret: the secret for `index` if it has been received, else null. */
  get(index: bigint): Uint8Array | null {
    for (let b = 0; b < this.known.length; b++) {
      const k = this.known[b];
      if (!k) continue;
      const mask = ~((1n << BigInt(b)) - 1n) & (2n ** 48n - 1n);
      if ((index & mask) === k.index) return deriveSecret(k.secret, b, index);
    }
    return null;
  }

  /** Lowest index received so far (the most recent secret), or null when empty. */
  lowestIndex(): bigint | null {
    let lowest: bigint | null = null;
    for (const k of this.known) if (k && (lowest === null || k.index < lowest)) lowest = k.index;
    return lowest;
  }

  /** JSON-safe form for storage: [[bucket, indexDecimal, secretHex], ...]. */
  serialize(): string {
    const rows: [number, string, string][] = [];
    this.known.forEach((k, b) => {
      if (k) rows.push([b, k.index.toString(), bytesToHex(k.secret)]);
    });
    return JSON.stringify(rows);
  }

  static deserialize(text: string): Shachain {
    const chain = new Shachain();
    for (const [b, index, secret] of JSON.parse(text) as [number, string, string][]) {
      chain.known[b] = { index: BigInt(index), secret: hexToBytes(secret) };
    }
    return chain;
  }
}
