// Scenario tests of whole nodes: N real Daemons on one simulated segment (SimCluster) driven by
// a FakeClock. Election, kill -9 and graceful failover timed against carp.md's formulas,
// partition and heal, and a lossy segment. Times are monotonic ms from the cluster's start.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { advertIntervalMs, masterDownMs } from '../../../firmware/carp/machine.js';
import { validate } from '../../../firmware/config/kit.js';
import { configSchema, type TandemConfig } from '../../../firmware/config/schema.js';
import { CLIENT, DEMO_VIPS, SimCluster, demoConfigs } from '../../../firmware/demo/cluster.js';
import { FakeClock } from '../../../firmware/os/clock.js';

const VIP42 = DEMO_VIPS[0]!;
const VIP43 = DEMO_VIPS[1]!;
const ADDRESS = { 'fw-a': '198.51.100.11', 'fw-b': '198.51.100.12', 'fw-c': '198.51.100.13' } as const;

interface Transition {
  at: number;
  node: string;
  vhid: number;
  from: string;
  to: string;
  reason: string;
}

/** A cluster on a FakeClock with every state change recorded from the cluster's event feed. */
function harness(configs: TandemConfig[] = demoConfigs()) {
  const clock = new FakeClock();
  const cluster = new SimCluster(clock, configs);
  const transitions: Transition[] = [];
  const sends: { at: number; from: string }[] = [];
  const announces: { at: number; from: string; address: string }[] = [];
  const offset = clock.now() - clock.monotonic();
  cluster.onEvent((event) => {
    const match = /^vhid (\d+): (\w+) -> (\w+) \((\w+)\)$/.exec(event.text);
    if (!match) return;
    const [, vhid, from, to, reason] = match;
    transitions.push({ at: event.at - offset, node: event.node, vhid: Number(vhid), from: from!, to: to!, reason: reason! });
  });
  cluster.segment.observe((event) => {
    if (event.kind === 'packet') sends.push({ at: event.at, from: event.from });
    else announces.push({ at: event.at, from: event.from, address: event.destination });
  });
  const state = (node: string, vhid: number) =>
    cluster.node(node).daemon?.status().carp.find((v) => v.vhid === vhid)?.state;
  const hookArgs = (node: string) => cluster.node(node).hooks.runs.map((r) => r.args.join(' '));
  const lastSendBy = (node: string, before = Infinity) =>
    Math.max(...sends.filter((s) => s.from === node && s.at <= before).map((s) => s.at));
  const status = (node: string, vhid: number) => {
    const found = cluster.node(node).daemon?.status().carp.find((v) => v.vhid === vhid);
    assert.ok(found, `${node} has no vhid ${vhid}`);
    return found;
  };
  return { clock, cluster, transitions, sends, announces, state, status, hookArgs, lastSendBy };
}

/** Configs for fw-a, fw-b, ...: one vhid-42 entry per node with the given overrides. */
function nodeConfigs(...perNode: Record<string, unknown>[]): TandemConfig[] {
  return perNode.map((carp, index) => {
    const { value, issues } = validate(configSchema, {
      node: { name: `fw-${'abc'[index]}`, stateDir: '/cfg/state' },
      carp: [{ vhid: 42, interface: 'eth0', addresses: [VIP42], password: 'labsecret', ...carp }],
      hooks: { master: '/cfg/hooks/master.sh', backup: '/cfg/hooks/backup.sh' },
    });
    assert.ok(value, JSON.stringify(issues));
    return value;
  });
}

