// The `balancer` config section: pools of hosts behind one health check each, fed either to a
// firewall table (kernel redirect, relayd's `redirect ... forward to <table>`) or to a userspace
// relay (relayd's `relay`). Field meanings follow relayd.conf(5) where it has one.

import { isIP } from 'node:net';
import { optional, s, type Infer, type StringRule } from '../config/kit.js';

export const isIpAddress: StringRule = (v) => (isIP(v) ? undefined : 'must be an IPv4 or IPv6 address');

const isPoolName: StringRule = (v) =>
  /^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(v) ? undefined : 'must be 1-32 characters: a letter, then letters, digits, _ -';

const isHostName: StringRule = (v) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(v) ? undefined : 'must be 1-63 characters: letters, digits, _ . -';

// Both renderers must accept the name: nftables set names and pf tables (PF_TABLE_NAME_SIZE 32).
export const isTableName: StringRule = (v) =>
  /^[A-Za-z][A-Za-z0-9_]{0,30}$/.test(v) ? undefined : 'must be 1-31 characters: a letter, then letters, digits, _';

export const isAbsolutePath: StringRule = (v) => (v.startsWith('/') && !v.includes('\0') ? undefined : 'must be an absolute path');

const isHttpPath: StringRule = (v) => (/^\/[\x21-\x7e]*$/.test(v) ? undefined : 'must start with / and hold no spaces or control characters');

const isHeaderValue: StringRule = (v) => (/^[\x21-\x7e]+$/.test(v) ? undefined : 'must be printable ASCII without spaces');

export const isRegex: StringRule = (v) => {
  try {
    new RegExp(v);
    return undefined;
  } catch (error) {
    return `is not a regular expression (${(error as Error).message})`;
  }
};

export type DigestAlgorithm = 'sha1' | 'sha256';
const DIGEST_HEX: Record<DigestAlgorithm, number> = { sha1: 40, sha256: 64 };

export function parseDigest(text: string): { algorithm: DigestAlgorithm; hex: string } | undefined {
  const match = /^(sha1|sha256):([0-9a-f]+)$/i.exec(text);
  if (!match) return undefined;
  const algorithm = match[1]!.toLowerCase() as DigestAlgorithm;
  const hex = match[2]!.toLowerCase();
  return hex.length === DIGEST_HEX[algorithm] ? { algorithm, hex } : undefined;
}

const isDigest: StringRule = (v) =>
  parseDigest(v) ? undefined : 'must be sha1:<40 hex digits> or sha256:<64 hex digits>';

/** "198.51.100.100:80" or "[2001:db8::100]:80". */
export function parseListen(text: string): { address: string; port: number; family: 4 | 6 } | undefined {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([0-9.]+)):(\d{1,5})$/.exec(text);
  if (!match) return undefined;
  const address = match[1] ?? match[2]!;
  const family = isIP(address);
  const port = Number(match[3]);
  if (family === 0 || (match[1] !== undefined && family !== 6) || port < 1 || port > 65535) return undefined;
  return { address, port, family: family as 4 | 6 };
}

const isListen: StringRule = (v) =>
  parseListen(v) ? undefined : 'must be address:port, like 198.51.100.100:80 or [2001:db8::100]:80';

export const CHECK_TYPES = ['icmp', 'tcp', 'send-expect', 'http', 'https', 'tls', 'script'] as const;
export type CheckType = (typeof CHECK_TYPES)[number];

export const HOST_MODES = ['active', 'draining', 'maintenance'] as const;
export const ALGORITHMS = ['roundrobin', 'least-connections', 'source-hash', 'random'] as const;
export type Algorithm = (typeof ALGORITHMS)[number];

const tlsOptions = s
  .object({
    verify: optional(s.bool().describe('Verify the certificate chain and name (against `ca` when set, else the system store).'), false),
    ca: optional(s.string('an absolute path', isAbsolutePath).describe('PEM file of the CA certificates to trust when verifying.')),
    servername: optional(s.string('a host name', isHostName).describe('Server name sent in SNI and checked in the certificate.')),
  })
  .describe('TLS settings of https, tls and send-expect checks.');

export const DEFAULT_CHECK = { type: 'tcp' as CheckType, intervalSeconds: 10, timeoutSeconds: 2, downAfter: 3, upAfter: 2 };

