// The userspace relay (relayd's relay.c): Tandem accepts each client connection on the pool's
// listen address and forwards it to a host the pool picks. tcp mode splices bytes both ways
// (half-close and resets passed through); http mode balances each request over keep-alive
// connections and adds X-Forwarded-For. With no host to take a connection, tcp mode resets it
// and http mode answers 503 at once: a client never hangs on a dead pool.

import { Agent, createServer as createHttpServer, request, type IncomingMessage, type OutgoingHttpHeaders, type Server as HttpServer, type ServerResponse } from 'node:http';
import { connect, createServer as createTcpServer, type Server, type Socket } from 'node:net';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import { parseListen, type RelayConfig } from './schema.js';

export interface RelayTarget {
  readonly id: string;
  readonly address: string;
  readonly port: number | undefined;
}

/** The pool as the relay sees it: who takes the next connection, and the accounting. */
export interface RelayPool {
  pick(source: string, tried: ReadonlySet<string>): RelayTarget | undefined;
  opened(target: RelayTarget): void;
  closed(target: RelayTarget): void;
  failed(target: RelayTarget, detail: string): void;
}

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

// RFC 9110 section 7.6.1: connection-specific headers a proxy must not forward.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade'];

export class NetRelay implements Relay {
  private server: Server | HttpServer | undefined;
  private listening = false;
  private listenError: string | undefined;
  private stopped = false;
  private retryTimer: TimerHandle | undefined;
  private readonly clients = new Set<Socket>();
  private readonly agents = new Map<string, Agent>();
  private readonly address: string;
  private readonly port: number;
  private readonly family: 4 | 6;
  private readonly counters = { accepted: 0, rejected: 0, noHost: 0, connectFailures: 0, requests: 0 };

  constructor(
    readonly name: string,
    private config: RelayConfig,
    private readonly pool: RelayPool,
    private readonly clock: Clock,
    private readonly log: Logger,
  ) {
    const listen = parseListen(config.listen);
    if (!listen) throw new Error(`relay ${name}: bad listen address ${config.listen}`);
    this.address = listen.address;
    this.port = listen.port;
    this.family = listen.family;
  }

  start(): void {
    this.stopped = false;
    this.tryListen();
  }

  configure(config: RelayConfig): void {
    this.config = { ...config, listen: this.config.listen, mode: this.config.mode };
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
    const server = this.config.mode === 'http' ? this.httpServer() : this.tcpServer();
    this.server = server;
    const failed = (error: NodeJS.ErrnoException) => {
      if (this.server !== server) return;
      this.server = undefined;
      server.close();
      const code = error.code ?? error.message;
      if (code !== this.listenError) {
        const why = code === 'EADDRNOTAVAIL' ? ' (not configured here yet: BACKUP?)' : '';
        this.log.warn(`relay ${this.name}: cannot listen on ${this.config.listen}: ${code}${why}; retrying`);
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
      this.log.info(`relay ${this.name}: listening on ${this.config.listen} (${this.config.mode}, ${this.config.algorithm})`);
    });
  }

  async stop(how: 'drain' | 'cut'): Promise<void> {
    this.stopped = true;
    this.retryTimer?.cancel();
    const server = this.server;
    this.server = undefined;
    this.listening = false;
    if (server) {
      server.close();
      if ('closeIdleConnections' in server) server.closeIdleConnections();
    }
    if (how === 'cut') {
      for (const client of this.clients) client.destroy();
      for (const agent of this.agents.values()) agent.destroy();
    }
  }

  stats(): RelayStats {
    return {
      listen: this.config.listen,
      mode: this.config.mode,
      algorithm: this.config.algorithm,
      listening: this.listening,
      ...(this.listenError !== undefined ? { listenError: this.listenError } : {}),
      clients: this.clients.size,
      ...this.counters,
    };
  }

  /** Counts a new client connection, or resets it when the relay is full. */
  private admit(client: Socket): boolean {
    client.on('error', () => undefined);
    if (this.clients.size >= this.config.maxConnections) {
      this.counters.rejected++;
      reset(client);
      return false;
    }
    this.counters.accepted++;
    this.clients.add(client);
    client.once('close', () => this.clients.delete(client));
    if (this.config.idleTimeoutSeconds > 0) client.setTimeout(this.config.idleTimeoutSeconds * 1000, () => client.destroy());
    return true;
  }

