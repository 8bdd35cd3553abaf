// The HTTP(S) front of the API (issue 12, items 1-2): dispatches `/api/...` through the route
// table and enforces from it what a handler must never forget (a session for `access:
// 'session'`, the X-CSRF-Token on every non-GET), bounds bodies, puts the security headers on
// every reply, logs every mutation (who, from where, action, outcome) and serves the UI's files.

import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { systemClock, type Clock } from '../os/clock.js';
import { sameSecret, type Session, type SessionStore, type Users } from './auth.js';
import type { LoginLimiter } from './rate-limit.js';
import type { StaticFiles } from './static.js';
import { SessionStreams } from './streams.js';
import type { ApiBackend, ApiRequest, ApiResponse, Route } from './types.js';

export const SESSION_COOKIE = 'tandem_session';
export const CSRF_HEADER = 'x-csrf-token';

const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** The headers on every reply, API, static file or error alike. */
export function securityHeaders(secure: boolean): Record<string, string> {
  return {
    'content-security-policy': CSP,
    'x-frame-options': 'DENY',
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    ...(secure ? { 'strict-transport-security': 'max-age=31536000' } : {}),
  };
}

/** How a mutation ended, as the audit log says it. */
export type AuditOutcome = 'done' | 'unauthenticated' | 'forbidden' | 'limited' | 'rejected' | 'failed';

export function auditOutcome(status: number): AuditOutcome {
  if (status < 400) return 'done';
  if (status === 401) return 'unauthenticated';
  if (status === 403) return 'forbidden';
  if (status === 429) return 'limited';
  return status >= 500 ? 'failed' : 'rejected';
}

export interface ApiServerOptions {
  routes: Route[];
  backend: ApiBackend;
  users: Users;
  sessions: SessionStore;
  limiter: LoginLimiter;
  log: Logger;
  maxBodyBytes: number;
  /** The UI's files; without it every non-API path is 404. */
  files?: StaticFiles;
  /** Times the sweep that ends live streams of ended sessions; the system clock when absent. */
  clock?: Clock;
  /**
   * How long a request may take to arrive whole: `json` for every route but the streamed ones,
   * `stream` for those (an upgrade bundle onto a slow card); defaults DEFAULT_REQUEST_DEADLINES.
   */
  requestDeadlineMs?: { json: number; stream: number };
}

/** 30 s for a request (what node's requestTimeout gave every route), 30 min for an upload. */
export const DEFAULT_REQUEST_DEADLINES = { json: 30_000, stream: 30 * 60_000 };

export interface ListenerOptions {
  host: string;
  port: number;
  /** HTTPS with this identity; plain HTTP when absent (the service allows that on loopback only). */
  tls?: { certPem: string; keyPem: string };
}

/** The request as the server's own routes see it: the API request plus the transport facts. */
interface ServerRequest extends ApiRequest {
  secure: boolean;
  session: Session | undefined;
}

type ServerRoute = Omit<Route, 'handle'> & { handle(request: ServerRequest, backend: ApiBackend): Promise<ApiResponse> };

type BodyRead = { ok: true; body: unknown } | { ok: false; status: 400 | 413; error: string };

export class ApiServer {
  private readonly servers: Server[] = [];
  private readonly table: ServerRoute[];
  private readonly streams: SessionStreams;

  constructor(private readonly options: ApiServerOptions) {
    this.table = [...this.ownRoutes(), ...options.routes];
    this.streams = new SessionStreams(options.clock ?? systemClock, (session) => options.sessions.isLive(session));
  }

  /** Live streams open now (for tests and status). */
  get openStreams(): number {
    return this.streams.size;
  }

  /** Every route served, the server's own (login, logout, session) first: what the list test walks. */
  get routes(): readonly Route[] {
    return this.table as Route[];
  }

