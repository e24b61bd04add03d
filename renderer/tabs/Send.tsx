import { useCallback, useEffect, useRef, useState } from 'react';
import type { DecodedInvoiceResult, UnspentItem } from '../../core/api/client-types.js';
import { call, errorMessage } from '../api/client.js';
import { useStore } from '../store/index.js';
import { Amount } from '../components/Amount.js';
import { Field, InlineError } from '../components/Field.js';
import { Icon } from '../components/Icon.js';
import { FeePicker, useFeeMarket } from '../components/FeePicker.js';
import { CoinControl } from '../components/CoinControl.js';
import { coinKey, FeerateError, feerateOf, parseFeerate, spendableCoins } from '../lib/onchain.js';
import { CameraScanner, decodeQrFile } from '../components/QrScanner.js';
import { classifyPaymentInput, type PaymentInput } from '../lib/classify.js';
import { summarizeTx, type TxSummary } from '../lib/tx.js';
import { AmountError, msatFromJson, parseAmountInput, satToBtc, satToInput } from '../lib/units.js';

/** A payment ready to confirm. */
type Plan =
  | { kind: 'lightning'; invoice: string; decoded: DecodedInvoiceResult; amountMsat: bigint }
  | {
      kind: 'onchain';
      address: string;
      amountSat: number;
      txHex: string;
      tx: TxSummary;
      /** Exact fee of the built transaction (deserialize: our inputs are known), sat. */
      feeSat: number;
      /** Coins spent, "txid:vout". */
      inputs: string[];
    };

type Phase =
  | { name: 'edit' }
  | { name: 'review'; plan: Plan }
  | { name: 'sending'; plan: Plan }
  | { name: 'done'; plan: Plan; reference: string };

/** The default fee rate offered when the server has no estimate (regtest, fresh signet). */
const FALLBACK_FEERATE_SAT_PER_VBYTE = 2;

/** What the form needs from the classified input: where to pay, and whether an amount is asked. */
function target(input: PaymentInput, lightningMsat: bigint): { invoice?: string; address?: string; amountSat?: number } | null {
  switch (input.kind) {
    case 'invoice':
      return { invoice: input.invoice };
    case 'address':
      return { address: input.address };
    case 'uri': {
      const { uri } = input;
      // Prefer Lightning when the link offers it and our channels can carry the amount.
      const lightningFits = uri.amountSat !== undefined && lightningMsat >= BigInt(uri.amountSat) * 1000n;
      if (uri.lightning && (lightningFits || !uri.address)) return { invoice: uri.lightning, amountSat: uri.amountSat };
      return { address: uri.address, amountSat: uri.amountSat };
    }
    default:
      return null;
  }
}

/** The inline message when the coins allowed to be spent do not cover amount (+ fee). */
function notEnough(coinControl: boolean, frozenSat: number, withFee = false): string {
  const what = withFee ? 'The amount plus the network fee' : 'The amount';
  if (coinControl) return `${what} is more than the selected coins hold. Select more coins or lower the amount.`;
  if (frozenSat > 0) return `${what} is more than your spendable balance: frozen coins are never spent (unfreeze them in History › Coins).`;
  return withFee ? `${what} is more than your balance.` : `${what} is more than your on-chain balance.`;
}

/**
 * Send: paste or scan an invoice, a bitcoin: link or an address; review amount and fee; pay.
 * On-chain: payto (signed, not yet broadcast) → review → broadcast. Lightning: decode_invoice →
 * review → lnpay. Every failure is shown next to the field it concerns, in plain words.
 */
