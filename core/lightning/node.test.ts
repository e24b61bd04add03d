import { describe, expect, it } from 'vitest';
import { countAnchorChannels } from './node.js';
import type { ChannelStateName } from './channel/channel.js';

describe('countAnchorChannels (the wallet reserve of wallet/reserve.ts)', () => {
  it('counts option_anchors channels from OPENING until REDEEMED; PREOPENING ones are counted by their funding tx', () => {
    const states: ChannelStateName[] = ['PREOPENING', 'OPENING', 'FUNDED', 'OPEN', 'SHUTDOWN', 'CLOSING', 'FORCE_CLOSING', 'CLOSED', 'REDEEMED'];
    expect(countAnchorChannels(states.map((state) => ({ channelType: 'anchors' as const, state })))).toBe(7);
    expect(countAnchorChannels(states.map((state) => ({ channelType: 'static_remotekey' as const, state })))).toBe(0);
    expect(countAnchorChannels(states.map((state) => ({ state })))).toBe(0); // stored before channel types: static_remotekey
  });
});
