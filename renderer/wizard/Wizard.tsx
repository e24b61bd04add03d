import { useMemo, useState, type ReactNode } from 'react';
import { call, errorMessage } from '../api/client.js';
import { useStore } from '../store/index.js';
import { Field, InlineError } from '../components/Field.js';
import { Logo } from '../components/Logo.js';
import { mnemonicShapeError, mnemonicWords, pickConfirmationPositions } from './seedCheck.js';

type Step =
  | { name: 'choose' }
  | { name: 'create-password' }
  | { name: 'show-seed'; seed: string[]; password: string }
  | { name: 'confirm-seed'; seed: string[]; password: string }
  | { name: 'restore' }
  | { name: 'unlock' };

/**
 * First run: create a wallet (seed shown, then three of its words typed back) or restore one from
 * a recovery phrase, with an optional password; then load it. When a wallet file exists but is
 * not loaded, asks for its password instead.
 */
export function Wizard() {
  const info = useStore((s) => s.info);
  const [step, setStep] = useState<Step>(info?.wallet_exists ? { name: 'unlock' } : { name: 'choose' });

  return (
    <main className="wizard">
      <div className="wizard-card" data-testid="wizard">
        <div className="wizard-brand">
          <Logo size={40} />
          <div>
            <h1>Fulmen</h1>
            <p className="muted">Bitcoin and Lightning, in your hands.</p>
          </div>
        </div>
        {step.name === 'choose' && <Choose onCreate={() => setStep({ name: 'create-password' })} onRestore={() => setStep({ name: 'restore' })} />}
        {step.name === 'create-password' && (
          <CreatePassword onBack={() => setStep({ name: 'choose' })} onCreated={(seed, password) => setStep({ name: 'show-seed', seed, password })} />
        )}
        {step.name === 'show-seed' && <ShowSeed seed={step.seed} onNext={() => setStep({ ...step, name: 'confirm-seed' })} />}
        {step.name === 'confirm-seed' && <ConfirmSeed seed={step.seed} password={step.password} onBack={() => setStep({ ...step, name: 'show-seed' })} />}
        {step.name === 'restore' && <Restore onBack={() => setStep({ name: 'choose' })} />}
        {step.name === 'unlock' && <Unlock />}
      </div>
    </main>
  );
}

/**
 * Opens the wallet unless the host already did (the daemon loads a wallet it just created or
 * restored), then leaves the wizard. Returns null then, or the failure's message for the step to
 * show (it stays).
 */
async function tryLoadWallet(password: string): Promise<string | null> {
  try {
    const info = await call('getinfo');
    if (!info.wallet_loaded) await call('load_wallet', password ? { password } : {});
    const store = useStore.getState();
    store.setWalletLoaded(true);
    store.setOnboarding(false);
    await store.refreshAll();
    return null;
  } catch (err) {
    return errorMessage(err);
  }
}

function Choose(props: { onCreate(): void; onRestore(): void }) {
  return (
    <section aria-labelledby="wizard-choose">
      <h2 id="wizard-choose">Set up your wallet</h2>
      <div className="choice-grid">
        <button type="button" className="choice" onClick={props.onCreate}>
          <strong>Create a new wallet</strong>
          <span className="muted">Get a new 12-word recovery phrase.</span>
        </button>
        <button type="button" className="choice" onClick={props.onRestore}>
          <strong>Restore a wallet</strong>
          <span className="muted">Use a recovery phrase you already have.</span>
        </button>
      </div>
    </section>
  );
}

/** Optional password, typed twice. Returns the error to show, or null. */
function passwordError(password: string, again: string): string | null {
  if (password !== again) return 'The two passwords are different';
  return null;
}

function PasswordFields(props: { password: string; again: string; setPassword(v: string): void; setAgain(v: string): void; error: string | null }) {
  return (
    <>
      <Field label="Password (optional)" type="password" value={props.password} onChange={props.setPassword} hint="Encrypts the wallet file on this computer." autoComplete="new-password" />
      <Field label="Repeat password" type="password" value={props.again} onChange={props.setAgain} error={props.error} autoComplete="new-password" />
    </>
  );
}

/**
 * A wizard step as a form: its title (the h2 that labels it, id `labelId`), its fields, and a row
 * of actions: `back` (a ghost button, when given) and the submit button, disabled while `busy`.
 */
function WizardForm(props: {
  labelId: string;
  title: string;
  onSubmit(): Promise<unknown>;
  back?: { label: string; onClick(): void };
  busy: boolean;
  submitLabel: string;
  children: ReactNode;
}) {
  return (
    <form onSubmit={(e) => (e.preventDefault(), void props.onSubmit())} aria-labelledby={props.labelId}>
      <h2 id={props.labelId}>{props.title}</h2>
      {props.children}
      <div className={props.back ? 'row-between' : 'row-end'}>
        {props.back && (
          <button type="button" className="btn btn-ghost" onClick={props.back.onClick}>
            {props.back.label}
          </button>
        )}
        <button type="submit" className="btn btn-primary" disabled={props.busy}>
          {props.submitLabel}
        </button>
      </div>
    </form>
  );
}

