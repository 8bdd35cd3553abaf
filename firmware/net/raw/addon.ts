// Loads tandem_raw.node (built from the *.cc files beside this one by `node-gyp rebuild`)
// lazily, and types its surface. The same loader works from the source tree (tsx) and from
// the bundled dist/tandem.mjs; TANDEM_ADDON names the file explicitly.

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ADDON_FILE = 'tandem_raw.node';

/** A system error from the addon: message "<action>: <CODE> (<strerror>[; hint])". */
export interface RawError extends Error {
  code: string;
  errno: number;
  syscall: string;
}

export interface IpSocketOptions {
  family: 4 | 6;
  iface: string;
  /** IP protocol number, 1..255 (default 112). */
  protocol?: number;
  /** Unicast and multicast TTL / hop limit, 1..255 (default 255). */
  ttl?: number;
  /** IPv4 TOS or IPv6 traffic class; unset leaves the kernel default (0). */
  tos?: number;
  /** Multicast group to join on `iface`; default 224.0.0.18 / ff02::12, "" joins none. */
  group?: string;
  /** Deliver our own multicast to local sockets (default false). */
  multicastLoop?: boolean;
  /** Network namespace (name under /run/netns, or a path) to open the socket in. */
  netns?: string;
}

/** What the receive thread hands over for one datagram. */
export interface RawDatagram {
  /** IPv4: the whole datagram, IP header included. IPv6: the payload only. */
  data: Buffer;
  source: string;
  /** From IP_PKTINFO / IPV6_PKTINFO. */
  destination?: string;
  /** IPv6 only, from IPV6_HOPLIMIT (IPv4 carries the TTL in `data`). */
  hopLimit?: number;
  ifindex: number;
  truncated: boolean;
  /**
   * When it was read from the socket (by the receive thread, or by drain()): CLOCK_MONOTONIC
   * in milliseconds, the clock of process.hrtime(). Lets the CARP timers count from arrival,
   * not from when the event loop got round to the datagram.
   */
  receivedAt: number;
}

export interface IpSocketStats {
  /** Datagrams read from the socket, by the receive thread or by drain(). */
  received: number;
  /** Datagrams dropped because the JS thread had 1024 undelivered. */
  queueDrops: number;
}

export interface IpSocketHandle {
  readonly ifindex: number;
  readonly closed: boolean;
  /** Sends one datagram without blocking; throws a RawError. Returns the bytes sent. */
  send(destination: string, payload: Uint8Array): number;
  /** Stops and joins the receive thread and closes the socket; idempotent. */
  close(): void;
  /** While referenced (the default) an open socket keeps the process alive. */
  ref(): void;
  unref(): void;
  stats(): IpSocketStats;
  /**
   * Hands every datagram that has already arrived (queued for the JS thread, or still in the
   * socket's receive buffer) to the receive callback, in arrival order, before returning.
   * Never blocks. Returns how many were delivered.
   */
  drain(): number;
  /**
   * Stores what `vhid`'s takeover sends and adds (null forgets it). An armed order keeps its
   * deadline and carries out the new plan. Throws a TypeError naming a bad field.
   */
  setTakeoverPlan(vhid: number, plan: NativeTakeoverPlan | null): void;
  /**
   * Arms (or re-arms) `vhid`'s plan: the receive thread carries it out `delayMs` from now unless
   * an advert for the vhid (version 2, type 1, TTL 255) arrived within the last `heardWithinMs`
   * or arrives before then. Either way the socket's onTakeover hears of it. Returns the
   * arming's generation, which the report carries.
   */
  armTakeover(vhid: number, delayMs: number, heardWithinMs: number): number;
  /** True if an armed order was disarmed; false if there was none or its deadline was already acted on. */
  disarmTakeover(vhid: number): boolean;
  /**
   * Sends `advert` now, like send(), and keeps `vhid`'s adverts going while JavaScript is late:
   * if the next call has not come one interval after it was due, the receive thread sends the
   * same bytes every `intervalMs` until `leaseMs` after this call. Returns how many it sent
   * since the previous call. Throws a RawError if this send fails (no fill is then kept).
   * `send` false: the advert already left another way (a takeover); only the fills start.
   */
  advertise(
    vhid: number,
    destination: string,
    advert: Uint8Array,
    intervalMs: number,
    leaseMs: number,
    send?: boolean,
  ): number;
  /** Ends `vhid`'s fills; returns how many were sent since the last advertise(). */
  stopAdvertising(vhid: number): number;
}

export interface NativeTakeoverPlan {
  /** Where the advert goes: the CARP group or a unicast peer. */
  destination: string;
  advert: Uint8Array;
  /** Added to the socket's interface; an address already there is not a failure. */
  addresses: { address: string; prefixLength: number }[];
  /** Complete Ethernet frames sent on the socket's interface after the addresses. */
  frames: Uint8Array[];
}

