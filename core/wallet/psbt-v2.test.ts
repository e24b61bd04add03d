import * as bitcoin from 'bitcoinjs-lib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { FulmenError } from '../util/errors.js';
import vectors from './testdata/bip370.json' with { type: 'json' };
import { convertPsbt, describeTransaction } from './psbt.js';
import { checkedPsbtVersion, parsePsbtMaps, psbtToV0, psbtToV2, psbtV2Locktime, PSBT_IN_PREVIOUS_TXID, PSBT_IN_OUTPUT_INDEX } from './psbt-v2.js';

const bytes = (base64: string) => new Uint8Array(Buffer.from(base64, 'base64'));

function badInput(fn: () => unknown): FulmenError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FulmenError);
    expect((err as FulmenError).code).toBe('BAD_INPUT');
    return err as FulmenError;
  }
  throw new Error('expected BAD_INPUT');
}

describe('PSBT v2 (BIP 370 test vectors)', () => {
  for (const v of vectors.invalid) {
    it(`refuses: ${v.name}`, () => {
      expect(badInput(() => psbtToV0(bytes(v.base64))).message).toMatch(/^Invalid PSBT: /);
    });
  }

  for (const v of vectors.valid) {
    it(`imports: ${v.name}`, () => {
      const v2 = bytes(v.base64);
      const maps = parsePsbtMaps(v2);
      expect(checkedPsbtVersion(maps)).toBe(2);
      const v0 = psbtToV0(v2);
      // bitcoinjs-lib (v0 only) reads the converted PSBT; its unsigned transaction is the v2 fields'.
      const psbt = bitcoin.Psbt.fromBuffer(v0);
      expect(psbt.txInputs).toHaveLength(maps.inputs.length);
      expect(psbt.txOutputs).toHaveLength(maps.outputs.length);
      maps.inputs.forEach((input, i) => {
        const txid = input.find((kv) => kv.key[0] === PSBT_IN_PREVIOUS_TXID)!.value;
        const index = Buffer.from(input.find((kv) => kv.key[0] === PSBT_IN_OUTPUT_INDEX)!.value).readUInt32LE(0);
        expect(Buffer.from(psbt.txInputs[i]!.hash).equals(Buffer.from(txid))).toBe(true);
        expect(psbt.txInputs[i]!.index).toBe(index);
      });
      expect(psbt.locktime).toBe(psbtV2Locktime(maps));
      // v2 → v0 → v2 → v0 is stable, and a v2 PSBT asked for as v2 is unchanged.
      expect(Buffer.from(psbtToV0(psbtToV2(v0))).equals(Buffer.from(v0))).toBe(true);
      expect(psbtToV2(v2)).toBe(v2);
    });
  }

  for (const v of vectors.locktime) {
    it(`lock time ${v.locktime ?? 'impossible'}: ${v.name}`, () => {
      const maps = parsePsbtMaps(bytes(v.base64));
      expect(checkedPsbtVersion(maps)).toBe(2);
      if (v.locktime === null) {
        expect(badInput(() => psbtV2Locktime(maps)).message).toMatch(/both a height and a time/);
      } else {
        expect(psbtV2Locktime(maps)).toBe(v.locktime);
        expect(bitcoin.Psbt.fromBuffer(psbtToV0(bytes(v.base64))).locktime).toBe(v.locktime);
      }
    });
  }
});

describe('PSBT v0 → v2 export', () => {
  it('spreads the unsigned transaction into the v2 fields and keeps the rest', () => {
    const v0 = psbtToV0(bytes(vectors.valid.at(-1)!.base64));
    const psbt = bitcoin.Psbt.fromBuffer(v0);
    const v2 = psbtToV2(v0);
    const maps = parsePsbtMaps(v2);
    expect(checkedPsbtVersion(maps)).toBe(2);
    expect(Buffer.from(maps.inputs[0]!.find((kv) => kv.key[0] === PSBT_IN_PREVIOUS_TXID)!.value).equals(Buffer.from(psbt.txInputs[0]!.hash))).toBe(true);
    expect(psbtV2Locktime(maps)).toBe(psbt.locktime);
    // Everything that is not the transaction itself (UTXOs, derivations, ...) survives.
    expect(bitcoin.Psbt.fromBuffer(psbtToV0(v2)).data.inputs).toEqual(psbt.data.inputs);
    expect(bitcoin.Psbt.fromBuffer(psbtToV0(v2)).data.outputs).toEqual(psbt.data.outputs);
  });

  it('convert_psbt: to v2 and back to v0 (base64 out, base64 or hex in); deserialize reads either', () => {
    const v2 = vectors.valid.at(-1)!.base64;
    const v0 = convertPsbt(v2, 0);
    expect(v0).toBe(Buffer.from(psbtToV0(bytes(v2))).toString('base64'));
    expect(convertPsbt(Buffer.from(v0, 'base64').toString('hex'), 2)).toBe(convertPsbt(v0, 2));
    expect(convertPsbt(convertPsbt(v0, 2), 0)).toBe(v0);
    const none = () => null;
    const fromV2 = describeTransaction(v2, 'regtest', () => false, none);
    const fromV0 = describeTransaction(v0, 'regtest', () => false, none);
    expect(fromV2).toEqual(fromV0);
    expect(fromV2.isPsbt).toBe(true);
    expect(fromV2.inputs[0]!.valueSat).not.toBeNull(); // from the vector's PSBT_IN_WITNESS_UTXO
    expect(badInput(() => convertPsbt('cHNidP8BAAA=', 2)).message).toMatch(/Invalid PSBT/);
  });

  it('never throws anything but BAD_INPUT on garbage (property)', () => {
    const prefix = Uint8Array.from([0x70, 0x73, 0x62, 0x74, 0xff]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (tail) => {
        const input = Buffer.concat([prefix, tail]);
        try {
          psbtToV0(input);
          psbtToV2(input);
        } catch (err) {
          expect(err).toBeInstanceOf(FulmenError);
          expect((err as FulmenError).code).toBe('BAD_INPUT');
        }
      }),
      { numRuns: 500 },
    );
  });
});
