// The demo's web consoles over real HTTP on loopback (one address per simulated node), on a
// FakeClock cluster: the printed login works, each console has its own session, the demo
// routes obey the session and CSRF rules and drive the cluster, and the UI's files are served.

import { strict as assert } from 'node:assert';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { DemoView } from '../../../firmware/api/routes-demo.js';
import { SimCluster, demoConfigs } from '../../../firmware/demo/cluster.js';
import { startDemoWeb, type DemoWeb } from '../../../firmware/demo/web.js';
import { FakeClock } from '../../../firmware/os/clock.js';

describe('demo web consoles', () => {
  const clock = new FakeClock();
  const cluster = new SimCluster(clock, demoConfigs());
  let web: DemoWeb;
  let uiDir: string;

  before(async () => {
    uiDir = await mkdtemp(join(tmpdir(), 'tandem-demo-ui-'));
    await writeFile(join(uiDir, 'index.html'), '<!doctype html><title>Tandem</title>');
    await cluster.startAll();
    await clock.advance(10_000);
    web = await startDemoWeb(cluster, { port: 0, uiDir, log: undefined });
  });

  after(async () => {
    await web?.close();
    await cluster.stopAll();
    await rm(uiDir, { recursive: true, force: true });
  });

  const request = async (url: string, method: string, options: { body?: unknown; cookie?: string; csrf?: string } = {}) => {
    const response = await fetch(url, {
      method,
      headers: {
        ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(options.cookie ? { cookie: options.cookie } : {}),
        ...(options.csrf ? { 'x-csrf-token': options.csrf } : {}),
      },
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, json: text.startsWith('{') ? (JSON.parse(text) as Record<string, unknown>) : undefined, text };
  };

  const login = async (node: string) => {
    const reply = await request(new URL('/api/login', web.urls[node]).toString(), 'POST', { body: { user: web.user, password: web.password } });
    assert.equal(reply.status, 200, reply.text);
    const cookie = reply.headers.get('set-cookie')!.split(';')[0]!;
    return { cookie, csrf: reply.json!.csrfToken as string };
  };

  it('serves each node on its own loopback address, plain HTTP, with the UI at /', async () => {
    assert.deepEqual(Object.keys(web.urls), ['fw-a', 'fw-b', 'fw-c']);
    assert.deepEqual(Object.values(web.urls).map((u) => new URL(u).hostname), ['127.0.0.1', '127.0.0.2', '127.0.0.3']);
    assert.ok(Object.values(web.urls).every((u) => u.startsWith('http://')));
    assert.equal(web.ui, true);
    const index = await request(web.urls['fw-b']!, 'GET');
    assert.equal(index.status, 200);
    assert.match(index.text, /<title>Tandem<\/title>/);
    assert.equal(web.password.length >= 12, true, 'a random password, not a default one');
    assert.equal((await request(new URL('/api/login', web.urls['fw-a']).toString(), 'POST', { body: { user: 'demo', password: 'wrong' } })).status, 401);
  });

  it('the printed login opens a session on one console only; its status is that node\'s', async () => {
    const a = await login('fw-a');
    const status = await request(new URL('/api/status', web.urls['fw-a']).toString(), 'GET', { cookie: a.cookie });
    assert.equal(status.status, 200);
    assert.equal(status.json!.node, 'fw-a');
    // fw-b's console keeps its own sessions, as a second router would.
    assert.equal((await request(new URL('/api/status', web.urls['fw-b']).toString(), 'GET', { cookie: a.cookie })).status, 401);
    const b = await login('fw-b');
    assert.equal((await request(new URL('/api/status', web.urls['fw-b']).toString(), 'GET', { cookie: b.cookie })).json!.node, 'fw-b');
  });

  it('demo routes need the session and the CSRF token, then drive the cluster', async () => {
    const a = await login('fw-a');
    const url = (path: string) => new URL(path, web.urls['fw-a']).toString();
    assert.equal((await request(url('/api/demo'), 'GET')).status, 401);
    assert.equal((await request(url('/api/demo/crash'), 'POST', { body: { node: 'fw-c' } })).status, 401);
    assert.equal((await request(url('/api/demo/crash'), 'POST', { body: { node: 'fw-c' }, cookie: a.cookie })).status, 403);
    assert.equal((await request(url('/api/demo/crash'), 'POST', { body: { node: 'fw-c' }, cookie: a.cookie, csrf: 'not-it' })).status, 403);
    assert.equal(cluster.node('fw-c').daemon!.isRunning, true, 'refused requests changed nothing');

    const view = (await request(url('/api/demo'), 'GET', { cookie: a.cookie })).json as unknown as DemoView;
    assert.deepEqual(view.nodes.map((n) => [n.name, n.self, n.url]), Object.entries(web.urls).map(([name, u]) => [name, name === 'fw-a', u]));
    const crashed = await request(url('/api/demo/crash'), 'POST', { body: { node: 'fw-c' }, cookie: a.cookie, csrf: a.csrf });
    assert.equal(crashed.status, 200, crashed.text);
    assert.equal(cluster.node('fw-c').daemon!.isRunning, false);
    // The crashed node's console still answers: its VHIDs read INIT.
    const c = await login('fw-c');
    const cStatus = await request(new URL('/api/status', web.urls['fw-c']).toString(), 'GET', { cookie: c.cookie });
    assert.deepEqual((cStatus.json!.carp as { state: string }[]).map((v) => v.state), ['INIT', 'INIT']);
    const started = await request(url('/api/demo/start'), 'POST', { body: { node: 'fw-c' }, cookie: a.cookie, csrf: a.csrf });
    assert.equal(started.status, 200, started.text);
    assert.equal(cluster.node('fw-c').daemon!.isRunning, true);
  });

  it('a console started after the cluster hears the events of the daemons already running', async () => {
    const b = await login('fw-b');
    const reply = await cluster.node('fw-b').daemon!.handle({ cmd: 'maintenance', on: true });
    assert.equal(reply.ok, true);
    await clock.advance(1_000);
    const recent = await request(new URL('/api/events/recent', web.urls['fw-b']).toString(), 'GET', { cookie: b.cookie });
    assert.equal(recent.status, 200, recent.text);
    assert.match(recent.text, /maintenance/, 'the first daemon\'s maintenance event reaches its console');
    await cluster.node('fw-b').daemon!.handle({ cmd: 'maintenance', on: false });
  });

  it('not in the demo, /api/demo does not exist', async () => {
    // The node consoles of a real daemon use `routes` alone; the demo adds its own.
    const { routes } = await import('../../../firmware/api/routes.js');
    assert.equal(routes.some((r) => r.path === '/api/demo' || r.path.startsWith('/api/demo/')), false);
  });
});

describe('demo web ports', () => {
  it('a port in use on one address moves only that console to a port the kernel picks', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0 }, resolve));
    const taken = (blocker.address() as AddressInfo).port;
    const clock = new FakeClock();
    const cluster = new SimCluster(clock, demoConfigs());
    await cluster.startAll();
    const web = await startDemoWeb(cluster, { port: taken, password: 'fixed-for-this-test' });
    try {
      const ports = Object.fromEntries(Object.entries(web.urls).map(([name, url]) => [name, Number(new URL(url).port)]));
      assert.notEqual(ports['fw-a'], taken);
      assert.equal(ports['fw-b'], taken);
      assert.equal(ports['fw-c'], taken);
      const login = await fetch(new URL('/api/login', web.urls['fw-a']), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ user: 'demo', password: 'fixed-for-this-test' }),
      });
      assert.equal(login.status, 200);
    } finally {
      await web.close();
      await cluster.stopAll();
      await new Promise((resolve) => blocker.close(resolve));
    }
  });
});
