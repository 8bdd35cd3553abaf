// The pure cores of firmware/board/: what each LED shows for each daemon state (a table, one
// row per rule), the long-press machine, the input_event codec against byte vectors, and the
// profile presets.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buttonEdge, idleButton, type ButtonEdge } from '../../../firmware/board/button.js';
import { decodeInputEvents, encodeInputEvent, EV_KEY, INPUT_EVENT_SIZE } from '../../../firmware/board/input-codec.js';
import { faultReasons, ledPatterns, type BoardInputs, type LedPatterns } from '../../../firmware/board/patterns.js';
import { boardHasWork, resolveBoard } from '../../../firmware/board/profiles.js';
import { validate } from '../../../firmware/config/kit.js';
import { boardSchema } from '../../../firmware/board/schema.js';
import { parseConfig } from '../../../firmware/config/load.js';

const base: BoardInputs = { carp: [], maintenance: false, firewallFailed: false, degraded: false };

test('LED patterns: one row per rule', () => {
  const rows: Array<[string, Partial<BoardInputs>, LedPatterns]> = [
    ['no vhid: everything dark', {}, { master: 'off', backup: 'off', fault: 'off' }],
    ['MASTER of every vhid: master lit', { carp: ['MASTER', 'MASTER'] }, { master: 'on', backup: 'off', fault: 'off' }],
    ['BACKUP of every vhid: backup lit', { carp: ['BACKUP', 'BACKUP'] }, { master: 'off', backup: 'on', fault: 'off' }],
    ['split roles: master blinks slowly, backup dark', { carp: ['MASTER', 'BACKUP'] }, { master: 'blink-slow', backup: 'off', fault: 'off' }],
    ['a vhid in INIT is a fault', { carp: ['INIT', 'BACKUP'] }, { master: 'off', backup: 'on', fault: 'blink-fast' }],
    ['all INIT (boot, link down): only the fault LED', { carp: ['INIT'] }, { master: 'off', backup: 'off', fault: 'blink-fast' }],
    ['maintenance: backup blinks slowly whatever the roles', { carp: ['BACKUP'], maintenance: true }, { master: 'off', backup: 'blink-slow', fault: 'off' }],
    ['firewall not loaded is a fault', { carp: ['MASTER'], firewallFailed: true }, { master: 'on', backup: 'off', fault: 'blink-fast' }],
    ['a capability down is a fault', { carp: ['MASTER'], degraded: true }, { master: 'on', backup: 'off', fault: 'blink-fast' }],
  ];
  for (const [name, inputs, expected] of rows) assert.deepEqual(ledPatterns({ ...base, ...inputs }), expected, name);
  assert.deepEqual(faultReasons({ ...base, carp: ['INIT', 'INIT', 'MASTER'], firewallFailed: true }), ['2 vhid(s) in INIT', 'firewall not loaded']);
  assert.deepEqual(faultReasons({ ...base, carp: ['MASTER'] }), []);
});

test('button: held 3 s or more is a long press at release; shorter is short; a release without a press is ignored', () => {
  const run = (edges: ButtonEdge[]) => {
    let state = idleButton;
    const outcomes: string[] = [];
    for (const edge of edges) {
      const next = buttonEdge(state, edge, 3000);
      state = next.state;
      if (next.outcome) outcomes.push(next.outcome);
    }
    return outcomes;
  };
  assert.deepEqual(run([{ pressed: true, atMs: 1000 }, { pressed: false, atMs: 4000 }]), ['long-press']);
  assert.deepEqual(run([{ pressed: true, atMs: 1000 }, { pressed: false, atMs: 3999 }]), ['short-press']);
  assert.deepEqual(run([{ pressed: false, atMs: 5000 }]), ['ignored']);
  // A lost release: the second press restarts the hold.
  assert.deepEqual(run([{ pressed: true, atMs: 0 }, { pressed: true, atMs: 5000 }, { pressed: false, atMs: 6000 }]), ['short-press']);
  assert.deepEqual(run([{ pressed: true, atMs: 0 }, { pressed: false, atMs: 100 }, { pressed: true, atMs: 200 }, { pressed: false, atMs: 9000 }]), ['short-press', 'long-press']);
});

