// The soak's short run (scripts/bench/soak runs the hour): two minutes of failovers, backend
// flaps, reloads and control clients on a Tandem pair in namespaces. Every failover's
// transitions must run their hooks, no control request may fail, descriptors must not pile up,
// and RSS must not run away after warm-up (the hour-long run holds it to 5 %; two minutes is
// too short to tell 5 % of growth from the heap settling, so this run allows 15 %).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatSoak, runSoak } from '../../scripts/bench/soak-lib/churn.js';
import { netnsUnavailable } from './lab.js';

describe('soak, short run', { skip: netnsUnavailable() }, () => {
  it('two minutes of churn: no transition lost, no descriptor leak, no runaway memory', { timeout: 240_000 }, async (t) => {
    const result = await runSoak({
      seconds: 120,
      sampleSeconds: 5,
      warmupSeconds: 40,
      failoverEverySeconds: 4,
      flapEverySeconds: 5,
      reloadEverySeconds: 20,
      clientsPerSecond: 20,
    });
    t.diagnostic(formatSoak(result));
    assert.ok(result.failovers >= 20, `${result.failovers} failovers`);
    assert.ok(result.flaps >= 20 && result.reloads >= 5);
    assert.equal(result.transitionsLost, 0, 'every failover ran both hooks');
    assert.equal(result.transitionsSeen, result.transitionsExpected, 'and no transition beyond the failovers');
    assert.equal(result.statusFailures, 0);
    for (const node of result.nodes) {
      assert.ok(node.fdsEnd <= node.fdsAfterWarmup + 2, `${node.node}: descriptors ${node.fdsAfterWarmup} -> ${node.fdsEnd}`);
      assert.ok(node.growthPct < 15, `${node.node}: RSS ${node.rssAfterWarmupMiB.toFixed(1)} -> ${node.rssEndMiB.toFixed(1)} MiB`);
    }
  });
});
