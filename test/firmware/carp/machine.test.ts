// Tests for the CARP state machine: one table row per carp(4) rule, the timing functions, and a
// small discrete-event run of two machines on a lossless segment.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import {
  type CarpState,
  type Effect,
  type Event,
  type Settings,
  advertIntervalMs,
  initialState,
  masterDownMs,
  transition,
} from '../../../firmware/carp/machine.js';

const base: Settings = { advbase: 1, advskew: 10, demote: 0, preempt: false };
const with_ = (changes: Partial<Settings>): Settings => ({ ...base, ...changes });

const INIT: CarpState = { name: 'INIT', since: 0 };
const BACKUP: CarpState = { name: 'BACKUP', since: 0 };
const MASTER = (advertsSinceElected = 0): CarpState => ({ name: 'MASTER', since: 0, advertsSinceElected });

const T = 5000;
const peer = '198.51.100.12';
const advert = (advbase: number, advskew: number, demote = 0): Event => ({
  type: 'advertReceived',
  at: T,
  advbase,
  advskew,
  demote,
  source: peer,
});
const at = <K extends Event['type']>(type: K): Event => ({ type, at: T }) as Event;
const changedSettings = (previous: Partial<Settings>): Event => ({
  type: 'settingsChanged',
  at: T,
  previous: with_(previous),
});

// Timing of `base`: 1 + 10/256 s = 1039.0625 ms; 3 + 10/256 s = 3039.0625 ms.
const armAdvert = (delayMs = 1039.0625): Effect => ({ type: 'armTimer', timer: 'advert', delayMs });
const armMasterDown = (delayMs = 3039.0625): Effect => ({ type: 'armTimer', timer: 'masterDown', delayMs });
const send = (advbase = 1, advskew = 10, demote = 0): Effect => ({ type: 'sendAdvert', advbase, advskew, demote });
const becameMaster = (reason: string, settings = base, cause?: string): Effect[] => [
  ...(cause ? [{ type: 'cancelTimer', timer: 'masterDown' } as const] : []),
  { type: 'claimAddresses' },
  send(settings.advbase, settings.advskew, settings.demote),
  { type: 'announceAddresses' },
  armAdvert(advertIntervalMs(settings.advbase, settings.advskew)),
  { type: 'stateChanged', from: 'BACKUP', to: 'MASTER', reason, ...(cause ? { peer: cause } : {}) } as Effect,
];
const yielded: Effect[] = [
  { type: 'cancelTimer', timer: 'advert' },
  { type: 'sendAdvert', advbase: 1, advskew: 10, demote: 0 },
  { type: 'releaseAddresses' },
  armMasterDown(),
  { type: 'stateChanged', from: 'MASTER', to: 'BACKUP', reason: 'preferredMaster', peer },
];
const newMaster: CarpState = { name: 'MASTER', since: T, advertsSinceElected: 0 };
const reannounce: Effect = { type: 'announceAddresses', slowerMaster: true };
const newBackup: CarpState = { name: 'BACKUP', since: T };
const newInit: CarpState = { name: 'INIT', since: T };

type Row = [rule: string, state: CarpState, event: Event, settings: Settings, expected: CarpState, effects: Effect[]];

