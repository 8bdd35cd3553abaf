// The Redfish driver against the DSP0266 test service (test/services/fake-redfish.ts) through the
// in-memory HTTP client: session and Basic auth, discovery, reset types, read-back, failures.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { s, validate } from '../../../firmware/config/kit.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { silentLogger } from '../../../firmware/log.js';
import { FakeHttpClient } from '../../../firmware/power/http.js';
import { createRedfish, readingOf, redfishSettings, type RedfishSettings } from '../../../firmware/power/redfish.js';
import { FakeRedfish } from '../../services/fake-redfish.js';

const host = { name: 'db-1', address: '198.51.100.31', mac: '02:00:5e:10:00:31' };
const signal = new AbortController().signal;

function setup(raw: Record<string, unknown>, systems = ['1']) {
  let now = 0;
  const bmc = new FakeRedfish(systems, 'admin', 'sekret99', () => now, 300);
  const http = new FakeHttpClient(bmc.handle);
  const { value, issues } = validate(s.object(redfishSettings), { address: '203.0.113.10', user: 'admin', password: 'sekret99', ...raw });
  assert.deepEqual(issues, []);
  const driver = createRedfish(value as RedfishSettings, { clock: new FakeClock(), processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/x', http });
  return { bmc, http, driver, advance: (ms: number) => (now += ms) };
}

test('PowerState maps to readings; transitions read unknown', () => {
  assert.equal(readingOf('On'), 'on');
  assert.equal(readingOf('Off'), 'off');
  assert.equal(readingOf('PoweringOff'), 'unknown');
  assert.equal(readingOf(undefined), 'unknown');
});

test('session auth: wake posts ResetType On to the discovered system, and every session is deleted', async () => {
  const { bmc, http, driver } = setup({});
  assert.deepEqual(await driver.read(host, signal), { ok: true, reading: 'off' });
  const woke = await driver.wake(host, signal);
  assert.equal(woke.ok, true, JSON.stringify(woke));
  assert.deepEqual(bmc.resets, [{ system: '1', resetType: 'On' }]);
  assert.equal(bmc.powerState('1'), 'On');
  assert.equal(bmc.created, 2);
  assert.equal(bmc.sessions.size, 0, 'the driver deleted its sessions');
  const post = http.requests.find((r) => r.url.pathname.endsWith('ComputerSystem.Reset'))!;
  assert.deepEqual(JSON.parse(post.body), { ResetType: 'On' });
  assert.match(post.headers['x-auth-token'] ?? '', /^[0-9a-f]{32}$/);
  assert.equal(post.url.protocol, 'https:');
});

test('park is a GracefulShutdown that reads unknown while powering off, then off; waking a host the BMC sees On is refused with the way out', async () => {
  const { bmc, driver, advance } = setup({ auth: 'basic', system: '1' });
  assert.equal((await driver.wake(host, signal)).ok, true);
  const again = await driver.wake(host, signal);
  assert.equal(!again.ok && again.failure, 'refused');
  assert.match(!again.ok ? again.detail : '', /already On: the BMC cannot wake a suspended host \(use wol\)/);
  assert.equal((await driver.park(host, signal)).ok, true);
  assert.deepEqual(await driver.read(host, signal), { ok: true, reading: 'unknown' });
  const during = await driver.park(host, signal);
  assert.equal(during.ok && during.detail, '/redfish/v1/Systems/1 already PoweringOff', 'a park while powering off is not sent again');
  advance(301);
  assert.deepEqual(await driver.read(host, signal), { ok: true, reading: 'off' });
  assert.equal((await driver.park(host, signal)).ok, true, 'parking a host already off is done');
  assert.deepEqual(bmc.resets.map((r) => r.resetType), ['On', 'GracefulShutdown']);
  assert.equal(bmc.created, 0, 'basic auth opens no session');
});

test('ForceOff when configured; several systems need `system`', async () => {
  const { bmc, driver } = setup({ parkReset: 'ForceOff' }, ['a', 'b']);
  const r = await driver.park(host, signal);
  assert.equal(!r.ok && r.failure, 'misconfigured');
  assert.match(!r.ok ? r.detail : '', /lists 2 systems .*set `system`/);
  const named = setup({ parkReset: 'ForceOff', system: 'b' }, ['a', 'b']);
  await named.driver.wake(host, signal);
  assert.equal((await named.driver.park(host, signal)).ok, true);
  assert.equal(named.bmc.powerState('b'), 'Off');
  assert.deepEqual(named.bmc.resets.at(-1), { system: 'b', resetType: 'ForceOff' });
  assert.equal(bmc.resets.length, 0);
});

test('a wrong password is auth (session and Basic); a missing system is refused; no answer is unreachable', async () => {
  for (const auth of ['session', 'basic']) {
    const { driver, bmc } = setup({ auth, password: 'wrong' });
    const r = await driver.wake(host, signal);
    assert.equal(!r.ok && r.failure, 'auth', auth);
    assert.match(!r.ok ? r.detail : '', /HTTP 401 Base\.1\.8\.NoValidSession.*user admin/);
    assert.equal(bmc.resets.length, 0);
  }
  const missing = setup({ system: '7' });
  const r = await missing.driver.read(host, signal);
  assert.equal(!r.ok && r.failure, 'refused');
  assert.match(!r.ok ? r.detail : '', /HTTP 404/);
  const down = createRedfish(validate(s.object(redfishSettings), { address: '203.0.113.10', user: 'a', password: 'b' }).value as RedfishSettings, {
    clock: new FakeClock(), processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/x', http: new FakeHttpClient(() => 'unreachable'),
  });
  const d = await down.wake(host, signal);
  assert.equal(!d.ok && d.failure, 'unreachable');
});

test('wakeReset PowerCycle acts on a host the BMC sees On (a hung host)', async () => {
  const { bmc, driver } = setup({ wakeReset: 'PowerCycle' });
  assert.equal((await driver.wake(host, signal)).ok, true);
  assert.equal((await driver.wake(host, signal)).ok, true);
  assert.deepEqual(bmc.resets.map((r) => r.resetType), ['PowerCycle', 'PowerCycle']);
});
