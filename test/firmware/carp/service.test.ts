// Tests for the CARP service (firmware/carp/service.ts): real CarpService instances, each on its
// own SimHost of one in-memory segment, driven by a FakeClock. Forged adverts, demotion (admin,
// parent link, tracked links), hook ordering with slow hooks, reload, stop and kill -9.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { encodeAdvert, internetChecksum } from '../../../firmware/carp/codec.js';
import { HookRunner, type HookPaths } from '../../../firmware/carp/hooks.js';
import { advertIntervalMs, masterDownMs } from '../../../firmware/carp/machine.js';
import {
  ADVERT_FILL_LEASE_MS,
  CarpService,
  MAINTENANCE_ADVSKEW,
  MAINTENANCE_DEMOTE,
  REANNOUNCE_SPACING_MS,
} from '../../../firmware/carp/service.js';
import { validate } from '../../../firmware/config/kit.js';
import { configSchema, type CarpConfig } from '../../../firmware/config/schema.js';
import { createLogger } from '../../../firmware/log.js';
import { Segment, type SimHost } from '../../../firmware/net/segment.js';
import type {
  Family,
  PacketChannel,
  PacketPort,
  ReceivedPacket,
  TakeoverOutcome,
} from '../../../firmware/net/ports.js';
import { FakeClock, type Clock, type TimerHandle } from '../../../firmware/os/clock.js';
import { FakeProcessRunner, type RunOptions, type RunResult } from '../../../firmware/os/process.js';

const VIP = '198.51.100.100/24';
const VIP2 = '198.51.100.101/24';
const PASSWORD = 'labsecret';
const GROUP = '224.0.0.18';
const HOOKS: HookPaths = { master: '/hooks/master', backup: '/hooks/backup', init: '/hooks/init', timeoutSeconds: 30 };

function carpConfigs(...entries: Record<string, unknown>[]): CarpConfig[] {
  const { value, issues } = validate(configSchema, {
    node: { name: 'test' },
    carp: entries.map((e) => ({ vhid: 42, interface: 'eth0', addresses: [VIP], password: PASSWORD, ...e })),
  });
  assert.ok(value, JSON.stringify(issues));
  return value.carp;
}

interface Transition {
  at: number;
  node: string;
  vhid: number;
  from: string;
  to: string;
  reason: string;
}

interface Node {
  name: string;
  host: SimHost;
  service: CarpService;
  runner: FakeProcessRunner;
  hooks: HookRunner;
  logs: { level: string; msg: string }[];
}

/** A segment with a client and an attacker host, and CARP nodes added one by one. */
function lab() {
  const clock = new FakeClock();
  const segment = new Segment(clock, { seed: 5 });
  segment.attach('client', { addresses: ['198.51.100.50/24'] });
  segment.attach('mallory', { addresses: ['198.51.100.66/24'] });
  const transitions: Transition[] = [];
  const sends: { at: number; from: string }[] = [];
  segment.observe((e) => {
    if (e.kind === 'packet') sends.push({ at: e.at, from: e.from });
  });
  let index = 11;

  async function node(
    name: string,
    configs: CarpConfig[],
    options: {
      runner?: FakeProcessRunner;
      interfaces?: string[];
      hooks?: HookPaths;
      packets?: (host: SimHost) => PacketPort;
      standingTakeover?: boolean;
      /** The service's own clock (the segment and its channels keep the lab's). */
      serviceClock?: Clock;
    } = {},
  ): Promise<Node> {
    const host = segment.attach(name, {
      addresses: [`198.51.100.${index++}/24`],
      ...(options.standingTakeover !== undefined ? { standingTakeover: options.standingTakeover } : {}),
    });
    for (const iface of options.interfaces ?? []) host.addInterface(iface);
    const runner = options.runner ?? new FakeProcessRunner();
    const logs: { level: string; msg: string }[] = [];
    const log = createLogger('debug', (line) => {
      const { level, msg } = JSON.parse(line) as { level: string; msg: string };
      logs.push({ level, msg });
    });
    const hooks = new HookRunner(options.hooks ?? HOOKS, runner, log);
    const service = new CarpService(configs, {
      clock: options.serviceClock ?? clock,
      packets: options.packets?.(host) ?? host,
      addresses: host,
      announcer: host,
      links: host,
      hooks,
      log,
    });
    service.onStateChange((vhid, _iface, from, to, reason) =>
      transitions.push({ at: clock.monotonic(), node: name, vhid, from, to, reason }),
    );
    await service.start();
    return { name, host, service, runner, hooks, logs };
  }

  const vhost = (n: Node, vhid = 42) => {
    const found = n.service.status().find((v) => v.vhid === vhid);
    assert.ok(found, `${n.name} has no vhid ${vhid}`);
    return found;
  };
  const state = (n: Node, vhid = 42) => vhost(n, vhid).state;
  const hookArgs = (n: Node) => n.runner.runs.map((r) => r.args.join(' '));

  /** Every CARP payload the client host hears, to replay or inspect. */
  async function sniff(): Promise<ReceivedPacket[]> {
    const heard: ReceivedPacket[] = [];
    const channel = await segment.host('client').open('eth0', 4);
    channel.onPacket((p) => heard.push(p));
    return heard;
  }

  return { clock, segment, transitions, sends, node, vhost, state, hookArgs, sniff };
}

/** Two nodes for vhid 42: `a` (skew 0) is MASTER, `b` (skew 100) BACKUP, after 3.5 s. */
async function pair(a: Record<string, unknown> = {}, b: Record<string, unknown> = {}) {
  const l = lab();
  const na = await l.node('a', carpConfigs({ advskew: 0, ...a }));
  const nb = await l.node('b', carpConfigs({ advskew: 100, ...b }));
  await l.clock.advance(3500);
  assert.equal(l.state(na), 'MASTER');
  assert.equal(l.state(nb), 'BACKUP');
  return { ...l, a: na, b: nb };
}

function withChecksum(message: Uint8Array): Uint8Array {
  const copy = Uint8Array.from(message);
  copy[6] = 0;
  copy[7] = 0;
  const sum = internetChecksum(copy);
  copy[6] = sum >>> 8;
  copy[7] = sum & 0xff;
  return copy;
}

const COUNTER = Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8);
/** A forged advert far better than anyone's: 1/256 s interval, demote 0. */
const better = (password = PASSWORD, vhid = 42) =>
  encodeAdvert({ vhid, advbase: 0, advskew: 1, demote: 0, counter: COUNTER }, { password, addresses: [VIP] });

