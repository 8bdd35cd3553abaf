// Serves a test device's request handler (the same `(exchange) => answer` shape the in-memory
// FakeHttpClient takes) over real node:http or node:https on loopback, for the services tests;
// and a self-signed certificate made by openssl for the HTTPS ones.

import { execFile } from 'node:child_process';
import { createServer as createHttp, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttps } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { readFile } from 'node:fs/promises';
import type { FakeHttpAnswer, FakeHttpExchange } from '../../firmware/power/http.js';

export type Handler = (exchange: FakeHttpExchange) => FakeHttpAnswer | Promise<FakeHttpAnswer>;

export interface Served {
  /** `http://127.0.0.1:PORT` or `https://...` */
  origin: string;
  /** `127.0.0.1:PORT` */
  address: string;
  port: number;
  close(): Promise<void>;
}

export async function serve(handler: Handler, tls?: { key: string; cert: string }): Promise<Served> {
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k] = Array.isArray(v) ? v.join(', ') : v;
      const exchange: FakeHttpExchange = { method: req.method ?? 'GET', url: new URL(req.url ?? '/', 'http://device'), headers, body: Buffer.concat(chunks).toString('utf8') };
      Promise.resolve(handler(exchange)).then(
        (answer) => {
          if (answer === 'unreachable') return void res.socket?.destroy();
          res.writeHead(answer.status, answer.headers ?? {});
          res.end(answer.body ?? '');
        },
        (error: Error) => {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.end(String(error.stack));
        },
      );
    });
  };
  const server = tls ? createHttps({ key: tls.key, cert: tls.cert }, listener) : createHttp(listener);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`,
    address: `127.0.0.1:${port}`,
    port,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}

/** A self-signed EC certificate for 127.0.0.1 (its own CA), written as key.pem and cert.pem in `dir`. */
export async function selfSigned(dir: string): Promise<{ key: string; cert: string; certFile: string }> {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  await promisify(execFile)('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
    '-subj', '/CN=bmc.test', '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', keyFile, '-out', certFile,
  ]);
  return { key: await readFile(keyFile, 'utf8'), cert: await readFile(certFile, 'utf8'), certFile };
}
