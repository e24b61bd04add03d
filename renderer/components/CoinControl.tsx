import { useState } from 'react';
import type { UnspentItem } from '../../core/api/client-types.js';
import { coinConfirmations, coinKey, coinSelectable, spendableCoins } from '../lib/onchain.js';
import { useStore } from '../store/index.js';
import { Amount } from './Amount.js';
import { CoinStatus } from './CoinStatus.js';

/**
 * Coin control for Send (Electrum's "Coins" + `--from_coins`): a collapsible list of our coins
 * with a checkbox each. Nothing chosen means automatic selection over every selectable coin; frozen
 * coins and immature coinbase outputs (< 100 confirmations) are listed but cannot be chosen.
 */
export function CoinControl(props: { coins: UnspentItem[] | null; chosen: ReadonlySet<string>; onChange(next: ReadonlySet<string>): void }) {
  const [open, setOpen] = useState(props.chosen.size > 0);
  const tip = useStore((s) => s.info?.blockchain_height);
  const { coins, chosen } = props;
  const picked = coins ? spendableCoins(coins, chosen) : null;
  const toggle = (key: string) => {
    const next = new Set(chosen);
    if (next.has(key)) next.delete(key);
    else next.add(key);
    props.onChange(next);
  };
  return (
    <div className="coin-control" data-testid="coin-control">
      <div className="row-between">
        <button type="button" className="btn btn-secondary btn-small" aria-expanded={open} onClick={() => setOpen((o) => !o)}>
          Coin control{chosen.size > 0 ? ` (${chosen.size} selected)` : ''}
        </button>
        <span className="muted small" data-testid="coin-control-summary">
          {chosen.size === 0 ? (
            'Coins chosen automatically'
          ) : (
            <>
              Spending {picked?.coins.length ?? 0} coin{picked?.coins.length === 1 ? '' : 's'}: <Amount sat={picked?.totalSat ?? 0} />
            </>
          )}
        </span>
      </div>
      {open &&
        (coins === null ? (
          <p className="muted small">Coins could not be loaded.</p>
        ) : coins.length === 0 ? (
          <p className="muted small">No coins yet.</p>
        ) : (
          <ul className="coin-list" aria-label="Coins to spend">
            {coins.map((c) => {
              const key = coinKey(c);
              const conf = coinConfirmations(c.height, tip);
              return (
                <li key={key} className={`coin-item ${coinSelectable(c) ? '' : 'coin-frozen'}`} data-testid="coin-option" data-coin={key}>
                  <label className="checkbox">
                    <input type="checkbox" checked={chosen.has(key)} disabled={!coinSelectable(c)} onChange={() => toggle(key)} aria-label={`Spend coin ${key}`} />
                    <Amount sat={c.value_sat} />
                  </label>
                  <span className="mono small truncate" title={key}>
                    {c.prevout_hash.slice(0, 10)}…:{c.prevout_n}
                  </span>
                  <span className="small truncate">{c.label || <span className="muted">{c.address.slice(0, 14)}…</span>}</span>
                  <span className="small nowrap">
                    <CoinStatus coin={c} confirmations={conf} />
                  </span>
                </li>
              );
            })}
          </ul>
        ))}
    </div>
  );
}
