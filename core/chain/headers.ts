import type { NetworkName } from '../bitcoin/network.js';
import type { Db } from '../storage/db.js';
import { FulmenError } from '../util/errors.js';
import { fromHex, sha256d, toDisplayHex, toHex } from './bytes.js';
import type { VerifiedHeader } from './types.js';

/**
 * HeaderChain: the validated chain of block headers for one network (Electrum's `blockchain`).
 *
 * Every header is checked before it is stored: 80 bytes, linkage (prevHash = hash of the header
 * below), proof of work (hash ≤ target decoded from nBits), and the target itself:
 * - mainnet: retarget every 2016 blocks from the period's timespan, clamped to [¼, 4×] of two
 *   weeks, capped at powLimit (Bitcoin Core `CalculateNextWorkRequired`); otherwise bits unchanged.
 * - testnet (testnet3): the same retarget (using the last block's bits, as Core does), plus the
 *   20-minute rule: a block more than 20 minutes after its parent may use powLimit; otherwise its
 *   bits are those of the last block of the period that was not a min-difficulty block.
 * - testnet4 (BIP94): testnet's 20-minute rule, but the retarget starts from the bits of the
 *   period's FIRST block (Core `enforce_BIP94`), so a min-difficulty last block cannot drag the
 *   next period down ("block storm fix"); and the first block of a period may not be more than
 *   600 s earlier than its parent (time-warp fix, Core MAX_TIMEWARP). Validated from genesis;
 *   the hashes Electrum ships as testnet4 checkpoints (the last header of each of the first
 *   periods) must match as well (`knownHashes`).
 * - signet: the mainnet retarget rules with signet's powLimit. The signet block signature lives
 *   in the coinbase, which a header-only client cannot see, so it is not checked here.
 * - regtest: powLimit 0x207fffff, no retargeting (bits never change).
 *
 * Storage: table `chain_headers` (core/storage/migrations/chain.ts), 80-byte BLOBs keyed by
 * (network, height), contiguous from the network's checkpoint. All headers are also kept in
 * memory (80 bytes + hash each) so lookups are synchronous.
 *
 * Chain work: the cumulative work (sum of 2^256 / (target + 1) per header, Core `GetBlockProof`)
 * of every stored height is kept in memory, counted from the checkpoint (the checkpoint's own work
 * included). Only differences matter: two branches above a common ancestor compare by their sums.
 *
 * Fork choice: this class validates and stores whatever valid branch it is given and measures
 * branches (`branchWork`); choosing between servers' branches is ChainNetwork's job.
 */

/** Seconds in a retarget period (two weeks) and blocks per period. */
const TARGET_TIMESPAN = 14 * 24 * 60 * 60;
const TARGET_SPACING = 10 * 60;
export const RETARGET_INTERVAL = 2016;

export interface ChainParams {
  network: NetworkName;
  /** Highest allowed target (Bitcoin Core `powLimit`). */
  powLimit: bigint;
  /** nBits of a min-difficulty block (compact form of powLimit as mined). */
  powLimitBits: number;
  retargeting: boolean;
  /** testnet3's 20-minute minimum-difficulty rule (Core `fPowAllowMinDifficultyBlocks`). */
  allowMinDifficultyBlocks: boolean;
  /** BIP94 (testnet4): retarget from the period's first block's bits; time-warp rule (Core `enforce_BIP94`). */
  enforceBip94?: boolean;
  /** Hashes the chain must have at these heights (height → display hex), besides the checkpoint. */
  knownHashes?: ReadonlyMap<number, string>;
  genesisHash: string;
  /**
   * Trusted starting point: a header at a retarget-period start (height % 2016 == 0), or genesis.
   * HeaderChain never stores or checks headers below it: a new wallet's transactions are all
   * above it. For an older transaction (a restored wallet) ChainNetwork proves the one header
   * it needs by hash linkage down from the checkpoint (ChainNetwork.getHeader), not by PoW.
   */
  checkpoint: { height: number; rawHex: string };
}

