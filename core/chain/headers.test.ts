import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { openDatabase } from '../storage/db.js';
import { FulmenError } from '../util/errors.js';
import { fromHex, sha256d, toDisplayHex } from './bytes.js';
import {
  bitsToTarget,
  CHAIN_PARAMS,
  checkHeader,
  expectedBits,
  HeaderChain,
  headerWork,
  MAX_TIMEWARP,
  parseHeader,
  retargetBits,
  targetToBits,
  targetWork,
  type ChainParams,
  type ParsedHeader,
} from './headers.js';
import testnet4Real from './testdata/testnet4-headers.json' with { type: 'json' };

// Real mainnet headers (80 bytes, hex). Their hashes are checked below, and a hash below the
// target cannot be produced for made-up data, so these vectors prove themselves.
const MAINNET = {
  0: '0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4a29ab5f49ffff001d1dac2b7c',
  1: '010000006fe28c0ab6f1b372c1a6a246ae63f74f931e8365e15a089c68d6190000000000982051fd1e4ba744bbbe680e1fee14677ba1a3c3540bf7b1cdb606e857233e0e61bc6649ffff001d01e36299',
  2: '010000004860eb18bf1b1620e37e9490fc8a427514416fd75159ab86688e9a8300000000d5fdcc541e25de1c7a5addedf24858b8bb665c9f36ef744ee42c316022c90f9bb0bc6649ffff001d08d2bd61',
  3: '01000000bddd99ccfda39da1b108ce1a5d70038d0a967bacb68b6b63065f626a0000000044f672226090d85db9a9f2fbfe5f0f9609b387af7be5b7fbb7a1767c831c9e995dbe6649ffff001d05e0ed6d',
  4: '010000004944469562ae1c2c74d9a535e00b6f3e40ffbad4f2fda3895501b582000000007a06ea98cd40ba2e3288262b28638cec5337c1456aaf5eedc8e9e5a20f062bdf8cc16649ffff001d2bfee0a9',
  5: '0100000085144a84488ea88d221c8bd6c059da090e88f8a2c99690ee55dbba4e00000000e11c48fecdd9e72510ca84f023370c9a38bf91ac5cae88019bee94d24528526344c36649ffff001d1d03e477',
  6: '01000000fc33f596f822a0a1951ffdbf2a897b095636ad871707bf5d3162729b00000000379dfb96a5ea8c81700ea4ac6b97ae9a9312b2d4301a29580e924ee6761a2520adc46649ffff001d189c4c97',
  // The first difficulty change: the period 30240..32255 and the retarget at 32256.
  30240:
    '01000000e6bf7fd7f7790a63786faa878d0dc7fd8f2ff365732e45862c66075100000000700d342f65c7b6834dffb615358a1897016f0448913372190cbe3d27a4b53355b1512b4bffff001dbfb02519',
  32255:
    '0100000049c1daab3b6536ff1b2633c3a316a6e06ec287676cdeec4ca7baae6b00000000ac10b36b8f354b3353207de15940a5edbc05bb8364af75b4b5409e7823f2b48923ec3a4bffff001dbd5fa412',
  32256:
    '010000004b0360d834a330ec7833e30e1f523ee05a0793361e29a73421964f980000000027b64a020af294e903feed93768705336a20090612a043f47af462a2f5e5b564f8ee3a4b6ad8001dd3a43707',
  // A modern decrease: the period 864864..866879 (864864 is our mainnet checkpoint) and 866880.
  866879:
    '00001022983c89b4d75d30477e574cfcaf078ed0e6757e4ecfd400000000000000000000af29e2d462f963e3fa4748a12ea2cc29cc8429db77e15db3903566bb49e9cbc0e2e81767cd0e03176f0ce81f',
  866880:
    '00c06d33abfd7611d95588541b36cf913627c5e05fc8d9ec7d7c00000000000000000000437f827366461f1e5e8253ca36ae6fb3c5bb8b023d9bfb68eafb3991d7bb3e394de9176728f102177a39728a',
} as const;

