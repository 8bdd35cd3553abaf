// Tasmota smart plugs (tasmota.github.io/docs: Commands, MQTT, "Commands over HTTP"): over MQTT,
// `cmnd/<topic>/POWER<n>` ON|OFF (empty asks) answered on `stat/<topic>/POWER<n>`, with
// `tele/<topic>/LWT` Online/Offline as availability; over HTTP, `/cm?cmnd=Power<n> On` with
// `user`/`password` parameters answered `{"POWER<n>":"ON"}`.

import { readFile } from 'node:fs/promises';
import { optional, s, type ObjectOf, type StringRule } from '../config/kit.js';
import type { DriverDeps, DriverFailure, DriverHost, DriverResult, PowerDriver, PowerReading } from './driver.js';
import { LinuxHttpClient, readSecret, statusFailure, type HttpClient } from './http.js';
import { LinuxMqttAsker, type MqttAsker } from './mqtt-ask.js';

const isTopic: StringRule = (v) => (/^[^\s#+/]{1,64}$/.test(v) ? undefined : 'must be a Tasmota topic: 1-64 characters without spaces, /, + or #');
const isHost: StringRule = (v) => (/^[A-Za-z0-9.:_[\]-]{1,260}$/.test(v) ? undefined : 'must be an address or host name, optionally with :port');
const isBrokerUrl: StringRule = (v) => (/^mqtts?:\/\/[^\s/]+\/?$/.test(v) ? undefined : 'must be mqtt://HOST[:PORT] or mqtts://HOST[:PORT]');

export const tasmotaSettings = {
  via: optional(s.enumOf('mqtt', 'http').describe('`mqtt` (through a broker the plug is connected to) or `http` (the plug\'s own web server).'), 'mqtt'),
  topic: optional(s.string('a topic', isTopic).describe('mqtt: the plug\'s Topic (`cmnd/<topic>/POWER`).')),
  url: optional(s.string('a broker URL', isBrokerUrl).describe('mqtt: the broker, `mqtt://HOST[:PORT]` or `mqtts://...`.')),
  address: optional(s.string('an address or host name', isHost).describe('http: the plug\'s address, optionally with `:port`.')),
  relay: optional(s.int(1, 32).describe('Relay number on a multi-relay device (`POWER<n>`); default: the device\'s only relay (`POWER`).')),
  user: optional(s.string().describe('mqtt: broker user name. http: the web user (Tasmota\'s is `admin`, the default).')),
  password: optional(s.string().describe('mqtt: broker password; http: the WebPassword (inline; or `passwordFile`).')),
  passwordFile: optional(s.string('a file path').describe('A file holding the password, instead of `password`.')),
  verify: optional(s.bool().describe('mqtts: verify the broker\'s certificate.'), true),
  ca: optional(s.string('a file path').describe('mqtts: PEM file of the CA that signed the broker\'s certificate.')),
  timeoutSeconds: optional(s.number(0.1, 60).describe('Seconds to wait for the plug\'s answer.'), 5),
};

export type TasmotaSettings = ObjectOf<typeof tasmotaSettings>;

export interface TasmotaDeps extends DriverDeps {
  http?: HttpClient;
  mqtt?: MqttAsker;
}

export function createTasmota(settings: TasmotaSettings, deps: TasmotaDeps): TasmotaDriver {
  return new TasmotaDriver(settings, deps.http ?? new LinuxHttpClient(deps.clock), deps.mqtt ?? new LinuxMqttAsker(deps.clock));
}

type Fail = { ok: false; failure: DriverFailure; detail: string };

/** Tasmota answers ON/OFF (SetOption26 aside); anything else is no reading. */
export function readingOfPower(value: unknown): PowerReading {
  return value === 'ON' ? 'on' : value === 'OFF' ? 'off' : 'unknown';
}

export class TasmotaDriver implements PowerDriver {
  readonly method = 'tasmota';
  constructor(
    private readonly settings: TasmotaSettings,
    private readonly http: HttpClient,
    private readonly mqtt: MqttAsker,
  ) {}

  async wake(_host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    // Switching on a relay that is on changes nothing: the host behind it needs WoL or an off-on
    // cycle. Tasmota answers only the new state, so it is asked first; a failed ask is left to the
    // command, which fails the same way or works.
    const before = await this.command('', signal);
    if (before.ok && before.reading === 'on') {
      const what = `${this.settings.via === 'mqtt' ? this.settings.topic : this.settings.address} ${this.power()}`;
      return { ok: false, failure: 'refused', detail: `${what} is already on: switching it on cannot start the host (a suspended one needs wol; park then wake cycles it)` };
    }
    const r = await this.command('ON', signal);
    return r.ok ? this.confirm(r.reading, 'on') : r;
  }

  park(_host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    return this.command('OFF', signal).then((r) => (r.ok ? this.confirm(r.reading, 'off') : r));
  }

  read(_host: DriverHost, signal: AbortSignal): Promise<{ ok: true; reading: PowerReading } | Fail> {
    return this.command('', signal);
  }

  private confirm(reading: PowerReading, want: 'on' | 'off'): DriverResult {
    const what = `${this.settings.via === 'mqtt' ? this.settings.topic : this.settings.address} ${this.power()}`;
    if (reading !== want) return { ok: false, failure: 'refused', detail: `${what} answered ${reading} to ${want}` };
    return { ok: true, detail: `${what} ${want}` };
  }

  private power(): string {
    return `POWER${this.settings.relay ?? ''}`;
  }

  /** Sends POWER<n> with `payload` (ON, OFF, or empty to ask) and returns the state it answers. */
  private async command(payload: 'ON' | 'OFF' | '', signal: AbortSignal): Promise<{ ok: true; reading: PowerReading } | Fail> {
    const c = this.settings;
    const password = await readSecret(c.password, c.passwordFile);
    if (!password.ok) return { ok: false, failure: 'misconfigured', detail: `tasmota passwordFile: ${password.detail}` };
    const timeoutMs = Math.round(c.timeoutSeconds * 1000);
    if (c.via === 'mqtt') {
      if (c.topic === undefined || c.url === undefined) return { ok: false, failure: 'misconfigured', detail: 'tasmota via mqtt needs `topic` and `url` (the broker)' };
      let tls: { verify: boolean; ca?: string } | undefined;
      if (c.url.startsWith('mqtts:')) {
        tls = { verify: c.verify };
        if (c.ca !== undefined) {
          try {
            tls.ca = await readFile(c.ca, 'utf8');
          } catch (error) {
            return { ok: false, failure: 'misconfigured', detail: `tasmota ca: cannot read ${c.ca}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
          }
        }
      }
      const stat = `stat/${c.topic}/${this.power()}`;
      const lwt = `tele/${c.topic}/LWT`;
      const answer = await this.mqtt.ask(
        {
          url: c.url,
          ...(c.user !== undefined ? { username: c.user } : {}),
          ...(password.value !== undefined ? { password: password.value } : {}),
          subscribe: [stat, lwt],
          publish: { topic: `cmnd/${c.topic}/${this.power()}`, payload },
          timeoutMs,
          ...(tls ? { tls } : {}),
          // A retained stat (PowerRetain on) is the state before our command, not its answer.
          judge: (topic, text, retained) => (topic === lwt ? (text === 'Offline' ? 'offline' : undefined) : topic === stat && !retained ? 'done' : undefined),
        },
        signal,
      );
      if (!answer.ok) return answer;
      return { ok: true, reading: readingOfPower(answer.payload) };
    }
    if (c.address === undefined) return { ok: false, failure: 'misconfigured', detail: 'tasmota via http needs `address`' };
    const query = new URLSearchParams();
    if (password.value !== undefined) {
      query.set('user', c.user ?? 'admin');
      query.set('password', password.value);
    }
    query.set('cmnd', payload === '' ? `Power${c.relay ?? ''}` : `Power${c.relay ?? ''} ${payload === 'ON' ? 'On' : 'Off'}`);
    // URLSearchParams writes spaces as +; Tasmota's docs and parser use %20.
    const url = `http://${c.address}/cm?${query.toString().replace(/\+/g, '%20')}`;
    const reply = await this.http.request({ method: 'GET', url, timeoutMs }, signal);
    if (!reply.ok) return reply;
    let json: Record<string, unknown> = {};
    try {
      json = JSON.parse(reply.body) as Record<string, unknown>;
    } catch {
      // Judged below by the status, or as an answer without POWER.
    }
    if (reply.status !== 200 || typeof json['WARNING'] === 'string') {
      const failure = reply.status === 200 ? 'auth' : statusFailure(reply.status);
      const warning = typeof json['WARNING'] === 'string' ? ` ${json['WARNING']}` : '';
      return { ok: false, failure, detail: `${c.address} /cm: HTTP ${reply.status}${warning}${failure === 'auth' ? ' (wrong or missing password)' : ''}` };
    }
    // A one-relay device may answer POWER to Power1, and POWER1 to Power on some builds.
    const value = json[this.power()] ?? json['POWER'] ?? json['POWER1'];
    if (value === undefined) return { ok: false, failure: 'refused', detail: `${c.address} answered ${reply.body.slice(0, 120)} without ${this.power()}` };
    return { ok: true, reading: readingOfPower(value) };
  }
}
