import { describe, expect, it } from 'vitest';
import { parseCommandLine } from '../daemon/cli.js';
import { CHAIN_PARAMS } from '../chain/headers.js';
import { addressToScriptPubKey, p2wpkhAddress } from './address.js';
import { bip84CoinType, bitcoinNetwork, parseNetworkName, TESTNET4 } from './network.js';

describe('testnet4 network parameters (BIP94)', () => {
  // BIP 84's test public key (m/84'/0'/0'/0/0 of the "abandon … about" seed).
  const pubkey = Uint8Array.from(Buffer.from('0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c', 'hex'));

  it("uses testnet's address formats: bech32 HRP tb, base58 0x6f/0xc4, WIF 0xef, tpub", () => {
    const n = bitcoinNetwork('testnet4');
    expect(n.bech32).toBe('tb');
    expect(n.pubKeyHash).toBe(0x6f);
    expect(n.scriptHash).toBe(0xc4);
    expect(n.wif).toBe(0xef);
    expect(n.bip32).toEqual(bitcoinNetwork('testnet').bip32);
    expect(bip84CoinType('testnet4')).toBe(1);
    const address = p2wpkhAddress(pubkey, 'testnet4');
    expect(address).toBe(p2wpkhAddress(pubkey, 'testnet'));
    expect(address.startsWith('tb1q')).toBe(true);
    expect(addressToScriptPubKey(address, 'testnet4')).toEqual(addressToScriptPubKey(address, 'testnet'));
    expect(() => addressToScriptPubKey(p2wpkhAddress(pubkey, 'mainnet'), 'testnet4')).toThrow(/mainnet/);
  });

  it('has BIP94 genesis, message start and P2P port, and Electrum testnet server ports', () => {
    expect(TESTNET4.genesisHash).toBe(CHAIN_PARAMS.testnet4.genesisHash);
    expect(TESTNET4.messageStart).toBe('1c163f28');
    expect(TESTNET4.p2pPort).toBe(48333);
    expect(TESTNET4.electrumPorts).toEqual({ t: 51001, s: 51002 });
    expect(parseNetworkName('testnet4')).toBe('testnet4');
  });

  it('is selected with --testnet4 (as Electrum), exclusive of the other network flags', () => {
    expect(parseCommandLine(['--testnet4', 'getinfo']).globals.network).toBe('testnet4');
    expect(() => parseCommandLine(['--testnet4', '--testnet', 'getinfo'])).toThrow(/Choose one network/);
  });
});
