import { describe, expect, it } from 'vitest';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes, randomBytes } from '@noble/hashes/utils.js';
import { Psbt, Transaction, crypto as bcrypto, payments, script as bscript } from 'bitcoinjs-lib';
import { openDatabase } from '../../storage/db.js';
import { Channel, type ChannelContext, type ChannelTypeName } from '../channel/channel.js';
import { ChannelStore } from '../channel/store.js';
import type { ChannelMessage } from '../wire/messages.js';
import { derivePrivkey, derivePubkey, deriveRevocationPrivkey, deriveRevocationPubkey, pubkeyFromSecret, signDigest, verifyDigest } from '../channel/keys.js';
import {
  anchorScript,
  anchorToRemoteScript,
  buildCommitmentTx,
  buildHtlcTx,
  commitmentObscuringFactor,
  p2wpkh,
  p2wsh,
  toLocalScript,
  witnessSighash,
  SIGHASH_SINGLE_ANYONECANPAY,
  type CommitmentHtlc,
} from '../channel/transactions.js';
import appendixC from '../channel/testdata/bolt3-appendix-c.json' with { type: 'json' };
import { channelView, classifyFundingSpend } from './commitments.js';
import {
  buildAnchorCpfp,
  claimHtlcAfterTimeout,
  claimHtlcWithPreimage,
  extractPreimage,
  replacementFeeWallet,
  resolutionsFor,
  sweepDelayedOutput,
  sweepRevokedDelayedOutput,
  sweepRevokedHtlcOutput,
  sweepStaticToRemote,
  type AnchorCpfp,
  type FeeWallet,
  type Prevout,
} from './sweeps.js';

const h = hexToBytes;
const priv = (hex: string) => h(hex.slice(0, 64));
const P = appendixC.params;
const DESTINATION = p2wpkh(pubkeyFromSecret(new Uint8Array(32).fill(9)));
const FEERATE = 3; // sat/vB

/** The compact signature inside a witness DER signature, after checking SIGHASH_ALL. */
function compactOf(witnessSig: Uint8Array): Uint8Array {
  const decoded = bscript.signature.decode(witnessSig);
  expect(decoded.hashType).toBe(Transaction.SIGHASH_ALL);
  return decoded.signature;
}

/** Checks the common shape of a sweep: one input spending `prevout`, one output to us, fee = vsize x feerate. */
function checkSweep(tx: Transaction, prevout: Prevout): void {
  expect(tx.version).toBe(2);
  expect(tx.ins.length).toBe(1);
  expect(Buffer.from(tx.ins[0]!.hash).reverse().toString('hex')).toBe(prevout.txid);
  expect(tx.ins[0]!.index).toBe(prevout.vout);
  expect(tx.outs.length).toBe(1);
  expect(bytesToHex(tx.outs[0]!.script)).toBe(bytesToHex(DESTINATION));
  const fee = prevout.valueSat - Number(tx.outs[0]!.value);
  expect(fee).toBeGreaterThanOrEqual(tx.virtualSize() * FEERATE);
  expect(fee).toBeLessThanOrEqual((tx.virtualSize() + 2) * FEERATE);
}

/** The P2WSH witness script is the last witness item and hashes to the spent output's program. */
function checkP2wsh(tx: Transaction, spentScriptPubKey: Uint8Array): Uint8Array {
  const ws = tx.ins[0]!.witness[tx.ins[0]!.witness.length - 1]!;
  expect(bytesToHex(p2wsh(ws))).toBe(bytesToHex(spentScriptPubKey));
  return ws;
}

function verifyP2wshSig(tx: Transaction, witnessScript: Uint8Array, valueSat: number, pubkey: Uint8Array): void {
  expect(verifyDigest(compactOf(tx.ins[0]!.witness[0]!), witnessSighash(tx, 0, witnessScript, valueSat), pubkey)).toBe(true);
}

