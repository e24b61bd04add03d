import { useId, type ReactNode } from 'react';

interface FieldProps {
  label: string;
  value: string;
  onChange(value: string): void;
  error?: string | null;
  hint?: ReactNode;
  type?: 'text' | 'password' | 'number';
  placeholder?: string;
  multiline?: boolean;
  rows?: number;
  autoFocus?: boolean;
  disabled?: boolean;
  inputMode?: 'decimal' | 'numeric' | 'text';
  testId?: string;
  autoComplete?: string;
}

/** A labelled input with an inline error (announced to screen readers) and an optional hint. */
export function Field(p: FieldProps) {
  const id = useId();
  const errorId = `${id}-error`;
  const hintId = `${id}-hint`;
  const describedBy = [p.error ? errorId : '', p.hint ? hintId : ''].filter(Boolean).join(' ') || undefined;
  const common = {
    id,
    value: p.value,
    placeholder: p.placeholder,
    disabled: p.disabled,
    autoFocus: p.autoFocus,
    'aria-invalid': p.error ? true : undefined,
    'aria-describedby': describedBy,
    'data-testid': p.testId,
    spellCheck: false,
    autoComplete: p.autoComplete ?? 'off',
  } as const;
  return (
    <div className={`field ${p.error ? 'field-invalid' : ''}`}>
      <label htmlFor={id}>{p.label}</label>
      <div className="field-control">
        {p.multiline ? (
          <textarea {...common} rows={p.rows ?? 3} onChange={(e) => p.onChange(e.target.value)} />
        ) : (
          <input {...common} type={p.type === 'number' ? 'text' : (p.type ?? 'text')} inputMode={p.inputMode} onChange={(e) => p.onChange(e.target.value)} />
        )}
      </div>
      {p.hint && !p.error && (
        <div className="field-hint" id={hintId}>
          {p.hint}
        </div>
      )}
      {p.error && <InlineError id={errorId}>{p.error}</InlineError>}
    </div>
  );
}

/** An error message next to what caused it; `role="alert"` so it is announced. */
export function InlineError(props: { children: ReactNode; id?: string; testId?: string }) {
  return (
    <div className="inline-error" role="alert" id={props.id} data-testid={props.testId ?? 'inline-error'}>
      <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
        <circle cx="8" cy="8" r="7" fill="none" stroke="currentColor" strokeWidth="1.6" />
        <path d="M8 4.2v4.6M8 10.9v.9" stroke="currentColor" strokeWidth="1.8" strokeLinecap="round" />
      </svg>
      <span>{props.children}</span>
    </div>
  );
}
