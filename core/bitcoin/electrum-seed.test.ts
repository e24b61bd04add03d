import { describe, expect, it } from 'vitest';
import { bytesToHex } from '@noble/hashes/utils.js';
import { ELECTRUM_SEGWIT_ACCOUNT_PATH, electrumMnemonicToSeed, electrumSeedType, normalizeElectrumText } from './electrum-seed.js';
import { accountFromSeed, deriveAccountKey, parseAccountExtendedKey, toSegwitExtendedKey } from './keys.js';
import { p2wpkhAddress } from './address.js';

// Vectors from Electrum's electrum/tests/test_mnemonic.py (SEED_TEST_CASES, Test_seeds) and
// electrum/tests/test_wallet_vertical.py (test_electrum_seed_segwit). Data only.
const SEED_CASES: { name: string; words: string; passphrase?: string; segwit: boolean; bip32Seed: string }[] = [
  {
    name: 'english',
    words: 'wild father tree among universe such mobile favorite target dynamic credit identify',
    segwit: true,
    bip32Seed: 'aac2a6302e48577ab4b46f23dbae0774e2e62c796f797d0a1b5faeb528301e3064342dafb79069e7c4c6b8c38ae11d7a973bec0d4f70626f8cc5184a8d0b0756',
  },
  {
    name: 'english_with_passphrase',
    words: 'wild father tree among universe such mobile favorite target dynamic credit identify',
    passphrase: 'Did you ever hear the tragedy of Darth Plagueis the Wise?',
    segwit: true,
    bip32Seed: '4aa29f2aeb0127efb55138ab9e7be83b36750358751906f86c662b21a1ea1370f949e6d1a12fa56d3d93cadda93038c76ac8118597364e46f5156fde6183c82f',
  },
  {
    name: 'chinese (CJK spaces removed)',
    words: '眼 悲 叛 改 节 跃 衡 响 疆 股 遂 冬',
    segwit: true,
    bip32Seed: '0b9077db7b5a50dbb6f61821e2d35e255068a5847e221138048a20e12d80b673ce306b6fe7ac174ebc6751e11b7037be6ee9f17db8040bb44f8466d519ce2abf',
  },
  {
    name: 'chinese_with_passphrase',
    words: '眼 悲 叛 改 节 跃 衡 响 疆 股 遂 冬',
    passphrase: '给我一些测试向量谷歌',
    segwit: true,
    bip32Seed: '6c03dd0615cf59963620c0af6840b52e867468cc64f20a1f4c8155705738e87b8edb0fc8a6cee4085776cb3a629ff88bb1a38f37085efdbf11ce9ec5a7fa5f71',
  },
  {
    name: 'spanish2 (accents removed)',
    words: 'equipo fiar auge langosta hacha calor trance cubrir carro pulmón oro áspero',
    segwit: true,
    bip32Seed: '001ebce6bfde5851f28a0d44aae5ae0c762b600daf3b33fc8fc630aee0d207646b6f98b18e17dfe3be0a5efe2753c7cdad95860adbbb62cecad4dedb88e02a64',
  },
  {
    name: 'spanish3 with passphrase',
    words: 'vidrio jabón muestra pájaro capucha eludir feliz rotar fogata pez rezar oír',
    passphrase: '¡Viva España! repiten veinte pueblos y al hablar dan fe del ánimo español... ¡Marquen arado martillo y clarín',
    segwit: true,
    bip32Seed: 'c274665e5453c72f82b8444e293e048d700c59bf000cacfba597629d202dcf3aab1cf9c00ba8d3456b7943428541fed714d01d8a0a4028fc3a9bb33d981cb49f',
  },
  {
    name: 'spanish (standard seed type)',
    words: 'almíbar tibio superar vencer hacha peatón príncipe matar consejo polen vehículo odisea',
    segwit: false,
    bip32Seed: '18bffd573a960cc775bbd80ed60b7dc00bc8796a186edebe7fc7cf1f316da0fe937852a969c5c79ded8255cdf54409537a16339fbe33fb9161af793ea47faa7a',
  },
];

