import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { FulmenError } from '../util/errors.js';
import { csvField, formatBip329, labelKey, parseBip329, recordOfKey, type Bip329Record } from './labels.js';

// Records from BIP329's example export. Data only.
const BIP329_EXAMPLE = [
  '{ "type": "tx", "ref": "f91d0a8a78462bc59398f2c5d7a84fcff491c26ba54c4833478b202796c8aafd", "label": "Transaction", "origin": "wpkh([d34db33f/84\'/0\'/0\'])" }',
  '{ "type": "addr", "ref": "bc1q34aq5drpuwy3wgl9lhup9892qp6svr8ldzyy7c", "label": "Address" }',
  '{ "type": "pubkey", "ref": "0283409659355b6d1cc3c32decd5d561abaac86c37a353b52895a5e6c196d6f448", "label": "Public Key" }',
  '{ "type": "input", "ref": "f91d0a8a78462bc59398f2c5d7a84fcff491c26ba54c4833478b202796c8aafd:0", "label": "Input" }',
  '{ "type": "output", "ref": "f91d0a8a78462bc59398f2c5d7a84fcff491c26ba54c4833478b202796c8aafd:1", "label": "Output", "spendable": false }',
  '{ "type": "xpub", "ref": "xpub661MyMwAqRbcFtXgS5sYJABqqG9YLmC4Q1Rdap9gSE8NqtwybGhePY2gZ29ESFjqJoCu1Rupje8YtGqsefD265TMg7usUDFdp6W1EGMcet8", "label": "Extended Public Key" }',
  '{ "type": "tx", "ref": "f546156d9044844e02b181026a1a407abfca62e7ea1159f87bbeaa77b4286c74", "label": "Account #1 Transaction", "origin": "wpkh([d34db33f/84\'/0\'/1\'])" }',
].join('\n');

describe('BIP329 labels', () => {
  it('parses the BIP example and maps every record to a storage key and back', () => {
    const records = parseBip329(BIP329_EXAMPLE);
    expect(records).toHaveLength(7);
    expect(records[4]).toEqual({ type: 'output', ref: 'f91d0a8a78462bc59398f2c5d7a84fcff491c26ba54c4833478b202796c8aafd:1', label: 'Output', spendable: false });
    for (const r of records) expect(recordOfKey(labelKey(r.type, r.ref))).toEqual({ type: r.type, ref: r.ref });
  });

  it('skips unknown types and blank lines; rejects malformed lines with their number', () => {
    expect(parseBip329('\n{"type":"future","ref":"x"}\n{"type":"tx","ref":"ab"}\n')).toEqual([{ type: 'tx', ref: 'ab' }]);
    for (const bad of ['{"type":"tx"}', '[1]', '{"type":"tx","ref":"a","label":3}', '{"type":"output","ref":"a","spendable":"no"}', 'nope']) {
      expect(() => parseBip329(`{"type":"tx","ref":"ok"}\n${bad}`)).toThrow(/line 2/);
    }
  });

  it('property: format then parse is the identity; garbage only throws FulmenError', () => {
    const record = fc.record(
      {
        type: fc.constantFrom('tx', 'addr', 'pubkey', 'input', 'output', 'xpub'),
        ref: fc.string({ minLength: 1 }),
        label: fc.string(),
        spendable: fc.boolean(),
      },
      { requiredKeys: ['type', 'ref'] },
    ) as fc.Arbitrary<Bip329Record>;
    fc.assert(
      fc.property(fc.array(record), (records) => {
        expect(parseBip329(formatBip329(records))).toEqual(records);
      }),
    );
    fc.assert(
      fc.property(fc.string(), (text) => {
        try {
          parseBip329(text);
        } catch (err) {
          expect(err).toBeInstanceOf(FulmenError);
        }
      }),
    );
  });

  it('quotes CSV fields per RFC 4180', () => {
    expect(csvField('plain')).toBe('plain');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField(null)).toBe('');
  });
});
