// Link state through iproute2: the current state from `ip -j link show`, changes from a
// long-running `ip -o monitor link` (its JSON mode prints text in iproute2 6.1, so the
// one-line text form is parsed). Carrier is the LOWER_UP flag, as carp(4) uses link state.

import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { ProcessRunner } from '../os/process.js';
import type { LinkInfo, LinkPort } from './ports.js';

interface IpLinkJson {
  ifname: string;
  flags?: string[];
  address?: string;
  operstate?: string;
}

/** Parses one line of `ip -o monitor link`, e.g. `3: eth0@if4: <BROADCAST,UP,LOWER_UP> ...`. */
export function parseMonitorLine(line: string): { name: string; up: boolean; deleted: boolean } | undefined {
  const match = /^(Deleted\s+)?\d+:\s+([^:@\s]+)(?:@[^:\s]+)?:\s+<([^>]*)>/.exec(line.trim());
  if (!match) return undefined;
  const flags = match[3]!.split(',');
  const deleted = match[1] !== undefined;
  return { name: match[2]!, up: !deleted && flags.includes('UP') && flags.includes('LOWER_UP'), deleted };
}

export class LinuxLinkPort implements LinkPort {
  private monitor: ChildProcess | undefined;
  private readonly listeners = new Set<(iface: string, up: boolean) => void>();
  private readonly last = new Map<string, boolean>();

  constructor(private readonly runner: ProcessRunner) {}

  async get(iface: string): Promise<LinkInfo | undefined> {
    const result = await this.runner.run('ip', ['-j', 'link', 'show', 'dev', iface], { timeoutMs: 5000 });
    if (result.code !== 0) return undefined;
    const [link] = JSON.parse(result.stdout || '[]') as IpLinkJson[];
    if (!link) return undefined;
    const flags = link.flags ?? [];
    const up = flags.includes('UP') && flags.includes('LOWER_UP');
    this.last.set(iface, up);
    return { name: link.ifname, up, mac: link.address ?? '' };
  }

  watch(listener: (iface: string, up: boolean) => void): () => void {
    this.listeners.add(listener);
    if (!this.monitor) this.startMonitor();
    return () => {
      this.listeners.delete(listener);
      if (this.listeners.size === 0) this.stopMonitor();
    };
  }

  private startMonitor(withParentDeathSignal = true): void {
    // setpriv (util-linux) asks the kernel to kill the monitor when the daemon dies, even by
    // kill -9; without it the monitor lingered until its next write failed.
    const child = withParentDeathSignal
      ? spawn('setpriv', ['--pdeathsig', 'KILL', 'ip', '-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] })
      : spawn('ip', ['-o', 'monitor', 'link'], { stdio: ['ignore', 'pipe', 'ignore'] });
    this.monitor = child;
    child.on('error', (error: NodeJS.ErrnoException) => {
      if (withParentDeathSignal && error.code === 'ENOENT' && this.monitor === child) this.startMonitor(false);
    });
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const parsed = parseMonitorLine(line);
      if (!parsed) return;
      if (this.last.get(parsed.name) === parsed.up) return;
      this.last.set(parsed.name, parsed.up);
      for (const listener of this.listeners) listener(parsed.name, parsed.up);
    });
    child.on('exit', () => {
      // The monitor dying unnoticed would freeze link tracking: restart it while anyone listens.
      if (this.monitor === child && this.listeners.size > 0) setTimeout(() => this.startMonitor(withParentDeathSignal), 1000).unref();
    });
  }

  private stopMonitor(): void {
    const child = this.monitor;
    this.monitor = undefined;
    child?.kill('SIGTERM');
  }
}