const header = (hex: string): ParsedHeader => parseHeader(fromHex(hex));
const mainnetFromGenesis: ChainParams = {
  ...CHAIN_PARAMS.mainnet,
  checkpoint: { height: 0, rawHex: MAINNET[0] },
};

/** Mines a regtest header on `prev` (powLimit 0x207fffff: about every second nonce works). */
function mineRegtest(prev: ParsedHeader, time: number, tag: number): Uint8Array {
  const raw = new Uint8Array(80);
  const view = new DataView(raw.buffer);
  view.setInt32(0, 0x20000000, true);
  raw.set(sha256d(prev.raw), 4);
  view.setUint32(36, tag, true); // a distinct merkle root per branch
  view.setUint32(68, time, true);
  view.setUint32(72, 0x207fffff, true);
  const target = bitsToTarget(0x207fffff);
  for (let nonce = 0; ; nonce += 1) {
    view.setUint32(76, nonce, true);
    if (BigInt('0x' + toDisplayHex(sha256d(raw))) <= target) return raw;
  }
}

function mineBranch(from: ParsedHeader, count: number, tag: number): Uint8Array[] {
  const raws: Uint8Array[] = [];
  let prev = from;
  for (let i = 0; i < count; i += 1) {
    const raw = mineRegtest(prev, prev.timestamp + 600, tag);
    raws.push(raw);
    prev = parseHeader(raw);
  }
  return raws;
}

function expectMisbehaved(fn: () => unknown, message: RegExp): void {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FulmenError);
    expect((err as FulmenError).code).toBe('SERVER_MISBEHAVED');
    expect((err as FulmenError).message).toMatch(message);
    return;
  }
  throw new Error('expected a SERVER_MISBEHAVED error');
}

describe('parseHeader', () => {
  it('parses the mainnet genesis header', () => {
    const genesis = header(MAINNET[0]);
    expect(genesis.hash).toBe(CHAIN_PARAMS.mainnet.genesisHash);
    expect(genesis.merkleRoot).toBe('4a5e1e4baab89f3a32518a88c31bc87f618f76673e2cc77ab2127b7afdeda33b');
    expect(genesis.timestamp).toBe(1231006505);
    expect(genesis.bits).toBe(0x1d00ffff);
    expect(genesis.nonce).toBe(2083236893);
    expect(genesis.prevHash).toBe('0'.repeat(64));
  });

  it('hashes the checkpoints and genesis headers of every network to their known hashes', () => {
    for (const params of Object.values(CHAIN_PARAMS)) {
      const checkpoint = header(params.checkpoint.rawHex);
      if (params.checkpoint.height === 0) expect(checkpoint.hash).toBe(params.genesisHash);
    }
    expect(header(CHAIN_PARAMS.mainnet.checkpoint.rawHex).hash).toBe(
      '00000000000000000000ecfcf0073a9ae7fd9149d643fa462109f5b0777f5720',
    );
    expect(header(MAINNET[32256]).hash).toBe('000000004f2886a170adb7204cb0c7a824217dd24d11a74423d564c4e0904967');
  });

  it('rejects a header that is not 80 bytes', () => {
    expectMisbehaved(() => parseHeader(new Uint8Array(79)), /80 bytes/);
  });
});