  async listen(listener: ListenerOptions): Promise<{ url: string; address: AddressInfo }> {
    const secure = listener.tls !== undefined;
    const onRequest = (req: IncomingMessage, res: ServerResponse) => void this.handle(req, res, secure);
    const server = listener.tls
      ? createHttpsServer({ cert: listener.tls.certPem, key: listener.tls.keyPem, minVersion: 'TLSv1.2' }, onRequest)
      : createHttpServer(onRequest);
    // Slow or stalled clients must not pin sockets on a router with little memory; the live
    // stream is a response, so these (which bound the request) do not cut it.
    server.headersTimeout = 10_000;
    // Bounded per request in handle() instead: node's requestTimeout is one value for the whole
    // server, and a streamed upload (POST /api/upgrade) may rightly take longer than a JSON body.
    server.requestTimeout = 0;
    server.keepAliveTimeout = 5_000;
    server.maxHeadersCount = 64;
    server.maxConnections = 128;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: listener.host, port: listener.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    server.on('error', (error) => this.options.log.warn(`api listener ${listener.host}:${listener.port}: ${error.message}`));
    this.servers.push(server);
    const address = server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return { url: `${secure ? 'https' : 'http'}://${host}:${address.port}/`, address };
  }

  async close(): Promise<void> {
    const servers = this.servers.splice(0);
    this.streams.endAll();
    await Promise.all(
      servers.map(
        (server) =>
          new Promise<void>((resolve) => {
            server.close(() => resolve());
            // Live streams never end by themselves: cut them, their 'close' handlers clean up.
            server.closeAllConnections();
          }),
      ),
    );
  }

  /** Answers one request; exported for tests that drive it without a listener. */
  async handle(req: IncomingMessage, res: ServerResponse, secure: boolean): Promise<void> {
    const headers = securityHeaders(secure);
    try {
      const url = new URL(req.url ?? '/', 'http://tandem.invalid');
      // The table decides what is API (it has /metrics beside /api/...); the rest is the UI.
      const candidates = this.table.filter((r) => matches(r.path, url.pathname));
      const streamed = candidates.some((r) => r.method === req.method && r.body === 'stream');
      this.bound(req, streamed);
      if (candidates.length > 0 || url.pathname === '/api' || url.pathname.startsWith('/api/')) await this.api(req, res, url, candidates, secure, headers);
      else if (this.options.files) await this.options.files.serve(req, res, url.pathname, headers);
      else res.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8' }).end('not found\n');
    } catch (error) {
      this.options.log.warn(`api request failed: ${(error as Error).message}`, { url: req.url });
      if (!res.headersSent) send(res, headers, { status: 500, json: { error: 'internal error' } });
      else res.destroy();
    }
  }

  // A request still arriving at its deadline is cut (a slow client must not pin a socket); the
  // deadline is transport, like node's own timeouts, so it runs on real time, not `clock`.
  private bound(req: IncomingMessage, streamed: boolean): void {
    if (req.complete) return;
    const deadlines = this.options.requestDeadlineMs ?? DEFAULT_REQUEST_DEADLINES;
    const timer = setTimeout(() => {
      if (!req.complete) req.socket.destroy();
    }, streamed ? deadlines.stream : deadlines.json);
    timer.unref();
    const clear = () => clearTimeout(timer);
    req.once('end', clear);
    req.once('close', clear);
  }

