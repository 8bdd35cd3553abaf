// Addresses through iproute2 (`ip`), run with execFile off the event loop. IPv4 virtual
// addresses need promote_secondaries on the interface: without it, deleting the primary
// address of a subnet silently deletes every secondary with it.

import { writeFile } from 'node:fs/promises';
import type { ProcessRunner } from '../os/process.js';
import type { AddressPort } from './ports.js';

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

export class LinuxAddressPort implements AddressPort {
  private readonly prepared = new Set<string>();

  constructor(private readonly runner: ProcessRunner, private readonly sysctlRoot = '/proc/sys') {}

  async add(iface: string, cidr: string): Promise<void> {
    await this.prepare(iface);
    const args = ['addr', 'add', cidr, 'dev', iface];
    // DAD would hold an IPv6 VIP tentative (unusable) for a second after failover.
    if (cidr.includes(':')) args.push('nodad');
    const result = await this.runner.run('ip', args, { timeoutMs: 5000 });
    if (result.code !== 0 && !/File exists/.test(result.stderr)) {
      throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim() || `exit ${result.code}`}`);
    }
  }

  async remove(iface: string, cidr: string): Promise<void> {
    const args = ['addr', 'del', cidr, 'dev', iface];
    const result = await this.runner.run('ip', args, { timeoutMs: 5000 });
    if (result.code !== 0 && !/Cannot assign requested address|Cannot find device/.test(result.stderr)) {
      throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim() || `exit ${result.code}`}`);
    }
  }

  async list(iface: string): Promise<string[]> {
    const result = await this.runner.run('ip', ['-j', 'addr', 'show', 'dev', iface], { timeoutMs: 5000 });
    if (result.code !== 0) throw new Error(`ip addr show dev ${iface}: ${result.stderr.trim()}`);
    const parsed = JSON.parse(result.stdout || '[]') as IpAddrJson[];
    // iproute2 6.1 leaves empty {} entries for addresses its filter skipped.
    return parsed.flatMap((link) => (link.addr_info ?? []).filter((a) => a.local).map((a) => `${a.local}/${a.prefixlen}`));
  }

  private async prepare(iface: string): Promise<void> {
    if (this.prepared.has(iface)) return;
    await writeFile(`${this.sysctlRoot}/net/ipv4/conf/${iface}/promote_secondaries`, '1').catch(() => undefined);
    this.prepared.add(iface);
  }
}
