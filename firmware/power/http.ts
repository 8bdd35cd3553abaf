// The HTTP port of the network power drivers (Redfish, Shelly, Tasmota, webhook): one request
// with a deadline on the injected clock, TLS with `verify`/`ca` (BMCs ship self-signed certs),
// Basic (RFC 7617) and Digest (RFC 7616, MD5 and SHA-256, qop=auth) auth; a Linux side on
// node:http/https and an in-memory fake that routes to a handler. Also `readSecret`, the network
// drivers' one way to take a secret inline or from a `...File`.

import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { Clock } from '../os/clock.js';
import type { DriverFailure } from './driver.js';

/** A reply longer than this is cut: no power API answers with more. */
export const MAX_REPLY_BYTES = 256 * 1024;

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: string;
  timeoutMs: number;
  /** https only: `verify: false` accepts any certificate; `ca` is PEM text of the trusted CA. */
  tls?: { verify: boolean; ca?: string };
}

export type HttpReply =
  | { ok: true; status: number; headers: IncomingHttpHeaders; body: string }
  | { ok: false; failure: Extract<DriverFailure, 'unreachable' | 'misconfigured'>; detail: string };

export interface HttpClient {
  request(req: HttpRequest, signal?: AbortSignal): Promise<HttpReply>;
}

export class LinuxHttpClient implements HttpClient {
  constructor(private readonly clock: Clock) {}

  request(req: HttpRequest, signal?: AbortSignal): Promise<HttpReply> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return Promise.resolve({ ok: false, failure: 'misconfigured', detail: `not a URL: ${req.url}` });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      return Promise.resolve({ ok: false, failure: 'misconfigured', detail: `${url.protocol} is not http: or https:` });
    }
    return new Promise((resolve) => {
      let settled = false;
      const finish = (reply: HttpReply) => {
        if (settled) return;
        settled = true;
        timer.cancel();
        signal?.removeEventListener('abort', onAbort);
        resolve(reply);
      };
      const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
      const headers: Record<string, string> = { 'User-Agent': 'tandem-power', Connection: 'close', ...req.headers };
      if (req.body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(req.body));
      const out = send(url, {
        method: req.method,
        headers,
        rejectUnauthorized: req.tls?.verify ?? true,
        ...(req.tls?.ca !== undefined ? { ca: req.tls.ca } : {}),
      });
      const timer = this.clock.setTimer(req.timeoutMs, () => {
        finish({ ok: false, failure: 'unreachable', detail: `no answer from ${url.host} within ${req.timeoutMs} ms` });
        out.destroy();
      });
      const onAbort = () => {
        finish({ ok: false, failure: 'unreachable', detail: `request to ${url.host} aborted` });
        out.destroy();
      };
      if (signal?.aborted) onAbort();
      signal?.addEventListener('abort', onAbort, { once: true });
      out.on('error', (error: NodeJS.ErrnoException) => finish(failureOf(url, error)));
      out.on('response', (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          if (size < MAX_REPLY_BYTES) chunks.push(chunk);
          size += chunk.length;
        });
        res.on('error', (error) => finish(failureOf(url, error)));
        res.on('end', () =>
          finish({ ok: true, status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).subarray(0, MAX_REPLY_BYTES).toString('utf8') }),
        );
      });
      out.end(req.body);
    });
  }
}

function failureOf(url: URL, error: NodeJS.ErrnoException): HttpReply {
  // A TLS verification failure is the usual first error against a BMC. The device answered, so
  // it is not down: the settings lack its CA, and more tries (or a fallback) will not help.
  if (/CERT|SELF_SIGNED|UNABLE_TO_VERIFY|HOSTNAME|ALTNAME/.test(error.code ?? '')) {
    return { ok: false, failure: 'misconfigured', detail: `${url.host}: ${error.code} (the certificate is not trusted: give its CA as \`ca\`, or set \`verify: false\`)` };
  }
  return { ok: false, failure: 'unreachable', detail: `${url.host}: ${error.code ?? error.message}` };
}

/** Credentials for a request: Basic sends them at once, Digest answers the server's challenge. */
export interface HttpAuth {
  scheme: 'basic' | 'digest';
  user: string;
  password: string;
}

/**
 * Sends `req` with `auth`. Digest first asks without credentials and answers the 401's
 * `WWW-Authenticate: Digest` challenge (RFC 7616 section 3.3); a server that asks for Basic
 * instead gets Basic, as a Shelly Gen1 does.
 */
export async function requestWithAuth(client: HttpClient, req: HttpRequest, auth: HttpAuth | undefined, signal?: AbortSignal): Promise<HttpReply> {
  if (!auth) return client.request(req, signal);
  if (auth.scheme === 'basic') return client.request(withHeader(req, 'Authorization', basicHeader(auth)), signal);
  const first = await client.request(req, signal);
  if (!first.ok || first.status !== 401) return first;
  const challenges = ([] as string[]).concat(first.headers['www-authenticate'] ?? []);
  const digest = challenges.map(parseDigestChallenge).find((c) => c !== undefined);
  if (digest) return client.request(withHeader(req, 'Authorization', digestHeader(digest, auth, req)), signal);
  if (challenges.some((c) => /^basic\b/i.test(c))) return client.request(withHeader(req, 'Authorization', basicHeader(auth)), signal);
  return first;
}

