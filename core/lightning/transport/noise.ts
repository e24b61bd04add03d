/**
 * BOLT 8 Noise_XK_secp256k1_ChaChaPoly_SHA256: the three-act handshake and the message cipher
 * (encrypted 2-byte length prefix + encrypted body, key rotation every 1000 nonces).
 * Pure state machines over byte arrays; NoiseConnection (connection.ts) drives them over TCP.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { createCipheriv, createDecipheriv } from 'node:crypto';
import { FulmenError } from '../../util/errors.js';
import { ecdhSha256, isCompressedPoint, isPrivateKey, publicKeyCreate, randomPrivateKey } from '../../bitcoin/secp256k1.js';

const PROTOCOL_NAME = new TextEncoder().encode('Noise_XK_secp256k1_ChaChaPoly_SHA256');
const PROLOGUE = new TextEncoder().encode('lightning');
const EMPTY: Uint8Array = new Uint8Array(0);

export const ACT_ONE_LENGTH = 50;
export const ACT_TWO_LENGTH = 50;
export const ACT_THREE_LENGTH = 66;
/** Encrypted length prefix: 2 bytes + 16-byte MAC. */
export const LENGTH_HEADER_LENGTH = 18;
export const MAC_LENGTH = 16;
/** BOLT 8: no Lightning message exceeds 65535 bytes. */
export const MAX_PLAINTEXT_LENGTH = 65535;
const ROTATION_NONCE = 1000;