export function SendTab() {
  const { info, balance, history, unit } = useStore();
  const [text, setText] = useState('');
  const [amountText, setAmountText] = useState('');
  const [feerateText, setFeerateText] = useState('');
  const [feeError, setFeeError] = useState<string | null>(null);
  /** Coin control: coins chosen to spend ("txid:vout"); empty = automatic selection. */
  const [chosen, setChosen] = useState<ReadonlySet<string>>(new Set());
  const [coins, setCoins] = useState<UnspentItem[] | null>(null);
  const market = useFeeMarket();
  /** "Max": send everything minus the fee (payto amount "!"). */
  const [sendMax, setSendMax] = useState(false);
  const [inputError, setInputError] = useState<string | null>(null);
  const [amountError, setAmountError] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [scanning, setScanning] = useState(false);
  const [busy, setBusy] = useState(false);
  const [phase, setPhase] = useState<Phase>({ name: 'edit' });
  const fileInput = useRef<HTMLInputElement>(null);

  // Coins (for coin control and what frozen coins keep out of reach), refreshed with the history.
  useEffect(() => {
    let live = true;
    call('listunspent').then(
      (list) => {
        if (!live) return;
        setCoins(list);
        // A chosen coin that was spent or frozen meanwhile is dropped from the choice.
        setChosen((prev) => new Set([...prev].filter((k) => list.some((c) => !c.frozen && coinKey(c) === k))));
      },
      () => live && setCoins(null),
    );
    return () => {
      live = false;
    };
  }, [history]);

  const lightningMsat = balance?.lightningMsat ?? 0n;
  const coinsView = coins ? spendableCoins(coins, chosen) : null;
  const spendableSat = coinsView ? coinsView.totalSat : (balance?.confirmedSat ?? 0) + (balance?.unconfirmedSat ?? 0);
  const frozenSat = coinsView?.frozenSat ?? 0;
  const immatureSat = coinsView?.immatureSat ?? 0;
  const classified = classifyPaymentInput(text, info?.network);
  const dest = target(classified, lightningMsat);
  const needsAmount = !!dest?.address && dest.amountSat === undefined;
  const estimate = market.suggested ?? (info?.fee_per_kb ? Math.max(1, Math.round(info.fee_per_kb / 1000)) : FALLBACK_FEERATE_SAT_PER_VBYTE);

  const reset = () => {
    setText('');
    setAmountText('');
    setSendMax(false);
    setChosen(new Set());
    setInputError(null);
    setAmountError(null);
    setFeeError(null);
    setFormError(null);
    setPhase({ name: 'edit' });
  };

  const onScanned = useCallback((value: string) => {
    setScanning(false);
    setText(value.trim());
    setInputError(null);
    setFormError(null);
  }, []);

  const onFile = async (file: File | undefined) => {
    if (!file) return;
    setFormError(null);
    try {
      const value = await decodeQrFile(file);
      if (value) onScanned(value);
      else setInputError('No QR code was found in that image');
    } catch {
      setInputError('That file could not be read as an image');
    }
  };

  const review = async () => {
    setInputError(null);
    setAmountError(null);
    setFeeError(null);
    setFormError(null);
    if (classified.kind === 'empty') return setInputError('Paste an invoice, a payment link or an address');
    if (classified.kind === 'error') return setInputError(classified.message);
    if (!dest) return;
    setBusy(true);
    try {
      if (dest.invoice) {
        let decoded: DecodedInvoiceResult;
        try {
          decoded = await call('decode_invoice', { invoice: dest.invoice });
        } catch (err) {
          return setInputError(errorMessage(err));
        }
        if (decoded.is_expired) return setInputError('This invoice has expired. Ask the recipient for a new one.');
        if (decoded.amount_msat === null) return setInputError('This invoice has no amount. Ask the recipient for an invoice with an amount.');
        const paid = history.find((h) => h.kind === 'lightning' && h.id === decoded.payment_hash && h.direction === 'sent' && h.status !== 'failed');
        if (paid) return setInputError(paid.status === 'pending' ? 'This invoice is being paid already.' : 'You have already paid this invoice.');
        const amountMsat = msatFromJson(decoded.amount_msat);
        if (amountMsat > lightningMsat) {
          return setAmountError(`The amount is more than you can send over Lightning right now.`);
        }
        setPhase({ name: 'review', plan: { kind: 'lightning', invoice: dest.invoice, decoded, amountMsat } });
        return;
      }
      const address = dest.address!;
      if (!(await call('validateaddress', { address }))) return setInputError(`This is not a valid ${info ? info.network + ' ' : ''}bitcoin address`);
      const max = sendMax && dest.amountSat === undefined;
      let amountSat = 0;
      if (!max) {
        try {
          amountSat = dest.amountSat ?? parseAmountInput(amountText, unit);
        } catch (err) {
          return setAmountError(err instanceof AmountError ? err.message : 'Invalid amount');
        }
        if (amountSat > spendableSat) return setAmountError(notEnough(chosen.size > 0, frozenSat));
      }
      let feerate = estimate;
      if (feerateText.trim()) {
        try {
          feerate = parseFeerate(feerateText);
        } catch (err) {
          return setFeeError(err instanceof FeerateError ? err.message : 'Invalid fee rate');
        }
      }
      const fromCoins = chosen.size > 0 ? [...chosen] : undefined;
      const txHex = await call('payto', { destination: address, amount: max ? '!' : satToBtc(amountSat), feerate, ...(fromCoins ? { from_coins: fromCoins } : {}) });
      const tx = summarizeTx(txHex);
      const decoded = await call('deserialize', { tx: txHex });
      // Sending everything leaves a single output: the amount is what it pays.
      if (max) amountSat = tx.outputs[0]?.valueSat ?? 0;
      const feeSat = decoded.fee_sat ?? Math.ceil(tx.vsize * feerate);
      const inputs = decoded.inputs.map((i) => `${i.prevout_hash}:${i.prevout_n}`);
      setPhase({ name: 'review', plan: { kind: 'onchain', address, amountSat, txHex, tx, feeSat, inputs } });
    } catch (err) {
      const message = errorMessage(err);
      if (/insufficient|not enough/i.test(message)) setAmountError(notEnough(chosen.size > 0, frozenSat, true));
      else setFormError(message);
    } finally {
      setBusy(false);
    }
  };

  const pay = async (plan: Plan) => {
    setPhase({ name: 'sending', plan });
    setFormError(null);
    try {
      if (plan.kind === 'onchain') {
        const txid = await call('broadcast', { tx: plan.txHex });
        setPhase({ name: 'done', plan, reference: txid });
      } else {
        const result = await call('lnpay', { invoice: plan.invoice });
        if (!result.success) throw new Error(result.error ?? 'The payment failed');
        setPhase({ name: 'done', plan, reference: result.payment_hash });
      }
      void useStore.getState().refresh('balance', 'history', 'channels');
    } catch (err) {
      setFormError(errorMessage(err));
      setPhase({ name: 'review', plan });
    }
  };

  if (phase.name !== 'edit') {
    return <ReviewPanel phase={phase} error={formError} onBack={() => (setFormError(null), setPhase({ name: 'edit' }))} onPay={pay} onDone={reset} />;
  }

  return (
    <section aria-labelledby="send-title" className="panel panel-narrow">
      <div className="panel-header">
        <h1 id="send-title">Send</h1>
      </div>
      <form onSubmit={(e) => (e.preventDefault(), void review())} className="stack">
        <Field
          label="Pay to"
          multiline
          rows={3}
          value={text}
          onChange={(v) => {
            setText(v);
            setInputError(null);
          }}
          error={inputError}
          placeholder="Lightning invoice, bitcoin: link or address"
          testId="send-input"
          hint={classified.kind === 'invoice' ? 'Lightning invoice' : classified.kind === 'uri' ? (dest?.invoice ? 'Payment link — will pay over Lightning' : 'Payment link — will pay on-chain') : classified.kind === 'address' ? 'Bitcoin address' : undefined}
        />
        <div className="row">
          <button type="button" className="btn btn-secondary" onClick={() => setScanning((s) => !s)} aria-pressed={scanning}>
            {scanning ? 'Close camera' : 'Scan QR code'}
          </button>
          <button type="button" className="btn btn-secondary" onClick={() => fileInput.current?.click()}>
            From image…
          </button>
          <input
            ref={fileInput}
            type="file"
            accept="image/*"
            className="sr-only"
            aria-label="QR code image file"
            tabIndex={-1}
            onChange={(e) => {
              void onFile(e.target.files?.[0]);
              e.target.value = '';
            }}
          />
        </div>
        {scanning && <CameraScanner onResult={onScanned} onCancel={() => setScanning(false)} />}
        {needsAmount && (
          <Field
            label={`Amount (${unit})`}
            value={amountText}
            inputMode="decimal"
            onChange={(v) => {
              setAmountText(v);
              setSendMax(false);
              setAmountError(null);
            }}
            error={amountError}
            testId="send-amount"
            hint={
              <>
                {chosen.size > 0 ? 'Selected coins' : 'Available'}: <Amount sat={spendableSat} testId="send-available" />{' '}
                <button
                  type="button"
                  className="link"
                  onClick={() => {
                    setAmountText(satToInput(spendableSat, unit));
                    setSendMax(true);
                    setAmountError(null);
                  }}
                >
                  Max
                </button>
                {sendMax && <> — the network fee is taken from this amount</>}
                {frozenSat > 0 && (
                  <>
                    {' '}
                    · <Amount sat={frozenSat} /> frozen, not spendable
                  </>
                )}
                {immatureSat > 0 && (
                  <>
                    {' '}
                    · <Amount sat={immatureSat} /> immature (mined, spendable after 100 confirmations)
                  </>
                )}
              </>
            }
          />
        )}
        {dest?.address && (
          <>
            <FeePicker
              text={feerateText}
              onText={(v) => {
                setFeerateText(v);
                setFeeError(null);
              }}
              fallback={estimate}
              market={market}
              error={feeError}
            />
            <CoinControl
              coins={coins}
              chosen={chosen}
              onChange={(next) => {
                setChosen(next);
                if (sendMax) setSendMax(false);
                setAmountError(null);
              }}
            />
          </>
        )}
        {!needsAmount && amountError && <InlineError>{amountError}</InlineError>}
        {formError && <InlineError testId="send-error">{formError}</InlineError>}
        <div className="row-end">
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Checking…' : 'Review payment'}
          </button>
        </div>
      </form>
    </section>
  );
}

