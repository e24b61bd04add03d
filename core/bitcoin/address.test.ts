import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { FulmenError } from '../util/errors.js';
import {
  addressToScriptPubKey,
  isValidAddress,
  p2wpkhAddress,
  p2wpkhOutput,
  p2wpkhScript,
  p2wshScript,
  scriptHash,
  scriptPubKeyToAddress,
} from './address.js';
import { publicKeyCreate } from './secp256k1.js';
import bip350 from './testdata/bip350-segwit-addresses.json' with { type: 'json' };

describe('addresses', () => {
  // BIP84 vector m/84'/0'/0'/0/0.
  const pubkey = hexToBytes('0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c');

  it('p2wpkh address and script round-trip', () => {
    const address = p2wpkhAddress(pubkey, 'mainnet');
    expect(address).toBe('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
    expect(bytesToHex(addressToScriptPubKey(address, 'mainnet'))).toBe(bytesToHex(p2wpkhScript(pubkey)));
    expect(scriptPubKeyToAddress(p2wpkhScript(pubkey), 'mainnet')).toBe(address);
    expect(p2wpkhAddress(pubkey, 'testnet').startsWith('tb1q')).toBe(true);
    expect(p2wpkhAddress(pubkey, 'signet').startsWith('tb1q')).toBe(true);
    expect(p2wpkhAddress(pubkey, 'regtest').startsWith('bcrt1q')).toBe(true);
  });

  it('BIP350 segwit address vectors', () => {
    for (const [address, script] of bip350.valid) {
      const network = address.toLowerCase().startsWith('bc1') ? 'mainnet' : 'testnet';
      expect(bytesToHex(addressToScriptPubKey(address, network)), address).toBe(script);
    }
    for (const address of bip350.invalid) {
      expect(isValidAddress(address, 'mainnet') || isValidAddress(address, 'testnet'), address).toBe(false);
    }
  });

  it('decodes base58 P2PKH', () => {
    expect(bytesToHex(addressToScriptPubKey('1A1zP1eP5QGefi2DMPTfTL5SLmv7DivfNa', 'mainnet'))).toBe(
      '76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac',
    );
  });

  it('rejects garbage and other networks with BAD_INPUT', () => {
    const expectBadInput = (address: string, network: 'mainnet' | 'regtest', text: RegExp) => {
      try {
        addressToScriptPubKey(address, network);
        throw new Error('expected an error');
      } catch (err) {
        expect(err).toBeInstanceOf(FulmenError);
        expect((err as FulmenError).code).toBe('BAD_INPUT');
        expect((err as Error).message).toMatch(text);
      }
    };
    expectBadInput('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu', 'regtest', /is for mainnet.*regtest/);
    expectBadInput(p2wpkhAddress(pubkey, 'regtest'), 'mainnet', /is for regtest/);
    expectBadInput('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyv', 'mainnet', /Invalid address/);
    expectBadInput('hello', 'mainnet', /Invalid address/);
    expect(isValidAddress('hello', 'mainnet')).toBe(false);
  });

  it('Electrum script hash (example from the ElectrumX protocol docs)', () => {
    expect(scriptHash(hexToBytes('76a91462e907b15cbf27d5425399ebf6f0fb50ebb88f1888ac'))).toBe(
      '8b01df4e368ea28f8dc0423bcf7a4923e3a12d307c875e47a0cfbf90b5c39161',
    );
  });

  it('p2wsh script is OP_0 <sha256(witnessScript)>', () => {
    // BIP143 native P2WSH example: witnessScript and its scriptPubKey.
    const witnessScript = hexToBytes(
      '21026dccc749adc2a9d0d89497ac511f760f45c47dc5ed9cf352a58ac706453880aeadab210255a9626aebf5e29c0e6538428ba0d1dcf6ca98ffdf086aa8ced5e0d0215ea465ac',
    );
    expect(bytesToHex(p2wshScript(witnessScript))).toBe('00205d1b56b63d714eebe542309525f484b7e9d6f686b3781b6f61ef925d66d6f6a0');
  });
});

describe('address codec properties (fast-check)', () => {
  it('scriptPubKey → address → scriptPubKey round-trips for segwit v0 programs', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.uint8Array({ minLength: 32, maxLength: 32 })),
        fc.constantFrom('mainnet' as const, 'testnet' as const, 'regtest' as const),
        (program, network) => {
          const script = new Uint8Array([0, program.length, ...program]);
          const address = scriptPubKeyToAddress(script, network);
          expect(address).not.toBeNull();
          expect(bytesToHex(addressToScriptPubKey(address!, network))).toBe(bytesToHex(script));
        },
      ),
    );
  });

  it('garbage never throws anything but BAD_INPUT', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 120 }), (text) => {
        try {
          addressToScriptPubKey(text, 'mainnet');
        } catch (err) {
          expect(err).toBeInstanceOf(FulmenError);
          expect((err as FulmenError).code).toBe('BAD_INPUT');
        }
      }),
    );
  });

  it('p2wpkhOutput equals p2wpkhScript and p2wpkhAddress on every network', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }).filter((k) => k.some((b) => b !== 0) && k[0]! < 0xff), (secret) => {
        const pubkey = publicKeyCreate(secret);
        for (const network of ['mainnet', 'testnet', 'regtest', 'signet'] as const) {
          const out = p2wpkhOutput(pubkey, network);
          expect(bytesToHex(out.scriptPubKey)).toBe(bytesToHex(p2wpkhScript(pubkey)));
          expect(out.address).toBe(p2wpkhAddress(pubkey, network));
        }
      }),
      { numRuns: 50 },
    );
    expect(() => p2wpkhOutput(new Uint8Array(65), 'mainnet')).toThrow(FulmenError);
  });
});
