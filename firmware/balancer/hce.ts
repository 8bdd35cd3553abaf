// The health check engine of one pool (relayd's hce.c): every interval it checks each host
// that is not parked, all at once, waits for the whole round, and hands the results over in
// one batch, so the pool applies hysteresis and writes its firewall table once per round.
// A check that has not settled by its timeout plus a margin ends as check-timeout.

import type { Clock, TimerHandle } from '../os/clock.js';
import type { CheckResult, CheckTarget, HealthCheck } from './check.js';

/** Time past the check's own timeout before the engine gives up on it (spawn and teardown). */
export const BACKSTOP_MS = 1500;

export interface RoundTarget<H> {
  host: H;
  target: CheckTarget;
}

export interface SchedulerOptions<H> {
  clock: Clock;
  check: HealthCheck;
  intervalMs: number;
  timeoutMs: number;
  /** The hosts to check this round, read when the round starts. */
  targets: () => RoundTarget<H>[];
  /** Called once per round with every result, in target order. */
  roundDone: (results: (readonly [H, CheckResult])[]) => void | Promise<void>;
}

export class CheckScheduler<H> {
  private timer: TimerHandle | undefined;
  private stopped = true;
  private generation = 0;
  rounds = 0;

  constructor(private options: SchedulerOptions<H>) {}

  /** Starts with a round at once; a running scheduler restarts with the new options. */
  start(options: SchedulerOptions<H> = this.options): void {
    this.stop();
    this.options = options;
    this.stopped = false;
    this.schedule(0);
  }

  stop(): void {
    this.stopped = true;
    this.generation++;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(delayMs: number): void {
    const generation = this.generation;
    this.timer = this.options.clock.setTimer(delayMs, () => {
      if (generation === this.generation) void this.round(generation);
    });
  }

  private async round(generation: number): Promise<void> {
    const { clock, check, timeoutMs, intervalMs } = this.options;
    const started = clock.monotonic();
    const targets = this.options.targets();
    const results = await Promise.all(targets.map(({ host, target }) => withBackstop(clock, check.run(target), timeoutMs + BACKSTOP_MS).then((r) => [host, r] as const)));
    // A stop or restart while the round ran makes its results stale.
    if (generation !== this.generation || this.stopped) return;
    this.rounds++;
    await this.options.roundDone(results);
    if (generation !== this.generation || this.stopped) return;
    const next = started + intervalMs - clock.monotonic();
    this.schedule(Math.max(0, next));
  }
}

function withBackstop(clock: Clock, pending: Promise<CheckResult>, limitMs: number): Promise<CheckResult> {
  return new Promise((resolve) => {
    const timer = clock.setTimer(limitMs, () => resolve({ outcome: 'check-timeout', detail: `check did not finish within ${limitMs} ms` }));
    pending.then(
      (result) => {
        timer.cancel();
        resolve(result);
      },
      (error: unknown) => {
        timer.cancel();
        resolve({ outcome: 'check-timeout', detail: `check failed: ${(error as Error).message}` });
      },
    );
  });
}
