// Wake-on-LAN (issue 10): the AMD "Magic Packet" (6 x 0xff, then the target MAC 16 times, then
// an optional 4- or 6-byte SecureOn password: 102, 106 or 108 bytes) sent over UDP to the
// limited or a subnet-directed broadcast, repeated. Pure encoder and target choice; the UDP
// socket and the interface list are ports with a Linux side (node:dgram, os) and a fake.

import { createSocket } from 'node:dgram';
import { networkInterfaces } from 'node:os';
import { isIPv4 } from 'node:net';
import { optional, s, type ObjectOf, type StringRule } from '../config/kit.js';
import type { DriverDeps, DriverFailure, DriverHost, DriverResult, PowerDriver } from './driver.js';

const SYNC_STREAM = 0xff;
const SYNC_BYTES = 6;
const MAC_REPEATS = 16;
export const MAGIC_PACKET_BYTES = SYNC_BYTES + 6 * MAC_REPEATS; // 102
export const LIMITED_BROADCAST = '255.255.255.255';
// Copies are spaced so that one lost to a NIC still renegotiating its link speed after the
// first (a sleeping NIC often runs at 10 Mb/s) is not lost with its neighbours.
export const REPEAT_SPACING_MS = 100;

/** `02:00:5e:10:00:21` or `02-00-5e-10-00-21` into its 6 bytes; undefined when malformed. */
export function parseMac(text: string): Buffer | undefined {
  if (!/^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/.test(text)) return undefined;
  return Buffer.from(text.split(/[:-]/).map((part) => parseInt(part, 16)));
}

/**
 * A SecureOn password as ether-wake(8) takes it: 6 bytes written like a MAC
 * (`a1:b2:c3:d4:e5:f6`) or 4 bytes written like an IPv4 address (`192.0.2.7`).
 */
export function parseSecureOn(text: string): Buffer | undefined {
  const mac = parseMac(text);
  if (mac) return mac;
  if (!isIPv4(text)) return undefined;
  return Buffer.from(text.split('.').map((part) => Number(part)));
}

/** The magic packet for `mac`, with the SecureOn password appended when given. */
export function encodeMagicPacket(mac: Buffer, password?: Buffer): Buffer {
  if (mac.length !== 6) throw new RangeError(`a MAC is 6 bytes, got ${mac.length}`);
  if (password && password.length !== 4 && password.length !== 6) throw new RangeError(`a SecureOn password is 4 or 6 bytes, got ${password.length}`);
  const packet = Buffer.alloc(MAGIC_PACKET_BYTES + (password?.length ?? 0), SYNC_STREAM);
  for (let i = 0; i < MAC_REPEATS; i++) mac.copy(packet, SYNC_BYTES + 6 * i);
  password?.copy(packet, MAGIC_PACKET_BYTES);
  return packet;
}

const isSecureOn: StringRule = (v) => (parseSecureOn(v) ? undefined : 'must be 6 bytes like a1:b2:c3:d4:e5:f6 or 4 bytes like 192.0.2.7');
const isBroadcast: StringRule = (v) =>
  v === 'subnet' || v === 'limited' || isIPv4(v) ? undefined : 'must be subnet, limited or an IPv4 broadcast address';
const isInterfaceName: StringRule = (v) => (/^[^\s/]{1,15}$/.test(v) ? undefined : 'must be an interface name (1-15 characters, no spaces or /)');

export const wolSettings = {
  interface: optional(
    s.string('an interface name', isInterfaceName).describe('Send from this interface\'s IPv4 address; default: the interface whose subnet holds the host\'s address.'),
  ),
  broadcast: optional(
    s
      .string('subnet, limited or an IPv4 address', isBroadcast)
      .describe('Where to send: `subnet` (the directed broadcast of the sending subnet), `limited` (255.255.255.255 on that interface) or an explicit broadcast address.'),
    'subnet',
  ),
  port: optional(s.int(1, 65535).describe('UDP port: 9 (discard) by convention, 7 (echo) for some NICs.'), 9),
  password: optional(s.string('a SecureOn password', isSecureOn).describe('SecureOn password the NIC expects after the MAC (6 bytes as a1:b2:c3:d4:e5:f6, or 4 as 192.0.2.7).')),
  repeat: optional(s.int(1, 10).describe(`Copies sent, ${REPEAT_SPACING_MS} ms apart (UDP is unacknowledged).`), 3),
};
export type WolSettings = ObjectOf<typeof wolSettings>;

