// The primary-backup steps conntrackd needs on each CARP transition, as a pure function of the
// transition (conntrackd's examples/sync/primary-backup.sh, keepalived's notify script, and the
// order verified in /work/shared/reference/conntrackd.md). The service runs them one by one.

import type { StateName } from '../carp/machine.js';

export type ConntrackStep = 'ensureRunning' | 'commit' | 'flush' | 'resync' | 'bulkSend' | 'shortenTimers' | 'requestResync';

/** The conntrackd client flag of each step; `ensureRunning` is the supervisor's (`-s`, start if dead). */
export const STEP_FLAG: Record<Exclude<ConntrackStep, 'ensureRunning'>, string> = {
  commit: '-c',
  flush: '-f',
  resync: '-R',
  bulkSend: '-B',
  shortenTimers: '-t',
  requestResync: '-n',
};

/**
 * Steps for a transition to `to`, in order. MASTER: commit the external cache into the kernel,
 * flush both caches, resync the internal cache from the kernel, bulk-send to the peer. BACKUP:
 * make sure the daemon runs, schedule the kernel-table purge (cancelled by a later commit), ask
 * the peer for a full resync. INIT (link down, shutdown: primary-backup.sh's "fault") only
 * shortens timers, so stale entries go unless this node is MASTER again in time.
 */
export function planSteps(from: StateName, to: StateName): ConntrackStep[] {
  if (from === to) return [];
  switch (to) {
    case 'MASTER':
      return ['ensureRunning', 'commit', 'flush', 'resync', 'bulkSend'];
    case 'BACKUP':
      return ['ensureRunning', 'shortenTimers', 'requestResync'];
    case 'INIT':
      // Before any transition there is nothing to purge.
      return from === 'MASTER' ? ['shortenTimers'] : [];
  }
}
