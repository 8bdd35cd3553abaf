// The shared part of a config and how a peer merges it (issue 13 item 2): which sections travel,
// which keys inside them stay per node, the canonical JSON and its sha256, and the merge that maps
// interfaces by zone name, never by position (the pfSense "interface order must match" trap).

import { createHash } from 'node:crypto';
import type { TandemConfig } from '../config/schema.js';

/**
 * Sections the master pushes. `node`, `control`, `log`, `hooks`, `carp` and `sync` never travel:
 * they name this box's files, sockets and links, and a CARP group (interface, advskew, peer,
 * password) changed on one side only would split the pair mid-push.
 */
export const SHARED_SECTIONS = ['firewall', 'balancer', 'power', 'telemetry'] as const;
export type SharedSection = (typeof SHARED_SECTIONS)[number];

/**
 * Keys inside the shared sections that stay per node (`*` is any zone name). A zone's interfaces
 * and own addresses are this box's; the MQTT client id and certificate, and the Prometheus
 * listener, identify and bind on this box.
 */
export const PER_NODE_PATHS: readonly (readonly string[])[] = [
  ['firewall', 'zones', '*', 'interfaces'],
  ['firewall', 'zones', '*', 'addresses'],
  ['telemetry', 'mqtt', 'clientId'],
  ['telemetry', 'mqtt', 'cert'],
  ['telemetry', 'mqtt', 'key'],
  ['telemetry', 'prometheus'],
];

export type SharedConfig = Partial<Record<SharedSection, unknown>>;

/** What a push carries beside the shared part: the master's own zone interfaces, a fallback only. */
export interface ZoneHints {
  zones: Record<string, string[]>;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** The shared sections of a checked config (defaults filled in), per-node keys taken out. */
export function extractShared(config: TandemConfig): SharedConfig {
  const shared: SharedConfig = {};
  for (const section of SHARED_SECTIONS) {
    const value = (config as Record<string, unknown>)[section];
    if (value !== undefined) shared[section] = structuredClone(value);
  }
  for (const path of PER_NODE_PATHS) removePath(shared as Record<string, unknown>, path);
  return shared;
}

export function zoneHints(config: TandemConfig): ZoneHints {
  const zones: Record<string, string[]> = {};
  for (const [name, zone] of Object.entries(config.firewall?.zones ?? {})) zones[name] = [...zone.interfaces];
  return { zones };
}

/** JSON with object keys sorted at every level and no undefined: equal configs, equal bytes. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

export function sharedHash(shared: SharedConfig): string {
  return createHash('sha256').update(canonicalJson(shared)).digest('hex');
}

/**
 * The candidate a peer would run: its own config (raw, as in its file) with each shared section
 * replaced by the master's, and every per-node key taken from the peer's own checked config.
 * A zone the peer does not have yet takes the master's interface names (same hardware just
 * works) and no own addresses; a missing interface is then refused by name, by the peer.
 */
export function mergeShared(localRaw: Record<string, unknown>, local: TandemConfig, shared: SharedConfig, hints: ZoneHints): Record<string, unknown> {
  const out: Record<string, unknown> = { ...localRaw };
  for (const section of SHARED_SECTIONS) {
    if (shared[section] === undefined) delete out[section];
    else out[section] = structuredClone(shared[section]);
  }
  const localView = local as unknown as Record<string, unknown>;
  for (const path of PER_NODE_PATHS) {
    for (const concrete of expand(out, path)) {
      const mine = getPath(localView, concrete);
      if (mine !== undefined) setPath(out, concrete, structuredClone(mine));
    }
  }
  const zones = (out.firewall as { zones?: Record<string, Record<string, unknown>> } | undefined)?.zones ?? {};
  for (const [name, zone] of Object.entries(zones)) {
    if (zone.interfaces === undefined && hints.zones[name]) zone.interfaces = [...hints.zones[name]];
  }
  return out;
}

/** Interfaces a config needs on this box: CARP parents and tracked links, zone members, the conntrackd link. */
export function interfacesNeeded(config: TandemConfig): { path: string; name: string }[] {
  const needed: { path: string; name: string }[] = [];
  config.carp.forEach((c, i) => {
    needed.push({ path: `carp[${i}].interface`, name: c.interface });
    c.track.interfaces.forEach((name, j) => needed.push({ path: `carp[${i}].track.interfaces[${j}]`, name }));
  });
  for (const [zone, z] of Object.entries(config.firewall?.zones ?? {})) {
    z.interfaces.forEach((name, j) => needed.push({ path: `firewall.zones.${zone}.interfaces[${j}]`, name }));
  }
  const conntrackLink = config.sync?.conntrack?.interface;
  if (conntrackLink) needed.push({ path: 'sync.conntrack.interface', name: conntrackLink });
  return needed;
}

/** A readable line diff (longest common subsequence) of two texts, `-`/`+`/` ` per line. */
export function lineDiff(before: string, after: string): string[] {
  const a = before.split('\n');
  const b = after.split('\n');
  // The canonical documents are a few hundred lines; an O(n*m) table is fine off the CARP path.
  const lcs: number[][] = Array.from({ length: a.length + 1 }, () => new Array<number>(b.length + 1).fill(0));
  for (let i = a.length - 1; i >= 0; i--) {
    for (let j = b.length - 1; j >= 0; j--) {
      lcs[i]![j] = a[i] === b[j] ? lcs[i + 1]![j + 1]! + 1 : Math.max(lcs[i + 1]![j]!, lcs[i]![j + 1]!);
    }
  }
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      out.push(`  ${a[i]}`);
      i++;
      j++;
    } else if (lcs[i + 1]![j]! >= lcs[i]![j + 1]!) out.push(`- ${a[i++]}`);
    else out.push(`+ ${b[j++]}`);
  }
  while (i < a.length) out.push(`- ${a[i++]}`);
  while (j < b.length) out.push(`+ ${b[j++]}`);
  return out;
}

