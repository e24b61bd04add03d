import { useEffect, useState } from 'react';
import { call, errorMessage } from '../api/client.js';
import { useStore } from '../store/index.js';
import { Amount } from '../components/Amount.js';
import { CopyButton } from '../components/CopyButton.js';
import { Dialog } from '../components/Dialog.js';
import { Field, InlineError } from '../components/Field.js';
import { AmountError, parseAmountInput, satToBtc } from '../lib/units.js';
import type { ChannelView } from '../store/normalize.js';

/** `nodeid[@host[:port]]`, nodeid a 33-byte compressed pubkey in hex (BOLT 1/7). */
const CONNECTION_STRING_RE = /^(02|03)[0-9a-fA-F]{64}(@[^\s@]+)?$/;

const STATE_LABEL: Record<string, string> = {
  PREOPENING: 'Opening',
  OPENING: 'Opening',
  FUNDED: 'Waiting for confirmations',
  OPEN: 'Open',
  SHUTDOWN: 'Closing',
  CLOSING: 'Closing',
  FORCE_CLOSING: 'Force closing',
  CLOSED: 'Closed',
  REDEEMED: 'Closed',
};

function stateTone(state: string): string {
  if (state === 'OPEN') return 'badge-ok';
  if (state === 'CLOSED' || state === 'REDEEMED') return '';
  if (state === 'FORCE_CLOSING') return 'badge-bad';
  return 'badge-warn';
}

/** Channels: list with balance bars, open dialog, cooperative close with confirmation. */
export function ChannelsTab() {
  const channels = useStore((s) => s.channels);
  const [opening, setOpening] = useState(false);
  const [closing, setClosing] = useState<ChannelView | null>(null);
  const [nodeId, setNodeId] = useState<string | null>(null);

  useEffect(() => {
    call('nodeid').then(setNodeId, () => setNodeId(null));
  }, []);

  const active = channels.filter((c) => c.state !== 'CLOSED' && c.state !== 'REDEEMED');
  const closed = channels.filter((c) => c.state === 'CLOSED' || c.state === 'REDEEMED');
  return (
    <section aria-labelledby="channels-title" className="panel">
      <div className="panel-header">
        <h1 id="channels-title">Channels</h1>
        <button type="button" className="btn btn-primary" onClick={() => setOpening(true)}>
          Open channel
        </button>
      </div>
      {nodeId && (
        <div className="node-id">
          <span className="muted">Your node</span>
          <code className="mono truncate" data-testid="node-id" title={nodeId}>
            {nodeId}
          </code>
          <CopyButton text={nodeId} label="Copy node id" compact />
        </div>
      )}
      {channels.length === 0 ? (
        <div className="empty">
          <p>No channels yet.</p>
          <p className="muted">Open a channel to send and receive over Lightning.</p>
        </div>
      ) : (
        <ul className="channel-list" aria-label="Lightning channels">
          {[...active, ...closed].map((c) => (
            <ChannelCard key={c.channelPoint} channel={c} onClose={() => setClosing(c)} />
          ))}
        </ul>
      )}
      {opening && <OpenChannelDialog onClose={() => setOpening(false)} />}
      {closing && <CloseChannelDialog channel={closing} onClose={() => setClosing(null)} />}
    </section>
  );
}

function ChannelCard({ channel: c, onClose }: { channel: ChannelView; onClose(): void }) {
  const localPct = c.capacitySat > 0 ? (c.localSat / c.capacitySat) * 100 : 0;
  const remotePct = c.capacitySat > 0 ? (c.remoteSat / c.capacitySat) * 100 : 0;
  const closable = c.state === 'OPEN' || c.state === 'FUNDED';
  const closed = c.state === 'CLOSED' || c.state === 'REDEEMED';
  return (
    <li className="channel-card" data-testid="channel-row" data-state={c.state} data-channel-point={c.channelPoint}>
      <div className="channel-head">
        <div>
          <div className="cell-main mono" title={c.remotePubkey}>
            {c.remotePubkey.slice(0, 16)}…{c.remotePubkey.slice(-6)}
          </div>
          <div className="cell-sub">
            {c.scid ? <span data-testid="channel-scid">{c.scid}</span> : <span className="muted">No short channel id yet</span>}
            {' · '}
            capacity <Amount sat={c.capacitySat} />
          </div>
        </div>
        <div className="row">
          <span className={`badge ${stateTone(c.state)}`} data-testid="channel-state">
            {STATE_LABEL[c.state] ?? c.state}
          </span>
          {closable && (
            <button type="button" className="btn btn-secondary btn-small" onClick={onClose}>
              Close
            </button>
          )}
        </div>
      </div>
      {closed ? (
        <div className="small muted" data-testid="channel-final">
          Your final balance of <Amount sat={c.localSat} /> went back to your on-chain wallet.
        </div>
      ) : (
        <>
          <div className="balance-bar" role="img" aria-label={`Can send ${c.localSat} sat, can receive ${c.remoteSat} sat`}>
            <div className="balance-local" style={{ width: `${localPct}%` }} />
            <div className="balance-remote" style={{ width: `${remotePct}%` }} />
          </div>
          <div className="row-between small">
            <span>
              <span className="legend legend-local" /> Can send <Amount sat={c.localSat} testId="channel-local" />
            </span>
            <span>
              Can receive <Amount sat={c.remoteSat} testId="channel-remote" /> <span className="legend legend-remote" />
            </span>
          </div>
        </>
      )}
    </li>
  );
}

