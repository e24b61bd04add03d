/** Inline SVG icons (no font or emoji dependency). Decorative: hidden from assistive technology. */
export function Icon(props: { name: 'bolt' | 'chain' | 'in' | 'out'; size?: number }) {
  const s = props.size ?? 16;
  const common = { width: s, height: s, viewBox: '0 0 24 24', 'aria-hidden': true, fill: 'none', stroke: 'currentColor', strokeWidth: 2, strokeLinecap: 'round', strokeLinejoin: 'round' } as const;
  switch (props.name) {
    case 'bolt':
      return (
        <svg {...common}>
          <path d="M13 2 4 14h7l-1 8 9-12h-7z" fill="currentColor" stroke="none" />
        </svg>
      );
    case 'chain':
      return (
        <svg {...common}>
          <path d="M10 13a5 5 0 0 0 7.5.5l3-3a5 5 0 0 0-7-7l-1.7 1.7" />
          <path d="M14 11a5 5 0 0 0-7.5-.5l-3 3a5 5 0 0 0 7 7l1.7-1.7" />
        </svg>
      );
    case 'in':
      return (
        <svg {...common}>
          <path d="M17 7 7 17M7 8v9h9" />
        </svg>
      );
    case 'out':
      return (
        <svg {...common}>
          <path d="M7 17 17 7M8 7h9v9" />
        </svg>
      );
  }
}
