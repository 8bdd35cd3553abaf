// The `sync` config section (issue 13): connection-state sync through conntrackd (`sync.conntrack`,
// keys as conntrackd.conf(5) and the primary-backup recipe) and config sync between the pair
// (`sync.config`, added beside it). One schema gives type, errors with paths, defaults, reference.

import { isIP } from 'node:net';
import { optional, s, type Infer, type StringRule } from '../config/kit.js';
import { configSyncSchema } from './config-schema.js';

const isIfname: StringRule = (v) =>
  /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,14}$/.test(v) ? undefined : 'must be an interface name (1-15 characters: letters, digits, _ . - @ :)';
const isIpv4: StringRule = (v) => (isIP(v) === 4 ? undefined : 'must be an IPv4 address');
const isMulticast4: StringRule = (v) => {
  if (isIP(v) !== 4) return 'must be an IPv4 multicast address';
  const first = Number(v.split('.')[0]);
  return first >= 224 && first <= 239 ? undefined : 'must be an IPv4 multicast address (224.0.0.0-239.255.255.255)';
};
const isAddressOrPrefix: StringRule = (v) => {
  const [address, prefix, extra] = v.split('/');
  if (extra !== undefined || !address) return 'must be an address or address/prefix';
  const family = isIP(address);
  if (family === 0) return 'must be an address or address/prefix';
  if (prefix === undefined) return undefined;
  if (!/^\d{1,3}$/.test(prefix) || Number(prefix) > (family === 4 ? 32 : 128)) return 'has a bad prefix length';
  return undefined;
};
const isAbsolutePath: StringRule = (v) => (v.startsWith('/') && !v.includes('\0') ? undefined : 'must be an absolute path');
const isZoneName: StringRule = (v) => (/^[A-Za-z0-9_-]{1,32}$/.test(v) ? undefined : 'must be a zone name');

export const CONNTRACK_PROTOCOLS = ['tcp', 'udp', 'icmp', 'icmpv6', 'sctp', 'dccp'] as const;
export type ConntrackProtocol = (typeof CONNTRACK_PROTOCOLS)[number];

export const conntrackSyncSchema = s
  .object({
    interface: optional(
      s.string('an interface name', isIfname).describe('The dedicated sync link. Default: the first interface of the firewall zone named by `zone`.'),
    ),
    zone: optional(s.string('a zone name', isZoneName).describe('Firewall zone of the sync link, used when `interface` or `address` is left out.'), 'sync'),
    address: optional(
      s.string('an IPv4 address', isIpv4).describe("This node's own IPv4 address on the sync link (per node). Default: the sync zone's first IPv4 address."),
    ),
    peer: optional(
      s.string('an IPv4 address', isIpv4).describe("The peer's sync address: FTFW over UDP unicast to it. Without it, IPv4 multicast to `multicastGroup`."),
    ),
    multicastGroup: optional(s.string('an IPv4 multicast address', isMulticast4).describe('Multicast group when no `peer` is set.'), '225.0.0.50'),
    port: optional(s.int(1, 65535).describe('UDP port of the sync messages (multicast Group / UDP Port); the firewall must accept it on the sync link.'), 3780),
    vhid: optional(
      s.int(1, 255).describe("The CARP vhid whose transitions run the primary-backup steps. Default: the first vhid on a LAN-zone interface, else the first `carp` entry's."),
    ),
    protocols: optional(
      s.list(s.enumOf(...CONNTRACK_PROTOCOLS), 1).describe('Protocols whose connections are synced (conntrackd `Filter { Protocol Accept }`).'),
      ['tcp', 'udp', 'icmp', 'icmpv6'],
    ),
    ignore: optional(
      s
        .list(s.string('an address or address/prefix', isAddressOrPrefix))
        .describe("More addresses whose connections are not synced, like the peer's own addresses. The VIPs, this node's addresses, loopback and the sync network are always ignored."),
      [],
    ),
    purgeTimeoutSeconds: optional(s.int(1, 3600).describe('A new BACKUP flushes its kernel table this long after the transition (`-t`), unless it becomes MASTER first.'), 60),
    hashSize: optional(s.int(1024, 16777216).describe('conntrackd cache hash buckets.'), 32768),
    hashLimit: optional(s.int(1024, 67108864).describe('Most entries conntrackd caches; conntrackd asks for >= 2 x nf_conntrack_max.'), 524288),
    runDir: optional(
      s.string('an absolute path', isAbsolutePath).describe("Where conntrackd.conf, its lock and its socket go (tmpfs, never the card; its log lines go to Tandem's log). Default: the control socket's directory.", { requiresRestart: true }),
    ),
    binary: optional(s.string('an absolute path', isAbsolutePath).describe('The conntrackd program.'), '/usr/sbin/conntrackd'),
    restartMinSeconds: optional(s.int(1, 3600).describe('First wait before restarting a conntrackd that exited; doubles up to restartMaxSeconds.'), 1),
    restartMaxSeconds: optional(s.int(1, 3600).describe('Longest wait between restarts.'), 30),
  })
  .describe('Connection-state sync with conntrackd FTFW (Debian package conntrackd): started, supervised and driven by CARP transitions.');

export const syncSchema = s
  .object({
    conntrack: optional(conntrackSyncSchema),
    config: optional(configSyncSchema),
  })
  .describe('Pair sync: connection state and shared config between the CARP peers (issue 13).');

export type SyncConfig = Infer<typeof syncSchema>;
export type ConntrackSyncConfig = Infer<typeof conntrackSyncSchema>;
