// The Prometheus text exposition format, version 0.0.4 (prometheus.io/docs/instrumenting/
// exposition_formats; the Go library's expfmt rules): a pure renderer from a metrics snapshot
// to the `/metrics` body. METRICS is the one list of names, types, labels and HELP texts; the
// README's metric table is made from it.

import type { Rejection } from '../carp/codec.js';
import type { MetricsSnapshot } from './metrics.js';
import { CPU_MODES, INTERFACE_FILES } from './proc.js';

export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

export type MetricType = 'counter' | 'gauge';

export interface MetricFamily {
  type: MetricType;
  labels: readonly string[];
  help: string;
}

/** Every drop reason carp counts (OpenBSD's carps_bad*), one label value each. */
export const DROP_REASONS = ['short', 'badVersion', 'badType', 'badChecksum', 'badAuth', 'badTtl', 'badVhid', 'loop'] as const satisfies readonly Rejection[];

const CARP_STATE_CODES = { INIT: 0, BACKUP: 1, MASTER: 2 } as const;
const POOL_STATE_CODES: Record<string, number> = { unknown: 0, up: 1, degraded: 2, down: 3, empty: 4 };
const POWER_STATES = ['awake', 'parking', 'parked', 'waking'];
const JOULES_PER_KWH = 3.6e6;
const HOST_STATES = ['unknown', 'up', 'down', 'draining', 'parked', 'waking', 'maintenance'];

const VH = ['vhid', 'interface'] as const;
const HOST = ['pool', 'host'] as const;
const NIC_HELP: Record<string, string> = { rx: 'received', tx: 'transmitted' };

