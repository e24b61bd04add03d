import { useEffect, useState, type ReactNode } from 'react';
import { call, errorMessage } from '../api/client.js';
import { useCallResult } from '../api/hooks.js';
import { useStore } from '../store/index.js';
import { Amount } from '../components/Amount.js';
import { CopyButton } from '../components/CopyButton.js';
import { Dialog } from '../components/Dialog.js';
import { Field, InlineError } from '../components/Field.js';
import { AmountError, parseAmountInput, satToBtc } from '../lib/units.js';
import type { ChannelView } from '../store/normalize.js';
import type { ChannelSweep, ChannelSweepsResult } from '../../core/api/client-types.js';

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
  BACKUP: 'Backup',
  FORCE_CLOSE_REQUESTED: 'Force close requested',
};

function stateTone(state: string): string {
  if (state === 'OPEN') return 'badge-ok';
  if (state === 'CLOSED' || state === 'REDEEMED') return '';
  if (state === 'FORCE_CLOSING') return 'badge-bad';
  return 'badge-warn';
}

/** What each sweep kind (watcher/sweeps.ts SweepKind) takes, in words. */
const SWEEP_LABEL: Record<string, string> = {
  to_local: 'Your balance (after the delay)',
  to_remote: 'Your balance',
  htlc_timeout_tx: 'Outgoing payment: HTLC-timeout transaction',
  htlc_success_tx: 'Incoming payment: HTLC-success transaction',
  htlc_tx_output: 'Payment output (after the delay)',
  htlc_claim_preimage: 'Incoming payment claimed with its preimage',
  htlc_claim_timeout: 'Outgoing payment taken back',
  justice_to_local: 'Penalty: the peer\'s balance',
  justice_htlc: 'Penalty: a payment output',
  justice_htlc_tx_output: 'Penalty: a payment transaction output',
  anchor_cpfp: 'Fee bump of the closing transaction (anchor)',
};

const SWEEP_STATUS: Record<ChannelSweep['status'], string> = {
  waiting: 'Locked',
  broadcast: 'Broadcast',
  confirmed: 'Confirmed',
  spent_by_other: 'Taken by the peer',
  dust: 'Too small to sweep',
};

const CLOSE_KIND: Record<NonNullable<ChannelSweepsResult['close_kind']>, string> = {
  mutual: 'Closed cooperatively.',
  local: 'You force-closed this channel: your balance is locked for the delay the peer asked for, then swept to your wallet.',
  remote: 'The peer force-closed this channel: your balance is swept to your wallet.',
  breach: 'The peer published a revoked channel state. Penalty transactions take all of its funds for you.',
};

/** States in which the funding output is spent on chain (a close to follow). */
const ONCHAIN_STATES = ['FORCE_CLOSING', 'CLOSED', 'REDEEMED'];

/** Channels: list with balance bars, open dialog, cooperative and force close with confirmation, on-chain close details, backups. */
export function ChannelsTab() {
  const channels = useStore((s) => s.channels);
  const [opening, setOpening] = useState(false);
  const [closing, setClosing] = useState<ChannelView | null>(null);
  const [forceClosing, setForceClosing] = useState<ChannelView | null>(null);
  const [requesting, setRequesting] = useState<ChannelView | null>(null);
  const [backup, setBackup] = useState<ChannelView | null>(null);
  const [importing, setImporting] = useState(false);
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
        <div className="row">
          <button type="button" className="btn btn-secondary" onClick={() => setImporting(true)}>
            Import backup
          </button>
          <button type="button" className="btn btn-primary" onClick={() => setOpening(true)}>
            Open channel
          </button>
        </div>
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
            <ChannelCard
              key={c.channelPoint}
              channel={c}
              onClose={() => setClosing(c)}
              onForceClose={() => (c.type === 'BACKUP' ? setRequesting(c) : setForceClosing(c))}
              onBackup={() => setBackup(c)}
            />
          ))}
        </ul>
      )}
      {opening && <OpenChannelDialog onClose={() => setOpening(false)} />}
      {closing && <CloseChannelDialog channel={closing} onClose={() => setClosing(null)} />}
      {forceClosing && <ForceCloseDialog channel={forceClosing} onClose={() => setForceClosing(null)} />}
      {requesting && <RequestForceCloseDialog channel={requesting} onClose={() => setRequesting(null)} />}
      {backup && <BackupDialog channel={backup} onClose={() => setBackup(null)} />}
      {importing && <ImportBackupDialog onClose={() => setImporting(false)} />}
    </section>
  );
}

