// Smart plugs with the drivers' Linux ports: Tasmota over MQTT through Debian's mosquitto (started
// here on loopback with a password file or a TLS listener, killed by PID) with a test plug attached as a real MQTT
// client, whose last will marks it Offline; Tasmota over HTTP and Shelly Gen2 (digest) and Gen1
// (Basic) against test devices served over real HTTP on loopback.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import mqtt from 'mqtt';
import { s, validate, type Shape } from '../../firmware/config/kit.js';
import { systemClock } from '../../firmware/os/clock.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { silentLogger } from '../../firmware/log.js';
import type { DriverDeps, PowerDriver } from '../../firmware/power/driver.js';
import { createShelly, shellySettings } from '../../firmware/power/shelly.js';
import { createTasmota, tasmotaSettings } from '../../firmware/power/tasmota.js';
import { FakeShelly } from './fake-shelly.js';
import { FakeTasmota } from './fake-tasmota.js';
import { serve } from './http-serve.js';
import { checkTasmotaCase, TASMOTA_CASES } from './tasmota-contract.js';
import { freePort, makeCa, Mosquitto } from './telemetry-lab.js';

const host = { name: 'pi-1', address: '198.51.100.50', mac: '02:00:5e:10:00:50' };
const signal = new AbortController().signal;
const deps: DriverDeps = { clock: systemClock, processes: new LinuxProcessRunner(), log: silentLogger, stateDir: '/nonexistent' };

function build<S extends Shape>(shape: S, create: (settings: never, deps: DriverDeps) => PowerDriver, raw: Record<string, unknown>): Required<PowerDriver> {
  const { value, issues } = validate(s.object(shape), raw);
  assert.deepEqual(issues, []);
  return create(value as never, deps) as Required<PowerDriver>;
}

test('Tasmota over MQTT through mosquitto: switch, read back, Offline by last will, broker auth refused', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-tasmota-'));
  const port = await freePort();
  await promisify(execFile)('mosquitto_passwd', ['-b', '-c', join(dir, 'passwd'), 'tandem', 'brokerpass1']);
  const broker = await Mosquitto.start(dir, [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${join(dir, 'passwd')}`]);
  const url = `mqtt://127.0.0.1:${port}`;
  const plug = new FakeTasmota(2);
  const device = await plug.attach(mqtt, `mqtt://tandem:brokerpass1@127.0.0.1:${port}`, 'rack_plug_7');
  try {
    const d = build(tasmotaSettings, createTasmota as never, { topic: 'rack_plug_7', url, user: 'tandem', password: 'brokerpass1', relay: 2, timeoutSeconds: 2 });
    assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'off' });
    const started = performance.now();
    const woke = await d.wake(host, signal);
    t.diagnostic(`wake over MQTT (connect, subscribe, publish, answer): ${Math.round(performance.now() - started)} ms`);
    assert.equal(woke.ok, true, JSON.stringify(woke));
    assert.deepEqual(plug.relays, [false, true]);
    assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'on' });
    assert.equal((await d.park(host, signal)).ok, true);
    assert.deepEqual(plug.relays, [false, false]);
    // A stale retained state on the broker (PowerRetain) must not pass for the plug's answer.
    await device.publishAsync('stat/rack_plug_7/POWER2', 'ON', { retain: true, qos: 1 });
    assert.deepEqual(await d.read(host, signal), { ok: true, reading: 'off' });

    // The table the unit test runs against the in-memory broker, here through mosquitto.
    for (const c of TASMOTA_CASES) {
      const driver = build(tasmotaSettings, createTasmota as never, { url, user: 'tandem', password: 'brokerpass1', ...c.settings });
      const results = [];
      for (const step of c.steps) results.push(await driver[step](host, signal));
      checkTasmotaCase(c, results);
    }

    const badAuth = await build(tasmotaSettings, createTasmota as never, { topic: 'rack_plug_7', url, user: 'tandem', password: 'wrong', timeoutSeconds: 2 }).wake(host, signal);
    assert.equal(!badAuth.ok && badAuth.failure, 'auth', JSON.stringify(badAuth));
    const silent = await build(tasmotaSettings, createTasmota as never, { topic: 'no_such_plug', url, user: 'tandem', password: 'brokerpass1', timeoutSeconds: 0.5 }).wake(host, signal);
    assert.equal(!silent.ok && silent.failure, 'unreachable');
    assert.match(!silent.ok ? silent.detail : '', /no answer on stat\/no_such_plug\/POWER/);

    // The plug drops off the network: the broker publishes its will.
    device.stream.destroy();
    const offline = await (async () => {
      for (let i = 0; i < 40; i++) {
        const r = await d.read(host, signal);
        if (!r.ok && /Offline/.test(r.detail)) return r;
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      return undefined;
    })();
    assert.ok(offline, 'the LWT Offline reached the driver');
    assert.equal(!offline.ok && offline.failure, 'unreachable');
  } finally {
    device.end(true);
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
});