/** What the receive thread did at a takeover deadline. */
export interface NativeTakeoverReport {
  vhid: number;
  generation: number;
  /** False: an advert arrived in time and nothing was done. */
  taken: boolean;
  /** CLOCK_MONOTONIC milliseconds of the decision. */
  at: number;
  failures: { step: 'advert' | 'addresses' | 'announce'; message: string }[];
}

/**
 * A one-shot timer on CLOCK_MONOTONIC with sub-millisecond resolution (a timerfd watched by
 * its own thread), for the CARP timers: libuv's timers count whole milliseconds.
 */
export interface AlarmHandle {
  /**
   * Fires the callback once, `delayMs` (fractional; 0 or less: at once) from now; replaces any
   * earlier setting. Throws a RangeError beyond 2147483647 ms, as setTimeout's limit.
   */
  set(delayMs: number): void;
  /** Disarms it; a firing already on its way to the JS thread is discarded. */
  clear(): void;
  /** Stops and joins the thread; idempotent. */
  close(): void;
  /** While referenced (the default) an armed alarm keeps the process alive; a disarmed one never does. */
  ref(): void;
  unref(): void;
}

export type ReceiveCallback = (error: RawError | null, datagram?: RawDatagram) => void;

export interface InterfaceInfo {
  index: number;
  mac: string;
  up: boolean;
  running: boolean;
  mtu: number;
  /** ARPHRD_ETHER: the interface takes Ethernet frames. */
  ethernet: boolean;
}

export interface RawAddon {
  IpSocket: new (
    options: IpSocketOptions,
    onReceive: ReceiveCallback,
    onTakeover?: (report: NativeTakeoverReport) => void,
  ) => IpSocketHandle;
  /** Sends one complete Ethernet frame through AF_PACKET; throws a RawError. */
  sendFrame(iface: string, frame: Uint8Array, netns?: string): void;
  interfaceInfo(iface: string, netns?: string): InterfaceInfo;
  /** `ip addr add|del` over rtnetlink; 0, or the errno the kernel answered (EEXIST = 17, EADDRNOTAVAIL = 99). */
  changeAddress(op: 'add' | 'del', iface: string, address: string, prefixLength: number, netns?: string): number;
  Alarm: new (onFire: () => void) => AlarmHandle;
  /**
   * SCHED_RR at `priority` (1-99), or normal scheduling with 0, for every thread the process
   * has (the JS thread, V8's and libuv's workers, the addon's own), and for the threads the
   * addon starts later (receive, alarm). Returns how many threads were set.
   */
  setRealtimePriority(priority: number): number;
  /**
   * Locks, as they are faulted in, the pages V8 never hands back: the code and data of node
   * (V8's builtins included), of the libraries and of this addon, the main stack and malloc's
   * heap. Not mlockall: the kernel refuses MADV_DONTNEED on locked pages and V8 aborts on that
   * refusal, so a locked V8 heap crashes Node 18 and 20 within seconds of going idle. Throws a
   * RawError (EPERM, ENOMEM: needs CAP_IPC_LOCK or a larger RLIMIT_MEMLOCK).
   */
  lockMemory(): void;
  /** CLOCK_MONOTONIC now, in milliseconds (what RawDatagram.receivedAt counts in). */
  monotonicNow(): number;
}

/** Where the addon is looked for, in order: TANDEM_ADDON alone if set, else the build directory. */
export function addonCandidates(moduleUrl: string, env: NodeJS.ProcessEnv): string[] {
  const override = env['TANDEM_ADDON'];
  if (override) return [resolve(override)];
  const here = dirname(fileURLToPath(moduleUrl));
  return [
    resolve(here, '../../../build/Release', ADDON_FILE), // firmware/net/raw/addon.ts
    resolve(here, '../build/Release', ADDON_FILE), // dist/tandem.mjs
    resolve(here, ADDON_FILE), // copied next to the bundle
  ];
}

/** Loads the addon (Node caches it after the first call); throws with the paths it tried. */
export function loadRawAddon(): RawAddon {
  const candidates = addonCandidates(import.meta.url, process.env);
  const path = candidates.find((candidate) => existsSync(candidate));
  if (path === undefined) {
    throw new Error(
      `raw-packet addon ${ADDON_FILE} not found (looked in ${candidates.join(', ')}); ` +
        'build it with "npx node-gyp rebuild" (npm ci does this) or set TANDEM_ADDON',
    );
  }
  return createRequire(import.meta.url)(path) as RawAddon;
}

/** Prefixes an addon error's message with what the caller was doing, keeping code/errno. */
export function withContext(error: unknown, context: string): Error {
  if (!(error instanceof Error)) return new Error(`${context}: ${String(error)}`);
  const wrapped = new Error(`${context}: ${error.message}`, { cause: error }) as Partial<RawError> & Error;
  const raw = error as Partial<RawError>;
  if (raw.code !== undefined) wrapped.code = raw.code;
  if (raw.errno !== undefined) wrapped.errno = raw.errno;
  if (raw.syscall !== undefined) wrapped.syscall = raw.syscall;
  return wrapped;
}
