import { describe, expect, it } from 'vitest';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { Transaction } from 'bitcoinjs-lib';
import { derivePrivkey, derivePubkey, deriveRevocationPubkey, pubkeyFromSecret } from './keys.js';
import {
  buildClosingTx,
  buildCommitmentTx,
  buildHtlcTx,
  commitmentObscuringFactor,
  decodeCommitmentNumber,
  fundingScript,
  p2wsh,
  remoteHtlcSighashType,
  setFundingWitness,
  setHtlcWitness,
  SIGHASH_SINGLE_ANYONECANPAY,
  signInput,
  toWitnessSignature,
  verifyInputSignature,
  type CommitmentHtlc,
} from './transactions.js';
import appendixC from './testdata/bolt3-appendix-c.json' with { type: 'json' };
import appendixF from './testdata/bolt3-appendix-f.json' with { type: 'json' };

const h = hexToBytes;
/** BOLT 3 shows private keys with a trailing 01 (compressed-key marker). */
const priv = (hex: string) => h(hex.slice(0, 64));
const P = appendixC.params;

// Secrets from the (commented) INTERNAL section of Appendix C.
const localPerCommitmentPoint = pubkeyFromSecret(priv(P.x_local_per_commitment_secret));
const localFundingPrivkey = priv(P.local_funding_privkey);
const remoteFundingPrivkey = priv(P.remote_funding_privkey);
const localPaymentBasepointSecret = priv(P.local_payment_basepoint_secret); // also local htlc basepoint secret
const remotePaymentBasepointSecret = priv(P.remote_payment_basepoint_secret); // also remote htlc basepoint secret

const keys = {
  revocationPubkey: deriveRevocationPubkey(h(P.remote_revocation_basepoint), localPerCommitmentPoint),
  localDelayedPubkey: derivePubkey(h(P.local_delayed_payment_basepoint), localPerCommitmentPoint),
  localHtlcPubkey: derivePubkey(h(P.local_htlc_basepoint), localPerCommitmentPoint),
  remoteHtlcPubkey: derivePubkey(h(P.remote_htlc_basepoint), localPerCommitmentPoint),
  remotePaymentPubkey: h(P.remote_payment_basepoint),
  localFundingPubkey: h(P.local_funding_pubkey),
  remoteFundingPubkey: h(P.remote_funding_pubkey),
};
const localHtlcPrivkey = derivePrivkey(localPaymentBasepointSecret, localPerCommitmentPoint);
const remoteHtlcPrivkey = derivePrivkey(remotePaymentBasepointSecret, localPerCommitmentPoint);

const allHtlcs: CommitmentHtlc[] = appendixC.htlcs.map((x) => ({
  direction: x.direction === 'local->remote' ? 'offered' : 'received',
  htlcId: BigInt(x.id),
  amountMsat: BigInt(x.amountMsat),
  paymentHash: sha256(h(x.paymentPreimage)),
  cltvExpiry: Number(x.cltvExpiry),
}));
const preimageOf = (id: bigint) => h(appendixC.htlcs[Number(id)]!.paymentPreimage);

describe('BOLT 3 Appendix C: keys and funding', () => {
  it('derived keys match the published ones', () => {
    expect(bytesToHex(keys.revocationPubkey)).toBe(P.local_revocation_pubkey);
    expect(bytesToHex(keys.localDelayedPubkey)).toBe(P.local_delayedpubkey);
    expect(bytesToHex(keys.localHtlcPubkey)).toBe(P.local_htlcpubkey);
    expect(bytesToHex(keys.remoteHtlcPubkey)).toBe(P.remote_htlcpubkey);
    expect(bytesToHex(localPerCommitmentPoint)).toBe(P.local_per_commitment_point);
    expect(bytesToHex(derivePrivkey(localPaymentBasepointSecret, localPerCommitmentPoint))).toBe(P.local_privkey.slice(0, 64));
    expect(bytesToHex(derivePrivkey(priv(P.local_delayed_payment_basepoint_secret), localPerCommitmentPoint))).toBe(
      P.local_delayed_privkey.slice(0, 64),
    );
    expect(bytesToHex(pubkeyFromSecret(remoteFundingPrivkey))).toBe(P.remote_funding_pubkey);
  });
  it('funding witness script (Appendix B) is sorted 2-of-2, either argument order', () => {
    const expected = '5221023da092f6980e58d2c037173180e9a465476026ee50f96695963e8efe436f54eb21030e9f7b623d2ccc7c9bd44d66d5ce21ce504c0acf6385a132cec6d3c39fa711c152ae';
    expect(bytesToHex(fundingScript(h(P.local_funding_pubkey), h(P.remote_funding_pubkey)))).toBe(expected);
    expect(bytesToHex(fundingScript(h(P.remote_funding_pubkey), h(P.local_funding_pubkey)))).toBe(expected);
  });
  it('obscuring factor is 0x2bb038521914', () => {
    expect(commitmentObscuringFactor(h(P.local_payment_basepoint), h(P.remote_payment_basepoint))).toBe(0x2bb038521914n);
  });
});

