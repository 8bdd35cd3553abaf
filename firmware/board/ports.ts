// The board's lines as ports: an LED shows a pattern, a button reports edges, a watchdog is
// opened, fed and closed. led-class.ts, input.ts, gpio.ts and watchdog-linux.ts drive the
// kernel; fake.ts records for tests. A factory turns the config's lines into ports.

import type { ButtonEdge } from './button.js';
import type { LedPattern } from './patterns.js';
import type { ButtonLine, LedLine } from './schema.js';

export interface LedPort {
  /** Where the LED is, for status and the log (`class:apu:green:2`, `gpio:17`). */
  readonly label: string;
  set(pattern: LedPattern): Promise<void>;
  /** Leaves the LED off and releases it. */
  close(): Promise<void>;
}

export interface ButtonPort {
  readonly label: string;
  start(onEdge: (edge: ButtonEdge) => void, onError: (error: Error) => void): Promise<void>;
  stop(): Promise<void>;
}

export interface WatchdogPort {
  readonly label: string;
  /** Opens the device (which arms it) and says the driver's own timeout when it can be read. */
  open(): Promise<{ driverTimeoutSeconds: number | undefined }>;
  feed(): Promise<void>;
  /** `magic`: write 'V' first, so the driver disarms (a clean stop); without it the board resets. */
  close(magic: boolean): Promise<void>;
}

export interface BoardDriverFactory {
  led(line: LedLine): LedPort;
  button(line: ButtonLine): ButtonPort;
  watchdog(device: string): WatchdogPort;
}
