// The `power` config section (issue 10): which pool hosts Tandem may park and wake, their
// capacity and watts, the wake and park methods (a variant per method from methods.ts) and the
// redundancy policy the planner keeps. DESIGN.md's config contract and issue 10's shape.

import { isIP } from 'node:net';
import { optional, s, type Infer, type StringRule } from '../config/kit.js';
import { METHOD_SETTINGS } from './methods.js';
import { parsePinWindow } from './schedule.js';

const isName: StringRule = (v) =>
  /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/.test(v) ? undefined : 'must be 1-63 characters: letters, digits, _ . -';

const isPoolName: StringRule = (v) =>
  /^[A-Za-z][A-Za-z0-9_-]{0,31}$/.test(v) ? undefined : 'must be 1-32 characters: a letter, then letters, digits, _ -';

const isAddress: StringRule = (v) => (isIP(v) ? undefined : 'must be an IPv4 or IPv6 address');

const isMac: StringRule = (v) =>
  /^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/.test(v) ? undefined : 'must be a MAC address like 02:00:5e:10:00:21';

const isPinWindow: StringRule = (v) =>
  parsePinWindow(v) ? undefined : 'must be DAYS HH:MM-HH:MM, like "Mon-Fri 08:00-18:00" or "daily 22:00-06:00"';

export const DEFAULT_WAKE_SECONDS = 120;
export const DEFAULT_PARK_SECONDS = 30;

// A fallback is a method of its own (its settings beside it) tried when the first one fails;
// it has no fallback of its own, so escalation is one step and cannot loop.
function fallbackOf(kind: 'wake' | 'park', seconds: number) {
  return s
    .variant(
      'method',
      {
        seconds: optional(s.number(0, 3600).describe(`Seconds assumed from this ${kind} to the host being ${kind === 'wake' ? 'healthy' : 'unreachable'}, until learned.`), seconds),
      },
      METHOD_SETTINGS,
    )
    .describe(
      kind === 'wake'
        ? 'Tried when the wake method fails or the host is not healthy within twice its latency (WoL unanswered → PDU or BMC on).'
        : 'Tried when the park method fails or the host still answers after twice its latency (sleep refused → PDU or BMC off).',
    )
    .referencedAt('power.hosts[].wake');
}

const wakeSchema = s
  .variant(
    'method',
    {
      seconds: optional(
        s.number(0, 3600).describe('Seconds assumed from the wake to the host passing its health check, until a latency is learned.'),
        DEFAULT_WAKE_SECONDS,
      ),
      fallback: optional(fallbackOf('wake', DEFAULT_WAKE_SECONDS)),
    },
    METHOD_SETTINGS,
  )
  .describe('How to wake the host: a method and its settings.', { example: { method: 'wol', seconds: 5 } });

const parkSchema = s
  .variant(
    'method',
    {
      seconds: optional(
        s.number(0, 3600).describe('Seconds assumed from the park to the host being unreachable, until a latency is learned.'),
        DEFAULT_PARK_SECONDS,
      ),
      fallback: optional(fallbackOf('park', DEFAULT_PARK_SECONDS)),
    },
    METHOD_SETTINGS,
  )
  .describe('How to park the host: a method and its settings.', { example: { method: 'ssh', seconds: 10 } })
  .referencedAt('power.hosts[].wake');

const wattsSchema = s
  .object({
    idle: s.number(0, 100000).describe('Watts drawn awake and idle.'),
    peak: s.number(0, 100000).describe('Watts drawn awake at full capacity.'),
    parked: optional(s.number(0, 100000).describe('Watts drawn parked (asleep or off; a PSU on standby still draws).'), 0),
  })
  .describe('Power draw, for energy accounting and for parking the least efficient hosts first.');