const checkSchema = s
  .object({
    type: s
      .enumOf(...CHECK_TYPES)
      .describe('icmp (ping), tcp (connect), send-expect, http, https, tls (handshake) or script (exit code 0 is healthy).'),
    port: optional(s.int(1, 65535).describe("Port to check; default the host's port.")),
    intervalSeconds: optional(s.number(0.1, 3600).describe('Seconds between check rounds; every host of the pool is checked each round.'), 10),
    timeoutSeconds: optional(s.number(0.05, 600).describe('A check not done after this many seconds fails; must be less than the interval.'), 2),
    downAfter: optional(s.int(1, 100).describe('A host goes down after this many failed checks in a row.'), 3),
    upAfter: optional(s.int(1, 100).describe('A host comes back up after this many good checks in a row.'), 2),
    path: optional(s.string('a path', isHttpPath).describe('http/https: the path requested (default /).')),
    method: optional(s.enumOf('GET', 'HEAD').describe('http/https: the request method (default GET).')),
    host: optional(s.string('a host header', isHeaderValue).describe("http/https: the Host header (default the host's address).")),
    status: optional(s.int(100, 599).describe('http/https: the status code a healthy host answers (default 200).')),
    digest: optional(s.string('sha1:HEX or sha256:HEX', isDigest).describe('http/https: digest the response body must have.')),
    match: optional(s.string('a regular expression', isRegex).describe('http/https: a regular expression the response body must match.')),
    send: optional(s.string().describe('send-expect: what to send once connected (YAML escapes such as \\r\\n work in double quotes).')),
    expect: optional(s.string('a regular expression', isRegex).describe('send-expect: a regular expression the reply must match.')),
    tls: optional(tlsOptions),
    script: optional(
      s.string('an absolute path', isAbsolutePath).describe('script: run as `script ADDRESS [PORT]`; exit 0 is healthy (unlike relayd, where 0 is a failure).'),
    ),
  })
  .describe('How the hosts are checked (relayd `check ...`).');

const hostSchema = s.object({
  address: s.string('an IP address', isIpAddress).describe('Address of the host, IPv4 or IPv6.'),
  port: optional(s.int(1, 65535).describe("Port of the service on this host; default the pool's port.")),
  name: optional(s.string('a host name', isHostName).describe('Name in status and telemetry; default the address (with the port when it differs).')),
  weight: optional(s.int(1, 100).describe('Relative share of new connections.'), 1),
  mode: optional(
    s
      .enumOf(...HOST_MODES)
      .describe('active; draining: no new connections, open ones finish; maintenance: no traffic at all, still checked.'),
    'active',
  ),
  maxConnections: optional(s.int(1, 1_000_000).describe('relay: at most this many connections to this host at once.')),
});

const redirectSchema = s
  .object({
    table: s.string('a table name', isTableName).describe('Firewall table (nftables set/map, pf table) that holds the healthy hosts.'),
  })
  .describe('Kernel redirect: the firewall forwards to the table this pool keeps equal to its healthy hosts.');

const relaySchema = s
  .object({
    listen: s.string('address:port', isListen).describe('Where the relay accepts connections, usually a CARP virtual address.'),
    mode: optional(s.enumOf('tcp', 'http').describe('tcp: splice bytes; http: per-request balancing, adds X-Forwarded-For.'), 'tcp'),
    algorithm: optional(s.enumOf(...ALGORITHMS).describe('How a host is chosen for each connection (http: each request).'), 'roundrobin'),
    maxConnections: optional(s.int(1, 1_000_000).describe('Client connections beyond this many are reset at once.'), 4096),
    connectTimeoutSeconds: optional(s.number(0.05, 60).describe('A host that does not accept within this is skipped for the next one.'), 3),
    idleTimeoutSeconds: optional(s.number(0, 86_400).describe('Close a connection idle this long; 0 never does.'), 300),
    retries: optional(s.int(0, 10).describe('Other hosts tried when a host refuses or times out the connect.'), 2),
  })
  .describe('Userspace relay (relayd `relay`): Tandem accepts the connections and forwards them.');

const poolSchema = s.object({
  name: s.string('a pool name', isPoolName).describe('Name in status, telemetry and CARP demotion.'),
  port: optional(s.int(1, 65535).describe('Default port of the hosts.')),
  hosts: s.list(hostSchema.describe('One backend host.'), 1).describe('The backend hosts.'),
  check: optional(checkSchema, DEFAULT_CHECK),
  demote: optional(
    s.int(0, 255).describe("Add this to the node's CARP demotion while every host that should serve is down (relayd `demote`); 0: never."),
    1,
  ),
  redirect: optional(redirectSchema),
  relay: optional(relaySchema),
});

export const balancerSchema = s
  .object({
    pools: optional(s.list(poolSchema.describe('One pool of hosts serving one service.')).describe('Load-balanced pools.'), []),
  })
  .describe('Load balancing over health-checked pools (relayd).');

export const DEFAULT_BALANCER: BalancerConfig = { pools: [] };

export type BalancerConfig = Infer<typeof balancerSchema>;
export type PoolConfig = BalancerConfig['pools'][number];
export type HostConfig = PoolConfig['hosts'][number];
export type CheckConfig = PoolConfig['check'];
export type RelayConfig = NonNullable<PoolConfig['relay']>;
export type TlsConfig = NonNullable<CheckConfig['tls']>;
export type HostMode = (typeof HOST_MODES)[number];
