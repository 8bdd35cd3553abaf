// The webhook power method: an HTTP call the admin defines for anything Tandem has no driver for,
// as MAAS's webhook power driver offers: URL, method, headers and body with `{host}`, `{address}`,
// `{mac}`, `{action}` and `{secret}` placeholders; any 2xx is success; an optional status URL whose
// body, matched against `onMatch` (and `offMatch`), reads the power state back.

import { readFile } from 'node:fs/promises';
import { optional, s, type ConfigIssue, type FieldDoc, type ObjectOf, type Schema, type StringRule } from '../config/kit.js';
import type { DriverDeps, DriverFailure, DriverHost, DriverResult, PowerDriver, PowerReading } from './driver.js';
import { LinuxHttpClient, readSecret, statusFailure, type HttpClient, type HttpRequest } from './http.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/; // RFC 9110 token

/** `headers:` as a mapping of header name to value (the kit has no mapping-of-strings shape). */
class HeadersSchema implements Schema<Record<string, string>> {
  readonly kind = 'mapping';
  readonly summary = 'a mapping of header name to value';
  doc: FieldDoc = { description: '' };
  optional = false;
  defaultValue: Record<string, string> | undefined = undefined;
  check(value: unknown, path: string, issues: ConfigIssue[]): Record<string, string> | undefined {
    if (value === undefined) {
      if (this.defaultValue !== undefined) return { ...this.defaultValue };
      if (!this.optional) issues.push({ path, message: `is required (${this.summary})` });
      return undefined;
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      issues.push({ path, message: `must be ${this.summary}` });
      return undefined;
    }
    const out: Record<string, string> = {};
    for (const [name, v] of Object.entries(value)) {
      if (!HEADER_NAME.test(name)) issues.push({ path: `${path}.${name}`, message: 'is not a valid header name' });
      else if (typeof v !== 'string' || /[\r\n]/.test(v)) issues.push({ path: `${path}.${name}`, message: `must be a string without line breaks, got ${JSON.stringify(v)}` });
      else out[name] = v;
    }
    return out;
  }
  describe(description: string, more: Omit<FieldDoc, 'description'> = {}): this {
    this.doc = { description, ...more };
    return this;
  }
}

const isUrl: StringRule = (v) => (/^https?:\/\/\S+$/.test(v) ? undefined : 'must be an http:// or https:// URL');
const isRegex: StringRule = (v) => {
  try {
    new RegExp(v);
    return undefined;
  } catch (error) {
    return `must be a regular expression (${(error as Error).message})`;
  }
};

const PLACEHOLDERS = 'Placeholders: `{host}` (host name), `{address}`, `{mac}`, `{action}` (`wake` or `park`), `{secret}`.';

export const webhookSettings = {
  url: s.string('an http(s) URL', isUrl).describe(`The URL to call. ${PLACEHOLDERS} In the URL they are percent-encoded.`),
  httpMethod: optional(s.enumOf('POST', 'PUT', 'GET', 'DELETE', 'PATCH').describe('HTTP method.'), 'POST'),
  headers: optional(new HeadersSchema().describe(`Request headers, e.g. \`Authorization: "Bearer {secret}"\`. ${PLACEHOLDERS}`)),
  body: optional(s.string().describe(`Request body, sent as written after the placeholders are filled. ${PLACEHOLDERS}`)),
  secret: optional(s.string().describe('The value of `{secret}` (a token or password; inline, or `secretFile`).')),
  secretFile: optional(s.string('a file path').describe('A file holding the value of `{secret}`.')),
  statusUrl: optional(s.string('an http(s) URL', isUrl).describe('GET this URL to read the power state back (same placeholders, `{action}` is `read`).')),
  onMatch: optional(s.string('a regular expression', isRegex).describe('The state reads `on` when the status body matches this.')),
  offMatch: optional(s.string('a regular expression', isRegex).describe('The state reads `off` when the status body matches this; default: whatever `onMatch` does not match.')),
  verify: optional(s.bool().describe('https: verify the server certificate.'), true),
  ca: optional(s.string('a file path').describe('https: PEM file of the CA that signed the server certificate.')),
  timeoutSeconds: optional(s.number(0.1, 300).describe('Seconds to wait for the answer; no answer in time is a failure.'), 10),
};

export type WebhookSettings = ObjectOf<typeof webhookSettings>;

export interface WebhookDeps extends DriverDeps {
  http?: HttpClient;
}

export function createWebhook(settings: WebhookSettings, deps: WebhookDeps): WebhookDriver {
  return new WebhookDriver(settings, deps.http ?? new LinuxHttpClient(deps.clock));
}

type Fail = { ok: false; failure: DriverFailure; detail: string };
type Values = Record<'host' | 'address' | 'mac' | 'action' | 'secret', string>;

