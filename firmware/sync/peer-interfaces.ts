// Which network interfaces this box really has, as a port: a pushed config naming an interface
// the box lacks is refused before anything is written. Linux asks `ip -j link` (iproute2's JSON,
// async, so the CARP path never waits); the fake is a list.

import type { ProcessRunner } from '../os/process.js';

export interface InterfacePort {
  /** Names of every link in this network namespace. */
  list(): Promise<string[]>;
}

export class LinuxInterfaces implements InterfacePort {
  constructor(private readonly processes: ProcessRunner) {}

  async list(): Promise<string[]> {
    const result = await this.processes.run('ip', ['-j', 'link', 'show'], { timeoutMs: 5000 });
    if (result.code !== 0) throw new Error(`ip -j link show failed: ${result.stderr.trim() || `exit ${result.code}`}`);
    const links = JSON.parse(result.stdout || '[]') as { ifname?: unknown }[];
    return links.map((l) => l.ifname).filter((n): n is string => typeof n === 'string');
  }
}

export class FakeInterfaces implements InterfacePort {
  constructor(public names: string[]) {}

  async list(): Promise<string[]> {
    return [...this.names];
  }
}

/** Each needed interface the box lacks, as `path: message` issues. */
export function missingInterfaces(needed: readonly { path: string; name: string }[], present: readonly string[]): { path: string; message: string }[] {
  const have = new Set(present);
  return needed
    .filter((n) => !have.has(n.name))
    .map((n) => ({ path: n.path, message: `this node has no interface ${n.name}` }));
}
