import { useState } from 'react';
import { call, errorMessage } from '../api/client.js';
import { useStore } from '../store/index.js';
import { Amount } from '../components/Amount.js';
import { CopyButton } from '../components/CopyButton.js';
import { Field, InlineError } from '../components/Field.js';
import { QrCode } from '../components/QrCode.js';
import { buildBip21 } from '../lib/bip21.js';
import { AmountError, parseAmountInput, satToBtc } from '../lib/units.js';
import type { RequestView } from '../store/normalize.js';

const EXPIRY_CHOICES = [
  { seconds: 3600, label: '1 hour' },
  { seconds: 86_400, label: '1 day' },
  { seconds: 604_800, label: '1 week' },
];

/** Electrum's PR_* status codes → badge tone. */
function statusTone(status: number): string {
  if (status === 3) return 'badge-ok';
  if (status === 1 || status === 5) return 'badge-bad';
  if (status === 4 || status === 7) return 'badge-warn';
  return '';
}

/** The BIP21 link to show: the host's URI when it already carries the invoice, else built here. */
function paymentLink(r: RequestView): string | null {
  if (r.uri && (!r.invoice || r.uri.includes('lightning='))) return r.uri;
  if (!r.address) return null;
  return buildBip21({ address: r.address, amountSat: r.amountSat || undefined, message: r.message || undefined, lightning: r.invoice });
}

/** Receive: amount + description → add_request → QR codes of the invoice and the bitcoin: link. */
export function ReceiveTab() {
  const { unit, requests } = useStore();
  const [amountText, setAmountText] = useState('');
  const [memo, setMemo] = useState('');
  const [expiry, setExpiry] = useState(3600);
  const [amountError, setAmountError] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [selectedKey, setSelectedKey] = useState<string | null>(null);
  const selected = requests.find((r) => r.key === selectedKey) ?? null;

  const create = async () => {
    setAmountError(null);
    setFormError(null);
    let amountSat = 0;
    if (amountText.trim()) {
      try {
        amountSat = parseAmountInput(amountText, unit);
      } catch (err) {
        return setAmountError(err instanceof AmountError ? err.message : 'Invalid amount');
      }
    }
    setBusy(true);
    try {
      const r = await call('add_request', { amount: satToBtc(amountSat), memo, expiry });
      await useStore.getState().refresh('requests');
      setSelectedKey(r.rhash);
      setAmountText('');
      setMemo('');
    } catch (err) {
      setFormError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="receive-layout">
      <section aria-labelledby="receive-title" className="panel">
        <div className="panel-header">
          <h1 id="receive-title">Receive</h1>
        </div>
        <form onSubmit={(e) => (e.preventDefault(), void create())} className="stack">
          <Field
            label={`Amount (${unit})`}
            value={amountText}
            onChange={(v) => (setAmountText(v), setAmountError(null))}
            error={amountError}
            inputMode="decimal"
            placeholder="Any amount"
            testId="receive-amount"
          />
          <Field label="Description" value={memo} onChange={setMemo} placeholder="What is this payment for?" testId="receive-memo" />
          <div className="field">
            <label htmlFor="receive-expiry">Expires after</label>
            <select id="receive-expiry" value={expiry} onChange={(e) => setExpiry(Number(e.target.value))}>
              {EXPIRY_CHOICES.map((c) => (
                <option key={c.seconds} value={c.seconds}>
                  {c.label}
                </option>
              ))}
            </select>
          </div>
          {formError && <InlineError>{formError}</InlineError>}
          <div className="row-end">
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? 'Creating…' : 'Create request'}
            </button>
          </div>
        </form>
        <h2 className="subhead">Requests</h2>
        {requests.length === 0 ? (
          <p className="muted">No requests yet.</p>
        ) : (
          <ul className="request-list" aria-label="Payment requests">
            {requests.map((r) => (
              <li key={r.key}>
                <button type="button" className={`request-item ${r.key === selectedKey ? 'selected' : ''}`} onClick={() => setSelectedKey(r.key)} data-testid="request-row" aria-pressed={r.key === selectedKey}>
                  <span className="cell-main">{r.message || <span className="muted">No description</span>}</span>
                  <span className="request-meta">
                    {r.amountSat ? <Amount sat={r.amountSat} /> : <span className="muted">Any amount</span>}
                    <span className={`badge ${statusTone(r.status)}`} data-testid="request-status">
                      {r.statusText}
                    </span>
                  </span>
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
      {selected && <RequestDetail request={selected} />}
    </div>
  );
}

function RequestDetail({ request }: { request: RequestView }) {
  const link = paymentLink(request);
  return (
    <section aria-labelledby="request-title" className="panel request-detail" data-testid="request-detail">
      <div className="panel-header">
        <h2 id="request-title">{request.message || 'Payment request'}</h2>
        <span className={`badge ${statusTone(request.status)}`}>{request.statusText}</span>
      </div>
      <p className="request-amount">{request.amountSat ? <Amount sat={request.amountSat} /> : 'Any amount'}</p>
      {request.invoice ? (
        <div className="qr-block">
          <h3>Lightning invoice</h3>
          <QrCode text={request.invoice} label="Lightning invoice QR code" testId="invoice-qr" />
          <div className="copy-row">
            <code className="mono truncate" data-testid="invoice-text" title={request.invoice}>
              {request.invoice}
            </code>
            <CopyButton text={request.invoice} label="Copy Lightning invoice" compact />
          </div>
        </div>
      ) : (
        <p className="muted">No Lightning invoice: open a channel with enough receiving capacity to be paid over Lightning.</p>
      )}
      {link && (
        <div className="qr-block">
          <h3>Payment link (on-chain{request.invoice ? ' or Lightning' : ''})</h3>
          <QrCode text={link} label="Payment link QR code" testId="uri-qr" />
          <div className="copy-row">
            <code className="mono truncate" data-testid="uri-text" title={link}>
              {link}
            </code>
            <CopyButton text={link} label="Copy payment link" compact />
          </div>
        </div>
      )}
    </section>
  );
}
