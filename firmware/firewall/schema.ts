// The `firewall` config section: zones of interfaces, default policy, pf-style rules, outbound
// NAT, port forwards, named tables and the HA rules nobody has to remember. Vocabulary follows
// pf.conf(5) (pass/block, in/out, quick, nat-to, rdr-to, tables); checks of meaning across
// fields (unknown zones, ports on ICMP, ...) live in model.ts. This file imports only the kit,
// because config/schema.ts imports it.

import { isIP } from 'node:net';
import { joinPath, ObjectSchema, optional, s, type ConfigIssue, type FieldDoc, type Infer, type Schema, type StringRule } from '../config/kit.js';
import { parsePrefix } from './addresses.js';
import { ICMP_TYPE_NAMES, PF_RESERVED, PROTOCOL_NAMES } from './vocabulary.js';

function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value);
  if (Array.isArray(value)) return 'a list';
  if (value === null) return 'null';
  if (typeof value === 'object') return 'a mapping';
  return String(value);
}

/**
 * A mapping from names the user picks to entries of one shape (`zones.lan`, `tables.web`). It
 * is an ObjectSchema with the single key `<name>`, so the reference documents its entries.
 */
class RecordSchema<T> extends ObjectSchema<{ '<name>': Schema<T> }> {
  constructor(
    private readonly item: Schema<T>,
    private readonly keyRule: StringRule,
    keySummary: string,
  ) {
    super({ '<name>': item });
    (this as { summary: string }).summary = `a mapping of ${keySummary} to mappings`;
  }

  override check(value: unknown, path: string, issues: ConfigIssue[]): never {
    if (value === undefined) {
      if (this.defaultValue !== undefined) return structuredClone(this.defaultValue) as never;
      if (!this.optional) issues.push({ path, message: 'is required (a mapping)' });
      return undefined as never;
    }
    return this.checkPresent(value, path, issues);
  }

  override checkPresent(value: unknown, path: string, issues: ConfigIssue[]): never {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ path, message: `must be a mapping of names, got ${show(value)}` });
      return undefined as never;
    }
    const out: Record<string, T> = {};
    for (const [key, entry] of Object.entries(value as Record<string, unknown>)) {
      const at = joinPath(path, key);
      const problem = this.keyRule(key);
      if (problem) {
        issues.push({ path: at, message: `${problem}, got ${JSON.stringify(key)}` });
        continue;
      }
      const checked = this.item.check(entry, at, issues);
      if (checked !== undefined) out[key] = checked;
    }
    return out as never;
  }
}

function record<T>(item: Schema<T>, keyRule: StringRule, keySummary: string, description: string): Schema<Record<string, T>> {
  return new RecordSchema(item, keyRule, keySummary).describe(description) as unknown as Schema<Record<string, T>>;
}

/** One value or a list of them (`on: wan` or `on: [lan, dmz]`); always a list once checked. */
class OneOrManySchema<T> implements Schema<T[]> {
  readonly kind = 'one-or-many';
  doc: FieldDoc = { description: '' };
  optional = false;
  defaultValue: T[] | undefined = undefined;
  constructor(private readonly item: Schema<T>) {}
  get summary(): string {
    return `${this.item.summary}, or a list of them`;
  }
  describe(description: string): this {
    this.doc = { description };
    return this;
  }
  check(value: unknown, path: string, issues: ConfigIssue[]): T[] | undefined {
    if (value === undefined) {
      if (this.defaultValue !== undefined) return structuredClone(this.defaultValue);
      if (!this.optional) issues.push({ path, message: `is required (${this.summary})` });
      return undefined;
    }
    if (!Array.isArray(value)) {
      const one = this.item.check(value, path, issues);
      return one === undefined ? undefined : [one];
    }
    if (value.length === 0) {
      issues.push({ path, message: 'must not be an empty list (leave the key out instead)' });
      return undefined;
    }
    const out: T[] = [];
    value.forEach((item, index) => {
      const checked = this.item.check(item, joinPath(path, index), issues);
      if (checked !== undefined) out.push(checked);
    });
    return out;
  }
}

function oneOrMany<T>(item: Schema<T>, description: string): OneOrManySchema<T> {
  return new OneOrManySchema(item).describe(description);
}

/** A port (22) or an inclusive range ("8000-8080" or pf's "8000:8080"). */
export type PortItem = number | string;

