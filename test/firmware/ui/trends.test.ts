// Trends sampled from successive statuses: demand per pool, energy saved, and each VHID's
// advertisement rate from the counter that matters in its state.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Status } from '../../../firmware/daemon.js';
import { emptyTrends, sampleTrends } from '../../../ui/lib/trends.js';

function status(sent: number, received: number, state: 'MASTER' | 'BACKUP', connections: number, measured = true): Status {
  const counters = { sent, received, short: 0, badVersion: 0, badType: 0, badChecksum: 0, badAuth: 0, badTtl: 0, badVhid: 0, loop: 0 };
  return {
    node: 'fw-a',
    version: '0',
    uptimeSeconds: 1,
    maintenance: false,
    demotion: { total: 0, admin: 0, maintenance: false, linksDown: [], external: {} },
    carp: [{ vhid: 42, interface: 'eth0', state, advbase: 1, advskew: 0, demote: 0, addresses: [], since: '', counters }],
    unmatched: {},
    pools: [{ demand: { measured, connections, requestsPerSecond: 0 }, name: 'web' } as unknown as Status['pools'][number]],
    memory: { rssBytes: 0, heapUsedBytes: 0 },
  };
}

test('advert rate follows sent as MASTER and received as BACKUP, and a gap shows as a dip', () => {
  let t = sampleTrends(emptyTrends(), status(0, 100, 'BACKUP', 5), 0);
  assert.deepEqual(t.adverts, {}, 'no rate from one status');
  t = sampleTrends(t, status(0, 102, 'BACKUP', 6), 2000);
  t = sampleTrends(t, status(0, 103, 'BACKUP', 6), 5000); // 1 advert in 3 s: a gap
  t = sampleTrends(t, status(4, 103, 'MASTER', 6), 7000);
  assert.deepEqual(
    t.adverts[42]!.map((s) => s.v),
    [1, 0.33, 2],
  );
  assert.deepEqual(
    t.demand.web!.map((s) => s.v),
    [5, 6, 6, 6],
  );
});

test('statuses closer than a second keep the older reference; a restarted counter gives no rate', () => {
  let t = sampleTrends(emptyTrends(), status(0, 10, 'BACKUP', 1), 0);
  t = sampleTrends(t, status(0, 10, 'BACKUP', 1), 300);
  t = sampleTrends(t, status(0, 12, 'BACKUP', 1), 1000);
  assert.deepEqual(t.adverts[42], [{ t: 1000, v: 2 }]);
  t = sampleTrends(t, status(0, 1, 'BACKUP', 1), 2000);
  assert.equal(t.adverts[42]!.length, 1);
  t = sampleTrends(t, status(0, 3, 'BACKUP', 1), 3000);
  assert.deepEqual(t.adverts[42]!.at(-1), { t: 3000, v: 2 });
});

test('unmeasured pools and absent power add no samples', () => {
  const t = sampleTrends(emptyTrends(), status(0, 0, 'BACKUP', 9, false), 0);
  assert.deepEqual(t.demand, {});
  assert.deepEqual(t.energySaved, []);
});
