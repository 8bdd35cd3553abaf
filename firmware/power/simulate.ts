// `tandem power simulate` (issue 10): replays a demand trace through a strategy (the real
// planner, or a fixed schedule such as the clairvoyant optimum) on a simulated clock, with the
// issue's model: every host starts awake at t = 0; a woken host serves from `wake.seconds`
// after the wake and draws idle meanwhile; a parked host stops serving at once, draws idle for
// `park.seconds`, then parked watts; serving hosts share demand in proportion to capacity; a
// shortfall second is one where demand exceeds the serving hosts' total capacity.

import { accrue, drawNow, emptyAccount, summarise, type EnergySummary, type HostPhase, type Watts } from './energy.js';
import {
  dailyHistory,
  netCapacity,
  plan,
  trimSamples,
  type DecisionCause,
  type DemandSample,
  type PlannerHost,
  type PlannerHostState,
  type PlannerPolicy,
  type PlannerTuning,
} from './planner.js';
import type { PowerConfig } from './schema.js';
import { demandAt, type Trace } from './trace.js';

export interface SimHost {
  name: string;
  capacity: number;
  watts: Watts;
  wakeSeconds: number;
  parkSeconds: number;
  /** Pinned awake by config: never parked. (Pin schedules are not replayed.) */
  pinned: boolean;
}

export interface SimSetup {
  intervalSeconds: number;
  policy: PlannerPolicy;
  tuning?: Partial<PlannerTuning>;
  /** Give the planner a day of history (as the daemon does); false replays without it. */
  seasonal?: boolean;
  pool: { name: string; unit: string };
  hosts: SimHost[];
}

export interface Transition {
  t: number;
  host: string;
  action: 'wake' | 'park';
  cause?: DecisionCause;
  reason?: string;
}

/** What a strategy sees each round; it returns the transitions to start now. */
export interface RoundView {
  t: number;
  hosts: readonly PlannerHost[];
  samples: readonly DemandSample[];
  /** Coarse demand of the last day and more (planner.ts dailyHistory). */
  history: readonly DemandSample[];
}

export type Strategy = (view: RoundView) => readonly Omit<Transition, 't'>[];

export interface ReplayResult {
  transitions: Transition[];
  energy: EnergySummary;
  shortfallSeconds: number;
  /** Seconds in which the serving hosts did not meet the policy (spares, minAwake, target utilisation). */
  belowPolicySeconds: number;
  seconds: number;
  /** Parks per host over the trace (each starts a park+wake cycle). */
  parks: Record<string, number>;
  /** The most parks of each host in any rolling 24 h (checked against maxCyclesPerDay). */
  maxParksIn24h: Record<string, number>;
}

interface HostRun {
  host: SimHost;
  state: PlannerHostState;
  since: number;
  /** When a waking host starts serving, or a parking one reaches parked watts. */
  due: number;
  parkTimes: number[];
}

const DAY = 86_400;

/** The setup for one pool of a `power` config section. */
export function setupFromConfig(config: PowerConfig, poolName?: string): { ok: true; setup: SimSetup } | { ok: false; message: string } {
  const pools = [...new Set(config.hosts.map((h) => h.pool))];
  const pool = poolName ?? (pools.length === 1 ? pools[0] : undefined);
  if (pool === undefined) return { ok: false, message: `the config manages pools ${pools.join(', ')}: choose one with --pool` };
  const hosts = config.hosts.filter((h) => h.pool === pool);
  if (hosts.length === 0) return { ok: false, message: `no power.hosts in pool ${JSON.stringify(pool)} (pools: ${pools.join(', ')})` };
  return {
    ok: true,
    setup: {
      intervalSeconds: config.intervalSeconds,
      policy: config.policy,
      pool: { name: pool, unit: config.pools.find((p) => p.name === pool)?.unit ?? 'connections' },
      hosts: hosts.map((h) => ({
        name: h.name,
        capacity: h.capacity,
        watts: h.watts,
        wakeSeconds: h.wake.seconds,
        parkSeconds: h.park.seconds,
        pinned: h.pinned,
      })),
    },
  };
}

/** The real planner as a strategy. */
export function plannerStrategy(setup: SimSetup): Strategy {
  return (view) =>
    plan({
      now: view.t,
      intervalSeconds: setup.intervalSeconds,
      policy: setup.policy,
      ...(setup.tuning ? { tuning: setup.tuning } : {}),
      pools: [{ name: setup.pool.name, unit: setup.pool.unit, samples: view.samples, ...(setup.seasonal === false ? {} : { history: view.history }) }],
      hosts: view.hosts,
    }).decisions.map((d) => ({ host: d.host, action: d.action, cause: d.cause, reason: d.reason }));
}