const MAINNET_POW_LIMIT = (1n << 224n) - 1n; // 0x00000000ffff…ff

/** BIP94: the first block of a period may be at most this many seconds before its parent (Core MAX_TIMEWARP). */
export const MAX_TIMEWARP = 600;

/**
 * Electrum's testnet4 checkpoints (spesmilo/electrum electrum/chains/testnet4/checkpoints.json,
 * commit 923578010e56): entry i is the hash of the header at height 2016·i + 2015, the last of
 * period i. Used as `knownHashes`: a server's chain must pass through them.
 */
const TESTNET4_ELECTRUM_CHECKPOINTS: readonly string[] = [
  '00000000962a7fc2ef639196051fe181ed53ac6aa4cdfead14dca90f58aa36bc',
  '000000002ad661157c553c0bbbb2490407adb1c8ac09f2b2a7174f87eeeb64bf',
  '000000000be3ff43cde9eed4d6b2d4ad16c4f9509ccb94e1001af68e2f6647b3',
  '00000000001ef2e4c2fc174354ed357cf313725fc336092733b2699d36342ff8',
  '000000000025269f9fa4b0832ccbfef682d59c0fa8845b0c22cc24a1973f011a',
  '000000000014b2d6b2ad804d5deb8d5b4a58caf152f6cea5600af0d9348dff29',
  '000000000003c067c302d43c9499da6e382260252a2a29caf9748ee6972d5f01',
  '000000000002180d23f15ba0b8161d9d38d03c61ab51d050c57928e1a7d98e0c',
  '000000000000ed8722220a13b09d968a59686af5fc5c1e0a86371a498209fa72',
  '0000000000003e82df3830ff7c05a58745a463a59d1097e160e47ac7aeb5323a',
  '0000000000000c3f18b9a30269c4b53dd107bacf20482e4ec660e9970999a99f',
  '00000000000002901853780dc8a63efd4d72359d8de7e14dc0398ccfc53d45cd',
  '00000000000000a6ff1615113d25eeed8554813e4994f8ef7ce96458083d14cf',
  '000000000000006e2d4fa8204c67c0986f9bb0214990b11043d0653d50755f54',
  '00000000eaf8e0ea253d833614892aed70c55e5dc4b4d6709dd6420b8284debb',
  '0000000000000063d3ca489d113ded6196c99f3785b61a8ded9254ebb96bc765',
  '000000000000003f684cab6cdb7fe6e98cb13318bb45acdc2d2e2d7405b8bcbe',
  '000000000000001f735b5a23732fb201cf6343b373c94a35f04e6b6075591889',
  '000000001c247a1eb479ecc56ea7d7529f0c4afb6b7025f437a7d235454cd6a4',
  '00000000acd1400a4801f361d675644993ad05e5b735a881f26746ece767521e',
  '00000000542792e54a720567ba66157d48cdae7bfd01c1b678d0f07a2ed56e99',
  '00000000ca301f565989627133247615bc937b52c68f8f4b342b6c2aeebff7ba',
  '00000000e4ad2ec95dfddce6a554f626c9995e465b067e72528f6ae164fc58d2',
  '00000000761cd6bff5e11258943e401e1bb094a8013e810e1d6031ce273a4b7c',
  '00000000082032b915c151f1bb9892fe924013539924a34ec8b9bdea16eb7374',
  '0000000000853161fa2a440407ce597524e85db6a27f5dffd35162b38e7627e7',
  '00000000001c7ef1bace4a08448d9e462ff8b2e8c389f16026834c5d0c97252c',
  '000000000ae11eebf9807d5ac0f9966282c59a1e613e229aa2bf7aea266d4535',
  '00000000973e9926efc6a2a11413f7125242911ae10925e3616e872307a3e401',
  '0000000000000003d66460a7e1ed89080427ac2004b2b3adae05e6e89725dc1f',
  '000000009f8fe2dbafd82a0432d69d620d0ebeea033c8a2621bf06a6e6d3b5c4',
  '0000000000000003ac6ce3118b61709d347142cc04daeb2c973b937904e4390b',
  '0000000000003844aab8ac81fb69b47e83c037cee505bfd5cb6522aa4d2351bc',
  '00000000000060397e5918c319db04ffac74f2a5c7724083112fca8958ea54de',
  '00000000213b70c1bcec26b90a5503960a95d7a5fa5d9de498b9d794afeaebd5',
  '0000000000000e5f474161d1b68932ab607035f5026f1ac4aa5816f24e76017a',
  '00000000b56d4faf52043bfe98e126c69fb51671ba9bcea67c191620255d291d',
  '0000000000052b94098008985919f6b525ead0d5cb5608fd60015f2647701ea1',
  '00000000e5c06639c50bdb710b84ebf58d1df666db033157db685ec592932276',
  '000000006f596242c0b5dd79b5f638e95a215252c44374133a5b263fcb5e9f89',
  '00000000a2dc7b8c63c737543dd41e5a7a529d1824c32e2d454cae998c5a7298',
  '000000008a995172d20119cc9b48a28ea4bf350711c2925849e5db760d0bde05',
  '000000000bcec41b64702945a8cc7aceb06bc51fa93528b39619180ddc03e9bd',
  '00000000003f767fd29141200c4b64fc0b224edcf28ef65f66c6345b76a60f32',
  '00000000046883bd13b616c3525b243bbf3c7a9688a66f8ce46506ec25f6e798',
  '00000000068670ee282a076d17900a07da93da50b3705405b1e7ca8616856535',
  '0000000026b1f5d8ffa89385b048ca9004b97b412eee44000810ea8177a4bef4',
  '0000000000000002e72644dda2132c93ac54edd6c155f47c51ca8cf4b918c0bf',
  '00000000000000000a20f50c208d1ae3c3397fc6059b2cf1fe6b698e42023178',
  '000000000a0b5c3e57dd4c3b751d13562a92953d794e19aff8f9e2ca6607604f',
  '0000000003b9f6443b23bf86f200ef85005dfc508564960812eb85774327e6ce',
  '000000000668f8e866d39a9ec07937e716a6035a02cfd0757ee716ac7cdca2fd',
  '00000000041c239cab44d0afc2014a1351250375e796c692298ba8a8fcdb41de',
  '0000000008c8148de5f2a96c0b82b32f8726ef7061386d370a68e078ade8e3e5',
  '00000000089663c835fe83325ffaced64ad9c924468d1e1339f400bf8ed57883',
  '00000000039229460de251e6b8b303841f76a1bc022025e8ca66a6ace20ffdf3',
  '000000006b606bff2dfa618d2975fdfc2bea491f558ebe16be2ca7a0aa1c0181',
  '0000000005dfc1e853b8d644598b77bdd97ef7578f9ccbb840aa3860fda9ddac',
  '0000000002e9de570afba91146a43378199cc3b38fd52b2f4f1989734d22084a',
  '000000000d1359300f79d95e0db59f4c14099684718838720db7569d98348844',
  '0000000004da29c9d1d8b2ab2802ee8f26889bea431fcc87dab14bd08e6859cd',
  '0000000000825b23159c1a12a2630b0449b8a8662205abc19a8d7fc63cc317ae',
  '0000000003c48551480c4bc743fdb977b9aab259e44dd0017175bab8dc39cc70',
  '0000000002df096950967613e32bee0c6c8d39df45bfa59981b8d8c48a05f2df',
  '000000000c75df63f9c40da5dd1f4929e81333106ef12ce537125a31a64c82e5',
  '00000000000000033293709ac6e6812f900d7bf4f3bcffbc138c813bff75d5f2',
  '0000000000b883bac97de38f1b743e1e28411d3a5d7b7277ce1c023aa386d178',
  '00000000002543b93ad11c81c924a5ebee7b236471fd166b060ce868abf95f1b',
  '000000000001fa52cf7346a418640560743e051f8096a21ca452f3569bfe4f9e',
];

