// `power simulate`: the energy model computed by hand on a small schedule, the
// clairvoyant optimum against brute force, and the CLI's --json contract.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { parseArgs, UsageError } from '../../../firmware/cli.js';
import { chooseGaps, clairvoyant, requiredSets, type Gap } from '../../../firmware/power/optimum.js';
import type { PowerConfig } from '../../../firmware/power/schema.js';
import { plannerStrategy, replay, scheduleStrategy, setupFromConfig, type SimSetup } from '../../../firmware/power/simulate.js';
import type { Trace } from '../../../firmware/power/trace.js';
import { prng } from '../../../scripts/bench/energy-traces.js';

const watts = { idle: 40, peak: 90, parked: 3 };
const two: SimSetup = {
  intervalSeconds: 30,
  policy: { spares: 0, minAwake: 1, maxCyclesPerDay: 4, minAwakeSeconds: 0, minParkedSeconds: 0, targetUtilisation: 0.8 },
  pool: { name: 'web', unit: 'connections' },
  hosts: ['a', 'b'].map((name) => ({ name, capacity: 100, watts, wakeSeconds: 5, parkSeconds: 10, pinned: false })),
};

describe('power simulate model', () => {
  it('draws, shares and counts shortfall as issue 10 says (hand-computed)', () => {
    const trace: Trace = { points: [{ t: 0, demand: 50 }, { t: 120, demand: 150 }, { t: 180, demand: 50 }, { t: 600, demand: 50 }], end: 600 };
    const r = replay(two, trace, scheduleStrategy([{ t: 60, host: 'b', action: 'park' }, { t: 300, host: 'b', action: 'wake' }]));
    // 0-60 both serve at u 0.25: 2 × 52.5 W. 60-70 a at u 0.5 (65 W), b parking at idle (40 W).
    // 70-120 a 65 + b parked 3. 120-180 a capped at 90 (150 > 100: shortfall) + 3. 180-300 65 + 3.
    // 300-305 a 65, b waking at idle 40. 305-600 both at 52.5.
    const joules = 105 * 60 + 105 * 10 + 68 * 50 + 93 * 60 + 68 * 120 + 105 * 5 + 105 * 295;
    const alwaysOn = 105 * 120 + 155 * 60 + 105 * 420;
    assert.ok(Math.abs(r.energy.kWh - joules / 3.6e6) < 1e-12, `${r.energy.kWh * 3.6e6} J, expected ${joules}`);
    assert.ok(Math.abs(r.energy.alwaysOnKWh - alwaysOn / 3.6e6) < 1e-12);
    assert.equal(r.shortfallSeconds, 60);
    assert.equal(r.belowPolicySeconds, 60);
    assert.deepEqual(r.transitions.map((t) => [t.t, t.host, t.action]), [[60, 'b', 'park'], [300, 'b', 'wake']]);
    assert.deepEqual(r.parks, { a: 0, b: 1 });
  });

  it('refuses a schedule that wakes a host not parked yet', () => {
    const trace: Trace = { points: [{ t: 0, demand: 0 }, { t: 300, demand: 0 }], end: 300 };
    assert.throws(
      () => replay(two, trace, scheduleStrategy([{ t: 0, host: 'b', action: 'park' }, { t: 0, host: 'b', action: 'wake' }])),
      /cannot wake b: it is parking/,
    );
  });

  it('replays the planner from all awake: it parks at low demand and wakes at a step up', () => {
    const trace: Trace = { points: [{ t: 0, demand: 20 }, { t: 3600, demand: 120 }, { t: 7200, demand: 120 }], end: 7200 };
    const setup: SimSetup = {
      ...two,
      policy: { ...two.policy, spares: 1, minAwakeSeconds: 600 },
      hosts: [...two.hosts, { name: 'c', capacity: 100, watts, wakeSeconds: 5, parkSeconds: 10, pinned: false }],
    };
    const r = replay(setup, trace, plannerStrategy(setup));
    // 20 fits 72% of one host's 100 with one spare: c parks in the first round (awake since
    // before the trace, so no dwell); b is the spare. At 3600, 120 needs net 150: c is woken
    // and serves 5 s later; a and b hold 200 meanwhile, so no shortfall, 5 s below the policy.
    assert.deepEqual(r.transitions.map((t) => [t.t, t.host, t.action]), [[0, 'c', 'park'], [3600, 'c', 'wake']]);
    assert.equal(r.shortfallSeconds, 0);
    assert.equal(r.belowPolicySeconds, 5);
    assert.ok(r.energy.savedKWh > 0);
  });
});