function withHeader(req: HttpRequest, name: string, value: string): HttpRequest {
  return { ...req, headers: { ...req.headers, [name]: value } };
}

export function basicHeader(auth: { user: string; password: string }): string {
  return `Basic ${Buffer.from(`${auth.user}:${auth.password}`, 'utf8').toString('base64')}`;
}

export interface DigestChallenge {
  realm: string;
  nonce: string;
  opaque?: string;
  algorithm: 'MD5' | 'SHA-256';
  qop?: 'auth';
}

/** The parameters of one `Digest ...` challenge; undefined for other schemes or algorithms. */
export function parseDigestChallenge(header: string): DigestChallenge | undefined {
  const match = /^\s*digest\s+(.*)$/i.exec(header);
  if (!match?.[1]) return undefined;
  const params = new Map<string, string>();
  for (const part of match[1].matchAll(/([a-zA-Z]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))/g)) {
    params.set(part[1]!.toLowerCase(), part[2] !== undefined ? part[2].replace(/\\(.)/g, '$1') : (part[3] ?? ''));
  }
  const realm = params.get('realm');
  const nonce = params.get('nonce');
  if (realm === undefined || nonce === undefined) return undefined;
  const algorithm = (params.get('algorithm') ?? 'MD5').toUpperCase();
  if (algorithm !== 'MD5' && algorithm !== 'SHA-256') return undefined;
  const qops = (params.get('qop') ?? '').split(',').map((q) => q.trim());
  const opaque = params.get('opaque');
  return { realm, nonce, algorithm, ...(opaque !== undefined ? { opaque } : {}), ...(qops.includes('auth') ? { qop: 'auth' as const } : {}) };
}

/** The `Authorization: Digest ...` value for `req` (RFC 7616 section 3.4.1). */
export function digestHeader(c: DigestChallenge, auth: { user: string; password: string }, req: { method: string; url: string }, cnonce = randomBytes(8).toString('hex')): string {
  const hash = (text: string) => createHash(c.algorithm === 'SHA-256' ? 'sha256' : 'md5').update(text).digest('hex');
  const url = new URL(req.url);
  const uri = url.pathname + url.search;
  const ha1 = hash(`${auth.user}:${c.realm}:${auth.password}`);
  const ha2 = hash(`${req.method}:${uri}`);
  const nc = '00000001';
  const response = c.qop ? hash(`${ha1}:${c.nonce}:${nc}:${cnonce}:auth:${ha2}`) : hash(`${ha1}:${c.nonce}:${ha2}`);
  const parts = [`username="${auth.user}"`, `realm="${c.realm}"`, `nonce="${c.nonce}"`, `uri="${uri}"`, `algorithm=${c.algorithm}`, `response="${response}"`];
  if (c.qop) parts.push(`qop=auth`, `nc=${nc}`, `cnonce="${cnonce}"`);
  if (c.opaque !== undefined) parts.push(`opaque="${c.opaque}"`);
  return `Digest ${parts.join(', ')}`;
}

/** How an answered request that did not succeed maps onto the driver's outcomes. */
export function statusFailure(status: number): Extract<DriverFailure, 'auth' | 'refused'> {
  return status === 401 || status === 403 ? 'auth' : 'refused';
}

/** A secret given inline or as a file (read at use, so a rotated file needs no restart). */
export async function readSecret(inline: string | undefined, file: string | undefined): Promise<{ ok: true; value: string | undefined } | { ok: false; detail: string }> {
  if (inline !== undefined) return { ok: true, value: inline };
  if (file === undefined) return { ok: true, value: undefined };
  try {
    // One trailing newline is what `echo secret > file` leaves; it is not part of the secret.
    return { ok: true, value: (await readFile(file, 'utf8')).replace(/\r?\n$/, '') };
  } catch (error) {
    return { ok: false, detail: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}` };
  }
}

/** What a fake server sees and answers. */
export interface FakeHttpExchange {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: string;
}
export type FakeHttpAnswer = { status: number; headers?: Record<string, string | string[]>; body?: string } | 'unreachable';

/** In-memory HTTP: every request goes to `handler`; `requests` records what was sent. */
export class FakeHttpClient implements HttpClient {
  readonly requests: FakeHttpExchange[] = [];
  constructor(private readonly handler: (exchange: FakeHttpExchange) => FakeHttpAnswer | Promise<FakeHttpAnswer>) {}

  async request(req: HttpRequest, signal?: AbortSignal): Promise<HttpReply> {
    if (signal?.aborted) return { ok: false, failure: 'unreachable', detail: 'aborted' };
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return { ok: false, failure: 'misconfigured', detail: `not a URL: ${req.url}` };
    }
    const headers = Object.fromEntries(Object.entries(req.headers ?? {}).map(([k, v]) => [k.toLowerCase(), v]));
    const exchange: FakeHttpExchange = { method: req.method, url, headers, body: req.body ?? '' };
    this.requests.push(exchange);
    const answer = await this.handler(exchange);
    if (answer === 'unreachable') return { ok: false, failure: 'unreachable', detail: `${url.host}: ECONNREFUSED` };
    const replyHeaders: IncomingHttpHeaders = {};
    for (const [k, v] of Object.entries(answer.headers ?? {})) replyHeaders[k.toLowerCase()] = v;
    return { ok: true, status: answer.status, headers: replyHeaders, body: answer.body ?? '' };
  }
}