export const CHAIN_PARAMS: Record<NetworkName, ChainParams> = {
  mainnet: {
    network: 'mainnet',
    powLimit: MAINNET_POW_LIMIT,
    powLimitBits: 0x1d00ffff,
    retargeting: true,
    allowMinDifficultyBlocks: false,
    genesisHash: '000000000019d6689c085ae165831e934ff763ae46a2a6c172b3f1b60a8ce26f',
    // Block 864864 (= 429 × 2016, a period start, Oct 2024),
    // hash 00000000000000000000ecfcf0073a9ae7fd9149d643fa462109f5b0777f5720.
    checkpoint: {
      height: 864864,
      rawHex:
        '0000003a5f00e7df93f80524b5d0bca74ae81577d8e937ab4b9201000000000000000000e44b8cd6f5baf8ddaa1284a4a6235f5ade7015ec93e9f8c92206ff7e034fe0f4cf260667cd0e0317d37b1c47',
    },
  },
  testnet: {
    network: 'testnet',
    powLimit: MAINNET_POW_LIMIT,
    powLimitBits: 0x1d00ffff,
    retargeting: true,
    allowMinDifficultyBlocks: true,
    genesisHash: '000000000933ea01ad0ee984209779baaec3ced90fa3f408719526f8d77f4943',
    // Block 3612672 (= 1792 × 2016, a period start, Jan 2025),
    // hash 00000000000000000b030eae079897a2f81ec5da0b623bad6808bd64537cc103. Source: bitcoinj's
    // testnet checkpoint file (org.bitcoin.test.checkpoints.txt); the hash meets its own target.
    checkpoint: {
      height: 3612672,
      rawHex:
        '00404b2878f7adc4720f60656d31fd5111fa1b526026bf1084d496c90300000000000000552135cb71df767cb6425e703e8223dce06e4f8b60fece9aef7ad54e5e2361fa37ba7d679a0a011953099de5',
    },
  },
  testnet4: {
    network: 'testnet4',
    powLimit: MAINNET_POW_LIMIT,
    powLimitBits: 0x1d00ffff,
    retargeting: true,
    allowMinDifficultyBlocks: true,
    enforceBip94: true,
    genesisHash: '00000000da84f2bafbbc53dee25a72ae507ff4914b867c565be350b0da8bf043',
    knownHashes: new Map(TESTNET4_ELECTRUM_CHECKPOINTS.map((hash, i) => [RETARGET_INTERVAL * i + RETARGET_INTERVAL - 1, hash])),
    // The genesis header: the first 80 bytes of the genesis block hex given in BIP94
    // ("Genesis Block"); it hashes to genesisHash (Core asserts the same hash).
    checkpoint: {
      height: 0,
      rawHex:
        '0100000000000000000000000000000000000000000000000000000000000000000000004e7b2b9128fe0291db0693af2ae418b767e657cd407e80cb1434221eaea7a07a046f3566ffff001dbb0c7817',
    },
  },
  signet: {
    network: 'signet',
    powLimit: 0x00000377ae000000000000000000000000000000000000000000000000000000n,
    powLimitBits: 0x1e0377ae,
    retargeting: true,
    allowMinDifficultyBlocks: false,
    genesisHash: '00000008819873e925422c1ff0f99f7cc9bbb232af63a077a480a3633bee1ef6',
    // Block 229824 (= 114 × 2016, a period start, Jan 2025),
    // hash 000000bac742cfc8d76fda4ad387b7aafa577b17d3684c61d8a089dcd08fa374. Source: bitcoinj's
    // signet checkpoint file (org.bitcoin.signet.checkpoints.txt); the hash meets its own target.
    checkpoint: {
      height: 229824,
      rawHex:
        '000000204e1723c21130b4b77d390200eda865cb048c5586a701ac1e2e4d14fddf000000eb17b9fe7e04f19d26ed5860829edafcd8a217d22b18fdc74bff36da9ae76d1105477d67ad46011ec2283200',
    },
  },
  regtest: {
    network: 'regtest',
    powLimit: 0x7fffff0000000000000000000000000000000000000000000000000000000000n,
    powLimitBits: 0x207fffff,
    retargeting: false,
    allowMinDifficultyBlocks: true,
    genesisHash: '0f9188f13cb7b2c71f2a335e3a4fc328bf5beb436012afca590b1a11466e2206',
    checkpoint: {
      height: 0,
      rawHex:
        '0100000000000000000000000000000000000000000000000000000000000000000000003ba3edfd7a7b12b27ac72c3e67768f617fc81bc3888a51323a9fb8aa4b1e5e4adae5494dffff7f2002000000',
    },
  },
};

