// The power executor (issue 10, item 5): carries out one park or wake of one host. Park: drain
// in the balancer (open connections finish, bounded by drainTimeoutSeconds) → park method →
// verify (the health check fails, or the controller reads off) → parked. Wake: the balancer
// checks the host (`waking`) → wake method → wait until it passes its checks → awake. A method
// that fails or is not verified in time escalates to the fallback once. Decides nothing else:
// the service chooses what to do, the ledger remembers it.

import type { PowerState } from '../balancer/pool.js';
import type { TandemEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Clock } from '../os/clock.js';
import type { DriverHost, DriverResult, PowerDriver } from './driver.js';

/** What the executor sees of a host in its pool. */
export interface PoolObservation {
  health: 'unknown' | 'up' | 'down';
  /** Open connections (or requests in flight) the balancer counts to the host. */
  connections: number;
}

/** The balancer as the executor needs it (Balancer.setPower and its status). */
export interface PowerPoolPort {
  setPower(pool: string, hostId: string, power: PowerState): Promise<void>;
  observe(pool: string, hostId: string): PoolObservation | undefined;
}

/** One way to act: the configured method, its driver (absent: `problem` says why) and its latency. */
export interface MethodPlan {
  method: string;
  seconds: number;
  driver?: PowerDriver;
  problem?: string;
}

export interface ActionTarget {
  name: string;
  pool: string;
  /** The host's id in the balancer's pool. */
  hostId: string;
  driverHost: DriverHost;
  primary: MethodPlan;
  fallback?: MethodPlan;
  /** Drivers that can read the power back (PDU, BMC), whichever method they belong to. */
  readers: PowerDriver[];
}

export interface ActionTiming {
  /** Park only: the longest drain. */
  drainMs: number;
  /** Time the balancer needs to see the change after it happens (check interval × up/downAfter + timeout). */
  detectMs: number;
}

/** How an action ended; the same strings are the counters in status. */
export type ActionOutcome = 'done' | 'escalated' | 'failed' | 'aborted';

export interface ActionResult {
  outcome: ActionOutcome;
  /** The method that did it (or was tried last). */
  method: string;
  /** Park: from the method call to verified down; wake: to healthy. Only when measured. */
  seconds?: number;
  detail: string;
}

export interface ExecutorDeps {
  clock: Clock;
  pools: PowerPoolPort;
  emit(event: TandemEvent): void;
  log: Logger;
  /** How often drains, verifies and wakes look again. */
  pollMs?: number;
  /** How often a controller is asked to read back while verifying. */
  readEveryMs?: number;
  /** The longest a driver call may take before it is abandoned. */
  callTimeoutMs?: number;
}

type Wait = 'met' | 'timeout' | 'aborted';

export class Executor {
  private readonly pollMs: number;
  private readonly readEveryMs: number;
  private readonly callTimeoutMs: number;

  constructor(private readonly deps: ExecutorDeps) {
    this.pollMs = deps.pollMs ?? 250;
    this.readEveryMs = deps.readEveryMs ?? 2_000;
    this.callTimeoutMs = deps.callTimeoutMs ?? 30_000;
  }

  async park(target: ActionTarget, timing: ActionTiming, reason: string, signal: AbortSignal): Promise<ActionResult> {
    const { pools } = this.deps;
    this.event(target, 'park', target.primary.method, 'started', reason);
    await pools.setPower(target.pool, target.hostId, 'draining');
    const drained = await this.waitFor(() => (pools.observe(target.pool, target.hostId)?.connections ?? 0) === 0, timing.drainMs, signal);
    if (drained === 'aborted') return this.aborted(target, 'park', target.primary.method);
    if (drained === 'timeout') this.deps.log.info(`power: ${target.name}: drain timed out with connections open; parking anyway`);

    const first = await this.attempt(target, 'park', target.primary, timing, signal);
    if (first.outcome === 'done' || first.outcome === 'aborted') return this.finishPark(target, first, reason);
    if (!target.fallback) return this.finishPark(target, first, reason);
    this.event(target, 'escalate', target.fallback.method, 'started', `park by ${target.primary.method} ${first.detail}`);
    const second = await this.attempt(target, 'park', target.fallback, timing, signal);
    if (second.outcome === 'done') {
      this.event(target, 'escalate', target.fallback.method, 'done', `parked by ${target.fallback.method}`);
      return this.finishPark(target, { ...second, outcome: 'escalated' }, reason);
    }
    if (second.outcome !== 'aborted') this.event(target, 'escalate', target.fallback.method, 'failed', second.detail);
    return this.finishPark(target, second, reason);
  }

