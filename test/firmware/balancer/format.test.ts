// `tandem status` lines for pools (firmware/balancer/format.ts), from a balancer on a FakeClock.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validate } from '../../../firmware/config/kit.js';
import { FakeRelays, MemoryTableUpdater, ScriptedChecks } from '../../../firmware/balancer/fake.js';
import { formatPools } from '../../../firmware/balancer/format.js';
import { balancerSchema } from '../../../firmware/balancer/schema.js';
import { Balancer } from '../../../firmware/balancer/service.js';
import { createLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';

describe('formatPools', () => {
  it('shows each pool with its output and demand, each host with state, last outcome and error, rtt', async () => {
    const clock = new FakeClock();
    const checks = new ScriptedChecks();
    const { value } = validate(balancerSchema, {
      pools: [
        {
          name: 'web',
          port: 8080,
          hosts: [{ address: '198.51.100.21', name: 'web-1' }, { address: '198.51.100.22', name: 'web-2', weight: 2 }, { address: '198.51.100.23', name: 'web-3', mode: 'draining' }],
          check: { type: 'http', path: '/health' },
          relay: { listen: '198.51.100.100:80', mode: 'http' },
        },
        { name: 'mail', port: 25, hosts: [{ address: '198.51.100.31' }], check: { type: 'send-expect', expect: '^220 ' }, redirect: { table: 'mail' } },
      ],
    });
    const balancer = new Balancer(value!, { clock, checks, relays: new FakeRelays(), tables: new MemoryTableUpdater(), demote: () => undefined, log: createLogger('error', () => undefined) });
    checks.fail('198.51.100.22', 'http-code-fail', 'status 503, want 200');
    checks.fail('198.51.100.31', 'connect-timeout', 'no answer within 2000 ms (connect)');
    balancer.start();
    await clock.advance(0);
    const since = 'since 2026-11-22T10:00:00.000Z';
    assert.deepEqual(formatPools(balancer.status()), [
      '  pool web DEGRADED  relay 198.51.100.100:80 http roundrobin listening  check http every 10 s  conns 0  0 req/s',
      `    web-1            198.51.100.21:8080       up          ok  rtt 0.50 ms  conns 0  0 req/s  ${since}`,
      `    web-2            198.51.100.22:8080       down        http-code-fail (status 503, want 200)  conns 0  0 req/s  weight 2  ${since}`,
      `    web-3            198.51.100.23:8080       draining    ok  rtt 0.50 ms  conns 0  0 req/s  ${since}`,
      '  pool mail DOWN (demoting 1)  redirect table mail []  check send-expect every 10 s',
      `    198.51.100.31    198.51.100.31:25         down        connect-timeout (no answer within 2000 ms (connect))  ${since}`,
    ]);
    await balancer.stop();
  });
});
