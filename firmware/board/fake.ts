// In-memory board lines for tests: LEDs that record each pattern, a button a test presses, a
// watchdog that records feeds and whether it was closed with the magic 'V'.

import type { ButtonEdge } from './button.js';
import type { LedPattern } from './patterns.js';
import type { BoardDriverFactory, ButtonPort, LedPort, WatchdogPort } from './ports.js';
import type { ButtonLine, LedLine } from './schema.js';

export class FakeLed implements LedPort {
  readonly patterns: LedPattern[] = [];
  closed = false;
  constructor(readonly label: string) {}
  async set(pattern: LedPattern): Promise<void> {
    this.patterns.push(pattern);
  }
  async close(): Promise<void> {
    this.closed = true;
    this.patterns.push('off');
  }
  get current(): LedPattern | undefined {
    return this.patterns.at(-1);
  }
}

export class FakeButton implements ButtonPort {
  private onEdge: ((edge: ButtonEdge) => void) | undefined;
  constructor(readonly label: string) {}
  async start(onEdge: (edge: ButtonEdge) => void): Promise<void> {
    this.onEdge = onEdge;
  }
  async stop(): Promise<void> {
    this.onEdge = undefined;
  }
  edge(pressed: boolean, atMs: number): void {
    this.onEdge?.({ pressed, atMs });
  }
}

export class FakeWatchdog implements WatchdogPort {
  /** 'open', 'feed', 'close', 'close-magic' in order, with the clock time of each. */
  readonly writes: Array<{ op: 'open' | 'feed' | 'close' | 'close-magic'; at: number }> = [];
  constructor(
    readonly label: string,
    private readonly now: () => number,
    private readonly driverTimeoutSeconds?: number,
  ) {}
  async open(): Promise<{ driverTimeoutSeconds: number | undefined }> {
    this.writes.push({ op: 'open', at: this.now() });
    return { driverTimeoutSeconds: this.driverTimeoutSeconds };
  }
  async feed(): Promise<void> {
    this.writes.push({ op: 'feed', at: this.now() });
  }
  async close(magic: boolean): Promise<void> {
    this.writes.push({ op: magic ? 'close-magic' : 'close', at: this.now() });
  }
}

export class FakeBoardDrivers implements BoardDriverFactory {
  readonly leds = new Map<string, FakeLed>();
  readonly buttons: FakeButton[] = [];
  readonly watchdogs: FakeWatchdog[] = [];
  constructor(
    private readonly now: () => number,
    private readonly driverTimeoutSeconds?: number,
  ) {}
  led(line: LedLine): LedPort {
    const label = line.type === 'class' ? `class:${line.name}` : `gpio:${line.line}`;
    const led = new FakeLed(label);
    this.leds.set(label, led);
    return led;
  }
  button(line: ButtonLine): ButtonPort {
    const button = new FakeButton(line.type === 'input' ? `input:${line.device}` : `gpio:${line.line}`);
    this.buttons.push(button);
    return button;
  }
  watchdog(device: string): WatchdogPort {
    const watchdog = new FakeWatchdog(device, this.now, this.driverTimeoutSeconds);
    this.watchdogs.push(watchdog);
    return watchdog;
  }
}
