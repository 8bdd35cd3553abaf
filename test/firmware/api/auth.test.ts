// Users and sessions (firmware/api/auth.ts): the hash format's checks as a table, hashing and
// verifying against node's own scrypt, login outcomes and the bound on concurrent checks, and
// sessions' idle and absolute timeouts, eviction and retention on a FakeClock.

import { strict as assert } from 'node:assert';
import { scryptSync } from 'node:crypto';
import { describe, it } from 'node:test';

import { checkPasswordHash, hashPassword, parsePasswordHash, sameSecret, SessionStore, Users, verifyPassword } from '../../../firmware/api/auth.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { CHEAP } from './server-harness.js';

const SALT = 'AAECAwQFBgcICQoLDA0ODw=='; // 16 bytes
const KEY = 'AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8='; // 32 bytes

describe('password hashes', () => {
  it('checks the format, each rule with its own message', () => {
    const table: [string, RegExp | undefined][] = [
      [`scrypt$16384$8$1$${SALT}$${KEY}`, undefined],
      [`scrypt$1024$1$16$${SALT}$${KEY}`, undefined],
      ['hunter2', /must be scrypt\$N\$r\$p\$salt\$hash/],
      [`bcrypt$16384$8$1$${SALT}$${KEY}`, /must be scrypt/],
      [`scrypt$16384$8$1$${SALT}`, /must be scrypt/],
      [`scrypt$16000$8$1$${SALT}$${KEY}`, /N must be a power of two/],
      [`scrypt$512$8$1$${SALT}$${KEY}`, /N must be a power of two 1024-1048576, got 512/],
      [`scrypt$16384$0$1$${SALT}$${KEY}`, /r must be 1-32/],
      [`scrypt$16384$8$17$${SALT}$${KEY}`, /p must be 1-16/],
      [`scrypt$1048576$8$1$${SALT}$${KEY}`, /needs 1024 MiB per login; at most 256 MiB/],
      [`scrypt$16384$8$1$AAECAw==$${KEY}`, /salt must be at least 16 bytes, is 4/],
      [`scrypt$16384$8$1$${SALT}$AAEC`, /hash must be 16-64 bytes, is 3/],
      [`scrypt$16384$8$1$${SALT}$not*base64`, /base64/],
      [`scrypt$16384$8$x$${SALT}$${KEY}`, /p must be 1-16, got x/],
    ];
    for (const [text, problem] of table) {
      const message = checkPasswordHash(text);
      if (problem) assert.match(message ?? '(accepted)', problem, text);
      else assert.equal(message, undefined, text);
    }
  });

  it('hashes with fresh salt and verifies against node scrypt itself', async () => {
    const a = await hashPassword('pässword', CHEAP);
    const b = await hashPassword('pässword', CHEAP);
    assert.notEqual(a, b, 'a new salt each time');
    const parsed = parsePasswordHash(a);
    assert.ok(parsed.ok);
    const expected = scryptSync('pässword'.normalize('NFC'), parsed.value.salt, 32, { N: 1024, r: 8, p: 1 });
    assert.deepEqual(parsed.value.hash, expected);
    assert.ok(await verifyPassword('pässword', a));
    // NFC and NFD spellings of the same text are the same password.
    assert.ok(await verifyPassword('pa\u0308ssword', a));
    assert.ok(!(await verifyPassword('password', a)));
    assert.ok(!(await verifyPassword('pässword', 'scrypt$broken')));
    const defaults = await hashPassword('x');
    assert.match(defaults, /^scrypt\$16384\$8\$1\$/);
  });

  it('compares secrets in full', () => {
    assert.ok(sameSecret('abc', 'abc'));
    assert.ok(!sameSecret('abc', 'abd'));
    assert.ok(!sameSecret('abc', 'abcd'));
    assert.ok(!sameSecret('', 'a'));
  });
});

