/**
 * Test-only fault injection for crash-safety tests (e2e/crash/kill-points.itest.ts).
 *
 * `FULMEN_CRASH_AT=<point>:<n>` (read once, when this module loads) makes the process kill
 * itself with SIGKILL the n-th time (1-based, counted since start) `crashPoint(<point>)` is
 * reached, e.g. `FULMEN_CRASH_AT=persisted:commitment_signed:3`. Points used by
 * core/lightning/node.ts, for every channel message type `<msg>` (BOLT 2 names):
 *
 *   persisted:<msg>           our state change is committed, the message is not handed to the socket yet
 *   sent:<msg>                the message was handed to the socket
 *   received:<msg>            a message from the peer arrived, nothing of it is persisted yet
 *   received-persisted:<msg>  its state change is committed, before anything else is sent
 *
 * When the variable is unset, `crashPoint` is one comparison against null and a return: the hook
 * costs nothing in production. Never set it outside tests: the process dies without cleanup.
 */

interface CrashTarget {
  point: string;
  occurrence: number;
}

/** Parses `<point>:<n>` (the point itself may contain ':'). Null when unset or malformed. */
export function parseCrashSpec(spec: string | undefined): CrashTarget | null {
  if (!spec) return null;
  const i = spec.lastIndexOf(':');
  if (i <= 0) return null;
  const occurrence = Number(spec.slice(i + 1));
  if (!Number.isInteger(occurrence) || occurrence < 1) return null;
  return { point: spec.slice(0, i), occurrence };
}

const target = parseCrashSpec(process.env.FULMEN_CRASH_AT);
let reached = 0;

/** Test hook: kills this process (SIGKILL) at the configured occurrence of `point`; no-op when unset. */
export function crashPoint(point: string): void {
  if (target === null || point !== target.point) return;
  reached += 1;
  if (reached === target.occurrence) process.kill(process.pid, 'SIGKILL');
}
