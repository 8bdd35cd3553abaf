// The policy model: the `firewall` config section compiled into what both renderers need —
// zones resolved to interfaces and networks, VIPs to addresses, ports to ranges, the HA rules
// added — and every check of meaning across fields, each with its config path
// (`firewall.rules[3].to.port: tcp/udp only, rule has proto icmp`). Pure: config in, data out.

import type { ConfigIssue } from '../config/kit.js';
import { canonical, isSingleAddress, networkOf, overlaps, parsePrefix, type Family, type Prefix } from './addresses.js';
import { parsePortItem, type EndpointConfig, type FirewallConfig, type ForwardConfig, type NatConfig, type RuleConfig } from './schema.js';
import { icmpType, NDP_TYPES, protocol, type IcmpType, type Protocol } from './vocabulary.js';

/** What the compiler needs from the rest of the config. */
export interface FirewallSource {
  node: { name: string };
  carp: readonly { vhid: number; interface: string; addresses: readonly string[] }[];
  firewall?: FirewallConfig | undefined;
  /** A balancer pool that redirects to a table defines that table (empty until it fills it). */
  balancer?: { pools: readonly { redirect?: { table: string } | undefined }[] } | undefined;
}

/** Slots a redirect table gets when only the balancer defines it. */
export const DEFAULT_SLOTS = 64;

export interface Address {
  family: Family;
  /** Canonical: "198.51.100.7", "198.51.100.0/24", "2001:db8::/64". */
  text: string;
  prefix: Prefix;
}

export interface PortRange {
  from: number;
  to: number;
}

export interface Endpoint {
  addresses: Address[];
  tables: string[];
  self: boolean;
  ports: PortRange[];
}

/** Interfaces a rule is bound to; `zone` is set when they are exactly one zone's (a pf macro). */
export interface On {
  zone?: string;
  interfaces: string[];
}

export interface Zone {
  name: string;
  interfaces: string[];
  /** The node's own addresses on the zone, without prefix length. */
  addresses: Address[];
  networks: Address[];
  antispoof: boolean;
}

export interface Table {
  name: string;
  /** Canonical, repeats kept (they weigh in redirects). */
  members: string[];
  /** May hold networks: an nftables interval set; otherwise a hash set of single addresses. */
  networks: boolean;
  slots: number;
  /** Some forward redirects to it: members are single addresses, spread over slots. */
  redirect: boolean;
}

export type Builtin = 'carp' | 'state-sync' | 'anti-lockout' | 'ndp';

export interface FilterRule {
  /** Config path of the rule, or `firewall.ha.<builtin>`. */
  path: string;
  builtin?: Builtin;
  action: 'pass' | 'block';
  direction?: 'in' | 'out';
  quick: boolean;
  on?: On;
  family?: Family;
  protos: Protocol[];
  from: Endpoint;
  to: Endpoint;
  icmpTypes: IcmpType[];
  /** pf `no state`: CARP adverts, pfsync and ND are one-way multicast; nothing to track. */
  stateless: boolean;
  state: { max?: number; maxSrcConn?: number };
  log: boolean;
  label?: string;
}

export type NatTarget = { kind: 'address'; byFamily: Partial<Record<Family, string>> } | { kind: 'interface' };

export interface NatRule {
  path: string;
  on: On;
  family?: Family;
  protos: Protocol[];
  from: Endpoint;
  to: Endpoint;
  target: NatTarget;
  label?: string;
}

export type ForwardTarget =
  | { kind: 'address'; address: Address; port?: number }
  | { kind: 'table'; table: string; slots: number; port?: number };

export interface Forward {
  path: string;
  name: string;
  on: On;
  protos: Protocol[];
  from: Endpoint;
  to: Endpoint;
  target: ForwardTarget;
  /** Address families this forward translates. */
  families: Family[];
  /** NAT reflection: these zones' clients reach the forward too, and are source-translated to the router. */
  reflection?: { on: On; networks: Address[] };
  log: boolean;
  label?: string;
}

