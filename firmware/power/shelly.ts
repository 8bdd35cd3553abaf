// Shelly smart plugs and relays over their local HTTP APIs: Gen2+ RPC (`/rpc/Switch.Set?id=N&on=
// true|false`, `Switch.GetStatus` → `output`; digest auth, SHA-256, user `admin`, per Shelly's
// Gen2 Authentication page and RFC 7616) and Gen1 (`/relay/N?turn=on|off`, `/relay/N` → `ison`;
// Basic auth). Off parks the host by cutting its power; on wakes it (BIOS "power on after loss").

import { optional, s, type ObjectOf, type StringRule } from '../config/kit.js';
import type { DriverDeps, DriverFailure, DriverHost, DriverResult, PowerDriver, PowerReading } from './driver.js';
import { LinuxHttpClient, readSecret, requestWithAuth, statusFailure, type HttpAuth, type HttpClient } from './http.js';

const isHost: StringRule = (v) => (/^[A-Za-z0-9.:_[\]-]{1,260}$/.test(v) ? undefined : 'must be an address or host name, optionally with :port');

export const shellySettings = {
  address: s.string('an address or host name', isHost).describe("The plug's address, optionally with `:port`."),
  generation: optional(s.int(1, 2).describe('API generation: `2` for Gen2 and later (Plus, Pro, Gen3, Gen4: RPC), `1` for Gen1 (`/relay`).'), 2),
  channel: optional(s.int(0, 15).describe('Switch or relay id on a multi-channel device.'), 0),
  user: optional(s.string().describe('Login name: Gen2+ always uses `admin` (the default); Gen1 uses the one set for restricted login.')),
  password: optional(s.string().describe('Password when the device has authentication on (inline; or `passwordFile`).')),
  passwordFile: optional(s.string('a file path').describe('A file holding the password, instead of `password`.')),
  timeoutSeconds: optional(s.number(0.1, 60).describe('Seconds to wait for each HTTP answer.'), 5),
};

export type ShellySettings = ObjectOf<typeof shellySettings>;

export interface ShellyDeps extends DriverDeps {
  http?: HttpClient;
}

export function createShelly(settings: ShellySettings, deps: ShellyDeps): ShellyDriver {
  return new ShellyDriver(settings, deps.http ?? new LinuxHttpClient(deps.clock));
}

type Fail = { ok: false; failure: DriverFailure; detail: string };

export class ShellyDriver implements PowerDriver {
  readonly method = 'shelly';
  constructor(
    private readonly settings: ShellySettings,
    private readonly http: HttpClient,
  ) {}

  async wake(host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    // Gen2 answers `was_on` to the set itself; Gen1 is asked first.
    if (this.settings.generation === 1) {
      const now = await this.read(host, signal);
      if (now.ok && now.reading === 'on') return this.alreadyOn();
    }
    return this.turn(true, signal);
  }

  /** Switching on a relay that is on changes nothing: the host behind it needs WoL or an off-on cycle. */
  private alreadyOn(): DriverResult {
    const { address, channel } = this.settings;
    return { ok: false, failure: 'refused', detail: `${address} switch ${channel} is already on: switching it on cannot start the host (a suspended one needs wol; park then wake cycles it)` };
  }

  park(_host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    return this.turn(false, signal);
  }

  async read(_host: DriverHost, signal: AbortSignal): Promise<{ ok: true; reading: PowerReading } | Fail> {
    const { generation, channel } = this.settings;
    const path = generation === 2 ? `/rpc/Switch.GetStatus?id=${channel}` : `/relay/${channel}`;
    const got = await this.get(path, signal);
    if (!got.ok) return got;
    const on = generation === 2 ? got.json['output'] : got.json['ison'];
    return { ok: true, reading: on === true ? 'on' : on === false ? 'off' : 'unknown' };
  }

  private async turn(on: boolean, signal: AbortSignal): Promise<DriverResult> {
    const { generation, channel, address } = this.settings;
    const path = generation === 2 ? `/rpc/Switch.Set?id=${channel}&on=${on}` : `/relay/${channel}?turn=${on ? 'on' : 'off'}`;
    const done = await this.get(path, signal);
    if (!done.ok) return done;
    // Gen2 answers the previous state (`was_on`), Gen1 the new one (`ison`): say both where known.
    const before = done.json['was_on'];
    if (on && before === true) return this.alreadyOn();
    const detail = `${address} switch ${channel} ${on ? 'on' : 'off'}${typeof before === 'boolean' ? ` (was ${before ? 'on' : 'off'})` : ''}`;
    if (generation === 1 && done.json['ison'] !== on) return { ok: false, failure: 'refused', detail: `${address} relay ${channel} still reads ison=${String(done.json['ison'])}` };
    return { ok: true, detail };
  }

  private async get(path: string, signal: AbortSignal): Promise<{ ok: true; json: Record<string, unknown> } | Fail> {
    const c = this.settings;
    const password = await readSecret(c.password, c.passwordFile);
    if (!password.ok) return { ok: false, failure: 'misconfigured', detail: `shelly passwordFile: ${password.detail}` };
    let auth: HttpAuth | undefined;
    if (password.value !== undefined) {
      const user = c.user ?? (c.generation === 2 ? 'admin' : undefined);
      if (user === undefined) return { ok: false, failure: 'misconfigured', detail: 'shelly generation 1 with a password needs `user`' };
      auth = { scheme: c.generation === 2 ? 'digest' : 'basic', user, password: password.value };
    }
    const reply = await requestWithAuth(this.http, { method: 'GET', url: `http://${c.address}${path}`, timeoutMs: Math.round(c.timeoutSeconds * 1000) }, auth, signal);
    if (!reply.ok) return reply;
    if (reply.status !== 200) {
      const failure = statusFailure(reply.status);
      const hint = failure === 'auth' ? (auth ? ' (wrong user or password)' : ' (the device has authentication on: set `password`)') : '';
      return { ok: false, failure, detail: `GET ${path}: HTTP ${reply.status}${rpcMessage(reply.body)}${hint}` };
    }
    try {
      return { ok: true, json: JSON.parse(reply.body) as Record<string, unknown> };
    } catch {
      return { ok: false, failure: 'refused', detail: `GET ${path}: the answer is not JSON` };
    }
  }
}

/** Gen2 errors carry `{ code, message }` (JSON-RPC 2.0 error object). */
function rpcMessage(body: string): string {
  try {
    const e = JSON.parse(body) as { code?: number; message?: string };
    return e.message ? ` ${e.code ?? ''} ${e.message}`.replace(/\s+/g, ' ').trimEnd() : '';
  } catch {
    return '';
  }
}
