// `mac: virtual` on Linux: a macvlan in bridge mode carrying 00:00:5e:00:01:VHID. The parent
// must not answer ARP for addresses that live on the macvlan (arp_ignore=1) nor source ARP
// from them (arp_announce=2), or clients learn the real MAC and the virtual one is pointless;
// IPv6 autoconfiguration stays off on the macvlan so its DAD/RS do not advertise the MAC.

import { writeFile } from 'node:fs/promises';
import type { ProcessRunner } from '../os/process.js';
import type { VirtualMacPort } from './ports.js';

export function macvlanName(parent: string, vhid: number): string {
  // Interface names are at most 15 characters.
  return `vh${vhid}-${parent}`.slice(0, 15);
}

export class LinuxVirtualMacPort implements VirtualMacPort {
  constructor(private readonly runner: ProcessRunner, private readonly sysctlRoot = '/proc/sys') {}

  async attach(parent: string, vhid: number, mac: string): Promise<string> {
    const name = macvlanName(parent, vhid);
    await this.sysctl(`net/ipv4/conf/${parent}/arp_ignore`, '1');
    await this.sysctl(`net/ipv4/conf/${parent}/arp_announce`, '2');
    const exists = await this.runner.run('ip', ['link', 'show', 'dev', name], { timeoutMs: 5000 });
    if (exists.code !== 0) {
      await this.ip(['link', 'add', 'link', parent, 'name', name, 'address', mac, 'type', 'macvlan', 'mode', 'bridge']);
    }
    await this.sysctl(`net/ipv6/conf/${name}/disable_ipv6`, '0');
    await this.sysctl(`net/ipv6/conf/${name}/accept_dad`, '0');
    await this.sysctl(`net/ipv6/conf/${name}/autoconf`, '0');
    await this.sysctl(`net/ipv6/conf/${name}/accept_ra`, '0');
    await this.sysctl(`net/ipv4/conf/${name}/arp_ignore`, '1');
    await this.ip(['link', 'set', 'dev', name, 'up']);
    return name;
  }

  async detach(parent: string, vhid: number): Promise<void> {
    const name = macvlanName(parent, vhid);
    const result = await this.runner.run('ip', ['link', 'del', 'dev', name], { timeoutMs: 5000 });
    if (result.code !== 0 && !/Cannot find device/.test(result.stderr)) {
      throw new Error(`ip link del dev ${name}: ${result.stderr.trim()}`);
    }
  }

  private async ip(args: string[]): Promise<void> {
    const result = await this.runner.run('ip', args, { timeoutMs: 5000 });
    if (result.code !== 0) throw new Error(`ip ${args.join(' ')}: ${result.stderr.trim() || `exit ${result.code}`}`);
  }

  private async sysctl(path: string, value: string): Promise<void> {
    await writeFile(`${this.sysctlRoot}/${path}`, value).catch(() => undefined);
  }
}
