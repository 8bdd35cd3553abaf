// The `board` config section (issue 15): a board profile (the PC Engines APU2/3/4 preset, or
// custom lines) mapping MASTER / BACKUP / fault to LEDs, a long press of a button to
// maintenance, and a hardware watchdog the daemon feeds. LED lines are the kernel LED class or
// GPIO (onoff); a button is an input event device or a GPIO line.

import { optional, s, type Infer, type StringRule } from '../config/kit.js';

const isAbsolute: StringRule = (v) => (v.startsWith('/') && !v.includes('\0') ? undefined : 'must be an absolute path');
const isLedName: StringRule = (v) => (/^[^/\0]{1,64}$/.test(v) && v !== '.' && v !== '..' ? undefined : 'must be an LED class name like apu:green:1 (no /)');
const isInputDevice: StringRule = (v) =>
  v.startsWith('/') || /^[^/\0]{1,80}$/.test(v) ? undefined : 'must be an event device path (/dev/input/event0) or an input device name (apu2-keys)';

// KEY_RESTART in linux/input-event-codes.h: what the APU's front button reports.
export const KEY_RESTART = 408;

// A function, not one shared schema: describe() sets the doc on the object it is called on.
const ledLine = () =>
  s
    .variant(
      'type',
      {},
      {
        class: { name: s.string('an LED class name', isLedName).describe('Name under /sys/class/leds.', { example: 'apu:green:2' }) },
        gpio: {
          line: s.int(0, 4095).describe('Line number in the sysfs GPIO numbering onoff uses.'),
          activeLow: optional(s.bool().describe('The LED lights when the line is low.'), false),
        },
      },
    )
    .describe('One LED: `type: class` with `name`, or `type: gpio` with `line`.');

const leds = s
  .object({
    master: optional(ledLine().describe('Lit while this node is MASTER of every configured vhid; blinks while MASTER of some.')),
    backup: optional(ledLine().describe('Lit while BACKUP of every vhid; blinks in maintenance.')),
    fault: optional(ledLine().describe('Blinks fast on a fault: a configured vhid in INIT, the firewall failed to load, or the daemon degraded.')),
  })
  .describe('Which LED shows what; a profile fills those left out.');

const button = s
  .variant(
    'type',
    {},
    {
      input: {
        device: s.string('an event device or input name', isInputDevice).describe('`/dev/input/eventN`, or the input device\'s name as in /sys/class/input/*/device/name.', { example: 'apu2-keys' }),
        code: optional(s.int(0, 767).describe('Key code (linux/input-event-codes.h).'), KEY_RESTART),
      },
      gpio: {
        line: s.int(0, 4095).describe('Line number in the sysfs GPIO numbering onoff uses.'),
        activeLow: optional(s.bool().describe('Pressed reads low (a button to ground with a pull-up).'), true),
        debounceMs: optional(s.int(0, 1000).describe('Ignore edges this soon after the last one.'), 20),
      },
    },
  )
  .describe('The button whose long press toggles maintenance: `type: input` or `type: gpio`.');

export const boardSchema = s
  .object({
    profile: optional(
      s.enumOf('none', 'pcengines-apu2', 'custom').describe('none: no LEDs, button or watchdog unless listed; pcengines-apu2: APU2/3/4 front LEDs apu:green:1-3, the front button (apu2-keys, KEY_RESTART), sp5100_tco\'s /dev/watchdog; custom: only what is listed.'),
      'none',
    ),
    leds: optional(leds),
    button: optional(button),
    longPressSeconds: optional(s.number(0.5, 30).describe('How long the button is held to toggle maintenance (acts on release).'), 3),
    watchdog: optional(
      s
        .object({
          device: optional(s.string('an absolute path', isAbsolute).describe('The watchdog device.'), '/dev/watchdog'),
          timeoutSeconds: optional(s.int(2, 600).describe('Seconds without a feed before the board resets; fed every third of it. The driver\'s own timeout (its heartbeat= module parameter) is read from sysfs, and the feed runs at a third of the smaller of the two: Node has no ioctl to set it.'), 30),
        })
        .describe('A hardware watchdog the daemon keeps fed from its event loop: a hung daemon resets the board. Off unless set (the pcengines-apu2 profile sets it).'),
    ),
    sysfsRoot: optional(s.string('an absolute path', isAbsolute).describe('Where /sys is (tests point it at a fake tree).', { requiresRestart: true }), '/sys'),
  })
  .describe('Board LEDs, button and watchdog (issue 15). Costs nothing when absent: the code loads only when configured.');

export type BoardConfig = Infer<typeof boardSchema>;
export type LedLine = Infer<ReturnType<typeof ledLine>>;
export type ButtonLine = Infer<typeof button>;
