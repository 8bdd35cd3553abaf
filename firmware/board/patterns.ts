// The pure mapping from what the daemon is doing to what each board LED shows (issue 15 item
// 5): MASTER on the master LED, BACKUP on the backup LED, maintenance as a slow blink, any
// fault (a configured vhid in INIT, the firewall not loaded, a capability that failed to start)
// as a fast blink. A table in test/firmware/board/patterns.test.ts holds every row.

export type LedPattern = 'off' | 'on' | 'blink-slow' | 'blink-fast';
export type LedRole = 'master' | 'backup' | 'fault';
export type CarpState = 'INIT' | 'BACKUP' | 'MASTER';

export interface BoardInputs {
  /** The state of each configured vhid. */
  carp: readonly CarpState[];
  maintenance: boolean;
  /** The firewall is configured but no ruleset of ours is loaded (or its last load failed). */
  firewallFailed: boolean;
  /** A configured capability (API, telemetry, ...) is not running. */
  degraded: boolean;
}

/** Milliseconds on and off, as the LED class `timer` trigger's delay_on/delay_off take them. */
export const BLINK: Record<'blink-slow' | 'blink-fast', { onMs: number; offMs: number }> = {
  'blink-slow': { onMs: 500, offMs: 500 },
  'blink-fast': { onMs: 100, offMs: 100 },
};

export type LedPatterns = Record<LedRole, LedPattern>;

export function ledPatterns(inputs: BoardInputs): LedPatterns {
  const masters = inputs.carp.filter((s) => s === 'MASTER').length;
  const backups = inputs.carp.filter((s) => s === 'BACKUP').length;
  const total = inputs.carp.length;
  // Split roles (MASTER of some vhids only) blink, so a glance tells "all" from "some".
  const master: LedPattern = total > 0 && masters === total ? 'on' : masters > 0 ? 'blink-slow' : 'off';
  // Maintenance wins on the backup LED: the node yields on purpose, and says so.
  const backup: LedPattern = inputs.maintenance ? 'blink-slow' : backups > 0 && masters === 0 ? 'on' : 'off';
  const fault: LedPattern = inputs.carp.includes('INIT') || inputs.firewallFailed || inputs.degraded ? 'blink-fast' : 'off';
  return { master, backup, fault };
}

/** Why the fault LED blinks, for status and the log (empty when it does not). */
export function faultReasons(inputs: BoardInputs): string[] {
  const reasons: string[] = [];
  const init = inputs.carp.filter((s) => s === 'INIT').length;
  if (init > 0) reasons.push(`${init} vhid(s) in INIT`);
  if (inputs.firewallFailed) reasons.push('firewall not loaded');
  if (inputs.degraded) reasons.push('a configured capability is not running');
  return reasons;
}
