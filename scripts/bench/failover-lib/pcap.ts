// A minimal reader for the classic pcap files tcpdump writes (Ethernet, micro- or nanosecond
// timestamps), reduced to what the failover bench looks at: CARP/VRRP adverts (IP protocol
// 112), ARP and ICMP echo. Times are wall-clock milliseconds (fractional), the clock ping -D
// and Tandem's log use too.

import { readFile } from 'node:fs/promises';

export type FrameKind = 'advert' | 'arp' | 'echoRequest' | 'echoReply' | 'other';

export interface Frame {
  /** Wall-clock ms since the epoch, sub-ms precision. */
  t: number;
  kind: FrameKind;
  srcMac: string;
  /** IPv4 source (adverts, ICMP) or the ARP sender address. */
  srcIp: string;
  /** IPv4 destination or the ARP target address. */
  dstIp: string;
  /** Adverts: 2 = CARP, 3 = VRRPv3. */
  version?: number;
  /** CARP adverts: advbase and advskew. */
  advbase?: number;
  advskew?: number;
  /** ARP: 1 request, 2 reply. */
  arpOp?: number;
}

const MAGIC_MICRO = 0xa1b2c3d4;
const MAGIC_NANO = 0xa1b23c4d;

function mac(b: Buffer, offset: number): string {
  return [...b.subarray(offset, offset + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function ipv4(b: Buffer, offset: number): string {
  return `${b[offset]}.${b[offset + 1]}.${b[offset + 2]}.${b[offset + 3]}`;
}

export function parsePcap(data: Buffer): Frame[] {
  if (data.length < 24) return [];
  let little: boolean;
  let nano: boolean;
  const le = data.readUInt32LE(0);
  const be = data.readUInt32BE(0);
  if (le === MAGIC_MICRO || le === MAGIC_NANO) {
    little = true;
    nano = le === MAGIC_NANO;
  } else if (be === MAGIC_MICRO || be === MAGIC_NANO) {
    little = false;
    nano = be === MAGIC_NANO;
  } else {
    throw new Error('not a pcap file (pcapng is not supported)');
  }
  const u32 = (offset: number) => (little ? data.readUInt32LE(offset) : data.readUInt32BE(offset));
  const linktype = u32(20);
  if (linktype !== 1) throw new Error(`pcap link type ${linktype}, expected Ethernet (1)`);
  const frames: Frame[] = [];
  let offset = 24;
  while (offset + 16 <= data.length) {
    const sec = u32(offset);
    const frac = u32(offset + 4);
    const caplen = u32(offset + 8);
    const start = offset + 16;
    if (start + caplen > data.length) break; // a record cut short by SIGINT
    const t = sec * 1000 + (nano ? frac / 1e6 : frac / 1e3);
    const frame = classify(data.subarray(start, start + caplen), t);
    if (frame) frames.push(frame);
    offset = start + caplen;
  }
  return frames;
}

function classify(b: Buffer, t: number): Frame | undefined {
  if (b.length < 14) return undefined;
  const srcMac = mac(b, 6);
  const ethertype = b.readUInt16BE(12);
  if (ethertype === 0x0806 && b.length >= 42) {
    return { t, kind: 'arp', srcMac, srcIp: ipv4(b, 28), dstIp: ipv4(b, 38), arpOp: b.readUInt16BE(20) };
  }
  if (ethertype !== 0x0800 || b.length < 34) return undefined;
  const ihl = (b[14]! & 0x0f) * 4;
  const proto = b[23]!;
  const srcIp = ipv4(b, 26);
  const dstIp = ipv4(b, 30);
  const l4 = 14 + ihl;
  if (proto === 112 && b.length > l4) {
    const version = b[l4]! >> 4;
    const frame: Frame = { t, kind: 'advert', srcMac, srcIp, dstIp, version };
    if (version === 2 && b.length >= l4 + 6) {
      frame.advskew = b[l4 + 2]!;
      frame.advbase = b[l4 + 5]!;
    }
    return frame;
  }
  if (proto === 1 && b.length > l4) {
    const type = b[l4]!;
    const kind: FrameKind = type === 0 ? 'echoReply' : type === 8 ? 'echoRequest' : 'other';
    return { t, kind, srcMac, srcIp, dstIp };
  }
  return { t, kind: 'other', srcMac, srcIp, dstIp };
}

export async function readPcap(path: string): Promise<Frame[]> {
  return parsePcap(await readFile(path));
}
