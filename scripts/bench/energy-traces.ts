// Demand traces for the energy bench and the planner's property tests, from a seeded PRNG so
// every run sees the same numbers. The diurnal shape follows the Wikipedia request-rate traces
// NapSAC (Krioukov et al., 2010) replayed: one broad daily swell peaking in the evening, a
// night trough about a third of the peak, weekends lower; plus correlated and white noise.

import type { Trace, TracePoint } from '../../firmware/power/trace.js';

/** mulberry32: a small, fast, seedable PRNG (public domain); enough for test data. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A standard normal draw (Box-Muller). */
export function gaussian(random: () => number): number {
  const u = Math.max(random(), 1e-12);
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
}

export interface DiurnalOptions {
  days: number;
  /** Demand at the weekday evening peak, in the pool's unit. */
  peak: number;
  /** Seconds between rows. */
  step: number;
  seed: number;
  /** Standard deviation of the noise as a fraction of demand (half correlated, half white). */
  noise: number;
}

/**
 * Hour-of-day shape, 0..1 at the weekday peak: a daily cosine with its maximum at 20:00 and a
 * second harmonic that flattens the afternoon and deepens the 04:00-06:00 trough, as in the
 * Wikipedia traces (trough ≈ 35% of peak). Day 0 is a Monday; Saturday and Sunday run at 80%.
 */
export function diurnalShape(seconds: number): number {
  const hour = (seconds / 3600) % 24;
  const day = Math.floor(seconds / 86_400) % 7;
  const base = 0.66 + 0.3 * Math.cos((2 * Math.PI * (hour - 20)) / 24) + 0.06 * Math.cos((4 * Math.PI * (hour - 17)) / 24);
  return (base / 1.02) * (day >= 5 ? 0.8 : 1);
}

export function diurnalTrace(o: DiurnalOptions): Trace {
  const random = prng(o.seed);
  const points: TracePoint[] = [];
  const end = o.days * 86_400;
  let ar = 0;
  // AR(1) with a 10-minute correlation time: bursts that last a while, as real traffic has.
  const phi = Math.exp(-o.step / 600);
  for (let t = 0; t < end; t += o.step) {
    ar = phi * ar + Math.sqrt(1 - phi * phi) * gaussian(random);
    const n = 1 + (o.noise / Math.SQRT2) * (ar + gaussian(random));
    points.push({ t, demand: Math.max(0, Math.round(o.peak * diurnalShape(t) * n)) });
  }
  points.push({ t: end, demand: points[points.length - 1]!.demand });
  return { points, end };
}

/**
 * A flash crowd on top of a trace: from `at`, demand ramps to `factor` times its level within
 * `rampSeconds`, holds for `holdSeconds`, then decays back over an hour.
 */
export function withFlashCrowd(trace: Trace, at: number, factor: number, rampSeconds: number, holdSeconds: number): Trace {
  const boost = (t: number) => {
    if (t < at) return 1;
    if (t < at + rampSeconds) return 1 + ((factor - 1) * (t - at)) / rampSeconds;
    if (t < at + rampSeconds + holdSeconds) return factor;
    const decay = (t - at - rampSeconds - holdSeconds) / 3600;
    return decay >= 1 ? 1 : factor - (factor - 1) * decay;
  };
  // Rows every 10 s through the crowd, so the ramp is a ramp and not one step.
  const times = new Set(trace.points.map((p) => p.t));
  for (let t = at; t < Math.min(trace.end, at + rampSeconds + holdSeconds + 3600); t += 10) times.add(t);
  const sorted = [...times].sort((a, b) => a - b);
  let j = 0;
  const points = sorted.map((t) => {
    while (j + 1 < trace.points.length && trace.points[j + 1]!.t <= t) j++;
    return { t, demand: Math.round(trace.points[j]!.demand * boost(t)) };
  });
  return { points, end: trace.end };
}
