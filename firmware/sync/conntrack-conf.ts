// conntrackd.conf for FTFW state sync, rendered as a pure function of the resolved config
// (conntrackd.conf(5), the Debian sync example and /work/shared/reference/conntrackd.md's
// verified recipe), plus the resolution of `sync.conntrack` against the rest of the config
// (sync link, own address, driving vhid) whose failures are config errors with their paths.

import { isIP } from 'node:net';
import { join } from 'node:path';
import type { ConfigIssue } from '../config/kit.js';
import type { TandemConfig } from '../config/schema.js';
import type { ConntrackProtocol, ConntrackSyncConfig } from './schema.js';

export interface ConntrackSetup {
  interface: string;
  address: string;
  /** UDP unicast to this peer; multicast to `group` without it. */
  peer?: string;
  group: string;
  port: number;
  vhid: number;
  /** The carp parent interface of the driving vhid (vhids are unique per interface). */
  vhidInterface: string;
  protocols: ConntrackProtocol[];
  /** Addresses and prefixes never synced: loopback, VIPs, own addresses, the sync net, `ignore`. */
  ignore: string[];
  purgeTimeoutSeconds: number;
  hashSize: number;
  hashLimit: number;
  binary: string;
  restartMinMs: number;
  restartMaxMs: number;
  paths: ConntrackPaths;
}

export interface ConntrackPaths {
  conf: string;
  lock: string;
  socket: string;
}

export function conntrackPaths(runDir: string): ConntrackPaths {
  // Lock and socket must be unique per instance (two daemons sharing a socket stop each other).
  return {
    conf: join(runDir, 'conntrackd.conf'),
    lock: join(runDir, 'conntrackd.lock'),
    socket: join(runDir, 'conntrackd.ctl'),
  };
}

type Resolved = { ok: true; setup: ConntrackSetup } | { ok: false; issues: ConfigIssue[] };

/** Resolves `sync.conntrack` against zones and CARP; undefined when the section is absent. */
export function resolveConntrack(config: TandemConfig): Resolved | undefined {
  const section: ConntrackSyncConfig | undefined = config.sync?.conntrack;
  if (!section) return undefined;
  const at = 'sync.conntrack';
  const issues: ConfigIssue[] = [];
  const zone = config.firewall?.zones?.[section.zone];

  let iface = section.interface;
  if (iface === undefined) {
    if (zone) iface = zone.interfaces[0];
    else issues.push({ path: `${at}.interface`, message: `is required: there is no firewall zone "${section.zone}" to take the sync link from` });
  }
  let address = section.address;
  if (address === undefined) {
    address = zone?.addresses.map((a) => a.split('/')[0]!).find((a) => isIP(a) === 4);
    if (address === undefined) {
      issues.push({ path: `${at}.address`, message: `is required: no IPv4 address of this node on the sync link in firewall zone "${section.zone}"` });
    }
  }
  if (section.peer !== undefined && section.peer === address) {
    issues.push({ path: `${at}.peer`, message: `is this node's own sync address ${address}; it must be the peer's` });
  }
  if (section.restartMaxSeconds < section.restartMinSeconds) {
    issues.push({ path: `${at}.restartMaxSeconds`, message: `must be >= restartMinSeconds (${section.restartMinSeconds})` });
  }

  // The firewall's built-in state-sync rule passes UDP 3780 on its sync zone only.
  const fw = config.firewall;
  if (fw?.ha.stateSync && iface !== undefined) {
    const syncZoneName = fw.ha.syncZone ?? 'sync';
    const syncZone = fw.zones[syncZoneName];
    if (!syncZone?.interfaces.includes(iface)) {
      issues.push({ path: `${at}.interface`, message: `${iface} is not in firewall zone "${syncZoneName}", whose state-sync rule (firewall.ha.stateSync) passes conntrackd's messages; add it there` });
    }
    if (section.port !== 3780) {
      issues.push({ path: `${at}.port`, message: 'firewall.ha.stateSync passes conntrackd on UDP 3780 only; keep 3780, or turn stateSync off and add a rule' });
    }
  }

  const carp = config.carp;
  let driver: { vhid: number; interface: string } | undefined;
  if (section.vhid !== undefined) {
    driver = carp.find((c) => c.vhid === section.vhid);
    if (!driver) issues.push({ path: `${at}.vhid`, message: `no carp entry has vhid ${section.vhid}` });
  } else {
    const lan = config.firewall?.zones?.['lan']?.interfaces ?? [];
    driver = carp.find((c) => lan.includes(c.interface)) ?? carp[0];
    if (!driver) issues.push({ path: `${at}.vhid`, message: 'no carp entry to drive the primary-backup steps: add one or set sync.conntrack.vhid' });
  }
  if (driver && iface !== undefined && driver.interface === iface) {
    issues.push({ path: `${at}.interface`, message: `${iface} carries vhid ${driver.vhid}'s adverts; the sync link must be a dedicated link` });
  }
  const usedByCarp = iface !== undefined && carp.some((c) => c.interface === iface);
  if (usedByCarp && !(driver && driver.interface === iface)) {
    issues.push({ path: `${at}.interface`, message: `${iface} is a carp parent interface; the sync link must be a dedicated link` });
  }
  if (issues.length > 0 || iface === undefined || address === undefined || !driver) return { ok: false, issues };

  const ignore = new Set<string>(['127.0.0.1', '::1']);
  for (const entry of carp) for (const cidr of entry.addresses) ignore.add(cidr.split('/')[0]!);
  for (const z of Object.values(config.firewall?.zones ?? {})) for (const cidr of z.addresses) ignore.add(cidr.split('/')[0]!);
  ignore.add(address);
  if (section.peer) ignore.add(section.peer);
  const syncNet = zone?.addresses.find((a) => a.startsWith(`${address}/`));
  if (syncNet) ignore.add(networkOf(syncNet));
  for (const extra of section.ignore) ignore.add(extra);

  const runDir = section.runDir ?? dirnameOf(config.control.socket);
  return {
    ok: true,
    setup: {
      interface: iface,
      address,
      ...(section.peer !== undefined ? { peer: section.peer } : {}),
      group: section.multicastGroup,
      port: section.port,
      vhid: driver.vhid,
      vhidInterface: driver.interface,
      protocols: [...new Set(section.protocols)],
      ignore: [...ignore],
      purgeTimeoutSeconds: section.purgeTimeoutSeconds,
      hashSize: section.hashSize,
      hashLimit: section.hashLimit,
      binary: section.binary,
      restartMinMs: section.restartMinSeconds * 1000,
      restartMaxMs: section.restartMaxSeconds * 1000,
      paths: conntrackPaths(runDir),
    },
  };
}

