// How the relay picks a host for a new connection (or, in http mode, a request), as pure
// functions of the candidates: smooth weighted round robin (nginx's), weighted least
// connections (ties go round robin), weighted rendezvous hashing of the client address (so a
// host that leaves moves only its own clients, and every router maps a client alike), and
// weighted random with an injected source of randomness.

import type { Algorithm } from './schema.js';

export interface Candidate {
  id: string;
  weight: number;
  /** Connections (tcp) or requests in flight (http) to this host now. */
  connections: number;
}

export interface Picker {
  /** Picks one of `candidates` (all able to take a connection) for a client at `source`. */
  pick(candidates: readonly Candidate[], source: string): Candidate | undefined;
}

/** Smooth weighted round robin: weights 5,1,1 give a a b a c a a, never a burst of one host. */
export class RoundRobin implements Picker {
  private readonly current = new Map<string, number>();

  pick(candidates: readonly Candidate[]): Candidate | undefined {
    if (candidates.length === 0) return undefined;
    let total = 0;
    let best: Candidate | undefined;
    let bestWeight = -Infinity;
    for (const c of candidates) {
      const weight = (this.current.get(c.id) ?? 0) + c.weight;
      this.current.set(c.id, weight);
      total += c.weight;
      if (weight > bestWeight) {
        best = c;
        bestWeight = weight;
      }
    }
    this.current.set(best!.id, bestWeight - total);
    // Forget hosts that are gone, so the map stays the size of the pool.
    if (this.current.size > candidates.length * 2) {
      const ids = new Set(candidates.map((c) => c.id));
      for (const id of this.current.keys()) if (!ids.has(id)) this.current.delete(id);
    }
    return best;
  }
}

/** Fewest connections per unit of weight; among equals, round robin. */
export class LeastConnections implements Picker {
  private readonly ties = new RoundRobin();

  pick(candidates: readonly Candidate[]): Candidate | undefined {
    let best = Infinity;
    let tied: Candidate[] = [];
    for (const c of candidates) {
      const score = (c.connections + 1) / c.weight;
      if (score < best - 1e-12) {
        best = score;
        tied = [c];
      } else if (Math.abs(score - best) <= 1e-12) {
        tied.push(c);
      }
    }
    return tied.length <= 1 ? tied[0] : this.ties.pick(tied);
  }
}

/** Weighted rendezvous (highest random weight) hashing of the client's address. */
export class SourceHash implements Picker {
  pick(candidates: readonly Candidate[], source: string): Candidate | undefined {
    let best: Candidate | undefined;
    let bestScore = -Infinity;
    for (const c of candidates) {
      const u = (hash32(`${source}|${c.id}`) + 0.5) / 4294967296;
      const score = -c.weight / Math.log(u);
      if (score > bestScore) {
        best = c;
        bestScore = score;
      }
    }
    return best;
  }
}

export class WeightedRandom implements Picker {
  constructor(private readonly random: () => number) {}

  pick(candidates: readonly Candidate[]): Candidate | undefined {
    const total = candidates.reduce((sum, c) => sum + c.weight, 0);
    let r = this.random() * total;
    for (const c of candidates) {
      r -= c.weight;
      if (r < 0) return c;
    }
    return candidates[candidates.length - 1];
  }
}

export function createPicker(algorithm: Algorithm, random: () => number = Math.random): Picker {
  switch (algorithm) {
    case 'roundrobin':
      return new RoundRobin();
    case 'least-connections':
      return new LeastConnections();
    case 'source-hash':
      return new SourceHash();
    case 'random':
      return new WeightedRandom(random);
  }
}

/** FNV-1a over UTF-16 code units, then murmur3's finalizer so close inputs spread. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