function handshakeError(message: string): FulmenError {
  return new FulmenError('PROTOCOL', `Noise handshake failed: ${message}`);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** 96-bit nonce: 32 zero bits then the 64-bit counter little-endian (Noise convention, BOLT 8). */
function nonceBytes(n: number): Uint8Array {
  const out = new Uint8Array(12);
  const view = new DataView(out.buffer);
  view.setUint32(4, n >>> 0, true);
  view.setUint32(8, Math.floor(n / 0x100000000), true);
  return out;
}

/** ChaCha20-Poly1305 (RFC 8439, node:crypto): ciphertext || 16-byte MAC. */
function encryptWithAD(k: Uint8Array, n: number, ad: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const cipher = createCipheriv('chacha20-poly1305', k, nonceBytes(n), { authTagLength: MAC_LENGTH });
  if (ad.length > 0) cipher.setAAD(ad, { plaintextLength: plaintext.length });
  const body = cipher.update(plaintext);
  cipher.final();
  const out = new Uint8Array(body.length + MAC_LENGTH);
  out.set(body, 0);
  out.set(cipher.getAuthTag(), body.length);
  return out;
}

/** Returns undefined when the MAC does not verify (or the input is shorter than a MAC). */
function decryptWithAD(k: Uint8Array, n: number, ad: Uint8Array, ciphertext: Uint8Array): Uint8Array | undefined {
  if (ciphertext.length < MAC_LENGTH) return undefined;
  const bodyLength = ciphertext.length - MAC_LENGTH;
  try {
    const decipher = createDecipheriv('chacha20-poly1305', k, nonceBytes(n), { authTagLength: MAC_LENGTH });
    if (ad.length > 0) decipher.setAAD(ad, { plaintextLength: bodyLength });
    decipher.setAuthTag(ciphertext.subarray(bodyLength));
    const body = decipher.update(ciphertext.subarray(0, bodyLength));
    decipher.final(); // throws when the MAC does not verify
    return new Uint8Array(body.buffer, body.byteOffset, body.length);
  } catch {
    return undefined;
  }
}

/** HKDF-SHA256 with zero-length info, 64 bytes split in two 32-byte keys (BOLT 8). */
function hkdf2(salt: Uint8Array, ikm: Uint8Array): [Uint8Array, Uint8Array] {
  const out = hkdf(sha256, ikm, salt, EMPTY, 64);
  return [out.slice(0, 32), out.slice(32)];
}

/** ECDH(k, rk) = SHA256(compressed(k * rk)) (BOLT 8). Throws when rk is not a valid point. */
function ecdh(priv: Uint8Array, pub: Uint8Array): Uint8Array {
  return ecdhSha256(pub, priv);
}

/**
 * Transport cipher after a successful handshake: encrypts outgoing messages with `sk`/`sn`,
 * decrypts incoming ones with `rk`/`rn`, rotating each key when its nonce reaches 1000 (BOLT 8
 * "Lightning Message Key Rotation").
 */
export class NoiseCipher {
  private sn = 0;
  private rn = 0;

  constructor(
    private sk: Uint8Array,
    private rk: Uint8Array,
    private sck: Uint8Array,
    private rck: Uint8Array,
  ) {}

  private afterSend(): void {
    if (this.sn === ROTATION_NONCE) {
      [this.sck, this.sk] = hkdf2(this.sck, this.sk);
      this.sn = 0;
    }
  }

  private afterReceive(): void {
    if (this.rn === ROTATION_NONCE) {
      [this.rck, this.rk] = hkdf2(this.rck, this.rk);
      this.rn = 0;
    }
  }

  /**
   * Encrypts one Lightning message into `lc || c` (18 + len + 16 bytes).
   * @throws FulmenError INTERNAL when the message exceeds 65535 bytes.
   */
  encrypt(message: Uint8Array): Uint8Array {
    if (message.length > MAX_PLAINTEXT_LENGTH) throw new FulmenError('INTERNAL', `Lightning message too long: ${message.length} bytes`);
    const len = Uint8Array.of(message.length >>> 8, message.length & 0xff);
    const lc = encryptWithAD(this.sk, this.sn++, EMPTY, len);
    this.afterSend();
    const c = encryptWithAD(this.sk, this.sn++, EMPTY, message);
    this.afterSend();
    return concat(lc, c);
  }

  /**
   * Decrypts the 18-byte length header; returns the body length `l` (the caller then reads
   * `l + 16` bytes). @throws FulmenError PROTOCOL on a bad MAC.
   */
  decryptLength(header: Uint8Array): number {
    if (header.length !== LENGTH_HEADER_LENGTH) throw new FulmenError('INTERNAL', 'Length header must be 18 bytes');
    const p = decryptWithAD(this.rk, this.rn++, EMPTY, header);
    this.afterReceive();
    if (!p) throw new FulmenError('PROTOCOL', 'Noise transport: bad MAC on message length');
    return (p[0]! << 8) | p[1]!;
  }

  /** Decrypts a message body (`l + 16` bytes). @throws FulmenError PROTOCOL on a bad MAC. */
  decryptBody(body: Uint8Array): Uint8Array {
    const p = decryptWithAD(this.rk, this.rn++, EMPTY, body);
    this.afterReceive();
    if (!p) throw new FulmenError('PROTOCOL', 'Noise transport: bad MAC on message body');
    return p;
  }
}

export interface HandshakeResult {
  cipher: NoiseCipher;
  /** The remote node's static public key (33 bytes): known up front for the initiator, learnt in act 3 by the responder. */
  remotePubkey: Uint8Array;
}

/** Symmetric state shared by both roles (BOLT 8 "Handshake State"). */
class SymmetricState {
  ck: Uint8Array;
  h: Uint8Array;
  tempK1: Uint8Array = EMPTY;
  tempK2: Uint8Array = EMPTY;
  constructor(responderStaticPub: Uint8Array) {
    this.h = sha256(PROTOCOL_NAME);
    this.ck = this.h;
    this.mixHash(PROLOGUE);
    this.mixHash(responderStaticPub);
  }
  mixHash(data: Uint8Array): void {
    this.h = sha256(concat(this.h, data));
  }
}

function checkPrivkey(priv: Uint8Array, what: string): void {
  if (priv.length !== 32 || !isPrivateKey(priv)) throw new FulmenError('INTERNAL', `Invalid ${what}`);
}

/**
 * Initiator side of the BOLT 8 handshake. `ephemeralPrivkey` is for test vectors only;
 * by default a fresh random key is generated as the spec requires.
 */
export class NoiseInitiator {
  private readonly state: SymmetricState;
  private readonly ephemeralPriv: Uint8Array;
  private step: 'act1' | 'act2' | 'done' = 'act1';

  constructor(
    private readonly localPrivkey: Uint8Array,
    private readonly remotePubkey: Uint8Array,
    ephemeralPrivkey?: Uint8Array,
  ) {
    checkPrivkey(localPrivkey, 'local node key');
    if (!isCompressedPoint(remotePubkey)) throw new FulmenError('BAD_INPUT', 'Invalid remote node id');
    this.ephemeralPriv = ephemeralPrivkey ?? randomPrivateKey();
    checkPrivkey(this.ephemeralPriv, 'ephemeral key');
    this.state = new SymmetricState(remotePubkey);
  }

  /** Act One: returns the 50 bytes to send. */
  act1(): Uint8Array {
    if (this.step !== 'act1') throw new FulmenError('INTERNAL', 'act1 already produced');
    const s = this.state;
    const ePub = publicKeyCreate(this.ephemeralPriv);
    s.mixHash(ePub);
    const es = ecdh(this.ephemeralPriv, this.remotePubkey);
    [s.ck, s.tempK1] = hkdf2(s.ck, es);
    const c = encryptWithAD(s.tempK1, 0, s.h, EMPTY);
    s.mixHash(c);
    this.step = 'act2';
    const m = new Uint8Array(ACT_ONE_LENGTH);
    m[0] = 0;
    m.set(ePub, 1);
    m.set(c, 34);
    return m;
  }

  /**
   * Processes Act Two and produces Act Three (66 bytes to send) and the transport cipher.
   * @throws FulmenError PROTOCOL on short read, bad version, bad key or bad MAC.
   */
  act2(m: Uint8Array): { act3: Uint8Array } & HandshakeResult {
    if (this.step !== 'act2') throw new FulmenError('INTERNAL', 'act2 out of order');
    if (m.length !== ACT_TWO_LENGTH) throw handshakeError(`act 2 has ${m.length} bytes, expected ${ACT_TWO_LENGTH}`);
    if (m[0] !== 0) throw handshakeError(`act 2 unknown version ${m[0]}`);
    const re = m.slice(1, 34);
    if (!isCompressedPoint(re)) throw handshakeError('act 2 bad ephemeral key');
    const s = this.state;
    s.mixHash(re);
    const ee = ecdh(this.ephemeralPriv, re);
    [s.ck, s.tempK2] = hkdf2(s.ck, ee);
    const c = m.slice(34);
    if (!decryptWithAD(s.tempK2, 0, s.h, c)) throw handshakeError('act 2 bad MAC (wrong node id?)');
    s.mixHash(c);
    // Act Three
    const c3 = encryptWithAD(s.tempK2, 1, s.h, publicKeyCreate(this.localPrivkey));
    s.mixHash(c3);
    const se = ecdh(this.localPrivkey, re);
    let tempK3: Uint8Array;
    [s.ck, tempK3] = hkdf2(s.ck, se);
    const t = encryptWithAD(tempK3, 0, s.h, EMPTY);
    const [sk, rk] = hkdf2(s.ck, EMPTY);
    this.step = 'done';
    const act3 = new Uint8Array(ACT_THREE_LENGTH);
    act3[0] = 0;
    act3.set(c3, 1);
    act3.set(t, 50);
    return { act3, cipher: new NoiseCipher(sk, rk, s.ck, s.ck), remotePubkey: this.remotePubkey };
  }
}

/** Responder side of the BOLT 8 handshake. `ephemeralPrivkey` is for test vectors only. */
export class NoiseResponder {
  private readonly state: SymmetricState;
  private readonly ephemeralPriv: Uint8Array;
  private step: 'act1' | 'act3' | 'done' = 'act1';

  constructor(
    private readonly localPrivkey: Uint8Array,
    ephemeralPrivkey?: Uint8Array,
  ) {
    checkPrivkey(localPrivkey, 'local node key');
    this.ephemeralPriv = ephemeralPrivkey ?? randomPrivateKey();
    checkPrivkey(this.ephemeralPriv, 'ephemeral key');
    this.state = new SymmetricState(publicKeyCreate(localPrivkey));
  }

  /**
   * Processes Act One and returns Act Two (50 bytes to send).
   * @throws FulmenError PROTOCOL on short read, bad version, bad key or bad MAC.
   */
  act1(m: Uint8Array): Uint8Array {
    if (this.step !== 'act1') throw new FulmenError('INTERNAL', 'act1 out of order');
    if (m.length !== ACT_ONE_LENGTH) throw handshakeError(`act 1 has ${m.length} bytes, expected ${ACT_ONE_LENGTH}`);
    if (m[0] !== 0) throw handshakeError(`act 1 unknown version ${m[0]}`);
    const re = m.slice(1, 34);
    if (!isCompressedPoint(re)) throw handshakeError('act 1 bad ephemeral key');
    const s = this.state;
    s.mixHash(re);
    const es = ecdh(this.localPrivkey, re);
    [s.ck, s.tempK1] = hkdf2(s.ck, es);
    const c = m.slice(34);
    if (!decryptWithAD(s.tempK1, 0, s.h, c)) throw handshakeError('act 1 bad MAC');
    s.mixHash(c);
    // Act Two
    const ePub = publicKeyCreate(this.ephemeralPriv);
    s.mixHash(ePub);
    const ee = ecdh(this.ephemeralPriv, re);
    [s.ck, s.tempK2] = hkdf2(s.ck, ee);
    const c2 = encryptWithAD(s.tempK2, 0, s.h, EMPTY);
    s.mixHash(c2);
    this.step = 'act3';
    const out = new Uint8Array(ACT_TWO_LENGTH);
    out[0] = 0;
    out.set(ePub, 1);
    out.set(c2, 34);
    return out;
  }

  /**
   * Processes Act Three: learns the initiator's static key and derives the transport cipher.
   * @throws FulmenError PROTOCOL on short read, bad version, bad ciphertext, bad key or bad MAC.
   */
  act3(m: Uint8Array): HandshakeResult {
    if (this.step !== 'act3') throw new FulmenError('INTERNAL', 'act3 out of order');
    if (m.length !== ACT_THREE_LENGTH) throw handshakeError(`act 3 has ${m.length} bytes, expected ${ACT_THREE_LENGTH}`);
    if (m[0] !== 0) throw handshakeError(`act 3 unknown version ${m[0]}`);
    const s = this.state;
    const c = m.slice(1, 50);
    const t = m.slice(50);
    const rs = decryptWithAD(s.tempK2, 1, s.h, c);
    if (!rs) throw handshakeError('act 3 bad MAC on static key');
    if (!isCompressedPoint(rs)) throw handshakeError('act 3 bad static key');
    s.mixHash(c);
    const se = ecdh(this.ephemeralPriv, rs);
    let tempK3: Uint8Array;
    [s.ck, tempK3] = hkdf2(s.ck, se);
    if (!decryptWithAD(tempK3, 0, s.h, t)) throw handshakeError('act 3 bad MAC');
    const [rk, sk] = hkdf2(s.ck, EMPTY);
    this.step = 'done';
    return { cipher: new NoiseCipher(sk, rk, s.ck, s.ck), remotePubkey: rs };
  }
}
