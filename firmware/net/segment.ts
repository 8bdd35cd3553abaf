// An in-memory Ethernet segment that several simulated hosts share: the fakes of every network
// port (packets, addresses, announcements, links) for unit tests and the demo. It models what
// CARP depends on — multicast and unicast delivery, per-host links, partitions, loss, delay,
// and which MAC the segment's ARP caches hold for an address — and nothing else.

import type { Clock, TimerHandle } from '../os/clock.js';
import type {
  AdvertCadence,
  AddressPort,
  Family,
  LinkInfo,
  LinkPort,
  NeighborAnnouncer,
  PacketChannel,
  PacketPort,
  ReceivedPacket,
  TakeoverHandle,
  TakeoverOutcome,
  TakeoverPlan,
} from './ports.js';

/** Version 2, type 1: the first byte of every CARP advertisement. */
const CARP_ADVERT_VERSION_TYPE = 0x21;

export interface SegmentEvent {
  kind: 'packet' | 'announce';
  from: string;
  family: Family;
  destination: string;
  at: number;
}

/** Deterministic PRNG (mulberry32) so a seeded simulation replays identically. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface SimChannel {
  host: SimHost;
  iface: string;
  family: Family;
  listeners: ((packet: ReceivedPacket) => void)[];
  open: boolean;
  /** When an advert for each vhid last arrived, for standing takeovers. */
  lastAdvertAt: Map<number, number>;
}

export class Segment {
  private readonly hosts = new Map<string, SimHost>();
  private readonly channels = new Set<SimChannel>();
  private groups: string[][] | undefined;
  private lossFraction = 0;
  private delayMs = 0;
  private jitterMs = 0;
  private readonly random: () => number;
  /**
   * address → MAC of the last announcement heard anywhere on the segment. Each host's own cache
   * (cacheOf) only learns what reached it, so a partitioned client keeps its view.
   */
  readonly neighborCache = new Map<string, string>();
  private readonly hostCaches = new Map<string, Map<string, string>>();
  private readonly observers: ((event: SegmentEvent) => void)[] = [];

  constructor(readonly clock: Clock, options: { seed?: number } = {}) {
    this.random = seededRandom(options.seed ?? 1);
  }

  /**
   * `standingTakeover: false` gives the host channels without armTakeover, so CARP runs its
   * master-down on a timer, as over a channel that cannot carry a takeover out.
   */
  attach(
    name: string,
    options: { iface?: string; mac?: string; addresses?: string[]; standingTakeover?: boolean } = {},
  ): SimHost {
    if (this.hosts.has(name)) throw new Error(`segment: host ${name} is already attached`);
    const index = this.hosts.size + 1;
    const mac = options.mac ?? `02:00:00:00:00:${index.toString(16).padStart(2, '0')}`;
    const host = new SimHost(this, name, options.iface ?? 'eth0', mac, options.addresses ?? [], options.standingTakeover ?? true);
    this.hosts.set(name, host);
    return host;
  }

  host(name: string): SimHost {
    const host = this.hosts.get(name);
    if (!host) throw new Error(`segment: no host ${name}`);
    return host;
  }

  get hostNames(): string[] {
    return [...this.hosts.keys()];
  }

  observe(listener: (event: SegmentEvent) => void): void {
    this.observers.push(listener);
  }

  setLoss(fraction: number): void {
    this.lossFraction = Math.min(1, Math.max(0, fraction));
  }

  setDelay(ms: number, jitterMs = 0): void {
    this.delayMs = Math.max(0, ms);
    this.jitterMs = Math.max(0, jitterMs);
  }

  /** Splits the segment: hosts in different groups no longer hear each other. */
  partition(...groups: string[][]): void {
    this.groups = groups;
  }

  heal(): void {
    this.groups = undefined;
  }

  get partitions(): string[][] | undefined {
    return this.groups;
  }

  canReach(a: string, b: string): boolean {
    const from = this.hosts.get(a);
    const to = this.hosts.get(b);
    if (!from?.linkUp || !to?.linkUp) return false;
    if (!this.groups) return true;
    return this.groups.some((group) => group.includes(a) && group.includes(b));
  }

  /** Hosts that currently hold `address` on an up link: more than one means a split brain. */
  holdersOf(address: string): string[] {
    const bare = address.split('/')[0]!;
    return [...this.hosts.values()]
      .filter((h) => h.linkUp && h.holds(bare))
      .map((h) => h.name);
  }

