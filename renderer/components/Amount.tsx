import { useStore } from '../store/index.js';
import { formatMsat, formatSat } from '../lib/units.js';

/** An amount in the user's unit. Pass `sat` (on-chain, integer) or `msat` (Lightning, bigint). */
export function Amount(props: { sat?: number; msat?: bigint; sign?: boolean; className?: string; testId?: string }) {
  const unit = useStore((s) => s.unit);
  const text = props.msat !== undefined ? formatMsat(props.msat, unit, { sign: props.sign }) : formatSat(props.sat ?? 0, unit, { sign: props.sign });
  const negative = (props.msat ?? BigInt(props.sat ?? 0)) < 0n;
  const tone = props.sign ? (negative ? 'amount-negative' : 'amount-positive') : '';
  return (
    <span className={`amount ${tone} ${props.className ?? ''}`} data-testid={props.testId}>
      {text}
    </span>
  );
}