/** A fixed schedule as a strategy: each transition is started at the first round at or after its time. */
export function scheduleStrategy(transitions: readonly Transition[]): Strategy {
  const pending = [...transitions].sort((a, b) => a.t - b.t);
  let next = 0;
  return (view) => {
    const out: Omit<Transition, 't'>[] = [];
    while (next < pending.length && pending[next]!.t <= view.t + 1e-9) {
      const { t: _t, ...rest } = pending[next++]!;
      out.push(rest);
    }
    return out;
  };
}

function phaseOf(run: HostRun): HostPhase {
  switch (run.state) {
    case 'awake':
      return 'serving';
    case 'waking':
      return 'waking';
    case 'parking':
      return 'parking';
    case 'parked':
      return 'parked';
  }
}

/** Replay `trace` with `strategy` choosing at every round (t = 0, interval, 2 × interval, ...). */
export function replay(setup: SimSetup, trace: Trace, strategy: Strategy): ReplayResult {
  const runs: HostRun[] = setup.hosts.map((host) => ({ host, state: 'awake', since: -Infinity, due: Infinity, parkTimes: [] }));
  const byName = new Map(runs.map((r) => [r.host.name, r]));
  const transitions: Transition[] = [];
  const changes = trace.points.map((p) => p.t);
  let account = emptyAccount();
  let shortfall = 0;
  let belowPolicy = 0;
  let samples: DemandSample[] = [];
  let history: DemandSample[] = [];
  let changeIndex = 0;

  const settle = (t: number) => {
    for (const r of runs) {
      if (r.due <= t + 1e-9) {
        r.since = r.due;
        r.state = r.state === 'waking' ? 'awake' : 'parked';
        r.due = Infinity;
      }
    }
  };
  const integrate = (from: number, to: number) => {
    const cuts = [from, to];
    while (changeIndex < changes.length && changes[changeIndex]! <= from) changeIndex++;
    for (let i = changeIndex; i < changes.length && changes[i]! < to; i++) cuts.push(changes[i]!);
    for (const r of runs) if (r.due > from && r.due < to) cuts.push(r.due);
    cuts.sort((a, b) => a - b);
    for (let i = 0; i + 1 < cuts.length; i++) {
      const a = cuts[i]!;
      const b = cuts[i + 1]!;
      if (b - a <= 1e-9) continue;
      settle(a);
      const demand = demandAt(trace, a);
      const metered = runs.map((r) => ({ name: r.host.name, capacity: r.host.capacity, watts: r.host.watts, phase: phaseOf(r) }));
      const serving = metered.filter((m) => m.phase === 'serving').reduce((s, m) => s + m.capacity, 0);
      if (demand > serving + 1e-9) shortfall += b - a;
      // The policy on what serves now (not what is still waking): the planner's own yardstick,
      // and the one the clairvoyant optimum keeps at every second.
      const servingCaps = metered.filter((m) => m.phase === 'serving').map((m) => m.capacity);
      const need = Math.max(setup.policy.minAwake, 1, demand > 0 ? setup.policy.spares + 1 : 0);
      if (servingCaps.length < need || demand > setup.policy.targetUtilisation * netCapacity(servingCaps, setup.policy.spares) + 1e-9) {
        belowPolicy += b - a;
      }
      account = accrue(account, b - a, drawNow(metered, demand));
    }
  };

  for (let t = 0; t < trace.end; ) {
    const next = Math.min(t + setup.intervalSeconds, trace.end);
    settle(t);
    samples = trimSamples([...samples, { t, value: demandAt(trace, t) }], t, setup.tuning);
    history = dailyHistory(history, { t, value: demandAt(trace, t) }, setup.tuning);
    const view: RoundView = {
      t,
      samples,
      history,
      hosts: runs.map((r) => ({
        name: r.host.name,
        pool: setup.pool.name,
        capacity: r.host.capacity,
        watts: r.host.watts,
        wakeSeconds: r.host.wakeSeconds,
        parkSeconds: r.host.parkSeconds,
        state: r.state,
        since: r.since,
        healthy: true,
        pinned: r.host.pinned,
        parkTimes: r.parkTimes,
      })),
    };
    for (const d of strategy(view)) {
      const r = byName.get(d.host);
      if (r === undefined) throw new Error(`strategy named unknown host ${d.host}`);
      if (d.action === 'wake') {
        if (r.state !== 'parked') throw new Error(`t=${t}: cannot wake ${d.host}: it is ${r.state}`);
        r.state = 'waking';
        r.due = t + r.host.wakeSeconds;
      } else {
        if (r.state !== 'awake') throw new Error(`t=${t}: cannot park ${d.host}: it is ${r.state}`);
        if (r.host.pinned) throw new Error(`t=${t}: cannot park ${d.host}: it is pinned`);
        r.state = 'parking';
        r.due = t + r.host.parkSeconds;
        r.parkTimes.push(t);
      }
      r.since = t;
      transitions.push({ t, ...d });
    }
    // A zero latency takes effect at once.
    settle(t);
    integrate(t, next);
    t = next;
  }

  const parks: Record<string, number> = {};
  const maxParksIn24h: Record<string, number> = {};
  for (const r of runs) {
    parks[r.host.name] = r.parkTimes.length;
    let most = 0;
    for (let i = 0, j = 0; i < r.parkTimes.length; i++) {
      while (r.parkTimes[i]! - r.parkTimes[j]! >= DAY) j++;
      most = Math.max(most, i - j + 1);
    }
    maxParksIn24h[r.host.name] = most;
  }
  return { transitions, energy: summarise(account), shortfallSeconds: shortfall, belowPolicySeconds: belowPolicy, seconds: trace.end, parks, maxParksIn24h };
}