  private async api(req: IncomingMessage, res: ServerResponse, url: URL, candidates: ServerRoute[], secure: boolean, headers: Record<string, string>): Promise<void> {
    const path = url.pathname;
    if (candidates.length === 0) return send(res, headers, { status: 404, json: { error: `no such endpoint: ${path}`, path } });
    const route = candidates.find((r) => r.method === req.method);
    if (!route) {
      const allow = [...new Set(candidates.map((r) => r.method))].join(', ');
      return send(res, headers, { status: 405, json: { error: `${req.method} not allowed on ${path} (allowed: ${allow})` }, headers: { allow } });
    }
    const method = route.method;
    const mutation = method !== 'GET';
    const remote = clientAddress(req);
    const action = route.action ?? `${method} ${route.path}`;
    const lookup = this.options.sessions.lookup(cookie(req, SESSION_COOKIE));
    const session = lookup.ok ? lookup.session : undefined;
    const audit = (status: number, user: string | undefined, detail?: string) => {
      if (!mutation) return;
      this.options.log.info(`audit: ${action} by ${user ?? '(nobody)'} from ${remote}: ${auditOutcome(status)}`, {
        audit: true, user: user ?? null, remote, action, outcome: auditOutcome(status), status, ...(detail ? { detail } : {}),
      });
    };
    if (route.access === 'session') {
      if (!session) {
        const why = lookup.ok ? 'missing' : lookup.reason;
        audit(401, undefined, `session ${why}`);
        return send(res, headers, { status: 401, json: { error: why === 'idle' || why === 'expired' ? `session ${why === 'idle' ? 'timed out' : 'expired'}: log in again` : 'login required' } });
      }
      if (mutation) {
        const token = req.headers[CSRF_HEADER];
        if (typeof token !== 'string' || !sameSecret(token, session.csrfToken)) {
          audit(403, session.user, token === undefined ? 'no X-CSRF-Token' : 'wrong X-CSRF-Token');
          return send(res, headers, { status: 403, json: { error: token === undefined ? 'X-CSRF-Token header required' : 'X-CSRF-Token does not match the session' } });
        }
      }
    }
    if (mutation && !sameOrigin(req)) {
      audit(403, session?.user, `cross-site (origin ${String(req.headers.origin ?? req.headers['sec-fetch-site'])})`);
      return send(res, headers, { status: 403, json: { error: 'cross-site request refused: the console only accepts changes from its own pages' } });
    }
    let body: unknown = undefined;
    let upload: { upload: AsyncIterable<Uint8Array>; uploadBytes?: number } | undefined;
    if (mutation && route.body === 'stream') {
      const declared = Number(req.headers['content-length'] ?? NaN);
      upload = { upload: req, ...(Number.isFinite(declared) ? { uploadBytes: declared } : {}) };
    } else if (mutation) {
      const read = await readJsonBody(req, this.options.maxBodyBytes);
      if (!read.ok) {
        audit(read.status, session?.user, read.error);
        return send(res, headers, { status: read.status, json: { error: read.error } });
      }
      body = read.body;
    }
    const request: ServerRequest = { method, path, query: url.searchParams, body, remote, user: session?.user, secure, session, ...upload };
    let reply: ApiResponse;
    try {
      reply = await route.handle(request, this.options.backend);
    } catch (error) {
      this.options.log.warn(`api ${action} failed: ${(error as Error).message}`);
      reply = { status: 500, json: { error: `${action} failed: ${(error as Error).message}` } };
    }
    // Login audits itself: the user it names is not yet the session's.
    if (route.path !== '/api/login') audit(reply.status, session?.user, errorOf(reply));
    // A live stream lives as long as its session: logout and timeouts end it.
    if (reply.stream && session) this.streams.add(session, res);
    send(res, headers, reply);
  }

  // POST /api/login, POST /api/logout, GET /api/session: in the table like every route, so the
  // same enforcement (and the same list test) covers them.
  private ownRoutes(): ServerRoute[] {
    const { users, sessions, limiter, log } = this.options;
    const cookieFor = (value: string, maxAge: number, secure: boolean) =>
      `${SESSION_COOKIE}=${value}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAge}${secure ? '; Secure' : ''}`;
    return [
      {
        method: 'POST',
        path: '/api/login',
        access: 'public',
        action: 'login',
        handle: async (request): Promise<ApiResponse> => {
          const input = request.body as { user?: unknown; password?: unknown } | undefined;
          const name = typeof input?.user === 'string' ? input.user.slice(0, 64) : '(none)';
          const loginAudit = (status: number, detail: string) =>
            log.info(`audit: login as ${name} from ${request.remote}: ${auditOutcome(status)}`, {
              audit: true, user: name, remote: request.remote, action: 'login', outcome: auditOutcome(status), status, detail,
            });
          if (typeof input?.user !== 'string' || typeof input.password !== 'string' || input.user.length > 256 || input.password.length > 1024) {
            loginAudit(400, 'malformed');
            return { status: 400, json: { error: 'expected {"user": "...", "password": "..."}', path: typeof input?.user === 'string' ? 'password' : 'user' } };
          }
          if (users.count === 0) {
            loginAudit(401, 'no users configured');
            return { status: 401, json: { error: 'no users configured: add one to api.users with `tandem passwd`' } };
          }
          const gate = limiter.admit(request.remote, input.user);
          if (!gate.allowed) {
            loginAudit(429, `locked by ${gate.by}`);
            return { status: 429, json: { error: `too many failed logins for this ${gate.by}: retry in ${gate.retryAfterSeconds} s` }, headers: { 'retry-after': String(gate.retryAfterSeconds) } };
          }
          const check = await users.check(input.user, input.password);
          if (check === 'busy') {
            limiter.refund(request.remote, input.user);
            loginAudit(503, 'too many logins at once');
            return { status: 503, json: { error: 'too many logins at once: retry shortly' }, headers: { 'retry-after': '1' } };
          }
          if (check !== 'ok') {
            loginAudit(401, check);
            return { status: 401, json: { error: 'wrong user name or password' } };
          }
          limiter.succeeded(request.remote, input.user);
          // A session id sent before login is never reused (session fixation).
          if (request.session) sessions.delete(request.session.id);
          const session = sessions.create(input.user);
          loginAudit(200, 'session opened');
          return {
            status: 200,
            json: { user: input.user, csrfToken: session.csrfToken },
            headers: { 'set-cookie': cookieFor(session.id, sessions.absoluteSeconds, request.secure) },
          };
        },
      },
      {
        method: 'POST',
        path: '/api/logout',
        access: 'session',
        action: 'logout',
        handle: async (request): Promise<ApiResponse> => {
          if (request.session) {
            sessions.delete(request.session.id);
            this.streams.endSession(request.session);
          }
          return { status: 200, json: { loggedOut: true }, headers: { 'set-cookie': cookieFor('', 0, request.secure) } };
        },
      },
      {
        method: 'GET',
        path: '/api/session',
        access: 'session',
        handle: async (request) => ({ status: 200, json: { user: request.session!.user, csrfToken: request.session!.csrfToken } }),
      },
    ];
  }
}

