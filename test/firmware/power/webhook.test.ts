// The webhook driver through the in-memory HTTP client: placeholders in URL, headers and body,
// 2xx as success, the status read-back by regular expression, secrets kept out of details.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { s, validate } from '../../../firmware/config/kit.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { silentLogger } from '../../../firmware/log.js';
import { FakeHttpClient, type FakeHttpAnswer, type FakeHttpExchange } from '../../../firmware/power/http.js';
import { createWebhook, fill, webhookSettings, type WebhookSettings } from '../../../firmware/power/webhook.js';

const host = { name: 'gpu-2', address: '198.51.100.62', mac: '02:00:5e:10:00:62' };
const signal = new AbortController().signal;

function driver(raw: Record<string, unknown>, answer: (x: FakeHttpExchange) => FakeHttpAnswer) {
  const http = new FakeHttpClient(answer);
  const { value, issues } = validate(s.object(webhookSettings), raw);
  assert.deepEqual(issues, []);
  return { http, d: createWebhook(value as WebhookSettings, { clock: new FakeClock(), processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/x', http }) };
}

test('fill: known placeholders only, URL parts percent-encoded', () => {
  const values = { host: 'a b', address: '198.51.100.1', mac: '02:00:5e:00:00:01', action: 'wake', secret: 's&t' };
  assert.equal(fill('/p/{host}/{action}?k={secret}&x={other}', values, encodeURIComponent), '/p/a%20b/wake?k=s%26t&x={other}');
  assert.equal(fill('{"mac":"{mac}"}', values), '{"mac":"02:00:5e:00:00:01"}');
});

test('wake and park send the admin\'s request with the host filled in; 2xx is success', async () => {
  const { d, http } = driver(
    {
      url: 'http://203.0.113.5/power/{host}/{action}',
      headers: { Authorization: 'Bearer {secret}', 'Content-Type': 'application/json' },
      body: '{"mac":"{mac}","ip":"{address}","do":"{action}"}',
      secret: 'tok-123',
    },
    () => ({ status: 202 }),
  );
  const woke = await d.wake(host, signal);
  assert.deepEqual(woke, { ok: true, detail: 'POST http://203.0.113.5/power/gpu-2/wake: HTTP 202' });
  assert.equal((await d.park(host, signal)).ok, true);
  const [w, p] = http.requests;
  assert.equal(w!.method, 'POST');
  assert.equal(w!.headers['authorization'], 'Bearer tok-123');
  assert.deepEqual(JSON.parse(w!.body), { mac: '02:00:5e:10:00:62', ip: '198.51.100.62', do: 'wake' });
  assert.equal(p!.url.pathname, '/power/gpu-2/park');
});

test('non-2xx: 401/403 are auth, others refused, with the body excerpt and without the secret', async () => {
  const { d } = driver({ url: 'http://203.0.113.5/x?token={secret}', httpMethod: 'GET', secret: 'hunter22' }, () => ({ status: 403, body: 'forbidden\n' }));
  const r = await d.wake(host, signal);
  assert.deepEqual(r, { ok: false, failure: 'auth', detail: 'GET http://203.0.113.5/x?token=***: HTTP 403 forbidden' });
  const busy = await driver({ url: 'http://203.0.113.5/' }, () => ({ status: 503, body: 'busy' })).d.park(host, signal);
  assert.equal(!busy.ok && busy.failure, 'refused');
  const down = await driver({ url: 'http://203.0.113.5/' }, () => 'unreachable').d.park(host, signal);
  assert.equal(!down.ok && down.failure, 'unreachable');
});

test('read: statusUrl body against onMatch / offMatch; without them the method cannot read', async () => {
  let state = 'POWER: ON';
  const { d } = driver({ url: 'http://203.0.113.5/', statusUrl: 'http://203.0.113.5/status/{host}', onMatch: 'POWER: ON', offMatch: 'POWER: OFF' }, (x) =>
    x.url.pathname === '/status/gpu-2' ? { status: 200, body: state } : { status: 404 },
  );
  assert.deepEqual(await d.read!(host, signal), { ok: true, reading: 'on' });
  state = 'POWER: OFF';
  assert.deepEqual(await d.read!(host, signal), { ok: true, reading: 'off' });
  state = 'booting';
  assert.deepEqual(await d.read!(host, signal), { ok: true, reading: 'unknown' });
  assert.equal(driver({ url: 'http://203.0.113.5/' }, () => ({ status: 200 })).d.read, undefined, 'no read without statusUrl and onMatch');
});

test('settings: bad URL, header, regular expression are named by path', () => {
  const bad = validate(s.object(webhookSettings), { url: 'ftp://x', headers: { 'Bad Header': 'x', Good: 5 }, onMatch: '(' });
  assert.deepEqual(bad.issues.map((i) => i.path).sort(), ['headers.Bad Header', 'headers.Good', 'onMatch', 'url']);
});