function CreatePassword(props: { onBack(): void; onCreated(seed: string[], password: string): void }) {
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    const pwError = passwordError(password, again);
    if (pwError) return setError(pwError);
    setBusy(true);
    setError(null);
    useStore.getState().setOnboarding(true);
    try {
      const result = await call('create', password ? { password } : {});
      props.onCreated(result.seed.split(' '), password);
    } catch (err) {
      useStore.getState().setOnboarding(false);
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <WizardForm labelId="wizard-create" title="Create a new wallet" onSubmit={submit} back={{ label: 'Back', onClick: props.onBack }} busy={busy} submitLabel={busy ? 'Creating…' : 'Create wallet'}>
      <PasswordFields password={password} again={again} setPassword={setPassword} setAgain={setAgain} error={error} />
    </WizardForm>
  );
}

function ShowSeed(props: { seed: string[]; onNext(): void }) {
  const [saved, setSaved] = useState(false);
  return (
    <section aria-labelledby="wizard-seed">
      <h2 id="wizard-seed">Your recovery phrase</h2>
      <p className="muted">Write these {props.seed.length} words on paper, in order. Anyone who has them can take your money; without them a lost computer means lost funds.</p>
      <ol className="seed-grid" data-testid="seed-words" aria-label="Recovery phrase">
        {props.seed.map((w, i) => (
          <li key={i}>
            <span className="seed-index">{i + 1}</span>
            <span className="seed-word">{w}</span>
          </li>
        ))}
      </ol>
      <label className="checkbox">
        <input type="checkbox" checked={saved} onChange={(e) => setSaved(e.target.checked)} />I have written down my recovery phrase
      </label>
      <div className="row-end">
        <button type="button" className="btn btn-primary" disabled={!saved} onClick={props.onNext}>
          Continue
        </button>
      </div>
    </section>
  );
}

function ConfirmSeed(props: { seed: string[]; password: string; onBack(): void }) {
  const positions = useMemo(() => pickConfirmationPositions(props.seed.length, 3), [props.seed]);
  const [typed, setTyped] = useState<Record<number, string>>({});
  const [errors, setErrors] = useState<Record<number, string>>({});
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    const next: Record<number, string> = {};
    for (const p of positions) {
      if ((typed[p] ?? '').trim().toLowerCase() !== props.seed[p]) next[p] = `This is not word #${p + 1} of your phrase`;
    }
    setErrors(next);
    if (Object.keys(next).length) return;
    setBusy(true);
    const failure = await tryLoadWallet(props.password);
    if (failure) (setError(failure), setBusy(false));
  };
  return (
    <WizardForm
      labelId="wizard-confirm"
      title="Confirm your recovery phrase"
      onSubmit={submit}
      back={{ label: 'Show the words again', onClick: props.onBack }}
      busy={busy}
      submitLabel={busy ? 'Opening…' : 'Open wallet'}
    >
      <p className="muted">Type these words from your paper copy.</p>
      <div className="confirm-grid">
        {positions.map((p) => (
          <Field key={p} label={`Word #${p + 1}`} value={typed[p] ?? ''} onChange={(v) => setTyped({ ...typed, [p]: v })} error={errors[p]} />
        ))}
      </div>
      {error && <InlineError>{error}</InlineError>}
    </WizardForm>
  );
}

function Restore(props: { onBack(): void }) {
  const [text, setText] = useState('');
  const [password, setPassword] = useState('');
  const [again, setAgain] = useState('');
  const [phraseError, setPhraseError] = useState<string | null>(null);
  const [pwError, setPwError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    const shape = mnemonicShapeError(text);
    setPhraseError(shape);
    const pw = passwordError(password, again);
    setPwError(pw);
    if (shape || pw) return;
    setBusy(true);
    useStore.getState().setOnboarding(true);
    try {
      await call('restore', { text: mnemonicWords(text).join(' '), ...(password ? { password } : {}) });
    } catch (err) {
      useStore.getState().setOnboarding(false);
      setPhraseError(errorMessage(err));
      setBusy(false);
      return;
    }
    const failure = await tryLoadWallet(password);
    if (failure) (setPwError(failure), setBusy(false));
  };
  return (
    <WizardForm labelId="wizard-restore" title="Restore a wallet" onSubmit={submit} back={{ label: 'Back', onClick: props.onBack }} busy={busy} submitLabel={busy ? 'Restoring…' : 'Restore wallet'}>
      <Field
        label="Recovery phrase"
        multiline
        rows={3}
        value={text}
        onChange={(v) => {
          setText(v);
          setPhraseError(null);
        }}
        error={phraseError}
        placeholder="12 or 24 words separated by spaces"
        testId="mnemonic-input"
      />
      <PasswordFields password={password} again={again} setPassword={setPassword} setAgain={setAgain} error={pwError} />
    </WizardForm>
  );
}

function Unlock() {
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async () => {
    setBusy(true);
    setError(null);
    const failure = await tryLoadWallet(password);
    if (failure) (setError(failure), setBusy(false));
  };
  return (
    <WizardForm labelId="wizard-unlock" title="Open your wallet" onSubmit={submit} busy={busy} submitLabel={busy ? 'Opening…' : 'Open wallet'}>
      <Field label="Password" type="password" value={password} onChange={setPassword} error={error} hint="Leave empty if the wallet has no password." autoFocus autoComplete="current-password" />
    </WizardForm>
  );
}
