// Tests for the API route table and its action handlers (firmware/api/routes*.ts, issue 12
// item 1) against real Daemons on fakes: every route's happy path, the same effect as the
// control socket's command, and errors as `{ error, path? }` with 400/404/409.

import { strict as assert } from 'node:assert';
import { after, before, describe, it } from 'node:test';

import { routes } from '../../../firmware/api/routes.js';
import { statusForError } from '../../../firmware/api/routes-common.js';
import type { Status } from '../../../firmware/daemon.js';
import { call, errorOf, lab, type LabNode } from './routes-lab.js';

describe('route table', () => {
  it('every route is unique, session-only, and every non-GET mutation names its audit action', () => {
    const keys = routes.map((r) => `${r.method} ${r.path}`);
    assert.equal(new Set(keys).size, keys.length);
    for (const r of routes) {
      assert.equal(r.access, 'session', `${r.method} ${r.path}`);
      if (r.method === 'GET') assert.equal(r.action, undefined, `${r.path}: a GET changes nothing`);
    }
    const checks = new Set(['/api/firewall/check', '/api/config/check']);
    for (const r of routes.filter((r) => r.method !== 'GET' && !checks.has(r.path))) assert.ok(r.action, `${r.path} has no audit action`);
  });

  it('has the contract routes', () => {
    for (const key of ['GET /api/status', 'POST /api/demote', 'GET /api/events', 'GET /api/events/recent', 'GET /metrics', 'POST /api/config/apply']) {
      assert.ok(routes.some((r) => `${r.method} ${r.path}` === key), key);
    }
  });
});

describe('statusForError', () => {
  const cases: [string, number][] = [
    ['no host 203.0.113.9 in any pool', 404],
    ['no pool db (pools: web)', 404],
    ['no managed host web-9 (hosts: web-1)', 404],
    ['power management is not configured (no `power` section)', 404],
    ['no firewall ruleset is waiting for confirmation', 409],
    ['web-1 is already awake', 409],
    ['this node does not act: it is standby', 409],
    ['refused; the running ruleset stays in force:\nx', 409],
    ['loading failed; the running ruleset stays in force:\nx', 500],
    ['demote needs "by" (an integer -255..255) or "reset": true', 400],
  ];
  for (const [message, status] of cases) it(`${status}: ${message.split('\n')[0]}`, () => assert.equal(statusForError(message), status));
});

