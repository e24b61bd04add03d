import type { UnspentItem } from '../../core/api/client-types.js';

/** A coin's state as a badge: frozen, immature coinbase, unconfirmed, else its confirmation count. */
export function CoinStatus(props: { coin: UnspentItem; confirmations: number }) {
  const { coin, confirmations } = props;
  if (coin.frozen) return <span className="badge badge-bad">Frozen</span>;
  if (coin.immature) {
    return (
      <span className="badge badge-warn" title="Coinbase output: spendable after 100 confirmations">
        Immature
      </span>
    );
  }
  if (confirmations === 0) return <span className="badge badge-warn">Unconfirmed</span>;
  return <span className="muted">{confirmations} conf.</span>;
}