describe('sweeps of the BOLT 3 Appendix C commitment (all five HTLCs, static_remotekey)', () => {
  // The commitment is the local node's; keys from Appendix C's INTERNAL section.
  const vector = appendixC.vectors.find((v) => v.name === 'commitment tx with all five HTLCs untrimmed (minimum feerate)')!;
  const commitmentTx = Transaction.fromHex(vector.commitTx);
  const txid = commitmentTx.getId();
  const perCommitmentSecret = priv(P.x_local_per_commitment_secret);
  const point = pubkeyFromSecret(perCommitmentSecret);
  const keys = {
    revocationPubkey: deriveRevocationPubkey(h(P.remote_revocation_basepoint), point),
    localDelayedPubkey: derivePubkey(h(P.local_delayed_payment_basepoint), point),
    localHtlcPubkey: derivePubkey(h(P.local_htlc_basepoint), point),
    remoteHtlcPubkey: derivePubkey(h(P.remote_htlc_basepoint), point),
    remotePaymentPubkey: h(P.remote_payment_basepoint),
    localFundingPubkey: h(P.local_funding_pubkey),
    remoteFundingPubkey: h(P.remote_funding_pubkey),
  };
  const htlcs: CommitmentHtlc[] = appendixC.htlcs.slice(0, 5).map((x) => ({
    direction: x.direction === 'local->remote' ? 'offered' : 'received',
    htlcId: BigInt(x.id),
    amountMsat: BigInt(x.amountMsat),
    paymentHash: sha256(h(x.paymentPreimage)),
    cltvExpiry: Number(x.cltvExpiry),
  }));
  const rebuilt = buildCommitmentTx({
    fundingTxid: P.funding_tx_id,
    fundingOutputIndex: 0,
    fundingSat: Number(P.funding_amount_satoshi),
    commitmentNumber: 42n,
    obscuringFactor: commitmentObscuringFactor(h(P.local_payment_basepoint), h(P.remote_payment_basepoint)),
    ownerIsFunder: true,
    toLocalMsat: BigInt(vector.toLocalMsat),
    toRemoteMsat: BigInt(vector.toRemoteMsat),
    feerateSatPerKw: Number(vector.feeratePerKw),
    dustLimitSat: 546,
    toSelfDelay: Number(P.local_delay),
    keys,
    htlcs,
    anchors: false,
  });
  const prevoutOf = (vout: number): Prevout => ({ txid, vout, valueSat: Number(commitmentTx.outs[vout]!.value) });
  const toLocal = rebuilt.outputs.find((o) => o.kind === 'to_local')! as Extract<(typeof rebuilt.outputs)[number], { kind: 'to_local' }>;
  const params = { feerateSatPerVbyte: FEERATE, destination: DESTINATION };

  it('the rebuilt outputs are the vector transaction outputs', () => {
    expect(rebuilt.tx.getId()).toBe(txid);
    expect(rebuilt.htlcOutputs.length).toBe(5);
  });

  it('to_local after to_self_delay: <local_delayedsig> <> and nSequence = to_self_delay', () => {
    const delayedPrivkey = derivePrivkey(priv(P.local_delayed_payment_basepoint_secret), point);
    expect(bytesToHex(delayedPrivkey)).toBe(P.local_delayed_privkey.slice(0, 64));
    const prevout = prevoutOf(toLocal.index);
    const tx = sweepDelayedOutput({ prevout, witnessScript: toLocal.witnessScript, toSelfDelay: 144, delayedPrivkey }, params)!;
    checkSweep(tx, prevout);
    expect(tx.ins[0]!.sequence).toBe(144);
    expect(tx.ins[0]!.witness.length).toBe(3);
    expect(tx.ins[0]!.witness[1]!.length).toBe(0); // OP_ELSE branch
    const ws = checkP2wsh(tx, commitmentTx.outs[toLocal.index]!.script);
    verifyP2wshSig(tx, ws, prevout.valueSat, keys.localDelayedPubkey);
  });

  it('justice on to_local: revocation privkey matches local_revocation_pubkey, witness <sig> 1', () => {
    const revocationPrivkey = deriveRevocationPrivkey(priv(P.remote_revocation_basepoint_secret), perCommitmentSecret);
    expect(bytesToHex(pubkeyFromSecret(revocationPrivkey))).toBe(P.local_revocation_pubkey);
    const prevout = prevoutOf(toLocal.index);
    const tx = sweepRevokedDelayedOutput({ prevout, witnessScript: toLocal.witnessScript, revocationPrivkey }, params)!;
    checkSweep(tx, prevout);
    expect(bytesToHex(tx.ins[0]!.witness[1]!)).toBe('01'); // OP_IF branch
    expect(tx.ins[0]!.sequence).toBeLessThan(0xfffffffe);
    const ws = checkP2wsh(tx, commitmentTx.outs[toLocal.index]!.script);
    verifyP2wshSig(tx, ws, prevout.valueSat, keys.revocationPubkey);
  });

  it('justice on every HTLC output: witness <sig> <revocationpubkey>', () => {
    const revocationPrivkey = deriveRevocationPrivkey(priv(P.remote_revocation_basepoint_secret), perCommitmentSecret);
    for (const o of rebuilt.htlcOutputs) {
      const prevout = prevoutOf(o.index);
      const tx = sweepRevokedHtlcOutput({ prevout, witnessScript: o.witnessScript, revocationPrivkey }, params);
      checkSweep(tx!, prevout);
      expect(bytesToHex(tx!.ins[0]!.witness[1]!)).toBe(P.local_revocation_pubkey);
      // OP_DUP OP_HASH160 <RIPEMD160(SHA256(revocationpubkey))> OP_EQUAL opens both HTLC scripts.
      expect(bytesToHex(o.witnessScript.slice(3, 23))).toBe(bytesToHex(bcrypto.hash160(keys.revocationPubkey)));
      const ws = checkP2wsh(tx!, commitmentTx.outs[o.index]!.script);
      verifyP2wshSig(tx!, ws, prevout.valueSat, keys.revocationPubkey);
    }
  });

  it('an output that would be dust after the fee is not swept', () => {
    const revocationPrivkey = deriveRevocationPrivkey(priv(P.remote_revocation_basepoint_secret), perCommitmentSecret);
    const smallest = rebuilt.htlcOutputs.find((o) => o.amountSat === 1000)!;
    const prevout = prevoutOf(smallest.index);
    expect(sweepRevokedHtlcOutput({ prevout, witnessScript: smallest.witnessScript, revocationPrivkey }, { feerateSatPerVbyte: 5, destination: DESTINATION })).toBeNull();
    expect(sweepRevokedHtlcOutput({ prevout, witnessScript: smallest.witnessScript, revocationPrivkey }, { feerateSatPerVbyte: 2, destination: DESTINATION })).not.toBeNull();
  });

  it('to_remote (static_remotekey) is P2WPKH of the payment basepoint: witness <sig> <pubkey>', () => {
    const vout = commitmentTx.outs.findIndex((o) => bytesToHex(o.script) === bytesToHex(p2wpkh(h(P.remote_payment_basepoint))));
    expect(vout).toBeGreaterThanOrEqual(0);
    const prevout = prevoutOf(vout);
    const secret = priv(P.remote_payment_basepoint_secret);
    const tx = sweepStaticToRemote({ prevout, paymentBasepointSecret: secret }, params)!;
    checkSweep(tx, prevout);
    const [sig, pubkey] = tx.ins[0]!.witness;
    expect(bytesToHex(pubkey!)).toBe(P.remote_payment_basepoint);
    const scriptCode = payments.p2pkh({ pubkey: pubkey! }).output!;
    const digest = tx.hashForWitnessV0(0, scriptCode, BigInt(prevout.valueSat), Transaction.SIGHASH_ALL);
    expect(verifyDigest(compactOf(sig!), digest, pubkey!)).toBe(true);
  });

  it('the remote claims an HTLC the owner offered with the preimage, and we can read the preimage back', () => {
    const remoteHtlcPrivkey = derivePrivkey(priv(P.remote_payment_basepoint_secret), point); // remote htlc basepoint = payment basepoint in Appendix C
    const offered = rebuilt.htlcOutputs.find((o) => o.htlc.direction === 'offered' && o.amountSat >= 2000)!;
    const preimage = h(appendixC.htlcs[Number(offered.htlc.htlcId)]!.paymentPreimage);
    const prevout = prevoutOf(offered.index);
    const tx = claimHtlcWithPreimage({ prevout, witnessScript: offered.witnessScript, htlcPrivkey: remoteHtlcPrivkey, preimage, anchors: false }, params)!;
    checkSweep(tx, prevout);
    expect(tx.locktime).toBe(0);
    const ws = checkP2wsh(tx, commitmentTx.outs[offered.index]!.script);
    verifyP2wshSig(tx, ws, prevout.valueSat, keys.remoteHtlcPubkey);
    expect(bytesToHex(extractPreimage(tx, prevout, bytesToHex(offered.htlc.paymentHash))!)).toBe(bytesToHex(preimage));
    expect(extractPreimage(tx, prevout, bytesToHex(new Uint8Array(32)))).toBeNull();
  });

  it('the remote claims an HTLC the owner received after cltv_expiry: nLockTime = cltv_expiry, witness <sig> <>', () => {
    const remoteHtlcPrivkey = derivePrivkey(priv(P.remote_payment_basepoint_secret), point);
    const received = rebuilt.htlcOutputs.find((o) => o.htlc.direction === 'received' && o.amountSat >= 2000)!;
    const prevout = prevoutOf(received.index);
    const tx = claimHtlcAfterTimeout({ prevout, witnessScript: received.witnessScript, htlcPrivkey: remoteHtlcPrivkey, cltvExpiry: received.htlc.cltvExpiry, anchors: false }, params)!;
    checkSweep(tx, prevout);
    expect(tx.locktime).toBe(received.htlc.cltvExpiry);
    expect(tx.ins[0]!.sequence).toBeLessThan(0xffffffff); // nLockTime enforced
    expect(tx.ins[0]!.witness[1]!.length).toBe(0);
    const ws = checkP2wsh(tx, commitmentTx.outs[received.index]!.script);
    verifyP2wshSig(tx, ws, prevout.valueSat, keys.remoteHtlcPubkey);
  });

  it('the output of the vector HTLC-timeout transaction is swept after to_self_delay', () => {
    const htlcTx = Transaction.fromHex(vector.htlcTxs.find((x) => x.kind === 'timeout')!.tx);
    const secondStageScript = toLocalScript(keys.revocationPubkey, 144, keys.localDelayedPubkey);
    expect(bytesToHex(htlcTx.outs[0]!.script)).toBe(bytesToHex(p2wsh(secondStageScript)));
    const prevout = { txid: htlcTx.getId(), vout: 0, valueSat: Number(htlcTx.outs[0]!.value) };
    const tx = sweepDelayedOutput({ prevout, witnessScript: secondStageScript, toSelfDelay: 144, delayedPrivkey: priv(P.local_delayed_privkey) }, params)!;
    checkSweep(tx, prevout);
    expect(tx.ins[0]!.sequence).toBe(144);
    verifyP2wshSig(tx, secondStageScript, prevout.valueSat, keys.localDelayedPubkey);
  });
});