/** The fields of an 80-byte header; hashes in display (big-endian) hex. */
export interface ParsedHeader {
  version: number;
  prevHash: string;
  merkleRoot: string;
  timestamp: number;
  bits: number;
  nonce: number;
  hash: string;
  raw: Uint8Array;
}

function misbehaved(message: string, details?: Record<string, unknown>): FulmenError {
  return new FulmenError('SERVER_MISBEHAVED', message, details);
}

/**
 * Parses an 80-byte block header.
 * @throws FulmenError SERVER_MISBEHAVED when `raw` is not 80 bytes.
 */
export function parseHeader(raw: Uint8Array): ParsedHeader {
  if (raw.length !== 80) throw misbehaved(`Block header must be 80 bytes, got ${raw.length}`);
  const view = new DataView(raw.buffer, raw.byteOffset, 80);
  return {
    version: view.getInt32(0, true),
    prevHash: toDisplayHex(raw.subarray(4, 36)),
    merkleRoot: toDisplayHex(raw.subarray(36, 68)),
    timestamp: view.getUint32(68, true),
    bits: view.getUint32(72, true),
    nonce: view.getUint32(76, true),
    hash: toDisplayHex(sha256d(raw)),
    raw,
  };
}

/**
 * Decodes compact nBits into the 256-bit target (Bitcoin Core `arith_uint256::SetCompact`).
 * @throws FulmenError SERVER_MISBEHAVED for a negative or overflowing encoding, or a zero target.
 */
