// The MQTT port over mqtt.js (issue 11 item 4): mqtt://, mqtts:// (CA, client certificate),
// ws(s)://; MQTT 5, falling back to 3.1.1 when the broker refuses the protocol; reconnect with
// doubling backoff. One MqttClient per connection attempt with mqtt.js's own reconnect and QoS 0
// queue off, so nothing piles up in memory while the broker is away: the service's queue is
// the only one. Imports mqtt.js's client alone (not its index, which loads ws and socks too).

import { readFile } from 'node:fs/promises';
import { createConnection } from 'node:net';
import type { Duplex } from 'node:stream';
import * as clientModule from 'mqtt/lib/client';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { MqttLinkEvent, MqttMessage, MqttPort, MqttProtocolVersion, MqttSession, MqttSessionOptions } from './mqtt.js';

type MqttClientClass = typeof import('mqtt/lib/client').default;
type MqttClient = InstanceType<MqttClientClass>;
// Node's ESM loader hands a CommonJS module.exports over as `default`; esbuild's bundle unwraps
// __esModule modules one level further. Either way the class is the innermost `default`.
const loaded = clientModule as unknown as { default: MqttClientClass | { default: MqttClientClass } };
const MqttClient: MqttClientClass = 'default' in loaded.default ? loaded.default.default : loaded.default;

/** How long a clean close waits for the broker to acknowledge what is in flight. */
const CLOSE_WAIT_MS = 1000;

/** CONNACK codes meaning "this protocol version is not spoken here": 3.1.1's 1 and MQTT 5's 132. */
const UNSUPPORTED_PROTOCOL = new Set([1, 132]);

interface Secrets {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export class LinuxMqttPort implements MqttPort {
  constructor(private readonly clock: Clock) {}

  open(options: MqttSessionOptions, onEvent: (event: MqttLinkEvent) => void): MqttSession {
    return new LinuxMqttSession(options, onEvent, this.clock);
  }
}

class LinuxMqttSession implements MqttSession {
  private client: MqttClient | undefined;
  private socket: Duplex | undefined;
  private version: MqttProtocolVersion;
  /** Whether the broker ever accepted `version`: then a refusal is not about the protocol. */
  private versionConfirmed = false;
  private backoffMs: number;
  private retry: TimerHandle | undefined;
  private closed = false;
  private connected = false;
  private attemptError: string | undefined;
  private secrets: Secrets | undefined;

  constructor(
    private readonly options: MqttSessionOptions,
    private readonly onEvent: (event: MqttLinkEvent) => void,
    private readonly clock: Clock,
  ) {
    this.version = options.protocol === '3.1.1' ? 4 : 5;
    this.backoffMs = options.reconnectMinMs;
    void this.attempt();
  }

  private async loadSecrets(): Promise<Secrets> {
    const read = async (path: string | undefined, what: string) => {
      if (!path) return undefined;
      try {
        return await readFile(path);
      } catch (error) {
        throw new Error(`cannot read the ${what} ${path}: ${(error as Error).message}`);
      }
    };
    const [ca, cert, key] = await Promise.all([read(this.options.ca, 'CA file'), read(this.options.cert, 'client certificate'), read(this.options.key, 'client key')]);
    return { ...(ca ? { ca } : {}), ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
  }

  private async attempt(): Promise<void> {
    if (this.closed) return;
    this.attemptError = undefined;
    let stream: (client: MqttClient) => Duplex;
    try {
      // Read each attempt: a renewed certificate is picked up without a restart.
      this.secrets = await this.loadSecrets();
      stream = await this.streamBuilder();
    } catch (error) {
      this.failed((error as Error).message);
      return;
    }
    if (this.closed) return;
    const url = new URL(this.options.url);
    const client = new MqttClient(stream, {
      protocolVersion: this.version,
      clientId: this.options.clientId,
      keepalive: this.options.keepaliveSeconds,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: 10_000,
      queueQoSZero: false,
      resubscribe: false,
      // mqtt-packet's default pre-builds 65,536 two-byte Buffers for message ids: 18 MiB of heap
      // (measured) to save one tiny allocation per packet, at our rate of a few per minute.
      writeCache: false,
      hostname: url.hostname,
      ...(this.options.username !== undefined ? { username: this.options.username } : {}),
      ...(this.options.password !== undefined ? { password: this.options.password } : {}),
      will: { topic: this.options.will.topic, payload: Buffer.from(this.options.will.payload), qos: this.options.will.qos, retain: this.options.will.retain },
    });
    this.client = client;
    client.on('connect', () => {
      if (this.client !== client) return;
      this.connected = true;
      this.versionConfirmed = true;
      this.backoffMs = this.options.reconnectMinMs;
      this.onEvent({ type: 'connected', protocolVersion: this.version });
      // Clean sessions: the broker forgets subscriptions with the connection, so ask again.
      const filters = this.options.subscriptions ?? [];
      if (filters.length > 0) {
        client.subscribe(filters, { qos: 1 }, (error) => {
          if (error && this.client === client) this.attemptError ??= `subscribe ${filters.join(', ')}: ${error.message}`;
        });
      }
    });
    client.on('message', (topic, payload, packet) => {
      if (this.client !== client) return;
      const props = packet.properties;
      this.options.onMessage?.({
        topic,
        payload,
        ...(props?.responseTopic !== undefined ? { responseTopic: props.responseTopic } : {}),
        ...(props?.correlationData !== undefined ? { correlationData: props.correlationData } : {}),
      });
    });
    client.on('error', (error: Error & { code?: number | string }) => {
      if (this.client !== client) return;
      const code = typeof error.code === 'number' ? error.code : undefined;
      if (code !== undefined && UNSUPPORTED_PROTOCOL.has(code) && this.version === 5 && this.options.protocol === 'auto' && !this.versionConfirmed) {
        this.version = 4;
        this.attemptError = 'fallback';
        return;
      }
      this.attemptError ??= error.message;
    });
    client.on('close', () => {
      if (this.client !== client) return;
      this.client = undefined;
      client.end(true);
      const wasConnected = this.connected;
      this.connected = false;
      if (this.attemptError === 'fallback') {
        void this.attempt();
        return;
      }
      // A v5 CONNECT answered by a hang-up (no CONNACK at all) is how some 3.1.1 brokers refuse.
      if (!wasConnected && this.attemptError === undefined && this.version === 5 && this.options.protocol === 'auto' && !this.versionConfirmed) {
        this.version = 4;
        void this.attempt();
        return;
      }
      this.failed(this.attemptError ?? (wasConnected ? 'connection lost' : 'connection closed before the broker answered'));
    });
  }

  private failed(error: string): void {
    this.onEvent({ type: 'disconnected', error });
    if (this.closed) return;
    const wait = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.reconnectMaxMs);
    this.retry = this.clock.setTimer(wait, () => {
      this.retry = undefined;
      void this.attempt();
    });
  }

