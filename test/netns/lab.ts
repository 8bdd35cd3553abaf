// A throwaway L2 lab for the netns tests, built by scripts/lab: hosts h1..hN in their own
// network namespaces on one bridge, under a per-run prefix. It tracks only the processes it
// spawned and removes its namespaces on dispose(), on process exit and on SIGINT/SIGTERM.

import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import type { TestContext } from 'node:test';
import { fileURLToPath } from 'node:url';

const LAB_SCRIPT = fileURLToPath(new URL('../../scripts/lab', import.meta.url));

export interface LabHost {
  /** "h1", "h2", ... */
  name: string;
  netns: string;
  iface: 'eth0';
  ipv4: string;
  ipv6: string;
  mac: string;
  /** This host's port on the lab bridge (inside the bridge namespace). */
  port: string;
}

/** A host by name ("h2") or number (2). */
export type HostRef = string | number;

/** Where exec/spawn run: a host, or 'br', the bridge namespace (the image tests' qemu owns its taps there). */
export type Place = HostRef | 'br';

/** Which end of a host's cable linkDown/linkUp acts on. */
export type LinkEnd = 'port' | 'eth0' | 'both';

export interface ExecResult {
  stdout: string;
  stderr: string;
}

export interface LabOptions {
  hosts: number;
  /** 1-10 characters, [a-z][a-z0-9]*; default: "t" + pid + random, unique per run. */
  prefix?: string;
}

export class Lab {
  private readonly children = new Set<ChildProcess>();
  private disposed = false;
  private readonly onExit = (): void => this.disposeSync();
  private readonly onSignal = (signal: NodeJS.Signals): void => {
    this.disposeSync();
    process.kill(process.pid, signal);
  };

  private constructor(
    readonly prefix: string,
    readonly hosts: readonly LabHost[],
  ) {}

  static async create(options: LabOptions): Promise<Lab> {
    const prefix = options.prefix ?? uniquePrefix();
    const hosts = Array.from({ length: options.hosts }, (_, index): LabHost => {
      const i = index + 1;
      return {
        name: `h${i}`,
        netns: `${prefix}-h${i}`,
        iface: 'eth0',
        ipv4: `198.51.100.${10 + i}`,
        ipv6: `2001:db8::${10 + i}`,
        mac: `02:00:5e:10:00:${i.toString(16).padStart(2, '0')}`,
        port: `${prefix}-p${i}`,
      };
    });
    const lab = new Lab(prefix, hosts);
    process.once('exit', lab.onExit);
    process.once('SIGINT', lab.onSignal);
    process.once('SIGTERM', lab.onSignal);
    try {
      await run(LAB_SCRIPT, ['up', '--prefix', prefix, '--hosts', String(options.hosts)]);
    } catch (error) {
      await lab.dispose();
      throw error;
    }
    return lab;
  }

  /** The bridge namespace. */
  get bridgeNetns(): string {
    return `${this.prefix}-br`;
  }

  host(ref: HostRef): LabHost {
    const name = typeof ref === 'number' ? `h${ref}` : ref;
    const host = this.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`lab ${this.prefix} has no host ${name}`);
    return host;
  }

  /** Runs `cmd` inside the host's namespace; rejects on a non-zero exit, with its stderr. */
  exec(host: Place, cmd: string, args: readonly string[] = [], timeoutMs = 10_000): Promise<ExecResult> {
    return run('ip', ['netns', 'exec', this.netnsOf(host), cmd, ...args], timeoutMs);
  }

  /** Starts `cmd` inside the host's namespace; dispose() ends it if it is still running. */
  spawn(host: Place, cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    if (this.disposed) throw new Error(`lab ${this.prefix} is disposed`);
    // `ip netns exec` execs the command, so the child's PID is the command's own.
    const child = spawn('ip', ['netns', 'exec', this.netnsOf(host), cmd, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    });
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
    return child;
  }

  private netnsOf(place: Place): string {
    return place === 'br' ? this.bridgeNetns : this.host(place).netns;
  }

  /** Takes the host's cable down: its bridge port (carrier loss at eth0), eth0 itself, or both. */
  async linkDown(host: HostRef, end: LinkEnd = 'port'): Promise<void> {
    await run(LAB_SCRIPT, ['link', '--prefix', this.prefix, this.host(host).name, 'down', end]);
  }

  async linkUp(host: HostRef, end: LinkEnd = 'port'): Promise<void> {
    await run(LAB_SCRIPT, ['link', '--prefix', this.prefix, this.host(host).name, 'up', end]);
  }

  /** The host's fe80:: address on eth0. */
  async linkLocal(host: HostRef): Promise<string> {
    const { stdout } = await this.exec(host, 'ip', ['-j', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']);
    // iproute2 6.1 leaves an empty {} in addr_info for each address the filter skipped.
    const parsed = JSON.parse(stdout) as Array<{ addr_info: Array<{ local?: string }> }>;
    const address = parsed[0]?.addr_info.find((info) => info.local !== undefined)?.local;
    if (!address) throw new Error(`${this.host(host).netns}: eth0 has no link-local address`);
    return address;
  }

  /** Ends the processes this lab spawned (TERM, then KILL after 2 s) and deletes the namespaces. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await Promise.all([...this.children].map((child) => stop(child)));
    try {
      await run(LAB_SCRIPT, ['down', '--prefix', this.prefix]);
    } finally {
      this.unregister();
    }
  }

  private disposeSync(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const child of this.children) child.kill('SIGKILL');
    try {
      execFileSync(LAB_SCRIPT, ['down', '--prefix', this.prefix], { stdio: 'ignore' });
    } finally {
      this.unregister();
    }
  }

  private unregister(): void {
    process.removeListener('exit', this.onExit);
    process.removeListener('SIGINT', this.onSignal);
    process.removeListener('SIGTERM', this.onSignal);
  }
}

let netnsProbe: string | undefined | null = null;

/** Why the netns tier cannot run here, or undefined when it can (root and a working `ip netns`). */
export function netnsUnavailable(): string | undefined {
  if (netnsProbe !== null) return netnsProbe;
  if (process.getuid?.() !== 0) {
    netnsProbe = 'needs root (network namespaces and raw sockets); run the netns tier as root';
  } else {
    try {
      execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
      netnsProbe = undefined;
    } catch {
      netnsProbe = '`ip netns` is unavailable (install iproute2)';
    }
  }
  return netnsProbe;
}

/** Skips the test with the reason when the netns tier cannot run; use `if (!requireRoot(t)) return;`. */
export function requireRoot(t: TestContext): boolean {
  const reason = netnsUnavailable();
  if (reason) t.skip(reason);
  return reason === undefined;
}

/** Resolves when `check` returns a value other than undefined; rejects after `timeoutMs`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  timeoutMs = 3000,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`, { cause: last });
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

function uniquePrefix(): string {
  return `t${process.pid.toString(36)}${randomBytes(2).readUInt16BE(0).toString(36)}`.slice(0, 10);
}

function run(cmd: string, args: readonly string[], timeoutMs = 30_000): Promise<ExecResult> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (error) {
        reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || error.message}`, { cause: error }));
      } else {
        resolve({ stdout, stderr });
      }
    });
  });
}

function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const kill = setTimeout(() => child.kill('SIGKILL'), 2000);
    child.once('exit', () => {
      clearTimeout(kill);
      resolve();
    });
    child.kill('SIGTERM');
  });
}
