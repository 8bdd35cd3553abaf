// Renders the policy as one nftables table, `table inet tandem`, for `nft -f`. The file starts
// `table inet tandem` / `delete table inet tandem` and then defines the table, so one atomic
// transaction replaces our table (creating it first if absent) and touches nobody else's; NAT
// chains live in the same inet table (kernel 5.2+).
//
// pf's evaluation becomes nft's first match: quick rules keep their order, the other rules are
// reversed (pf's last match is then nft's first), and the default comes last. Rules for
// arriving packets go to chain filter_in (from the input and forward hooks), rules for leaving
// packets to filter_out (from forward and output); pass is `return` (the other direction still
// decides), block is drop or reject. Established and related packets pass before any rule, as
// pf states do. Lists that mix IPv4 and IPv6 split into one rule per family.
//
// Tables and redirects: table T is two sets, T-v4 and T-v6: hash sets of single addresses, or,
// with `networks: true`, interval sets holding the members no other member covers (not
// auto-merge: merged neighbours could not be deleted one by one, so an update could not write
// just its difference; and nft reads every interval set's elements before any element update,
// which is why tables without networks stay hash sets). A forward to
// a table (pf `rdr-to <T> round-robin`) is `dnat ip to numgen inc mod N map @T-slots-v4`, where
// T-slots-v4 is a map of N slots (firewall.tables.T.slots, default 64) filled from the members
// by smooth weighted round-robin (fillSlots): numgen steps through the slots one new connection
// at a time, so connections go to the members in turn, and a member listed twice holds twice the
// slots. The rule never changes when the members do, whatever their number; an update rewrites
// the sets and slot maps in one `nft -f` transaction (renderTableUpdate), so new connections go
// to the new members while established ones keep their conntrack mapping. With no member the
// map is empty and new connections get nowhere (they are not translated, and nothing passes
// them). All of this is verified on Linux 6.x with nft 1.0.6 in
// test/netns/firewall-traffic.test.ts. Names use '-', which table names cannot contain, so
// they never collide.

import { uncovered, type Family } from './addresses.js';
import type { Endpoint, FilterRule, Forward, NatRule, On, Policy, PortRange, Table } from './model.js';
import type { Protocol } from './vocabulary.js';

export const NFT_TABLE = 'tandem';
export const NFT_FAMILY = 'inet';

const setName = (table: string, f: Family) => `${table}-v${f}`;
const slotsName = (table: string, f: Family) => `${table}-slots-v${f}`;
const ipKeyword = (f: Family) => (f === 4 ? 'ip' : 'ip6');
const nfproto = (f: Family) => (f === 4 ? 'ipv4' : 'ipv6');

function set(items: string[]): string {
  return items.length === 1 ? items[0]! : `{ ${items.join(', ')} }`;
}

function portSet(ranges: PortRange[]): string {
  return set(ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)));
}

function ifMatch(keyword: 'iifname' | 'oifname', o: On | undefined, negate = false): string | undefined {
  if (!o) return undefined;
  const names = o.interfaces.map((i) => `"${i}"`);
  return `${keyword} ${negate ? '!= ' : ''}${set(names)}`;
}

/** One way an endpoint can match: an address family (or none) and the expression. */
interface Alternative {
  family?: Family;
  expr?: string;
}

function alternatives(e: Endpoint, side: 'saddr' | 'daddr'): Alternative[] {
  const out: Alternative[] = [];
  for (const f of [4, 6] as Family[]) {
    const addresses = e.addresses.filter((a) => a.family === f).map((a) => a.text);
    if (addresses.length) out.push({ family: f, expr: `${ipKeyword(f)} ${side} ${set(addresses)}` });
  }
  for (const t of e.tables) for (const f of [4, 6] as Family[]) out.push({ family: f, expr: `${ipKeyword(f)} ${side} @${setName(t, f)}` });
  if (e.self) out.push({ expr: `fib ${side} type local` });
  return out.length ? out : [{}];
}

/** Families a protocol list allows: all when any protocol is family-neutral or none is given. */
function protoFamilies(protos: Protocol[]): Family[] {
  if (protos.length === 0 || protos.some((p) => p.family === undefined)) return [4, 6];
  return [...new Set(protos.map((p) => p.family!))];
}

interface Variant {
  family?: Family;
  matches: string[];
}

/**
 * The cross product of source and destination alternatives, each narrowed to the families the
 * rule allows, with protocol, port and ICMP matches; a combination no family fits is dropped.
 */
