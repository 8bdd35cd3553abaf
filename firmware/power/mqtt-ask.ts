// A one-shot MQTT question for the Tasmota driver: connect, subscribe to the reply topics,
// publish one command, and wait (on the injected clock) for the message that settles it. A
// connection per question: power actions are rare, and a plug's broker may be another one than
// the telemetry broker. Linux side on mqtt.js (imported on first use); the fake is in memory.

import type { IClientOptions, MqttClient } from 'mqtt';
import type { Clock } from '../os/clock.js';
import type { DriverFailure } from './driver.js';

export interface MqttQuestion {
  url: string;
  username?: string;
  password?: string;
  subscribe: string[];
  publish: { topic: string; payload: string };
  timeoutMs: number;
  /** mqtts only: `verify: false` accepts any certificate; `ca` is PEM text of the trusted CA. */
  tls?: { verify: boolean; ca?: string };
  /**
   * Looks at each message: `done` settles with it, `offline` fails as unreachable, undefined waits
   * on. `retained` marks a broker's stored copy (an LWT, or a state kept by PowerRetain) rather
   * than an answer to this question.
   */
  judge(topic: string, payload: string, retained: boolean): 'done' | 'offline' | undefined;
}

export type MqttAnswer = { ok: true; topic: string; payload: string } | { ok: false; failure: DriverFailure; detail: string };

export interface MqttAsker {
  ask(question: MqttQuestion, signal?: AbortSignal): Promise<MqttAnswer>;
}

let loaded: Promise<typeof import('mqtt')> | undefined;

export class LinuxMqttAsker implements MqttAsker {
  constructor(private readonly clock: Clock) {}

  async ask(q: MqttQuestion, signal?: AbortSignal): Promise<MqttAnswer> {
    loaded ??= import('mqtt');
    const mqtt = await loaded;
    const connect = mqtt.connect ?? (mqtt as unknown as { default: typeof mqtt }).default.connect;
    const options: IClientOptions = {
      connectTimeout: q.timeoutMs,
      reconnectPeriod: 0, // one attempt: the executor retries and escalates, not the client
      clean: true,
      clientId: `tandem-power-${Math.random().toString(16).slice(2, 10)}`,
      ...(q.username !== undefined ? { username: q.username } : {}),
      ...(q.password !== undefined ? { password: q.password } : {}),
      ...(q.tls ? { rejectUnauthorized: q.tls.verify, ...(q.tls.ca !== undefined ? { ca: q.tls.ca } : {}) } : {}),
    };
    let client: MqttClient;
    try {
      client = connect(q.url, options);
    } catch (error) {
      return { ok: false, failure: 'misconfigured', detail: `broker ${q.url}: ${(error as Error).message}` };
    }
    return new Promise((resolve) => {
      let settled = false;
      const finish = (answer: MqttAnswer) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        signal?.removeEventListener('abort', onAbort);
        client.end(true);
        resolve(answer);
      };
      const timer = this.clock.setTimer(q.timeoutMs, () =>
        finish({ ok: false, failure: 'unreachable', detail: client.connected ? `no answer on ${q.subscribe.join(', ')} within ${q.timeoutMs} ms (is the device online and its topic right?)` : `broker ${q.url} not reached within ${q.timeoutMs} ms` }),
      );
      const onAbort = () => finish({ ok: false, failure: 'unreachable', detail: 'aborted' });
      if (signal?.aborted) return onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      client.on('error', (error: Error & { code?: number | string }) => {
        // CONNACK 4/5 (v3.1.1) or 134/135 (v5): the broker refused our credentials.
        const refused = error.code === 4 || error.code === 5 || error.code === 134 || error.code === 135 || /not authori[sz]ed|bad user ?name or password/i.test(error.message);
        // As for HTTPS: a broker whose certificate we do not trust answered; only its CA will help.
        const untrusted = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ALTNAME/.test(String(error.code ?? ''));
        if (untrusted) return finish({ ok: false, failure: 'misconfigured', detail: `broker ${q.url}: ${error.code} (the certificate is not trusted: give its CA as \`ca\`, or set \`verify: false\`)` });
        finish({ ok: false, failure: refused ? 'auth' : 'unreachable', detail: `broker ${q.url}: ${error.message}` });
      });
      client.on('message', (topic, payload, packet) => {
        const text = payload.toString('utf8');
        const verdict = q.judge(topic, text, packet.retain === true);
        if (verdict === 'done') finish({ ok: true, topic, payload: text });
        else if (verdict === 'offline') finish({ ok: false, failure: 'unreachable', detail: `${topic} says ${text}: the device is offline` });
      });
      client.on('connect', () => {
        client.subscribe(q.subscribe, { qos: 0 }, (error) => {
          if (error) return finish({ ok: false, failure: 'refused', detail: `subscribe ${q.subscribe.join(', ')}: ${error.message}` });
          // Retained messages (the LWT) arrive before the SUBACK callback; publish only if still asking.
          if (!settled) client.publish(q.publish.topic, q.publish.payload, { qos: 0 });
        });
      });
    });
  }
}

/** An in-memory broker with one device behind it: `device` answers each published command. */
export class FakeMqttAsker implements MqttAsker {
  readonly published: Array<{ topic: string; payload: string }> = [];
  /** Retained messages the broker holds (topic → payload). */
  readonly retained = new Map<string, string>();
  constructor(private readonly device: (topic: string, payload: string) => Array<{ topic: string; payload: string }>) {}

  async ask(q: MqttQuestion): Promise<MqttAnswer> {
    const matches = (filter: string, topic: string) => filter === topic || (filter.endsWith('/#') && topic.startsWith(filter.slice(0, -1)));
    for (const [topic, payload] of this.retained) {
      if (!q.subscribe.some((f) => matches(f, topic))) continue;
      const verdict = q.judge(topic, payload, true);
      if (verdict === 'offline') return { ok: false, failure: 'unreachable', detail: `${topic} says ${payload}: the device is offline` };
    }
    this.published.push(q.publish);
    for (const reply of this.device(q.publish.topic, q.publish.payload)) {
      if (!q.subscribe.some((f) => matches(f, reply.topic))) continue;
      const verdict = q.judge(reply.topic, reply.payload, false);
      if (verdict === 'done') return { ok: true, ...reply };
    }
    return { ok: false, failure: 'unreachable', detail: `no answer on ${q.subscribe.join(', ')} within ${q.timeoutMs} ms (is the device online and its topic right?)` };
  }
}
