/** Fulmen's mark: a bolt in a rounded square. */
export function Logo(props: { size?: number }) {
  const s = props.size ?? 28;
  return (
    <svg width={s} height={s} viewBox="0 0 32 32" aria-hidden="true">
      <defs>
        <linearGradient id="fulmen-g" x1="0" y1="0" x2="1" y2="1">
          <stop offset="0" stopColor="#7c5cff" />
          <stop offset="1" stopColor="#4f8cff" />
        </linearGradient>
      </defs>
      <rect width="32" height="32" rx="8" fill="url(#fulmen-g)" />
      <path d="M18.5 5 9 18h6l-2 9 10-13.5h-6.2z" fill="#fff" />
    </svg>
  );
}
