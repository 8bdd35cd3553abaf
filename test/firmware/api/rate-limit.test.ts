// The failed-login limiter (firmware/api/rate-limit.ts) on a FakeClock: five free tries, then a
// lockout doubling per failure up to its cap, per address and per user apart, a success
// resetting both, forgetting after quiet, IPv6 counted per /64, and memory bounded.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { addressKey, DEFAULT_LOGIN_LIMITS, LoginLimiter } from '../../../firmware/api/rate-limit.js';
import { FakeClock } from '../../../firmware/os/clock.js';

describe('login limiter', () => {
  it('allows five, then locks for 1 s, 2 s, 4 s ... up to 15 min', async () => {
    const clock = new FakeClock();
    const limiter = new LoginLimiter(clock);
    for (let i = 0; i < 5; i++) assert.deepEqual(limiter.admit('198.51.100.7', 'admin'), { allowed: true }, `try ${i + 1}`);
    assert.deepEqual(limiter.admit('198.51.100.7', 'admin'), { allowed: false, by: 'address', retryAfterSeconds: 1 });
    const waits: number[] = [];
    for (let i = 0; i < 12; i++) {
      const gate = limiter.admit('198.51.100.7', 'admin');
      assert.ok(!gate.allowed);
      waits.push(gate.retryAfterSeconds);
      await clock.advance(gate.retryAfterSeconds * 1000);
      assert.deepEqual(limiter.admit('198.51.100.7', 'admin'), { allowed: true }, `after waiting ${gate.retryAfterSeconds} s`);
    }
    assert.deepEqual(waits, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]);
  });

  it('counts per address and per user apart; a success clears both', async () => {
    const clock = new FakeClock();
    const limiter = new LoginLimiter(clock);
    for (let i = 0; i < 5; i++) limiter.admit(`198.51.100.${i + 1}`, 'admin');
    const byUser = limiter.admit('198.51.100.99', 'admin');
    assert.deepEqual(byUser, { allowed: false, by: 'user', retryAfterSeconds: 1 });
    assert.deepEqual(limiter.admit('198.51.100.1', 'ops'), { allowed: true }, 'another user from a counted address');
    limiter.succeeded('198.51.100.1', 'admin');
    assert.deepEqual(limiter.admit('198.51.100.99', 'admin'), { allowed: true });
  });

  it('refunds an attempt that was never judged', () => {
    const limiter = new LoginLimiter(new FakeClock());
    for (let i = 0; i < 5; i++) limiter.admit('198.51.100.7', 'admin');
    limiter.refund('198.51.100.7', 'admin');
    assert.deepEqual(limiter.admit('198.51.100.7', 'admin'), { allowed: true });
    assert.equal(limiter.admit('198.51.100.7', 'admin').allowed, false);
  });

  it('forgets a key after an hour without failures', async () => {
    const clock = new FakeClock();
    const limiter = new LoginLimiter(clock);
    for (let i = 0; i < 4; i++) limiter.admit('203.0.113.5', 'admin');
    await clock.advance(DEFAULT_LOGIN_LIMITS.forgetMs);
    for (let i = 0; i < 5; i++) assert.equal(limiter.admit('203.0.113.5', 'admin').allowed, true, `fresh try ${i + 1}`);
    assert.equal(limiter.admit('203.0.113.5', 'admin').allowed, false);
  });

  it('counts IPv6 per /64 and unwraps IPv4-mapped addresses', () => {
    assert.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:db8:1:2:bbbb:cccc:dddd:eeee'), '2001:db8:1:2::/64');
    assert.equal(addressKey('2001:0db8::1'), '2001:db8:0:0::/64');
    assert.equal(addressKey('::1'), '0:0:0:0::/64');
    assert.equal(addressKey('::ffff:198.51.100.7'), '198.51.100.7');
    assert.equal(addressKey('198.51.100.7'), '198.51.100.7');
    const limiter = new LoginLimiter(new FakeClock());
    for (let i = 0; i < 5; i++) limiter.admit(`2001:db8:1:2::${i + 1}`, `user${i}`);
    assert.deepEqual(limiter.admit('2001:db8:1:2:ffff::9', 'other'), { allowed: false, by: 'address', retryAfterSeconds: 1 });
    assert.equal(limiter.admit('2001:db8:1:3::1', 'other').allowed, true);
  });

  it('keeps at most maxEntries keys, dropping the least recently failed', () => {
    const limiter = new LoginLimiter(new FakeClock(), { ...DEFAULT_LOGIN_LIMITS, maxEntries: 10, freeFailures: 1 });
    for (let i = 0; i < 100; i++) limiter.admit(`203.0.113.${i}`, `random${i}`);
    assert.equal(limiter.size, 10);
    // The newest keys are the ones kept: the last address is locked, the first forgotten.
    assert.equal(limiter.admit('203.0.113.99', 'someone').allowed, false);
    assert.equal(limiter.admit('203.0.113.0', 'someone').allowed, true);
  });
});