describe('forged adverts', () => {
  const cases: {
    name: string;
    bytes: () => Uint8Array;
    ttl?: number;
    counter: 'short' | 'badVersion' | 'badChecksum' | 'badAuth' | 'badTtl' | 'badType';
  }[] = [
    { name: 'wrong password', bytes: () => better('not-the-secret'), counter: 'badAuth' },
    {
      name: 'wrong password, bow-out (would make the backup take over)',
      bytes: () =>
        encodeAdvert({ vhid: 42, advbase: 255, advskew: 255, demote: 0, counter: COUNTER }, { password: 'x', addresses: [VIP] }),
      counter: 'badAuth',
    },
    {
      name: 'wrong password, demote 255 (would make the backup take over)',
      bytes: () => encodeAdvert({ vhid: 42, advbase: 1, advskew: 200, demote: 255, counter: COUNTER }, { password: 'x', addresses: [VIP] }),
      counter: 'badAuth',
    },
    {
      name: 'right password but another address list in the HMAC',
      bytes: () =>
        encodeAdvert({ vhid: 42, advbase: 0, advskew: 1, demote: 0, counter: COUNTER }, { password: PASSWORD, addresses: [VIP2] }),
      counter: 'badAuth',
    },
    { name: 'TTL 64 (sent from off-link)', bytes: () => better(), ttl: 64, counter: 'badTtl' },
    { name: 'TTL 1', bytes: () => better(), ttl: 1, counter: 'badTtl' },
    {
      name: 'bad checksum',
      bytes: () => {
        const b = better();
        b[7] = b[7]! ^ 0x01;
        return b;
      },
      counter: 'badChecksum',
    },
    { name: 'truncated to 35 bytes', bytes: () => better().subarray(0, 35), counter: 'short' },
    { name: 'truncated to 2 bytes', bytes: () => better().subarray(0, 2), counter: 'short' },
    {
      name: 'version 3 (checksum fixed up)',
      bytes: () => {
        const b = better();
        b[0] = 0x31;
        return withChecksum(b);
      },
      counter: 'badVersion',
    },
    {
      name: 'type 2 (checksum fixed up)',
      bytes: () => {
        const b = better();
        b[0] = 0x22;
        return withChecksum(b);
      },
      counter: 'badType',
    },
  ];

  for (const c of cases) {
    it(`${c.name} → ${c.counter}, and nothing changes`, async () => {
      const l = await pair({}, { advskew: 100 });
      const before = { a: l.vhost(l.a), b: l.vhost(l.b) };
      const transitionsBefore = l.transitions.length;
      const mallory = 'mallory';
      l.segment.inject(mallory, 4, GROUP, c.bytes(), c.ttl ?? 255);
      await l.clock.advance(0);
      for (const n of [l.a, l.b]) {
        const after = l.vhost(n);
        const previous = n === l.a ? before.a : before.b;
        assert.equal(after.counters[c.counter], previous.counters[c.counter] + 1, `${n.name} counted ${c.counter}`);
        assert.equal(after.counters.received, previous.counters.received, `${n.name} accepted nothing`);
        assert.equal(after.state, previous.state);
        assert.equal(after.since, previous.since);
      }
      await l.clock.advance(5000);
      assert.equal(l.transitions.length, transitionsBefore, 'no state change, now or later');
      assert.equal(l.state(l.a), 'MASTER');
      assert.equal(l.state(l.b), 'BACKUP');
      assert.deepEqual(l.segment.holdersOf(VIP), ['a']);
      assert.deepEqual(l.a.service.unmatchedCounters(), {});
    });
  }

  it('an advert for a vhid nobody here serves is counted in unmatched, per interface', async () => {
    const l = await pair();
    l.segment.inject('mallory', 4, GROUP, better(PASSWORD, 99));
    l.segment.inject('mallory', 4, GROUP, better('wrong', 99));
    l.segment.inject('mallory', 4, GROUP, better(PASSWORD, 99), 64);
    await l.clock.advance(0);
    for (const n of [l.a, l.b]) {
      assert.deepEqual(n.service.unmatchedCounters(), { eth0: { badVhid: 2, badTtl: 1 } });
      const v = l.vhost(n);
      assert.equal(v.counters.badVhid, 0);
      assert.equal(v.counters.badTtl, 0);
    }
    assert.equal(l.state(l.a), 'MASTER');
  });

  it('our own advert coming back (a loop) is dropped as loop; a peer takes it as a valid advert', async () => {
    const l = await pair();
    const heard = await l.sniff();
    await l.clock.advance(advertIntervalMs(1, 0));
    const own = heard.find((p) => p.source === '198.51.100.11');
    assert.ok(own, 'sniffed an advert of a');
    const before = { a: l.vhost(l.a).counters, b: l.vhost(l.b).counters };
    // Replayed from another host, as a bridge loop would: without the check, a MASTER hearing
    // its own (equal) advert would yield to itself.
    l.segment.inject('mallory', 4, GROUP, own.payload);
    await l.clock.advance(0);
    assert.equal(l.vhost(l.a).counters.loop, before.a.loop + 1);
    assert.equal(l.vhost(l.a).counters.received, before.a.received);
    assert.equal(l.vhost(l.b).counters.loop, 0);
    assert.equal(l.vhost(l.b).counters.received, before.b.received + 1);
    assert.equal(l.state(l.a), 'MASTER');
    assert.equal(l.state(l.b), 'BACKUP');
  });

  it('control: the same "better" advert with the right password does make the master yield', async () => {
    const l = await pair();
    const at = l.clock.monotonic();
    l.segment.inject('mallory', 4, GROUP, better());
    await l.clock.advance(0);
    assert.equal(l.state(l.a), 'BACKUP');
    assert.deepEqual(l.transitions.filter((t) => t.at === at).map((t) => `${t.node} ${t.from}->${t.to} ${t.reason}`), [
      'a MASTER->BACKUP preferredMaster',
    ]);
    assert.deepEqual(l.segment.holdersOf(VIP), []);
  });
});

