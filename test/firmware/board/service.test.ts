// The board service (firmware/board/service.ts, watchdog.ts) on fake lines and a FakeClock:
// LEDs follow the state, a long press toggles maintenance, the watchdog is fed every third of
// its timeout and disarmed only on a clean stop; and a real Daemon (daemon.ts wiring) whose
// LEDs follow its CARP state and whose button puts it in maintenance.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FakeBoardDrivers } from '../../../firmware/board/fake.js';
import type { BoardInputs } from '../../../firmware/board/patterns.js';
import { resolveBoard } from '../../../firmware/board/profiles.js';
import { boardSchema } from '../../../firmware/board/schema.js';
import { BoardService } from '../../../firmware/board/service.js';
import { formatBoardStatus } from '../../../firmware/board/format.js';
import { validate } from '../../../firmware/config/kit.js';
import { configSchema } from '../../../firmware/config/schema.js';
import { Daemon } from '../../../firmware/daemon.js';
import { createLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';

const quiet = createLogger('error', () => undefined);

function board(input: unknown) {
  const { value, issues } = validate(boardSchema, input);
  assert.deepEqual(issues, []);
  return resolveBoard(value!);
}

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

describe('BoardService', () => {
  it('shows the state on the LEDs, writing only changes', async () => {
    const clock = new FakeClock();
    const drivers = new FakeBoardDrivers(() => clock.monotonic());
    let inputs: BoardInputs = { carp: ['INIT'], maintenance: false, firewallFailed: false, degraded: false };
    const service = new BoardService(board({ profile: 'pcengines-apu2', watchdog: undefined }), {
      clock,
      log: quiet,
      drivers,
      inputs: () => inputs,
      maintenance: { get: () => false, set: async () => undefined },
    });
    await service.start();
    await service.settled();
    const led = (name: string) => drivers.leds.get(`class:${name}`)!;
    assert.deepEqual([led('apu:green:1').current, led('apu:green:2').current, led('apu:green:3').current], ['blink-fast', 'off', 'off']);
    inputs = { ...inputs, carp: ['MASTER'] };
    service.refresh();
    service.refresh();
    await service.settled();
    assert.deepEqual(led('apu:green:2').patterns, ['off', 'on']);
    assert.deepEqual(led('apu:green:1').patterns, ['blink-fast', 'off']);
    assert.deepEqual(service.status().leds, {
      fault: { line: 'class:apu:green:1', pattern: 'off' },
      master: { line: 'class:apu:green:2', pattern: 'on' },
      backup: { line: 'class:apu:green:3', pattern: 'off' },
    });
    // A fault with no event of its own shows within the periodic refresh.
    inputs = { ...inputs, degraded: true };
    await clock.advance(5000);
    await service.settled();
    assert.equal(led('apu:green:1').current, 'blink-fast');
    assert.deepEqual(service.status().faults, ['a configured capability is not running']);
    await service.stop();
    assert.ok([...drivers.leds.values()].every((l) => l.closed && l.current === 'off'));
  });

  it('a long press toggles maintenance through the given path; a short press does not', async () => {
    const clock = new FakeClock();
    const drivers = new FakeBoardDrivers(() => clock.monotonic());
    let maintenance = false;
    const calls: string[] = [];
    const service = new BoardService(board({ profile: 'custom', button: { type: 'gpio', line: 27 }, longPressSeconds: 2 }), {
      clock,
      log: quiet,
      drivers,
      inputs: () => ({ carp: [], maintenance, firewallFailed: false, degraded: false }),
      maintenance: {
        get: () => maintenance,
        set: async (on, by) => {
          calls.push(`${on ? 'on' : 'off'} by ${by}`);
          maintenance = on;
        },
      },
    });
    await service.start();
    const button = drivers.buttons[0]!;
    button.edge(true, 1000);
    button.edge(false, 1500);
    button.edge(true, 10_000);
    button.edge(false, 12_000);
    await settle();
    button.edge(true, 20_000);
    button.edge(false, 25_000);
    await settle();
    assert.deepEqual(calls, ['on by button', 'off by button']);
    const status = service.status().button!;
    assert.deepEqual(status.presses, { 'long-press': 2, 'short-press': 1 });
    assert.equal(status.line, 'gpio:27');
    assert.equal(status.longPressSeconds, 2);
    await service.stop();
  });

  it('watchdog: fed at once and every third of the timeout; the driver\'s shorter timeout wins; V only on a clean stop', async () => {
    const clock = new FakeClock();
    const drivers = new FakeBoardDrivers(() => clock.monotonic(), 15);
    const service = new BoardService(board({ watchdog: { timeoutSeconds: 30 } }), {
      clock,
      log: quiet,
      drivers,
      inputs: () => ({ carp: [], maintenance: false, firewallFailed: false, degraded: false }),
      maintenance: { get: () => false, set: async () => undefined },
    });
    await service.start();
    await clock.advance(12_000);
    await service.stop();
    await clock.advance(60_000);
    const wd = drivers.watchdogs[0]!;
    assert.deepEqual(wd.writes, [
      { op: 'open', at: 0 },
      { op: 'feed', at: 0 },
      { op: 'feed', at: 5000 },
      { op: 'feed', at: 10_000 },
      { op: 'close-magic', at: 12_000 },
    ]);
    const status = service.status().watchdog!;
    assert.equal(status.phase, 'stopped');
    assert.equal(status.intervalMs, 5000);
    assert.equal(status.driverTimeoutSeconds, 15);
    assert.equal(status.feeds, 3);

    const crashed = new FakeBoardDrivers(() => clock.monotonic());
    const second = new BoardService(board({ watchdog: {} }), {
      clock,
      log: quiet,
      drivers: crashed,
      inputs: () => ({ carp: [], maintenance: false, firewallFailed: false, degraded: false }),
      maintenance: { get: () => false, set: async () => undefined },
    });
    await second.start();
    await clock.advance(10_000);
    await second.abandon();
    assert.deepEqual(crashed.watchdogs[0]!.writes.map((w) => w.op), ['open', 'feed', 'feed', 'close']);
  });
});

describe('Daemon with a board', () => {
  it('its LEDs follow CARP, its button puts it in maintenance (persisted, evented), its status shows the board', async () => {
    const clock = new FakeClock();
    const segment = new Segment(clock, { seed: 3 });
    segment.attach('fw-a', { addresses: ['198.51.100.11/24'] });
    const host = segment.host('fw-a');
    const files = new MemoryFileStore();
    const drivers = new FakeBoardDrivers(() => clock.monotonic());
    const { value, issues } = validate(configSchema, {
      node: { name: 'fw-a', stateDir: '/var/lib/tandem' },
      carp: [{ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret' }],
      board: { profile: 'pcengines-apu2' },
    });
    assert.deepEqual(issues, []);
    const daemon = new Daemon(value!, {
      clock,
      files,
      processes: new FakeProcessRunner(),
      packets: host,
      addresses: host,
      announcer: host,
      links: host,
      log: quiet,
      board: drivers,
    });
    const events: string[] = [];
    daemon.events.on((e) => events.push(e.type === 'commandExecuted' ? `${e.type}:${e.action}:${e.by}` : e.type));
    await daemon.start();
    await clock.advance(4000);
    await daemon.board!.settled();
    const master = drivers.leds.get('class:apu:green:2')!;
    assert.equal(daemon.status().carp[0]!.state, 'MASTER');
    assert.equal(master.current, 'on');
    assert.equal(drivers.watchdogs[0]!.writes.filter((w) => w.op === 'feed').length, 1 + Math.floor(4000 / 10_000));

    const button = drivers.buttons[0]!;
    button.edge(true, 100_000);
    button.edge(false, 103_500);
    await settle();
    await clock.advance(1);
    assert.equal(daemon.status().maintenance, true);
    assert.deepEqual(events.filter((e) => e.startsWith('maintenance') || e.startsWith('commandExecuted')), ['maintenance', 'commandExecuted:maintenance on:button']);
    assert.match((await files.read('/var/lib/tandem/state.json'))!, /"maintenance":true/);
    await daemon.board!.settled();
    assert.equal(drivers.leds.get('class:apu:green:3')!.current, 'blink-slow');
    const status = daemon.status().board!;
    assert.equal(status.profile, 'pcengines-apu2');
    assert.equal(status.button!.line, 'input:apu2-keys');
    assert.equal(status.watchdog!.phase, 'feeding');
    await daemon.stop();
    assert.equal(drivers.watchdogs[0]!.writes.at(-1)!.op, 'close-magic');
  });
});

describe('tandem status text', () => {
  it('names each LED with its pattern, the faults, the button and the watchdog', () => {
    const lines = formatBoardStatus({
      profile: 'pcengines-apu2',
      leds: { fault: { line: 'class:apu:green:1', pattern: 'blink-fast' }, master: { line: 'class:apu:green:2', pattern: 'off', error: 'EACCES' } },
      faults: ['1 vhid(s) in INIT'],
      button: { line: 'input:apu2-keys', longPressSeconds: 3, presses: { 'long-press': 1, 'short-press': 2 }, lastLongPressAt: '2026-11-22T10:00:00.000Z' },
      watchdog: { device: '/dev/watchdog', phase: 'feeding', timeoutSeconds: 30, driverTimeoutSeconds: 60, intervalMs: 10_000, feeds: 7 },
    });
    assert.deepEqual(lines, [
      '  board pcengines-apu2  leds: fault blink-fast (class:apu:green:1), master off (class:apu:green:2) ERROR EACCES  faults: 1 vhid(s) in INIT',
      '    button input:apu2-keys: hold 3 s for maintenance; 1 long, 2 short press(es), last long 2026-11-22T10:00:00.000Z',
      '    watchdog /dev/watchdog: feeding, timeout 30 s (driver 60 s), fed every 10000 ms, 7 feeds',
    ]);
  });
});
