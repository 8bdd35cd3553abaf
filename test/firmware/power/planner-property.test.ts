// Property tests of the planner over random pools, policies and demand traces (seeded PRNG, so
// a failure names its seed and replays): never below minAwake or the spares, never more cycles
// than the cap, the awake dwell kept, pinned hosts never parked, and no capacity shortfall when
// demand rises slower than the wake latency allows (issue 10, "Done when").

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { netCapacity, type PlannerPolicy } from '../../../firmware/power/planner.js';
import { plannerStrategy, replay, type SimHost, type SimSetup, type Strategy } from '../../../firmware/power/simulate.js';
import { demandAt, type Trace, type TracePoint } from '../../../firmware/power/trace.js';
import { prng } from '../../../scripts/bench/energy-traces.js';

const DAY = 86_400;

function randomCase(seed: number): { setup: SimSetup; trace: Trace; rate: number } {
  const r = prng(seed);
  const between = (lo: number, hi: number) => lo + (hi - lo) * r();
  const int = (lo: number, hi: number) => Math.floor(between(lo, hi + 1));
  const n = int(2, 6);
  const hosts: SimHost[] = Array.from({ length: n }, (_, i) => {
    const idle = between(20, 120);
    return {
      name: `h${i}`,
      capacity: Math.round(between(50, 400)),
      watts: { idle, peak: idle + between(10, 150), parked: between(0, 8) },
      wakeSeconds: r() < 0.5 ? int(0, 10) : int(60, 150),
      parkSeconds: int(0, 40),
      pinned: r() < 0.1,
    };
  });
  const policy: PlannerPolicy = {
    spares: int(1, 2),
    minAwake: int(1, Math.min(3, n)),
    maxCyclesPerDay: int(1, 6),
    minAwakeSeconds: int(0, 900),
    minParkedSeconds: int(0, 900),
    targetUtilisation: between(0.5, 0.95),
  };
  const intervalSeconds = int(10, 60);
  const setup: SimSetup = { intervalSeconds, policy, pool: { name: 'p', unit: 'connections' }, hosts };
  // Demand the whole pool can hold under the policy, rising no faster than the smallest host's
  // capacity per (slowest wake + slowest park + two rounds + one trace step): the spare then
  // covers every rise until a woken host serves.
  const most = policy.targetUtilisation * netCapacity(hosts.map((h) => h.capacity), policy.spares);
  const maxDt = 120;
  const window = Math.max(...hosts.map((h) => h.wakeSeconds)) + Math.max(...hosts.map((h) => h.parkSeconds)) + 2 * intervalSeconds + maxDt;
  const rate = (0.95 * Math.min(...hosts.map((h) => h.capacity))) / window;
  // Two days, so the second day plans with a day of history (the seasonal park rule).
  const end = 2 * DAY;
  const points: TracePoint[] = [];
  let demand = between(0, most);
  for (let t = 0; t < end; ) {
    points.push({ t, demand: Math.round(demand * 100) / 100 });
    const dt = int(5, maxDt);
    t += dt;
    const shape = r();
    // Mostly drift, sometimes a cliff down to idle, sometimes the fastest allowed climb.
    const step = shape < 0.05 ? -demand : shape < 0.15 ? rate * dt : between(-rate * dt, rate * dt);
    demand = Math.min(most, Math.max(0, demand + Math.min(step, rate * dt)));
  }
  points.push({ t: end, demand: points[points.length - 1]!.demand });
  return { setup, trace: { points, end }, rate };
}

/** The planner, with every round's outcome checked against the policy. */
function checked(setup: SimSetup, trace: Trace, seed: number): Strategy {
  const planner = plannerStrategy(setup);
  const { policy } = setup;
  return (view) => {
    const decisions = planner(view);
    const state = new Map(view.hosts.map((h) => [h.name, h.state]));
    for (const d of decisions) state.set(d.host, d.action === 'wake' ? 'waking' : 'parking');
    const committed = view.hosts.filter((h) => state.get(h.name) === 'awake' || state.get(h.name) === 'waking');
    const demand = demandAt(trace, view.t);
    const where = `seed ${seed} t=${view.t}`;
    assert.ok(committed.length >= policy.minAwake, `${where}: ${committed.length} awake, minAwake ${policy.minAwake}`);
    const anyParked = [...state.values()].includes('parked');
    if (anyParked) {
      const net = netCapacity(committed.map((h) => h.capacity), policy.spares);
      assert.ok(demand <= policy.targetUtilisation * net + 1e-9, `${where}: demand ${demand} over ${policy.targetUtilisation} × ${net} with a host still parked`);
      if (demand > 0) assert.ok(committed.length >= policy.spares + 1, `${where}: ${committed.length} awake with ${policy.spares} spares`);
    }
    for (const d of decisions) {
      const h = view.hosts.find((x) => x.name === d.host)!;
      if (d.action === 'park') {
        assert.ok(!h.pinned, `${where}: parked pinned ${h.name}`);
        assert.ok(view.t - h.since >= policy.minAwakeSeconds, `${where}: parked ${h.name} ${view.t - h.since} s after it woke`);
      }
      assert.ok(d.reason && d.reason.includes(h.name), `${where}: decision without a reason naming the host`);
    }
    return decisions;
  };
}

describe('power planner properties over random traces', () => {
  const seeds = Array.from({ length: 30 }, (_, i) => 1000 + i);
  it('keeps minAwake and the spares, the awake dwell, pins, the cycle cap, and has no shortfall', () => {
    let parks = 0;
    let wakes = 0;
    for (const seed of seeds) {
      const { setup, trace } = randomCase(seed);
      const result = replay(setup, trace, checked(setup, trace, seed));
      for (const [name, most] of Object.entries(result.maxParksIn24h)) {
        assert.ok(most <= setup.policy.maxCyclesPerDay, `seed ${seed}: ${name} parked ${most} times in 24 h, cap ${setup.policy.maxCyclesPerDay}`);
      }
      assert.equal(result.shortfallSeconds, 0, `seed ${seed}: shortfall`);
      parks += result.transitions.filter((t) => t.action === 'park').length;
      wakes += result.transitions.filter((t) => t.action === 'wake').length;
    }
    // The traces exercise the planner: it parks and wakes, not only stands still.
    assert.ok(parks > 40 && wakes > 20, `only ${parks} parks and ${wakes} wakes over ${seeds.length} traces`);
  });

  it('finds shortfall when demand jumps faster than any wake (the property is not vacuous)', () => {
    const hosts: SimHost[] = ['a', 'b', 'c'].map((name) => ({ name, capacity: 100, watts: { idle: 50, peak: 100, parked: 2 }, wakeSeconds: 120, parkSeconds: 10, pinned: false }));
    const setup: SimSetup = {
      intervalSeconds: 30,
      policy: { spares: 1, minAwake: 1, maxCyclesPerDay: 4, minAwakeSeconds: 0, minParkedSeconds: 0, targetUtilisation: 0.8 },
      pool: { name: 'p', unit: 'connections' },
      hosts,
    };
    const trace: Trace = { points: [{ t: 0, demand: 10 }, { t: 3600, demand: 250 }, { t: 7200, demand: 250 }], end: 7200 };
    const result = replay(setup, trace, plannerStrategy(setup));
    assert.ok(result.shortfallSeconds > 0 && result.shortfallSeconds <= 150 + 30, `shortfall ${result.shortfallSeconds} s`);
  });
});