describe('demotion', () => {
  it('demoteBy(1) on the master: the backup takes over at once without preempt; resetDemote leaves it there', async () => {
    const l = await pair();
    const at = l.clock.monotonic();
    l.a.service.demoteBy(1);
    assert.equal(l.vhost(l.a).demote, 1);
    assert.deepEqual(l.a.service.demotion(), { total: 1, admin: 1, maintenance: false, linksDown: [], external: {} });
    await l.clock.advance(0);
    assert.deepEqual(
      l.transitions.filter((t) => t.at >= at).map((t) => `${t.node} ${t.from}->${t.to} ${t.reason}`),
      ['b BACKUP->MASTER masterDemoted', 'a MASTER->BACKUP preferredMaster'],
    );
    assert.ok(l.transitions.filter((t) => t.at >= at).every((t) => t.at === at), 'at once, not after master-down');
    assert.deepEqual(l.segment.holdersOf(VIP), ['b']);
    assert.equal(l.segment.reach('client', VIP), 'b');

    l.a.service.resetDemote();
    assert.equal(l.vhost(l.a).demote, 0);
    await l.clock.advance(20_000);
    assert.equal(l.state(l.a), 'BACKUP', 'preempt is off: a faster backup does not take back');
    assert.equal(l.state(l.b), 'MASTER');
    assert.deepEqual(l.hookArgs(l.a), ['42 BACKUP eth0', '42 MASTER eth0', '42 BACKUP eth0']);
    assert.deepEqual(l.hookArgs(l.b), ['42 BACKUP eth0', '42 MASTER eth0']);
  });

  it('resetDemote with preempt on: the faster node takes back at the next advert', async () => {
    const l = await pair({ preempt: true });
    l.a.service.demoteBy(2);
    await l.clock.advance(0);
    assert.equal(l.state(l.b), 'MASTER');
    l.a.service.resetDemote();
    await l.clock.advance(advertIntervalMs(1, 100));
    assert.equal(l.state(l.a), 'MASTER');
    assert.equal(l.state(l.b), 'BACKUP');
    assert.deepEqual(l.segment.holdersOf(VIP), ['a']);
  });

  it('demote is clamped to 0..255', async () => {
    const l = await pair();
    l.a.service.demoteBy(-5);
    assert.equal(l.a.service.demotion().total, 0);
    l.a.service.demoteBy(300);
    assert.equal(l.a.service.demotion().total, 255);
    assert.equal(l.a.service.demotion().admin, 255);
  });

  it('parent link down: its vhosts go to INIT and every other vhost of the node advertises demote 1 at once', async () => {
    const l = lab();
    // a serves vhid 42 on the segment and vhid 50 on eth1, an interface off the segment.
    const a = await l.node('a', carpConfigs({ advskew: 0 }, { vhid: 50, interface: 'eth1', addresses: ['203.0.113.100/24'] }), {
      interfaces: ['eth1'],
    });
    const b = await l.node('b', carpConfigs({ advskew: 100 }));
    await l.clock.advance(3500);
    assert.equal(l.state(a, 50), 'MASTER', 'alone on eth1');
    assert.deepEqual(await a.host.list('eth1'), ['203.0.113.100/24']);
    const sentBefore = l.vhost(a, 50).counters.sent;
    const at = l.clock.monotonic();

    a.host.setLink(false);
    assert.equal(l.state(a, 42), 'INIT');
    assert.equal(l.vhost(a, 50).state, 'MASTER');
    assert.equal(l.vhost(a, 50).demote, 1);
    assert.equal(l.vhost(a, 42).demote, 1);
    assert.equal(l.vhost(a, 50).counters.sent, sentBefore + 1, 'advertised the new demote at once');
    assert.deepEqual(a.service.demotion().linksDown, ['eth0']);
    await a.hooks.idle();
    assert.deepEqual(l.hookArgs(a).slice(-1), ['42 INIT eth0']);
    // b hears nothing more from a and takes over after its master-down time.
    await l.clock.advance(masterDownMs(1, 100) + 10);
    const takeover = l.transitions.find((t) => t.node === 'b' && t.to === 'MASTER')!;
    assert.ok(takeover.at > at && takeover.at <= at + masterDownMs(1, 100));
    assert.equal(takeover.reason, 'masterDown');

    a.host.setLink(true);
    assert.equal(l.state(a, 42), 'BACKUP');
    assert.equal(a.service.demotion().total, 0);
    await a.hooks.idle();
    assert.deepEqual(l.hookArgs(a).slice(-2), ['42 INIT eth0', '42 BACKUP eth0']);
    await l.clock.advance(10_000);
    assert.equal(l.state(b), 'MASTER');
    assert.equal(l.state(a, 50), 'MASTER');
  });

  it('tracked interface down: demote 1, the backup takes over at once; up again: demote 0, no preempt back', async () => {
    const l = lab();
    const a = await l.node('a', carpConfigs({ advskew: 0, track: { interfaces: ['eth1'] } }), { interfaces: ['eth1'] });
    const b = await l.node('b', carpConfigs({ advskew: 100 }));
    await l.clock.advance(3500);
    assert.equal(l.state(a), 'MASTER');
    assert.equal(a.service.demotion().total, 0);
    const at = l.clock.monotonic();
    a.host.setLink(false, 'eth1');
    assert.deepEqual(a.service.demotion(), { total: 1, admin: 0, maintenance: false, linksDown: ['eth1'], external: {} });
    await l.clock.advance(0);
    assert.deepEqual(
      l.transitions.filter((t) => t.at >= at).map((t) => `${t.node} ${t.from}->${t.to} ${t.reason}`),
      ['b BACKUP->MASTER masterDemoted', 'a MASTER->BACKUP preferredMaster'],
    );
    assert.equal(l.segment.reach('client', VIP), 'b');
    a.host.setLink(true, 'eth1');
    assert.equal(a.service.demotion().total, 0);
    await l.clock.advance(10_000);
    assert.equal(l.state(a), 'BACKUP');
    assert.equal(l.state(b), 'MASTER');
  });

  it('a tracked interface that is down at start demotes from the start', async () => {
    const l = lab();
    const host = l.segment.attach('probe');
    host.addInterface('eth1', { up: false });
    const a = await l.node('a', carpConfigs({ track: { interfaces: ['eth1', 'wg0'] } }), { interfaces: ['eth1'] });
    a.host.setLink(false, 'eth1');
    // wg0 does not exist: carp(4) counts a missing link as down, and says so.
    assert.deepEqual(a.service.demotion().linksDown.sort(), ['eth1', 'wg0']);
    assert.equal(a.service.demotion().total, 2);
    assert.ok(a.logs.some((e) => e.level === 'warn' && /wg0 does not exist/.test(e.msg)));
  });

  it('link changes of interfaces that are neither a parent nor tracked do not demote', async () => {
    const l = lab();
    // eth9 stands for anything else on the box: a macvlan being deleted, a VPN tunnel, lo.
    const a = await l.node('a', carpConfigs({ advskew: 0 }), { interfaces: ['eth9'] });
    await l.node('b', carpConfigs({ advskew: 100 }));
    await l.clock.advance(3500);
    a.host.setLink(false, 'eth9');
    assert.deepEqual(a.service.demotion(), { total: 0, admin: 0, maintenance: false, linksDown: [], external: {} });
    await l.clock.advance(5000);
    assert.equal(l.state(a), 'MASTER');
  });

  it('three send errors in a row demote by 1; the next advert sent lifts it', async () => {
    const l = lab();
    const host = l.segment.attach('solo', { addresses: ['198.51.100.30/24'] });
    let failing = false;
    const open = host.open.bind(host);
    host.open = async (iface, family) => {
      const channel = await open(iface, family);
      const send = channel.send.bind(channel);
      channel.send = async (destination, payload) => {
        if (failing) throw new Error('ENOBUFS');
        await send(destination, payload);
      };
      const advertise = channel.advertise?.bind(channel);
      assert.ok(advertise, 'a MASTER advertises through advertise()');
      channel.advertise = (vhid, destination, payload, cadence) => {
        if (failing) throw new Error('ENOBUFS');
        return advertise(vhid, destination, payload, cadence);
      };
      return channel;
    };
    const service = new CarpService(carpConfigs({}), {
      clock: l.clock,
      packets: host,
      addresses: host,
      announcer: host,
      links: host,
      hooks: new HookRunner(HOOKS, new FakeProcessRunner(), createLogger('error', () => undefined)),
      log: createLogger('error', () => undefined),
    });
    await service.start();
    await l.clock.advance(3500);
    assert.equal(service.status()[0]!.state, 'MASTER');
    failing = true;
    await l.clock.advance(2000); // adverts at 4 and 5 s fail
    assert.equal(service.demotion().total, 0);
    await l.clock.advance(1000); // the third, at 6 s
    assert.deepEqual(service.demotion().external, { 'sendErrors:eth0#42': 1 });
    assert.equal(service.demotion().total, 1);
    failing = false;
    await l.clock.advance(1000);
    assert.deepEqual(service.demotion(), { total: 0, admin: 0, maintenance: false, linksDown: [], external: {} });
  });

  it('maintenance: advskew 254 and demote +64 on every vhost; the peer takes over; off again keeps it BACKUP', async () => {
    const l = await pair();
    l.a.service.setMaintenance(true);
    assert.equal(l.vhost(l.a).advskew, MAINTENANCE_ADVSKEW);
    assert.equal(l.vhost(l.a).demote, MAINTENANCE_DEMOTE);
    await l.clock.advance(0);
    assert.equal(l.state(l.b), 'MASTER');
    assert.equal(l.state(l.a), 'BACKUP');
    l.a.service.setMaintenance(false);
    assert.equal(l.vhost(l.a).advskew, 0);
    assert.equal(l.vhost(l.a).demote, 0);
    await l.clock.advance(10_000);
    assert.equal(l.state(l.a), 'BACKUP');
  });
});