describe('users', () => {
  it('answers ok, wrongPassword (also for unknown names) and noUsers', async () => {
    const users = new Users([{ name: 'admin', passwordHash: await hashPassword('pw', CHEAP) }]);
    assert.equal(await users.check('admin', 'pw'), 'ok');
    assert.equal(await users.check('admin', 'PW'), 'wrongPassword');
    assert.equal(await users.check('nobody', 'pw'), 'wrongPassword');
    assert.equal(users.count, 1);
    users.replace([]);
    assert.equal(await users.check('admin', 'pw'), 'noUsers');
  });

  it('runs a bounded number of checks at once and turns the overflow away as busy', async () => {
    const users = new Users([{ name: 'admin', passwordHash: await hashPassword('pw', CHEAP) }], { concurrent: 1, queued: 2 });
    const outcomes = await Promise.all([1, 2, 3, 4, 5].map(() => users.check('admin', 'pw')));
    assert.deepEqual(outcomes.sort(), ['busy', 'busy', 'ok', 'ok', 'ok']);
    // Once they are done, checks run again.
    assert.equal(await users.check('admin', 'pw'), 'ok');
  });
});

describe('sessions', () => {
  it('times out after the idle period and at the absolute limit', async () => {
    const clock = new FakeClock();
    const store = new SessionStore(clock, { idleMinutes: 10, absoluteHours: 1 });
    const s = store.create('admin');
    assert.match(s.id, /^[A-Za-z0-9_-]{43}$/);
    assert.notEqual(s.id, s.csrfToken);
    assert.equal(store.lookup(s.id).ok, true);
    await clock.advance(10 * 60_000 - 1);
    assert.equal(store.lookup(s.id).ok, true);
    await clock.advance(10 * 60_000);
    assert.deepEqual(store.lookup(s.id), { ok: false, reason: 'idle' });
    assert.deepEqual(store.lookup(s.id), { ok: false, reason: 'unknown' }, 'an ended session is gone');

    const t = store.create('admin');
    for (let i = 0; i < 5; i++) {
      await clock.advance(9 * 60_000);
      assert.equal(store.lookup(t.id).ok, true);
    }
    await clock.advance(15 * 60_000 - 1); // 60 min minus 1 ms since login, but idle 15 min
    assert.deepEqual(store.lookup(t.id), { ok: false, reason: 'idle' });
    const u = store.create('admin');
    for (let i = 0; i < 6; i++) await clock.advance(9 * 60_000).then(() => store.lookup(u.id));
    await clock.advance(6 * 60_000);
    assert.deepEqual(store.lookup(u.id), { ok: false, reason: 'expired' });
    assert.deepEqual(store.lookup(undefined), { ok: false, reason: 'missing' });
    assert.deepEqual(store.lookup('forged'), { ok: false, reason: 'unknown' });
  });

  it('keeps at most max sessions, dropping the least recently used; retains by user', async () => {
    const clock = new FakeClock();
    const store = new SessionStore(clock, { idleMinutes: 30, absoluteHours: 8, max: 3 });
    const a = store.create('a');
    await clock.advance(1);
    const b = store.create('b');
    await clock.advance(1);
    const c = store.create('c');
    await clock.advance(1);
    store.lookup(a.id); // a used last: b is now the oldest
    const d = store.create('d');
    assert.equal(store.count, 3);
    assert.equal(store.lookup(b.id).ok, false);
    assert.equal(store.lookup(a.id).ok, true);
    assert.equal(store.retain((user) => user !== 'c'), 1);
    assert.equal(store.lookup(c.id).ok, false);
    assert.equal(store.lookup(d.id).ok, true);
    assert.ok(store.delete(d.id));
    assert.equal(store.count, 1);
    await clock.advance(31 * 60_000);
    assert.equal(store.count, 0, 'count sweeps ended sessions');
  });

  it('keeps at most maxPerUser sessions per user, so one account cannot push others out', async () => {
    const clock = new FakeClock();
    const store = new SessionStore(clock, { idleMinutes: 30, absoluteHours: 8, max: 6, maxPerUser: 3 });
    const other = store.create('ops');
    const mine = [];
    for (let i = 0; i < 10; i++) {
      await clock.advance(1);
      mine.push(store.create('admin'));
    }
    assert.equal(store.count, 4);
    assert.equal(store.lookup(other.id).ok, true, "ops's session survives admin's ten logins");
    assert.deepEqual(mine.map((s) => store.lookup(s.id).ok), [false, false, false, false, false, false, false, true, true, true]);
  });
});
