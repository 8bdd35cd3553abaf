// The real relay (firmware/balancer/relay.ts) inside the real balancer service, on loopback
// only: three small servers on 127.0.0.1, scripted health checks, real sockets. Balancing,
// half-close, reset when no host is up, retry past a refusing host, the connection limit,
// draining, and http mode with X-Forwarded-For and per-request balancing.

import { strict as assert } from 'node:assert';
import { request as httpRequest, Agent, createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { validate } from '../../../firmware/config/kit.js';
import { ScriptedChecks } from '../../../firmware/balancer/fake.js';
import { NetRelays } from '../../../firmware/balancer/relay.js';
import { balancerSchema } from '../../../firmware/balancer/schema.js';
import { Balancer } from '../../../firmware/balancer/service.js';
import { createLogger } from '../../../firmware/log.js';
import { systemClock } from '../../../firmware/os/clock.js';

const LOOPBACK = '127.0.0.1';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** A TCP server that says its name, then echoes; ends its side when the client does, after "bye". */
async function nameServer(name: string): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.write(`${name}\n`);
    socket.on('data', (chunk) => socket.write(chunk));
    socket.on('end', () => socket.end('bye\n'));
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return { server, port: (server.address() as { port: number }).port, sockets };
}

/** An HTTP server that answers with its name, the X-Forwarded-For it got, and the body's length. */
async function httpServer(name: string): Promise<{ server: HttpServer; port: number }> {
  const server = createHttpServer((req, res) => {
    let size = 0;
    req.on('data', (chunk: Buffer) => (size += chunk.length));
    req.on('end', () => {
      res.setHeader('X-Backend', name);
      res.end(JSON.stringify({ name, xff: req.headers['x-forwarded-for'] ?? null, size, path: req.url }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, LOOPBACK, resolve));
  return { server, port: (server.address() as { port: number }).port };
}

function relayBalancer(ports: number[], relay: Record<string, unknown>, hosts?: Record<string, unknown>[]) {
  const checks = new ScriptedChecks();
  const config = (hostList = hosts ?? ports.map((port, i) => ({ address: LOOPBACK, port, name: `b${i + 1}` }))) => {
    const { value, issues } = validate(balancerSchema, {
      pools: [{ name: 'web', hosts: hostList, check: { type: 'tcp', intervalSeconds: 0.2, timeoutSeconds: 0.1, downAfter: 1, upAfter: 1 }, relay }],
    });
    assert.ok(value, JSON.stringify(issues));
    return value;
  };
  const balancer = new Balancer(config(), {
    clock: systemClock,
    checks,
    relays: new NetRelays(systemClock),
    demote: () => undefined,
    log: createLogger('error', () => undefined),
  });
  return { balancer, checks, config };
}

/** Connects, returns the first line (the backend's name) and the socket. */
function dial(port: number): Promise<{ name: string; socket: Socket; received: () => string }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ host: LOOPBACK, port, allowHalfOpen: true });
    let data = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      data += chunk;
      const nl = data.indexOf('\n');
      if (nl >= 0) resolve({ name: data.slice(0, nl), socket, received: () => data });
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`closed before a name arrived (${JSON.stringify(data)})`)));
  });
}

/** How a connection to the relay ends when no host can take it. */
function refusedHow(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: LOOPBACK, port });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
    socket.once('data', () => resolve('data'));
    socket.once('close', () => resolve('closed'));
  });
}

