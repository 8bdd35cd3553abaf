// The demo's pool (firmware/demo/cluster.ts, demo.ts): simulated backends checked by every
// router, a stopped backend leaving every router's table, a drained one too, and a router cut
// off from its backends demoting so that a peer takes its VIP. FakeClock, no network.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { DEMO_VIPS, SimCluster, demoConfigs } from '../../../firmware/demo/cluster.js';
import { renderStatus } from '../../../firmware/demo/demo.js';
import { FakeClock } from '../../../firmware/os/clock.js';

describe('demo pool', () => {
  it('backends stop, drain and come back on every router; a cut-off router demotes and yields its VIP', async () => {
    const clock = new FakeClock();
    const cluster = new SimCluster(clock, demoConfigs());
    await cluster.startAll();
    await clock.advance(5000);
    const table = (node: string) => cluster.node(node).tables.members('web');
    for (const node of ['fw-a', 'fw-b', 'fw-c']) assert.deepEqual(table(node), ['198.51.100.31', '198.51.100.32', '198.51.100.33']);
    assert.match(renderStatus(cluster), /fw-a .* UP 3\/3 \[31 32 33\]/);

    cluster.setBackend('web-2', false);
    await clock.advance(6000);
    for (const node of ['fw-a', 'fw-b', 'fw-c']) assert.deepEqual(table(node), ['198.51.100.31', '198.51.100.33']);
    assert.match(renderStatus(cluster), /DEGRADED 2\/3 \[31 33\]  web-2 down/);
    assert.ok(cluster.events.some((e) => e.node === 'fw-a' && e.text === 'pool web: web-2 up -> down (connect-refused)'));
    cluster.setBackend('web-2', true);
    await clock.advance(4000);
    assert.deepEqual(table('fw-b'), ['198.51.100.31', '198.51.100.32', '198.51.100.33']);

    await cluster.setBackendDrained('web-3', true);
    assert.deepEqual(table('fw-c'), ['198.51.100.31', '198.51.100.32']);
    assert.match(renderStatus(cluster), /web-3 draining/);
    const web3 = () => cluster.node('fw-c').daemon!.status().pools[0]!.hosts.find((h) => h.address === '198.51.100.33')!;
    assert.equal(web3().drained, true);
    await cluster.setBackendDrained('web-3', false);
    assert.equal(web3().drained, undefined);
    assert.deepEqual(table('fw-c'), ['198.51.100.31', '198.51.100.32', '198.51.100.33']);
    const unknown = await cluster.node('fw-a').daemon!.setDrained('198.51.100.99', true);
    assert.deepEqual(unknown, { ok: false, error: 'no host 198.51.100.99 in any pool' });
    assert.deepEqual(await cluster.node('fw-a').daemon!.setDrained('web-1', true, 'mail'), { ok: false, error: 'no pool mail (pools: web)' });

    const vip = DEMO_VIPS[0]!;
    assert.equal(cluster.reachability()[vip], 'fw-a');
    cluster.setBackendsReachable('a', false);
    await clock.advance(6000);
    assert.equal(cluster.node('fw-a').daemon!.status().pools[0]!.state, 'down');
    assert.equal(cluster.node('fw-a').daemon!.status().demotion.total, 1);
    assert.equal(cluster.reachability()[vip], 'fw-b');

    // Drained at run time, persisted like maintenance: a restarted router still drains it.
    await cluster.setBackendDrained('web-3', true);
    await cluster.stop('c');
    await cluster.start('c');
    await clock.advance(5000);
    assert.equal(web3().state, 'draining');
    assert.deepEqual(table('fw-c'), ['198.51.100.31', '198.51.100.32']);
    await cluster.stopAll();
  });
});
