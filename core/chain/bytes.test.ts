import { describe, expect, it } from 'vitest';
import { Transaction } from 'bitcoinjs-lib';
import { fromHex, toHex, txidOf } from './bytes.js';

/** A transaction with `inputs` inputs (witness of two items each when `witness`) and two outputs. */
function sampleTx(inputs: number, witness: boolean): Transaction {
  const tx = new Transaction();
  tx.version = 2;
  tx.locktime = 812_345;
  for (let i = 0; i < inputs; i++) {
    tx.addInput(new Uint8Array(32).fill(i + 1), i, 0xfffffffd, witness ? new Uint8Array(0) : new Uint8Array([0x51]));
    if (witness) tx.setWitness(i, [new Uint8Array(71).fill(0x30), new Uint8Array(33).fill(0x02)]);
  }
  tx.addOutput(new Uint8Array(22).fill(0x14), 10_000n);
  tx.addOutput(new Uint8Array(34).fill(0x20), 25_000n);
  return tx;
}

describe('txidOf', () => {
  it('equals bitcoinjs getId for segwit and legacy transactions', () => {
    for (const witness of [true, false]) {
      for (const inputs of [1, 3]) {
        const tx = sampleTx(inputs, witness);
        const raw = tx.toBuffer();
        const parsed = Transaction.fromBuffer(raw);
        expect(parsed.hasWitnesses()).toBe(witness);
        expect(txidOf(raw, parsed)).toBe(tx.getId());
      }
    }
  });

  it('a non-minimal CompactSize (raw longer than the re-serialization) falls back to the re-serialized txid', () => {
    const tx = sampleTx(1, false);
    const hex = toHex(tx.toBuffer());
    // The input count 01 written as fd 01 00: parses to the same transaction, other bytes.
    const padded = fromHex(`${hex.slice(0, 8)}fd0100${hex.slice(10)}`);
    const parsed = Transaction.fromBuffer(padded);
    expect(padded.length).toBe(parsed.byteLength() + 2);
    expect(txidOf(padded, parsed)).toBe(tx.getId());
  });
});