const rows: Row[] = [
  // States and timers.
  ['INIT -> BACKUP when the interface runs, master-down armed (carp_setrun)', INIT, at('interfaceUp'), base,
    newBackup, [armMasterDown(), { type: 'stateChanged', from: 'INIT', to: 'BACKUP', reason: 'interfaceUp' }]],
  ['interfaceUp outside INIT is ignored', BACKUP, at('interfaceUp'), base, BACKUP, []],
  ['BACKUP -> MASTER when master-down fires: claim, advert, announce, arm (carp_master_down)', BACKUP,
    at('masterDownTimerFired'), base, newMaster, becameMaster('masterDown')],
  ['a stale master-down in MASTER is ignored', MASTER(3), at('masterDownTimerFired'), base, MASTER(3), []],
  ['master-down in INIT is ignored', INIT, at('masterDownTimerFired'), base, INIT, []],
  ['MASTER advertises and re-arms on the advert timer (carp_send_ad)', MASTER(0), at('advertTimerFired'), base,
    MASTER(1), [send(), armAdvert()]],
  ['second announce 2 adverts after election, for L3 switches (sc_delayed_arp = 2)', MASTER(1),
    at('advertTimerFired'), base, MASTER(2), [send(), { type: 'announceAddresses' }, armAdvert()]],
  ['no further announces after the second', MASTER(2), at('advertTimerFired'), base, MASTER(3), [send(), armAdvert()]],
  ['advert timer outside MASTER is ignored', BACKUP, at('advertTimerFired'), base, BACKUP, []],

  // MASTER receiving (carp_proto_input_c, case MASTER).
  ['MASTER yields on a tie (equal interval, equal demote)', MASTER(5), advert(1, 10), base, newBackup, yielded],
  ['MASTER yields to a more frequent master', MASTER(5), advert(1, 0), base, newBackup, yielded],
  ['MASTER yields to a faster advbase despite a larger skew', MASTER(5), advert(0, 200), base, newBackup, yielded],
  // A second master that loses the election (a healed partition) makes us re-announce (UCarp).
  ['MASTER keeps a less frequent master out and re-announces', MASTER(5), advert(1, 100), base, MASTER(5), [reannounce]],
  ['MASTER keeps out a more frequent master with a higher demote and re-announces', MASTER(5), advert(1, 0, 1), base, MASTER(5),
    [reannounce]],
  ['MASTER yields to a lower demote even with a worse skew (demote beats skew)', MASTER(5), advert(1, 100, 0),
    with_({ demote: 1 }), newBackup, yielded.map((e) => (e.type === 'sendAdvert' ? { ...e, demote: 1 } : e))],
  ['MASTER stays MASTER on a bow-out advert (255/255)', MASTER(5), advert(255, 255), base, MASTER(5), [reannounce]],

  // BACKUP receiving (carp_proto_input_c, case BACKUP), rules in the kernel's order.
  ['BACKUP restarts master-down on a faster master', BACKUP, advert(1, 0), base, BACKUP, [armMasterDown()]],
  ['BACKUP restarts master-down on a tie', BACKUP, advert(1, 10), base, BACKUP, [armMasterDown()]],
  ['preempt off: BACKUP waits out a slower master', BACKUP, advert(1, 100), base, BACKUP, [armMasterDown()]],
  ['preempt on: BACKUP takes over a slower master at once', BACKUP, advert(1, 100), with_({ preempt: true }),
    newMaster, becameMaster('preempt', with_({ preempt: true }), peer)],
  ['preempt on: no takeover of a slower master with a lower demote', BACKUP, advert(1, 100, 0),
    with_({ preempt: true, demote: 1 }), BACKUP, [armMasterDown()]],
  ['preempt on: no takeover of a faster master', BACKUP, advert(1, 0), with_({ preempt: true }), BACKUP,
    [armMasterDown()]],
  ['higher demote is taken over regardless of preempt, even with a better skew', BACKUP, advert(1, 0, 1), base,
    newMaster, becameMaster('masterDemoted', base, peer)],
  ['bow-out 255/255 is taken over at once with preempt off', BACKUP, advert(255, 255), base, newMaster,
    becameMaster('masterTooSlow', base, peer)],
  ['master slower than our master-down time (3 + 100/256 < 3 + 120/256) is taken over', BACKUP, advert(3, 120),
    with_({ advskew: 100 }), newMaster, becameMaster('masterTooSlow', with_({ advskew: 100 }), peer)],
  ['kernel compares 3*advbase + OUR skew: 3 + 50/256 is not slower than 3 + 100/256', BACKUP, advert(3, 50),
    with_({ advskew: 100 }), BACKUP, [armMasterDown(3390.625)]],
  ['advbase 0: the too-slow rule is skipped (sc_advbase && ...)', BACKUP, advert(255, 255), with_({ advbase: 0 }),
    BACKUP, [armMasterDown(117.1875)]],

  // INIT ignores adverts.
  ['INIT ignores a better advert', INIT, advert(1, 0), base, INIT, []],
  ['INIT ignores a bow-out and a demoted master', INIT, advert(255, 255, 5), with_({ preempt: true }), INIT, []],

  // Link state (carp_carpdev_state).
  ['link down as MASTER: stop advertising, release VIPs, INIT', MASTER(4), at('interfaceDown'), base, newInit,
    [{ type: 'cancelTimer', timer: 'advert' }, { type: 'releaseAddresses' },
      { type: 'stateChanged', from: 'MASTER', to: 'INIT', reason: 'interfaceDown' }]],
  ['link down as BACKUP: stop master-down, INIT', BACKUP, at('interfaceDown'), base, newInit,
    [{ type: 'cancelTimer', timer: 'masterDown' },
      { type: 'stateChanged', from: 'BACKUP', to: 'INIT', reason: 'interfaceDown' }]],
  ['link down in INIT is ignored', INIT, at('interfaceDown'), base, INIT, []],

  // Settings (carp_group_demote_adj, carp_ioctl SIOCSVH -> carp_setrun).
  ['MASTER advertises at once when demote goes 0 -> 1', MASTER(0), changedSettings({ demote: 0 }),
    with_({ demote: 1 }), MASTER(1), [send(1, 10, 1), armAdvert()]],
  ['the immediate demote advert counts toward the second announce', MASTER(1), changedSettings({ demote: 0 }),
    with_({ demote: 1 }), MASTER(2), [send(1, 10, 1), { type: 'announceAddresses' }, armAdvert()]],
  ['MASTER sends nothing extra when demote goes down', MASTER(3), changedSettings({ demote: 2 }),
    with_({ demote: 1 }), MASTER(3), []],
  ['MASTER re-arms the advert timer on an advskew change', MASTER(3), changedSettings({ advskew: 10 }),
    with_({ advskew: 20 }), MASTER(3), [armAdvert(1078.125)]],
  ['BACKUP re-arms master-down on an advbase change', BACKUP, changedSettings({ advbase: 1 }),
    with_({ advbase: 2 }), BACKUP, [armMasterDown(6039.0625)]],
  ['BACKUP ignores a demote or preempt change', BACKUP, changedSettings({ demote: 0, preempt: false }),
    with_({ demote: 3, preempt: true }), BACKUP, []],
  ['INIT ignores settings changes', INIT, changedSettings({ advskew: 0 }), base, INIT, []],

  // Bow-out and shutdown (carp_ioctl SIOCSIFFLAGS, sc_bow_out).
  ['bow-out as MASTER: 255/255 advert, release, BACKUP', MASTER(7), at('bowOutRequested'), with_({ demote: 2 }),
    newBackup, [{ type: 'cancelTimer', timer: 'advert' }, send(255, 255, 2), { type: 'releaseAddresses' },
      armMasterDown(), { type: 'stateChanged', from: 'MASTER', to: 'BACKUP', reason: 'bowOut' }]],
  ['bow-out outside MASTER is ignored', BACKUP, at('bowOutRequested'), base, BACKUP, []],
  ['shutdown as MASTER: bow-out advert, release, INIT', MASTER(7), at('shutdownRequested'), base, newInit,
    [{ type: 'cancelTimer', timer: 'advert' }, send(255, 255, 0), { type: 'releaseAddresses' },
      { type: 'stateChanged', from: 'MASTER', to: 'INIT', reason: 'shutdown' }]],
  ['shutdown as BACKUP: stop master-down, INIT', BACKUP, at('shutdownRequested'), base, newInit,
    [{ type: 'cancelTimer', timer: 'masterDown' },
      { type: 'stateChanged', from: 'BACKUP', to: 'INIT', reason: 'shutdown' }]],
  ['shutdown in INIT is ignored', INIT, at('shutdownRequested'), base, INIT, []],

  // advbase 0 timing (carp_setrun).
  ['advbase 0, advskew 0: master-down is 3/256 s', INIT, at('interfaceUp'), with_({ advbase: 0, advskew: 0 }),
    newBackup, [armMasterDown(11.71875), { type: 'stateChanged', from: 'INIT', to: 'BACKUP', reason: 'interfaceUp' }]],
  ['advbase 0, advskew 0: MASTER advertises every 1/256 s', BACKUP, at('masterDownTimerFired'),
    with_({ advbase: 0, advskew: 0 }), newMaster, becameMaster('masterDown', with_({ advbase: 0, advskew: 0 }))],
];

