import { useEffect, useState } from 'react';
import type { DeserializedTx } from '../../core/api/client-types.js';
import { call, errorMessage } from '../api/client.js';
import { Amount } from '../components/Amount.js';
import { CopyButton } from '../components/CopyButton.js';
import { Dialog } from '../components/Dialog.js';
import { FeePicker, useFeeMarket } from '../components/FeePicker.js';
import { InlineError } from '../components/Field.js';
import { LabelEditor } from '../components/LabelEditor.js';
import { formatDate, statusText } from '../lib/history.js';
import { FeerateError, feerateOf, parseFeerate, suggestedBumpFeerate, txActions } from '../lib/onchain.js';
import { useStore } from '../store/index.js';

type Action = 'bump' | 'cancel' | 'cpfp';

const ACTION_TEXT: Record<Action, { title: string; button: string; explain: string; done: string }> = {
  bump: {
    title: 'Bump fee',
    button: 'Bump fee',
    explain: 'Replaces this transaction (RBF) with one paying a higher fee; the recipients get the same amounts.',
    done: 'Fee bumped: the replacement was broadcast.',
  },
  cancel: {
    title: 'Cancel transaction',
    button: 'Cancel transaction',
    explain: 'Replaces this transaction (RBF) with one sending its coins back to your wallet. It works only if the original does not confirm first.',
    done: 'Cancelled: a replacement paying back to your wallet was broadcast.',
  },
  cpfp: {
    title: 'Child pays for parent',
    button: 'Speed up (CPFP)',
    explain: 'Spends your output of this transaction in a child paying enough fee for both to confirm at the chosen rate.',
    done: 'Child transaction broadcast.',
  },
};

/**
 * Details of a History row in a dialog. On-chain: txid, status, fee and fee rate, inputs and
 * outputs (ours marked), editable label, and while unconfirmed the fee actions that apply
 * (bumpfee, dscancel for our RBF transactions; cpfp for incoming ones). Lightning: the payment's
 * hash, amount, fee and status.
 */
export function TxDetails(props: { id: string; kind: 'onchain' | 'lightning'; notice?: string; onClose(): void; onReplaced(txid: string, notice: string): void }) {
  const row = useStore((s) => s.history.find((h) => h.kind === props.kind && h.id === props.id));
  return (
    <Dialog title={props.kind === 'lightning' ? 'Lightning payment' : 'Transaction'} onClose={props.onClose} wide>
      <div data-testid="tx-details" data-id={props.id}>
        {props.notice && (
          <div className="success" role="status" data-testid="tx-notice">
            {props.notice}
          </div>
        )}
        {props.kind === 'lightning' ? (
          <dl className="summary">
            <dt>Payment hash</dt>
            <dd className="mono break">{props.id}</dd>
            <dt>Amount</dt>
            <dd>{row ? <Amount msat={row.amountMsat} sign /> : '—'}</dd>
            <dt>Routing fee</dt>
            <dd>{row?.feeMsat != null ? <Amount msat={row.feeMsat} /> : <span className="muted">None or unknown</span>}</dd>
            <dt>Status</dt>
            <dd>{row ? statusText(row) : '—'}</dd>
            <dt>Date</dt>
            <dd>{row ? formatDate(row.timestamp) : '—'}</dd>
          </dl>
        ) : (
          <OnchainDetails key={props.id} txid={props.id} onReplaced={props.onReplaced} />
        )}
      </div>
    </Dialog>
  );
}

