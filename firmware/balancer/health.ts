// Hysteresis over check results, relayd's hce_notify_done as a pure function: a host that is
// up goes down only after `downAfter` failures in a row, a host that is down comes back only
// after `upAfter` successes in a row, and a host never checked yet takes its first result at
// once. The caller logs `state A -> B` only when `change` is set.

import { isSuccess, type CheckResult, type Outcome } from './check.js';

export type Health = 'unknown' | 'up' | 'down';

export interface Hysteresis {
  downAfter: number;
  upAfter: number;
}

export interface HealthState {
  health: Health;
  /** Results in a row that disagree with `health`: failures while up, successes while down. */
  streak: number;
  /** Monotonic ms of the last change of `health`. */
  since: number;
  checks: number;
  /** Results per outcome since start (telemetry counters). */
  outcomes: Partial<Record<Outcome, number>>;
  last?: CheckResult & { at: number };
  /** The last failed result, kept while later checks pass, for status. */
  lastError?: CheckResult & { at: number };
  /** Round-trip time of the last successful check. */
  rttMs?: number;
}

export function initialHealth(at: number): HealthState {
  return { health: 'unknown', streak: 0, since: at, checks: 0, outcomes: {} };
}

export interface HealthChange {
  from: Health;
  to: Health;
}

export function notifyDone(
  state: HealthState,
  result: CheckResult,
  at: number,
  rules: Hysteresis,
): { state: HealthState; change?: HealthChange } {
  const ok = isSuccess(result.outcome);
  const next: HealthState = {
    ...state,
    checks: state.checks + 1,
    outcomes: { ...state.outcomes, [result.outcome]: (state.outcomes[result.outcome] ?? 0) + 1 },
    last: { ...result, at },
  };
  if (ok && result.rttMs !== undefined) next.rttMs = result.rttMs;
  if (!ok) next.lastError = { ...result, at };

  const target: Health = ok ? 'up' : 'down';
  if (state.health === target) return { state: { ...next, streak: 0 } };
  // A host never checked takes its first result at once, as relayd's HOST_UNKNOWN does.
  const needed = state.health === 'unknown' ? 1 : ok ? rules.upAfter : rules.downAfter;
  const streak = state.streak + 1;
  if (streak < needed) return { state: { ...next, streak } };
  return { state: { ...next, health: target, streak: 0, since: at }, change: { from: state.health, to: target } };
}
