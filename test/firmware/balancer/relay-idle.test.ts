// Idle timeouts of the relay (firmware/balancer/relay-idle.ts) on a virtual clock with real
// loopback sockets: a quiet client connection closes after idleTimeoutSeconds, a busy one stays,
// and a kept-alive backend connection closes once idle that long.

import { strict as assert } from 'node:assert';
import { createServer as createHttpServer } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { describe, it } from 'node:test';
import { NetRelay, type RelayTarget } from '../../../firmware/balancer/relay.js';
import { createLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';

const LOOPBACK = '127.0.0.1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function until(what: string, check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

async function relayOn(clock: FakeClock, target: RelayTarget, mode: 'tcp' | 'http') {
  const port = await freePort();
  const pool = { pick: (_s: string, tried: ReadonlySet<string>) => (tried.has(target.id) ? undefined : target), opened() {}, closed() {}, failed() {} };
  const config = { listen: `${LOOPBACK}:${port}`, mode, algorithm: 'roundrobin', maxConnections: 10, connectTimeoutSeconds: 1, idleTimeoutSeconds: 10, retries: 0 } as ConstructorParameters<typeof NetRelay>[1];
  const relay = new NetRelay('idle', config, pool, clock, createLogger('error', () => undefined));
  relay.start();
  await until('listening', () => relay.stats().listening);
  return { relay, port };
}

function client(port: number) {
  const socket = connect({ host: LOOPBACK, port });
  const state = { received: '', closed: false, socket };
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (state.received += chunk));
  socket.on('error', () => undefined);
  socket.on('close', () => (state.closed = true));
  return state;
}

describe('relay idle timeouts on a virtual clock', () => {
  it('tcp: closes a quiet connection after the timeout and keeps one that talks', async () => {
    const echo = createServer((s: Socket) => {
      s.on('error', () => undefined);
      s.on('data', (d) => s.write(d));
    });
    await new Promise<void>((resolve) => echo.listen(0, LOOPBACK, resolve));
    const clock = new FakeClock();
    const { relay, port } = await relayOn(clock, { id: 'echo', address: LOOPBACK, port: (echo.address() as { port: number }).port }, 'tcp');
    const quiet = client(port);
    const busy = client(port);
    try {
      for (const c of [quiet, busy]) {
        c.socket.write('hello\n');
        await until('the echo', () => c.received === 'hello\n');
      }
      // 9 s of virtual time with the busy one talking each second: nobody is closed yet.
      for (let s = 1; s <= 9; s++) {
        busy.socket.write(`${s}\n`);
        await until('its echo', () => busy.received.endsWith(`${s}\n`));
        await clock.advance(1000);
      }
      assert.equal(quiet.closed, false);
      // Past 10 s (plus one sweep, 1/8 of it): the quiet one is closed, the busy one is not.
      for (let s = 10; s <= 12; s++) {
        busy.socket.write(`${s}\n`);
        await until('its echo', () => busy.received.endsWith(`${s}\n`));
        await clock.advance(1000);
      }
      await until('the quiet connection to close', () => quiet.closed);
      assert.equal(busy.closed, false);
    } finally {
      quiet.socket.destroy();
      busy.socket.destroy();
      await relay.stop('cut');
      echo.close();
    }
  });

  it('http: a kept-alive backend connection closes once idle for the timeout', async () => {
    let open = 0;
    const backend = createHttpServer({ keepAliveTimeout: 600_000 }, (_req, res) => res.end('ok'));
    backend.on('connection', (s: Socket) => {
      open++;
      s.once('close', () => open--);
    });
    await new Promise<void>((resolve) => backend.listen(0, LOOPBACK, resolve));
    const clock = new FakeClock();
    const { relay, port } = await relayOn(clock, { id: 'b', address: LOOPBACK, port: (backend.address() as { port: number }).port }, 'http');
    const c = client(port);
    try {
      c.socket.end('GET / HTTP/1.1\r\nHost: lab\r\nConnection: close\r\n\r\n');
      await until('the reply and close', () => c.closed);
      assert.match(c.received, /^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\nok$/);
      assert.equal(open, 1, 'the backend connection is kept');
      await clock.advance(9000);
      await sleep(50);
      assert.equal(open, 1, 'still kept before the timeout');
      await clock.advance(3000);
      await until('the kept connection to close', () => open === 0);
    } finally {
      c.socket.destroy();
      await relay.stop('cut');
      backend.close();
    }
  });
});
