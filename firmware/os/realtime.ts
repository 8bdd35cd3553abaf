// Realtime scheduling for the daemon's main thread, where the CARP timers fire. Measured by
// scripts/bench/failover: at advbase 0 with both cores busy, normal scheduling let the master
// stall past a 23 ms master-down several times a minute; under SCHED_RR/FIFO, never in 10 min.

import { loadRawAddon } from '../net/raw/addon.js';

export function setRealtimePriority(priority: number): void {
  loadRawAddon().setRealtimePriority(priority);
}