describe('BOLT 3 Appendix C: commitment and HTLC transactions (static_remotekey)', () => {
  const obscuringFactor = commitmentObscuringFactor(h(P.local_payment_basepoint), h(P.remote_payment_basepoint));
  const fundingWscript = fundingScript(h(P.local_funding_pubkey), h(P.remote_funding_pubkey));
  for (const v of appendixC.vectors) {
    it(v.name, () => {
      const ids = v.name.includes('same amount and preimage') ? [1n, 5n, 6n] : v.name.includes('no HTLCs') ? [] : [0n, 1n, 2n, 3n, 4n];
      const commitment = buildCommitmentTx({
        fundingTxid: P.funding_tx_id,
        fundingOutputIndex: Number(P.funding_output_index),
        fundingSat: Number(P.funding_amount_satoshi),
        commitmentNumber: BigInt(P.commitment_number),
        obscuringFactor,
        ownerIsFunder: true,
        toLocalMsat: BigInt(v.toLocalMsat),
        toRemoteMsat: BigInt(v.toRemoteMsat),
        feerateSatPerKw: Number(v.feeratePerKw),
        dustLimitSat: Number(P.local_dust_limit_satoshi),
        toSelfDelay: Number(P.local_delay),
        keys,
        htlcs: allHtlcs.filter((x) => ids.includes(x.htlcId)),
        anchors: false,
      });
      const tx = commitment.tx;
      const fundingSat = Number(P.funding_amount_satoshi);
      const localSig = signInput(tx, 0, fundingWscript, fundingSat, localFundingPrivkey);
      const remoteSig = signInput(tx, 0, fundingWscript, fundingSat, remoteFundingPrivkey);
      const expectedTx = Transaction.fromHex(v.commitTx);
      expect(bytesToHex(derSignature(localSig))).toBe(v.localSignature);
      expect(bytesToHex(derSignature(remoteSig))).toBe(v.remoteSignature);
      expect(verifyInputSignature(tx, 0, fundingWscript, fundingSat, remoteSig, h(P.remote_funding_pubkey))).toBe(true);
      setFundingWitness(tx, h(P.local_funding_pubkey), h(P.remote_funding_pubkey), localSig, remoteSig);
      expect(tx.toHex()).toBe(v.commitTx);
      expect(tx.getId()).toBe(expectedTx.getId());
      expect(decodeCommitmentNumber(tx.locktime, tx.ins[0]!.sequence, obscuringFactor)).toBe(42n);
      if (v.actualFeeSat !== undefined) expect(commitment.feeSat).toBe(v.actualFeeSat);
      expect(commitment.htlcOutputs.length).toBe(Number(v.numHtlcs));

      commitment.htlcOutputs.forEach((out, i) => {
        const expected = v.htlcTxs[i]!;
        expect(Number(out.htlc.htlcId)).toBe(expected.htlcId);
        expect(out.htlc.direction === 'offered' ? 'timeout' : 'success').toBe(expected.kind);
        const htlcTx = buildHtlcTx(tx.getId(), out, Number(v.feeratePerKw), Number(P.local_delay), keys.revocationPubkey, keys.localDelayedPubkey, false);
        const remoteHtlcSig = signInput(htlcTx, 0, out.witnessScript, out.amountSat, remoteHtlcPrivkey);
        const localHtlcSig = signInput(htlcTx, 0, out.witnessScript, out.amountSat, localHtlcPrivkey);
        expect(bytesToHex(derSignature(remoteHtlcSig))).toBe(expected.remoteSignature);
        expect(bytesToHex(derSignature(localHtlcSig))).toBe(expected.localSignature);
        setHtlcWitness(htlcTx, remoteHtlcSig, localHtlcSig, out.htlc.direction === 'received' ? preimageOf(out.htlc.htlcId) : null, out.witnessScript, false);
        expect(htlcTx.toHex()).toBe(expected.tx);
      });
    });
  }
});