export function bitsToTarget(bits: number): bigint {
  const exponent = bits >>> 24;
  const mantissa = bits & 0x007fffff;
  const negative = (bits & 0x00800000) !== 0 && mantissa !== 0;
  const overflow =
    mantissa !== 0 &&
    (exponent > 34 || (mantissa > 0xff && exponent > 33) || (mantissa > 0xffff && exponent > 32));
  if (negative || overflow) throw misbehaved(`Invalid nBits 0x${bits.toString(16)}`);
  const target =
    exponent <= 3
      ? BigInt(mantissa >>> (8 * (3 - exponent)))
      : BigInt(mantissa) << BigInt(8 * (exponent - 3));
  if (target === 0n) throw misbehaved(`Zero target in nBits 0x${bits.toString(16)}`);
  return target;
}

/** Encodes a target as compact nBits (Bitcoin Core `arith_uint256::GetCompact`). */
export function targetToBits(target: bigint): number {
  let size = target === 0n ? 0 : Math.ceil(target.toString(16).length / 2);
  let compact = size <= 3 ? Number(target << BigInt(8 * (3 - size))) : Number(target >> BigInt(8 * (size - 3)));
  if (compact & 0x00800000) {
    compact >>>= 8;
    size += 1;
  }
  return (compact | (size << 24)) >>> 0;
}

/** Work represented by a target: 2^256 / (target + 1) (Core `GetBlockProof`). */
export function targetWork(target: bigint): bigint {
  return (1n << 256n) / (target + 1n);
}

/**
 * The retarget at a period boundary (Bitcoin Core `CalculateNextWorkRequired`):
 * `lastBits` are the bits the new target starts from, `firstTime`/`lastTime` the timestamps of
 * the period's first and last blocks. @returns the expected nBits of the boundary block.
 */
