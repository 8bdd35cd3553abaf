// Wake and park latency learning (issue 10, item 2): each measured wake → healthy and park →
// unreachable time is kept per host, kind and method (the last few), and the planner uses the
// largest recent one instead of the configured `seconds`: a late wake costs capacity, an early
// one only a little energy, so the estimate leans to the slow side. Pure.

/** The last samples of one host's wake or park by one method, in seconds, oldest first. */
export interface LatencyRecord {
  samples: number[];
}

export type LatencyKind = 'wake' | 'park';

/** Per kind, per method name. */
export type LatencyTable = Partial<Record<LatencyKind, Record<string, LatencyRecord>>>;

/** How many recent samples count: enough to ride over one fast outlier, few enough to follow a change (new BIOS, S3 → off). */
export const LATENCY_SAMPLES = 5;

export function learn(table: LatencyTable, kind: LatencyKind, method: string, seconds: number): LatencyTable {
  if (!(seconds >= 0) || !Number.isFinite(seconds)) return table;
  const byMethod = { ...(table[kind] ?? {}) };
  const previous = byMethod[method]?.samples ?? [];
  byMethod[method] = { samples: [...previous, Math.round(seconds * 1000) / 1000].slice(-LATENCY_SAMPLES) };
  return { ...table, [kind]: byMethod };
}

/** The learned latency: the largest recent sample; undefined until one was measured. */
export function learned(table: LatencyTable | undefined, kind: LatencyKind, method: string): number | undefined {
  const samples = table?.[kind]?.[method]?.samples;
  if (!samples || samples.length === 0) return undefined;
  return Math.max(...samples);
}

/** What the planner should assume: learned if any, else the configured seconds. */
export function latencyOf(table: LatencyTable | undefined, kind: LatencyKind, method: string, configured: number): { seconds: number; learned: boolean } {
  const value = learned(table, kind, method);
  return value === undefined ? { seconds: configured, learned: false } : { seconds: value, learned: true };
}

/** Checks a table read back from disk: drops anything malformed instead of trusting it. */
export function sanitiseLatency(raw: unknown): LatencyTable {
  const out: LatencyTable = {};
  if (typeof raw !== 'object' || raw === null) return out;
  for (const kind of ['wake', 'park'] as const) {
    const byMethod = (raw as Record<string, unknown>)[kind];
    if (typeof byMethod !== 'object' || byMethod === null) continue;
    for (const [method, record] of Object.entries(byMethod as Record<string, unknown>)) {
      const samples = (record as { samples?: unknown })?.samples;
      if (!Array.isArray(samples)) continue;
      const clean = samples.filter((s): s is number => typeof s === 'number' && Number.isFinite(s) && s >= 0).slice(-LATENCY_SAMPLES);
      if (clean.length > 0) (out[kind] ??= {})[method] = { samples: clean };
    }
  }
  return out;
}
