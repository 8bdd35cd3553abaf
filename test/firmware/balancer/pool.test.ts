// The pool as data (firmware/balancer/pool.ts): which state a host shows when the operator,
// the power manager and the checks disagree, the pool's state, ids, table members and picks.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validate } from '../../../firmware/config/kit.js';
import { Pool, hostIds, poolStateOf, type PowerState } from '../../../firmware/balancer/pool.js';
import { balancerSchema, type HostMode, type PoolConfig } from '../../../firmware/balancer/schema.js';
import type { Health } from '../../../firmware/balancer/health.js';

function poolConfig(hosts: Record<string, unknown>[], extra: Record<string, unknown> = {}): PoolConfig {
  const { value, issues } = validate(balancerSchema, { pools: [{ name: 'web', port: 80, hosts, ...extra }] });
  assert.ok(value, JSON.stringify(issues));
  return value.pools[0]!;
}

function poolWith(states: [HostMode, PowerState, Health][]): Pool {
  const pool = new Pool(poolConfig(states.map(([mode], i) => ({ address: `198.51.100.${21 + i}`, mode }))), 0);
  states.forEach(([, power, health], i) => {
    const host = pool.hosts[i]!;
    host.power = power;
    host.health = { ...host.health, health };
  });
  return pool;
}

describe('host state', () => {
  const rows: [HostMode, PowerState, Health, string, boolean][] = [
    ['active', 'awake', 'up', 'up', true],
    ['active', 'awake', 'down', 'down', false],
    ['active', 'awake', 'unknown', 'unknown', false],
    ['draining', 'awake', 'up', 'draining', false],
    ['active', 'draining', 'up', 'draining', false],
    ['active', 'parked', 'down', 'parked', false],
    ['draining', 'parked', 'unknown', 'parked', false],
    ['maintenance', 'parked', 'up', 'maintenance', false],
    ['maintenance', 'awake', 'up', 'maintenance', false],
  ];
  for (const [mode, power, health, state, serves] of rows) {
    it(`mode ${mode}, power ${power}, health ${health}: ${state}${serves ? ', serves' : ''}`, () => {
      const host = poolWith([[mode, power, health]]).hosts[0]!;
      assert.equal(host.state, state);
      assert.equal(host.servesNew, serves);
    });
  }
});

describe('pool state', () => {
  const rows: [string, [HostMode, PowerState, Health][], string][] = [
    ['all up', [['active', 'awake', 'up'], ['active', 'awake', 'up']], 'up'],
    ['one down', [['active', 'awake', 'up'], ['active', 'awake', 'down']], 'degraded'],
    ['all down', [['active', 'awake', 'down'], ['active', 'awake', 'down']], 'down'],
    ['down plus a draining host that is up', [['active', 'awake', 'down'], ['draining', 'awake', 'up']], 'down'],
    ['not checked yet', [['active', 'awake', 'unknown']], 'unknown'],
    ['up plus parked', [['active', 'awake', 'up'], ['active', 'parked', 'unknown']], 'up'],
    ['everything parked or in maintenance', [['maintenance', 'awake', 'down'], ['active', 'parked', 'down']], 'empty'],
  ];
  for (const [what, states, expected] of rows) {
    it(`${what}: ${expected}`, () => assert.equal(poolStateOf(poolWith(states).hosts), expected));
  }
});

describe('ids, members and picks', () => {
  it('ids are names, else addresses, with the port where an address repeats', () => {
    const config = poolConfig([
      { address: '198.51.100.21', port: 8080 },
      { address: '198.51.100.21', port: 8081 },
      { address: '2001:db8::22', port: 8080 },
      { address: '2001:db8::22', port: 8081 },
      { address: '198.51.100.23', name: 'web-3' },
      { address: '198.51.100.24' },
    ]);
    assert.deepEqual(hostIds(config), ['198.51.100.21:8080', '198.51.100.21:8081', '[2001:db8::22]:8080', '[2001:db8::22]:8081', 'web-3', '198.51.100.24']);
  });

  it('a host at its maxConnections is skipped until one closes', () => {
    const pool = new Pool(poolConfig([{ address: '198.51.100.21', maxConnections: 1 }, { address: '198.51.100.22' }], { relay: { listen: '198.51.100.100:80' } }), 0);
    for (const h of pool.hosts) h.health = { ...h.health, health: 'up' };
    const first = pool.pick('203.0.113.9', new Set())!;
    assert.equal(first.id, '198.51.100.21');
    pool.opened(first, 0);
    assert.deepEqual([pool.pick('x', new Set())!.id, pool.pick('x', new Set())!.id], ['198.51.100.22', '198.51.100.22']);
    pool.closed(first);
    assert.equal(pool.pick('x', new Set(['198.51.100.22']))!.id, '198.51.100.21');
    assert.equal(pool.pick('x', new Set(['198.51.100.21', '198.51.100.22'])), undefined);
  });
});
