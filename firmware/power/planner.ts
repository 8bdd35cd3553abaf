// The power planner (issue 10, item 3): pure. From each pool's recent demand, its hosts'
// capacities, efficiencies, latencies and power states, and the redundancy policy, it decides
// which hosts to wake and which to park, each decision with a reason a person can read.
// Time enters only as `now` (seconds on any monotonic scale); the caller keeps the samples.

import { compareCodeUnits } from '../compare.js';

/** Where a managed host stands. `waking`/`parking` last the host's wake/park latency. */
export type PlannerHostState = 'awake' | 'waking' | 'parking' | 'parked';

/** Why a decision was taken: the closed set the executor counts and the UI shows. */
export type DecisionCause =
  | 'demand' // projected demand needs more serving capacity
  | 'redundancy' // spares or minAwake would be broken
  | 'unhealthy' // an awake host failed its health check: a replacement
  | 'pinned' // pinned awake (by hand or schedule) but not awake
  | 'idle'; // demand fits without this host, with hysteresis

export interface PlannerPolicy {
  /** Hosts' worth of capacity kept awake beyond demand; the largest awake hosts count. */
  spares: number;
  /** Never fewer awake (or waking) hosts per pool. */
  minAwake: number;
  /** Parks (each starts a park+wake cycle) per host in any rolling 24 h. */
  maxCyclesPerDay: number;
  /** A woken host stays awake at least this long before it may be parked. */
  minAwakeSeconds: number;
  /** A parked host stays parked at least this long, unless demand or redundancy needs it. */
  minParkedSeconds: number;
  /** Plan so that demand <= this fraction of the serving capacity net of spares. */
  targetUtilisation: number;
}

/** Knobs of the demand forecast; defaults in DEFAULT_TUNING. Not part of the config contract. */
export interface PlannerTuning {
  /** Samples this recent give the trend (least-squares slope). */
  trendWindowSeconds: number;
  /** Parking looks at the peak of this window, so a dip in noisy demand does not park a host. */
  peakHoldSeconds: number;
  /** Park only if demand fits in this fraction of the target after parking (hysteresis). */
  parkHysteresis: number;
  /** Rising demand: the slope is multiplied by this before projecting (headroom for curvature). */
  trendGain: number;
  /** With a day of history, a park must also fit yesterday's peak over this much of what follows. */
  seasonLookaheadSeconds: number;
  /** The park hysteresis when yesterday's peak is part of the test (it already holds the rise). */
  seasonHysteresis: number;
  /** Bucket width of `history` (dailyHistory keeps one peak per bucket). */
  historyBucketSeconds: number;
  /** The seasonal park margin is this many relative standard deviations of recent demand. */
  noiseMargin: number;
}

export const DEFAULT_TUNING: PlannerTuning = {
  trendWindowSeconds: 300,
  peakHoldSeconds: 900,
  parkHysteresis: 0.9,
  trendGain: 1.5,
  seasonLookaheadSeconds: 3600,
  seasonHysteresis: 0.97,
  historyBucketSeconds: 300,
  noiseMargin: 1.5,
};

export interface DemandSample {
  /** Seconds, on the same scale as PlanInput.now. */
  t: number;
  value: number;
}

export interface PlannerPool {
  name: string;
  /** The pool's demand unit, for reasons (`connections` → "conn", `requestsPerSecond` → "req/s"). */
  unit: string;
  /** Recent demand, oldest first; the last one is the current demand. */
  samples: readonly DemandSample[];
  /**
   * Optional: the last day and more of demand, coarse (peaks per few minutes, oldest first;
   * `dailyHistory` keeps it). Parking then also asks what the same hours did yesterday, scaled
   * to today's level, so a host is not parked just before the daily rise.
   */
  history?: readonly DemandSample[];
}

export interface PlannerHost {
  name: string;
  pool: string;
  capacity: number;
  watts: { idle: number; peak: number; parked: number };
  /** Latency from the wake order until the host serves (learned, else the configured one). */
  wakeSeconds: number;
  parkSeconds: number;
  state: PlannerHostState;
  /** When the host entered `state` (for the dwell rules). */
  since: number;
  /** Health check result; only meaningful while awake. */
  healthy: boolean;
  /** Pinned awake by hand or by a schedule the caller has already evaluated. */
  pinned: boolean;
  /** When the host was parked (start of each cycle), any age; the planner looks at the last 24 h. */
  parkTimes: readonly number[];
}

export interface PlanInput {
  now: number;
  /** Seconds between planner rounds: a wake ordered now is checked again only this much later. */
  intervalSeconds: number;
  policy: PlannerPolicy;
  tuning?: Partial<PlannerTuning>;
  pools: readonly PlannerPool[];
  hosts: readonly PlannerHost[];
}

