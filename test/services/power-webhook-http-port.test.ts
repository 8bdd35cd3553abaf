// The power drivers' HTTP port as a contract: one table of requests, run against the in-memory
// FakeHttpClient (with the handler called directly) and against LinuxHttpClient (the same
// handler behind a real loopback server), so the fake the unit tests use behaves as the real one.

import assert from 'node:assert/strict';
import { createServer, type AddressInfo } from 'node:net';
import { test } from 'node:test';
import { systemClock } from '../../firmware/os/clock.js';
import { FakeHttpClient, LinuxHttpClient, requestWithAuth, type FakeHttpExchange, type FakeHttpAnswer, type HttpClient } from '../../firmware/power/http.js';
import { FakeShelly } from './fake-shelly.js';
import { serve } from './http-serve.js';

function echo(x: FakeHttpExchange): FakeHttpAnswer {
  if (x.url.pathname === '/status') return { status: Number(x.url.searchParams.get('code')), body: 'said so' };
  if (x.url.pathname === '/gone') return 'unreachable';
  return { status: 200, headers: { 'Content-Type': 'application/json', 'X-Seen': x.headers['x-token'] ?? '' }, body: JSON.stringify({ method: x.method, path: x.url.pathname + x.url.search, body: x.body }) };
}

async function contract(name: string, client: HttpClient, origin: string, shellyOrigin: string, plug: FakeShelly): Promise<void> {
  const get = await client.request({ method: 'GET', url: `${origin}/a/b?c=d%20e`, headers: { 'X-Token': 't1' }, timeoutMs: 2000 });
  assert.ok(get.ok, `${name}: ${JSON.stringify(get)}`);
  assert.equal(get.status, 200);
  assert.equal(get.headers['x-seen'], 't1');
  assert.deepEqual(JSON.parse(get.body), { method: 'GET', path: '/a/b?c=d%20e', body: '' });
  const post = await client.request({ method: 'POST', url: `${origin}/p`, body: '{"x":"ü"}', timeoutMs: 2000 });
  assert.ok(post.ok);
  assert.equal(JSON.parse(post.body).body, '{"x":"ü"}', name);
  const status = await client.request({ method: 'GET', url: `${origin}/status?code=503`, timeoutMs: 2000 });
  assert.ok(status.ok && status.status === 503 && status.body === 'said so', name);
  const gone = await client.request({ method: 'GET', url: `${origin}/gone`, timeoutMs: 2000 });
  assert.equal(!gone.ok && gone.failure, 'unreachable', name);
  const bad = await client.request({ method: 'GET', url: 'not a url', timeoutMs: 2000 });
  assert.equal(!bad.ok && bad.failure, 'misconfigured', name);
  const digest = await requestWithAuth(client, { method: 'GET', url: `${shellyOrigin}/rpc/Switch.Set?id=0&on=true`, timeoutMs: 2000 }, { scheme: 'digest', user: 'admin', password: 'pw-contract' });
  assert.ok(digest.ok && digest.status === 200, `${name}: ${JSON.stringify(digest)}`);
  assert.deepEqual(plug.outputs, [true]);
  const wrong = await requestWithAuth(client, { method: 'GET', url: `${shellyOrigin}/rpc/Switch.Set?id=0&on=false`, timeoutMs: 2000 }, { scheme: 'digest', user: 'admin', password: 'nope' });
  assert.ok(wrong.ok && wrong.status === 401, name);
  assert.deepEqual(plug.outputs, [true]);
}

test('HTTP port contract: the fake and the Linux client agree', { timeout: 30_000 }, async () => {
  const fakePlug = new FakeShelly(2, 1, 'pw-contract');
  const fake = new FakeHttpClient((x) => (x.url.host === 'shelly.test' ? fakePlug.handle(x) : echo(x)));
  await contract('fake', fake, 'http://device.test', 'http://shelly.test', fakePlug);

  const realPlug = new FakeShelly(2, 1, 'pw-contract');
  const servers = [await serve(echo), await serve(realPlug.handle)];
  try {
    await contract('linux', new LinuxHttpClient(systemClock), servers[0]!.origin, servers[1]!.origin, realPlug);
  } finally {
    await Promise.all(servers.map((s) => s.close()));
  }
});

test('Linux HTTP client: refused connections and silent servers end as unreachable, on time', { timeout: 30_000 }, async () => {
  const client = new LinuxHttpClient(systemClock);
  const refused = await client.request({ method: 'GET', url: 'http://127.0.0.1:1/', timeoutMs: 2000 });
  assert.deepEqual(refused, { ok: false, failure: 'unreachable', detail: '127.0.0.1:1: ECONNREFUSED' });
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const port = (silent.address() as AddressInfo).port;
    const timedOut = await client.request({ method: 'GET', url: `http://127.0.0.1:${port}/`, timeoutMs: 200 });
    assert.deepEqual(timedOut, { ok: false, failure: 'unreachable', detail: `no answer from 127.0.0.1:${port} within 200 ms` });
    const controller = new AbortController();
    const pending = client.request({ method: 'GET', url: `http://127.0.0.1:${port}/`, timeoutMs: 10_000 }, controller.signal);
    controller.abort();
    assert.equal(((await pending) as { failure?: string }).failure, 'unreachable');
  } finally {
    silent.close();
  }
});
