// PreciseClock (firmware/os/precise-clock.ts) on a fake alarm and a hand-moved monotonic time:
// the alarm always tracks the earliest live timer, timers fire in due order, cancelled ones
// never fire and stop keeping the alarm set. The real alarm is tested in test/netns.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { PRECISE_LEAD_MS, PreciseClock, type Alarm } from '../../../firmware/os/precise-clock.js';

class FakeAlarm implements Alarm {
  /** The delay of the current setting, or undefined when disarmed. */
  armed: number | undefined;
  sets = 0;
  closed = false;
  constructor(readonly onFire: () => void) {}
  set(delayMs: number): void {
    this.armed = delayMs;
    this.sets++;
  }
  clear(): void {
    this.armed = undefined;
  }
  close(): void {
    this.closed = true;
    this.armed = undefined;
  }
}

function near(actual: number | undefined, expected: number, message = 'alarm setting'): void {
  assert.ok(actual !== undefined && Math.abs(actual - expected) < 1e-6, `${message}: ${actual} instead of ${expected}`);
}

function setup() {
  let now = 1000;
  let alarm!: FakeAlarm;
  const clock = new PreciseClock((onFire) => (alarm = new FakeAlarm(onFire)), () => now);
  /** Moves time to when the alarm was set for and fires it, as the addon's thread would. */
  const fire = () => {
    assert.notEqual(alarm.armed, undefined, 'the alarm is set');
    now += alarm.armed!;
    alarm.armed = undefined;
    alarm.onFire();
  };
  return { clock, alarm: () => alarm, fire, advance: (ms: number) => (now += ms), now: () => now };
}

describe('PreciseClock', () => {
  it('sets the alarm for the earliest timer and fires timers in due order, fractional delays kept', () => {
    const t = setup();
    const fired: string[] = [];
    t.clock.setTimer(35.156, () => fired.push('master-down'));
    near(t.alarm().armed, 35.156);
    t.clock.setTimer(3.906, () => fired.push('advert'));
    near(t.alarm().armed, 3.906);
    t.fire();
    assert.deepEqual(fired, ['advert']);
    near(t.alarm().armed, 35.156 - 3.906);
    t.fire();
    assert.deepEqual(fired, ['advert', 'master-down']);
    assert.equal(t.alarm().armed, undefined, 'nothing left: disarmed');
    assert.equal(t.clock.pendingCount, 0);
  });

  it('timers due at the same time fire in the order they were set', () => {
    const t = setup();
    const fired: number[] = [];
    for (let i = 0; i < 5; i++) t.clock.setTimer(10, () => fired.push(i));
    t.fire();
    assert.deepEqual(fired, [0, 1, 2, 3, 4]);
  });

  it('a cancelled timer never fires; cancelling the last live one disarms the alarm', () => {
    const t = setup();
    const fired: string[] = [];
    const early = t.clock.setTimer(5, () => fired.push('early'));
    const late = t.clock.setTimer(50, () => fired.push('late'));
    early.cancel();
    early.cancel();
    assert.equal(t.clock.pendingCount, 1);
    t.fire();
    assert.deepEqual(fired, [], 'the alarm woke for the cancelled timer and fired nothing');
    near(t.alarm().armed, 45, 're-armed for the live one');
    late.cancel();
    assert.equal(t.alarm().armed, undefined);
  });

  it('an alarm that fires early is set again for what remains', () => {
    const t = setup();
    const fired: string[] = [];
    t.clock.setTimer(10, () => fired.push('x'));
    t.advance(9);
    t.alarm().onFire();
    assert.deepEqual(fired, []);
    near(t.alarm().armed, 1);
  });

  it('a timer set inside a callback waits for the next firing, even with delay 0', () => {
    const t = setup();
    const fired: string[] = [];
    t.clock.setTimer(1, () => {
      fired.push('outer');
      t.clock.setTimer(0, () => fired.push('inner'));
    });
    t.fire();
    assert.deepEqual(fired, ['outer']);
    near(t.alarm().armed, 0);
    t.fire();
    assert.deepEqual(fired, ['outer', 'inner']);
  });

  it('re-arming a master-down timer on every advert keeps the heap small and the alarm on the live timer', () => {
    const t = setup();
    let handle = t.clock.setTimer(35, () => assert.fail('the master is alive'));
    for (let i = 0; i < 10_000; i++) {
      t.advance(3.9);
      handle.cancel();
      handle = t.clock.setTimer(35, () => assert.fail('the master is alive'));
      near(t.alarm().armed, 35);
    }
    assert.equal(t.clock.pendingCount, 1);
    // Many long timers cancelled early are compacted away rather than kept until due.
    const long = Array.from({ length: 1000 }, () => t.clock.setTimer(3_600_000, () => undefined));
    for (const timer of long) timer.cancel();
    assert.equal(t.clock.pendingCount, 1);
    handle.cancel();
  });

  it('a throwing callback is an uncaught exception, and the timers after it still fire', async () => {
    const t = setup();
    const fired: string[] = [];
    t.clock.setTimer(1, () => {
      throw new Error('boom');
    });
    t.clock.setTimer(1, () => fired.push('after'));
    const uncaught = new Promise<Error>((resolve) => {
      const listeners = process.listeners('uncaughtException');
      process.removeAllListeners('uncaughtException');
      process.once('uncaughtException', (error) => {
        for (const listener of listeners) process.on('uncaughtException', listener);
        resolve(error);
      });
    });
    t.fire();
    assert.deepEqual(fired, ['after']);
    assert.equal((await uncaught).message, 'boom');
  });

  it('a precise timer sets the alarm early and spins the rest, firing at its due time and not before', () => {
    let now = 0;
    let ticking = false;
    let alarm!: FakeAlarm;
    // While the clock spins, every reading moves time on by 10 µs.
    const clock = new PreciseClock((onFire) => (alarm = new FakeAlarm(onFire)), () => (ticking ? (now += 0.01) : now));
    let firedAt: number | undefined;
    clock.setTimer(35, () => (firedAt = now), { precise: true });
    near(alarm.armed, 35 - PRECISE_LEAD_MS, 'woken early');
    now += alarm.armed!;
    ticking = true;
    alarm.onFire();
    ticking = false;
    assert.ok(firedAt !== undefined && firedAt >= 35 && firedAt < 35.05, `fired at ${firedAt}`);
  });

  it('close() cancels everything and closes the alarm', () => {
    const t = setup();
    t.clock.setTimer(5, () => assert.fail('closed'));
    t.clock.close();
    assert.equal(t.clock.pendingCount, 0);
    assert.ok(t.alarm().closed);
  });
});