describe('Electrum seeds', () => {
  it.each(SEED_CASES)('$name: seed type and BIP32 seed', (c) => {
    expect(electrumSeedType(c.words)).toBe(c.segwit ? 'segwit' : 'standard');
    expect(bytesToHex(electrumMnemonicToSeed(c.words, c.passphrase))).toBe(c.bip32Seed);
  });

  it('mnemonic_to_seed of a non-seed (test_mnemonic_to_seed_basic)', () => {
    expect(bytesToHex(electrumMnemonicToSeed('foobar', 'none'))).toBe(
      '741b72fd15effece6bfe5a26a52184f66811bd2be363190e07a42cca442b1a5bb22b3ad0eb338197287e6d314866c7fba863ac65d3f156087a5052ebc7157fce',
    );
  });

  it('classifies seeds as Electrum does (Test_seeds)', () => {
    const cases: [string, string | null][] = [
      ['cram swing cover prefer miss modify ritual silly deliver chunk behind inform able', 'standard'],
      ['cram swing cover prefer miss modify ritual silly deliver chunk behind inform', null],
      ['   oStRiCh sEcUrItY DeEr aUnT ClImB       InNeR AlPhA ArM MuTuAl mArBlE   SoLiD TaSk  ', 'standard'],
      [' sCience dawn   member doll Dutch rEAl can brick knife deny drive  lisT', '2fa'],
      ['science dawn member doll dutch real ca brick knife deny drive list', null],
      ['frost pig brisk excite novel report camera enlist axis nation novel desert', 'segwit'],
      ['  fRoSt pig brisk excIte novel rePort CamEra enlist axis nation nOVeL dEsert ', 'segwit'],
      ['x8', 'standard'],
      ['9dk', 'segwit'],
      ['abandon bike', 'segwit'],
      ['agree install', '2fa_segwit'],
      ['abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon about', null],
    ];
    for (const [words, type] of cases) expect(electrumSeedType(words), words).toBe(type);
  });

  it('normalizes like Electrum: NFKD, lower case, accents and CJK spaces removed', () => {
    expect(normalizeElectrumText('  Pulmón   ÁSPERO\n oro ')).toBe('pulmon aspero oro');
    expect(normalizeElectrumText('眼 悲 叛 a b')).toBe('眼悲叛 a b');
  });

  it("derives Electrum's segwit wallet at m/0' (test_electrum_seed_segwit)", () => {
    const seed = electrumMnemonicToSeed('bitter grass shiver impose acquire brush forget axis eager alone wine silver');
    const account = accountFromSeed(seed, 'mainnet', ELECTRUM_SEGWIT_ACCOUNT_PATH);
    expect(toSegwitExtendedKey(account, 'mainnet')).toBe(
      'zpub6nsHdRuY92FsMKdbn9BfjBCG6X8pyhCibNP6uDvpnw2cyrVhecvHRMa3Ne8kdJZxjxgwnpbHLkcR4bfnhHy6auHPJyDTQ3kianeuVLdkCYQ',
    );
    expect(p2wpkhAddress(deriveAccountKey(account, 0, 0).publicKey, 'mainnet')).toBe('bc1q3g5tmkmlvxryhh843v4dz026avatc0zzr6h3af');
    expect(p2wpkhAddress(deriveAccountKey(account, 1, 0).publicKey, 'mainnet')).toBe('bc1qdy94n2q5qcp0kg7v9yzwe6wvfkhnvyzje7nx2p');
  });
});

describe('SLIP-132 extended public keys', () => {
  // BIP84 vector (abandon ... about), as in Electrum's test_bip39_seed_bip84_native_segwit.
  const ZPUB = 'zpub6rFR7y4Q2AijBEqTUquhVz398htDFrtymD9xYYfG1m4wAcvPhXNfE3EfH1r1ADqtfSdVCToUG868RvUUkgDKf31mGDtKsAYz2oz2AGutZYs';

  it('reads a zpub as the P2WPKH account and writes it back', () => {
    const account = parseAccountExtendedKey(ZPUB, 'mainnet');
    expect(p2wpkhAddress(deriveAccountKey(account, 0, 0).publicKey, 'mainnet')).toBe('bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu');
    expect(p2wpkhAddress(deriveAccountKey(account, 1, 0).publicKey, 'mainnet')).toBe('bc1q8c6fshw2dlwun7ekn9qwf37cu2rn755upcp6el');
    expect(toSegwitExtendedKey(account, 'mainnet')).toBe(ZPUB);
    expect(parseAccountExtendedKey(account.toBase58(), 'mainnet').publicKey).toEqual(account.publicKey);
  });

  it('rejects other networks, ypubs, private keys and bad checksums', () => {
    expect(() => parseAccountExtendedKey(ZPUB, 'testnet')).toThrow(/mainnet/);
    expect(() =>
      parseAccountExtendedKey('ypub6XDth9u8DzXV1tcpDtoDKMf6kVMaVMn1juVWEesTshcX4zUVvfNgjPJLXrD9N7AdTLnbHFL64KmBn3SNaTe69iZYbYCqLCCNPZKbLz9niQ4', 'mainnet'),
    ).toThrow(/ypub/);
    expect(() =>
      parseAccountExtendedKey('zprvAdG4iTXWBoARxkkzNpNh8r6Qag3irQB8PzEMkAFeTRXxHpbF9z4QgEvBRmfvqWvGp42t42nvgGpNgYSJA9iefm1yYNZKEm7z6qUWCroSQnE', 'mainnet'),
    ).toThrow(/private/);
    expect(() => parseAccountExtendedKey(ZPUB.slice(0, -1) + 't', 'mainnet')).toThrow(/checksum/);
  });
});
