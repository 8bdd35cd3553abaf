// The sync record each node keeps in `<stateDir>/sync/record.json`, and the pure rule that
// decides what a push does on a peer (issue 13 item 3): fast-forward a peer that is behind,
// answer "peer-ahead" to a master that is behind, and call two histories that split "diverged".

import type { FileStore } from '../os/files.js';

/** How many earlier hashes a node remembers: enough for a long partition's worth of edits. */
export const ANCESTOR_LIMIT = 64;

export interface SyncRecord {
  /** Counts the shared configs this node has held; shown beside the hash. */
  generation: number;
  /** sha256 of the shared config this node runs (or last recorded). */
  hash: string;
  /** Hashes of the shared configs it held before, newest first: what `hash` was derived from. */
  ancestors: string[];
}

export type PushDecision = 'in-sync' | 'fast-forward' | 'peer-ahead' | 'diverged';

export interface Lineage {
  hash: string;
  generation: number;
  ancestors: readonly string[];
}

/**
 * What a peer does with a push. Equal hashes: nothing. The peer's hash is one the master held
 * before: the peer is behind and takes the push. The master's hash is one the peer held before:
 * the master is behind (it came back with an older config) and should take the peer's. Neither:
 * both changed since their common base; only `--force` overrides.
 */
export function decidePush(peer: Lineage, master: Lineage, force: boolean): PushDecision {
  if (peer.hash === master.hash) return 'in-sync';
  if (force) return 'fast-forward';
  if (master.ancestors.includes(peer.hash)) return 'fast-forward';
  if (peer.ancestors.includes(master.hash)) return 'peer-ahead';
  return 'diverged';
}

/** A node noticed its own shared config (start or reload): a new hash is a new generation. */
export function noteLocal(record: SyncRecord | undefined, hash: string): SyncRecord {
  if (!record) return { generation: 1, hash, ancestors: [] };
  if (record.hash === hash) return record;
  return { generation: record.generation + 1, hash, ancestors: limit([record.hash, ...record.ancestors]) };
}

/**
 * A node took another's shared config: it inherits that lineage, and keeps its own past after
 * it (a forced push must not forget what this node held, or the old node would look "behind").
 */
export function adopt(record: SyncRecord, incoming: Lineage): SyncRecord {
  const ancestors = limit(unique([...incoming.ancestors, record.hash, ...record.ancestors].filter((h) => h !== incoming.hash)));
  return { generation: Math.max(incoming.generation, record.generation + 1), hash: incoming.hash, ancestors };
}

export function parseRecord(text: string | undefined): SyncRecord | undefined {
  if (!text) return undefined;
  try {
    const raw = JSON.parse(text) as Partial<SyncRecord>;
    if (typeof raw.hash !== 'string' || typeof raw.generation !== 'number' || !Array.isArray(raw.ancestors)) return undefined;
    return { generation: raw.generation, hash: raw.hash, ancestors: raw.ancestors.filter((h): h is string => typeof h === 'string') };
  } catch {
    return undefined;
  }
}

/** Reads and writes the record; a write happens only when the shared config changed (CF card). */
export class RecordStore {
  constructor(
    private readonly files: FileStore,
    readonly path: string,
  ) {}

  async load(): Promise<SyncRecord | undefined> {
    return parseRecord(await this.files.read(this.path).catch(() => undefined));
  }

  async save(record: SyncRecord): Promise<void> {
    await this.files.writeAtomic(this.path, JSON.stringify(record) + '\n');
  }
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}

function limit(list: string[]): string[] {
  return list.slice(0, ANCESTOR_LIMIT);
}
