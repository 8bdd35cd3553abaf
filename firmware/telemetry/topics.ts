// The MQTT API as a type (issue 11 item 1, zigbee2mqtt's lib/types/api.ts pattern): each topic
// under `<prefix>/<node>/` mapped to its payload type, plus the table the README's topic list is
// generated from, so the code, the docs and the monitor's expectations cannot drift apart.

import type { CarpStateName, StampedEvent } from '../events.js';

/** `status`: retained. The broker publishes the last will `{"online": false}` when the node dies. */
export type StatusPayload =
  | { online: true; node: string; version: string; since: string; protocolVersion: 4 | 5 }
  | { online: false };

/** `carp/<vhid>/state`: retained, one per vhid. */
export interface CarpStatePayload {
  state: CarpStateName;
  since: string;
  interface: string;
  addresses: string[];
  advbase: number;
  advskew: number;
  demote: number;
}

/** `pools/<pool>`: retained pool health. */
export interface PoolPayload {
  state: string;
  since: string;
  demote: number;
  hosts: { id: string; address: string; state: string; mode: string; since: string }[];
}

/** `power/<host>`: retained power state, published by the power manager through `publishPower`. */
export interface PowerPayload {
  state: string;
  since: string;
  /** How the host is parked or woken (wol, ipmi, snmp-pdu, ...). */
  method?: string;
  pinned?: boolean;
  detail?: string;
}

/** `events`: QoS 1, queued while the broker is away; `seq` is +1 per event, across restarts. */
export type EventPayload = StampedEvent & { seq: number; node: string };

/** `metrics`: QoS 0, not retained, not queued; the body is what the metrics collector returns. */
export type MetricsPayload = { time: string } & Record<string, unknown>;

/** Topic (relative to `<prefix>/<node>/`, with `<...>` placeholders) → payload. */
export interface TopicMap {
  status: StatusPayload;
  'carp/<vhid>/state': CarpStatePayload;
  'pools/<pool>': PoolPayload;
  'power/<host>': PowerPayload;
  events: EventPayload;
  metrics: MetricsPayload;
}

export type TopicName = keyof TopicMap;

export interface TopicSpec {
  qos: 0 | 1;
  retained: boolean;
  /** Queued in node.stateDir while the broker is away. */
  queued: boolean;
  description: string;
  example: string;
}

export const TOPICS: { readonly [K in TopicName]: TopicSpec } = {
  status: {
    qos: 1,
    retained: true,
    queued: false,
    description: 'Online with version and start time; the broker publishes the retained last will `{"online": false}` when the node dies (within 1.5x keepalive), and a clean shutdown publishes it too.',
    example: '{"online":true,"node":"fw-a","version":"0.1.0","since":"2026-11-22T10:00:00.000Z","protocolVersion":5}',
  },
  'carp/<vhid>/state': {
    qos: 1,
    retained: true,
    queued: false,
    description: 'CARP state of one vhid (`INIT`, `BACKUP`, `MASTER`), republished on every transition and reconnect.',
    example: '{"state":"MASTER","since":"2026-11-22T10:00:03.100Z","interface":"eth0","addresses":["198.51.100.100/24"],"advbase":1,"advskew":0,"demote":0}',
  },
  'pools/<pool>': {
    qos: 1,
    retained: true,
    queued: false,
    description: 'Health of a balancer pool and its hosts, republished when a host or the pool changes.',
    example: '{"state":"up","since":"2026-11-22T10:00:05.000Z","demote":0,"hosts":[{"id":"web-1","address":"198.51.100.31","state":"up","mode":"active","since":"2026-11-22T10:00:05.000Z"}]}',
  },
  'power/<host>': {
    qos: 1,
    retained: true,
    queued: false,
    description: 'Power state of a managed host, as the power manager last reported it.',
    example: '{"state":"parked","since":"2026-11-22T11:00:00.000Z","method":"wol"}',
  },
  events: {
    qos: 1,
    retained: false,
    queued: true,
    description: 'What happened (`type` from the daemon\'s event bus: carpTransition, hostHealth, poolHealth, configReload, configApply, maintenance, demotion, firewallApply, powerAction, powerPin, commandRefused, commandExecuted, configSync), with `seq` +1 per event across restarts; delivered in order, none twice.',
    example: '{"seq":17,"node":"fw-a","time":"2026-11-22T10:00:03.100Z","type":"carpTransition","vhid":42,"interface":"eth0","from":"BACKUP","to":"MASTER","reason":"masterDown"}',
  },
  metrics: {
    qos: 0,
    retained: false,
    queued: false,
    description: 'Periodic metrics every `telemetry.metricsIntervalSeconds`; not queued (the newest replaces the old).',
    example: '{"time":"2026-11-22T10:01:00.000Z","memory":{"usedBytes":52428800}}',
  },
};

/** The full topic of `name` for this node, placeholders filled from `params`. */
export function topicFor(prefix: string, node: string, name: TopicName, params: Record<string, string | number> = {}): string {
  const relative = name.replace(/<([a-z]+)>/g, (_, key: string) => {
    const value = params[key];
    if (value === undefined) throw new Error(`topic ${name} needs ${key}`);
    return topicLevel(String(value));
  });
  return `${prefix}/${node}/${relative}`;
}

/** A name as one topic level: MQTT gives + # / their own meaning, so they become _. */
export function topicLevel(value: string): string {
  return value.replace(/[+#/\u0000]/g, '_');
}

export const TOPICS_START = '<!-- telemetry-topics:start (generated by `npm run docs`; do not edit) -->';
export const TOPICS_END = '<!-- telemetry-topics:end -->';

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function renderTopicTable(): string {
  const lines = ['| topic under `<prefix>/<node>/` | QoS | retained | queued | payload | example |', '| --- | --- | --- | --- | --- | --- |'];
  for (const [name, spec] of Object.entries(TOPICS) as [TopicName, TopicSpec][]) {
    lines.push(
      `| \`${name}\` | ${spec.qos} | ${spec.retained ? 'yes' : 'no'} | ${spec.queued ? 'yes' : 'no'} | ${cell(spec.description)} | \`${cell(spec.example)}\` |`,
    );
  }
  return lines.join('\n');
}

/** Replaces the generated topic table between the markers in `readme`. */
export function withTopicTable(readme: string): string {
  const start = readme.indexOf(TOPICS_START);
  const end = readme.indexOf(TOPICS_END);
  if (start < 0 || end < start) throw new Error('README.md has no telemetry-topics markers');
  return `${readme.slice(0, start + TOPICS_START.length)}\n${renderTopicTable()}\n${readme.slice(end)}`;
}