function variants(
  r: { family?: Family; protos: Protocol[]; from: Endpoint; to: Endpoint; icmpTypes?: FilterRule['icmpTypes'] },
  splitFamilies: boolean,
): Variant[] {
  const allowed = new Set<Family>(r.family ? [r.family] : protoFamilies(r.protos));
  const out: Variant[] = [];
  for (const src of alternatives(r.from, 'saddr')) {
    for (const dst of alternatives(r.to, 'daddr')) {
      const families = [...allowed].filter((f) => (src.family ?? f) === f && (dst.family ?? f) === f);
      if (families.length === 0) continue;
      const icmp = (r.icmpTypes?.length ?? 0) > 0;
      const pinned = src.family ?? dst.family;
      // ICMP types and explicit families need one rule per family.
      const perFamily: (Family | undefined)[] =
        pinned !== undefined ? [pinned] : icmp || splitFamilies || families.length === 1 ? families : [undefined];
      for (const f of perFamily) {
        const matches: string[] = [];
        if (f !== undefined && pinned === undefined && !icmp) matches.push(`meta nfproto ${nfproto(f)}`);
        if (src.expr) matches.push(src.expr);
        if (dst.expr) matches.push(dst.expr);
        const protos = r.protos.filter((p) => f === undefined || p.family === undefined || p.family === f);
        if (r.protos.length && protos.length === 0) continue;
        if (icmp) {
          const types = r.icmpTypes!.filter((t) => (f === 4 ? t.v4 : t.v6)).map((t) => t.name);
          if (types.length === 0) continue;
          matches.push(`${f === 4 ? 'icmp' : 'icmpv6'} type ${set(types)}`);
        } else {
          matches.push(...protoMatches(protos, r.from.ports, r.to.ports));
        }
        out.push({ ...(f !== undefined ? { family: f } : {}), matches });
      }
    }
  }
  return out;
}

function protoMatches(protos: Protocol[], sports: PortRange[], dports: PortRange[]): string[] {
  if (protos.length === 0) return [];
  const withPorts = sports.length > 0 || dports.length > 0;
  if (protos.length === 1 && withPorts) {
    const p = protos[0]!.nft;
    return [...(sports.length ? [`${p} sport ${portSet(sports)}`] : []), ...(dports.length ? [`${p} dport ${portSet(dports)}`] : [])];
  }
  const out = [`meta l4proto ${set(protos.map((p) => p.nft))}`];
  if (sports.length) out.push(`th sport ${portSet(sports)}`);
  if (dports.length) out.push(`th dport ${portSet(dports)}`);
  return out;
}

const comment = (text: string) => `comment "${text}"`;

/** How block answers, as [extra match, verdict] pairs (one rule each). */
function blockVerdicts(policy: Policy, protos: Protocol[]): [string, string][] {
  if (policy.blockPolicy === 'drop') return [['', 'drop']];
  // pf's `return`: a TCP RST for TCP, an ICMP unreachable for the rest.
  if (protos.length > 0 && protos.every((p) => p.name === 'tcp')) return [['', 'reject with tcp reset']];
  if (protos.length > 0 && protos.every((p) => p.name !== 'tcp')) return [['', 'reject']];
  return [
    ['meta l4proto tcp', 'reject with tcp reset'],
    ['', 'reject'],
  ];
}

interface Chains {
  in: string[];
  out: string[];
  sets: string[];
}

function filterLines(policy: Policy, r: FilterRule, direction: 'in' | 'out', chains: Chains): string[] {
  if (r.direction && r.direction !== direction) return [];
  const iface = ifMatch(direction === 'in' ? 'iifname' : 'oifname', r.on);
  const note = comment(r.label ? `${r.path}: ${r.label}` : r.path);
  const lines: string[] = [];
  for (const v of variants(r, r.state.maxSrcConn !== undefined)) {
    const match = [iface, ...v.matches].filter(Boolean).join(' ');
    const log = r.log ? `log prefix "tandem ${r.path}: " ` : '';
    const prefix = match ? `${match} ` : '';
    if (r.action === 'pass') {
      if (r.state.max) lines.push(`${prefix}ct count over ${r.state.max} drop ${note}`);
      if (r.state.maxSrcConn && v.family) {
        const name = `conn-${r.path.replace(/^firewall\./, '').replace(/[[\].]+/g, '-').replace(/-$/, '')}-${direction}-v${v.family}`;
        chains.sets.push(`set ${name} {\n\t\ttype ${v.family === 4 ? 'ipv4_addr' : 'ipv6_addr'}\n\t\tsize 65535\n\t\tflags dynamic\n\t}`);
        lines.push(`${prefix}ct state new add @${name} { ${ipKeyword(v.family)} saddr ct count over ${r.state.maxSrcConn} } drop ${note}`);
      }
      lines.push(`${prefix}${log}return ${note}`);
    } else {
      for (const [extra, verdict] of blockVerdicts(policy, r.protos)) lines.push(`${prefix}${extra ? `${extra} ` : ''}${log}${verdict} ${note}`);
    }
  }
  return lines;
}

