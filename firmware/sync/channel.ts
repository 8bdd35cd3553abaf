// The authenticated channel between peers: one JSON request and one JSON reply per TLS
// connection. Either mutual TLS 1.3 where each side accepts exactly the certificate pinned by
// fingerprint (no CA), or TLS 1.2 ECDHE-PSK (RFC 5489) with one pre-shared key and the node name
// as PSK identity; both keep the config (it holds passwords) confidential, not only signed.

import { createServer, connect, type Server, type TLSSocket } from 'node:tls';
import { normalizeFingerprint } from './config-schema.js';

/** How a node proves itself and checks the other side. */
export type ChannelAuth =
  | { kind: 'psk'; key: Buffer; identity: string; peers: readonly string[] }
  | { kind: 'certificate'; certPem: string; keyPem: string; pinned: ReadonlyMap<string, string> };

/** Why the listening side refused a connection; also its status counter names. */
export type Refusal = 'badKey' | 'unknownIdentity' | 'badCertificate' | 'badRequest';

/** What a request came to, seen from the side that sent it. */
export type ChannelOutcome = 'unreachable' | 'auth-failed' | 'protocol-error';

export type ChannelResult = { ok: true; reply: unknown } | { ok: false; outcome: ChannelOutcome; detail: string };

export interface ChannelTarget {
  name: string;
  address: string;
  port: number;
  fingerprint?: string | undefined;
}

const PSK_CIPHERS = 'ECDHE-PSK-CHACHA20-POLY1305:ECDHE-PSK-AES256-CBC-SHA384';
const MAX_MESSAGE = 4 * 1024 * 1024;

export type RequestHandler = (from: string, request: unknown) => Promise<unknown>;

export class ChannelServer {
  private server: Server | undefined;
  private readonly counted = new WeakSet<object>();
  private readonly open = new Set<TLSSocket>();

  constructor(
    private readonly address: string,
    private readonly port: number,
    private readonly auth: ChannelAuth,
    private readonly handler: RequestHandler,
    private readonly onRefused: (reason: Refusal, detail: string) => void,
  ) {}

