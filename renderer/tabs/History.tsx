import { useEffect, useState } from 'react';
import { useStore } from '../store/index.js';
import { Amount } from '../components/Amount.js';
import { Icon } from '../components/Icon.js';
import { VirtualRows, type Column } from '../components/VirtualRows.js';
import type { HistoryRow } from '../store/normalize.js';
import { formatDate, statusText, statusTone } from '../lib/history.js';
import { TxDetails } from './TxDetails.js';
import { AddressesView } from './Addresses.js';
import { CoinsView } from './Coins.js';

function description(row: HistoryRow): string {
  if (row.label) return row.label;
  const what = row.kind === 'lightning' ? 'Lightning payment' : 'On-chain transaction';
  return `${what} ${row.direction === 'sent' ? 'sent' : 'received'}`;
}

const VIEWS = [
  { id: 'transactions', label: 'Transactions' },
  { id: 'addresses', label: 'Addresses' },
  { id: 'coins', label: 'Coins' },
] as const;

type ViewId = (typeof VIEWS)[number]['id'];

/**
 * History: the transactions (on-chain and Lightning, newest first), and the on-chain wallet's
 * addresses and coins as sub-views. A row opens its details (fee, inputs and outputs, label,
 * bump fee / cancel / CPFP while unconfirmed).
 */
export function HistoryTab() {
  const history = useStore((s) => s.history);
  const [view, setView] = useState<ViewId>('transactions');
  const focus = useStore((s) => s.historyFocus);
  useEffect(() => {
    if (focus) setView('transactions');
  }, [focus]);
  return (
    <section aria-labelledby="history-title" className="panel">
      <div className="panel-header">
        <h1 id="history-title">History</h1>
        <div role="tablist" aria-label="History views" className="segmented">
          {VIEWS.map((v) => (
            <button
              key={v.id}
              type="button"
              role="tab"
              id={`view-${v.id}`}
              aria-selected={view === v.id}
              aria-controls={`view-panel-${v.id}`}
              className={`segment ${view === v.id ? 'active' : ''}`}
              onClick={() => setView(v.id)}
            >
              {v.label}
            </button>
          ))}
        </div>
      </div>
      <div role="tabpanel" id={`view-panel-${view}`} aria-labelledby={`view-${view}`}>
        {view === 'transactions' ? <TransactionsView history={history} /> : view === 'addresses' ? <AddressesView /> : <CoinsView />}
      </div>
    </section>
  );
}

const historyKey = (row: HistoryRow): string => `${row.kind}:${row.id}`;
const HISTORY_COLUMNS: readonly Column[] = [
  { title: 'Type', width: '44px', srOnly: true },
  { title: 'Description', width: 'minmax(0, 1fr)' },
  { title: 'Date', width: '170px' },
  { title: 'Status', width: '130px' },
  { title: 'Amount', width: '150px', num: true },
];

function TransactionsView(props: { history: HistoryRow[] }) {
  const { history } = props;
  /** The transaction (or payment) whose details are open: its id, so a replacement can take its place. */
  const [open, setOpen] = useState<{ id: string; kind: HistoryRow['kind']; notice?: string } | null>(null);
  // A link from another tab (e.g. a sweep on Channels) opens that transaction's details once.
  const focus = useStore((s) => s.historyFocus);
  useEffect(() => {
    if (!focus) return;
    setOpen({ id: focus, kind: 'onchain' });
    useStore.getState().clearHistoryFocus();
  }, [focus]);
  if (history.length === 0) {
    return (
      <div className="empty">
        <p>No transactions yet.</p>
        <p className="muted">Payments you send and receive, on-chain and over Lightning, show up here.</p>
      </div>
    );
  }
  return (
    <>
      <p className="muted small" data-testid="history-count">
        {history.length} item{history.length === 1 ? '' : 's'}
      </p>
      <VirtualRows
        label="Transactions"
        testId="history-list"
        items={history}
        rowHeight={60}
        columns={HISTORY_COLUMNS}
        rowKey={historyKey}
        onActivate={(row) => setOpen({ id: row.id, kind: row.kind })}
        rowProps={(row) => ({ 'data-testid': 'history-row', 'data-kind': row.kind, 'data-direction': row.direction, 'data-id': row.id })}
        renderRow={(row) => (
          <>
            <span role="cell">
              <span className={`kind-icon kind-${row.kind}`} title={row.kind === 'lightning' ? 'Lightning' : 'On-chain'}>
                <Icon name={row.kind === 'lightning' ? 'bolt' : 'chain'} />
                <span className={`kind-direction direction-${row.direction}`}>
                  <Icon name={row.direction === 'sent' ? 'out' : 'in'} size={10} />
                </span>
                <span className="sr-only">{row.kind === 'lightning' ? 'Lightning' : 'On-chain'}</span>
              </span>
            </span>
            <span role="cell" className="cell-clip">
              <div className="cell-main truncate">{description(row)}</div>
              <div className="cell-sub mono" title={row.id}>
                {row.id.slice(0, 10)}…{row.id.slice(-6)}
              </div>
            </span>
            <span role="cell" className="muted nowrap">
              {formatDate(row.timestamp)}
            </span>
            <span role="cell">
              <span className={`badge ${statusTone(row)}`} data-testid="history-status">
                {statusText(row)}
              </span>
            </span>
            <span role="cell" className="num nowrap">
              <Amount msat={row.amountMsat} sign testId="history-amount" />
            </span>
          </>
        )}
      />
      {open && (
        <TxDetails
          id={open.id}
          kind={open.kind}
          notice={open.notice}
          onClose={() => setOpen(null)}
          onReplaced={(txid, notice) => setOpen({ id: txid, kind: 'onchain', notice })}
        />
      )}
    </>
  );
}
