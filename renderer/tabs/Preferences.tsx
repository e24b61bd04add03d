import { useEffect, useMemo, useState } from 'react';
import { call, errorMessage } from '../api/client.js';
import { useStore } from '../store/index.js';
import { Field, InlineError } from '../components/Field.js';
import { serverBanViews } from '../lib/server-bans.js';
import { UNITS } from '../lib/units.js';

/** A config key edited as text and saved with setconfig. */
function ConfigField(props: { configKey: string; label: string; placeholder: string; hint: string; validate(value: string): string | null; testId: string }) {
  const [value, setValue] = useState('');
  const [loaded, setLoaded] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const { configKey } = props;
  useEffect(() => {
    call('getconfig', { key: configKey }).then(
      (v) => {
        setValue(v === null || v === undefined ? '' : String(v));
        setLoaded(true);
      },
      (err) => setError(errorMessage(err)),
    );
  }, [configKey]);
  const save = async () => {
    const v = value.trim();
    const invalid = v ? props.validate(v) : null;
    setError(invalid);
    setSaved(false);
    if (invalid) return;
    try {
      await call('setconfig', { key: configKey, value: v || null });
      setSaved(true);
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  return (
    <form className="pref-row" onSubmit={(e) => (e.preventDefault(), void save())}>
      <Field label={props.label} value={value} onChange={(v) => (setValue(v), setSaved(false), setError(null))} error={error} placeholder={props.placeholder} hint={saved ? 'Saved. Takes effect after a restart.' : props.hint} disabled={!loaded} testId={props.testId} />
      <button type="submit" className="btn btn-secondary" disabled={!loaded} aria-label={`Save ${props.label}`}>
        Save
      </button>
    </form>
  );
}

/**
 * The Electrum servers banned for lying (store slice `serverBans`: list_server_bans, kept current
 * by `server_bans` events, so a ban made while the tab is open shows at once): server, reason and
 * expiry in local time, each with an Unban button (unban_server; its event updates the list).
 * Read again when the tab opens, which drops bans that have expired. Errors (e.g. NETWORK when
 * offline, NOT_FOUND when the ban just expired: the list is then read again) show inline.
 */
function ServerBans() {
  const serverBans = useStore((s) => s.serverBans);
  const serverBansError = useStore((s) => s.serverBansError);
  const refresh = useStore((s) => s.refresh);
  const bans = useMemo(() => serverBans && serverBanViews(serverBans), [serverBans]);
  const [unbanError, setUnbanError] = useState<string | null>(null);
  const [unbanning, setUnbanning] = useState<string | null>(null);
  useEffect(() => {
    void refresh('serverBans');
  }, [refresh]);
  const unban = async (server: string) => {
    setUnbanning(server);
    setUnbanError(null);
    try {
      await call('unban_server', { server });
    } catch (err) {
      setUnbanError(errorMessage(err));
      await refresh('serverBans');
    }
    setUnbanning(null);
  };
  const error = unbanError ?? serverBansError;
  return (
    <fieldset className="fieldset">
      <legend>Banned servers</legend>
      <p className="field-hint">Servers caught sending invalid headers, proofs or answers are not used until their ban ends.</p>
      {bans?.length === 0 && <p className="muted">No server is banned</p>}
      {bans && bans.length > 0 && (
        <ul className="plain-list" aria-label="Banned servers">
          {bans.map((b) => (
            <li key={b.server} className="row-between ban-row" data-testid="server-ban">
              <div className="ban-text">
                <code className="mono break">{b.server}</code>
                <div className="small">{b.reason}</div>
                <div className="muted small">Banned until {b.until}</div>
              </div>
              <button type="button" className="btn btn-secondary btn-small" disabled={unbanning !== null} aria-label={`Unban ${b.server}`} onClick={() => void unban(b.server)}>
                Unban
              </button>
            </li>
          ))}
        </ul>
      )}
      {error && <InlineError testId="server-bans-error">{error}</InlineError>}
    </fieldset>
  );
}

/** `host:port` with an optional `:s`/`:t` protocol suffix (Electrum's server string). */
function serverError(v: string): string | null {
  return /^[A-Za-z0-9.\-[\]:]+:\d{1,5}(:[st])?$/.test(v) ? null : 'Use host:port, optionally followed by :s (TLS) or :t (plain)';
}

function listenError(v: string): string | null {
  return /^[A-Za-z0-9.\-[\]:]+:\d{1,5}$/.test(v) ? null : 'Use host:port, for example 127.0.0.1:9735';
}

/** Preferences: display unit, Electrum server and its bans, Lightning listen address (getconfig/setconfig, list_server_bans). */
export function PreferencesTab() {
  const { unit, setUnit, info } = useStore();
  const [unitError, setUnitError] = useState<string | null>(null);
  return (
    <section aria-labelledby="prefs-title" className="panel panel-narrow">
      <div className="panel-header">
        <h1 id="prefs-title">Preferences</h1>
      </div>
      <fieldset className="fieldset">
        <legend>Display unit</legend>
        <div className="segmented" role="radiogroup" aria-label="Display unit">
          {UNITS.map((u) => (
            <label key={u} className={`segment ${unit === u ? 'active' : ''}`}>
              <input type="radio" name="unit" value={u} checked={unit === u} onChange={() => setUnit(u).catch((err) => setUnitError(errorMessage(err)))} />
              {u}
            </label>
          ))}
        </div>
        {unitError && <p className="inline-error">{unitError}</p>}
      </fieldset>
      <ConfigField configKey="server" label="Electrum server" placeholder="electrum.example.org:50002:s" hint="The server that answers for your wallet's addresses. Headers and proofs are always verified." validate={serverError} testId="pref-server" />
      <ServerBans />
      <ConfigField configKey="lightning_listen" label="Lightning listen address" placeholder="127.0.0.1:9735" hint="Accept incoming Lightning connections on this address. Leave empty to not listen." validate={listenError} testId="pref-listen" />
      {info && (
        <dl className="summary small">
          <dt>Network</dt>
          <dd>{info.network}</dd>
          <dt>Version</dt>
          <dd>{info.version}</dd>
          <dt>Wallet file</dt>
          <dd className="mono break">{info.default_wallet}</dd>
          {info.lightning_node_id && (
            <>
              <dt>Node id</dt>
              <dd className="mono break">{info.lightning_node_id}</dd>
            </>
          )}
        </dl>
      )}
    </section>
  );
}
