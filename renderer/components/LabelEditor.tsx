import { useEffect, useState } from 'react';
import { call, errorMessage } from '../api/client.js';
import { useStore } from '../store/index.js';
import { Field } from './Field.js';

/** Longest label the GUI stores (BIP329 sets no limit; this keeps rows and exports readable). */
export const MAX_LABEL_LENGTH = 255;

/**
 * Edits the label of a txid, an address or a coin (txid:vout) with `setlabel`; an empty label
 * removes it. Too long a label gets an inline message and nothing is stored.
 */
export function LabelEditor(props: { labelKey: string; initial: string; onSaved?(label: string): void; testId?: string }) {
  const [text, setText] = useState(props.initial);
  /** The label as stored (the prop until a save). */
  const [stored, setStored] = useState(props.initial);
  const [error, setError] = useState<string | null>(null);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    setText(props.initial);
    setStored(props.initial);
  }, [props.initial, props.labelKey]);
  const save = async () => {
    setSaved(false);
    const label = text.trim();
    if (label.length > MAX_LABEL_LENGTH) return setError(`A label has at most ${MAX_LABEL_LENGTH} characters`);
    setBusy(true);
    try {
      await call('setlabel', { key: props.labelKey, label });
      setError(null);
      setSaved(true);
      setStored(label);
      props.onSaved?.(label);
      void useStore.getState().refresh('history');
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <form className="label-editor" onSubmit={(e) => (e.preventDefault(), void save())}>
      <Field
        label="Label"
        value={text}
        onChange={(v) => {
          setText(v);
          setError(null);
          setSaved(false);
        }}
        error={error}
        placeholder="Add a label"
        testId={props.testId ?? 'label-input'}
        hint={saved ? 'Saved' : undefined}
      />
      <button type="submit" className="btn btn-secondary btn-small" disabled={busy || text.trim() === stored}>
        Save label
      </button>
    </form>
  );
}
