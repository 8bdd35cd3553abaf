// Time as a port: the daemon's logic never calls Date.now() or setTimeout directly, so the
// same code runs on the wall clock and on a virtual clock that tests advance by hand
// (the pattern of MQTT.js get-timer.ts).

export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Wall-clock milliseconds since the epoch, for timestamps shown to people. */
  now(): number;
  /** Monotonic milliseconds, for measuring intervals; never jumps with NTP. */
  monotonic(): number;
  setTimer(delayMs: number, fire: () => void, options?: TimerOptions): TimerHandle;
}

export interface TimerOptions {
  /**
   * Fire as close to the due time as the machine allows, at some CPU cost: for a timer that is
   * usually cancelled and whose firing is what a client waits for (CARP's master-down).
   */
  precise?: boolean;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  monotonic: () => performance.now(),
  setTimer(delayMs, fire) {
    const handle = setTimeout(fire, Math.max(0, delayMs));
    return { cancel: () => clearTimeout(handle) };
  },
};

interface PendingTimer {
  due: number;
  order: number;
  fire: () => void;
  cancelled: boolean;
}

/**
 * Virtual time for tests and simulations. Timers fire only inside advance(), in due order;
 * between two timers the microtask queue is drained, so promise chains started by one timer
 * settle before the next one fires, as they would on a real event loop.
 */
export class FakeClock implements Clock {
  private current: number;
  private readonly epochOffset: number;
  private readonly pending: PendingTimer[] = [];
  private sequence = 0;

  constructor(startEpochMs = Date.UTC(2026, 10, 22, 10, 0, 0)) {
    this.current = 0;
    this.epochOffset = startEpochMs;
  }

  now(): number {
    return this.epochOffset + this.current;
  }

  monotonic(): number {
    return this.current;
  }

  setTimer(delayMs: number, fire: () => void): TimerHandle {
    const timer: PendingTimer = {
      due: this.current + Math.max(0, delayMs),
      order: this.sequence++,
      fire,
      cancelled: false,
    };
    this.pending.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  /** Number of timers still waiting to fire. */
  get pendingCount(): number {
    return this.pending.filter((t) => !t.cancelled).length;
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  async advance(ms: number): Promise<void> {
    const target = this.current + ms;
    await settle();
    for (;;) {
      const next = this.takeNextDue(target);
      if (!next) break;
      this.current = next.due;
      next.fire();
      await settle();
    }
    this.current = target;
    await settle();
  }

  private takeNextDue(limit: number): PendingTimer | undefined {
    let bestIndex = -1;
    for (let i = 0; i < this.pending.length; i++) {
      const t = this.pending[i]!;
      if (t.cancelled) continue;
      if (t.due > limit) continue;
      const best = bestIndex >= 0 ? this.pending[bestIndex]! : undefined;
      if (!best || t.due < best.due || (t.due === best.due && t.order < best.order)) bestIndex = i;
    }
    if (bestIndex < 0) {
      this.pending.splice(0, this.pending.length, ...this.pending.filter((t) => !t.cancelled));
      return undefined;
    }
    const [timer] = this.pending.splice(bestIndex, 1);
    return timer;
  }
}

/** Lets pending promise callbacks and immediates run. */
export function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
