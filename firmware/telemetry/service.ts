// The telemetry service (issue 11): one MQTT session with a retained last will; retained state
// republished on change and on every reconnect; the event bus numbered into the persisted queue
// and delivered in order with QoS 1; metrics every interval, never queued. Nothing here blocks
// the CARP path: bus listeners only queue work, publishing is asynchronous.

import { join } from 'node:path';
import type { PoolStatus } from '../balancer/service.js';
import type { VhostStatus } from '../carp/service.js';
import type { ControlReply, ControlRequest } from '../control/protocol.js';
import type { EventBus, StampedEvent, TandemEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { FileStore } from '../os/files.js';
import { discoveryMessages } from './discovery.js';
import type { MqttIncoming, MqttMessage, MqttPort, MqttProtocolVersion, MqttSession } from './mqtt.js';
import type { CommandHandler, CommandOutcome } from './commands.js';
import { offlineMessage, onlineMessage, RetainedRecord, StableSince, stateMessages, type NodeIdentity } from './publisher.js';
import { EventQueue, type QueueStatus } from './queue.js';
import type { MqttConfig, TelemetryConfig } from './schema.js';
import { topicFor, topicLevel, type MetricsPayload, type PowerPayload } from './topics.js';

export type ConnectionState = 'connecting' | 'connected' | 'reconnecting' | 'stopped';

export interface TelemetryStatus {
  connection: {
    state: ConnectionState;
    url: string;
    since: string;
    protocolVersion?: MqttProtocolVersion;
    lastError?: string;
  };
  queue: QueueStatus;
  published: { events: number; states: number; metrics: number };
  /** Remote commands per outcome, when `telemetry.commands` is on. */
  commands?: Record<CommandOutcome, number>;
}

/** What telemetry reads from the daemon. */
export interface TelemetrySource {
  node: string;
  version: string;
  stateDir: string;
  carp(): VhostStatus[];
  pools(): PoolStatus[];
  events: Pick<EventBus, 'on'>;
  /** The daemon's control entry point and event bus, for remote commands (`telemetry.commands`). */
  commands?: { handle(request: ControlRequest): Promise<ControlReply>; emit(event: TandemEvent): void };
}

export interface TelemetryDeps {
  clock: Clock;
  files: FileStore;
  mqtt: MqttPort;
  log: Logger;
  /** METRICS' collector: the body of the `metrics` topic. */
  collectMetrics?: () => Promise<Record<string, unknown>>;
}

/** QoS 1 events in flight at once: enough to drain a full queue quickly, small enough to bound memory. */
const WINDOW = 32;
/** How long a clean shutdown waits for the broker to take the offline status. */
const OFFLINE_WAIT_MS = 2000;

export class TelemetryService {
  private readonly mqttConfig: MqttConfig;
  private readonly id: NodeIdentity;
  private readonly queue: EventQueue;
  private readonly retained = new RetainedRecord();
  private readonly stableSince = new StableSince();
  private readonly power = new Map<string, PowerPayload>();
  private readonly inflight = new Set<number>();
  private session: MqttSession | undefined;
  private unsubscribe: (() => void) | undefined;
  private metricsTimer: TimerHandle | undefined;
  private sendTimer: TimerHandle | undefined;
  private state: ConnectionState = 'connecting';
  private stateSince: number;
  private protocolVersion: MqttProtocolVersion | undefined;
  private lastError: string | undefined;
  private readonly published = { events: 0, states: 0, metrics: 0 };
  private commands: CommandHandler | undefined;

  constructor(
    private readonly config: TelemetryConfig & { mqtt: MqttConfig },
    private readonly source: TelemetrySource,
    private readonly deps: TelemetryDeps,
  ) {
    this.mqttConfig = config.mqtt;
    this.stateSince = deps.clock.now();
    this.id = {
      prefix: config.mqtt.topicPrefix,
      node: topicLevel(source.node),
      version: source.version,
      since: new Date(deps.clock.now()).toISOString(),
    };
    this.queue = new EventQueue(deps.files, join(source.stateDir, 'telemetry-queue.json'), deps.clock, config.queue, deps.log);
  }

  /** `earlier`: what the bus raised before telemetry was loaded (CARP's first transitions), oldest first. */
  async start(earlier: readonly StampedEvent[] = []): Promise<void> {
    await this.queue.load();
    this.commands = await this.openCommands();
    // Subscribe before connecting: an event raised while connecting is numbered and queued.
    // The earlier ones go first, in the same tick, so none is missed or taken twice.
    for (const event of earlier) this.queue.push(event, this.source.node);
    this.unsubscribe = this.source.events.on((event) => this.eventRaised(event));
    const m = this.mqttConfig;
    this.session = this.deps.mqtt.open(
      {
        url: m.url,
        clientId: m.clientId ?? `tandem-${this.id.node}`,
        keepaliveSeconds: m.keepaliveSeconds,
        protocol: m.protocol,
        username: m.username,
        password: m.password,
        ca: m.ca,
        cert: m.cert,
        key: m.key,
        will: offlineMessage(this.id),
        reconnectMinMs: m.reconnectMinSeconds * 1000,
        reconnectMaxMs: Math.max(m.reconnectMinSeconds, m.reconnectMaxSeconds) * 1000,
        subscriptions: this.commands ? [this.commands.topicFilter] : [],
        onMessage: (message) => this.commandArrived(message),
      },
      (event) => {
        if (event.type === 'connected') this.connected(event.protocolVersion);
        else this.disconnected(event.error);
      },
    );
    this.armMetrics();
    this.deps.log.info(`telemetry: connecting to ${m.url}`, { topics: `${this.id.prefix}/${this.id.node}/#` });
  }

  /** Clean shutdown: the retained status says offline, the queue is written, the session closes. */
  async stop(): Promise<void> {
    if (this.state === 'stopped') return;
    this.unsubscribe?.();
    this.metricsTimer?.cancel();
    // What the stop itself raised (the bow-out's INIT states) goes out before the offline status.
    this.sendNow();
    const session = this.session;
    if (session && this.state === 'connected') {
      let timer: TimerHandle | undefined;
      const timeout = new Promise<void>((resolve) => (timer = this.deps.clock.setTimer(OFFLINE_WAIT_MS, resolve)));
      await Promise.race([session.publish(offlineMessage(this.id)).catch(() => undefined), timeout]);
      timer?.cancel();
    }
    this.setState('stopped');
    await session?.close();
    await this.queue.close().catch((error: Error) => this.deps.log.error(`cannot write the telemetry queue: ${error.message}`));
  }

  /** kill -9 as the demo simulates it: no offline status, no queue write; the broker publishes the will. */
  abandon(): void {
    this.unsubscribe?.();
    this.metricsTimer?.cancel();
    this.sendTimer?.cancel();
    this.setState('stopped');
    this.queue.abandon();
    this.session?.destroy();
  }

  /** The power manager's report for one host (`power/<host>`, retained). */
  publishPower(host: string, payload: PowerPayload): void {
    this.power.set(host, payload);
    this.publishStates();
  }

  status(): TelemetryStatus {
    return {
      connection: {
        state: this.state,
        url: this.mqttConfig.url,
        since: new Date(this.stateSince).toISOString(),
        ...(this.protocolVersion ? { protocolVersion: this.protocolVersion } : {}),
        ...(this.lastError ? { lastError: this.lastError } : {}),
      },
      queue: this.queue.status(),
      published: { ...this.published },
      ...(this.commands ? { commands: this.commands.counters() } : {}),
    };
  }

  /** A command the broker delivered; its reply goes out QoS 1 on the same session. */
  private commandArrived(message: MqttIncoming): void {
    const handler = this.commands;
    if (!handler || this.state === 'stopped') return;
    void handler.handle(message, (topic, payload, correlationData) =>
      this.session!.publish({ topic, payload, qos: 1, retain: false, ...(correlationData ? { correlationData } : {}) }),
    );
  }

  /** The command handler when commands are on; a bad key leaves them off and says why, never telemetry. */
  private async openCommands(): Promise<CommandHandler | undefined> {
    const daemon = this.source.commands;
    if (!daemon || !this.config.commands.enabled) return undefined;
    try {
      // Loaded only when commands are on: the HMAC code pulls in node:crypto (about 1 MiB of RSS).
      const { openCommandHandler } = await import('./commands.js');
      return await openCommandHandler(this.config, {
        node: this.source.node,
        files: this.deps.files,
        now: () => this.deps.clock.now(),
        dispatch: (request) => daemon.handle(request),
        emit: (event) => daemon.emit(event),
        log: this.deps.log.child({ part: 'commands' }),
      });
    } catch (error) {
      this.deps.log.error(`telemetry: remote commands stay off: ${(error as Error).message}`);
      return undefined;
    }
  }

  private eventRaised(event: StampedEvent): void {
    // Numbered now (order), sent in the next turn: the raiser may be a CARP transition, whose
    // stack should not carry JSON and socket writes. Events in one turn share one send.
    this.queue.push(event, this.source.node);
    this.sendTimer ??= this.deps.clock.setTimer(0, () => this.sendNow());
  }

  /** State topics follow the events that change them (transitions, health, demotion). */
  private sendNow(): void {
    this.sendTimer?.cancel();
    this.sendTimer = undefined;
    this.publishStates();
    this.pump();
  }

  private connected(protocolVersion: MqttProtocolVersion): void {
    if (this.state === 'stopped') return;
    this.protocolVersion = protocolVersion;
    this.lastError = undefined;
    this.setState('connected');
    this.deps.log.info(`telemetry: connected (MQTT ${protocolVersion === 5 ? '5' : '3.1.1'})`);
    this.retained.forget();
    void this.send(onlineMessage(this.id, protocolVersion), 'states');
    if (this.config.homeAssistant.enabled) {
      const snapshot = { carp: this.source.carp(), pools: this.source.pools() };
      const discovery = { ...this.id, discoveryPrefix: this.config.homeAssistant.discoveryPrefix };
      for (const message of discoveryMessages(discovery, snapshot)) void this.send(message, 'states');
    }
    this.publishStates();
    this.pump();
  }

  private disconnected(error: string | undefined): void {
    if (this.state === 'stopped') return;
    if (error && error !== this.lastError) this.deps.log.error(`telemetry: ${error}`, { url: this.mqttConfig.url });
    if (error) this.lastError = error;
    if (this.state === 'connected') this.deps.log.warn('telemetry: connection to the broker lost; events wait in the queue');
    this.setState(this.state === 'connecting' ? 'connecting' : 'reconnecting');
  }

  private setState(state: ConnectionState): void {
    if (state === this.state) return;
    this.state = state;
    this.stateSince = this.deps.clock.now();
  }

  private publishStates(): void {
    if (this.state !== 'connected') return;
    const snapshot = { carp: this.stableSince.apply(this.source.carp()), pools: this.source.pools(), power: this.power };
    for (const message of this.retained.changed(stateMessages(this.id, snapshot))) {
      this.retained.remember(message);
      void this.send(message, 'states');
    }
  }

  private async send(message: MqttMessage, counter: 'states' | 'metrics'): Promise<boolean> {
    try {
      await this.session!.publish(message);
      this.published[counter]++;
      return true;
    } catch {
      // A retained state that did not make it is sent again with the snapshot at reconnect.
      return false;
    }
  }

  /** Sends waiting events in seq order, at most WINDOW unacknowledged at a time. */
  private pump(): void {
    if (this.state !== 'connected' || !this.session) return;
    const topic = topicFor(this.id.prefix, this.id.node, 'events');
    for (const event of this.queue.waiting()) {
      if (this.inflight.size >= WINDOW) return;
      if (this.inflight.has(event.seq)) continue;
      const seq = event.seq;
      this.inflight.add(seq);
      this.session.publish({ topic, payload: JSON.stringify(event), qos: 1, retain: false }).then(
        () => {
          this.inflight.delete(seq);
          this.queue.ack(seq);
          this.published.events++;
          this.pump();
        },
        () => {
          // The session ended with it unacknowledged: it stays queued and goes again, in order,
          // after the next connect (or after a restart, from the queue file).
          this.inflight.delete(seq);
        },
      );
    }
  }

  private armMetrics(): void {
    if (!this.deps.collectMetrics) return;
    this.metricsTimer = this.deps.clock.setTimer(this.config.metricsIntervalSeconds * 1000, () => {
      this.armMetrics();
      if (this.state !== 'connected') return;
      void this.deps.collectMetrics!()
        .then((body) => {
          const payload: MetricsPayload = { time: new Date(this.deps.clock.now()).toISOString(), ...body };
          return this.send({ topic: topicFor(this.id.prefix, this.id.node, 'metrics'), payload: JSON.stringify(payload), qos: 0, retain: false }, 'metrics');
        })
        .catch((error: Error) => this.deps.log.warn(`telemetry: metrics collection failed: ${error.message}`));
    });
  }
}
