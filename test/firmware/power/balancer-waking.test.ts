// The balancer's `waking` power state, which the power executor sets before it wakes a host:
// checked (so its first passing checks end the wake), not serving and not counted against the
// pool until the power manager says awake; leaving `parked` forgets the stale health.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validate } from '../../../firmware/config/kit.js';
import { Pool, poolStateOf } from '../../../firmware/balancer/pool.js';
import { balancerSchema } from '../../../firmware/balancer/schema.js';

function pool(): Pool {
  const { value } = validate(balancerSchema, { pools: [{ name: 'web', port: 80, hosts: [{ address: '198.51.100.21' }, { address: '198.51.100.22' }] }] });
  return new Pool(value!.pools[0]!, 0);
}

describe('balancer: waking hosts', () => {
  it('a waking host is checked but neither serves nor counts as failing', () => {
    const p = pool();
    const [a, b] = p.hosts as [NonNullable<(typeof p.hosts)[0]>, NonNullable<(typeof p.hosts)[0]>];
    a.health = { ...a.health, health: 'up' };
    p.setPower(b, 'parked', 0);
    assert.equal(b.checked, false);
    p.setPower(b, 'waking', 1);
    assert.equal(b.checked, true);
    assert.equal(b.health.health, 'unknown', 'leaving parked forgets the health seen before it');
    b.health = { ...b.health, health: 'down' };
    assert.equal(b.state, 'waking');
    assert.equal(b.servesNew, false);
    assert.equal(b.expected, false);
    assert.equal(poolStateOf(p.hosts), 'up', 'a host still booting does not degrade the pool');
    b.health = { ...b.health, health: 'up' };
    assert.deepEqual(p.members(), ['198.51.100.21'], 'not in the table before the power manager says awake');
    p.setPower(b, 'awake', 2);
    assert.equal(b.health.health, 'up', 'waking → awake keeps the passing health');
    assert.deepEqual(p.members(), ['198.51.100.21', '198.51.100.22']);
  });
});
