// PacketPort on Linux: one raw IP socket per (interface, family) from the tandem_raw addon,
// set up as carp(4) sends (TTL/hop limit 255, IPv4 TOS 0x10, joined to 224.0.0.18 or
// ff02::12, no loopback of our own multicast). The TTL check itself belongs to the CARP
// service; this layer only reports what arrived.

import { decodeIpv4Header } from './frames.js';
import { splitCidr } from './linux-address.js';
import { LinuxAnnouncer } from './linux-announce.js';
import type {
  AdvertCadence,
  Family,
  PacketChannel,
  PacketPort,
  ReceivedPacket,
  TakeoverHandle,
  TakeoverOutcome,
  TakeoverPlan,
} from './ports.js';
import {
  loadRawAddon,
  type IpSocketHandle,
  type NativeTakeoverReport,
  type RawAddon,
  type RawDatagram,
  type RawError,
} from './raw/addon.js';

export const CARP_PROTOCOL = 112;
export const CARP_GROUP: Readonly<Record<Family, string>> = { 4: '224.0.0.18', 6: 'ff02::12' };
/** OpenBSD and UCarp send adverts with IPTOS_LOWDELAY. */
export const CARP_IPV4_TOS = 0x10;

export interface LinuxPacketPortOptions {
  /** IP protocol number (default 112, shared by CARP and VRRP). */
  protocol?: number;
  /** Network namespace (name under /run/netns or a path) whose interfaces are used. */
  netns?: string;
  /** The addon; loaded from the build directory on first open() when absent. */
  addon?: RawAddon;
  /** Builds a takeover's announcements; by default one of the channel's own. */
  announcer?: LinuxAnnouncer;
}

/** Why a datagram was not passed on; the names are the counter names. */
export type PacketDropReason = 'malformed' | 'truncated';

export interface ChannelStats {
  received: number;
  sent: number;
  sendErrors: number;
  receiveErrors: number;
  malformed: number;
  truncated: number;
  /** Dropped by the addon because the event loop fell 1024 datagrams behind. */
  queueDrops: number;
}

/**
 * The advert that arms a takeover was stamped by the kernel and aged on the JS clock; this
 * margin keeps rounding between the two from counting it as one heard after the arming.
 */
const ARMING_ADVERT_SLACK_MS = 0.05;

export class LinuxPacketPort implements PacketPort {
  private addon: RawAddon | undefined;

  constructor(private readonly options: LinuxPacketPortOptions = {}) {
    this.addon = options.addon;
  }

  async open(iface: string, family: Family): Promise<LinuxPacketChannel> {
    this.addon ??= loadRawAddon();
    return new LinuxPacketChannel(this.addon, iface, family, this.options);
  }
}

export class LinuxPacketChannel implements PacketChannel {
  private handle: IpSocketHandle | undefined;
  private readonly packetListeners: Array<(packet: ReceivedPacket) => void> = [];
  private readonly errorListeners: Array<(error: RawError) => void> = [];
  private readonly announcer: LinuxAnnouncer;
  /** The plan last handed to the addon, by vhid: a new one is copied over only when it changed. */
  private readonly storedPlans = new Map<number, TakeoverPlan>();
  /** The generation armed last, by vhid. */
  private readonly armedGenerations = new Map<number, number>();
  /** Who hears each arming's outcome, by generation, until it is reported or disarmed. */
  private readonly outcomeListeners = new Map<number, (outcome: TakeoverOutcome) => void>();
  private readonly counters = {
    received: 0,
    sent: 0,
    sendErrors: 0,
    receiveErrors: 0,
    malformed: 0,
    truncated: 0,
  };

  constructor(
    addon: RawAddon,
    readonly iface: string,
    readonly family: Family,
    options: Pick<LinuxPacketPortOptions, 'protocol' | 'netns' | 'announcer'> = {},
  ) {
    this.announcer =
      options.announcer ?? new LinuxAnnouncer({ addon, ...(options.netns !== undefined ? { netns: options.netns } : {}) });
    this.handle = new addon.IpSocket(
      {
        family,
        iface,
        protocol: options.protocol ?? CARP_PROTOCOL,
        ttl: 255,
        ...(family === 4 ? { tos: CARP_IPV4_TOS } : {}),
        group: CARP_GROUP[family],
        multicastLoop: false,
        ...(options.netns !== undefined ? { netns: options.netns } : {}),
      },
      (error, datagram) => this.deliver(error, datagram),
      (report) => this.takeoverDecided(report),
    );
  }

  async send(destination: string, payload: Uint8Array): Promise<void> {
    if (!this.handle) throw new Error(`send to ${destination} on ${this.iface}: channel is closed`);
    try {
      this.handle.send(destination, payload);
      this.counters.sent++;
    } catch (error) {
      this.counters.sendErrors++;
      throw error;
    }
  }

  drain(): void {
    this.handle?.drain();
  }

  advertise(vhid: number, destination: string, payload: Uint8Array, cadence: AdvertCadence, alreadySent = false): number {
    if (!this.handle) throw new Error(`advertise vhid ${vhid} to ${destination} on ${this.iface}: channel is closed`);
    try {
      const filled = this.handle.advertise(vhid, destination, payload, cadence.intervalMs, cadence.leaseMs, !alreadySent);
      this.counters.sent += (alreadySent ? 0 : 1) + filled;
      return filled;
    } catch (error) {
      this.counters.sendErrors++;
      throw error;
    }
  }

