// The API as a daemon capability: from the `api` config it decides what to serve where (plain
// HTTP on loopback only; other addresses HTTPS, and only when a user exists), loads or makes the
// certificate, starts and stops the listeners, applies reloads and reports its status.

import { fileURLToPath } from 'node:url';
import type { Logger } from '../log.js';
import type { Clock } from '../os/clock.js';
import type { FileStore } from '../os/files.js';
import { parseListen } from '../telemetry/listen.js';
import { SessionStore, Users } from './auth.js';
import { LoginLimiter } from './rate-limit.js';
import { isLoopback, type ApiConfig } from './schema.js';
import { ApiServer } from './server.js';
import { StaticFiles } from './static.js';
import { loadTlsIdentity, type TlsIdentity } from './tls.js';
import { routes as defaultRoutes, startLive, stopLive } from './routes.js';
import type { ApiBackend, Route } from './types.js';

/** `status().api`: what is served, what was refused and why, and the certificate to check. */
export interface ApiStatus {
  listening: { listen: string; url: string }[];
  refused: { listen: string; reason: string }[];
  tls?: { fingerprint: string; source: 'configured' | 'selfSigned'; validTo: string };
  users: number;
  sessions: number;
  /** Set while nobody can log in. */
  note?: string;
}

export type ListenPlan =
  | { listen: string; host: string; port: number; scheme: 'http' | 'https' }
  | { listen: string; refused: string };

export const NO_USERS_NOTE = 'no users configured (api.users): nobody can log in and only loopback is served; make one with `tandem passwd`';

/** Pure: which listen addresses are served, with which scheme, and why the others are not. */
export function planListeners(config: ApiConfig): ListenPlan[] {
  return config.listen.map((listen) => {
    const where = parseListen(listen);
    if (!where) return { listen, refused: 'not address:port' };
    if (isLoopback(where.host)) return { listen, ...where, scheme: 'http' as const };
    if (config.users.length === 0) return { listen, refused: 'not loopback, and no users are configured (api.users): run `tandem passwd`' };
    return { listen, ...where, scheme: 'https' as const };
  });
}

export interface ApiServiceDeps {
  clock: Clock;
  files: FileStore;
  log: Logger;
  backend: ApiBackend;
  /** The route table; default `routes` of routes.ts. */
  routes?: Route[];
  nodeName: string;
  stateDir: string;
  /** The UI's directory; default `ui/` beside the running bundle (`dist/ui/`). */
  uiDir?: string;
}

export class ApiService {
  private readonly users: Users;
  private readonly sessions: SessionStore;
  private readonly limiter: LoginLimiter;
  private readonly files: StaticFiles;
  private server: ApiServer | undefined;
  private listening: ApiStatus['listening'] = [];
  private refused: ApiStatus['refused'] = [];
  private identity: TlsIdentity | undefined;

  constructor(
    private config: ApiConfig,
    private readonly deps: ApiServiceDeps,
  ) {
    this.users = new Users(config.users);
    this.sessions = new SessionStore(deps.clock, config.session);
    this.limiter = new LoginLimiter(deps.clock);
    this.files = new StaticFiles(deps.uiDir ?? fileURLToPath(new URL('./ui/', import.meta.url)));
  }