  /** What `host`'s ARP/ND cache says: address → MAC of the last announcement it heard. */
  cacheOf(host: string): ReadonlyMap<string, string> {
    return this.hostCaches.get(host) ?? new Map<string, string>();
  }

  /**
   * Which host a client on the segment reaches at `address`: the holder whose MAC the client's
   * ARP cache points at, if that host holds the address and is reachable from `client`.
   */
  reach(client: string, address: string): string | undefined {
    const bare = address.split('/')[0]!;
    const mac = this.cacheOf(client).get(bare);
    for (const host of this.hosts.values()) {
      if (host.name === client) continue;
      if (!host.holds(bare) || !this.canReach(client, host.name)) continue;
      if (mac === undefined || host.answersWith(mac)) return host.name;
    }
    return undefined;
  }

  /** Injects a packet as if `from` had sent it with the given TTL (forged traffic in tests). */
  inject(from: string, family: Family, destination: string, payload: Uint8Array, ttl = 255): void {
    this.deliver(this.host(from), family, destination, payload, ttl);
  }

  registerChannel(channel: SimChannel): void {
    this.channels.add(channel);
  }

  unregisterChannel(channel: SimChannel): void {
    this.channels.delete(channel);
  }

  deliver(from: SimHost, family: Family, destination: string, payload: Uint8Array, ttl: number): void {
    const at = this.clock.monotonic();
    for (const observer of this.observers) observer({ kind: 'packet', from: from.name, family, destination, at });
    const multicast = family === 4 ? destination.startsWith('224.') : destination.toLowerCase().startsWith('ff');
    const source = from.primaryAddress(family);
    const copy = Uint8Array.from(payload);
    for (const channel of this.channels) {
      if (!channel.open || channel.host === from || channel.family !== family) continue;
      if (!this.canReach(from.name, channel.host.name)) continue;
      if (!multicast && !channel.host.holds(destination)) continue;
      if (this.lossFraction > 0 && this.random() < this.lossFraction) continue;
      const delay = this.delayMs + (this.jitterMs > 0 ? this.random() * this.jitterMs : 0);
      const packet: ReceivedPacket = {
        family,
        interface: channel.iface,
        source,
        destination,
        ttl,
        payload: copy,
      };
      this.clock.setTimer(delay, () => {
        // A link that went down while the frame was in flight loses it.
        if (!channel.open || !this.canReach(from.name, channel.host.name)) return;
        if (ttl === 255 && copy[0] === CARP_ADVERT_VERSION_TYPE && copy.length > 1) {
          channel.lastAdvertAt.set(copy[1]!, this.clock.monotonic());
        }
        for (const listener of channel.listeners) listener(packet);
      });
    }
  }

  announce(from: SimHost, family: Family, address: string, mac: string): void {
    const at = this.clock.monotonic();
    for (const observer of this.observers) observer({ kind: 'announce', from: from.name, family, destination: address, at });
    if (!from.linkUp) return;
    this.neighborCache.set(address, mac);
    // A gratuitous ARP is a broadcast: only hosts that can hear the announcer learn from it.
    for (const host of this.hosts.values()) {
      if (host !== from && !this.canReach(from.name, host.name)) continue;
      let cache = this.hostCaches.get(host.name);
      if (!cache) this.hostCaches.set(host.name, (cache = new Map()));
      cache.set(address, mac);
    }
  }

  linkChanged(host: SimHost, iface = host.iface, up = host.linkUp): void {
    for (const listener of host.linkListeners) listener(iface, up);
  }
}

/** An interface of a SimHost that is not attached to the segment: it has a link and addresses. */
interface OffSegmentInterface {
  up: boolean;
  mac: string;
  addresses: string[];
}

/**
 * One simulated host on the segment, exposing the network ports the daemon consumes. `iface`
 * is attached to the segment; addInterface() gives it more interfaces that are not (their
 * packets go nowhere), so link tracking and node-wide demotion can be exercised.
 */
export class SimHost implements PacketPort, AddressPort, NeighborAnnouncer, LinkPort {
  linkUp = true;
  readonly linkListeners: ((iface: string, up: boolean) => void)[] = [];
  private readonly addresses: string[];
  private readonly macs = new Set<string>();
  private readonly offSegment = new Map<string, OffSegmentInterface>();