function antispoofLines(policy: Policy): string[] {
  const lines: string[] = [];
  for (const z of policy.antispoof) {
    for (const f of [4, 6] as Family[]) {
      const nets = z.networks.filter((n) => n.family === f).map((n) => n.text);
      if (nets.length === 0) continue;
      lines.push(`${ifMatch('iifname', { interfaces: z.interfaces }, true)} ${ipKeyword(f)} saddr ${set(nets)} drop ${comment(`antispoof ${z.name}`)}`);
    }
  }
  return lines;
}

function forwardLines(fw: Forward): { dnat: string[]; accept: string[]; snat: string[] } {
  const dnat: string[] = [];
  const accept: string[] = [];
  const snat: string[] = [];
  // NAT reflection: the same translation for packets from the reflection zones as well.
  const iifs = [ifMatch('iifname', fw.on), ...(fw.reflection ? [ifMatch('iifname', fw.reflection.on)] : [])];
  const note = comment(fw.label ? `${fw.path}: ${fw.label}` : fw.path);
  for (const f of fw.families) {
    const port = fw.target.port !== undefined ? `:${fw.target.port}` : '';
    const to =
      fw.target.kind === 'address'
        ? `dnat ${ipKeyword(f)} to ${f === 6 && port ? `[${fw.target.address.text}]` : fw.target.address.text}${port}`
        : `dnat ${ipKeyword(f)} to numgen inc mod ${fw.target.slots} map @${slotsName(fw.target.table, f)}${port ? ` : ${fw.target.port}` : ''}`;
    const log = fw.log ? `log prefix "tandem ${fw.path}: " ` : '';
    for (const iif of iifs) {
      for (const v of variants({ family: f, protos: fw.protos, from: fw.from, to: fw.to }, true)) {
        dnat.push([iif, ...v.matches, `${log}${to}`, note].filter(Boolean).join(' '));
      }
    }
    // The filter sees the translated packet; it passes what this forward translated.
    const original: string[] = [];
    const addresses = fw.to.addresses.filter((a) => a.family === f).map((a) => a.text);
    const sources = variants({ family: f, protos: [], from: fw.from, to: { addresses: [], tables: [], self: false, ports: [] } }, true);
    const dsts: string[] = [
      ...(addresses.length ? [`ct original ${ipKeyword(f)} daddr ${set(addresses)}`] : []),
      ...fw.to.tables.map((t) => `ct original ${ipKeyword(f)} daddr @${setName(t, f)}`),
    ];
    const l4 = `meta l4proto ${set(fw.protos.map((p) => p.nft))}`;
    const originalPort = `ct original proto-dst ${portSet(fw.to.ports)}`;
    for (const iif of iifs) {
      for (const src of sources) {
        for (const dst of dsts.length ? dsts : [`meta nfproto ${nfproto(f)}`]) {
          original.push(
            [iif, ...src.matches.filter((m) => !m.startsWith('meta nfproto')), l4, dst, originalPort, 'ct status dnat return', note].filter(Boolean).join(' '),
          );
        }
      }
    }
    accept.push(...original);
    // A reflected client and an inner host in the same zone: without the source translated to
    // the router, the host would answer the client directly, from the wrong address.
    const nets = fw.reflection?.networks.filter((n) => n.family === f).map((n) => n.text) ?? [];
    if (fw.reflection && nets.length) {
      for (const dst of dsts.length ? dsts : [`meta nfproto ${nfproto(f)}`]) {
        snat.push([ifMatch('oifname', fw.reflection.on), `${ipKeyword(f)} saddr ${set(nets)}`, l4, 'ct status dnat', dst, originalPort, 'masquerade', note].filter(Boolean).join(' '));
      }
    }
  }
  return { dnat, accept, snat };
}

