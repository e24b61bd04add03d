import { useStore } from '../store/index.js';
import { Amount } from './Amount.js';

/** Bottom bar: network, connection to the host and to the Electrum server, height, balances. */
export function StatusBar() {
  const { connection, info, balance, statusError } = useStore();
  let dot: 'ok' | 'warn' | 'bad' = 'bad';
  let text = 'Connecting to Fulmen…';
  if (connection === 'closed') text = 'Fulmen is not reachable — reconnecting…';
  else if (connection === 'open' && statusError) {
    dot = 'warn';
    text = statusError;
  } else if (connection === 'open' && info) {
    if (info.connected) {
      dot = info.blockchain_height < info.server_height ? 'warn' : 'ok';
      text = dot === 'warn' ? `Synchronizing (${info.blockchain_height} / ${info.server_height})` : 'Connected';
    } else {
      dot = 'warn';
      text = 'No server connection';
    }
  }
  return (
    <footer className="statusbar" aria-label="Status" data-testid="status-bar">
      <div className="statusbar-group">
        {info && <span className={`network-badge network-${info.network}`}>{info.network}</span>}
        <span className="status-connection" data-testid="connection-status">
          <span className={`dot dot-${dot}`} aria-hidden="true" />
          {text}
        </span>
        {info && info.blockchain_height > 0 && (
          <span className="muted" data-testid="block-height">
            Block {info.blockchain_height.toLocaleString('en-US')}
          </span>
        )}
      </div>
      {balance && (
        <div className="statusbar-group" data-testid="status-balances">
          <span title="Confirmed on-chain balance">
            <span className="muted">On-chain</span> <Amount sat={balance.confirmedSat} testId="balance-onchain" />
          </span>
          {balance.unconfirmedSat !== 0 && (
            <span title="Waiting for confirmation">
              <span className="muted">Unconfirmed</span> <Amount sat={balance.unconfirmedSat} testId="balance-unconfirmed" />
            </span>
          )}
          {balance.reservedSat !== 0 && (
            <span title="Part of the on-chain balance kept to pay the fees of a force close of your anchor channels; sends cannot spend it">
              <span className="muted">Reserved</span> <Amount sat={balance.reservedSat} testId="balance-reserved" />
            </span>
          )}
          <span title="Spendable over Lightning">
            <span className="muted">Lightning</span> <Amount msat={balance.lightningMsat} testId="balance-lightning" />
          </span>
        </div>
      )}
    </footer>
  );
}