describe('election', () => {
  for (const [skews, winner] of [
    [[0, 50, 100], 'fw-a'],
    [[100, 0, 50], 'fw-b'],
    [[50, 100, 0], 'fw-c'],
    [[10, 5, 200], 'fw-b'],
  ] as const) {
    it(`advskew ${skews.join('/')}: ${winner} is the only MASTER, from 3·advbase + its skew/256 s on`, async () => {
      const { clock, cluster, transitions } = harness(nodeConfigs(...skews.map((advskew) => ({ advskew }))));
      await cluster.startAll();
      await clock.advance(20_000);
      assert.deepEqual(cluster.masters(42), [winner]);
      assert.deepEqual(cluster.segment.holdersOf(VIP42), [winner]);
      assert.equal(cluster.segment.reach(CLIENT, VIP42), winner);
      const elected = transitions.filter((t) => t.to === 'MASTER');
      assert.deepEqual(elected.map((t) => [t.node, t.at]), [[winner, masterDownMs(1, Math.min(...skews))]]);
    });
  }

  it('three nodes with advskew 0/50/100: the skew-0 node becomes the only MASTER when its master-down fires', async () => {
    const { clock, cluster, transitions, state, status, hookArgs } = harness();
    await cluster.startAll();
    for (const node of ['fw-a', 'fw-b', 'fw-c']) assert.equal(state(node, 42), 'BACKUP');
    // Nobody has heard anything: the lowest master-down timeout, 3·advbase + 0/256 s, fires first.
    await clock.advance(masterDownMs(1, 0) - 1);
    assert.deepEqual(cluster.masters(42), []);
    await clock.advance(1);
    assert.deepEqual(cluster.masters(42), ['fw-a']);
    // vhid 43 is arranged so that fw-b has skew 0: each vhid has its own master.
    assert.deepEqual(cluster.masters(43), ['fw-b']);
    await clock.advance(10_000);
    assert.deepEqual(cluster.masters(42), ['fw-a']);
    assert.deepEqual(cluster.masters(43), ['fw-b']);
    assert.equal(state('fw-b', 42), 'BACKUP');
    assert.equal(state('fw-c', 42), 'BACKUP');
    assert.equal(state('fw-c', 43), 'BACKUP');
    assert.deepEqual(cluster.segment.holdersOf(VIP42), ['fw-a']);
    assert.deepEqual(cluster.segment.holdersOf(VIP43), ['fw-b']);
    assert.deepEqual(cluster.reachability(), { [VIP42]: 'fw-a', [VIP43]: 'fw-b' });
    // Only the two elections happened after the start.
    assert.deepEqual(
      transitions.filter((t) => t.to === 'MASTER'),
      [
        { at: 3000, node: 'fw-a', vhid: 42, from: 'BACKUP', to: 'MASTER', reason: 'masterDown' },
        { at: 3000, node: 'fw-b', vhid: 43, from: 'BACKUP', to: 'MASTER', reason: 'masterDown' },
      ],
    );
    assert.deepEqual(hookArgs('fw-a'), ['42 BACKUP eth0', '43 BACKUP eth0', '42 MASTER eth0']);
    assert.deepEqual(hookArgs('fw-b'), ['42 BACKUP eth0', '43 BACKUP eth0', '43 MASTER eth0']);
    assert.deepEqual(hookArgs('fw-c'), ['42 BACKUP eth0', '43 BACKUP eth0']);
    assert.deepEqual(
      cluster.node('fw-a').hooks.runs.map((r) => r.command),
      ['/cfg/hooks/backup.sh', '/cfg/hooks/backup.sh', '/cfg/hooks/master.sh'],
    );
    // The master advertises every advbase + advskew/256 s and the backups count what they hear.
    const a = status('fw-a', 42);
    const b = status('fw-b', 42);
    assert.equal(a.counters.sent, 11, 'one advert on election at 3 s, then one per second up to 13 s');
    assert.equal(b.counters.received, 11);
    assert.equal(b.counters.sent, 0);
  });
});

