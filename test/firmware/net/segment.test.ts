// Tests for the in-memory Ethernet segment: multicast and unicast delivery, partitions, links
// (including in-flight frames lost when a link drops), seeded loss, neighbour caches and reach(),
// and interfaces that are not on the segment. All on a FakeClock.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { FakeClock } from '../../../firmware/os/clock.js';
import { Segment, seededRandom, type SegmentEvent, type SimHost } from '../../../firmware/net/segment.js';
import type { Family, PacketChannel, ReceivedPacket } from '../../../firmware/net/ports.js';

const GROUP = '224.0.0.18';

interface Heard {
  at: number;
  packet: ReceivedPacket;
}

async function listen(host: SimHost, clock: FakeClock, family: Family = 4): Promise<{ channel: PacketChannel; heard: Heard[] }> {
  const channel = await host.open(host.iface, family);
  const heard: Heard[] = [];
  channel.onPacket((packet) => heard.push({ at: clock.monotonic(), packet }));
  return { channel, heard };
}

function threeHosts(seed?: number) {
  const clock = new FakeClock();
  const segment = new Segment(clock, seed === undefined ? {} : { seed });
  const a = segment.attach('a', { addresses: ['198.51.100.11/24', '2001:db8::11/64'] });
  const b = segment.attach('b', { addresses: ['198.51.100.12/24'] });
  const c = segment.attach('c', { addresses: ['198.51.100.13/24'] });
  return { clock, segment, a, b, c };
}

describe('segment delivery', () => {
  it('delivers multicast to every other open channel of the family, not back to the sender', async () => {
    const { clock, a, b, c } = threeHosts();
    const la = await listen(a, clock);
    const lb = await listen(b, clock);
    const lc = await listen(c, clock);
    const lb6 = await listen(b, clock, 6);
    await la.channel.send(GROUP, Uint8Array.of(1, 2, 3));
    // Delivery is a timer (delay 0): nothing arrives before the clock runs.
    assert.equal(lb.heard.length, 0);
    await clock.advance(0);
    assert.equal(la.heard.length, 0);
    assert.equal(lb6.heard.length, 0);
    for (const { heard } of [lb, lc]) {
      assert.equal(heard.length, 1);
      assert.deepEqual(heard[0]!.packet, {
        family: 4,
        interface: 'eth0',
        source: '198.51.100.11',
        destination: GROUP,
        ttl: 255,
        payload: Uint8Array.of(1, 2, 3),
      });
    }
  });

  it('delivers unicast only to the host holding the destination', async () => {
    const { clock, a, b, c } = threeHosts();
    const la = await listen(a, clock);
    const lb = await listen(b, clock);
    const lc = await listen(c, clock);
    await la.channel.send('198.51.100.13', Uint8Array.of(9));
    await clock.advance(0);
    assert.equal(lb.heard.length, 0);
    assert.equal(lc.heard.length, 1);
  });

  it('copies the payload: a sender reusing its buffer does not change what was sent', async () => {
    const { clock, a, b } = threeHosts();
    const la = await listen(a, clock);
    const lb = await listen(b, clock);
    const buffer = Uint8Array.of(1, 1);
    await la.channel.send(GROUP, buffer);
    buffer[0] = 7;
    await clock.advance(0);
    assert.deepEqual(lb.heard[0]!.packet.payload, Uint8Array.of(1, 1));
  });

  it('applies delay and seeded jitter', async () => {
    const { clock, segment, a, b } = threeHosts();
    const la = await listen(a, clock);
    const lb = await listen(b, clock);
    segment.setDelay(10, 5);
    await la.channel.send(GROUP, Uint8Array.of(1));
    await clock.advance(9.999);
    assert.equal(lb.heard.length, 0);
    await clock.advance(5.001);
    assert.equal(lb.heard.length, 1);
    assert.ok(lb.heard[0]!.at >= 10 && lb.heard[0]!.at < 15, `arrived at ${lb.heard[0]!.at}`);
  });

  it('reports every send to observers, with the sender and time', async () => {
    const { clock, segment, a } = threeHosts();
    const events: SegmentEvent[] = [];
    segment.observe((e) => events.push(e));
    const la = await listen(a, clock);
    await clock.advance(250);
    await la.channel.send(GROUP, Uint8Array.of(1));
    await a.gratuitousArp('eth0', '198.51.100.100');
    assert.deepEqual(events, [
      { kind: 'packet', from: 'a', family: 4, destination: GROUP, at: 250 },
      { kind: 'announce', from: 'a', family: 4, destination: '198.51.100.100', at: 250 },
    ]);
  });

  it('inject() forges a packet with any TTL from any attached host', async () => {
    const { clock, segment, b } = threeHosts();
    const lb = await listen(b, clock);
    segment.inject('c', 4, GROUP, Uint8Array.of(5), 64);
    await clock.advance(0);
    assert.equal(lb.heard.length, 1);
    assert.equal(lb.heard[0]!.packet.ttl, 64);
    assert.equal(lb.heard[0]!.packet.source, '198.51.100.13');
    assert.throws(() => segment.inject('nobody', 4, GROUP, Uint8Array.of(5)), /no host nobody/);
  });

  it('stops delivering to a closed channel, and refuses sends on it', async () => {
    const { clock, a, b } = threeHosts();
    const la = await listen(a, clock);
    const lb = await listen(b, clock);
    await la.channel.send(GROUP, Uint8Array.of(1));
    await lb.channel.close();
    await clock.advance(0);
    assert.equal(lb.heard.length, 0, 'a frame in flight to a closed channel is lost');
    await assert.rejects(lb.channel.send(GROUP, Uint8Array.of(1)), /channel closed/);
  });
});