/** A FakeProcessRunner whose runs take `delayFor(run)` ms of FakeClock time. */
class SlowRunner extends FakeProcessRunner {
  readonly spans: { args: string; start: number; end: number }[] = [];
  readonly options: (RunOptions | undefined)[] = [];
  constructor(private readonly clock: FakeClock, private readonly delayFor: (args: readonly string[]) => number) {
    super();
  }
  override async run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult> {
    const start = this.clock.monotonic();
    const result = await super.run(command, args);
    this.options.push(options);
    const delay = this.delayFor(args);
    if (delay > 0) await new Promise<void>((resolve) => this.clock.setTimer(delay, resolve));
    this.spans.push({ args: args.join(' '), start, end: this.clock.monotonic() });
    return result;
  }
}

describe('hooks', () => {
  it('run one at a time in transition order, a slow hook delaying but never reordering later ones', async () => {
    const l = lab();
    const runner = new SlowRunner(l.clock, (args) => (args[1] === 'MASTER' ? 5000 : 0));
    const a = await l.node('a', carpConfigs({ advskew: 0 }), { runner });
    await l.node('b', carpConfigs({ advskew: 100 }));
    await l.clock.advance(3000); // a becomes MASTER; its hook takes 5 s
    await l.clock.advance(500);
    a.service.demoteBy(1); // a yields at once
    await l.clock.advance(500);
    a.host.setLink(false); // → INIT
    await l.clock.advance(500);
    a.host.setLink(true); // → BACKUP
    assert.equal(a.hooks.queued, 4, 'MASTER still running, three waiting');
    assert.deepEqual(
      l.transitions.filter((t) => t.node === 'a').map((t) => [t.at, t.to]),
      [
        [0, 'BACKUP'],
        [3000, 'MASTER'],
        [3500, 'BACKUP'],
        [4000, 'INIT'],
        [4500, 'BACKUP'],
      ],
    );
    await l.clock.advance(10_000);
    assert.deepEqual(runner.spans, [
      { args: '42 BACKUP eth0', start: 0, end: 0 },
      { args: '42 MASTER eth0', start: 3000, end: 8000 },
      { args: '42 BACKUP eth0', start: 8000, end: 8000 },
      { args: '42 INIT eth0', start: 8000, end: 8000 },
      { args: '42 BACKUP eth0', start: 8000, end: 8000 },
    ]);
    assert.deepEqual(
      runner.runs.map((r) => r.command),
      ['/hooks/backup', '/hooks/master', '/hooks/backup', '/hooks/init', '/hooks/backup'],
    );
    assert.ok(runner.options.every((o) => o?.timeoutMs === 30_000));
    assert.equal(a.hooks.queued, 0);
  });

  it('are serialised across vhosts of one node', async () => {
    const l = lab();
    const runner = new SlowRunner(l.clock, (args) => (args[0] === '42' ? 2000 : 0));
    await l.node('a', carpConfigs({ advskew: 0 }, { vhid: 43, addresses: [VIP2], advskew: 0 }), { runner });
    await l.clock.advance(10_000);
    assert.deepEqual(runner.spans, [
      { args: '42 BACKUP eth0', start: 0, end: 2000 },
      { args: '43 BACKUP eth0', start: 2000, end: 2000 },
      { args: '42 MASTER eth0', start: 3000, end: 5000 },
      { args: '43 MASTER eth0', start: 5000, end: 5000 },
    ]);
  });

  it('a failing hook is logged and later hooks still run', async () => {
    const l = lab();
    const runner = new FakeProcessRunner((run) => (run.args[1] === 'BACKUP' ? { code: 3, stderr: 'boom\n' } : {}));
    const a = await l.node('a', carpConfigs({}), { runner });
    await l.clock.advance(3500);
    assert.deepEqual(l.hookArgs(a), ['42 BACKUP eth0', '42 MASTER eth0']);
    assert.ok(a.logs.some((e) => e.level === 'warn' && e.msg === 'hook failed'));
  });

  it('a hook runner that throws does not stop the queue', async () => {
    const l = lab();
    let calls = 0;
    const runner = new FakeProcessRunner(() => {
      if (calls++ === 0) throw new Error('spawn EAGAIN');
      return {};
    });
    const a = await l.node('a', carpConfigs({}), { runner });
    await l.clock.advance(3500);
    await a.hooks.idle();
    assert.deepEqual(l.hookArgs(a), ['42 BACKUP eth0', '42 MASTER eth0']);
    assert.equal(a.hooks.queued, 0);
    assert.ok(a.logs.some((e) => e.level === 'error' && /spawn EAGAIN/.test(e.msg)));
  });

  it('a transition with no hook configured runs nothing', async () => {
    const l = lab();
    const a = await l.node('a', carpConfigs({}), { hooks: { master: '/hooks/master', timeoutSeconds: 5 } });
    await l.clock.advance(3500);
    a.host.setLink(false);
    await l.clock.advance(0);
    assert.deepEqual(l.hookArgs(a), ['42 MASTER eth0']);
  });
});