function natLines(n: NatRule): string[] {
  const oif = ifMatch('oifname', n.on);
  const note = comment(n.label ? `${n.path}: ${n.label}` : n.path);
  const lines: string[] = [];
  if (n.target.kind === 'interface') {
    for (const v of variants(n, false)) lines.push([oif, ...v.matches, 'masquerade', note].filter(Boolean).join(' '));
    return lines;
  }
  for (const f of [4, 6] as Family[]) {
    const address = n.target.byFamily[f];
    if (!address || (n.family && n.family !== f)) continue;
    for (const v of variants({ ...n, family: f }, true)) lines.push([oif, ...v.matches, `snat ${ipKeyword(f)} to ${address}`, note].filter(Boolean).join(' '));
  }
  return lines;
}

/**
 * Fills `slots` slots from `members`, where a member listed k times weighs k: smooth weighted
 * round-robin (nginx's), so equal members alternate (a b c a b c ...) and each member's share
 * of the slots is its share of the weight, within one slot. Distinct members beyond `slots`
 * would get none; callers refuse that.
 */
export function fillSlots(members: readonly string[], slots: number): string[] {
  const weights = new Map<string, number>();
  for (const m of members) weights.set(m, (weights.get(m) ?? 0) + 1);
  if (weights.size === 0) return [];
  const entries = [...weights].map(([member, weight]) => ({ member, weight, current: 0 }));
  const total = members.length;
  const out: string[] = [];
  for (let i = 0; i < slots; i++) {
    let best = entries[0]!;
    for (const e of entries) {
      e.current += e.weight;
      if (e.current > best.current) best = e;
    }
    best.current -= total;
    out.push(best.member);
  }
  return out;
}

const isV6 = (text: string) => text.includes(':');
const ofFamily = (members: readonly string[], f: Family) => members.filter((m) => isV6(m) === (f === 6));

function elements(items: string[]): string {
  return `{ ${items.join(', ')} }`;
}

function tableDefinitions(t: Table, members: readonly string[]): string[] {
  const out: string[] = [];
  for (const f of [4, 6] as Family[]) {
    const unique = uncovered(ofFamily(members, f));
    out.push(
      `set ${setName(t.name, f)} {\n\t\ttype ${f === 4 ? 'ipv4_addr' : 'ipv6_addr'}${t.networks ? '\n\t\tflags interval' : ''}` +
        (unique.length ? `\n\t\telements = ${elements(unique)}` : '') +
        '\n\t}',
    );
  }
  if (t.redirect) {
    for (const f of [4, 6] as Family[]) {
      const slots = fillSlots(ofFamily(members, f), t.slots).map((m, i) => `${i} : ${m}`);
      out.push(
        `map ${slotsName(t.name, f)} {\n\t\ttypeof numgen inc mod ${t.slots} : ${ipKeyword(f)} daddr` +
          (slots.length ? `\n\t\telements = ${elements(slots)}` : '') +
          '\n\t}',
      );
    }
  }
  return out;
}

export interface RenderNftOptions {
  /** Members set at run time (TableUpdater), which win over the config's. */
  members?: ReadonlyMap<string, readonly string[]>;
}