  stopAdvertising(vhid: number): number {
    const filled = this.handle?.stopAdvertising(vhid) ?? 0;
    this.counters.sent += filled;
    return filled;
  }

  armTakeover(
    plan: TakeoverPlan,
    delayMs: number,
    heardWithinMs: number,
    onOutcome: (outcome: TakeoverOutcome) => void,
  ): TakeoverHandle {
    const handle = this.handle;
    if (!handle) throw new Error(`arm takeover for vhid ${plan.vhid} on ${this.iface}: channel is closed`);
    // Both times count from this call, not from after the plan was copied over (the first copy
    // opens sockets and builds frames: ~3 ms).
    const calledAt = monotonicMs();
    this.disarm(plan.vhid);
    if (this.storedPlans.get(plan.vhid) !== plan) {
      handle.setTakeoverPlan(plan.vhid, {
        destination: plan.destination,
        advert: plan.advert,
        addresses: plan.addresses.map((cidr) => {
          const { address, prefix } = splitCidr(cidr);
          return { address, prefixLength: prefix };
        }),
        frames: plan.addresses.map((cidr) => this.announcer.announcement(this.iface, splitCidr(cidr).address)),
      });
      this.storedPlans.set(plan.vhid, plan);
    }
    const spent = monotonicMs() - calledAt;
    const generation = handle.armTakeover(
      plan.vhid,
      delayMs - spent,
      Math.max(0, heardWithinMs + spent - ARMING_ADVERT_SLACK_MS),
    );
    this.armedGenerations.set(plan.vhid, generation);
    this.outcomeListeners.set(generation, onOutcome);
    return {
      cancel: () => (this.armedGenerations.get(plan.vhid) === generation ? this.disarm(plan.vhid) : false),
    };
  }

  /** True if the armed order was disarmed before its deadline was acted on. */
  private disarm(vhid: number): boolean {
    const generation = this.armedGenerations.get(vhid);
    if (generation === undefined) return false;
    this.armedGenerations.delete(vhid);
    if (!this.handle?.disarmTakeover(vhid)) return false;
    this.outcomeListeners.delete(generation);
    return true;
  }

  private takeoverDecided(report: NativeTakeoverReport): void {
    const listener = this.outcomeListeners.get(report.generation);
    if (!listener) return;
    this.outcomeListeners.delete(report.generation);
    if (this.armedGenerations.get(report.vhid) === report.generation) this.armedGenerations.delete(report.vhid);
    listener({ taken: report.taken, ageMs: Math.max(0, monotonicMs() - report.at), failures: report.failures });
  }

  onPacket(listener: (packet: ReceivedPacket) => void): void {
    this.packetListeners.push(listener);
  }

  /** Receive-side socket errors (rare: e.g. ENOBUFS). Without a listener they are only counted. */
  onError(listener: (error: RawError) => void): void {
    this.errorListeners.push(listener);
  }

  /** Stops the receive thread and closes the socket; packets still queued are discarded. */
  async close(): Promise<void> {
    const handle = this.handle;
    this.handle = undefined;
    handle?.close();
    this.outcomeListeners.clear();
    this.armedGenerations.clear();
    this.storedPlans.clear();
  }

  /** Lets the process exit while the channel is open (like dgram's unref). */
  unref(): void {
    this.handle?.unref();
  }

  ref(): void {
    this.handle?.ref();
  }

  get stats(): ChannelStats {
    return { ...this.counters, queueDrops: this.handle?.stats().queueDrops ?? 0 };
  }

  private deliver(error: RawError | null, datagram: RawDatagram | undefined): void {
    if (!this.handle) return;
    if (error) {
      this.counters.receiveErrors++;
      for (const listener of this.errorListeners) listener(error);
      return;
    }
    if (!datagram) return;
    if (datagram.truncated) {
      this.counters.truncated++;
      return;
    }
    const packet = this.family === 4 ? this.fromIpv4(datagram) : this.fromIpv6(datagram);
    if (!packet) {
      this.counters.malformed++;
      return;
    }
    packet.ageMs = Math.max(0, monotonicMs() - datagram.receivedAt);
    this.counters.received++;
    for (const listener of this.packetListeners) listener(packet);
  }

  private fromIpv4(datagram: RawDatagram): ReceivedPacket | undefined {
    const header = decodeIpv4Header(datagram.data);
    if (!header.ok) return undefined;
    const { headerLength, totalLength, ttl, source, destination } = header.value;
    return {
      family: 4,
      interface: this.iface,
      source,
      destination,
      ttl,
      payload: view(datagram.data, headerLength, totalLength),
    };
  }

  private fromIpv6(datagram: RawDatagram): ReceivedPacket | undefined {
    // Without IPV6_HOPLIMIT the hop-limit check cannot be made: treat as malformed.
    if (datagram.hopLimit === undefined || datagram.destination === undefined) return undefined;
    return {
      family: 6,
      interface: this.iface,
      source: datagram.source,
      destination: datagram.destination,
      ttl: datagram.hopLimit,
      payload: view(datagram.data, 0, datagram.data.length),
    };
  }
}

/** CLOCK_MONOTONIC in milliseconds, the clock the receive thread stamps datagrams with. */
function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

/** A plain Uint8Array over bytes [start, end) of a Buffer, without copying. */
function view(data: Buffer, start: number, end: number): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset + start, end - start);
}
