// The demo's routes and per-node backends on a simulated cluster driven by a FakeClock: each
// verb changes the cluster as the terminal's command does, bad bodies are 400s naming the path,
// and a node's live event stream survives its crash and restart.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { demoRoutes, type DemoView } from '../../../firmware/api/routes-demo.js';
import type { ApiRequest, ApiResponse, Route } from '../../../firmware/api/types.js';
import { SimCluster, demoConfigs } from '../../../firmware/demo/cluster.js';
import { demoBackend } from '../../../firmware/demo/web.js';
import type { StampedEvent } from '../../../firmware/events.js';
import { FakeClock } from '../../../firmware/os/clock.js';

async function setup() {
  const clock = new FakeClock();
  const cluster = new SimCluster(clock, demoConfigs());
  const backends = new Map([...cluster.nodes.keys()].map((name) => [name, demoBackend(cluster, name)]));
  const urls = { 'fw-a': 'http://127.0.0.1:8080/', 'fw-b': 'http://127.0.0.2:8080/', 'fw-c': 'http://127.0.0.3:8080/' };
  const routes = demoRoutes(cluster, { self: 'fw-a', urls });
  await cluster.startAll();
  await clock.advance(10_000);
  const call = async (method: 'GET' | 'POST', path: string, body?: unknown): Promise<ApiResponse> => {
    const route = routes.find((r: Route) => r.method === method && r.path === path);
    assert.ok(route, `no route ${method} ${path}`);
    const request: ApiRequest = { method, path, query: new URLSearchParams(), body, remote: '127.0.0.1', user: 'demo' };
    return route.handle(request, backends.get('fw-a')!);
  };
  const state = (view: DemoView, node: string, vhid: number) => view.nodes.find((n) => n.name === node)?.carp.find((v) => v.vhid === vhid)?.state;
  return { clock, cluster, backends, routes, call, state };
}

describe('demo routes', () => {
  it('every route needs a session and every POST is an audited mutation', async () => {
    const { routes, cluster } = await setup();
    assert.deepEqual(
      routes.map((r) => `${r.method} ${r.path}`),
      ['GET /api/demo', ...['crash', 'stop', 'start', 'cut', 'plug', 'partition', 'heal'].map((v) => `POST /api/demo/${v}`)],
    );
    for (const route of routes) {
      assert.equal(route.access, 'session');
      if (route.method === 'POST') assert.match(route.action ?? '', /^demo \w+$/);
    }
    await cluster.stopAll();
  });

  it('GET /api/demo shows each node, which one answered, its URL and its VHIDs', async () => {
    const { call, state, cluster } = await setup();
    const reply = await call('GET', '/api/demo');
    assert.equal(reply.status, 200);
    const view = reply.json as DemoView;
    assert.deepEqual(view.nodes.map((n) => [n.name, n.self, n.running, n.linkUp, n.url]), [
      ['fw-a', true, true, true, 'http://127.0.0.1:8080/'],
      ['fw-b', false, true, true, 'http://127.0.0.2:8080/'],
      ['fw-c', false, true, true, 'http://127.0.0.3:8080/'],
    ]);
    assert.equal(state(view, 'fw-a', 42), 'MASTER');
    assert.equal(state(view, 'fw-b', 43), 'MASTER');
    assert.equal(view.partition, null);
    assert.ok(view.events.some((e) => e.node === 'fw-a' && /vhid 42: BACKUP -> MASTER/.test(e.text)));
    await cluster.stopAll();
  });

  it('crash moves vhid 42 to fw-b; start brings fw-a back; starting it twice is a 409', async () => {
    const { call, state, clock, cluster } = await setup();
    const crashed = await call('POST', '/api/demo/crash', { node: 'fw-a' });
    assert.equal(crashed.status, 200);
    assert.equal((crashed.json as DemoView).nodes[0]!.running, false);
    await clock.advance(5_000);
    assert.equal(state((await call('GET', '/api/demo')).json as DemoView, 'fw-b', 42), 'MASTER');
    assert.equal((await call('POST', '/api/demo/start', { node: 'fw-a' })).status, 200);
    const again = await call('POST', '/api/demo/start', { node: 'fw-a' });
    assert.equal(again.status, 409);
    assert.match((again.json as { error: string }).error, /already running/);
    await cluster.stopAll();
  });

  it('cut and plug a link, partition and heal the segment', async () => {
    const { call, cluster, clock, state } = await setup();
    const cut = (await call('POST', '/api/demo/cut', { node: 'fw-b' })).json as DemoView;
    assert.equal(cut.nodes[1]!.linkUp, false);
    assert.equal(((await call('POST', '/api/demo/plug', { node: 'fw-b' })).json as DemoView).nodes[1]!.linkUp, true);
    const split = await call('POST', '/api/demo/partition', { groups: [['fw-a'], ['fw-b', 'fw-c']] });
    assert.equal(split.status, 200);
    assert.deepEqual((split.json as DemoView).partition, [['fw-a', 'client'], ['fw-b', 'fw-c']]);
    await clock.advance(5_000);
    // fw-b's side elects its own master of vhid 42 while fw-a keeps it: both are MASTER.
    const during = (await call('GET', '/api/demo')).json as DemoView;
    assert.equal(state(during, 'fw-a', 42), 'MASTER');
    assert.equal(state(during, 'fw-b', 42), 'MASTER');
    assert.equal(((await call('POST', '/api/demo/heal')).json as DemoView).partition, null);
    await clock.advance(5_000);
    assert.deepEqual(cluster.masters(42), ['fw-a']);
    await cluster.stopAll();
  });

  it('bad bodies are 400s that name the path of what is wrong', async () => {
    const { call, cluster } = await setup();
    const cases: [string, unknown, string, RegExp][] = [
      ['/api/demo/crash', {}, 'node', /needs "node": one of fw-a, fw-b, fw-c/],
      ['/api/demo/crash', { node: 'fw-z' }, 'node', /no node "fw-z"/],
      ['/api/demo/cut', null, 'node', /needs "node"/],
      ['/api/demo/partition', { groups: [['fw-a']] }, 'groups', /two or more/],
      ['/api/demo/partition', { groups: [['fw-a'], []] }, 'groups[1]', /non-empty/],
      ['/api/demo/partition', { groups: [['fw-a'], ['fw-b', 'fw-q']] }, 'groups[1][1]', /no node "fw-q"/],
      ['/api/demo/partition', { groups: [['fw-a'], ['fw-a']] }, 'groups[1][0]', /in two groups/],
    ];
    for (const [path, body, errorPath, message] of cases) {
      const reply = await call('POST', path, body);
      assert.equal(reply.status, 400, `${path} ${JSON.stringify(body)}`);
      const json = reply.json as { error: string; path: string };
      assert.equal(json.path, errorPath);
      assert.match(json.error, message);
    }
    assert.equal(cluster.segment.partitions, undefined, 'a refused partition changes nothing');
    assert.ok(cluster.statuses().every((s) => s.running && s.linkUp));
    await cluster.stopAll();
  });
});

