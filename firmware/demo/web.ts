// The demo's web side: one ApiBackend per simulated router (its Daemon's status, commands,
// events and config), so the web UI runs on the simulated cluster exactly as on a real node,
// served by the API's own server on one loopback address per node with the demo routes added.
// Each node's bus outlives its Daemon: a crash and restart keep the page's live stream.

import { randomBytes } from 'node:crypto';
import { access } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { EventBus } from '../events.js';
import type { ApiBackend } from '../api/types.js';
import { SessionStore, Users, hashPassword } from '../api/auth.js';
import { LoginLimiter } from '../api/rate-limit.js';
import { routes, startLive, stopLive } from '../api/routes.js';
import { demoRoutes } from '../api/routes-demo.js';
import { DEFAULT_MAX_BODY_BYTES, DEFAULT_SESSION } from '../api/schema.js';
import { ApiServer } from '../api/server.js';
import { StaticFiles } from '../api/static.js';
import { createLogger, type Logger } from '../log.js';
import { SIM_CONFIG_FILE, type SimCluster } from './cluster.js';

/** The console of one simulated node; a stopped node answers like a daemon that is not there. */
export function demoBackend(cluster: SimCluster, name: string): ApiBackend {
  const node = cluster.node(name);
  const events = new EventBus(() => cluster.clock.now(), createLogger('error', () => undefined));
  cluster.onDaemon((started, daemon) => {
    if (started === node) daemon.events.on((event) => events.emit(event));
  });
  const running = () => (node.daemon?.isRunning ? node.daemon : undefined);
  let downSince = cluster.clock.now();
  cluster.onEvent((event) => {
    if (event.node === node.name && /^(crashed|stopped)/.test(event.text)) downSince = event.at;
  });
  return {
    // The live stream asks for the status on a timer, so a stopped node must still answer: a
    // node whose daemon is not running takes no part in CARP, so every VHID reads INIT from its
    // stop on (a crashed Daemon's own status would still say MASTER).
    status() {
      const daemon = running();
      if (daemon) return daemon.status();
      if (!node.daemon) throw new Error(`${node.name} has not started yet`);
      const last = node.daemon.status();
      const since = new Date(downSince).toISOString();
      return { ...last, uptimeSeconds: 0, carp: last.carp.map((v) => ({ ...v, state: 'INIT' as const, since })) };
    },
    async handle(request) {
      const daemon = running();
      if (!daemon) return { ok: false, error: `${node.name} is not running (demo: start it from the demo panel)` };
      return daemon.handle(request);
    },
    events,
    config: {
      // The simulated node's config file (cluster.ts writes it before the first start).
      read: async () => ({ path: SIM_CONFIG_FILE, text: (await node.files.read(SIM_CONFIG_FILE)) ?? stringify(node.config) }),
    },
    // The running Daemon's, so an apply that is not confirmed reverts as on a real node.
    get configApply() {
      return running()?.configApply;
    },
    firewallPolicy: () => running()?.firewall.policy,
    clock: cluster.clock,
  };
}

export const DEMO_USER = 'demo';

export interface DemoWebOptions {
  /** Port for every node's console (default 8080); a port in use falls back to one the kernel picks. */
  port?: number;
  /** The built UI (`dist/ui/`); default the `ui` directory next to the running bundle. */
  uiDir?: string;
  /** The demo user's password; default a random one, printed at start. */
  password?: string;
  log?: Logger;
}

export interface DemoWeb {
  user: string;
  password: string;
  /** Each node's console, by node name. */
  urls: Record<string, string>;
  /** Whether the UI's files were found (without them only the API answers). */
  ui: boolean;
  close(): Promise<void>;
}

/**
 * Serves each simulated node's console on its own loopback address (fw-a on 127.0.0.1, fw-b on
 * 127.0.0.2, ...): cookies are kept per host, so each console has its own session as on real
 * routers, and the demo panel links from one to the next. Plain HTTP, loopback only.
 */
export async function startDemoWeb(cluster: SimCluster, options: DemoWebOptions = {}): Promise<DemoWeb> {
  const log = options.log ?? createLogger('warn', (line) => process.stdout.write(line + '\n'));
  const password = options.password ?? randomBytes(9).toString('base64url');
  const users = new Users([{ name: DEMO_USER, passwordHash: await hashPassword(password) }]);
  const uiDir = options.uiDir ?? fileURLToPath(new URL('./ui/', import.meta.url));
  const ui = await access(join(uiDir, 'index.html')).then(() => true, () => false);
  const files = ui ? new StaticFiles(uiDir) : undefined;
  const names = [...cluster.nodes.keys()];
  const urls: Record<string, string> = {};
  const servers: { server: ApiServer; backend: ApiBackend }[] = [];
  try {
    for (const [index, name] of names.entries()) {
      const backend = demoBackend(cluster, name);
      // As the daemon's API service does: the recent-events ring holds events from the start,
      // not from the first page that asks for them.
      startLive(backend);
      const server = new ApiServer({
        routes: [...routes, ...demoRoutes(cluster, { self: name, urls })],
        backend,
        users,
        sessions: new SessionStore(cluster.clock, DEFAULT_SESSION),
        limiter: new LoginLimiter(cluster.clock),
        log: log.child({ node: name, part: 'api' }),
        maxBodyBytes: DEFAULT_MAX_BODY_BYTES,
        ...(files ? { files } : {}),
      });
      servers.push({ server, backend });
      const host = `127.0.0.${index + 1}`;
      const port = options.port ?? 8080;
      const listening = await server.listen({ host, port }).catch((error: NodeJS.ErrnoException) => {
        // A port in use: one the kernel picks. No 127.0.0.2 (systems that configure only
        // 127.0.0.1): 127.0.0.1 on another port, where the consoles then share one cookie jar.
        if (error.code === 'EADDRNOTAVAIL') return server.listen({ host: '127.0.0.1', port: 0 });
        if (error.code !== 'EADDRINUSE' || port === 0) throw error;
        return server.listen({ host, port: 0 });
      });
      urls[name] = listening.url;
    }
  } catch (error) {
    await Promise.all(servers.map(({ server }) => server.close()));
    throw error;
  }
  return {
    user: DEMO_USER,
    password,
    urls,
    ui,
    async close() {
      for (const { backend } of servers) stopLive(backend);
      await Promise.all(servers.map(({ server }) => server.close()));
    },
  };
}
