// An LED through the kernel LED class (Documentation/leds/leds-class.rst): `brightness` for on
// and off, the `timer` trigger with `delay_on`/`delay_off` for blinking when the kernel has it
// (ledtrig-timer), the daemon's own toggling when not. The sysfs root is configurable so tests
// run against a fake tree.

import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Clock } from '../os/clock.js';
import { BLINK, type LedPattern } from './patterns.js';
import type { LedPort } from './ports.js';
import { SoftBlink } from './soft-blink.js';

/** The trigger names in a `trigger` file ("none [timer] heartbeat"), the active one unbracketed. */
export function parseTriggers(text: string): { available: string[]; active: string | undefined } {
  const words = text.trim().split(/\s+/).filter(Boolean);
  const active = words.find((w) => w.startsWith('[') && w.endsWith(']'))?.slice(1, -1);
  return { available: words.map((w) => w.replace(/^\[|\]$/g, '')), active };
}

export class LedClassLed implements LedPort {
  readonly label: string;
  private readonly dir: string;
  private readonly blink: SoftBlink;
  private maxBrightness: string | undefined;
  /** Whether the kernel has the timer trigger (ledtrig-timer), read once. */
  private timer: boolean | undefined;

  constructor(
    name: string,
    sysfsRoot: string,
    clock: Clock,
    onError: (error: Error) => void,
  ) {
    this.label = `class:${name}`;
    this.dir = join(sysfsRoot, 'class', 'leds', name);
    this.blink = new SoftBlink(clock, (on) => this.brightness(on), onError);
  }

  async set(pattern: LedPattern): Promise<void> {
    this.blink.stop();
    // Read before the first write: the kernel lists its triggers whatever is active, a fake tree may not.
    await this.hasTimer();
    if (pattern === 'on' || pattern === 'off') {
      // `none` first: a trigger left active would override the brightness written after it.
      await this.write('trigger', 'none');
      await this.brightness(pattern === 'on');
      return;
    }
    const { onMs, offMs } = BLINK[pattern];
    if (await this.hasTimer()) {
      // The kernel blinks on its own: no wake-ups in the daemon, and it keeps blinking through a GC pause.
      await this.write('trigger', 'timer');
      await this.write('delay_on', String(onMs));
      await this.write('delay_off', String(offMs));
      return;
    }
    await this.write('trigger', 'none');
    this.blink.start(onMs, offMs);
  }

  async close(): Promise<void> {
    await this.set('off');
  }

  private async hasTimer(): Promise<boolean> {
    this.timer ??= parseTriggers(await readFile(join(this.dir, 'trigger'), 'utf8')).available.includes('timer');
    return this.timer;
  }

  private async brightness(on: boolean): Promise<void> {
    if (on && this.maxBrightness === undefined) {
      this.maxBrightness = (await readFile(join(this.dir, 'max_brightness'), 'utf8').catch(() => '1')).trim() || '1';
    }
    await this.write('brightness', on ? this.maxBrightness! : '0');
  }

  private async write(file: string, value: string): Promise<void> {
    await writeFile(join(this.dir, file), value);
  }
}