/** One IPv4 address of a local interface. */
export interface InterfaceAddress {
  name: string;
  address: string;
  prefixLength: number;
}

/** The local interfaces' IPv4 addresses (Linux: os.networkInterfaces). */
export type InterfaceLister = () => InterfaceAddress[];

export const linuxInterfaces: InterfaceLister = () =>
  Object.entries(networkInterfaces()).flatMap(([name, infos]) =>
    (infos ?? [])
      .filter((info) => info.family === 'IPv4' && !info.internal)
      .map((info) => ({ name, address: info.address, prefixLength: Number(info.cidr?.split('/')[1] ?? 32) })),
  );

export interface WolTarget {
  /** Local address the socket binds to: it picks the outgoing interface for a broadcast. */
  bindAddress?: string;
  address: string;
  port: number;
}

function toInt(address: string): number {
  return address.split('.').reduce((acc, part) => ((acc << 8) | Number(part)) >>> 0, 0);
}
function toDotted(value: number): string {
  return [24, 16, 8, 0].map((shift) => (value >>> shift) & 0xff).join('.');
}
function maskOf(prefixLength: number): number {
  return prefixLength === 0 ? 0 : (0xffffffff << (32 - prefixLength)) >>> 0;
}
export function subnetContains(local: InterfaceAddress, address: string): boolean {
  const mask = maskOf(local.prefixLength);
  return isIPv4(address) && (toInt(local.address) & mask) >>> 0 === (toInt(address) & mask) >>> 0;
}
export function directedBroadcast(local: InterfaceAddress): string {
  return toDotted((toInt(local.address) | ~maskOf(local.prefixLength)) >>> 0);
}

/** The local address whose subnet holds `address` most specifically (as routing would pick). */
function longestMatch(candidates: readonly InterfaceAddress[], address: string): InterfaceAddress | undefined {
  return candidates.filter((i) => subnetContains(i, address)).sort((a, b) => b.prefixLength - a.prefixLength)[0];
}

/**
 * Where the packet goes. A sleeping NIC answers no ARP, so the packet must be a broadcast on
 * the host's segment: from the configured interface, else from the one whose subnet holds the
 * host's address (the address in the pool is the host's address on that segment).
 */
export function chooseTarget(settings: Partial<Pick<WolSettings, 'interface' | 'broadcast' | 'port'>>, host: DriverHost, interfaces: readonly InterfaceAddress[]):
  | { ok: true; target: WolTarget }
  | { ok: false; detail: string } {
  const port = settings.port ?? 9;
  const broadcast = settings.broadcast ?? 'subnet';
  let source: InterfaceAddress | undefined;
  if (settings.interface !== undefined) {
    const own = interfaces.filter((i) => i.name === settings.interface);
    if (own.length === 0) return { ok: false, detail: `interface ${settings.interface} has no IPv4 address (or does not exist)` };
    source = longestMatch(own, host.address) ?? own[0];
  } else {
    source = longestMatch(interfaces, host.address);
    if (!source && broadcast !== 'limited' && broadcast !== 'subnet') return { ok: true, target: { address: broadcast, port } };
    if (!source) return { ok: false, detail: `no local interface has a subnet holding ${host.address}; set wake.interface or wake.broadcast` };
  }
  const bindAddress = source!.address;
  if (broadcast === 'limited') return { ok: true, target: { bindAddress, address: LIMITED_BROADCAST, port } };
  if (broadcast === 'subnet') return { ok: true, target: { bindAddress, address: directedBroadcast(source!), port } };
  return { ok: true, target: { bindAddress, address: broadcast, port } };
}

/** Sends one datagram with SO_BROADCAST set; rejects with the socket's error (its `code`). */
export interface UdpSender {
  send(packet: Buffer, target: WolTarget): Promise<void>;
}

