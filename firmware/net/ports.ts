// The network seams of the daemon: raw CARP packet I/O, addresses, neighbour announcements
// and link state. Each has a Linux implementation (linux-*.ts) and an in-memory one on the
// simulated segment (segment.ts), so the CARP service runs unchanged on both.

export type Family = 4 | 6;

/** One IP protocol 112 datagram as it arrived, with what the checks need from its IP header. */
export interface ReceivedPacket {
  family: Family;
  /** Interface the packet arrived on. */
  interface: string;
  source: string;
  destination: string;
  /** IPv4 TTL or IPv6 hop limit; carp(4) drops anything but 255. */
  ttl: number;
  /** The CARP message, without the IP header. */
  payload: Uint8Array;
  /**
   * How long before delivery the packet arrived (the receive thread's timestamp); absent means
   * just now. CARP counts its master-down time from arrival, as the kernel does.
   */
  ageMs?: number;
}

/** Raw protocol-112 I/O bound to one interface and one address family. */
export interface PacketChannel {
  /** Sends `payload` (the CARP message) to `destination` with TTL/hop limit 255. */
  send(destination: string, payload: Uint8Array): Promise<void>;
  onPacket(listener: (packet: ReceivedPacket) => void): void;
  /**
   * Delivers, before returning, every packet that has already arrived but not yet reached the
   * listeners (a busy event loop holds them back). Channels that deliver at once need not have it.
   */
  drain?(): void;
  /**
   * Carries out `plan` by itself `delayMs` from now, unless an advert for `plan.vhid` arrived
   * within the last `heardWithinMs` (the one that armed it does not count) or arrives before
   * then; reports either outcome once. Channels that cannot need not have it: the CARP service
   * then runs its master-down on a timer and carries the takeover out itself.
   */
  armTakeover?(
    plan: TakeoverPlan,
    delayMs: number,
    heardWithinMs: number,
    onOutcome: (outcome: TakeoverOutcome) => void,
  ): TakeoverHandle;
  /**
   * A MASTER's advert: sent now, like send(), and kept going by the channel itself while the
   * next call is late (a paused event loop): repeated every `intervalMs` from one interval after
   * the next was due, for at most `leaseMs` after this call, so only a stall is bridged and a
   * dead daemon still falls silent. Returns how many adverts the channel sent on its own since
   * the previous call. `alreadySent`: the channel's takeover sent this advert; only keep it
   * going. Channels that cannot need not have it.
   */
  advertise?(vhid: number, destination: string, payload: Uint8Array, cadence: AdvertCadence, alreadySent?: boolean): number;
  /** Ends what advertise() keeps going for `vhid`; returns how many it sent since the last call. */
  stopAdvertising?(vhid: number): number;
  close(): Promise<void>;
}

export interface AdvertCadence {
  intervalMs: number;
  leaseMs: number;
}

/**
 * What a BACKUP does the moment its master-down time runs out, worked out ahead of time by the
 * pure machine: the first advert as MASTER, then its addresses on the channel's interface,
 * then their announcements from the interface's MAC (gratuitous ARP for IPv4, unsolicited NA
 * for IPv6).
 */
export interface TakeoverPlan {
  vhid: number;
  destination: string;
  advert: Uint8Array;
  /** CIDRs. */
  addresses: string[];
}

export type TakeoverStep = 'advert' | 'addresses' | 'announce';

export interface TakeoverOutcome {
  /** False: an advert arrived in time, so nothing was done. */
  taken: boolean;
  /** How long before delivery the deadline was acted on. */
  ageMs: number;
  /** Steps of a taken plan that failed; whoever armed it redoes them. */
  failures: { step: TakeoverStep; message: string }[];
}

export interface TakeoverHandle {
  /**
   * Disarms it. False when too late: the deadline was already acted on and the outcome is on
   * its way (it is still reported).
   */
  cancel(): boolean;
}

export interface PacketPort {
  /** Opens a channel on `iface`, joined to the CARP multicast group of `family`. */
  open(iface: string, family: Family): Promise<PacketChannel>;
}

export interface AddressPort {
  /** Adds `cidr` (e.g. "198.51.100.100/24") to `iface`; adding a present address is not an error. */
  add(iface: string, cidr: string): Promise<void>;
  /** Removes `cidr` from `iface`; removing an absent address is not an error. */
  remove(iface: string, cidr: string): Promise<void>;
  /** Addresses on `iface` in CIDR form. */
  list(iface: string): Promise<string[]>;
  /** Readies `iface` for virtual addresses ahead of the first claim, off the takeover path. */
  prepare?(iface: string): Promise<void>;
}

export interface NeighborAnnouncer {
  /** Broadcasts a gratuitous ARP request for `ip` with sender MAC `mac` (default: the interface's). */
  gratuitousArp(iface: string, ip: string, mac?: string): Promise<void>;
  /** Sends an unsolicited Neighbor Advertisement with Override for `ip` to ff02::1. */
  unsolicitedNa(iface: string, ip: string, mac?: string): Promise<void>;
  /** Builds the frames for `ip` ahead of time, so the takeover only sends them. */
  prepare?(iface: string, ip: string, mac?: string): void;
}

export interface LinkInfo {
  name: string;
  up: boolean;
  mac: string;
}

export interface LinkPort {
  get(iface: string): Promise<LinkInfo | undefined>;
  /** Calls `listener` whenever an interface's carrier changes; returns an unsubscribe function. */
  watch(listener: (iface: string, up: boolean) => void): () => void;
}

/**
 * `mac: virtual` mode: the VIPs live on a macvlan carrying 00:00:5e:00:01:VHID, up only while
 * MASTER so switches learn the virtual MAC from one node at a time.
 */
export interface VirtualMacPort {
  /** Creates (or reuses) and brings up the macvlan for `vhid` on `parent`; returns its name. */
  attach(parent: string, vhid: number, mac: string): Promise<string>;
  /** Takes the macvlan down and deletes it. */
  detach(parent: string, vhid: number): Promise<void>;
}

export function virtualMac(vhid: number): string {
  return `00:00:5e:00:01:${vhid.toString(16).padStart(2, '0')}`;
}
