// The relay's pickers (firmware/balancer/algorithms.ts) on plain candidate lists.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { LeastConnections, RoundRobin, SourceHash, WeightedRandom, hash32, type Candidate } from '../../../firmware/balancer/algorithms.js';

const c = (id: string, weight = 1, connections = 0): Candidate => ({ id, weight, connections });

function seeded(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296;
  };
}

describe('roundrobin', () => {
  it('is smooth: weights 5,1,1 give a a b a c a a', () => {
    const rr = new RoundRobin();
    const hosts = [c('a', 5), c('b'), c('c')];
    const picks = Array.from({ length: 7 }, () => rr.pick(hosts)!.id);
    assert.deepEqual(picks, ['a', 'a', 'b', 'a', 'c', 'a', 'a']);
  });

  it('rotates equal weights in order and skips a host that leaves', () => {
    const rr = new RoundRobin();
    const hosts = [c('a'), c('b'), c('c')];
    assert.deepEqual(Array.from({ length: 6 }, () => rr.pick(hosts)!.id), ['a', 'b', 'c', 'a', 'b', 'c']);
    const without = [hosts[0]!, hosts[2]!];
    const picks = Array.from({ length: 4 }, () => rr.pick(without)!.id);
    assert.deepEqual(picks.sort(), ['a', 'a', 'c', 'c']);
  });

  it('gives each host its weighted share', () => {
    const rr = new RoundRobin();
    const hosts = [c('a', 3), c('b', 2), c('c', 1)];
    const counts: Record<string, number> = {};
    for (let i = 0; i < 600; i++) {
      const id = rr.pick(hosts)!.id;
      counts[id] = (counts[id] ?? 0) + 1;
    }
    assert.deepEqual(counts, { a: 300, b: 200, c: 100 });
  });

  it('has nothing to pick from an empty list', () => {
    assert.equal(new RoundRobin().pick([]), undefined);
  });
});

describe('least-connections', () => {
  it('picks the fewest connections per unit of weight', () => {
    const lc = new LeastConnections();
    assert.equal(lc.pick([c('a', 1, 4), c('b', 1, 2), c('c', 1, 3)])!.id, 'b');
    // b: (2+1)/1 = 3; a: (4+1)/2 = 2.5
    assert.equal(lc.pick([c('a', 2, 4), c('b', 1, 2)])!.id, 'a');
  });

  it('spreads ties round robin instead of piling on the first', () => {
    const lc = new LeastConnections();
    const hosts = [c('a'), c('b'), c('c')];
    assert.deepEqual(Array.from({ length: 3 }, () => lc.pick(hosts)!.id), ['a', 'b', 'c']);
  });
});

describe('source-hash', () => {
  const hosts = [c('web-1'), c('web-2'), c('web-3')];
  const clients = Array.from({ length: 3000 }, (_, i) => `203.0.113.${i % 250}.${Math.floor(i / 250)}`);

  it('sends a client to the same host every time, and spreads clients evenly', () => {
    const sh = new SourceHash();
    const counts: Record<string, number> = {};
    for (const client of clients) {
      const first = sh.pick(hosts, client)!.id;
      assert.equal(sh.pick(hosts, client)!.id, first);
      counts[first] = (counts[first] ?? 0) + 1;
    }
    for (const id of ['web-1', 'web-2', 'web-3']) assert.ok(counts[id]! > 850 && counts[id]! < 1150, JSON.stringify(counts));
  });

  it('moves only the clients of a host that leaves', () => {
    const sh = new SourceHash();
    let moved = 0;
    for (const client of clients) {
      const before = sh.pick(hosts, client)!.id;
      const after = sh.pick([hosts[0]!, hosts[2]!], client)!.id;
      if (before !== 'web-2') assert.equal(after, before, client);
      else moved++;
    }
    assert.ok(moved > 850 && moved < 1150);
  });

  it('honours weights', () => {
    const sh = new SourceHash();
    const weighted = [c('a', 3), c('b', 1)];
    const a = clients.filter((client) => sh.pick(weighted, client)!.id === 'a').length;
    assert.ok(a > 2100 && a < 2400, `a got ${a} of 3000`);
  });

  it('hash32 is pinned: routers of two firmware versions must map a client alike', () => {
    assert.equal(hash32('198.51.100.50|web-1'), 102780089);
    assert.equal(hash32(''), 2872998923);
    assert.notEqual(hash32('198.51.100.50|web-1'), hash32('198.51.100.51|web-1'));
  });
});

describe('random', () => {
  it('follows the weights with a seeded source', () => {
    const pick = new WeightedRandom(seeded(42));
    const hosts = [c('a', 1), c('b', 3)];
    let b = 0;
    for (let i = 0; i < 4000; i++) if (pick.pick(hosts)!.id === 'b') b++;
    assert.ok(b > 2850 && b < 3150, `b got ${b} of 4000`);
  });

  it('picks by where the number falls', () => {
    const hosts = [c('a', 1), c('b', 1)];
    assert.equal(new WeightedRandom(() => 0).pick(hosts)!.id, 'a');
    assert.equal(new WeightedRandom(() => 0.99).pick(hosts)!.id, 'b');
    assert.equal(new WeightedRandom(() => 0.5).pick([])?.id, undefined);
  });
});