export function parsePortItem(item: PortItem): { from: number; to: number } | undefined {
  if (typeof item === 'number') return Number.isInteger(item) && item >= 1 && item <= 65535 ? { from: item, to: item } : undefined;
  const match = /^(\d{1,5})(?:\s*[-:]\s*(\d{1,5}))?$/.exec(item);
  if (!match) return undefined;
  const from = Number(match[1]);
  const to = Number(match[2] ?? match[1]);
  if (from < 1 || to > 65535 || from > to) return undefined;
  return { from, to };
}

class PortItemSchema implements Schema<PortItem> {
  readonly kind = 'port';
  readonly summary = 'a port 1-65535 or a range "1000-2000"';
  doc: FieldDoc = { description: '' };
  optional = false;
  defaultValue: PortItem | undefined = undefined;
  check(value: unknown, path: string, issues: ConfigIssue[]): PortItem | undefined {
    if (value === undefined) {
      if (!this.optional) issues.push({ path, message: `is required (${this.summary})` });
      return undefined;
    }
    if ((typeof value === 'number' || typeof value === 'string') && parsePortItem(value)) return value;
    issues.push({ path, message: `must be ${this.summary} (low end first), got ${show(value)}` });
    return undefined;
  }
}

const portItem = new PortItemSchema();

/** Zone names become pf macros (letters, digits, _; no reserved word). */
export const isPolicyName: StringRule = (v) => {
  if (!/^[a-z][a-z0-9_]{0,15}$/.test(v)) return 'must be 1-16 characters: a lowercase letter, then lowercase letters, digits or _';
  if (PF_RESERVED.has(v)) return 'must not be a pf.conf(5) reserved word';
  return undefined;
};

/** Table names are pf tables (PF_TABLE_NAME_SIZE 32) and nft set names; the balancer's alphabet. */
export const isTableName: StringRule = (v) => {
  if (!/^[A-Za-z][A-Za-z0-9_]{0,30}$/.test(v)) return 'must be 1-31 characters: a letter, then letters, digits or _';
  if (PF_RESERVED.has(v)) return 'must not be a pf.conf(5) reserved word';
  return undefined;
};

const isIfname: StringRule = (v) =>
  /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,14}$/.test(v) ? undefined : 'must be an interface name (1-15 characters: letters, digits, _ . - @ :)';

const isPrefix: StringRule = (v) =>
  parsePrefix(v) ? undefined : 'must be an IP address or network, like 198.51.100.7, 198.51.100.0/24 or 2001:db8::/64';

const isCidrAddress: StringRule = (v) => {
  const p = parsePrefix(v);
  return p && v.includes('/') ? undefined : 'must be an address with its prefix length, like 198.51.100.2/24';
};

const isAddress: StringRule = (v) => (isIP(v) ? undefined : 'must be an IPv4 or IPv6 address');

const isLabel: StringRule = (v) =>
  /^[A-Za-z0-9 _.:/+-]{1,63}$/.test(v) ? undefined : 'must be 1-63 characters: letters, digits, space and _ . : / + -';

const zoneName = () => s.string('a zone name', isPolicyName);
const tableName = () => s.string('a table name', isTableName);

function endpoint(description: string) {
  return optional(
    s
      .object({
        address: optional(oneOrMany(s.string('an address or network', isPrefix), 'Addresses and networks, IPv4 and IPv6.')),
        zone: optional(oneOrMany(zoneName(), "The networks of these zones (their addresses' networks, their VIPs' networks and `networks`).")),
        table: optional(oneOrMany(tableName(), 'Addresses in these named tables, as they are at the moment (pf `<table>`).')),
        vip: optional(oneOrMany(s.int(1, 255), 'The virtual addresses of these CARP vhids.')),
        self: optional(s.bool().describe("This router's own addresses (pf `self`).")),
        port: optional(oneOrMany(portItem, 'Ports and ranges; needs proto tcp or udp.')),
      })
      .describe(description),
  );
}

const action = () => s.enumOf('pass', 'block');

