// The daemon's end of the control socket. A stale socket file left by a crash is replaced;
// a socket that still answers belongs to a running daemon, and starting a second one fails.

import { chmod, mkdir, unlink } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { parseRequest, type ControlReply, type ControlRequest } from './protocol.js';

export type ControlHandler = (request: ControlRequest) => Promise<ControlReply>;

const MAX_LINE = 64 * 1024;

export class ControlServer {
  private server: Server | undefined;
  private readonly sockets = new Set<Socket>();

  constructor(private readonly path: string, private readonly handler: ControlHandler) {}

  async listen(): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true });
    if (await answers(this.path)) throw new Error(`control socket ${this.path} is in use: is another tandem running?`);
    await unlink(this.path).catch(() => undefined);
    const server = createServer((socket) => this.serve(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    await chmod(this.path, 0o600);
    this.server = server;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.path).catch(() => undefined);
  }

  private serve(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffered = '';
    let chain = Promise.resolve();
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      if (buffered.length > MAX_LINE) {
        socket.end(JSON.stringify({ ok: false, error: 'request too long' }) + '\n');
        return;
      }
      let newline: number;
      while ((newline = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (!line) continue;
        // Replies go out in request order even when a later command finishes first.
        chain = chain.then(() => this.answer(line)).then((reply) => {
          if (!socket.destroyed) socket.write(JSON.stringify(reply) + '\n');
        });
      }
    });
  }

  private async answer(line: string): Promise<ControlReply> {
    const request = parseRequest(line);
    if ('error' in request) return { ok: false, error: request.error };
    try {
      return await this.handler(request);
    } catch (error) {
      return { ok: false, error: (error as Error).message };
    }
  }
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = createConnection(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
}