export interface Decision {
  host: string;
  pool: string;
  action: 'wake' | 'park';
  cause: DecisionCause;
  reason: string;
}

/** What the planner saw of a pool, for status and reasons. */
export interface PoolForecast {
  pool: string;
  demand: number;
  /** Units per second, least-squares over the trend window (0 with fewer than two samples). */
  slope: number;
  peak: number;
  /** Capacity of hosts awake and healthy or waking. */
  committedCapacity: number;
}

export interface PlanOutput {
  decisions: Decision[];
  forecasts: PoolForecast[];
}

const DAY = 86_400;

/** Watts per unit of capacity at peak: lower is more efficient. */
export function efficiency(host: { capacity: number; watts: { peak: number } }): number {
  return host.capacity > 0 ? host.watts.peak / host.capacity : Infinity;
}

export function forecast(pool: PlannerPool, now: number, tuning: PlannerTuning): Omit<PoolForecast, 'committedCapacity'> {
  const samples = pool.samples;
  const demand = samples.length > 0 ? samples[samples.length - 1]!.value : 0;
  const slope = slopeOver(samples, now - tuning.trendWindowSeconds);
  let peak = demand;
  for (const s of samples) if (s.t > now - tuning.peakHoldSeconds - 1e-9 && s.value > peak) peak = s.value;
  return { pool: pool.name, demand, slope, peak };
}

/** Standard deviation of the residuals around the least-squares line, relative to the mean. */
function spread(samples: readonly DemandSample[], from: number): number {
  const recent = samples.filter((s) => s.t > from - 1e-9);
  if (recent.length < 3) return 0;
  const slope = slopeOver(recent, from);
  const mt = recent.reduce((a, s) => a + s.t, 0) / recent.length;
  const mv = recent.reduce((a, s) => a + s.value, 0) / recent.length;
  if (mv <= 0) return 0;
  const variance = recent.reduce((a, s) => a + (s.value - mv - slope * (s.t - mt)) ** 2, 0) / (recent.length - 2);
  return Math.sqrt(variance) / mv;
}

/** Least-squares slope of the samples since `from` (0 with fewer than two). */
function slopeOver(samples: readonly DemandSample[], from: number): number {
  const recent = samples.filter((s) => s.t > from - 1e-9);
  if (recent.length < 2) return 0;
  const mt = recent.reduce((a, s) => a + s.t, 0) / recent.length;
  const mv = recent.reduce((a, s) => a + s.value, 0) / recent.length;
  let num = 0;
  let den = 0;
  for (const s of recent) {
    num += (s.t - mt) * (s.value - mv);
    den += (s.t - mt) ** 2;
  }
  return den > 0 ? num / den : 0;
}

/** Capacity net of spares: the `spares` largest members are held back as redundancy. */
export function netCapacity(capacities: readonly number[], spares: number): number {
  const sorted = [...capacities].sort((a, b) => b - a);
  return sorted.slice(spares).reduce((a, c) => a + c, 0);
}

function peakSince(samples: readonly DemandSample[], from: number, floor: number): number {
  let peak = floor;
  for (const s of samples) if (s.t > from - 1e-9 && s.value > peak) peak = s.value;
  return peak;
}

/**
 * Yesterday's peak over the lookahead that follows now, scaled by today's held peak over
 * yesterday's at the same hour; undefined until the history covers a day.
 */
function seasonalPeak(history: readonly DemandSample[] | undefined, now: number, heldNow: number, tuning: PlannerTuning): number | undefined {
  if (history === undefined || history.length === 0 || history[0]!.t > now - DAY) return undefined;
  const then = now - DAY;
  let ahead = 0;
  let before = 0;
  for (const s of history) {
    if (s.t >= then - tuning.peakHoldSeconds && s.t <= then) before = Math.max(before, s.value);
    if (s.t >= then && s.t <= then + tuning.seasonLookaheadSeconds) ahead = Math.max(ahead, s.value);
  }
  const scale = before > 0 ? Math.min(2, Math.max(0.5, heldNow / before)) : 1;
  return ahead * scale;
}

/** Fold a sample into the coarse history (peak per bucket), keeping a day plus the lookahead. */
export function dailyHistory(history: readonly DemandSample[], sample: DemandSample, tuning: Partial<PlannerTuning> = {}): DemandSample[] {
  const t = { ...DEFAULT_TUNING, ...tuning };
  const bucket = Math.floor(sample.t / t.historyBucketSeconds) * t.historyBucketSeconds;
  const out = history.filter((s) => s.t >= sample.t - DAY - t.seasonLookaheadSeconds - t.peakHoldSeconds - t.historyBucketSeconds);
  const last = out[out.length - 1];
  if (last !== undefined && last.t === bucket) out[out.length - 1] = { t: bucket, value: Math.max(last.value, sample.value) };
  else out.push({ t: bucket, value: sample.value });
  return out;
}

