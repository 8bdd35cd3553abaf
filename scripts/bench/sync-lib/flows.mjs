// Traffic for the conntrackd failover lab (run with node inside a namespace): a server that pushes
// (a TCP stream at 50 Hz, a UDP stream to whoever said hello, 1-byte heartbeats to many idle TCP
// connections) and clients that only read and report, once per 100 ms, as JSON lines on stdout.
// Server-push on purpose: without state sync it cannot recover (reference/conntrackd.md, pitfall 7).

import { createSocket } from 'node:dgram';
import { connect, createServer } from 'node:net';

const [mode, ...args] = process.argv.slice(2);
const out = (value) => process.stdout.write(JSON.stringify(value) + '\n');

if (mode === 'server') {
  const [tcpPort, udpPort, heartbeatMs = '1000'] = args.slice(0, 3).map(Number);
  // 'v6' as the 4th argument: listen on :: (both families) instead of 0.0.0.0.
  const any = args[3] === 'v6' ? '::' : '0.0.0.0';
  const streams = new Set();
  const server = createServer((socket) => {
    socket.setNoDelay(true);
    socket.on('error', () => undefined);
    // The first byte the client sends says which kind: 's' a 50 Hz stream, 'h' a heartbeat.
    socket.once('data', (first) => {
      // 'c': one byte and close, the churn of short connections.
      if (first[0] === 0x63) return void socket.end('x');
      const stream = first[0] === 0x73;
      const timer = setInterval(() => socket.write(stream ? Buffer.alloc(64, 0x41) : Buffer.from('h')), stream ? 20 : heartbeatMs);
      streams.add(timer);
      socket.on('close', () => clearInterval(timer));
    });
  });
  server.maxConnections = 200_000;
  server.listen(tcpPort, any);
  const udp = createSocket(any === '::' ? 'udp6' : 'udp4');
  const peers = new Set();
  udp.on('message', (_msg, rinfo) => {
    const key = `${rinfo.address}:${rinfo.port}`;
    if (peers.has(key)) return;
    peers.add(key);
    setInterval(() => udp.send(Buffer.alloc(64, 0x42), rinfo.port, rinfo.address), 20);
  });
  udp.bind(udpPort, any, () => out({ listening: true }));
} else if (mode === 'client') {
  // One 50 Hz TCP stream and one UDP stream.
  const [host, tcpPort, udpPort] = [args[0], Number(args[1]), Number(args[2])];
  // MaxGap: the longest silence between two arrivals, i.e. the outage a failover caused.
  const state = { tcpBytes: 0, tcpLastAt: 0, tcpMaxGap: 0, tcpError: null, tcpClosed: false, udpCount: 0, udpLastAt: 0, udpMaxGap: 0 };
  const socket = connect({ host, port: tcpPort }, () => socket.write('s'));
  socket.on('data', (chunk) => {
    const now = Date.now();
    if (state.tcpLastAt) state.tcpMaxGap = Math.max(state.tcpMaxGap, now - state.tcpLastAt);
    state.tcpBytes += chunk.length;
    state.tcpLastAt = now;
  });
  socket.on('error', (error) => (state.tcpError = error.code ?? error.message));
  socket.on('close', () => (state.tcpClosed = true));
  const udp = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  udp.on('message', () => {
    const now = Date.now();
    if (state.udpLastAt) state.udpMaxGap = Math.max(state.udpMaxGap, now - state.udpLastAt);
    state.udpCount++;
    state.udpLastAt = now;
  });
  udp.send(Buffer.from('hello'), udpPort, host);
  setInterval(() => out(state), 100);
} else if (mode === 'many') {
  // COUNT idle TCP connections, each getting the server's heartbeat; opened RATE per second.
  const [host, tcpPort, count, rate = '2000'] = [args[0], Number(args[1]), Number(args[2]), Number(args[3] ?? 2000)];
  const lastAt = new Float64Array(count);
  const errors = new Uint8Array(count);
  let opened = 0;
  let connected = 0;
  const open = (i) => {
    const socket = connect({ host, port: tcpPort }, () => {
      connected++;
      socket.write('h');
    });
    socket.on('data', () => (lastAt[i] = Date.now()));
    socket.on('error', () => (errors[i] = 1));
    socket.on('close', () => (errors[i] = errors[i] || 2));
  };
  const batch = Math.max(1, Math.round(Number(rate) / 10));
  const opener = setInterval(() => {
    for (let k = 0; k < batch && opened < count; k++) open(opened++);
    if (opened >= count) clearInterval(opener);
  }, 100);
  // On "report SINCE" on stdin: how many connections heard from the server after SINCE.
  process.stdin.setEncoding('utf8').on('data', (text) => {
    for (const line of text.split('\n')) {
      const match = /^report (\d+)/.exec(line);
      if (!match) continue;
      const since = Number(match[1]);
      let after = 0;
      let failed = 0;
      for (let i = 0; i < count; i++) {
        if (lastAt[i] > since) after++;
        if (errors[i]) failed++;
      }
      out({ report: since, count, connected, after, failed });
    }
  });
  setInterval(() => out({ opened, connected }), 500);
} else if (mode === 'udpflood') {
  // COUNT distinct UDP flows (one datagram each, destination ports 10000-59999, one socket per
  // source address) at RATE per second: cheap tracked connections for the sync bench.
  const [host, count, rate, sources] = [args[0], Number(args[1]), Number(args[2]), args[3].split(',')];
  const sockets = await Promise.all(sources.map((address) => new Promise((resolve) => {
    const socket = createSocket('udp4');
    socket.bind(0, address, () => resolve(socket));
  })));
  const payload = Buffer.from('x');
  const started = Date.now();
  let sent = 0;
  while (sent < count) {
    const due = Math.min(count, Math.floor(((Date.now() - started) / 1000) * rate) + 1);
    const sends = [];
    for (; sent < due; sent++) {
      const socket = sockets[Math.floor(sent / 50000) % sockets.length];
      sends.push(new Promise((resolve) => socket.send(payload, 10000 + (sent % 50000), host, resolve)));
    }
    await Promise.all(sends);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  out({ sent, ms: Date.now() - started });
  process.exit(0);
} else if (mode === 'churn') {
  // Short TCP connections at RATE per second for SECONDS: connect, one byte from the server, close.
  const [host, tcpPort, rate, seconds] = [args[0], Number(args[1]), Number(args[2]), Number(args[3])];
  let done = 0;
  let failed = 0;
  const started = Date.now();
  let opened = 0;
  const timer = setInterval(() => {
    const due = Math.min(rate * seconds, Math.floor(((Date.now() - started) / 1000) * rate));
    for (; opened < due; opened++) {
      const socket = connect({ host, port: tcpPort }, () => socket.write('c'));
      socket.on('data', () => socket.end());
      socket.on('error', () => failed++);
      socket.on('close', () => done++);
    }
    if (opened >= rate * seconds) {
      clearInterval(timer);
      setTimeout(() => {
        out({ opened, done, failed, ms: Date.now() - started });
        process.exit(0);
      }, 2000);
    }
  }, 10);
} else {
  process.stderr.write('usage: flows.mjs server TCP UDP [HEARTBEAT_MS] | client HOST TCP UDP | many HOST TCP COUNT [RATE] | udpflood HOST COUNT RATE SRC[,SRC] | churn HOST TCP RATE SECONDS\n');
  process.exit(2);
}
