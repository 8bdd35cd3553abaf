// The appliance's own power saving (issue 10, method `local`): the CPU frequency governor
// (Linux cpufreq sysfs, Documentation/admin-guide/pm/cpufreq.rst: cpuN/cpufreq/scaling_governor)
// set to powersave while parked or BACKUP and restored on MASTER, and disk standby with
// hdparm(8) (`-y` now, `-S N` spin-down timer). sysfs is a port rooted at a directory, so a
// tree in a temp dir stands in for /sys where this machine has no cpufreq. Managed Linux hosts
// save power the same way through their `ssh` park method (their forced command decides).

import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { optional, s, type ObjectOf, type StringRule } from '../config/kit.js';
import type { ProcessRunner } from '../os/process.js';
import type { CarpStateName, EventBus } from '../events.js';
import type { Logger } from '../log.js';
import type { DriverDeps, DriverHost, DriverResult, PowerDriver } from './driver.js';

/** The few sysfs operations cpufreq needs, on paths relative to the sysfs root. */
export interface Sysfs {
  /** Entry names of a directory; [] when it does not exist. */
  list(dir: string): Promise<string[]>;
  /** A file's content without the trailing newline; undefined when it does not exist. */
  read(path: string): Promise<string | undefined>;
  /** Writes a value; rejects with the errno (`code`) as the kernel gave it. */
  write(path: string, value: string): Promise<void>;
}

export class LinuxSysfs implements Sysfs {
  constructor(private readonly root = '/sys') {}
  async list(dir: string): Promise<string[]> {
    return readdir(join(this.root, dir)).catch(() => []);
  }
  async read(path: string): Promise<string | undefined> {
    return readFile(join(this.root, path), 'utf8').then((text) => text.replace(/\n$/, ''), () => undefined);
  }
  async write(path: string, value: string): Promise<void> {
    // As `echo powersave > scaling_governor` does (O_TRUNC is a no-op on sysfs; it cannot create).
    await writeFile(join(this.root, path), value + '\n');
  }
}

/** sysfs in memory; a governor write the CPU does not offer fails with EINVAL, as cpufreq does. */
export class FakeSysfs implements Sysfs {
  readonly files = new Map<string, string>();
  readonly writes: [string, string][] = [];
  constructor(files: Record<string, string> = {}) {
    for (const [path, value] of Object.entries(files)) this.files.set(path, value);
  }
  async list(dir: string): Promise<string[]> {
    const prefix = dir.endsWith('/') ? dir : `${dir}/`;
    const names = new Set<string>();
    for (const path of this.files.keys()) if (path.startsWith(prefix)) names.add(path.slice(prefix.length).split('/')[0]!);
    return [...names].sort();
  }
  async read(path: string): Promise<string | undefined> {
    return this.files.get(path);
  }
  async write(path: string, value: string): Promise<void> {
    if (!this.files.has(path)) throw Object.assign(new Error(`ENOENT: ${path}`), { code: 'ENOENT' });
    const available = this.files.get(path.replace(/scaling_governor$/, 'scaling_available_governors'));
    if (path.endsWith('scaling_governor') && available !== undefined && !available.split(/\s+/).includes(value)) {
      throw Object.assign(new Error(`EINVAL: ${path}`), { code: 'EINVAL' });
    }
    this.writes.push([path, value]);
    this.files.set(path, value);
  }
}

const CPU_DIR = 'devices/system/cpu';
const governorPath = (cpu: string) => `${CPU_DIR}/${cpu}/cpufreq/scaling_governor`;
const availablePath = (cpu: string) => `${CPU_DIR}/${cpu}/cpufreq/scaling_available_governors`;

/**
 * The governors of every CPU with cpufreq: `set` remembers each CPU's governor from before the
 * first change, so `restore` goes back to what the admin had, however often it was set since.
 */
export class CpuGovernors {
  private saved: Map<string, string> | undefined;
  constructor(private readonly sysfs: Sysfs) {}

