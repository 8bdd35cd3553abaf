// Standing takeovers against real kernels: the addon's receive thread carries a CARP takeover
// out at its deadline (advert on the wire, address added over rtnetlink, gratuitous ARP that
// moves a client's neighbour entry), or leaves it when an advert for the vhid arrived in time;
// and it keeps a MASTER's adverts going while the event loop is paused, within a lease.
// Tier "netns": run as root, `node --import tsx --test test/netns/raw-takeover.test.ts`.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { internetChecksum } from '../../firmware/net/frames.js';
import { LinuxPacketPort, type LinuxPacketChannel } from '../../firmware/net/linux-packet.js';
import type { ReceivedPacket, TakeoverOutcome, TakeoverPlan } from '../../firmware/net/ports.js';
import { loadRawAddon, type IpSocketHandle } from '../../firmware/net/raw/addon.js';
import { eventually, Lab, netnsUnavailable, requireRoot } from './lab.js';

const GROUP = '224.0.0.18';
const OTHER_MAC = '02:aa:bb:cc:dd:ee';

/** A well-formed CARP advert for `vhid` (correct checksum; the HMAC is filler). */
function advert(vhid: number, fill: number): Uint8Array {
  const message = new Uint8Array(36).fill(fill, 8);
  message.set([0x21, vhid, 0, 7, 0, 1, 0, 0]);
  new DataView(message.buffer).setUint16(6, internetChecksum(message));
  return message;
}

const plan = (vhid: number, vip: string): TakeoverPlan => ({
  vhid,
  destination: GROUP,
  advert: advert(vhid, vhid),
  addresses: [`${vip}/24`],
});

const hrtimeMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Arms `plan` and resolves with its outcome, stamped with when it was decided (hrtime ms). */
function armed(channel: LinuxPacketChannel, takeover: TakeoverPlan, delayMs: number, heardWithinMs = 0) {
  let cancel: () => boolean = () => false;
  const outcome = new Promise<TakeoverOutcome & { decidedAt: number }>((resolve) => {
    cancel = channel.armTakeover(takeover, delayMs, heardWithinMs, (o) => resolve({ ...o, decidedAt: hrtimeMs() - o.ageMs })).cancel;
  });
  return { outcome, cancel: () => cancel() };
}

let lab: Lab | undefined;
const channels: LinuxPacketChannel[] = [];
const sockets: IpSocketHandle[] = [];

/** A CARP channel on eth0 of lab host `host`; closed after the file's tests. */
async function open(host: number): Promise<LinuxPacketChannel> {
  const channel = await new LinuxPacketPort({ netns: lab!.host(host).netns }).open('eth0', 4);
  channels.push(channel);
  return channel;
}

before(async () => {
  if (!netnsUnavailable()) lab = await Lab.create({ hosts: 3 });
});
after(async () => {
  await Promise.all(channels.map((c) => c.close()));
  for (const socket of sockets) socket.close();
  await lab?.dispose();
});

