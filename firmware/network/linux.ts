// The network port on Linux: observes through `ip -j` (iproute2's JSON) and applies each step
// with one `ip` run (execFile through the ProcessRunner, never a shell), the host name through
// /proc/sys/kernel/hostname and resolv.conf by atomic rename.

import { readFile, writeFile } from 'node:fs/promises';
import type { ProcessRunner } from '../os/process.js';
import { writeFileAtomic } from '../os/files.js';
import { canonicalDestination } from './cidr.js';
import type { NetworkPort, NetworkStep, ObservedLink, ObservedNetwork, ObservedRoute, StepOutcome } from './ports.js';

const IP_TIMEOUT_MS = 10_000;

interface IpLink {
  ifname: string;
  mtu: number;
  flags?: string[];
}

interface IpAddr {
  ifname: string;
  addr_info?: Array<{ family?: string; local?: string; prefixlen?: number }>;
}

interface IpRoute {
  dst: string;
  gateway?: string;
  dev?: string;
}

export class LinuxNetworkPort implements NetworkPort {
  constructor(
    private readonly processes: ProcessRunner,
    private readonly hostnameFile = '/proc/sys/kernel/hostname',
  ) {}

  async observe(resolvFile: string): Promise<ObservedNetwork> {
    const [links, addrs, routes4, routes6, hostname, resolv] = await Promise.all([
      this.json<IpLink[]>(['-j', 'link', 'show']),
      this.json<IpAddr[]>(['-j', 'addr', 'show']),
      this.json<IpRoute[]>(['-j', '-4', 'route', 'show', 'table', 'main']),
      // A kernel without IPv6 answers with an error: no IPv6 routes, not a failed bring-up.
      this.json<IpRoute[]>(['-j', '-6', 'route', 'show', 'table', 'main']).catch(() => []),
      readFile(this.hostnameFile, 'utf8').catch(() => ''),
      readFile(resolvFile, 'utf8').catch(() => undefined),
    ]);
    const addressesOf = new Map(addrs.map((a) => [a.ifname, a.addr_info ?? []]));
    const observedLinks: ObservedLink[] = links.map((link) => ({
      name: link.ifname,
      mtu: link.mtu,
      // The administrative flag (IFF_UP), not carrier: a cable may come later.
      up: (link.flags ?? []).includes('UP'),
      addresses: (addressesOf.get(link.ifname) ?? [])
        .filter((info) => info.local !== undefined && info.prefixlen !== undefined)
        .map((info) => ({ address: info.local!, prefix: info.prefixlen! })),
    }));
    const toRoutes = (list: IpRoute[], family: 4 | 6): ObservedRoute[] =>
      list.map((route) => ({
        to: canonicalDestination(route.dst === 'default' || route.dst.includes('/') ? route.dst : `${route.dst}/${family === 4 ? 32 : 128}`),
        family,
        ...(route.gateway !== undefined ? { via: route.gateway } : {}),
        ...(route.dev !== undefined ? { interface: route.dev } : {}),
      }));
    return { hostname, links: observedLinks, routes: [...toRoutes(routes4, 4), ...toRoutes(routes6, 6)], resolv };
  }

  async apply(step: NetworkStep): Promise<StepOutcome> {
    try {
      switch (step.kind) {
        case 'hostname':
          await writeFile(this.hostnameFile, step.hostname);
          return { ok: true };
        case 'resolv':
          await writeFileAtomic(step.file, step.text, 0o644);
          return { ok: true };
        default:
          return await this.ip(ipArgs(step));
      }
    } catch (error) {
      return { ok: false, detail: (error as Error).message };
    }
  }

  private async ip(args: string[]): Promise<StepOutcome> {
    const result = await this.processes.run('ip', args, { timeoutMs: IP_TIMEOUT_MS });
    if (result.code === 0) return { ok: true };
    const why = result.timedOut ? `timed out after ${IP_TIMEOUT_MS} ms` : result.stderr.trim() || `exit ${result.code ?? result.signal}`;
    return { ok: false, detail: `ip ${args.join(' ')}: ${why}` };
  }

  private async json<T>(args: string[]): Promise<T> {
    const result = await this.processes.run('ip', args, { timeoutMs: IP_TIMEOUT_MS });
    if (result.code !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim() || `exit ${result.code ?? result.signal}`}`);
    return JSON.parse(result.stdout || '[]') as T;
  }
}

/** The `ip` arguments of a step; `replace` makes each one safe to repeat. */
export function ipArgs(step: Exclude<NetworkStep, { kind: 'hostname' | 'resolv' }>): string[] {
  switch (step.kind) {
    case 'mtu':
      return ['link', 'set', 'dev', step.interface, 'mtu', String(step.mtu)];
    case 'linkUp':
      return ['link', 'set', 'dev', step.interface, 'up'];
    case 'address':
      return ['addr', 'replace', step.cidr, 'dev', step.interface];
    case 'route':
      return [`-${step.family}`, 'route', 'replace', step.to, 'via', step.via, ...(step.interface !== undefined ? ['dev', step.interface] : [])];
  }
}
