// The MQTT port: the few things telemetry needs from a client (open a session with a last will,
// publish with QoS 0/1, close), and an in-memory broker fake with retained messages and last
// wills for unit tests. The mqtt.js adapter is in mqtt-linux.ts, loaded only when configured.

export type MqttProtocolVersion = 4 | 5;

export interface MqttMessage {
  topic: string;
  payload: string;
  qos: 0 | 1;
  retain: boolean;
  /** MQTT 5 correlation data (a command reply echoes the command's); dropped on 3.1.1. */
  correlationData?: Uint8Array;
}

/** A message from a subscription (remote commands), with its MQTT 5 request/response properties. */
export interface MqttIncoming {
  topic: string;
  payload: Buffer;
  responseTopic?: string;
  correlationData?: Buffer;
}

export interface MqttSessionOptions {
  url: string;
  clientId: string;
  keepaliveSeconds: number;
  /** 'auto' tries MQTT 5 and falls back to 3.1.1 when the broker refuses the protocol. */
  protocol: 'auto' | '5' | '3.1.1';
  username?: string | undefined;
  password?: string | undefined;
  /** Paths of PEM files. */
  ca?: string | undefined;
  cert?: string | undefined;
  key?: string | undefined;
  will: MqttMessage;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** Topic filters subscribed (QoS 1) on every connect: the session is clean each time. */
  subscriptions?: string[];
  onMessage?: (message: MqttIncoming) => void;
}

/** What the session reports: up (with the protocol the broker accepted) or down (with why). */
export type MqttLinkEvent =
  | { type: 'connected'; protocolVersion: MqttProtocolVersion }
  | { type: 'disconnected'; error?: string | undefined };

export interface MqttSession {
  /**
   * QoS 1 resolves on PUBACK and survives a reconnect of the same session (the client resends);
   * QoS 0 resolves once written. Rejects when the session ends first, or at once while offline
   * for QoS 0 (nothing is queued in memory for it).
   */
  publish(message: MqttMessage): Promise<void>;
  /** Clean disconnect: the broker discards the last will. Pending publishes reject. */
  close(): Promise<void>;
  /** Drops the connection without DISCONNECT, as a crash would: the broker publishes the will. */
  destroy(): void;
}

export interface MqttPort {
  open(options: MqttSessionOptions, onEvent: (event: MqttLinkEvent) => void): MqttSession;
}

/** An in-memory broker: retained messages, wills published on an unclean loss, a message log. */
export class FakeBroker {
  up = true;
  /** Every message the broker accepted, in order. */
  readonly log: MqttMessage[] = [];
  readonly retained = new Map<string, string>();
  /** Protocol versions this broker accepts (aedes: only 4). */
  protocols: MqttProtocolVersion[] = [4, 5];
  readonly sessions = new Set<FakeSession>();
  /** When set, PUBACKs are withheld: QoS 1 publishes stay pending. */
  holdAcks = false;

  accept(message: MqttMessage): void {
    this.log.push(message);
    if (message.retain) {
      if (message.payload === '') this.retained.delete(message.topic);
      else this.retained.set(message.topic, message.payload);
    }
  }

  /** Broker goes away (every session loses its connection; no will: the broker is gone) or returns. */
  setUp(up: boolean): void {
    this.up = up;
    for (const session of this.sessions) {
      if (up) session.tryConnect();
      else session.drop('connection lost');
    }
  }

  /** The client dies without DISCONNECT: the broker publishes its will. */
  kill(session: FakeSession): void {
    const wasConnected = session.connected;
    session.dead = true;
    session.drop('killed');
    if (wasConnected) this.accept(session.options.will);
    this.sessions.delete(session);
  }

  /** A client elsewhere publishes: delivered to every connected session subscribed to it. */
  inject(message: MqttIncoming): void {
    for (const session of this.sessions) {
      if (!session.connected) continue;
      if ((session.options.subscriptions ?? []).some((filter) => topicMatches(filter, message.topic))) session.options.onMessage?.(message);
    }
  }

  messages(topic: string): unknown[] {
    return this.log.filter((m) => m.topic === topic).map((m) => JSON.parse(m.payload) as unknown);
  }

  retainedJson(topic: string): unknown {
    const text = this.retained.get(topic);
    return text === undefined ? undefined : (JSON.parse(text) as unknown);
  }
}

interface Pending {
  message: MqttMessage;
  resolve: () => void;
  reject: (error: Error) => void;
}

export class FakeSession implements MqttSession {
  connected = false;
  dead = false;
  private closed = false;
  private readonly pending: Pending[] = [];

  constructor(
    private readonly broker: FakeBroker,
    readonly options: MqttSessionOptions,
    private readonly onEvent: (event: MqttLinkEvent) => void,
  ) {
    broker.sessions.add(this);
    queueMicrotask(() => this.tryConnect());
  }

  tryConnect(): void {
    if (this.closed || this.dead || this.connected) return;
    if (!this.broker.up) {
      this.onEvent({ type: 'disconnected', error: 'connect ECONNREFUSED' });
      return;
    }
    const wanted: MqttProtocolVersion[] = this.options.protocol === '5' ? [5] : this.options.protocol === '3.1.1' ? [4] : [5, 4];
    const version = wanted.find((v) => this.broker.protocols.includes(v));
    if (version === undefined) {
      this.onEvent({ type: 'disconnected', error: 'Connection refused: Unsupported protocol version' });
      return;
    }
    this.connected = true;
    this.onEvent({ type: 'connected', protocolVersion: version });
    // Like mqtt.js, QoS 1 messages not yet acknowledged are resent on the new connection.
    this.flush();
  }

  drop(error: string): void {
    if (!this.connected) return;
    this.connected = false;
    this.onEvent({ type: 'disconnected', error });
  }

  /** Releases PUBACKs withheld while `broker.holdAcks` was set. */
  flush(): void {
    while (this.connected && !this.broker.holdAcks && this.pending.length > 0) {
      const next = this.pending.shift()!;
      this.broker.accept(next.message);
      next.resolve();
    }
  }

  publish(message: MqttMessage): Promise<void> {
    if (this.closed) return Promise.reject(new Error('session closed'));
    if (message.qos === 0) {
      if (!this.connected) return Promise.reject(new Error('not connected'));
      this.broker.accept(message);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      this.pending.push({ message, resolve, reject });
      this.flush();
    });
  }

  destroy(): void {
    if (this.closed) return;
    this.broker.kill(this);
    void this.close();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.connected = false;
    this.broker.sessions.delete(this);
    for (const p of this.pending.splice(0)) p.reject(new Error('session closed'));
  }
}

export class FakeMqttPort implements MqttPort {
  readonly opened: FakeSession[] = [];
  constructor(readonly broker: FakeBroker) {}

  open(options: MqttSessionOptions, onEvent: (event: MqttLinkEvent) => void): FakeSession {
    const session = new FakeSession(this.broker, options, onEvent);
    this.opened.push(session);
    return session;
  }
}

/** MQTT topic filter matching: `+` one level, `#` the rest (MQTT 5 section 4.7). */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}
