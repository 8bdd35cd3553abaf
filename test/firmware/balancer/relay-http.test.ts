// The http relay's own HTTP/1.1 handling (firmware/balancer/relay-http.ts) with real sockets on
// loopback: raw clients that pipeline, send chunked bodies and broken heads, and backends that
// answer chunked, stream, keep connections alive or close them under the relay's feet.

import { strict as assert } from 'node:assert';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { RelayPool, RelayTarget } from '../../../firmware/balancer/relay.js';
import { NetRelay } from '../../../firmware/balancer/relay.js';
import { MAX_HEAD_BYTES } from '../../../firmware/balancer/http-head.js';
import { createLogger } from '../../../firmware/log.js';
import { systemClock } from '../../../firmware/os/clock.js';

const LOOPBACK = '127.0.0.1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Round robin over the targets not tried yet, with the accounting the real pool keeps. */
class CountingPool implements RelayPool {
  open = 0;
  failures: string[] = [];
  private next = 0;
  constructor(readonly targets: RelayTarget[]) {}
  pick(_source: string, tried: ReadonlySet<string>): RelayTarget | undefined {
    const free = this.targets.filter((t) => !tried.has(t.id));
    if (free.length === 0) return undefined;
    return free[this.next++ % free.length];
  }
  opened(): void {
    this.open++;
  }
  closed(): void {
    this.open--;
  }
  failed(target: RelayTarget, detail: string): void {
    this.failures.push(`${target.id}: ${detail}`);
  }
}

async function listen(server: Server | HttpServer): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return (server.address() as { port: number }).port;
}

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A node:http backend that counts its TCP connections and answers by path. */
async function httpBackend(name: string) {
  const state = { connections: 0, bodies: [] as number[] };
  const server = createHttpServer((req, res) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => {
      state.bodies.push(size);
      res.setHeader('X-Backend', name);
      if (req.url === '/chunked') {
        res.write(`${name} part one\n`);
        setTimeout(() => res.end(`${name} part two\n`), 20);
        return;
      }
      res.end(JSON.stringify({ name, path: req.url, xff: req.headers['x-forwarded-for'] ?? null, size }));
    });
  });
  server.on('connection', () => state.connections++);
  const port = await listen(server);
  return { server, port, state, target: { id: name, address: LOOPBACK, port } };
}

async function startRelay(targets: RelayTarget[], extra: Record<string, unknown> = {}) {
  const pool = new CountingPool(targets);
  const port = await freePort();
  const config = {
    listen: `${LOOPBACK}:${port}`,
    mode: 'http',
    algorithm: 'roundrobin',
    maxConnections: 100,
    connectTimeoutSeconds: 1,
    idleTimeoutSeconds: 30,
    retries: 2,
    ...extra,
  } as ConstructorParameters<typeof NetRelay>[1];
  const relay = new NetRelay('web', config, pool, systemClock, createLogger('error', () => undefined));
  relay.start();
  for (let i = 0; i < 100 && !relay.stats().listening; i++) await sleep(10);
  assert.ok(relay.stats().listening);
  return { relay, pool, port };
}