export function retargetBits(params: ChainParams, lastBits: number, firstTime: number, lastTime: number): number {
  let timespan = lastTime - firstTime;
  if (timespan < TARGET_TIMESPAN / 4) timespan = TARGET_TIMESPAN / 4;
  if (timespan > TARGET_TIMESPAN * 4) timespan = TARGET_TIMESPAN * 4;
  let target = (bitsToTarget(lastBits) * BigInt(timespan)) / BigInt(TARGET_TIMESPAN);
  if (target > params.powLimit) target = params.powLimit;
  return targetToBits(target);
}

/** Reads the header at a height, from the branch being connected or the stored chain. */
type HeaderAt = (height: number) => ParsedHeader | undefined;

/**
 * Expected nBits of `header` at `height` given its ancestors (Bitcoin Core `GetNextWorkRequired`).
 * Returns null when an ancestor the rule needs lies below our checkpoint (only possible for
 * testnet's min-difficulty walk-back); the PoW and powLimit checks still apply then.
 */
export function expectedBits(params: ChainParams, height: number, header: ParsedHeader, at: HeaderAt): number | null {
  const prev = at(height - 1);
  if (!prev) return null;
  if (!params.retargeting) return prev.bits;
  if (height % RETARGET_INTERVAL === 0) {
    const first = at(height - RETARGET_INTERVAL);
    if (!first) return null;
    // BIP94 "block storm fix": the base is the first block's bits, not the last block's (which
    // may be a 20-minute min-difficulty block).
    return retargetBits(params, params.enforceBip94 ? first.bits : prev.bits, first.timestamp, prev.timestamp);
  }
  if (params.allowMinDifficultyBlocks) {
    if (header.timestamp > prev.timestamp + 2 * TARGET_SPACING) return params.powLimitBits;
    let h = height - 1;
    let cursor: ParsedHeader | undefined = prev;
    while (cursor && h % RETARGET_INTERVAL !== 0 && cursor.bits === params.powLimitBits) {
      h -= 1;
      cursor = at(h);
    }
    return cursor ? cursor.bits : null;
  }
  return prev.bits;
}

/**
 * Checks one header against its parent and the network's rules.
 * @throws FulmenError SERVER_MISBEHAVED naming the failed rule (linkage, bits, PoW).
 */
export function checkHeader(params: ChainParams, height: number, header: ParsedHeader, at: HeaderAt): void {
  const prev = at(height - 1);
  if (prev && header.prevHash !== prev.hash) {
    throw misbehaved(`Header ${height} does not connect to header ${height - 1}`, { height });
  }
  const known = params.knownHashes?.get(height);
  if (known !== undefined && header.hash !== known) {
    throw misbehaved(`Header ${height} is not the checkpointed ${known}`, { height });
  }
  if (params.enforceBip94 && prev && height % RETARGET_INTERVAL === 0 && header.timestamp < prev.timestamp - MAX_TIMEWARP) {
    throw misbehaved(`Header ${height} breaks BIP94's time-warp rule (more than ${MAX_TIMEWARP} s before its parent)`, { height });
  }
  const expected = expectedBits(params, height, header, at);
  if (expected !== null && expected !== header.bits) {
    throw misbehaved(
      `Header ${height} has bits 0x${header.bits.toString(16)}, expected 0x${expected.toString(16)}`,
      { height },
    );
  }
  const target = bitsToTarget(header.bits);
  if (target > params.powLimit) throw misbehaved(`Header ${height} target above the network's limit`, { height });
  const hashValue = BigInt('0x' + header.hash);
  if (hashValue > target) throw misbehaved(`Header ${height} fails proof of work`, { height });
}

/** Outcome of `HeaderChain.connect`. */
export interface ConnectResult {
  /** Lowest height whose header changed (new or replaced), or null when nothing changed. */
  forkHeight: number | null;
  /** True when stored headers were replaced (a reorg), not only appended. */
  reorg: boolean;
}