  async listen(): Promise<void> {
    const auth = this.auth;
    const server =
      auth.kind === 'psk'
        ? createServer({
            ciphers: PSK_CIPHERS,
            minVersion: 'TLSv1.2',
            maxVersion: 'TLSv1.2',
            pskCallback: (socket, identity) => {
              if (auth.peers.includes(identity)) {
                // Node exposes the identity only here; serve() reads it back from the socket.
                (socket as TLSSocket & { tandemIdentity?: string }).tandemIdentity = identity;
                return auth.key;
              }
              this.refuse(socket, 'unknownIdentity', `PSK identity ${JSON.stringify(identity)} is no configured peer`);
              return null;
            },
          })
        : createServer({ cert: auth.certPem, key: auth.keyPem, requestCert: true, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    server.on('tlsClientError', (error: NodeJS.ErrnoException, socket) => {
      if (this.counted.has(socket)) return;
      const reason: Refusal = auth.kind === 'psk' ? 'badKey' : 'badCertificate';
      this.refuse(socket, reason, `${socket.remoteAddress ?? '?'}: ${error.code ?? error.message}`);
    });
    server.on('secureConnection', (socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.address, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // A half-closed TLS socket can stay counted by the server without holding the loop, and
    // close() would then never call back: end every connection we still know of.
    for (const socket of this.open) socket.destroy();
    this.open.clear();
    await closed;
  }

  private refuse(socket: object, reason: Refusal, detail: string): void {
    this.counted.add(socket);
    this.onRefused(reason, detail);
  }

  private serve(socket: TLSSocket): void {
    this.open.add(socket);
    socket.once('close', () => this.open.delete(socket));
    socket.setTimeout(30_000, () => socket.destroy());
    socket.on('error', () => undefined);
    let from: string;
    if (this.auth.kind === 'psk') {
      from = (socket as TLSSocket & { tandemIdentity?: string }).tandemIdentity ?? '?';
    } else {
      const presented = socket.getPeerCertificate();
      const fingerprint = presented?.fingerprint256 ? normalizeFingerprint(presented.fingerprint256) : undefined;
      const name = fingerprint ? this.auth.pinned.get(fingerprint) : undefined;
      if (!name) {
        const detail = fingerprint ? `certificate ${fingerprint} from ${socket.remoteAddress ?? '?'} is not pinned` : `no client certificate from ${socket.remoteAddress ?? '?'}`;
        this.refuse(socket, 'badCertificate', detail);
        socket.end(JSON.stringify({ refused: `certificate not accepted: ${detail}` }) + '\n', () => socket.destroy());
        return;
      }
      from = name;
    }
    readLine(socket, (line) => {
      let request: unknown;
      try {
        request = JSON.parse(line);
      } catch {
        this.onRefused('badRequest', `${from}: request is not JSON`);
        socket.end(JSON.stringify({ error: 'request is not JSON' }) + '\n');
        return;
      }
      this.handler(from, request).then(
        (reply) => socket.end(JSON.stringify(reply) + '\n', () => socket.destroy()),
        (error: Error) => socket.end(JSON.stringify({ error: error.message }) + '\n', () => socket.destroy()),
      );
    }, () => {
      this.onRefused('badRequest', `${from}: request too long`);
      socket.destroy();
    });
  }
}

/** Sends one request to a peer and waits for its one reply. */
export function channelRequest(target: ChannelTarget, auth: ChannelAuth, request: unknown, timeoutMs: number, signal?: AbortSignal): Promise<ChannelResult> {
  return new Promise((resolve) => {
    let settled = false;
    const onAbort = () => done({ ok: false, outcome: 'unreachable', detail: 'stopped' });
    const done = (result: ChannelResult) => {
      if (settled) return;
      settled = true;
      // One signal serves every request of a service's life: no listener may stay behind.
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    if (auth.kind === 'certificate' && !target.fingerprint) {
      resolve({ ok: false, outcome: 'auth-failed', detail: `no fingerprint pinned for ${target.name} (sync.config.peers[].fingerprint)` });
      return;
    }
    const socket =
      auth.kind === 'psk'
        ? connect({
            host: target.address,
            port: target.port,
            ciphers: PSK_CIPHERS,
            minVersion: 'TLSv1.2',
            maxVersion: 'TLSv1.2',
            pskCallback: () => ({ psk: auth.key, identity: auth.identity }),
            checkServerIdentity: () => undefined,
          })
        : connect({
            host: target.address,
            port: target.port,
            cert: auth.certPem,
            key: auth.keyPem,
            minVersion: 'TLSv1.3',
            rejectUnauthorized: false,
            checkServerIdentity: () => undefined,
          });
    // A daemon shutting down does not wait out a peer that does not answer.
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
    socket.setTimeout(timeoutMs, () => done({ ok: false, outcome: 'unreachable', detail: `no answer from ${target.address}:${target.port} within ${timeoutMs} ms` }));
    socket.on('error', (error: NodeJS.ErrnoException) => {
      const tls = error.code?.startsWith('ERR_SSL') === true;
      done({ ok: false, outcome: tls ? 'auth-failed' : 'unreachable', detail: `${target.address}:${target.port}: ${error.code ?? error.message}` });
    });
    socket.once('secureConnect', () => {
      if (auth.kind === 'certificate') {
        const presented = socket.getPeerCertificate();
        const fingerprint = presented?.fingerprint256 ? normalizeFingerprint(presented.fingerprint256) : undefined;
        const wanted = normalizeFingerprint(target.fingerprint ?? '');
        if (!fingerprint || fingerprint !== wanted) {
          done({ ok: false, outcome: 'auth-failed', detail: `${target.name} presented certificate ${fingerprint ?? '(none)'}, not the pinned ${wanted}` });
          return;
        }
      }
      socket.write(JSON.stringify(request) + '\n');
    });
    readLine(socket, (line) => {
      let reply: unknown;
      try {
        reply = JSON.parse(line);
      } catch {
        done({ ok: false, outcome: 'protocol-error', detail: 'reply is not JSON' });
        return;
      }
      const refused = (reply as { refused?: unknown } | null)?.refused;
      if (typeof refused === 'string') done({ ok: false, outcome: 'auth-failed', detail: `${target.name} refused us: ${refused}` });
      else done({ ok: true, reply });
    }, () => done({ ok: false, outcome: 'protocol-error', detail: 'reply too long' }));
    socket.on('end', () => done({ ok: false, outcome: 'protocol-error', detail: `${target.name} closed the connection without a reply` }));
  });
}

function readLine(socket: TLSSocket, onLine: (line: string) => void, onTooLong: () => void): void {
  const chunks: Buffer[] = [];
  let size = 0;
  const onData = (chunk: Buffer) => {
    const newline = chunk.indexOf(10);
    if (newline < 0) {
      chunks.push(chunk);
      size += chunk.length;
      if (size > MAX_MESSAGE) {
        socket.off('data', onData);
        onTooLong();
      }
      return;
    }
    chunks.push(chunk.subarray(0, newline));
    socket.off('data', onData);
    onLine(Buffer.concat(chunks).toString('utf8'));
  };
  socket.on('data', onData);
}
