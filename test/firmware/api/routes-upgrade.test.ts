// The upgrade routes through a real ApiServer on loopback, backed by a real UpgradeService on a
// fake disk of files: a real bundle uploaded as the raw body lands in slot B although it is far
// over api.maxBodyBytes, with progress on the event bus and an audit line; no session is 401,
// no CSRF token 403, both before a byte is written; a refused bundle names its step; status,
// commit and the confirmed reboot answer as the CLI's commands do.

import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { hashPassword, SessionStore, Users } from '../../../firmware/api/auth.js';
import { LoginLimiter } from '../../../firmware/api/rate-limit.js';
import { routes } from '../../../firmware/api/routes.js';
import { ApiServer } from '../../../firmware/api/server.js';
import type { ApiBackend } from '../../../firmware/api/types.js';
import type { Status } from '../../../firmware/daemon.js';
import { EventBus, type StampedEvent } from '../../../firmware/events.js';
import { createLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { handleUpgradeRequest, type UpgradeRequest } from '../../../firmware/upgrade/control.js';
import { FakeRebooter, LinuxBlockDevices } from '../../../firmware/upgrade/ports.js';
import { UpgradeService } from '../../../firmware/upgrade/service.js';
import { listEnv, makeBundle, makeLab, manifestFor, pattern, writeEnv, type Lab } from '../upgrade/bundle-lab.js';
import { call, CHEAP, login, PASSWORD } from './server-harness.js';

describe('upgrade routes', () => {
  let lab: Lab;
  let server: ApiServer;
  let url = '';
  let upgrade: UpgradeService;
  let rebooter: FakeRebooter;
  let clock: FakeClock;
  const events: StampedEvent[] = [];
  const lines: Record<string, unknown>[] = [];
  let session: { cookie: string; csrf: string };

  before(async () => {
    lab = await makeLab();
    clock = new FakeClock();
    const files = new MemoryFileStore();
    files.files.set('/run/tandem/boot.json', JSON.stringify(lab.bootJson));
    const log = createLogger('debug', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
    const bus = new EventBus(() => clock.now(), log);
    bus.on((event) => events.push(event));
    rebooter = new FakeRebooter();
    upgrade = new UpgradeService({ commitAfterSeconds: 30, trialTimeoutSeconds: 180 }, {
      clock, files, devices: new LinuxBlockDevices(), rebooter, log, stateDir: '/cfg/state', emit: (e) => bus.emit(e), health: () => [],
    });
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    await upgrade.start();
    const backend: ApiBackend = {
      status: () => ({ node: 'fw-a' }) as unknown as Status,
      handle: async (request) => handleUpgradeRequest(upgrade, request as UpgradeRequest),
      events: bus,
      config: { read: async () => ({ path: '/cfg/tandem.yaml', text: '' }) },
      upgradeInstall: (source, options) => upgrade.install(source, options),
    };
    server = new ApiServer({
      routes, backend, log, clock, maxBodyBytes: 1024,
      users: new Users([{ name: 'admin', passwordHash: await hashPassword(PASSWORD, CHEAP) }]),
      sessions: new SessionStore(clock, { idleMinutes: 30, absoluteHours: 8 }),
      limiter: new LoginLimiter(clock),
    });
    url = (await server.listen({ host: '127.0.0.1', port: 0 })).url;
    session = await login(url);
  });
  after(async () => {
    await server.close();
    await lab.cleanup();
  });

  it('refuses an upload without a session (401) or without the CSRF token (403), writing nothing', async () => {
    const bundle = await readFile(await makeBundle(lab, 'auth', { rootfs: pattern(1 << 20) }));
    const anonymous = await call(url, 'POST', '/api/upgrade', { raw: bundle });
    assert.equal(anonymous.status, 401);
    const noToken = await call(url, 'POST', '/api/upgrade', { raw: bundle, cookie: session.cookie });
    assert.equal(noToken.status, 403);
    assert.equal((await readFile(join(lab.dir, 'B.img'))).some((b) => b !== 0), false);
    assert.equal(events.length, 0);
  });

  it('streams a bundle far over api.maxBodyBytes into slot B, with progress events and an audit line', async () => {
    const rootfs = pattern(3 << 20, 11);
    const bundle = await readFile(await makeBundle(lab, 'api', { rootfs }));
    const reply = await call(url, 'POST', '/api/upgrade', { raw: bundle, cookie: session.cookie, csrf: session.csrf, chunked: true });
    assert.equal(reply.status, 200, reply.text);
    assert.equal(reply.json.slot, 'B');
    assert.equal(reply.json.version, '0.2.0+gnew');
    assert.equal(reply.json.rebooting, undefined);
    assert.deepEqual((await readFile(join(lab.dir, 'B.img'))).subarray(0, rootfs.length), rootfs);
    assert.equal(await listEnv(lab.dir), 'SLOT=A\nTRIAL=B\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
    const phases = events.filter((e) => e.type === 'upgrade').map((e) => (e as { phase: string }).phase);
    assert.equal(phases[0], 'started');
    assert.ok(phases.filter((p) => p === 'progress').length >= 3);
    assert.equal(phases.at(-1), 'installed');
    assert.ok(lines.some((l) => l.audit === true && l.action === 'upgrade' && l.outcome === 'done' && l.user === 'admin'));
    const status = await call(url, 'GET', '/api/upgrade', { cookie: session.cookie });
    assert.equal(status.status, 200);
    assert.deepEqual(status.json.trial, { slot: 'B', booted: false });
    assert.deepEqual(status.json.slots, { A: '0.1.0+gold', B: '0.2.0+gnew' });
  });

  it('reboots into the written upgrade only when asked, after the reply', async () => {
    const reply = await call(url, 'POST', '/api/upgrade/reboot', { cookie: session.cookie, csrf: session.csrf });
    assert.equal(reply.status, 200, reply.text);
    assert.deepEqual(reply.json, { rebooting: 'B' });
    assert.equal(rebooter.reboots, 0);
    await clock.advance(1000);
    assert.equal(rebooter.reboots, 1);
  });

  it('names the step of a refused bundle, and the env stays', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    const rootfs = pattern(1 << 20);
    const bundle = await readFile(await makeBundle(lab, 'api-arm', { rootfs, manifest: { ...manifestFor(rootfs), arch: 'arm64' } }));
    const reply = await call(url, 'POST', '/api/upgrade', { raw: bundle, cookie: session.cookie, csrf: session.csrf });
    assert.equal(reply.status, 400);
    assert.equal(reply.json.path, 'manifest');
    assert.match(reply.json.error, /^upgrade failed at manifest: bundle is for arm64, this system runs x86_64$/);
    assert.equal(await listEnv(lab.dir), 'SLOT=A\nTRIAL=\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
    const again = await call(url, 'POST', '/api/upgrade/reboot', { cookie: session.cookie, csrf: session.csrf });
    assert.equal(again.status, 400);
    assert.match(again.json.error, /no upgrade is waiting for a reboot/);
    const bad = await call(url, 'POST', '/api/upgrade?reboot=yes', { raw: bundle, cookie: session.cookie, csrf: session.csrf });
    assert.equal(bad.status, 400);
    assert.equal(bad.json.path, 'reboot');
  });

  it('commit answers as tandem upgrade commit (a committed system: nothing to do)', async () => {
    const reply = await call(url, 'POST', '/api/upgrade/commit', { cookie: session.cookie, csrf: session.csrf });
    assert.equal(reply.status, 200);
    assert.equal(reply.json.state, 'committed');
  });
});
