// The board on the booted x86-64 image (issue 15 items 3 and 5). The button: the guest's PS/2
// keyboard (i8042, atkbd, evdev: the kernel's own input path) held through QMP's
// input-send-event, read by the daemon from /dev/input/eventN found by its device name; a long
// press puts the node in maintenance. The LEDs: the keyboard's lock LEDs on the kernel's LED
// class (input-leds), MASTER lit, maintenance blinking (by the daemon, then by the kernel's timer
// trigger once ledtrig-timer is loaded). The watchdog: qemu's i6300esb with `-action
// watchdog=reset`, `board.watchdog` in /cfg/tandem.yaml. The daemon feeds it from its
// event loop past what it waits unfed; SIGSTOP on the daemon (an event loop that never runs again)
// stops the feeding and the watchdog resets the machine, which boots again (measured: the
// reset's boot line 52-78 s after SIGSTOP in four runs; qemu's i6300esb counts its 30 s heartbeat
// in two stages). About 4-5 minutes with the boot.

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { test } from 'node:test';
import { Lab } from '../netns/lab.js';
import { ensureImage, requireImageTier, type Vm, vmWorkdir } from './harness.js';
import { BOOT_MS, bootGuests, guestConfig, untilStatus, WEB_UI_LINE } from './guest.js';

const DAEMON_PID = `for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null | grep -qE 'tandem(\\.mjs)? run ' && echo \${p#/proc/}; done; true`;

// linux/input-event-codes.h KEY_F12; QMP's qcode for the same key.
const KEY_F12 = 88;

/** QMP (qemu's JSON control socket): sends each command after the greeting, in order. */
async function qmp(socket: string, commands: Array<Record<string, unknown>>): Promise<void> {
  const client = connect(socket);
  let buffer = '';
  const replies: string[] = [];
  let wake: (() => void) | undefined;
  client.setEncoding('utf8').on('data', (chunk: string) => {
    buffer += chunk;
    let nl: number;
    while ((nl = buffer.indexOf('\n')) >= 0) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      // Events (asynchronous notices) are not replies.
      if (!line.includes('"event"')) replies.push(line);
      wake?.();
    }
  });
  const next = async (): Promise<string> => {
    const deadline = Date.now() + 10_000;
    while (replies.length === 0) {
      if (Date.now() > deadline) throw new Error('no reply from QMP');
      await new Promise<void>((resolve) => {
        wake = resolve;
        setTimeout(resolve, 200);
      });
    }
    return replies.shift()!;
  };
  try {
    assert.match(await next(), /"QMP"/);
    for (const command of [{ execute: 'qmp_capabilities' }, ...commands]) {
      client.write(JSON.stringify(command) + '\n');
      const reply = await next();
      assert.match(reply, /"return"/, `${JSON.stringify(command)}: ${reply}`);
    }
  } finally {
    client.destroy();
  }
}

const key = (down: boolean) => ({
  execute: 'input-send-event',
  arguments: { events: [{ type: 'key', data: { down, key: { type: 'qcode', data: 'f12' } } }] },
});

interface ButtonStatus {
  line: string;
  presses: { 'long-press': number; 'short-press': number };
  error?: string;
}

interface WatchdogStatus {
  phase: string;
  timeoutSeconds: number;
  driverTimeoutSeconds?: number;
  intervalMs: number;
  feeds: number;
}

