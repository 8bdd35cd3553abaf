// The HTTP API's shared shapes: what a route handler receives and returns, and the backend it
// drives. The server (sessions, CSRF, TLS, limits) and the route handlers are separate files
// that meet here, so a handler is a plain async function testable without a socket.

import type { ControlReply, ControlRequest } from '../control/protocol.js';
import type { Status } from '../daemon.js';
import type { EventBus } from '../events.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A request as a handler sees it: the body already parsed as JSON (bounded in size). */
export interface ApiRequest {
  method: HttpMethod;
  /** The path without the query string, e.g. `/api/status`. */
  path: string;
  query: URLSearchParams;
  body: unknown;
  /** The client's address, for the audit log and rate limits. */
  remote: string;
  /** The logged-in user; undefined only on public routes. */
  user: string | undefined;
}

/** A JSON reply; `error` replies name the path of what is wrong (`{ error, path? , issues? }`). */
export interface ApiResponse {
  status: number;
  json: unknown;
  headers?: Record<string, string>;
}

/** The config as the API reads, checks and applies it. */
export interface ConfigAccess {
  /** The config file's text and where it lives. */
  read(): Promise<{ path: string; text: string }>;
}

/** What the API drives: one daemon (or one simulated node in the demo). */
export interface ApiBackend {
  status(): Status;
  /** The control socket's commands, unchanged: the API is another front for them. */
  handle(request: ControlRequest): Promise<ControlReply>;
  events: EventBus;
  config: ConfigAccess;
  /** Prometheus text exposition, when metrics are available. */
  metrics?(): Promise<string>;
}

/**
 * One route. `access: 'public'` is only for login and the static UI; every other route needs a
 * session, and every route whose method is not GET also needs the CSRF token: the server
 * enforces both from this table, so a new route cannot forget them.
 */
export interface Route {
  method: HttpMethod;
  path: string;
  access: 'public' | 'session';
  /** What the audit log calls this mutation (`demote`, `firewall apply`, ...). */
  action?: string;
  handle(request: ApiRequest, backend: ApiBackend): Promise<ApiResponse>;
}
