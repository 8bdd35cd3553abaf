// The daemon's event bus: what happened, once, in the past tense, for telemetry (the MQTT
// `events` topic, with a per-node sequence number), the web UI's live stream and the log.
// Each listener is isolated (zigbee2mqtt's pattern): one that throws does not stop the others.

import type { Logger } from './log.js';

export type CarpStateName = 'INIT' | 'BACKUP' | 'MASTER';

/** Every event the daemon raises; `type` is the closed set of names telemetry publishes. */
export type TandemEvent =
  | { type: 'carpTransition'; vhid: number; interface: string; from: CarpStateName; to: CarpStateName; reason: string }
  | { type: 'hostHealth'; pool: string; host: string; from: string; to: string; outcome?: string }
  | { type: 'poolHealth'; pool: string; from: string; to: string }
  | { type: 'configReload'; ok: boolean; issues?: string[] }
  | { type: 'maintenance'; on: boolean }
  | { type: 'demotion'; total: number; admin: number }
  | { type: 'firewallApply'; outcome: 'applied' | 'confirmed' | 'reverted' | 'refused'; detail?: string }
  /** A config applied through the API (api/config-apply.ts); `revertsAt` while it awaits confirmation. */
  | { type: 'configApply'; outcome: 'applied' | 'confirmed' | 'reverted' | 'refused' | 'failed'; revertsAt?: string; detail?: string }
  | { type: 'powerAction'; host: string; action: 'wake' | 'park' | 'escalate' | 'verify'; method: string; outcome: 'started' | 'done' | 'failed'; reason: string; detail?: string }
  | { type: 'powerPin'; host: string; pinned: boolean }
  | { type: 'commandRefused'; action: string; reason: string }
  | { type: 'commandExecuted'; action: string; by: string }
  /** Config sync (sync/config-service.ts): a peer's outcome changed (`sent`, on the master) or a push arrived (`received`). */
  | { type: 'configSync'; direction: 'sent' | 'received'; peer: string; outcome: string; detail?: string }
  /** A/B upgrades (upgrade/service.ts): progress of a slot write (throttled), its outcome, the trial's commit or rollback. */
  | { type: 'upgrade'; phase: 'started' | 'progress' | 'installed' | 'failed' | 'rebooting' | 'committed' | 'rolled-back'; slot: 'A' | 'B'; version?: string; step?: string; bytes?: number; total?: number; detail?: string };

export type TandemEventType = TandemEvent['type'];

/** An event as the bus delivers it: with the wall-clock time it was raised. */
export type StampedEvent = TandemEvent & { time: string };

export type EventListener = (event: StampedEvent) => void;

export class EventBus {
  private readonly listeners = new Set<EventListener>();

  constructor(
    private readonly now: () => number,
    private readonly log: Logger,
  ) {}

  /** Returns a function that removes the listener. */
  on(listener: EventListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  emit(event: TandemEvent): void {
    const stamped = { ...event, time: new Date(this.now()).toISOString() } as StampedEvent;
    for (const listener of this.listeners) {
      try {
        listener(stamped);
      } catch (error) {
        this.log.error(`event listener failed on ${event.type}: ${(error as Error).message}`);
      }
    }
  }
}
