// The words both renderings share: protocols (numbers from IANA's registry, pf names from
// /etc/protocols on OpenBSD, nft's `meta l4proto` names), ICMP and ICMPv6 types (pf names from
// icmp(4)/icmp6(4) as pf.conf(5) uses them, nft names from nft(8)), and the words pf.conf(5)
// reserves, which zone and table names must avoid because they become macros and tables.

import type { Family } from './addresses.js';

export interface Protocol {
  name: string;
  number: number;
  /** The name pf.conf(5) uses after `proto`. */
  pf: string;
  /** What nft(8) takes after `meta l4proto` (a number where /etc/protocols names differ). */
  nft: string;
  /** TCP and UDP carry ports. */
  ports: boolean;
  /** ICMP is IPv4 only, ICMPv6 IPv6 only. */
  family?: Family;
}

export const PROTOCOLS: readonly Protocol[] = [
  { name: 'tcp', number: 6, pf: 'tcp', nft: 'tcp', ports: true },
  { name: 'udp', number: 17, pf: 'udp', nft: 'udp', ports: true },
  { name: 'icmp', number: 1, pf: 'icmp', nft: 'icmp', ports: false, family: 4 },
  { name: 'icmp6', number: 58, pf: 'icmp6', nft: 'ipv6-icmp', ports: false, family: 6 },
  { name: 'carp', number: 112, pf: 'carp', nft: '112', ports: false },
  { name: 'pfsync', number: 240, pf: 'pfsync', nft: '240', ports: false },
  { name: 'esp', number: 50, pf: 'esp', nft: 'esp', ports: false },
  { name: 'ah', number: 51, pf: 'ah', nft: 'ah', ports: false },
  { name: 'gre', number: 47, pf: 'gre', nft: 'gre', ports: false },
  { name: 'ospf', number: 89, pf: 'ospf', nft: '89', ports: false },
  { name: 'igmp', number: 2, pf: 'igmp', nft: 'igmp', ports: false, family: 4 },
];

export const PROTOCOL_NAMES = PROTOCOLS.map((p) => p.name);

export function protocol(name: string): Protocol {
  const found = PROTOCOLS.find((p) => p.name === name);
  if (!found) throw new Error(`unknown protocol ${name}`);
  return found;
}

export interface IcmpType {
  /** The config name: nft's, which says what it is. */
  name: string;
  v4?: { number: number; pf: string };
  v6?: { number: number; pf: string };
}

export const ICMP_TYPES: readonly IcmpType[] = [
  { name: 'echo-reply', v4: { number: 0, pf: 'echorep' }, v6: { number: 129, pf: 'echorep' } },
  { name: 'destination-unreachable', v4: { number: 3, pf: 'unreach' }, v6: { number: 1, pf: 'unreach' } },
  { name: 'source-quench', v4: { number: 4, pf: 'squench' } },
  { name: 'redirect', v4: { number: 5, pf: 'redir' } },
  { name: 'echo-request', v4: { number: 8, pf: 'echoreq' }, v6: { number: 128, pf: 'echoreq' } },
  { name: 'router-advertisement', v4: { number: 9, pf: 'routeradv' } },
  { name: 'router-solicitation', v4: { number: 10, pf: 'routersol' } },
  { name: 'time-exceeded', v4: { number: 11, pf: 'timex' }, v6: { number: 3, pf: 'timex' } },
  { name: 'parameter-problem', v4: { number: 12, pf: 'paramprob' }, v6: { number: 4, pf: 'paramprob' } },
  { name: 'timestamp-request', v4: { number: 13, pf: 'timereq' } },
  { name: 'timestamp-reply', v4: { number: 14, pf: 'timerep' } },
  { name: 'packet-too-big', v6: { number: 2, pf: 'toobig' } },
  { name: 'nd-router-solicit', v6: { number: 133, pf: 'routersol' } },
  { name: 'nd-router-advert', v6: { number: 134, pf: 'routeradv' } },
  { name: 'nd-neighbor-solicit', v6: { number: 135, pf: 'neighbrsol' } },
  { name: 'nd-neighbor-advert', v6: { number: 136, pf: 'neighbradv' } },
  { name: 'nd-redirect', v6: { number: 137, pf: 'redir' } },
];

export const ICMP_TYPE_NAMES = ICMP_TYPES.map((t) => t.name);

export function icmpType(name: string): IcmpType {
  const found = ICMP_TYPES.find((t) => t.name === name);
  if (!found) throw new Error(`unknown ICMP type ${name}`);
  return found;
}

/** Neighbour discovery (RFC 4861): without it IPv6, and so IPv6 CARP, stops working. */
export const NDP_TYPES = ['nd-router-solicit', 'nd-router-advert', 'nd-neighbor-solicit', 'nd-neighbor-advert'];

/**
 * Keywords of pf.conf(5)'s grammar. A macro may not be named after one ("Macro names may not
 * be reserved words"), and neither may a table, so zone and table names avoid them.
 */
export const PF_RESERVED = new Set(
  (
    'all allow-opts altq anchor antispoof any bandwidth binat-to bitmask block block-policy burst code const ' +
    'counters debug default delay divert-packet divert-reply divert-to drop dup-to file fingerprints flags ' +
    'floating flows flush for fragment from global group hostid icmp-type icmp6-type if-bound in include inet ' +
    'inet6 keep label least-states limit load log loginterface match max max-mss max-pkt-rate max-src-conn ' +
    'max-src-conn-rate max-src-nodes max-src-states min min-ttl modulate nat-to no no-df no-route no-sync on ' +
    'once optimization os out overload parent pass pflow port prio probability proto qlimit quantum queue quick ' +
    'random random-id rdomain rdr-to reassemble received-on reply-to return return-icmp return-icmp6 return-rst ' +
    'round-robin route route-to rtable rule ruleset-optimization scrub self set skip sloppy source source-hash ' +
    'source-track state state-defaults state-policy static-port sticky-address synproxy syncookies table tag ' +
    'tagged timeout to tos ttl urpf-failed user weight'
  ).split(' '),
);