describe('compact targets (nBits)', () => {
  it('decodes and re-encodes real nBits', () => {
    expect(bitsToTarget(0x1d00ffff)).toBe(0xffffn << 208n);
    for (const bits of [0x1d00ffff, 0x1d00d86a, 0x17030ecd, 0x207fffff, 0x1e0377ae, 0x1b0404cb]) {
      expect(targetToBits(bitsToTarget(bits))).toBe(bits);
    }
  });

  it('rejects negative and overflowing encodings', () => {
    expectMisbehaved(() => bitsToTarget(0x01fedcba), /Invalid nBits/); // sign bit set
    expectMisbehaved(() => bitsToTarget(0xff123456), /Invalid nBits/); // overflow
    expectMisbehaved(() => bitsToTarget(0x00000000), /Zero target/);
  });

  it('round-trips every normalized target (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 1n, max: (1n << 255n) - 1n }), (target) => {
        const bits = targetToBits(target);
        // The compact form keeps the top 23 bits: re-encoding the decoded value is stable.
        expect(targetToBits(bitsToTarget(bits))).toBe(bits);
        expect(bitsToTarget(bits) <= target).toBe(true);
      }),
    );
  });

  it('never throws anything but its own error on arbitrary nBits (property)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (bits) => {
        try {
          bitsToTarget(bits);
        } catch (err) {
          expect(err).toBeInstanceOf(FulmenError);
        }
      }),
    );
  });
});

describe('difficulty retarget', () => {
  it("matches Bitcoin Core's pow_tests vectors", () => {
    // (last bits, last block time, first block time) → expected (src/test/pow_tests.cpp).
    const p = CHAIN_PARAMS.mainnet;
    expect(retargetBits(p, 0x1d00ffff, 1261130161, 1262152739)).toBe(0x1d00d86a); // get_next_work
    expect(retargetBits(p, 0x1d00ffff, 1231006505, 1233061996)).toBe(0x1d00ffff); // pow limit
    expect(retargetBits(p, 0x1c05a3f4, 1279008237, 1279297671)).toBe(0x1c0168fd); // lower limit
    expect(retargetBits(p, 0x1c387f6f, 1263163443, 1269211443)).toBe(0x1d00e1fd); // upper limit
  });

  it('accepts the real headers at the 32255 → 32256 boundary', () => {
    const held = new Map<number, ParsedHeader>([
      [30240, header(MAINNET[30240])],
      [32255, header(MAINNET[32255])],
    ]);
    const next = header(MAINNET[32256]);
    expect(expectedBits(mainnetFromGenesis, 32256, next, (h) => held.get(h))).toBe(0x1d00d86a);
    expect(() => checkHeader(mainnetFromGenesis, 32256, next, (h) => held.get(h))).not.toThrow();
  });

  it('accepts the real headers at the 866879 → 866880 boundary (from the mainnet checkpoint)', () => {
    const held = new Map<number, ParsedHeader>([
      [864864, header(CHAIN_PARAMS.mainnet.checkpoint.rawHex)],
      [866879, header(MAINNET[866879])],
    ]);
    const next = header(MAINNET[866880]);
    expect(next.bits).not.toBe(held.get(866879)!.bits);
    expect(() => checkHeader(CHAIN_PARAMS.mainnet, 866880, next, (h) => held.get(h))).not.toThrow();
  });

  it('rejects a boundary header whose bits do not follow from the period', () => {
    const held = new Map<number, ParsedHeader>([
      [30240, { ...header(MAINNET[30240]), timestamp: header(MAINNET[30240]).timestamp - 500_000 }],
      [32255, header(MAINNET[32255])],
    ]);
    expectMisbehaved(() => checkHeader(mainnetFromGenesis, 32256, header(MAINNET[32256]), (h) => held.get(h)), /expected 0x/);
  });

  it('expects the parent bits off a boundary on mainnet (a change there is refused)', () => {
    const prev = header(MAINNET[32256]);
    const next = { ...prev, bits: 0x1d00ffff };
    expect(expectedBits(mainnetFromGenesis, 32257, next, () => prev)).toBe(0x1d00d86a);
  });

  it("follows testnet's 20-minute minimum-difficulty rule", () => {
    const p = CHAIN_PARAMS.testnet;
    const real = 0x1c0fffff;
    const synthetic = (timestamp: number, bits: number) => ({ ...header(MAINNET[1]), timestamp, bits });
    const held = new Map<number, ParsedHeader>([
      [4032, synthetic(1_000_000, real)],
      [4033, synthetic(1_000_600, real)],
      [4034, synthetic(1_002_000, p.powLimitBits)], // a min-difficulty block
    ]);
    const at = (h: number) => held.get(h);
    // More than 20 minutes after its parent: powLimit is allowed.
    expect(expectedBits(p, 4035, synthetic(1_002_000 + 1201, p.powLimitBits), at)).toBe(p.powLimitBits);
    // Otherwise: the bits of the last block that was not a min-difficulty block.
    expect(expectedBits(p, 4035, synthetic(1_002_000 + 600, real), at)).toBe(real);
  });
});