export interface Policy {
  node: string;
  zones: Zone[];
  tables: Table[];
  defaults: { in: 'pass' | 'block'; out: 'pass' | 'block' };
  blockPolicy: 'drop' | 'return';
  /** The HA rules, in this order: carp, state sync, anti-lockout, ndp. */
  builtins: FilterRule[];
  antispoof: Zone[];
  rules: FilterRule[];
  nat: NatRule[];
  forwards: Forward[];
}

export type CompileResult = { policy: Policy; issues: [] } | { policy: undefined; issues: ConfigIssue[] };

const BOTH: Family[] = [4, 6];
const familyOf = (name: 'inet' | 'inet6' | undefined): Family | undefined => (name === 'inet' ? 4 : name === 'inet6' ? 6 : undefined);
const familyName = (f: Family) => (f === 4 ? 'IPv4' : 'IPv6');
/** `path` for a one-element list the user may have written as a scalar, else `path[i]`. */
const at = (path: string, list: readonly unknown[], index: number) => (list.length === 1 ? path : `${path}[${index}]`);

function address(text: string): Address {
  const prefix = parsePrefix(text);
  if (!prefix) throw new Error(`not an address: ${text}`);
  return { family: prefix.family, text: canonical(prefix), prefix };
}

function network(text: string): Address {
  const prefix = parsePrefix(text);
  if (!prefix) throw new Error(`not a network: ${text}`);
  const net = parsePrefix(isSingleAddress(prefix) ? prefix.address : networkOf(prefix))!;
  return { family: net.family, text: canonical(net), prefix: net };
}

function unique(list: Address[]): Address[] {
  const seen = new Set<string>();
  return list.filter((a) => (seen.has(a.text) ? false : (seen.add(a.text), true)));
}

function endpointFamilies(e: Endpoint): Set<Family> {
  if (e.tables.length > 0 || e.self || e.addresses.length === 0) return new Set(BOTH);
  return new Set(e.addresses.map((a) => a.family));
}

const ANY: Endpoint = { addresses: [], tables: [], self: false, ports: [] };

