import { Transaction } from 'bitcoinjs-lib';
import { describe, expect, it } from 'vitest';
import { FulmenError } from '../util/errors.js';
import { fromHex } from './bytes.js';
import { parseHeader } from './headers.js';
import { merkleRootFromBranch, SpvVerifier } from './spv.js';
import type { VerifiedHeader } from './types.js';

// Mainnet block 170: the coinbase and the first bitcoin payment (Satoshi → Hal Finney).
const HEADER_170 =
  '0100000055bd840a78798ad0da853f68974f3d183e2bd1db6a842c1feecf222a00000000ff104ccb05421ab93e63f8c3ce5c2c2e9dbb37de2764b3a3175c8166562cac7d51b96a49ffff001d283e9e70';
const COINBASE_170 = 'b1fea52486ce0c62bb442b530a3f0132b826c74e473d1f2c220bfa78111c5082';
const TXID_170 = 'f4184fc596403b9d638783cf57adfe4c75c605f6356fbc91338530e9831e9e16';
const RAW_TX_170 =
  '0100000001c997a5e56e104102fa209c6a852dd90660a20b2d9c352423edce25857fcd3704000000004847304402204e45e16932b8af514961a1d3a1a25fdf3f4f7732e9d624c6c61548ab5fb8cd410220181522ec8eca07de4860a4acdd12909d831cc56cbbac4622082221a8768d1d0901ffffffff0200ca9a3b00000000434104ae1a62fe09c5f51b13905f07f06b99a2f7159b2225f374cd378d71302fa28414e7aab37397f554a7df5f142c21c1b7303b8a0626f1baded5c72a704f7e6cd84cac00286bee0000000043410411db93e1dcdb8a016b49840f8c53bc1eb68a382e97b1482ecad7b148a6909a5cb2e0eaddfb84ccf9744464f82e160bfa9b8b64f9d4c03f999b8643f656b412a3ac00000000';

// Mainnet block 100000 (four transactions): a two-level branch for its third transaction.
const HEADER_100000 =
  '0100000050120119172a610421a6c3011dd330d9df07b63616c2cc1f1cd00200000000006657a9252aacd5c0b2940996ecff952228c3067cc38d4885efb5a4ac4247e9f337221b4d4c86041b0f2b5710';
const TXID_100000_2 = '6359f0868171b1d194cbee1af2f16ea598ae8fad666d9b012c8ed2b79a236ec4';
const BRANCH_100000_2 = [
  'e9a66845e05d5abc0ad04ec80f774a7e585c6e8db975962d069a522137b80c1d', // tx 3
  'ccdafb73d8dcd0173d5d5c3c9a0770d0b3953db889dab99ef05b1907518cb815', // hash(tx 0 ‖ tx 1)
];

function verified(height: number, rawHex: string): VerifiedHeader {
  const parsed = parseHeader(fromHex(rawHex));
  return { height, hash: parsed.hash, raw: rawHex, timestamp: parsed.timestamp };
}

function expectMisbehaved(fn: () => unknown, message: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (err) {
    error = err;
  }
  expect(error).toBeInstanceOf(FulmenError);
  expect((error as FulmenError).code).toBe('SERVER_MISBEHAVED');
  expect((error as FulmenError).message).toMatch(message);
}

const verifier = new SpvVerifier();
const size170 = Transaction.fromHex(RAW_TX_170).byteLength(false);

