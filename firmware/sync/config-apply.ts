// The messages of config sync and the candidate a peer builds from a push: its own file with the
// shared sections replaced (per-node keys kept, zones mapped by name), checked exactly as
// `tandem check` does (parseConfig: schema + semantics) and against the interfaces it really has.

import { parseDocument } from 'yaml';
import { parseConfig } from '../config/load.js';
import type { TandemConfig } from '../config/schema.js';
import type { Lineage } from './config-record.js';
import { extractShared, interfacesNeeded, mergeShared, SHARED_SECTIONS, sharedHash, type SharedConfig, type ZoneHints } from './config-shared.js';
import { missingInterfaces, type InterfacePort } from './peer-interfaces.js';

export interface PushMessage {
  type: 'push';
  shared: SharedConfig;
  hints: ZoneHints;
  lineage: Lineage;
  force: boolean;
}

export interface FetchMessage {
  type: 'fetch';
}

/** What a peer did with a push; also the per-peer outcome the master shows. */
export type PushReplyOutcome = 'in-sync' | 'applied' | 'refused' | 'diverged' | 'peer-ahead';

export interface PushReply {
  outcome: PushReplyOutcome;
  lineage: Lineage;
  /** Why it was refused, each as `path: message`. */
  issues?: string[];
  /** With peer-ahead: the newer shared config the master should take. */
  shared?: SharedConfig;
  hints?: ZoneHints;
}

export interface FetchReply {
  shared: SharedConfig;
  lineage: Lineage;
}

export type Candidate = { ok: true; text: string; config: TandemConfig } | { ok: false; issues: string[] };

/** The file text and checked config this node would run with `shared`, or why it cannot. */
export async function buildCandidate(
  localText: string,
  local: TandemConfig,
  shared: SharedConfig,
  hints: ZoneHints,
  expectedHash: string,
  interfaces: InterfacePort,
): Promise<Candidate> {
  const doc = parseDocument(localText, { uniqueKeys: true });
  if (doc.errors.length > 0) return { ok: false, issues: [`(file): this node's own config does not parse: ${doc.errors[0]!.message.split('\n')[0]}`] };
  const raw = (doc.toJS() ?? {}) as Record<string, unknown>;
  const merged = mergeShared(raw, local, shared, hints);
  // Section by section on the parsed document, so comments in node, carp, hooks and sync stay.
  for (const section of SHARED_SECTIONS) {
    if (merged[section] === undefined) doc.delete(section);
    else doc.set(section, merged[section]);
  }
  const text = doc.toString();
  const parsed = parseConfig(text);
  if (!parsed.ok) return { ok: false, issues: parsed.issues.map((i) => `${i.path}: ${i.message}`) };
  const hash = sharedHash(extractShared(parsed.config));
  if (hash !== expectedHash) {
    return { ok: false, issues: [`(sync): the merged config's shared hash is ${hash.slice(0, 12)}, not the pushed ${expectedHash.slice(0, 12)} (different Tandem versions on the two nodes?)`] };
  }
  let present: string[];
  try {
    present = await interfaces.list();
  } catch (error) {
    return { ok: false, issues: [`(interfaces): cannot list this node's interfaces: ${(error as Error).message}`] };
  }
  const missing = missingInterfaces(interfacesNeeded(parsed.config), present);
  if (missing.length > 0) return { ok: false, issues: missing.map((m) => `${m.path}: ${m.message}`) };
  return { ok: true, text, config: parsed.config };
}

/** Checks a request's shape before anything acts on it: the peer is authenticated, not infallible. */
export function parseSyncRequest(value: unknown): PushMessage | FetchMessage | { error: string } {
  if (typeof value !== 'object' || value === null) return { error: 'request must be a JSON object' };
  const r = value as Record<string, unknown>;
  if (r.type === 'fetch') return { type: 'fetch' };
  if (r.type !== 'push') return { error: `unknown request type ${JSON.stringify(r.type)}` };
  const lineage = parseLineage(r.lineage);
  if (!lineage) return { error: 'push: lineage must be { hash, generation, ancestors }' };
  if (typeof r.shared !== 'object' || r.shared === null || Array.isArray(r.shared)) return { error: 'push: shared must be a mapping' };
  const unknown = Object.keys(r.shared).filter((k) => !(SHARED_SECTIONS as readonly string[]).includes(k));
  if (unknown.length > 0) return { error: `push: ${unknown.join(', ')} is not a shared section` };
  const zones = (r.hints as { zones?: unknown } | undefined)?.zones;
  if (typeof zones !== 'object' || zones === null) return { error: 'push: hints.zones must be a mapping' };
  for (const list of Object.values(zones)) {
    if (!Array.isArray(list) || !list.every((n) => typeof n === 'string')) return { error: 'push: hints.zones entries must be lists of interface names' };
  }
  return { type: 'push', shared: r.shared as SharedConfig, hints: { zones: zones as Record<string, string[]> }, lineage, force: r.force === true };
}

export function parseLineage(value: unknown): Lineage | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const l = value as Record<string, unknown>;
  if (typeof l.hash !== 'string' || !/^[0-9a-f]{64}$/.test(l.hash)) return undefined;
  if (typeof l.generation !== 'number' || !Number.isInteger(l.generation) || l.generation < 0) return undefined;
  if (!Array.isArray(l.ancestors) || !l.ancestors.every((h) => typeof h === 'string')) return undefined;
  return { hash: l.hash, generation: l.generation, ancestors: l.ancestors as string[] };
}