  constructor(
    private readonly segment: Segment,
    readonly name: string,
    readonly iface: string,
    readonly mac: string,
    baseAddresses: string[],
    private readonly standingTakeover = true,
  ) {
    this.addresses = [...baseAddresses];
    this.macs.add(mac);
  }

  holds(address: string): boolean {
    return this.addresses.some((a) => a.split('/')[0] === address);
  }

  answersWith(mac: string): boolean {
    return this.macs.has(mac);
  }

  primaryAddress(family: Family): string {
    const found = this.addresses.find((a) => (family === 6) === a.includes(':'));
    return found ? found.split('/')[0]! : family === 4 ? '0.0.0.0' : '::';
  }

  /** Adds an interface that is not on the segment, e.g. an uplink to track. */
  addInterface(iface: string, options: { up?: boolean; mac?: string } = {}): void {
    if (iface === this.iface || this.offSegment.has(iface)) throw new Error(`${this.name}: interface ${iface} exists`);
    this.offSegment.set(iface, { up: options.up ?? true, mac: options.mac ?? this.mac, addresses: [] });
  }

  /** Sets the carrier of `iface` (the segment interface by default) and tells the watchers. */
  setLink(up: boolean, iface = this.iface): void {
    if (iface !== this.iface) {
      const link = this.offSegment.get(iface);
      if (!link) throw new Error(`${this.name}: no interface ${iface}`);
      if (link.up === up) return;
      link.up = up;
      this.segment.linkChanged(this, iface, up);
      return;
    }
    if (this.linkUp === up) return;
    this.linkUp = up;
    this.segment.linkChanged(this);
  }

  // PacketPort
  async open(iface: string, family: Family): Promise<PacketChannel> {
    this.requireInterface(iface);
    const link = this.offSegment.get(iface);
    if (link) {
      // Off the segment: sends succeed while the link is up and reach no one.
      let open = true;
      return {
        send: async () => {
          if (!open) throw new Error(`send on ${iface}: channel closed`);
          if (!link.up) throw new Error(`send on ${iface}: ENETDOWN (link is down)`);
        },
        onPacket: () => undefined,
        close: async () => {
          open = false;
        },
      };
    }
    const channel: SimChannel = { host: this, iface, family, listeners: [], open: true, lastAdvertAt: new Map() };
    this.segment.registerChannel(channel);
    const segment = this.segment;
    const send = (destination: string, payload: Uint8Array): void => {
      if (!channel.open) throw new Error(`send on ${iface}: channel closed`);
      if (!this.linkUp) throw new Error(`send on ${iface}: ENETDOWN (link is down)`);
      segment.deliver(this, family, destination, payload, 255);
    };
    const fills = new Map<number, { sent: number; timer: TimerHandle | undefined }>();
    const stopFill = (vhid: number): number => {
      const fill = fills.get(vhid);
      fills.delete(vhid);
      fill?.timer?.cancel();
      return fill?.sent ?? 0;
    };
    return {
      send: async (destination, payload) => send(destination, payload),
      ...(this.standingTakeover
        ? {
            advertise: (vhid: number, destination: string, payload: Uint8Array, cadence: AdvertCadence, alreadySent = false) => {
              const filled = stopFill(vhid);
              if (!alreadySent) send(destination, payload);
              fills.set(vhid, this.keepAdvertising(send, destination, payload, cadence));
              return filled;
            },
            stopAdvertising: stopFill,
            armTakeover: (plan: TakeoverPlan, delayMs: number, heardWithinMs: number, onOutcome: (outcome: TakeoverOutcome) => void) =>
              this.armTakeover(channel, send, plan, delayMs, heardWithinMs, onOutcome),
          }
        : {}),
      onPacket: (listener) => {
        channel.listeners.push(listener);
      },
      close: async () => {
        channel.open = false;
        segment.unregisterChannel(channel);
      },
    };
  }

  /** The addon's advert fills, on the simulated clock: from one interval after the next was due. */
  private keepAdvertising(
    send: (destination: string, payload: Uint8Array) => void,
    destination: string,
    payload: Uint8Array,
    { intervalMs, leaseMs }: AdvertCadence,
  ): { sent: number; timer: TimerHandle | undefined } {
    const { clock } = this.segment;
    const leaseUntil = clock.monotonic() + leaseMs;
    const fill: { sent: number; timer: TimerHandle | undefined } = { sent: 0, timer: undefined };
    const next = (delayMs: number): void => {
      fill.timer = clock.setTimer(delayMs, () => {
        if (clock.monotonic() >= leaseUntil) return;
        try {
          send(destination, payload);
          fill.sent++;
        } catch {
          // A link down: the next fill tries again, as the thread's sendto would.
        }
        next(intervalMs);
      });
    };
    next(2 * intervalMs);
    return fill;
  }