export function renderNft(policy: Policy, options: RenderNftOptions = {}): string {
  const chains: Chains = { in: [], out: [], sets: [] };

  // Quick rules in order, then the rest reversed: pf's last match as nft's first.
  const quick: FilterRule[] = [...policy.builtins.filter((r) => r.quick)];
  const userQuick = policy.rules.filter((r) => r.quick);
  const userLast = policy.rules.filter((r) => !r.quick).reverse();
  const forwards = policy.forwards.map(forwardLines);

  for (const direction of ['in', 'out'] as const) {
    const lines = direction === 'in' ? chains.in : chains.out;
    for (const r of quick) lines.push(...filterLines(policy, r, direction, chains));
    if (direction === 'in') lines.push(...antispoofLines(policy));
    for (const r of userQuick) lines.push(...filterLines(policy, r, direction, chains));
    if (direction === 'in') for (const f of forwards) lines.push(...f.accept);
    for (const r of userLast) lines.push(...filterLines(policy, r, direction, chains));
    const fallback = direction === 'in' ? policy.defaults.in : policy.defaults.out;
    if (fallback === 'block') {
      for (const [extra, verdict] of blockVerdicts(policy, [])) lines.push(`${extra ? `${extra} ` : ''}${verdict} ${comment(`default: block ${direction}`)}`);
    } else {
      lines.push(`# default: pass ${direction}`);
    }
  }

  const out: string[] = [];
  out.push('#!/usr/sbin/nft -f');
  out.push(`# nftables ruleset for node ${policy.node}, rendered by tandem from its config; edit the config, not this file.`);
  out.push(`# It replaces table ${NFT_FAMILY} ${NFT_TABLE} in one transaction and touches no other table.`);
  out.push('');
  out.push(`table ${NFT_FAMILY} ${NFT_TABLE}`);
  out.push(`delete table ${NFT_FAMILY} ${NFT_TABLE}`);
  out.push('');
  out.push(`table ${NFT_FAMILY} ${NFT_TABLE} {`);
  const block = (text: string) => out.push(`\t${text}`, '');
  for (const t of policy.tables) for (const d of tableDefinitions(t, options.members?.get(t.name) ?? t.members)) block(d);
  for (const s of chains.sets) block(s);

  const chain = (name: string, head: string | undefined, lines: string[]) => {
    out.push(`\tchain ${name} {`);
    if (head) out.push(`\t\t${head}`);
    for (const l of lines) out.push(`\t\t${l}`);
    out.push('\t}', '');
  };
  const dnat = forwards.flatMap((f) => f.dnat);
  const snat = [...forwards.flatMap((f) => f.snat), ...policy.nat.flatMap(natLines)];
  if (dnat.length) chain('prerouting', 'type nat hook prerouting priority dstnat; policy accept;', dnat);
  if (snat.length) chain('postrouting', 'type nat hook postrouting priority srcnat; policy accept;', snat);
  chain('input', 'type filter hook input priority filter; policy accept;', [
    'iif "lo" accept',
    'ct state invalid drop',
    'ct state established,related accept',
    'jump filter_in',
  ]);
  chain('forward', 'type filter hook forward priority filter; policy accept;', [
    'ct state invalid drop',
    'ct state established,related accept',
    'jump filter_in',
    'jump filter_out',
  ]);
  chain('output', 'type filter hook output priority filter; policy accept;', ['oif "lo" accept', 'ct state established,related accept', 'jump filter_out']);
  chain('filter_in', undefined, chains.in);
  chain('filter_out', undefined, chains.out);
  out.pop();
  out.push('}');
  return out.join('\n') + '\n';
}

/**
 * The `nft -f` script that makes `next` the members of table `t` in one transaction. With
 * `previous` (what the kernel holds now) only the difference is written, so one address in or
 * out of a 10,000-address table costs one element; without it the sets are flushed and refilled.
 * Slot maps are always rewritten whole (at most 1,024 elements).
 */
export function renderTableUpdate(t: Table, next: readonly string[], previous?: readonly string[]): string {
  const lines: string[] = [];
  const where = `${NFT_FAMILY} ${NFT_TABLE}`;
  for (const f of [4, 6] as Family[]) {
    const want = uncovered(ofFamily(next, f));
    if (previous) {
      const had = new Set(uncovered(ofFamily(previous, f)));
      const wantSet = new Set(want);
      const gone = [...had].filter((m) => !wantSet.has(m));
      const added = want.filter((m) => !had.has(m));
      if (gone.length) lines.push(`delete element ${where} ${setName(t.name, f)} ${elements(gone)}`);
      if (added.length) lines.push(`add element ${where} ${setName(t.name, f)} ${elements(added)}`);
    } else {
      lines.push(`flush set ${where} ${setName(t.name, f)}`);
      if (want.length) lines.push(`add element ${where} ${setName(t.name, f)} ${elements(want)}`);
    }
    if (t.redirect) {
      const slots = fillSlots(ofFamily(next, f), t.slots);
      const before = previous ? fillSlots(ofFamily(previous, f), t.slots) : undefined;
      if (before && before.length === slots.length && before.every((m, i) => m === slots[i])) continue;
      lines.push(`flush map ${where} ${slotsName(t.name, f)}`);
      if (slots.length) lines.push(`add element ${where} ${slotsName(t.name, f)} ${elements(slots.map((m, i) => `${i} : ${m}`))}`);
    }
  }
  return lines.join('\n') + (lines.length ? '\n' : '');
}

/** The script that removes our table and nothing else (the state before Tandem loaded one). */
export function renderRemoval(): string {
  return `table ${NFT_FAMILY} ${NFT_TABLE}\ndelete table ${NFT_FAMILY} ${NFT_TABLE}\n`;
}