/** Config errors of `sync.conntrack` for `tandem check` and reloads. */
export function conntrackConfigIssues(config: TandemConfig): ConfigIssue[] {
  const resolved = resolveConntrack(config);
  return resolved && !resolved.ok ? resolved.issues : [];
}

function dirnameOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash <= 0 ? '/' : path.slice(0, slash);
}

function networkOf(cidr: string): string {
  const [address, prefixText] = cidr.split('/') as [string, string];
  const prefix = Number(prefixText);
  const value = address.split('.').reduce((acc, octet) => acc * 256 + Number(octet), 0);
  const size = 2 ** (32 - prefix);
  const base = Math.floor(value / size) * size;
  const octets = [24, 16, 8, 0].map((shift) => Math.floor(base / 2 ** shift) % 256);
  return `${octets.join('.')}/${prefix}`;
}

const PROTOCOL_WORD: Record<ConntrackProtocol, string> = {
  tcp: 'TCP',
  udp: 'UDP',
  icmp: 'ICMP',
  icmpv6: 'IPv6-ICMP',
  sctp: 'SCTP',
  dccp: 'DCCP',
};

/** conntrackd.conf text; every runtime file under the run directory, never on the card. */
export function renderConntrackdConf(setup: ConntrackSetup): string {
  const lines: string[] = [];
  const push = (indent: number, text: string) => lines.push('\t'.repeat(indent) + text);
  push(0, `# Written by tandem for sync.conntrack (vhid ${setup.vhid} on ${setup.vhidInterface}); edits are overwritten.`);
  push(0, 'Sync {');
  push(1, 'Mode FTFW {');
  // Keep the external cache: the new MASTER commits it into the kernel (-c) on takeover.
  push(2, 'DisableExternalCache off');
  push(2, `PurgeTimeout ${setup.purgeTimeoutSeconds}`);
  push(1, '}');
  if (setup.peer !== undefined) {
    push(1, 'UDP {');
    push(2, `IPv4_address ${setup.address}`);
    push(2, `IPv4_Destination_Address ${setup.peer}`);
    push(2, `Port ${setup.port}`);
  } else {
    push(1, 'Multicast {');
    push(2, `IPv4_address ${setup.group}`);
    push(2, `Group ${setup.port}`);
    push(2, `IPv4_interface ${setup.address}`);
  }
  push(2, `Interface ${setup.interface}`);
  push(2, 'SndSocketBuffer 1249280');
  push(2, 'RcvSocketBuffer 1249280');
  push(2, 'Checksum on');
  push(1, '}');
  push(1, 'Options {');
  // Off: committed TCP entries get BE_LIBERAL, so a stream picked up mid-window is not dropped.
  push(2, 'TCPWindowTracking off');
  push(1, '}');
  push(0, '}');
  push(0, 'General {');
  // Tandem supervises the process itself: foreground, no systemd notify, no syslog.
  push(1, 'Systemd off');
  push(1, `HashSize ${setup.hashSize}`);
  push(1, `HashLimit ${setup.hashLimit}`);
  // No log file to grow on a small tmpfs: in the foreground conntrackd logs to stdout, which
  // the supervisor forwards into Tandem's own log.
  push(1, 'LogFile off');
  push(1, 'Syslog off');
  push(1, `LockFile ${setup.paths.lock}`);
  push(1, 'UNIX {');
  push(2, `Path ${setup.paths.socket}`);
  push(1, '}');
  push(1, 'NetlinkBufferSize 2097152');
  push(1, 'NetlinkBufferSizeMaxGrowth 8388608');
  push(1, 'Filter From Userspace {');
  push(2, 'Protocol Accept {');
  for (const protocol of setup.protocols) push(3, PROTOCOL_WORD[protocol]);
  push(2, '}');
  push(2, 'Address Ignore {');
  for (const entry of setup.ignore) push(3, `${entry.includes(':') ? 'IPv6_address' : 'IPv4_address'} ${entry}`);
  push(2, '}');
  push(1, '}');
  push(0, '}');
  return lines.join('\n') + '\n';
}
