// A minimal reader for classic libpcap files (not pcapng) with Ethernet framing, enough to pull
// IP protocol 112 datagrams out of a capture together with the IP header fields carp(4) checks.
// Format: https://wiki.wireshark.org/Development/LibpcapFileFormat (24-byte global header,
// 16-byte record headers; magic a1b2c3d4 for microseconds, a1b23c4d for nanoseconds).

import { readFileSync } from 'node:fs';

export const LINKTYPE_ETHERNET = 1;
const ETHERTYPE_IPV4 = 0x0800;
const ETHERTYPE_IPV6 = 0x86dd;
const ETHERTYPE_VLAN = 0x8100;

export interface PcapRecord {
  /** Seconds since the epoch, with the fractional part. */
  time: number;
  /** Captured bytes of the frame. */
  data: Uint8Array;
}

export interface IpPacket {
  frame: number;
  time: number;
  family: 4 | 6;
  source: string;
  destination: string;
  protocol: number;
  /** IPv4 TTL or IPv6 hop limit. */
  ttl: number;
  /** The IP payload, bounded by the IP length field and the captured length. */
  payload: Uint8Array;
}

export function readPcap(bytes: Uint8Array): { linkType: number; records: PcapRecord[] } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.length < 24) throw new Error('pcap: file shorter than its global header');
  const magic = view.getUint32(0, false);
  let little: boolean;
  let nanos: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) little = false;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) little = true;
  else throw new Error(`pcap: unknown magic ${magic.toString(16)} (pcapng is not supported)`);
  nanos = view.getUint32(0, little) === 0xa1b23c4d;
  const linkType = view.getUint32(20, little);
  const records: PcapRecord[] = [];
  let offset = 24;
  while (offset + 16 <= bytes.length) {
    const seconds = view.getUint32(offset, little);
    const fraction = view.getUint32(offset + 4, little);
    const captured = view.getUint32(offset + 8, little);
    offset += 16;
    if (offset + captured > bytes.length) throw new Error(`pcap: record at ${offset - 16} runs past the end`);
    records.push({
      time: seconds + fraction / (nanos ? 1e9 : 1e6),
      data: bytes.subarray(offset, offset + captured),
    });
    offset += captured;
  }
  return { linkType, records };
}

/** Every IPv4/IPv6 datagram in an Ethernet capture (optionally 802.1Q-tagged), in frame order. */
export function ipPackets(bytes: Uint8Array): IpPacket[] {
  const { linkType, records } = readPcap(bytes);
  if (linkType !== LINKTYPE_ETHERNET) throw new Error(`pcap: link type ${linkType} is not Ethernet`);
  const packets: IpPacket[] = [];
  records.forEach((record, index) => {
    const frame = record.data;
    if (frame.length < 14) return;
    let etherType = (frame[12]! << 8) | frame[13]!;
    let offset = 14;
    if (etherType === ETHERTYPE_VLAN && frame.length >= 18) {
      etherType = (frame[16]! << 8) | frame[17]!;
      offset = 18;
    }
    const ip = frame.subarray(offset);
    const base = { frame: index + 1, time: record.time };
    if (etherType === ETHERTYPE_IPV4 && ip.length >= 20 && ip[0]! >> 4 === 4) {
      const headerLength = (ip[0]! & 0x0f) * 4;
      const totalLength = (ip[2]! << 8) | ip[3]!;
      packets.push({
        ...base,
        family: 4,
        source: Array.from(ip.subarray(12, 16)).join('.'),
        destination: Array.from(ip.subarray(16, 20)).join('.'),
        protocol: ip[9]!,
        ttl: ip[8]!,
        payload: ip.subarray(headerLength, Math.min(totalLength, ip.length)),
      });
    } else if (etherType === ETHERTYPE_IPV6 && ip.length >= 40 && ip[0]! >> 4 === 6) {
      // Extension headers are not followed: carp(4) sends none.
      const payloadLength = (ip[4]! << 8) | ip[5]!;
      packets.push({
        ...base,
        family: 6,
        source: ipv6Text(ip.subarray(8, 24)),
        destination: ipv6Text(ip.subarray(24, 40)),
        protocol: ip[6]!,
        ttl: ip[7]!,
        payload: ip.subarray(40, Math.min(40 + payloadLength, ip.length)),
      });
    }
  });
  return packets;
}

export function readCarpPackets(path: string): IpPacket[] {
  return ipPackets(new Uint8Array(readFileSync(path))).filter((p) => p.protocol === 112);
}

function ipv6Text(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}
