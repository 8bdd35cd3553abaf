// The demo's zero-setup MQTT broker (issue 11 item 8): aedes in-process on a free loopback port,
// MQTT 3.1.1 only, so `npm start` shows telemetry without a mosquitto. Real deployments point
// telemetry.mqtt.url at their own broker; this one exists for the demo alone.

import { createServer, type Server } from 'node:net';

export interface DemoBroker {
  url: string;
  port: number;
  /** Every message published to `tandem/#` (by the simulated nodes or the broker's wills). */
  onMessage(listener: (topic: string, payload: string, retain: boolean) => void): void;
  close(): Promise<void>;
}

export async function startDemoBroker(): Promise<DemoBroker> {
  // aedes is ESM-only and loaded only here: the daemon itself never carries a broker.
  const { Aedes } = await import('aedes');
  // A connection that never completes CONNECT holds a 30 s timer by default, and with it the
  // demo's exit; the simulated nodes connect at once or not at all.
  const broker = await Aedes.createBroker({ connectTimeout: 3000 });
  const server: Server = createServer((socket) => broker.handle(socket));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  const listeners: ((topic: string, payload: string, retain: boolean) => void)[] = [];
  broker.on('publish', (packet) => {
    if (!packet.topic.startsWith('tandem/')) return;
    for (const listener of listeners) listener(packet.topic, packet.payload.toString(), packet.retain);
  });
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    onMessage: (listener) => listeners.push(listener),
    close: async () => {
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