describe('HeaderChain', () => {
  it('connects the first real mainnet headers after genesis and persists them', () => {
    const db = openDatabase(':memory:');
    const chain = new HeaderChain('mainnet', db, mainnetFromGenesis);
    const raws = [1, 2, 3, 4, 5, 6].map((h) => fromHex(MAINNET[h as 1]));
    expect(chain.connect(1, raws)).toEqual({ forkHeight: 1, reorg: false });
    expect(chain.tipHeight()).toBe(6);
    expect(chain.header(1)!.hash).toBe('00000000839a8e6886ab5951d76f411475428afc90947ee320161bbf18eb6048');
    expect(chain.tip().hash).toBe(header(MAINNET[6]).hash);
    expect(chain.tip().timestamp).toBe(header(MAINNET[6]).timestamp);
    // Same headers again: nothing changes.
    expect(chain.connect(1, raws.slice(0, 3))).toEqual({ forkHeight: null, reorg: false });
    const reopened = new HeaderChain('mainnet', db, mainnetFromGenesis);
    expect(reopened.tip()).toEqual(chain.tip());
  });

  it('rejects a header with bad proof of work and stores nothing', () => {
    const db = openDatabase(':memory:');
    const chain = new HeaderChain('mainnet', db, mainnetFromGenesis);
    const bad = fromHex(MAINNET[3]);
    bad[76] ^= 1; // nonce
    const raws = [fromHex(MAINNET[1]), fromHex(MAINNET[2]), bad];
    expectMisbehaved(() => chain.connect(1, raws), /proof of work/);
    expect(chain.tipHeight()).toBe(0);
    expect(new HeaderChain('mainnet', db, mainnetFromGenesis).tipHeight()).toBe(0);
  });

  it('rejects headers that do not link', () => {
    const chain = new HeaderChain('mainnet', openDatabase(':memory:'), mainnetFromGenesis);
    expectMisbehaved(() => chain.connect(1, [fromHex(MAINNET[1]), fromHex(MAINNET[3])]), /does not connect/);
    expectMisbehaved(() => chain.connect(1, [fromHex(MAINNET[2])]), /does not connect/);
  });

  it('rejects a header whose target is easier than the network allows', () => {
    const chain = new HeaderChain('mainnet', openDatabase(':memory:'), mainnetFromGenesis);
    const easy = mineRegtest(header(MAINNET[0]), 1231006505 + 600, 1);
    expectMisbehaved(() => chain.connect(1, [easy]), /bits 0x207fffff, expected 0x1d00ffff/);
  });

  it('syncs a few hundred regtest headers quickly, reorgs, and truncates', () => {
    const db = openDatabase(':memory:');
    const chain = new HeaderChain('regtest', db);
    expect(chain.tip().hash).toBe(CHAIN_PARAMS.regtest.genesisHash);
    const main = mineBranch(chain.parsedAt(0)!, 400, 1);
    const started = performance.now();
    expect(chain.connect(1, main)).toEqual({ forkHeight: 1, reorg: false });
    expect(performance.now() - started).toBeLessThan(500);
    expect(chain.tipHeight()).toBe(400);

    // A competing branch from 350 (one longer) replaces 351..400.
    const fork = mineBranch(chain.parsedAt(350)!, 51, 2);
    expect(chain.connect(351, fork)).toEqual({ forkHeight: 351, reorg: true });
    expect(chain.tipHeight()).toBe(401);
    expect(chain.header(351)!.hash).toBe(parseHeader(fork[0]!).hash);
    expect(new HeaderChain('regtest', db).tip()).toEqual(chain.tip());

    // A branch that does not connect to 350 is refused and leaves the chain as it was.
    const orphan = mineBranch(chain.parsedAt(300)!, 5, 3);
    expectMisbehaved(() => chain.connect(351, orphan), /does not connect/);
    expect(chain.tipHeight()).toBe(401);

    chain.truncate(390);
    expect(chain.tipHeight()).toBe(390);
    expect(new HeaderChain('regtest', db).tipHeight()).toBe(390);
  });

  it('refuses to connect outside [checkpoint + 1, tip + 1]', () => {
    const chain = new HeaderChain('regtest', openDatabase(':memory:'));
    const [one] = mineBranch(chain.parsedAt(0)!, 1, 1);
    expect(() => chain.connect(0, [one!])).toThrow(/Cannot connect/);
    expect(() => chain.connect(2, [one!])).toThrow(/Cannot connect/);
  });
});

