import { useEffect, useMemo, useState } from 'react';
import type { UnspentItem } from '../../core/api/client-types.js';
import { call, errorMessage } from '../api/client.js';
import { Amount } from '../components/Amount.js';
import { CoinStatus } from '../components/CoinStatus.js';
import { Dialog } from '../components/Dialog.js';
import { InlineError } from '../components/Field.js';
import { LabelEditor } from '../components/LabelEditor.js';
import { VirtualRows } from '../components/VirtualRows.js';
import { coinConfirmations, coinKey } from '../lib/onchain.js';
import { coinTotals, sortCoins, type CoinSort } from '../lib/wallet-views.js';
import { useStore } from '../store/index.js';

const COLUMNS = 'minmax(0, 1fr) 110px 150px 120px';

/**
 * The wallet's coins (listunspent): amount, confirmations, label, and freeze/unfreeze
 * (freeze_utxo / unfreeze_utxo). A frozen coin is never spent, by automatic selection or by coin
 * control. A row opens the coin to edit its label.
 */
export function CoinsView() {
  const history = useStore((s) => s.history);
  const tip = useStore((s) => s.info?.blockchain_height);
  const [coins, setCoins] = useState<UnspentItem[] | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [sort, setSort] = useState<CoinSort>('value');
  const [busy, setBusy] = useState<string | null>(null);
  const [open, setOpen] = useState<UnspentItem | null>(null);
  const [version, setVersion] = useState(0);

  useEffect(() => {
    let live = true;
    call('listunspent').then(
      (list) => live && (setCoins(list), setError(null)),
      (err: unknown) => live && setError(errorMessage(err)),
    );
    return () => {
      live = false;
    };
  }, [history, version]);

  const shown = useMemo(() => sortCoins(coins ?? [], sort), [coins, sort]);
  const setFrozen = async (c: UnspentItem, frozen: boolean) => {
    const key = coinKey(c);
    setBusy(key);
    setError(null);
    try {
      await call(frozen ? 'freeze_utxo' : 'unfreeze_utxo', { coin: key });
      setVersion((v) => v + 1);
      void useStore.getState().refresh('balance');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  };

  if (coins === null) return error ? <InlineError>{error}</InlineError> : <p className="muted">Loading coins…</p>;
  const totals = coinTotals(coins);
  return (
    <>
      <div className="row view-filters">
        <label className="select-inline">
          Sort by{' '}
          <select value={sort} onChange={(e) => setSort(e.target.value as CoinSort)} aria-label="Sort coins">
            <option value="value">Value</option>
            <option value="age">Age</option>
          </select>
        </label>
        <span className="muted small" data-testid="coins-summary">
          {coins.length} coin{coins.length === 1 ? '' : 's'} · spendable <Amount sat={totals.spendableSat} />
          {totals.frozenSat > 0 && (
            <>
              {' '}
              · frozen <Amount sat={totals.frozenSat} />
            </>
          )}
          {totals.immatureSat > 0 && (
            <>
              {' '}
              · immature <Amount sat={totals.immatureSat} />
            </>
          )}
        </span>
      </div>
      {error && <InlineError>{error}</InlineError>}
      {coins.length === 0 ? (
        <div className="empty">
          <p>No coins.</p>
          <p className="muted">Money you receive on-chain shows up here as coins (unspent outputs).</p>
        </div>
      ) : (
        <VirtualRows<UnspentItem>
          label="Coins"
          testId="coin-list"
          items={shown}
          rowHeight={56}
          columns={COLUMNS}
          height="min(60vh, 560px)"
          rowKey={coinKey}
          deps={`${busy}:${tip}`}
          onActivate={(c) => setOpen(c)}
          rowProps={(c) => ({ 'data-testid': 'coin-row', 'data-coin': coinKey(c), 'data-frozen': String(c.frozen) })}
          header={
            <>
              <span role="columnheader">Coin</span>
              <span role="columnheader">Status</span>
              <span role="columnheader" className="num">
                Amount
              </span>
              <span role="columnheader">
                <span className="sr-only">Freeze</span>
              </span>
            </>
          }
          renderRow={(c) => {
            const key = coinKey(c);
            const conf = coinConfirmations(c.height, tip);
            return (
              <>
                <span role="cell" className="cell-clip">
                  <div className="mono small truncate" title={key}>
                    {c.prevout_hash.slice(0, 16)}…:{c.prevout_n}
                  </div>
                  <div className="cell-sub truncate">{c.label || <span className="mono">{c.address}</span>}</div>
                </span>
                <span role="cell" data-testid="coin-status">
                  <CoinStatus coin={c} confirmations={conf} />
                </span>
                <span role="cell" className="num nowrap">
                  <Amount sat={c.value_sat} />
                </span>
                <span role="cell" className="num">
                  <button
                    type="button"
                    className="btn btn-secondary btn-small"
                    disabled={busy === key}
                    onClick={(e) => {
                      e.stopPropagation();
                      void setFrozen(c, !c.frozen);
                    }}
                  >
                    {c.frozen ? 'Unfreeze' : 'Freeze'}
                  </button>
                </span>
              </>
            );
          }}
        />
      )}
      {open && (
        <Dialog title="Coin" onClose={() => setOpen(null)}>
          <div className="stack" data-testid="coin-details">
            <dl className="summary">
              <dt>Outpoint</dt>
              <dd className="mono break">{coinKey(open)}</dd>
              <dt>Address</dt>
              <dd className="mono break">{open.address}</dd>
              <dt>Amount</dt>
              <dd>
                <Amount sat={open.value_sat} />
              </dd>
            </dl>
            <LabelEditor labelKey={coinKey(open)} initial={open.label} onSaved={() => setVersion((v) => v + 1)} testId="coin-label" />
          </div>
        </Dialog>
      )}
    </>
  );
}