describe('power simulate clairvoyant optimum', () => {
  it('finds the same best parks as brute force over every subset and park time', () => {
    const random = prng(7);
    const day = 40;
    for (let round = 0; round < 80; round++) {
      const gaps: Gap[] = [];
      let t = 0;
      const count = 2 + Math.floor(random() * 4);
      for (let i = 0; i < count; i++) {
        t += Math.floor(random() * 12);
        const length = 2 + Math.floor(random() * 8);
        const last = i === count - 1 && random() < 0.3;
        const until = t + length;
        gaps.push({ park: t, wakeAt: last ? Infinity : until, serveAt: last ? Infinity : until + 2, until, parkSeconds: Math.floor(random() * 3) });
        t = until + 2 + Math.floor(random() * 6);
      }
      const cap = 1 + Math.floor(random() * 3);
      const dwell = Math.floor(random() * 10);
      // Every way to park: each gap skipped or parked at any second that still saves something.
      let best = 0;
      const pick = (i: number, chosen: { g: Gap; park: number }[]) => {
        if (i === gaps.length) {
          const ok = chosen.every(
            (c, j) => (j === 0 || c.park >= chosen[j - 1]!.g.serveAt + dwell) && (j < cap || c.park - chosen[j - cap]!.park >= day),
          );
          if (ok) best = Math.max(best, chosen.reduce((a, c) => a + c.g.until - c.park - c.g.parkSeconds, 0));
          return;
        }
        pick(i + 1, chosen);
        const g = gaps[i]!;
        for (let park = g.park; g.until - park - g.parkSeconds > 0; park++) pick(i + 1, [...chosen, { g, park }]);
      };
      pick(0, []);
      const dp = chooseGaps(gaps, cap, dwell, 1, day);
      assert.ok(dp.exact);
      const value = dp.chosen.reduce((a, c) => a + gaps[c.gap]!.until - c.park - gaps[c.gap]!.parkSeconds, 0);
      assert.equal(value, best, `round ${round}: ${JSON.stringify({ gaps, cap, dwell, chosen: dp.chosen })}`);
    }
  });

  it('keeps the policy and the cap at every second, and saves where demand leaves room', () => {
    const random = prng(11);
    const setup: SimSetup = {
      intervalSeconds: 30,
      policy: { spares: 1, minAwake: 1, maxCyclesPerDay: 2, minAwakeSeconds: 600, minParkedSeconds: 600, targetUtilisation: 0.8 },
      pool: { name: 'web', unit: 'connections' },
      hosts: [
        { name: 'fast', capacity: 200, watts: { idle: 50, peak: 120, parked: 2 }, wakeSeconds: 5, parkSeconds: 10, pinned: false },
        { name: 'slow', capacity: 200, watts: { idle: 90, peak: 200, parked: 5 }, wakeSeconds: 120, parkSeconds: 30, pinned: false },
        { name: 'mid', capacity: 100, watts: { idle: 40, peak: 80, parked: 3 }, wakeSeconds: 60, parkSeconds: 20, pinned: false },
        { name: 'pin', capacity: 100, watts: { idle: 40, peak: 90, parked: 3 }, wakeSeconds: 5, parkSeconds: 10, pinned: true },
      ],
    };
    const points = [];
    for (let t = 0; t < 2 * 86_400; t += 300) points.push({ t, demand: Math.round(random() * 320) });
    const trace: Trace = { points: [...points, { t: 2 * 86_400, demand: 0 }], end: 2 * 86_400 };
    const optimum = clairvoyant(setup, trace);
    assert.ok(optimum.exact);
    assert.ok(!optimum.transitions.some((t) => t.host === 'pin'));
    const r = replay(setup, trace, scheduleStrategy(optimum.transitions));
    assert.equal(r.shortfallSeconds, 0);
    assert.equal(r.belowPolicySeconds, 0);
    for (const most of Object.values(r.maxParksIn24h)) assert.ok(most <= 2);
    assert.ok(r.energy.savedKWh > 0);
    assert.ok(optimum.boundKWh <= r.energy.kWh + 1e-9, 'free parking is a floor');
    // Each round's required set meets the policy on its own.
    const { required } = requiredSets(setup, trace);
    assert.ok(required.every((set) => set.has('pin')));
  });
});

