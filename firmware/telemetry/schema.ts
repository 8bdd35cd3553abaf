// The `telemetry` config section: the MQTT connection to a central monitor (issue 11), the
// persisted event queue, Home Assistant discovery, metrics and remote commands. One schema gives
// the type, the errors with paths, the defaults and the README reference (config/kit.ts).

import { optional, s, type Infer, type StringRule } from '../config/kit.js';
import { checkListen } from './listen.js';

const isAbsolutePath: StringRule = (v) => (v.startsWith('/') && !v.includes('\0') ? undefined : 'must be an absolute path');

const MQTT_SCHEMES = ['mqtt:', 'mqtts:', 'ws:', 'wss:'];

export const isMqttUrl: StringRule = (v) => {
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    return 'must be a URL like mqtt://198.51.100.5:1883, mqtts://..., ws://... or wss://...';
  }
  if (!MQTT_SCHEMES.includes(url.protocol)) return `must use mqtt://, mqtts://, ws:// or wss://, not ${url.protocol}//`;
  if (!url.hostname) return 'must name a host';
  // A password in the URL would end up in logs and status; the schema has a field for it.
  if (url.username || url.password) return 'must not carry credentials: use telemetry.mqtt.username and password';
  return undefined;
};

// One topic level: MQTT forbids the wildcards + and # in published topics, and / would add a level.
const isTopicLevels: StringRule = (v) =>
  /^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(v) ? undefined : 'must be topic levels of letters, digits, _ . - separated by /';

const isClientId: StringRule = (v) => (/^[A-Za-z0-9_.-]{1,64}$/.test(v) ? undefined : 'must be 1-64 characters: letters, digits, _ . -');

export const MQTT_PROTOCOLS = ['auto', '5', '3.1.1'] as const;
export type MqttProtocolSetting = (typeof MQTT_PROTOCOLS)[number];

const mqtt = s
  .object({
    url: s.string('an mqtt://, mqtts://, ws:// or wss:// URL', isMqttUrl).describe('The broker (mosquitto, EMQX, ...).', {
      example: 'mqtts://198.51.100.5:8883',
    }),
    keepaliveSeconds: optional(
      s.int(1, 65535).describe('MQTT keepalive: the broker publishes this node\'s last will ({"online": false}) within 1.5x this after the node dies.'),
      30,
    ),
    topicPrefix: optional(s.string('topic levels', isTopicLevels).describe('First level(s) of every topic: `<prefix>/<node>/...`.'), 'tandem'),
    clientId: optional(s.string('a client id', isClientId).describe('MQTT client id; default `tandem-<node.name>`.')),
    protocol: optional(
      s.enumOf(...MQTT_PROTOCOLS).describe('MQTT version: auto tries 5 and falls back to 3.1.1 when the broker refuses it.'),
      'auto',
    ),
    username: optional(s.string('a user name').describe('User name for the broker.')),
    password: optional(s.string('a password').describe('Password for the broker (kept out of status and logs).')),
    ca: optional(s.string('an absolute path', isAbsolutePath).describe('PEM CA certificate(s) the broker\'s certificate must chain to (mqtts, wss); default the system store.')),
    cert: optional(s.string('an absolute path', isAbsolutePath).describe('PEM client certificate, for brokers that require one (with `key`).')),
    key: optional(s.string('an absolute path', isAbsolutePath).describe('PEM private key of the client certificate.')),
    reconnectMinSeconds: optional(s.int(1, 3600).describe('First wait before reconnecting; doubles after each failure.'), 1),
    reconnectMaxSeconds: optional(s.int(1, 3600).describe('Longest wait between reconnect attempts.'), 60),
  })
  .describe('The MQTT connection. Without it nothing is published.');

const queue = s
  .object({
    maxEvents: optional(
      s.int(10, 100000).describe('Events kept while the broker is away; when full the oldest is dropped and counted (`telemetry.queue.dropped` in status).'),
      1000,
    ),
    flushSeconds: optional(
      s.int(1, 86400).describe('At most one write of the queue file per this many seconds (and one at clean shutdown), to spare the card.'),
      60,
    ),
  })
  .describe('The event queue, persisted in `node.stateDir/telemetry-queue.json`.');