// ---------------------------------------------------------------- classification with two real channel engines

const CHAIN = new Uint8Array(32).fill(6);
const FUNDING_TXID = 'cc'.repeat(31) + '02';

interface Engine {
  ctx: ChannelContext;
  channel: Channel;
  inbox: ChannelMessage[];
}

function makeEngine(root: Uint8Array): ChannelContext {
  return { lightningRootSecret: root, persistence: new ChannelStore(openDatabase(':memory:')) };
}

/** Two engines back to back (A funder): delivers messages in order, signing pending updates. */
function openPair(channelType: ChannelTypeName = 'static_remotekey'): { a: Engine; b: Engine; run: () => void } {
  const ctxA = makeEngine(new Uint8Array(32).fill(1));
  const ctxB = makeEngine(new Uint8Array(32).fill(2));
  const { channel: a, message: open } = Channel.openOutbound(
    { keyIndex: 0, remoteNodeId: '02' + 'bb'.repeat(32), chainHash: CHAIN, fundingSat: 1_000_000, pushMsat: 100_000_000n, feeratePerKw: 2500, channelType },
    ctxA,
  );
  const { channel: b, message: accept } = Channel.acceptInbound(open, { keyIndex: 0, remoteNodeId: '02' + 'aa'.repeat(32), chainHash: CHAIN, minimumDepth: 1 }, ctxB);
  a.onAcceptChannel(accept);
  a.onFundingSigned(b.onFundingCreated(a.fundingCreated(FUNDING_TXID, 0)));
  const readyA = a.fundingLocked(1n << 40n)!;
  const readyB = b.fundingLocked(1n << 40n)!;
  a.onChannelReady(readyB);
  b.onChannelReady(readyA);
  const A: Engine = { ctx: ctxA, channel: a, inbox: [] };
  const B: Engine = { ctx: ctxB, channel: b, inbox: [] };
  const other = (e: Engine) => (e === A ? B : A);
  const send = (from: Engine, m: ChannelMessage | null) => m && other(from).inbox.push(m);
  const run = () => {
    for (let i = 0; i < 200; i++) {
      send(A, A.channel.signNextCommitment());
      send(B, B.channel.signNextCommitment());
      const e = A.inbox.length ? A : B.inbox.length ? B : null;
      if (!e) return;
      const m = e.inbox.shift()!;
      if (m.type === 'update_add_htlc') e.channel.onUpdateAddHtlc(m);
      else if (m.type === 'update_fulfill_htlc') e.channel.onUpdateFulfillHtlc(m);
      else if (m.type === 'update_fail_htlc') e.channel.onUpdateFailHtlc(m);
      else if (m.type === 'commitment_signed') send(e, e.channel.onCommitmentSigned(m));
      else if (m.type === 'revoke_and_ack') e.channel.onRevokeAndAck(m);
      else throw new Error(`unexpected ${m.type}`);
    }
  };
  return { a: A, b: B, run };
}