test('Tasmota over HTTP and Shelly Gen2/Gen1 over real HTTP: switch, read back, credentials checked by the device', { timeout: 60_000 }, async () => {
  const tasmota = new FakeTasmota(1, 'webpass1');
  const gen2 = new FakeShelly(2, 1, 'shellypass');
  const gen1 = new FakeShelly(1, 2, 'relaypass', 'plugadmin');
  const servers = await Promise.all([serve(tasmota.handle), serve(gen2.handle), serve(gen1.handle)]);
  const [ts, s2, s1] = servers as [typeof servers[0], typeof servers[0], typeof servers[0]];
  try {
    const t = build(tasmotaSettings, createTasmota as never, { via: 'http', address: ts.address, password: 'webpass1' });
    assert.equal((await t.wake(host, signal)).ok, true);
    assert.deepEqual(tasmota.relays, [true]);
    assert.deepEqual(await t.read(host, signal), { ok: true, reading: 'on' });
    const tBad = await build(tasmotaSettings, createTasmota as never, { via: 'http', address: ts.address, password: 'x' }).park(host, signal);
    assert.equal(!tBad.ok && tBad.failure, 'auth');

    const g2 = build(shellySettings, createShelly as never, { address: s2.address, password: 'shellypass' });
    assert.equal((await g2.wake(host, signal)).ok, true);
    assert.deepEqual(gen2.outputs, [true]);
    assert.deepEqual(await g2.read(host, signal), { ok: true, reading: 'on' });
    assert.equal((await g2.park(host, signal)).ok, true);
    assert.deepEqual(gen2.outputs, [false]);
    const g2Bad = await build(shellySettings, createShelly as never, { address: s2.address, password: 'wrong' }).wake(host, signal);
    assert.equal(!g2Bad.ok && g2Bad.failure, 'auth');
    assert.deepEqual(gen2.outputs, [false]);

    const g1 = build(shellySettings, createShelly as never, { address: s1.address, generation: 1, channel: 1, user: 'plugadmin', password: 'relaypass' });
    assert.equal((await g1.wake(host, signal)).ok, true);
    assert.deepEqual(gen1.outputs, [false, true]);
    assert.deepEqual(await g1.read(host, signal), { ok: true, reading: 'on' });

    const closed = await build(shellySettings, createShelly as never, { address: '127.0.0.1:1', timeoutSeconds: 1 }).read(host, signal);
    assert.equal(!closed.ok && closed.failure, 'unreachable');
    assert.match(!closed.ok ? closed.detail : '', /ECONNREFUSED/);
  } finally {
    await Promise.all(servers.map((x) => x.close()));
  }
});

test('Tasmota over mqtts: the broker CA from `ca` is trusted; without it the failure says what to set', { timeout: 90_000 }, async () => {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-tasmota-tls-'));
  const certs = await makeCa(dir, 'plugs');
  const [plain, secure] = [await freePort(), await freePort()];
  const broker = await Mosquitto.start(dir, [
    `listener ${plain} 127.0.0.1`, 'allow_anonymous true',
    `listener ${secure} 127.0.0.1`, `cafile ${certs.ca}`, `certfile ${certs.serverCert}`, `keyfile ${certs.serverKey}`,
  ]);
  const plug = new FakeTasmota(1);
  const device = await plug.attach(mqtt, `mqtt://127.0.0.1:${plain}`, 'desk_plug');
  try {
    const url = `mqtts://127.0.0.1:${secure}`;
    const trusted = build(tasmotaSettings, createTasmota as never, { topic: 'desk_plug', url, ca: certs.ca, timeoutSeconds: 3 });
    const woke = await trusted.wake(host, signal);
    assert.equal(woke.ok, true, JSON.stringify(woke));
    assert.deepEqual(plug.relays, [true]);
    const untrusted = await build(tasmotaSettings, createTasmota as never, { topic: 'desk_plug', url, timeoutSeconds: 3 }).park(host, signal);
    assert.equal(!untrusted.ok && untrusted.failure, 'misconfigured', JSON.stringify(untrusted));
    assert.match(!untrusted.ok ? untrusted.detail : '', /give its CA as `ca`/);
    const insecure = await build(tasmotaSettings, createTasmota as never, { topic: 'desk_plug', url, verify: false, timeoutSeconds: 3 }).park(host, signal);
    assert.equal(insecure.ok, true, JSON.stringify(insecure));
    assert.deepEqual(plug.relays, [false]);
  } finally {
    device.end(true);
    await broker.stop();
    await rm(dir, { recursive: true, force: true });
  }
});
