// The CLI's end of the control socket: send one request, wait for its reply line.

import { createConnection } from 'node:net';
import type { ControlReply, ControlRequest } from './protocol.js';

export function sendControl(path: string, request: ControlRequest, timeoutMs = 5000): Promise<ControlReply> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(path);
    let buffered = '';
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no reply from the daemon on ${path} within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify(request) + '\n'));
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      const newline = buffered.indexOf('\n');
      if (newline < 0) return;
      clearTimeout(timer);
      socket.end();
      try {
        resolve(JSON.parse(buffered.slice(0, newline)) as ControlReply);
      } catch {
        reject(new Error(`the daemon sent a reply that is not JSON`));
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const hint =
        error.code === 'ENOENT' || error.code === 'ECONNREFUSED'
          ? `no tandem daemon is listening on ${path} (is it running? use --control PATH)`
          : `cannot reach the daemon on ${path}: ${error.code ?? error.message}`;
      reject(new Error(hint));
    });
  });
}