describe('testnet4 (BIP94)', () => {
  const p = CHAIN_PARAMS.testnet4;
  const real = 0x1c0fffff; // some actual (non-minimum) difficulty
  const TWO_WEEKS = 14 * 24 * 60 * 60;
  const synthetic = (timestamp: number, bits: number, hash = '00'.repeat(32), prevHash = '00'.repeat(32)): ParsedHeader => ({
    ...header(MAINNET[1]),
    timestamp,
    bits,
    hash,
    prevHash,
  });

  it('genesis: the BIP94 genesis header, with its time, bits and nonce', () => {
    const genesis = header(p.checkpoint.rawHex);
    expect(genesis.hash).toBe(p.genesisHash);
    expect(genesis.timestamp).toBe(1714777860);
    expect(genesis.bits).toBe(0x1d00ffff);
    expect(genesis.nonce).toBe(393743547);
    expect(genesis.merkleRoot).toBe('7aa0a7ae1e223414cb807e40cd57e667b718e42aaf9306db9102fe28912b7b4e');
  });

  it('retargets from the bits of the period\'s first block, not of a min-difficulty last block (block storm fix)', () => {
    // Period 2016..4031: first block at real difficulty, last block a 20-minute min-difficulty
    // block; exactly two weeks elapsed, so the retarget keeps the base target unchanged.
    const held = new Map<number, ParsedHeader>([
      [2016, synthetic(1_000_000, real)],
      [4031, synthetic(1_000_000 + TWO_WEEKS, p.powLimitBits)],
    ]);
    const at = (h: number) => held.get(h);
    const next = synthetic(1_000_000 + TWO_WEEKS + 600, real);
    expect(expectedBits(p, 4032, next, at)).toBe(real);
    // testnet3's rule takes the last block's bits: difficulty 1 carried into the next period.
    expect(expectedBits(CHAIN_PARAMS.testnet, 4032, next, at)).toBe(p.powLimitBits);
    // The ¼…4× clamp is unchanged: a period 8 weeks long only quadruples the first block's target.
    held.set(4031, synthetic(1_000_000 + 4 * TWO_WEEKS + 1000, p.powLimitBits));
    expect(expectedBits(p, 4032, next, at)).toBe(retargetBits(p, real, 1_000_000, 1_000_000 + 4 * TWO_WEEKS));
  });

  it("keeps testnet's 20-minute rule off the boundary", () => {
    const held = new Map<number, ParsedHeader>([
      [4032, synthetic(1_000_000, real)],
      [4033, synthetic(1_001_300, p.powLimitBits)],
    ]);
    const at = (h: number) => held.get(h);
    expect(expectedBits(p, 4034, synthetic(1_001_300 + 1201, p.powLimitBits), at)).toBe(p.powLimitBits);
    expect(expectedBits(p, 4034, synthetic(1_001_300 + 1200, real), at)).toBe(real);
  });

  it('refuses a period\'s first block more than 600 s before its parent (time-warp fix)', () => {
    const parentHash = '11'.repeat(32);
    const held = new Map<number, ParsedHeader>([
      [2016, synthetic(1_000_000, real)],
      [4031, synthetic(1_000_000 + TWO_WEEKS, real, parentHash)],
    ]);
    const at = (h: number) => held.get(h);
    const parentTime = 1_000_000 + TWO_WEEKS;
    expectMisbehaved(() => checkHeader(p, 4032, synthetic(parentTime - 601, real, '22'.repeat(32), parentHash), at), /time-warp/);
    // 600 s earlier is allowed: the header then fails only on its (made-up) proof of work.
    expectMisbehaved(() => checkHeader(p, 4032, synthetic(parentTime - 600, real, 'ff'.repeat(32), parentHash), at), /proof of work/);
    // The rule is testnet4's: testnet3 does not have it.
    expectMisbehaved(() => checkHeader(CHAIN_PARAMS.testnet, 4032, synthetic(parentTime - 601, real, 'ff'.repeat(32), parentHash), at), /proof of work/);
  });

  it("must pass through Electrum's testnet4 checkpoints (last header of each early period)", () => {
    expect(p.knownHashes!.size).toBe(69);
    expect(p.knownHashes!.get(2015)).toBe('00000000962a7fc2ef639196051fe181ed53ac6aa4cdfead14dca90f58aa36bc');
    expect(p.knownHashes!.get(69 * 2016 - 1)).toBe('000000000001fa52cf7346a418640560743e051f8096a21ca452f3569bfe4f9e');
    for (const hash of p.knownHashes!.values()) expect(BigInt('0x' + hash) <= p.powLimit).toBe(true);
    const prev = synthetic(1_000_000, p.powLimitBits);
    expectMisbehaved(() => checkHeader(p, 2015, synthetic(1_000_600, p.powLimitBits, '00'.repeat(32), prev.hash), () => prev), /checkpointed/);
  });
});