describe('demo backends', () => {
  it('status and commands reach the node\'s Daemon; a stopped node refuses them', async () => {
    const { backends, clock, cluster } = await setup();
    const b = backends.get('fw-b')!;
    assert.equal(b.status().node, 'fw-b');
    assert.deepEqual(await b.handle({ cmd: 'demote', by: 10 }), { ok: true, result: { total: 10, admin: 10, maintenance: false, linksDown: [], external: {} } });
    await cluster.crash('fw-b');
    await clock.advance(10);
    // A crashed Daemon still says MASTER of vhid 43 in memory; its console says INIT from the crash on.
    assert.equal(cluster.node('fw-b').daemon!.status().carp.find((v) => v.vhid === 43)?.state, 'MASTER');
    assert.deepEqual(b.status().carp.map((v) => [v.vhid, v.state, v.since]), [[42, 'INIT', new Date(clock.now() - 10).toISOString()], [43, 'INIT', new Date(clock.now() - 10).toISOString()]]);
    assert.deepEqual(await b.handle({ cmd: 'failover' }), { ok: false, error: 'fw-b is not running (demo: start it from the demo panel)' });
    const config = await b.config.read();
    assert.match(config.text, /name: fw-b/);
    assert.match(config.text, /vhid: 42/);
    await cluster.stopAll();
  });

  it('config apply on a simulated node puts a change in force and reverts it unless confirmed', async () => {
    const { backends, clock, cluster } = await setup();
    const c = backends.get('fw-c')!;
    const seen: string[] = [];
    c.events.on((event) => {
      if (event.type === 'configApply') seen.push(event.outcome);
    });
    const { text } = await c.config.read();
    const changed = text.replace('advskew: 100', 'advskew: 150');
    assert.notEqual(changed, text);
    assert.ok(c.configApply, 'the demo node has config apply');
    const invalid = c.configApply.check(text.replace('advskew: 100', 'advskew: 300'));
    assert.equal(invalid.ok, false);
    assert.deepEqual(await c.configApply.apply(changed, { confirmWithinSeconds: 30 }), { ok: true, phase: 'pending', revertsAt: new Date(clock.now() + 30_000).toISOString() });
    assert.equal(c.status().carp.find((v) => v.vhid === 42)?.advskew, 150);
    await clock.advance(31_000);
    assert.equal(c.status().carp.find((v) => v.vhid === 42)?.advskew, 100);
    assert.equal((await c.config.read()).text, text);
    assert.deepEqual(seen, ['applied', 'reverted']);
    await cluster.stopAll();
  });

  it('a node\'s event bus carries its events across a crash and a restart', async () => {
    const { backends, clock, cluster } = await setup();
    const seen: StampedEvent[] = [];
    backends.get('fw-a')!.events.on((event) => seen.push(event));
    await backends.get('fw-a')!.handle({ cmd: 'failover' });
    await clock.advance(5_000);
    await cluster.crash('fw-a');
    await cluster.start('fw-a');
    await clock.advance(5_000);
    const transitions = seen.filter((e) => e.type === 'carpTransition').map((e) => e.type === 'carpTransition' && `${e.vhid} ${e.from}->${e.to}`);
    assert.ok(transitions.includes('42 MASTER->BACKUP'), transitions.join(', '));
    // The restarted Daemon's first transitions (INIT -> BACKUP) come through the same bus.
    assert.ok(transitions.filter((t) => t === '42 INIT->BACKUP').length >= 1, transitions.join(', '));
    assert.ok(backends.get('fw-b')!.status().carp.some((v) => v.vhid === 42 && v.state === 'MASTER'));
    await cluster.stopAll();
  });
});
