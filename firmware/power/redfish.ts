// Redfish BMC power (DMTF DSP0266 1.x, ComputerSystem schema): `ComputerSystem.Reset` with On
// to wake and GracefulShutdown or ForceOff to park, PowerState read back, the system found under
// /redfish/v1/Systems when not named, session auth (X-Auth-Token, deleted when done) or Basic,
// and TLS with a CA file or verification off (BMCs ship self-signed certificates).

import { readFile } from 'node:fs/promises';
import { optional, s, type ObjectOf, type StringRule } from '../config/kit.js';
import type { DriverDeps, DriverFailure, DriverHost, DriverResult, PowerDriver, PowerReading } from './driver.js';
import { basicHeader, LinuxHttpClient, readSecret, statusFailure, type HttpClient, type HttpReply, type HttpRequest } from './http.js';

const isHost: StringRule = (v) => (/^[A-Za-z0-9.:_[\]-]{1,260}$/.test(v) ? undefined : 'must be an address or host name, optionally with :port');
const isSystemId: StringRule = (v) => (/^[A-Za-z0-9._~-]{1,128}$/.test(v) ? undefined : 'must be a system id as in /redfish/v1/Systems/{id}');

export const redfishSettings = {
  address: s.string('an address or host name', isHost).describe("The BMC's address, optionally with `:port` (`[v6]:port` for IPv6)."),
  scheme: optional(s.enumOf('https', 'http').describe('`https` (the Redfish default) or `http` for a lab BMC.'), 'https'),
  system: optional(s.string('a system id', isSystemId).describe('The ComputerSystem id (`/redfish/v1/Systems/{id}`); default: the only member of /redfish/v1/Systems.')),
  user: s.string().describe('BMC account name.'),
  password: optional(s.string().describe('BMC password (inline; or `passwordFile`).')),
  passwordFile: optional(s.string('a file path').describe('A file holding the BMC password, instead of `password`.')),
  auth: optional(s.enumOf('session', 'basic').describe('`session` (POST SessionService/Sessions, X-Auth-Token, deleted when done) or `basic` (HTTP Basic on every request).'), 'session'),
  verify: optional(s.bool().describe('Verify the BMC\'s TLS certificate. Off accepts any certificate: only on a trusted management network.'), true),
  ca: optional(s.string('a file path').describe('PEM file of the CA (or the self-signed certificate) that signed the BMC\'s certificate.')),
  wakeReset: optional(s.enumOf('On', 'ForceOn', 'PowerCycle').describe('ResetType sent to wake.'), 'On'),
  parkReset: optional(s.enumOf('GracefulShutdown', 'ForceOff').describe('ResetType sent to park: `GracefulShutdown` asks the OS (ACPI), `ForceOff` cuts power.'), 'GracefulShutdown'),
  timeoutSeconds: optional(s.number(0.1, 120).describe('Seconds to wait for each HTTP answer.'), 10),
};

export type RedfishSettings = ObjectOf<typeof redfishSettings>;

export interface RedfishDeps extends DriverDeps {
  http?: HttpClient;
}

export function createRedfish(settings: RedfishSettings, deps: RedfishDeps): RedfishDriver {
  return new RedfishDriver(settings, deps.http ?? new LinuxHttpClient(deps.clock));
}

type Fail = { ok: false; failure: DriverFailure; detail: string };

/** PowerState (Resource.PowerState) as a reading: transitions are not yet either. */
export function readingOf(powerState: unknown): PowerReading {
  if (powerState === 'On') return 'on';
  if (powerState === 'Off') return 'off';
  return 'unknown';
}

/** One signed-in conversation with the BMC: its requests carry the session token or Basic. */
interface Conversation {
  call(method: string, path: string, body?: unknown): Promise<{ ok: true; status: number; json: Record<string, unknown> } | Fail>;
  close(): Promise<void>;
}

export class RedfishDriver implements PowerDriver {
  readonly method = 'redfish';
  constructor(
    private readonly settings: RedfishSettings,
    private readonly http: HttpClient,
  ) {}

  wake(_host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    return this.reset(this.settings.wakeReset, 'On', signal);
  }

  park(_host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    return this.reset(this.settings.parkReset, 'Off', signal);
  }

  async read(_host: DriverHost, signal: AbortSignal): Promise<{ ok: true; reading: PowerReading } | Fail> {
    return this.converse(signal, async (c) => {
      const system = await this.system(c);
      if (!system.ok) return system;
      return { ok: true, reading: readingOf(system.json['PowerState']) };
    });
  }

  private async reset(resetType: string, target: 'On' | 'Off', signal: AbortSignal): Promise<DriverResult> {
    return this.converse(signal, async (c): Promise<DriverResult> => {
      const system = await this.system(c);
      if (!system.ok) return system;
      const state = system.json['PowerState'];
      // Parking a system already off is done. Waking one the BMC already sees On is not: a BMC
      // powers on only from off, so a suspended (S3) host needs WoL and a hung one a PowerCycle;
      // saying so now lets the executor escalate at once instead of waiting out the latency.
      if (target === 'Off' && (state === 'Off' || state === 'PoweringOff')) return { ok: true, detail: `${system.path} already ${state}` };
      if (state === 'On' && target === 'On' && resetType !== 'PowerCycle') {
        return { ok: false, failure: 'refused', detail: `${system.path} is already On: the BMC cannot wake a suspended host (use wol) or a hung one (wakeReset: PowerCycle)` };
      }
      const action = (system.json['Actions'] as Record<string, { target?: string; 'ResetType@Redfish.AllowableValues'?: unknown }> | undefined)?.['#ComputerSystem.Reset'];
      if (!action?.target) return { ok: false, failure: 'unsupported', detail: `${system.path} offers no #ComputerSystem.Reset action` };
      const allowed = action['ResetType@Redfish.AllowableValues'];
      if (Array.isArray(allowed) && !allowed.includes(resetType)) {
        return { ok: false, failure: 'unsupported', detail: `${system.path} allows ResetType ${allowed.join(', ')}, not ${resetType}` };
      }
      const posted = await c.call('POST', action.target, { ResetType: resetType });
      if (!posted.ok) return posted;
      return { ok: true, detail: `${system.path} ResetType ${resetType} (was ${String(state)})` };
    });
  }