describe('testnet4 (BIP94) on real headers', () => {
  // testdata/testnet4-headers.json (sources and commits inside): blocks 0 and 2015 from Bitcoin
  // Core's functional-test data, and the first header of each period up to 143136 from RSK's
  // testnet4 checkpoint file. Their hashes meet their targets and link to Electrum's checkpoints,
  // so they cannot be made up.
  const p = CHAIN_PARAMS.testnet4;
  const core0 = header(testnet4Real.core['0']);
  const core2015 = header(testnet4Real.core['2015']);
  const starts = testnet4Real.periodStarts.map((s) => ({ ...s, parsed: header(s.header) }));
  const start = (height: number): ParsedHeader => starts.find((s) => s.height === height)!.parsed;
  /** The header with the little-endian uint32 at `offset` (68 time, 72 bits) replaced, re-hashed. */
  const withField = (h: ParsedHeader, offset: number, value: number): ParsedHeader => {
    const raw = h.raw.slice();
    new DataView(raw.buffer).setUint32(offset, value, true);
    return parseHeader(raw);
  };

  it('accepts the real headers at the first retarget (0 and 2015 → 2016, difficulty 1 → 4)', () => {
    expect(core0.raw).toEqual(fromHex(p.checkpoint.rawHex));
    expect(core2015.hash).toBe(p.knownHashes!.get(2015));
    const next = start(2016);
    expect(next.prevHash).toBe(core2015.hash);
    const held = new Map<number, ParsedHeader>([
      [0, core0],
      [2015, core2015],
    ]);
    const at = (h: number) => held.get(h);
    // Core's mining_testnet.py asserts the same next bits after these blocks (DIFF_4_N_BITS).
    expect(expectedBits(p, 2016, next, at)).toBe(0x1c3fffc0);
    expect(() => checkHeader(p, 2016, next, at)).not.toThrow();
  });

  it('rejects them with a tampered bits or timestamp', () => {
    const next = start(2016);
    const held = new Map<number, ParsedHeader>([
      [0, core0],
      [2015, core2015],
    ]);
    const at = (h: number) => held.get(h);
    // Twice the target (half the difficulty) at the boundary.
    expectMisbehaved(() => checkHeader(p, 2016, withField(next, 72, 0x1c7fff80), at), /expected 0x1c3fffc0/);
    // The period start more than 600 s before its parent (BIP94 time-warp fix).
    expectMisbehaved(() => checkHeader(p, 2016, withField(next, 68, core2015.timestamp - MAX_TIMEWARP - 1), at), /time-warp/);
    // Any other timestamp changes the hash, which then misses the target.
    expectMisbehaved(() => checkHeader(p, 2016, withField(next, 68, next.timestamp + 1), at), /proof of work/);
    // A longer period (its first block 200 000 s earlier) no longer clamps to ¼: other bits expected.
    held.set(0, withField(core0, 68, core0.timestamp - 200_000));
    expectMisbehaved(() => checkHeader(p, 2016, next, at), /expected 0x/);
    // A changed last block no longer links.
    held.set(0, core0);
    held.set(2015, withField(core2015, 68, core2015.timestamp + 1));
    expectMisbehaved(() => checkHeader(p, 2016, next, at), /does not connect/);
  });

  it("RSK's period starts link to Electrum's checkpoints, meet their targets and carry the chain work we count", () => {
    expect(starts.map((s) => s.height)).toEqual(Array.from({ length: 71 }, (_, i) => 2016 * (i + 1)));
    let linked = 0;
    for (const { height, parsed } of starts) {
      const target = bitsToTarget(parsed.bits);
      expect(target <= p.powLimit).toBe(true);
      expect(BigInt('0x' + parsed.hash) <= target).toBe(true);
      const checkpointed = p.knownHashes!.get(height - 1);
      if (checkpointed !== undefined) {
        expect(parsed.prevHash).toBe(checkpointed);
        linked += 1;
      }
    }
    expect(linked).toBe(p.knownHashes!.size);
    // Work at 2016: 2016 difficulty-1 headers (0..2015) and one difficulty-4 header.
    expect(2016n * headerWork(core0) + headerWork(start(2016))).toBe(BigInt('0x' + starts[0]!.chainWork));
  });

  it("retargets from the period's first block: eleven real boundaries fixed by the ¼ clamp, none easier than allowed", () => {
    // The last block of a period is at most MAX_TIMEWARP s after the next period's first block, so
    // when that bound is under ½ week the timespan clamps to ½ week and the next bits are exactly
    // a quarter of the first block's target, whatever the last block (not in our data) says. Its
    // stand-in carries the checkpointed hash (the real next header's prevHash) and that latest time.
    const QUARTER_TIMESPAN = (14 * 24 * 60 * 60) / 4;
    let exact = 0;
    for (let i = 0; i + 1 < starts.length; i += 1) {
      const first = starts[i]!.parsed;
      const next = starts[i + 1]!.parsed;
      const height = starts[i + 1]!.height;
      const latestLast = next.timestamp + MAX_TIMEWARP;
      // Every boundary: the real target is at most what the longest possible period allows.
      expect(bitsToTarget(next.bits) <= bitsToTarget(retargetBits(p, first.bits, first.timestamp, latestLast))).toBe(true);
      if (latestLast - first.timestamp >= QUARTER_TIMESPAN) continue;
      const last: ParsedHeader = { ...next, hash: next.prevHash, timestamp: latestLast };
      const held = new Map<number, ParsedHeader>([
        [height - 2016, first],
        [height - 1, last],
      ]);
      const at = (h: number) => held.get(h);
      expect(() => checkHeader(p, height, next, at)).not.toThrow();
      // Keeping the period's difficulty instead (a time-warped chain's aim) is refused.
      expectMisbehaved(() => checkHeader(p, height, withField(next, 72, first.bits), at), /expected 0x/);
      exact += 1;
    }
    expect(exact).toBe(11);
  });
});

