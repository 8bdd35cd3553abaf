// The Tasmota driver over MQTT (in-memory broker) and HTTP (in-memory client) against the test
// plug of test/services/fake-tasmota.ts: topics, payloads, LWT availability, WebPassword.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { s, validate } from '../../../firmware/config/kit.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { silentLogger } from '../../../firmware/log.js';
import { FakeHttpClient } from '../../../firmware/power/http.js';
import { FakeMqttAsker } from '../../../firmware/power/mqtt-ask.js';
import { createTasmota, tasmotaSettings, type TasmotaSettings } from '../../../firmware/power/tasmota.js';
import { FakeTasmota } from '../../services/fake-tasmota.js';

const host = { name: 'pi-1', address: '198.51.100.50', mac: '02:00:5e:10:00:50' };
const signal = new AbortController().signal;

function driver(plug: FakeTasmota, raw: Record<string, unknown>, topic = 'rack_plug_3') {
  const http = new FakeHttpClient(plug.handle);
  const mqtt = new FakeMqttAsker(plug.mqttReplies(topic));
  const { value, issues } = validate(s.object(tasmotaSettings), raw);
  assert.deepEqual(issues, []);
  const d = createTasmota(value as TasmotaSettings, { clock: new FakeClock(), processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/x', http, mqtt });
  return { d, http, mqtt };
}

test('mqtt: cmnd/<topic>/POWER ON and OFF, the answer on stat/<topic>/POWER, an empty payload asks', async () => {
  const plug = new FakeTasmota(1);
  const { d, mqtt } = driver(plug, { topic: 'rack_plug_3', url: 'mqtt://127.0.0.1:1883' });
  assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'off' });
  const woke = await d.wake(host, signal);
  assert.equal(woke.ok && woke.detail, 'rack_plug_3 POWER on');
  assert.deepEqual(plug.relays, [true]);
  assert.equal((await d.park(host, signal)).ok, true);
  assert.deepEqual(mqtt.published, [
    { topic: 'cmnd/rack_plug_3/POWER', payload: '' },
    { topic: 'cmnd/rack_plug_3/POWER', payload: '' }, // wake asks first: on cannot start a host behind a relay already on
    { topic: 'cmnd/rack_plug_3/POWER', payload: 'ON' },
    { topic: 'cmnd/rack_plug_3/POWER', payload: 'OFF' },
  ]);
  assert.equal((await d.wake(host, signal)).ok, true);
  const again = await d.wake(host, signal);
  assert.equal(!again.ok && again.failure, 'refused');
  assert.match(!again.ok ? again.detail : '', /rack_plug_3 POWER is already on/);
});

test('mqtt: relay n uses POWER<n>; a retained LWT Offline is unreachable; a wrong topic gets no answer', async () => {
  const plug = new FakeTasmota(4);
  const { d, mqtt } = driver(plug, { topic: 'rack_plug_3', url: 'mqtt://127.0.0.1', relay: 3 });
  assert.equal((await d.wake(host, signal)).ok, true);
  assert.deepEqual(plug.relays, [false, false, true, false]);
  // PowerRetain: the broker holds the last state; it is not the answer to a new command.
  mqtt.retained.set('stat/rack_plug_3/POWER3', 'ON');
  assert.equal((await d.park(host, signal)).ok, true);
  assert.deepEqual(plug.relays, [false, false, false, false]);
  mqtt.retained.set('tele/rack_plug_3/LWT', 'Offline');
  const offline = await d.park(host, signal);
  assert.equal(!offline.ok && offline.failure, 'unreachable');
  assert.match(!offline.ok ? offline.detail : '', /LWT says Offline/);
  const wrong = await driver(plug, { topic: 'other', url: 'mqtt://127.0.0.1' }).d.park(host, signal);
  assert.equal(!wrong.ok && wrong.failure, 'unreachable');
  assert.match(!wrong.ok ? wrong.detail : '', /no answer on stat\/other\/POWER/);
  assert.deepEqual(plug.relays, [false, false, false, false]);
});

test('http: /cm?cmnd=Power%20On with user and password; a wrong password is auth', async () => {
  const plug = new FakeTasmota(1, 'webpass1');
  const { d, http } = driver(plug, { via: 'http', address: '198.51.100.8', password: 'webpass1' });
  assert.equal((await d.wake(host, signal)).ok, true);
  assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'on' });
  assert.deepEqual(http.requests.slice(0, 2).map((r) => r.url.search), ['?user=admin&password=webpass1&cmnd=Power', '?user=admin&password=webpass1&cmnd=Power%20On']);
  const wrong = await driver(plug, { via: 'http', address: '198.51.100.8', password: 'nope' }).d.park(host, signal);
  assert.equal(!wrong.ok && wrong.failure, 'auth');
  assert.match(!wrong.ok ? wrong.detail : '', /Need user=<username>&password=<password>/);
  assert.deepEqual(plug.relays, [true]);
});

test('missing settings are misconfigured, naming what each way needs', async () => {
  const plug = new FakeTasmota(1);
  const noBroker = await driver(plug, { topic: 't' }).d.wake(host, signal);
  assert.match(!noBroker.ok ? noBroker.detail : '', /needs `topic` and `url`/);
  const noAddress = await driver(plug, { via: 'http' }).d.wake(host, signal);
  assert.equal(!noAddress.ok && noAddress.failure, 'misconfigured');
  const bad = validate(s.object(tasmotaSettings), { topic: 'a/b', url: 'http://x' });
  assert.deepEqual(bad.issues.map((i) => i.path), ['topic', 'url']);
});

test('the shared Tasmota contract table (also run through mosquitto in test/services/power-plugs.test.ts)', async () => {
  const { TASMOTA_CASES, TASMOTA_TOPIC, checkTasmotaCase } = await import('../../services/tasmota-contract.js');
  const plug = new FakeTasmota(2);
  const mqtt = new FakeMqttAsker(plug.mqttReplies(TASMOTA_TOPIC));
  for (const c of TASMOTA_CASES) {
    const { value } = validate(s.object(tasmotaSettings), { url: 'mqtt://127.0.0.1:1883', ...c.settings });
    const d = createTasmota(value as TasmotaSettings, { clock: new FakeClock(), processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/x', mqtt });
    const results = [];
    for (const step of c.steps) results.push(await d[step](host, signal));
    checkTasmotaCase(c, results);
  }
});