describe('BOLT 3 Appendix F: commitment and HTLC transactions (option_anchors)', () => {
  const obscuringFactor = commitmentObscuringFactor(h(P.local_payment_basepoint), h(P.remote_payment_basepoint));
  const fundingWscript = fundingScript(h(P.local_funding_pubkey), h(P.remote_funding_pubkey));
  const fundingSat = Number(P.funding_amount_satoshi);
  for (const v of appendixF.vectors) {
    it(v.Name, () => {
      const ids = !v.UseTestHtlcs ? [] : v.Name.includes('same amount and preimage') ? [1n, 5n, 6n] : [0n, 1n, 2n, 3n, 4n];
      const commitment = buildCommitmentTx({
        fundingTxid: P.funding_tx_id,
        fundingOutputIndex: Number(P.funding_output_index),
        fundingSat,
        commitmentNumber: BigInt(P.commitment_number),
        obscuringFactor,
        ownerIsFunder: true,
        toLocalMsat: BigInt(v.LocalBalance),
        toRemoteMsat: BigInt(v.RemoteBalance),
        feerateSatPerKw: v.FeePerKw,
        dustLimitSat: v.DustLimitSatoshis,
        toSelfDelay: Number(P.local_delay),
        keys,
        htlcs: allHtlcs.filter((x) => ids.includes(x.htlcId)),
        anchors: true,
      });
      const tx = commitment.tx;
      const localSig = signInput(tx, 0, fundingWscript, fundingSat, localFundingPrivkey);
      const remoteSig = signInput(tx, 0, fundingWscript, fundingSat, remoteFundingPrivkey);
      expect(bytesToHex(derSignature(remoteSig))).toBe(v.RemoteSigHex);
      setFundingWitness(tx, h(P.local_funding_pubkey), h(P.remote_funding_pubkey), localSig, remoteSig);
      expect(tx.toHex()).toBe(v.ExpectedCommitmentTxHex);
      expect(commitment.outputs.filter((o) => o.kind === 'anchor').every((o) => o.amountSat === 330)).toBe(true);
      expect(commitment.htlcOutputs.length).toBe(v.HtlcDescs.length);

      commitment.htlcOutputs.forEach((out, i) => {
        const expected = v.HtlcDescs[i]!;
        const htlcTx = buildHtlcTx(tx.getId(), out, v.FeePerKw, Number(P.local_delay), keys.revocationPubkey, keys.localDelayedPubkey, true);
        expect(htlcTx.ins[0]!.sequence).toBe(1);
        expect(Number(htlcTx.outs[0]!.value)).toBe(out.amountSat);
        const remoteHtlcSig = signInput(htlcTx, 0, out.witnessScript, out.amountSat, remoteHtlcPrivkey, remoteHtlcSighashType(true));
        const localHtlcSig = signInput(htlcTx, 0, out.witnessScript, out.amountSat, localHtlcPrivkey);
        expect(bytesToHex(derSignature(remoteHtlcSig))).toBe(expected.RemoteSigHex);
        expect(
          verifyInputSignature(htlcTx, 0, out.witnessScript, out.amountSat, remoteHtlcSig, keys.remoteHtlcPubkey, SIGHASH_SINGLE_ANYONECANPAY),
        ).toBe(true);
        setHtlcWitness(htlcTx, remoteHtlcSig, localHtlcSig, out.htlc.direction === 'received' ? preimageOf(out.htlc.htlcId) : null, out.witnessScript, true);
        expect(htlcTx.toHex()).toBe(expected.ResolutionTxHex);
      });
    });
  }
});

/** DER form without the sighash byte, as printed in the spec. */
function derSignature(compact: Uint8Array): Uint8Array {
  const withHashType = toWitnessSignature(compact);
  return withHashType.slice(0, withHashType.length - 1);
}

describe('closing transaction', () => {
  it('drops outputs below the dust limit and sorts BIP 69', () => {
    const a = p2wsh(new Uint8Array([1]));
    const b = p2wsh(new Uint8Array([2]));
    const tx = buildClosingTx(P.funding_tx_id, 0, [
      { scriptPubKey: a, amountSat: 5000 },
      { scriptPubKey: b, amountSat: 4000 },
      { scriptPubKey: a, amountSat: 100 },
    ], 546);
    expect(tx.outs.map((o) => Number(o.value))).toEqual([4000, 5000]);
    expect(tx.ins[0]!.sequence).toBe(0xffffffff);
    expect(tx.locktime).toBe(0);
  });
});
