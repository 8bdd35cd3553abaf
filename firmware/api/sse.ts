// The live stream `GET /api/events` (text/event-stream, the WHATWG Server-Sent Events format):
// first `event: status` with the full status, then `event: event` for each StampedEvent from the
// bus, `event: status` again when the status changed (compared as JSON, at most every 500 ms),
// and a `: ping` comment every 15 s, per the web UI's agreement. A client that stops reading is
// dropped once its unsent bytes pass a bound, never buffered without limit; stop() ends all.

import type { Status } from '../daemon.js';
import type { EventBus, StampedEvent } from '../events.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { StreamTarget } from './types.js';

export const STATUS_MIN_INTERVAL_MS = 500;
export const PING_INTERVAL_MS = 15_000;
/** Unsent bytes one client may hold: a few status documents. Past it the client is dropped. */
export const MAX_BUFFERED_BYTES = 256 * 1024;

export const SSE_HEADERS: Record<string, string> = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  // nginx and similar proxies would otherwise hold the stream back.
  'x-accel-buffering': 'no',
};

/** One SSE message; JSON.stringify never emits a raw newline, so `data` is a single line. */
export function formatSse(event: string, data: unknown): string {
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** The status without what changes on every read (uptime, memory): what "changed" compares. */
export function statusFingerprint(status: Status): string {
  const { uptimeSeconds: _uptime, memory: _memory, ...rest } = status;
  return JSON.stringify(rest);
}

export type CloseReason = 'client' | 'slow' | 'stopped';

/** One client's stream: writes, counts what is unsent, and drops a client that does not read. */
export class SseWriter {
  private closed = false;

  constructor(
    private readonly target: StreamTarget,
    private readonly onClose: (writer: SseWriter, reason: CloseReason) => void,
    private readonly maxBuffered = MAX_BUFFERED_BYTES,
  ) {
    target.on('close', () => this.close('client'));
  }

  get isOpen(): boolean {
    return !this.closed;
  }

  /** Queues `chunk`; false when the client was dropped (now or before). */
  send(chunk: string): boolean {
    if (this.closed) return false;
    // write() returning false is only the high-water mark; what matters is how much piles up.
    this.target.write(chunk);
    if (this.target.writableLength > this.maxBuffered) {
      this.close('slow');
      return false;
    }
    return true;
  }

  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    // A slow client's queue is thrown away (destroy), a stopping server flushes politely (end).
    if (reason === 'slow') this.target.destroy();
    else if (reason === 'stopped') this.target.end();
    this.onClose(this, reason);
  }
}

export interface LiveSource {
  status(): Status;
  events: EventBus;
  clock: Clock;
}

/** All clients of one daemon: one status comparison and one ping timer shared by all. */
export class LiveStream {
  private readonly writers = new Set<SseWriter>();
  private unsubscribe: (() => void) | undefined;
  private statusTimer: TimerHandle | undefined;
  private pingTimer: TimerHandle | undefined;
  private lastFingerprint = '';
  private lastStatusAt = Number.NEGATIVE_INFINITY;
  private stopped = false;
  /** Clients dropped because they did not read: shown nowhere yet but asserted in tests. */
  dropped = 0;

  constructor(private readonly source: LiveSource) {}

  get clients(): number {
    return this.writers.size;
  }

  /** A new client: its first message is the full status. */
  open(target: StreamTarget): SseWriter | undefined {
    if (this.stopped) {
      target.end();
      return undefined;
    }
    const writer = new SseWriter(target, (w, reason) => this.closed(w, reason));
    this.writers.add(writer);
    const status = this.source.status();
    if (this.writers.size === 1) {
      this.lastFingerprint = statusFingerprint(status);
      this.lastStatusAt = this.source.clock.monotonic();
    }
    writer.send('retry: 2000\n' + formatSse('status', status));
    if (writer.isOpen) this.ensureRunning();
    return writer;
  }

  stop(): void {
    this.stopped = true;
    for (const writer of [...this.writers]) writer.close('stopped');
    this.idle();
  }

  private closed(writer: SseWriter, reason: CloseReason): void {
    this.writers.delete(writer);
    if (reason === 'slow') this.dropped++;
    if (this.writers.size === 0) this.idle();
  }

  private broadcast(chunk: string): void {
    for (const writer of [...this.writers]) writer.send(chunk);
  }

  private ensureRunning(): void {
    if (!this.unsubscribe) this.unsubscribe = this.source.events.on((event) => this.onEvent(event));
    if (!this.statusTimer) this.armStatus();
    if (!this.pingTimer) this.armPing();
  }

  /** No clients: no timers, no work. */
  private idle(): void {
    this.unsubscribe?.();
    this.unsubscribe = undefined;
    this.statusTimer?.cancel();
    this.statusTimer = undefined;
    this.pingTimer?.cancel();
    this.pingTimer = undefined;
  }

  private onEvent(event: StampedEvent): void {
    this.broadcast(formatSse('event', event));
    // An event usually changes the status (a transition): send it now unless one just went.
    if (this.source.clock.monotonic() - this.lastStatusAt >= STATUS_MIN_INTERVAL_MS) this.checkStatus();
  }

  private armStatus(): void {
    this.statusTimer = this.source.clock.setTimer(STATUS_MIN_INTERVAL_MS, () => {
      this.statusTimer = undefined;
      if (this.writers.size === 0) return;
      if (this.source.clock.monotonic() - this.lastStatusAt >= STATUS_MIN_INTERVAL_MS) this.checkStatus();
      this.armStatus();
    });
  }

  private armPing(): void {
    this.pingTimer = this.source.clock.setTimer(PING_INTERVAL_MS, () => {
      this.pingTimer = undefined;
      if (this.writers.size === 0) return;
      this.broadcast(': ping\n\n');
      this.armPing();
    });
  }

  private checkStatus(): void {
    const status = this.source.status();
    const fingerprint = statusFingerprint(status);
    if (fingerprint === this.lastFingerprint) return;
    this.lastFingerprint = fingerprint;
    this.lastStatusAt = this.source.clock.monotonic();
    this.broadcast(formatSse('status', status));
  }
}