function pay(p: ReturnType<typeof openPair>, from: Engine, to: Engine, amountMsat: bigint, settle = true): Uint8Array {
  const preimage = randomBytes(32);
  const add = from.channel.addHtlc({ amountMsat, paymentHash: sha256(preimage), cltvExpiry: 600, onion: randomBytes(1366) });
  (from === p.a ? p.b : p.a).inbox.push(add);
  p.run();
  if (settle) {
    (to === p.a ? p.b : p.a).inbox.push(to.channel.fulfillHtlc(add.id, preimage));
    p.run();
  }
  return preimage;
}

const viewOf = (e: Engine) => channelView(e.channel.snapshot(), e.ctx.lightningRootSecret);

describe('classifying a funding spend and planning its resolution', () => {
  it('our latest commitment: to_local after the delay and an HTLC-timeout for our pending HTLC', () => {
    const p = openPair();
    pay(p, p.a, p.b, 50_000_000n);
    pay(p, p.a, p.b, 30_000_000n, false); // in flight
    const tx = Transaction.fromHex(p.a.channel.signedLocalCommitment());
    const spend = classifyFundingSpend(viewOf(p.a), tx);
    expect(spend.kind).toBe('local');
    const res = resolutionsFor(viewOf(p.a), spend, tx);
    expect(res.map((r) => r.kind).sort()).toEqual(['htlc_timeout_tx', 'to_local']);
    const toLocal = res.find((r) => r.kind === 'to_local')!;
    expect(toLocal.csvDelay).toBe(p.b.channel.localConfig.toSelfDelay);
    const timeout = res.find((r) => r.kind === 'htlc_timeout_tx')!;
    expect(timeout.cltvExpiry).toBe(600);
    expect(timeout.outgoingHtlcId).toBe(1n);
    // The pre-signed HTLC-timeout: peer's signature + ours, locktime cltv_expiry, output to the delayed script.
    const htlcTx = timeout.build!({ feerateSatPerVbyte: 1, destination: DESTINATION })!;
    expect(htlcTx.locktime).toBe(600);
    expect(htlcTx.ins[0]!.witness.length).toBe(5);
    const second = timeout.next!(htlcTx)!;
    expect(second.kind).toBe('htlc_tx_output');
    expect(second.csvDelay).toBe(p.b.channel.localConfig.toSelfDelay);
    expect(second.build!({ feerateSatPerVbyte: 1, destination: DESTINATION })!.ins[0]!.sequence).toBe(second.csvDelay);
  });

  it('the remote commitment: to_remote at once, our HTLC after cltv_expiry, theirs with the released preimage', () => {
    const p = openPair();
    pay(p, p.a, p.b, 50_000_000n);
    pay(p, p.a, p.b, 30_000_000n, false); // A → B, B holds it
    const preimage = pay(p, p.b, p.a, 20_000_000n, false); // B → A
    const incoming = p.a.channel.pendingIncomingHtlcs()[0]!;
    p.b.inbox.push(p.a.channel.fulfillHtlc(incoming.htlcId, preimage)); // A releases the preimage; B closes before committing it
    const tx = Transaction.fromHex(p.b.channel.signedLocalCommitment());
    const spend = classifyFundingSpend(viewOf(p.a), tx);
    expect(spend.kind).toBe('remote');
    const res = resolutionsFor(viewOf(p.a), spend, tx);
    expect(res.map((r) => r.kind).sort()).toEqual(['htlc_claim_preimage', 'htlc_claim_timeout', 'to_remote']);
    expect(res.find((r) => r.kind === 'to_remote')!.csvDelay).toBe(0);
    const claim = res.find((r) => r.kind === 'htlc_claim_preimage')!.build!({ feerateSatPerVbyte: 1, destination: DESTINATION })!;
    expect(bytesToHex(claim.ins[0]!.witness[1]!)).toBe(bytesToHex(preimage));
    expect(res.find((r) => r.kind === 'htlc_claim_timeout')!.cltvExpiry).toBe(600);
    // B sees its own commitment.
    expect(classifyFundingSpend(viewOf(p.b), tx).kind).toBe('local');
  });

  it('the remote\'s next commitment (signed by us, its revocation of the previous one not received yet)', () => {
    const p = openPair();
    const add = p.a.channel.addHtlc({ amountMsat: 15_000_000n, paymentHash: sha256(randomBytes(32)), cltvExpiry: 700, onion: randomBytes(1366) });
    p.b.channel.onUpdateAddHtlc(add);
    p.b.channel.onCommitmentSigned(p.a.channel.signNextCommitment()!); // B's revoke_and_ack is lost
    const tx = Transaction.fromHex(p.b.channel.signedLocalCommitment());
    const spend = classifyFundingSpend(viewOf(p.a), tx);
    expect(spend.kind).toBe('remote');
    if (spend.kind !== 'remote') return;
    expect(spend.rebuilt.ctn).toBe(p.a.channel.remoteCtn + 1);
    const res = resolutionsFor(viewOf(p.a), spend, tx);
    expect(res.map((r) => r.kind).sort()).toEqual(['htlc_claim_timeout', 'to_remote']);
    expect(res.find((r) => r.kind === 'htlc_claim_timeout')!.build!({ feerateSatPerVbyte: 1, destination: DESTINATION })!.locktime).toBe(700);
  });

  it('a revoked remote commitment is a breach: justice on to_local and on HTLCs', () => {
    const p = openPair();
    pay(p, p.b, p.a, 10_000_000n, false); // B → A in flight in the old state
    const old = Transaction.fromHex(p.b.channel.signedLocalCommitment());
    const incoming = p.a.channel.pendingIncomingHtlcs()[0]!;
    p.b.inbox.push(p.a.channel.failHtlc(incoming.htlcId, new Uint8Array(292)));
    p.run();
    pay(p, p.a, p.b, 40_000_000n);
    const spend = classifyFundingSpend(viewOf(p.a), old);
    expect(spend.kind).toBe('breach');
    const res = resolutionsFor(viewOf(p.a), spend, old);
    expect(res.map((r) => r.kind).sort()).toEqual(['justice_htlc', 'justice_to_local', 'to_remote']);
    expect(res.every((r) => r.csvDelay === 0 && r.cltvExpiry === 0)).toBe(true);
    // B (the cheater) takes its HTLC back with its HTLC-timeout: that output is ours too, at once.
    if (spend.kind !== 'breach') return;
    const htlcOutput = spend.rebuilt.commitment.htlcOutputs[0]!;
    const cheaterHtlcTx = buildHtlcTx(old.getId(), htlcOutput, spend.rebuilt.feerateSatPerKw, p.a.channel.localConfig.toSelfDelay, spend.rebuilt.keys.revocationPubkey, spend.rebuilt.keys.localDelayedPubkey, spend.rebuilt.anchors);
    const followUp = res.find((r) => r.kind === 'justice_htlc')!.next!(cheaterHtlcTx)!;
    expect(followUp.kind).toBe('justice_htlc_tx_output');
    expect(followUp.csvDelay).toBe(0);
    const justice = followUp.build!({ feerateSatPerVbyte: 1, destination: DESTINATION })!;
    expect(bytesToHex(justice.ins[0]!.witness[1]!)).toBe('01');
    verifyP2wshSig(justice, justice.ins[0]!.witness[2]!, followUp.prevout.valueSat, spend.rebuilt.keys.revocationPubkey);
    // The old commitment is a revoked one for B itself.
    expect(classifyFundingSpend(viewOf(p.b), old).kind).toBe('local_revoked');
  });

  it('a mutual close needs no sweep; an unknown future remote commitment still yields to_remote', () => {
    const p = openPair();
    const view = viewOf(p.a);
    const closing = new Transaction();
    closing.version = 2;
    closing.addInput(new Uint8Array(32), 0, 0xffffffff);
    closing.addOutput(DESTINATION, 1000n);
    expect(classifyFundingSpend(view, closing).kind).toBe('mutual');
    const future = Transaction.fromHex(p.b.channel.signedLocalCommitment());
    future.locktime ^= 0x10; // another commitment number: not one we can rebuild
    const spend = classifyFundingSpend(view, future);
    expect(spend.kind).toBe('remote_unknown');
    expect(resolutionsFor(view, spend, future).map((r) => r.kind)).toEqual(['to_remote']);
  });
});

