import { describe, expect, it } from 'vitest';
import { addressNetworks, classifyPaymentInput, invoiceNetwork } from './classify.js';

const REGTEST_ADDR = 'bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080';
const MAINNET_ADDR = 'bc1qw508d6qejxtdg4y5r3zarvary0c5xw7kv8f3t4';
// BOLT 11's first example invoice (mainnet, "Please consider supporting this project").
const MAINNET_INVOICE =
  'lnbc1pvjluezsp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygspp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdpl2pkx2ctnv5sxxmmwwd5kgetjypeh2ursdae8g6twvus8g6rfwvs8qun0dfjkxaq9qrsgq357wnc5r2ueh7ck6q93dj32dlqnls087fxdwk8qakdyafkq3yap9us6v52vjjsrvywa6rt52cm9r9zqt8r2t7mlcwspyetp5h2tztugp9lfyql';
const REGTEST_INVOICE = 'lnbcrt1500n1pjqxyz0pp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypq';

describe('classifyPaymentInput', () => {
  it('recognises invoices, with or without the lightning: scheme, in either case', () => {
    expect(classifyPaymentInput(MAINNET_INVOICE)).toEqual({ kind: 'invoice', invoice: MAINNET_INVOICE });
    expect(classifyPaymentInput(`lightning:${MAINNET_INVOICE.toUpperCase()}`)).toEqual({ kind: 'invoice', invoice: MAINNET_INVOICE });
    expect(classifyPaymentInput(`  ${REGTEST_INVOICE}\n`, 'regtest')).toEqual({ kind: 'invoice', invoice: REGTEST_INVOICE });
  });
  it('recognises BIP21 links and bare addresses', () => {
    const uri = classifyPaymentInput(`bitcoin:${REGTEST_ADDR}?amount=0.001&lightning=${REGTEST_INVOICE}`, 'regtest');
    expect(uri.kind).toBe('uri');
    expect(uri.kind === 'uri' && uri.uri.lightning).toBe(REGTEST_INVOICE);
    expect(classifyPaymentInput(REGTEST_ADDR.toUpperCase())).toEqual({ kind: 'address', address: REGTEST_ADDR });
    expect(classifyPaymentInput('mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn', 'regtest')).toEqual({ kind: 'address', address: 'mipcBbFg9gMiCh81Kj8tqqdgoZub1ZJRfn' });
    expect(classifyPaymentInput('   ')).toEqual({ kind: 'empty' });
  });
  it('refuses another network with a plain explanation', () => {
    expect(classifyPaymentInput(MAINNET_INVOICE, 'regtest')).toEqual({ kind: 'error', message: 'This invoice is for mainnet; this wallet runs on regtest' });
    expect(classifyPaymentInput(MAINNET_ADDR, 'regtest')).toEqual({ kind: 'error', message: 'This address is for mainnet; this wallet runs on regtest' });
    expect(classifyPaymentInput(`bitcoin:${MAINNET_ADDR}`, 'regtest').kind).toBe('error');
  });
  it('refuses garbage, mixed case and broken links', () => {
    for (const bad of ['hello', 'lnbc1Mixed', 'bcrt1qW508d6qejxtdg4y5r3zarvary0c5xw7kygt080', 'lnxyz1qqq', 'bitcoin:?amount=1', '0x1234']) {
      expect(classifyPaymentInput(bad).kind, bad).toBe('error');
    }
  });
  it('names networks from prefixes', () => {
    expect(invoiceNetwork('lnbcrt10n1...')).toBe('regtest');
    expect(invoiceNetwork('lntbs1...')).toBe('signet');
    expect(invoiceNetwork('lntb1...')).toBe('testnet');
    expect(invoiceNetwork('xyz')).toBeUndefined();
    // testnet4 (BIP94) keeps testnet's prefixes.
    expect(addressNetworks('tb1qxyz')).toEqual(['testnet', 'testnet4', 'signet']);
    expect(addressNetworks('2N1LGaGg836mqSQqiuUBLfcyGBhyZbremDX')).toEqual(['testnet', 'testnet4', 'signet', 'regtest']);
  });
});