describe('failover', () => {
  for (const [advbase, survivor, survivorSkew] of [
    [1, 'fw-b', 50],
    [2, 'fw-b', 50],
  ] as const) {
    it(`kill -9 of the master (advbase ${advbase}): the lowest-skew backup takes over 3·advbase + ${survivorSkew}/256 s after the last advert`, async () => {
      const { clock, cluster, transitions, sends, announces, state, lastSendBy, hookArgs } = harness(
        demoConfigs(['fw-a', 'fw-b', 'fw-c'], advbase),
      );
      await cluster.startAll();
      await clock.advance(10_300);
      assert.deepEqual(cluster.masters(42), ['fw-a']);
      const crashAt = clock.monotonic();
      await cluster.crash('a');
      const lastAdvert = lastSendBy('fw-a');
      assert.ok(lastAdvert <= crashAt && lastAdvert > crashAt - advertIntervalMs(advbase, 0));

      await clock.advance(4 * advbase * 1000);
      const takeover = transitions.find((t) => t.vhid === 42 && t.to === 'MASTER' && t.at > crashAt);
      assert.ok(takeover, 'somebody took over');
      assert.equal(takeover.node, survivor);
      assert.equal(takeover.reason, 'masterDown');
      const failover = takeover.at - lastAdvert;
      const formula = masterDownMs(advbase, survivorSkew); // 3·advbase + skew/256 s
      assert.ok(
        failover >= formula && failover <= formula + 1,
        `failover took ${failover} ms; carp.md says ${formula} ms`,
      );
      // Its first advert goes out at the same instant; the dead node sent nothing after the crash.
      assert.ok(sends.some((s) => s.from === survivor && s.at === takeover.at));
      assert.equal(sends.filter((s) => s.from === 'fw-a' && s.at > lastAdvert).length, 0);

      assert.deepEqual(cluster.masters(42), [survivor]);
      assert.equal(state('fw-c', 42), 'BACKUP', 'the higher-skew backup stays BACKUP');
      // The crashed node still has the address configured, but the new master's gratuitous ARP
      // moved the clients.
      assert.deepEqual(cluster.segment.holdersOf(VIP42).sort(), ['fw-a', survivor]);
      assert.ok(announces.some((a) => a.from === survivor && a.address === '198.51.100.100' && a.at === takeover.at));
      assert.equal(cluster.segment.reach(CLIENT, VIP42), survivor);
      assert.deepEqual(hookArgs(survivor), ['42 BACKUP eth0', '43 BACKUP eth0', '43 MASTER eth0', '42 MASTER eth0']);
    });
  }

  it('before the takeover, clients still reach the crashed node (its address is still configured)', async () => {
    const { clock, cluster } = harness();
    await cluster.startAll();
    await clock.advance(10_300);
    await cluster.crash('a');
    await clock.advance(1000);
    assert.equal(cluster.reachability()[VIP42], 'fw-a');
    assert.deepEqual(cluster.masters(42), []);
  });

  it('a crashed node that restarts removes the stale address and comes back as BACKUP, then reclaims nothing without preempt', async () => {
    const { clock, cluster, state } = harness();
    await cluster.startAll();
    await clock.advance(10_300);
    await cluster.crash('a');
    await clock.advance(5000);
    assert.deepEqual(cluster.masters(42), ['fw-b']);
    await cluster.start('a');
    assert.deepEqual(cluster.segment.holdersOf(VIP42), ['fw-b'], 'the leftover VIP is gone from fw-a');
    await clock.advance(10_000);
    assert.equal(state('fw-a', 42), 'BACKUP');
    assert.deepEqual(cluster.masters(42), ['fw-b']);
  });

  it('graceful stop (SIGTERM) of the master: the bow-out makes a backup MASTER at once and the VIP leaves the stopped node', async () => {
    const { clock, cluster, transitions, state } = harness(demoConfigs(['fw-a', 'fw-b']));
    await cluster.startAll();
    await clock.advance(10_300);
    assert.deepEqual(cluster.masters(42), ['fw-a']);
    const stopAt = clock.monotonic();
    await cluster.stop('a');
    assert.deepEqual(cluster.segment.holdersOf(VIP42), [], 'released before the peer even heard the bow-out');
    await clock.advance(0);
    assert.deepEqual(cluster.masters(42), ['fw-b']);
    const takeover = transitions.find((t) => t.vhid === 42 && t.to === 'MASTER' && t.at >= stopAt)!;
    assert.deepEqual(takeover, { at: stopAt, node: 'fw-b', vhid: 42, from: 'BACKUP', to: 'MASTER', reason: 'masterTooSlow' });
    assert.ok(takeover.at - stopAt < masterDownMs(1, 50), 'well before master-down');
    assert.deepEqual(cluster.segment.holdersOf(VIP42), ['fw-b']);
    assert.equal(cluster.segment.reach(CLIENT, VIP42), 'fw-b');
    assert.equal(state('fw-a', 42), 'INIT', 'the stopped daemon left its vhosts in INIT');
    assert.equal(cluster.node('fw-a').daemon!.isRunning, false);
    assert.deepEqual(cluster.node('fw-a').hooks.runs.slice(-1)[0]?.args, ['42', 'MASTER', 'eth0'], 'no init hook is configured');
    // fw-a was BACKUP for 43; fw-b keeps it.
    assert.deepEqual(cluster.masters(43), ['fw-b']);
  });

  it('graceful stop with two backups: both take over on the bow-out, and the slower one yields at the first advert', async () => {
    const { clock, cluster, transitions, announces } = harness();
    await cluster.startAll();
    await clock.advance(10_300);
    const stopAt = clock.monotonic();
    await cluster.stop('a');
    await clock.advance(0);
    // carp(4): every backup whose master-down is shorter than 255 + 255/256 s takes over.
    assert.deepEqual(
      transitions.filter((t) => t.vhid === 42 && t.at >= stopAt).map((t) => `${t.node} ${t.from}->${t.to} ${t.reason}`),
      [
        'fw-a MASTER->INIT shutdown',
        'fw-b BACKUP->MASTER masterTooSlow',
        'fw-c BACKUP->MASTER masterTooSlow',
        'fw-c MASTER->BACKUP preferredMaster',
      ],
    );
    assert.ok(transitions.filter((t) => t.at >= stopAt).every((t) => t.at === stopAt));
    assert.deepEqual(cluster.masters(42), ['fw-b']);
    assert.deepEqual(cluster.segment.holdersOf(VIP42), ['fw-b']);
    assert.deepEqual(cluster.node('fw-c').hooks.runs.slice(-2).map((r) => r.args.join(' ')), ['42 MASTER eth0', '42 BACKUP eth0']);
    // fw-c announced after fw-b, but its adverts made fw-b (hearing a slower master)
    // re-announce at the same instant, so clients are not left pointing at fw-c.
    const atStop = announces.filter((a) => a.at === stopAt && a.address === '198.51.100.100').map((a) => a.from);
    assert.deepEqual(atStop.slice(0, 2), ['fw-b', 'fw-c']);
    assert.equal(atStop.at(-1), 'fw-b');
    assert.equal(cluster.segment.reach(CLIENT, VIP42), 'fw-b');
    await clock.advance(10_000);
    assert.deepEqual(cluster.masters(42), ['fw-b']);
    assert.equal(cluster.segment.reach(CLIENT, VIP42), 'fw-b');
  });

  it('a link cut on the master: its vhosts go to INIT, the peer takes over after master-down; link back → BACKUP', async () => {
    const { clock, cluster, transitions, state, lastSendBy } = harness(demoConfigs(['fw-a', 'fw-b']));
    await cluster.startAll();
    await clock.advance(10_300);
    cluster.setLink('a', false);
    assert.equal(state('fw-a', 42), 'INIT');
    assert.equal(state('fw-a', 43), 'INIT');
    const status = cluster.node('fw-a').daemon!.status();
    assert.equal(status.demotion.total, 1);
    assert.deepEqual(status.demotion.linksDown, ['eth0']);
    assert.deepEqual(cluster.segment.holdersOf(VIP42), [], 'fw-a released it (and is off the segment); fw-b not yet');
    assert.equal(cluster.reachability()[VIP42], undefined);
    await clock.advance(4000);
    const takeover = transitions.find((t) => t.node === 'fw-b' && t.vhid === 42 && t.to === 'MASTER')!;
    assert.equal(takeover.at - lastSendBy('fw-a'), masterDownMs(1, 50));
    assert.equal(cluster.reachability()[VIP42], 'fw-b');
    cluster.setLink('a', true);
    assert.equal(state('fw-a', 42), 'BACKUP');
    assert.equal(cluster.node('fw-a').daemon!.status().demotion.total, 0);
    await clock.advance(10_000);
    assert.deepEqual(cluster.masters(42), ['fw-b']);
    assert.deepEqual(cluster.node('fw-a').hooks.runs.map((r) => r.args.join(' ')), [
      '42 BACKUP eth0',
      '43 BACKUP eth0',
      '42 MASTER eth0',
      '42 BACKUP eth0',
      '43 BACKUP eth0',
    ]);
  });
});