/**
 * A wallet with one P2WPKH key and the given coins: signs the PSBT inputs spending them
 * (SIGHASH_ALL), as Wallet.signPsbt does.
 */
function testFeeWallet(coinValuesSat: number[]): FeeWallet & { pubkey: Uint8Array } {
  const key = new Uint8Array(32).fill(7);
  const pubkey = pubkeyFromSecret(key);
  const script = p2wpkh(pubkey);
  return {
    pubkey,
    coins: () => coinValuesSat.map((valueSat, i) => ({ txid: 'dd'.repeat(31) + String(10 + i), vout: i, valueSat, scriptPubKey: script })),
    changeScript: () => script,
    signPsbt: (text) => {
      const psbt = Psbt.fromBase64(text);
      psbt.data.inputs.forEach((input, n) => {
        if (input.finalScriptWitness) return;
        psbt.signInput(n, { publicKey: pubkey, sign: (hash: Uint8Array) => signDigest(hash, key) });
        psbt.finalizeInput(n);
      });
      return { txHex: psbt.extractTransaction(true).toHex() };
    },
  };
}

describe('option_anchors: CSV-1 spends, wallet-funded HTLC transactions, anchor CPFP', () => {
  const feeOf = (tx: Transaction, inputValues: number[]) => inputValues.reduce((a, b) => a + b, 0) - tx.outs.reduce((a, o) => a + Number(o.value), 0);

  /** An anchors channel where A paid B 50,000 sat and has 30,000 sat more in flight (cltv_expiry 600), seen from A. */
  function withHtlcInFlight() {
    const p = openPair('anchors');
    pay(p, p.a, p.b, 50_000_000n);
    pay(p, p.a, p.b, 30_000_000n, false);
    return { p, view: viewOf(p.a) };
  }

  /**
   * A's commitment of an anchors channel (A paid B 50,000 sat) and what a CPFP through A's
   * `to_local_anchor` (330 sat) needs: its output, the commitment fee in sat (from the 1,000,000 sat funding).
   */
  function ourAnchorCpfp() {
    const p = openPair('anchors');
    pay(p, p.a, p.b, 50_000_000n);
    const commitment = Transaction.fromHex(p.a.channel.signedLocalCommitment());
    const view = viewOf(p.a);
    const spend = classifyFundingSpend(view, commitment);
    if (spend.kind !== 'local') throw new Error('expected our commitment');
    const anchor = spend.rebuilt.commitment.outputs.find((o): o is Extract<typeof o, { kind: 'anchor' }> => o.kind === 'anchor' && o.owner === 'local')!;
    const commitmentFeeSat = 1_000_000 - commitment.outs.reduce((a, o) => a + Number(o.value), 0);
    const cpfp: AnchorCpfp = { commitment, commitmentFeeSat, anchorVout: anchor.index, anchorWitnessScript: anchor.witnessScript, fundingPrivkey: view.secrets.fundingPrivkey };
    return { commitment, view, anchor, commitmentFeeSat, cpfp };
  }

  it('our HTLC-timeout takes a wallet input: the peer\'s SINGLE|ANYONECANPAY signature stays valid, ours covers it all', () => {
    const { p, view } = withHtlcInFlight();
    const tx = Transaction.fromHex(p.a.channel.signedLocalCommitment());
    expect(tx.outs.filter((o) => Number(o.value) === 330).length).toBe(2);
    const spend = classifyFundingSpend(view, tx);
    expect(spend.kind).toBe('local');
    const res = resolutionsFor(view, spend, tx);
    const timeout = res.find((r) => r.kind === 'htlc_timeout_tx')!;
    expect(timeout).toMatchObject({ walletFunded: true, csvDelay: 1, cltvExpiry: 600 });
    expect(timeout.build!({ feerateSatPerVbyte: 5, destination: DESTINATION })).toBeNull(); // no wallet to pay
    expect(timeout.build!({ feerateSatPerVbyte: 5, destination: DESTINATION, feeWallet: testFeeWallet([500]) })).toBeNull(); // too little
    const wallet = testFeeWallet([1_000, 40_000, 20_000]);
    const htlcTx = timeout.build!({ feerateSatPerVbyte: 5, destination: DESTINATION, feeWallet: wallet })!;
    expect(htlcTx.locktime).toBe(600);
    expect(htlcTx.ins.length).toBe(2); // the HTLC and the largest coin
    expect(htlcTx.ins[0]!.sequence).toBe(1);
    expect(Number(htlcTx.outs[0]!.value)).toBe(30_000); // the whole HTLC: no fee taken from it
    expect(bytesToHex(htlcTx.outs[1]!.script)).toBe(bytesToHex(p2wpkh(wallet.pubkey)));
    const fee = feeOf(htlcTx, [30_000, 40_000]);
    expect(fee).toBeGreaterThanOrEqual(htlcTx.virtualSize() * 5);
    expect(fee).toBeLessThanOrEqual((htlcTx.virtualSize() + 2) * 5);
    const [, remoteSig, localSig, , ws] = htlcTx.ins[0]!.witness;
    expect(bytesToHex(p2wsh(ws!))).toBe(bytesToHex(tx.outs[timeout.prevout.vout]!.script));
    const remote = bscript.signature.decode(remoteSig!);
    expect(remote.hashType).toBe(SIGHASH_SINGLE_ANYONECANPAY);
    if (spend.kind !== 'local') return;
    const keys = spend.rebuilt.keys;
    expect(verifyDigest(remote.signature, witnessSighash(htlcTx, 0, ws!, 30_000, SIGHASH_SINGLE_ANYONECANPAY), keys.remoteHtlcPubkey)).toBe(true);
    expect(verifyDigest(compactOf(localSig!), witnessSighash(htlcTx, 0, ws!, 30_000), keys.localHtlcPubkey)).toBe(true);
    // Its output (index 0, paired with input 0) is ours after to_self_delay.
    const second = timeout.next!(htlcTx)!;
    expect(second).toMatchObject({ kind: 'htlc_tx_output', prevout: { vout: 0, valueSat: 30_000 } });
  });

  it('the remote commitment: to_remote and HTLC claims wait one block (nSequence 1), to_remote witness <sig> <script>', () => {
    const { p, view } = withHtlcInFlight();
    const tx = Transaction.fromHex(p.b.channel.signedLocalCommitment());
    const spend = classifyFundingSpend(view, tx);
    expect(spend.kind).toBe('remote');
    const res = resolutionsFor(view, spend, tx);
    expect(res.map((r) => r.kind).sort()).toEqual(['htlc_claim_timeout', 'to_remote']);
    expect(res.every((r) => r.csvDelay === 1)).toBe(true);
    const toRemote = res.find((r) => r.kind === 'to_remote')!;
    const ws = anchorToRemoteScript(pubkeyFromSecret(view.secrets.paymentBasepointSecret));
    expect(bytesToHex(toRemote.scriptPubKey)).toBe(bytesToHex(p2wsh(ws)));
    const sweep = toRemote.build!({ feerateSatPerVbyte: FEERATE, destination: DESTINATION })!;
    checkSweep(sweep, toRemote.prevout);
    expect(sweep.ins[0]!.sequence).toBe(1);
    expect(sweep.ins[0]!.witness.length).toBe(2);
    verifyP2wshSig(sweep, ws, toRemote.prevout.valueSat, pubkeyFromSecret(view.secrets.paymentBasepointSecret));
    const claim = res.find((r) => r.kind === 'htlc_claim_timeout')!.build!({ feerateSatPerVbyte: FEERATE, destination: DESTINATION })!;
    expect(claim.ins[0]!.sequence).toBe(1);
  });

  it('CPFP through our anchor: the package (commitment + child) pays the target feerate', () => {
    const { commitment, view, anchor, commitmentFeeSat, cpfp } = ourAnchorCpfp();
    expect(bytesToHex(anchor.witnessScript)).toBe(bytesToHex(anchorScript(view.local.fundingPubkey)));
    const child = buildAnchorCpfp(cpfp, { feerateSatPerVbyte: 25, destination: DESTINATION, feeWallet: testFeeWallet([100_000]) })!;
    expect(child.ins.length).toBe(2);
    expect(child.outs.length).toBe(1);
    expect(child.ins[0]!.index).toBe(anchor.index);
    const childFee = feeOf(child, [330, 100_000]);
    const packageFeerate = (commitmentFeeSat + childFee) / (commitment.virtualSize() + child.virtualSize());
    expect(packageFeerate).toBeGreaterThanOrEqual(25);
    expect(packageFeerate).toBeLessThan(25.2);
    const [sig, ws] = child.ins[0]!.witness;
    expect(bytesToHex(ws!)).toBe(bytesToHex(anchor.witnessScript));
    expect(verifyDigest(compactOf(sig!), witnessSighash(child, 0, anchor.witnessScript, 330), view.local.fundingPubkey)).toBe(true);
    expect(buildAnchorCpfp(cpfp, { feerateSatPerVbyte: 25, destination: DESTINATION })).toBeNull();
  });

  /** The wallet after broadcasting `tx`: its coins spent by it are no longer listed; knownOutput + isMine still see them. */
  function afterBroadcast(tx: Transaction, coinValuesSat: number[]) {
    const before = testFeeWallet(coinValuesSat);
    const spent = new Set(tx.ins.map((i) => `${bytesToHex(Uint8Array.from(i.hash).reverse())}:${i.index}`));
    const coins = before.coins();
    return {
      wallet: { ...before, coins: () => coins.filter((c) => !spent.has(`${c.txid}:${c.vout}`)) },
      walletOutput: (txid: string, vout: number) => {
        const c = coins.find((x) => x.txid === txid && x.vout === vout);
        return c ? { valueSat: c.valueSat, scriptPubKey: c.scriptPubKey } : null;
      },
    };
  }

  it('a fee bump of a wallet-funded HTLC transaction reuses the coin of the version it replaces (BIP 125), paying rules 3 and 4', () => {
    const { p, view } = withHtlcInFlight();
    const tx = Transaction.fromHex(p.a.channel.signedLocalCommitment());
    const timeout = resolutionsFor(view, classifyFundingSpend(view, tx), tx).find((r) => r.kind === 'htlc_timeout_tx')!;
    const v1 = timeout.build!({ feerateSatPerVbyte: 5, destination: DESTINATION, feeWallet: testFeeWallet([40_000]) })!;
    const fee1 = feeOf(v1, [30_000, 40_000]);
    const { wallet, walletOutput } = afterBroadcast(v1, [40_000]);
    // The only coin is spent by v1: without it the wallet cannot pay (the bug this fixes).
    expect(timeout.build!({ feerateSatPerVbyte: 6, destination: DESTINATION, feeWallet: wallet })).toBeNull();
    const replacing = replacementFeeWallet(wallet, v1, 30_000, walletOutput);
    expect(replacing.replacedFeeSat).toBe(fee1);
    expect(replacing.feeWallet.coins().map((c) => c.valueSat)).toEqual([40_000]);
    const v2 = timeout.build!({ feerateSatPerVbyte: 6, destination: DESTINATION, feeWallet: replacing.feeWallet, replacedFeeSat: fee1 })!;
    expect(v2.ins.map((i) => `${bytesToHex(i.hash)}:${i.index}`)).toEqual(v1.ins.map((i) => `${bytesToHex(i.hash)}:${i.index}`));
    expect(v2.getId()).not.toBe(v1.getId());
    const fee2 = feeOf(v2, [30_000, 40_000]);
    expect(fee2).toBeGreaterThanOrEqual(fee1 + v2.virtualSize()); // BIP 125 rules 3 and 4
    expect(fee2).toBeGreaterThanOrEqual(6 * v2.virtualSize());
    expect(fee2).toBeLessThanOrEqual(fee1 + v2.virtualSize() + 6 * 2);
    expect(Number(v2.outs[0]!.value)).toBe(30_000);
    // A much higher feerate is paid in full (the rule-3 floor is below it).
    const v3 = timeout.build!({ feerateSatPerVbyte: 40, destination: DESTINATION, feeWallet: replacing.feeWallet, replacedFeeSat: fee1 })!;
    expect(feeOf(v3, [30_000, 40_000])).toBeGreaterThanOrEqual(40 * v3.virtualSize());
    // An input of unknown value: no fee floor is known, the known coins are still offered.
    expect(replacementFeeWallet(wallet, v1, 30_000, () => null)).toMatchObject({ replacedFeeSat: null });
  });

  it('a bump of an anchor CPFP child reuses its wallet coin; a coin also listed by the wallet is offered once', () => {
    const { commitment, commitmentFeeSat, cpfp } = ourAnchorCpfp();
    const child1 = buildAnchorCpfp(cpfp, { feerateSatPerVbyte: 10, destination: DESTINATION, feeWallet: testFeeWallet([50_000]) })!;
    const fee1 = feeOf(child1, [330, 50_000]);
    const { wallet, walletOutput } = afterBroadcast(child1, [50_000]);
    expect(buildAnchorCpfp(cpfp, { feerateSatPerVbyte: 13, destination: DESTINATION, feeWallet: wallet })).toBeNull();
    const replacing = replacementFeeWallet(wallet, child1, 330, walletOutput);
    const child2 = buildAnchorCpfp(cpfp, { feerateSatPerVbyte: 13, destination: DESTINATION, feeWallet: replacing.feeWallet, replacedFeeSat: replacing.replacedFeeSat! })!;
    expect(child2.ins.length).toBe(2);
    const fee2 = feeOf(child2, [330, 50_000]);
    expect(fee2).toBeGreaterThanOrEqual(fee1 + child2.virtualSize());
    expect((commitmentFeeSat + fee2) / (commitment.virtualSize() + child2.virtualSize())).toBeGreaterThanOrEqual(13);
    // Not yet seen as spent by the wallet (e.g. the first broadcast failed): listed once.
    const unspent = testFeeWallet([50_000]);
    expect(replacementFeeWallet(unspent, child1, 330, walletOutput).feeWallet.coins()).toHaveLength(1);
  });
});

