// Pure codecs for the raw-packet layer: the IPv4 header that Linux hands to an IPv4 raw
// socket (RFC 791), and the two link-layer announcements a new CARP master sends, a
// gratuitous ARP request (RFC 826, RFC 5227 §3; OpenBSD `arprequest`) and an unsolicited
// Neighbor Advertisement (RFC 4861 §4.4, §7.2.6). No I/O: linux-*.ts send the bytes.
//
// IPv4 header (RFC 791 §3.1), as received:
//   off  size  field
//   0    1     version (high nibble, 4) | IHL in 32-bit words (low nibble, >= 5)
//   1    1     TOS (CARP: 0x10)
//   2    2     total length, header included
//   6    2     flags (DF = 0x4000) | fragment offset
//   8    1     TTL (CARP: must be 255)
//   9    1     protocol (CARP: 112)
//   12   4     source
//   16   4     destination
//
// Gratuitous ARP frame (42 bytes, byte-identical to Linux's own arp_notify announcement;
// drivers pad short frames to the Ethernet minimum on transmit):
//   0  6 dst ff:ff:ff:ff:ff:ff   6  6 src MAC   12 2 EtherType 0x0806
//   14 2 htype 1   16 2 ptype 0x0800   18 1 hlen 6   19 1 plen 4   20 2 op 1 (request)
//   22 6 sender MAC   28 4 sender IP = VIP   32 6 target MAC 0 (RFC 5227)   38 4 target IP = VIP
//
// Unsolicited Neighbor Advertisement frame (86 bytes):
//   0  6 dst 33:33:00:00:00:01   6 6 src MAC   12 2 EtherType 0x86dd
//   14 40 IPv6: version 6, payload length 32, next header 58, hop limit 255,
//         source = the advertised address (as Linux's ndisc_send_unsol_na), dest ff02::1
//   54 1 type 136   55 1 code 0   56 2 checksum (RFC 4443 §2.3, with pseudo-header)
//   58 4 flags: Router 0x80000000 | Solicited 0x40000000 (never here) | Override 0x20000000
//   62 16 target address   78 1 option 2 (target link-layer address)   79 1 length 1 (x8)
//   80 6 MAC

import { isIPv4, isIPv6 } from 'node:net';
import { internetChecksum } from './checksum.js';

export { internetChecksum };

