import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bitcoinjsEcc as ecc } from './secp256k1.js';
import { ECPairFactory } from 'ecpair';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { FulmenError } from '../util/errors.js';
import {
  P2WPKH_INPUT,
  SEQUENCE_RBF,
  buildTransaction,
  dustThresholdSat,
  estimateTxVsize,
  feeForVsize,
  p2wpkhSighash,
  parseTransaction,
  serializeTransaction,
  signP2wpkhInput,
} from './transaction.js';
import { addressToScriptPubKey, p2wpkhScript } from './address.js';
import bip143 from './testdata/bip143-native-p2wpkh.json' with { type: 'json' };

const ECPair = ECPairFactory(ecc);

describe('P2WPKH signing (BIP143 native P2WPKH example)', () => {
  const key = ECPair.fromPrivateKey(hexToBytes(bip143.privateKey));

  it('signature hash', () => {
    const tx = parseTransaction(bip143.unsignedTx);
    expect(bytesToHex(p2wpkhScript(key.publicKey))).toBe(bip143.scriptPubKey);
    expect(bytesToHex(p2wpkhSighash(tx, bip143.inputIndex, key.publicKey, bip143.valueSat))).toBe(bip143.sigHash);
  });

  it('witness = [DER signature || SIGHASH_ALL, pubkey]', () => {
    const tx = parseTransaction(bip143.unsignedTx);
    signP2wpkhInput(tx, bip143.inputIndex, key, bip143.valueSat);
    const witness = tx.ins[bip143.inputIndex].witness.map(bytesToHex);
    // RFC 6979 signature; its r is already low, so low-R grinding keeps the BIP's signature.
    expect(witness).toEqual([bip143.signature + '01', bip143.publicKey]);
  });
});

describe('buildTransaction and size estimation', () => {
  const key = ECPair.fromPrivateKey(hexToBytes(bip143.privateKey));
  const ours = p2wpkhScript(key.publicKey);
  const destination = addressToScriptPubKey('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', 'mainnet');

  for (const [nIn, nOut] of [
    [1, 1],
    [1, 2],
    [2, 2],
    [5, 3],
  ]) {
    it(`estimate covers the signed size (${nIn} in, ${nOut} out) by at most 1 vB per input`, () => {
      const inputs = Array.from({ length: nIn }, (_, i) => ({ txid: (i + 1).toString(16).padStart(64, '0'), vout: i }));
      const outputs = Array.from({ length: nOut }, (_, i) => ({ scriptPubKey: i === 0 ? destination : ours, valueSat: 10_000 + i }));
      const tx = buildTransaction({ inputs, outputs, lockTime: 800_000 });
      inputs.forEach((_, i) => signP2wpkhInput(tx, i, key, 50_000));
      const { vsize, txid, txHex } = serializeTransaction(tx);
      const estimate = estimateTxVsize(Array(nIn).fill(P2WPKH_INPUT), outputs.map((o) => o.scriptPubKey));
      expect(estimate).toBeGreaterThanOrEqual(vsize);
      expect(estimate - vsize).toBeLessThanOrEqual(nIn);
      expect(parseTransaction(txHex).getId()).toBe(txid);
      expect(tx.ins.every((i) => i.sequence === SEQUENCE_RBF)).toBe(true);
      expect(tx.locktime).toBe(800_000);
      expect(tx.version).toBe(2);
    });
  }

  it('1-in 2-out P2WPKH is the familiar 141 vB', () => {
    expect(estimateTxVsize([P2WPKH_INPUT], [destination, ours])).toBe(141);
  });

  it('rejects non-integer amounts and bad txids', () => {
    const input = { txid: '00'.repeat(32), vout: 0 };
    expect(() => buildTransaction({ inputs: [input], outputs: [{ scriptPubKey: ours, valueSat: 1.5 }] })).toThrow(FulmenError);
    expect(() => buildTransaction({ inputs: [input], outputs: [{ scriptPubKey: ours, valueSat: -1 }] })).toThrow(FulmenError);
    expect(() => buildTransaction({ inputs: [{ txid: 'zz', vout: 0 }], outputs: [] })).toThrow(FulmenError);
  });

  it('fees round up to whole satoshis', () => {
    expect(feeForVsize(141, 1)).toBe(141);
    expect(feeForVsize(141, 1.5)).toBe(212);
  });
});

describe('dustThresholdSat (Bitcoin Core policy, 3 sat/vB)', () => {
  it('matches Core for standard scripts', () => {
    expect(dustThresholdSat(hexToBytes('0014' + '11'.repeat(20)))).toBe(294);
    expect(dustThresholdSat(hexToBytes('0020' + '11'.repeat(32)))).toBe(330);
    expect(dustThresholdSat(hexToBytes('5120' + '11'.repeat(32)))).toBe(330);
    expect(dustThresholdSat(hexToBytes('76a914' + '11'.repeat(20) + '88ac'))).toBe(546);
    expect(dustThresholdSat(hexToBytes('a914' + '11'.repeat(20) + '87'))).toBe(540);
    expect(dustThresholdSat(hexToBytes('6a04deadbeef'))).toBe(0);
  });
});

describe('parseTransaction properties (fast-check)', () => {
  it('garbage hex never throws anything but BAD_INPUT', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        try {
          parseTransaction(bytesToHex(bytes));
        } catch (err) {
          expect(err).toBeInstanceOf(FulmenError);
          expect((err as FulmenError).code).toBe('BAD_INPUT');
        }
      }),
    );
  });

  it('built transactions round-trip through hex', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ txid: fc.uint8Array({ minLength: 32, maxLength: 32 }), vout: fc.nat(1000) }), { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 0, max: 2_100_000_000_000_000 }), { minLength: 1, maxLength: 4 }),
        (inputs, values) => {
          const tx = buildTransaction({
            inputs: inputs.map((i) => ({ txid: bytesToHex(i.txid), vout: i.vout })),
            outputs: values.map((valueSat) => ({ scriptPubKey: hexToBytes('0014' + '22'.repeat(20)), valueSat })),
          });
          const parsed = parseTransaction(tx.toHex());
          expect(parsed.ins.map((i) => i.index)).toEqual(inputs.map((i) => i.vout));
          expect(parsed.outs.map((o) => Number(o.value))).toEqual(values);
        },
      ),
    );
  });
});
