import { describe, expect, it } from 'vitest';
import { normalizeBalance, normalizeHistoryItem, normalizeRequest, sortHistory } from './normalize.js';

describe('normalizeBalance', () => {
  it('reads Electrum BTC strings into integer sats and msat', () => {
    expect(normalizeBalance({ confirmed: '0.29', unconfirmed: '-0.001', lightning: '0.00000000001', reserved: '0.0001' })).toEqual({
      confirmedSat: 29_000_000,
      unconfirmedSat: -100_000,
      unmaturedSat: 0,
      reservedSat: 10_000,
      lightningMsat: 1n,
    });
    expect(normalizeBalance({ confirmed: '0' })).toEqual({ confirmedSat: 0, unconfirmedSat: 0, unmaturedSat: 0, reservedSat: 0, lightningMsat: 0n });
  });
});

describe('normalizeHistoryItem', () => {
  it('signs Lightning amounts by direction and keeps the routing fee', () => {
    const row = normalizeHistoryItem({
      kind: 'lightning',
      payment_hash: 'ab'.repeat(32),
      amount_msat: '-100001000',
      fee_msat: '1000',
      direction: 'sent',
      status: 'complete',
      timestamp: 1_700_000_000,
      preimage: null,
      label: 'Coffee',
    });
    expect(row).toMatchObject({ kind: 'lightning', amountMsat: -100_001_000n, direction: 'sent', status: 'complete', feeMsat: 1000n, label: 'Coffee' });
  });
  it('maps on-chain rows: signed value, confirmations, fee only for what we sent', () => {
    const base = { txid: 'cd'.repeat(32), height: 0, date: null, bc_balance: '0', label: '' };
    const pending = normalizeHistoryItem({ kind: 'onchain', ...base, confirmations: 0, timestamp: null, bc_value: '0.5', fee_sat: 141, incoming: true });
    expect(pending).toMatchObject({ amountMsat: 50_000_000_000n, direction: 'received', status: 'pending', feeMsat: null });
    const sent = normalizeHistoryItem({ kind: 'onchain', ...base, confirmations: 3, timestamp: 1, bc_value: '-0.10000141', fee_sat: 141, incoming: false });
    expect(sent).toMatchObject({ amountMsat: -10_000_141_000n, direction: 'sent', status: 'confirmed', confirmations: 3, feeMsat: 141_000n });
  });
});

describe('sortHistory', () => {
  it('puts unconfirmed rows first, then newest first', () => {
    const row = (id: string, timestamp: number | null) => ({ id, kind: 'onchain' as const, timestamp, amountMsat: 0n, direction: 'received' as const, status: 'confirmed' as const, confirmations: 1, label: '', feeMsat: null });
    expect(sortHistory([row('a', 10), row('b', null), row('c', 30)]).map((r) => r.id)).toEqual(['b', 'c', 'a']);
  });
});

describe('normalizeRequest', () => {
  it('keeps the status code and text, dropping empty links', () => {
    const r = normalizeRequest({
      rhash: 'ef'.repeat(32),
      amount_BTC: '0.001',
      amount_sat: 100_000,
      message: 'Coffee',
      timestamp: 5,
      expiry: 3600,
      status: 3,
      status_str: 'Paid',
      address: null,
      URI: null,
      lightning_invoice: 'lnbcrt1...',
      is_lightning: true,
    });
    expect(r).toEqual({ key: 'ef'.repeat(32), amountSat: 100_000, message: 'Coffee', timestamp: 5, expiry: 3600, status: 3, statusText: 'Paid', address: undefined, uri: undefined, invoice: 'lnbcrt1...' });
  });
});
