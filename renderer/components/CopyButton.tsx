import { useEffect, useState } from 'react';

/** Copies `text` to the clipboard; says "Copied" for a moment. `label` names it for screen readers. */
export function CopyButton(props: { text: string; label: string; compact?: boolean }) {
  const [copied, setCopied] = useState(false);
  useEffect(() => {
    if (!copied) return;
    const t = setTimeout(() => setCopied(false), 1500);
    return () => clearTimeout(t);
  }, [copied]);
  return (
    <button
      type="button"
      className={`btn btn-secondary ${props.compact ? 'btn-small' : ''}`}
      aria-label={props.label}
      onClick={() => {
        void navigator.clipboard?.writeText(props.text).then(() => setCopied(true), () => setCopied(false));
      }}
    >
      {copied ? 'Copied' : 'Copy'}
    </button>
  );
}