describe('standing takeover (IpSocket.armTakeover)', () => {
  const heardBy = (channel: LinuxPacketChannel) => {
    const packets: ReceivedPacket[] = [];
    channel.onPacket((packet) => packets.push(packet));
    return packets;
  };
  const addresses = async (host: number) => {
    const { stdout } = await lab!.exec(host, 'ip', ['-o', 'addr', 'show', 'dev', 'eth0']);
    return stdout;
  };
  const neighborMac = async (host: number, ip: string) => {
    const { stdout } = await lab!.exec(host, 'ip', ['-j', 'neigh', 'show', ip, 'dev', 'eth0']);
    return (JSON.parse(stdout || '[]') as { lladdr?: string }[])[0]?.lladdr;
  };

  test('at the deadline: the advert leaves, the address is added, the client follows the gratuitous ARP', async (t) => {
    if (!requireRoot(t)) return;
    const vip = '198.51.100.100';
    await lab!.exec(3, 'ip', ['neigh', 'replace', vip, 'lladdr', OTHER_MAC, 'dev', 'eth0', 'nud', 'reachable']);
    const [peer, backup] = [await open(1), await open(2)];
    const heard = heardBy(peer);
    const armedAt = hrtimeMs();
    const { outcome } = armed(backup, plan(42, vip), 40);
    const result = await outcome;
    assert.deepEqual({ taken: result.taken, failures: result.failures }, { taken: true, failures: [] });
    assert.ok(result.decidedAt >= armedAt + 40, `decided ${(result.decidedAt - armedAt).toFixed(3)} ms after arming`);
    const sent = await eventually('the takeover advert at h1', () => heard.find((p) => p.payload[1] === 42));
    assert.equal(sent.source, lab!.host(2).ipv4);
    assert.equal(sent.ttl, 255);
    assert.match(await addresses(2), new RegExp(`inet ${vip}/24 `));
    await eventually('h3 moved to h2', async () => ((await neighborMac(3, vip)) === lab!.host(2).mac ? true : undefined));
  });

  test('an advert for the vhid before the deadline calls it off; other vhids and TTL 64 do not', async (t) => {
    if (!requireRoot(t)) return;
    const [peer, backup] = [await open(1), await open(2)];
    const heard = heardBy(peer);
    const { IpSocket } = loadRawAddon();
    const forger = new IpSocket({ family: 4, iface: 'eth0', ttl: 64, netns: lab!.host(1).netns }, () => {});
    sockets.push(forger);
    const called = armed(backup, plan(50, '198.51.100.150'), 300);
    const other = armed(backup, plan(51, '198.51.100.151'), 300);
    const lowTtl = armed(backup, plan(52, '198.51.100.152'), 300);
    await sleep(100);
    await peer.send(GROUP, advert(50, 0xee));
    forger.send(GROUP, advert(52, 0xee));
    const [first, second, third] = await Promise.all([called.outcome, other.outcome, lowTtl.outcome]);
    assert.equal(first.taken, false, 'vhid 50 heard an advert');
    assert.equal(second.taken, true, 'vhid 51 heard none');
    assert.equal(third.taken, true, 'an advert with TTL 64 is no advert');
    const text = await addresses(2);
    assert.doesNotMatch(text, /198\.51\.100\.150\//);
    assert.match(text, /198\.51\.100\.151\//);
    await sleep(50);
    assert.deepEqual(heard.filter((p) => p.source === lab!.host(2).ipv4).map((p) => p.payload[1]).sort(), [51, 52]);
  });

  test('the advert that armed it does not call it off', async (t) => {
    if (!requireRoot(t)) return;
    const [peer, backup] = [await open(1), await open(2)];
    const outcome = new Promise<TakeoverOutcome>((resolve) => {
      backup.onPacket((packet) => {
        if (packet.payload[1] === 60) backup.armTakeover(plan(60, "198.51.100.160"), 30, packet.ageMs ?? 0, resolve);
      });
    });
    await peer.send(GROUP, advert(60, 0x11));
    assert.equal((await outcome).taken, true);
  });

  test('cancel before the deadline: nothing happens; after it: false, and the outcome still comes', async (t) => {
    if (!requireRoot(t)) return;
    const backup = await open(2);
    const early = armed(backup, plan(70, '198.51.100.170'), 30);
    assert.equal(early.cancel(), true);
    const late = armed(backup, plan(71, '198.51.100.171'), 5);
    // The event loop is busy past the deadline: the receive thread acts without it.
    const until = hrtimeMs() + 60;
    while (hrtimeMs() < until);
    assert.equal(late.cancel(), false);
    assert.equal((await late.outcome).taken, true);
    const settled = await Promise.race([early.outcome.then(() => 'outcome'), sleep(100).then(() => 'none')]);
    assert.equal(settled, 'none');
    const text = await addresses(2);
    assert.doesNotMatch(text, /198\.51\.100\.170\//);
    assert.match(text, /198\.51\.100\.171\//);
  });

  test('a plan that cannot be carried out is refused, naming what is wrong', async (t) => {
    if (!requireRoot(t)) return;
    const backup = await open(2);
    assert.throws(
      () => backup.armTakeover({ ...plan(80, '198.51.100.180'), destination: 'group' }, 10, 0, () => {}),
      /takeover plan for vhid 80 on eth0: destination is not an IPv4 address: group/,
    );
    assert.throws(
      () => backup.armTakeover({ ...plan(81, '198.51.100.181'), addresses: ['198.51.100.181/40'] }, 10, 0, () => {}),
      /takeover plan for vhid 81 on eth0: bad prefix length: 198\.51\.100\.181\/40/,
    );
  });
});

describe('advert fills (IpSocket.advertise)', () => {
  /** Keeps the JS thread busy, as a GC pause or a stalled event loop would. */
  const pauseEventLoop = (ms: number) => {
    const until = hrtimeMs() + ms;
    while (hrtimeMs() < until);
  };

  test('while the event loop is paused the thread keeps advertising, and says how many it sent', async (t) => {
    if (!requireRoot(t)) return;
    const [peer, master] = [await open(1), await open(2)];
    const heard: ReceivedPacket[] = [];
    peer.onPacket((packet) => packet.payload[1] === 90 && heard.push(packet));
    const cadence = { intervalMs: 4, leaseMs: 1000 };
    assert.equal(master.advertise(90, GROUP, advert(90, 1), cadence), 0);
    pauseEventLoop(60);
    const filled = master.advertise(90, GROUP, advert(90, 1), cadence);
    master.stopAdvertising(90);
    // Due from 8 ms, then every 4 ms: about 13 in 60 ms; a loaded machine may manage fewer.
    assert.ok(filled >= 5, `${filled} fills during a 60 ms pause`);
    // The first, the fills, and the one that ended the pause: none lost, none extra.
    await eventually('every advert at h1', () => (heard.length === filled + 2 ? true : undefined));
    await sleep(30);
    assert.equal(heard.length, filled + 2);
  });

  test('the lease ends the fills: a daemon that stopped running falls silent', async (t) => {
    if (!requireRoot(t)) return;
    const [peer, master] = [await open(1), await open(2)];
    const heard: number[] = [];
    peer.onPacket((packet) => packet.payload[1] === 91 && heard.push(hrtimeMs() - (packet.ageMs ?? 0)));
    const advertisedAt = hrtimeMs();
    master.advertise(91, GROUP, advert(91, 1), { intervalMs: 4, leaseMs: 40 });
    pauseEventLoop(150);
    await sleep(50);
    assert.ok(heard.length >= 3, `${heard.length} adverts`);
    const last = heard.at(-1)! - advertisedAt;
    assert.ok(last < 40 + 5, `last advert ${last.toFixed(1)} ms after the last advertise(); lease 40 ms`);
    assert.equal(master.stopAdvertising(91), heard.length - 1);
  });

  test('stopAdvertising ends them at once', async (t) => {
    if (!requireRoot(t)) return;
    const [peer, master] = [await open(1), await open(2)];
    const heard: ReceivedPacket[] = [];
    peer.onPacket((packet) => packet.payload[1] === 92 && heard.push(packet));
    master.advertise(92, GROUP, advert(92, 1), { intervalMs: 4, leaseMs: 1000 });
    assert.equal(master.stopAdvertising(92), 0);
    pauseEventLoop(50);
    await sleep(50);
    assert.equal(heard.length, 1);
  });
});
