// Live streams (SSE) tied to the session that opened them: a stream outlives no session. Logout
// ends the session's streams at once; a sweep every minute, armed only while a stream is open,
// ends those whose session timed out or was dropped by a reload (the stream is not "use").

import type { Clock, TimerHandle } from '../os/clock.js';
import type { Session } from './auth.js';

export const STREAM_SWEEP_MS = 60_000;

/** What a stream is to this registry: something to end, that says when it closed. */
export interface EndableStream {
  end(): void;
  once(event: 'close', listener: () => void): unknown;
}

export class SessionStreams {
  private readonly open = new Map<EndableStream, Session>();
  private timer: TimerHandle | undefined;

  constructor(
    private readonly clock: Clock,
    private readonly isLive: (session: Session) => boolean,
  ) {}

  get size(): number {
    return this.open.size;
  }

  add(session: Session, stream: EndableStream): void {
    this.open.set(stream, session);
    stream.once('close', () => {
      this.open.delete(stream);
      if (this.open.size === 0) this.disarm();
    });
    this.arm();
  }

  /** Ends every stream of `session` (logout). */
  endSession(session: Session): number {
    return this.endWhere((s) => s === session);
  }

  /** Ends the streams whose session is no longer live; returns how many. */
  sweep(): number {
    return this.endWhere((s) => !this.isLive(s));
  }

  /** Ends every stream (the server closes). */
  endAll(): void {
    this.endWhere(() => true);
    this.disarm();
  }

  private endWhere(match: (session: Session) => boolean): number {
    let ended = 0;
    for (const [stream, session] of [...this.open]) {
      if (!match(session)) continue;
      this.open.delete(stream);
      stream.end();
      ended++;
    }
    return ended;
  }

  private arm(): void {
    if (this.timer) return;
    this.timer = this.clock.setTimer(STREAM_SWEEP_MS, () => {
      this.timer = undefined;
      this.sweep();
      if (this.open.size > 0) this.arm();
    });
  }

  private disarm(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }
}
