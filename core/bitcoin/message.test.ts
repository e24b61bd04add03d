import { describe, expect, it } from 'vitest';
import { ECPairFactory } from 'ecpair';
import { bitcoinjsEcc as ecc } from './secp256k1.js';
import { signMessage, verifyMessage } from './message.js';

const ECPair = ECPairFactory(ecc);

// Vectors from Electrum's electrum/tests/test_bitcoin.py (test_signmessage_segwit_witness_v0_address,
// test_signmessage_low_s). Data only.
const WIF = 'L1cgMEnShp73r9iCukoPE3MogLeueNYRD9JVsfT1zVHyPBR3KqBY';
const P2WPKH = 'bc1qq2tmmcngng78nllq2pvrkchcdukemtj56uyue0';
const P2SH_P2WPKH = '3DYoBqQ5N6dADzyQjy9FT1Ls4amiYVaqTG';
const ELECTRUM_SIG = 'HyFaND+87TtVbRhkTfT3mPNBCQcJ32XXtNZGW8sFldJsNpOPCegEmdcCf5Thy18hdMH88GLxZLkOby/EwVUuSeA=';

describe('signmessage / verifymessage', () => {
  const key = ECPair.fromWIF(WIF);

  it("signs exactly as Electrum does (RFC 6979, header 31-34)", () => {
    expect(signMessage(key.privateKey!, 'Electrum')).toBe(ELECTRUM_SIG);
    expect(verifyMessage(P2WPKH, ELECTRUM_SIG, 'Electrum', 'mainnet')).toBe(true);
    expect(verifyMessage(P2SH_P2WPKH, ELECTRUM_SIG, 'Electrum', 'mainnet')).toBe(true);
    expect(verifyMessage(P2WPKH, ELECTRUM_SIG, 'heyheyhey', 'mainnet')).toBe(false);
  });

  it('BIP137 header 39-42 binds the signature to the P2WPKH address', () => {
    const sig = signMessage(key.privateKey!, 'Electrum', 'bip137-p2wpkh');
    const header = Buffer.from(sig, 'base64')[0];
    expect(header).toBeGreaterThanOrEqual(39);
    expect(header).toBeLessThanOrEqual(42);
    expect(verifyMessage(P2WPKH, sig, 'Electrum', 'mainnet')).toBe(true);
    expect(verifyMessage(P2SH_P2WPKH, sig, 'Electrum', 'mainnet')).toBe(false);
  });

  it('accepts low-S and high-S signatures like bitcoin-cli verifymessage', () => {
    const addr = '15hETetDmcXm1mM4sEf7U2KXC9hDHFMSzz';
    const msg = 'Chancellor on brink of second bailout for banks';
    expect(verifyMessage(addr, 'Hzsu0U/THAsPz/MSuXGBKSULz2dTfmrg1NsAhFp+wH5aKfmX4Db7ExLGa7FGn0m6Mf43KsbEOWpvUUUBTM3Uusw=', msg, 'mainnet')).toBe(true);
    expect(verifyMessage(addr, 'IDsu0U/THAsPz/MSuXGBKSULz2dTfmrg1NsAhFp+wH5a1gZoH8kE7O05lE65YLZFzLx3sh/rDzXMbo1dQAJhhnU=', msg, 'mainnet')).toBe(true);
  });

  it('returns false for garbage and throws on a bad address', () => {
    expect(verifyMessage(P2WPKH, 'not base64!', 'Electrum', 'mainnet')).toBe(false);
    expect(verifyMessage(P2WPKH, Buffer.alloc(65, 0).toString('base64'), 'Electrum', 'mainnet')).toBe(false);
    expect(verifyMessage(P2WPKH, ELECTRUM_SIG.slice(0, -4), 'Electrum', 'mainnet')).toBe(false);
    expect(() => verifyMessage('nonsense', ELECTRUM_SIG, 'Electrum', 'mainnet')).toThrow(/Invalid address/);
  });
});