  private tcpServer(): Server {
    return createTcpServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (client) => {
      if (!this.admit(client)) return;
      this.dial(client, clientAddress(client), new Set(), (upstream) => splice(client, upstream, this.config.idleTimeoutSeconds));
    });
  }

  /**
   * Connects to a host the pool picks for `source`; a refused or timed-out connect tries the
   * next host, up to `retries` more. Gives up by resetting the client.
   */
  private dial(client: Socket, source: string, tried: Set<string>, connected: (upstream: Socket) => void): void {
    const target = this.pool.pick(source, tried);
    if (!target || target.port === undefined) {
      if (tried.size === 0) this.counters.noHost++;
      reset(client);
      return;
    }
    tried.add(target.id);
    this.pool.opened(target);
    const upstream = connect({ host: target.address, port: target.port, noDelay: true, allowHalfOpen: true });
    upstream.once('close', () => this.pool.closed(target));
    let ready = false;
    const timer = this.clock.setTimer(this.config.connectTimeoutSeconds * 1000, () =>
      upstream.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })),
    );
    const clientGone = () => {
      if (!ready) upstream.destroy();
    };
    client.once('close', clientGone);
    upstream.once('connect', () => {
      ready = true;
      timer.cancel();
      client.off('close', clientGone);
      if (client.destroyed) return upstream.destroy();
      connected(upstream);
    });
    upstream.once('error', (error: NodeJS.ErrnoException) => {
      if (ready) return;
      timer.cancel();
      client.off('close', clientGone);
      this.counters.connectFailures++;
      this.pool.failed(target, error.code ?? error.message);
      if (client.destroyed) return;
      if (tried.size <= this.config.retries) this.dial(client, source, tried, connected);
      else reset(client);
    });
  }

  private httpServer(): HttpServer {
    const server = createHttpServer({ noDelay: true }, (req, res) => this.request(req, res));
    server.on('connection', (socket: Socket) => {
      // Over the limit: reset before the HTTP parser reads anything.
      this.admit(socket);
    });
    server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => this.upgrade(req, socket, head));
    server.on('clientError', (_error, socket: Socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      else socket.destroy();
    });
    return server;
  }

  private agent(target: RelayTarget): Agent {
    const key = `${target.address}|${target.port}`;
    let agent = this.agents.get(key);
    if (!agent) {
      const idle = this.config.idleTimeoutSeconds * 1000;
      agent = new Agent({ keepAlive: true, maxFreeSockets: 256, scheduling: 'lifo', ...(idle > 0 ? { timeout: idle } : {}) });
      this.agents.set(key, agent);
    }
    return agent;
  }

  private request(req: IncomingMessage, res: ServerResponse): void {
    this.counters.requests++;
    this.forward(req, res, clientAddress(req.socket), new Set());
  }

  private forward(req: IncomingMessage, res: ServerResponse, source: string, tried: Set<string>): void {
    const target = this.pool.pick(source, tried);
    if (!target || target.port === undefined) {
      if (tried.size === 0) {
        this.counters.noHost++;
        return answer(res, 503, `no healthy host in pool ${this.name}\n`);
      }
      return answer(res, 502, `no host of pool ${this.name} accepted the connection\n`);
    }
    tried.add(target.id);
    this.pool.opened(target);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      this.pool.closed(target);
    };
    let connected = false;
    let responded = false;
    const upstream = request({
      host: target.address,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: forwardHeaders(req, source),
      agent: this.agent(target),
      setHost: false,
    });
    upstream.on('socket', (socket: Socket) => {
      if (!socket.connecting) {
        connected = true;
        return;
      }
      const timer = this.clock.setTimer(this.config.connectTimeoutSeconds * 1000, () =>
        upstream.destroy(Object.assign(new Error('connect timed out'), { code: 'ETIMEDOUT' })),
      );
      socket.once('connect', () => {
        connected = true;
        timer.cancel();
      });
      socket.once('close', () => timer.cancel());
    });
    upstream.on('response', (reply: IncomingMessage) => {
      responded = true;
      res.writeHead(reply.statusCode ?? 502, reply.statusMessage, responseHeaders(reply));
      reply.pipe(res);
      reply.on('error', () => res.destroy());
      reply.on('aborted', () => res.destroy());
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      release();
      if (responded || res.headersSent) return void res.destroy();
      if (!connected) {
        this.counters.connectFailures++;
        this.pool.failed(target, error.code ?? error.message);
        // A request without a body can go to the next host; one whose body is on its way cannot.
        if (!hasBody(req) && tried.size <= this.config.retries && !res.destroyed) return this.forward(req, res, source, tried);
      }
      answer(res, 502, `pool ${this.name}: ${error.code ?? error.message}\n`);
    });
    res.once('close', () => {
      release();
      if (!res.writableFinished) upstream.destroy();
    });
    if (hasBody(req)) req.pipe(upstream);
    else upstream.end();
  }

  /** Upgrades (WebSocket and the like) become a spliced TCP connection to one host. */
  private upgrade(req: IncomingMessage, socket: Socket, head: Buffer): void {
    const source = clientAddress(socket);
    this.counters.requests++;
    this.dial(socket, source, new Set(), (upstream) => {
      upstream.write(requestHead(req, source));
      if (head.length > 0) upstream.write(head);
      splice(socket, upstream, this.config.idleTimeoutSeconds);
    });
  }
}

