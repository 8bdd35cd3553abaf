// A backend for the balancer's namespace tests and benchmark, run inside a lab host:
//   node --import tsx test/netns/balancer-backend.ts NAME [--http PORT] [--https PORT --cert F --key F]
//        [--banner PORT] [--silent PORT]
// HTTP(S): /static (the same page everywhere, for digests), /health, /status/N, /slow?ms=N
// (streams for N ms), anything else a JSON line naming the backend and the X-Forwarded-For it
// got. --banner: "220 NAME ready", then "+PONG" to each PING. --silent: accepts, never answers.
// Prints "ready" once every port listens; exits on SIGTERM.

import { readFileSync } from 'node:fs';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import { createServer as createTcp, type Server, type Socket } from 'node:net';
import { pathToFileURL } from 'node:url';

export const STATIC_PAGE = 'tandem static health page\n';

// Imported by a test for STATIC_PAGE: only run as a program.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();

async function main(): Promise<void> {
  const [name, ...rest] = process.argv.slice(2);
  if (!name) throw new Error('usage: balancer-backend.ts NAME [--http PORT] ...');
  const options = new Map<string, string>();
  for (let i = 0; i + 1 < rest.length; i += 2) options.set(rest[i]!.replace(/^--/, ''), rest[i + 1]!);

  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  };

  function handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://backend');
    res.setHeader('X-Backend', name!);
    if (url.pathname === '/static') {
      res.end(STATIC_PAGE);
    } else if (url.pathname === '/health') {
      res.end(`ok ${name}\n`);
    } else if (url.pathname.startsWith('/status/')) {
      res.writeHead(Number(url.pathname.slice(8)) || 500);
      res.end(`status from ${name}\n`);
    } else if (url.pathname === '/slow') {
      // N ms of output in 10 chunks: a long download to drain.
      const total = Number(url.searchParams.get('ms') ?? '2000');
      res.writeHead(200, { 'Content-Type': 'text/plain' });
      res.write(`${name} slow start\n`);
      let sent = 0;
      const timer = setInterval(() => {
        sent++;
        res.write(`${name} chunk ${sent}\n`);
        if (sent === 10) {
          clearInterval(timer);
          res.end(`${name} slow end\n`);
        }
      }, total / 10);
      res.on('close', () => clearInterval(timer));
    } else {
      req.resume();
      req.on('end', () => {
        res.setHeader('Content-Type', 'application/json');
        res.end(JSON.stringify({ name, xff: req.headers['x-forwarded-for'] ?? null, remote: req.socket.remoteAddress }) + '\n');
      });
    }
  }

  const servers: Server[] = [];
  const listening: Promise<void>[] = [];
  function listen(server: Server, port: string | undefined): void {
    if (!port) return;
    servers.push(server);
    server.on('connection', track);
    listening.push(new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(Number(port), '::', () => resolve());
    }));
  }

  listen(createHttp({ keepAlive: true }, handle), options.get('http'));
  if (options.get('https')) {
    listen(createHttps({ cert: readFileSync(options.get('cert')!), key: readFileSync(options.get('key')!) }, handle), options.get('https'));
  }
  listen(
    createTcp((socket) => {
      socket.write(`220 ${name} ready\r\n`);
      socket.setEncoding('latin1');
      socket.on('data', (text: string) => {
        if (text.includes('PING')) socket.write('+PONG\r\n');
      });
    }),
    options.get('banner'),
  );
  listen(createTcp(() => undefined), options.get('silent'));

  await Promise.all(listening);
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    for (const server of servers) server.close();
    for (const socket of sockets) socket.destroy();
    process.exit(0);
  });
}