export const ETHERTYPE_IPV4 = 0x0800;
export const ETHERTYPE_ARP = 0x0806;
export const ETHERTYPE_IPV6 = 0x86dd;
export const IPPROTO_ICMPV6 = 58;
export const ICMPV6_NEIGHBOR_ADVERTISEMENT = 136;
export const NA_FLAG_ROUTER = 0x8000_0000;
export const NA_FLAG_SOLICITED = 0x4000_0000;
export const NA_FLAG_OVERRIDE = 0x2000_0000;
export const ND_OPT_TARGET_LINK_LAYER_ADDRESS = 2;
const IPV4_FLAG_DF = 0x4000;
const ARP_FRAME_LENGTH = 14 + 28;
const BROADCAST_MAC = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
/** ff02::1 and its Ethernet mapping 33:33 + low 32 bits (RFC 2464 §7). */
const ALL_NODES = new Uint8Array([0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
const ALL_NODES_MAC = new Uint8Array([0x33, 0x33, 0, 0, 0, 1]);

export type Decoded<T, Reason extends string> = { ok: true; value: T } | { ok: false; reason: Reason };

export interface Ipv4Header {
  headerLength: number;
  tos: number;
  totalLength: number;
  dontFragment: boolean;
  ttl: number;
  protocol: number;
  source: string;
  destination: string;
}

export type Ipv4HeaderError = 'truncated' | 'notIpv4' | 'badHeaderLength' | 'badTotalLength';

/** Decodes the header of a datagram from an IPv4 raw socket; the payload is bytes[headerLength, totalLength). */
export function decodeIpv4Header(bytes: Uint8Array): Decoded<Ipv4Header, Ipv4HeaderError> {
  if (bytes.length < 20) return { ok: false, reason: 'truncated' };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[0]! >> 4 !== 4) return { ok: false, reason: 'notIpv4' };
  const headerLength = (bytes[0]! & 0x0f) * 4;
  if (headerLength < 20) return { ok: false, reason: 'badHeaderLength' };
  if (bytes.length < headerLength) return { ok: false, reason: 'truncated' };
  const totalLength = view.getUint16(2);
  if (totalLength < headerLength) return { ok: false, reason: 'badTotalLength' };
  if (totalLength > bytes.length) return { ok: false, reason: 'truncated' };
  return {
    ok: true,
    value: {
      headerLength,
      tos: bytes[1]!,
      totalLength,
      dontFragment: (view.getUint16(6) & IPV4_FLAG_DF) !== 0,
      ttl: bytes[8]!,
      protocol: bytes[9]!,
      source: formatIpv4(bytes.subarray(12, 16)),
      destination: formatIpv4(bytes.subarray(16, 20)),
    },
  };
}

export interface GratuitousArpInput {
  /** Sender MAC, also the frame's source: the virtual MAC or the interface's own. */
  mac: string;
  /** The IPv4 address being announced (sender IP = target IP). */
  ip: string;
}

export function encodeGratuitousArp({ mac, ip }: GratuitousArpInput): Uint8Array {
  const sender = requireMac(mac);
  const address = requireIpv4(ip);
  const frame = new Uint8Array(ARP_FRAME_LENGTH);
  const view = new DataView(frame.buffer);
  frame.set(BROADCAST_MAC, 0);
  frame.set(sender, 6);
  view.setUint16(12, ETHERTYPE_ARP);
  view.setUint16(14, 1); // hardware type: Ethernet
  view.setUint16(16, ETHERTYPE_IPV4);
  frame[18] = 6;
  frame[19] = 4;
  view.setUint16(20, 1); // op: request, as OpenBSD carp and arping -U send
  frame.set(sender, 22);
  frame.set(address, 28);
  // target MAC (32..37) stays zero
  frame.set(address, 38);
  return frame;
}

export interface UnsolicitedNaInput {
  /** Target link-layer address, also the frame's source MAC. */
  mac: string;
  /** The IPv6 address being announced; also the IPv6 source. */
  ip: string;
  /** Sets the Router flag (RFC 4861 §4.4), for a CARP group that forwards. */
  router?: boolean;
}

export function encodeUnsolicitedNa({ mac, ip, router = false }: UnsolicitedNaInput): Uint8Array {
  const sender = requireMac(mac);
  const target = requireIpv6(ip);
  const icmpLength = 32;
  const frame = new Uint8Array(14 + 40 + icmpLength);
  const view = new DataView(frame.buffer);
  frame.set(ALL_NODES_MAC, 0);
  frame.set(sender, 6);
  view.setUint16(12, ETHERTYPE_IPV6);
  view.setUint32(14, 0x6000_0000); // version 6, traffic class 0, flow label 0
  view.setUint16(18, icmpLength);
  frame[20] = IPPROTO_ICMPV6;
  frame[21] = 255; // hop limit: receivers drop ND with anything else (RFC 4861 §7.1.2)
  frame.set(target, 22);
  frame.set(ALL_NODES, 38);
  const icmp = 54;
  frame[icmp] = ICMPV6_NEIGHBOR_ADVERTISEMENT;
  frame[icmp + 1] = 0;
  view.setUint32(icmp + 4, NA_FLAG_OVERRIDE | (router ? NA_FLAG_ROUTER : 0));
  frame.set(target, icmp + 8);
  frame[icmp + 24] = ND_OPT_TARGET_LINK_LAYER_ADDRESS;
  frame[icmp + 25] = 1;
  frame.set(sender, icmp + 26);
  view.setUint16(icmp + 2, icmpv6Checksum(target, ALL_NODES, frame.subarray(icmp)));
  return frame;
}

/** RFC 4443 §2.3: the Internet checksum over the IPv6 pseudo-header and the ICMPv6 message (checksum field zero). */
export function icmpv6Checksum(source: Uint8Array, destination: Uint8Array, message: Uint8Array): number {
  const pseudo = new Uint8Array(40 + message.length);
  const view = new DataView(pseudo.buffer);
  pseudo.set(source, 0);
  pseudo.set(destination, 16);
  view.setUint32(32, message.length);
  pseudo[39] = IPPROTO_ICMPV6;
  pseudo.set(message, 40);
  return internetChecksum(pseudo);
}

/** "00:00:5e:00:01:2a" (or with dashes) to 6 bytes; undefined when malformed. */
export function parseMac(text: string): Uint8Array | undefined {
  const parts = text.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) return undefined;
  return Uint8Array.from(parts, (p) => parseInt(p, 16));
}

export function formatMac(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 6), (b) => b.toString(16).padStart(2, '0')).join(':');
}

export function parseIpv4(text: string): Uint8Array | undefined {
  if (!isIPv4(text)) return undefined;
  return Uint8Array.from(text.split('.'), Number);
}

export function formatIpv4(bytes: Uint8Array): string {
  return Array.from(bytes.subarray(0, 4)).join('.');
}

/** Textual IPv6 (RFC 4291 §2.2, with "::" and a dotted IPv4 tail; no zone) to 16 bytes. */
export function parseIpv6(text: string): Uint8Array | undefined {
  if (!isIPv6(text) || text.includes('%')) return undefined;
  const groups = (part: string): number[] => {
    if (part === '') return [];
    return part.split(':').flatMap((piece) => {
      if (!piece.includes('.')) return [parseInt(piece, 16)];
      const v4 = parseIpv4(piece)!;
      return [(v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!];
    });
  };
  const gap = text.indexOf('::');
  const head = groups(gap >= 0 ? text.slice(0, gap) : text);
  const tail = gap >= 0 ? groups(text.slice(gap + 2)) : [];
  const all = [...head, ...new Array<number>(8 - head.length - tail.length).fill(0), ...tail];
  const bytes = new Uint8Array(16);
  all.forEach((group, i) => {
    bytes[2 * i] = group >> 8;
    bytes[2 * i + 1] = group & 0xff;
  });
  return bytes;
}

function requireMac(text: string): Uint8Array {
  const mac = parseMac(text);
  if (!mac) throw new RangeError(`not a MAC address: ${JSON.stringify(text)}`);
  if ((mac[0]! & 1) !== 0) throw new RangeError(`not a unicast MAC address: ${text}`);
  return mac;
}

function requireIpv4(text: string): Uint8Array {
  const ip = parseIpv4(text);
  if (!ip) throw new RangeError(`not an IPv4 address: ${JSON.stringify(text)}`);
  return ip;
}

function requireIpv6(text: string): Uint8Array {
  const ip = parseIpv6(text);
  if (!ip) throw new RangeError(`not an IPv6 address: ${JSON.stringify(text)}`);
  return ip;
}
