// The registry lines of the process- and socket-driven methods (firmware/power/methods.ts): each
// builds its driver from its checked settings, and offers exactly the actions it can do (WoL
// only wakes, SSH only parks, IPMI does all three, local parks and wakes this machine).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { s, validate } from '../../../firmware/config/kit.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { silentLogger } from '../../../firmware/log.js';
import { createDriver, METHOD_SETTINGS } from '../../../firmware/power/methods.js';

const deps = { clock: new FakeClock(), processes: new FakeProcessRunner(), log: silentLogger, stateDir: '/var/lib/tandem' };

describe('wol, ssh, ipmi and local in the method registry', () => {
  const rows: [keyof typeof METHOD_SETTINGS, object, string][] = [
    ['wol', {}, 'wake'],
    ['ssh', {}, 'park'],
    ['ipmi', { address: '198.51.100.10', user: 'admin', password: 'secret' }, 'wake park read'],
    ['local', { disks: ['/dev/sda'] }, 'wake park'],
  ];
  for (const [method, raw, actions] of rows) {
    it(`${method}: ${actions}`, () => {
      const { value, issues } = validate(s.object(METHOD_SETTINGS[method]), raw);
      assert.deepEqual(issues, []);
      const built = createDriver({ method, ...value }, deps);
      assert.ok(built.ok, !built.ok ? built.detail : '');
      const driver = built.driver;
      assert.equal(driver.method, method);
      assert.equal((['wake', 'park', 'read'] as const).filter((a) => driver[a] !== undefined).join(' '), actions);
    });
  }

  it('ipmi refuses to act without a password, before running anything', async () => {
    const processes = new FakeProcessRunner();
    const built = createDriver({ method: 'ipmi', address: '198.51.100.10', user: 'admin', port: 623, cipherSuite: 3, parkAction: 'soft' } as { method: string }, { ...deps, processes });
    assert.ok(built.ok);
    const result = await built.driver.wake!({ name: 'db-1', address: '198.51.100.30', mac: '02:00:5e:10:00:30' }, new AbortController().signal);
    assert.deepEqual(result, { ok: false, failure: 'misconfigured', detail: 'BMC 198.51.100.10: needs password or passwordFile' });
    assert.equal(processes.runs.length, 0);
  });
});