  async wake(target: ActionTarget, timing: ActionTiming, reason: string, signal: AbortSignal): Promise<ActionResult> {
    const { pools } = this.deps;
    this.event(target, 'wake', target.primary.method, 'started', reason);
    // Checked from now on, so its first passing check ends the wake.
    await pools.setPower(target.pool, target.hostId, 'waking');
    const first = await this.attempt(target, 'wake', target.primary, timing, signal);
    if (first.outcome === 'done' || first.outcome === 'aborted' || !target.fallback) return this.finishWake(target, first, reason);
    this.event(target, 'escalate', target.fallback.method, 'started', `wake by ${target.primary.method} ${first.detail}`);
    const second = await this.attempt(target, 'wake', target.fallback, timing, signal);
    if (second.outcome === 'done') {
      this.event(target, 'escalate', target.fallback.method, 'done', `woken by ${target.fallback.method}`);
      return this.finishWake(target, { ...second, outcome: 'escalated' }, reason);
    }
    if (second.outcome !== 'aborted') this.event(target, 'escalate', target.fallback.method, 'failed', second.detail);
    return this.finishWake(target, second, reason);
  }

  private async finishPark(target: ActionTarget, result: ActionResult, reason: string): Promise<ActionResult> {
    const { pools } = this.deps;
    if (result.outcome === 'done' || result.outcome === 'escalated') {
      await pools.setPower(target.pool, target.hostId, 'parked');
      this.event(target, 'park', result.method, 'done', reason, result.seconds !== undefined ? `down after ${result.seconds.toFixed(1)} s` : undefined);
    } else if (result.outcome === 'failed') {
      // Still up as far as anyone can tell: back into the pool rather than hidden from it.
      await pools.setPower(target.pool, target.hostId, 'awake');
      this.event(target, 'park', result.method, 'failed', reason, result.detail);
    }
    return result;
  }

  private async finishWake(target: ActionTarget, result: ActionResult, reason: string): Promise<ActionResult> {
    const { pools } = this.deps;
    if (result.outcome === 'done' || result.outcome === 'escalated') {
      await pools.setPower(target.pool, target.hostId, 'awake');
      this.event(target, 'wake', result.method, 'done', reason, result.seconds !== undefined ? `healthy after ${result.seconds.toFixed(1)} s` : undefined);
    } else if (result.outcome === 'failed') {
      // Not up: out of the checks again, so the pool does not count a host that never came.
      await pools.setPower(target.pool, target.hostId, 'parked');
      this.event(target, 'wake', result.method, 'failed', reason, result.detail);
    }
    return result;
  }

  /** One method: the call, then waiting until the balancer (or a controller) sees its effect. */
  private async attempt(target: ActionTarget, action: 'wake' | 'park', plan: MethodPlan, timing: ActionTiming, signal: AbortSignal): Promise<ActionResult> {
    const call = plan.driver?.[action];
    if (!plan.driver || !call) {
      return { outcome: 'failed', method: plan.method, detail: plan.problem ?? `method ${plan.method} cannot ${action}` };
    }
    const started = this.deps.clock.monotonic();
    const result = await this.call((s) => call.call(plan.driver, target.driverHost, s), signal);
    if (signal.aborted) return { outcome: 'aborted', method: plan.method, detail: 'stopped' };
    if (!result.ok) return { outcome: 'failed', method: plan.method, detail: `failed (${result.failure}: ${result.detail})` };

    const deadlineMs = Math.max(2 * plan.seconds * 1000, plan.seconds * 1000 + timing.detectMs);
    const seen = action === 'park' ? await this.waitDown(target, deadlineMs, signal) : await this.waitUp(target, deadlineMs, signal);
    if (seen === 'aborted') return { outcome: 'aborted', method: plan.method, detail: 'stopped' };
    if (seen === 'timeout') {
      const what = action === 'park' ? 'still answers' : 'not healthy';
      return { outcome: 'failed', method: plan.method, detail: `${what} after ${Math.round(deadlineMs / 1000)} s` };
    }
    const seconds = (this.deps.clock.monotonic() - started) / 1000;
    return { outcome: 'done', method: plan.method, seconds, detail: 'verified' };
  }