describe('transition', () => {
  for (const [rule, state, event, settings, expected, effects] of rows) {
    it(rule, () => {
      assert.deepEqual(transition(state, event, settings), { state: expected, effects });
    });
  }

  it('starts in INIT', () => {
    assert.deepEqual(initialState(12), { name: 'INIT', since: 12 });
  });

  it('does not mutate the state it is given', () => {
    const state = MASTER(1);
    const copy = structuredClone(state);
    transition(state, at('advertTimerFired'), base);
    assert.deepEqual(state, copy);
  });
});

describe('timing', () => {
  const intervals: Array<[number, number, number]> = [
    [1, 0, 1000],
    [1, 10, 1039.0625],
    [1, 100, 1390.625],
    [0, 0, 1000 / 256],
    [0, 128, 500],
    [254, 254, 254_992.1875],
  ];
  for (const [advbase, advskew, ms] of intervals) {
    it(`advert interval ${advbase} + ${advskew}/256 s = ${ms} ms`, () => {
      assert.equal(advertIntervalMs(advbase, advskew), ms);
    });
  }

  const masterDowns: Array<[number, number, number]> = [
    [1, 0, 3000],
    [1, 10, 3039.0625],
    [1, 100, 3390.625],
    [0, 10, 117.1875],
    [0, 0, 11.71875],
    [2, 255, 6996.09375],
  ];
  for (const [advbase, advskew, ms] of masterDowns) {
    it(`master-down 3*${advbase} + ${advskew}/256 s = ${ms} ms`, () => {
      assert.equal(masterDownMs(advbase, advskew), ms);
    });
  }

  it('the backup with the lower skew times out first', () => {
    assert.ok(masterDownMs(1, 10) < masterDownMs(1, 100));
  });
});