function ReviewPanel(props: { phase: Exclude<Phase, { name: 'edit' }>; error: string | null; onBack(): void; onPay(plan: Plan): void; onDone(): void }) {
  const { phase } = props;
  const history = useStore((s) => s.history);
  const settled = phase.name === 'done' ? history.find((h) => h.id === phase.reference) : undefined;
  const { plan } = phase;
  const done = phase.name === 'done';
  const sending = phase.name === 'sending';
  const feeSat = plan.kind === 'onchain' ? plan.feeSat : 0;
  return (
    <section aria-labelledby="review-title" className="panel panel-narrow">
      <div className="panel-header">
        <h1 id="review-title">{done ? 'Payment sent' : 'Confirm payment'}</h1>
        <span className="badge">
          <Icon name={plan.kind === 'lightning' ? 'bolt' : 'chain'} size={12} /> {plan.kind === 'lightning' ? 'Lightning' : 'On-chain'}
        </span>
      </div>
      {done && (
        <div className="success" role="status" data-testid="send-success">
          <strong>{plan.kind === 'lightning' ? 'Paid.' : 'Broadcast.'}</strong>{' '}
          {plan.kind === 'lightning' ? 'The recipient has received the money.' : 'The transaction will confirm in the next blocks.'}
        </div>
      )}
      <dl className="summary" data-testid="send-summary">
        <dt>Amount</dt>
        <dd>{plan.kind === 'lightning' ? <Amount msat={plan.amountMsat} testId="review-amount" /> : <Amount sat={plan.amountSat} testId="review-amount" />}</dd>
        {plan.kind === 'onchain' ? (
          <>
            <dt>To</dt>
            <dd className="mono break">{plan.address}</dd>
            <dt>Network fee</dt>
            <dd data-testid="review-fee">
              {settled?.feeMsat != null ? <Amount msat={settled.feeMsat} /> : <Amount sat={feeSat} />}{' '}
              <span className="muted">
                (<span data-testid="review-feerate">{feerateOf(feeSat, plan.tx.vsize)} sat/vB</span> × {plan.tx.vsize} vB)
              </span>
            </dd>
            <dt>Coins spent</dt>
            <dd data-testid="review-inputs">
              {plan.inputs.length} coin{plan.inputs.length === 1 ? '' : 's'}
              <ul className="plain-list mono small">
                {plan.inputs.map((k) => (
                  <li key={k} data-testid="review-input">
                    {k.slice(0, 12)}…:{k.split(':')[1]}
                  </li>
                ))}
              </ul>
            </dd>
            <dt>Total</dt>
            <dd>
              <Amount sat={plan.amountSat + feeSat} testId="review-total" />
            </dd>
          </>
        ) : (
          <>
            <dt>Description</dt>
            <dd>{plan.decoded.description || <span className="muted">None</span>}</dd>
            <dt>Recipient</dt>
            <dd className="mono break">{plan.decoded.pubkey}</dd>
            <dt>Routing fee</dt>
            <dd data-testid="review-fee">
              {settled?.feeMsat != null ? <Amount msat={settled.feeMsat} /> : <span className="muted">Found when the route is chosen; shown in History</span>}
            </dd>
            <dt>Expires</dt>
            <dd>{new Date((plan.decoded.timestamp + plan.decoded.expiry) * 1000).toLocaleString('en-GB')}</dd>
          </>
        )}
        {done && (
          <>
            <dt>{plan.kind === 'lightning' ? 'Payment hash' : 'Transaction'}</dt>
            <dd className="mono break" data-testid="send-reference">
              {phase.reference}
            </dd>
          </>
        )}
      </dl>
      {props.error && <InlineError testId="send-error">{props.error}</InlineError>}
      <div className="row-between">
        {done ? (
          <span />
        ) : (
          <button type="button" className="btn btn-ghost" onClick={props.onBack} disabled={sending}>
            Back
          </button>
        )}
        {done ? (
          <button type="button" className="btn btn-primary" onClick={props.onDone}>
            Done
          </button>
        ) : (
          <button type="button" className="btn btn-primary" onClick={() => props.onPay(plan)} disabled={sending} aria-busy={sending}>
            {sending ? (plan.kind === 'lightning' ? 'Paying…' : 'Broadcasting…') : plan.kind === 'lightning' ? 'Pay' : 'Send'}
          </button>
        )}
      </div>
    </section>
  );
}
