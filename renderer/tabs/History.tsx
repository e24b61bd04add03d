import { useStore } from '../store/index.js';
import { Amount } from '../components/Amount.js';
import { Icon } from '../components/Icon.js';
import type { HistoryRow } from '../store/normalize.js';

function formatDate(ts: number | null): string {
  if (ts === null) return 'Just now';
  return new Date(ts * 1000).toLocaleString('en-GB', { day: 'numeric', month: 'short', year: 'numeric', hour: '2-digit', minute: '2-digit' });
}

function statusText(row: HistoryRow): string {
  if (row.kind === 'lightning') return row.status === 'complete' ? 'Complete' : row.status === 'pending' ? 'In progress' : 'Failed';
  if (row.confirmations === 0) return 'Unconfirmed';
  return row.confirmations >= 6 ? 'Confirmed' : `${row.confirmations} confirmation${row.confirmations === 1 ? '' : 's'}`;
}

function statusTone(row: HistoryRow): string {
  if (row.status === 'failed') return 'badge-bad';
  if (row.status === 'pending' || (row.kind === 'onchain' && row.confirmations < 6)) return 'badge-warn';
  return 'badge-ok';
}

function description(row: HistoryRow): string {
  if (row.label) return row.label;
  const what = row.kind === 'lightning' ? 'Lightning payment' : 'On-chain transaction';
  return `${what} ${row.direction === 'sent' ? 'sent' : 'received'}`;
}

/** On-chain and Lightning history together, newest first. */
export function HistoryTab() {
  const history = useStore((s) => s.history);
  return (
    <section aria-labelledby="history-title" className="panel">
      <div className="panel-header">
        <h1 id="history-title">History</h1>
        <span className="muted">{history.length} item{history.length === 1 ? '' : 's'}</span>
      </div>
      {history.length === 0 ? (
        <div className="empty">
          <p>No transactions yet.</p>
          <p className="muted">Payments you send and receive, on-chain and over Lightning, show up here.</p>
        </div>
      ) : (
        <table className="table history-table" aria-label="Transactions">
          <thead>
            <tr>
              <th scope="col" className="col-icon">
                <span className="sr-only">Type</span>
              </th>
              <th scope="col">Description</th>
              <th scope="col">Date</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Amount
              </th>
            </tr>
          </thead>
          <tbody>
            {history.map((row) => (
              <tr key={`${row.kind}:${row.id}`} data-testid="history-row" data-kind={row.kind} data-direction={row.direction} data-id={row.id}>
                <td className="col-icon">
                  <span className={`kind-icon kind-${row.kind}`} title={row.kind === 'lightning' ? 'Lightning' : 'On-chain'}>
                    <Icon name={row.kind === 'lightning' ? 'bolt' : 'chain'} />
                    <span className={`kind-direction direction-${row.direction}`}>
                      <Icon name={row.direction === 'sent' ? 'out' : 'in'} size={10} />
                    </span>
                    <span className="sr-only">{row.kind === 'lightning' ? 'Lightning' : 'On-chain'}</span>
                  </span>
                </td>
                <td>
                  <div className="cell-main">{description(row)}</div>
                  <div className="cell-sub mono" title={row.id}>
                    {row.id.slice(0, 10)}…{row.id.slice(-6)}
                  </div>
                </td>
                <td className="muted nowrap">{formatDate(row.timestamp)}</td>
                <td>
                  <span className={`badge ${statusTone(row)}`} data-testid="history-status">
                    {statusText(row)}
                  </span>
                </td>
                <td className="num nowrap">
                  <Amount msat={row.amountMsat} sign testId="history-amount" />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
