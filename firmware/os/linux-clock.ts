// The clock the daemon runs on Linux: PreciseClock on the addon's timerfd alarm, or libuv's
// timers when the addon cannot be loaded (the daemon still works, its CARP timers 1-2 ms later).

import type { Logger } from '../log.js';
import { loadRawAddon } from '../net/raw/addon.js';
import { systemClock, type Clock } from './clock.js';
import { PreciseClock } from './precise-clock.js';

export function createLinuxClock(log: Logger): Clock {
  try {
    const addon = loadRawAddon();
    return new PreciseClock((onFire) => new addon.Alarm(onFire));
  } catch (error) {
    log.warn(`sub-millisecond timers unavailable, using libuv's: ${(error as Error).message}`);
    return systemClock;
  }
}
