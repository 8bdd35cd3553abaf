// The planner's rules, one case each: wake ahead (most efficient first), park with hysteresis
// (least efficient first), spares, minAwake, the last healthy host, dwell, the cycle cap, pins
// and the replacement for a failed health check.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dailyHistory, efficiency, forecast, netCapacity, plan, DEFAULT_TUNING, type DemandSample, type PlanInput, type PlannerHost } from '../../../firmware/power/planner.js';

const policy = { spares: 1, minAwake: 1, maxCyclesPerDay: 4, minAwakeSeconds: 600, minParkedSeconds: 600, targetUtilisation: 0.8 };
const NOW = 100_000;

function host(name: string, over: Partial<PlannerHost> = {}): PlannerHost {
  return {
    name,
    pool: 'web',
    capacity: 100,
    watts: { idle: 40, peak: 90, parked: 3 },
    wakeSeconds: 5,
    parkSeconds: 10,
    state: 'awake',
    since: 0,
    healthy: true,
    pinned: false,
    parkTimes: [],
    ...over,
  };
}

function input(hosts: PlannerHost[], demand: number | number[], over: Partial<PlanInput> = {}): PlanInput {
  const values = Array.isArray(demand) ? demand : [demand];
  const samples = values.map((value, i) => ({ t: NOW - (values.length - 1 - i) * 30, value }));
  return { now: NOW, intervalSeconds: 30, policy, pools: [{ name: 'web', unit: 'connections', samples }], hosts, ...over };
}

const actions = (out: ReturnType<typeof plan>) => out.decisions.map((d) => `${d.action} ${d.host} ${d.cause}`);

