// tcp mode of the relay (relayd's relay.c without protocol): connect to the host the pool
// picks, trying the next on a refused or timed-out connect, then splice bytes both ways with a
// FIN passed on as a FIN and a reset as a reset. Also used for http upgrades (WebSocket).

import { connect, Socket } from 'node:net';
import type { Clock } from '../os/clock.js';
import type { IdleSweep } from './relay-idle.js';
import type { RelayConfig } from './schema.js';

export interface RelayTarget {
  readonly id: string;
  readonly address: string;
  readonly port: number | undefined;
}

/** The pool as the relay sees it: who takes the next connection, and the accounting. */
export interface RelayPool {
  pick(source: string, tried: ReadonlySet<string>): RelayTarget | undefined;
  opened(target: RelayTarget): void;
  closed(target: RelayTarget): void;
  failed(target: RelayTarget, detail: string): void;
}

/** What the per-mode code needs of the relay: its pool, clock, limits and counters. */
export interface RelayContext {
  readonly name: string;
  readonly pool: RelayPool;
  readonly clock: Clock;
  readonly config: RelayConfig;
  readonly counters: { accepted: number; rejected: number; noHost: number; connectFailures: number; requests: number };
  readonly reads: ReadBuffer;
  readonly idle: IdleSweep;
}

/**
 * Reads from connections the relay opens into one buffer per relay and hands on a copy.
 * Node's default read path allocates a 64 KiB buffer per read, wraps it and pushes it through
 * a Readable; for the small reads of request/response traffic that is most of the relay's own
 * cost. The copy matters: a write that does not complete at once keeps a reference to its bytes.
 */
export class ReadBuffer {
  private readonly buffer = Buffer.allocUnsafe(64 * 1024);

  /** The `onread` option of net.connect, delivering each read to `deliver`. */
  onread(deliver: (chunk: Buffer) => void): { buffer: Buffer; callback: (n: number, buf: Uint8Array) => boolean } {
    return {
      buffer: this.buffer,
      callback: (n: number, buf: Uint8Array) => {
        const chunk = Buffer.allocUnsafe(n);
        chunk.set(n === buf.length ? buf : buf.subarray(0, n));
        deliver(chunk);
        return true; // reading pauses through socket.pause(), which onread sockets honour
      },
    };
  }
}

export function connectError(message: string, code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(message), { code });
}

/**
 * Connects to a host the pool picks for `source`; a refused or timed-out connect tries the
 * next host, up to `retries` more. Gives up by resetting the client.
 */
export function dial(relay: RelayContext, client: Socket, source: string, tried: Set<string>, connected: (upstream: Socket) => void): void {
  const target = relay.pool.pick(source, tried);
  if (!target || target.port === undefined) {
    if (tried.size === 0) relay.counters.noHost++;
    reset(client);
    return;
  }
  tried.add(target.id);
  relay.pool.opened(target);
  // What the host sends goes to the client as it arrives; a full client pauses the host.
  const upstream: Socket = connect({
    host: target.address,
    port: target.port,
    noDelay: true,
    allowHalfOpen: true,
    onread: relay.reads.onread((chunk) => {
      if (!client.write(chunk)) upstream.pause();
    }),
  });
  upstream.once('close', () => relay.pool.closed(target));
  let ready = false;
  const timer = relay.clock.setTimer(relay.config.connectTimeoutSeconds * 1000, () =>
    upstream.destroy(connectError('connect timed out', 'ETIMEDOUT')),
  );
  const clientGone = () => {
    if (!ready) upstream.destroy();
  };
  client.once('close', clientGone);
  upstream.once('connect', () => {
    ready = true;
    timer.cancel();
    client.off('close', clientGone);
    if (client.destroyed) return upstream.destroy();
    connected(upstream);
  });
  upstream.once('error', (error: NodeJS.ErrnoException) => {
    if (ready) return;
    timer.cancel();
    client.off('close', clientGone);
    relay.counters.connectFailures++;
    relay.pool.failed(target, error.code ?? error.message);
    if (client.destroyed) return;
    if (tried.size <= relay.config.retries) dial(relay, client, source, tried, connected);
    else reset(client);
  });
}

/**
 * Re-wraps an accepted (still paused) connection so its reads go through `onread` like the
 * ones the relay opens: net.Server has no onread option, and the default read path is the
 * larger part of what tcp mode costs per request. Falls back to the socket as it is when the
 * runtime does not expose its handle.
 */
export function adopt(accepted: Socket, onread: ReturnType<ReadBuffer['onread']>): Socket {
  const holder = accepted as unknown as { _handle: unknown };
  const handle = holder._handle;
  if (!handle) return accepted;
  // The accepted socket gives up its handle: it can no longer read, write or close it.
  holder._handle = null;
  return new Socket({ handle, allowHalfOpen: true, readable: true, writable: true, pauseOnCreate: true, onread } as ConstructorParameters<typeof Socket>[0]);
}

export function clientAddress(socket: Socket): string {
  const address = socket.remoteAddress ?? '';
  return address.startsWith('::ffff:') ? address.slice(7) : address;
}

/** Sends an RST rather than a FIN, so the client knows at once it was refused. */
export function reset(socket: Socket): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function' && !socket.connecting) socket.resetAndDestroy();
  else socket.destroy();
}

/**
 * Joins a client to the host `dial` connected: bytes both ways (the host's already flow, see
 * dial), a FIN passed on as a FIN, a reset as a reset. The idle timeout watches the client,
 * whose byte counters see both directions (relay-idle.ts). A direct 'data' handler with pause on
 * a full socket and resume on 'drain' does what pipe() does with less machinery per chunk.
 */
export function splice(client: Socket, upstream: Socket, clientReads: 'events' | 'onread'): void {
  upstream.on('error', () => undefined);
  if (clientReads === 'events') {
    client.on('data', (chunk: Buffer) => {
      if (!upstream.write(chunk)) client.pause();
    });
  }
  upstream.on('drain', () => client.resume());
  client.on('drain', () => upstream.resume());
  follow(client, upstream);
  follow(upstream, client);
  client.resume();
  // onread delivers the host's bytes; flowing mode is still what makes its 'end' arrive.
  upstream.resume();
}

function follow(from: Socket, to: Socket): void {
  from.once('end', () => {
    if (!to.destroyed) to.end();
  });
  from.once('close', (hadError) => {
    if (to.destroyed) return;
    if (hadError) reset(to);
    else to.end();
  });
}
