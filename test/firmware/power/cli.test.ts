// `tandem power status|wake|park|pin` parsing, the control protocol's power requests, and the
// daemon's answers when power is not configured.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseArgs, UsageError } from '../../../firmware/cli.js';
import { parseRequest } from '../../../firmware/control/protocol.js';
import { handlePowerRequest } from '../../../firmware/power/wire.js';

describe('tandem power (CLI)', () => {
  it('parses status, wake, park and pin', () => {
    assert.deepEqual(parseArgs(['power', 'status', '--json']), { kind: 'power-status', json: true, config: undefined, control: undefined });
    assert.deepEqual(parseArgs(['power', 'wake', 'web-2']), { kind: 'power-wake', host: 'web-2', config: undefined, control: undefined });
    assert.deepEqual(parseArgs(['power', 'park', 'web-2', '--control', '/tmp/c.sock']), { kind: 'power-park', host: 'web-2', config: undefined, control: '/tmp/c.sock' });
    assert.deepEqual(parseArgs(['power', 'pin', 'web-2', 'off']), { kind: 'power-pin', host: 'web-2', on: false, config: undefined, control: undefined });
  });
  for (const argv of [['power'], ['power', 'wake'], ['power', 'pin', 'web-2'], ['power', 'pin', 'web-2', 'maybe'], ['power', 'status', 'x']]) {
    it(`rejects ${argv.join(' ')}`, () => assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof UsageError && /power needs status/.test(e.message)));
  }
});

describe('power control requests', () => {
  it('parses and checks them', () => {
    assert.deepEqual(parseRequest('{"cmd":"power-status"}'), { cmd: 'power-status' });
    assert.deepEqual(parseRequest('{"cmd":"power-wake","host":"web-2"}'), { cmd: 'power-wake', host: 'web-2' });
    assert.deepEqual(parseRequest('{"cmd":"power-pin","host":"web-2","on":true}'), { cmd: 'power-pin', host: 'web-2', on: true });
    assert.deepEqual(parseRequest('{"cmd":"power-park"}'), { error: 'power-park needs "host" (a managed host\'s name)' });
    assert.deepEqual(parseRequest('{"cmd":"power-pin","host":"web-2"}'), { error: 'power-pin needs "on": true or false' });
  });
  it('a daemon without a power section says so', async () => {
    assert.deepEqual(await handlePowerRequest(undefined, { cmd: 'power-status' }), { ok: false, error: 'power management is not configured (no `power` section)' });
  });
});
