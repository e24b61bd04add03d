import { describe, expect, it } from 'vitest';
import type { HistoryRow } from '../store/normalize.js';
import { formatDate, statusText, statusTone } from './history.js';

const row = (over: Partial<HistoryRow>): HistoryRow => ({
  id: 'a'.repeat(64),
  kind: 'onchain',
  timestamp: 1_700_000_000,
  amountMsat: 1000n,
  direction: 'received',
  status: 'confirmed',
  confirmations: 1,
  label: '',
  feeMsat: null,
  ...over,
});

describe('history row display', () => {
  it('formats dates with one shared formatter, and unconfirmed as just now', () => {
    expect(formatDate(null)).toBe('Just now');
    expect(formatDate(1_700_000_000)).toMatch(/^\d{1,2} Nov 2023, \d{2}:\d{2}$/);
  });
  it('reads confirmations and Lightning states', () => {
    expect(statusText(row({ confirmations: 0, status: 'pending' }))).toBe('Unconfirmed');
    expect(statusText(row({ confirmations: 1 }))).toBe('1 confirmation');
    expect(statusText(row({ confirmations: 5 }))).toBe('5 confirmations');
    expect(statusText(row({ confirmations: 6 }))).toBe('Confirmed');
    expect(statusText(row({ kind: 'lightning', status: 'pending' }))).toBe('In progress');
    expect(statusTone(row({ confirmations: 2 }))).toBe('badge-warn');
    expect(statusTone(row({ confirmations: 6 }))).toBe('badge-ok');
    expect(statusTone(row({ kind: 'lightning', status: 'failed' }))).toBe('badge-bad');
  });
});
