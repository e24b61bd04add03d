import { describe, expect, it } from 'vitest';
import { daemonSocketUrl } from './client.js';

describe('daemonSocketUrl', () => {
  it('targets /ws on the serving origin and carries the session token', () => {
    expect(daemonSocketUrl({ protocol: 'http:', host: '127.0.0.1:37091', search: '?token=ab12' })).toBe('ws://127.0.0.1:37091/ws?token=ab12');
    expect(daemonSocketUrl({ protocol: 'https:', host: 'localhost:8443', search: '?x=1&token=a%2Bb' })).toBe('wss://localhost:8443/ws?token=a%2Bb');
    expect(daemonSocketUrl({ protocol: 'http:', host: '127.0.0.1:1', search: '' })).toBe('ws://127.0.0.1:1/ws?token=');
  });
});
