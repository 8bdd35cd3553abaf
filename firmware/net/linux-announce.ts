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

  constructor(private readonly options: LinuxAnnouncerOptions = {}) {
    this.addon = options.addon;
  }

  async gratuitousArp(iface: string, ip: string, mac?: string): Promise<void> {
    const context = `gratuitous ARP for ${ip} on ${iface}`;
    try {
      const frame = encodeGratuitousArp({ mac: mac ?? this.interfaceMac(iface), ip });
      this.raw().sendFrame(iface, frame, this.options.netns);
    } catch (error) {
      throw withContext(error, context);
    }
  }

  async unsolicitedNa(iface: string, ip: string, mac?: string): Promise<void> {
    const context = `neighbor advertisement for ${ip} on ${iface}`;
    try {
      const frame = encodeUnsolicitedNa({
        mac: mac ?? this.interfaceMac(iface),
        ip,
        router: this.options.router ?? false,
      });
      this.raw().sendFrame(iface, frame, this.options.netns);
    } catch (error) {
      throw withContext(error, context);
    }
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
