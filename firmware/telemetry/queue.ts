// The telemetry event queue (issue 11 item 5): every event gets the node's next sequence number
// and waits here until the broker acknowledges it. The queue is bounded (when full the oldest is
// dropped and counted) and persisted atomically in node.stateDir, in batches: at most one write
// per `flushSeconds` plus one at clean shutdown, because the CF card must not wear out.
// After a crash seq never repeats: the file holds a lease of numbers (`leaseSeq`), renewed with
// one extra write per SEQ_LEASE/2 events, and an unclean start continues above it (a gap, which
// a monitor reads as "events may be missing", never a reused number it would drop as a repeat).

import type { StampedEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { FileStore } from '../os/files.js';
import type { EventPayload } from './topics.js';

interface QueueFile {
  version: 1;
  /** The seq the next event gets; everything below it was numbered before. */
  nextSeq: number;
  /** Numbers below this may have been handed out since the file was written. */
  leaseSeq?: number;
  /** Written by a clean shutdown: nextSeq is exact. */
  clean?: boolean;
  dropped: number;
  /** Numbered, not yet acknowledged by the broker, oldest first. */
  pending: EventPayload[];
}

export interface QueueStatus {
  pending: number;
  maxEvents: number;
  /** Events dropped because the queue was full, since the queue file was created. */
  dropped: number;
  lastSeq: number;
  lastFlush?: string;
}

/** Numbers handed out per lease; a crash skips at most this many. */
export const SEQ_LEASE = 1000;

export class EventQueue {
  private nextSeq = 1;
  private leaseSeq = 1;
  private clean = false;
  private dropped = 0;
  private pending: EventPayload[] = [];
  private dirty = false;
  private timer: TimerHandle | undefined;
  private writing: Promise<void> = Promise.resolve();
  private lastFlush: string | undefined;

  constructor(
    private readonly files: FileStore,
    readonly path: string,
    private readonly clock: Clock,
    private readonly options: { maxEvents: number; flushSeconds: number },
    private readonly log: Logger,
  ) {}

  /**
   * Reads the queue file (a missing one starts at seq 1, an unreadable one is logged and replaced),
   * then writes a fresh seq lease: one write per start.
   */
  async load(): Promise<void> {
    const text = await this.files.read(this.path).catch((error: Error) => {
      this.log.error(`cannot read the telemetry queue ${this.path}: ${error.message}`);
      return undefined;
    });
    if (text !== undefined) {
      try {
        const parsed = JSON.parse(text) as Partial<QueueFile>;
        if (parsed.version !== 1 || !Number.isInteger(parsed.nextSeq) || !Array.isArray(parsed.pending)) throw new Error('not a queue file');
        this.nextSeq = parsed.nextSeq!;
        this.dropped = Number.isInteger(parsed.dropped) ? parsed.dropped! : 0;
        this.pending = parsed.pending.filter((e) => Number.isInteger(e?.seq) && e.seq < this.nextSeq);
        const lease = Number.isInteger(parsed.leaseSeq) ? parsed.leaseSeq! : this.nextSeq;
        if (parsed.clean !== true && lease > this.nextSeq) {
          this.log.warn(`telemetry: the last run ended without a clean shutdown; events since the queue's last write may be lost, seq continues at ${lease}`);
          this.nextSeq = lease;
        }
        this.trim();
      } catch (error) {
        this.log.error(`ignoring unreadable telemetry queue ${this.path}: ${(error as Error).message}`);
      }
    }
    this.renewLease();
    await this.flush();
  }

  /** Keeps the lease on disk at least SEQ_LEASE/2 ahead of the numbers handed out. */
  private renewLease(): void {
    if (this.leaseSeq - this.nextSeq >= SEQ_LEASE / 2) return;
    this.leaseSeq = this.nextSeq + SEQ_LEASE;
    this.clean = false;
    this.dirty = true;
  }

  /** Numbers the event and queues it; when full, the oldest waiting event is dropped and counted. */
  push(event: StampedEvent, node: string): EventPayload {
    const numbered = { seq: this.nextSeq++, node, ...event } as EventPayload;
    this.pending.push(numbered);
    this.trim();
    const renew = this.leaseSeq - this.nextSeq < SEQ_LEASE / 2;
    this.markDirty();
    if (renew) {
      this.renewLease();
      void this.flush().catch((error: Error) => this.log.error(`cannot write the telemetry queue ${this.path}: ${error.message}`));
    }
    return numbered;
  }

  /** Removes an acknowledged event (by seq; it may have been dropped meanwhile). */
  ack(seq: number): void {
    const index = this.pending.findIndex((e) => e.seq === seq);
    if (index < 0) return;
    this.pending.splice(index, 1);
    this.markDirty();
  }

  /** Waiting events, oldest first. */
  waiting(): readonly EventPayload[] {
    return this.pending;
  }

  has(seq: number): boolean {
    return this.pending.some((e) => e.seq === seq);
  }

  status(): QueueStatus {
    return {
      pending: this.pending.length,
      maxEvents: this.options.maxEvents,
      dropped: this.dropped,
      lastSeq: this.nextSeq - 1,
      ...(this.lastFlush ? { lastFlush: this.lastFlush } : {}),
    };
  }

  /** Writes now if anything changed since the last write (clean shutdown). */
  async flush(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    const next = this.writing.then(() => this.write());
    this.writing = next.catch(() => undefined);
    return next;
  }

  /** Clean shutdown: the file says exactly where seq continues. */
  async close(): Promise<void> {
    this.leaseSeq = this.nextSeq;
    this.clean = true;
    this.dirty = true;
    await this.flush();
  }

  /** A simulated kill -9: the pending write never happens (what is on disk stays). */
  abandon(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private trim(): void {
    const excess = this.pending.length - this.options.maxEvents;
    if (excess <= 0) return;
    this.pending.splice(0, excess);
    this.dropped += excess;
    this.log.warn(`telemetry queue full (${this.options.maxEvents}): dropped the ${excess} oldest event(s)`, { dropped: this.dropped });
  }

  private markDirty(): void {
    this.dirty = true;
    // Batching: one timer per flush period, armed by the first change after a write.
    this.timer ??= this.clock.setTimer(this.options.flushSeconds * 1000, () => {
      this.timer = undefined;
      void this.flush().catch((error: Error) => this.log.error(`cannot write the telemetry queue ${this.path}: ${error.message}`));
    });
  }

  private async write(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    const file: QueueFile = { version: 1, nextSeq: this.nextSeq, leaseSeq: this.leaseSeq, clean: this.clean, dropped: this.dropped, pending: this.pending };
    try {
      await this.files.writeAtomic(this.path, JSON.stringify(file) + '\n');
      this.lastFlush = new Date(this.clock.now()).toISOString();
    } catch (error) {
      this.dirty = true;
      throw error;
    }
  }
}