  private waitUp(target: ActionTarget, ms: number, signal: AbortSignal): Promise<Wait> {
    return this.waitFor(() => this.deps.pools.observe(target.pool, target.hostId)?.health === 'up', ms, signal);
  }

  /** Down when the checks fail, or sooner when a controller reads the power off. */
  private waitDown(target: ActionTarget, ms: number, signal: AbortSignal): Promise<Wait> {
    let readOff = false;
    let lastRead = -Infinity;
    let reading = false;
    const poll = () => {
      const now = this.deps.clock.monotonic();
      if (target.readers.length > 0 && !reading && now - lastRead >= this.readEveryMs) {
        reading = true;
        lastRead = now;
        void this.readOff(target, signal).then((off) => {
          readOff ||= off;
          reading = false;
        });
      }
      return readOff || this.deps.pools.observe(target.pool, target.hostId)?.health === 'down';
    };
    return this.waitFor(poll, ms, signal);
  }

  private async readOff(target: ActionTarget, signal: AbortSignal): Promise<boolean> {
    for (const reader of target.readers) {
      const result = await this.call(async (s) => {
        const r = await reader.read!(target.driverHost, s);
        return r.ok ? { ok: true, detail: r.reading } : r;
      }, signal);
      if (result.ok && result.detail === 'off') return true;
    }
    return false;
  }

  /** A driver call bounded by callTimeoutMs and the action's own signal. */
  private call(run: (signal: AbortSignal) => Promise<DriverResult>, outer: AbortSignal): Promise<DriverResult> {
    const controller = new AbortController();
    const abort = () => controller.abort();
    outer.addEventListener('abort', abort, { once: true });
    return new Promise<DriverResult>((resolve) => {
      const timer = this.deps.clock.setTimer(this.callTimeoutMs, () => {
        controller.abort();
        resolve({ ok: false, failure: 'unreachable', detail: `no answer within ${this.callTimeoutMs / 1000} s` });
      });
      run(controller.signal)
        .then(resolve, (error: Error) => resolve({ ok: false, failure: 'refused', detail: error.message }))
        .finally(() => {
          timer.cancel();
          outer.removeEventListener('abort', abort);
        });
    });
  }

  /** Polls `met` on the clock until it holds, `ms` pass, or the action is stopped. */
  private waitFor(met: () => boolean, ms: number, signal: AbortSignal): Promise<Wait> {
    const { clock } = this.deps;
    const deadline = clock.monotonic() + ms;
    return new Promise<Wait>((resolve) => {
      const look = () => {
        if (signal.aborted) return resolve('aborted');
        if (met()) return resolve('met');
        if (clock.monotonic() >= deadline) return resolve('timeout');
        clock.setTimer(Math.min(this.pollMs, Math.max(0, deadline - clock.monotonic())), look);
      };
      look();
    });
  }

  private aborted(target: ActionTarget, action: 'wake' | 'park', method: string): ActionResult {
    this.deps.log.info(`power: ${target.name}: ${action} stopped`);
    return { outcome: 'aborted', method, detail: 'stopped' };
  }

  private event(target: ActionTarget, action: 'wake' | 'park' | 'escalate' | 'verify', method: string, outcome: 'started' | 'done' | 'failed', reason: string, detail?: string): void {
    const level = outcome === 'failed' ? 'warn' : 'info';
    this.deps.log[level](`power: ${target.name}: ${action} by ${method} ${outcome}: ${reason}${detail ? ` (${detail})` : ''}`, { host: target.name });
    this.deps.emit({ type: 'powerAction', host: target.name, action, method, outcome, reason, ...(detail !== undefined ? { detail } : {}) });
  }
}
