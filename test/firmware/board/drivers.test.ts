// The board's Linux drivers against fake kernel files: the LED class in a temp sysfs tree
// (with and without the timer trigger), the input driver reading real input_event bytes from
// a FIFO (by path, and found by device name), and the watchdog writing to a file.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import type { ButtonEdge } from '../../../firmware/board/button.js';
import { encodeInputEvent, EV_KEY } from '../../../firmware/board/input-codec.js';
import { findInputDevice, InputButton } from '../../../firmware/board/input.js';
import { LedClassLed, parseTriggers } from '../../../firmware/board/led-class.js';
import { LinuxWatchdog } from '../../../firmware/board/watchdog-linux.js';
import { FakeClock, systemClock } from '../../../firmware/os/clock.js';

const run = promisify(execFile);

async function until<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 3000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe('board drivers on fake kernel files', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'tandem-board-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  async function led(name: string, triggers: string): Promise<string> {
    const dir = join(root, 'sys', 'class', 'leds', name);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'trigger'), triggers);
    await writeFile(join(dir, 'brightness'), '0');
    await writeFile(join(dir, 'max_brightness'), '255\n');
    await writeFile(join(dir, 'delay_on'), '');
    await writeFile(join(dir, 'delay_off'), '');
    return dir;
  }
  const read = (dir: string, file: string) => readFile(join(dir, file), 'utf8');

  it('parses the trigger file: the active trigger in brackets', () => {
    assert.deepEqual(parseTriggers('none [timer] heartbeat default-on\n'), { available: ['none', 'timer', 'heartbeat', 'default-on'], active: 'timer' });
    assert.deepEqual(parseTriggers('[none] kbd-scrolllock'), { available: ['none', 'kbd-scrolllock'], active: 'none' });
  });

  it('LED class: on writes max_brightness with trigger none, blink uses the kernel timer trigger', async () => {
    const dir = await led('apu:green:2', '[none] timer heartbeat\n');
    const port = new LedClassLed('apu:green:2', join(root, 'sys'), new FakeClock(), (e) => assert.fail(e));
    await port.set('on');
    assert.equal(await read(dir, 'trigger'), 'none');
    assert.equal(await read(dir, 'brightness'), '255');
    await port.set('blink-fast');
    assert.equal(await read(dir, 'trigger'), 'timer');
    assert.equal(await read(dir, 'delay_on'), '100');
    assert.equal(await read(dir, 'delay_off'), '100');
    await port.close();
    assert.equal(await read(dir, 'trigger'), 'none');
    assert.equal(await read(dir, 'brightness'), '0');
  });

  it('LED class without the timer trigger: the daemon toggles brightness on its clock', async () => {
    const dir = await led('board:red:fault', '[none] heartbeat\n');
    const clock = new FakeClock();
    const port = new LedClassLed('board:red:fault', join(root, 'sys'), clock, (e) => assert.fail(e));
    await port.set('blink-slow');
    assert.equal(await read(dir, 'trigger'), 'none');
    await until('lit', async () => ((await read(dir, 'brightness')) === '255' ? true : undefined));
    await clock.advance(500);
    await until('dark after 500 ms', async () => ((await read(dir, 'brightness')) === '0' ? true : undefined));
    await clock.advance(500);
    await until('lit again', async () => ((await read(dir, 'brightness')) === '255' ? true : undefined));
    await port.set('off');
    await clock.advance(5000);
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(await read(dir, 'brightness'), '0', 'no toggling after off');
  });

  it('input events: a FIFO fed with real input_event records gives press and release with kernel times; other keys and autorepeat are ignored', async () => {
    const devDir = join(root, 'dev', 'input');
    await mkdir(devDir, { recursive: true });
    const fifo = join(devDir, 'event3');
    await run('mkfifo', [fifo]);
    // The kernel names the device in sysfs; the driver finds it by that name.
    const classDir = join(root, 'sys', 'class', 'input', 'event3', 'device');
    await mkdir(classDir, { recursive: true });
    await writeFile(join(classDir, 'name'), 'apu2-keys\n');
    await mkdir(join(root, 'sys', 'class', 'input', 'event1', 'device'), { recursive: true });
    await writeFile(join(root, 'sys', 'class', 'input', 'event1', 'device', 'name'), 'AT Translated Set 2 keyboard\n');
    assert.equal(await findInputDevice('apu2-keys', join(root, 'sys'), devDir), fifo);
    assert.equal(await findInputDevice('nope', join(root, 'sys'), devDir), undefined);

    const edges: ButtonEdge[] = [];
    const button = new InputButton('apu2-keys', 408, systemClock, { sysfsRoot: join(root, 'sys'), devDir, pollMs: 10 });
    await button.start((edge) => edges.push(edge), (e) => assert.fail(e));
    const writer = await open(fifo, 'w');
    try {
      const key = (timeMs: number, code: number, value: number) => encodeInputEvent({ timeMs, type: EV_KEY, code, value });
      const syn = (timeMs: number) => encodeInputEvent({ timeMs, type: 0, code: 0, value: 0 });
      const bytes = Buffer.concat([key(1000, 408, 1), syn(1000), key(1500, 28, 1), key(2000, 408, 2), key(4200, 408, 0), syn(4200)]);
      // Split mid-record: the driver keeps the tail until the rest arrives.
      await writer.write(bytes.subarray(0, 30));
      await new Promise((r) => setTimeout(r, 60));
      await writer.write(bytes.subarray(30));
      await until('two edges', () => (edges.length >= 2 ? true : undefined));
    } finally {
      await writer.close();
      await button.stop();
    }
    assert.deepEqual(edges, [
      { pressed: true, atMs: 1000 },
      { pressed: false, atMs: 4200 },
    ]);
  });

  it('input events: an unknown device name is a clear error', async () => {
    const button = new InputButton('apu2-keys-missing', 408, systemClock, { sysfsRoot: join(root, 'sys') });
    await assert.rejects(button.start(() => undefined, () => undefined), /no input device named "apu2-keys-missing"/);
  });

  it('watchdog: one byte per feed, the magic V before a clean close, the driver timeout read from sysfs', async () => {
    const device = join(root, 'watchdog');
    await writeFile(device, '');
    const sys = join(root, 'sys');
    await mkdir(join(sys, 'class', 'watchdog', 'watchdog0'), { recursive: true });
    await writeFile(join(sys, 'class', 'watchdog', 'watchdog0', 'timeout'), '30\n');
    const clean = new LinuxWatchdog(device, sys);
    // /dev/watchdog is watchdog0's legacy node: its timeout is watchdog0's.
    assert.deepEqual(await clean.open(), { driverTimeoutSeconds: 30 });
    await clean.feed();
    await clean.feed();
    await clean.close(true);
    assert.deepEqual(await readFile(device), Buffer.from([0, 0, 0x56]));
    await writeFile(device, '');
    const crashed = new LinuxWatchdog(device, sys);
    await crashed.open();
    await crashed.feed();
    await crashed.close(false);
    assert.deepEqual(await readFile(device), Buffer.from([0]));
    // Another device without a sysfs entry: the timeout is unknown, not a failure.
    await writeFile(join(root, 'watchdog1'), '');
    const other = new LinuxWatchdog(join(root, 'watchdog1'), sys);
    assert.deepEqual(await other.open(), { driverTimeoutSeconds: undefined });
    await other.close(true);
  });
});
