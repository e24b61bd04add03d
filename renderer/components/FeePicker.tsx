import { useEffect, useId, useState } from 'react';
import { call } from '../api/client.js';
import { etaBlocks, etaText, FEERATE_STEPS, parseFeerate, stepIndexFor, type FeeEstimates } from '../lib/onchain.js';
import { InlineError } from './Field.js';

/** Confirmation targets asked from the server (blocks), as Electrum's fee slider in ETA mode. */
const TARGETS = [1, 2, 6, 25, 144] as const;

export interface FeeMarket {
  /** mempool.get_fee_histogram: [sat/vB, vsize] pairs; empty when unknown or the mempool is empty. */
  histogram: [number, number][];
  /** Server estimates by target (sat/vB); targets without an estimate are absent. */
  estimates: FeeEstimates;
  /** The 2-block estimate (sat/vB, whole), null when the server has none. */
  suggested: number | null;
}

/**
 * Loads the server's fee market once per mount: the mempool histogram (getfeehistogram) and the
 * estimates for 1, 2, 6, 25 and 144 blocks (getfeerate, sat/kvB → sat/vB). Failures (offline,
 * regtest without estimates) leave the parts empty; the ETA then falls back as etaBlocks says.
 */
export function useFeeMarket(): FeeMarket {
  const [market, setMarket] = useState<FeeMarket>({ histogram: [], estimates: new Map(), suggested: null });
  useEffect(() => {
    let live = true;
    void (async () => {
      const histogram = await call('getfeehistogram', {}).then((r) => r.histogram, () => [] as [number, number][]);
      const estimates = new Map<number, number>();
      await Promise.all(
        TARGETS.map(async (target) => {
          const perKvb = await call('getfeerate', { fee_method: 'eta', target }).catch(() => null);
          if (perKvb !== null && perKvb > 0) estimates.set(target, Math.max(1, Math.ceil(perKvb / 1000)));
        }),
      );
      if (live) setMarket({ histogram, estimates, suggested: estimates.get(2) ?? null });
    })();
    return () => {
      live = false;
    };
  }, []);
  return market;
}

/**
 * A fee-rate slider (sat/vB, FEERATE_STEPS) with an exact text field and the ETA of the chosen
 * rate. The text is the source of truth (the parent validates it with parseFeerate on submit);
 * the slider writes a step into it.
 */
export function FeePicker(props: { text: string; onText(text: string): void; fallback: number; market: FeeMarket; error?: string | null; label?: string }) {
  const id = useId();
  const { market } = props;
  let rate: number | null = props.fallback;
  let parseError: string | null = null;
  if (props.text.trim() !== '') {
    try {
      rate = parseFeerate(props.text);
    } catch (err) {
      rate = null;
      parseError = (err as Error).message;
    }
  }
  const largest = Math.max(...market.estimates.keys(), 144);
  const eta = rate === null ? null : etaBlocks(rate, market.histogram, market.estimates);
  const error = props.error ?? parseError;
  return (
    <div className={`field fee-picker ${error ? 'field-invalid' : ''}`}>
      <label htmlFor={`${id}-text`}>{props.label ?? 'Fee rate (sat/vB)'}</label>
      <div className="fee-row">
        <input
          type="range"
          aria-label="Fee rate slider"
          min={0}
          max={FEERATE_STEPS.length - 1}
          step={1}
          value={stepIndexFor(rate ?? props.fallback)}
          aria-valuetext={`${rate ?? props.fallback} sat/vB`}
          onChange={(e) => props.onText(String(FEERATE_STEPS[Number(e.target.value)]))}
          data-testid="feerate-slider"
        />
        <input
          id={`${id}-text`}
          className="fee-text"
          value={props.text}
          placeholder={String(props.fallback)}
          inputMode="decimal"
          spellCheck={false}
          autoComplete="off"
          aria-invalid={error ? true : undefined}
          onChange={(e) => props.onText(e.target.value)}
          data-testid="feerate-input"
        />
      </div>
      {error ? (
        <InlineError>{error}</InlineError>
      ) : (
        <div className="field-hint" data-testid="fee-eta">
          {rate} sat/vB — confirms in {etaText(eta, largest)}
          {market.suggested !== null ? <> · server suggests {market.suggested} sat/vB for 2 blocks</> : <> · no server estimate</>}
        </div>
      )}
    </div>
  );
}
