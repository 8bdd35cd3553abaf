// Hysteresis (firmware/balancer/health.ts) as a table: [health, streak, result, expected
// health, expected streak, change?], with downAfter 3 and upAfter 2 as in the issue.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import type { Outcome } from '../../../firmware/balancer/check.js';
import { initialHealth, notifyDone, type Health } from '../../../firmware/balancer/health.js';

const RULES = { downAfter: 3, upAfter: 2 };

describe('notifyDone (hce_notify_done)', () => {
  const rows: [Health, number, Outcome, Health, number, boolean][] = [
    ['unknown', 0, 'ok', 'up', 0, true],
    ['unknown', 0, 'connect-refused', 'down', 0, true],
    ['up', 0, 'ok', 'up', 0, false],
    ['up', 0, 'connect-timeout', 'up', 1, false],
    ['up', 1, 'http-code-fail', 'up', 2, false],
    ['up', 2, 'read-timeout', 'down', 0, true],
    ['up', 2, 'ok', 'up', 0, false],
    ['down', 0, 'connect-refused', 'down', 0, false],
    ['down', 0, 'ok', 'down', 1, false],
    ['down', 1, 'ok', 'up', 0, true],
    ['down', 1, 'script-fail', 'down', 0, false],
  ];
  for (const [health, streak, outcome, wantHealth, wantStreak, changes] of rows) {
    it(`${health} streak ${streak} + ${outcome} -> ${wantHealth} streak ${wantStreak}`, () => {
      const state = { ...initialHealth(0), health, streak };
      const { state: next, change } = notifyDone(state, { outcome }, 1000, RULES);
      assert.equal(next.health, wantHealth);
      assert.equal(next.streak, wantStreak);
      assert.equal(change !== undefined, changes);
      if (change) {
        assert.deepEqual(change, { from: health, to: wantHealth });
        assert.equal(next.since, 1000);
      } else {
        assert.equal(next.since, 0);
      }
    });
  }

  it('counts outcomes, keeps the last error and the last good round-trip time', () => {
    let state = initialHealth(0);
    state = notifyDone(state, { outcome: 'ok', rttMs: 1.5 }, 1, RULES).state;
    state = notifyDone(state, { outcome: 'http-digest-fail', detail: 'sha256 ab', rttMs: 9 }, 2, RULES).state;
    state = notifyDone(state, { outcome: 'ok', rttMs: 2.5 }, 3, RULES).state;
    assert.deepEqual(state.outcomes, { ok: 2, 'http-digest-fail': 1 });
    assert.equal(state.checks, 3);
    assert.equal(state.rttMs, 2.5);
    assert.deepEqual(state.lastError, { outcome: 'http-digest-fail', detail: 'sha256 ab', rttMs: 9, at: 2 });
    assert.equal(state.last?.outcome, 'ok');
  });

  it('a flapping host never reaches the threshold', () => {
    let state = { ...initialHealth(0), health: 'up' as Health };
    for (let i = 0; i < 20; i++) {
      const outcome: Outcome = i % 3 === 2 ? 'ok' : 'connect-timeout';
      const result = notifyDone(state, { outcome }, i, RULES);
      assert.equal(result.change, undefined, `round ${i}`);
      state = result.state;
    }
    assert.equal(state.health, 'up');
  });
});