describe('reload', () => {
  it('a new advskew applies to the running vhost: state and since kept, adverts at the new interval', async () => {
    const l = await pair();
    const before = l.vhost(l.a);
    await l.clock.advance(200);
    await l.a.service.reload(carpConfigs({ advskew: 20 }));
    const after = l.vhost(l.a);
    assert.equal(after.state, 'MASTER');
    assert.equal(after.since, before.since);
    assert.equal(after.advskew, 20);
    assert.equal(l.transitions.filter((t) => t.node === 'a').length, 2, 'no restart');
    const from = l.clock.monotonic();
    await l.clock.advance(5000);
    const times = l.sends.filter((s) => s.from === 'a' && s.at > from).map((s) => s.at);
    assert.deepEqual(
      times.slice(1).map((t, i) => t - times[i]!),
      Array(times.length - 1).fill(advertIntervalMs(1, 20)),
    );
    assert.equal(times[0], from + advertIntervalMs(1, 20), 'the advert timer was re-armed at reload');
  });

  it('removing a vhost releases it with a bow-out (the peer takes over at once); adding one starts it', async () => {
    const l = await pair();
    const at = l.clock.monotonic();
    await l.a.service.reload(carpConfigs({ vhid: 44, addresses: [VIP2] }));
    assert.deepEqual(l.a.service.status().map((v) => [v.vhid, v.state]), [[44, 'BACKUP']]);
    assert.deepEqual(l.segment.holdersOf(VIP), []);
    await l.clock.advance(0);
    assert.equal(l.state(l.b), 'MASTER');
    assert.deepEqual(l.segment.holdersOf(VIP), ['b']);
    assert.deepEqual(l.hookArgs(l.a).slice(-2), ['42 INIT eth0', '44 BACKUP eth0']);
    await l.clock.advance(masterDownMs(1, 0));
    assert.equal(l.state(l.a, 44), 'MASTER');
    assert.deepEqual(l.segment.holdersOf(VIP2), ['a']);
    assert.deepEqual(l.transitions.filter((t) => t.node === 'b' && t.at >= at).map((t) => t.reason), ['masterTooSlow']);
  });

  it('removing the last vhost of an interface closes its socket: adverts from the peer are no longer counted', async () => {
    const l = await pair();
    await l.a.service.reload([]);
    await l.clock.advance(5000);
    assert.deepEqual(l.a.service.status(), []);
    assert.deepEqual(l.a.service.unmatchedCounters(), {});
  });

  it('a changed password restarts the vhost (the old key bows out)', async () => {
    const l = await pair();
    await l.a.service.reload(carpConfigs({ password: 'newsecret' }));
    await l.clock.advance(0);
    assert.equal(l.state(l.a), 'BACKUP');
    assert.equal(l.state(l.b), 'MASTER');
    assert.deepEqual(l.hookArgs(l.a).slice(-2), ['42 INIT eth0', '42 BACKUP eth0']);
    // b's adverts no longer authenticate at a, which therefore times out and becomes MASTER.
    await l.clock.advance(masterDownMs(1, 0) + 1);
    assert.equal(l.state(l.a), 'MASTER');
    assert.ok(l.vhost(l.a).counters.badAuth >= 3);
  });

  it('starting to track a link that is down demotes at once; stopping to track it lifts that', async () => {
    const l = lab();
    const a = await l.node('a', carpConfigs({ advskew: 0 }), { interfaces: ['eth1'] });
    const b = await l.node('b', carpConfigs({ advskew: 100 }));
    await l.clock.advance(3500);
    a.host.setLink(false, 'eth1');
    assert.equal(a.service.demotion().total, 0, 'not tracked yet');
    await a.service.reload(carpConfigs({ advskew: 0, track: { interfaces: ['eth1'] } }));
    assert.deepEqual(a.service.demotion().linksDown, ['eth1']);
    await l.clock.advance(0);
    assert.equal(l.state(b), 'MASTER', 'a advertised its new demote at once');
    a.host.setLink(true, 'eth1');
    assert.equal(a.service.demotion().total, 0);
    a.host.setLink(false, 'eth1');
    assert.equal(a.service.demotion().total, 1);
    await a.service.reload(carpConfigs({ advskew: 0 }));
    assert.equal(a.service.demotion().total, 0);
  });

  it('a vhost added by reload tracks its links', async () => {
    const l = lab();
    const a = await l.node('a', carpConfigs({}), { interfaces: ['eth1'] });
    await a.service.reload(carpConfigs({}, { vhid: 43, addresses: [VIP2], track: { interfaces: ['eth1'] } }));
    a.host.setLink(false, 'eth1');
    assert.deepEqual(a.service.demotion().linksDown, ['eth1']);
  });
});