describe('action routes on a pair of daemons', () => {
  let l: ReturnType<typeof lab>;
  let a: LabNode;
  let b: LabNode;

  before(async () => {
    l = lab({ power: true });
    a = l.node('fw-a', 0);
    b = l.node('fw-b', 100);
    await a.daemon.start();
    await b.daemon.start();
    await l.clock.advance(5_000);
  });
  after(() => l.stop());

  const state = (n: LabNode) => n.daemon.status().carp[0]?.state;

  it('GET /api/status is exactly tandem status --json (the control status result)', async () => {
    const response = await call(a.backend, 'GET', '/api/status');
    assert.equal(response.status, 200);
    const viaControl = await a.daemon.handle({ cmd: 'status' });
    assert.ok(viaControl.ok);
    const strip = (s: Status) => ({ ...s, memory: undefined, uptimeSeconds: undefined });
    assert.deepEqual(strip(response.json as Status), strip(viaControl.result as Status));
    assert.equal((response.json as Status).node, 'fw-a');
    assert.equal(state(a), 'MASTER');
    assert.equal(state(b), 'BACKUP');
  });

  it('POST /api/demote {by} and {reset} do what tandem demote does', async () => {
    const by = await call(a.backend, 'POST', '/api/demote', { by: 3 });
    assert.equal(by.status, 200);
    assert.deepEqual(by.json, a.daemon.status().demotion);
    assert.equal(a.daemon.status().demotion.admin, 3);
    const reset = await call(a.backend, 'POST', '/api/demote', { reset: true });
    assert.equal(reset.status, 200);
    assert.equal(a.daemon.status().demotion.admin, 0);
  });

  it('POST /api/demote refuses bad bodies with 400 naming the field', async () => {
    for (const body of [{ by: 'x' }, { by: 1.5 }, { by: 999 }, {}, { reset: false }]) {
      const response = await call(a.backend, 'POST', '/api/demote', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(errorOf(response).path, 'by');
    }
    const extra = await call(a.backend, 'POST', '/api/demote', { by: 1, force: true });
    assert.equal(extra.status, 400);
    assert.equal(errorOf(extra).path, 'force');
    const notObject = await call(a.backend, 'POST', '/api/demote', [1]);
    assert.equal(notObject.status, 400);
    assert.equal(errorOf(notObject).path, '(body)');
    assert.equal(a.daemon.status().demotion.admin, 0, 'nothing changed');
  });

  it('POST /api/maintenance {on} persists and yields; 400 without on', async () => {
    const bad = await call(b.backend, 'POST', '/api/maintenance', { on: 'yes' });
    assert.equal(bad.status, 400);
    assert.equal(errorOf(bad).path, 'on');
    const on = await call(b.backend, 'POST', '/api/maintenance', { on: true });
    assert.deepEqual([on.status, on.json], [200, { maintenance: true }]);
    assert.equal(b.daemon.status().maintenance, true);
    assert.match(b.files.files.get('/var/lib/tandem/state.json') ?? '', /"maintenance":true/);
    assert.ok(b.events.some((e) => e.type === 'maintenance' && e.on));
    const off = await call(b.backend, 'POST', '/api/maintenance', { on: false });
    assert.equal(off.status, 200);
    assert.equal(b.daemon.status().maintenance, false);
  });

  it('POST /api/failover makes the peer MASTER; on a BACKUP it bows out of nothing', async () => {
    const onBackup = await call(b.backend, 'POST', '/api/failover');
    assert.deepEqual([onBackup.status, onBackup.json], [200, { bowedOut: 0 }]);
    const response = await call(a.backend, 'POST', '/api/failover');
    assert.deepEqual([response.status, response.json], [200, { bowedOut: 1 }]);
    await l.clock.advance(5_000);
    assert.equal(state(b), 'MASTER');
    assert.equal(state(a), 'BACKUP');
    // Back to fw-a for the rest (fw-b bows out in turn).
    await call(b.backend, 'POST', '/api/failover');
    await l.clock.advance(5_000);
    assert.equal(state(a), 'MASTER');
  });

  it('POST /api/pools/drain drains and undrains; unknown host 404, unknown pool 404, bad body 400', async () => {
    const drained = await call(a.backend, 'POST', '/api/pools/drain', { host: 'web-2', on: true });
    assert.equal(drained.status, 200, JSON.stringify(drained.json));
    assert.deepEqual((drained.json as { drained: boolean }).drained, true);
    const host = a.daemon.status().pools[0]?.hosts.find((h) => h.id === 'web-2' || h.address === '198.51.100.32');
    assert.ok(host);
    assert.match(JSON.stringify(host), /drain/);
    const back = await call(a.backend, 'POST', '/api/pools/drain', { host: 'web-2', pool: 'web', on: false });
    assert.equal(back.status, 200);
    const unknown = await call(a.backend, 'POST', '/api/pools/drain', { host: '203.0.113.99', on: true });
    assert.equal(unknown.status, 404);
    assert.match(errorOf(unknown).error, /no host 203\.0\.113\.99/);
    const pool = await call(a.backend, 'POST', '/api/pools/drain', { host: 'web-2', pool: 'db', on: true });
    assert.equal(pool.status, 404);
    const bad = await call(a.backend, 'POST', '/api/pools/drain', { host: 'web-2' });
    assert.equal(bad.status, 400);
    assert.equal(errorOf(bad).path, 'on');
  });

  it('GET /api/power and POST /api/power/pin|park|wake act as tandem power does', async () => {
    const status = await call(a.backend, 'GET', '/api/power');
    assert.equal(status.status, 200);
    assert.ok(Array.isArray((status.json as { hosts?: unknown[] }).hosts), JSON.stringify(status.json).slice(0, 200));
    const pin = await call(a.backend, 'POST', '/api/power/pin', { host: 'web-3', on: true });
    assert.deepEqual([pin.status, pin.json], [200, { pinned: true, host: 'web-3' }]);
    assert.ok(a.events.some((e) => e.type === 'powerPin' && e.host === 'web-3' && e.pinned));
    await call(a.backend, 'POST', '/api/power/pin', { host: 'web-3', on: false });
    const park = await call(a.backend, 'POST', '/api/power/park', { host: 'web-1' });
    assert.equal(park.status, 200, JSON.stringify(park.json));
    const again = await call(a.backend, 'POST', '/api/power/park', { host: 'web-1' });
    assert.equal(again.status, 409, JSON.stringify(again.json));
    const wakeAwake = await call(a.backend, 'POST', '/api/power/wake', { host: 'web-2' });
    assert.equal(wakeAwake.status, 409);
    assert.match(errorOf(wakeAwake).error, /already awake/);
    const unknown = await call(a.backend, 'POST', '/api/power/wake', { host: 'web-9' });
    assert.equal(unknown.status, 404);
    const noHost = await call(a.backend, 'POST', '/api/power/wake', {});
    assert.equal(noHost.status, 400);
    assert.equal(errorOf(noHost).path, 'host');
    const onStandby = await call(b.backend, 'POST', '/api/power/wake', { host: 'web-1' });
    assert.equal(onStandby.status, 409);
    assert.match(errorOf(onStandby).error, /does not act/);
  });

  it('GET /metrics is Prometheus text', async () => {
    const response = await call(a.backend, 'GET', '/metrics');
    assert.equal(response.status, 200);
    assert.match(response.headers?.['content-type'] ?? '', /^text\/plain; version=0\.0\.4/);
    assert.match(response.text ?? '', /^# HELP /m);
    assert.match(response.text ?? '', /tandem_carp_state\{[^}]*vhid="42"/);
  });
});

describe('routes on a node without power', () => {
  it('power routes answer 404 saying power is not configured; /metrics without a source 404', async () => {
    const l = lab({ power: false });
    const n = l.node('fw-a', 0);
    await n.daemon.start();
    try {
      for (const [method, path, body] of [['GET', '/api/power', undefined], ['POST', '/api/power/wake', { host: 'web-1' }]] as const) {
        const response = await call(n.backend, method, path, body);
        assert.equal(response.status, 404);
        assert.match(errorOf(response).error, /not configured/);
      }
      const { metrics: _m, ...noMetrics } = n.backend;
      const metrics = await call(noMetrics, 'GET', '/metrics');
      assert.equal(metrics.status, 404);
      errorOf(metrics);
    } finally {
      await l.stop();
    }
  });
});
