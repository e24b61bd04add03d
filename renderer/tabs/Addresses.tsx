import { useMemo, useState } from 'react';
import type { AddressItem } from '../../core/api/client-types.js';
import { call } from '../api/client.js';
import { useCallResult } from '../api/hooks.js';
import { Amount } from '../components/Amount.js';
import { CopyButton } from '../components/CopyButton.js';
import { Dialog } from '../components/Dialog.js';
import { InlineError } from '../components/Field.js';
import { LabelEditor } from '../components/LabelEditor.js';
import { VirtualRows, type Column } from '../components/VirtualRows.js';
import { filterAddresses, type AddressFilter } from '../lib/wallet-views.js';
import { useStore } from '../store/index.js';

const addressKey = (a: AddressItem): string => a.address;
const COLUMNS: readonly Column[] = [
  { title: 'Type', width: '92px' },
  { title: 'Address', width: 'minmax(0, 1fr)' },
  { title: 'Used', width: '80px' },
  { title: 'Coins', width: '64px' },
  { title: 'Balance', width: '150px', num: true },
];

/**
 * The wallet's addresses (listaddresses): receiving and change, used or not, balance and label.
 * Reloaded whenever the history changes. A row opens the address to copy it and edit its label.
 */
export function AddressesView() {
  const history = useStore((s) => s.history);
  const { result: addresses, error, reload } = useCallResult(() => call('listaddresses', {}), [history]);
  const [filter, setFilter] = useState<AddressFilter>({ type: 'all', hideUsed: false });
  const [open, setOpen] = useState<AddressItem | null>(null);

  const shown = useMemo(() => filterAddresses(addresses ?? [], filter), [addresses, filter]);
  if (error) return <InlineError>{error}</InlineError>;
  if (addresses === null) return <p className="muted">Loading addresses…</p>;
  return (
    <>
      <div className="row view-filters">
        <label className="select-inline">
          Show{' '}
          <select value={filter.type} onChange={(e) => setFilter({ ...filter, type: e.target.value as AddressFilter['type'] })} aria-label="Address type">
            <option value="all">All addresses</option>
            <option value="receiving">Receiving</option>
            <option value="change">Change</option>
          </select>
        </label>
        <label className="checkbox">
          <input type="checkbox" checked={filter.hideUsed} onChange={(e) => setFilter({ ...filter, hideUsed: e.target.checked })} /> Hide used
        </label>
        <span className="muted small" data-testid="addresses-count">
          {shown.length} of {addresses.length}
        </span>
      </div>
      <VirtualRows<AddressItem>
        label="Addresses"
        testId="address-list"
        items={shown}
        rowHeight={52}
        columns={COLUMNS}
        height="min(60vh, 560px)"
        rowKey={addressKey}
        onActivate={(a) => setOpen(a)}
        rowProps={(a) => ({ 'data-testid': 'address-row', 'data-address': a.address, 'data-used': String(a.used), 'data-type': a.type })}
        renderRow={(a) => (
          <>
            <span role="cell">
              <span className={`badge ${a.type === 'change' ? '' : 'badge-ok'}`}>{a.type === 'change' ? 'Change' : 'Receiving'}</span>
            </span>
            <span role="cell" className="cell-clip">
              <div className="mono small truncate" title={a.address}>
                {a.address}
              </div>
              <div className="cell-sub truncate">{a.label || <span className="muted">#{a.index}</span>}</div>
            </span>
            <span role="cell" data-testid="address-used">
              {a.used ? 'Used' : <span className="muted">Unused</span>}
            </span>
            <span role="cell">{a.coins}</span>
            <span role="cell" className="num nowrap">
              <Amount sat={a.balance_sat} testId="address-balance" />
            </span>
          </>
        )}
      />
      {open && (
        <Dialog title={open.type === 'change' ? 'Change address' : 'Receiving address'} onClose={() => setOpen(null)}>
          <div className="stack" data-testid="address-details">
            <div className="copy-row">
              <code className="mono break">{open.address}</code>
              <CopyButton text={open.address} label="Copy address" compact />
            </div>
            <p className="muted small">
              Index {open.index} · {open.used ? 'used' : 'unused'} · balance <Amount sat={open.balance_sat} />
            </p>
            <LabelEditor labelKey={open.address} initial={open.label} onSaved={reload} testId="address-label" />
          </div>
        </Dialog>
      )}
    </>
  );
}
