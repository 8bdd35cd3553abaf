// The Redfish driver with its Linux HTTP client against the DSP0266 test service over real HTTPS
// on loopback, with a self-signed certificate made by openssl: trusted through `ca`, refused by
// default, accepted with `verify: false`; session tokens on the wire and deleted after.

import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { s, validate } from '../../firmware/config/kit.js';
import { systemClock } from '../../firmware/os/clock.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { silentLogger } from '../../firmware/log.js';
import { createRedfish, redfishSettings, type RedfishSettings } from '../../firmware/power/redfish.js';
import { FakeRedfish } from './fake-redfish.js';
import { selfSigned, serve } from './http-serve.js';

const host = { name: 'db-1', address: '198.51.100.31', mac: '02:00:5e:10:00:31' };

test('Redfish over HTTPS: CA-verified session reset and read-back; untrusted certificates refused with a hint', { timeout: 60_000 }, async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'tandem-redfish-'));
  const tls = await selfSigned(dir);
  const bmc = new FakeRedfish(['System.Embedded.1'], 'root', 'calvin-lab', Date.now, 200);
  const served = await serve(bmc.handle, tls);
  try {
    await writeFile(join(dir, 'password'), 'calvin-lab\n');
    const driver = (raw: Record<string, unknown>) => {
      const { value, issues } = validate(s.object(redfishSettings), { address: served.address, user: 'root', passwordFile: join(dir, 'password'), ...raw });
      assert.deepEqual(issues, []);
      return createRedfish(value as RedfishSettings, { clock: systemClock, processes: new LinuxProcessRunner(), log: silentLogger, stateDir: dir });
    };
    const signal = new AbortController().signal;
    const trusted = driver({ ca: tls.certFile });
    const started = performance.now();
    const woke = await trusted.wake(host, signal);
    t.diagnostic(`wake (session, discovery, reset, logout over TLS): ${Math.round(performance.now() - started)} ms`);
    assert.equal(woke.ok, true, JSON.stringify(woke));
    const readStarted = performance.now();
    assert.deepEqual(await trusted.read(host, signal), { ok: true, reading: 'on' });
    t.diagnostic(`read (session, discovery, GET, logout over TLS, warm): ${Math.round(performance.now() - readStarted)} ms`);
    assert.equal(bmc.powerState('System.Embedded.1'), 'On');
    assert.equal((await trusted.park(host, signal)).ok, true);
    await new Promise((resolve) => setTimeout(resolve, 250));
    assert.deepEqual(await trusted.read(host, signal), { ok: true, reading: 'off' });
    assert.deepEqual(bmc.resets.map((r) => r.resetType), ['On', 'GracefulShutdown']);
    assert.equal(bmc.sessions.size, 0, 'every session deleted');
    assert.equal(bmc.created, 4);

    const untrusted = await driver({}).wake(host, signal);
    assert.equal(!untrusted.ok && untrusted.failure, 'misconfigured');
    assert.match(!untrusted.ok ? untrusted.detail : '', /SELF_SIGNED.*give its CA as `ca`, or set `verify: false`/);
    const insecure = await driver({ verify: false, auth: 'basic', parkReset: 'ForceOff' }).wake(host, signal);
    assert.equal(insecure.ok, true, JSON.stringify(insecure));
    const wrong = await driver({ ca: tls.certFile, password: 'nope' }).wake(host, signal);
    assert.equal(!wrong.ok && wrong.failure, 'auth');
    const plainToTls = await driver({ scheme: 'http' }).read(host, signal);
    assert.equal(plainToTls.ok, false);
  } finally {
    await served.close();
    await rm(dir, { recursive: true, force: true });
  }
});