describe('partition and heal', () => {
  it('both sides elect a MASTER while split; after the heal one MASTER per vhid within 3·advbase', async () => {
    const { clock, cluster, transitions, announces, state } = harness(demoConfigs(['fw-a', 'fw-b']));
    await cluster.startAll();
    await clock.advance(10_300);
    assert.deepEqual(cluster.reachability(), { [VIP42]: 'fw-a', [VIP43]: 'fw-b' });

    cluster.partition([['a'], ['b']]);
    assert.deepEqual(cluster.segment.partitions, [['fw-a', CLIENT], ['fw-b']]);
    await clock.advance(4000);
    // Split brain, as expected: each side took over the other's vhid.
    assert.deepEqual(cluster.masters(42), ['fw-a', 'fw-b']);
    assert.deepEqual(cluster.masters(43), ['fw-a', 'fw-b']);
    assert.deepEqual(cluster.segment.holdersOf(VIP42), ['fw-a', 'fw-b']);
    // The client sits with fw-a and only heard fw-a's announcements.
    assert.deepEqual(cluster.reachability(), { [VIP42]: 'fw-a', [VIP43]: 'fw-a' });
    assert.equal(cluster.segment.reach('fw-b', VIP42), undefined, 'fw-b holds it itself; reach() asks for another host');

    const healAt = clock.monotonic();
    cluster.heal();
    await clock.advance(3000);
    assert.deepEqual(cluster.masters(42), ['fw-a']);
    assert.deepEqual(cluster.masters(43), ['fw-b']);
    assert.deepEqual(cluster.segment.holdersOf(VIP42), ['fw-a']);
    assert.deepEqual(cluster.segment.holdersOf(VIP43), ['fw-b']);
    const yields = transitions.filter((t) => t.at > healAt);
    assert.deepEqual(
      yields.map((t) => `${t.node} ${t.vhid} ${t.from}->${t.to} ${t.reason}`).sort(),
      ['fw-a 43 MASTER->BACKUP preferredMaster', 'fw-b 42 MASTER->BACKUP preferredMaster'],
    );
    // The loser yields at the winner's first advert after the heal: within one advert interval.
    for (const t of yields) assert.ok(t.at - healAt <= advertIntervalMs(1, 0), `${t.node} yielded ${t.at - healAt} ms after heal`);
    assert.equal(state('fw-a', 42), 'MASTER');
    // The winners re-announce after the heal (on hearing the slower master), so the client,
    // which followed fw-a for both VIPs during the split, reaches fw-b again for vhid 43.
    const reannounced = announces.filter((a) => a.at > healAt);
    assert.ok(reannounced.some((a) => a.from === 'fw-b' && a.address === '198.51.100.101'));
    assert.ok(reannounced.some((a) => a.from === 'fw-a' && a.address === '198.51.100.100'));
    assert.equal(cluster.segment.cacheOf(CLIENT).get('198.51.100.101'), cluster.segment.host('fw-b').mac);
    assert.deepEqual(cluster.reachability(), { [VIP42]: 'fw-a', [VIP43]: 'fw-b' });
    await clock.advance(10_000);
    assert.deepEqual(cluster.reachability(), { [VIP42]: 'fw-a', [VIP43]: 'fw-b' });
    assert.deepEqual(cluster.masters(42), ['fw-a']);
    assert.deepEqual(cluster.masters(43), ['fw-b']);
  });
});