const hostSchema = s
  .object({
    name: s.string('a host name', isName).describe('The host\'s name in status, events and the CLI.', { example: 'web-1' }),
    pool: s.string('a pool name', isPoolName).describe('The balancer pool this host serves in; the pool must list `address`.'),
    address: s.string('an IP address', isAddress).describe('The host\'s address, as listed in the pool.'),
    mac: s.string('a MAC address', isMac).describe('The host\'s MAC address (the wake-on-LAN target).'),
    capacity: s.number(0.001, 1e9).describe('What the host serves, in its pool\'s demand unit.'),
    watts: wattsSchema,
    wake: wakeSchema,
    park: parkSchema,
    pinned: optional(s.bool().describe('Pinned awake by config (a runtime pin from `tandem power pin` is kept in the ledger).'), false),
    pinSchedule: optional(
      s.list(s.string('DAYS HH:MM-HH:MM', isPinWindow)).describe('Hours in which the host is pinned awake, in local time ("Mon-Fri 08:00-18:00").'),
      [],
    ),
  })
  .describe('A pool member Tandem may park and wake.');

const policySchema = s
  .object({
    spares: optional(s.int(0, 100).describe('Hosts\' worth of capacity kept awake beyond demand (redundancy).'), 1),
    minAwake: optional(s.int(1, 1000).describe('Never fewer awake hosts per pool.'), 1),
    maxCyclesPerDay: optional(s.int(0, 1000).describe('Park-and-wake cycles allowed per host in any 24 hours.'), 4),
    minAwakeSeconds: optional(s.int(0, 86400).describe('A woken host stays awake at least this long.'), 600),
    minParkedSeconds: optional(s.int(0, 86400).describe('A parked host stays parked at least this long, unless demand needs it.'), 600),
    targetUtilisation: optional(s.number(0.05, 1).describe('Plan so that demand stays at or below this fraction of the serving capacity.'), 0.8),
    drainTimeoutSeconds: optional(s.int(0, 86400).describe('Longest wait for a draining host\'s open connections before it is parked anyway.'), 60),
  })
  .describe('The redundancy policy the planner keeps.');

export const DEFAULT_POLICY = {
  spares: 1,
  minAwake: 1,
  maxCyclesPerDay: 4,
  minAwakeSeconds: 600,
  minParkedSeconds: 600,
  targetUtilisation: 0.8,
  drainTimeoutSeconds: 60,
};

export const DEMAND_UNITS = ['connections', 'requestsPerSecond'] as const;
export type DemandUnit = (typeof DEMAND_UNITS)[number];

const poolSchema = s
  .object({
    name: s.string('a pool name', isPoolName).describe('A balancer pool whose hosts are managed.'),
    unit: optional(s.enumOf(...DEMAND_UNITS).describe('The demand unit of the pool\'s host capacities.'), 'connections'),
  })
  .describe('A managed pool and its demand unit.');

export const powerSchema = s
  .object({
    vhid: optional(s.int(1, 255).describe('Only the CARP MASTER of this vhid parks and wakes; without it this node always acts.')),
    intervalSeconds: optional(s.int(1, 3600).describe('Seconds between planner rounds.'), 30),
    policy: optional(policySchema, DEFAULT_POLICY),
    pools: optional(s.list(poolSchema).describe('Managed pools and their demand units; a pool named only by hosts counts connections.'), []),
    hosts: s.list(hostSchema, 1).describe('The hosts Tandem may park and wake.'),
  })
  .describe('Parking idle pool hosts and waking them before they are needed (issue 10).');

export type PowerConfig = Infer<typeof powerSchema>;
export type PowerPolicy = PowerConfig['policy'];
export type PowerHostConfig = PowerConfig['hosts'][number];
export type PowerPoolConfig = PowerConfig['pools'][number];
/** A configured wake or park method: `{ method, seconds, fallback?, ...settings }`. */
export type PowerMethodConfig = PowerHostConfig['wake'] | PowerHostConfig['park'];
/** A fallback method: as a method, without a fallback of its own. */
export type PowerFallbackConfig = NonNullable<PowerHostConfig['wake']['fallback']>;

/** The demand unit of `pool`: as configured, else connections. */
export function poolUnit(config: PowerConfig, pool: string): DemandUnit {
  return config.pools.find((p) => p.name === pool)?.unit ?? 'connections';
}
