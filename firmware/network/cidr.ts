// Address arithmetic for the network planner: addresses as bigints, so "is this gateway on one
// of my subnets" and "is this route's destination a network address" are exact for IPv4 and
// IPv6 alike (RFC 4291 section 2.2 text forms, including `::` and a dotted IPv4 tail).

import { isIP } from 'node:net';

export interface Cidr {
  address: string;
  prefix: number;
  family: 4 | 6;
}

export function parseCidrText(text: string): Cidr | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address, prefix: max, family: family as 4 | 6 };
  const prefixText = text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText) || Number(prefixText) > max) return undefined;
  return { address, prefix: Number(prefixText), family: family as 4 | 6 };
}

export function addressBits(address: string): bigint {
  if (isIP(address) === 4) return address.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
  let text = address;
  // A dotted IPv4 tail (::ffff:198.51.100.1) is two groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = addressBits(dotted[1]!);
    text = `${text.slice(0, dotted.index)}${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? text.split('::') : [text, undefined];
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail ? tail.split(':') : [];
  const zeros = tail === undefined ? 0 : 8 - headGroups.length - tailGroups.length;
  const groups = [...headGroups, ...Array<string>(zeros).fill('0'), ...tailGroups];
  return groups.reduce((acc, group) => (acc << 16n) | BigInt(parseInt(group, 16)), 0n);
}

/** The canonical text of an address, so 2001:0db8::1 and 2001:db8::1 compare equal. */
export function canonicalAddress(address: string): string {
  if (isIP(address) !== 6) return address;
  return new URL(`http://[${address}]/`).hostname.replace(/^\[|\]$/g, '');
}

function hostMask(cidr: Cidr): bigint {
  const width = BigInt(cidr.family === 4 ? 32 : 128);
  return (1n << (width - BigInt(cidr.prefix))) - 1n;
}

/** True when no host bits are set: `ip route` refuses 198.51.100.7/24 as a destination. */
export function isNetworkAddress(cidr: Cidr): boolean {
  return (addressBits(cidr.address) & hostMask(cidr)) === 0n;
}

export function contains(network: Cidr, address: string): boolean {
  const family = isIP(address);
  if (family !== network.family) return false;
  const mask = ~hostMask(network);
  return (addressBits(network.address) & mask) === (addressBits(address) & mask);
}

/** `default`, or the destination in the form `ip -j route` prints it (a host route without /32). */
export function canonicalDestination(to: string): string {
  if (to === 'default') return to;
  const cidr = parseCidrText(to);
  if (!cidr) return to;
  return `${canonicalAddress(cidr.address)}/${cidr.prefix}`;
}
