// The executor on a fake clock over simulated hosts: park drains, acts and verifies; wake
// waits for health; a method that fails or is not verified escalates to the fallback once.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { TandemEvent } from '../../../firmware/events.js';
import { silentLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { Executor, type ActionTarget } from '../../../firmware/power/executor.js';
import { FakePowerDriver, FakePowerPools, SimulatedHost } from '../../../firmware/power/fake.js';

function rig() {
  const clock = new FakeClock();
  const sim = new SimulatedHost('web-1', clock, 5_000, 2_000);
  const hosts = new Map([['web-1', sim]]);
  const pools = new FakePowerPools(hosts);
  const events: TandemEvent[] = [];
  const executor = new Executor({ clock, pools, emit: (e) => events.push(e), log: silentLogger });
  const wol = new FakePowerDriver('wol', hosts, { kind: 'soft', canPark: false });
  const ssh = new FakePowerDriver('ssh', hosts, { kind: 'soft', canWake: false });
  const pdu = new FakePowerDriver('snmp', hosts, { kind: 'hard' });
  const target = (action: 'wake' | 'park', fallback?: FakePowerDriver): ActionTarget => ({
    name: 'web-1',
    pool: 'web',
    hostId: 'web-1',
    driverHost: { name: 'web-1', address: '198.51.100.21', mac: '02:00:5e:10:00:21' },
    primary: action === 'wake' ? { method: 'wol', seconds: 5, driver: wol } : { method: 'ssh', seconds: 2, driver: ssh },
    ...(fallback ? { fallback: { method: fallback.method, seconds: 5, driver: fallback } } : {}),
    readers: fallback?.read ? [fallback] : [],
  });
  return { clock, sim, pools, events, executor, wol, ssh, pdu, target };
}

const timing = { drainMs: 10_000, detectMs: 3_000 };
const summary = (events: TandemEvent[]) => events.map((e) => (e.type === 'powerAction' ? `${e.action}:${e.method}:${e.outcome}` : e.type));

describe('power executor', () => {
  it('parks: drains until the last connection closes, runs the method, verifies down, then parked', async () => {
    const { clock, sim, pools, events, executor, ssh, target } = rig();
    sim.connections = 2;
    const result = executor.park(target('park'), timing, 'idle', new AbortController().signal);
    await clock.advance(3_000);
    assert.deepEqual(ssh.calls, [], 'the park waits while connections are open');
    assert.equal(pools.powers.get('web-1'), 'draining');
    sim.connections = 0;
    await clock.advance(10_000);
    const r = await result;
    assert.equal(r.outcome, 'done');
    assert.equal(r.method, 'ssh');
    // The host goes down 2 s after the call; the poll sees it within 250 ms.
    assert.ok(r.seconds! >= 2 && r.seconds! <= 2.25, `measured ${r.seconds}`);
    assert.deepEqual(pools.history, ['web/web-1 draining', 'web/web-1 parked']);
    assert.deepEqual(summary(events), ['park:ssh:started', 'park:ssh:done']);
  });

  it('parks after the drain timeout even with connections open', async () => {
    const { clock, sim, executor, ssh, target } = rig();
    sim.connections = 5;
    const result = executor.park(target('park'), { ...timing, drainMs: 4_000 }, 'idle', new AbortController().signal);
    await clock.advance(3_900);
    assert.equal(ssh.calls.length, 0);
    await clock.advance(10_000);
    assert.equal((await result).outcome, 'done');
    assert.equal(ssh.calls.length, 1);
  });

  it('wakes: waking in the balancer first, then the method, then awake once healthy; measures the latency', async () => {
    const { clock, sim, pools, events, executor, target } = rig();
    sim.power = 'off';
    const result = executor.wake(target('wake'), timing, 'demand', new AbortController().signal);
    await clock.advance(20_000);
    const r = await result;
    assert.equal(r.outcome, 'done');
    assert.ok(r.seconds! >= 5 && r.seconds! <= 5.25, `measured ${r.seconds}`);
    assert.deepEqual(pools.history, ['web/web-1 waking', 'web/web-1 awake']);
    assert.deepEqual(summary(events), ['wake:wol:started', 'wake:wol:done']);
  });

  it('sleep refused: escalates to the PDU, verified by its read-back', async () => {
    const { clock, sim, pools, events, executor, pdu, target } = rig();
    sim.ignoresPark = true;
    const result = executor.park(target('park', pdu), timing, 'idle', new AbortController().signal);
    await clock.advance(30_000);
    const r = await result;
    assert.equal(r.outcome, 'escalated');
    assert.equal(r.method, 'snmp');
    assert.equal(sim.power, 'off');
    assert.equal(pools.powers.get('web-1'), 'parked');
    assert.deepEqual(summary(events), ['park:ssh:started', 'escalate:snmp:started', 'escalate:snmp:done', 'park:snmp:done']);
  });

  it('WoL unanswered: escalates to the PDU, which powers the host on', async () => {
    const { clock, sim, events, executor, pdu, target } = rig();
    sim.power = 'off';
    sim.ignoresWake = true;
    const result = executor.wake(target('wake', pdu), timing, 'demand', new AbortController().signal);
    await clock.advance(9_900);
    assert.deepEqual(pdu.calls.filter((c) => c.action === 'wake'), [], 'the fallback waits for the deadline: max(2 x 5 s, 5 s + 3 s detect)');
    await clock.advance(20_000);
    const r = await result;
    assert.equal(r.outcome, 'escalated');
    assert.equal(sim.power, 'on');
    assert.deepEqual(summary(events), ['wake:wol:started', 'escalate:snmp:started', 'escalate:snmp:done', 'wake:snmp:done']);
  });

  it('a park that cannot be verified and has no fallback returns the host to the pool', async () => {
    const { clock, sim, pools, events, executor, target } = rig();
    sim.ignoresPark = true;
    const result = executor.park(target('park'), timing, 'idle', new AbortController().signal);
    await clock.advance(30_000);
    const r = await result;
    assert.equal(r.outcome, 'failed');
    assert.match(r.detail, /still answers after 5 s/);
    assert.deepEqual(pools.history, ['web/web-1 draining', 'web/web-1 awake']);
    assert.deepEqual(summary(events), ['park:ssh:started', 'park:ssh:failed']);
  });

  it('a driver error fails at once with its failure class, and a failed wake parks the host again', async () => {
    const { clock, sim, pools, executor, wol, target } = rig();
    sim.power = 'off';
    wol.fail = 'misconfigured';
    const result = executor.wake(target('wake'), timing, 'demand', new AbortController().signal);
    await clock.advance(1);
    const r = await result;
    assert.equal(r.outcome, 'failed');
    assert.match(r.detail, /misconfigured/);
    assert.deepEqual(pools.history, ['web/web-1 waking', 'web/web-1 parked']);
  });

  it('a method without a driver in this build fails with that reason, not silently', async () => {
    const { clock, executor, target } = rig();
    const t = target('park');
    t.primary = { method: 'redfish', seconds: 5, problem: 'method redfish has no driver in this build' };
    const result = executor.park(t, { ...timing, drainMs: 0 }, 'idle', new AbortController().signal);
    await clock.advance(1);
    assert.equal((await result).detail, 'method redfish has no driver in this build');
  });

  it('stops when aborted', async () => {
    const { clock, sim, executor, target } = rig();
    sim.power = 'off';
    sim.ignoresWake = true;
    const controller = new AbortController();
    const result = executor.wake(target('wake'), timing, 'demand', controller.signal);
    await clock.advance(1_000);
    controller.abort();
    await clock.advance(1_000);
    assert.equal((await result).outcome, 'aborted');
  });
});
