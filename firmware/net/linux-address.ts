// Addresses on Linux. Adding and removing go over rtnetlink through the addon (what `ip addr
// add|del` does, without forking: the takeover path paid 4.4-7.6 ms for `ip`, 2.4-3 ms of it
// with the event loop blocked in spawn). Listing, off the hot path, uses `ip -j`. IPv4 virtual
// addresses need promote_secondaries on the interface: without it, deleting the primary
// address of a subnet silently deletes every secondary with it.

import { constants } from 'node:os';
import { writeFile } from 'node:fs/promises';
import type { ProcessRunner } from '../os/process.js';
import type { AddressPort } from './ports.js';
import { loadRawAddon, type RawAddon } from './raw/addon.js';

interface IpAddrJson {
  ifname: string;
  addr_info?: { family: string; local: string; prefixlen: number }[];
}

const ERRNO_NAMES = new Map(Object.entries(constants.errno).map(([name, value]) => [value, name]));

/** "198.51.100.100/24" -> address and prefix; a bare address is a host route (/32, /128). */
export function splitCidr(cidr: string): { address: string; prefix: number } {
  const [address = '', prefix = ''] = cidr.split('/');
  return { address, prefix: prefix ? Number(prefix) : address.includes(':') ? 128 : 32 };
}

export class LinuxAddressPort implements AddressPort {
  private readonly prepared = new Set<string>();
  private addon: RawAddon | undefined;

  constructor(
    private readonly runner: ProcessRunner,
    private readonly options: { sysctlRoot?: string; netns?: string; addon?: RawAddon } = {},
  ) {
    this.addon = options.addon;
  }

  async add(iface: string, cidr: string): Promise<void> {
    await this.prepare(iface);
    this.change('add', iface, cidr, [constants.errno.EEXIST]);
  }

  async remove(iface: string, cidr: string): Promise<void> {
    this.change('del', iface, cidr, [constants.errno.EADDRNOTAVAIL, constants.errno.ENODEV]);
  }

  async list(iface: string): Promise<string[]> {
    const namespace = this.options.netns ? ['-n', this.options.netns] : [];
    const result = await this.runner.run('ip', [...namespace, '-j', 'addr', 'show', 'dev', iface], { timeoutMs: 5000 });
    if (result.code !== 0) throw new Error(`ip addr show dev ${iface}: ${result.stderr.trim()}`);
    const parsed = JSON.parse(result.stdout || '[]') as IpAddrJson[];
    // iproute2 6.1 leaves empty {} entries for addresses its filter skipped.
    return parsed.flatMap((link) => (link.addr_info ?? []).filter((a) => a.local).map((a) => `${a.local}/${a.prefixlen}`));
  }

  private change(op: 'add' | 'del', iface: string, cidr: string, harmless: number[]): void {
    const { address, prefix } = splitCidr(cidr);
    this.addon ??= loadRawAddon();
    const errno = this.addon.changeAddress(op, iface, address, prefix, this.options.netns);
    if (errno === 0 || harmless.includes(errno)) return;
    throw new Error(`ip addr ${op} ${cidr} dev ${iface}: ${ERRNO_NAMES.get(errno) ?? `errno ${errno}`}`);
  }

  async prepare(iface: string): Promise<void> {
    // Another namespace's /proc/sys is not reachable from here; its owner sets the sysctl.
    if (this.prepared.has(iface) || this.options.netns) return;
    const root = this.options.sysctlRoot ?? '/proc/sys';
    await writeFile(`${root}/net/ipv4/conf/${iface}/promote_secondaries`, '1').catch(() => undefined);
    this.prepared.add(iface);
  }
}