describe('segment partitions and links', () => {
  it('partition() separates groups; heal() joins them', async () => {
    const { clock, segment, a, b, c } = threeHosts();
    const la = await listen(a, clock);
    const lb = await listen(b, clock);
    const lc = await listen(c, clock);
    segment.partition(['a', 'b'], ['c']);
    assert.deepEqual(segment.partitions, [['a', 'b'], ['c']]);
    assert.equal(segment.canReach('a', 'b'), true);
    assert.equal(segment.canReach('a', 'c'), false);
    await la.channel.send(GROUP, Uint8Array.of(1));
    await lc.channel.send(GROUP, Uint8Array.of(2));
    await clock.advance(0);
    assert.deepEqual(lb.heard.map((h) => h.packet.payload[0]), [1]);
    assert.deepEqual(lc.heard.length, 0);
    assert.deepEqual(la.heard.length, 0);
    segment.heal();
    assert.equal(segment.partitions, undefined);
    await lc.channel.send(GROUP, Uint8Array.of(3));
    await clock.advance(0);
    assert.deepEqual(la.heard.map((h) => h.packet.payload[0]), [3]);
  });

  it('a frame in flight is lost when either link goes down or a partition cuts it', async () => {
    const { clock, segment, a, b, c } = threeHosts();
    segment.setDelay(10);
    const la = await listen(a, clock);
    const lb = await listen(b, clock);
    const lc = await listen(c, clock);
    await la.channel.send(GROUP, Uint8Array.of(1));
    await clock.advance(5);
    b.setLink(false);
    await clock.advance(10);
    assert.equal(lb.heard.length, 0, 'b lost it: its link went down mid-flight');
    assert.equal(lc.heard.length, 1, 'c still got it');
    b.setLink(true);
    await la.channel.send(GROUP, Uint8Array.of(2));
    await clock.advance(5);
    segment.partition(['a', 'b'], ['c']);
    await clock.advance(10);
    assert.equal(lb.heard.length, 1);
    assert.equal(lc.heard.length, 1, 'c lost the second: the partition came mid-flight');
  });

  it('a host with its link down cannot send, and is not a holder', async () => {
    const { clock, segment, a } = threeHosts();
    const la = await listen(a, clock);
    await a.add('eth0', '198.51.100.100/24');
    assert.deepEqual(segment.holdersOf('198.51.100.100/24'), ['a']);
    a.setLink(false);
    await assert.rejects(la.channel.send(GROUP, Uint8Array.of(1)), /ENETDOWN/);
    assert.deepEqual(segment.holdersOf('198.51.100.100'), []);
    assert.equal(segment.canReach('a', 'b'), false);
  });

  it('tells link watchers about changes, once per change, and stops after unwatch', async () => {
    const { a } = threeHosts();
    const seen: string[] = [];
    const unwatch = a.watch((iface, up) => seen.push(`${iface} ${up ? 'up' : 'down'}`));
    a.setLink(false);
    a.setLink(false);
    a.setLink(true);
    unwatch();
    a.setLink(false);
    assert.deepEqual(seen, ['eth0 down', 'eth0 up']);
    assert.deepEqual(await a.get('eth0'), { name: 'eth0', up: false, mac: a.mac });
    assert.equal(await a.get('eth1'), undefined);
  });
});