describe('stop and kill -9', () => {
  it('stop(): a MASTER bows out, releases its addresses, runs the init hook and closes its channels', async () => {
    const l = await pair();
    await l.a.service.stop();
    assert.equal(l.state(l.a), 'INIT');
    assert.deepEqual(l.segment.holdersOf(VIP), []);
    assert.deepEqual(l.hookArgs(l.a).slice(-1), ['42 INIT eth0']);
    await l.clock.advance(0);
    assert.equal(l.state(l.b), 'MASTER');
    const { sent, received } = l.vhost(l.a).counters;
    await l.clock.advance(10_000);
    assert.equal(l.vhost(l.a).counters.sent, sent, 'nothing sent after stop');
    assert.equal(l.vhost(l.a).counters.received, received, 'channel closed: b\'s adverts no longer arrive');
    assert.ok(l.vhost(l.b).counters.sent >= 7, 'b kept advertising');
  });

  it('abandon() (kill -9): timers stop, the address stays, peers time out', async () => {
    const l = await pair();
    await l.a.service.abandon();
    assert.equal(l.state(l.a), 'MASTER', 'frozen, as a dead process would be');
    assert.deepEqual(l.segment.holdersOf(VIP), ['a']);
    await l.clock.advance(masterDownMs(1, 100));
    assert.equal(l.state(l.b), 'MASTER');
    assert.deepEqual(l.segment.holdersOf(VIP), ['a', 'b']);
    assert.equal(l.segment.reach('client', VIP), 'b');
  });
});

describe('status', () => {
  it('reports each vhost with its timing, demote, addresses, since as ISO time, and counters', async () => {
    const l = await pair();
    const [v] = l.a.service.status();
    assert.deepEqual(v, {
      vhid: 42,
      interface: 'eth0',
      state: 'MASTER',
      advbase: 1,
      advskew: 0,
      demote: 0,
      addresses: [VIP],
      since: new Date(Date.UTC(2026, 10, 22, 10, 0, 3)).toISOString(),
      counters: {
        sent: 1,
        received: 0,
        short: 0,
        badVersion: 0,
        badType: 0,
        badChecksum: 0,
        badAuth: 0,
        badTtl: 0,
        badVhid: 0,
        loop: 0,
      },
    });
    assert.equal(l.vhost(l.b).counters.received, 1);
  });
});

describe('re-announcements', () => {
  it('a slower master advertising every 4 ms makes the master re-announce at most every 100 ms, and once after the last', async () => {
    const l = await pair();
    const announced: number[] = [];
    l.segment.observe((e) => {
      if (e.kind === 'announce' && e.from === 'a') announced.push(e.at);
    });
    // A peer that believes it is a slower master (valid key, advskew 200) for one second.
    const slower = encodeAdvert({ vhid: 42, advbase: 1, advskew: 200, demote: 0, counter: COUNTER }, { password: PASSWORD, addresses: [VIP] });
    const start = l.clock.monotonic();
    for (let i = 0; i < 250; i++) {
      l.segment.inject('mallory', 4, '224.0.0.18', slower);
      await l.clock.advance(4);
    }
    const lastAdvert = l.clock.monotonic() - 4;
    await l.clock.advance(REANNOUNCE_SPACING_MS);
    assert.equal(l.state(l.a), 'MASTER');
    const during = announced.filter((at) => at >= start);
    assert.ok(during.length >= 10 && during.length <= 12, `${during.length} announcements in one second`);
    for (let i = 1; i < during.length; i++) assert.ok(during[i]! - during[i - 1]! >= REANNOUNCE_SPACING_MS);
    assert.ok(during.at(-1)! >= lastAdvert, 'the last slower advert was answered');
  });
});

/**
 * Packets that arrive while the event loop is busy: held back from the listeners (with their
 * arrival time) until released, or until the service drains the channel, if it can.
 */
class BusyLoopPort implements PacketPort {
  holding = false;
  private readonly held: { packet: ReceivedPacket; arrivedAt: number }[] = [];
  private readonly listeners: ((packet: ReceivedPacket) => void)[] = [];

  constructor(private readonly inner: PacketPort, private readonly clock: FakeClock, private readonly drains: boolean) {}

  async open(iface: string, family: Family): Promise<PacketChannel> {
    const channel = await this.inner.open(iface, family);
    channel.onPacket((packet) => {
      if (this.holding) this.held.push({ packet, arrivedAt: this.clock.monotonic() });
      else for (const listener of this.listeners) listener(packet);
    });
    return {
      send: (destination, payload) => channel.send(destination, payload),
      onPacket: (listener) => void this.listeners.push(listener),
      close: () => channel.close(),
      ...(this.drains ? { drain: () => this.release() } : {}),
    };
  }

  /** The loop is free again: everything held is delivered, each with its age. */
  release(): void {
    for (const { packet, arrivedAt } of this.held.splice(0)) {
      for (const listener of this.listeners) listener({ ...packet, ageMs: this.clock.monotonic() - arrivedAt });
    }
  }
}

describe('adverts held up by a busy event loop', () => {
  async function heldBackup(drains: boolean) {
    const l = lab();
    const a = await l.node('a', carpConfigs({ advskew: 0 }));
    let port: BusyLoopPort | undefined;
    const b = await l.node('b', carpConfigs({ advskew: 100 }), {
      packets: (host) => (port = new BusyLoopPort(host, l.clock, drains)),
    });
    await l.clock.advance(3500);
    assert.equal(l.state(a), 'MASTER');
    assert.equal(l.state(b), 'BACKUP');
    return { ...l, a, b, port: port! };
  }

  it('the master-down timer first hears adverts that arrived in time, and the backup stays BACKUP', async () => {
    const l = await heldBackup(true);
    l.port.holding = true;
    await l.clock.advance(10 * masterDownMs(1, 100));
    assert.equal(l.state(l.b), 'BACKUP');
    assert.equal(l.state(l.a), 'MASTER');
    assert.deepEqual(l.transitions.filter((t) => t.at > 3500), []);
  });

  it('without draining, the same stall is a false failover (what the drain prevents)', async () => {
    const l = await heldBackup(false);
    l.port.holding = true;
    await l.clock.advance(masterDownMs(1, 100) + 100);
    assert.equal(l.state(l.b), 'MASTER');
  });

  it('an advert delivered late counts from its arrival: the wait does not extend the master-down time', async () => {
    const l = await heldBackup(true);
    const lastAdvert = () => l.sends.filter((s) => s.from === 'a').at(-1)!.at;
    l.port.holding = true;
    await l.clock.advance(1500);
    const heardAt = lastAdvert();
    await l.a.service.abandon();
    // The event loop frees up 1 s after the last advert arrived: it is delivered with ageMs 1000.
    await l.clock.advance(heardAt + 1000 - l.clock.monotonic());
    l.port.release();
    l.port.holding = false;
    await l.clock.advance(masterDownMs(1, 100));
    const takeover = l.transitions.find((t) => t.node === 'b' && t.to === 'MASTER');
    assert.ok(takeover, 'b took over');
    const formula = heardAt + masterDownMs(1, 100);
    assert.ok(Math.abs(takeover.at - formula) <= 1, `took over at ${takeover.at}; arrival + master-down is ${formula}`);
  });

  it('adverts follow a change of demotion: the cached encoding is not reused', async () => {
    const l = lab();
    const a = await l.node('a', carpConfigs({ advskew: 7 }));
    await l.clock.advance(3500);
    const heard = await l.sniff();
    a.service.demoteBy(3);
    await l.clock.advance(1100);
    const during = heard.at(-1)!.payload;
    a.service.resetDemote();
    await l.clock.advance(1100);
    const after = heard.at(-1)!.payload;
    assert.deepEqual([during[2], during[4]], [7, 3]);
    assert.deepEqual([after[2], after[4]], [7, 0]);
  });
});