function OnchainDetails(props: { txid: string; onReplaced(txid: string, notice: string): void }) {
  const { txid } = props;
  const history = useStore((s) => s.history);
  const row = history.find((h) => h.kind === 'onchain' && h.id === txid);
  const [tx, setTx] = useState<DeserializedTx | null>(null);
  const [unspentOurs, setUnspentOurs] = useState(0);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [action, setAction] = useState<Action | null>(null);
  const [notice, setNotice] = useState<string | null>(null);

  useEffect(() => {
    let live = true;
    void (async () => {
      try {
        const decoded = await call('deserialize', { tx: await call('gettransaction', { txid }) });
        const coins = await call('listunspent');
        if (!live) return;
        setTx(decoded);
        setUnspentOurs(coins.filter((c) => c.prevout_hash === txid).length);
        setLoadError(null);
      } catch (err) {
        if (live) setLoadError(errorMessage(err));
      }
    })();
    return () => {
      live = false;
    };
  }, [txid, history]);

  if (loadError) return <InlineError testId="tx-load-error">{loadError}</InlineError>;
  const confirmations = row?.confirmations ?? 0;
  const feerate = tx?.fee_sat != null ? feerateOf(tx.fee_sat, tx.vsize) : null;
  const actions = tx ? txActions(tx, confirmations, unspentOurs) : { bump: false, cancel: false, cpfp: false };
  return (
    <>
      <dl className="summary">
        <dt>Transaction ID</dt>
        <dd className="mono break" data-testid="tx-txid">
          {txid} <CopyButton text={txid} label="Copy transaction ID" compact />
        </dd>
        <dt>Status</dt>
        <dd data-testid="tx-status">
          {row ? statusText(row) : 'Unconfirmed'}
          {row && row.timestamp !== null && <span className="muted"> · {formatDate(row.timestamp)}</span>}
        </dd>
        <dt>Amount</dt>
        <dd>{row ? <Amount msat={row.amountMsat} sign testId="tx-amount" /> : '—'}</dd>
        <dt>Fee</dt>
        <dd data-testid="tx-fee">
          {tx === null ? '…' : tx.fee_sat === null ? <span className="muted">Unknown (paid by the sender; its inputs are not ours)</span> : <Amount sat={tx.fee_sat} />}
        </dd>
        <dt>Fee rate</dt>
        <dd data-testid="tx-feerate">{tx === null ? '…' : feerate === null ? <span className="muted">Unknown</span> : `${feerate} sat/vB`}</dd>
        <dt>Size</dt>
        <dd>{tx ? `${tx.vsize} vB` : '…'}</dd>
      </dl>
      {tx && (
        <div className="io-grid">
          <IoList
            title="Inputs"
            testId="tx-inputs"
            items={tx.inputs.map((i) => ({ key: `${i.prevout_hash}:${i.prevout_n}`, what: i.address ?? `${i.prevout_hash.slice(0, 12)}…:${i.prevout_n}`, sat: i.value_sat, mine: i.is_mine }))}
          />
          <IoList
            title="Outputs"
            testId="tx-outputs"
            items={tx.outputs.map((o, n) => ({ key: String(n), what: o.address ?? `script ${o.scriptpubkey.slice(0, 16)}…`, sat: o.value_sat, mine: o.is_mine }))}
          />
        </div>
      )}
      <LabelEditor labelKey={txid} initial={row?.label ?? ''} testId="tx-label" />
      {notice && (
        <div className="success" role="status" data-testid="tx-notice">
          {notice}
        </div>
      )}
      {tx && (actions.bump || actions.cancel || actions.cpfp) && (
        <div className="stack tx-actions">
          <div className="row">
            {(['bump', 'cancel', 'cpfp'] as const)
              .filter((a) => actions[a])
              .map((a) => (
                <button key={a} type="button" className={`btn btn-small ${action === a ? 'btn-primary' : 'btn-secondary'}`} aria-pressed={action === a} onClick={() => setAction(action === a ? null : a)}>
                  {ACTION_TEXT[a].button}
                </button>
              ))}
          </div>
          {action && (
            <FeeActionForm
              key={action}
              action={action}
              parent={tx}
              parentFeerate={feerate}
              onDone={(newTxid) => {
                setAction(null);
                if (action === 'cpfp') setNotice(`${ACTION_TEXT.cpfp.done} ${newTxid}`);
                else props.onReplaced(newTxid, `${ACTION_TEXT[action].done} It replaces ${txid}.`);
              }}
            />
          )}
        </div>
      )}
    </>
  );
}

