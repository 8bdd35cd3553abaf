// IP addresses and prefixes as numbers, for the firewall's checks (does a NAT address belong to
// a zone, do two port forwards overlap) and for writing each address once, in one canonical
// form (RFC 5952 for IPv6), into both renderings.

import { isIP } from 'node:net';

export type Family = 4 | 6;

export interface Prefix {
  family: Family;
  /** The address as written, made canonical (host bits kept). */
  address: string;
  /** Prefix length; 32 or 128 for a single address. */
  length: number;
  /** The address as a number. */
  value: bigint;
}

const BITS: Record<Family, number> = { 4: 32, 6: 128 };

function parseV4(text: string): bigint {
  return text.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function parseV6(text: string): bigint {
  let head = text;
  let tail = '';
  // An embedded IPv4 tail (::ffff:198.51.100.1) becomes two groups.
  const lastColon = text.lastIndexOf(':');
  if (text.includes('.', lastColon)) {
    const v4 = parseV4(text.slice(lastColon + 1));
    head = text.slice(0, lastColon + 1) + ((v4 >> 16n) & 0xffffn).toString(16) + ':' + (v4 & 0xffffn).toString(16);
  }
  const double = head.indexOf('::');
  let groups: string[];
  if (double >= 0) {
    const left = head.slice(0, double).split(':').filter(Boolean);
    tail = head.slice(double + 2);
    const right = tail.split(':').filter(Boolean);
    groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  } else {
    groups = head.split(':');
  }
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

export function formatAddress(family: Family, value: bigint): string {
  if (family === 4) {
    return [24n, 16n, 8n, 0n].map((shift) => String((value >> shift) & 0xffn)).join('.');
  }
  const groups = Array.from({ length: 8 }, (_, i) => Number((value >> BigInt(112 - 16 * i)) & 0xffffn));
  // RFC 5952: the longest run (of two or more) of zero groups becomes "::", the first on a tie.
  let bestStart = -1;
  let bestLength = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLength) {
      bestStart = i;
      bestLength = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLength).join(':')}`;
}

/** Parses "198.51.100.7", "198.51.100.0/24", "2001:db8::/32"; undefined when it is none of them. */
export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = isIP(address);
  if (family !== 4 && family !== 6) return undefined;
  let length = BITS[family];
  if (slash >= 0) {
    const lengthText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lengthText)) return undefined;
    length = Number(lengthText);
    if (length > BITS[family]) return undefined;
  }
  const value = family === 4 ? parseV4(address) : parseV6(address);
  return { family, address: formatAddress(family, value), length, value };
}

function mask(family: Family, length: number): bigint {
  const bits = BigInt(BITS[family]);
  const all = (1n << bits) - 1n;
  return length === 0 ? 0n : (all >> (bits - BigInt(length))) << (bits - BigInt(length));
}

/** The network a prefix lies in, canonical: "198.51.100.7/24" → "198.51.100.0/24". */
export function networkOf(prefix: Prefix): string {
  const network = prefix.value & mask(prefix.family, prefix.length);
  return `${formatAddress(prefix.family, network)}/${prefix.length}`;
}

/** Canonical text: a single address without its /32 or /128, a network as network/length. */
export function canonical(prefix: Prefix): string {
  return prefix.length === BITS[prefix.family] ? prefix.address : networkOf(prefix);
}

export function isSingleAddress(prefix: Prefix): boolean {
  return prefix.length === BITS[prefix.family];
}

/** Whether two prefixes share at least one address. */
export function overlaps(a: Prefix, b: Prefix): boolean {
  if (a.family !== b.family) return false;
  const shorter = Math.min(a.length, b.length);
  const m = mask(a.family, shorter);
  return (a.value & m) === (b.value & m);
}

/** Whether `inner` lies wholly inside `outer`. */
export function contains(outer: Prefix, inner: Prefix): boolean {
  return outer.family === inner.family && outer.length <= inner.length && overlaps(outer, inner);
}

/**
 * The members of `texts` that no other member covers, in their order, each once: what an
 * nftables interval set holds without `auto-merge` (which would fuse neighbours into ranges
 * that a later one-element delete cannot find). CIDR blocks nest or are disjoint, so one sweep
 * in address order finds the covered ones.
 */
export function uncovered(texts: readonly string[]): string[] {
  // Canonical single addresses (no '/') cannot cover each other: only repeats go.
  if (texts.every((t) => !t.includes('/'))) return [...new Set(texts)];
  const parsed = [...new Set(texts)].map((text) => ({ text, p: parsePrefix(text)! }));
  if (parsed.every(({ p }) => isSingleAddress(p))) return parsed.map(({ text }) => text);
  const covered = new Set<string>();
  for (const family of [4, 6] as Family[]) {
    const bits = BigInt(BITS[family]);
    const spans = parsed
      .filter(({ p }) => p.family === family)
      .map(({ text, p }) => {
        const start = p.value & mask(family, p.length);
        return { text, start, end: start + (1n << (bits - BigInt(p.length))) - 1n, length: p.length };
      })
      .sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : a.length - b.length));
    let coverEnd = -1n;
    for (const s of spans) {
      if (s.end <= coverEnd) covered.add(s.text);
      else coverEnd = s.end;
    }
  }
  return parsed.filter(({ text }) => !covered.has(text)).map(({ text }) => text);
}
