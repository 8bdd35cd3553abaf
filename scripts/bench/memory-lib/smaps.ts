// Where a process's resident memory sits: /proc/PID/smaps (proc(5)) grouped by what each mapping
// holds — the malloc heap and anonymous arenas, V8's heap pages, executable code, shared
// libraries, thread stacks, the node binary — so a bench can say which part an RSS change is in.

import { readFile } from 'node:fs/promises';

export type Region = 'node binary' | 'shared libs' | 'native addon' | '[heap] (brk malloc)' | 'thread stacks' | 'anon rwx (jit code)' | 'anon rw' | 'other';

export interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  rssKiB: number;
}

/** Parses smaps text into mappings with their Rss. */
export function parseSmaps(text: string): Mapping[] {
  const mappings: Mapping[] = [];
  let current: Mapping | undefined;
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) \S+ \S+ \d+\s*(.*)$/.exec(line);
    if (head) {
      current = { start: BigInt('0x' + head[1]), end: BigInt('0x' + head[2]), perms: head[3]!, path: head[4]!.trim(), rssKiB: 0 };
      mappings.push(current);
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && current) current.rssKiB = Number(rss[1]);
  }
  return mappings;
}

/**
 * Thread stacks are anonymous rw mappings directly above a guard page (---p, no path) of the same
 * process; glibc's pthread stacks look like that. V8 reserves its heap cages as large ---p regions
 * too, so only a guard of at most 64 KiB counts.
 */
export function classify(mappings: Mapping[], nodeBinary: string): Map<Region, number> {
  const sums = new Map<Region, number>();
  const add = (region: Region, kib: number) => sums.set(region, (sums.get(region) ?? 0) + kib);
  for (let i = 0; i < mappings.length; i++) {
    const m = mappings[i]!;
    if (m.rssKiB === 0) continue;
    const previous = mappings[i - 1];
    if (m.path === nodeBinary || m.path.endsWith('/node')) add('node binary', m.rssKiB);
    else if (m.path.endsWith('.node')) add('native addon', m.rssKiB);
    else if (/\.so(\.|$)/.test(m.path)) add('shared libs', m.rssKiB);
    else if (m.path === '[heap]') add('[heap] (brk malloc)', m.rssKiB);
    else if (m.path === '[stack]') add('thread stacks', m.rssKiB);
    else if (m.path === '' && m.perms.startsWith('rwx')) add('anon rwx (jit code)', m.rssKiB);
    else if (m.path === '' && m.perms.startsWith('rw')) {
      const guard = previous && previous.path === '' && previous.perms.startsWith('---') && previous.end === m.start && previous.end - previous.start <= 65536n;
      add(guard ? 'thread stacks' : 'anon rw', m.rssKiB);
    } else add('other', m.rssKiB);
  }
  return sums;
}

export async function smapsOf(pid: number): Promise<Map<Region, number>> {
  const text = await readFile(`/proc/${pid}/smaps`, 'utf8');
  const exe = await readFile(`/proc/${pid}/cmdline`, 'utf8').then((c) => c.split('\0')[0] ?? '');
  return classify(parseSmaps(text), exe);
}

export async function threadsOf(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^Threads:\s+(\d+)/m.exec(text)?.[1] ?? NaN);
}

export async function rssKiBOf(pid: number): Promise<number> {
  const text = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmRSS:\s+(\d+) kB/m.exec(text);
  if (!match) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(match[1]);
}
