import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { accrue, drawNow, emptyAccount, hostWatts, summarise, utilisation } from '../../../firmware/power/energy.js';

const watts = { idle: 40, peak: 90, parked: 3 };

describe('power energy model', () => {
  it('draws by phase: serving scales idle..peak with utilisation; waking and parking idle; parked its own', () => {
    assert.equal(hostWatts('serving', watts, 0), 40);
    assert.equal(hostWatts('serving', watts, 0.5), 65);
    assert.equal(hostWatts('serving', watts, 1), 90);
    assert.equal(hostWatts('serving', watts, 3), 90, 'utilisation is capped at 1');
    assert.equal(hostWatts('waking', watts, 0.9), 40);
    assert.equal(hostWatts('parking', watts, 0.9), 40);
    assert.equal(hostWatts('parked', watts, 0.9), 3);
  });

  it('shares demand in proportion to capacity: every serving host at the same utilisation', () => {
    assert.equal(utilisation(400, 100), 0.25);
    assert.equal(utilisation(400, 800), 1);
    assert.equal(utilisation(0, 10), 0);
    const draw = drawNow(
      [
        { name: 'a', capacity: 100, watts, phase: 'serving' },
        { name: 'b', capacity: 300, watts: { idle: 100, peak: 200, parked: 5 }, phase: 'serving' },
        { name: 'c', capacity: 100, watts, phase: 'parked' },
      ],
      200,
    );
    // Serving 400 at demand 200: u = 0.5. Always-on: 500 serving, u = 0.4.
    assert.deepEqual(draw, [
      { name: 'a', watts: 65, alwaysOnWatts: 60 },
      { name: 'b', watts: 150, alwaysOnWatts: 140 },
      { name: 'c', watts: 3, alwaysOnWatts: 60 },
    ]);
  });

  it('accounts kWh against always-on per host and in total', () => {
    let account = emptyAccount();
    account = accrue(account, 3600, [
      { name: 'a', watts: 100, alwaysOnWatts: 100 },
      { name: 'b', watts: 10, alwaysOnWatts: 50 },
    ]);
    account = accrue(account, 1800, [{ name: 'b', watts: 20, alwaysOnWatts: 20 }]);
    account = accrue(account, 0, [{ name: 'b', watts: 1e9, alwaysOnWatts: 0 }]);
    const s = summarise(account);
    assert.equal(s.hours, 1.5);
    assert.deepEqual(s.hosts, [
      { name: 'a', kWh: 0.1, alwaysOnKWh: 0.1, savedKWh: 0 },
      { name: 'b', kWh: 0.02, alwaysOnKWh: 0.06, savedKWh: 0.04 },
    ]);
    assert.ok(Math.abs(s.kWh - 0.12) < 1e-12);
    assert.ok(Math.abs(s.savedKWh - 0.04) < 1e-12);
    assert.ok(Math.abs(s.savedFraction - 0.04 / 0.16) < 1e-12);
    assert.equal(summarise(emptyAccount()).savedFraction, 0);
  });
});
