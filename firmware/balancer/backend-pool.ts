// Keep-alive connections from the http relay to its backends (RFC 9112 section 9.3): one
// Upstream per TCP connection, idle ones kept per host, newest first (LIFO keeps few warm).
// An idle connection that the backend closes, or that says anything, is dropped at once.

import { connect, type Socket } from 'node:net';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { IdleSweep } from './relay-idle.js';
import { connectError, type ReadBuffer, type RelayTarget } from './relay-tcp.js';

/** At most this many idle connections are kept per backend. */
export const MAX_IDLE_PER_HOST = 256;

/** Who uses an upstream connection now; the http session implements it. */
export interface UpstreamUser {
  upstreamConnected(up: Upstream): void;
  upstreamData(up: Upstream, chunk: Buffer): void;
  upstreamEnded(up: Upstream): void;
  upstreamFailed(up: Upstream, code: string): void;
  upstreamDrained(up: Upstream): void;
}

/** One connection to a backend. Its handlers are bound once and route to the current user. */
export class Upstream {
  user: UpstreamUser | undefined;
  connected = false;
  /** Served an earlier request: a close before any reply may be a race with its idle timeout. */
  reused = false;
  private connectTimer: TimerHandle | undefined;
  private failed = false;

  constructor(
    readonly socket: Socket,
    readonly target: RelayTarget,
    private readonly backends: BackendPool,
  ) {
    socket.on('connect', this.onConnect);
    // Reads arrive through onread (BackendPool.take); flowing mode makes 'end' arrive.
    socket.resume();
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    socket.on('drain', this.onDrain);
  }

  armConnectTimer(clock: Clock, ms: number): void {
    this.connectTimer = clock.setTimer(ms, () => this.socket.destroy(connectError('connect timed out', 'ETIMEDOUT')));
  }

  /** Ends the use by the current user; the connection is kept for the next or closed. */
  release(keep: boolean): void {
    this.user = undefined;
    if (keep && this.connected && !this.socket.destroyed) this.backends.keep(this);
    else this.socket.destroy();
  }

  private readonly onConnect = (): void => {
    this.connected = true;
    this.connectTimer?.cancel();
    this.user?.upstreamConnected(this);
  };

  readonly onData = (chunk: Buffer): void => {
    if (this.user) this.user.upstreamData(this, chunk);
    else this.socket.destroy(); // an idle connection has nothing to say
  };

  private readonly onEnd = (): void => {
    if (this.user) this.user.upstreamEnded(this);
    else this.socket.destroy();
  };

  private readonly onError = (error: NodeJS.ErrnoException): void => {
    this.fail(error.code ?? error.message);
  };

  private readonly onClose = (): void => {
    this.connectTimer?.cancel();
    this.backends.forget(this);
    this.fail('ECONNRESET');
  };

  private readonly onDrain = (): void => {
    this.user?.upstreamDrained(this);
  };

  private fail(code: string): void {
    if (this.failed) return;
    this.failed = true;
    const user = this.user;
    this.user = undefined;
    user?.upstreamFailed(this, code);
  }
}

export class BackendPool {
  private readonly idle = new Map<string, Upstream[]>();

  /** Idle kept connections close after the relay's idle timeout (the backend's may be shorter). */
  constructor(
    private readonly clock: Clock,
    private readonly sweep: IdleSweep,
    private readonly reads: ReadBuffer,
  ) {}

  /** An idle connection to `target` for `user`, or a new one (connecting); `fresh`: a new one. */
  take(target: RelayTarget, user: UpstreamUser, connectTimeoutMs: number, which: 'idle-first' | 'fresh' = 'idle-first'): Upstream {
    const list = which === 'fresh' ? undefined : this.idle.get(key(target));
    while (list && list.length > 0) {
      const up = list.pop()!;
      this.sweep.unwatch(up.socket);
      if (up.socket.destroyed || up.socket.readableEnded) continue;
      up.user = user;
      up.reused = true;
      up.socket.resume();
      return up;
    }
    let up: Upstream | undefined;
    const socket = connect({ host: target.address, port: target.port!, noDelay: true, onread: this.reads.onread((chunk) => up!.onData(chunk)) });
    up = new Upstream(socket, target, this);
    up.user = user;
    up.armConnectTimer(this.clock, connectTimeoutMs);
    return up;
  }

  keep(up: Upstream): void {
    const k = key(up.target);
    let list = this.idle.get(k);
    if (!list) this.idle.set(k, (list = []));
    if (list.length >= MAX_IDLE_PER_HOST) return void up.socket.destroy();
    up.reused = true;
    list.push(up);
    this.sweep.watch(up.socket, () => up.socket.destroy());
  }

  forget(up: Upstream): void {
    this.sweep.unwatch(up.socket);
    const list = this.idle.get(key(up.target));
    const at = list ? list.indexOf(up) : -1;
    if (at >= 0) list!.splice(at, 1);
  }

  /** Idle connections now, per backend (for tests and status). */
  idleCount(target: RelayTarget): number {
    return this.idle.get(key(target))?.length ?? 0;
  }

  closeIdle(): void {
    for (const list of this.idle.values()) for (const up of list.splice(0)) up.socket.destroy();
  }
}

function key(target: RelayTarget): string {
  return `${target.address}|${target.port}`;
}
