import * as bitcoin from 'bitcoinjs-lib';
import { badInput } from '../util/errors.js';

/**
 * The Bitcoin networks Fulmen runs on. `testnet` is testnet3; `testnet4` is BIP94's Testnet 4
 * (Electrum's `--testnet4`).
 */
export type NetworkName = 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest';

export const NETWORK_NAMES: readonly NetworkName[] = ['mainnet', 'testnet', 'testnet4', 'signet', 'regtest'];

/** Signet shares testnet's address prefixes (tb1…, m/n/2) and BIP32 versions (tpub/tprv). */
const signet: bitcoin.Network = { ...bitcoin.networks.testnet };

/**
 * Testnet 4 (BIP94) keeps testnet3's address prefixes (bech32 HRP `tb`, base58 m/n/2, WIF 0xef)
 * and BIP32 versions (tpub/tprv), as Bitcoin Core's CTestNet4Params and Electrum's
 * BitcoinTestnet4 do. Its own parameters (genesis, message start 0x1c163f28, P2P port 48333;
 * Electrum server ports 51001 TCP / 51002 TLS, Electrum's testnet defaults) live in TESTNET4.
 */
const testnet4: bitcoin.Network = { ...bitcoin.networks.testnet };

/** BIP94 network parameters of Testnet 4 that are not address formats. */
export const TESTNET4 = {
  /** Genesis block hash (BIP94 "Genesis Block"). */
  genesisHash: '00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043',
  /** P2P message start (BIP94 "Message Start"), as the 4 bytes on the wire. */
  messageStart: '1c163f28',
  /** Default P2P port (BIP94). */
  p2pPort: 48333,
  /** Default Electrum server ports (Electrum's BitcoinTestnet4 inherits testnet's). */
  electrumPorts: { t: 51001, s: 51002 },
} as const;

/** bitcoinjs-lib network parameters (address prefixes, BIP32 versions) for `name`. */
export function bitcoinNetwork(name: NetworkName): bitcoin.Network {
  switch (name) {
    case 'mainnet':
      return bitcoin.networks.bitcoin;
    case 'testnet':
      return bitcoin.networks.testnet;
    case 'testnet4':
      return testnet4;
    case 'signet':
      return signet;
    case 'regtest':
      return bitcoin.networks.regtest;
  }
}

/** SLIP-44 coin type used in BIP84 paths: 0 for mainnet, 1 for every test network (BIP84). */
export function bip84CoinType(name: NetworkName): 0 | 1 {
  return name === 'mainnet' ? 0 : 1;
}

/** Parses a user-supplied network name. @throws FulmenError BAD_INPUT for an unknown name. */
export function parseNetworkName(value: string): NetworkName {
  if ((NETWORK_NAMES as readonly string[]).includes(value)) return value as NetworkName;
  throw badInput(`Unknown network "${value}" (expected one of ${NETWORK_NAMES.join(', ')})`);
}
