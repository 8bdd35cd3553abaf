// Realtime scheduling and locked memory for the daemon, as keepalived's vrrp_rt_priority and
// vrrp_no_swap. Measured by scripts/bench/failover: at advbase 0 with both cores busy, normal
// scheduling let the master stall past a 23 ms master-down several times a minute. With only
// the JS thread realtime it still happened: V8's GC helpers and the receive threads stayed
// behind the busy processes. So every thread is set, and the addon's later threads follow.

import { loadRawAddon } from '../net/raw/addon.js';

/** SCHED_RR at `priority` for every thread of the daemon; returns how many were set. */
export function setRealtimePriority(priority: number): number {
  return loadRawAddon().setRealtimePriority(priority);
}

/**
 * Locks node's code, the libraries, the addon, the stack and malloc's heap as they are faulted
 * in, so memory pressure cannot evict them and stall a timer on a read from the CF card. Not
 * V8's JavaScript heap: V8 aborts when it cannot discard locked pages (so no mlockall), and
 * without swap that heap is never paged out anyway.
 */
export function lockMemory(): void {
  loadRawAddon().lockMemory();
}