/** `/api/pools/:pool/drain` matches `/api/pools/web/drain`; other paths must be equal. */
export function matches(pattern: string, path: string): boolean {
  if (!pattern.includes(':')) return pattern === path;
  const want = pattern.split('/');
  const have = path.split('/');
  return want.length === have.length && want.every((part, i) => (part.startsWith(':') ? have[i] !== '' : part === have[i]));
}

function send(res: ServerResponse, headers: Record<string, string>, reply: ApiResponse): void {
  const common = { ...headers, 'cache-control': 'no-store', ...reply.headers };
  if (reply.stream) {
    res.writeHead(reply.status, common);
    res.flushHeaders();
    reply.stream(res);
    return;
  }
  const text = reply.text ?? JSON.stringify(reply.json);
  const type = reply.text !== undefined ? (reply.headers?.['content-type'] ?? 'text/plain; charset=utf-8') : 'application/json; charset=utf-8';
  res.writeHead(reply.status, { 'content-type': type, ...common, 'content-length': String(Buffer.byteLength(text)) });
  res.end(text);
}

/**
 * Whether a browser sent this from the console's own pages: `Sec-Fetch-Site` same-origin or
 * none, or an `Origin` naming this host. Clients that send neither (curl, scripts) pass; the
 * session and CSRF token are what guard them. Defence in depth beside SameSite=Strict.
 */
export function sameOrigin(req: IncomingMessage): boolean {
  const site = req.headers['sec-fetch-site'];
  if (typeof site === 'string' && site !== 'same-origin' && site !== 'none') return false;
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === req.headers.host;
  } catch {
    return false; // "null" (sandboxed frames, file:) or garbage
  }
}

function errorOf(reply: ApiResponse): string | undefined {
  const json = reply.json as { error?: unknown } | undefined;
  return reply.status >= 400 && typeof json?.error === 'string' ? json.error : undefined;
}

function cookie(req: IncomingMessage, name: string): string | undefined {
  const header = req.headers.cookie;
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim() || undefined;
  }
  return undefined;
}

function clientAddress(req: IncomingMessage): string {
  const address = req.socket.remoteAddress ?? 'unknown';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}

/** Reads a JSON body of at most `max` bytes; an empty body is `undefined`. */
export async function readJsonBody(req: IncomingMessage, max: number): Promise<BodyRead> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) {
    req.resume(); // discard: the 413 is read by the client only if its upload is taken
    return { ok: false, status: 413, error: `request body of ${declared} bytes is over the ${max}-byte limit (api.maxBodyBytes)` };
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let over = false;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > max) over = true;
    if (!over) chunks.push(chunk);
  }
  if (over) return { ok: false, status: 413, error: `request body is over the ${max}-byte limit (api.maxBodyBytes)` };
  if (size === 0) return { ok: true, body: undefined };
  // Any content-type is read as JSON (curl -d sends a form type): the CSRF token, not the
  // content-type, is what keeps other sites' forms out.
  try {
    return { ok: true, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown };
  } catch (error) {
    return { ok: false, status: 400, error: `body is not JSON: ${(error as Error).message}` };
  }
}