describe('segment loss', () => {
  async function lossPattern(seed: number): Promise<boolean[]> {
    const { clock, segment, a, b } = threeHosts(seed);
    segment.setLoss(0.3);
    const la = await listen(a, clock);
    const lb = await listen(b, clock);
    const delivered: boolean[] = [];
    for (let i = 0; i < 200; i++) {
      const before = lb.heard.length;
      await la.channel.send(GROUP, Uint8Array.of(i & 0xff));
      await clock.advance(1);
      delivered.push(lb.heard.length > before);
    }
    return delivered;
  }

  it('is deterministic by seed, differs between seeds, and is close to the set fraction', async () => {
    const first = await lossPattern(11);
    const again = await lossPattern(11);
    const other = await lossPattern(12);
    assert.deepEqual(again, first);
    assert.notDeepEqual(other, first);
    const lost = first.filter((d) => !d).length;
    // 200 Bernoulli(0.3) trials: mean 60, sd 6.5; ±4 sd.
    assert.ok(lost > 34 && lost < 86, `lost ${lost} of 200`);
  });

  it('seededRandom replays and stays in [0, 1)', () => {
    const r1 = seededRandom(42);
    const r2 = seededRandom(42);
    for (let i = 0; i < 1000; i++) {
      const x = r1();
      assert.equal(x, r2());
      assert.ok(x >= 0 && x < 1);
    }
  });

  it('clamps the loss fraction: 1 loses everything, a negative value nothing', async () => {
    const { clock, segment, a, b } = threeHosts();
    const la = await listen(a, clock);
    const lb = await listen(b, clock);
    segment.setLoss(5);
    await la.channel.send(GROUP, Uint8Array.of(1));
    await clock.advance(0);
    assert.equal(lb.heard.length, 0);
    segment.setLoss(-1);
    await la.channel.send(GROUP, Uint8Array.of(1));
    await clock.advance(0);
    assert.equal(lb.heard.length, 1);
  });
});

