// A real ApiServer on a loopback socket for the server tests: users with cheap scrypt hashes, a
// FakeClock for sessions and the login limiter, a backend that records every touch, a log
// that keeps its lines, and a raw node:http client (cookies and headers exactly as sent).

import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';

import { hashPassword, SessionStore, Users } from '../../../firmware/api/auth.js';
import { LoginLimiter } from '../../../firmware/api/rate-limit.js';
import { ApiServer, type ListenerOptions } from '../../../firmware/api/server.js';
import type { StaticFiles } from '../../../firmware/api/static.js';
import type { ApiBackend, Route } from '../../../firmware/api/types.js';
import type { Status } from '../../../firmware/daemon.js';
import { EventBus } from '../../../firmware/events.js';
import { createLogger } from '../../../firmware/log.js';
import { FakeClock } from '../../../firmware/os/clock.js';

export const PASSWORD = 'correct horse battery staple';
/** N=1024 keeps each login check around a millisecond; the format is the production one. */
export const CHEAP = { N: 1024, r: 8, p: 1 };

export const STATUS = { node: 'fw-a', version: 'test', carp: [] } as unknown as Status;

/** The backend as a recorder: every member the server or a handler reads is noted. */
export function recordingBackend(): { backend: ApiBackend; touched: string[]; commands: unknown[] } {
  const touched: string[] = [];
  const commands: unknown[] = [];
  const real: ApiBackend = {
    status: () => STATUS,
    handle: async (request) => {
      commands.push(request);
      return { ok: true, result: { done: request.cmd } };
    },
    events: new EventBus(() => 0, createLogger('error', () => undefined)),
    config: { read: async () => ({ path: '/cfg/tandem.yaml', text: 'node: { name: fw-a }\n' }) },
  };
  const backend = new Proxy(real, {
    get(target, key, receiver) {
      touched.push(String(key));
      return Reflect.get(target, key, receiver);
    },
  });
  return { backend, touched, commands };
}

export interface Harness {
  server: ApiServer;
  url: string;
  port: number;
  clock: FakeClock;
  users: Users;
  sessions: SessionStore;
  lines: Record<string, unknown>[];
  touched: string[];
  commands: unknown[];
  close(): Promise<void>;
}

export async function startHarness(
  options: {
    routes?: Route[];
    users?: string[];
    /** Password checks at once and waiting (Users' bound). */
    checks?: { concurrent: number; queued: number };
    /** scrypt parameters of the users' hashes; default CHEAP. */
    hash?: { N: number; r: number; p: number };
    maxBodyBytes?: number;
    files?: StaticFiles;
    listen?: Partial<ListenerOptions>;
  } = {},
): Promise<Harness> {
  const clock = new FakeClock();
  const names = options.users ?? ['admin'];
  const users = new Users(
    await Promise.all(names.map(async (name) => ({ name, passwordHash: await hashPassword(PASSWORD, options.hash ?? CHEAP) }))),
    options.checks,
  );
  const sessions = new SessionStore(clock, { idleMinutes: 30, absoluteHours: 8 });
  const lines: Record<string, unknown>[] = [];
  const log = createLogger('debug', (line) => lines.push(JSON.parse(line) as Record<string, unknown>));
  const { backend, touched, commands } = recordingBackend();
  const server = new ApiServer({
    routes: options.routes ?? [],
    backend,
    users,
    sessions,
    limiter: new LoginLimiter(clock),
    log,
    maxBodyBytes: options.maxBodyBytes ?? 262_144,
    clock,
    ...(options.files ? { files: options.files } : {}),
  });
  const { url, address } = await server.listen({ host: '127.0.0.1', port: 0, ...options.listen });
  return { server, url, port: address.port, clock, users, sessions, lines, touched, commands, close: () => server.close() };
}

export interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  text: string;
  json: any;
}

export interface CallOptions {
  body?: unknown;
  /** Sent as is (no JSON encoding), e.g. an oversized or malformed body. */
  raw?: string | Buffer;
  /** Send the body chunked, without a content-length. */
  chunked?: boolean;
  cookie?: string;
  csrf?: string;
  headers?: Record<string, string>;
  /** A loopback source address other than 127.0.0.1 (rate limits per address). */
  from?: string;
  ca?: string;
}

export function call(base: string, method: string, path: string, options: CallOptions = {}): Promise<Reply> {
  const target = new URL(path, base);
  const payload = options.raw ?? (options.body === undefined ? undefined : JSON.stringify(options.body));
  const headers: Record<string, string> = { ...options.headers };
  if (payload !== undefined) {
    headers['content-type'] ??= 'application/json';
    if (!options.chunked) headers['content-length'] = String(Buffer.byteLength(payload));
  }
  if (options.cookie) headers.cookie = options.cookie;
  if (options.csrf !== undefined) headers['x-csrf-token'] = options.csrf;
  const requester = target.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise((resolve, reject) => {
    const req = requester(
      target,
      { method, headers, agent: false, ...(options.from ? { localAddress: options.from } : {}), ...(options.ca ? { ca: options.ca } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let json: unknown;
          try {
            json = JSON.parse(text);
          } catch {
            json = undefined;
          }
          resolve({ status: res.statusCode ?? 0, headers: res.headers, text, json });
        });
      },
    );
    req.on('error', reject);
    if (payload !== undefined && options.chunked) {
      const buffer = Buffer.from(payload);
      for (let i = 0; i < buffer.length; i += 16384) req.write(buffer.subarray(i, i + 16384));
    } else if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** Logs in and returns the cookie pair to send back and the CSRF token. */
export async function login(base: string, user = 'admin', password = PASSWORD, from?: string): Promise<{ cookie: string; csrf: string; reply: Reply }> {
  const reply = await call(base, 'POST', '/api/login', { body: { user, password }, ...(from ? { from } : {}) });
  const setCookie = reply.headers['set-cookie']?.[0] ?? '';
  return { cookie: setCookie.split(';')[0]!, csrf: (reply.json as { csrfToken?: string } | undefined)?.csrfToken ?? '', reply };
}