/** The changed lines of a lineDiff with `context` unchanged lines around each, `...` between runs. */
export function withContext(diff: readonly string[], context = 2): string[] {
  const keep = new Array<boolean>(diff.length).fill(false);
  diff.forEach((line, i) => {
    if (line.startsWith('  ')) return;
    for (let j = Math.max(0, i - context); j <= Math.min(diff.length - 1, i + context); j++) keep[j] = true;
  });
  const out: string[] = [];
  diff.forEach((line, i) => {
    if (!keep[i]) return;
    if (out.length > 0 && !keep[i - 1]) out.push('...');
    out.push(line);
  });
  return out;
}

/** Pretty canonical JSON, one key per line, for diffs people read. */
export function prettyShared(shared: SharedConfig): string {
  return JSON.stringify(sortKeys(shared), null, 2);
}

function sortKeys(value: unknown): Json {
  if (Array.isArray(value)) return value.map((v) => (v === undefined ? null : sortKeys(v)));
  if (value !== null && typeof value === 'object') {
    const out: { [key: string]: Json } = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = sortKeys(v);
    }
    return out;
  }
  return value as Json;
}

function expand(root: unknown, path: readonly string[], prefix: string[] = []): string[][] {
  if (path.length === 0) return [prefix];
  if (root === null || typeof root !== 'object' || Array.isArray(root)) return [];
  const [head, ...rest] = path as [string, ...string[]];
  const obj = root as Record<string, unknown>;
  if (rest.length === 0) return head === '*' ? Object.keys(obj).map((k) => [...prefix, k]) : [[...prefix, head]];
  const keys = head === '*' ? Object.keys(obj) : head in obj ? [head] : [];
  return keys.flatMap((k) => expand(obj[k], rest, [...prefix, k]));
}

function getPath(root: Record<string, unknown>, path: readonly string[]): unknown {
  let node: unknown = root;
  for (const key of path) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function setPath(root: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let node = root;
  for (const key of path.slice(0, -1)) {
    const next = node[key];
    if (next === null || typeof next !== 'object') {
      node[key] = {};
    }
    node = node[key] as Record<string, unknown>;
  }
  node[path[path.length - 1]!] = value;
}

function removePath(root: Record<string, unknown>, path: readonly string[]): void {
  for (const concrete of expand(root, path)) {
    const parent = getPath(root, concrete.slice(0, -1));
    if (parent && typeof parent === 'object') delete (parent as Record<string, unknown>)[concrete[concrete.length - 1]!];
  }
}