function clientAddress(socket: Socket): string {
  return (socket.remoteAddress ?? '').replace(/^::ffff:/, '');
}

/** Sends an RST rather than a FIN, so the client knows at once it was refused. */
function reset(socket: Socket): void {
  if (socket.destroyed) return;
  if (typeof socket.resetAndDestroy === 'function' && !socket.connecting) socket.resetAndDestroy();
  else socket.destroy();
}

/** Joins two connections: bytes both ways, a FIN passed on as a FIN, a reset as a reset. */
function splice(client: Socket, upstream: Socket, idleSeconds: number): void {
  upstream.on('error', () => undefined);
  client.pipe(upstream);
  upstream.pipe(client);
  const follow = (from: Socket, to: Socket) =>
    from.once('close', (hadError) => {
      if (to.destroyed) return;
      if (hadError) reset(to);
      else to.end();
    });
  follow(client, upstream);
  follow(upstream, client);
  if (idleSeconds > 0) upstream.setTimeout(idleSeconds * 1000, () => upstream.destroy());
  client.resume();
}

function hopHeaders(connection: string | string[] | undefined): Set<string> {
  const named = (Array.isArray(connection) ? connection.join(',') : connection ?? '')
    .split(',')
    .map((h) => h.trim().toLowerCase())
    .filter(Boolean);
  return new Set([...HOP_BY_HOP, ...named]);
}

function forwardHeaders(req: IncomingMessage, source: string): OutgoingHttpHeaders {
  const skip = hopHeaders(req.headers.connection);
  // The body is re-framed by Node: chunked stays chunked, a length stays a length.
  skip.delete('transfer-encoding');
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) if (value !== undefined && !skip.has(name)) headers[name] = value;
  const prior = req.headers['x-forwarded-for'];
  headers['x-forwarded-for'] = prior ? `${prior}, ${source}` : source;
  return headers;
}

function responseHeaders(reply: IncomingMessage): OutgoingHttpHeaders {
  const skip = hopHeaders(reply.headers.connection);
  const headers: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(reply.headers)) if (value !== undefined && !skip.has(name)) headers[name] = value;
  return headers;
}

function hasBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

function requestHead(req: IncomingMessage, source: string): string {
  const lines = [`${req.method} ${req.url} HTTP/${req.httpVersion}`];
  let prior: string | undefined;
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) {
    const name = req.rawHeaders[i]!;
    const value = req.rawHeaders[i + 1]!;
    if (name.toLowerCase() === 'x-forwarded-for') prior = prior ? `${prior}, ${value}` : value;
    else lines.push(`${name}: ${value}`);
  }
  lines.push(`X-Forwarded-For: ${prior ? `${prior}, ${source}` : source}`);
  return lines.join('\r\n') + '\r\n\r\n';
}

function answer(res: ServerResponse, status: number, text: string): void {
  if (res.headersSent || res.destroyed) return void res.destroy();
  res.writeHead(status, { 'Content-Type': 'text/plain', 'Content-Length': Buffer.byteLength(text), Connection: 'close' });
  res.end(text);
}