const zone = s
  .object({
    interfaces: s.list(s.string('an interface name', isIfname), 1).describe('Interfaces in this zone; an interface belongs to one zone.'),
    addresses: optional(
      s
        .list(s.string('an address/prefix', isCidrAddress))
        .describe("This node's own addresses on the zone's interfaces, with prefix length; their networks are the zone's, and they may be NAT addresses."),
      [],
    ),
    networks: optional(s.list(s.string('a network', isPrefix)).describe('More networks reached through this zone (routed behind it).'), []),
    antispoof: optional(
      s.bool().describe("Drop packets from the zone's networks that arrive on another interface (pf `antispoof`). Default: on when the zone has networks."),
    ),
  })
  .describe('One zone: a group of interfaces that rules name instead of interfaces (pfSense and pf interface groups).');

const table = s
  .object({
    members: optional(
      s
        .list(s.string('an address or network', isPrefix))
        .describe('Initial content; the balancer and the power manager replace it at run time (a repeated address weighs more in a redirect).'),
      [],
    ),
    networks: optional(
      s
        .bool()
        .describe('Whether the table may hold networks as well as single addresses (an nftables interval set, whose updates cost more).'),
      false,
    ),
    slots: optional(
      s
        .int(1, 1024)
        .describe('For a table that a forward redirects to: how many slots nftables spreads new connections over in turn, shared by weight (repeats); at most this many distinct members.'),
      64,
    ),
  })
  .describe('A named address set (pf `table <name>`, an nftables set) that can change at run time without a reload.');

const rule = s
  .object({
    action: action().describe('pass or block (with the block policy).'),
    direction: optional(s.enumOf('in', 'out').describe('in: packets arriving on an interface; out: leaving. Both when left out.')),
    quick: optional(s.bool().describe('Decide at once when the rule matches (pf `quick`); otherwise the last matching rule decides.'), false),
    on: optional(oneOrMany(zoneName(), 'Only on the interfaces of these zones.')),
    family: optional(s.enumOf('inet', 'inet6').describe('Only IPv4 (inet) or IPv6 (inet6).')),
    proto: optional(oneOrMany(s.enumOf(...PROTOCOL_NAMES), 'Only these protocols.')),
    from: endpoint('Source: addresses, zones, tables, VIPs, self, ports; any when left out.'),
    to: endpoint('Destination: addresses, zones, tables, VIPs, self, ports; any when left out.'),
    icmpType: optional(oneOrMany(s.enumOf(...ICMP_TYPE_NAMES), 'ICMP or ICMPv6 types (nft names); needs proto icmp or icmp6.')),
    state: optional(
      s
        .object({
          max: optional(s.int(1, 1_000_000).describe('At most this many connections through this rule at once (pf `max`).')),
          maxSrcConn: optional(s.int(1, 1_000_000).describe('At most this many connections from one source address (pf `max-src-conn`).')),
        })
        .describe('State options of a pass rule (pf `keep state (...)`).'),
    ),
    log: optional(s.bool().describe('Log packets that match (pf `log`, nft `log prefix`).'), false),
    label: optional(s.string('a label', isLabel).describe('A name shown in pf labels and nft comments.')),
  })
  .describe('One filter rule, as in pf.conf(5).');

const nat = s
  .object({
    on: oneOrMany(zoneName(), 'Translate packets leaving through these zones.'),
    family: optional(s.enumOf('inet', 'inet6').describe('Only IPv4 (inet) or IPv6 (inet6).')),
    proto: optional(oneOrMany(s.enumOf(...PROTOCOL_NAMES), 'Only these protocols.')),
    from: endpoint('Sources to translate; any when left out.'),
    to: endpoint('Only towards these destinations; any when left out.'),
    natTo: s
      .object({
        vip: optional(s.int(1, 255).describe('The virtual address of this CARP vhid, so sessions survive failover.')),
        address: optional(s.string('an address', isAddress).describe("A VIP or one of the zones' own addresses.")),
        interface: optional(s.bool().describe("The outgoing interface's own address (pf `($wan)`, nft masquerade).")),
      })
      .describe('The new source address: exactly one of vip, address, interface.'),
    label: optional(s.string('a label', isLabel).describe('A name shown in pf labels and nft comments.')),
  })
  .describe('One outbound NAT rule (pf `match out on ... nat-to`).');