function IoList(props: { title: string; testId: string; items: { key: string; what: string; sat: number | null; mine: boolean }[] }) {
  return (
    <div>
      <h3>{props.title}</h3>
      <ul className="io-list" data-testid={props.testId}>
        {props.items.map((i) => (
          <li key={i.key} className={i.mine ? 'io-mine' : ''} data-mine={i.mine ? 'true' : 'false'}>
            <span className="mono small break">{i.what}</span>
            <span className="io-value">
              {i.mine && <span className="badge badge-ok">Ours</span>} {i.sat === null ? <span className="muted">?</span> : <Amount sat={i.sat} />}
            </span>
          </li>
        ))}
      </ul>
    </div>
  );
}

interface Preview {
  hex: string;
  txid: string;
  feeSat: number | null;
  vsize: number;
}

/** Fee rate → preview of the replacement (or child) → broadcast. Errors stay inline; nothing is broadcast before "Broadcast". */
function FeeActionForm(props: { action: Action; parent: DeserializedTx; parentFeerate: number | null; onDone(txid: string): void }) {
  const market = useFeeMarket();
  const suggested = suggestedBumpFeerate(props.parentFeerate ?? 1, market.suggested);
  const [text, setText] = useState('');
  const [feeError, setFeeError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [preview, setPreview] = useState<Preview | null>(null);
  const [busy, setBusy] = useState(false);
  const copy = ACTION_TEXT[props.action];

  const build = async () => {
    setError(null);
    setPreview(null);
    let rate = suggested;
    if (text.trim() !== '') {
      try {
        rate = parseFeerate(text);
      } catch (err) {
        return setFeeError(err instanceof FeerateError ? err.message : 'Invalid fee rate');
      }
    }
    setBusy(true);
    try {
      const txid = props.parent.txid;
      const hex =
        props.action === 'bump'
          ? await call('bumpfee', { tx: txid, new_fee_rate: rate })
          : props.action === 'cancel'
            ? await call('dscancel', { tx: txid, new_fee_rate: rate })
            : await call('cpfp', { txid, fee_rate: rate });
      const d = await call('deserialize', { tx: hex });
      setPreview({ hex, txid: d.txid, feeSat: d.fee_sat, vsize: d.vsize });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const broadcast = async (p: Preview) => {
    setBusy(true);
    setError(null);
    try {
      const txid = await call('broadcast', { tx: p.hex });
      void useStore.getState().refresh('balance', 'history');
      props.onDone(txid);
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  const packageRate =
    preview && props.action === 'cpfp' && preview.feeSat !== null && props.parent.fee_sat !== null
      ? feerateOf(preview.feeSat + props.parent.fee_sat, preview.vsize + props.parent.vsize)
      : null;
  return (
    <form className="stack fee-action" data-testid="fee-action" onSubmit={(e) => (e.preventDefault(), void build())}>
      <p className="muted small">{copy.explain}</p>
      <FeePicker
        label={props.action === 'cpfp' ? 'Fee rate for both transactions (sat/vB)' : 'New fee rate (sat/vB)'}
        text={text}
        onText={(v) => {
          setText(v);
          setFeeError(null);
          setPreview(null);
        }}
        fallback={suggested}
        market={market}
        error={feeError}
      />
      {preview && (
        <dl className="summary" data-testid="fee-action-preview">
          <dt>{props.action === 'cpfp' ? 'Child fee' : 'New fee'}</dt>
          <dd>{preview.feeSat === null ? '—' : <Amount sat={preview.feeSat} />}</dd>
          <dt>{props.action === 'cpfp' ? 'Child fee rate' : 'New fee rate'}</dt>
          <dd data-testid="fee-action-feerate">{preview.feeSat === null ? '—' : `${feerateOf(preview.feeSat, preview.vsize)} sat/vB`}</dd>
          {packageRate !== null && (
            <>
              <dt>Both together</dt>
              <dd>{packageRate} sat/vB</dd>
            </>
          )}
        </dl>
      )}
      {error && <InlineError testId="fee-action-error">{error}</InlineError>}
      <div className="row-end">
        {preview ? (
          <button type="button" className="btn btn-primary" disabled={busy} onClick={() => void broadcast(preview)}>
            {busy ? 'Broadcasting…' : 'Broadcast'}
          </button>
        ) : (
          <button type="submit" className="btn btn-primary" disabled={busy}>
            {busy ? 'Building…' : 'Preview'}
          </button>
        )}
      </div>
    </form>
  );
}
