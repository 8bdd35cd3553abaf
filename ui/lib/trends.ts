// Pure sampling of trends from successive status documents (what the live stream sends): each
// pool's demand, the energy parking saved, and each VHID's advertisement rate — sent while
// MASTER, received while BACKUP — whose dips are the advert gaps a failing peer or link shows.

import type { Status } from '../../firmware/daemon.js';
import { appendSample, type Sample } from './chart.js';

export interface Trends {
  demand: Record<string, Sample[]>;
  energySaved: Sample[];
  /** Adverts per second by VHID. */
  adverts: Record<number, Sample[]>;
  /** The counters and time of the previous status, for the rates. */
  last?: { at: number; counters: Record<number, { sent: number; received: number }> };
}

export const TREND_WINDOW_MS = 10 * 60_000;
export const TREND_POINTS = 600;
/** Statuses closer than this add no sample: rates over shorter spans are noise. */
const MIN_SPAN_MS = 900;

export function emptyTrends(): Trends {
  return { demand: {}, energySaved: [], adverts: {} };
}

const add = (series: readonly Sample[] | undefined, t: number, v: number) => appendSample(series ?? [], { t, v }, TREND_WINDOW_MS, TREND_POINTS);

export function sampleTrends(trends: Trends, status: Status, at: number): Trends {
  // The stream sends a status on every change (each advert moves a counter): one sample a second is plenty.
  if (trends.last && at - trends.last.at < MIN_SPAN_MS) return trends;
  const demand = { ...trends.demand };
  for (const pool of status.pools) {
    if (pool.demand.measured) demand[pool.name] = add(demand[pool.name], at, pool.demand.connections);
  }
  // The power planner measures pools the balancer does not (its own unit): those only.
  for (const pool of status.power?.pools ?? []) {
    if (pool.demand !== null && !status.pools.some((p) => p.name === pool.name && p.demand.measured)) demand[pool.name] = add(demand[pool.name], at, pool.demand);
  }
  const energySaved = status.power ? add(trends.energySaved, at, status.power.energy.savedKWh) : trends.energySaved;

  const counters: Record<number, { sent: number; received: number }> = {};
  for (const v of status.carp) counters[v.vhid] = { sent: v.counters.sent, received: v.counters.received };
  const adverts = { ...trends.adverts };
  const last = trends.last;
  if (last) {
    const seconds = (at - last.at) / 1000;
    for (const v of status.carp) {
      const before = last.counters[v.vhid];
      if (!before) continue;
      const key = v.state === 'MASTER' ? 'sent' : 'received';
      const delta = v.counters[key] - before[key];
      // A counter that went backwards is a restarted daemon: no rate for that span.
      if (delta >= 0) adverts[v.vhid] = add(adverts[v.vhid], at, Math.round((delta / seconds) * 100) / 100);
    }
  }
  return { demand, energySaved, adverts, last: { at, counters } };
}