/** Fills `{name}` placeholders; unknown names stay as written, so a literal `{` needs no escape. */
export function fill(template: string, values: Values, encode: (v: string) => string = (v) => v): string {
  return template.replace(/\{(host|address|mac|action|secret)\}/g, (_, name: keyof Values) => encode(values[name]));
}

export class WebhookDriver implements PowerDriver {
  readonly method = 'webhook';
  /** Present only with `statusUrl` and `onMatch`: the executor then counts this driver as a reader. */
  readonly read?: (host: DriverHost, signal: AbortSignal) => Promise<{ ok: true; reading: PowerReading } | Fail>;

  constructor(
    private readonly settings: WebhookSettings,
    private readonly http: HttpClient,
  ) {
    if (settings.statusUrl !== undefined && settings.onMatch !== undefined) this.read = (host, signal) => this.readStatus(host, signal);
  }

  wake(host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    return this.call(host, 'wake', signal);
  }

  park(host: DriverHost, signal: AbortSignal): Promise<DriverResult> {
    return this.call(host, 'park', signal);
  }

  private async readStatus(host: DriverHost, signal: AbortSignal): Promise<{ ok: true; reading: PowerReading } | Fail> {
    const c = this.settings;
    if (c.statusUrl === undefined || c.onMatch === undefined) return { ok: false, failure: 'unsupported', detail: 'webhook has no `statusUrl` with `onMatch` to read the state back' };
    const prepared = await this.prepare(host, 'read');
    if (!prepared.ok) return prepared;
    const url = fill(c.statusUrl, prepared.values, encodeURIComponent);
    const reply = await this.http.request({ method: 'GET', url, headers: prepared.headers, timeoutMs: prepared.timeoutMs, ...prepared.tls }, signal);
    if (!reply.ok) return reply;
    if (reply.status < 200 || reply.status > 299) return { ok: false, failure: statusFailure(reply.status), detail: `GET ${redact(url, prepared.values)}: HTTP ${reply.status} ${excerpt(reply.body)}`.trimEnd() };
    if (new RegExp(c.onMatch).test(reply.body)) return { ok: true, reading: 'on' };
    if (c.offMatch === undefined || new RegExp(c.offMatch).test(reply.body)) return { ok: true, reading: 'off' };
    return { ok: true, reading: 'unknown' };
  }

  private async call(host: DriverHost, action: 'wake' | 'park', signal: AbortSignal): Promise<DriverResult> {
    const c = this.settings;
    const prepared = await this.prepare(host, action);
    if (!prepared.ok) return prepared;
    const url = fill(c.url, prepared.values, encodeURIComponent);
    const body = c.body !== undefined ? fill(c.body, prepared.values) : undefined;
    const req: HttpRequest = { method: c.httpMethod, url, headers: prepared.headers, timeoutMs: prepared.timeoutMs, ...prepared.tls, ...(body !== undefined ? { body } : {}) };
    const reply = await this.http.request(req, signal);
    const shown = `${c.httpMethod} ${redact(url, prepared.values)}`;
    if (!reply.ok) return { ...reply, detail: `${shown}: ${reply.detail}` };
    if (reply.status < 200 || reply.status > 299) return { ok: false, failure: statusFailure(reply.status), detail: `${shown}: HTTP ${reply.status} ${excerpt(reply.body)}`.trimEnd() };
    return { ok: true, detail: `${shown}: HTTP ${reply.status}` };
  }

  private async prepare(host: DriverHost, action: string): Promise<{ ok: true; values: Values; headers: Record<string, string>; timeoutMs: number; tls: { tls?: HttpRequest['tls'] } } | Fail> {
    const c = this.settings;
    const secret = await readSecret(c.secret, c.secretFile);
    if (!secret.ok) return { ok: false, failure: 'misconfigured', detail: `webhook secretFile: ${secret.detail}` };
    const values: Values = { host: host.name, address: host.address, mac: host.mac, action, secret: secret.value ?? '' };
    const headers = Object.fromEntries(Object.entries(c.headers ?? {}).map(([k, v]) => [k, fill(v, values)]));
    let tls: { tls?: HttpRequest['tls'] } = {};
    if (c.url.startsWith('https:') || c.statusUrl?.startsWith('https:')) {
      tls = { tls: { verify: c.verify } };
      if (c.ca !== undefined) {
        try {
          tls.tls!.ca = await readFile(c.ca, 'utf8');
        } catch (error) {
          return { ok: false, failure: 'misconfigured', detail: `webhook ca: cannot read ${c.ca}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
        }
      }
    }
    return { ok: true, values, headers, timeoutMs: Math.round(c.timeoutSeconds * 1000), tls };
  }
}

/** The secret never reaches a log line or an event. */
function redact(text: string, values: Values): string {
  if (values.secret === '') return text;
  return text.split(values.secret).join('***').split(encodeURIComponent(values.secret)).join('***');
}

function excerpt(body: string): string {
  const line = body.replace(/\s+/g, ' ').trim();
  return line.length > 160 ? `${line.slice(0, 160)}…` : line;
}