/** Compiles the firewall section; `policy` is undefined when there is no section or any issue. */
export function compile(source: FirewallSource): CompileResult {
  const fw = source.firewall;
  if (!fw) return { policy: undefined, issues: [] };
  const issues: ConfigIssue[] = [];
  const issue = (path: string, message: string) => issues.push({ path, message });

  // VIPs by vhid, and which interfaces carry them.
  const vips = new Map<number, Address[]>();
  const vipNetworksByInterface = new Map<string, Address[]>();
  for (const c of source.carp) {
    const list = vips.get(c.vhid) ?? [];
    for (const text of c.addresses) {
      const p = parsePrefix(text);
      if (!p) continue;
      list.push(address(p.address));
      vipNetworksByInterface.set(c.interface, [...(vipNetworksByInterface.get(c.interface) ?? []), network(text)]);
    }
    vips.set(c.vhid, list);
  }
  const vhids = [...vips.keys()].sort((a, b) => a - b);

  // Zones.
  const zones: Zone[] = [];
  const zoneOfInterface = new Map<string, string>();
  for (const [name, z] of Object.entries(fw.zones)) {
    z.interfaces.forEach((ifname, i) => {
      const owner = zoneOfInterface.get(ifname);
      if (owner !== undefined) issue(`firewall.zones.${name}.interfaces[${i}]`, `${ifname} is already in zone ${owner}`);
      else zoneOfInterface.set(ifname, name);
    });
    const own = z.addresses.map((text) => address(parsePrefix(text)!.address));
    const networks = unique([
      ...z.addresses.map(network),
      ...z.interfaces.flatMap((ifname) => vipNetworksByInterface.get(ifname) ?? []),
      ...z.networks.map(network),
    ]);
    if (z.antispoof === true && networks.length === 0) {
      issue(`firewall.zones.${name}.antispoof`, `zone ${name} has no networks to protect (give it addresses or networks)`);
    }
    zones.push({ name, interfaces: [...z.interfaces], addresses: own, networks, antispoof: z.antispoof ?? networks.length > 0 });
  }
  const zoneByName = new Map(zones.map((z) => [z.name, z]));
  const zoneList = zones.map((z) => z.name).join(', ');

  const resolveOn = (names: readonly string[] | undefined, path: string): On | undefined => {
    if (!names) return undefined;
    const interfaces: string[] = [];
    let ok = true;
    names.forEach((name, i) => {
      const z = zoneByName.get(name);
      if (!z) {
        issue(at(path, names, i), `unknown zone "${name}" (zones: ${zoneList})`);
        ok = false;
        return;
      }
      for (const ifname of z.interfaces) if (!interfaces.includes(ifname)) interfaces.push(ifname);
    });
    if (!ok) return undefined;
    return names.length === 1 ? { zone: names[0]!, interfaces } : { interfaces };
  };

  // Tables: which ones forwards redirect to decides what their members may be.
  const redirectTables = new Set(fw.forwards.map((f) => f.rdrTo.table).filter((t): t is string => t !== undefined));
  const tableConfigs: [string, { members: string[]; slots: number; networks: boolean }][] = Object.entries(fw.tables);
  for (const pool of source.balancer?.pools ?? []) {
    const name = pool.redirect?.table;
    if (name !== undefined && !tableConfigs.some(([n]) => n === name)) tableConfigs.push([name, { members: [], slots: DEFAULT_SLOTS, networks: false }]);
  }
  const tables: Table[] = tableConfigs.map(([name, t]) => {
    const redirect = redirectTables.has(name);
    const members = t.members.map((text, i) => {
      const a = address(text);
      if (redirect && !isSingleAddress(a.prefix)) {
        issue(`firewall.tables.${name}.members[${i}]`, `${text} is a network; a table that a forward redirects to holds single addresses`);
      } else if (!t.networks && !isSingleAddress(a.prefix)) {
        issue(`firewall.tables.${name}.members[${i}]`, `${text} is a network; set networks: true to let the table hold networks`);
      }
      return a.text;
    });
    if (redirect && t.networks) issue(`firewall.tables.${name}.networks`, 'a table that a forward redirects to holds single addresses');
    const distinct = new Set(members).size;
    if (redirect && distinct > t.slots) {
      issue(`firewall.tables.${name}.members`, `${distinct} distinct members exceed the table's ${t.slots} slots`);
    }
    return { name, members, networks: t.networks, slots: t.slots, redirect };
  });
  const tableNames = new Set(tables.map((t) => t.name));
  const unknownTable = (path: string, name: string) =>
    issue(path, `table "${name}" is not defined in firewall.tables${tableNames.size ? ` (tables: ${[...tableNames].join(', ')})` : ''}`);

  const resolveEndpoint = (e: EndpointConfig | undefined, path: string): Endpoint => {
    if (!e) return ANY;
    const addresses: Address[] = (e.address ?? []).map(address);
    (e.zone ?? []).forEach((name, i) => {
      const z = zoneByName.get(name);
      if (!z) issue(at(`${path}.zone`, e.zone!, i), `unknown zone "${name}" (zones: ${zoneList})`);
      else if (z.networks.length === 0) issue(at(`${path}.zone`, e.zone!, i), `zone ${name} has no networks (give it addresses or networks)`);
      else addresses.push(...z.networks);
    });
    (e.vip ?? []).forEach((vhid, i) => {
      const list = vips.get(vhid);
      if (!list) issue(at(`${path}.vip`, e.vip!, i), `no CARP vhost has vhid ${vhid}${vhids.length ? ` (vhids: ${vhids.join(', ')})` : ''}`);
      else addresses.push(...list);
    });
    (e.table ?? []).forEach((name, i) => {
      if (!tableNames.has(name)) unknownTable(at(`${path}.table`, e.table!, i), name);
    });
    const ports = (e.port ?? []).map((p) => parsePortItem(p)!);
    return { addresses: unique(addresses), tables: [...new Set(e.table ?? [])], self: e.self ?? false, ports };
  };

  const protosOf = (names: readonly string[] | undefined) => (names ?? []).map(protocol);

  /** Ports need TCP or UDP: pfctl says "port only applies to tcp/udp". */
  const checkPorts = (protos: Protocol[], e: EndpointConfig | undefined, path: string) => {
    if (!e?.port) return;
    const other = protos.find((p) => !p.ports);
    if (protos.length === 0) issue(`${path}.port`, 'tcp/udp only, rule has no proto');
    else if (other) issue(`${path}.port`, `tcp/udp only, rule has proto ${other.name}`);
  };

  const checkFamilies = (family: Family | undefined, protos: Protocol[], from: Endpoint, to: Endpoint, path: string): Family[] => {
    let viable = new Set<Family>(family ? [family] : BOTH);
    const specific = protos.filter((p) => p.family !== undefined);
    if (protos.length > 0 && specific.length === protos.length) {
      const protoFamilies = new Set(specific.map((p) => p.family!));
      const conflicting = [...viable].every((f) => !protoFamilies.has(f));
      if (conflicting) {
        issue(`${path}.proto`, `${specific[0]!.name} is ${familyName(specific[0]!.family!)} only, rule has family ${family === 4 ? 'inet' : 'inet6'}`);
        return [];
      }
      viable = new Set([...viable].filter((f) => protoFamilies.has(f)));
    }
    const fromF = endpointFamilies(from);
    const toF = endpointFamilies(to);
    const left = [...viable].filter((f) => fromF.has(f) && toF.has(f));
    if (left.length === 0) {
      const describe = (set: Set<Family>) => [...set].map(familyName).join(' and ');
      issue(path, `no address family fits: ${family || specific.length ? `the rule is ${[...viable].map(familyName).join(' and ')}, ` : ''}from is ${describe(fromF)}, to is ${describe(toF)}`);
    }
    return left;
  };

  // User rules.
  const rules: FilterRule[] = fw.rules.map((r: RuleConfig, index) => {
    const path = `firewall.rules[${index}]`;
    const on = r.on ? (resolveOn(r.on, `${path}.on`) ?? { interfaces: [] }) : undefined;
    const protos = protosOf(r.proto);
    const from = resolveEndpoint(r.from, `${path}.from`);
    const to = resolveEndpoint(r.to, `${path}.to`);
    checkPorts(protos, r.from, `${path}.from`);
    checkPorts(protos, r.to, `${path}.to`);
    const family = familyOf(r.family);
    const icmpTypes = (r.icmpType ?? []).map(icmpType);
    if (icmpTypes.length > 0) {
      const icmps = protos.filter((p) => p.name === 'icmp' || p.name === 'icmp6');
      const other = protos.find((p) => p.name !== 'icmp' && p.name !== 'icmp6');
      if (icmps.length === 0 || other) {
        issue(`${path}.icmpType`, `icmp/icmp6 only, rule has ${other ? `proto ${other.name}` : 'no proto'}`);
      } else {
        icmpTypes.forEach((t, i) => {
          const fits = icmps.some((p) => (p.name === 'icmp' ? t.v4 : t.v6));
          if (!fits) issue(at(`${path}.icmpType`, icmpTypes, i), `${t.name} is not an ${icmps.map((p) => (p.name === 'icmp' ? 'ICMP' : 'ICMPv6')).join(' or ')} type`);
        });
      }
    }
    if (r.state && r.action !== 'pass') issue(`${path}.state`, 'state options apply to pass rules only');
    checkFamilies(family, protos, from, to, path);
    return {
      path,
      action: r.action,
      ...(r.direction ? { direction: r.direction } : {}),
      quick: r.quick,
      ...(on ? { on } : {}),
      ...(family ? { family } : {}),
      protos,
      from,
      to,
      icmpTypes,
      stateless: false,
      state: { ...(r.state?.max ? { max: r.state.max } : {}), ...(r.state?.maxSrcConn ? { maxSrcConn: r.state.maxSrcConn } : {}) },
      log: r.log,
      ...(r.label ? { label: r.label } : {}),
    };
  });

  // Outbound NAT.
  const ownAddresses = new Map<string, string>();
  for (const z of zones) for (const a of z.addresses) ownAddresses.set(a.text, `zone ${z.name}`);
  const nat: NatRule[] = fw.nat.map((n: NatConfig, index) => {
    const path = `firewall.nat[${index}]`;
    const on = resolveOn(n.on, `${path}.on`) ?? { interfaces: [] };
    const protos = protosOf(n.proto);
    const from = resolveEndpoint(n.from, `${path}.from`);
    const to = resolveEndpoint(n.to, `${path}.to`);
    checkPorts(protos, n.from, `${path}.from`);
    checkPorts(protos, n.to, `${path}.to`);
    const family = familyOf(n.family);
    const given = (['vip', 'address', 'interface'] as const).filter((k) => n.natTo[k] !== undefined && n.natTo[k] !== false);
    let target: NatTarget = { kind: 'interface' };
    if (given.length !== 1) {
      issue(`${path}.natTo`, `give exactly one of vip, address, interface${given.length ? ` (got ${given.join(' and ')})` : ''}`);
    } else if (n.natTo.vip !== undefined) {
      const list = vips.get(n.natTo.vip);
      if (!list) issue(`${path}.natTo.vip`, `no CARP vhost has vhid ${n.natTo.vip}${vhids.length ? ` (vhids: ${vhids.join(', ')})` : ''}`);
      const byFamily: Partial<Record<Family, string>> = {};
      for (const a of list ?? []) byFamily[a.family] ??= a.text;
      target = { kind: 'address', byFamily };
    } else if (n.natTo.address !== undefined) {
      const a = address(n.natTo.address);
      const isVip = [...vips.values()].some((l) => l.some((v) => v.text === a.text));
      if (!isVip && !ownAddresses.has(a.text)) {
        issue(`${path}.natTo.address`, `${a.text} is not a CARP virtual address or an address of a zone`);
      }
      target = { kind: 'address', byFamily: { [a.family]: a.text } };
    }
    if (target.kind === 'address' && given.length === 1 && issues.every((i) => !i.path.startsWith(`${path}.natTo`))) {
      const families = checkFamilies(family, protos, from, to, path);
      const translatable = families.filter((f) => target.kind === 'address' && target.byFamily[f] !== undefined);
      if (families.length > 0 && translatable.length === 0) {
        issue(`${path}.natTo`, `has no ${families.map(familyName).join(' or ')} address for the sources it would translate`);
      }
    }
    return { path, on, ...(family ? { family } : {}), protos, from, to, target, ...(n.label ? { label: n.label } : {}) };
  });

  // Port forwards.
  const names = new Map<string, number>();
  const forwards: Forward[] = fw.forwards.map((f: ForwardConfig, index) => {
    const path = `firewall.forwards[${index}]`;
    const name = f.name ?? `forward${index}`;
    const taken = names.get(name);
    if (taken !== undefined) issue(`${path}.name`, `"${name}" already names firewall.forwards[${taken}]`);
    else names.set(name, index);
    const on = resolveOn(f.on, `${path}.on`) ?? { interfaces: [] };
    const protos = protosOf(f.proto);
    const from = resolveEndpoint(f.from, `${path}.from`);
    const to = resolveEndpoint(f.to, `${path}.to`);
    checkPorts(protos, f.from, `${path}.from`);
    const given = (['address', 'table'] as const).filter((k) => f.rdrTo[k] !== undefined);
    let target: ForwardTarget = { kind: 'table', table: '', slots: 0 };
    let families: Family[] = [];
    const port = f.rdrTo.port !== undefined ? { port: f.rdrTo.port } : {};
    if (given.length !== 1) {
      issue(`${path}.rdrTo`, `give exactly one of address, table${given.length ? ' (got both)' : ''}`);
    } else if (f.rdrTo.address !== undefined) {
      const a = address(f.rdrTo.address);
      target = { kind: 'address', address: a, ...port };
      families = checkFamilies(a.family, protos, from, to, path);
    } else {
      const table = f.rdrTo.table!;
      if (!tableNames.has(table)) unknownTable(`${path}.rdrTo.table`, table);
      target = { kind: 'table', table, slots: tables.find((t) => t.name === table)?.slots ?? DEFAULT_SLOTS, ...port };
      families = checkFamilies(undefined, protos, from, to, path);
    }
    let reflection: Forward['reflection'];
    if (f.reflection) {
      const reflectOn = resolveOn(f.reflection, `${path}.reflection`);
      const networks: Address[] = [];
      f.reflection.forEach((zone, i) => {
        const where = at(`${path}.reflection`, f.reflection!, i);
        const z = zoneByName.get(zone);
        if (!z) return;
        if (f.on.includes(zone)) issue(where, `zone ${zone} is already in on: its packets are forwarded without reflection`);
        else if (z.networks.length === 0) issue(where, `zone ${zone} has no networks to reflect for (give it addresses or networks)`);
        networks.push(...z.networks);
      });
      if (reflectOn) reflection = { on: reflectOn, networks };
    }
    return { path, name, on, protos, from, to, target, families, ...(reflection ? { reflection } : {}), log: f.log, ...(f.label ? { label: f.label } : {}) };
  });
  checkOverlaps(forwards, issues);

  // The HA rules nobody has to remember.
  const builtins: FilterRule[] = [];
  const base = { quick: true, from: ANY, to: ANY, icmpTypes: [], state: {}, log: false, stateless: true, action: 'pass' as const };
  const carpInterfaces = [...new Set(source.carp.map((c) => c.interface))];
  if (fw.ha.carp && carpInterfaces.length > 0) {
    const zone = zones.find((z) => z.interfaces.length === carpInterfaces.length && carpInterfaces.every((i) => z.interfaces.includes(i)));
    builtins.push({
      ...base,
      path: 'firewall.ha.carp',
      builtin: 'carp',
      on: zone ? { zone: zone.name, interfaces: carpInterfaces } : { interfaces: carpInterfaces },
      protos: [protocol('carp')],
      label: 'tandem: carp',
    });
  }
  const syncZone = fw.ha.syncZone ?? (zoneByName.has('sync') ? 'sync' : undefined);
  if (fw.ha.syncZone !== undefined && !zoneByName.has(fw.ha.syncZone)) {
    issue('firewall.ha.syncZone', `unknown zone "${fw.ha.syncZone}" (zones: ${zoneList})`);
  } else if (fw.ha.stateSync && syncZone) {
    const on = resolveOn([syncZone], 'firewall.ha.syncZone')!;
    builtins.push({ ...base, path: 'firewall.ha.stateSync', builtin: 'state-sync', on, protos: [protocol('pfsync')], label: 'tandem: state sync' });
    builtins.push({
      ...base,
      stateless: false,
      path: 'firewall.ha.stateSync',
      builtin: 'state-sync',
      on,
      protos: [protocol('udp')],
      to: { ...ANY, ports: [{ from: 3780, to: 3780 }] },
      label: 'tandem: state sync',
    });
  }
  const managementZone = fw.ha.managementZone ?? (zoneByName.has('mgmt') ? 'mgmt' : zoneByName.has('lan') ? 'lan' : undefined);
  if (fw.ha.managementZone !== undefined && !zoneByName.has(fw.ha.managementZone)) {
    issue('firewall.ha.managementZone', `unknown zone "${fw.ha.managementZone}" (zones: ${zoneList})`);
  } else if (fw.ha.antiLockout && !managementZone) {
    issue('firewall.ha.antiLockout', 'no zone "mgmt" or "lan" to keep SSH and the web UI reachable from; name one with managementZone, or set antiLockout: false');
  } else if (fw.ha.antiLockout && managementZone && fw.ha.managementPorts.length > 0) {
    builtins.push({
      ...base,
      stateless: false,
      path: 'firewall.ha.antiLockout',
      builtin: 'anti-lockout',
      direction: 'in',
      on: resolveOn([managementZone], 'firewall.ha.managementZone')!,
      protos: [protocol('tcp')],
      to: { ...ANY, self: true, ports: [...new Set(fw.ha.managementPorts)].map((p) => ({ from: p, to: p })) },
      label: 'tandem: anti-lockout',
    });
  }
  if (fw.ha.ndp) {
    builtins.push({ ...base, path: 'firewall.ha.ndp', builtin: 'ndp', family: 6, protos: [protocol('icmp6')], icmpTypes: NDP_TYPES.map(icmpType), label: 'tandem: ndp' });
  }

  if (issues.length > 0) return { policy: undefined, issues };
  return {
    policy: {
      node: source.node.name,
      zones,
      tables,
      defaults: { in: fw.defaults.in, out: fw.defaults.out },
      blockPolicy: fw.blockPolicy,
      builtins,
      antispoof: zones.filter((z) => z.antispoof && z.networks.length > 0),
      rules,
      nat,
      forwards,
    },
    issues: [],
  };
}