test('input_event codec: byte vectors as the kernel writes them (x86-64/arm64, 24 bytes, little-endian)', () => {
  // KEY_RESTART (408 = 0x198) pressed at 1733212800.250000, then the EV_SYN that ends the report.
  const press = Buffer.from('80ba4e6700000000' + '90d0030000000000' + '0100' + '9801' + '01000000', 'hex');
  const syn = Buffer.from('80ba4e6700000000' + '90d0030000000000' + '0000' + '0000' + '00000000', 'hex');
  const { events, rest } = decodeInputEvents(Buffer.concat([press, syn]));
  assert.deepEqual(events, [
    { timeMs: 1733212800250, type: EV_KEY, code: 408, value: 1 },
    { timeMs: 1733212800250, type: 0, code: 0, value: 0 },
  ]);
  assert.equal(rest.length, 0);
  assert.deepEqual(Buffer.from(encodeInputEvent(events[0]!)), press);
  // A read that ends mid-record hands the tail back.
  const split = decodeInputEvents(Buffer.concat([press, syn.subarray(0, 10)]));
  assert.equal(split.events.length, 1);
  assert.equal(split.rest.length, 10);
  for (let n = 0; n < INPUT_EVENT_SIZE; n++) assert.equal(decodeInputEvents(press.subarray(0, n)).events.length, 0, `${n} bytes`);
  // A release (value 0) and an autorepeat (2) decode with their values.
  assert.equal(decodeInputEvents(encodeInputEvent({ timeMs: 5, type: EV_KEY, code: 408, value: 2 })).events[0]!.value, 2);
  assert.equal(decodeInputEvents(encodeInputEvent({ timeMs: 5.5, type: EV_KEY, code: 408, value: -1 })).events[0]!.timeMs, 5.5);
});

test('profiles: the APU2 preset fills the LEDs, the front button and the watchdog; the config overrides a line', () => {
  const parse = (input: unknown) => {
    const { value, issues } = validate(boardSchema, input);
    assert.deepEqual(issues, []);
    return resolveBoard(value!);
  };
  const apu = parse({ profile: 'pcengines-apu2', leds: { master: { type: 'gpio', line: 17 } } });
  assert.deepEqual(apu.leds, {
    fault: { type: 'class', name: 'apu:green:1' },
    master: { type: 'gpio', line: 17, activeLow: false },
    backup: { type: 'class', name: 'apu:green:3' },
  });
  assert.deepEqual(apu.button, { type: 'input', device: 'apu2-keys', code: 408 });
  assert.deepEqual(apu.watchdog, { device: '/dev/watchdog', timeoutSeconds: 30 });
  assert.equal(apu.longPressMs, 3000);
  assert.equal(boardHasWork(parse({})), false);
  const custom = parse({ profile: 'custom', button: { type: 'gpio', line: 27 }, longPressSeconds: 1.5, watchdog: {} });
  assert.deepEqual(custom.button, { type: 'gpio', line: 27, activeLow: true, debounceMs: 20 });
  assert.deepEqual(custom.watchdog, { device: '/dev/watchdog', timeoutSeconds: 30 });
  assert.equal(custom.longPressMs, 1500);
  const bad = validate(boardSchema, { profile: 'apu', leds: { master: { type: 'class', name: 'a/b' } }, button: { type: 'gpio', line: 27, code: 1 } });
  assert.deepEqual(bad.issues.map((i) => i.path), ['profile', 'leds.master.name', 'button.code']);
});

test('tandem check: one LED for two roles, or a GPIO line that is both an LED and the button, is refused', () => {
  const result = parseConfig(`node: { name: fw-a }
board:
  profile: custom
  leds:
    master: { type: class, name: "apu:green:2" }
    backup: { type: class, name: "apu:green:2" }
    fault: { type: gpio, line: 27 }
  button: { type: gpio, line: 27 }
`);
  assert.ok(!result.ok);
  assert.deepEqual(result.issues.map((i) => `${i.path}: ${i.message}`), [
    'board.leds.backup: LED apu:green:2 is already used by board.leds.master',
    'board.button: GPIO 27 is already used by board.leds.fault',
  ]);
  assert.ok(parseConfig('node: { name: fw-a }\nboard: { profile: pcengines-apu2 }\n').ok);
  const moved = parseConfig('node: { name: fw-a }\nboard: { profile: pcengines-apu2, leds: { master: { type: class, name: "apu:green:3" } } }\n');
  assert.ok(!moved.ok);
  assert.deepEqual(moved.issues.map((i) => `${i.path}: ${i.message}`), ['board.leds.backup (from profile pcengines-apu2): LED apu:green:3 is already used by board.leds.master']);
});
