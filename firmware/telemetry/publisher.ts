// Pure mapping from the daemon's state to the retained telemetry messages of topics.ts, and the
// record of what the broker last got, so a change publishes only the topics that changed and a
// reconnect republishes them all (the broker may have restarted without persistence).

import type { PoolStatus } from '../balancer/service.js';
import type { VhostStatus } from '../carp/service.js';
import type { MqttMessage, MqttProtocolVersion } from './mqtt.js';
import { topicFor, type CarpStatePayload, type PoolPayload, type PowerPayload, type StatusPayload } from './topics.js';

export interface TelemetrySnapshot {
  carp: VhostStatus[];
  pools: PoolStatus[];
  power: ReadonlyMap<string, PowerPayload>;
}

export interface NodeIdentity {
  prefix: string;
  node: string;
  version: string;
  /** When this daemon started (ISO 8601). */
  since: string;
}

export function carpPayload(v: VhostStatus): CarpStatePayload {
  return {
    state: v.state,
    since: v.since,
    interface: v.interface,
    addresses: v.addresses,
    advbase: v.advbase,
    advskew: v.advskew,
    demote: v.demote,
  };
}

export function poolPayload(p: PoolStatus): PoolPayload {
  return {
    state: p.state,
    since: p.since,
    demote: p.demote,
    hosts: p.hosts.map((h) => ({ id: h.id, address: h.address, state: h.state, mode: h.mode, since: h.since })),
  };
}

export function onlineMessage(id: NodeIdentity, protocolVersion: MqttProtocolVersion): MqttMessage {
  const payload: StatusPayload = { online: true, node: id.node, version: id.version, since: id.since, protocolVersion };
  return { topic: topicFor(id.prefix, id.node, 'status'), payload: JSON.stringify(payload), qos: 1, retain: true };
}

/** The last will, set at connect; a clean shutdown publishes the same. */
export function offlineMessage(id: Pick<NodeIdentity, 'prefix' | 'node'>): MqttMessage {
  const payload: StatusPayload = { online: false };
  return { topic: topicFor(id.prefix, id.node, 'status'), payload: JSON.stringify(payload), qos: 1, retain: true };
}

/** Every retained state message for this snapshot (status excluded: it follows the connection). */
export function stateMessages(id: Pick<NodeIdentity, 'prefix' | 'node'>, snapshot: TelemetrySnapshot): MqttMessage[] {
  const retained = (topic: string, payload: unknown): MqttMessage => ({ topic, payload: JSON.stringify(payload), qos: 1, retain: true });
  return [
    ...snapshot.carp.map((v) => retained(topicFor(id.prefix, id.node, 'carp/<vhid>/state', { vhid: v.vhid }), carpPayload(v))),
    ...snapshot.pools.map((p) => retained(topicFor(id.prefix, id.node, 'pools/<pool>', { pool: p.name }), poolPayload(p))),
    ...[...snapshot.power].map(([host, payload]) => retained(topicFor(id.prefix, id.node, 'power/<host>', { host }), payload)),
  ];
}

/** What the broker holds from us, by topic; `changed` says which messages are news to it. */
export class RetainedRecord {
  private readonly sent = new Map<string, string>();

  changed(messages: MqttMessage[]): MqttMessage[] {
    return messages.filter((m) => this.sent.get(m.topic) !== m.payload);
  }

  remember(message: MqttMessage): void {
    this.sent.set(message.topic, message.payload);
  }

  /** After a reconnect the broker may hold nothing of ours: send everything again. */
  forget(): void {
    this.sent.clear();
  }
}

/**
 * One `since` per CARP state on the broker: status() converts CARP's monotonic stamp to wall time
 * at each call, so two calls can differ by a millisecond, which would otherwise republish an
 * unchanged state (and show two values for one transition).
 */
export class StableSince {
  private readonly seen = new Map<number, { state: string; since: string }>();

  apply(carp: VhostStatus[]): VhostStatus[] {
    return carp.map((v) => {
      const before = this.seen.get(v.vhid);
      if (before && before.state === v.state && Math.abs(Date.parse(before.since) - Date.parse(v.since)) <= 2) return { ...v, since: before.since };
      this.seen.set(v.vhid, { state: v.state, since: v.since });
      return v;
    });
  }
}