/** A raw client connection: write bytes, read until a condition holds, see whether it closed. */
class RawClient {
  received = '';
  closed = false;
  readonly socket: Socket;
  constructor(port: number) {
    this.socket = connect({ host: LOOPBACK, port });
    this.socket.setEncoding('latin1');
    this.socket.on('data', (chunk: string) => (this.received += chunk));
    this.socket.on('error', () => undefined);
    this.socket.on('close', () => (this.closed = true));
  }
  send(text: string): void {
    this.socket.write(text, 'latin1');
  }
  async until(what: string, check: (received: string) => boolean, ms = 3000): Promise<string> {
    const deadline = Date.now() + ms;
    while (!check(this.received)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.received)}`);
      await sleep(5);
    }
    return this.received;
  }
  /** Splits what arrived into responses framed by Content-Length (enough for these tests). */
  responses(): { status: number; headers: Record<string, string>; body: string }[] {
    const out = [];
    let rest = this.received;
    for (;;) {
      const end = rest.indexOf('\r\n\r\n');
      if (end < 0) break;
      const [line, ...fields] = rest.slice(0, end).split('\r\n');
      const headers: Record<string, string> = {};
      for (const f of fields) headers[f.slice(0, f.indexOf(':')).toLowerCase()] = f.slice(f.indexOf(':') + 1).trim();
      const length = Number(headers['content-length'] ?? 0);
      if (rest.length < end + 4 + length) break;
      out.push({ status: Number(line!.split(' ')[1]), headers, body: rest.slice(end + 4, end + 4 + length) });
      rest = rest.slice(end + 4 + length);
    }
    return out;
  }
  close(): void {
    this.socket.destroy();
  }
}

const GET = (path: string, extra = '') => `GET ${path} HTTP/1.1\r\nHost: lab\r\n${extra}\r\n`;

describe('http relay: HTTP/1.1 on the wire', () => {
  const backends: Awaited<ReturnType<typeof httpBackend>>[] = [];
  const servers: (Server | HttpServer)[] = [];
  before(async () => {
    for (const name of ['h1', 'h2', 'h3']) backends.push(await httpBackend(name));
  });
  after(() => {
    for (const b of backends) b.server.close();
    for (const s of servers) s.close();
    for (const b of backends) b.server.closeAllConnections();
  });

  it('answers pipelined requests in order, each balanced on its own', async () => {
    const { relay, pool, port } = await startRelay(backends.map((b) => b.target));
    const client = new RawClient(port);
    try {
      client.send(GET('/p/1') + GET('/p/2', 'X-Forwarded-For: 203.0.113.7\r\n') + GET('/p/3'));
      await client.until('three replies', () => client.responses().length === 3);
      const replies = client.responses().map((r) => JSON.parse(r.body) as { name: string; path: string; xff: string });
      assert.deepEqual(replies.map((r) => r.path), ['/p/1', '/p/2', '/p/3']);
      assert.deepEqual(replies.map((r) => r.name), ['h1', 'h2', 'h3']);
      assert.deepEqual(replies.map((r) => r.xff), ['127.0.0.1', '203.0.113.7, 127.0.0.1', '127.0.0.1']);
      assert.equal(client.closed, false, 'a 1.1 connection stays open');
      assert.equal(relay.stats().requests, 3);
      assert.equal(pool.open, 0, 'every request released its host');
    } finally {
      client.close();
      await relay.stop('cut');
    }
  });

  it('reuses kept-alive backend connections across requests and client connections', async () => {
    const b = await httpBackend('solo');
    servers.push(b.server);
    const { relay, pool, port } = await startRelay([b.target]);
    try {
      for (let c = 0; c < 3; c++) {
        const client = new RawClient(port);
        for (let i = 1; i <= 5; i++) {
          client.send(GET(`/k/${i}`));
          await client.until(`reply ${i}`, () => client.responses().length === i);
        }
        client.close();
      }
      assert.equal(b.state.connections, 1, 'one backend connection served 15 requests over 3 client connections');
      assert.equal(pool.open, 0);
    } finally {
      await relay.stop('cut');
    }
  });

  it('streams chunked bodies both ways without waiting for their end', async () => {
    const { relay, pool, port } = await startRelay([backends[0]!.target]);
    const client = new RawClient(port);
    try {
      // A chunked request with an extension and a trailer: the backend counts 15 bytes.
      client.send('POST /count HTTP/1.1\r\nHost: lab\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n');
      await sleep(30);
      client.send('A\r\n0123456789\r\n0\r\nX-Trailer: yes\r\n\r\n');
      await client.until('the count', () => client.responses().length === 1);
      assert.equal((JSON.parse(client.responses()[0]!.body) as { size: number }).size, 15);
      // The backend writes part one, waits 20 ms, writes part two: part one arrives first.
      client.received = '';
      client.send(GET('/chunked'));
      const first = await client.until('part one', (r) => r.includes('h1 part one'));
      assert.ok(!first.includes('part two'), 'the first chunk was forwarded before the reply ended');
      assert.equal(pool.open, 1, 'the request in flight counts for least-connections');
      const whole = await client.until('the last chunk', (r) => r.endsWith('0\r\n\r\n'));
      assert.match(whole, /^HTTP\/1\.1 200 OK\r\n/);
      assert.match(whole, /\r\nTransfer-Encoding: chunked\r\n/i);
      assert.match(whole, /h1 part two\n\r\n0\r\n\r\n$/);
      // Still usable afterwards: the chunked reply's end was found.
      client.received = '';
      client.send(GET('/after'));
      await client.until('a reply after the chunked one', () => client.responses().length === 1);
    } finally {
      client.close();
      await relay.stop('cut');
    }
  });

  it('de-chunks a reply for an HTTP/1.0 client and closes, and sends no body for HEAD', async () => {
    const { relay, port } = await startRelay([backends[1]!.target]);
    const old = new RawClient(port);
    const head = new RawClient(port);
    try {
      old.send('GET /chunked HTTP/1.0\r\n\r\n');
      await old.until('close', () => old.closed);
      assert.match(old.received, /^HTTP\/1\.1 200 OK\r\n/);
      assert.doesNotMatch(old.received, /Transfer-Encoding/i);
      assert.match(old.received, /\r\nConnection: close\r\n\r\nh2 part one\nh2 part two\n$/);

      head.send(`HEAD /x HTTP/1.1\r\nHost: lab\r\n\r\n${GET('/y')}`);
      await head.until('both replies', (r) => (r.match(/HTTP\/1\.1 200/g) ?? []).length === 2 && r.endsWith('}'));
      const [first, second] = head.received.split(/(?=HTTP\/1\.1 200)/);
      assert.match(first!, /\r\n\r\n$/, 'no body after the HEAD reply');
      assert.match(second!, /"path":"\/y"/);
    } finally {
      old.close();
      head.close();
      await relay.stop('cut');
    }
  });

  it('answers 400 to a malformed head and 431 to an oversized one, then closes', async () => {
    const { relay, pool, port } = await startRelay([backends[0]!.target]);
    const cases: [string, number][] = [
      ['GET / HTTP/1.1\r\nHost: lab\r\nBad Header: x\r\n\r\n', 400],
      ['NOT HTTP AT ALL\r\n\r\n', 400],
      ['POST / HTTP/1.1\r\nHost: lab\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n', 400],
      [`GET / HTTP/1.1\r\nHost: lab\r\nX-Big: ${'x'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`, 431],
      [`GET / HTTP/1.1\r\nHost: lab\r\nX-Endless: ${'x'.repeat(MAX_HEAD_BYTES + 100)}`, 431],
    ];
    try {
      for (const [text, status] of cases) {
        const client = new RawClient(port);
        client.send(text);
        await client.until(`${status} and close`, () => client.closed);
        assert.match(client.received, new RegExp(`^HTTP/1\\.1 ${status} `), JSON.stringify(text.slice(0, 60)));
        assert.match(client.received, /\r\nConnection: close\r\n/);
      }
      // A head cut short by the client's FIN is answered too, not left hanging.
      const cut = new RawClient(port);
      cut.send('GET / HTTP/1.1\r\nHost: la');
      cut.socket.end();
      await cut.until('400 and close', () => cut.closed);
      assert.match(cut.received, /^HTTP\/1\.1 400 /);
      assert.equal(pool.open, 0);
      assert.equal(relay.stats().requests, 0, 'nothing was forwarded');
    } finally {
      await relay.stop('cut');
    }
  });

  it('survives a backend that closes kept-alive connections, idle or as a request arrives', async () => {
    // Answers the first request of each connection; closes at once on the second (a keep-alive
    // race lost), and closes each connection 100 ms after its first reply (an idle timeout).
    let connections = 0;
    const backend = createServer((socket) => {
      connections++;
      let seen = 0;
      let data = '';
      socket.on('error', () => undefined);
      socket.on('data', (chunk) => {
        data += chunk.toString('latin1');
        while (data.includes('\r\n\r\n')) {
          data = data.slice(data.indexOf('\r\n\r\n') + 4);
          if (++seen === 2) return void socket.destroy();
          socket.write(`HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\nok`);
          setTimeout(() => socket.end(), 100);
        }
      });
    });
    servers.push(backend);
    const port = await listen(backend);
    const { relay, pool, port: relayPort } = await startRelay([{ id: 'flaky', address: LOOPBACK, port }]);
    const client = new RawClient(relayPort);
    try {
      client.send(GET('/1'));
      await client.until('reply 1', () => client.responses().length === 1);
      // The second request goes out on the kept connection, which the backend closes unanswered:
      // the relay tries once more on a fresh connection.
      client.send(GET('/2'));
      await client.until('reply 2', () => client.responses().length === 2);
      // After the backend's idle close, the next request opens a new connection.
      await sleep(250);
      client.send(GET('/3'));
      await client.until('reply 3', () => client.responses().length === 3);
      assert.deepEqual(client.responses().map((r) => r.status), [200, 200, 200]);
      assert.equal(connections, 3);
      assert.equal(client.closed, false);
      assert.equal(relay.stats().connectFailures, 0, 'a stale keep-alive connection is not a connect failure');
      assert.equal(pool.open, 0);
    } finally {
      client.close();
      await relay.stop('cut');
    }
  });

  it('tries the next host when a connect is refused, answers 502 for a body it cannot resend, 503 when none is up', async () => {
    const dead = { id: 'dead', address: LOOPBACK, port: await freePort() };
    const { relay, pool, port } = await startRelay([dead, backends[2]!.target], { retries: 1 });
    try {
      const get = new RawClient(port);
      get.send(GET('/r'));
      await get.until('a reply', () => get.responses().length === 1);
      assert.equal((JSON.parse(get.responses()[0]!.body) as { name: string }).name, 'h3');
      get.close();
      assert.equal(relay.stats().connectFailures, 1);

      // Round robin comes back to the dead host for the POST: its body is on its way, no retry.
      const post = new RawClient(port);
      post.send('POST /r HTTP/1.1\r\nHost: lab\r\nContent-Length: 3\r\n\r\nabc');
      await post.until('a reply', () => post.closed);
      assert.match(post.received, /^HTTP\/1\.1 502 /);
      assert.deepEqual(pool.failures, ['dead: ECONNREFUSED', 'dead: ECONNREFUSED']);
      assert.equal(pool.open, 0);
    } finally {
      await relay.stop('cut');
    }
    const none = await startRelay([]);
    try {
      const client = new RawClient(none.port);
      client.send(GET('/'));
      await client.until('close', () => client.closed);
      assert.match(client.received, /^HTTP\/1\.1 503 Service Unavailable\r\n[^]*\r\n\r\nno healthy host in pool web\n$/);
      assert.equal(none.relay.stats().noHost, 1);
    } finally {
      await none.relay.stop('cut');
    }
  });

  it('splices an upgrade to one host with X-Forwarded-For', async () => {
    const backend = createServer((socket) => {
      let head = '';
      socket.on('error', () => undefined);
      socket.once('data', (chunk) => {
        head = chunk.toString('latin1');
        const xff = /X-Forwarded-For: ([^\r]*)/.exec(head)?.[1];
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\nxff=${xff}\n`);
        socket.on('data', (more) => socket.write(more));
      });
    });
    servers.push(backend);
    const backendPort = await listen(backend);
    const { relay, port } = await startRelay([{ id: 'ws', address: LOOPBACK, port: backendPort }]);
    const client = new RawClient(port);
    try {
      client.send(GET('/ws', 'Connection: Upgrade\r\nUpgrade: echo\r\n'));
      await client.until('the switch', (r) => r.includes('xff=127.0.0.1\n'));
      client.send('ping after upgrade');
      await client.until('the echo', (r) => r.endsWith('ping after upgrade'));
      assert.match(client.received, /^HTTP\/1\.1 101 /);
    } finally {
      client.close();
      await relay.stop('cut');
    }
  });

  it('stop(drain) closes idle client connections at once and busy ones after their reply', async () => {
    const { relay, port } = await startRelay([backends[0]!.target]);
    const idle = new RawClient(port);
    const busy = new RawClient(port);
    try {
      idle.send(GET('/warm'));
      await idle.until('a reply', () => idle.responses().length === 1);
      busy.send(GET('/chunked'));
      await busy.until('part one', (r) => r.includes('part one'));
      await relay.stop('drain');
      await idle.until('the idle one to close', () => idle.closed);
      await busy.until('the busy one to finish and close', () => busy.closed);
      assert.match(busy.received, /part two\n\r\n0\r\n\r\n$/);
    } finally {
      idle.close();
      busy.close();
    }
  });
});