export const METRICS = {
  tandem_info: { type: 'gauge', labels: ['node', 'version'], help: 'Always 1; the node name and daemon version as labels.' },
  tandem_uptime_seconds: { type: 'gauge', labels: [], help: 'Seconds since the daemon started.' },
  tandem_maintenance: { type: 'gauge', labels: [], help: '1 while maintenance mode is on.' },
  tandem_demotion: { type: 'gauge', labels: [], help: 'Total CARP demotion of this node (admin, maintenance, links, pools).' },
  tandem_demotion_admin: { type: 'gauge', labels: [], help: 'Demotion set with `tandem demote`.' },
  tandem_carp_state: { type: 'gauge', labels: VH, help: 'CARP state: 0 INIT, 1 BACKUP, 2 MASTER.' },
  tandem_carp_advbase_seconds: { type: 'gauge', labels: VH, help: 'Configured advbase.' },
  tandem_carp_advskew: { type: 'gauge', labels: VH, help: 'Advskew in adverts now (1/256 s; 255 while bowing out).' },
  tandem_carp_demote: { type: 'gauge', labels: VH, help: 'Demote counter sent in this vhid\'s adverts.' },
  tandem_carp_adverts_sent_total: { type: 'counter', labels: VH, help: 'CARP adverts sent.' },
  tandem_carp_adverts_received_total: { type: 'counter', labels: VH, help: 'CARP adverts received and accepted.' },
  tandem_carp_drops_total: {
    type: 'counter',
    labels: [...VH, 'reason'],
    help: `CARP adverts dropped for this vhid, per reason (${DROP_REASONS.join(', ')}).`,
  },
  tandem_carp_unmatched_drops_total: {
    type: 'counter',
    labels: ['interface', 'reason'],
    help: 'CARP packets dropped on an interface before any configured vhid matched, per reason.',
  },
  tandem_pool_state: { type: 'gauge', labels: ['pool'], help: 'Pool state: 0 unknown, 1 up, 2 degraded, 3 down, 4 empty.' },
  tandem_pool_demote: { type: 'gauge', labels: ['pool'], help: 'What the pool adds to CARP demotion now.' },
  tandem_pool_hosts: { type: 'gauge', labels: ['pool', 'state'], help: `Hosts of the pool per state (${HOST_STATES.join(', ')}).` },
  tandem_host_up: { type: 'gauge', labels: HOST, help: '1 while the host passes its health check.' },
  tandem_host_rtt_seconds: { type: 'gauge', labels: HOST, help: 'Round-trip time of the host\'s last health check.' },
  tandem_host_checks_total: { type: 'counter', labels: HOST, help: 'Health checks run against the host.' },
  tandem_host_check_outcomes_total: { type: 'counter', labels: [...HOST, 'outcome'], help: 'Health check outcomes per outcome (ok, connect-refused, expect-fail, ...).' },
  tandem_host_connections: { type: 'gauge', labels: HOST, help: 'Relay connections open to the host.' },
  tandem_host_requests_per_second: { type: 'gauge', labels: HOST, help: 'Relay requests per second to the host.' },
  tandem_host_connect_failures_total: { type: 'counter', labels: HOST, help: 'Relay connects to the host that failed.' },
  tandem_relay_listening: { type: 'gauge', labels: ['pool'], help: '1 while the pool\'s relay listens.' },
  tandem_relay_clients: { type: 'gauge', labels: ['pool'], help: 'Client connections open on the relay.' },
  tandem_relay_accepted_total: { type: 'counter', labels: ['pool'], help: 'Client connections the relay accepted.' },
  tandem_relay_rejected_total: { type: 'counter', labels: ['pool'], help: 'Client connections reset at maxConnections.' },
  tandem_relay_no_host_total: { type: 'counter', labels: ['pool'], help: 'Client connections or requests no host could take.' },
  tandem_relay_requests_total: { type: 'counter', labels: ['pool'], help: 'HTTP requests the relay forwarded.' },
  tandem_telemetry_connected: { type: 'gauge', labels: [], help: '1 while connected to the MQTT broker.' },
  tandem_telemetry_queue_events: { type: 'gauge', labels: [], help: 'Events waiting in the telemetry queue.' },
  tandem_telemetry_queue_dropped_total: { type: 'counter', labels: [], help: 'Events dropped because the telemetry queue was full.' },
  tandem_telemetry_published_total: { type: 'counter', labels: ['kind'], help: 'Messages published to the broker (events, states, metrics).' },
  tandem_telemetry_commands_total: { type: 'counter', labels: ['outcome'], help: 'Remote commands per outcome (executed, or why refused: unsigned, badSignature, stale, replayed, ...).' },
  tandem_power_acting: { type: 'gauge', labels: [], help: '1 while this node\'s power manager parks and wakes hosts (standalone, or MASTER of its vhid).' },
  tandem_power_pool_demand: { type: 'gauge', labels: ['pool', 'unit'], help: 'Demand the power planner measured for the pool, in its unit.' },
  tandem_power_host_state: { type: 'gauge', labels: ['pool', 'host', 'state'], help: `1 for the managed host's power state (${POWER_STATES.join(', ')}), 0 for the others.` },
  tandem_power_host_cycles_today: { type: 'gauge', labels: ['pool', 'host'], help: 'Park/wake cycles of the host today.' },
  tandem_power_host_energy_joules_total: { type: 'counter', labels: ['pool', 'host'], help: 'Energy the host drew since the daemon started (modelled).' },
  tandem_power_host_saved_energy_joules_total: { type: 'counter', labels: ['pool', 'host'], help: 'Energy saved against the host always on, since the daemon started.' },
  tandem_power_energy_joules_total: { type: 'counter', labels: [], help: 'Energy all managed hosts drew since the daemon started.' },
  tandem_power_saved_energy_joules_total: { type: 'counter', labels: [], help: 'Energy saved against all managed hosts always on, since the daemon started.' },
  tandem_process_resident_memory_bytes: { type: 'gauge', labels: [], help: 'Resident set size of the daemon.' },
  tandem_process_heap_used_bytes: { type: 'gauge', labels: [], help: 'V8 heap in use.' },
  tandem_process_heap_total_bytes: { type: 'gauge', labels: [], help: 'V8 heap reserved.' },
  tandem_process_cpu_seconds_total: { type: 'counter', labels: ['mode'], help: 'CPU time of the daemon (user, system).' },
  tandem_node_cpus: { type: 'gauge', labels: [], help: 'CPUs the kernel lists in /proc/stat.' },
  tandem_node_cpu_seconds_total: { type: 'counter', labels: ['mode'], help: `CPU time of the node per mode (${CPU_MODES.join(', ')}), all CPUs.` },
  tandem_node_load1: { type: 'gauge', labels: [], help: '1-minute load average.' },
  tandem_node_load5: { type: 'gauge', labels: [], help: '5-minute load average.' },
  tandem_node_load15: { type: 'gauge', labels: [], help: '15-minute load average.' },
  tandem_node_memory_total_bytes: { type: 'gauge', labels: [], help: 'MemTotal.' },
  tandem_node_memory_available_bytes: { type: 'gauge', labels: [], help: 'MemAvailable: allocatable without swapping.' },
  tandem_node_memory_free_bytes: { type: 'gauge', labels: [], help: 'MemFree.' },
  tandem_node_temperature_celsius: { type: 'gauge', labels: ['zone', 'type'], help: 'Thermal zone temperature.' },
  ...nicFamilies(),
} as const satisfies Record<string, MetricFamily>;

