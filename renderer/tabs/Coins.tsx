import { useMemo, useState } from 'react';
import type { UnspentItem } from '../../core/api/client-types.js';
import { call, errorMessage } from '../api/client.js';
import { useCallResult } from '../api/hooks.js';
import { Amount } from '../components/Amount.js';
import { CoinStatus } from '../components/CoinStatus.js';
import { Dialog } from '../components/Dialog.js';
import { InlineError } from '../components/Field.js';
import { LabelEditor } from '../components/LabelEditor.js';
import { VirtualRows, type Column } from '../components/VirtualRows.js';
import { coinConfirmations, coinKey } from '../lib/onchain.js';
import { coinTotals, sortCoins, type CoinSort } from '../lib/wallet-views.js';
import { useStore } from '../store/index.js';

const COLUMNS: readonly Column[] = [
  { title: 'Coin', width: 'minmax(0, 1fr)' },
  { title: 'Status', width: '110px' },
  { title: 'Amount', width: '150px', num: true },
  { title: 'Freeze', width: '120px', srOnly: true },
];

/**
 * The wallet's coins (listunspent): amount, confirmations, label, and freeze/unfreeze
 * (freeze_utxo / unfreeze_utxo). A frozen coin is never spent, by automatic selection or by coin
 * control. A row opens the coin to edit its label.
 */
export function CoinsView() {
  const history = useStore((s) => s.history);
  const tip = useStore((s) => s.info?.blockchain_height);
  const { result: coins, error: loadError, reload } = useCallResult(() => call('listunspent'), [history]);
  const [freezeError, setFreezeError] = useState<string | null>(null);
  const [sort, setSort] = useState<CoinSort>('value');
  const [busy, setBusy] = useState<string | null>(null);
  const [open, setOpen] = useState<UnspentItem | null>(null);

  const shown = useMemo(() => sortCoins(coins ?? [], sort), [coins, sort]);
  const setFrozen = async (c: UnspentItem, frozen: boolean) => {
    const key = coinKey(c);
    setBusy(key);
    setFreezeError(null);
    try {
      await call(frozen ? 'freeze_utxo' : 'unfreeze_utxo', { coin: key });
      reload();
      void useStore.getState().refresh('balance');
    } catch (err) {
      setFreezeError(errorMessage(err));
    } finally {
      setBusy(null);
    }
  };

  const error = freezeError ?? loadError;
  if (coins === null) return loadError ? <InlineError>{loadError}</InlineError> : <p className="muted">Loading coins…</p>;
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
            <LabelEditor labelKey={coinKey(open)} initial={open.label} onSaved={reload} testId="coin-label" />
          </div>
        </Dialog>
      )}
    </>
  );
}
