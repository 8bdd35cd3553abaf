// Keeps a hardware watchdog fed from the daemon's event loop (Documentation/watchdog/
// watchdog-api.rst): any write feeds it; a 'V' before close disarms it (magic close) on a clean
// stop. A blocked event loop means no feed and, after the timeout, a reset: that is the point.
// The timeout itself is set by the driver's module parameter (heartbeat=, by the image's
// modprobe): WDIOC_SETTIMEOUT needs an ioctl Node does not have. The feed runs at a third of
// the smaller of the configured and the driver's timeout.

import type { Clock, TimerHandle } from '../os/clock.js';
import type { Logger } from '../log.js';
import type { WatchdogPort } from './ports.js';

export type WatchdogPhase = 'off' | 'feeding' | 'failed' | 'stopped';

export interface WatchdogStatus {
  device: string;
  phase: WatchdogPhase;
  timeoutSeconds: number;
  driverTimeoutSeconds?: number;
  intervalMs: number;
  feeds: number;
  lastFeedAt?: string;
  error?: string;
}

export class WatchdogFeeder {
  private timer: TimerHandle | undefined;
  private phase: WatchdogPhase = 'off';
  private feeds = 0;
  private lastFeedAt: number | undefined;
  private driverTimeoutSeconds: number | undefined;
  private error: string | undefined;
  private intervalMs: number;

  constructor(
    private readonly port: WatchdogPort,
    private readonly timeoutSeconds: number,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    this.intervalMs = (timeoutSeconds * 1000) / 3;
  }

  async start(): Promise<void> {
    const { driverTimeoutSeconds } = await this.port.open();
    this.driverTimeoutSeconds = driverTimeoutSeconds;
    const effective = Math.min(this.timeoutSeconds, driverTimeoutSeconds ?? this.timeoutSeconds);
    if (driverTimeoutSeconds !== undefined && driverTimeoutSeconds !== this.timeoutSeconds) {
      this.log.warn(`watchdog ${this.port.label}: the driver's timeout is ${driverTimeoutSeconds} s, the config says ${this.timeoutSeconds} s; feeding every ${Math.round((effective * 1000) / 3)} ms (set the module's heartbeat= to match)`);
    }
    this.intervalMs = (effective * 1000) / 3;
    this.phase = 'feeding';
    await this.feed();
  }

  private async feed(): Promise<void> {
    if (this.phase !== 'feeding') return;
    try {
      await this.port.feed();
      this.feeds++;
      this.lastFeedAt = this.clock.now();
    } catch (error) {
      // One failed write is not fatal: the next may land within the timeout. The status says so.
      this.error = (error as Error).message;
      this.log.error(`watchdog ${this.port.label}: feed failed: ${this.error}`);
    }
    if (this.phase === 'feeding') this.timer = this.clock.setTimer(this.intervalMs, () => void this.feed());
  }

  /** Clean stop: disarm with the magic 'V' and close. */
  async stop(): Promise<void> {
    await this.end(true);
  }

  /** Crash: close without the magic character, so the board resets unless the daemon comes back. */
  async abandon(): Promise<void> {
    await this.end(false);
  }

  private async end(magic: boolean): Promise<void> {
    if (this.phase !== 'feeding') return;
    this.phase = 'stopped';
    this.timer?.cancel();
    this.timer = undefined;
    await this.port.close(magic);
  }

  fail(error: Error): void {
    this.phase = 'failed';
    this.error = error.message;
  }

  status(): WatchdogStatus {
    return {
      device: this.port.label,
      phase: this.phase,
      timeoutSeconds: this.timeoutSeconds,
      ...(this.driverTimeoutSeconds !== undefined ? { driverTimeoutSeconds: this.driverTimeoutSeconds } : {}),
      intervalMs: Math.round(this.intervalMs),
      feeds: this.feeds,
      ...(this.lastFeedAt !== undefined ? { lastFeedAt: new Date(this.lastFeedAt).toISOString() } : {}),
      ...(this.error !== undefined ? { error: this.error } : {}),
    };
  }
}