export type MetricName = keyof typeof METRICS;

function nicFamilies(): Record<string, MetricFamily> {
  const out: Record<string, MetricFamily> = {};
  for (const [, file] of INTERFACE_FILES) {
    const [dir, what] = file.split('_') as [string, string];
    const name = `tandem_node_network_${dir === 'rx' ? 'receive' : 'transmit'}_${what}_total`;
    out[name] = { type: 'counter', labels: ['interface'], help: `${what} ${NIC_HELP[dir]} (sysfs statistics/${file}).` };
  }
  return out;
}

type Sample = [labels: Record<string, string | number>, value: number];

/** HELP text: backslash and newline escaped. */
export function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

/** A label value: backslash, double quote and newline escaped. */
export function escapeLabelValue(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** Go's ParseFloat spellings for the special values; integers print without an exponent up to 2^53. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

class Exposition {
  private readonly lines: string[] = [];

  add(name: string, samples: Sample[]): void {
    if (samples.length === 0) return;
    const family = (METRICS as Record<string, MetricFamily>)[name];
    if (!family) throw new Error(`undocumented metric ${name}`);
    this.lines.push(`# HELP ${name} ${escapeHelp(family.help)}`, `# TYPE ${name} ${family.type}`);
    for (const [labels, value] of samples) {
      const names = Object.keys(labels);
      // A label the table does not list would be undocumented; the order is the table's.
      if (names.length !== family.labels.length || names.some((n) => !family.labels.includes(n))) {
        throw new Error(`${name}: labels ${names.join(',')} differ from ${family.labels.join(',')}`);
      }
      const text = family.labels.map((n) => `${n}="${escapeLabelValue(String(labels[n]))}"`).join(',');
      this.lines.push(`${name}${text ? `{${text}}` : ''} ${formatValue(value)}`);
    }
  }

  one(name: string, value: number | undefined): void {
    if (value !== undefined) this.add(name, [[{}, value]]);
  }

  toString(): string {
    return this.lines.length ? this.lines.join('\n') + '\n' : '';
  }
}

export function renderPrometheus(snap: MetricsSnapshot): string {
  const out = new Exposition();
  const { status, system } = snap;
  out.add('tandem_info', [[{ node: status.node, version: status.version }, 1]]);
  out.one('tandem_uptime_seconds', status.uptimeSeconds);
  out.one('tandem_maintenance', status.maintenance ? 1 : 0);
  out.one('tandem_demotion', status.demotion.total);
  out.one('tandem_demotion_admin', status.demotion.admin);

  const vh = status.carp.map((v) => [{ vhid: v.vhid, interface: v.interface }, v] as const);
  out.add('tandem_carp_state', vh.map(([l, v]) => [l, CARP_STATE_CODES[v.state]]));
  out.add('tandem_carp_advbase_seconds', vh.map(([l, v]) => [l, v.advbase]));
  out.add('tandem_carp_advskew', vh.map(([l, v]) => [l, v.advskew]));
  out.add('tandem_carp_demote', vh.map(([l, v]) => [l, v.demote]));
  out.add('tandem_carp_adverts_sent_total', vh.map(([l, v]) => [l, v.counters.sent]));
  out.add('tandem_carp_adverts_received_total', vh.map(([l, v]) => [l, v.counters.received]));
  // Every reason, zeros included: a rate() over a series that appears only at its first drop misses that drop.
  out.add('tandem_carp_drops_total', vh.flatMap(([l, v]) => DROP_REASONS.map((reason): Sample => [{ ...l, reason }, v.counters[reason]])));
  out.add(
    'tandem_carp_unmatched_drops_total',
    Object.entries(status.unmatched).flatMap(([iface, counts]) => DROP_REASONS.map((reason): Sample => [{ interface: iface, reason }, counts[reason] ?? 0])),
  );

  const pools = status.pools;
  out.add('tandem_pool_state', pools.map((p) => [{ pool: p.name }, POOL_STATE_CODES[p.state] ?? 0]));
  out.add('tandem_pool_demote', pools.map((p) => [{ pool: p.name }, p.demote]));
  out.add(
    'tandem_pool_hosts',
    // The known states always (zeros included), and any state a newer balancer adds.
    pools.flatMap((p) =>
      [...new Set<string>([...HOST_STATES, ...p.hosts.map((h) => h.state)])].map((state): Sample => [{ pool: p.name, state }, p.hosts.filter((h) => h.state === state).length]),
    ),
  );
  const hosts = pools.flatMap((p) => p.hosts.map((h) => [{ pool: p.name, host: h.id }, h] as const));
  out.add('tandem_host_up', hosts.map(([l, h]) => [l, h.health === 'up' ? 1 : 0]));
  out.add('tandem_host_rtt_seconds', hosts.filter(([, h]) => h.rttMs !== undefined).map(([l, h]) => [l, h.rttMs! / 1000]));
  out.add('tandem_host_checks_total', hosts.map(([l, h]) => [l, h.checks]));
  out.add(
    'tandem_host_check_outcomes_total',
    hosts.flatMap(([l, h]) => Object.entries(h.outcomes).map(([outcome, n]): Sample => [{ ...l, outcome }, n ?? 0])),
  );
  out.add('tandem_host_connections', hosts.map(([l, h]) => [l, h.connections]));
  out.add('tandem_host_requests_per_second', hosts.map(([l, h]) => [l, h.requestsPerSecond]));
  out.add('tandem_host_connect_failures_total', hosts.map(([l, h]) => [l, h.connectFailures]));
  const relays = pools.filter((p) => p.relay).map((p) => [{ pool: p.name }, p.relay!] as const);
  out.add('tandem_relay_listening', relays.map(([l, r]) => [l, r.listening ? 1 : 0]));
  out.add('tandem_relay_clients', relays.map(([l, r]) => [l, r.clients]));
  out.add('tandem_relay_accepted_total', relays.map(([l, r]) => [l, r.accepted]));
  out.add('tandem_relay_rejected_total', relays.map(([l, r]) => [l, r.rejected]));
  out.add('tandem_relay_no_host_total', relays.map(([l, r]) => [l, r.noHost]));
  out.add('tandem_relay_requests_total', relays.map(([l, r]) => [l, r.requests]));

  const telemetry = status.telemetry;
  if (telemetry) {
    out.one('tandem_telemetry_connected', telemetry.connection.state === 'connected' ? 1 : 0);
    out.one('tandem_telemetry_queue_events', telemetry.queue.pending);
    out.one('tandem_telemetry_queue_dropped_total', telemetry.queue.dropped);
    out.add('tandem_telemetry_published_total', Object.entries(telemetry.published).map(([kind, n]): Sample => [{ kind }, n]));
    out.add('tandem_telemetry_commands_total', Object.entries(telemetry.commands ?? {}).map(([outcome, n]): Sample => [{ outcome }, n]));
  }

  const power = status.power;
  if (power) {
    out.one('tandem_power_acting', power.acting ? 1 : 0);
    out.add('tandem_power_pool_demand', power.pools.filter((p) => p.demand !== null).map((p): Sample => [{ pool: p.name, unit: p.unit }, p.demand!]));
    const managed = power.hosts.map((h) => [{ pool: h.pool, host: h.name }, h] as const);
    out.add(
      'tandem_power_host_state',
      managed.flatMap(([l, h]) => [...new Set<string>([...POWER_STATES, h.state])].map((state): Sample => [{ ...l, state }, h.state === state ? 1 : 0])),
    );
    out.add('tandem_power_host_cycles_today', managed.map(([l, h]) => [l, h.cyclesToday]));
    out.add('tandem_power_host_energy_joules_total', managed.map(([l, h]) => [l, h.energy.kWh * JOULES_PER_KWH]));
    out.add('tandem_power_host_saved_energy_joules_total', managed.map(([l, h]) => [l, h.energy.savedKWh * JOULES_PER_KWH]));
    out.one('tandem_power_energy_joules_total', power.energy.kWh * JOULES_PER_KWH);
    out.one('tandem_power_saved_energy_joules_total', power.energy.savedKWh * JOULES_PER_KWH);
  }

  const proc = snap.process;
  out.one('tandem_process_resident_memory_bytes', proc.rssBytes);
  out.one('tandem_process_heap_used_bytes', proc.heapUsedBytes);
  out.one('tandem_process_heap_total_bytes', proc.heapTotalBytes);
  out.add('tandem_process_cpu_seconds_total', [
    [{ mode: 'user' }, proc.cpuUserSeconds],
    [{ mode: 'system' }, proc.cpuSystemSeconds],
  ]);

  out.one('tandem_node_cpus', system.cpuCount || undefined);
  const cpu = system.cpu;
  if (cpu) out.add('tandem_node_cpu_seconds_total', CPU_MODES.map((mode): Sample => [{ mode }, cpu[mode]]));
  out.one('tandem_node_load1', system.load?.[0]);
  out.one('tandem_node_load5', system.load?.[1]);
  out.one('tandem_node_load15', system.load?.[2]);
  out.one('tandem_node_memory_total_bytes', system.memory?.totalBytes);
  out.one('tandem_node_memory_available_bytes', system.memory?.availableBytes);
  out.one('tandem_node_memory_free_bytes', system.memory?.freeBytes);
  out.add('tandem_node_temperature_celsius', system.thermal.map((z) => [{ zone: z.zone, type: z.type }, z.celsius]));
  const nics = Object.entries(system.interfaces);
  for (const [key, file] of INTERFACE_FILES) {
    const [dir, what] = file.split('_') as [string, string];
    out.add(`tandem_node_network_${dir === 'rx' ? 'receive' : 'transmit'}_${what}_total`, nics.map(([iface, c]) => [{ interface: iface }, c[key]]));
  }
  return out.toString();
}

/** The README's metric table, from METRICS. */
export function metricsReference(): string {
  const rows = Object.entries(METRICS as Record<string, MetricFamily>).map(
    ([name, f]) => `| \`${name}\` | ${f.type} | ${f.labels.map((l) => `\`${l}\``).join(', ')} | ${f.help.replace(/\|/g, '\\|')} |`,
  );
  return ['| metric | type | labels | meaning |', '| --- | --- | --- | --- |', ...rows].join('\n');
}

const TABLE_START = '<!-- prometheus-metrics:start (generated by `npm run docs`; do not edit) -->';
const TABLE_END = '<!-- prometheus-metrics:end -->';

/** The README with its metric table regenerated between the markers. */
export function withMetricsTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error('README.md has no prometheus-metrics markers');
  return `${readme.slice(0, start + TABLE_START.length)}\n${metricsReference()}\n${readme.slice(end)}`;
}