describe('tandem power simulate', () => {
  it('takes the one pool, or the one --pool names, from the config', () => {
    const base = { intervalSeconds: 30, policy: { ...two.policy, drainTimeoutSeconds: 60 }, pools: [{ name: 'web', unit: 'requestsPerSecond' as const }] };
    const member = (name: string, pool: string) => ({
      name,
      pool,
      address: '198.51.100.21',
      mac: '02:00:5e:10:00:21',
      capacity: 10,
      watts,
      wake: { method: 'wol' as const, seconds: 5 },
      park: { method: 'ssh' as const, seconds: 10 },
      pinned: name === 'w2',
      pinSchedule: [],
    });
    const config = { ...base, hosts: [member('w1', 'web'), member('w2', 'web'), member('m1', 'mail')] } as unknown as PowerConfig;
    const none = setupFromConfig(config);
    assert.ok(!none.ok);
    assert.match(none.message, /pools web, mail: choose one with --pool/);
    const web = setupFromConfig(config, 'web');
    assert.ok(web.ok);
    assert.deepEqual(web.setup.pool, { name: 'web', unit: 'requestsPerSecond' });
    assert.deepEqual(web.setup.hosts.map((h) => [h.name, h.wakeSeconds, h.parkSeconds, h.pinned]), [['w1', 5, 10, false], ['w2', 5, 10, true]]);
    const mail = setupFromConfig(config, 'mail');
    assert.ok(mail.ok);
    assert.equal(mail.setup.pool.unit, 'connections');
    assert.ok(!setupFromConfig(config, 'db').ok);
  });


  it('parses --trace, --pool and --json', () => {
    assert.deepEqual(parseArgs(['power', 'simulate', '--trace', 't.csv', '--json', '--config', 'c.yaml']), {
      kind: 'power-simulate',
      trace: 't.csv',
      pool: undefined,
      json: true,
      config: 'c.yaml',
    });
    assert.throws(() => parseArgs(['power', 'simulate']), UsageError);
  });

  it('prints the summary and transitions as JSON, and names the line of a bad trace', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-sim-'));
    try {
      const host = (i: number, capacity: number, wake: number) =>
        `    - { name: web-${i}, pool: web, address: 198.51.100.${20 + i}, mac: "02:00:5e:10:00:${20 + i}", capacity: ${capacity}, ` +
        `watts: { idle: 40, peak: 90, parked: 3 }, wake: { method: wol, seconds: ${wake} }, park: { method: ssh, seconds: 10 } }`;
      await writeFile(
        join(dir, 'tandem.yaml'),
        [
          'node: { name: fw-a }',
          'carp: []',
          'balancer:',
          '  pools:',
          '    - { name: web, port: 8080, hosts: [{ address: 198.51.100.21 }, { address: 198.51.100.22 }, { address: 198.51.100.23 }], check: { type: tcp } }',
          'power:',
          '  pools: [{ name: web, unit: connections }]',
          '  hosts:',
          host(1, 100, 5),
          host(2, 100, 5),
          host(3, 100, 120),
          '',
        ].join('\n'),
      );
      await writeFile(join(dir, 'day.csv'), 'seconds,demand\n0,150\n3600,20\n14400,150\n18000,150\n');
      await writeFile(join(dir, 'bad.csv'), 'seconds,demand\n0,1\n10,x\n');
      const cli = new URL('../../../firmware/bin.ts', import.meta.url).pathname;
      const run = promisify(execFile);
      const { stdout } = await run(process.execPath, ['--import', 'tsx', cli, 'power', 'simulate', '--config', join(dir, 'tandem.yaml'), '--trace', join(dir, 'day.csv'), '--json']);
      const out = JSON.parse(stdout) as { summary: Record<string, unknown>; transitions: { t: number; host: string; action: string }[] };
      for (const key of ['energyKWh', 'alwaysOnKWh', 'savedKWh', 'optimum', 'optimumRatio', 'shortfallSeconds', 'cyclesPerHostPerDay']) assert.ok(key in out.summary, key);
      assert.ok((out.summary.savedKWh as number) > 0);
      assert.equal(out.summary.shortfallSeconds, 0);
      assert.ok(out.transitions.length >= 2);
      for (const t of out.transitions) {
        assert.equal(typeof t.t, 'number');
        assert.match(t.host, /^web-\d$/);
        assert.ok(t.action === 'wake' || t.action === 'park');
      }
      assert.equal(out.transitions[0]!.action, 'park');
      const bad = await run(process.execPath, ['--import', 'tsx', cli, 'power', 'simulate', '--config', join(dir, 'tandem.yaml'), '--trace', join(dir, 'bad.csv')]).then(
        () => assert.fail('a bad trace must fail'),
        (error: { code: number; stderr: string }) => error,
      );
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /bad\.csv:3: demand must be a number >= 0, got "x"/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