describe('SpvVerifier', () => {
  it('the vectors are real: the tx hashes to its txid and the headers to their known hashes', () => {
    expect(Transaction.fromHex(RAW_TX_170).getId()).toBe(TXID_170);
    expect(verified(170, HEADER_170).hash).toBe('00000000d1145790a8694403d4063f323d499e655c83426834d4ce2f8dd4a2ee');
    expect(verified(100000, HEADER_100000).hash).toBe('000000000003ba27aa200b1cecaad478d2b00432346c3f1f3986da1afd33e506');
  });

  it('verifies the real proof of the block-170 payment', () => {
    const header = verified(170, HEADER_170);
    const confirmation = verifier.verify(TXID_170, size170, { blockHeight: 170, merkle: [COINBASE_170], pos: 1 }, header);
    expect(confirmation).toEqual({ txid: TXID_170, height: 170, verified: true, blockHash: header.hash, timestamp: 1231731025, position: 1 });
    // And the coinbase, at position 0, with the payment as its sibling.
    expect(merkleRootFromBranch(COINBASE_170, [TXID_170], 0)).toBe(parseHeader(fromHex(HEADER_170)).merkleRoot);
  });

  it('verifies a two-level branch in block 100000', () => {
    const header = verified(100000, HEADER_100000);
    expect(merkleRootFromBranch(TXID_100000_2, BRANCH_100000_2, 2)).toBe(
      'f3e94742aca4b5ef85488dc37c06c3282295ffec960994b2c0d5ac2a25a95766',
    );
    expect(verifier.verify(TXID_100000_2, 250, { blockHeight: 100000, merkle: BRANCH_100000_2, pos: 2 }, header).verified).toBe(true);
  });

  it('reuses nodes of verified paths of a block: a sibling stops at their shared proven node; a forgery does not', () => {
    const header = verified(100000, HEADER_100000);
    const fresh = new SpvVerifier();
    expect(fresh.verify(TXID_100000_2, 250, { blockHeight: 100000, merkle: BRANCH_100000_2, pos: 2 }, header).verified).toBe(true);
    // Transaction 3 is transaction 2's sibling (BRANCH_100000_2[0]): its path meets the proven node (1, 1).
    const TXID_100000_3 = BRANCH_100000_2[0]!;
    const proof3 = { blockHeight: 100000, merkle: [TXID_100000_2, BRANCH_100000_2[1]!], pos: 3 };
    expect(fresh.verify(TXID_100000_3, 250, proof3, header).position).toBe(3);
    expect(new SpvVerifier().verify(TXID_100000_3, 250, proof3, header).verified).toBe(true); // the same without the cache
    // A made-up transaction at position 3 computes another node (1, 1) and is still refused.
    expectMisbehaved(() => fresh.verify('ab'.repeat(32), 250, { ...proof3 }, header), /does not match/);
    // And a proven node at another position proves nothing: transaction 2 claimed at position 3.
    expectMisbehaved(() => fresh.verify(TXID_100000_2, 250, { ...proof3, merkle: [TXID_100000_3, BRANCH_100000_2[1]!] }, header), /does not match/);
  });

  it('rejects a wrong proof: wrong position, wrong sibling, wrong block, wrong height', () => {
    const header = verified(170, HEADER_170);
    expectMisbehaved(() => verifier.verify(TXID_170, size170, { blockHeight: 170, merkle: [COINBASE_170], pos: 0 }, header), /does not match/);
    const tampered = COINBASE_170.slice(0, 63) + '0';
    expectMisbehaved(() => verifier.verify(TXID_170, size170, { blockHeight: 170, merkle: [tampered], pos: 1 }, header), /does not match/);
    const other = verified(100000, HEADER_100000);
    expectMisbehaved(() => verifier.verify(TXID_170, size170, { blockHeight: 100000, merkle: [COINBASE_170], pos: 1 }, other), /does not match/);
    expectMisbehaved(() => verifier.verify(TXID_170, size170, { blockHeight: 171, merkle: [COINBASE_170], pos: 1 }, header), /height 171/);
  });

  it('rejects a position that does not fit the branch and malformed hashes', () => {
    const header = verified(170, HEADER_170);
    expectMisbehaved(() => verifier.verify(TXID_170, size170, { blockHeight: 170, merkle: [COINBASE_170], pos: 3 }, header), /does not fit/);
    expectMisbehaved(() => verifier.verify(TXID_170, size170, { blockHeight: 170, merkle: ['zz'], pos: 1 }, header), /Malformed/);
    expectMisbehaved(() => verifier.verify(TXID_170, size170, { blockHeight: 170, merkle: [COINBASE_170], pos: -1 }, header), /invalid/);
  });

  it('rejects a 64-byte transaction (it could be an inner node of the tree)', () => {
    // The inner node of block 100000 is the hash of 64 bytes (tx0 ‖ tx1): presented as a "tx" of
    // those 64 bytes with a one-level branch, it would otherwise verify.
    const header = verified(100000, HEADER_100000);
    const innerAsTxid = BRANCH_100000_2[1]!;
    const otherInner = merkleRootFromBranch(TXID_100000_2, [BRANCH_100000_2[0]!], 0);
    expect(merkleRootFromBranch(innerAsTxid, [otherInner], 0)).toBe(parseHeader(fromHex(HEADER_100000)).merkleRoot);
    expectMisbehaved(
      () => verifier.verify(innerAsTxid, 64, { blockHeight: 100000, merkle: [otherInner], pos: 0 }, header),
      /64 bytes/,
    );
  });
});
