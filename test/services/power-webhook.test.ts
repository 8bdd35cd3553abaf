// The webhook driver with its Linux HTTP client against a loopback HTTP server that records what
// arrives and answers like a small power controller; a server that never answers is a timeout.

import assert from 'node:assert/strict';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { s, validate } from '../../firmware/config/kit.js';
import { systemClock } from '../../firmware/os/clock.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { silentLogger } from '../../firmware/log.js';
import type { FakeHttpExchange } from '../../firmware/power/http.js';
import { createWebhook, webhookSettings, type WebhookSettings } from '../../firmware/power/webhook.js';
import { serve } from './http-serve.js';

const host = { name: 'gpu-2', address: '198.51.100.62', mac: '02:00:5e:10:00:62' };
const signal = new AbortController().signal;

function driver(raw: Record<string, unknown>) {
  const { value, issues } = validate(s.object(webhookSettings), raw);
  assert.deepEqual(issues, []);
  return createWebhook(value as WebhookSettings, { clock: systemClock, processes: new LinuxProcessRunner(), log: silentLogger, stateDir: '/nonexistent' });
}

test('webhook over real HTTP: the request arrives as configured, read-back by regex, timeout and refusal', { timeout: 30_000 }, async () => {
  const seen: FakeHttpExchange[] = [];
  const power = new Map<string, 'ON' | 'OFF'>();
  const served = await serve((x) => {
    seen.push(x);
    if (x.headers['x-api-key'] !== 'k-998877') return { status: 401, body: '{"error":"bad key"}' };
    const act = /^\/hosts\/([^/]+)\/(wake|park)$/.exec(x.url.pathname);
    if (act && x.method === 'PUT') {
      power.set(act[1]!, act[2] === 'wake' ? 'ON' : 'OFF');
      return { status: 204 };
    }
    const status = /^\/hosts\/([^/]+)$/.exec(x.url.pathname);
    if (status && x.method === 'GET') return { status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify({ name: status[1], power: power.get(status[1]!) ?? 'OFF' }) };
    return { status: 404 };
  });
  // A TCP listener that accepts and never answers.
  const silent = createServer(() => undefined);
  await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
  try {
    const settings = {
      url: `${served.origin}/hosts/{host}/{action}`,
      httpMethod: 'PUT',
      headers: { 'X-Api-Key': '{secret}', 'Content-Type': 'application/json' },
      body: '{"mac":"{mac}","address":"{address}"}',
      secret: 'k-998877',
      statusUrl: `${served.origin}/hosts/{host}`,
      onMatch: '"power":"ON"',
      offMatch: '"power":"OFF"',
    };
    const d = driver(settings);
    assert.deepEqual(await d.read!(host, signal), { ok: true, reading: 'off' });
    const woke = await d.wake(host, signal);
    assert.equal(woke.ok, true, JSON.stringify(woke));
    assert.equal(power.get('gpu-2'), 'ON');
    assert.deepEqual(await d.read!(host, signal), { ok: true, reading: 'on' });
    const put = seen.find((x) => x.method === 'PUT')!;
    assert.deepEqual(JSON.parse(put.body), { mac: '02:00:5e:10:00:62', address: '198.51.100.62' });
    assert.equal(put.headers['content-type'], 'application/json');
    assert.equal((await d.park(host, signal)).ok, true);
    assert.deepEqual(await d.read!(host, signal), { ok: true, reading: 'off' });

    const badKey = await driver({ ...settings, secret: 'wrong' }).wake(host, signal);
    assert.equal(!badKey.ok && badKey.failure, 'auth');
    assert.doesNotMatch(!badKey.ok ? badKey.detail : '', /wrong/);
    const missing = await driver({ ...settings, url: `${served.origin}/nowhere` }).wake(host, signal);
    assert.equal(!missing.ok && missing.failure, 'refused');
    const started = performance.now();
    const timedOut = await driver({ url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}/`, timeoutSeconds: 0.3 }).wake(host, signal);
    assert.equal(!timedOut.ok && timedOut.failure, 'unreachable');
    assert.match(!timedOut.ok ? timedOut.detail : '', /no answer .* within 300 ms/);
    assert.ok(performance.now() - started < 5000, 'the timeout ended the call');
    assert.equal(power.get('gpu-2'), 'OFF');
  } finally {
    silent.close();
    await served.close();
  }
});