  /** What the addon's receive thread does, on the simulated clock. */
  private armTakeover(
    channel: SimChannel,
    send: (destination: string, payload: Uint8Array) => void,
    plan: TakeoverPlan,
    delayMs: number,
    heardWithinMs: number,
    onOutcome: (outcome: TakeoverOutcome) => void,
  ): TakeoverHandle {
    const { clock } = this.segment;
    const heardAfter = clock.monotonic() - heardWithinMs;
    let pending = true;
    const timer = clock.setTimer(delayMs, () => {
      pending = false;
      if (!channel.open) return;
      const taken = !((channel.lastAdvertAt.get(plan.vhid) ?? -Infinity) > heardAfter);
      const failures: TakeoverOutcome['failures'] = [];
      if (taken) {
        try {
          send(plan.destination, plan.advert);
        } catch (error) {
          failures.push({ step: 'advert', message: (error as Error).message });
        }
        for (const cidr of plan.addresses) this.addAddress(channel.iface, cidr);
        for (const cidr of plan.addresses) {
          const ip = cidr.split('/')[0]!;
          // Synchronous despite the signature: the announcement is made before they return.
          void (cidr.includes(':') ? this.unsolicitedNa(channel.iface, ip) : this.gratuitousArp(channel.iface, ip));
        }
      }
      // Reported the way the receive thread queues it: behind what was delivered before.
      const decidedAt = clock.monotonic();
      clock.setTimer(0, () => {
        if (channel.open) onOutcome({ taken, ageMs: clock.monotonic() - decidedAt, failures });
      });
    });
    return {
      cancel: () => {
        if (!pending) return false;
        pending = false;
        timer.cancel();
        return true;
      },
    };
  }

  // AddressPort
  async add(iface: string, cidr: string): Promise<void> {
    this.addAddress(iface, cidr);
  }

  private addAddress(iface: string, cidr: string): void {
    const addresses = this.addressesOf(iface);
    if (!addresses.includes(cidr)) addresses.push(cidr);
  }

  async remove(iface: string, cidr: string): Promise<void> {
    const addresses = this.addressesOf(iface);
    const index = addresses.indexOf(cidr);
    if (index >= 0) addresses.splice(index, 1);
  }

  async list(iface: string): Promise<string[]> {
    return [...this.addressesOf(iface)];
  }

  // NeighborAnnouncer
  async gratuitousArp(iface: string, ip: string, mac?: string): Promise<void> {
    this.requireInterface(iface);
    if (this.offSegment.has(iface)) return;
    const from = mac ?? this.mac;
    this.macs.add(from);
    this.segment.announce(this, 4, ip, from);
  }

  async unsolicitedNa(iface: string, ip: string, mac?: string): Promise<void> {
    this.requireInterface(iface);
    if (this.offSegment.has(iface)) return;
    const from = mac ?? this.mac;
    this.macs.add(from);
    this.segment.announce(this, 6, ip, from);
  }

  // LinkPort
  async get(iface: string): Promise<LinkInfo | undefined> {
    const link = this.offSegment.get(iface);
    if (link) return { name: iface, up: link.up, mac: link.mac };
    if (iface !== this.iface) return undefined;
    return { name: iface, up: this.linkUp, mac: this.mac };
  }

  watch(listener: (iface: string, up: boolean) => void): () => void {
    this.linkListeners.push(listener);
    return () => {
      const index = this.linkListeners.indexOf(listener);
      if (index >= 0) this.linkListeners.splice(index, 1);
    };
  }

  private addressesOf(iface: string): string[] {
    this.requireInterface(iface);
    return this.offSegment.get(iface)?.addresses ?? this.addresses;
  }

  private requireInterface(iface: string): void {
    if (iface !== this.iface && !this.offSegment.has(iface)) {
      const names = [this.iface, ...this.offSegment.keys()].join(', ');
      throw new Error(`${this.name}: no interface ${iface} (has ${names})`);
    }
  }
}
