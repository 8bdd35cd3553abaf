// The clairvoyant optimum for `power simulate` (issue 10): an offline schedule that knows the
// whole trace, under the same round grid, latencies, awake dwell, cycle cap and spares/minAwake/
// targetUtilisation policy as the planner. Method: hosts are ranked by efficiency (as the
// planner ranks them); at each round the smallest prefix that meets the policy against the
// round's true peak demand must serve, which fixes for each host the rounds it must serve;
// the gaps between are where it may park. Each host then picks the set of gaps to park through
// that saves the most energy, exactly, by dynamic programming over its gaps (state: its parks of
// the last 24 h and the end of its awake dwell; a gap may be parked from later than its start
// when the dwell or the cap demands it). See README "Power management".

import { drawNow, accrue, emptyAccount, summarise, type HostPhase } from './energy.js';
import { efficiency, netCapacity } from './planner.js';
import type { SimSetup, Transition } from './simulate.js';
import { demandAt, type Trace } from './trace.js';
import { compareCodeUnits } from '../compare.js';

const DAY = 86_400;
/** States kept per gap; beyond it the lowest-valued are dropped and the result is marked inexact. */
const STATE_BUDGET = 5_000;

export interface Gap {
  /** The earliest park order (the gap's first round). */
  park: number;
  /** Wake order time; Infinity for a gap running to the end of the trace. */
  wakeAt: number;
  /** When the host serves again (Infinity at the end). */
  serveAt: number;
  /** Parked watts last until here: the wake order, or the end of the trace. */
  until: number;
  parkSeconds: number;
}

/** Seconds at parked watts if parked at `park`: what parking saves, per watt of idle − parked. */
function weightAt(g: Gap, park: number): number {
  return g.until - park - g.parkSeconds;
}

export interface Optimum {
  transitions: Transition[];
  /** False when the DP's state budget cut states (then it is a good schedule, not proven best). */
  exact: boolean;
  /** Energy with every host parked at once whenever the policy allows (no latency, dwell or cap): a bound no schedule beats. */
  boundKWh: number;
}

/** Rank order shared with the planner: most efficient first. */
export function rankHosts<T extends { name: string; capacity: number; watts: { peak: number }; wakeSeconds: number }>(hosts: readonly T[]): T[] {
  return [...hosts].sort((a, b) => efficiency(a) - efficiency(b) || a.wakeSeconds - b.wakeSeconds || compareCodeUnits(a.name, b.name));
}

/** For each round, which hosts the policy needs serving (by name), given the round's peak demand. */
export function requiredSets(setup: SimSetup, trace: Trace): { step: number; rounds: number; required: Set<string>[] } {
  const step = setup.intervalSeconds;
  const rounds = Math.ceil(trace.end / step);
  const { spares, minAwake, targetUtilisation } = setup.policy;
  const pinned = setup.hosts.filter((h) => h.pinned);
  const ranked = rankHosts(setup.hosts.filter((h) => !h.pinned));
  const required: Set<string>[] = [];
  let p = 0;
  for (let k = 0; k < rounds; k++) {
    const from = k * step;
    const to = Math.min((k + 1) * step, trace.end);
    while (p + 1 < trace.points.length && trace.points[p + 1]!.t <= from) p++;
    let peak = trace.points[p]!.demand;
    for (let q = p + 1; q < trace.points.length && trace.points[q]!.t < to; q++) peak = Math.max(peak, trace.points[q]!.demand);
    const set = [...pinned];
    let n = 0;
    const ok = () => {
      const need = Math.max(minAwake, 1, peak > 0 ? spares + 1 : 0);
      return set.length >= need && peak <= targetUtilisation * netCapacity(set.map((h) => h.capacity), spares);
    };
    while (!ok() && n < ranked.length) set.push(ranked[n++]!);
    required.push(new Set(set.map((h) => h.name)));
  }
  return { step, rounds, required };
}

function gapsOf(required: readonly Set<string>[], name: string, step: number, end: number, wakeSeconds: number, parkSeconds: number): Gap[] {
  const gaps: Gap[] = [];
  const w = Math.ceil(wakeSeconds / step - 1e-9);
  for (let k = 0; k < required.length; ) {
    if (required[k]!.has(name)) {
      k++;
      continue;
    }
    const a = k;
    while (k < required.length && !required[k]!.has(name)) k++;
    const b = k;
    const park = a * step;
    if (b === required.length) {
      const g = { park, wakeAt: Infinity, serveAt: Infinity, until: end, parkSeconds };
      if (weightAt(g, park) > 0) gaps.push(g);
    } else {
      const wakeAt = (b - w) * step;
      const g = { park, wakeAt, serveAt: wakeAt + wakeSeconds, until: wakeAt, parkSeconds };
      // The wake is ordered only once the host is parked (the planner wakes parked hosts only).
      if (weightAt(g, park) > 0) gaps.push(g);
    }
  }
  return gaps;
}

interface Chain {
  gap: number;
  park: number;
  prev: Chain | null;
}