describe('checkpoints', () => {
  // The hash of each checkpoint, as published with it; a hash that meets the header's own target
  // cannot be made up, so the header proves itself once its hash is the known one.
  const KNOWN: Record<string, { height: number; hash: string }> = {
    mainnet: { height: 864864, hash: '00000000000000000000ecfcf0073a9ae7fd9149d643fa462109f5b0777f5720' },
    testnet: { height: 3612672, hash: '00000000000000000b030eae079897a2f81ec5da0b623bad6808bd64537cc103' },
    signet: { height: 229824, hash: '000000bac742cfc8d76fda4ad387b7aafa577b17d3684c61d8a089dcd08fa374' },
    // BIP94 "Genesis Block": the genesis hash it gives (Core and Electrum carry the same).
    testnet4: { height: 0, hash: '00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043' },
    regtest: { height: 0, hash: CHAIN_PARAMS.regtest.genesisHash },
  };

  for (const [network, known] of Object.entries(KNOWN)) {
    it(`${network}: a period start whose hash is the known one and meets its target`, () => {
      const params = CHAIN_PARAMS[network as keyof typeof CHAIN_PARAMS];
      const parsed = header(params.checkpoint.rawHex);
      expect(params.checkpoint.height).toBe(known.height);
      expect(params.checkpoint.height % 2016).toBe(0);
      expect(parsed.hash).toBe(known.hash);
      expect(BigInt('0x' + parsed.hash) <= bitsToTarget(parsed.bits)).toBe(true);
      expect(bitsToTarget(parsed.bits) <= params.powLimit).toBe(true);
      // A new wallet starts at the checkpoint: nothing below it is ever asked for.
      const chain = new HeaderChain(params.network, openDatabase(':memory:'));
      expect(chain.baseHeight).toBe(known.height);
      expect(chain.tipHeight()).toBe(known.height);
      expect(chain.header(known.height - 1)).toBeUndefined();
    });
  }
});

