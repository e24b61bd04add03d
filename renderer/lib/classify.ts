import { isBip21, parseBip21, UriError, type Bip21 } from './bip21.js';

/**
 * Classifies what the user pasted or scanned into the Send tab: a BOLT11 invoice, a BIP21 URI
 * or a bare on-chain address. Only the shape is checked here; the host validates checksums and
 * the network (`decode_invoice`, `validateaddress`).
 */
export type PaymentInput =
  | { kind: 'invoice'; invoice: string }
  | { kind: 'uri'; uri: Bip21 }
  | { kind: 'address'; address: string }
  | { kind: 'empty' }
  | { kind: 'error'; message: string };

/** The bitcoin networks, for prefix checks. */
export type Network = 'mainnet' | 'testnet' | 'testnet4' | 'signet' | 'regtest';

const BECH32_CHARS = '[02-9ac-hj-np-z]';
const INVOICE_RE = new RegExp(`^ln(bcrt|bc|tbs|tb)[0-9]*[munp]?1${BECH32_CHARS}+$`);
const BECH32_ADDRESS_RE = new RegExp(`^(bcrt|bc|tb)1${BECH32_CHARS}{8,87}$`);
const BASE58_ADDRESS_RE = /^[123mn][1-9A-HJ-NP-Za-km-z]{25,34}$/;

/**
 * The network an invoice's prefix names (BOLT 11 human-readable part: lnbc, lntb, lntbs, lnbcrt),
 * or undefined. lnbcrt must be tested before lnbc.
 */
export function invoiceNetwork(invoice: string): Network | undefined {
  const lower = invoice.toLowerCase();
  if (lower.startsWith('lnbcrt')) return 'regtest';
  if (lower.startsWith('lntbs')) return 'signet';
  if (lower.startsWith('lntb')) return 'testnet';
  if (lower.startsWith('lnbc')) return 'mainnet';
  return undefined;
}

/** Whether an invoice whose prefix names `net` can be for `network` (lntb is testnet3's and testnet4's). */
function invoiceFits(net: Network, network: Network | undefined): boolean {
  return net === network || (net === 'testnet' && network === 'testnet4');
}

/** The network(s) an address's prefix is valid on (bech32 HRPs per BIP173, base58 version bytes). */
export function addressNetworks(address: string): Network[] {
  const lower = address.toLowerCase();
  if (lower.startsWith('bcrt1')) return ['regtest'];
  if (lower.startsWith('bc1') || /^[13]/.test(address)) return ['mainnet'];
  if (lower.startsWith('tb1')) return ['testnet', 'testnet4', 'signet'];
  if (/^[mn2]/.test(address)) return ['testnet', 'testnet4', 'signet', 'regtest'];
  return [];
}

function isBech32Cased(text: string): boolean {
  return text === text.toLowerCase() || text === text.toUpperCase();
}

/**
 * Classifies `text`. With `network`, an invoice or address for another network is reported as an
 * error ("This invoice is for mainnet; this wallet runs on regtest").
 */
export function classifyPaymentInput(text: string, network?: Network): PaymentInput {
  let t = text.trim();
  if (t === '') return { kind: 'empty' };
  if (/^lightning:/i.test(t)) t = t.slice('lightning:'.length);

  if (isBip21(t)) {
    let uri: Bip21;
    try {
      uri = parseBip21(t);
    } catch (err) {
      return { kind: 'error', message: err instanceof UriError ? err.message : 'Malformed payment link' };
    }
    if (network && uri.address) {
      const nets = addressNetworks(uri.address);
      if (nets.length && !nets.includes(network)) return wrongNetwork('address', nets[0]!, network);
    }
    if (network && uri.lightning) {
      const net = invoiceNetwork(uri.lightning);
      if (net && !invoiceFits(net, network)) return wrongNetwork('invoice', net, network);
    }
    return { kind: 'uri', uri };
  }

  if (/^ln/i.test(t)) {
    if (!isBech32Cased(t) || !INVOICE_RE.test(t.toLowerCase())) {
      return { kind: 'error', message: 'This does not look like a valid Lightning invoice' };
    }
    const net = invoiceNetwork(t);
    if (network && net && !invoiceFits(net, network)) return wrongNetwork('invoice', net, network);
    return { kind: 'invoice', invoice: t.toLowerCase() };
  }

  if (BECH32_ADDRESS_RE.test(t.toLowerCase()) && isBech32Cased(t)) {
    const nets = addressNetworks(t);
    if (network && !nets.includes(network)) return wrongNetwork('address', nets[0]!, network);
    return { kind: 'address', address: t.toLowerCase() };
  }
  if (BASE58_ADDRESS_RE.test(t)) {
    const nets = addressNetworks(t);
    if (network && !nets.includes(network)) return wrongNetwork('address', nets[0]!, network);
    return { kind: 'address', address: t };
  }
  return { kind: 'error', message: 'Paste a Lightning invoice, a bitcoin: payment link or a bitcoin address' };
}

function wrongNetwork(what: 'invoice' | 'address', theirs: Network, ours: Network): PaymentInput {
  return { kind: 'error', message: `This ${what} is for ${theirs}; this wallet runs on ${ours}` };
}
