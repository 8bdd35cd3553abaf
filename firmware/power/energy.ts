// The energy model of issue 10 (items 6 and `power simulate`): what a host draws in each phase,
// how serving hosts share demand, and kWh accounting against always-on. Pure; the simulator and
// the executor's status both use it, so `simulate` and `status` count energy the same way.

export interface Watts {
  idle: number;
  peak: number;
  parked: number;
}

/**
 * serving: awake and in the pool; waking: ordered awake, not serving yet (draws idle);
 * parking: out of the pool, going down (draws idle for the park latency); parked: parked watts.
 */
export type HostPhase = 'serving' | 'waking' | 'parking' | 'parked';

/** A serving host draws idle + (peak − idle) × utilisation; the others as their phase says. */
export function hostWatts(phase: HostPhase, watts: Watts, utilisation: number): number {
  switch (phase) {
    case 'serving':
      return watts.idle + (watts.peak - watts.idle) * Math.min(1, Math.max(0, utilisation));
    case 'waking':
    case 'parking':
      return watts.idle;
    case 'parked':
      return watts.parked;
  }
}

/**
 * Serving hosts share demand in proportion to capacity, so they all run at the same
 * utilisation: demand over total capacity, capped at 1 (the excess is a shortfall).
 */
export function utilisation(totalServingCapacity: number, demand: number): number {
  if (totalServingCapacity <= 0) return 0;
  return Math.min(1, Math.max(0, demand) / totalServingCapacity);
}

export interface MeteredHost {
  name: string;
  capacity: number;
  watts: Watts;
  phase: HostPhase;
}

/** Watts drawn by each host now, and what it would draw if every host were serving. */
export function drawNow(hosts: readonly MeteredHost[], demand: number): { name: string; watts: number; alwaysOnWatts: number }[] {
  const serving = hosts.filter((h) => h.phase === 'serving').reduce((a, h) => a + h.capacity, 0);
  const all = hosts.reduce((a, h) => a + h.capacity, 0);
  const u = utilisation(serving, demand);
  const uAll = utilisation(all, demand);
  return hosts.map((h) => ({ name: h.name, watts: hostWatts(h.phase, h.watts, u), alwaysOnWatts: hostWatts('serving', h.watts, uAll) }));
}

export interface EnergyAccount {
  seconds: number;
  hosts: Record<string, { joules: number; alwaysOnJoules: number }>;
}

export function emptyAccount(): EnergyAccount {
  return { seconds: 0, hosts: {} };
}

/** Add `seconds` at the given draw (watts held constant over the interval). Returns a new account. */
export function accrue(
  account: EnergyAccount,
  seconds: number,
  draw: readonly { name: string; watts: number; alwaysOnWatts: number }[],
): EnergyAccount {
  if (!(seconds > 0)) return account;
  const hosts = { ...account.hosts };
  for (const d of draw) {
    const h = hosts[d.name] ?? { joules: 0, alwaysOnJoules: 0 };
    hosts[d.name] = { joules: h.joules + d.watts * seconds, alwaysOnJoules: h.alwaysOnJoules + d.alwaysOnWatts * seconds };
  }
  return { seconds: account.seconds + seconds, hosts };
}

export const JOULES_PER_KWH = 3_600_000;

export interface EnergySummary {
  hours: number;
  kWh: number;
  alwaysOnKWh: number;
  savedKWh: number;
  /** savedKWh / alwaysOnKWh, 0 when nothing was drawn. */
  savedFraction: number;
  hosts: { name: string; kWh: number; alwaysOnKWh: number; savedKWh: number }[];
}

export function summarise(account: EnergyAccount): EnergySummary {
  const hosts = Object.entries(account.hosts).map(([name, h]) => ({
    name,
    kWh: h.joules / JOULES_PER_KWH,
    alwaysOnKWh: h.alwaysOnJoules / JOULES_PER_KWH,
    savedKWh: (h.alwaysOnJoules - h.joules) / JOULES_PER_KWH,
  }));
  const kWh = hosts.reduce((a, h) => a + h.kWh, 0);
  const alwaysOnKWh = hosts.reduce((a, h) => a + h.alwaysOnKWh, 0);
  return {
    hours: account.seconds / 3600,
    kWh,
    alwaysOnKWh,
    savedKWh: alwaysOnKWh - kWh,
    savedFraction: alwaysOnKWh > 0 ? (alwaysOnKWh - kWh) / alwaysOnKWh : 0,
    hosts,
  };
}
