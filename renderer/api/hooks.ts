import { useCallback, useEffect, useState, type DependencyList } from 'react';
import { errorMessage } from './client.js';

/**
 * The result of `load` (typically one `call(...)`), run on mount, whenever `deps` change and on
 * `reload()`. `result` is null until the first success and then keeps the latest one; `error` is
 * the message of the latest failure (null again after a success). A load that settles after
 * unmount, or after a newer one started, is dropped.
 */
export function useCallResult<T>(load: () => Promise<T>, deps: DependencyList): { result: T | null; error: string | null; reload(): void } {
  const [result, setResult] = useState<T | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [version, setVersion] = useState(0);
  useEffect(() => {
    let live = true;
    load().then(
      (value) => live && (setResult(value), setError(null)),
      (err: unknown) => live && setError(errorMessage(err)),
    );
    return () => {
      live = false;
    };
    // `load` is a new closure at every render: `deps` say what it reads.
  }, [...deps, version]);
  const reload = useCallback(() => setVersion((v) => v + 1), []);
  return { result, error, reload };
}
