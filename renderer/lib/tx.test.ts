import { describe, expect, it } from 'vitest';
import * as bitcoin from 'bitcoinjs-lib';
import { summarizeTx, TxParseError } from './tx.js';

function buildTx(segwit: boolean): bitcoin.Transaction {
  const tx = new bitcoin.Transaction();
  tx.version = 2;
  tx.addInput(new Uint8Array(32).fill(7), 1, 0xfffffffd, segwit ? new Uint8Array(0) : new Uint8Array(107).fill(1));
  tx.addInput(new Uint8Array(32).fill(9), 0, 0xfffffffd);
  tx.addOutput(Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(3)]), 150_000n);
  tx.addOutput(Uint8Array.from([0x00, 0x14, ...new Uint8Array(20).fill(4)]), 2_099_999_997_690_000n);
  if (segwit) {
    tx.setWitness(0, [new Uint8Array(72).fill(5), new Uint8Array(33).fill(2)]);
    tx.setWitness(1, [new Uint8Array(71).fill(6), new Uint8Array(33).fill(3)]);
  }
  tx.locktime = 500;
  return tx;
}

describe('summarizeTx', () => {
  for (const segwit of [true, false]) {
    it(`matches bitcoinjs-lib vsize and outputs (${segwit ? 'segwit' : 'legacy'})`, () => {
      const tx = buildTx(segwit);
      const summary = summarizeTx(tx.toHex());
      expect(summary.vsize).toBe(tx.virtualSize());
      expect(summary.inputCount).toBe(2);
      expect(summary.outputs.map((o) => o.valueSat)).toEqual([150_000, 2_099_999_997_690_000]);
      expect(summary.outputs[0]!.scriptPubKeyHex).toBe('0014' + '03'.repeat(20));
    });
  }
  it('rejects garbage with its own error', () => {
    const hex = buildTx(true).toHex();
    for (const bad of ['', 'zz', hex.slice(0, -2), hex + '00', '0']) {
      expect(() => summarizeTx(bad), bad.slice(0, 10)).toThrow(TxParseError);
    }
  });
});
