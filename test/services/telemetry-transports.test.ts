// The MQTT port over mqtt.js (firmware/telemetry/mqtt-linux.ts) against real brokers on loopback:
// aedes (MQTT 3.1.1 only) for the fallback from 5 and for ws://, Debian's mosquitto with a
// password file for username/password. Each check opens a session as telemetry does and waits
// for what it reports.

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { once } from 'node:events';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { WebSocketServer, createWebSocketStream } from 'ws';
import { Aedes } from 'aedes';
import { systemClock } from '../../firmware/os/clock.js';
import type { MqttLinkEvent, MqttSessionOptions } from '../../firmware/telemetry/mqtt.js';
import { LinuxMqttPort } from '../../firmware/telemetry/mqtt-linux.js';
import { eventually } from '../netns/lab.js';
import { Workdir } from '../netns/peers.js';
import { Mosquitto, freePort } from './telemetry-lab.js';

function options(url: string, more: Partial<MqttSessionOptions> = {}): MqttSessionOptions {
  return {
    url,
    clientId: `transport-${Math.random().toString(36).slice(2, 8)}`,
    keepaliveSeconds: 10,
    protocol: 'auto',
    will: { topic: 'tandem/t/status', payload: '{"online":false}', qos: 1, retain: true },
    reconnectMinMs: 200,
    reconnectMaxMs: 400,
    ...more,
  };
}

/** Opens a session, returns its reports as they come and a way to close it. */
function open(opts: MqttSessionOptions) {
  const events: MqttLinkEvent[] = [];
  const session = new LinuxMqttPort(systemClock).open(opts, (event) => events.push(event));
  return { events, session };
}

async function aedesOn(kind: 'tcp' | 'ws'): Promise<{ broker: Aedes; url: string; published: string[]; close: () => Promise<void> }> {
  const broker = await Aedes.createBroker({ connectTimeout: 3000 });
  const published: string[] = [];
  broker.on('publish', (packet) => {
    if (packet.topic.startsWith('tandem/')) published.push(`${packet.topic} ${packet.payload.toString()}`);
  });
  let server: Server | ReturnType<typeof createHttpServer>;
  let wss: WebSocketServer | undefined;
  if (kind === 'tcp') {
    server = createServer((socket) => broker.handle(socket));
  } else {
    const http = createHttpServer();
    server = http;
    wss = new WebSocketServer({ server: http, path: '/mqtt' });
    wss.on('connection', (socket) => broker.handle(createWebSocketStream(socket) as never));
  }
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    broker,
    url: `${kind === 'tcp' ? 'mqtt' : 'ws'}://127.0.0.1:${port}`,
    published,
    close: async () => {
      wss?.close();
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      server.close();
    },
  };
}

describe('MQTT port over mqtt.js', () => {
  it('falls back to 3.1.1 when the broker (aedes) refuses 5, and publishes QoS 1', { timeout: 30_000 }, async () => {
    const aedes = await aedesOn('tcp');
    const { events, session } = open(options(aedes.url));
    try {
      await eventually('connected', () => events.find((e) => e.type === 'connected'), 10_000);
      assert.deepEqual(events.find((e) => e.type === 'connected'), { type: 'connected', protocolVersion: 4 });
      await session.publish({ topic: 'tandem/t/events', payload: '{"seq":1}', qos: 1, retain: false });
      assert.ok(aedes.published.includes('tandem/t/events {"seq":1}'));
    } finally {
      await session.close();
      await aedes.close();
    }
  });

  it('with protocol 5 forced, reports the refusal and keeps retrying', { timeout: 30_000 }, async (t) => {
    const aedes = await aedesOn('tcp');
    const { events, session } = open(options(aedes.url, { protocol: '5' }));
    try {
      await eventually('two refusals', () => (events.filter((e) => e.type === 'disconnected').length >= 2 ? true : undefined), 10_000);
      assert.ok(!events.some((e) => e.type === 'connected'));
      const error = events.find((e) => e.type === 'disconnected')!;
      t.diagnostic(`protocol 5 against aedes: ${JSON.stringify(error)}`);
      assert.ok(error.type === 'disconnected');
      assert.match(error.error ?? '', /Unacceptable protocol version/);
    } finally {
      await session.close();
      await aedes.close();
    }
  });

  it('connects over ws:// and publishes', { timeout: 30_000 }, async () => {
    const aedes = await aedesOn('ws');
    const { events, session } = open(options(`${aedes.url}/mqtt`));
    try {
      await eventually('connected over ws', () => events.find((e) => e.type === 'connected'), 10_000);
      await session.publish({ topic: 'tandem/t/status', payload: '{"online":true}', qos: 1, retain: true });
      assert.ok(aedes.published.includes('tandem/t/status {"online":true}'));
    } finally {
      await session.close();
      await aedes.close();
    }
  });

  it('logs in with username and password (mosquitto password_file); a wrong one is refused with the reason', { timeout: 30_000 }, async () => {
    const work = await Workdir.create();
    const passwords = work.file('passwd');
    await promisify(execFile)('mosquitto_passwd', ['-b', '-c', passwords, 'fw-a', 'right-secret']);
    const port = await freePort();
    const broker = await Mosquitto.start(work.file('broker'), [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwords}`, 'persistence false']);
    const good = open(options(`mqtt://127.0.0.1:${port}`, { username: 'fw-a', password: 'right-secret' }));
    const bad = open(options(`mqtt://127.0.0.1:${port}`, { username: 'fw-a', password: 'wrong' }));
    try {
      await eventually('the right password to connect', () => good.events.find((e) => e.type === 'connected'), 10_000);
      const refused = await eventually('the wrong one to be refused', () => bad.events.find((e) => e.type === 'disconnected'), 10_000);
      assert.ok(refused.type === 'disconnected');
      assert.match(refused.error ?? '', /Not authorized|Bad User Name or Password/i);
      assert.ok(!bad.events.some((e) => e.type === 'connected'));
    } finally {
      await good.session.close();
      await bad.session.close();
      await broker.stop();
      await work.dispose();
    }
  });
});