/** Validated header chain for one network, persisted in `chain_headers`. */
export class HeaderChain {
  readonly params: ChainParams;
  /** Height of the first stored header (the checkpoint); nothing below it is known. */
  readonly baseHeight: number;
  private readonly headers: ParsedHeader[] = [];
  /** cumulativeWork[i]: work of headers[0..i] (from the checkpoint up). */
  private readonly cumulativeWork: bigint[] = [];
  private readonly db: Db;
  private readonly deleteFrom: { run(network: string, height: number): unknown };
  private readonly insert: { run(network: string, height: number, raw: Uint8Array): unknown };

  /**
   * Loads the stored chain of `network` from `db` (inserting the checkpoint on first use).
   * `params` defaults to the network's; passing others (e.g. an earlier checkpoint) is for tests
   * and for users who pin their own checkpoint.
   * Stored rows are our own validated data: their linkage is re-checked (cheap), PoW is not.
   * @throws FulmenError INTERNAL when stored rows are not contiguous from the checkpoint.
   */
  constructor(network: NetworkName, db: Db, params: ChainParams = CHAIN_PARAMS[network]) {
    this.params = params;
    this.db = db;
    this.baseHeight = this.params.checkpoint.height;
    this.deleteFrom = db.prepare('DELETE FROM chain_headers WHERE network = ? AND height >= ?');
    this.insert = db.prepare('INSERT INTO chain_headers (network, height, raw) VALUES (?, ?, ?)');
    const checkpoint = parseHeader(fromHex(this.params.checkpoint.rawHex));
    const rows = db
      .prepare('SELECT height, raw FROM chain_headers WHERE network = ? AND height >= ? ORDER BY height')
      .raw()
      .all(network, this.baseHeight) as [number, Buffer][];
    if (rows.length === 0 || toHex(rows[0]![1]) !== toHex(checkpoint.raw)) {
      // First use, or a checkpoint that changed with an upgrade: start again from the checkpoint.
      db.transaction(() => {
        db.prepare('DELETE FROM chain_headers WHERE network = ?').run(network);
        this.insert.run(network, this.baseHeight, checkpoint.raw);
      })();
      this.push(checkpoint);
      return;
    }
    for (const [height, raw] of rows) {
      const header = parseHeader(new Uint8Array(raw));
      const prev = this.headers[this.headers.length - 1];
      if (height !== this.baseHeight + this.headers.length || (prev && header.prevHash !== prev.hash)) {
        throw new FulmenError('INTERNAL', `Stored header chain for ${network} is inconsistent at ${height}`);
      }
      this.push(header);
    }
  }

  private push(header: ParsedHeader): void {
    const below = this.cumulativeWork[this.cumulativeWork.length - 1] ?? 0n;
    this.headers.push(header);
    this.cumulativeWork.push(below + headerWork(header));
  }

  /**
   * Cumulative work from the checkpoint (included) up to `height` (included), or undefined
   * outside [baseHeight, tipHeight]. Comparable only between heights of this chain and branch
   * sums built on it (see `branchWork`).
   */
  workAt(height: number): bigint | undefined {
    if (!Number.isInteger(height) || height < this.baseHeight) return undefined;
    return this.cumulativeWork[height - this.baseHeight];
  }

  /**
   * Validates `raws` as consecutive headers from `startHeight` on top of our header at
   * `startHeight - 1` (like `connect`, without storing anything) and returns the cumulative work
   * the chain would have at the branch's last header: `workAt(startHeight - 1)` + the branch's work.
   * Used to compare a server's fork against our chain before adopting it.
   * @throws FulmenError SERVER_MISBEHAVED when a header is invalid or the branch does not connect;
   *   BAD_INPUT when `startHeight` is not in [baseHeight+1, tip+1] or `raws` is empty.
   */
  branchWork(startHeight: number, raws: readonly Uint8Array[]): bigint {
    const tipHeight = this.tipHeight();
    if (!Number.isInteger(startHeight) || startHeight <= this.baseHeight || startHeight > tipHeight + 1 || raws.length === 0) {
      throw new FulmenError('BAD_INPUT', `Cannot measure a branch at ${startHeight} (tip ${tipHeight})`);
    }
    const branch = raws.map((raw) => parseHeader(raw));
    const at: HeaderAt = (h) => (h >= startHeight ? branch[h - startHeight] : this.parsedAt(h));
    let work = this.workAt(startHeight - 1)!;
    branch.forEach((header, i) => {
      checkHeader(this.params, startHeight + i, header, at);
      work += headerWork(header);
    });
    return work;
  }

