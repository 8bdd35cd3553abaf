// A managed pool host for the power end-to-end test, run inside a lab host:
//   node --import tsx test/netns/power-host.ts NAME MAC [PORT]
// Serves HTTP on PORT (default 8080: /health and a JSON line naming the host) while "awake".
// SIGUSR1 is its sleep: the server closes and every open connection is cut, as a suspend
// would (the sshd forced command sends it). A byte-exact wake-on-LAN magic packet for MAC on
// UDP 0.0.0.0:9 wakes it: the server listens again. Prints one line per event:
// "ready", "parked", "magic <bytes> <ok|wrong-mac|malformed> <from>", "woken".

import { createSocket } from 'node:dgram';
import { createServer, type Server } from 'node:http';
import type { Socket } from 'node:net';

const [name, macText, portText] = process.argv.slice(2);
if (!name || !macText) throw new Error('usage: power-host.ts NAME MAC [PORT]');
const port = Number(portText ?? '8080');
const mac = Buffer.from(macText.split(':').map((b) => parseInt(b, 16)));
const expected = Buffer.concat([Buffer.alloc(6, 0xff), ...Array.from({ length: 16 }, () => mac)]);

const sockets = new Set<Socket>();
let server: Server | undefined;

function listen(): Promise<void> {
  const s = createServer((req, res) => {
    if (req.url === '/health') res.end(`ok ${name}\n`);
    else res.end(`${JSON.stringify({ name })}\n`);
  });
  s.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
  });
  server = s;
  return new Promise((resolve) => s.listen(port, '0.0.0.0', () => resolve()));
}

function sleep(): void {
  if (!server) return;
  server.close();
  server = undefined;
  for (const socket of sockets) socket.destroy();
  console.log('parked');
}

const wol = createSocket('udp4');
wol.on('message', (packet, from) => {
  // The 102-byte form only: this host has no SecureOn password.
  const verdict = packet.length === 102 && packet.equals(expected) ? 'ok' : packet.length === 102 && packet.subarray(0, 6).equals(expected.subarray(0, 6)) ? 'wrong-mac' : 'malformed';
  console.log(`magic ${packet.length} ${verdict} ${from.address}`);
  if (verdict === 'ok' && !server) void listen().then(() => console.log('woken'));
});

process.on('SIGUSR1', sleep);
process.on('SIGTERM', () => process.exit(0));
wol.bind(9, '0.0.0.0', () => {
  void listen().then(() => console.log('ready'));
});
