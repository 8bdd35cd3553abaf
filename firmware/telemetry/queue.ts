// The telemetry event queue (issue 11 item 5): every event gets the node's next sequence number
// and waits here until the broker acknowledges it. The queue is bounded (when full the oldest is
// dropped and counted) and persisted atomically in node.stateDir, in batches: at most one write
// per `flushSeconds` plus one at clean shutdown, because the CF card must not wear out.

import type { StampedEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { FileStore } from '../os/files.js';
import type { EventPayload } from './topics.js';

interface QueueFile {
  version: 1;
  /** The seq the next event gets; everything below it was numbered before. */
  nextSeq: number;
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

export class EventQueue {
  private nextSeq = 1;
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

  /** Reads the queue file; a missing one starts at seq 1, an unreadable one is logged and kept aside. */
  async load(): Promise<void> {
    const text = await this.files.read(this.path).catch((error: Error) => {
      this.log.error(`cannot read the telemetry queue ${this.path}: ${error.message}`);
      return undefined;
    });
    if (text === undefined) return;
    try {
      const parsed = JSON.parse(text) as Partial<QueueFile>;
      if (parsed.version !== 1 || !Number.isInteger(parsed.nextSeq) || !Array.isArray(parsed.pending)) throw new Error('not a queue file');
      this.nextSeq = parsed.nextSeq!;
      this.dropped = Number.isInteger(parsed.dropped) ? parsed.dropped! : 0;
      this.pending = parsed.pending.filter((e) => Number.isInteger(e?.seq) && e.seq < this.nextSeq);
      this.trim();
    } catch (error) {
      this.log.error(`ignoring unreadable telemetry queue ${this.path}: ${(error as Error).message}`);
    }
  }

  /** Numbers the event and queues it; when full, the oldest waiting event is dropped and counted. */
  push(event: StampedEvent, node: string): EventPayload {
    const numbered = { seq: this.nextSeq++, node, ...event } as EventPayload;
    this.pending.push(numbered);
    this.trim();
    this.markDirty();
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

  async close(): Promise<void> {
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
    const file: QueueFile = { version: 1, nextSeq: this.nextSeq, dropped: this.dropped, pending: this.pending };
    try {
      await this.files.writeAtomic(this.path, JSON.stringify(file) + '\n');
      this.lastFlush = new Date(this.clock.now()).toISOString();
    } catch (error) {
      this.dirty = true;
      throw error;
    }
  }
}