describe('chain work', () => {
  it('accumulates 2^256 / (target + 1) per header and measures a fork before it is adopted', () => {
    const db = openDatabase(':memory:');
    const chain = new HeaderChain('regtest', db);
    const perBlock = targetWork(bitsToTarget(0x207fffff)); // 2 on regtest
    expect(perBlock).toBe(2n);
    expect(chain.workAt(0)).toBe(perBlock);
    chain.connect(1, mineBranch(chain.parsedAt(0)!, 10, 1));
    expect(chain.workAt(10)).toBe(11n * perBlock);
    expect(chain.workAt(11)).toBeUndefined();

    // A fork from 5 that is two headers longer: measured without storing, then adopted.
    const fork = mineBranch(chain.parsedAt(5)!, 7, 2);
    expect(chain.branchWork(6, fork)).toBe(13n * perBlock);
    expect(chain.tipHeight()).toBe(10);
    chain.connect(6, fork);
    expect(chain.workAt(12)).toBe(13n * perBlock);
    // The work survives a reload and a truncation.
    expect(new HeaderChain('regtest', db).workAt(12)).toBe(13n * perBlock);
    chain.truncate(8);
    expect(chain.workAt(8)).toBe(9n * perBlock);

    // An invalid branch is refused by branchWork as by connect.
    const bad = mineBranch(chain.parsedAt(3)!, 2, 3);
    expectMisbehaved(() => chain.branchWork(5, bad), /does not connect/);
  });

  it('mainnet work per header matches Core: 0x100010001 for difficulty 1', () => {
    expect(headerWork(header(MAINNET[1]))).toBe(0x100010001n);
  });
});
