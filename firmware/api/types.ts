// The HTTP API's shared shapes: what a route handler receives and returns, and the backend it
// drives. The server (sessions, CSRF, TLS, limits) and the route handlers are separate files
// that meet here, so a handler is a plain async function testable without a socket.

import type { ControlReply, ControlRequest } from '../control/protocol.js';
import type { Status } from '../daemon.js';
import type { EventBus } from '../events.js';
import type { Policy } from '../firewall/model.js';
import type { Clock } from '../os/clock.js';
import type { ConfigApplyPort } from './config-apply.js';
import type { InstallReply } from '../upgrade/service.js';

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
  /** The raw body, unread, on routes with `body: 'stream'` (an upgrade bundle): `body` is then undefined. */
  upload?: AsyncIterable<Uint8Array>;
  /** The declared Content-Length of `upload`, when the client sent one. */
  uploadBytes?: number;
}

/** A JSON reply; `error` replies name the path of what is wrong (`{ error, path? , issues? }`). */
export interface ApiResponse {
  status: number;
  json: unknown;
  headers?: Record<string, string>;
  /** A text body sent instead of `json` (Prometheus `/metrics`); `headers` carry its content-type. */
  text?: string;
  /**
   * A long-lived body (SSE `/api/events`): the server sends `status` and `headers`, then hands
   * the raw response to `open` and neither ends nor times it out; the stream ends it (sse.ts).
   */
  stream?: (target: StreamTarget) => void;
}

/** What a streaming reply writes to; node's `ServerResponse` is one. */
export interface StreamTarget {
  /** false once the socket's buffer is full (backpressure): wait for 'drain'. */
  write(chunk: string): boolean;
  end(): void;
  destroy(): void;
  readonly writableLength: number;
  on(event: 'drain' | 'close', listener: () => void): unknown;
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
  /** Config apply with automatic rollback (`Daemon.configApply`); absent where the config file is not known. */
  configApply?: ConfigApplyPort;
  /** The firewall policy in force (`Daemon.firewall.policy`), for GET /api/firewall's renderings. */
  firewallPolicy?(): Policy | undefined;
  /** Timers of the live stream (status throttle, pings); the system clock when absent. */
  clock?: Clock;
  /** Streams an upgrade bundle into the other slot (`Daemon.upgrade`); absent where there is none. */
  upgradeInstall?(source: AsyncIterable<Uint8Array>, options: { reboot: boolean }): Promise<InstallReply>;
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
  /**
   * `stream`: the body is handed to the handler unread as `upload` (api.maxBodyBytes does not
   * apply; the handler bounds it). Default `json`: read whole, bounded, parsed.
   */
  body?: 'json' | 'stream';
  handle(request: ApiRequest, backend: ApiBackend): Promise<ApiResponse>;
}
