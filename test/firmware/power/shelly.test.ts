// The Shelly driver (Gen2 RPC with digest auth, Gen1 relay with Basic) against the test device of
// test/services/fake-shelly.ts through the in-memory HTTP client; digest auth checked against
// RFC 7616's own example.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { s, validate } from '../../../firmware/config/kit.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { silentLogger } from '../../../firmware/log.js';
import { digestHeader, FakeHttpClient, parseDigestChallenge } from '../../../firmware/power/http.js';
import { createShelly, shellySettings, type ShellySettings } from '../../../firmware/power/shelly.js';
import { FakeShelly } from '../../services/fake-shelly.js';

const host = { name: 'nas-1', address: '198.51.100.40', mac: '02:00:5e:10:00:40' };
const signal = new AbortController().signal;

function driver(device: FakeShelly, raw: Record<string, unknown>) {
  const http = new FakeHttpClient(device.handle);
  const { value, issues } = validate(s.object(shellySettings), { address: '198.51.100.9', ...raw });
  assert.deepEqual(issues, []);
  return { http, d: createShelly(value as ShellySettings, { clock: new FakeClock(), processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/x', http }) };
}

test('digest: RFC 7616 section 3.9.1 example, SHA-256 and MD5', () => {
  const challenge = (algorithm: string) =>
    parseDigestChallenge(`Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=${algorithm}, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"`)!;
  const auth = { user: 'Mufasa', password: 'Circle of Life' };
  const req = { method: 'GET', url: 'http://www.example.org/dir/index.html' };
  const cnonce = 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ';
  assert.match(digestHeader(challenge('SHA-256'), auth, req, cnonce), /response="753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"/);
  assert.match(digestHeader(challenge('MD5'), auth, req, cnonce), /response="8ca523f5e9506fed4657c9700eebdbec"/);
  assert.equal(parseDigestChallenge('Basic realm="x"'), undefined);
  assert.equal(parseDigestChallenge('Digest realm="x", nonce="y", algorithm=SHA-512-256'), undefined);
});

test('Gen2: on, read, off on the configured channel, answering the digest challenge', async () => {
  const plug = new FakeShelly(2, 2, 'plugpass1');
  const { d, http } = driver(plug, { channel: 1, password: 'plugpass1' });
  assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'off' });
  const woke = await d.wake(host, signal);
  assert.equal(woke.ok && woke.detail, '198.51.100.9 switch 1 on (was off)');
  assert.deepEqual(plug.outputs, [false, true]);
  assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'on' });
  assert.equal((await d.park(host, signal)).ok, true);
  assert.deepEqual(plug.outputs, [false, false]);
  const authed = http.requests.filter((r) => r.headers['authorization']);
  assert.equal(authed.length, 4);
  assert.match(authed[0]!.headers['authorization']!, /^Digest username="admin".*algorithm=SHA-256/);
});

test('Gen2: a wrong or missing password is auth, naming which; a missing channel is refused with the RPC message', async () => {
  const plug = new FakeShelly(2, 1, 'plugpass1');
  const wrong = await driver(plug, { password: 'nope' }).d.wake(host, signal);
  assert.equal(!wrong.ok && wrong.failure, 'auth');
  assert.match(!wrong.ok ? wrong.detail : '', /wrong user or password/);
  const none = await driver(plug, {}).d.wake(host, signal);
  assert.match(!none.ok ? none.detail : '', /authentication on: set `password`/);
  const missing = await driver(new FakeShelly(2, 1), { channel: 3 }).d.wake(host, signal);
  assert.equal(!missing.ok && missing.failure, 'refused');
  assert.match(!missing.ok ? missing.detail : '', /HTTP 500 -105 Argument 'id', value 3 not found!/);
  assert.deepEqual(plug.outputs, [false]);
});

test('Gen1: relay on/off/read with Basic auth; a password without a user is misconfigured', async () => {
  const plug = new FakeShelly(1, 1, 'relaypass', 'plugadmin');
  const { d, http } = driver(plug, { generation: 1, user: 'plugadmin', password: 'relaypass' });
  assert.equal((await d.wake(host, signal)).ok, true);
  assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'on' });
  assert.equal((await d.park(host, signal)).ok, true);
  assert.deepEqual(plug.outputs, [false]);
  assert.deepEqual(http.requests.slice(0, 2).map((r) => r.url.pathname + r.url.search), ['/relay/0', '/relay/0?turn=on'], 'Gen1 is asked before it is switched on');
  assert.equal(plug.unauthorised, 0, 'Basic goes with the first request');
  const noUser = await driver(plug, { generation: 1, password: 'relaypass' }).d.wake(host, signal);
  assert.equal(!noUser.ok && noUser.failure, 'misconfigured');
});

test('waking through a switch that is already on is refused (Gen2 by was_on, Gen1 by asking first)', async () => {
  for (const generation of [2, 1]) {
    const plug = new FakeShelly(generation as 1 | 2, 1);
    plug.outputs[0] = true;
    const r = await driver(plug, { generation }).d.wake(host, signal);
    assert.equal(!r.ok && r.failure, 'refused', `gen ${generation}`);
    assert.match(!r.ok ? r.detail : '', /switch 0 is already on: .*needs wol/);
    assert.deepEqual(plug.outputs, [true]);
  }
});
