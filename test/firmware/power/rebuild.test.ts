// What a new MASTER takes each host to be: one row per rule (checks first, then the
// controller's read-back, then the ledger), and the read-back bounded in time.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { FakeClock } from '../../../firmware/os/clock.js';
import type { PowerDriver } from '../../../firmware/power/driver.js';
import { FakePowerDriver, SimulatedHost } from '../../../firmware/power/fake.js';
import { readBack, rebuildVerdict, type RebuildInput } from '../../../firmware/power/rebuild.js';

describe('rebuild after a takeover', () => {
  const rows: [RebuildInput, 'awake' | 'parked', string][] = [
    [{ health: 'up', reading: undefined, ledger: 'parked' }, 'awake', 'checks pass: someone woke it'],
    [{ health: 'up', reading: 'off', ledger: 'awake' }, 'awake', 'checks win over a stale reading'],
    [{ health: 'down', reading: 'on', ledger: 'awake' }, 'parked', 'failing host serves nothing; the planner may wake it'],
    [{ health: 'down', reading: undefined, ledger: 'waking' }, 'parked', 'a wake in flight on the old master counts as not done'],
    [{ health: 'unknown', reading: 'on', ledger: 'parked' }, 'awake', 'no check verdict: the controller decides'],
    [{ health: 'unknown', reading: 'off', ledger: 'awake' }, 'parked', 'no check verdict: the controller decides'],
    [{ health: 'unknown', reading: undefined, ledger: 'awake' }, 'awake', 'nothing else knows: the ledger'],
    [{ health: undefined, reading: undefined, ledger: 'parking' }, 'parked', 'a park in flight counts as parked only when nothing else knows'],
  ];
  for (const [input, state, why] of rows) {
    it(`${JSON.stringify(input)} → ${state} (${why})`, () => assert.equal(rebuildVerdict(input).state, state));
  }

  it('reads back from the first controller that knows; a hanging one is given up after the timeout', async () => {
    const clock = new FakeClock();
    const sim = new SimulatedHost('db-1', clock);
    sim.power = 'off';
    const pdu = new FakePowerDriver('snmp', new Map([['db-1', sim]]), { kind: 'hard' });
    const hanging: PowerDriver = { method: 'redfish', read: () => new Promise(() => undefined) };
    const host = { name: 'db-1', address: '198.51.100.21', mac: '02:00:5e:10:00:21' };
    const result = readBack([hanging, pdu], host, clock, 5000);
    await clock.advance(5000);
    assert.equal(await result, 'off');
    assert.equal(await readBack([], host, clock), undefined);
  });
});
