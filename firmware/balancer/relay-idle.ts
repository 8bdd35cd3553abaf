// Idle timeouts of the relay's connections (relayd's `session timeout`) by sweeping their byte
// counters on the injected clock. socket.setTimeout re-arms a real timer on every read and
// write, a cost paid per request; a sweep every 1/8 of the timeout costs nothing per byte and
// closes a connection between 1 and 1.125 timeouts after its last byte.

import type { Socket } from 'node:net';
import type { Clock, TimerHandle } from '../os/clock.js';

interface Watched {
  bytes: number;
  quietSince: number;
  onIdle: () => void;
}

export class IdleSweep {
  private readonly watched = new Map<Socket, Watched>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private idleMs: number,
  ) {}

  /** 0 turns idle timeouts off. */
  configure(idleMs: number): void {
    this.idleMs = idleMs;
    this.timer?.cancel();
    this.timer = undefined;
    this.arm();
  }

  /** Calls `onIdle` once `socket` has moved no byte either way for the idle timeout. */
  watch(socket: Socket, onIdle: () => void): void {
    this.watched.set(socket, { bytes: activity(socket), quietSince: this.clock.monotonic(), onIdle });
    this.arm();
  }

  unwatch(socket: Socket): void {
    this.watched.delete(socket);
    if (this.watched.size === 0) {
      this.timer?.cancel();
      this.timer = undefined;
    }
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.watched.clear();
  }

  private arm(): void {
    if (this.timer || this.idleMs <= 0 || this.watched.size === 0) return;
    const period = Math.min(10_000, Math.max(50, this.idleMs / 8));
    this.timer = this.clock.setTimer(period, () => {
      this.timer = undefined;
      this.sweep();
      this.arm();
    });
  }

  private sweep(): void {
    const now = this.clock.monotonic();
    for (const [socket, w] of this.watched) {
      if (socket.destroyed) {
        this.watched.delete(socket);
        continue;
      }
      const bytes = activity(socket);
      if (bytes !== w.bytes) {
        w.bytes = bytes;
        w.quietSince = now;
      } else if (now - w.quietSince >= this.idleMs) {
        this.watched.delete(socket);
        w.onIdle();
      }
    }
  }
}

function activity(socket: Socket): number {
  return socket.bytesRead + socket.bytesWritten;
}