async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 3000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('tcp relay on loopback', () => {
  const backends: Awaited<ReturnType<typeof nameServer>>[] = [];
  before(async () => {
    for (const name of ['b1', 'b2', 'b3']) backends.push(await nameServer(name));
  });
  after(() => {
    for (const b of backends) {
      for (const s of b.sockets) s.destroy();
      b.server.close();
    }
  });

  it('balances round robin, echoes both ways and passes a half-close through', async () => {
    const port = await freePort();
    const { balancer } = relayBalancer(backends.map((b) => b.port), { listen: `${LOOPBACK}:${port}` });
    balancer.start();
    try {
      await waitFor('listening and hosts up', () => (balancer.status()[0]!.relay?.listening && balancer.status()[0]!.state === 'up' ? true : undefined));
      const names: string[] = [];
      for (let i = 0; i < 6; i++) {
        const { name, socket } = await dial(port);
        names.push(name);
        socket.destroy();
      }
      assert.deepEqual(names, ['b1', 'b2', 'b3', 'b1', 'b2', 'b3']);

      const { socket, received } = await dial(port);
      socket.write('ping\n');
      socket.end();
      await new Promise((resolve) => socket.once('close', resolve));
      assert.match(received(), /^b\d\nping\nbye\n$/);
      const stats = balancer.status()[0]!.relay!;
      assert.equal(stats.accepted, 7);
      await waitFor('connections released', () => (balancer.status()[0]!.demand.connections === 0 ? true : undefined));
    } finally {
      await balancer.stop();
    }
  });

  it('resets clients at once when no host is up', async () => {
    const port = await freePort();
    const { balancer, checks } = relayBalancer(backends.map((b) => b.port), { listen: `${LOOPBACK}:${port}` });
    checks.fail(LOOPBACK);
    balancer.start();
    try {
      await waitFor('pool down', () => (balancer.status()[0]!.state === 'down' && balancer.status()[0]!.relay?.listening ? true : undefined));
      const started = Date.now();
      assert.equal(await refusedHow(port), 'ECONNRESET');
      assert.ok(Date.now() - started < 500);
      assert.equal(balancer.status()[0]!.relay!.noHost, 1);
    } finally {
      await balancer.stop();
    }
  });

  it('skips a host that refuses the connect and tries the next', async () => {
    const port = await freePort();
    const dead = await freePort();
    const { balancer } = relayBalancer([], { listen: `${LOOPBACK}:${port}` }, [
      { address: LOOPBACK, port: dead, name: 'dead' },
      { address: LOOPBACK, port: backends[1]!.port, name: 'b2' },
    ]);
    balancer.start();
    try {
      await waitFor('listening', () => (balancer.status()[0]!.relay?.listening && balancer.status()[0]!.state === 'up' ? true : undefined));
      const names: string[] = [];
      for (let i = 0; i < 4; i++) {
        const { name, socket } = await dial(port);
        names.push(name);
        socket.destroy();
      }
      assert.deepEqual(names, ['b2', 'b2', 'b2', 'b2']);
      const status = balancer.status()[0]!;
      assert.equal(status.relay!.connectFailures, 2);
      assert.equal(status.hosts.find((h) => h.id === 'dead')!.connectFailures, 2);
    } finally {
      await balancer.stop();
    }
  });

  it('resets connections over maxConnections', async () => {
    const port = await freePort();
    const { balancer } = relayBalancer(backends.map((b) => b.port), { listen: `${LOOPBACK}:${port}`, maxConnections: 2 });
    balancer.start();
    try {
      await waitFor('listening', () => (balancer.status()[0]!.relay?.listening && balancer.status()[0]!.state === 'up' ? true : undefined));
      const held = [await dial(port), await dial(port)];
      assert.equal(await refusedHow(port), 'ECONNRESET');
      assert.equal(balancer.status()[0]!.relay!.rejected, 1);
      for (const h of held) h.socket.destroy();
    } finally {
      await balancer.stop();
    }
  });

  it('draining: an open connection keeps working, new ones go elsewhere', async () => {
    const port = await freePort();
    const { balancer, config } = relayBalancer(backends.map((b) => b.port), { listen: `${LOOPBACK}:${port}` });
    balancer.start();
    try {
      await waitFor('listening', () => (balancer.status()[0]!.relay?.listening && balancer.status()[0]!.state === 'up' ? true : undefined));
      const first = await dial(port);
      assert.equal(first.name, 'b1');
      await balancer.reload(
        config(backends.map((b, i) => ({ address: LOOPBACK, port: b.port, name: `b${i + 1}`, ...(i === 0 ? { mode: 'draining' } : {}) }))),
      );
      assert.equal(balancer.status()[0]!.hosts[0]!.state, 'draining');
      assert.equal(balancer.status()[0]!.hosts[0]!.connections, 1);
      const names: string[] = [];
      for (let i = 0; i < 4; i++) {
        const { name, socket } = await dial(port);
        names.push(name);
        socket.destroy();
      }
      assert.ok(!names.includes('b1'), names.join(' '));
      first.socket.write('still here\n');
      first.socket.end();
      await new Promise((resolve) => first.socket.once('close', resolve));
      assert.equal(first.received(), 'b1\nstill here\nbye\n');
    } finally {
      await balancer.stop();
    }
  });

  it('retries listening while the address is not configured here (a BACKUP router)', async () => {
    const { balancer } = relayBalancer(backends.map((b) => b.port), { listen: '198.51.100.100:8080' });
    balancer.start();
    try {
      await waitFor('a listen error', () => balancer.status()[0]!.relay?.listenError);
      const relay = balancer.status()[0]!.relay!;
      assert.equal(relay.listening, false);
      assert.equal(relay.listenError, 'EADDRNOTAVAIL');
    } finally {
      await balancer.stop();
    }
  });
});

