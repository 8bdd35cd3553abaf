// The userspace relay (relayd's relay.c): Tandem accepts each client connection on the pool's
// listen address and forwards it to a host the pool picks. tcp mode splices bytes both ways
// (half-close and resets passed through, relay-tcp.ts); http mode balances each request over
// keep-alive connections and adds X-Forwarded-For (relay-http.ts). With no host to take a
// connection, tcp mode resets it and http mode answers 503 at once: a client never hangs on a
// dead pool.

import { createServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import { BackendPool } from './backend-pool.js';
import { IdleSweep } from './relay-idle.js';
import { HttpSession } from './relay-http.js';
import { adopt, clientAddress, dial, ReadBuffer, reset, splice, type RelayContext, type RelayPool } from './relay-tcp.js';
import { parseListen, type RelayConfig } from './schema.js';

export type { RelayPool, RelayTarget } from './relay-tcp.js';

export interface RelayStats {
  listen: string;
  mode: 'tcp' | 'http';
  algorithm: string;
  listening: boolean;
  listenError?: string;
  /** Client connections open now. */
  clients: number;
  accepted: number;
  /** Reset because `maxConnections` client connections were open. */
  rejected: number;
  /** Reset (tcp) or answered 503 (http) because no host could take them. */
  noHost: number;
  /** Connects to a host that failed (refused, timed out); each tried the next host. */
  connectFailures: number;
  /** http mode: requests forwarded. */
  requests: number;
}

export interface Relay {
  start(): void;
  /** Stops accepting; `drain` lets open connections finish, `cut` closes them. */
  stop(how: 'drain' | 'cut'): Promise<void>;
  /** The listen address may have appeared (a CARP transition): try to listen now. */
  retryListen(): void;
  /** Takes new limits and timeouts; `listen` and `mode` stay as they were opened. */
  configure(config: RelayConfig): void;
  stats(): RelayStats;
}

export interface RelayPort {
  open(pool: string, config: RelayConfig, target: RelayPool, log: Logger): Relay;
}

/** How long before listening is tried again while the address is missing (BACKUP node). */
export const LISTEN_RETRY_MS = 1000;

export class NetRelays implements RelayPort {
  constructor(private readonly clock: Clock) {}
  open(pool: string, config: RelayConfig, target: RelayPool, log: Logger): Relay {
    return new NetRelay(pool, config, target, this.clock, log);
  }
}

export class NetRelay implements Relay, RelayContext {
  private server: Server | undefined;
  private listening = false;
  private listenError: string | undefined;
  private stopped = false;
  private retryTimer: TimerHandle | undefined;
  private readonly clients = new Set<Socket>();
  private readonly sessions = new Set<HttpSession>();
  private readonly backends: BackendPool;
  private readonly address: string;
  private readonly port: number;
  private readonly family: 4 | 6;
  readonly counters = { accepted: 0, rejected: 0, noHost: 0, connectFailures: 0, requests: 0 };
  readonly reads = new ReadBuffer();
  readonly idle: IdleSweep;

  constructor(
    readonly name: string,
    private current: RelayConfig,
    readonly pool: RelayPool,
    readonly clock: Clock,
    private readonly log: Logger,
  ) {
    const listen = parseListen(current.listen);
    if (!listen) throw new Error(`relay ${name}: bad listen address ${current.listen}`);
    this.address = listen.address;
    this.port = listen.port;
    this.family = listen.family;
    this.idle = new IdleSweep(clock, current.idleTimeoutSeconds * 1000);
    this.backends = new BackendPool(clock, this.idle, this.reads);
  }

  get config(): RelayConfig {
    return this.current;
  }

  start(): void {
    this.stopped = false;
    this.tryListen();
  }

  configure(config: RelayConfig): void {
    this.current = { ...config, listen: this.current.listen, mode: this.current.mode };
    this.idle.configure(config.idleTimeoutSeconds * 1000);
  }

  retryListen(): void {
    if (this.stopped || this.listening || this.server) return;
    this.retryTimer?.cancel();
    this.tryListen();
  }

  // A relay on a CARP address can bind only where the address is configured, i.e. on the
  // MASTER. Until then it retries; once bound, the socket stays bound through BACKUP spells.
  private tryListen(): void {
    if (this.stopped || this.listening || this.server) return;
    // Paused on accept: nothing is read before adopt() re-wraps the connection.
    const server = createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) =>
      this.current.mode === 'http' ? this.acceptHttp(client) : this.acceptTcp(client),
    );
    this.server = server;
    const failed = (error: NodeJS.ErrnoException) => {
      if (this.server !== server) return;
      this.server = undefined;
      server.close();
      const code = error.code ?? error.message;
      if (code !== this.listenError) {
        const why = code === 'EADDRNOTAVAIL' ? ' (not configured here yet: BACKUP?)' : '';
        this.log.warn(`relay ${this.name}: cannot listen on ${this.current.listen}: ${code}${why}; retrying`);
      }
      this.listenError = code;
      if (!this.stopped) this.retryTimer = this.clock.setTimer(LISTEN_RETRY_MS, () => this.tryListen());
    };
    server.once('error', failed);
    server.listen({ host: this.address, port: this.port, ipv6Only: this.family === 6, backlog: 511 }, () => {
      server.off('error', failed);
      server.on('error', (error: NodeJS.ErrnoException) => this.log.error(`relay ${this.name}: ${error.code ?? error.message}`));
      this.listening = true;
      this.listenError = undefined;
      this.log.info(`relay ${this.name}: listening on ${this.current.listen} (${this.current.mode}, ${this.current.algorithm})`);
    });
  }

  async stop(how: 'drain' | 'cut'): Promise<void> {
    this.stopped = true;
    this.retryTimer?.cancel();
    const server = this.server;
    this.server = undefined;
    this.listening = false;
    server?.close();
    // Idle keep-alive connections close now; busy ones after their reply (http) or when done (tcp).
    for (const session of this.sessions) session.drain();
    this.backends.closeIdle();
    if (how === 'cut') for (const client of this.clients) client.destroy();
  }

  stats(): RelayStats {
    return {
      listen: this.current.listen,
      mode: this.current.mode,
      algorithm: this.current.algorithm,
      listening: this.listening,
      ...(this.listenError !== undefined ? { listenError: this.listenError } : {}),
      clients: this.clients.size,
      ...this.counters,
    };
  }

  /** Counts a new client connection, or resets it when the relay is full. */
  private admit(client: Socket): boolean {
    client.on('error', () => undefined);
    if (this.clients.size >= this.current.maxConnections) {
      this.counters.rejected++;
      reset(client);
      return false;
    }
    this.counters.accepted++;
    this.clients.add(client);
    client.once('close', () => {
      this.clients.delete(client);
      this.idle.unwatch(client);
    });
    this.idle.watch(client, () => client.destroy());
    return true;
  }

  private acceptTcp(accepted: Socket): void {
    // The client's bytes go to the host once connected; until then the client is paused.
    let upstream: Socket | undefined;
    const client = adopt(
      accepted,
      this.reads.onread((chunk) => {
        if (upstream && !upstream.write(chunk)) client.pause();
      }),
    );
    if (!this.admit(client)) return;
    const reads = client === accepted ? 'events' : 'onread';
    dial(this, client, clientAddress(client), new Set(), (connected) => {
      upstream = connected;
      splice(client, connected, reads);
    });
  }

  private acceptHttp(accepted: Socket): void {
    let session: HttpSession | undefined;
    const client = adopt(
      accepted,
      this.reads.onread((chunk) => session?.clientData(chunk)),
    );
    // Over the limit: reset before anything is read.
    if (!this.admit(client)) return;
    session = new HttpSession(this, this.backends, client, clientAddress(client), client === accepted ? 'events' : 'onread');
    this.sessions.add(session);
    client.once('close', () => this.sessions.delete(session));
  }
}
