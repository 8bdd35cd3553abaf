// The last events the bus raised, for `GET /api/events/recent`: a fixed ring buffer (200 by
// the web UI's agreement), filled from the daemon's EventBus since the API started, so a page
// opened later still shows what just happened. Memory is bounded by the capacity.

import type { EventBus, StampedEvent } from '../events.js';

export const RECENT_EVENTS = 200;

export class RecentEvents {
  private readonly ring: (StampedEvent | undefined)[];
  private next = 0;
  private count = 0;

  constructor(readonly capacity = RECENT_EVENTS) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
    this.ring = new Array<StampedEvent | undefined>(capacity);
  }

  push(event: StampedEvent): void {
    this.ring[this.next] = event;
    this.next = (this.next + 1) % this.capacity;
    if (this.count < this.capacity) this.count++;
  }

  /** Oldest first. */
  list(): StampedEvent[] {
    const out: StampedEvent[] = [];
    const start = (this.next - this.count + this.capacity) % this.capacity;
    for (let i = 0; i < this.count; i++) out.push(this.ring[(start + i) % this.capacity]!);
    return out;
  }

  get size(): number {
    return this.count;
  }

  /** Records every event of `bus`; returns the unsubscribe. */
  attach(bus: EventBus): () => void {
    return bus.on((event) => this.push(event));
  }
}
