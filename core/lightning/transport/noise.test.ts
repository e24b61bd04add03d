import { describe, expect, it } from 'vitest';
import { hexToBytes, bytesToHex } from '../wire/codec.js';
import { FulmenError } from '../../util/errors.js';
import { NoiseCipher, NoiseInitiator, NoiseResponder } from './noise.js';

// BOLT 8 Appendix A test vectors (data).
const rsPub = '028d7500dd4c12685d1f568b4c2b5048e8534b873319f3a8daa612b469132ec7f7';
const initiatorLsPriv = '11'.repeat(32);
const initiatorLsPub = '034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa';
const initiatorEPriv = '12'.repeat(32);
const responderLsPriv = '21'.repeat(32);
const responderEPriv = '22'.repeat(32);
const act1 = '00036360e856310ce5d294e8be33fc807077dc56ac80d95d9cd4ddbd21325eff73f70df6086551151f58b8afe6c195782c6a';
const act2 = '0002466d7fcae563e5cb09a0d1870bb580344804617879a14949cf22285f1bae3f276e2470b93aac583c9ef6eafca3f730ae';
const act3 =
  '00b9e3a702e93e3a9948c2ed6e5fd7590a6e1c3a0344cfc9d5b57357049aa22355361aa02e55a8fc28fef5bd6d71ad0c38228dc68b1c466263b47fdf31e560e139ba';
const ck = '919219dbb2920afa8db80f9a51787a840bcf111ed8d588caf9ab4be716e42b01';
const sk = '969ab31b4d288cedf6218839b27a3e2140827047f2c0f01bf5c04435d43511a9';
const rk = 'bb9020b8965f4df047e07f955f3c4b88418984aadc5cdb35096b9ea8fa5c3442';

const initiator = () => new NoiseInitiator(hexToBytes(initiatorLsPriv), hexToBytes(rsPub), hexToBytes(initiatorEPriv));
const responder = () => new NoiseResponder(hexToBytes(responderLsPriv), hexToBytes(responderEPriv));

function expectProtocolError(fn: () => unknown, pattern: RegExp): void {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(FulmenError);
    expect((e as FulmenError).code).toBe('PROTOCOL');
    expect((e as Error).message).toMatch(pattern);
    return;
  }
  throw new Error('expected a PROTOCOL error');
}

/** Encrypts "hello" with the vector's cipher, then decrypts with the mirrored one. */
function helloCiphers(): { sender: NoiseCipher; receiver: NoiseCipher } {
  return {
    sender: new NoiseCipher(hexToBytes(sk), hexToBytes(rk), hexToBytes(ck), hexToBytes(ck)),
    receiver: new NoiseCipher(hexToBytes(rk), hexToBytes(sk), hexToBytes(ck), hexToBytes(ck)),
  };
}

describe('BOLT 8 initiator vectors', () => {
  it('successful handshake', () => {
    const i = initiator();
    expect(bytesToHex(i.act1())).toBe(act1);
    const res = i.act2(hexToBytes(act2));
    expect(bytesToHex(res.act3)).toBe(act3);
    // sk/rk checked by encrypting with the derived cipher and comparing to the message vector output 0
    expect(bytesToHex(res.cipher.encrypt(new TextEncoder().encode('hello')))).toBe(
      'cf2b30ddf0cf3f80e7c35a6e6730b59fe802473180f396d88a8fb0db8cbcf25d2f214cf9ea1d95',
    );
  });

  const failures: [string, string, RegExp][] = [
    ['act2 short read', act2.slice(0, -2), /act 2 has 49 bytes/],
    ['act2 bad version', '01' + act2.slice(2), /act 2 unknown version 1/],
    ['act2 bad key serialization', '0004' + act2.slice(4), /act 2 bad ephemeral key/],
    ['act2 bad MAC', act2.slice(0, -2) + 'af', /act 2 bad MAC/],
  ];
  for (const [name, input, pattern] of failures) {
    it(name, () => {
      const i = initiator();
      expect(bytesToHex(i.act1())).toBe(act1);
      expectProtocolError(() => i.act2(hexToBytes(input)), pattern);
    });
  }
});

