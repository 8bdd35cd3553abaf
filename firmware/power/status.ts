// What `tandem power status` and the daemon's status key `power` show: the service's role, each
// pool's demand, each host's state, latencies, pins, cycles and energy, the planner's recent
// decisions with their reasons, and the ledger. The text form is one line per pool and host.

import { JOULES_PER_KWH, type EnergySummary } from './energy.js';
import { latencyOf } from './latency.js';
import { cyclesToday, type LedgerHost, type LedgerState } from './ledger.js';
import type { DemandSample, PoolForecast } from './planner.js';
import type { PowerHostConfig } from './schema.js';

/** standalone: no vhid, acts; master: MASTER of the vhid, acts; rebuilding: became master, checking first; backup: watches only. */
export type PowerRole = 'standalone' | 'master' | 'rebuilding' | 'backup' | 'stopped';

export interface PowerHostStatus {
  name: string;
  pool: string;
  address: string;
  /** The ledger's state, or the action in flight. */
  state: LedgerState;
  since: string;
  how?: string;
  health?: string;
  pinned: boolean;
  runtimePin?: boolean;
  cyclesToday: number;
  wake: { method: string; seconds: number; learned: boolean };
  park: { method: string; seconds: number; learned: boolean };
  problems?: string[];
  lastError?: { at: string; detail: string };
  backoffUntil?: string;
  energy: { kWh: number; alwaysOnKWh: number; savedKWh: number };
}

export interface PowerStatus {
  role: PowerRole;
  acting: boolean;
  vhid?: number;
  intervalSeconds: number;
  lastRound?: string;
  pools: { name: string; unit: string; measured: boolean; demand: number | null; slope?: number; committedCapacity?: number }[];
  hosts: PowerHostStatus[];
  decisions: { at: string; host: string; pool: string; action: 'wake' | 'park'; cause: string; reason: string }[];
  /** kWh since this daemon started (not persisted: the ledger is written only on change). */
  energy: EnergySummary;
  ledger: { path: string; writes: number; lastError?: string; ignored?: string };
}

export function poolStatus(name: string, unit: string, samples: readonly DemandSample[] | undefined, forecast: PoolForecast | undefined): PowerStatus['pools'][number] {
  return {
    name,
    unit,
    measured: samples !== undefined,
    demand: samples?.[samples.length - 1]?.value ?? null,
    ...(forecast ? { slope: forecast.slope, committedCapacity: forecast.committedCapacity } : {}),
  };
}

export function hostStatus(
  config: PowerHostConfig,
  entry: LedgerHost,
  view: {
    now: number;
    busy: 'wake' | 'park' | undefined;
    health: string | undefined;
    pinned: boolean;
    problems: string[];
    backoffUntil: number | undefined;
    account: { joules: number; alwaysOnJoules: number } | undefined;
  },
): PowerHostStatus {
  const joules = view.account?.joules ?? 0;
  const alwaysOn = view.account?.alwaysOnJoules ?? 0;
  return {
    name: config.name,
    pool: config.pool,
    address: config.address,
    state: view.busy === 'wake' ? 'waking' : view.busy === 'park' ? 'parking' : entry.state,
    since: new Date(entry.since).toISOString(),
    ...(entry.how !== undefined ? { how: entry.how } : {}),
    ...(view.health !== undefined ? { health: view.health } : {}),
    pinned: view.pinned,
    ...(entry.pin !== undefined ? { runtimePin: entry.pin } : {}),
    cyclesToday: cyclesToday(entry, view.now),
    wake: { method: config.wake.method, ...latencyOf(entry.latency, 'wake', config.wake.method, config.wake.seconds) },
    park: { method: config.park.method, ...latencyOf(entry.latency, 'park', config.park.method, config.park.seconds) },
    ...(view.problems.length > 0 ? { problems: view.problems } : {}),
    ...(entry.lastError ? { lastError: { at: new Date(entry.lastError.at).toISOString(), detail: entry.lastError.detail } } : {}),
    ...(view.backoffUntil !== undefined && view.backoffUntil > view.now ? { backoffUntil: new Date(view.backoffUntil).toISOString() } : {}),
    energy: { kWh: joules / JOULES_PER_KWH, alwaysOnKWh: alwaysOn / JOULES_PER_KWH, savedKWh: (alwaysOn - joules) / JOULES_PER_KWH },
  };
}

function kwh(n: number): string {
  return n >= 10 ? n.toFixed(1) : n.toFixed(3);
}

/** Text lines for `tandem power status`. */
export function formatPower(status: PowerStatus): string[] {
  const energy = status.energy;
  const lines = [
    `power: ${status.role}${status.vhid !== undefined ? ` (vhid ${status.vhid})` : ''}  every ${status.intervalSeconds} s  ` +
      `energy ${kwh(energy.kWh)} kWh, always-on ${kwh(energy.alwaysOnKWh)} kWh, saved ${kwh(energy.savedKWh)} kWh (${(energy.savedFraction * 100).toFixed(1)}%)`,
  ];
  for (const p of status.pools) {
    lines.push(`  pool ${p.name}: demand ${p.measured ? `${p.demand} ${p.unit}` : 'not measured'}` + (p.committedCapacity !== undefined ? `  committed capacity ${p.committedCapacity}` : ''));
  }
  for (const h of status.hosts) {
    const latency = `wake ${h.wake.method} ${h.wake.seconds.toFixed(1)} s${h.wake.learned ? ' (learned)' : ''}, park ${h.park.method} ${h.park.seconds.toFixed(1)} s${h.park.learned ? ' (learned)' : ''}`;
    lines.push(
      `  ${h.name} (${h.pool} ${h.address}): ${h.state} since ${h.since}${h.how ? ` by ${h.how}` : ''}  health ${h.health ?? '-'}` +
        `${h.pinned ? '  pinned' : ''}  cycles today ${h.cyclesToday}  ${latency}  ${kwh(h.energy.kWh)} kWh` +
        (h.lastError ? `  last error: ${h.lastError.detail}` : '') +
        (h.problems ? `  problems: ${h.problems.join('; ')}` : ''),
    );
  }
  for (const d of status.decisions.slice(-5)) lines.push(`  ${d.at} ${d.action} ${d.host} (${d.cause}): ${d.reason}`);
  return lines;
}
