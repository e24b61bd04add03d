import * as bitcoin from 'bitcoinjs-lib';
import { badInput } from '../util/errors.js';

/** The Bitcoin networks Fulmen runs on. */
export type NetworkName = 'mainnet' | 'testnet' | 'signet' | 'regtest';

export const NETWORK_NAMES: readonly NetworkName[] = ['mainnet', 'testnet', 'signet', 'regtest'];

/** Signet shares testnet's address prefixes (tb1…, m/n/2) and BIP32 versions (tpub/tprv). */
const signet: bitcoin.Network = { ...bitcoin.networks.testnet };

/** bitcoinjs-lib network parameters (address prefixes, BIP32 versions) for `name`. */
export function bitcoinNetwork(name: NetworkName): bitcoin.Network {
  switch (name) {
    case 'mainnet':
      return bitcoin.networks.bitcoin;
    case 'testnet':
      return bitcoin.networks.testnet;
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