/**
 * Two machines on a lossless, zero-delay segment, driven by a discrete-event loop that performs
 * the effects: timers become scheduled events, sendAdvert reaches every other node at once.
 */
class Segment {
  readonly nodes: Array<{ name: string; settings: Settings; state: CarpState; log: Effect[] }> = [];
  private queue: Array<{ at: number; order: number; node: number; event: Event; timer?: string }> = [];
  private order = 0;
  now = 0;

  add(name: string, settings: Settings): number {
    this.nodes.push({ name, settings, state: initialState(0), log: [] });
    return this.nodes.length - 1;
  }

  /** The state name of a node, read through a call so assertions do not narrow it. */
  stateOf(node: number): CarpState['name'] {
    return this.nodes[node]!.state.name;
  }

  inject(node: number, event: Event): void {
    this.queue.push({ at: event.at, order: this.order++, node, event });
  }

  run(until: number): void {
    for (;;) {
      this.queue.sort((a, b) => a.at - b.at || a.order - b.order);
      const next = this.queue[0];
      if (!next || next.at > until) break;
      this.queue.shift();
      this.now = next.at;
      this.deliver(next.node, next.event);
    }
    this.now = until;
  }

  private deliver(index: number, event: Event): void {
    const node = this.nodes[index]!;
    const { state, effects } = transition(node.state, event, node.settings);
    node.state = state;
    node.log.push(...effects);
    for (const effect of effects) {
      if (effect.type === 'armTimer' || effect.type === 'cancelTimer') {
        this.queue = this.queue.filter((q) => !(q.node === index && q.timer === effect.timer));
      }
      if (effect.type === 'armTimer') {
        const type = effect.timer === 'advert' ? 'advertTimerFired' : 'masterDownTimerFired';
        const due = this.now + effect.delayMs;
        this.queue.push({ at: due, order: this.order++, node: index, event: { type, at: due }, timer: effect.timer });
      }
      if (effect.type === 'sendAdvert') {
        this.nodes.forEach((_, other) => {
          if (other === index) return;
          const { advbase, advskew, demote } = effect;
          const event: Event = { type: 'advertReceived', at: this.now, advbase, advskew, demote, source: node.name };
          this.queue.push({ at: this.now, order: this.order++, node: other, event });
        });
      }
    }
  }
}

