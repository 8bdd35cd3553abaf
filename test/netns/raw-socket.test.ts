// The Linux PacketPort against real kernels in a namespace lab: TTL/hop limit 255 on the
// wire and visible on receive, TOS 0x10, no loopback of our own multicast, prompt close,
// what tcpdump/tshark make of our packets, and the addon's arrival times and drain(). Tier
// "netns": run as root, `node --import tsx --test test/netns/raw-socket.test.ts`.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { internetChecksum } from '../../firmware/net/frames.js';
import { LinuxPacketPort, type LinuxPacketChannel } from '../../firmware/net/linux-packet.js';
import type { Family, ReceivedPacket } from '../../firmware/net/ports.js';
import {
  loadRawAddon,
  type IpSocketHandle,
  type RawDatagram,
  type RawError,
  type ReceiveCallback,
} from '../../firmware/net/raw/addon.js';
import { eventually, Lab, netnsUnavailable, requireRoot } from './lab.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const GROUP: Record<Family, string> = { 4: '224.0.0.18', 6: 'ff02::12' };
const QUIET_MS = 300;

/** A well-formed CARP advert (vhid 42, advbase 1, correct checksum; the HMAC is filler). */
function advert(vhid = 42, fill = 0xab): Uint8Array {
  const message = new Uint8Array(36).fill(fill, 8);
  message.set([0x21, vhid, 0, 7, 0, 1, 0, 0]);
  new DataView(message.buffer).setUint16(6, internetChecksum(message));
  return message;
}