describe('http relay on loopback', () => {
  const backends: Awaited<ReturnType<typeof httpServer>>[] = [];
  before(async () => {
    for (const name of ['h1', 'h2', 'h3']) backends.push(await httpServer(name));
  });
  after(() => {
    for (const b of backends) b.server.close();
  });

  function get(port: number, agent: Agent | false, path = '/', body?: string, headers: Record<string, string> = {}) {
    return new Promise<{ status: number; body: string; headers: Record<string, unknown> }>((resolve, reject) => {
      const req = httpRequest({ host: LOOPBACK, port, path, agent, method: body === undefined ? 'GET' : 'POST', headers }, (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text, headers: res.headers }));
      });
      req.on('error', reject);
      req.end(body);
    });
  }

  it('balances each request of one keep-alive connection and adds X-Forwarded-For', async () => {
    const port = await freePort();
    const { balancer } = relayBalancer(backends.map((b) => b.port), { listen: `${LOOPBACK}:${port}`, mode: 'http' });
    balancer.start();
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      await waitFor('listening', () => (balancer.status()[0]!.relay?.listening && balancer.status()[0]!.state === 'up' ? true : undefined));
      const names: string[] = [];
      for (let i = 0; i < 6; i++) {
        const reply = await get(port, agent, `/n/${i}`, undefined, { 'X-Forwarded-For': '203.0.113.7' });
        const parsed = JSON.parse(reply.body) as { name: string; xff: string; path: string };
        names.push(parsed.name);
        assert.equal(parsed.xff, '203.0.113.7, 127.0.0.1');
        assert.equal(parsed.path, `/n/${i}`);
        assert.equal(reply.headers['x-backend'], parsed.name);
      }
      assert.deepEqual(names, ['h1', 'h2', 'h3', 'h1', 'h2', 'h3']);
      const relay = balancer.status()[0]!.relay!;
      assert.equal(relay.accepted, 1, 'one client connection');
      assert.equal(relay.requests, 6);
    } finally {
      agent.destroy();
      await balancer.stop();
    }
  });

  it('forwards request bodies, with a length and chunked', async () => {
    const port = await freePort();
    const { balancer } = relayBalancer(backends.map((b) => b.port), { listen: `${LOOPBACK}:${port}`, mode: 'http' });
    balancer.start();
    try {
      await waitFor('listening', () => (balancer.status()[0]!.relay?.listening && balancer.status()[0]!.state === 'up' ? true : undefined));
      const withLength = await get(port, false, '/upload', 'x'.repeat(100_000));
      assert.equal((JSON.parse(withLength.body) as { size: number }).size, 100_000);
      const chunked = await new Promise<string>((resolve, reject) => {
        const req = httpRequest({ host: LOOPBACK, port, path: '/chunked', method: 'POST', agent: false }, (res) => {
          let text = '';
          res.on('data', (c: Buffer) => (text += c.toString()));
          res.on('end', () => resolve(text));
        });
        req.on('error', reject);
        req.write('a'.repeat(1000));
        req.end('b'.repeat(1000));
      });
      assert.equal((JSON.parse(chunked) as { size: number }).size, 2000);
    } finally {
      await balancer.stop();
    }
  });

  it('answers 503 at once when no host is up', async () => {
    const port = await freePort();
    const { balancer, checks } = relayBalancer(backends.map((b) => b.port), { listen: `${LOOPBACK}:${port}`, mode: 'http' });
    checks.fail(LOOPBACK);
    balancer.start();
    try {
      await waitFor('pool down', () => (balancer.status()[0]!.state === 'down' && balancer.status()[0]!.relay?.listening ? true : undefined));
      const reply = await get(port, false);
      assert.equal(reply.status, 503);
      assert.equal(reply.body, 'no healthy host in pool web\n');
    } finally {
      await balancer.stop();
    }
  });
});
