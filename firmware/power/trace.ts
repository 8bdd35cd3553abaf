// Demand traces for `tandem power simulate` (issue 10): CSV with the header `seconds,demand`,
// demand piecewise constant from each row to the next; the last row's time ends the replay.
// Pure: text in, points or line-numbered errors out.

export interface TracePoint {
  /** Seconds from the start of the trace. */
  t: number;
  demand: number;
}

export interface Trace {
  points: TracePoint[];
  /** The last row's time: the replay covers [0, end). */
  end: number;
}

export interface TraceError {
  line: number;
  message: string;
}

export type TraceResult = { ok: true; trace: Trace } | { ok: false; errors: TraceError[] };

const NUMBER = /^[+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

/** Parse a trace; every bad row is reported (up to 20), each with its 1-based line number. */
export function parseTrace(text: string): TraceResult {
  const errors: TraceError[] = [];
  const points: TracePoint[] = [];
  const lines = text.split(/\r?\n/);
  let header = false;
  for (let i = 0; i < lines.length && errors.length < 20; i++) {
    const line = i + 1;
    const raw = lines[i]!.trim();
    if (raw === '' || raw.startsWith('#')) continue;
    if (!header) {
      const names = raw.split(',').map((c) => c.trim().toLowerCase());
      if (names.length !== 2 || names[0] !== 'seconds' || names[1] !== 'demand') {
        errors.push({ line, message: `header must be "seconds,demand", got ${JSON.stringify(raw)}` });
        return { ok: false, errors };
      }
      header = true;
      continue;
    }
    const cells = raw.split(',').map((c) => c.trim());
    if (cells.length !== 2) {
      errors.push({ line, message: `expected 2 columns (seconds,demand), got ${cells.length}` });
      continue;
    }
    const [ts, ds] = cells as [string, string];
    if (!NUMBER.test(ts)) {
      errors.push({ line, message: `seconds must be a number >= 0, got ${JSON.stringify(ts)}` });
      continue;
    }
    if (!NUMBER.test(ds)) {
      errors.push({ line, message: `demand must be a number >= 0, got ${JSON.stringify(ds)}` });
      continue;
    }
    const t = Number(ts);
    const demand = Number(ds);
    if (!Number.isFinite(t) || !Number.isFinite(demand)) {
      errors.push({ line, message: 'number out of range' });
      continue;
    }
    const previous = points[points.length - 1];
    if (previous === undefined && t !== 0) {
      errors.push({ line, message: `the first row must be at seconds 0 (every host starts awake at t = 0), got ${ts}` });
      continue;
    }
    if (previous !== undefined && t <= previous.t) {
      errors.push({ line, message: `seconds must increase: ${ts} after ${previous.t}` });
      continue;
    }
    points.push({ t, demand });
  }
  if (!header && errors.length === 0) errors.push({ line: 1, message: 'empty trace: expected the header "seconds,demand"' });
  if (errors.length === 0 && points.length < 2) {
    errors.push({ line: lines.length, message: 'a trace needs at least two rows: the last row\'s seconds ends the replay' });
  }
  if (errors.length > 0) return { ok: false, errors };
  return { ok: true, trace: { points, end: points[points.length - 1]!.t } };
}

/** Demand at time t (piecewise constant, right-continuous: a row holds from its own second). */
export function demandAt(trace: Trace, t: number): number {
  const p = trace.points;
  let lo = 0;
  let hi = p.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (p[mid]!.t <= t) lo = mid;
    else hi = mid - 1;
  }
  return p[lo]!.demand;
}

export function formatTrace(trace: Trace): string {
  return ['seconds,demand', ...trace.points.map((p) => `${p.t},${p.demand}`)].join('\n') + '\n';
}