function ChannelCard({ channel: c, onClose, onForceClose, onBackup }: { channel: ChannelView; onClose(): void; onForceClose(): void; onBackup(): void }) {
  const localPct = c.capacitySat > 0 ? (c.localSat / c.capacitySat) * 100 : 0;
  const remotePct = c.capacitySat > 0 ? (c.remoteSat / c.capacitySat) * 100 : 0;
  const backupOnly = c.type === 'BACKUP';
  const closable = !backupOnly && (c.state === 'OPEN' || c.state === 'FUNDED');
  const forceClosable = backupOnly ? c.state === 'BACKUP' || c.state === 'FORCE_CLOSE_REQUESTED' : ['FUNDED', 'OPEN', 'SHUTDOWN'].includes(c.state);
  const onchain = ONCHAIN_STATES.includes(c.state);
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
          {forceClosable && !backupOnly && (
            <button type="button" className="btn btn-secondary btn-small" onClick={onBackup}>
              Backup
            </button>
          )}
          {closable && (
            <button type="button" className="btn btn-secondary btn-small" onClick={onClose}>
              Close
            </button>
          )}
          {forceClosable && (
            <button type="button" className="btn btn-danger btn-small" onClick={onForceClose}>
              {backupOnly ? 'Request force close' : 'Force close'}
            </button>
          )}
        </div>
      </div>
      {onchain ? (
        <OnchainClose channel={c} />
      ) : backupOnly ? (
        <div className="small muted" data-testid="channel-backup-only">
          Restored from a backup: this channel cannot be used. Ask the peer to force close it; your balance then returns to your on-chain wallet.
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

/**
 * A channel closed on chain: how it closed, the closing transaction, what is still locked and
 * until which block, and each sweep (txid, status, lock height) with a link to its History entry.
 * Read with get_channel_sweeps, again at every new block and state change.
 */
function OnchainClose({ channel: c }: { channel: ChannelView }) {
  const height = useStore((s) => s.info?.blockchain_height ?? null);
  // `c` is a new object at every channel event (the watcher announces sweep changes).
  const { result: data, error } = useCallResult(() => call('get_channel_sweeps', { channel_point: c.channelPoint }), [c, height]);

  if (error) return <InlineError>{error}</InlineError>;
  if (!data) return <div className="small muted">Loading the on-chain close…</div>;
  if (data.close_kind === 'mutual' || (data.close_kind === null && data.sweeps.length === 0 && c.state !== 'FORCE_CLOSING')) {
    return (
      <div className="small muted" data-testid="channel-final">
        Your final balance of <Amount sat={c.localSat} /> went back to your on-chain wallet.
      </div>
    );
  }
  const tip = data.tip_height;
  const waitingOnParent = data.sweeps.some((s) => s.status === 'waiting' && s.spendable_height === null);
  return (
    <div className="stack small" data-testid="channel-onchain" data-close-kind={data.close_kind ?? ''}>
      {data.close_kind && (
        <div className={data.close_kind === 'breach' ? 'warning' : ''} data-testid="channel-close-kind">
          {CLOSE_KIND[data.close_kind]}
        </div>
      )}
      {data.closing_txid && (
        <div className="row-between">
          <span>
            Closing transaction{' '}
            {data.close_kind !== null && (
              <span className="muted" data-testid="channel-closing-height">
                {data.closing_height !== null ? `confirmed in block ${data.closing_height}` : 'waiting for confirmation'}
              </span>
            )}
          </span>
          <TxLink txid={data.closing_txid} testId="channel-closing-txid" inHistory={false} />
        </div>
      )}
      {data.locked_sat > 0 ? (
        <div data-testid="channel-locked">
          <Amount sat={data.locked_sat} testId="channel-locked-amount" /> still locked
          {data.locked_until_height !== null ? (
            <>
              {' '}until block <strong data-testid="channel-locked-until">{data.locked_until_height}</strong>
              {tip !== null && data.locked_until_height > tip + 1 && <> (in {data.locked_until_height - tip - 1} blocks)</>}
            </>
          ) : waitingOnParent ? (
            <> until the closing transaction confirms{data.to_self_delay !== null && <>, then {data.to_self_delay} more blocks</>}</>
          ) : (
            <> until the sweeps confirm</>
          )}
          .
        </div>
      ) : (
        data.sweeps.length > 0 && (
          <div className="muted" data-testid="channel-unlocked">
            Nothing is locked any more: every output is swept{c.state === 'REDEEMED' ? ' and deep enough in the chain' : ''}.
          </div>
        )
      )}
      {data.sweeps.length > 0 && (
        <ul className="sweep-list" aria-label="Sweeps of the closing transaction">
          {data.sweeps.map((s) => (
            <li key={s.outpoint} className="sweep-row" data-testid="channel-sweep" data-kind={s.kind} data-status={s.status}>
              <div className="row-between">
                <span>
                  {SWEEP_LABEL[s.kind] ?? s.kind} · <Amount sat={s.amount_sat} />
                </span>
                <span className={`badge ${s.status === 'confirmed' ? 'badge-ok' : s.status === 'spent_by_other' ? 'badge-bad' : 'badge-warn'}`}>
                  {SWEEP_STATUS[s.status]}
                  {s.status === 'waiting' && s.spendable_height !== null && ` until block ${s.spendable_height}`}
                  {s.status === 'confirmed' && s.confirmed_height !== null && ` in block ${s.confirmed_height}`}
                </span>
              </div>
              {s.txid && <TxLink txid={s.txid} testId="channel-sweep-txid" inHistory={s.status !== 'waiting'} />}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

/**
 * A txid with copy and, for a transaction of the wallet (`inHistory`: a sweep paying it, once
 * broadcast; the closing transaction pays no wallet address), a link to its History entry.
 */
function TxLink({ txid, testId, inHistory }: { txid: string; testId: string; inHistory: boolean }) {
  return (
    <span className="row">
      <code className="mono truncate" title={txid} data-testid={testId}>
        {txid}
      </code>
      <CopyButton text={txid} label="Copy transaction id" compact />
      {inHistory && (
        <button type="button" className="btn btn-ghost btn-small" onClick={() => useStore.getState().showInHistory(txid)}>
          History
        </button>
      )}
    </span>
  );
}

/** Busy/error state of a dialog's one action: `run(action)` clears the error, awaits the action and shows its failure (errorMessage). */
function useAction() {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const run = async (action: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await action();
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return { error, setError, busy, run };
}

/** A dialog's outcome: the success message (`testId`), an optional monospace `detail` (a txid or channel point) and a Done button. */
function DoneStep(props: { testId: string; detail?: string; detailTestId?: string; onClose(): void; children: ReactNode }) {
  return (
    <div className="stack">
      <div className="success" role="status" data-testid={props.testId}>
        {props.children}
      </div>
      {props.detail && (
        <div className="mono break small" data-testid={props.detailTestId}>
          {props.detail}
        </div>
      )}
      <div className="row-end">
        <button type="button" className="btn btn-primary" onClick={props.onClose}>
          Done
        </button>
      </div>
    </div>
  );
}

/**
 * Cancel and confirm buttons, both disabled while `busy`. Without `onConfirm` the confirm button submits
 * its form; `danger` styles it as a destructive action.
 */
function DialogActions(props: { onCancel(): void; busy: boolean; label: string; busyLabel: string; onConfirm?(): Promise<void>; danger?: boolean; testId?: string }) {
  const { onConfirm } = props;
  return (
    <div className="row-end">
      <button type="button" className="btn btn-ghost" onClick={props.onCancel} disabled={props.busy}>
        Cancel
      </button>
      <button
        type={onConfirm ? 'button' : 'submit'}
        className={props.danger ? 'btn btn-danger' : 'btn btn-primary'}
        onClick={onConfirm && (() => void onConfirm())}
        disabled={props.busy}
        data-testid={props.testId}
      >
        {props.busy ? props.busyLabel : props.label}
      </button>
    </div>
  );
}

function ForceCloseDialog({ channel, onClose }: { channel: ChannelView; onClose(): void }) {
  const { error, busy, run } = useAction();
  const [txid, setTxid] = useState<string | null>(null);
  const forceClose = () =>
    run(async () => {
      setTxid(await call('close_channel', { channel_point: channel.channelPoint, force: true }));
      void useStore.getState().refresh('channels', 'balance', 'history');
    });
  return (
    <Dialog title="Force close channel" onClose={onClose}>
      {txid ? (
        <DoneStep testId="force-close-success" detail={txid} detailTestId="force-close-txid" onClose={onClose}>
          Your latest channel state is published. The channel card shows until which block your balance stays locked.
        </DoneStep>
      ) : (
        <div className="stack">
          <p>
            Publish your latest channel state without the peer? Use this only when the peer is gone or does not answer: your balance of{' '}
            <Amount sat={channel.localSat} /> stays locked for the delay the peer asked for (often a day or more), and you pay the on-chain fees.
          </p>
          {error && <InlineError testId="force-close-error">{error}</InlineError>}
          <DialogActions onCancel={onClose} busy={busy} label="Force close" busyLabel="Closing…" onConfirm={forceClose} danger testId="force-close-confirm" />
        </div>
      )}
    </Dialog>
  );
}

/** For a channel known only from a backup: asks its peer to force close (request_force_close). */
function RequestForceCloseDialog({ channel, onClose }: { channel: ChannelView; onClose(): void }) {
  const { error, busy, run } = useAction();
  const [done, setDone] = useState<string | null>(null);
  const request = () =>
    run(async () => {
      setDone(await call('request_force_close', { channel_point: channel.channelPoint }));
      void useStore.getState().refresh('channels');
    });
  return (
    <Dialog title="Request force close" onClose={onClose}>
      {done ? (
        <DoneStep testId="request-force-close-success" onClose={onClose}>
          {done}
        </DoneStep>
      ) : (
        <div className="stack">
          <p>Connect to the peer and ask it to publish its channel state? Your balance is swept to your wallet once that transaction confirms.</p>
          {error && <InlineError>{error}</InlineError>}
          <DialogActions onCancel={onClose} busy={busy} label="Request force close" busyLabel="Requesting…" onConfirm={request} danger />
        </div>
      )}
    </Dialog>
  );
}

/** Shows a channel's static backup (export_channel_backup) to copy and keep. */
function BackupDialog({ channel, onClose }: { channel: ChannelView; onClose(): void }) {
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    call('export_channel_backup', { channel_point: channel.channelPoint }).then(setText, (err: unknown) => setError(errorMessage(err)));
  }, [channel.channelPoint]);
  return (
    <Dialog title="Channel backup" onClose={onClose} wide>
      <div className="stack">
        <p>
          Keep this backup with your seed. A wallet restored from the same seed imports it and asks the peer to close the channel, which returns your balance on chain. It is encrypted
          with a key from your seed.
        </p>
        {error && <InlineError>{error}</InlineError>}
        {text && (
          <>
            <div className="mono break small" data-testid="backup-text">
              {text}
            </div>
            <div className="row-end">
              <CopyButton text={text} label="Copy channel backup" />
            </div>
          </>
        )}
        <div className="row-end">
          <button type="button" className="btn btn-primary" onClick={onClose}>
            Done
          </button>
        </div>
      </div>
    </Dialog>
  );
}

/** Imports a channel backup of this wallet (import_channel_backup); it is listed as a backup channel. */
function ImportBackupDialog({ onClose }: { onClose(): void }) {
  const [text, setText] = useState('');
  const { error, setError, busy, run } = useAction();
  const [done, setDone] = useState<string | null>(null);
  const submit = async () => {
    if (!text.trim()) return setError('Paste a channel backup');
    await run(async () => {
      setDone(await call('import_channel_backup', { encrypted: text.trim() }));
      void useStore.getState().refresh('channels');
    });
  };
  return (
    <Dialog title="Import channel backup" onClose={onClose}>
      {done ? (
        <DoneStep testId="import-backup-success" onClose={onClose}>
          {done}
        </DoneStep>
      ) : (
        <form onSubmit={(e) => (e.preventDefault(), void submit())} className="stack">
          <Field label="Backup" value={text} onChange={(v) => (setText(v), setError(null))} error={error} multiline rows={4} testId="import-backup-text" autoFocus />
          <DialogActions onCancel={onClose} busy={busy} label="Import" busyLabel="Importing…" />
        </form>
      )}
    </Dialog>
  );
}

function OpenChannelDialog(props: { onClose(): void }) {
  const { unit, balance } = useStore();
  const [peer, setPeer] = useState('');
  const [amountText, setAmountText] = useState('');
  const [zeroconf, setZeroconf] = useState(false);
  const [peerError, setPeerError] = useState<string | null>(null);
  const [amountError, setAmountError] = useState<string | null>(null);
  const { error, setError, busy, run } = useAction();
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
    await run(async () => {
      setResult(await call('open_channel', { connection_string: p, amount: satToBtc(amountSat), zeroconf }));
      void useStore.getState().refresh('channels', 'balance', 'history');
    });
  };

  return (
    <Dialog title="Open channel" onClose={props.onClose}>
      {result ? (
        <DoneStep testId="open-success" detail={result} onClose={props.onClose}>
          Channel funding transaction broadcast. {zeroconf ? 'The channel opens as soon as the peer sees it (zero-conf).' : 'The channel opens after it confirms.'}
        </DoneStep>
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
          <label className="checkbox">
            <input type="checkbox" checked={zeroconf} onChange={(e) => setZeroconf(e.target.checked)} data-testid="open-zeroconf" />
            Zero-conf: usable before the funding confirms (only peers that trust you accept it)
          </label>
          {error && <InlineError testId="open-error">{error}</InlineError>}
          <DialogActions onCancel={props.onClose} busy={busy} label="Open channel" busyLabel="Opening…" />
        </form>
      )}
    </Dialog>
  );
}

function CloseChannelDialog({ channel, onClose }: { channel: ChannelView; onClose(): void }) {
  const { error, busy, run } = useAction();
  const [txid, setTxid] = useState<string | null>(null);
  const close = () =>
    run(async () => {
      setTxid(await call('close_channel', { channel_point: channel.channelPoint }));
      void useStore.getState().refresh('channels', 'balance', 'history');
    });
  return (
    <Dialog title="Close channel" onClose={onClose}>
      {txid ? (
        <DoneStep testId="close-success" detail={txid} detailTestId="close-txid" onClose={onClose}>
          Channel closed cooperatively. Your <Amount sat={channel.localSat} /> return on-chain once the closing transaction confirms.
        </DoneStep>
      ) : (
        <div className="stack">
          <p>
            Close this channel with its peer? Your balance of <Amount sat={channel.localSat} /> goes back to your on-chain wallet, minus the closing fee.
          </p>
          {error && <InlineError>{error}</InlineError>}
          <DialogActions onCancel={onClose} busy={busy} label="Close channel" busyLabel="Closing…" onConfirm={close} danger />
        </div>
      )}
    </Dialog>
  );
}
