// The demo's parked and woken hosts: the simulated cluster with power on, on a FakeClock. The
// MASTER of vhid 42 parks a backend at the default load, `load 170` wakes it, and the status
// the demo prints has the power line.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { SimCluster, demoConfigs } from '../../../firmware/demo/cluster.js';
import { renderStatus } from '../../../firmware/demo/demo.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import type { PowerStatus } from '../../../firmware/power/status.js';

describe('demo: power', () => {
  it('parks a backend at low load and wakes it when load rises', async () => {
    const clock = new FakeClock();
    const cluster = new SimCluster(clock, demoConfigs(undefined, undefined, undefined, true));
    await cluster.startAll();
    await clock.advance(90_000);
    const acting = () => cluster.statuses().find((s) => s.status?.power?.acting)!;
    assert.equal(acting().name, 'fw-a');
    const power = () => acting().status!.power as PowerStatus;
    assert.deepEqual(power().hosts.map((h) => h.state), ['awake', 'awake', 'parked']);
    assert.equal(cluster.backends.isRunning('198.51.100.33'), false);
    assert.match(renderStatus(cluster), /power \(acting: fw-a\): demand web 40 connections; web-1 awake, web-2 awake, web-3 parked/);
    assert.ok(cluster.events.some((e) => e.text.startsWith('power: park web-3 by ssh done')));
    cluster.setLoad(170);
    await clock.advance(40_000);
    assert.deepEqual(power().hosts.map((h) => h.state), ['awake', 'awake', 'awake']);
    assert.equal(cluster.backends.isRunning('198.51.100.33'), true);
    await cluster.stopAll();
  });
});