export interface SimulationSummary {
  pool: string;
  unit: string;
  hours: number;
  energyKWh: number;
  alwaysOnKWh: number;
  savedKWh: number;
  savedFraction: number;
  optimum: {
    energyKWh: number;
    savedKWh: number;
    /** True when the optimum's DP kept every state (see optimum.ts). */
    exact: boolean;
    shortfallSeconds: number;
    belowPolicySeconds: number;
    /** Energy with free, instant parking whenever the policy allows: a floor no schedule reaches. */
    boundKWh: number;
  };
  /** savedKWh / optimum.savedKWh; null when the optimum saves nothing. */
  optimumRatio: number | null;
  shortfallSeconds: number;
  /** Seconds in which the serving hosts did not meet spares/minAwake/targetUtilisation. */
  belowPolicySeconds: number;
  cyclesPerHostPerDay: Record<string, number>;
  maxCyclesIn24h: Record<string, number>;
  hosts: { name: string; kWh: number; alwaysOnKWh: number; savedKWh: number; parks: number }[];
}

export interface SimulationReport {
  summary: SimulationSummary;
  transitions: Transition[];
  optimumTransitions: Transition[];
}

/** The planner's replay against always-on and the clairvoyant optimum's replay. */
export async function simulate(setup: SimSetup, trace: Trace): Promise<SimulationReport> {
  const { clairvoyant } = await import('./optimum.js');
  const run = replay(setup, trace, plannerStrategy(setup));
  const optimum = clairvoyant(setup, trace);
  const best = replay(setup, trace, scheduleStrategy(optimum.transitions));
  const days = trace.end / 86_400;
  const cycles: Record<string, number> = {};
  for (const [name, n] of Object.entries(run.parks)) cycles[name] = days > 0 ? n / days : 0;
  return {
    summary: {
      pool: setup.pool.name,
      unit: setup.pool.unit,
      hours: run.energy.hours,
      energyKWh: run.energy.kWh,
      alwaysOnKWh: run.energy.alwaysOnKWh,
      savedKWh: run.energy.savedKWh,
      savedFraction: run.energy.savedFraction,
      optimum: {
        energyKWh: best.energy.kWh,
        savedKWh: best.energy.savedKWh,
        exact: optimum.exact,
        shortfallSeconds: best.shortfallSeconds,
        belowPolicySeconds: best.belowPolicySeconds,
        boundKWh: optimum.boundKWh,
      },
      optimumRatio: best.energy.savedKWh > 1e-12 ? run.energy.savedKWh / best.energy.savedKWh : null,
      shortfallSeconds: run.shortfallSeconds,
      belowPolicySeconds: run.belowPolicySeconds,
      cyclesPerHostPerDay: cycles,
      maxCyclesIn24h: run.maxParksIn24h,
      hosts: run.energy.hosts.map((h) => ({ ...h, parks: run.parks[h.name] ?? 0 })),
    },
    transitions: run.transitions,
    optimumTransitions: best.transitions,
  };
}
