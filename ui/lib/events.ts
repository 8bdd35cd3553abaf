// Pure handling of the daemon's events for the UI: a one-line text for each (the event log,
// the dashboard's recent list and the live region), its tone, and the bounded list the page
// keeps. The event shapes are firmware/events.ts's StampedEvent; unknown types still show.

import type { StampedEvent } from '../../firmware/events.js';

/** What the UI receives: a known event, or one a newer daemon added (shown generically). */
export type UiEvent = StampedEvent | { type: string; time: string; [key: string]: unknown };

export interface EventLine {
  text: string;
  tone: 'good' | 'warn' | 'bad' | 'idle';
}

export function describeEvent(event: UiEvent): EventLine {
  const e = event as StampedEvent;
  switch (e.type) {
    case 'carpTransition':
      return { text: `VHID ${e.vhid} on ${e.interface}: ${e.from} → ${e.to} (${e.reason})`, tone: e.to === 'MASTER' ? 'good' : e.to === 'BACKUP' ? 'idle' : 'warn' };
    case 'hostHealth':
      return { text: `${e.pool}/${e.host}: ${e.from} → ${e.to}${e.outcome ? ` (${e.outcome})` : ''}`, tone: e.to === 'up' ? 'good' : e.to === 'down' ? 'bad' : 'warn' };
    case 'poolHealth':
      return { text: `pool ${e.pool}: ${e.from} → ${e.to}`, tone: e.to === 'up' ? 'good' : e.to === 'down' ? 'bad' : 'warn' };
    case 'configReload':
      return { text: e.ok ? 'config reloaded' : `config reload refused: ${(e.issues ?? []).join('; ')}`, tone: e.ok ? 'good' : 'bad' };
    case 'maintenance':
      return { text: `maintenance ${e.on ? 'on' : 'off'}`, tone: e.on ? 'warn' : 'good' };
    case 'demotion':
      return { text: `demotion ${e.total} (admin ${e.admin})`, tone: e.total > 0 ? 'warn' : 'good' };
    case 'firewallApply':
      return { text: `firewall ${e.outcome}${e.detail ? `: ${e.detail}` : ''}`, tone: e.outcome === 'applied' || e.outcome === 'confirmed' ? 'good' : 'bad' };
    case 'configApply':
      return {
        text: `config ${e.outcome}${e.revertsAt ? ` (reverts at ${e.revertsAt.slice(11, 19)} unless confirmed)` : ''}${e.detail ? `: ${e.detail}` : ''}`,
        tone: e.outcome === 'applied' || e.outcome === 'confirmed' ? 'good' : 'bad',
      };
    case 'configSync':
      return {
        text: `config sync ${e.direction === 'sent' ? `to ${e.peer}` : `from ${e.peer}`}: ${e.outcome}${e.detail ? ` (${e.detail})` : ''}`,
        // sync/config-apply.ts's PushReplyOutcome, plus what the sender sees when nothing answered.
        tone: e.outcome === 'in-sync' || e.outcome === 'applied' ? 'good' : /^(refused|diverged|failed|unreachable)$/.test(e.outcome) ? 'bad' : 'warn',
      };
    case 'powerAction':
      return {
        text: `${e.host}: ${e.action} by ${e.method} ${e.outcome} (${e.reason})${e.detail ? `: ${e.detail}` : ''}`,
        tone: e.outcome === 'failed' ? 'bad' : e.outcome === 'done' ? 'good' : 'warn',
      };
    case 'powerPin':
      return { text: `${e.host}: ${e.pinned ? 'pinned awake' : 'unpinned'}`, tone: 'idle' };
    case 'commandRefused':
      return { text: `${e.action} refused: ${e.reason}`, tone: 'bad' };
    case 'commandExecuted':
      return { text: `${e.action} by ${e.by}`, tone: 'idle' };
    case 'upgrade': {
      const what = e.phase === 'progress' ? `${e.detail === 'verify' ? 'reading back' : 'writing'} ${Math.floor(((e.bytes ?? 0) / Math.max(1, e.total ?? 1)) * 100)}%` : e.phase;
      const tone = e.phase === 'failed' || e.phase === 'rolled-back' ? 'bad' : e.phase === 'committed' || e.phase === 'installed' ? 'good' : e.phase === 'progress' ? 'idle' : 'warn';
      return { text: `upgrade of slot ${e.slot}${e.version ? ` (${e.version})` : ''}: ${what}${e.step ? ` at ${e.step}` : ''}${e.detail && e.phase !== 'progress' ? `: ${e.detail}` : ''}`, tone };
    }
    default: {
      const { type, time: _time, ...rest } = event as { type: string; time: string };
      const detail = Object.entries(rest)
        .map(([k, v]) => `${k}=${typeof v === 'object' ? JSON.stringify(v) : String(v)}`)
        .join(' ');
      return { text: detail ? `${type}: ${detail}` : type, tone: 'idle' };
    }
  }
}

/** Newest first, at most `limit`; an event already held (a replay after reconnecting) is not added twice. */
export function prependEvent(list: readonly UiEvent[], event: UiEvent, limit: number): UiEvent[] {
  const key = JSON.stringify(event);
  if (list.some((e) => e.time === event.time && JSON.stringify(e) === key)) return list as UiEvent[];
  const next = [event, ...list];
  if (next.length > limit) next.length = limit;
  return next;
}

/** The recent-events reply (oldest first, as the ring buffer holds them) as the UI's newest-first list. */
export function fromRecent(events: readonly UiEvent[], limit: number): UiEvent[] {
  return events.slice(-limit).reverse();
}

/**
 * Two newest-first lists as one, newest first, each event once: what the page held and what the
 * API's ring returned (after a reconnect, the ring holds what the page missed). Same-time events
 * keep their order within each list.
 */
export function mergeEvents(held: readonly UiEvent[], recent: readonly UiEvent[], limit: number): UiEvent[] {
  const seen = new Set<string>();
  const all: UiEvent[] = [];
  for (const e of [...held, ...recent]) {
    const key = JSON.stringify(e);
    if (seen.has(key)) continue;
    seen.add(key);
    all.push(e);
  }
  // Array.prototype.sort is stable: equal times keep the order above.
  all.sort((a, b) => (a.time < b.time ? 1 : a.time > b.time ? -1 : 0));
  return all.slice(0, limit);
}
