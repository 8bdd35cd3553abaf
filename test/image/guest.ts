// What the image tests do with a booted Tandem guest: its /cfg/tandem.yaml for a lab node
// (contract 9's `network` section plus CARP and the web UI), its status over the serial shell,
// and boots of several guests in parallel. Lab addresses only (198.51.100.0/24).

import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import type { Lab } from '../netns/lab.js';
import { prepareDisk, type Build, type CfgSeed, Vm } from './harness.js';

const exec = promisify(execFile);

export const VIP = '198.51.100.100';
/** The console line init prints once the daemon answers: where the web UI is (contract 7), or that it has no address yet. */
export const WEB_UI_LINE = /Tandem web UI: ([^\n]+)\n/; // whole line: the console is matched as it streams in
/** Boot budget for one TCG guest while others share the two cores. */
export const BOOT_MS = 240_000;

/** The daemon's PID: the process whose command line runs the bundle with `run` (grep's own line has `(` there, so it never matches itself). */
// The init runs /usr/bin/tandem (a symlink to the bundle), so the command line names either.
export const DAEMON_PID = `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -qE 'tandem(\\.mjs)? run ' && echo \${p#/proc/}; done; true`;

export interface GuestConfig {
  name: string;
  /** This node's own address on eth0, e.g. 198.51.100.21/24. */
  address: string;
  /** CARP vhid 42 with the VIP; advskew orders the pair. */
  carp?: { advskew: number };
  users?: { name: string; passwordHash: string }[];
  /** More top-level sections, merged in. */
  extra?: Record<string, unknown>;
}

/** /cfg/tandem.yaml for a lab node, state on /cfg as the image's template has it. */
export function guestConfig(g: GuestConfig): string {
  const config: Record<string, unknown> = {
    node: { name: g.name, stateDir: '/cfg/tandem' },
    network: { hostname: g.name, interfaces: [{ name: 'eth0', addresses: [g.address] }] },
    ...(g.carp
      ? { carp: [{ vhid: 42, interface: 'eth0', addresses: [`${VIP}/24`], password: 'image-lab', advbase: 1, advskew: g.carp.advskew }] }
      : {}),
    // Every address, so the web UI follows the VIP to whichever node is MASTER.
    ...(g.users ? { api: { listen: ['0.0.0.0:443'], users: g.users } } : {}),
    ...g.extra,
  };
  return stringify(config);
}

export interface GuestSpec {
  name: string;
  cfg: CfgSeed;
  /** More qemu arguments (extra disks). */
  extraArgs?: string[];
}

/** Prepares each guest's disk and powers them all on at once (they boot in parallel). */
export async function bootGuests(build: Build, lab: Lab, workdir: string, specs: GuestSpec[]): Promise<Vm[]> {
  const vms: Vm[] = [];
  for (const spec of specs) {
    const dir = join(workdir, spec.name);
    const disk = await prepareDisk(build, dir, spec.cfg);
    vms.push(await Vm.create({ name: spec.name, lab, dir, arch: build.arch, disk, userspace: WEB_UI_LINE, extraArgs: spec.extraArgs }));
  }
  for (const vm of vms) vm.start();
  return vms;
}

export interface GuestStatus {
  node: string;
  version: string;
  carp: { vhid: number; state: 'INIT' | 'BACKUP' | 'MASTER' }[];
  [key: string]: unknown;
}

/** `tandem status --json` on the guest, over its serial shell. */
export async function guestStatus(vm: Vm, timeoutMs = 30_000): Promise<GuestStatus> {
  return JSON.parse(await vm.ok('tandem status --json', timeoutMs)) as GuestStatus;
}

/** Polls the guest's status until `pick` returns a value. */
export async function untilStatus<T>(vm: Vm, what: string, pick: (s: GuestStatus) => T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = pick(await guestStatus(vm));
      if (value !== undefined) return value;
      last = undefined;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${vm.options.name}: timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

/** curl in a lab host; never throws: the exit code says how it went. */
export async function curl(lab: Lab, host: number, args: string[], timeoutSeconds = 5): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec('ip', ['netns', 'exec', lab.host(host).netns, 'curl', '-sS', '--max-time', String(timeoutSeconds), ...args],
      { timeout: (timeoutSeconds + 5) * 1000 });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

/** Logs in over HTTPS (self-signed: -k) and reads /api/status; the cookie jar is per call. */
export async function webStatus(lab: Lab, host: number, base: string, user: { name: string; password: string }, jar: string): Promise<GuestStatus> {
  const login = await curl(lab, host, ['-k', '-c', jar, '-H', 'content-type: application/json',
    '-d', JSON.stringify({ user: user.name, password: user.password }), '-w', '\n%{http_code}', `${base}/api/login`], 10);
  const code = login.stdout.trim().split('\n').at(-1);
  if (login.code !== 0 || code !== '200') throw new Error(`login at ${base}: curl ${login.code}, HTTP ${code}: ${login.stdout} ${login.stderr}`);
  const status = await curl(lab, host, ['-k', '-b', jar, '--fail', `${base}/api/status`], 10);
  if (status.code !== 0) throw new Error(`${base}/api/status: curl ${status.code}: ${status.stderr}`);
  return JSON.parse(status.stdout) as GuestStatus;
}