/** Records what a channel receives and waits for matching packets. */
function recorder(channel: LinuxPacketChannel) {
  const packets: ReceivedPacket[] = [];
  channel.onPacket((packet) => packets.push(packet));
  return {
    packets,
    next: (what: string, match: (p: ReceivedPacket) => boolean = () => true) =>
      eventually(what, () => packets.find(match)),
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const sameBytes = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
/** process.hrtime() in milliseconds: CLOCK_MONOTONIC, the clock of RawDatagram.receivedAt. */
const hrtimeMs = () => Number(process.hrtime.bigint()) / 1e6;

/** Keeps the JS thread busy, as a stalled event loop would. */
function blockEventLoop(ms: number): void {
  const until = hrtimeMs() + ms;
  while (hrtimeMs() < until);
}

/** Where advert(vhid, fill) carries its fill byte in a received datagram (IPv4 keeps the IP header). */
const fillOf = (family: Family, datagram: RawDatagram) => datagram.data[family === 4 ? 20 + 8 : 8]!;

describe('raw IP protocol 112 (LinuxPacketPort)', () => {
  let lab: Lab | undefined;
  const channels: LinuxPacketChannel[] = [];
  const port = (host: number) => new LinuxPacketPort({ netns: lab!.host(host).netns });
  const open = async (host: number, family: Family) => {
    const channel = await port(host).open('eth0', family);
    channels.push(channel);
    return channel;
  };

  const sockets: IpSocketHandle[] = [];
  /** An addon socket in host `host`, joined to the CARP group; closed after the suite. */
  const socket = (host: number, family: Family, onReceive: ReceiveCallback = () => {}) => {
    const { IpSocket } = loadRawAddon();
    const opened = new IpSocket({ family, iface: 'eth0', netns: lab!.host(host).netns }, onReceive);
    sockets.push(opened);
    return opened;
  };

  before(async () => {
    if (!netnsUnavailable()) lab = await Lab.create({ hosts: 3 });
  });
  after(async () => {
    await Promise.all(channels.map((c) => c.close()));
    for (const opened of sockets) opened.close();
    await lab?.dispose();
  });

  test('IPv4 multicast reaches the peer: TTL 255, source, eth0, payload intact', async (t) => {
    if (!requireRoot(t)) return;
    const [sender, receiver] = [await open(1, 4), await open(2, 4)];
    const heard = recorder(receiver);
    const message = advert(42, 0x41);
    await sender.send('224.0.0.18', message);
    const { ageMs, ...packet } = await heard.next('advert in h2', (p) => sameBytes(p.payload, message));
    // From the receive thread's timestamp: how long the packet waited for the event loop.
    assert.ok(typeof ageMs === 'number' && ageMs >= 0 && ageMs < 1000, `ageMs ${ageMs}`);
    assert.deepEqual(
      { ...packet, payload: Buffer.from(packet.payload) },
      {
        family: 4,
        interface: 'eth0',
        source: lab!.host(1).ipv4,
        destination: '224.0.0.18',
        ttl: 255,
        payload: Buffer.from(message),
      },
    );
  });

  test('IPv6 multicast to ff02::12: hop limit 255 visible, link-local source', async (t) => {
    if (!requireRoot(t)) return;
    const [sender, receiver] = [await open(1, 6), await open(2, 6)];
    const heard = recorder(receiver);
    const message = advert(42, 0x61);
    await sender.send('ff02::12', message);
    const packet = await heard.next('advert in h2', (p) => sameBytes(p.payload, message));
    assert.equal(packet.family, 6);
    assert.equal(packet.interface, 'eth0');
    assert.equal(packet.source, await lab!.linkLocal(1));
    assert.equal(packet.destination, 'ff02::12');
    assert.equal(packet.ttl, 255);
    assert.equal(packet.payload.length, 36);
  });

  test('unicast to a peer address (carppeer) arrives with TTL / hop limit 255', async (t) => {
    if (!requireRoot(t)) return;
    for (const family of [4, 6] as const) {
      const [sender, receiver] = [await open(1, family), await open(3, family)];
      const heard = recorder(receiver);
      const peer = family === 4 ? lab!.host(3).ipv4 : lab!.host(3).ipv6;
      const message = advert(7, 0x70 + family);
      await sender.send(peer, message);
      const packet = await heard.next(`unicast IPv${family}`, (p) => sameBytes(p.payload, message));
      assert.equal(packet.destination, peer);
      assert.equal(packet.source, family === 4 ? lab!.host(1).ipv4 : lab!.host(1).ipv6);
      assert.equal(packet.ttl, 255, `IPv${family}`);
    }
  });

  test('a packet sent with TTL 64 arrives showing 64, so the daemon can drop it', async (t) => {
    if (!requireRoot(t)) return;
    const addon = loadRawAddon();
    for (const family of [4, 6] as const) {
      const receiver = await open(2, family);
      const heard = recorder(receiver);
      const low = new addon.IpSocket(
        { family, iface: 'eth0', ttl: 64, group: '', netns: lab!.host(1).netns },
        () => {},
      );
      try {
        const message = advert(9, 0x90 + family);
        low.send(GROUP[family], message);
        const packet = await heard.next(`TTL-64 IPv${family}`, (p) => sameBytes(p.payload, message));
        assert.equal(packet.ttl, 64, `IPv${family}`);
      } finally {
        low.close();
      }
    }
  });

  test('our own multicast is not looped back to us or to other sockets on the host', async (t) => {
    if (!requireRoot(t)) return;
    for (const family of [4, 6] as const) {
      const sender = await open(1, family);
      const neighbour = await open(1, family); // second socket on the same host
      const peer = await open(2, family);
      const [ownEcho, hostEcho, remote] = [recorder(sender), recorder(neighbour), recorder(peer)];
      const message = advert(11, 0xb0 + family);
      await sender.send(GROUP[family], message);
      await remote.next('advert at the peer', (p) => sameBytes(p.payload, message));
      await sleep(QUIET_MS);
      assert.equal(ownEcho.packets.length, 0, `IPv${family}: looped back to the sender`);
      assert.equal(hostEcho.packets.length, 0, `IPv${family}: looped back to the host`);
    }
  });

  test('tcpdump/tshark see TTL 255, TOS 0x10, DF, 224.0.0.18 and decode CARP', async (t) => {
    if (!requireRoot(t)) return;
    const dir = await mkdtemp(join(tmpdir(), 'tandem-raw-'));
    try {
      const pcap = join(dir, 'adverts.pcap');
      // --immediate-mode: otherwise packets wait in libpcap's ring for its 1 s block timeout
      // and are lost when tcpdump is stopped sooner.
      const capture = lab!.spawn(2, 'tcpdump', [
        '-i', 'eth0', '--immediate-mode', '-U', '-n', '-w', pcap, 'ip proto 112 or ip6 proto 112',
      ]);
      await waitForOutput(capture, 'stderr', /listening on/);
      const [v4, v6] = [await open(1, 4), await open(1, 6)];
      for (let i = 0; i < 3; i++) {
        await v4.send('224.0.0.18', advert(42, i));
        await v6.send('ff02::12', advert(42, i));
      }
      await sleep(QUIET_MS);
      capture.kill('SIGINT');
      await exited(capture);
      const fields = await tshark(pcap, [
        '-d', 'ip.proto==112,carp',
        '-T', 'fields', '-E', 'separator=,',
        '-e', 'ip.ttl', '-e', 'ip.dsfield', '-e', 'ip.flags.df', '-e', 'ip.dst', '-e', 'ip.len',
        '-e', 'ipv6.hlim', '-e', 'ipv6.src', '-e', 'ipv6.dst',
        '-e', 'carp.version', '-e', 'carp.vhid', '-e', 'carp.checksum.status',
      ]);
      const rows = fields.trim().split('\n').map((line) => line.split(','));
      const ipv4 = rows.filter((r) => r[0] !== '');
      const ipv6 = rows.filter((r) => r[5] !== '');
      assert.equal(ipv4.length, 3, fields);
      assert.equal(ipv6.length, 3, fields);
      const linkLocal = await lab!.linkLocal(1);
      for (const row of ipv4) {
        assert.deepEqual(row.slice(0, 5), ['255', '0x10', '1', '224.0.0.18', '56']);
        assert.deepEqual(row.slice(8), ['2', '42', '1'], 'CARP v2, vhid 42, checksum status 1 = Good');
      }
      for (const row of ipv6) {
        assert.deepEqual(row.slice(5, 8), ['255', linkLocal, 'ff02::12']);
        assert.deepEqual(row.slice(8), ['2', '42', '1']);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('membership survives link flaps; sending on an admin-down interface is ENETUNREACH', async (t) => {
    if (!requireRoot(t)) return;
    for (const family of [4, 6] as const) {
      const [sender, receiver] = [await open(1, family), await open(2, family)];
      const heard = recorder(receiver);
      // Resends until one arrives: the link may take a moment to pass traffic again.
      const delivered = (what: string, message: Uint8Array) =>
        eventually(what, async () => {
          await sender.send(GROUP[family], message);
          await sleep(50);
          return heard.packets.find((p) => sameBytes(p.payload, message));
        });
      for (const end of ['port', 'eth0'] as const) {
        await lab!.linkDown(2, end);
        await lab!.linkUp(2, end);
        await delivered(`IPv${family} after ${end} flap at the receiver`, advert(42, 0x10 + family));
        await lab!.linkDown(1, end);
        if (end === 'eth0') {
          await assert.rejects(sender.send(GROUP[family], advert()), (error: RawError) => {
            assert.equal(error.code, 'ENETUNREACH');
            assert.match(error.message, new RegExp(`^send to ${GROUP[family]} on eth0: ENETUNREACH`));
            return true;
          });
        } else {
          // Carrier loss is silent: the kernel accepts the datagram and the link drops it.
          await sender.send(GROUP[family], advert());
        }
        await lab!.linkUp(1, end);
        await delivered(`IPv${family} after ${end} flap at the sender`, advert(42, 0x20 + family));
      }
    }
  });

  test('errors name the interface, the errno and the missing capability', async (t) => {
    if (!requireRoot(t)) return;
    await assert.rejects(port(1).open('nope0', 4), (error: RawError) => {
      assert.equal(error.code, 'ENODEV');
      assert.equal(error.message, 'open raw socket on nope0: ENODEV (No such device; no such interface)');
      return true;
    });
    await assert.rejects(new LinuxPacketPort({ netns: `${lab!.prefix}-none` }).open('eth0', 4), /ENOENT/);
    // An unprivileged process (nobody, no capabilities) cannot open a raw socket.
    const script =
      `const a = require(${JSON.stringify(join(REPO, 'build/Release/tandem_raw.node'))});` +
      `try { new a.IpSocket({ family: 4, iface: 'lo' }, () => {}); console.log('opened'); }` +
      `catch (e) { console.log(JSON.stringify({ message: e.message, code: e.code, syscall: e.syscall })); }`;
    const output = await run('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, '-e', script]);
    assert.deepEqual(JSON.parse(output), {
      message: 'open raw socket on lo: EPERM (Operation not permitted; needs CAP_NET_RAW)',
      code: 'EPERM',
      syscall: 'socket',
    });
    const channel = await open(1, 4);
    await channel.close();
    await channel.close();
    await assert.rejects(channel.send('224.0.0.18', advert()), /channel is closed/);
    await assert.rejects(
      (await open(1, 4)).send('ff02::12', advert()),
      /send to ff02::12 on eth0: not an IPv4 address/,
    );
  });

  test('close() stops a waiting receive thread at once and the process exits', async (t) => {
    if (!requireRoot(t)) return;
    // Opens both families, lets the threads sit in poll(), closes, and reports how long close took.
    const closeAfterWait = `
      const port = new LinuxPacketPort();
      const channels = [await port.open('eth0', 4), await port.open('eth0', 6)];
      for (const c of channels) c.onPacket(() => {});
      await new Promise((resolve) => setTimeout(resolve, 200));
      const start = performance.now();
      for (const c of channels) await c.close();
      console.log('closed ' + (performance.now() - start).toFixed(3));`;
    const closed = await runChild(1, closeAfterWait);
    t.diagnostic(`close of two waiting channels: ${closed.closeMs.toFixed(2)} ms; exit ${closed.exitMs.toFixed(0)} ms later`);
    assert.ok(closed.closeMs < 50, `close took ${closed.closeMs} ms`);
    assert.ok(closed.exitMs < 2000, `exit took ${closed.exitMs} ms after close`);

    // close() from inside the packet listener (on the thread-safe function's callback).
    const closeInListener = `
      const addon = loadRawAddon();
      const channel = await new LinuxPacketPort().open('eth0', 4);
      const looping = new addon.IpSocket({ family: 4, iface: 'eth0', group: '', multicastLoop: true }, () => {});
      channel.onPacket(async () => {
        const start = performance.now();
        await channel.close();
        looping.close();
        console.log('closed ' + (performance.now() - start).toFixed(3));
      });
      looping.send('224.0.0.18', new Uint8Array(36));`;
    const inListener = await runChild(1, closeInListener);
    t.diagnostic(`close inside the listener: ${inListener.closeMs.toFixed(2)} ms; exit ${inListener.exitMs.toFixed(0)} ms later`);
    assert.ok(inListener.exitMs < 2000, `exit took ${inListener.exitMs} ms after close`);

    // unref() lets the process exit with the channel still open.
    const unrefOnly = `
      const channel = await new LinuxPacketPort().open('eth0', 6);
      channel.unref();
      console.log('closed 0');`;
    const unref = await runChild(1, unrefOnly);
    assert.ok(unref.exitMs < 2000, `exit took ${unref.exitMs} ms with an unref'd channel`);

    // Without close() or unref() an open channel keeps the process alive, like a dgram socket.
    const keepsAlive = lab!.spawn(1, process.execPath, ['--import', 'tsx', '--input-type=module', '-e',
      `import { LinuxPacketPort } from ${JSON.stringify(join(REPO, 'firmware/net/linux-packet.ts'))};\n` +
      `await new LinuxPacketPort().open('eth0', 4); console.log('opened');`], { cwd: REPO });
    await waitForOutput(keepsAlive, 'stdout', /opened/, 15_000);
    await sleep(1000);
    assert.equal(keepsAlive.exitCode, null, 'an open channel should keep the process alive');
    keepsAlive.kill('SIGTERM');
    await exited(keepsAlive);
  });

  test('receivedAt is the arrival time, on the clock of process.hrtime()', async (t) => {
    if (!requireRoot(t)) return;
    const addon = loadRawAddon();
    const [clockBefore, monotonic, clockAfter] = [hrtimeMs(), addon.monotonicNow(), hrtimeMs()];
    assert.ok(clockBefore <= monotonic && monotonic <= clockAfter, `monotonicNow ${monotonic} not in [${clockBefore}, ${clockAfter}]`);
    for (const family of [4, 6] as const) {
      const deliveries: Array<{ datagram: RawDatagram; deliveredAt: number }> = [];
      socket(2, family, (error, datagram) => {
        assert.equal(error, null);
        deliveries.push({ datagram: datagram!, deliveredAt: hrtimeMs() });
      });
      const sender = socket(1, family);
      const message = advert(42, 0x30 + family);
      const sentAt = hrtimeMs();
      sender.send(GROUP[family], message);
      const { datagram, deliveredAt } = await eventually(`IPv${family} advert`, () =>
        deliveries.find((d) => fillOf(family, d.datagram) === 0x30 + family),
      );
      const age = deliveredAt - datagram.receivedAt;
      t.diagnostic(`IPv${family}: read ${(datagram.receivedAt - sentAt).toFixed(3)} ms after send, delivered ${age.toFixed(3)} ms after that`);
      assert.ok(sentAt <= datagram.receivedAt, `IPv${family}: receivedAt ${datagram.receivedAt} before the send at ${sentAt}`);
      assert.ok(age >= 0 && age < 20, `IPv${family}: delivered ${age} ms after receivedAt`);
    }
  });

  test('drain() delivers, inside the call and in order, what arrived while the event loop was blocked', async (t) => {
    if (!requireRoot(t)) return;
    const count = 20;
    for (const family of [4, 6] as const) {
      let insideDrain = false;
      const delivered: Array<{ fill: number; insideDrain: boolean; age: number }> = [];
      const receiver = socket(2, family, (error, datagram) => {
        assert.equal(error, null);
        delivered.push({ fill: fillOf(family, datagram!), insideDrain, age: hrtimeMs() - datagram!.receivedAt });
      });
      const sender = socket(1, family);
      const fills = Array.from({ length: count }, (_, i) => 0x40 + i);
      for (const fill of fills) sender.send(GROUP[family], advert(42, fill));
      // The datagrams arrive within microseconds; the receive thread queues them, but the
      // JS thread cannot take them until it yields.
      blockEventLoop(30);
      assert.equal(delivered.length, 0);
      insideDrain = true;
      const drained = receiver.drain();
      insideDrain = false;
      assert.equal(drained, count, `IPv${family}: drain() count`);
      assert.deepEqual(delivered.map((d) => d.fill), fills, `IPv${family}: order`);
      assert.ok(delivered.every((d) => d.insideDrain), `IPv${family}: delivered outside drain()`);
      // receivedAt is when the datagram arrived, before the stall, not when drain() ran.
      const youngest = Math.min(...delivered.map((d) => d.age));
      assert.ok(youngest >= 20, `IPv${family}: a drained datagram is only ${youngest} ms old`);
      await sleep(QUIET_MS);
      assert.equal(delivered.length, count, `IPv${family}: the event loop delivered a drained datagram again`);
      assert.deepEqual(receiver.stats(), { received: count, queueDrops: 0 });
    }
  });

  test('drain() racing the receive thread: each datagram once, in order', async (t) => {
    if (!requireRoot(t)) return;
    const count = 50;
    for (const family of [4, 6] as const) {
      let insideDrain = false;
      const delivered: Array<{ fill: number; insideDrain: boolean }> = [];
      const receiver = socket(2, family, (error, datagram) => {
        assert.equal(error, null);
        delivered.push({ fill: fillOf(family, datagram!), insideDrain });
      });
      const sender = socket(1, family);
      const fills = Array.from({ length: count }, (_, i) => 0x80 + i);
      // drain() right behind each send: some datagrams are still in the kernel's buffer (drain
      // reads them itself), some are already in the receive thread's hands.
      insideDrain = true;
      let drained = 0;
      for (const fill of fills) {
        sender.send(GROUP[family], advert(42, fill));
        drained += receiver.drain();
      }
      const giveUp = hrtimeMs() + 100;
      while (drained < count && hrtimeMs() < giveUp) drained += receiver.drain();
      insideDrain = false;
      assert.equal(drained, count, `IPv${family}: drained`);
      assert.deepEqual(delivered.map((d) => d.fill), fills, `IPv${family}: order`);
      assert.ok(delivered.every((d) => d.insideDrain), `IPv${family}: delivered outside drain()`);
      await sleep(QUIET_MS);
      assert.equal(delivered.length, count, `IPv${family}: delivered twice`);
    }
  });

  test('drain() on an empty or closed socket returns 0 at once; close() in the callback stops it', async (t) => {
    if (!requireRoot(t)) return;
    const delivered: number[] = [];
    const receiver = socket(2, 4, (_error, datagram) => {
      delivered.push(fillOf(4, datagram!));
      receiver.close();
    });
    const started = hrtimeMs();
    assert.equal(receiver.drain(), 0);
    const took = hrtimeMs() - started;
    assert.ok(took < 5, `drain() of an empty socket took ${took} ms`);
    const sender = socket(1, 4);
    for (const fill of [1, 2, 3]) sender.send(GROUP[4], advert(42, fill));
    blockEventLoop(30);
    assert.equal(receiver.drain(), 1, 'nothing is delivered after close()');
    assert.deepEqual(delivered, [1]);
    assert.equal(receiver.drain(), 0);
    await sleep(QUIET_MS);
    assert.deepEqual(delivered, [1]);
  });

  /** Runs `body` as an ES module in host `host`; resolves timings once it printed "closed" and exited. */
  async function runChild(host: number, body: string): Promise<{ closeMs: number; exitMs: number }> {
    const code =
      `import { LinuxPacketPort } from ${JSON.stringify(join(REPO, 'firmware/net/linux-packet.ts'))};\n` +
      `import { loadRawAddon } from ${JSON.stringify(join(REPO, 'firmware/net/raw/addon.ts'))};\n` +
      body;
    const child = lab!.spawn(host, process.execPath, ['--import', 'tsx', '--input-type=module', '-e', code], {
      cwd: REPO,
    });
    let stderr = '';
    child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const line = await waitForOutput(child, 'stdout', /closed ([\d.]+)/, 15_000).catch((error: Error) => {
      throw new Error(`${error.message}\nchild stderr:\n${stderr}`);
    });
    const closedAt = performance.now();
    const status = await exited(child, 5000);
    assert.equal(status, 0, `child exited with ${status}: ${stderr}`);
    return { closeMs: Number(line[1]), exitMs: performance.now() - closedAt };
  }
});

function waitForOutput(
  child: ChildProcess,
  stream: 'stdout' | 'stderr',
  pattern: RegExp,
  timeoutMs = 5000,
): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let text = '';
    const timer = setTimeout(() => reject(new Error(`no ${pattern} on ${stream} within ${timeoutMs} ms: ${text}`)), timeoutMs);
    child[stream]!.on('data', (chunk: Buffer) => {
      text += chunk.toString();
      const match = text.match(pattern);
      if (match) {
        clearTimeout(timer);
        resolve(match);
      }
    });
  });
}

/** Resolves with the exit code (or signal name); rejects if the child is still running after `timeoutMs`. */
function exited(child: ChildProcess, timeoutMs = 5000): Promise<number | string> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`pid ${child.pid} still running after ${timeoutMs} ms`)), timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code ?? signal ?? -1);
    });
  });
}

function run(cmd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 10_000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${cmd}: ${stderr || error.message}`)) : resolve(stdout),
    );
  });
}

function tshark(pcap: string, args: string[]): Promise<string> {
  return run('tshark', ['-r', pcap, '-n', ...args]);
}
