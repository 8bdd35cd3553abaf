// System counters read straight from procfs and sysfs (proc(5): /proc/stat, /proc/meminfo,
// /proc/loadavg; sysfs-class-net: statistics/*; sysfs thermal: thermal_zone*/temp), with
// fs/promises only, so a sample never blocks the event loop that times CARP's adverts.
// The reader takes a root directory: a temp tree shaped like / is its fake.

import { readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';

/** Aggregate CPU time in seconds per mode, from the `cpu` line of /proc/stat (USER_HZ ticks). */
export interface CpuTimes {
  user: number;
  nice: number;
  system: number;
  idle: number;
  iowait: number;
  irq: number;
  softirq: number;
  steal: number;
}

export const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const satisfies readonly (keyof CpuTimes)[];

export interface MemoryInfo {
  totalBytes: number;
  freeBytes: number;
  /** MemAvailable: what can be allocated without swapping (kernel's own estimate). */
  availableBytes: number;
  buffersBytes: number;
  cachedBytes: number;
  swapTotalBytes: number;
  swapFreeBytes: number;
}

/** The names are the statistics files' (rx_bytes → rxBytes); counters since the link appeared. */
export interface InterfaceCounters {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxErrors: number;
  txErrors: number;
  rxDropped: number;
  txDropped: number;
}

export const INTERFACE_FILES: readonly [keyof InterfaceCounters, string][] = [
  ['rxBytes', 'rx_bytes'],
  ['txBytes', 'tx_bytes'],
  ['rxPackets', 'rx_packets'],
  ['txPackets', 'tx_packets'],
  ['rxErrors', 'rx_errors'],
  ['txErrors', 'tx_errors'],
  ['rxDropped', 'rx_dropped'],
  ['txDropped', 'tx_dropped'],
];

export interface ThermalZone {
  zone: string;
  /** The zone's `type` file (x86_pkg_temp, acpitz, cpu-thermal, ...). */
  type: string;
  celsius: number;
}

/** One sample; a part the machine does not offer (no thermal zones in a VM) is absent or empty. */
export interface SystemSample {
  cpu?: CpuTimes;
  cpuCount?: number;
  memory?: MemoryInfo;
  load?: [number, number, number];
  interfaces: Record<string, InterfaceCounters>;
  thermal: ThermalZone[];
}

/** The port: where system samples come from. */
export interface SystemSource {
  sample(): Promise<SystemSample>;
}

// proc(5): the `cpu` line's fields are in USER_HZ, which is 100 on every Linux ABI Tandem runs on.
const USER_HZ = 100;

export function parseProcStat(text: string): { cpu: CpuTimes; cpuCount: number } | undefined {
  let cpu: CpuTimes | undefined;
  let cpuCount = 0;
  for (const line of text.split('\n')) {
    if (line.startsWith('cpu ')) {
      const f = line.trim().split(/\s+/).slice(1).map(Number);
      if (f.length < 4 || f.some((n) => !Number.isFinite(n))) return undefined;
      const at = (i: number) => (f[i] ?? 0) / USER_HZ;
      cpu = { user: at(0), nice: at(1), system: at(2), idle: at(3), iowait: at(4), irq: at(5), softirq: at(6), steal: at(7) };
    } else if (/^cpu\d+ /.test(line)) {
      cpuCount++;
    }
  }
  return cpu ? { cpu, cpuCount } : undefined;
}

export function parseMeminfo(text: string): MemoryInfo | undefined {
  const kib = new Map<string, number>();
  for (const line of text.split('\n')) {
    const m = /^(\w+(?:\(\w+\))?):\s+(\d+)(?: kB)?$/.exec(line.trim());
    if (m) kib.set(m[1]!, Number(m[2]) * 1024);
  }
  const total = kib.get('MemTotal');
  const free = kib.get('MemFree');
  if (total === undefined || free === undefined) return undefined;
  return {
    totalBytes: total,
    freeBytes: free,
    // Kernels before 3.14 lack MemAvailable: free + buffers + cached is the old approximation.
    availableBytes: kib.get('MemAvailable') ?? free + (kib.get('Buffers') ?? 0) + (kib.get('Cached') ?? 0),
    buffersBytes: kib.get('Buffers') ?? 0,
    cachedBytes: kib.get('Cached') ?? 0,
    swapTotalBytes: kib.get('SwapTotal') ?? 0,
    swapFreeBytes: kib.get('SwapFree') ?? 0,
  };
}

export function parseLoadavg(text: string): [number, number, number] | undefined {
  const f = text.trim().split(/\s+/).slice(0, 3).map(Number);
  if (f.length < 3 || f.some((n) => !Number.isFinite(n))) return undefined;
  return [f[0]!, f[1]!, f[2]!];
}

/** Busy share of CPU time between two samples, 0..100; undefined when no time passed. */
export function cpuPercent(before: CpuTimes, after: CpuTimes): number | undefined {
  const sum = (t: CpuTimes) => CPU_MODES.reduce((acc, mode) => acc + t[mode], 0);
  const total = sum(after) - sum(before);
  // iowait is idle time spent waiting: the kernel's own "busy" (as top(1)) leaves it out.
  const idle = after.idle + after.iowait - (before.idle + before.iowait);
  if (!(total > 0)) return undefined;
  return Math.min(100, Math.max(0, Math.round(((total - idle) / total) * 1000) / 10));
}

async function readText(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch {
    return undefined;
  }
}

async function readNumber(path: string): Promise<number | undefined> {
  const text = await readText(path);
  if (text === undefined) return undefined;
  const n = Number(text.trim());
  return text.trim() !== '' && Number.isFinite(n) ? n : undefined;
}

async function list(path: string): Promise<string[]> {
  try {
    return (await readdir(path)).sort();
  } catch {
    return [];
  }
}

/** The Linux adapter; `root` is `/` on the router and a temp tree in tests. */
export class ProcSysSource implements SystemSource {
  constructor(private readonly root = '/') {}

  async sample(): Promise<SystemSample> {
    const [stat, meminfo, loadavg, interfaces, thermal] = await Promise.all([
      readText(join(this.root, 'proc/stat')),
      readText(join(this.root, 'proc/meminfo')),
      readText(join(this.root, 'proc/loadavg')),
      this.interfaces(),
      this.thermal(),
    ]);
    const parsedStat = stat === undefined ? undefined : parseProcStat(stat);
    const memory = meminfo === undefined ? undefined : parseMeminfo(meminfo);
    const load = loadavg === undefined ? undefined : parseLoadavg(loadavg);
    return {
      ...(parsedStat ? { cpu: parsedStat.cpu, cpuCount: parsedStat.cpuCount } : {}),
      ...(memory ? { memory } : {}),
      ...(load ? { load } : {}),
      interfaces,
      thermal,
    };
  }

  private async interfaces(): Promise<Record<string, InterfaceCounters>> {
    const base = join(this.root, 'sys/class/net');
    const names = await list(base);
    const entries = await Promise.all(
      names.map(async (name) => {
        const values = await Promise.all(INTERFACE_FILES.map(([, file]) => readNumber(join(base, name, 'statistics', file))));
        // A name without statistics (bonding_masters is a file in that directory) is not a link.
        if (values.every((v) => v === undefined)) return undefined;
        const counters = Object.fromEntries(INTERFACE_FILES.map(([key], i) => [key, values[i] ?? 0])) as unknown as InterfaceCounters;
        return [name, counters] as const;
      }),
    );
    return Object.fromEntries(entries.filter((e) => e !== undefined));
  }

  private async thermal(): Promise<ThermalZone[]> {
    const base = join(this.root, 'sys/class/thermal');
    const zones = (await list(base)).filter((name) => /^thermal_zone\d+$/.test(name));
    const read = await Promise.all(
      zones.map(async (zone) => {
        // Some zones answer EINVAL/ENODATA while their sensor sleeps: skip them this round.
        const milli = await readNumber(join(base, zone, 'temp'));
        if (milli === undefined) return undefined;
        const type = (await readText(join(base, zone, 'type')))?.trim() || zone;
        return { zone, type, celsius: milli / 1000 };
      }),
    );
    // Zones sort as text (thermal_zone10 before thermal_zone2): order them by number.
    return read.filter((z) => z !== undefined).sort((a, b) => Number(a.zone.slice(12)) - Number(b.zone.slice(12)));
  }
}
