// Tests for the daemon's wiring (firmware/daemon.ts): control requests and their reply shapes
// (DESIGN.md "Status"), maintenance that survives a restart through the state file, SIGHUP
// reloads that refuse a bad config, stop and crash. Real Daemons on a simulated segment and a
// FakeClock.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { parseConfig, type ParseResult } from '../../firmware/config/load.js';
import { validate } from '../../firmware/config/kit.js';
import { configSchema, type TandemConfig } from '../../firmware/config/schema.js';
import type { ControlReply } from '../../firmware/control/protocol.js';
import { Daemon, type ConfigSource, type Status } from '../../firmware/daemon.js';
import { createLogger } from '../../firmware/log.js';
import { Segment } from '../../firmware/net/segment.js';
import { FakeClock } from '../../firmware/os/clock.js';
import { MemoryFileStore } from '../../firmware/os/files.js';
import { FakeProcessRunner } from '../../firmware/os/process.js';
import { VERSION } from '../../firmware/version.js';

const VIP = '198.51.100.100/24';
const STATE_FILE = '/var/lib/tandem/state.json';

function config(name: string, carp: Record<string, unknown>[] = [{}]): TandemConfig {
  const { value, issues } = validate(configSchema, {
    node: { name, stateDir: '/var/lib/tandem' },
    carp: carp.map((c) => ({ vhid: 42, interface: 'eth0', addresses: [VIP], password: 'labsecret', ...c })),
    hooks: { master: '/hooks/master', backup: '/hooks/backup' },
  });
  assert.ok(value, JSON.stringify(issues));
  return value;
}

function lab() {
  const clock = new FakeClock();
  const segment = new Segment(clock, { seed: 9 });
  segment.attach('client', { addresses: ['198.51.100.50/24'] });
  const logs: { level: string; msg: string }[] = [];
  const log = createLogger('debug', (line) => logs.push(JSON.parse(line) as { level: string; msg: string }));
  const machines = new Map<string, { files: MemoryFileStore; processes: FakeProcessRunner }>();

  /** A Daemon for host `name`; the same name reuses the same disk (files) and host. */
  function daemon(cfg: TandemConfig, readConfig?: ConfigSource): Daemon {
    const name = cfg.node.name;
    let machine = machines.get(name);
    if (!machine) {
      segment.attach(name, { addresses: [`198.51.100.${11 + machines.size}/24`] });
      machine = { files: new MemoryFileStore(), processes: new FakeProcessRunner() };
      machines.set(name, machine);
    }
    const host = segment.host(name);
    return new Daemon(
      cfg,
      {
        clock,
        files: machine.files,
        processes: machine.processes,
        packets: host,
        addresses: host,
        announcer: host,
        links: host,
        log: log.child({ node: name }),
      },
      readConfig,
    );
  }

  const vhost = (d: Daemon, vhid = 42) => {
    const found = d.status().carp.find((v) => v.vhid === vhid);
    assert.ok(found, `${d.name} has no vhid ${vhid}`);
    return found;
  };
  return { clock, segment, logs, machines, daemon, vhost };
}

/** fw-a (skew 0) MASTER and fw-b (skew 100) BACKUP for vhid 42 after 3.5 s. */
async function pair() {
  const l = lab();
  const a = l.daemon(config('fw-a', [{ advskew: 0 }]));
  const b = l.daemon(config('fw-b', [{ advskew: 100 }]));
  await a.start();
  await b.start();
  await l.clock.advance(3500);
  assert.equal(l.vhost(a).state, 'MASTER');
  assert.equal(l.vhost(b).state, 'BACKUP');
  return { ...l, a, b };
}

/** What a control client would see: the reply after a JSON round trip. */
async function ask(d: Daemon, request: Parameters<Daemon['handle']>[0]): Promise<ControlReply> {
  return JSON.parse(JSON.stringify(await d.handle(request))) as ControlReply;
}