describe('segment neighbour caches and reach()', () => {
  const VIP = '198.51.100.100/24';

  it('reaches the holder the client cache points at, even if another host also holds it', async () => {
    const { segment, a, b } = threeHosts();
    segment.attach('client', { addresses: ['198.51.100.50/24'] });
    assert.equal(segment.reach('client', VIP), undefined, 'nobody holds it');
    await a.add('eth0', VIP);
    assert.equal(segment.reach('client', VIP), 'a', 'no cache entry: the only holder answers');
    await a.gratuitousArp('eth0', '198.51.100.100');
    await b.add('eth0', VIP);
    assert.deepEqual(segment.holdersOf(VIP), ['a', 'b']);
    assert.equal(segment.reach('client', VIP), 'a', 'the cache still points at a');
    await b.gratuitousArp('eth0', '198.51.100.100');
    assert.equal(segment.neighborCache.get('198.51.100.100'), b.mac);
    assert.equal(segment.reach('client', VIP), 'b');
    await b.remove('eth0', VIP);
    assert.equal(segment.reach('client', VIP), undefined, 'the cache points at a host that let go');
  });

  it('a client cannot reach a holder across a partition or over a down link', async () => {
    const { segment, a } = threeHosts();
    segment.attach('client', { addresses: ['198.51.100.50/24'] });
    await a.add('eth0', VIP);
    await a.gratuitousArp('eth0', '198.51.100.100');
    segment.partition(['a'], ['b', 'c', 'client']);
    assert.equal(segment.reach('client', VIP), undefined);
    segment.heal();
    a.setLink(false);
    assert.equal(segment.reach('client', VIP), undefined);
    a.setLink(true);
    assert.equal(segment.reach('client', VIP), 'a');
  });

  it('an announcement only teaches hosts that can hear it', async () => {
    const { segment, a, b } = threeHosts();
    segment.attach('client', { addresses: ['198.51.100.50/24'] });
    await a.add('eth0', VIP);
    await a.gratuitousArp('eth0', '198.51.100.100');
    segment.partition(['a', 'client'], ['b', 'c']);
    await b.add('eth0', VIP);
    await b.gratuitousArp('eth0', '198.51.100.100');
    assert.equal(segment.cacheOf('client').get('198.51.100.100'), a.mac, 'the client did not hear b');
    assert.equal(segment.cacheOf('c').get('198.51.100.100'), b.mac);
    assert.equal(segment.reach('client', VIP), 'a');
    assert.equal(segment.reach('c', VIP), 'b');
    // An announcer whose link is down is heard by nobody.
    segment.heal();
    b.setLink(false);
    await b.gratuitousArp('eth0', '198.51.100.100');
    assert.equal(segment.cacheOf('client').get('198.51.100.100'), a.mac);
  });

  it('answers for a virtual MAC once the host announced with it', async () => {
    const { segment, a } = threeHosts();
    segment.attach('client', { addresses: ['198.51.100.50/24'] });
    await a.add('eth0', VIP);
    await a.gratuitousArp('eth0', '198.51.100.100', '00:00:5e:00:01:2a');
    assert.equal(segment.cacheOf('client').get('198.51.100.100'), '00:00:5e:00:01:2a');
    assert.equal(segment.reach('client', VIP), 'a');
    await a.unsolicitedNa('eth0', '2001:db8::100');
    assert.equal(segment.cacheOf('client').get('2001:db8::100'), a.mac);
  });
});

describe('SimHost interfaces off the segment', () => {
  it('have their own link state, watchers, addresses and silent packet channels', async () => {
    const { clock, segment, a, b } = threeHosts();
    const lb = await listen(b, clock);
    a.addInterface('eth1');
    assert.throws(() => a.addInterface('eth1'), /exists/);
    assert.throws(() => a.addInterface('eth0'), /exists/);
    assert.deepEqual(await a.get('eth1'), { name: 'eth1', up: true, mac: a.mac });

    const seen: string[] = [];
    a.watch((iface, up) => seen.push(`${iface} ${up ? 'up' : 'down'}`));
    a.setLink(false, 'eth1');
    a.setLink(false, 'eth1');
    assert.deepEqual(seen, ['eth1 down']);
    assert.equal(a.linkUp, true, 'the segment link is untouched');
    assert.equal((await a.get('eth1'))?.up, false);
    assert.throws(() => a.setLink(false, 'eth9'), /no interface eth9/);

    // Addresses on eth1 are not on the segment.
    await a.add('eth1', '203.0.113.1/24');
    assert.deepEqual(await a.list('eth1'), ['203.0.113.1/24']);
    assert.deepEqual(await a.list('eth0'), ['198.51.100.11/24', '2001:db8::11/64']);
    assert.deepEqual(segment.holdersOf('203.0.113.1'), []);

    // Packets on eth1 go nowhere; a down eth1 refuses to send.
    const channel = await a.open('eth1', 4);
    await assert.rejects(channel.send(GROUP, Uint8Array.of(1)), /ENETDOWN/);
    a.setLink(true, 'eth1');
    await channel.send(GROUP, Uint8Array.of(1));
    await clock.advance(0);
    assert.equal(lb.heard.length, 0);
    await a.gratuitousArp('eth1', '203.0.113.1');
    assert.equal(segment.neighborCache.has('203.0.113.1'), false);
    await assert.rejects(a.open('eth7', 4), /no interface eth7 \(has eth0, eth1\)/);
  });
});