  /** The transport for the URL's scheme; ws is imported only when a ws(s) URL is configured. */
  private async streamBuilder(): Promise<(client: MqttClient) => Duplex> {
    const url = new URL(this.options.url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const track = (socket: Duplex) => {
      this.socket = socket;
      // The underlying reason (ECONNREFUSED, a certificate error) is the one worth reporting.
      socket.on('error', (error: Error) => (this.attemptError ??= describeSocketError(error)));
      // Nagle holds a small PUBLISH until the last one is ACKed: +40 ms per hop on loopback.
      (socket as Duplex & { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      return socket;
    };
    switch (url.protocol) {
      case 'mqtt:':
        return () => track(createConnection({ host, port: Number(url.port || 1883) }));
      case 'mqtts:': {
        // node:tls only for mqtts: importing it adds 2.8 MiB RSS to a bare node (measured).
        const { connect: tlsConnect } = await import('node:tls');
        return () =>
          track(
            tlsConnect({
              host,
              port: Number(url.port || 8883),
              servername: isIpLiteral(host) ? undefined : host,
              rejectUnauthorized: true,
              ...this.secrets,
            } as import('node:tls').ConnectionOptions),
          );
      }
      case 'ws:':
      case 'wss:': {
        const { streamBuilder } = await import('mqtt/lib/connect/ws');
        const secure = url.protocol === 'wss:';
        return (client) =>
          track(
            streamBuilder(client, {
              protocol: secure ? 'wss' : 'ws',
              hostname: host,
              port: Number(url.port || (secure ? 443 : 80)),
              path: url.pathname === '/' ? '/mqtt' : url.pathname,
              rejectUnauthorized: true,
              ...this.secrets,
            } as Parameters<typeof streamBuilder>[1]) as Duplex,
          );
      }
      default:
        throw new Error(`unsupported URL scheme ${url.protocol}`);
    }
  }

  publish(message: MqttMessage): Promise<void> {
    const client = this.client;
    if (this.closed || !client || !this.connected) return Promise.reject(new Error('not connected'));
    return new Promise((resolve, reject) => {
      const properties = this.version === 5 && message.correlationData ? { properties: { correlationData: Buffer.from(message.correlationData) } } : {};
      client.publish(message.topic, message.payload, { qos: message.qos, retain: message.retain, ...properties }, (error?: Error) => (error ? reject(error) : resolve()));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.retry?.cancel();
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    if (!client) return;
    // A clean DISCONNECT: the broker discards the will (the service published offline itself).
    // mqtt.js first waits for unacknowledged messages; a broker that stopped answering gets 1 s,
    // then the socket is cut (its will then says what the service already published: offline).
    await new Promise<void>((resolve) => {
      const timer = this.clock.setTimer(CLOSE_WAIT_MS, () => {
        this.socket?.destroy();
        resolve();
      });
      client.end(false, {}, () => {
        timer.cancel();
        resolve();
      });
    });
  }

  destroy(): void {
    this.closed = true;
    this.retry?.cancel();
    const client = this.client;
    this.client = undefined;
    this.connected = false;
    // No DISCONNECT: the broker sees the connection die and publishes the will.
    this.socket?.destroy();
    client?.end(true);
  }
}

function isIpLiteral(host: string): boolean {
  return /^[0-9.]+$/.test(host) || host.includes(':');
}

function describeSocketError(error: Error & { code?: string }): string {
  const code = error.code ?? '';
  const detail = `${code}: ${error.message.split('\n')[0]!.trim()}`;
  // Alerts the broker sent: it did not accept our side of the handshake.
  if (/ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|UNKNOWN_CA|CERTIFICATE_UNKNOWN|HANDSHAKE_FAILURE)/.test(code)) {
    return `TLS: the broker refused this node's client certificate (${detail}); check telemetry.mqtt.cert and key`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `TLS: the broker's certificate is for another name (${detail}); check the host in telemetry.mqtt.url`;
  if (/CERT|SELF_SIGNED|UNABLE_TO|DEPTH_ZERO/.test(code)) {
    return `TLS: the broker's certificate is not trusted (${detail}); check telemetry.mqtt.ca`;
  }
  return error.message;
}