function resultOf(reply: ControlReply): unknown {
  assert.equal(reply.ok, true, JSON.stringify(reply));
  return (reply as { ok: true; result: unknown }).result;
}

describe('control: status', () => {
  it('has exactly the shape of DESIGN.md "Status", with times from the clock', async () => {
    const l = await pair();
    await l.clock.advance(9000); // 12.5 s since the start
    const { memory, ...status } = resultOf(await ask(l.a, { cmd: 'status' })) as Status;
    assert.ok(memory.rssBytes > memory.heapUsedBytes && memory.heapUsedBytes > 0, JSON.stringify(memory));
    assert.deepEqual(status, {
      node: 'fw-a',
      version: VERSION,
      uptimeSeconds: 12.5,
      maintenance: false,
      demotion: { total: 0, admin: 0, maintenance: false, linksDown: [], external: {} },
      carp: [
        {
          vhid: 42,
          interface: 'eth0',
          state: 'MASTER',
          advbase: 1,
          advskew: 0,
          demote: 0,
          addresses: [VIP],
          since: '2026-11-22T10:00:03.000Z',
          // Adverts at 3, 4, ..., 12 s.
          counters: {
            sent: 10,
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
        },
      ],
      unmatched: {},
      pools: [],
    });
    const backup = (resultOf(await ask(l.b, { cmd: 'status' })) as Status).carp[0]!;
    assert.equal(backup.state, 'BACKUP');
    assert.equal(backup.since, '2026-11-22T10:00:00.000Z');
    assert.equal(backup.counters.received, 10);
    assert.equal(backup.counters.sent, 0);
    assert.equal(backup.advskew, 100);
    // The fields DESIGN.md promises, with their types.
    for (const key of ['node', 'version', 'uptimeSeconds', 'carp'] as const) assert.ok(key in status);
    for (const v of status.carp) {
      assert.ok(['INIT', 'BACKUP', 'MASTER'].includes(v.state));
      assert.ok(!Number.isNaN(Date.parse(v.since)) && new Date(v.since).toISOString() === v.since);
      for (const c of ['sent', 'received', 'badAuth', 'badTtl', 'badChecksum', 'badVersion', 'short'] as const) {
        assert.equal(typeof v.counters[c], 'number');
      }
    }
  });

  it('shows a vhost waiting in INIT for a missing interface, which leaves INIT when the link appears', async () => {
    const l = lab();
    const d = l.daemon(config('fw-a', [{}, { vhid: 43, interface: 'eth5', addresses: ['203.0.113.100/24'] }]));
    await d.start();
    assert.deepEqual(
      d.status().carp.map((v) => [v.vhid, v.state]),
      [
        [42, 'BACKUP'],
        [43, 'INIT'],
      ],
    );
    const host = l.segment.host('fw-a');
    host.addInterface('eth5', { up: false });
    host.setLink(true, 'eth5');
    await l.clock.advance(0);
    assert.deepEqual(
      d.status().carp.map((v) => [v.vhid, v.state]),
      [
        [42, 'BACKUP'],
        [43, 'BACKUP'],
      ],
    );
  });
});

describe('control: demote, failover, maintenance', () => {
  it('demote by N and reset: replies with the demotion, the backup takes over, reset does not take back', async () => {
    const l = await pair();
    assert.deepEqual(resultOf(await ask(l.a, { cmd: 'demote', by: 2 })), {
      total: 2,
      admin: 2,
      maintenance: false,
      linksDown: [],
      external: {},
    });
    await l.clock.advance(0);
    assert.equal(l.vhost(l.b).state, 'MASTER');
    assert.equal(l.vhost(l.a).state, 'BACKUP');
    assert.equal(l.vhost(l.a).demote, 2);
    assert.deepEqual(resultOf(await ask(l.a, { cmd: 'demote', by: -1 })), {
      total: 1,
      admin: 1,
      maintenance: false,
      linksDown: [],
      external: {},
    });
    assert.equal((resultOf(await ask(l.a, { cmd: 'demote', reset: true })) as { total: number }).total, 0);
    await l.clock.advance(10_000);
    assert.equal(l.vhost(l.a).state, 'BACKUP');
  });

  it('failover: every MASTER bows out and the reply counts them; the backup is MASTER at once', async () => {
    const l = await pair();
    const at = l.clock.monotonic();
    assert.deepEqual(resultOf(await ask(l.b, { cmd: 'failover' })), { bowedOut: 0 }, 'b is not MASTER of anything');
    assert.deepEqual(resultOf(await ask(l.a, { cmd: 'failover' })), { bowedOut: 1 });
    assert.equal(l.vhost(l.a).state, 'BACKUP');
    assert.deepEqual(l.segment.holdersOf(VIP), []);
    await l.clock.advance(0);
    assert.equal(l.vhost(l.b).state, 'MASTER');
    assert.equal(l.clock.monotonic(), at);
    assert.deepEqual(l.segment.holdersOf(VIP), ['fw-b']);
    assert.equal(l.segment.reach('client', VIP), 'fw-b');
    // a is an ordinary BACKUP now: without preempt it does not come back.
    await l.clock.advance(10_000);
    assert.equal(l.vhost(l.a).state, 'BACKUP');
  });

  it('maintenance on: advskew 254, demote ≥ 64, the peer takes over; persisted; a new Daemon comes back in maintenance', async () => {
    const l = await pair();
    const files = l.machines.get('fw-a')!.files;
    assert.deepEqual(resultOf(await ask(l.a, { cmd: 'maintenance', on: true })), { maintenance: true });
    assert.equal(files.files.get(STATE_FILE), '{"maintenance":true,"drained":[]}\n');
    const status = l.a.status();
    assert.equal(status.maintenance, true);
    assert.equal(status.carp[0]!.advskew, 254);
    assert.ok(status.carp[0]!.demote >= 64);
    assert.equal(status.demotion.maintenance, true);
    await l.clock.advance(0);
    assert.equal(l.vhost(l.b).state, 'MASTER');
    assert.equal(l.vhost(l.a).state, 'BACKUP');

    // Restart: a new Daemon instance on the same disk.
    await l.a.stop();
    const again = l.daemon(config('fw-a', [{ advskew: 0 }]));
    await again.start();
    const restarted = again.status();
    assert.equal(restarted.maintenance, true);
    assert.equal(restarted.carp[0]!.advskew, 254);
    assert.ok(restarted.carp[0]!.demote >= 64);
    await l.clock.advance(10_000);
    assert.equal(l.vhost(again).state, 'BACKUP');
    assert.equal(l.vhost(l.b).state, 'MASTER');

    // Maintenance only makes the node yield: with the peer gone, it still serves.
    await l.b.stop();
    await l.clock.advance(0);
    assert.equal(l.vhost(again).state, 'MASTER', 'the bow-out hands the vhost to the only node left');

    assert.deepEqual(resultOf(await ask(again, { cmd: 'maintenance', on: false })), { maintenance: false });
    assert.equal(files.files.get(STATE_FILE), '{"maintenance":false,"drained":[]}\n');
    assert.equal(again.status().carp[0]!.advskew, 0);
    assert.equal(again.status().carp[0]!.demote, 0);
  });

  it('maintenance is written before it takes effect', async () => {
    const l = await pair();
    const files = l.machines.get('fw-a')!.files;
    const write = files.writeAtomic.bind(files);
    let maintenanceWhenWritten: boolean | undefined;
    files.writeAtomic = async (path, content) => {
      maintenanceWhenWritten = l.a.status().maintenance;
      await write(path, content);
    };
    await l.a.setMaintenance(true);
    assert.equal(maintenanceWhenWritten, false);
    assert.equal(files.writes, 1);
  });

  it('an unreadable state file is ignored with a warning', async () => {
    const l = lab();
    const d = l.daemon(config('fw-a'));
    await l.machines.get('fw-a')!.files.writeAtomic(STATE_FILE, '{not json');
    await d.start();
    assert.equal(d.status().maintenance, false);
    assert.ok(l.logs.some((e) => e.level === 'warn' && e.msg.includes('ignoring unreadable state file')));
  });
});

describe('control: reload', () => {
  it('without a config source it is refused', async () => {
    const l = await pair();
    assert.deepEqual(await ask(l.a, { cmd: 'reload' }), { ok: false, error: '(reload): this daemon has no config file to re-read' });
  });

  it('an invalid config is refused and the running one stays in force', async () => {
    const l = lab();
    let text = '';
    const source = async (): Promise<ParseResult> => parseConfig(text);
    const d = l.daemon(config('fw-a'), source);
    await d.start();
    await l.clock.advance(3500);
    text = 'node: { name: fw-a, stateDir: /var/lib/tandem }\ncarp:\n  - { vhid: 42, interface: eth0, addresses: ["198.51.100.100/24"], password: labsecret, advskew: 300 }\n';
    const reply = await ask(d, { cmd: 'reload' });
    assert.equal(reply.ok, false);
    assert.match((reply as { error: string }).error, /carp\[0\]\.advskew: must be 0-254, got 300/);
    assert.equal(l.vhost(d).advskew, 0);
    assert.equal(l.vhost(d).state, 'MASTER');
    assert.ok(l.logs.some((e) => e.level === 'error' && e.msg.startsWith('reload refused')));
  });

  it('a valid config applies: new advskew kept in MASTER, a vhost added, new hook paths used', async () => {
    const l = lab();
    let text = '';
    const d = l.daemon(config('fw-a'), async () => parseConfig(text));
    await d.start();
    await l.clock.advance(3500);
    const since = l.vhost(d).since;
    text = [
      'node: { name: fw-a, stateDir: /var/lib/tandem }',
      'carp:',
      '  - { vhid: 42, interface: eth0, addresses: ["198.51.100.100/24"], password: labsecret, advskew: 20 }',
      '  - { vhid: 43, interface: eth0, addresses: ["198.51.100.101/24"], password: labsecret }',
      'hooks: { master: /hooks/new-master, backup: /hooks/new-backup }',
      '',
    ].join('\n');
    assert.deepEqual(await ask(d, { cmd: 'reload' }), { ok: true, result: { reloaded: true } });
    const status = d.status();
    assert.deepEqual(
      status.carp.map((v) => [v.vhid, v.state, v.advskew]),
      [
        [42, 'MASTER', 20],
        [43, 'BACKUP', 0],
      ],
    );
    assert.equal(status.carp[0]!.since, since, 'vhid 42 was not restarted');
    await l.clock.advance(3000);
    const runs = l.machines.get('fw-a')!.processes.runs;
    assert.deepEqual(runs.slice(-2), [
      { command: '/hooks/new-backup', args: ['43', 'BACKUP', 'eth0'] },
      { command: '/hooks/new-master', args: ['43', 'MASTER', 'eth0'] },
    ]);
  });
});

describe('lifecycle', () => {
  it('stop releases addresses and is idempotent; crash leaves them', async () => {
    const l = await pair();
    await l.a.stop();
    assert.equal(l.a.isRunning, false);
    await l.a.stop();
    assert.deepEqual(l.segment.holdersOf(VIP), []);
    await l.clock.advance(0);
    assert.equal(l.vhost(l.b).state, 'MASTER');
    await l.b.crash();
    assert.equal(l.b.isRunning, false);
    assert.deepEqual(l.segment.holdersOf(VIP), ['fw-b']);
    await l.b.crash();
    assert.ok(l.logs.some((e) => e.msg === 'tandem stopped'));
  });
});