const forward = s
  .object({
    name: optional(s.string('a name', isPolicyName).describe('Names the forward in labels; defaults to forward<index>.')),
    on: oneOrMany(zoneName(), 'Packets arriving through these zones.'),
    proto: optional(oneOrMany(s.enumOf('tcp', 'udp'), 'tcp, udp or both.'), ['tcp']),
    from: endpoint('Only from these sources; any when left out.'),
    to: s
      .object({
        address: optional(oneOrMany(s.string('an address or network', isPrefix), 'Destination addresses.')),
        zone: optional(oneOrMany(zoneName(), 'The networks of these zones.')),
        table: optional(oneOrMany(tableName(), 'Addresses in these tables.')),
        vip: optional(oneOrMany(s.int(1, 255), 'The virtual addresses of these CARP vhids.')),
        self: optional(s.bool().describe("This router's own addresses.")),
        port: oneOrMany(portItem, 'The forwarded ports and ranges.'),
      })
      .describe('What arrives: destination (usually a VIP) and port.'),
    rdrTo: s
      .object({
        address: optional(s.string('an address', isAddress).describe('The inner host.')),
        table: optional(tableName().describe('A table whose members take new connections in turn (pf `rdr-to <table> round-robin`).')),
        port: optional(s.int(1, 65535).describe('The inner port; the same port when left out.')),
      })
      .describe('Where it goes: exactly one of address and table, and optionally a new port.'),
    reflection: optional(
      oneOrMany(
        zoneName(),
        'NAT reflection (hairpin; pfSense\'s "pure NAT"): clients in these zones reach the forward through its outside address too. Their connections are translated both ways, so an inner host in the same zone answers through the router.',
      ),
    ),
    log: optional(s.bool().describe('Log new forwarded connections.'), false),
    label: optional(s.string('a label', isLabel).describe('A name shown in pf labels and nft comments.')),
  })
  .describe('One port forward (pf `pass in ... rdr-to`, nft `dnat`).');

export const firewallSchema = s
  .object({
    zones: record(zone, isPolicyName, 'zone names', 'Zones by name (wan, lan, dmz, sync, mgmt, ...).'),
    defaults: optional(
      s
        .object({
          in: optional(action().describe('What happens to arriving packets that no rule decides.'), 'block'),
          out: optional(action().describe('What happens to leaving packets that no rule decides.'), 'pass'),
        })
        .describe('Default policy per direction.'),
      { in: 'block', out: 'pass' },
    ),
    blockPolicy: optional(s.enumOf('drop', 'return').describe('How block answers: drop silently, or return a TCP RST or ICMP unreachable (pf `set block-policy`).'), 'drop'),
    ha: optional(
      s
        .object({
          carp: optional(s.bool().describe('Pass CARP (protocol 112) on every CARP interface.'), true),
          stateSync: optional(s.bool().describe('Pass state sync (pfsync, protocol 240, and conntrackd, UDP 3780) on the sync zone.'), true),
          syncZone: optional(zoneName().describe('The sync zone; default "sync" when such a zone exists.')),
          antiLockout: optional(s.bool().describe('Keep SSH and the web UI reachable from the management zone, whatever the rules say (as pfSense does).'), true),
          managementZone: optional(zoneName().describe('The management zone; default "mgmt" when it exists, else "lan".')),
          managementPorts: optional(s.list(s.int(1, 65535)).describe('TCP ports the anti-lockout rule keeps open.'), [22, 443]),
          ndp: optional(s.bool().describe('Pass IPv6 neighbour discovery, without which IPv6 and IPv6 CARP stop working.'), true),
        })
        .describe('The HA rules nobody has to remember; each can be turned off.'),
      { carp: true, stateSync: true, antiLockout: true, managementPorts: [22, 443], ndp: true },
    ),
    tables: optional(record(table, isTableName, 'table names', 'Named tables by name; a balancer pool that redirects to a table defines it too.'), {}),
    rules: optional(s.list(rule).describe('Filter rules, in pf order: the last matching rule decides, a quick one at once.'), []),
    nat: optional(s.list(nat).describe('Outbound NAT.'), []),
    forwards: optional(s.list(forward).describe('Port forwards; to a table for the balancer.'), []),
  })
  .describe('The firewall: one policy, rendered to pf.conf and nftables (`tandem firewall render`).');

export type FirewallConfig = Infer<typeof firewallSchema>;
export type RuleConfig = FirewallConfig['rules'][number];
export type NatConfig = FirewallConfig['nat'][number];
export type ForwardConfig = FirewallConfig['forwards'][number];
export type EndpointConfig = NonNullable<RuleConfig['from']>;