/** Holds back the outcomes of standing takeovers, as a busy event loop would, until released. */
class HeldOutcomePort implements PacketPort {
  private readonly held: (() => void)[] = [];

  constructor(private readonly inner: PacketPort) {}

  async open(iface: string, family: Family): Promise<PacketChannel> {
    const channel = await this.inner.open(iface, family);
    const armTakeover = channel.armTakeover?.bind(channel);
    assert.ok(armTakeover, 'the simulated channel carries takeovers out');
    return {
      send: (destination, payload) => channel.send(destination, payload),
      onPacket: (listener) => channel.onPacket(listener),
      close: () => channel.close(),
      armTakeover: (plan, delayMs, heardWithinMs, onOutcome) =>
        armTakeover(plan, delayMs, heardWithinMs, (outcome: TakeoverOutcome) => this.held.push(() => onOutcome(outcome))),
    };
  }

  release(): void {
    for (const deliver of this.held.splice(0)) deliver();
  }
}

describe('takeover carried out by the channel', () => {
  /** b's adverts and announcements, and its transitions, when a dies at 3.5 s. */
  async function failover(standingTakeover: boolean) {
    const l = lab();
    const announces: { at: number; from: string }[] = [];
    l.segment.observe((e) => {
      if (e.kind === 'announce') announces.push({ at: e.at, from: e.from });
    });
    const a = await l.node('a', carpConfigs({ advskew: 0 }), { standingTakeover });
    const b = await l.node('b', carpConfigs({ advskew: 100 }), { standingTakeover });
    await l.clock.advance(3500);
    const lastAdvert = l.sends.filter((x) => x.from === 'a').at(-1)!.at;
    await a.service.abandon();
    await l.clock.advance(5000);
    await b.service.idle();
    return {
      ...l,
      a,
      b,
      lastAdvert,
      bSends: l.sends.filter((x) => x.from === 'b').map((x) => x.at),
      bAnnounces: announces.filter((x) => x.from === 'b').map((x) => x.at),
    };
  }

  it('takes over at arrival + master-down, sending one advert and one announcement, and the machine follows', async () => {
    const l = await failover(true);
    const deadline = l.lastAdvert + masterDownMs(1, 100);
    const takeover = l.transitions.find((t) => t.node === 'b' && t.to === 'MASTER');
    assert.ok(takeover);
    assert.equal(takeover.reason, 'masterDown');
    assert.ok(Math.abs(takeover.at - deadline) < 0.01, `MASTER at ${takeover.at}, deadline ${deadline}`);
    assert.deepEqual(l.bSends.filter((at) => at < deadline + 1), [deadline], 'exactly one advert at the deadline');
    assert.deepEqual(l.bAnnounces.filter((at) => at < deadline + 1), [deadline], 'exactly one announcement');
    assert.ok(l.b.host.holds('198.51.100.100'));
    assert.equal(l.vhost(l.b).counters.sent, l.bSends.length, 'adverts the channel sent are counted');
    assert.deepEqual(l.hookArgs(l.b).at(-1), '42 MASTER eth0');
  });

  it('is indistinguishable on the segment from the service doing it on a timer', async () => {
    const standing = await failover(true);
    const timer = await failover(false);
    const strip = (t: Transition[]) => t.map(({ at, node, from, to, reason }) => ({ at: Math.round(at * 1000), node, from, to, reason }));
    assert.deepEqual(strip(standing.transitions), strip(timer.transitions));
    assert.deepEqual(standing.bSends, timer.bSends);
    assert.deepEqual(standing.bAnnounces, timer.bAnnounces);
    assert.deepEqual(standing.vhost(standing.b).counters, timer.vhost(timer.b).counters);
  });

  it('a forged advert calls the channel off at the deadline; the service, finding it invalid, takes over itself', async () => {
    const l = await pair();
    const lastAdvert = l.sends.filter((x) => x.from === 'a').at(-1)!.at;
    await l.a.service.abandon();
    const deadline = lastAdvert + masterDownMs(1, 100);
    await l.clock.advance(deadline - 1 - l.clock.monotonic());
    l.segment.inject('mallory', 4, GROUP, better('not-the-secret'));
    await l.clock.advance(100);
    const takeover = l.transitions.find((t) => t.node === 'b' && t.to === 'MASTER');
    assert.ok(takeover, 'b took over');
    assert.ok(Math.abs(takeover.at - deadline) < 0.01, `MASTER at ${takeover.at}, deadline ${deadline}`);
    assert.equal(l.vhost(l.b).counters.badAuth, 1);
    assert.equal(l.sends.filter((x) => x.from === 'b' && x.at < deadline + 1).length, 1, 'one advert, from the service');
    await l.b.service.idle();
    assert.ok(l.b.host.holds('198.51.100.100'));
  });

  it('a change of demotion while armed: the takeover advertises the new demote count', async () => {
    const l = await pair();
    const heard = await l.sniff();
    const lastAdvert = l.sends.filter((x) => x.from === 'a').at(-1)!.at;
    await l.a.service.abandon();
    await l.clock.advance(1000);
    l.b.service.demoteBy(2);
    const deadline = lastAdvert + masterDownMs(1, 100);
    await l.clock.advance(deadline + 1 - l.clock.monotonic());
    assert.equal(l.state(l.b), 'MASTER');
    const first = heard.find((p) => p.source === l.b.host.primaryAddress(4));
    assert.ok(first, 'b advertised');
    assert.deepEqual([first.payload[2], first.payload[4]], [100, 2]);
  });

  it('a link lost after the channel acted but before its outcome arrived: the addresses are removed again', async () => {
    const l = lab();
    const a = await l.node('a', carpConfigs({ advskew: 0 }));
    let port: HeldOutcomePort | undefined;
    const b = await l.node('b', carpConfigs({ advskew: 100 }), { packets: (host) => (port = new HeldOutcomePort(host)) });
    await l.clock.advance(3500);
    await a.service.abandon();
    await l.clock.advance(masterDownMs(1, 100) + 10);
    assert.ok(b.host.holds('198.51.100.100'), 'the channel added the address');
    assert.equal(l.state(b), 'BACKUP', 'the outcome has not been delivered yet');
    b.host.setLink(false);
    assert.equal(l.state(b), 'INIT');
    port!.release();
    await b.service.idle();
    assert.equal(l.state(b), 'INIT');
    assert.ok(!b.host.holds('198.51.100.100'), 'released');
  });
});