  /** Each CPU's current governor (cpu0, cpu1, ...; CPUs without cpufreq are left out). */
  async read(): Promise<Map<string, string>> {
    const cpus = (await this.sysfs.list(CPU_DIR)).filter((name) => /^cpu\d+$/.test(name));
    cpus.sort((a, b) => Number(a.slice(3)) - Number(b.slice(3)));
    const out = new Map<string, string>();
    for (const cpu of cpus) {
      const governor = await this.sysfs.read(governorPath(cpu));
      if (governor !== undefined) out.set(cpu, governor);
    }
    return out;
  }

  async set(governor: string): Promise<DriverResult> {
    const current = await this.read();
    if (current.size === 0) return { ok: false, failure: 'unsupported', detail: `no CPU frequency scaling under ${CPU_DIR} (no cpufreq driver)` };
    for (const cpu of current.keys()) {
      const offered = (await this.sysfs.read(availablePath(cpu)))?.split(/\s+/).filter(Boolean);
      if (offered && !offered.includes(governor)) return { ok: false, failure: 'refused', detail: `${cpu} does not offer governor ${governor} (offers ${offered.join(', ')})` };
    }
    this.saved ??= current;
    return this.apply(new Map([...current.keys()].map((cpu) => [cpu, governor])), `governor ${governor}`);
  }

  /**
   * Back to the governors from before the first `set`. The memory does not survive a restart
   * (no flash writes for it), so after one `fallback`, when given, is set instead.
   */
  async restore(fallback?: string): Promise<DriverResult> {
    const saved = this.saved;
    if (!saved) {
      if (fallback === undefined) return { ok: true, detail: 'governors unchanged' };
      const current = await this.read();
      if (current.size === 0) return { ok: false, failure: 'unsupported', detail: `no CPU frequency scaling under ${CPU_DIR} (no cpufreq driver)` };
      return this.apply(new Map([...current.keys()].map((cpu) => [cpu, fallback])), `governor ${fallback}`);
    }
    const result = await this.apply(saved, `governors restored (${[...new Set(saved.values())].join(', ')})`);
    if (result.ok) this.saved = undefined;
    return result;
  }

  private async apply(wanted: Map<string, string>, what: string): Promise<DriverResult> {
    let changed = 0;
    for (const [cpu, governor] of wanted) {
      if ((await this.sysfs.read(governorPath(cpu))) === governor) continue;
      try {
        await this.sysfs.write(governorPath(cpu), governor);
        changed++;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code ?? (error as Error).message;
        return { ok: false, failure: code === 'EINVAL' ? 'refused' : 'misconfigured', detail: `${governorPath(cpu)}: cannot write ${governor} (${code})` };
      }
    }
    return { ok: true, detail: `${what} on ${wanted.size} CPU(s), ${changed} changed` };
  }
}

/** The governor a CARP role asks for: powersave while not MASTER, the admin's own on MASTER. */
export function governorForState(state: CarpStateName): 'powersave' | 'restore' {
  return state === 'MASTER' ? 'restore' : 'powersave';
}

/**
 * Keeps this router's governors in step with its CARP role for `vhid` (every vhid's when
 * absent): `governor` while BACKUP or INIT, the admin's own back on MASTER, so a standby router
 * idles cheaply and a new master serves at full speed. Changes run one at a time, in the order
 * of the transitions, so a quick BACKUP -> MASTER never ends in powersave. Returns the unsubscribe.
 */
export function followCarpRole(
  events: Pick<EventBus, 'on'>,
  governors: CpuGovernors,
  options: { vhid?: number; governor?: string; awakeGovernor?: string },
  log: Logger,
  done: (result: DriverResult, state: CarpStateName) => void = () => undefined,
): () => void {
  let chain: Promise<void> = Promise.resolve();
  return events.on((event) => {
    if (event.type !== 'carpTransition' || (options.vhid !== undefined && event.vhid !== options.vhid)) return;
    const state = event.to;
    chain = chain.then(async () => {
      const result = governorForState(state) === 'restore' ? await governors.restore(options.awakeGovernor) : await governors.set(options.governor ?? 'powersave');
      if (result.ok) log.info('cpu governor follows carp role', { vhid: event.vhid, state, detail: result.detail });
      // Without cpufreq there is nothing to save here, and nothing worth a warning per transition.
      else if (result.failure !== 'unsupported') log.warn('cpu governor change failed', { vhid: event.vhid, state, failure: result.failure, detail: result.detail });
      done(result, state);
    }).catch((error: unknown) => log.error('cpu governor change failed', { vhid: event.vhid, state, detail: (error as Error).message }));
  });
}