describe('BOLT 8 responder vectors', () => {
  it('successful handshake', () => {
    const r = responder();
    expect(bytesToHex(r.act1(hexToBytes(act1)))).toBe(act2);
    const res = r.act3(hexToBytes(act3));
    expect(bytesToHex(res.remotePubkey)).toBe(initiatorLsPub);
    // rk,sk = 969a...,bb90...: the responder decrypts what the initiator's sk encrypted
    const { sender } = helloCiphers();
    const wire = sender.encrypt(new TextEncoder().encode('hello'));
    const len = res.cipher.decryptLength(wire.slice(0, 18));
    expect(len).toBe(5);
    expect(new TextDecoder().decode(res.cipher.decryptBody(wire.slice(18)))).toBe('hello');
  });

  const act1Failures: [string, string, RegExp][] = [
    ['act1 short read', act1.slice(0, -2), /act 1 has 49 bytes/],
    ['act1 bad version', '01' + act1.slice(2), /act 1 unknown version 1/],
    ['act1 bad key serialization', '0004' + act1.slice(4), /act 1 bad ephemeral key/],
    ['act1 bad MAC', act1.slice(0, -2) + '6b', /act 1 bad MAC/],
  ];
  for (const [name, input, pattern] of act1Failures) {
    it(name, () => expectProtocolError(() => responder().act1(hexToBytes(input)), pattern));
  }

  const act3Failures: [string, string, RegExp][] = [
    ['act3 bad version', '01' + act3.slice(2), /act 3 unknown version 1/],
    ['act3 short read', act3.slice(0, -2), /act 3 has 65 bytes/],
    ['act3 bad MAC for ciphertext', '00c9' + act3.slice(4), /act 3 bad MAC on static key/],
    [
      'act3 bad rs',
      '00bfe3a702e93e3a9948c2ed6e5fd7590a6e1c3a0344cfc9d5b57357049aa2235536ad09a8ee351870c2bb7f78b754a26c6cef79a98d25139c856d7efd252c2ae73c',
      /act 3 bad static key/,
    ],
    ['act3 bad MAC', act3.slice(0, -2) + 'bb', /act 3 bad MAC$/],
  ];
  for (const [name, input, pattern] of act3Failures) {
    it(name, () => {
      const r = responder();
      expect(bytesToHex(r.act1(hexToBytes(act1)))).toBe(act2);
      expectProtocolError(() => r.act3(hexToBytes(input)), pattern);
    });
  }
});

describe('BOLT 8 message encryption vectors (key rotation)', () => {
  const expected: Record<number, string> = {
    0: 'cf2b30ddf0cf3f80e7c35a6e6730b59fe802473180f396d88a8fb0db8cbcf25d2f214cf9ea1d95',
    1: '72887022101f0b6753e0c7de21657d35a4cb2a1f5cde2650528bbc8f837d0f0d7ad833b1a256a1',
    500: '178cb9d7387190fa34db9c2d50027d21793c9bc2d40b1e14dcf30ebeeeb220f48364f7a4c68bf8',
    501: '1b186c57d44eb6de4c057c49940d79bb838a145cb528d6e8fd26dbe50a60ca2c104b56b60e45bd',
    1000: '4a2f3cc3b5e78ddb83dcb426d9863d9d9a723b0337c89dd0b005d89f8d3c05c52b76b29b740f09',
    1001: '2ecd8c8a5629d0d02ab457a0fdd0f7b90a192cd46be5ecb6ca570bfc5e268338b1a16cf4ef2d36',
  };
  it('outputs 0, 1, 500, 501, 1000, 1001 match and the receiver decrypts all 1002 messages', () => {
    const { sender, receiver } = helloCiphers();
    const hello = new TextEncoder().encode('hello');
    let checked = 0;
    for (let i = 0; i <= 1001; i++) {
      const out = sender.encrypt(hello);
      if (expected[i] !== undefined) {
        expect(bytesToHex(out)).toBe(expected[i]);
        checked++;
      }
      expect(receiver.decryptLength(out.slice(0, 18))).toBe(5);
      expect(receiver.decryptBody(out.slice(18))).toEqual(hello);
    }
    expect(checked).toBe(6);
  });

  it('a tampered body fails with PROTOCOL', () => {
    const { sender, receiver } = helloCiphers();
    const out = sender.encrypt(new TextEncoder().encode('hello'));
    out[20]! ^= 1;
    expect(receiver.decryptLength(out.slice(0, 18))).toBe(5);
    expectProtocolError(() => receiver.decryptBody(out.slice(18)), /bad MAC on message body/);
  });
});
