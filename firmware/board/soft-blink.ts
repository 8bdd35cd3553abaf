// Blinking by the daemon itself, for LEDs without the kernel's `timer` trigger and for GPIO
// lines: toggles through the injected clock. A blocked event loop freezes the blink, which is
// honest: the daemon is not running its timers either.

import type { Clock, TimerHandle } from '../os/clock.js';

export class SoftBlink {
  private timer: TimerHandle | undefined;
  private lit = false;

  constructor(
    private readonly clock: Clock,
    private readonly write: (on: boolean) => Promise<void>,
    private readonly onError: (error: Error) => void,
  ) {}

  start(onMs: number, offMs: number): void {
    this.stop();
    const step = () => {
      this.lit = !this.lit;
      this.write(this.lit).catch(this.onError);
      this.timer = this.clock.setTimer(this.lit ? onMs : offMs, step);
    };
    step();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.lit = false;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }
}