const homeAssistant = s
  .object({
    enabled: optional(s.bool().describe('Publish Home Assistant MQTT discovery configs for CARP states, pools and metrics.'), false),
    discoveryPrefix: optional(s.string('topic levels', isTopicLevels).describe('Home Assistant\'s discovery prefix.'), 'homeassistant'),
  })
  .describe('Home Assistant MQTT discovery.');

// Remote commands (firmware/telemetry/commands.ts). The key is a file, not an inline secret, so
// it stays out of the config that status, the UI and config sync show and copy.
const commands = s
  .object({
    enabled: optional(s.bool().describe('Accept signed commands on `<prefix>/<node>/cmd/<action>` (README "Remote commands").'), false),
    key: optional(
      s
        .string('an absolute path', isAbsolutePath)
        .describe('File holding the shared HMAC-SHA256 key (at least 16 bytes; surrounding whitespace ignored); required when enabled. Keep it mode 0600.'),
    ),
    maxAgeSeconds: optional(
      s.int(1, 3600).describe('A command older than this, or this far in the future, is refused as stale; its nonce is remembered this long.'),
      30,
    ),
  })
  .describe('Signed remote commands from the monitor. Off by default.');

// The Prometheus text format on its own HTTP listener (firmware/telemetry/metrics-http.ts) until
// the web UI's API serves /metrics itself.
const prometheus = s
  .object({
    listen: s.string('address:port', checkListen).describe('Serve `/metrics` (Prometheus text format) on this address and port; plain HTTP, no auth: keep it on loopback or a management network.', {
      example: '127.0.0.1:9120',
    }),
  })
  .describe('Prometheus metrics endpoint (README "Prometheus metrics"). Off when absent.');

export const DEFAULT_COMMANDS = { enabled: false, maxAgeSeconds: 30 };
export const DEFAULT_QUEUE = { maxEvents: 1000, flushSeconds: 60 };
export const DEFAULT_HOME_ASSISTANT = { enabled: false, discoveryPrefix: 'homeassistant' };

export const telemetrySchema = s
  .object({
    mqtt: optional(mqtt),
    metricsIntervalSeconds: optional(
      s.int(5, 86400).describe('How often the `metrics` topic is published (not queued: the newest replaces the old).'),
      60,
    ),
    queue: optional(queue, DEFAULT_QUEUE),
    homeAssistant: optional(homeAssistant, DEFAULT_HOME_ASSISTANT),
    commands: optional(commands, DEFAULT_COMMANDS),
    prometheus: optional(prometheus),
  })
  .describe('Telemetry: state, events and metrics to a central MQTT broker.');

export type TelemetryConfig = Infer<typeof telemetrySchema>;
export type MqttConfig = NonNullable<TelemetryConfig['mqtt']>;

/** What no single field can say: a certificate needs its key, TLS files need a TLS URL. */
export function mqttConfigIssues(telemetry: TelemetryConfig | undefined): { path: string; message: string }[] {
  const m = telemetry?.mqtt;
  if (!m) return [];
  const issues: { path: string; message: string }[] = [];
  if (m.cert !== undefined && m.key === undefined) issues.push({ path: 'telemetry.mqtt.key', message: 'is required with telemetry.mqtt.cert (the client certificate\'s private key)' });
  if (m.key !== undefined && m.cert === undefined) issues.push({ path: 'telemetry.mqtt.cert', message: 'is required with telemetry.mqtt.key (the client certificate)' });
  const secure = m.url.startsWith('mqtts:') || m.url.startsWith('wss:');
  for (const field of ['ca', 'cert', 'key'] as const) {
    if (m[field] !== undefined && !secure) issues.push({ path: `telemetry.mqtt.${field}`, message: `is used only over TLS: make telemetry.mqtt.url mqtts:// or wss://, got ${JSON.stringify(m.url)}` });
  }
  if (m.reconnectMaxSeconds < m.reconnectMinSeconds) {
    issues.push({ path: 'telemetry.mqtt.reconnectMaxSeconds', message: `must be at least reconnectMinSeconds (${m.reconnectMinSeconds}), got ${m.reconnectMaxSeconds}` });
  }
  return issues;
}
