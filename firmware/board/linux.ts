// The real board drivers: LED class or onoff GPIO for LEDs, input events or onoff GPIO for the
// button, the watchdog device; one factory the board service asks for each configured line.

import type { Clock } from '../os/clock.js';
import { GpioButton, GpioLed } from './gpio.js';
import { InputButton } from './input.js';
import { LedClassLed } from './led-class.js';
import type { BoardDriverFactory, ButtonPort, LedPort, WatchdogPort } from './ports.js';
import type { ButtonLine, LedLine } from './schema.js';
import { LinuxWatchdog } from './watchdog-linux.js';

export class LinuxBoardDrivers implements BoardDriverFactory {
  constructor(
    private readonly clock: Clock,
    private readonly sysfsRoot: string,
    private readonly onError: (error: Error) => void,
  ) {}

  led(line: LedLine): LedPort {
    if (line.type === 'class') return new LedClassLed(line.name, this.sysfsRoot, this.clock, this.onError);
    return new GpioLed(line.line, line.activeLow, this.clock, this.onError);
  }

  button(line: ButtonLine): ButtonPort {
    if (line.type === 'input') return new InputButton(line.device, line.code, this.clock, { sysfsRoot: this.sysfsRoot });
    return new GpioButton(line.line, { activeLow: line.activeLow, debounceMs: line.debounceMs }, this.clock);
  }

  watchdog(device: string): WatchdogPort {
    return new LinuxWatchdog(device, this.sysfsRoot);
  }
}