test('a long press on a real input device toggles maintenance; LEDs on the kernel LED class follow; the daemon keeps the i6300esb watchdog fed; a stopped daemon lets it reset the machine', { timeout: 900_000 }, async (t) => {
  if (!requireImageTier(t)) return;
  const build = await ensureImage('x86_64');
  const work = await vmWorkdir();
  const lab = await Lab.create({ hosts: 1 });
  let vms: Vm[] = [];
  try {
    const board = {
      profile: 'custom',
      button: { type: 'input', device: 'AT Translated Set 2 keyboard', code: KEY_F12 },
      longPressSeconds: 2,
      watchdog: { device: '/dev/watchdog', timeoutSeconds: 30 },
    };
    // CARP alone on the segment: MASTER, which the master LED shows.
    const config = guestConfig({ name: 'wd', address: '198.51.100.31/24', carp: { advskew: 0 }, extra: { board } });
    const qmpSocket = join(work.path, 'qmp.sock');
    vms = await bootGuests(build, lab, work.path, [
      {
        name: 'w',
        cfg: { kind: 'files', files: { 'tandem.yaml': config } },
        extraArgs: ['-device', 'i6300esb', '-action', 'watchdog=reset', '-qmp', `unix:${qmpSocket},server=on,wait=off`],
      },
    ]);
    const vm = vms[0]!;
    await vm.waitFor(WEB_UI_LINE, BOOT_MS);

    // The button: a short press does nothing, a 3 s hold puts the node in maintenance.
    const button = await untilStatus(vm, 'the button to be read', (s) => (s.board as { button?: ButtonStatus } | undefined)?.button, 120_000);
    assert.equal(button.error, undefined, `button: ${JSON.stringify(button)}`);
    await qmp(qmpSocket, [key(true)]);
    await new Promise((r) => setTimeout(r, 300));
    await qmp(qmpSocket, [key(false)]);
    await qmp(qmpSocket, [key(true)]);
    await new Promise((r) => setTimeout(r, 3000));
    await qmp(qmpSocket, [key(false)]);
    const pressed = await untilStatus(vm, 'maintenance on from the long press', (s) => (s.maintenance === true ? s : undefined), 60_000);
    const presses = (pressed.board as { button: ButtonStatus }).button.presses;
    t.diagnostic(`button ${(pressed.board as { button: ButtonStatus }).button.line}: ${JSON.stringify(presses)}`);
    assert.deepEqual(presses, { 'long-press': 1, 'short-press': 1 });

    // LEDs on the kernel's LED class: the keyboard's lock LEDs (input-leds). The names carry the
    // input device's number, so they are read from the guest and the config reloaded with them.
    const names = (await vm.ok('ls /sys/class/leds')).split(/\s+/);
    const numlock = names.find((n) => n.endsWith('::numlock'));
    const capslock = names.find((n) => n.endsWith('::capslock'));
    assert.ok(numlock && capslock, `keyboard LEDs in /sys/class/leds: ${names.join(' ')}`);
    const leds = `  leds: { master: { type: class, name: "${numlock}" }, backup: { type: class, name: "${capslock}" } }`;
    const edit = (from: string, to: string) =>
      vm.ok(`node -e 'const f="/cfg/tandem.yaml",fs=require("fs");fs.writeFileSync(f,fs.readFileSync(f,"utf8").replace(${JSON.stringify(from)},${JSON.stringify(to)}))'`);
    const reload = async () => vm.ok(`kill -HUP ${Number(await vm.ok(DAEMON_PID))}`);
    const led = (name: string, file: string) => vm.ok(`cat /sys/class/leds/${name}/${file}`);
    const untilLed = async (name: string, file: string, want: string | RegExp) => {
      const deadline = Date.now() + 30_000;
      let got = '';
      while (Date.now() < deadline) {
        got = await led(name, file);
        if (typeof want === 'string' ? got === want : want.test(got)) return;
        await new Promise((r) => setTimeout(r, 1000));
      }
      assert.fail(`${name}/${file}: ${JSON.stringify(got)}, wanted ${String(want)}`);
    };
    await edit('  profile: custom\n', `  profile: custom\n${leds}\n`);
    await vm.ok('tandem check --config /cfg/tandem.yaml');
    await reload();
    await untilStatus(vm, 'the LEDs configured', (s) => (s.board as { leds?: Record<string, { pattern: string }> } | undefined)?.leds?.backup?.pattern === 'blink-slow' || undefined, 60_000);
    // MASTER (alone on the segment): lit. Maintenance: the backup LED blinks; without
    // ledtrig-timer loaded the daemon toggles it itself.
    await untilStatus(vm, 'MASTER', (s) => (s.carp[0]?.state === 'MASTER' ? true : undefined), 60_000);
    await untilLed(numlock, 'brightness', '1');
    assert.doesNotMatch(await led(capslock, 'trigger'), /\btimer\b/);
    const samples = await vm.ok(`for i in 1 2 3 4 5 6 7 8 9 10; do cat /sys/class/leds/${capslock}/brightness; sleep 0.3; done`);
    assert.deepEqual(new Set(samples.split(/\s+/).filter(Boolean)), new Set(['0', '1']), `the backup LED's samples: ${samples}`);
    t.diagnostic(`LEDs ${numlock} (master) and ${capslock} (backup); the daemon's own blink sampled: ${samples.split(/\s+/).join('')}`);
    // With the kernel's timer trigger, the kernel blinks it: trigger timer, delay_on/off 500 ms.
    await vm.ok('modprobe ledtrig-timer');
    await edit('  longPressSeconds: 2\n', '  longPressSeconds: 2.5\n');
    await reload();
    await untilStatus(vm, 'the board restarted', (s) => ((s.board as { button?: { longPressSeconds: number } } | undefined)?.button?.longPressSeconds === 2.5 ? true : undefined), 60_000);
    await untilLed(capslock, 'trigger', /\[timer\]/);
    assert.equal(await led(capslock, 'delay_on'), '500');
    assert.equal(await led(capslock, 'delay_off'), '500');
    assert.equal(await led(numlock, 'brightness'), '1');

    const first = await untilStatus(vm, 'the watchdog to be fed', (s) => (s.board as { watchdog?: WatchdogStatus } | undefined)?.watchdog, 120_000);
    t.diagnostic(`watchdog: ${JSON.stringify(first)}`);
    assert.equal(first.phase, 'feeding');
    // i6300esb's heartbeat (the driver's default, 30 s) read back from sysfs.
    assert.equal(first.driverTimeoutSeconds, 30);
    assert.equal(first.intervalMs, 10_000);
    // Fed for longer than the watchdog waits unfed (qemu's i6300esb resets after two 30 s
    // stages): the machine is still up only because the feeds land.
    const fed = await untilStatus(
      vm,
      'feeds across one timeout',
      (s) => {
        const w = (s.board as { watchdog?: WatchdogStatus } | undefined)?.watchdog;
        return w && w.feeds >= 8 ? w : undefined;
      },
      180_000,
    );
    assert.equal(fed.phase, 'feeding');
    const bootsBefore = (vm.console.match(/tandem-init: booted slot/g) ?? []).length;
    assert.equal(bootsBefore, 1, 'no reset while the daemon feeds');

    // The event loop stops: no more feeds, and the watchdog resets the machine.
    const pid = Number(await vm.ok(DAEMON_PID));
    assert.ok(pid > 1, `the daemon's PID: ${pid}`);
    await vm.ok(`kill -STOP ${pid}`);
    const stopped = Date.now();
    await vm.awaitReboot(/tandem-init: booted slot/, 240_000);
    t.diagnostic(`reset ${((Date.now() - stopped) / 1000).toFixed(1)} s after SIGSTOP`);
  } finally {
    for (const vm of vms) await vm.dispose();
    await lab.dispose();
    await work.dispose();
  }
});