interface State {
  value: number;
  /** Park times that may still count against the cap, oldest first. */
  recent: number[];
  /** The awake dwell after the last wake ends here. */
  dwellUntil: number;
  chain: Chain | null;
}

/**
 * The best parks through the gaps: at most `cap` parks in any `day` seconds, and at least
 * `minAwakeSeconds` served between a wake and the next park. A gap may be parked late (after
 * the dwell, or once an old park leaves the 24 h window), on the `step` grid; the earliest
 * allowed park is always the best one, as it saves more now and frees the cap sooner.
 */
export function chooseGaps(
  gaps: readonly Gap[],
  cap: number,
  minAwakeSeconds: number,
  step = 1,
  day = DAY,
): { chosen: { gap: number; park: number }[]; exact: boolean } {
  let states: State[] = [{ value: 0, recent: [], dwellUntil: -Infinity, chain: null }];
  let exact = true;
  for (let i = 0; i < gaps.length; i++) {
    const g = gaps[i]!;
    const next: State[] = [];
    for (const st of states) {
      const recent = st.recent.filter((t) => t > g.park - day);
      next.push({ ...st, recent });
      if (cap <= 0) continue;
      let park = Math.max(g.park, st.dwellUntil);
      if (recent.length >= cap) park = Math.max(park, recent[recent.length - cap]! + day);
      park = Math.ceil(park / step - 1e-9) * step;
      if (weightAt(g, park) <= 0) continue;
      next.push({
        value: st.value + weightAt(g, park),
        recent: [...recent.filter((t) => t > park - day), park],
        dwellUntil: g.serveAt + minAwakeSeconds,
        chain: { gap: i, park, prev: st.chain },
      });
    }
    // Pareto pruning, which keeps the DP exact: a state is dropped when another is worth at least
    // as much and constrains the future no more (each of its recent parks no later, its dwell
    // ending no later), as every choice open to the dropped one is then open to the other.
    const profile = (st: State) => {
      const times = [...st.recent];
      while (times.length < cap) times.unshift(-Infinity);
      times.push(st.dwellUntil);
      return times;
    };
    const kept: { state: State; profile: number[] }[] = [];
    for (const st of next.sort((a, b) => b.value - a.value)) {
      const mine = profile(st);
      if (kept.some((k) => k.profile.length === mine.length && k.profile.every((x, j) => x <= mine[j]!))) continue;
      kept.push({ state: st, profile: mine });
      if (kept.length >= STATE_BUDGET) {
        exact = false;
        break;
      }
    }
    states = kept.map((k) => k.state);
  }
  let best: State | undefined;
  for (const st of states) if (best === undefined || st.value > best.value) best = st;
  const chosen: { gap: number; park: number }[] = [];
  for (let c = best?.chain ?? null; c !== null; c = c.prev) chosen.push({ gap: c.gap, park: c.park });
  return { chosen: chosen.reverse(), exact };
}

export function clairvoyant(setup: SimSetup, trace: Trace): Optimum {
  const { step, required } = requiredSets(setup, trace);
  const transitions: Transition[] = [];
  let exact = true;
  for (const h of setup.hosts) {
    if (h.pinned || h.watts.idle <= h.watts.parked) continue;
    const gaps = gapsOf(required, h.name, step, trace.end, h.wakeSeconds, h.parkSeconds);
    const result = chooseGaps(gaps, setup.policy.maxCyclesPerDay, setup.policy.minAwakeSeconds, step);
    exact &&= result.exact;
    for (const { gap, park } of result.chosen) {
      const g = gaps[gap]!;
      transitions.push({ t: park, host: h.name, action: 'park', reason: 'clairvoyant: not needed until the next wake' });
      if (Number.isFinite(g.wakeAt)) transitions.push({ t: g.wakeAt, host: h.name, action: 'wake', reason: 'clairvoyant: needed from the next rounds' });
    }
  }
  transitions.sort((a, b) => a.t - b.t || (a.action === b.action ? compareCodeUnits(a.host, b.host) : a.action === 'wake' ? -1 : 1));
  return { transitions, exact, boundKWh: boundEnergy(setup, trace, step, required) };
}

/** Energy if each host served exactly in its required rounds and was parked otherwise, for free. */
function boundEnergy(setup: SimSetup, trace: Trace, step: number, required: readonly Set<string>[]): number {
  let account = emptyAccount();
  const cuts = new Set<number>(trace.points.map((p) => p.t));
  for (let t = 0; t < trace.end; t += step) cuts.add(t);
  const times = [...cuts].filter((t) => t < trace.end).sort((a, b) => a - b);
  times.push(trace.end);
  for (let i = 0; i + 1 < times.length; i++) {
    const a = times[i]!;
    const set = required[Math.floor(a / step + 1e-9)]!;
    const metered = setup.hosts.map((h) => ({ name: h.name, capacity: h.capacity, watts: h.watts, phase: (set.has(h.name) ? 'serving' : 'parked') as HostPhase }));
    account = accrue(account, times[i + 1]! - a, drawNow(metered, demandAt(trace, a)));
  }
  return summarise(account).kWh;
}