export class LinuxUdpSender implements UdpSender {
  send(packet: Buffer, target: WolTarget): Promise<void> {
    return new Promise((resolve, reject) => {
      const socket = createSocket('udp4');
      const fail = (error: Error): void => {
        socket.close();
        reject(error);
      };
      socket.once('error', fail);
      // setBroadcast before bind throws EBADF; Node has no SO_BINDTODEVICE, so binding the
      // interface's address is what routes 255.255.255.255 out of that interface.
      socket.bind({ address: target.bindAddress, port: 0 }, () => {
        try {
          socket.setBroadcast(true);
        } catch (error) {
          fail(error as Error);
          return;
        }
        socket.send(packet, target.port, target.address, (error) => {
          if (error) fail(error);
          else {
            socket.close();
            resolve();
          }
        });
      });
    });
  }
}

/** Records what was sent; `failWith` makes every send reject with that errno code. */
export class FakeUdpSender implements UdpSender {
  readonly sent: { packet: Buffer; target: WolTarget }[] = [];
  failWith: string | undefined = undefined;
  async send(packet: Buffer, target: WolTarget): Promise<void> {
    if (this.failWith !== undefined) throw Object.assign(new Error(`send ${this.failWith} ${target.address}:${target.port}`), { code: this.failWith });
    this.sent.push({ packet: Buffer.from(packet), target: { ...target } });
  }
}

/** The ports WoL needs beyond the common ones; Linux defaults when absent. */
export interface WolDeps extends DriverDeps {
  udp?: UdpSender;
  interfaces?: InterfaceLister;
}

function failureOf(code: string | undefined): DriverFailure {
  switch (code) {
    case 'EADDRNOTAVAIL': // the interface lost its address
    case 'EINVAL':
      return 'misconfigured';
    case 'EACCES': // a broadcast without SO_BROADCAST, or a firewall REJECT
    case 'EPERM':
      return 'refused';
    default: // ENETUNREACH, EHOSTUNREACH, ENETDOWN
      return 'unreachable';
  }
}

export function createWol(settings: WolSettings, deps: WolDeps): PowerDriver {
  const udp = deps.udp ?? new LinuxUdpSender();
  const interfaces = deps.interfaces ?? linuxInterfaces;
  const password = settings.password === undefined ? undefined : parseSecureOn(settings.password);
  const repeat = settings.repeat ?? 3;
  const pause = (ms: number, signal: AbortSignal): Promise<void> =>
    new Promise((resolve) => {
      const timer = deps.clock.setTimer(ms, () => {
        signal.removeEventListener('abort', onAbort);
        resolve();
      });
      const onAbort = (): void => {
        timer.cancel();
        resolve();
      };
      signal.addEventListener('abort', onAbort, { once: true });
    });

  return {
    method: 'wol',
    async wake(host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
      const mac = parseMac(host.mac);
      if (!mac) return { ok: false, failure: 'misconfigured', detail: `host ${host.name} has no valid MAC (${JSON.stringify(host.mac)})` };
      const chosen = chooseTarget(settings, host, interfaces());
      if (!chosen.ok) return { ok: false, failure: 'misconfigured', detail: chosen.detail };
      const { target } = chosen;
      const packet = encodeMagicPacket(mac, password);
      const where = `${target.address}:${target.port}${target.bindAddress ? ` from ${target.bindAddress}` : ''}`;
      for (let copy = 0; copy < repeat; copy++) {
        if (copy > 0) await pause(REPEAT_SPACING_MS, signal);
        if (signal.aborted) return { ok: false, failure: 'unreachable', detail: `aborted after ${copy} of ${repeat} magic packets to ${where}` };
        try {
          await udp.send(packet, target);
        } catch (error) {
          const code = (error as NodeJS.ErrnoException).code;
          return { ok: false, failure: failureOf(code), detail: `magic packet to ${where}: ${code ?? (error as Error).message}` };
        }
      }
      deps.log.debug('wake-on-LAN sent', { host: host.name, mac: host.mac, target: where, bytes: packet.length, repeat });
      return { ok: true, detail: `${repeat} x ${packet.length}-byte magic packet for ${host.mac} to ${where}` };
    },
  };
}
