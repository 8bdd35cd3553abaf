// Demand of redirect pools (issue 10, item 4): the kernel forwards their traffic, so Tandem
// counts it in the connection tracking table, whose reply direction names the backend a
// connection was redirected to. Linux: /proc/net/nf_conntrack (this namespace's table), read
// asynchronously; the parser is pure; a fake serves tests.

import { readFile } from 'node:fs/promises';

/** One redirected TCP connection in ESTABLISHED state. */
export interface TrackedFlow {
  /** The original tuple: identifies the connection across reads. */
  key: string;
  /** Where the kernel sent it: the reply direction's source address (canonical form). */
  backend: string;
}

export interface ConntrackPort {
  /** Established TCP connections whose destination was rewritten (DNAT). */
  redirected(): Promise<TrackedFlow[]>;
}

/** 2001:0db8:0000::0001 and 2001:db8::1 are one address; the URL parser writes the canonical form. */
export function canonicalAddress(address: string): string {
  return address.includes(':') ? new URL(`http://[${address}]/`).hostname.slice(1, -1) : address;
}

/**
 * Lines like `ipv4 2 tcp 6 431999 ESTABLISHED src=C dst=VIP sport=P dport=80 src=B dst=R sport=8080
 * dport=P [ASSURED] ...`: the first src/dst pair is the original direction, the second the reply.
 * A connection counts when its reply comes from another address than it was sent to.
 */
export function parseConntrack(text: string): TrackedFlow[] {
  const flows: TrackedFlow[] = [];
  for (const line of text.split('\n')) {
    if (!line.includes(' tcp ') || !line.includes(' ESTABLISHED ')) continue;
    const src = [...line.matchAll(/\bsrc=(\S+)/g)].map((m) => m[1]!);
    const dst = [...line.matchAll(/\bdst=(\S+)/g)].map((m) => m[1]!);
    const sport = /\bsport=(\d+)/.exec(line)?.[1];
    const dport = /\bdport=(\d+)/.exec(line)?.[1];
    if (src.length < 2 || dst.length < 2) continue;
    const origDst = canonicalAddress(dst[0]!);
    const backend = canonicalAddress(src[1]!);
    if (backend === origDst) continue;
    flows.push({ key: `${src[0]}:${sport}>${dst[0]}:${dport}`, backend });
  }
  return flows;
}

export class ProcConntrack implements ConntrackPort {
  constructor(private readonly path = '/proc/net/nf_conntrack') {}

  async redirected(): Promise<TrackedFlow[]> {
    return parseConntrack(await readFile(this.path, 'utf8'));
  }
}

export class FakeConntrack implements ConntrackPort {
  flows: TrackedFlow[] = [];
  failWith: string | undefined;

  async redirected(): Promise<TrackedFlow[]> {
    if (this.failWith) throw new Error(this.failWith);
    return this.flows.map((f) => ({ ...f }));
  }
}
