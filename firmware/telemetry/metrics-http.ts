// The standalone `/metrics` listener (`telemetry.prometheus.listen`): Prometheus text format
// over plain HTTP/1.1 until the web UI's API exists, which will then mount the same handler.
// GET and HEAD on /metrics only; everything else is 404 or 405.

import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from '../log.js';
import { parseListen } from './listen.js';
import { CONTENT_TYPE, renderPrometheus } from './prometheus.js';
import type { MetricsSnapshot } from './metrics.js';

/** Answers one request; the API server will call this for its own /metrics route. */
export async function serveMetrics(snapshot: () => Promise<MetricsSnapshot>, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0];
  if (path !== '/metrics') {
    res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: try /metrics\n');
    return;
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
    return;
  }
  let body: string;
  try {
    body = renderPrometheus(await snapshot());
  } catch (error) {
    res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end(`metrics failed: ${(error as Error).message}\n`);
    return;
  }
  res.writeHead(200, { 'content-type': CONTENT_TYPE, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export class MetricsListener {
  private server: Server | undefined;

  constructor(
    private readonly listen: string,
    private readonly snapshot: () => Promise<MetricsSnapshot>,
    private readonly log: Logger,
  ) {}

  /** Resolves with the bound address, or rejects with why it could not bind (EADDRINUSE, EADDRNOTAVAIL). */
  async start(): Promise<AddressInfo> {
    const where = parseListen(this.listen);
    if (!where) throw new Error(`telemetry.prometheus.listen: not address:port: ${this.listen}`);
    const server = createServer((req, res) => {
      void serveMetrics(this.snapshot, req, res).catch((error: Error) => {
        this.log.warn(`metrics request failed: ${error.message}`);
        res.destroy();
      });
    });
    // A scraper that stalls must not keep sockets forever on a router with little memory.
    server.requestTimeout = 10_000;
    server.headersTimeout = 5_000;
    server.keepAliveTimeout = 5_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ host: where.host, port: where.port }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    const address = server.address() as AddressInfo;
    this.log.info(`prometheus metrics on http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}/metrics`);
    return address;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
  }
}
