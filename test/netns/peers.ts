// Real daemons inside lab hosts: Tandem (the built bundle, as it ships) and Debian's ucarp.
// Each gets its own files under a temp directory; the lab ends the processes it spawned.

import type { ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sendControl } from '../../firmware/control/client.js';
import type { ControlRequest } from '../../firmware/control/protocol.js';
import type { Status } from '../../firmware/daemon.js';
import { afterEach, beforeEach } from 'node:test';
import { Lab, eventually, type HostRef } from './lab.js';

export const BUNDLE = fileURLToPath(new URL('../../dist/tandem.mjs', import.meta.url));

/**
 * How the bundle's shebang runs it (`#!/usr/bin/env -S node FLAGS`): node's arguments, then the
 * bundle. A daemon started with an explicit runtime gets the same flags as `tandem run`.
 */
export function bundleCommand(): string[] {
  const shebang = readFileSync(BUNDLE, 'utf8').slice(0, 200).split('\n', 1)[0]!;
  const words = shebang.replace(/^#!\s*/, '').split(/\s+/).filter(Boolean);
  const node = words.findIndex((word) => word === 'node' || word.endsWith('/node'));
  return [...words.slice(node + 1), BUNDLE];
}

export class Workdir {
  private constructor(readonly path: string) {}
  static async create(): Promise<Workdir> {
    return new Workdir(await mkdtemp(join(tmpdir(), 'tandem-netns-')));
  }
  file(name: string): string {
    return join(this.path, name);
  }
  async dispose(): Promise<void> {
    await rm(this.path, { recursive: true, force: true });
  }
}

export interface VhostOptions {
  vhid?: number;
  addresses?: string[];
  password?: string;
  advbase?: number;
  advskew?: number;
  preempt?: boolean;
  peer?: string;
  mac?: 'real' | 'virtual';
  track?: { interfaces: string[] };
}

/** A `tandem run` process in a lab host, reached through its control socket. */
export class DaemonProcess {
  output = '';
  readonly exited: Promise<number | null>;

  protected constructor(
    readonly name: string,
    readonly child: ChildProcess,
    readonly socket: string,
  ) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Writes `config` as JSON in `dir`, starts the bundle on it in `host` and waits until it answers. */
  protected static async launch<T extends DaemonProcess>(
    lab: Lab,
    host: HostRef,
    dir: string,
    config: Record<string, unknown>,
    socket: string,
    make: (child: ChildProcess, configPath: string) => T,
    runtime: string = process.execPath,
  ): Promise<T> {
    const path = join(dir, 'tandem.json');
    await writeFile(path, JSON.stringify(config, null, 2));
    const child = lab.spawn(host, runtime, [...bundleCommand(), 'run', '--config', path]);
    const daemon = make(child, path);
    await eventually(`${daemon.name} to answer on its control socket`, async () => {
      if (child.exitCode !== null) throw new Error(`${daemon.name} exited: ${daemon.output}`);
      return (await daemon.status()).node;
    }, 10_000);
    return daemon;
  }

  async control(request: ControlRequest): Promise<unknown> {
    const reply = await sendControl(this.socket, request, 2000);
    if (!reply.ok) throw new Error(reply.error);
    return reply.result;
  }

  async status(): Promise<Status> {
    return (await this.control({ cmd: 'status' })) as Status;
  }

  kill9(): void {
    this.child.kill('SIGKILL');
  }

  async terminate(): Promise<number | null> {
    this.child.kill('SIGTERM');
    return this.exited;
  }
}

export class TandemNode extends DaemonProcess {
  private constructor(name: string, child: ChildProcess, socket: string, readonly hookLog: string) {
    super(name, child, socket);
  }

  /** Starts `tandem run` in the lab host with one or more vhosts; resolves once it answers. */
  static async start(
    lab: Lab,
    host: HostRef,
    work: Workdir,
    vhosts: VhostOptions[],
    name = `fw-${lab.host(host).name}`,
    runtime: string = process.execPath,
    nodeSettings: Record<string, unknown> = {},
  ): Promise<TandemNode> {
    const dir = work.file(name);
    await mkdir(dir, { recursive: true });
    const hook = join(dir, 'hook.sh');
    const hookLog = join(dir, 'hooks.log');
    await writeFile(hook, `#!/bin/sh\necho "$1 $2 $3" >> ${hookLog}\n`);
    await chmod(hook, 0o755);
    const config = {
      node: { name, stateDir: join(dir, 'state'), ...nodeSettings },
      control: { socket: join(dir, 'control.sock') },
      log: { level: 'debug' },
      carp: vhosts.map((v) => ({
        vhid: v.vhid ?? 42,
        interface: 'eth0',
        addresses: v.addresses ?? ['198.51.100.100/24'],
        password: v.password ?? 'labsecret',
        advbase: v.advbase ?? 1,
        advskew: v.advskew ?? 0,
        preempt: v.preempt ?? false,
        ...(v.peer ? { peer: v.peer } : {}),
        ...(v.mac ? { mac: v.mac } : {}),
        ...(v.track ? { track: v.track } : {}),
      })),
      hooks: { master: hook, backup: hook, init: hook },
    };
    const socket = config.control.socket;
    return DaemonProcess.launch(lab, host, dir, config, socket, (child) => new TandemNode(name, child, socket, hookLog), runtime);
  }

  async state(vhid = 42): Promise<string | undefined> {
    return (await this.status()).carp.find((v) => v.vhid === vhid)?.state;
  }

  /** Waits until vhid is in `state`; returns the wall-clock time it got there (status `since`). */
  async waitFor(state: 'MASTER' | 'BACKUP' | 'INIT', vhid = 42, timeoutMs = 8000): Promise<number> {
    return eventually(`${this.name} vhid ${vhid} to be ${state}`, async () => {
      const v = (await this.status()).carp.find((c) => c.vhid === vhid);
      return v?.state === state ? Date.parse(v.since) : undefined;
    }, timeoutMs);
  }

  async hooks(): Promise<string[]> {
    const text = await readFile(this.hookLog, 'utf8').catch(() => '');
    return text.split('\n').filter(Boolean);
  }

}

export interface UcarpOptions {
  vhid?: number;
  address?: string;
  password?: string;
  advbase?: number;
  advskew?: number;
  preempt?: boolean;
}

export class UcarpNode {
  output = '';

  private constructor(readonly child: ChildProcess, readonly events: string) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  /** Starts ucarp with up/down scripts that add and remove the VIP, as in carp.md's lab. */
  static async start(lab: Lab, host: HostRef, work: Workdir, options: UcarpOptions = {}): Promise<UcarpNode> {
    const h = lab.host(host);
    const dir = work.file(`ucarp-${h.name}`);
    await mkdir(dir, { recursive: true });
    const events = join(dir, 'events.log');
    const up = join(dir, 'up.sh');
    const down = join(dir, 'down.sh');
    await writeFile(up, `#!/bin/sh\necho "UP $1 $2" >> ${events}\nip addr add "$2"/24 dev "$1"\n`);
    await writeFile(down, `#!/bin/sh\necho "DOWN $1 $2" >> ${events}\nip addr del "$2"/24 dev "$1" 2>/dev/null\nexit 0\n`);
    await chmod(up, 0o755);
    await chmod(down, 0o755);
    const args = [
      '-i', 'eth0', '-s', h.ipv4, '-v', String(options.vhid ?? 42), '-p', options.password ?? 'labsecret',
      '-a', options.address ?? '198.51.100.100', '-b', String(options.advbase ?? 1), '-k', String(options.advskew ?? 0),
      '-u', up, '-d', down, '-z',
      ...(options.preempt ? ['-P'] : []),
    ];
    return new UcarpNode(lab.spawn(host, 'ucarp', args), events);
  }

  get isMaster(): boolean {
    const last = [...this.output.matchAll(/Switching to state: (MASTER|BACKUP|INIT)/g)].pop();
    return last?.[1] === 'MASTER';
  }

  get sawBadDigest(): boolean {
    return /Bad digest/.test(this.output);
  }
}

/** The MAC a host's neighbour table holds for `address`, if any. */
export async function neighbourMac(lab: Lab, host: HostRef, address: string): Promise<string | undefined> {
  const { stdout } = await lab.exec(host, 'ip', ['-j', 'neigh', 'show', 'to', address]);
  const entries = JSON.parse(stdout || '[]') as { lladdr?: string; state?: string[] }[];
  return entries.find((e) => e.lladdr)?.lladdr;
}

/** Addresses on a host's eth0, without prefix. */
export async function addressesOf(lab: Lab, host: HostRef): Promise<string[]> {
  const { stdout } = await lab.exec(host, 'ip', ['-j', 'addr', 'show', 'dev', 'eth0']);
  const parsed = JSON.parse(stdout) as { addr_info?: { local?: string }[] }[];
  return parsed.flatMap((l) => (l.addr_info ?? []).map((a) => a.local).filter((a): a is string => !!a));
}

/**
 * Registers a fresh lab and work directory per test in the enclosing describe(), so a failed
 * test leaves no daemon behind to disturb the next; read them through the returned getters.
 */
export function labPerTest(hosts: number): { lab: () => Lab; work: () => Workdir } {
  let lab: Lab | undefined;
  let work: Workdir | undefined;
  beforeEach(async () => {
    lab = await Lab.create({ hosts });
    work = await Workdir.create();
  });
  afterEach(async () => {
    await lab?.dispose();
    await work?.dispose();
    lab = undefined;
    work = undefined;
  });
  const need = <T>(value: T | undefined, what: string): T => {
    if (!value) throw new Error(`no ${what}: use it inside a test`);
    return value;
  };
  return { lab: () => need(lab, 'lab'), work: () => need(work, 'work directory') };
}