/** hdparm(8) on each disk: `-S N` (spin-down timer) when given, then `-y` (standby now). */
export async function disksStandby(processes: ProcessRunner, disks: readonly string[], spindown: number | undefined): Promise<DriverResult> {
  for (const disk of disks) {
    const steps: string[][] = [...(spindown === undefined ? [] : [['-S', String(spindown), disk]]), ['-y', disk]];
    for (const args of steps) {
      const result = await processes.run('hdparm', args, { timeoutMs: 30_000 });
      if (result.code === 0 && !result.timedOut) continue;
      const lastOf = (text: string) => text.split('\n').map((l) => l.trim()).filter(Boolean).pop();
      const said = lastOf(result.stderr) ?? lastOf(result.stdout) ?? `exit ${result.code}`;
      if (result.timedOut) return { ok: false, failure: 'unreachable', detail: `hdparm ${args.join(' ')}: no answer in 30 s` };
      if (result.code === null) return { ok: false, failure: 'misconfigured', detail: `cannot run hdparm: ${said}` };
      if (/No such file or directory/.test(said)) return { ok: false, failure: 'misconfigured', detail: `hdparm ${args.join(' ')}: ${said}` };
      return { ok: false, failure: 'refused', detail: `hdparm ${args.join(' ')}: ${said}` };
    }
  }
  return { ok: true, detail: disks.length === 0 ? 'no disks' : `${disks.join(', ')} in standby` };
}

const isGovernor: StringRule = (v) => (/^[a-z][a-z0-9_]{0,15}$/.test(v) ? undefined : 'must be a cpufreq governor name like powersave');
const isDevice: StringRule = (v) => (/^\/dev\/[A-Za-z0-9/_.-]+$/.test(v) ? undefined : 'must be a device path like /dev/sda');

export const localSettings = {
  governor: optional(s.string('a governor name', isGovernor).describe('CPU governor while parked (and while BACKUP); the previous one comes back on wake.'), 'powersave'),
  awakeGovernor: optional(
    s.string('a governor name', isGovernor).describe('Governor set on wake when the one from before the park is unknown (after a restart); default: left as it is.'),
  ),
  disks: optional(s.list(s.string('a device path', isDevice)).describe('Disks put in standby on park (hdparm -y).'), []),
  spindown: optional(s.int(0, 255).describe('hdparm -S value set on park (0 off; 1-240 in 5 s units; 241-251 in 30 min units).')),
};
export type LocalSettings = ObjectOf<typeof localSettings>;

/** Ports `local` needs beyond the common ones: sysfs (Linux: /sys). */
export interface LocalDeps extends DriverDeps {
  sysfs?: Sysfs;
}

export interface LocalDriver extends PowerDriver {
  /** The governor half alone, for the CARP role hook (powersave on BACKUP, restore on MASTER). */
  readonly governors: CpuGovernors;
}

/** Park = governor down and disks to standby; wake = the governors back. Acts on this machine. */
export function createLocal(settings: LocalSettings, deps: LocalDeps): LocalDriver {
  const governors = new CpuGovernors(deps.sysfs ?? new LinuxSysfs());
  return {
    method: 'local',
    governors,
    async park(_host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
      if (signal.aborted) return { ok: false, failure: 'unreachable', detail: 'aborted before parking' };
      const cpu = await governors.set(settings.governor ?? 'powersave');
      // A board without cpufreq may still have disks to stop; the governor is then no failure.
      if (!cpu.ok && cpu.failure !== 'unsupported') return cpu;
      const disks = await disksStandby(deps.processes, settings.disks ?? [], settings.spindown);
      if (!disks.ok) return disks;
      if (!cpu.ok && (settings.disks ?? []).length === 0) return cpu;
      return { ok: true, detail: `${cpu.ok ? cpu.detail : 'no cpufreq'}; ${disks.detail}` };
    },
    async wake(): Promise<DriverResult> {
      return governors.restore(settings.awakeGovernor);
    },
  };
}