/** Two forwards overlap when one packet could match both: the second would never see it. */
function checkOverlaps(forwards: Forward[], issues: ConfigIssue[]): void {
  const intersects = <T>(a: readonly T[], b: readonly T[]) => a.some((x) => b.includes(x));
  const portsOverlap = (a: PortRange[], b: PortRange[]) => a.some((x) => b.some((y) => x.from <= y.to && y.from <= x.to));
  // Unknown contents (tables, self) count as overlapping only with the same table or self.
  const addressesOverlap = (a: Endpoint, b: Endpoint) => {
    const anyA = a.addresses.length === 0 && a.tables.length === 0 && !a.self;
    const anyB = b.addresses.length === 0 && b.tables.length === 0 && !b.self;
    if (anyA || anyB) return true;
    if (a.self && b.self) return true;
    if (intersects(a.tables, b.tables)) return true;
    return a.addresses.some((x) => b.addresses.some((y) => overlaps(x.prefix, y.prefix)));
  };
  for (let j = 1; j < forwards.length; j++) {
    for (let i = 0; i < j; i++) {
      const a = forwards[i]!;
      const b = forwards[j]!;
      if (!intersects(a.on.interfaces, b.on.interfaces)) continue;
      if (!intersects(a.protos.map((p) => p.name), b.protos.map((p) => p.name))) continue;
      if (!intersects(a.families, b.families)) continue;
      if (!portsOverlap(a.to.ports, b.to.ports)) continue;
      if (!addressesOverlap(a.to, b.to) || !addressesOverlap(a.from, b.from)) continue;
      const ports = a.to.ports.map((p) => (p.from === p.to ? `${p.from}` : `${p.from}-${p.to}`)).join(', ');
      issues.push({
        path: `${b.path}.to.port`,
        message: `overlaps ${a.path} (${a.protos.map((p) => p.name).join('/')} port ${ports} on ${a.on.interfaces.join(', ')}): one connection cannot go to both`,
      });
    }
  }
}
