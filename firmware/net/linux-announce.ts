// NeighborAnnouncer on Linux: builds the frames in frames.ts and sends them through the
// tandem_raw addon's AF_PACKET socket, so a VIP can be announced with the virtual MAC
// (00:00:5e:00:01:VHID) before, or without, being configured on the interface. Unlike
// `arping -U` this works for an address that is not local.

import { encodeGratuitousArp, encodeUnsolicitedNa } from './frames.js';
import type { NeighborAnnouncer } from './ports.js';
import { loadRawAddon, withContext, type RawAddon } from './raw/addon.js';

export interface LinuxAnnouncerOptions {
  /** Network namespace (name under /run/netns or a path) whose interfaces are used. */
  netns?: string;
  /** Sets the Router flag in Neighbor Advertisements (the CARP group forwards). */
  router?: boolean;
  /** The addon; loaded from the build directory on first use when absent. */
  addon?: RawAddon;
}

export class LinuxAnnouncer implements NeighborAnnouncer {
  private addon: RawAddon | undefined;
  /** Built frames by interface, address and sender MAC; an interface's new MAC builds anew. */
  private readonly frames = new Map<string, Uint8Array>();

  constructor(private readonly options: LinuxAnnouncerOptions = {}) {
    this.addon = options.addon;
  }

  async gratuitousArp(iface: string, ip: string, mac?: string): Promise<void> {
    try {
      this.raw().sendFrame(iface, this.frame('arp', iface, ip, mac), this.options.netns);
    } catch (error) {
      throw withContext(error, `gratuitous ARP for ${ip} on ${iface}`);
    }
  }

  async unsolicitedNa(iface: string, ip: string, mac?: string): Promise<void> {
    try {
      this.raw().sendFrame(iface, this.frame('na', iface, ip, mac), this.options.netns);
    } catch (error) {
      throw withContext(error, `neighbor advertisement for ${ip} on ${iface}`);
    }
  }

  /** The frame that announces `ip` on `iface` (ARP for IPv4, NA for IPv6), built once. */
  announcement(iface: string, ip: string, mac?: string): Uint8Array {
    try {
      return this.frame(ip.includes(':') ? 'na' : 'arp', iface, ip, mac);
    } catch (error) {
      throw withContext(error, `announcement for ${ip} on ${iface}`);
    }
  }

  prepare(iface: string, ip: string, mac?: string): void {
    try {
      this.frame(ip.includes(':') ? 'na' : 'arp', iface, ip, mac);
    } catch {
      // The interface may not exist yet; the frame is built when it is sent.
    }
  }

  private frame(kind: 'arp' | 'na', iface: string, ip: string, mac: string | undefined): Uint8Array {
    const sender = mac ?? this.interfaceMac(iface);
    const key = `${kind} ${iface} ${ip} ${sender}`;
    let frame = this.frames.get(key);
    if (!frame) {
      frame = kind === 'na'
        ? encodeUnsolicitedNa({ mac: sender, ip, router: this.options.router ?? false })
        : encodeGratuitousArp({ mac: sender, ip });
      this.frames.set(key, frame);
    }
    return frame;
  }

  private interfaceMac(iface: string): string {
    const info = this.raw().interfaceInfo(iface, this.options.netns);
    if (!info.ethernet) throw new Error(`${iface} is not an Ethernet interface`);
    return info.mac;
  }

  private raw(): RawAddon {
    this.addon ??= loadRawAddon();
    return this.addon;
  }
}
