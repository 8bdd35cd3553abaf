// LEDs and buttons on GPIO lines through onoff (named by the user in issue 15), which drives
// the kernel's sysfs GPIO interface (/sys/class/gpio, hardcoded in onoff). onoff is imported
// only when a GPIO line is configured: its epoll addon stays out of every other daemon.
// onoff's constructor exports and configures the line with synchronous sysfs writes (once, at
// start; sysfs answers from kernel memory); values are then written and read asynchronously.
// A button watches both edges through onoff's epoll; where the line has no interrupt (no
// `edge` file, or epoll refuses the file) it is read every `pollMs` instead.

import type { Clock, TimerHandle } from '../os/clock.js';
import type { ButtonEdge } from './button.js';
import { BLINK, type LedPattern } from './patterns.js';
import type { ButtonPort, LedPort } from './ports.js';
import { SoftBlink } from './soft-blink.js';

/** The part of onoff's Gpio this file uses. */
export interface OnoffGpio {
  read(): Promise<0 | 1>;
  write(value: 0 | 1): Promise<void>;
  watch(callback: (error: Error | null | undefined, value: 0 | 1) => void): void;
  unwatchAll(): void;
  unexport(): void;
}

export type OnoffGpioClass = new (
  gpio: number,
  direction: 'in' | 'out' | 'high' | 'low',
  edge?: 'none' | 'rising' | 'falling' | 'both',
  options?: { debounceTimeout?: number; activeLow?: boolean; reconfigureDirection?: boolean },
) => OnoffGpio;

let loaded: Promise<OnoffGpioClass> | undefined;

/** onoff's Gpio class, imported on first use (a CommonJS module: its exports arrive as `default`). */
export function loadOnoff(): Promise<OnoffGpioClass> {
  loaded ??= import('onoff').then((mod: { Gpio?: unknown; default?: { Gpio?: unknown } }) => (mod.Gpio ?? mod.default?.Gpio) as OnoffGpioClass);
  return loaded;
}

export class GpioLed implements LedPort {
  readonly label: string;
  private gpio: OnoffGpio | undefined;
  private readonly blink: SoftBlink;

  constructor(
    private readonly line: number,
    private readonly activeLow: boolean,
    clock: Clock,
    onError: (error: Error) => void,
    private readonly load: () => Promise<OnoffGpioClass> = loadOnoff,
  ) {
    this.label = `gpio:${line}`;
    this.blink = new SoftBlink(clock, (on) => this.write(on), onError);
  }

  async set(pattern: LedPattern): Promise<void> {
    this.blink.stop();
    if (pattern === 'on' || pattern === 'off') {
      await this.write(pattern === 'on');
      return;
    }
    // sysfs GPIO has no blink trigger: the daemon toggles the line.
    const { onMs, offMs } = BLINK[pattern];
    await this.open();
    this.blink.start(onMs, offMs);
  }

  async close(): Promise<void> {
    this.blink.stop();
    if (!this.gpio) return;
    await this.gpio.write(0);
    this.gpio.unexport();
    this.gpio = undefined;
  }

  private async open(): Promise<OnoffGpio> {
    if (!this.gpio) {
      const Gpio = await this.load();
      // 'low': configured as an output already off, so the LED never flashes at start.
      this.gpio = new Gpio(this.line, 'low', 'none', { activeLow: this.activeLow });
    }
    return this.gpio;
  }

  private async write(on: boolean): Promise<void> {
    await (await this.open()).write(on ? 1 : 0);
  }
}

export class GpioButton implements ButtonPort {
  readonly label: string;
  private gpio: OnoffGpio | undefined;
  private timer: TimerHandle | undefined;
  private last: 0 | 1 | undefined;
  /** How edges arrive: `interrupt` (epoll) or `poll`; for status. */
  mode: 'interrupt' | 'poll' | undefined;

  constructor(
    private readonly line: number,
    private readonly options: { activeLow: boolean; debounceMs: number; pollMs?: number },
    private readonly clock: Clock,
    private readonly load: () => Promise<OnoffGpioClass> = loadOnoff,
  ) {
    this.label = `gpio:${line}`;
  }

  async start(onEdge: (edge: ButtonEdge) => void, onError: (error: Error) => void): Promise<void> {
    const Gpio = await this.load();
    let gpio: OnoffGpio;
    let interrupt = true;
    try {
      gpio = new Gpio(this.line, 'in', 'both', { activeLow: this.options.activeLow, debounceTimeout: this.options.debounceMs });
    } catch (error) {
      // A line without interrupt support has no `edge` file: take it without edges and poll.
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      gpio = new Gpio(this.line, 'in', undefined, { activeLow: this.options.activeLow });
      interrupt = false;
    }
    this.gpio = gpio;
    this.last = await gpio.read();
    const report = (value: 0 | 1) => {
      if (value === this.last) return;
      this.last = value;
      onEdge({ pressed: value === 1, atMs: this.clock.monotonic() });
    };
    if (interrupt) {
      try {
        gpio.watch((error, value) => (error ? onError(error) : report(value)));
        this.mode = 'interrupt';
        return;
      } catch {
        // epoll refuses files that cannot signal (EPERM): fall through to polling.
      }
    }
    this.mode = 'poll';
    const pollMs = this.options.pollMs ?? 50;
    let lastEdgeAt = -Infinity;
    const poll = () => {
      this.timer = undefined;
      gpio
        .read()
        .then((value) => {
          // Debounce by time since the last reported edge: contact bounce is shorter than a press.
          if (value !== this.last && this.clock.monotonic() - lastEdgeAt >= this.options.debounceMs) {
            lastEdgeAt = this.clock.monotonic();
            report(value);
          }
        })
        .catch(onError)
        .finally(() => {
          if (this.gpio) this.timer = this.clock.setTimer(pollMs, poll);
        });
    };
    this.timer = this.clock.setTimer(pollMs, poll);
  }

  async stop(): Promise<void> {
    this.timer?.cancel();
    this.timer = undefined;
    const gpio = this.gpio;
    this.gpio = undefined;
    if (!gpio) return;
    if (this.mode === 'interrupt') gpio.unwatchAll();
    gpio.unexport();
  }
}
