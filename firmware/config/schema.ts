// Tandem's configuration schema: the single source of validation, defaults, the README's
// config reference and (later) the UI's forms. Field meanings follow carp(4) and ifconfig(8)
// where CARP is concerned; DESIGN.md's "Config" contract is the shape.

import { isIP } from 'node:net';
import { optional, s, type Infer, type StringRule } from './kit.js';
import { firewallSchema } from '../firewall/schema.js';
import { balancerSchema, DEFAULT_BALANCER } from '../balancer/schema.js';
import { powerSchema } from '../power/schema.js';
import { telemetrySchema } from '../telemetry/schema.js';
import { syncSchema } from '../sync/schema.js';
import { apiSchema } from '../api/schema.js';
import { networkSchema } from '../network/schema.js';
import { boardSchema } from '../board/schema.js';
import { DEFAULT_UPGRADE, upgradeSchema } from '../upgrade/schema.js';

const IFNAME = /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,14}$/;

export const isInterfaceName: StringRule = (v) =>
  IFNAME.test(v) ? undefined : 'must be an interface name (1-15 characters: letters, digits, _ . - @ :)';

export const isIpAddress: StringRule = (v) => (isIP(v) ? undefined : 'must be an IPv4 or IPv6 address');

export function parseCidr(text: string): { address: string; prefix: number; family: 4 | 6 } | undefined {
  const slash = text.indexOf('/');
  if (slash < 0) return undefined;
  const address = text.slice(0, slash);
  const prefixText = text.slice(slash + 1);
  const family = isIP(address);
  if (family === 0 || !/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  if (prefix > (family === 4 ? 32 : 128)) return undefined;
  return { address, prefix, family: family as 4 | 6 };
}

export const isCidr: StringRule = (v) =>
  parseCidr(v) ? undefined : 'must be an address with a prefix length, like 198.51.100.100/24 or 2001:db8::100/64';

export const isAbsolutePath: StringRule = (v) => (v.startsWith('/') && !v.includes('\0') ? undefined : 'must be an absolute path');

const isNodeName: StringRule = (v) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(v) ? undefined : 'must be 1-63 characters: letters, digits, _ . -';

// carp(4) keeps the passphrase in a 20-byte key with strlcpy, so at most 19 bytes count;
// UCarp refuses longer ones. Refusing here keeps peers from silently disagreeing.
const isCarpPassword: StringRule = (v) => {
  const bytes = Buffer.byteLength(v, 'utf8');
  if (bytes === 0) return 'must not be empty';
  return bytes <= 19 ? undefined : `must be at most 19 bytes (carp(4) keeps 19), is ${bytes} bytes`;
};

const carpEntry = s.object({
  vhid: s.int(1, 255).describe('Virtual host ID, shared by every node of the group.', { example: 42 }),
  interface: s.string('an interface name', isInterfaceName).describe('Parent interface (carpdev) the adverts go out on.'),
  addresses: s
    .list(s.string('an address/prefix', isCidr), 1)
    .describe('Virtual addresses, IPv4 and IPv6, with prefix length; all of them are in the HMAC.'),
  password: s.string('a passphrase', isCarpPassword).describe('Shared secret, 1-19 bytes, as carp(4) `pass`.'),
  advbase: optional(s.int(0, 254).describe('Advertisement base interval in seconds.'), 1),
  advskew: optional(s.int(0, 254).describe('Skew added to advbase, in 1/256 s; the lowest skew becomes master.'), 0),
  preempt: optional(
    s.bool().describe("Take over from a master that advertises less often (OpenBSD's net.inet.carp.preempt)."),
    false,
  ),
  peer: optional(
    s.string('an IP address', isIpAddress).describe('Send adverts unicast to this peer instead of multicast (carppeer).'),
  ),
  mac: optional(
    s
      .enumOf('real', 'virtual')
      .describe('real: VIPs answer with the interface MAC; virtual: a macvlan with 00:00:5e:00:01:VHID.'),
    'real',
  ),
  track: optional(
    s
      .object({
        interfaces: optional(
          s.list(s.string('an interface name', isInterfaceName)).describe('Demote by 1 while any of these links is down.'),
          [],
        ),
      })
      .describe('Other links this group depends on (like ifstated or keepalived track_interface).'),
    { interfaces: [] },
  ),
});

const hooks = s
  .object({
  master: optional(s.string('an absolute path', isAbsolutePath).describe('Run on every transition to MASTER: `script VHID MASTER INTERFACE`.')),
  backup: optional(s.string('an absolute path', isAbsolutePath).describe('Run on every transition to BACKUP.')),
  init: optional(s.string('an absolute path', isAbsolutePath).describe('Run on every transition to INIT (link down, shutdown).')),
  timeoutSeconds: optional(s.int(1, 600).describe('A hook still running after this long is killed.'), 30),
  })
  .describe('Scripts run on CARP transitions, one at a time, in transition order (ucarp\'s up/down scripts).');

export const configSchema = s.object({
  node: s
    .object({
    name: s.string('a node name', isNodeName).describe('This node\'s name in status, telemetry and the UI.', { example: 'fw-a' }),
    stateDir: optional(
      s.string('an absolute path', isAbsolutePath).describe('Where state that survives power loss (maintenance flag) is written atomically.', { requiresRestart: true }),
      '/cfg/state',
    ),
    realtimePriority: optional(
      s
        .int(0, 99)
        .describe(
          'Run every thread of the daemon under SCHED_RR at this priority (like keepalived\'s vrrp_rt_priority); 0 leaves normal scheduling. Sub-second advert intervals on a loaded box need it.',
          { requiresRestart: true },
        ),
      0,
    ),
    lockMemory: optional(
      s
        .bool()
        .describe(
          'Lock the daemon\'s code, libraries and native heap in memory (like keepalived\'s vrrp_no_swap), so memory pressure never stalls the CARP timers on a read from the card. V8\'s JavaScript heap is left unlocked: V8 aborts on locked pages it discards.',
          { requiresRestart: true },
        ),
      false,
    ),
    })
    .describe('This node.'),
  control: optional(
    s
      .object({
      socket: optional(
        s.string('an absolute path', isAbsolutePath).describe('UNIX socket for `tandem status` and other client commands.', { requiresRestart: true }),
        '/run/tandem/control.sock',
      ),
      })
      .describe('The local control socket.'),
    { socket: '/run/tandem/control.sock' },
  ),
  log: optional(
    s
      .object({
        level: optional(s.enumOf('debug', 'info', 'warn', 'error').describe('Least severe level written to stdout.', { requiresRestart: true }), 'info'),
      })
      .describe('Logging: JSON lines on stdout.'),
    { level: 'info' },
  ),
  carp: optional(s.list(carpEntry.describe('One CARP virtual host (a carp(4) interface).')).describe('CARP virtual hosts; each holds a group of virtual addresses.'), []),
  hooks: optional(hooks, { timeoutSeconds: 30 }),
  firewall: optional(firewallSchema),
  balancer: optional(balancerSchema, DEFAULT_BALANCER),
  power: optional(powerSchema),
  telemetry: optional(telemetrySchema),
  sync: optional(syncSchema),
  api: optional(apiSchema),
  network: optional(networkSchema),
  board: optional(boardSchema),
  upgrade: optional(upgradeSchema, DEFAULT_UPGRADE),
});

export type TandemConfig = Infer<typeof configSchema>;
export type CarpConfig = TandemConfig['carp'][number];