function OpenChannelDialog(props: { onClose(): void }) {
  const { unit, balance } = useStore();
  const [peer, setPeer] = useState('');
  const [amountText, setAmountText] = useState('');
  const [peerError, setPeerError] = useState<string | null>(null);
  const [amountError, setAmountError] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [result, setResult] = useState<string | null>(null);

  const submit = async () => {
    setError(null);
    const p = peer.trim();
    const badPeer = !CONNECTION_STRING_RE.test(p) ? 'Enter the node as nodeid@host:port (the node id is 66 hex characters)' : null;
    setPeerError(badPeer);
    let amountSat = 0;
    let badAmount: string | null = null;
    try {
      amountSat = parseAmountInput(amountText, unit);
      if (balance && amountSat > balance.confirmedSat) badAmount = 'The amount is more than your confirmed on-chain balance.';
    } catch (err) {
      badAmount = err instanceof AmountError ? err.message : 'Invalid amount';
    }
    setAmountError(badAmount);
    if (badPeer || badAmount) return;
    setBusy(true);
    try {
      const channelPoint = await call('open_channel', { connection_string: p, amount: satToBtc(amountSat) });
      setResult(channelPoint);
      void useStore.getState().refresh('channels', 'balance', 'history');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <Dialog title="Open channel" onClose={props.onClose}>
      {result ? (
        <div className="stack">
          <div className="success" role="status" data-testid="open-success">
            Channel funding transaction broadcast. The channel opens after it confirms.
          </div>
          <div className="mono break small">{result}</div>
          <div className="row-end">
            <button type="button" className="btn btn-primary" onClick={props.onClose}>
              Done
            </button>
          </div>
        </div>
      ) : (
        <form onSubmit={(e) => (e.preventDefault(), void submit())} className="stack">
          <Field label="Node" value={peer} onChange={(v) => (setPeer(v), setPeerError(null))} error={peerError} placeholder="nodeid@host:port" testId="open-peer" autoFocus />
          <Field
            label={`Amount (${unit})`}
            value={amountText}
            onChange={(v) => (setAmountText(v), setAmountError(null))}
            error={amountError}
            inputMode="decimal"
            testId="open-amount"
            hint={balance ? <>Available: <Amount sat={balance.confirmedSat} /></> : undefined}
          />
          {error && <InlineError testId="open-error">{error}</InlineError>}
          <div className="row-end">
            <button type="button" className="btn btn-ghost" onClick={props.onClose} disabled={busy}>
              Cancel
            </button>
            <button type="submit" className="btn btn-primary" disabled={busy}>
              {busy ? 'Opening…' : 'Open channel'}
            </button>
          </div>
        </form>
      )}
    </Dialog>
  );
}

function CloseChannelDialog({ channel, onClose }: { channel: ChannelView; onClose(): void }) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const [txid, setTxid] = useState<string | null>(null);
  const close = async () => {
    setBusy(true);
    setError(null);
    try {
      setTxid(await call('close_channel', { channel_point: channel.channelPoint }));
      void useStore.getState().refresh('channels', 'balance', 'history');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Dialog title="Close channel" onClose={onClose}>
      {txid ? (
        <div className="stack">
          <div className="success" role="status" data-testid="close-success">
            Channel closed cooperatively. Your <Amount sat={channel.localSat} /> return on-chain once the closing transaction confirms.
          </div>
          <div className="mono break small" data-testid="close-txid">
            {txid}
          </div>
          <div className="row-end">
            <button type="button" className="btn btn-primary" onClick={onClose}>
              Done
            </button>
          </div>
        </div>
      ) : (
        <div className="stack">
          <p>
            Close this channel with its peer? Your balance of <Amount sat={channel.localSat} /> goes back to your on-chain wallet, minus the closing fee.
          </p>
          {error && <InlineError>{error}</InlineError>}
          <div className="row-end">
            <button type="button" className="btn btn-ghost" onClick={onClose} disabled={busy}>
              Cancel
            </button>
            <button type="button" className="btn btn-danger" onClick={() => void close()} disabled={busy}>
              {busy ? 'Closing…' : 'Close channel'}
            </button>
          </div>
        </div>
      )}
    </Dialog>
  );
}
