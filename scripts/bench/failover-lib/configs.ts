// The settings the failover bench compares, with each one's protocol formula: the master's
// advert interval and the backup's master-down timeout.

export type Impl = 'tandem' | 'ucarp' | 'keepalived';

export type Group = 'advbase1' | 'equal50' | 'equal10' | 'shortest' | 'explore';

export interface BenchConfig {
  id: string;
  impl: Impl;
  group: Group;
  label: string;
  /** CARP (Tandem, ucarp). */
  advbase?: number;
  masterSkew?: number;
  backupSkew?: number;
  /** VRRPv3 (keepalived): seconds, and the two priorities. */
  advertInt?: number;
  masterPriority?: number;
  backupPriority?: number;
  /** The master's advert interval, ms. */
  intervalMs: number;
  /** The backup's master-down timeout, ms. */
  masterDownMs: number;
  /** How the formula reads, for the report. */
  formula: string;
  /** Tandem only: false runs it without transition hooks (to measure what the hook costs). */
  hooks?: boolean;
  /** Tandem only: both daemons with node.realtimePriority 10 and node.lockMemory (chrt for +nohooks). */
  realtime?: boolean;
}

/** carp(4): advbase + advskew/256 s; OpenBSD turns 0/0 into 1/256 s. */
export function carpIntervalMs(advbase: number, advskew: number): number {
  const ticks = advbase === 0 && advskew === 0 ? 1 : advbase * 256 + advskew;
  return (ticks * 1000) / 256;
}

/** carp(4): 3·advbase + advskew/256 s with the backup's own skew; 3·advskew/256 s at advbase 0. */
export function carpMasterDownMs(advbase: number, advskew: number): number {
  if (advbase === 0) return (3 * Math.max(advskew, 1) * 1000) / 256;
  return ((3 * advbase * 256 + advskew) * 1000) / 256;
}

/** RFC 5798 §6.1: 3·interval + (256 − priority)·interval/256. */
export function vrrpMasterDownMs(intervalS: number, priority: number): number {
  return (3 * intervalS + ((256 - priority) * intervalS) / 256) * 1000;
}

function carp(impl: 'tandem' | 'ucarp', group: Group, advbase: number, masterSkew: number, backupSkew: number): BenchConfig {
  const name = impl === 'tandem' ? 'Tandem' : 'ucarp';
  const id = advbase === 1 && masterSkew === 0 && backupSkew === 100 ? `${impl}-1` : `${impl}-${advbase}/${masterSkew}/${backupSkew}`;
  const down = carpMasterDownMs(advbase, backupSkew);
  return {
    id,
    impl,
    group,
    label: `${name} advbase ${advbase}, advskew ${masterSkew}/${backupSkew}`,
    advbase,
    masterSkew,
    backupSkew,
    intervalMs: carpIntervalMs(advbase, masterSkew),
    masterDownMs: down,
    formula: advbase === 0 ? `3·${backupSkew}/256 s` : `3·${advbase} + ${backupSkew}/256 s`,
  };
}

function keepalived(group: Group, advertInt: number): BenchConfig {
  return {
    id: `keepalived-${advertInt}`,
    impl: 'keepalived',
    group,
    label: `keepalived VRRPv3 advert_int ${advertInt}, priority 200/100`,
    advertInt,
    masterPriority: 200,
    backupPriority: 100,
    intervalMs: advertInt * 1000,
    masterDownMs: vrrpMasterDownMs(advertInt, 100),
    formula: `3·${advertInt} + 156/256·${advertInt} s`,
  };
}

/** Every configuration, in the order the bench runs them. */
export const CONFIGS: readonly BenchConfig[] = [
  carp('tandem', 'advbase1', 1, 0, 100),
  carp('ucarp', 'advbase1', 1, 0, 100),
  keepalived('advbase1', 1),
  carp('tandem', 'equal50', 0, 13, 14),
  keepalived('equal50', 0.05),
  carp('tandem', 'equal10', 0, 2, 3),
  carp('tandem', 'equal10', 0, 3, 4),
  keepalived('equal10', 0.01),
  carp('tandem', 'shortest', 0, 1, 2),
  carp('tandem', 'explore', 0, 1, 3),
  carp('tandem', 'explore', 0, 0, 1),
  withoutHooks(carp('tandem', 'explore', 0, 1, 2)),
];

/** The same Tandem setting with no transition hooks configured: id suffix "+nohooks". */
function withoutHooks(config: BenchConfig): BenchConfig {
  return { ...config, id: `${config.id}+nohooks`, label: `${config.label}, no hooks`, hooks: false };
}

/** The setting the soak runs by default: the shortest Tandem setting. */
export const SOAK_DEFAULT = 'tandem-0/1/2';

export function findConfig(id: string): BenchConfig | undefined {
  return CONFIGS.find((c) => c.id === id);
}

/** A CARP config built from "tandem-A/M/B" even when it is not in the list (for --only). */
export function parseConfig(id: string): BenchConfig | undefined {
  const known = findConfig(id);
  if (known) return known;
  if (id.endsWith('+rt')) {
    const base = parseConfig(id.slice(0, -'+rt'.length));
    return base?.impl === 'tandem' ? { ...base, id, label: `${base.label}, realtime priority 10`, realtime: true } : undefined;
  }
  if (id.endsWith('+nohooks')) {
    const base = parseConfig(id.slice(0, -'+nohooks'.length));
    return base?.impl === 'tandem' ? withoutHooks(base) : undefined;
  }
  const m = /^(tandem|ucarp)-(\d+)\/(\d+)\/(\d+)$/.exec(id);
  if (m) return carp(m[1] as 'tandem' | 'ucarp', 'explore', Number(m[2]), Number(m[3]), Number(m[4]));
  const k = /^keepalived-(\d+(?:\.\d+)?)$/.exec(id);
  if (k) return keepalived('explore', Number(k[1]));
  return undefined;
}