describe('power planner', () => {
  it('forecasts slope by least squares and holds the peak', () => {
    const f = forecast(
      { name: 'web', unit: 'connections', samples: [0, 1, 2, 3].map((i) => ({ t: NOW - 90 + i * 30, value: 100 + 30 * i })) },
      NOW,
      DEFAULT_TUNING,
    );
    assert.equal(f.demand, 190);
    assert.ok(Math.abs(f.slope - 1) < 1e-9);
    assert.equal(f.peak, 190);
    assert.equal(netCapacity([100, 300, 200], 1), 300);
    assert.equal(netCapacity([100], 2), 0);
    assert.equal(efficiency(host('a')), 0.9);
  });

  it('keeps the awake set when demand fits target × capacity net of spares', () => {
    // 3 × 100 awake, spares 1: net 200, 80% = 160.
    const hosts = [host('a'), host('b'), host('c'), host('d', { state: 'parked', since: 0 })];
    assert.deepEqual(actions(plan(input(hosts, 150))), []);
  });

  it('wakes the most efficient parked host when projected demand would exceed the target, and says why', () => {
    const hosts = [
      host('a'),
      host('b'),
      host('slow', { state: 'parked', watts: { idle: 40, peak: 45, parked: 3 }, wakeSeconds: 120 }),
      host('hungry', { state: 'parked', watts: { idle: 60, peak: 150, parked: 3 } }),
    ];
    // 2 × 100, spares 1: net 100, 80% = 80. Demand 70 rising 1/3 per s: in 120 + 30 s, 70 + 1.5 × 50 > 80.
    const out = plan(input(hosts, [40, 50, 60, 70]));
    assert.deepEqual(actions(out), ['wake slow demand']);
    assert.equal(
      out.decisions[0]!.reason,
      "demand 70 conn (rising 0.33/s) would exceed 80% of 100 within slow's wake time 120 s: waking slow (most efficient parked: 0.45 W/conn)",
    );
    // Steady demand at 70 needs nothing.
    assert.deepEqual(actions(plan(input(hosts, [70, 70, 70, 70]))), []);
  });

  it('wakes as many as the projection needs in one round', () => {
    const hosts = [host('a'), host('b'), ...['c', 'd', 'e'].map((n) => host(n, { state: 'parked' }))];
    // 250 needs net ≥ 312.5: five hosts of 100 with one spare → 400 net.
    assert.deepEqual(actions(plan(input(hosts, 250))), ['wake c demand', 'wake d demand', 'wake e demand']);
  });

  it('counts a waking host as committed, so it is not woken twice', () => {
    const hosts = [host('a'), host('b'), host('c', { state: 'waking', since: NOW - 2 }), host('d', { state: 'parked' })];
    assert.deepEqual(actions(plan(input(hosts, 150))), []);
  });

  it('parks the least efficient awake host when the held peak still fits with hysteresis', () => {
    const hosts = [host('a'), host('b'), host('hungry', { watts: { idle: 60, peak: 150, parked: 3 } }), host('d')];
    const out = plan(input(hosts, 100));
    assert.deepEqual(actions(out), ['park hungry idle']);
    assert.equal(
      out.decisions[0]!.reason,
      'demand 100 conn (steady, peak 100 in 900 s) fits 72% of 200 without hungry: parking hungry (least efficient awake: 1.5 W/conn)',
    );
  });

  it('parks one host per round and not while the held peak is high', () => {
    const hosts = [host('a'), host('b'), host('c'), host('d'), host('e')];
    assert.equal(plan(input(hosts, 10)).decisions.length, 1);
    // Now 10 but 250 ten minutes ago, inside the 900 s hold: 250 does not fit 4 hosts' 72% × 300.
    assert.deepEqual(actions(plan(input(hosts, [250, ...Array(19).fill(10)]))), []);
  });

  it('does not park when the result would sit just under the target (hysteresis)', () => {
    // Without d: net 200; 150 ≤ 160 (80%) but not ≤ 144 (72%).
    const hosts = [host('a'), host('b'), host('c'), host('d')];
    assert.deepEqual(actions(plan(input(hosts, 150))), []);
  });

  it('keeps spares: with demand, more than `spares` hosts stay awake; with none, minAwake', () => {
    const two = [host('a'), host('b')];
    assert.deepEqual(actions(plan(input(two, 1))), [], 'parking one would leave only the spare');
    assert.deepEqual(actions(plan(input(two, 0))), ['park b idle'], 'no demand: minAwake 1 is the floor');
    const spares2 = [host('a'), host('b'), host('c')];
    assert.deepEqual(actions(plan(input(spares2, 1, { policy: { ...policy, spares: 2 } }))), []);
    const parked = [host('a'), host('b', { state: 'parked' })];
    assert.deepEqual(actions(plan(input(parked, 1))), ['wake b redundancy']);
  });

  it('never goes below minAwake and never parks the last healthy host', () => {
    const three = [host('a'), host('b'), host('c')];
    assert.deepEqual(actions(plan(input(three, 0, { policy: { ...policy, minAwake: 3 } }))), []);
    const oneHealthy = [host('a'), host('b', { healthy: false })];
    assert.deepEqual(
      actions(plan(input(oneHealthy, 0, { policy: { ...policy, spares: 0, minAwake: 1 } }))).filter((a) => a.startsWith('park')),
      [],
    );
    const below = [host('a'), host('b', { state: 'parked' }), host('c', { state: 'parked' })];
    assert.deepEqual(actions(plan(input(below, 0, { policy: { ...policy, minAwake: 3 } }))), ['wake b redundancy', 'wake c redundancy']);
  });

  it('honours the awake dwell and the cycle cap over a rolling 24 h', () => {
    const fresh = [host('a'), host('b'), host('c', { since: NOW - 599 })];
    assert.deepEqual(actions(plan(input(fresh, 0))), ['park b idle'], 'c was woken under 600 s ago');
    const tired = [host('a'), host('b', { parkTimes: [NOW - 80_000, NOW - 60_000, NOW - 40_000, NOW - 1000] })];
    assert.deepEqual(actions(plan(input(tired, 0))), ['park a idle'], 'b used its 4 cycles in the last 24 h');
    const rested = [host('a'), host('b', { parkTimes: [NOW - 90_000, NOW - 60_000, NOW - 40_000, NOW - 1000] })];
    assert.deepEqual(actions(plan(input(rested, 0))), ['park b idle'], 'one of b\'s parks is older than 24 h');
  });

  it('never parks a pinned host and wakes a pinned parked one', () => {
    const pinned = [host('a'), host('b', { pinned: true })];
    assert.deepEqual(actions(plan(input(pinned, 0))), ['park a idle']);
    const asleep = [host('a'), host('b', { pinned: true, state: 'parked' })];
    const out = plan(input(asleep, 0));
    assert.deepEqual(actions(out), ['wake b pinned']);
    assert.equal(out.decisions[0]!.reason, 'b is pinned awake: waking it');
  });

  it('wakes a replacement at once when an awake host fails its health check', () => {
    const hosts = [host('a'), host('b'), host('c', { healthy: false }), host('d', { state: 'parked' }), host('e', { state: 'parked', watts: { idle: 10, peak: 20, parked: 1 } })];
    // With c serving, 3 × 100 net 200 holds 150; without it, net 100 does not.
    const out = plan(input(hosts, 150));
    assert.deepEqual(actions(out), ['wake e unhealthy']);
    assert.equal(out.decisions[0]!.reason, 'c failed its health check: waking e in its place (most efficient parked: 0.2 W/conn)');
  });

  it('prefers hosts parked past their dwell, but wakes a fresh one when demand needs it', () => {
    const hosts = [
      host('a'),
      host('b'),
      host('fresh', { state: 'parked', since: NOW - 60, watts: { idle: 10, peak: 20, parked: 1 } }),
      host('old', { state: 'parked', since: NOW - 6000 }),
    ];
    assert.deepEqual(actions(plan(input(hosts, 100))), ['wake old demand']);
    assert.deepEqual(actions(plan(input(hosts, 200))), ['wake old demand', 'wake fresh demand']);
  });

  it('parks nothing while a wake is in flight, and nothing more efficient than a host in its dwell', () => {
    const inFlight = [host('a'), host('b'), host('c'), host('d', { state: 'waking', since: NOW - 3 })];
    assert.deepEqual(actions(plan(input(inFlight, 0))), []);
    const big = { capacity: 200, watts: { idle: 90, peak: 200, parked: 5 } };
    const dwelling = [host('a'), host('b'), host('big', { ...big, since: NOW - 100 })];
    assert.deepEqual(actions(plan(input(dwelling, 60))), [], 'b (0.9 W/conn) waits for big (1 W/conn) to end its dwell');
    const rested = [host('a'), host('b'), host('big', { ...big, since: NOW - 700 })];
    assert.deepEqual(actions(plan(input(rested, 60))), ['park big idle']);
  });

  it('with a day of history, does not park before the rise yesterday saw, and parks into yesterday\'s trough', () => {
    const hosts = [host('a'), host('b'), host('c'), host('d')];
    // Now: steady 100 (fits 3 hosts' net 200 at 72%). Yesterday at this hour also 100, but 200
    // within the next hour: parking d now would have to wake it again.
    let history: DemandSample[] = [];
    for (let t = NOW - 86_400 - 1800; t <= NOW - 86_400 + 3600; t += 60) {
      history = dailyHistory(history, { t, value: t < NOW - 86_400 + 1800 ? 100 : 200 });
    }
    const steady = Array(31).fill(100);
    const rising = input(hosts, steady);
    rising.pools = [{ ...rising.pools[0]!, history }];
    assert.deepEqual(actions(plan(rising)), []);
    // Yesterday fell from 100 to 40 instead: park, and the reason says what yesterday did.
    let falling: DemandSample[] = [];
    for (let t = NOW - 86_400 - 1800; t <= NOW - 86_400 + 3600; t += 60) {
      falling = dailyHistory(falling, { t, value: t <= NOW - 86_400 ? 100 : 40 });
    }
    const ebb = input(hosts, steady);
    ebb.pools = [{ ...ebb.pools[0]!, history: falling }];
    const out = plan(ebb);
    assert.deepEqual(actions(out), ['park d idle']);
    assert.match(out.decisions[0]!.reason, /peak 100 in 900 s, 40 in the next 60 min as yesterday\) fits 78% of 200 without d/);
    // Without a full day of history the rule is not used (the first day behaves as before).
    const young = input(hosts, steady);
    young.pools = [{ ...young.pools[0]!, history: history.slice(8) }];
    assert.deepEqual(actions(plan(young)), ['park d idle']);
  });

  it('plans each pool on its own', () => {
    const hosts = [host('a'), host('b'), host('x', { pool: 'mail' }), host('y', { pool: 'mail', state: 'parked' })];
    const out = plan({
      now: NOW,
      intervalSeconds: 30,
      policy,
      pools: [
        { name: 'web', unit: 'connections', samples: [{ t: NOW, value: 0 }] },
        { name: 'mail', unit: 'requestsPerSecond', samples: [{ t: NOW, value: 70 }] },
      ],
      hosts,
    });
    assert.deepEqual(actions(out), ['park b idle', 'wake y redundancy']);
    assert.deepEqual(out.forecasts.map((f) => [f.pool, f.committedCapacity]), [['web', 100], ['mail', 200]]);
  });
});