describe('preempt', () => {
  for (const preempt of [true, false]) {
    it(`a faster backup with preempt ${preempt} ${preempt ? 'takes over at the next advert' : 'stays BACKUP'}`, async () => {
      const { clock, cluster, transitions, lastSendBy, state } = harness(
        nodeConfigs({ advskew: 100 }, { advskew: 0, preempt }),
      );
      await cluster.start('a');
      await clock.advance(5000);
      assert.deepEqual(cluster.masters(42), ['fw-a']);
      const startedB = clock.monotonic();
      await cluster.start('b');
      await clock.advance(advertIntervalMs(1, 100) + 1);
      const aAdvert = lastSendBy('fw-a');
      assert.ok(aAdvert > startedB);
      if (preempt) {
        const takeover = transitions.find((t) => t.node === 'fw-b' && t.to === 'MASTER')!;
        assert.deepEqual(takeover, { at: aAdvert, node: 'fw-b', vhid: 42, from: 'BACKUP', to: 'MASTER', reason: 'preempt' });
        assert.equal(state('fw-a', 42), 'BACKUP');
        await clock.advance(20_000);
        assert.deepEqual(cluster.masters(42), ['fw-b']);
        assert.equal(cluster.reachability()[VIP42], 'fw-b');
      } else {
        await clock.advance(20_000);
        assert.deepEqual(cluster.masters(42), ['fw-a']);
        assert.equal(state('fw-b', 42), 'BACKUP');
        assert.equal(transitions.filter((t) => t.node === 'fw-b' && t.to === 'MASTER').length, 0);
      }
    });
  }
});

