// `tandem status` lines for connection-state sync: whether conntrackd runs, its caches and sync
// traffic from `conntrackd -s`, and the last primary-backup steps with their outcomes.

import type { ConntrackStatus } from './conntrack-service.js';

export function formatConntrackStatus(c: ConntrackStatus): string[] {
  const head = c.running ? `running pid ${c.pid ?? '?'}` : 'NOT RUNNING';
  const restarts = c.restarts > 0 ? `  restarts ${c.restarts}${c.lastExit ? ` (last: ${c.lastExit})` : ''}` : '';
  const n = c.counters;
  const counters = n
    ? `  internal ${n.internal} external ${n.external}  sync ${n.bytesSent} B sent ${n.bytesReceived} B received` +
      `${n.lost || n.malformed ? `  LOST ${n.lost} malformed ${n.malformed}` : ''}${n.sendErrors || n.receiveErrors ? `  errors ${n.sendErrors}/${n.receiveErrors}` : ''}`
    : '';
  const lines = [`  conntrackd ${head} (${c.transport} on ${c.interface}, vhid ${c.vhid})${restarts}${counters}`];
  const last = c.lastSteps;
  if (last) {
    const steps = last.steps.map((s) => `${s.step} ${s.outcome} ${s.ms} ms${s.detail ? ` (${s.detail})` : ''}`).join(', ');
    lines.push(`    last steps ${last.from}->${last.to} (${last.cause}${last.done ? '' : ', running'}): ${steps || 'none yet'}`);
  }
  return lines;
}