/** Keep only what the planner will look at again (trend, peak hold): for the caller's buffer. */
export function trimSamples(samples: readonly DemandSample[], now: number, tuning: Partial<PlannerTuning> = {}): DemandSample[] {
  const t = { ...DEFAULT_TUNING, ...tuning };
  const keep = Math.max(t.trendWindowSeconds, t.peakHoldSeconds);
  return samples.filter((s) => s.t > now - keep - 1e-9);
}

function round(n: number): string {
  return Math.abs(n) >= 10 ? n.toFixed(0) : Number(n.toFixed(2)).toString();
}

function unitShort(unit: string): string {
  if (unit === 'connections') return 'conn';
  if (unit === 'requestsPerSecond') return 'req/s';
  return unit;
}

/** One round: decisions for every pool. Wakes come first; a pool that wakes parks nothing. */
export function plan(input: PlanInput): PlanOutput {
  const tuning: PlannerTuning = { ...DEFAULT_TUNING, ...input.tuning };
  const decisions: Decision[] = [];
  const forecasts: PoolForecast[] = [];
  for (const pool of input.pools) {
    const hosts = input.hosts.filter((h) => h.pool === pool.name);
    const f = forecast(pool, input.now, tuning);
    const result = planPool(input, tuning, pool, f, hosts);
    decisions.push(...result.decisions);
    forecasts.push({ ...f, committedCapacity: result.committed });
  }
  return { decisions, forecasts };
}

