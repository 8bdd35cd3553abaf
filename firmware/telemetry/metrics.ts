// The metrics collector (issue 11 items 1-2): one sample of the node (CPU, memory, temperature,
// interfaces from proc.ts), of the daemon process and of the daemon's status() (CARP counters,
// pools, relays), shaped for the MQTT `metrics` topic by collect() and left raw for the
// Prometheus renderer by snapshot(). No I/O of its own: everything enters through ports.

import type { Status } from '../daemon.js';
import type { Clock } from '../os/clock.js';
import type { Inventory, InventoryOutcome, InventorySource } from './inventory.js';
import { cpuPercent, type CpuTimes, type InterfaceCounters, type SystemSample, type SystemSource, type ThermalZone } from './proc.js';

export interface ProcessSample {
  rssBytes: number;
  heapUsedBytes: number;
  heapTotalBytes: number;
  externalBytes: number;
  cpuUserSeconds: number;
  cpuSystemSeconds: number;
}

/** The daemon's own process; a fake returns fixed numbers. */
export interface ProcessSource {
  sample(): ProcessSample;
}

export const nodeProcess: ProcessSource = {
  sample() {
    // memoryUsage() reads /proc/self/statm: one small procfs read, microseconds, no disk.
    const m = process.memoryUsage();
    const c = process.cpuUsage();
    return {
      rssBytes: m.rss,
      heapUsedBytes: m.heapUsed,
      heapTotalBytes: m.heapTotal,
      externalBytes: m.external,
      cpuUserSeconds: c.user / 1e6,
      cpuSystemSeconds: c.system / 1e6,
    };
  },
};

/** Everything the Prometheus renderer needs, unshaped. */
export interface MetricsSnapshot {
  time: number;
  status: Status;
  system: SystemSample;
  process: ProcessSample;
}

/** The `metrics` topic's body (assignable to topics.ts MetricsPayload). */
export type NodeMetrics = {
  time: string;
  node: string;
  uptimeSeconds: number;
  cpu: { percent?: number; cores?: number; load?: [number, number, number] };
  memory?: { totalBytes: number; availableBytes: number; usedPercent: number };
  temperature: { maxCelsius?: number; zones: ThermalZone[] };
  interfaces: Record<string, InterfaceCounters>;
  process: { rssBytes: number; heapUsedBytes: number; cpuSeconds: number };
  carp: { vhid: number; interface: string; state: string; demote: number; sent: number; received: number; dropped: number }[];
  demotion: number;
  maintenance: boolean;
  /** Adverts dropped before a vhid matched, per interface and reason. */
  unmatched: Status['unmatched'];
  pools: { name: string; state: string; demote: number; hostsUp: number; hosts: number; connections: number; requestsPerSecond: number }[];
  /** The power manager's energy account since the daemon started, when `power` is configured. */
  energy?: { kWh: number; savedKWh: number; savedFraction: number; hostsParked: number; hosts: number };
  /** The MQTT publisher's own queue, from status().telemetry. */
  telemetry?: { connected: boolean; queued: number; dropped: number };
  inventory?: Inventory;
};

export interface MetricsPorts {
  clock: Clock;
  system: SystemSource;
  process: ProcessSource;
  status: () => Status;
  inventory?: InventorySource;
}

export class MetricsCollector {
  /** The CPU times of the previous collect(): its percent covers the time since then. */
  private lastCpu: CpuTimes | undefined;
  private inventoryResult: Inventory | undefined;

  constructor(private readonly ports: MetricsPorts) {}

  get inventory(): Inventory | undefined {
    return this.inventoryResult;
  }

  /** Runs the inventory worker (at start, and on demand); the metrics carry the latest answer. */
  async refreshInventory(): Promise<InventoryOutcome | undefined> {
    if (!this.ports.inventory) return undefined;
    const outcome = await this.ports.inventory.gather();
    if (outcome.ok) this.inventoryResult = outcome.inventory;
    return outcome;
  }

  /** Raw numbers for the Prometheus renderer; reads no state of collect()'s. */
  async snapshot(): Promise<MetricsSnapshot> {
    const system = await this.ports.system.sample();
    return { time: this.ports.clock.now(), status: this.ports.status(), system, process: this.ports.process.sample() };
  }

  /** The MQTT `metrics` payload; CPU percent since the previous collect() (the first: since boot). */
  async collect(): Promise<NodeMetrics> {
    const snap = await this.snapshot();
    const { system, status } = snap;
    const percent = system.cpu ? cpuPercent(this.lastCpu ?? zeroCpu(), system.cpu) : undefined;
    if (system.cpu) this.lastCpu = system.cpu;
    const memory = system.memory;
    const temps = system.thermal.map((z) => z.celsius);
    return {
      time: new Date(snap.time).toISOString(),
      node: status.node,
      uptimeSeconds: status.uptimeSeconds,
      cpu: {
        ...(percent !== undefined ? { percent } : {}),
        ...(system.cpuCount ? { cores: system.cpuCount } : {}),
        ...(system.load ? { load: system.load } : {}),
      },
      ...(memory
        ? {
            memory: {
              totalBytes: memory.totalBytes,
              availableBytes: memory.availableBytes,
              usedPercent: Math.round((1 - memory.availableBytes / memory.totalBytes) * 1000) / 10,
            },
          }
        : {}),
      temperature: { ...(temps.length ? { maxCelsius: Math.max(...temps) } : {}), zones: system.thermal },
      interfaces: system.interfaces,
      process: {
        rssBytes: snap.process.rssBytes,
        heapUsedBytes: snap.process.heapUsedBytes,
        cpuSeconds: Math.round((snap.process.cpuUserSeconds + snap.process.cpuSystemSeconds) * 1000) / 1000,
      },
      carp: status.carp.map((v) => {
        const { sent, received, ...drops } = v.counters;
        return {
          vhid: v.vhid,
          interface: v.interface,
          state: v.state,
          demote: v.demote,
          sent,
          received,
          dropped: Object.values(drops).reduce((a, b) => a + b, 0),
        };
      }),
      demotion: status.demotion.total,
      maintenance: status.maintenance,
      unmatched: status.unmatched,
      pools: status.pools.map((p) => ({
        name: p.name,
        state: p.state,
        demote: p.demote,
        hostsUp: p.hosts.filter((h) => h.health === 'up').length,
        hosts: p.hosts.length,
        connections: p.demand.connections,
        requestsPerSecond: p.demand.requestsPerSecond,
      })),
      ...(status.power
        ? {
            energy: {
              kWh: status.power.energy.kWh,
              savedKWh: status.power.energy.savedKWh,
              savedFraction: status.power.energy.savedFraction,
              hostsParked: status.power.hosts.filter((h) => h.state === 'parked').length,
              hosts: status.power.hosts.length,
            },
          }
        : {}),
      ...(status.telemetry
        ? {
            telemetry: {
              connected: status.telemetry.connection.state === 'connected',
              queued: status.telemetry.queue.pending,
              dropped: status.telemetry.queue.dropped,
            },
          }
        : {}),
      ...(this.inventoryResult ? { inventory: this.inventoryResult } : {}),
    };
  }
}

function zeroCpu(): CpuTimes {
  return { user: 0, nice: 0, system: 0, idle: 0, iowait: 0, irq: 0, softirq: 0, steal: 0 };
}
