// Pure geometry for the UI's small SVG charts: a series of samples scaled into a box, as the
// `d` of a polyline path and an area, with a "nice" top so the axis label is a round number.
// No DOM: the Sparkline component only writes these strings into <path>.

export interface Sample {
  /** ms since the epoch. */
  t: number;
  v: number;
}

export interface ChartGeometry {
  /** `M x y L x y ...`, empty when there is nothing to draw. */
  line: string;
  /** The line closed down to the baseline, for a filled area. */
  area: string;
  min: number;
  max: number;
  last: number | undefined;
}

/** The smallest of 1, 2, 2.5, 5 x 10^n at or above `value` (0 stays 0). */
export function niceCeiling(value: number): number {
  if (!(value > 0)) return 0;
  const exponent = Math.floor(Math.log10(value));
  const base = 10 ** exponent;
  for (const step of [1, 2, 2.5, 5, 10]) {
    const candidate = step * base;
    // Rounding guards against 0.30000000000000004-style misses at the boundary.
    if (candidate >= value - base * 1e-9) return Number(candidate.toPrecision(12));
  }
  return 10 * base;
}

function round(n: number): string {
  return String(Math.round(n * 10) / 10);
}

/**
 * Scales samples into a `width` x `height` box (SVG y grows downward). The x axis spans
 * `[from, to]` (default: the samples' own first and last time) so charts side by side share a
 * time scale; y spans 0 (or the minimum, when negative) up to a nice ceiling of the maximum.
 */
export function scaleSeries(samples: readonly Sample[], width: number, height: number, span?: { from: number; to: number }): ChartGeometry {
  const finite = samples.filter((s) => Number.isFinite(s.v) && Number.isFinite(s.t));
  if (finite.length === 0) return { line: '', area: '', min: 0, max: 0, last: undefined };
  const from = span?.from ?? finite[0]!.t;
  const to = span?.to ?? finite[finite.length - 1]!.t;
  let lo = 0;
  let hi = 0;
  for (const s of finite) {
    if (s.v < lo) lo = s.v;
    if (s.v > hi) hi = s.v;
  }
  const max = niceCeiling(hi) || 1;
  const min = lo < 0 ? -niceCeiling(-lo) : 0;
  const dx = to > from ? width / (to - from) : 0;
  const dy = height / (max - min);
  const x = (t: number) => (dx === 0 ? width : Math.min(width, Math.max(0, (t - from) * dx)));
  const y = (v: number) => height - (v - min) * dy;
  const points = finite.map((s) => `${round(x(s.t))} ${round(y(s.v))}`);
  // One sample draws a flat line across the box rather than an invisible dot.
  const drawn = points.length === 1 ? [`0 ${points[0]!.split(' ')[1]}`, points[0]!] : points;
  const line = `M${drawn.join(' L')}`;
  const firstX = drawn[0]!.split(' ')[0];
  const lastX = drawn[drawn.length - 1]!.split(' ')[0];
  const base = round(y(Math.max(min, 0)));
  const area = `${line} L${lastX} ${base} L${firstX} ${base} Z`;
  return { line, area, min, max, last: finite[finite.length - 1]!.v };
}

/** Keeps the newest samples within `windowMs` of the last and at most `limit` of them. */
export function appendSample(series: readonly Sample[], sample: Sample, windowMs: number, limit: number): Sample[] {
  const last = series[series.length - 1];
  // The same instant twice (a status re-sent unchanged) replaces rather than stacks.
  const base = last && last.t === sample.t ? series.slice(0, -1) : series.slice();
  base.push(sample);
  const cutoff = sample.t - windowMs;
  let start = 0;
  while (start < base.length && base[start]!.t < cutoff) start++;
  if (base.length - start > limit) start = base.length - limit;
  return start > 0 ? base.slice(start) : base;
}
