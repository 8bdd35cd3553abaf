// Home Assistant MQTT discovery (issue 11 item 6): retained configs under
// `<discoveryPrefix>/<component>/<node>/<object>/config` so each node's CARP states, pools and
// key metrics appear in Home Assistant without hand-written YAML. Follows the HA MQTT discovery
// docs: unique_id, a shared device, availability from our retained status topic.

import type { MqttMessage } from './mqtt.js';
import type { TelemetrySnapshot } from './publisher.js';
import { topicFor, topicLevel } from './topics.js';

export interface DiscoveryIdentity {
  prefix: string;
  node: string;
  version: string;
  discoveryPrefix: string;
}

/** Metrics shown as sensors: a path into the `metrics` payload (telemetry/metrics.ts NodeMetrics). */
export const METRIC_SENSORS: { key: string; name: string; path: string; unit?: string; deviceClass?: string; stateClass?: string }[] = [
  { key: 'cpu', name: 'CPU', path: 'cpu.percent', unit: '%' },
  { key: 'memory_used', name: 'Memory used', path: 'memory.usedPercent', unit: '%' },
  { key: 'temperature', name: 'Temperature', path: 'temperature.maxCelsius', unit: '°C', deviceClass: 'temperature' },
  { key: 'demotion', name: 'CARP demotion', path: 'demotion' },
  // HA's energy class takes only total or total_increasing; kWh counts up since the daemon started.
  { key: 'energy', name: 'Energy', path: 'energy.kWh', unit: 'kWh', deviceClass: 'energy', stateClass: 'total_increasing' },
];

/** Jinja that yields the value at a dotted path, or nothing (HA keeps the old state) when absent. */
function jsonPath(path: string): string {
  const parts = path.split('.');
  const guards = parts.map((_, i) => `value_json.${parts.slice(0, i + 1).join('.')} is defined`).join(' and ');
  return `{{ value_json.${path} if ${guards} else none }}`;
}

export function discoveryMessages(id: DiscoveryIdentity, snapshot: Pick<TelemetrySnapshot, 'carp' | 'pools'>): MqttMessage[] {
  const node = topicLevel(id.node);
  const device = { identifiers: [`tandem_${node}`], name: id.node, manufacturer: 'Tandem', model: 'Tandem router', sw_version: id.version };
  const availability = [
    { topic: topicFor(id.prefix, id.node, 'status'), value_template: "{{ 'online' if value_json.online else 'offline' }}" },
  ];
  const config = (component: string, object: string, body: Record<string, unknown>): MqttMessage => ({
    topic: `${id.discoveryPrefix}/${component}/tandem_${node}/${object}/config`,
    payload: JSON.stringify({ ...body, unique_id: `tandem_${node}_${object}`, object_id: `tandem_${node}_${object}`, device, availability }),
    qos: 1,
    retain: true,
  });
  const messages: MqttMessage[] = [];
  for (const v of snapshot.carp) {
    const state = topicFor(id.prefix, id.node, 'carp/<vhid>/state', { vhid: v.vhid });
    messages.push(
      config('binary_sensor', `carp_${v.vhid}_master`, {
        name: `CARP vhid ${v.vhid} master`,
        state_topic: state,
        value_template: "{{ 'ON' if value_json.state == 'MASTER' else 'OFF' }}",
        payload_on: 'ON',
        payload_off: 'OFF',
      }),
      config('sensor', `carp_${v.vhid}_state`, { name: `CARP vhid ${v.vhid} state`, state_topic: state, value_template: '{{ value_json.state }}' }),
    );
  }
  for (const p of snapshot.pools) {
    const state = topicFor(id.prefix, id.node, 'pools/<pool>', { pool: p.name });
    const object = `pool_${topicLevel(p.name)}`;
    messages.push(
      config('sensor', object, { name: `Pool ${p.name}`, state_topic: state, value_template: '{{ value_json.state }}' }),
      config('binary_sensor', `${object}_problem`, {
        name: `Pool ${p.name} problem`,
        device_class: 'problem',
        state_topic: state,
        value_template: "{{ 'OFF' if value_json.state == 'up' else 'ON' }}",
      }),
    );
  }
  const metrics = topicFor(id.prefix, id.node, 'metrics');
  for (const m of METRIC_SENSORS) {
    messages.push(
      config('sensor', m.key, {
        name: m.name,
        state_topic: metrics,
        value_template: jsonPath(m.path),
        state_class: m.stateClass ?? 'measurement',
        ...(m.unit ? { unit_of_measurement: m.unit } : {}),
        ...(m.deviceClass ? { device_class: m.deviceClass } : {}),
      }),
    );
  }
  return messages;
}
