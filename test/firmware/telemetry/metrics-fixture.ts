// A daemon status() with one vhost, unmatched drops, a relay pool and telemetry, and a system
// sample, for the metrics and Prometheus tests. Typed against the real Status, so a change to
// the status shape breaks the fixture at compile time instead of passing silently.

import type { Status } from '../../../firmware/daemon.js';
import type { HostStatus, PoolStatus } from '../../../firmware/balancer/service.js';
import type { PowerHostStatus, PowerStatus } from '../../../firmware/power/status.js';
import type { SystemSample } from '../../../firmware/telemetry/proc.js';
import type { MetricsSnapshot, ProcessSample } from '../../../firmware/telemetry/metrics.js';

const SINCE = '2026-11-22T10:00:00.000Z';

function host(id: string, more: Partial<HostStatus> = {}): HostStatus {
  return {
    id,
    address: id,
    port: 8080,
    weight: 1,
    state: 'up',
    health: 'up',
    mode: 'active',
    power: 'awake',
    since: SINCE,
    checks: 12,
    outcomes: { ok: 11, 'connect-refused': 1 },
    lastOutcome: 'ok',
    rttMs: 1.5,
    connections: 3,
    requestsPerSecond: 4.5,
    connectFailures: 1,
    ...more,
  };
}

export function poolFixture(name = 'web', hosts: HostStatus[] = [host('198.51.100.21'), host('198.51.100.22', { state: 'down', health: 'down', rttMs: undefined, connections: 0, requestsPerSecond: 0 })]): PoolStatus {
  return {
    name,
    state: 'degraded',
    since: SINCE,
    check: { type: 'tcp', intervalSeconds: 5, timeoutSeconds: 2, downAfter: 3, upAfter: 2 },
    rounds: 12,
    demote: 0,
    relay: { listen: '198.51.100.100:80', mode: 'http', algorithm: 'roundrobin', listening: true, clients: 3, accepted: 40, rejected: 1, noHost: 2, connectFailures: 1, requests: 90 },
    demand: { measured: true, connections: 3, requestsPerSecond: 4.5 },
    hosts,
  };
}

function powerHost(name: string, state: PowerHostStatus['state'], kWh: number, alwaysOnKWh: number): PowerHostStatus {
  return {
    name,
    pool: 'web',
    address: '198.51.100.22',
    state,
    since: SINCE,
    pinned: false,
    cyclesToday: 2,
    wake: { method: 'wol', seconds: 120, learned: true },
    park: { method: 'ssh', seconds: 30, learned: false },
    energy: { kWh, alwaysOnKWh, savedKWh: alwaysOnKWh - kWh },
  };
}

export function powerFixture(): PowerStatus {
  return {
    role: 'master',
    acting: true,
    vhid: 42,
    intervalSeconds: 30,
    pools: [{ name: 'web', unit: 'connections', measured: true, demand: 3 }, { name: 'idle', unit: 'rps', measured: false, demand: null }],
    hosts: [powerHost('web-2', 'parked', 0.5, 2), powerHost('web-3', 'awake', 2, 2)],
    decisions: [],
    energy: { hours: 10, kWh: 2.5, alwaysOnKWh: 4, savedKWh: 1.5, savedFraction: 0.375, hosts: [] },
    ledger: { path: '/var/lib/tandem/power.json', writes: 3 },
  };
}

export function statusFixture(more: Partial<Status> = {}): Status {
  return {
    node: 'fw-a',
    version: '0.1.0',
    uptimeSeconds: 12.5,
    maintenance: false,
    demotion: { total: 50, admin: 50, maintenance: false, linksDown: [], external: {} },
    carp: [
      {
        vhid: 42,
        interface: 'eth0',
        state: 'MASTER',
        advbase: 1,
        advskew: 0,
        demote: 50,
        addresses: ['198.51.100.100/24'],
        since: SINCE,
        counters: { sent: 10, received: 9, short: 1, badVersion: 0, badType: 0, badChecksum: 2, badAuth: 3, badTtl: 0, badVhid: 0, loop: 0 },
      },
    ],
    unmatched: { eth1: { badVhid: 7 } },
    pools: [poolFixture()],
    memory: { rssBytes: 60 * 1024 ** 2, heapUsedBytes: 20 * 1024 ** 2 },
    telemetry: {
      connection: { state: 'connected', url: 'mqtt://127.0.0.1:1883', since: SINCE, protocolVersion: 5 },
      queue: { pending: 4, maxEvents: 1000, dropped: 2, lastSeq: 99 },
      published: { events: 95, states: 6, metrics: 3 },
      commands: { executed: 3, unsigned: 1, badSignature: 0, stale: 2, replayed: 1, malformed: 0, unknownAction: 0, failed: 0 },
    },
    power: powerFixture(),
    ...more,
  };
}

export function systemFixture(idle = 900, busy = 100): SystemSample {
  return {
    cpu: { user: busy, nice: 0, system: 0, idle, iowait: 0, irq: 0, softirq: 0, steal: 0 },
    cpuCount: 2,
    memory: { totalBytes: 1024 ** 3, freeBytes: 256 * 1024 ** 2, availableBytes: 512 * 1024 ** 2, buffersBytes: 0, cachedBytes: 0, swapTotalBytes: 0, swapFreeBytes: 0 },
    load: [0.5, 0.25, 0.125],
    interfaces: {
      eth0: { rxBytes: 1000, txBytes: 2000, rxPackets: 10, txPackets: 20, rxErrors: 0, txErrors: 1, rxDropped: 2, txDropped: 0 },
    },
    thermal: [{ zone: 'thermal_zone0', type: 'acpitz', celsius: 47.5 }],
  };
}

export const processFixture: ProcessSample = {
  rssBytes: 60 * 1024 ** 2,
  heapUsedBytes: 20 * 1024 ** 2,
  heapTotalBytes: 30 * 1024 ** 2,
  externalBytes: 1024 ** 2,
  cpuUserSeconds: 1.25,
  cpuSystemSeconds: 0.5,
};

export function snapshotFixture(more: Partial<MetricsSnapshot> = {}): MetricsSnapshot {
  return { time: Date.UTC(2026, 10, 22, 10, 0, 0), status: statusFixture(), system: systemFixture(), process: processFixture, ...more };
}
