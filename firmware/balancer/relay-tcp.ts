// tcp mode of the relay (relayd's relay.c without protocol): connect to the host the pool
// picks, trying the next on a refused or timed-out connect, then splice bytes both ways with a
// FIN passed on as a FIN and a reset as a reset. Also used for http upgrades (WebSocket).

import { connect, type Socket } from 'node:net';
import type { Clock } from '../os/clock.js';
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
  const upstream = connect({ host: target.address, port: target.port, noDelay: true, allowHalfOpen: true });
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
 * Joins two connections: bytes both ways, a FIN passed on as a FIN, a reset as a reset.
 * Direct 'data' handlers with pause on a full socket and resume on 'drain' do what pipe()
 * does with less machinery per chunk, which is most of the relay's own cost in this mode.
 */
export function splice(client: Socket, upstream: Socket, idleSeconds: number): void {
  upstream.on('error', () => undefined);
  oneWay(client, upstream);
  oneWay(upstream, client);
  if (idleSeconds > 0) upstream.setTimeout(idleSeconds * 1000, () => upstream.destroy());
  client.resume();
}

function oneWay(from: Socket, to: Socket): void {
  from.on('data', (chunk: Buffer) => {
    if (!to.write(chunk)) from.pause();
  });
  to.on('drain', () => from.resume());
  from.once('end', () => {
    if (!to.destroyed) to.end();
  });
  from.once('close', (hadError) => {
    if (to.destroyed) return;
    if (hadError) reset(to);
    else to.end();
  });
}
