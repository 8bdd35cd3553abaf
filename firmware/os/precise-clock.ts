// The daemon's clock on Linux: timers on one sub-millisecond alarm (a timerfd in the addon)
// instead of libuv's, which count whole milliseconds and fired CARP's master-down 1-2 ms late
// (scripts/bench/failover: "timer late"). Due times live in a binary heap; the alarm is always
// set for the earliest one.

import type { Clock, TimerHandle, TimerOptions } from './clock.js';

/** What the clock needs from a one-shot alarm (the addon's Alarm, or a fake in tests). */
export interface Alarm {
  /** Fires once, `delayMs` (fractional) from now; replaces an earlier setting. */
  set(delayMs: number): void;
  clear(): void;
  close(): void;
}

interface Entry {
  due: number;
  order: number;
  fire: () => void;
  cancelled: boolean;
  precise: boolean;
}

/** Timers due this close to now run in the same firing rather than re-arming for microseconds. */
const DUE_SLACK_MS = 0.02;
/**
 * How early the alarm is set for a precise timer, the rest spent spinning: after a 20-35 ms
 * idle wait, waking the alarm's thread and then the JS thread took 0.3-0.8 ms here, with a tail
 * past 1.5 ms (scripts/bench/failover). A master-down timer fires once per failover, so a few
 * milliseconds of spinning then cost nothing in steady state.
 */
export const PRECISE_LEAD_MS = 3;

export class PreciseClock implements Clock {
  private readonly heap: Entry[] = [];
  private readonly alarm: Alarm;
  private sequence = 0;
  private live = 0;
  private armedFor: number | undefined;

  constructor(
    makeAlarm: (onFire: () => void) => Alarm,
    private readonly monotonicNow: () => number = () => performance.now(),
    private readonly wallNow: () => number = () => Date.now(),
  ) {
    this.alarm = makeAlarm(() => this.fireDue());
  }

  now(): number {
    return this.wallNow();
  }

  monotonic(): number {
    return this.monotonicNow();
  }

  setTimer(delayMs: number, fire: () => void, options: TimerOptions = {}): TimerHandle {
    const entry: Entry = {
      due: this.monotonic() + Math.max(0, delayMs),
      order: this.sequence++,
      fire,
      cancelled: false,
      precise: options.precise ?? false,
    };
    this.push(entry);
    this.live++;
    this.rearm();
    return {
      cancel: () => {
        if (entry.cancelled) return;
        entry.cancelled = true;
        this.live--;
        if (this.live === 0) this.disarm();
      },
    };
  }

  /** Timers still waiting to fire. */
  get pendingCount(): number {
    return this.live;
  }

  /** Cancels every timer and stops the alarm's thread. */
  close(): void {
    for (const entry of this.heap) entry.cancelled = true;
    this.heap.length = 0;
    this.live = 0;
    this.armedFor = undefined;
    this.alarm.close();
  }

  private fireDue(): void {
    this.armedFor = undefined;
    let now = this.monotonic();
    // Timers set by a callback wait for the next firing, as with setTimeout(0) inside a timer.
    const lastOrder = this.sequence;
    while (this.heap.length > 0) {
      const top = this.heap[0]!;
      if (!top.cancelled && top.precise && top.order < lastOrder && top.due > now && top.due <= now + PRECISE_LEAD_MS) {
        now = this.spinUntil(top.due);
      }
      if (!top.cancelled && (top.due > now + DUE_SLACK_MS || top.order >= lastOrder)) break;
      this.pop();
      if (top.cancelled) continue;
      top.cancelled = true;
      this.live--;
      try {
        top.fire();
      } catch (error) {
        // Like a throwing setTimeout callback: an uncaught exception, but the other timers run.
        process.nextTick(() => {
          throw error;
        });
      }
    }
    this.rearm();
  }

  private rearm(): void {
    while (this.heap.length > 0 && this.heap[0]!.cancelled) this.pop();
    const top = this.heap[0];
    if (!top) {
      this.disarm();
      return;
    }
    if (this.armedFor === top.due) return;
    this.armedFor = top.due;
    const wake = top.precise ? top.due - PRECISE_LEAD_MS : top.due;
    this.alarm.set(Math.max(0, wake - this.monotonic()));
  }

  private spinUntil(due: number): number {
    let now = this.monotonic();
    while (now < due) now = this.monotonic();
    return now;
  }

  private disarm(): void {
    this.armedFor = undefined;
    this.alarm.clear();
    // Cancelled entries are dropped lazily; with nothing live, drop them all at once.
    if (this.live === 0) this.heap.length = 0;
  }

  private before(a: Entry, b: Entry): boolean {
    return a.due < b.due || (a.due === b.due && a.order < b.order);
  }

  private push(entry: Entry): void {
    const heap = this.heap;
    // Cancelled timers leave the heap when they reach the top; many long ones cancelled early
    // would pile up, so rebuild without them once they outnumber the live ones.
    if (heap.length > 2 * this.live + 64) {
      const live = heap.filter((e) => !e.cancelled);
      heap.length = 0;
      for (const kept of live) this.push(kept);
    }
    heap.push(entry);
    let index = heap.length - 1;
    while (index > 0) {
      const parent = (index - 1) >> 1;
      if (!this.before(heap[index]!, heap[parent]!)) break;
      [heap[index], heap[parent]] = [heap[parent]!, heap[index]!];
      index = parent;
    }
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let index = 0;
    for (;;) {
      const left = 2 * index + 1;
      const right = left + 1;
      let smallest = index;
      if (left < heap.length && this.before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && this.before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === index) return;
      [heap[index], heap[smallest]] = [heap[smallest]!, heap[index]!];
      index = smallest;
    }
  }
}