/**
 * A service's clock whose event loop can be paused: its timers that come due meanwhile fire
 * when it resumes. The segment, and so the channels' own fills, keep the lab's clock, as the
 * addon's thread keeps running through a GC pause.
 */
class PausableClock implements Clock {
  private pausedUntil = -Infinity;

  constructor(private readonly inner: FakeClock) {}

  now(): number {
    return this.inner.now();
  }

  monotonic(): number {
    return this.inner.monotonic();
  }

  pause(ms: number): void {
    this.pausedUntil = this.inner.monotonic() + ms;
  }

  setTimer(delayMs: number, fire: () => void): TimerHandle {
    let current: TimerHandle | undefined;
    const schedule = (delay: number): void => {
      current = this.inner.setTimer(delay, () => {
        const wait = this.pausedUntil - this.inner.monotonic();
        if (wait > 0) schedule(wait);
        else fire();
      });
    };
    schedule(delayMs);
    return { cancel: () => current?.cancel() };
  }
}

describe('adverts kept going by the channel while the event loop is paused', () => {
  const INTERVAL = 1000 / 256;

  /** a (0/1) MASTER and b (0/2) BACKUP at 3.9 ms adverts; a's event loop can be paused. */
  async function fast(standingTakeover = true) {
    const l = lab();
    const aClock = new PausableClock(l.clock);
    const a = await l.node('a', carpConfigs({ advbase: 0, advskew: 1 }), { serviceClock: aClock, standingTakeover });
    const b = await l.node('b', carpConfigs({ advbase: 0, advskew: 2 }));
    await l.clock.advance(1000);
    assert.equal(l.state(a), 'MASTER');
    assert.equal(l.state(b), 'BACKUP');
    const aSends = (from: number) => l.sends.filter((x) => x.from === 'a' && x.at >= from).map((x) => x.at);
    return { ...l, a, b, aClock, aSends };
  }

  it('a 60 ms pause (longer than the 23 ms master-down): the channel advertises every interval and the backup stays', async () => {
    const l = await fast();
    const start = l.clock.monotonic();
    l.aClock.pause(60);
    await l.clock.advance(200);
    assert.equal(l.state(l.b), 'BACKUP');
    assert.deepEqual(l.transitions.filter((t) => t.at > 1000), []);
    const during = l.aSends(start).filter((at) => at < start + 60);
    assert.ok(during.length >= 13, `${during.length} adverts during the pause`);
    for (let i = 1; i < during.length; i++) assert.ok(during[i]! - during[i - 1]! <= 2 * INTERVAL + 0.01);
    assert.equal(l.vhost(l.a).counters.sent, l.sends.filter((x) => x.from === 'a').length, 'filled adverts are counted');
  });

  it('without it, the same pause is a false failover (what the fills prevent)', async () => {
    const l = await fast(false);
    l.aClock.pause(60);
    await l.clock.advance(200);
    assert.ok(l.transitions.some((t) => t.node === 'b' && t.to === 'MASTER'));
  });

  it('a pause beyond the lease: the channel falls silent and the backup takes over', async () => {
    const l = await fast();
    const start = l.clock.monotonic();
    l.aClock.pause(5000);
    await l.clock.advance(2000);
    const takeover = l.transitions.find((t) => t.node === 'b' && t.to === 'MASTER');
    assert.ok(takeover, 'b took over');
    const lastFill = l.aSends(start).filter((at) => at < takeover.at).at(-1)!;
    assert.ok(lastFill < start + ADVERT_FILL_LEASE_MS && lastFill > start + ADVERT_FILL_LEASE_MS - 2 * INTERVAL, `last fill ${lastFill - start} ms into the pause`);
    assert.ok(Math.abs(takeover.at - (lastFill + masterDownMs(0, 2))) < 0.01);
  });

  it('covers the first interval after a takeover too, when the channel sent the first advert', async () => {
    const l = lab();
    const a = await l.node('a', carpConfigs({ advbase: 0, advskew: 1 }));
    const bClock = new PausableClock(l.clock);
    const b = await l.node('b', carpConfigs({ advbase: 0, advskew: 2 }), { serviceClock: bClock });
    await l.node('c', carpConfigs({ advbase: 0, advskew: 3 }));
    await l.clock.advance(1000);
    // The new master's event loop stalls right after its takeover (its hook spawning, say).
    b.service.onStateChange((_vhid, _iface, _from, to) => to === 'MASTER' && bClock.pause(60));
    await a.service.abandon();
    await l.clock.advance(300);
    assert.deepEqual(l.transitions.filter((t) => t.at > 1000).map((t) => `${t.node} ${t.to}`), ['b MASTER']);
  });

  it('a bow-out is the last advert: no fill follows it, and the backup keeps the role', async () => {
    const l = await pair();
    const heard = await l.sniff();
    // a's adverts after its first (which the takeover sent) go through advertise().
    await l.clock.advance(2000);
    const start = l.clock.monotonic();
    assert.equal(l.a.service.bowOut(), 1);
    // A fill would come two intervals after a's last advert: within these 3 s.
    await l.clock.advance(3000);
    const fromA = heard.filter((p) => p.source === l.a.host.primaryAddress(4));
    assert.equal(l.sends.filter((x) => x.from === 'a' && x.at >= start).length, 1);
    assert.deepEqual([fromA.at(-1)!.payload[2], fromA.at(-1)!.payload[5]], [255, 255], 'the bow-out advert');
    assert.deepEqual(l.transitions.filter((t) => t.at >= start).map((t) => `${t.node} ${t.to}`), ['a BACKUP', 'b MASTER']);
  });
});