function planPool(
  input: PlanInput,
  tuning: PlannerTuning,
  pool: PlannerPool,
  f: Omit<PoolForecast, 'committedCapacity'>,
  hosts: readonly PlannerHost[],
): { decisions: Decision[]; committed: number } {
  const { policy, now } = input;
  const u = unitShort(pool.unit);
  const decisions: Decision[] = [];
  // Committed: serving now or soon. An unhealthy awake host serves nothing and is not counted.
  const committed = new Set(hosts.filter((h) => (h.state === 'awake' && h.healthy) || h.state === 'waking'));
  const caps = () => [...committed].map((h) => h.capacity);
  const capacity = () => caps().reduce((a, c) => a + c, 0);
  const projected = (horizon: number) => Math.max(f.demand, f.demand + Math.max(0, f.slope) * tuning.trendGain * horizon);
  const trend = f.slope > 0.005 ? `rising ${round(f.slope)}/s` : f.slope < -0.005 ? `falling ${round(-f.slope)}/s` : 'steady';
  const fits = (demand: number, fraction: number) => {
    const net = netCapacity(caps(), policy.spares);
    return demand <= fraction * policy.targetUtilisation * net && (demand <= 0 || net > 0);
  };
  // Every wake below is needed (demand, redundancy, a pin, a replacement), which overrides the
  // parked dwell; the dwell only ranks: hosts parked long enough go first.
  const rested = (h: PlannerHost) => (now - h.since >= policy.minParkedSeconds ? 0 : 1);
  const parked = () =>
    hosts
      .filter((h) => h.state === 'parked' && !committed.has(h))
      .sort(
        (a, b) =>
          rested(a) - rested(b) || efficiency(a) - efficiency(b) || a.wakeSeconds - b.wakeSeconds || compareCodeUnits(a.name, b.name),
      );
  const wake = (h: PlannerHost, cause: DecisionCause, reason: string) => {
    committed.add(h);
    decisions.push({ host: h.name, pool: pool.name, action: 'wake', cause, reason });
  };
  const describe = (h: PlannerHost) => `${round(efficiency(h))} W/${u}`;

  // Pinned hosts come up whatever the demand.
  for (const h of parked()) {
    if (h.pinned) wake(h, 'pinned', `${h.name} is pinned awake: waking it`);
  }
  // A failed health check gets a replacement at once (the most efficient parked host), before
  // the demand rule, so the reason says why.
  const unhealthy = hosts.filter((h) => h.state === 'awake' && !h.healthy);
  for (const sick of unhealthy) {
    const horizon = input.intervalSeconds;
    if (fits(projected(horizon), 1) && committed.size >= Math.max(policy.minAwake, 1)) continue;
    const next = parked()[0];
    if (next === undefined) break;
    wake(next, 'unhealthy', `${sick.name} failed its health check: waking ${next.name} in its place (most efficient parked: ${describe(next)})`);
  }
  // Redundancy: never fewer than minAwake, and with spares there must be more than `spares`
  // hosts committed whenever there is demand (the spares are held back from serving it).
  while (committed.size < Math.max(policy.minAwake, f.demand > 0 ? policy.spares + 1 : 0)) {
    const next = parked()[0];
    if (next === undefined) break;
    wake(next, 'redundancy', `${committed.size} host(s) awake, policy needs ${Math.max(policy.minAwake, policy.spares + 1)}: waking ${next.name}`);
  }
  // Wake ahead: the demand projected over the candidate's own wake latency (plus a round, as
  // the next check comes that much later) must fit the target share of capacity net of spares.
  for (;;) {
    const next = parked()[0];
    if (next === undefined) break;
    const horizon = next.wakeSeconds + input.intervalSeconds;
    const want = projected(horizon);
    if (fits(want, 1)) break;
    const net = netCapacity(caps(), policy.spares);
    wake(
      next,
      'demand',
      `demand ${round(f.demand)} ${u} (${trend}) would exceed ${Math.round(policy.targetUtilisation * 100)}% of ${round(net)} within ` +
        `${next.name}'s wake time ${round(next.wakeSeconds)} s: waking ${next.name} (most efficient parked: ${describe(next)})`,
    );
  }
  if (decisions.length > 0) return { decisions, committed: capacity() };
  // While a wake is in flight the pool is still changing: parking now could swap an efficient
  // awake host for the one coming up (the larger newcomer becomes the spare).
  if (hosts.some((h) => h.state === 'waking')) return { decisions, committed: capacity() };

  // Park: least efficient first, one per round, only if the peak-held demand projected over the
  // host's wake time would still fit with hysteresis, so it is not woken again soon.
  // A less efficient host still in its awake dwell holds back the parking of more efficient
  // ones: it goes first once its dwell ends, instead of the pool keeping the worse host.
  const dwelling = [...committed].filter((h) => h.state === 'awake' && h.healthy && !h.pinned && now - h.since < policy.minAwakeSeconds);
  const worstDwelling = Math.max(-Infinity, ...dwelling.map(efficiency));
  const candidates = [...committed]
    .filter((h) => h.state === 'awake' && h.healthy && !h.pinned)
    .filter((h) => now - h.since >= policy.minAwakeSeconds && efficiency(h) >= worstDwelling)
    .filter((h) => h.parkTimes.filter((t) => t > now - DAY).length < policy.maxCyclesPerDay)
    // The exact reverse of the wake order, so parking and waking walk the same ranking.
    .sort((a, b) => efficiency(b) - efficiency(a) || b.wakeSeconds - a.wakeSeconds || compareCodeUnits(b.name, a.name));
  const healthyAwake = hosts.filter((h) => h.state === 'awake' && h.healthy).length;
  for (const h of candidates) {
    if (healthyAwake <= 1) break;
    if (committed.size - 1 < Math.max(policy.minAwake, 1, f.peak > 0 ? policy.spares + 1 : 0)) break;
    committed.delete(h);
    const hold = tuning.peakHoldSeconds;
    const held = peakSince(pool.samples, now - hold, f.demand);
    const season = seasonalPeak(pool.history, now, held, tuning);
    // With yesterday in the test, the margin left is for noise: as wide as the demand's own
    // relative spread (residuals around its trend), within [parkHysteresis, seasonHysteresis].
    const hysteresis =
      season === undefined
        ? tuning.parkHysteresis
        : Math.min(tuning.seasonHysteresis, Math.max(tuning.parkHysteresis, 1 - tuning.noiseMargin * spread(pool.samples, now - hold)));
    const want = Math.max(held, projected(h.wakeSeconds + input.intervalSeconds), season ?? 0);
    if (fits(want, hysteresis)) {
      const net = netCapacity(caps(), policy.spares);
      decisions.push({
        host: h.name,
        pool: pool.name,
        action: 'park',
        cause: 'idle',
        reason:
          `demand ${round(f.demand)} ${u} (${trend}, peak ${round(held)} in ${round(hold)} s` +
          `${season === undefined ? '' : `, ${round(season)} in the next ${round(tuning.seasonLookaheadSeconds / 60)} min as yesterday`}) fits ${Math.round(policy.targetUtilisation * hysteresis * 100)}% ` +
          `of ${round(net)} without ${h.name}: parking ${h.name} (least efficient awake: ${describe(h)})`,
      });
      break;
    }
    committed.add(h);
  }
  return { decisions, committed: capacity() };
}