describe('two machines on a segment', () => {
  const count = (log: Effect[], type: Effect['type']) => log.filter((e) => e.type === type).length;

  it('elects the lower skew, fails over on bow-out, and preempts back only with preempt on', () => {
    for (const preempt of [false, true]) {
      const segment = new Segment();
      const a = segment.add('a', { advbase: 1, advskew: 10, demote: 0, preempt });
      const b = segment.add('b', { advbase: 1, advskew: 100, demote: 0, preempt });
      segment.inject(a, { type: 'interfaceUp', at: 0 });
      segment.inject(b, { type: 'interfaceUp', at: 0 });
      segment.run(20_000);
      assert.equal(segment.stateOf(a), 'MASTER');
      assert.equal(segment.stateOf(b), 'BACKUP');
      assert.equal(segment.nodes[a]!.state.since, 3039.0625);
      assert.equal(count(segment.nodes[a]!.log, 'announceAddresses'), 2);
      assert.equal(count(segment.nodes[b]!.log, 'claimAddresses'), 0);

      // a shuts down: its 255/255 advert makes b MASTER at once.
      segment.inject(a, { type: 'shutdownRequested', at: 20_000 });
      segment.run(20_000);
      assert.equal(segment.stateOf(a), 'INIT');
      assert.deepEqual(segment.nodes[b]!.state, { name: 'MASTER', since: 20_000, advertsSinceElected: 0 });

      // a comes back: it stays BACKUP, unless preempt lets it take over the slower b.
      segment.inject(a, { type: 'interfaceUp', at: 25_000 });
      segment.run(40_000);
      assert.equal(segment.stateOf(a), preempt ? 'MASTER' : 'BACKUP');
      assert.equal(segment.stateOf(b), preempt ? 'BACKUP' : 'MASTER');
    }
  });

  it('moves the group when the master is demoted, without preempt', () => {
    const segment = new Segment();
    const a = segment.add('a', { advbase: 1, advskew: 10, demote: 0, preempt: false });
    const b = segment.add('b', { advbase: 1, advskew: 100, demote: 0, preempt: false });
    segment.inject(a, { type: 'interfaceUp', at: 0 });
    segment.inject(b, { type: 'interfaceUp', at: 0 });
    segment.run(10_000);
    const previous = segment.nodes[a]!.settings;
    segment.nodes[a]!.settings = { ...previous, demote: 1 };
    segment.inject(a, { type: 'settingsChanged', at: 10_000, previous });
    segment.run(10_000);
    assert.equal(segment.stateOf(b), 'MASTER');
    assert.equal(segment.stateOf(a), 'BACKUP');
    segment.run(30_000);
    assert.equal(segment.stateOf(b), 'MASTER');
    assert.equal(segment.stateOf(a), 'BACKUP');
  });
});
