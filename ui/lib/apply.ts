// Pure model of an apply awaiting confirmation (the firewall's, or a whole config's): started by
// the apply reply with its deadline, ended by the daemon's own event (`firewallApply` or
// `configApply`: confirmed or reverted), so the page says "reverted by itself" because the
// daemon did it, not because a timer in the browser ran out.

import type { UiEvent } from './events.js';

export type ApplyTarget = 'firewall' | 'config';

export type ApplyView =
  | { phase: 'idle' }
  | { phase: 'pending'; target: ApplyTarget; revertsAt: string }
  | { phase: 'confirmed'; target: ApplyTarget; at: string }
  | { phase: 'reverted'; target: ApplyTarget; at: string; detail?: string }
  | { phase: 'applied'; target: ApplyTarget; at: string };

export type ApplyInput =
  | { kind: 'started'; target: ApplyTarget; revertsAt: string | undefined; at: string }
  | { kind: 'event'; event: UiEvent }
  | { kind: 'dismissed' };

const EVENT_TARGET: Record<string, ApplyTarget> = { firewallApply: 'firewall', configApply: 'config' };

export function applyReducer(view: ApplyView, input: ApplyInput): ApplyView {
  switch (input.kind) {
    case 'dismissed':
      return view.phase === 'pending' ? view : { phase: 'idle' };
    case 'started':
      return input.revertsAt ? { phase: 'pending', target: input.target, revertsAt: input.revertsAt } : { phase: 'applied', target: input.target, at: input.at };
    case 'event': {
      const e = input.event as { type: string; time: string; outcome?: unknown; detail?: unknown; revertsAt?: unknown };
      const target = EVENT_TARGET[e.type];
      if (!target) return view;
      const detail = typeof e.detail === 'string' ? e.detail : undefined;
      // An event about the other kind of apply does not end this one.
      if (view.phase === 'pending' && view.target !== target) return view;
      if (e.outcome === 'reverted') return { phase: 'reverted', target, at: e.time, ...(detail ? { detail } : {}) };
      if (e.outcome === 'confirmed') return view.phase === 'pending' ? { phase: 'confirmed', target, at: e.time } : view;
      // A pending apply seen from elsewhere (another tab, the CLI) shows its countdown here too.
      if (e.outcome === 'applied' && typeof e.revertsAt === 'string') return { phase: 'pending', target, revertsAt: e.revertsAt };
      return view;
    }
  }
}

/** Whole seconds left until `revertsAt`, never negative (the daemon decides when it reverts). */
export function secondsLeft(revertsAt: string, now: number): number {
  const at = Date.parse(revertsAt);
  if (Number.isNaN(at)) return 0;
  return Math.max(0, Math.ceil((at - now) / 1000));
}