  /** The configured system, or the only one the service lists. */
  private async system(c: Conversation): Promise<{ ok: true; path: string; json: Record<string, unknown> } | Fail> {
    let path: string;
    if (this.settings.system !== undefined) {
      path = `/redfish/v1/Systems/${this.settings.system}`;
    } else {
      const list = await c.call('GET', '/redfish/v1/Systems');
      if (!list.ok) return list;
      const members = (list.json['Members'] as Array<{ '@odata.id'?: string }> | undefined) ?? [];
      const ids = members.map((m) => m['@odata.id']).filter((id): id is string => typeof id === 'string');
      if (ids.length !== 1) {
        return { ok: false, failure: 'misconfigured', detail: `/redfish/v1/Systems lists ${ids.length} systems (${ids.join(', ')}): set \`system\`` };
      }
      path = ids[0]!;
    }
    const got = await c.call('GET', path);
    if (!got.ok) return got;
    return { ok: true, path, json: got.json };
  }

  private async converse<T extends { ok: boolean }>(signal: AbortSignal, body: (c: Conversation) => Promise<T | Fail>): Promise<T | Fail> {
    const opened = await this.open(signal);
    if (!opened.ok) return opened;
    try {
      return await body(opened.conversation);
    } finally {
      await opened.conversation.close();
    }
  }

  private async open(signal: AbortSignal): Promise<{ ok: true; conversation: Conversation } | Fail> {
    const c = this.settings;
    const password = await readSecret(c.password, c.passwordFile);
    if (!password.ok) return { ok: false, failure: 'misconfigured', detail: `redfish passwordFile: ${password.detail}` };
    if (password.value === undefined) return { ok: false, failure: 'misconfigured', detail: 'redfish needs `password` or `passwordFile`' };
    let tls: HttpRequest['tls'];
    if (c.scheme === 'https') {
      tls = { verify: c.verify };
      if (c.ca !== undefined) {
        try {
          tls.ca = await readFile(c.ca, 'utf8');
        } catch (error) {
          return { ok: false, failure: 'misconfigured', detail: `redfish ca: cannot read ${c.ca}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
        }
      }
    }
    const base = `${c.scheme}://${c.address}`;
    const timeoutMs = Math.round(c.timeoutSeconds * 1000);
    const send = (method: string, path: string, headers: Record<string, string>, body?: unknown): Promise<HttpReply> =>
      this.http.request(
        {
          method,
          url: base + path,
          headers: { Accept: 'application/json', 'OData-Version': '4.0', ...headers, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
          ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
          timeoutMs,
          ...(tls ? { tls } : {}),
        },
        signal,
      );
    let auth: Record<string, string>;
    let session: string | undefined;
    if (c.auth === 'basic') {
      auth = { Authorization: basicHeader({ user: c.user, password: password.value }) };
    } else {
      const created = await send('POST', '/redfish/v1/SessionService/Sessions', {}, { UserName: c.user, Password: password.value });
      if (!created.ok) return created;
      if (created.status !== 201 && created.status !== 200) return answerFailure(created.status, created.body, 'POST /redfish/v1/SessionService/Sessions', c.user);
      const token = created.headers['x-auth-token'];
      if (typeof token !== 'string') return { ok: false, failure: 'refused', detail: 'the session was created without an X-Auth-Token header' };
      auth = { 'X-Auth-Token': token };
      const location = created.headers['location'];
      session = typeof location === 'string' ? new URL(location, base).pathname : undefined;
    }
    return {
      ok: true,
      conversation: {
        call: async (method, path, body) => {
          const reply = await send(method, path, auth, body);
          if (!reply.ok) return reply;
          if (reply.status < 200 || reply.status > 299) return answerFailure(reply.status, reply.body, `${method} ${path}`, c.user);
          if (reply.body.trim() === '') return { ok: true, status: reply.status, json: {} };
          try {
            return { ok: true, status: reply.status, json: JSON.parse(reply.body) as Record<string, unknown> };
          } catch {
            return { ok: false, failure: 'refused', detail: `${method} ${path}: the answer is not JSON` };
          }
        },
        close: async () => {
          // Sessions count against a BMC's small limit: delete ours, whatever happened (DSP0266 13.3.4).
          if (session !== undefined) await send('DELETE', session, auth);
        },
      },
    };
  }
}

/** A non-2xx answer as an outcome, with the first Redfish message (Base registry) when present. */
function answerFailure(status: number, body: string, what: string, user: string): Fail {
  let message = '';
  try {
    const error = (JSON.parse(body) as { error?: { message?: string; '@Message.ExtendedInfo'?: Array<{ MessageId?: string; Message?: string }> } }).error;
    const info = error?.['@Message.ExtendedInfo']?.[0];
    message = info ? `${info.MessageId ?? ''} ${info.Message ?? ''}`.trim() : (error?.message ?? '');
  } catch {
    // Not a Redfish error body: the status says enough.
  }
  const failure = statusFailure(status);
  const hint = failure === 'auth' ? ` (user ${user}: wrong password, or the account lacks the role)` : '';
  return { ok: false, failure, detail: `${what}: HTTP ${status}${message ? ` ${message}` : ''}${hint}` };
}