  /** Binds every planned listener; one that fails is logged and reported, the rest still serve. */
  async start(): Promise<void> {
    const { log } = this.deps;
    // The recent-events ring records from the moment the API starts.
    startLive(this.deps.backend);
    const server = new ApiServer({
      routes: this.deps.routes ?? defaultRoutes,
      backend: this.deps.backend,
      users: this.users,
      sessions: this.sessions,
      limiter: this.limiter,
      log,
      maxBodyBytes: this.config.maxBodyBytes,
      files: this.files,
      clock: this.deps.clock,
    });
    this.server = server;
    const plan = planListeners(this.config);
    this.refused = [];
    this.listening = [];
    if (plan.some((p) => 'scheme' in p && p.scheme === 'https')) {
      try {
        this.identity = await loadTlsIdentity({
          files: this.deps.files,
          stateDir: this.deps.stateDir,
          ...(this.config.tls ? { configured: this.config.tls } : {}),
          nodeName: this.deps.nodeName,
          ipAddresses: plan.flatMap((p) => ('scheme' in p ? [p.host] : [])),
          now: new Date(this.deps.clock.now()),
        });
        const made = this.identity.source === 'selfSignedNew' ? 'made a self-signed certificate' : `certificate (${this.identity.source})`;
        log.info(`api: ${made}, SHA-256 fingerprint ${this.identity.fingerprintSha256}`, { fingerprint: this.identity.fingerprintSha256, validTo: this.identity.validTo });
      } catch (error) {
        this.identity = undefined;
        log.error(`api: no HTTPS certificate: ${(error as Error).message}`);
      }
    }
    for (const entry of plan) {
      if (!('scheme' in entry)) {
        log.error(`api: not serving ${entry.listen}: ${entry.refused}`);
        this.refused.push({ listen: entry.listen, reason: entry.refused });
        continue;
      }
      if (entry.scheme === 'https' && !this.identity) {
        this.refused.push({ listen: entry.listen, reason: 'no HTTPS certificate (see the log)' });
        continue;
      }
      try {
        const tls = entry.scheme === 'https' ? { certPem: this.identity!.certPem, keyPem: this.identity!.keyPem } : undefined;
        const { url } = await server.listen({ host: entry.host, port: entry.port, ...(tls ? { tls } : {}) });
        this.listening.push({ listen: entry.listen, url });
        log.info(`api: web UI on ${url}`);
      } catch (error) {
        log.error(`api: not serving ${entry.listen}: ${(error as Error).message}`);
        this.refused.push({ listen: entry.listen, reason: (error as Error).message });
      }
    }
    if (this.users.count === 0) log.warn(`api: ${NO_USERS_NOTE}`);
  }

  async stop(): Promise<void> {
    // Ends every live stream and the recent-events ring first, so closing does not wait on them.
    stopLive(this.deps.backend);
    await this.closeListeners();
  }

  private async closeListeners(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    this.listening = [];
    await server?.close();
  }

  /**
   * A new `api` section: users and timeouts change in place (sessions of users kept with the same
   * password stay logged in); a change of where or how it listens restarts the listeners.
   */
  async reload(next: ApiConfig): Promise<void> {
    const before = this.config;
    const kept = (name: string) => next.users.some((u) => u.name === name && u.passwordHash === this.users.hashOf(name));
    const dropped = this.sessions.retain(kept);
    if (dropped > 0) this.deps.log.info(`api: ended ${dropped} session(s) of removed users or changed passwords`);
    this.users.replace(next.users);
    this.sessions.setLimits(next.session);
    this.config = next;
    const listenersChanged =
      JSON.stringify(planListeners(before)) !== JSON.stringify(planListeners(next)) ||
      JSON.stringify(before.tls) !== JSON.stringify(next.tls) ||
      before.maxBodyBytes !== next.maxBodyBytes;
    if (listenersChanged && this.server) {
      // The recent-events ring stays: a new listener is no reason to forget what happened.
      await this.closeListeners();
      await this.start();
    }
  }

  status(): ApiStatus {
    return {
      listening: this.listening,
      refused: this.refused,
      ...(this.identity
        ? { tls: { fingerprint: this.identity.fingerprintSha256, source: this.identity.source === 'configured' ? 'configured' : 'selfSigned', validTo: this.identity.validTo } }
        : {}),
      users: this.users.count,
      sessions: this.sessions.count,
      ...(this.users.count === 0 ? { note: NO_USERS_NOTE } : {}),
    };
  }

  /** Every route the server enforces (its own and the table's), for tests and docs. */
  get routes(): readonly Route[] {
    return this.server?.routes ?? [];
  }
}