  /** Height of the validated tip. */
  tipHeight(): number {
    return this.baseHeight + this.headers.length - 1;
  }

  /** The validated tip. */
  tip(): VerifiedHeader {
    return this.header(this.tipHeight())!;
  }

  /** Parsed header at `height`, or undefined outside [baseHeight, tipHeight]. */
  parsedAt(height: number): ParsedHeader | undefined {
    if (!Number.isInteger(height) || height < this.baseHeight) return undefined;
    return this.headers[height - this.baseHeight];
  }

  /** Validated header at `height`, or undefined when we do not have it. */
  header(height: number): VerifiedHeader | undefined {
    const parsed = this.parsedAt(height);
    if (!parsed) return undefined;
    return { height, hash: parsed.hash, raw: toHex(parsed.raw), timestamp: parsed.timestamp };
  }

  /**
   * Validates `raws` as consecutive headers from `startHeight` and connects them. When
   * `startHeight` ≤ tip, the stored headers from the first differing height up are replaced (a
   * reorg: everything above is dropped, even above the new branch's end). Headers identical to
   * the stored ones are skipped. One SQLite transaction; memory is updated after it commits.
   * @throws FulmenError SERVER_MISBEHAVED when a header is invalid or the branch does not connect
   *   (then nothing is stored); BAD_INPUT when `startHeight` is not in [baseHeight+1, tip+1].
   */
  connect(startHeight: number, raws: readonly Uint8Array[]): ConnectResult {
    const tipHeight = this.tipHeight();
    if (!Number.isInteger(startHeight) || startHeight <= this.baseHeight || startHeight > tipHeight + 1) {
      throw new FulmenError('BAD_INPUT', `Cannot connect headers at ${startHeight} (tip ${tipHeight})`);
    }
    const parsed = raws.map((raw) => parseHeader(raw));
    let skip = 0;
    while (skip < parsed.length && this.parsedAt(startHeight + skip)?.hash === parsed[skip]!.hash) skip += 1;
    if (skip === parsed.length) return { forkHeight: null, reorg: false };
    const forkHeight = startHeight + skip;
    const branch = parsed.slice(skip);
    const at: HeaderAt = (h) => (h >= forkHeight ? branch[h - forkHeight] : this.parsedAt(h));
    branch.forEach((header, i) => checkHeader(this.params, forkHeight + i, header, at));
    const reorg = forkHeight <= tipHeight;
    const network = this.params.network;
    this.db.transaction(() => {
      if (reorg) this.deleteFrom.run(network, forkHeight);
      branch.forEach((header, i) => this.insert.run(network, forkHeight + i, header.raw));
    })();
    this.headers.length = forkHeight - this.baseHeight;
    this.cumulativeWork.length = this.headers.length;
    for (const header of branch) this.push(header);
    return { forkHeight, reorg };
  }

  /**
   * Drops headers above `height` (the server's best chain is shorter than ours).
   * @throws FulmenError BAD_INPUT when `height` is below the checkpoint.
   */
  truncate(height: number): void {
    if (height < this.baseHeight) throw new FulmenError('BAD_INPUT', `Cannot truncate below the checkpoint (${this.baseHeight})`);
    if (height >= this.tipHeight()) return;
    this.deleteFrom.run(this.params.network, height + 1);
    this.headers.length = height - this.baseHeight + 1;
    this.cumulativeWork.length = this.headers.length;
  }
}

/** Work of one (already validated) header: 2^256 / (target(nBits) + 1). */
export function headerWork(header: ParsedHeader): bigint {
  return targetWork(bitsToTarget(header.bits));
}
