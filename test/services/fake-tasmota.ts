// A Tasmota plug as its docs describe it (tasmota.github.io/docs: Commands, MQTT, Commands over
// HTTP) and its web server answers (xdrv_01_webserver.ino HandleHttpCommand): relays switched
// by Power<n> ON|OFF (empty asks), answered `{"POWER<n>":"ON"}` on HTTP /cm and on MQTT as
// stat/<topic>/RESULT plus stat/<topic>/POWER<n>; a WebPassword makes /cm answer
// `{"WARNING":"Need user=<username>&password=<password>"}`; on MQTT, tele/<topic>/LWT is the
// retained Online, with Offline as the last will.

import type { MqttClient } from 'mqtt';
import type { FakeHttpAnswer, FakeHttpExchange } from '../../firmware/power/http.js';

export class FakeTasmota {
  readonly relays: boolean[];
  constructor(relays: number, private readonly webPassword?: string) {
    this.relays = Array.from({ length: relays }, () => false);
  }

  /** One command (`Power2`, `POWER`, with `ON`/`OFF`/`on`/empty): the JSON result, or undefined if unknown. */
  command(name: string, argument: string): Record<string, string> | undefined {
    const m = /^power(\d*)$/i.exec(name);
    if (!m) return undefined;
    const index = m[1] === '' ? 1 : Number(m[1]);
    if (index < 1 || index > this.relays.length) return undefined;
    const arg = argument.trim().toUpperCase();
    if (arg === 'ON' || arg === '1') this.relays[index - 1] = true;
    else if (arg === 'OFF' || arg === '0') this.relays[index - 1] = false;
    else if (arg === 'TOGGLE' || arg === '2') this.relays[index - 1] = !this.relays[index - 1];
    else if (arg !== '') return { Command: 'Error' };
    // A one-relay device names its relay POWER; multi-relay devices POWER1..n.
    const key = this.relays.length === 1 ? 'POWER' : `POWER${index}`;
    return { [key]: this.relays[index - 1] ? 'ON' : 'OFF' };
  }

  handle = (x: FakeHttpExchange): FakeHttpAnswer => {
    const json = (body: unknown): FakeHttpAnswer => ({ status: 200, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });
    if (x.url.pathname !== '/cm') return { status: 404, body: 'Not Found' };
    if (this.webPassword !== undefined && (x.url.searchParams.get('user') !== 'admin' || x.url.searchParams.get('password') !== this.webPassword)) {
      return json({ WARNING: 'Need user=<username>&password=<password>' });
    }
    const cmnd = x.url.searchParams.get('cmnd');
    if (cmnd === null) return json({ WARNING: 'Enter command cmnd=' });
    const space = cmnd.indexOf(' ');
    const result = this.command(space < 0 ? cmnd : cmnd.slice(0, space), space < 0 ? '' : cmnd.slice(space + 1));
    return json(result ?? { Command: 'Unknown' });
  };

  /** The MQTT side for FakeMqttAsker: the replies a plug with `topic` publishes to one message. */
  mqttReplies(topic: string) {
    return (to: string, payload: string): Array<{ topic: string; payload: string }> => {
      const m = new RegExp(`^cmnd/${topic}/([^/]+)$`).exec(to);
      if (!m) return [];
      const result = this.command(m[1]!, payload);
      if (!result) return [{ topic: `stat/${topic}/RESULT`, payload: '{"Command":"Unknown"}' }];
      return [{ topic: `stat/${topic}/RESULT`, payload: JSON.stringify(result) }, ...Object.entries(result).map(([k, v]) => ({ topic: `stat/${topic}/${k}`, payload: v }))];
    };
  }

  /** Connects this plug to a real broker as `topic`: LWT Online (retained), Offline as its will. */
  async attach(mqttModule: typeof import('mqtt'), url: string, topic: string): Promise<MqttClient> {
    const client = mqttModule.connect(url, {
      clientId: `DVES_${topic}`,
      will: { topic: `tele/${topic}/LWT`, payload: Buffer.from('Offline'), retain: true, qos: 1 },
      reconnectPeriod: 0,
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    await client.publishAsync(`tele/${topic}/LWT`, 'Online', { retain: true, qos: 1 });
    await client.subscribeAsync(`cmnd/${topic}/#`);
    const replies = this.mqttReplies(topic);
    client.on('message', (to, payload) => {
      for (const r of replies(to, payload.toString())) client.publish(r.topic, r.payload);
    });
    return client;
  }
}