describe('lossy segment', () => {
  it('30% loss, 3 nodes, 5 minutes: the best master never flaps, spurious takeovers are few and end at its next advert heard', async () => {
    const { clock, cluster, transitions } = harness();
    // Record what each node hears (time, vhid, sender) by wrapping its simulated NIC.
    const heard: { at: number; node: string; vhid: number; source: string }[] = [];
    for (const name of cluster.nodes.keys()) {
      const host = cluster.segment.host(name);
      const open = host.open.bind(host);
      host.open = async (iface, family) => {
        const channel = await open(iface, family);
        const onPacket = channel.onPacket.bind(channel);
        channel.onPacket = (listener) =>
          onPacket((packet) => {
            heard.push({ at: clock.monotonic(), node: name, vhid: packet.payload[1]!, source: packet.source });
            listener(packet);
          });
        return channel;
      };
    }
    await cluster.startAll();
    await clock.advance(3500);
    assert.deepEqual(cluster.masters(42), ['fw-a']);
    assert.deepEqual(cluster.masters(43), ['fw-b']);
    const from = clock.monotonic();
    cluster.segment.setLoss(0.3);
    const minutes = 5;
    await clock.advance(minutes * 60_000);
    cluster.segment.setLoss(0);

    const best: Record<number, keyof typeof ADDRESS> = { 42: 'fw-a', 43: 'fw-b' };
    // 1. The skew-0 master never yields: a slower spurious master's adverts never beat it.
    for (const [vhid, node] of Object.entries(best)) {
      assert.equal(transitions.filter((t) => t.node === node && t.vhid === Number(vhid) && t.at > from).length, 0);
    }
    // 2. A backup takes over only when it missed every advert for its master-down time, i.e.
    //    three in a row (3 s < 3·1 + skew/256 s < 4 s): P = 0.3³ = 0.027 per advert it heard.
    //    Two backups × two vhids × ~300 adverts × 0.7 heard × 0.027 ≈ 23 expected (Poisson).
    const spurious = transitions.filter((t) => t.at > from && t.to === 'MASTER');
    const expected = 2 * 2 * (minutes * 60) * 0.7 * 0.3 ** 3;
    assert.ok(spurious.length >= 1, 'at 30% loss some takeovers are expected');
    assert.ok(spurious.length <= 2 * expected, `${spurious.length} spurious takeovers, expected about ${expected.toFixed(1)}`);
    assert.ok(spurious.every((t) => t.reason === 'masterDown' && t.node !== best[t.vhid]));
    // 3. Each split brain ends exactly when the spurious master next hears the best master
    //    (carp(4): a MASTER yields to a faster advert). With 30% loss that gap is geometric: more
    //    than 8 intervals has probability 0.3⁸ ≈ 7e-5 per episode, so we bound it at 8.
    let longest = 0;
    for (const takeover of spurious) {
      const yielded = transitions.find(
        (t) => t.node === takeover.node && t.vhid === takeover.vhid && t.at >= takeover.at && t.from === 'MASTER',
      );
      assert.ok(yielded, `${takeover.node} vhid ${takeover.vhid} yielded`);
      assert.equal(yielded.reason, 'preferredMaster');
      const firstHeard = heard.find(
        (h) =>
          h.node === takeover.node &&
          h.vhid === takeover.vhid &&
          h.source === ADDRESS[best[takeover.vhid]!] &&
          h.at >= takeover.at,
      );
      assert.equal(yielded.at, firstHeard?.at, `${takeover.node} vhid ${takeover.vhid} yielded at the first advert heard`);
      longest = Math.max(longest, yielded.at - takeover.at);
    }
    assert.ok(longest <= 8 * advertIntervalMs(1, 0), `longest split brain ${longest} ms`);
    // 4. Every transition is a hook run, in order; and the cluster is whole again at the end.
    const hooksRun = [...cluster.nodes.values()].reduce((n, node) => n + node.hooks.runs.length, 0);
    assert.equal(hooksRun, transitions.length);
    await clock.advance(2000);
    assert.deepEqual(cluster.masters(42), ['fw-a']);
    assert.deepEqual(cluster.masters(43), ['fw-b']);
    assert.deepEqual(cluster.segment.holdersOf(VIP42), ['fw-a']);
    assert.deepEqual(cluster.segment.holdersOf(VIP43), ['fw-b']);
  });
});
