// Words shared by the CLI, `tandem status` and the daemon: the upgrade status as text lines,
// a progress figure, and the not-an-image message. No I/O, so `tandem status` can import it.

import type { UpgradeStatus } from './service.js';

export const BOOT_INFO_PATH = '/run/tandem/boot.json';
export const NOT_AN_IMAGE = 'this system was not booted from a Tandem image (no /run/tandem/boot.json): nothing to upgrade';

const MiB = (bytes: number) => (bytes / (1024 * 1024)).toFixed(1);

export function formatUpgradeStatus(status: UpgradeStatus): string[] {
  if (status.state === 'not-an-image') return [status.problem ? `upgrade: ${status.problem}` : NOT_AN_IMAGE];
  const lines = [`upgrade: ${status.state}  booted ${status.booted} (${status.version})  committed ${status.committed}`];
  lines.push(`  slot A: ${status.slots.A ?? 'unknown'}  slot B: ${status.slots.B ?? 'unknown'}`);
  if (status.trial && !status.trial.booted) lines.push(`  slot ${status.trial.slot} boots once on the next boot (trial)`);
  if (status.commit) {
    const waiting = status.commit.waiting.length ? `; waiting for: ${status.commit.waiting.join(', ')}` : '';
    lines.push(`  on trial: commits after ${status.commit.afterSeconds} s of health (healthy for ${status.commit.healthyForSeconds} s${waiting})`);
  }
  if (status.installing) lines.push(`  writing slot ${status.installing.slot}: ${progressText(status.installing)}`);
  const last = status.last;
  if (last) lines.push(`  last: ${last.result} ${last.version}${last.slot ? ` (slot ${last.slot})` : ''} at ${last.at}${last.step ? ` at step ${last.step}` : ''}${last.reason ? `: ${last.reason}` : ''}`);
  if (status.problem) lines.push(`  problem: ${status.problem}`);
  return lines;
}

export function progressText(p: { phase: string; bytes: number; total: number }): string {
  const pct = p.total > 0 ? Math.floor((p.bytes / p.total) * 100) : 0;
  return `${p.phase === 'verify' ? 'verified' : 'written'} ${MiB(p.bytes)} of ${MiB(p.total)} MiB (${pct}%)`;
}

