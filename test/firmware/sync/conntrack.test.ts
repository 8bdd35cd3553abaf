// Tests for connection-state sync: resolving sync.conntrack (errors with paths), the rendered
// conntrackd.conf, the primary-backup step plan, `conntrackd -s` parsing, and the supervisor
// against a fake process runner, launcher and clock (order of steps, backoff, stale locks).

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validate } from '../../../firmware/config/kit.js';
import { configSchema, type TandemConfig } from '../../../firmware/config/schema.js';
import { semanticIssues } from '../../../firmware/config/semantic.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { FakeProcessRunner, type RecordedRun, type RunResult } from '../../../firmware/os/process.js';
import { createLogger } from '../../../firmware/log.js';
import { conntrackConfigIssues, renderConntrackdConf, resolveConntrack, type ConntrackSetup } from '../../../firmware/sync/conntrack-conf.js';
import { FakeDaemonLauncher } from '../../../firmware/sync/conntrack-launcher.js';
import { ConntrackService } from '../../../firmware/sync/conntrack-service.js';
import { parseConntrackStats } from '../../../firmware/sync/conntrack-stats.js';
import { planSteps } from '../../../firmware/sync/conntrack-steps.js';

function config(sync: Record<string, unknown>, more: Record<string, unknown> = {}): TandemConfig {
  const { value, issues } = validate(configSchema, {
    node: { name: 'r1' },
    control: { socket: '/run/tandem-r1/control.sock' },
    carp: [
      { vhid: 7, interface: 'wan', addresses: ['203.0.113.1/24'], password: 'pw' },
      { vhid: 5, interface: 'lan', addresses: ['198.51.100.1/25'], password: 'pw' },
    ],
    sync: { conntrack: sync },
    ...more,
  });
  assert.deepEqual(issues, []);
  return value!;
}

const zones = {
  firewall: {
    zones: {
      lan: { interfaces: ['lan'], addresses: ['198.51.100.2/25'] },
      wan: { interfaces: ['wan'], addresses: ['203.0.113.2/24'] },
      sync: { interfaces: ['sync'], addresses: ['198.51.100.253/30'] },
    },
  },
};

describe('resolveConntrack', () => {
  it('takes the sync link, own address and sync network from the firewall zone, and the LAN vhid', () => {
    const resolved = resolveConntrack(config({ peer: '198.51.100.254' }, zones));
    assert.ok(resolved?.ok);
    const setup = resolved.setup;
    assert.equal(setup.interface, 'sync');
    assert.equal(setup.address, '198.51.100.253');
    assert.equal(setup.vhid, 5, 'the vhid on the lan zone wins over carp[0]');
    assert.equal(setup.vhidInterface, 'lan');
    for (const ignored of ['127.0.0.1', '::1', '203.0.113.1', '198.51.100.1', '198.51.100.2', '203.0.113.2', '198.51.100.252/30', '198.51.100.254']) {
      assert.ok(setup.ignore.includes(ignored), `${ignored} ignored`);
    }
    assert.equal(setup.paths.lock, '/run/tandem-r1/conntrackd.lock', 'runtime files beside the control socket, per instance');
    assert.equal(setup.paths.socket, '/run/tandem-r1/conntrackd.ctl');
  });

  it('names the path of each impossible combination', () => {
    const noZone = conntrackConfigIssues(config({}));
    assert.deepEqual(noZone.map((i) => i.path).sort(), ['sync.conntrack.address', 'sync.conntrack.interface']);
    assert.match(noZone.find((i) => i.path === 'sync.conntrack.interface')!.message, /no firewall zone "sync"/);
    const badVhid = conntrackConfigIssues(config({ interface: 'sync', address: '198.51.100.253', vhid: 9 }));
    assert.deepEqual(badVhid, [{ path: 'sync.conntrack.vhid', message: 'no carp entry has vhid 9' }]);
    const carpLink = conntrackConfigIssues(config({ interface: 'wan', address: '198.51.100.253', vhid: 5 }));
    assert.equal(carpLink[0]?.path, 'sync.conntrack.interface');
    assert.match(carpLink[0]!.message, /dedicated link/);
    const selfPeer = conntrackConfigIssues(config({ interface: 'sync', address: '198.51.100.253', peer: '198.51.100.253' }));
    assert.equal(selfPeer[0]?.path, 'sync.conntrack.peer');
    const backoff = conntrackConfigIssues(config({ interface: 'sync', address: '198.51.100.253', restartMinSeconds: 10, restartMaxSeconds: 5 }));
    assert.equal(backoff[0]?.path, 'sync.conntrack.restartMaxSeconds');
  });

  it("requires the firewall's state-sync rule to cover the link and port when the firewall is on", () => {
    const elsewhere = conntrackConfigIssues(config({ interface: 'eth9', address: '198.51.100.253' }, zones));
    assert.deepEqual(elsewhere.map((i) => i.path), ['sync.conntrack.interface']);
    assert.match(elsewhere[0]!.message, /not in firewall zone "sync"/);
    const port = conntrackConfigIssues(config({ port: 3781 }, zones));
    assert.deepEqual(port.map((i) => i.path), ['sync.conntrack.port']);
    const off = { firewall: { ...zones.firewall, ha: { stateSync: false } } };
    assert.deepEqual(conntrackConfigIssues(config({ interface: 'eth9', address: '198.51.100.253', port: 3781 }, off)), [], 'own rules then');
  });

  it('is part of the config check, and the schema refuses bad values with paths', () => {
    const issues = semanticIssues(config({}));
    assert.ok(issues.some((i) => i.path === 'sync.conntrack.interface'));
    const { issues: schemaIssues } = validate(configSchema, {
      node: { name: 'r1' },
      sync: { conntrack: { interface: 'sync', address: '2001:db8::1', multicastGroup: '198.51.100.9', protocols: ['tcp', 'gre'] } },
    });
    assert.deepEqual(schemaIssues.map((i) => i.path).sort(), ['sync.conntrack.address', 'sync.conntrack.multicastGroup', 'sync.conntrack.protocols[1]']);
  });

  it('is absent without the section', () => {
    const { value } = validate(configSchema, { node: { name: 'r1' } });
    assert.equal(resolveConntrack(value!), undefined);
  });
});

describe('renderConntrackdConf', () => {
  const setup = (peer?: string): ConntrackSetup => {
    const resolved = resolveConntrack(config({ ...(peer ? { peer } : {}), protocols: ['tcp', 'udp', 'icmp', 'icmpv6', 'sctp'], ignore: ['203.0.113.3', '2001:db8::/64'] }, zones));
    assert.ok(resolved?.ok);
    return resolved.setup;
  };

  it('renders FTFW over UDP unicast to the peer', () => {
    const text = renderConntrackdConf(setup('198.51.100.254'));
    assert.match(text, /Mode FTFW \{\n\t\tDisableExternalCache off\n\t\tPurgeTimeout 60\n\t\}/);
    assert.match(text, /\tUDP \{\n\t\tIPv4_address 198\.51\.100\.253\n\t\tIPv4_Destination_Address 198\.51\.100\.254\n\t\tPort 3780\n\t\tInterface sync\n/);
    assert.doesNotMatch(text, /Multicast/);
    assert.match(text, /Protocol Accept \{\n\t\t\tTCP\n\t\t\tUDP\n\t\t\tICMP\n\t\t\tIPv6-ICMP\n\t\t\tSCTP\n\t\t\}/);
    assert.match(text, /\t\t\tIPv4_address 203\.0\.113\.3\n/);
    assert.match(text, /\t\t\tIPv6_address 2001:db8::\/64\n/);
    assert.match(text, /\t\t\tIPv4_address 198\.51\.100\.252\/30\n/);
    assert.match(text, /LockFile \/run\/tandem-r1\/conntrackd\.lock\n/);
    assert.match(text, /UNIX \{\n\t\tPath \/run\/tandem-r1\/conntrackd\.ctl\n\t\}/);
    assert.match(text, /Syslog off/);
    assert.equal(text.split('{').length, text.split('}').length, 'braces balance');
  });

  it('renders multicast with this node as the sending interface', () => {
    const text = renderConntrackdConf(setup());
    assert.match(text, /\tMulticast \{\n\t\tIPv4_address 225\.0\.0\.50\n\t\tGroup 3780\n\t\tIPv4_interface 198\.51\.100\.253\n\t\tInterface sync\n/);
    assert.doesNotMatch(text, /UDP \{/);
  });
});

describe('planSteps', () => {
  it('follows primary-backup.sh', () => {
    assert.deepEqual(planSteps('BACKUP', 'MASTER'), ['ensureRunning', 'commit', 'flush', 'resync', 'bulkSend']);
    assert.deepEqual(planSteps('INIT', 'MASTER'), ['ensureRunning', 'commit', 'flush', 'resync', 'bulkSend']);
    assert.deepEqual(planSteps('MASTER', 'BACKUP'), ['ensureRunning', 'shortenTimers', 'requestResync']);
    assert.deepEqual(planSteps('INIT', 'BACKUP'), ['ensureRunning', 'shortenTimers', 'requestResync']);
    assert.deepEqual(planSteps('MASTER', 'INIT'), ['shortenTimers']);
    assert.deepEqual(planSteps('BACKUP', 'INIT'), []);
    assert.deepEqual(planSteps('MASTER', 'MASTER'), []);
  });
});

// Captured from conntrackd 1.4.7 on this machine (UDP channel, one entry in the internal cache).
const STATS = `cache internal:
current active connections:\t           1
connections created:\t\t           1\tfailed:\t           0
connections updated:\t\t           0\tfailed:\t           0
connections destroyed:\t\t           0\tfailed:\t           0

cache external:
current active connections:\t        1000
connections created:\t\t        1003\tfailed:\t           2
connections updated:\t\t         195\tfailed:\t           0
connections destroyed:\t\t           3\tfailed:\t           0

traffic processed:
                   0 Bytes                         0 Pckts

UDP traffic (active device=sync):
                 224 Bytes sent                81404 Bytes recv
                  14 Pckts sent                 1197 Pckts recv
                   0 Error send                    3 Error recv

message tracking:
                   4 Malformed msgs                    5 Lost msgs
`;

describe('parseConntrackStats', () => {
  it('reads caches, channel traffic and message tracking', () => {
    assert.deepEqual(parseConntrackStats(STATS), {
      internal: 1, external: 1000, externalCreated: 1003, externalFailed: 2,
      bytesSent: 224, bytesReceived: 81404, packetsSent: 14, packetsReceived: 1197,
      sendErrors: 0, receiveErrors: 3, malformed: 4, lost: 5, channel: 'UDP', device: 'sync',
    });
  });
  it('refuses text that is not the statistics', () => {
    assert.equal(parseConntrackStats("can't connect: is conntrackd running?"), undefined);
  });
});

function harness(answer: (run: RecordedRun, alive: boolean) => Partial<RunResult> = () => ({})) {
  const clock = new FakeClock();
  const launcher = new FakeDaemonLauncher();
  const logs: { level: string; msg: string }[] = [];
  const processes = new FakeProcessRunner((run) => {
    const alive = launcher.current?.alive ?? false;
    // `-s` answers only while a daemon runs, like the real client on a dead socket.
    if (run.args[2] === '-s') return alive ? { code: 0, stdout: STATS } : { code: 1, stderr: "[ERROR] can't connect: is conntrackd running?" };
    return answer(run, alive);
  });
  const resolved = resolveConntrack(config({ peer: '198.51.100.254' }, zones));
  assert.ok(resolved?.ok);
  const service = new ConntrackService(resolved.setup, {
    clock, processes, launcher,
    log: createLogger('debug', (line) => logs.push(JSON.parse(line) as { level: string; msg: string })),
  });
  const flags = () => processes.runs.filter((r) => r.args[2] !== '-s').map((r) => r.args[2]);
  return { clock, launcher, processes, service, logs, flags };
}

describe('ConntrackService', () => {
  it('writes the config, removes a stale lock, starts conntrackd in the foreground and waits until -s answers', async () => {
    const h = harness();
    await h.service.start();
    assert.match(h.launcher.files.get('/run/tandem-r1/conntrackd.conf')!, /IPv4_Destination_Address 198\.51\.100\.254/);
    assert.deepEqual(h.launcher.removed, ['/run/tandem-r1/conntrackd.lock']);
    assert.deepEqual(h.launcher.current!.args, ['-C', '/run/tandem-r1/conntrackd.conf']);
    const status = h.service.status();
    assert.equal(status.running, true);
    assert.equal(status.transport, 'udp');
    assert.equal(status.vhid, 5);
    await h.clock.advance(5000);
    assert.equal(h.service.status().counters?.external, 1000, 'counters from -s every 5 s');
  });

  it('runs the MASTER row in order after the transition, only for the driving vhid', async () => {
    const h = harness();
    await h.service.start();
    let addressesDone = false;
    let release!: () => void;
    const after = new Promise<void>((resolve) => (release = resolve)).then(() => (addressesDone = true));
    void h.service.transition(7, 'wan', 'MASTER');
    void h.service.transition(5, 'lan', 'MASTER', after);
    await Promise.resolve();
    assert.deepEqual(h.flags(), [], 'nothing runs before the transition\'s address work');
    release();
    await h.service.idle();
    assert.ok(addressesDone);
    assert.deepEqual(h.flags(), ['-c', '-f', '-R', '-B']);
    const last = h.service.status().lastSteps!;
    assert.equal(last.to, 'MASTER');
    assert.equal(last.from, 'INIT');
    assert.equal(last.done, true);
    assert.deepEqual(last.steps.map((s) => `${s.step}:${s.outcome}`), ['ensureRunning:ok', 'commit:ok', 'flush:ok', 'resync:ok', 'bulkSend:ok']);
  });

  it('runs transitions one at a time in transition order and records a failing step', async () => {
    const h = harness((run) => (run.args[2] === '-n' ? { code: 1, stderr: '[ERROR] peer did not answer' } : {}));
    await h.service.start();
    void h.service.transition(5, 'lan', 'BACKUP');
    void h.service.transition(5, 'lan', 'MASTER');
    void h.service.transition(5, 'lan', 'BACKUP');
    void h.service.transition(5, 'lan', 'BACKUP');
    await h.service.idle();
    assert.deepEqual(h.flags(), ['-t', '-n', '-c', '-f', '-R', '-B', '-t', '-n'], 'a repeated state runs nothing');
    const steps = h.service.status().lastSteps!.steps;
    assert.equal(steps.at(-1)!.outcome, 'failed');
    assert.equal(steps.at(-1)!.detail, '[ERROR] peer did not answer');
    assert.ok(h.logs.some((l) => l.level === 'warn' && l.msg === 'conntrackd steps failed'));
  });

  it('restarts a crashed conntrackd with doubling backoff, removing the stale lock, and redoes the state\'s steps', async () => {
    const h = harness();
    await h.service.start();
    await h.service.transition(5, 'lan', 'MASTER');
    h.launcher.current!.exit(null, 'SIGKILL');
    await Promise.resolve();
    assert.equal(h.service.status().running, false);
    assert.equal(h.launcher.children.length, 1);
    await h.clock.advance(999);
    assert.equal(h.launcher.children.length, 1, 'waits restartMinSeconds');
    await h.clock.advance(1);
    assert.equal(h.launcher.children.length, 2);
    await h.service.idle();
    assert.deepEqual(h.launcher.removed.length, 2, 'the lock is removed before each start');
    assert.deepEqual(h.flags(), ['-c', '-f', '-R', '-B', '-c', '-f', '-R', '-B'], 'a MASTER bulk-sends again after the restart');
    assert.equal(h.service.status().lastSteps!.cause, 'restart');
    h.launcher.current!.exit(1, null, "[ERROR] lockfile `x' exists");
    await h.clock.advance(1999);
    assert.equal(h.launcher.children.length, 2, 'the second wait is doubled');
    await h.clock.advance(1);
    assert.equal(h.launcher.children.length, 3);
    const status = h.service.status();
    assert.equal(status.restarts, 2);
    assert.equal(status.lastExit, "exit 1: [ERROR] lockfile `x' exists");
  });

  it('starts a dead daemon at once when a transition needs it', async () => {
    const h = harness();
    await h.service.start();
    h.launcher.current!.exit(null, 'SIGSEGV');
    await Promise.resolve();
    await h.service.transition(5, 'lan', 'MASTER');
    assert.equal(h.launcher.children.length, 2, 'no waiting out the backoff');
    assert.deepEqual(h.flags(), ['-c', '-f', '-R', '-B']);
    await h.clock.advance(60_000);
    assert.equal(h.launcher.children.length, 2, 'the cancelled backoff timer does not start another');
  });

  it('stops conntrackd with SIGTERM and never restarts it afterwards', async () => {
    const h = harness();
    await h.service.start();
    await h.service.stop();
    assert.deepEqual(h.launcher.children[0]!.signals, ['SIGTERM']);
    assert.equal(h.service.status().running, false);
    await h.clock.advance(60_000);
    assert.equal(h.launcher.children.length, 1, 'no restart after stop');
  });
});

describe('formatConntrackStatus', () => {
  it('shows health, caches, sync traffic and the last steps with failures explained', async () => {
    const { formatConntrackStatus } = await import('../../../firmware/sync/conntrack-format.js');
    const lines = formatConntrackStatus({
      running: true, pid: 4242, restarts: 1, lastExit: 'signal SIGKILL', vhid: 1, transport: 'udp', interface: 'sync',
      counters: parseConntrackStats(STATS)!, countersAgeSeconds: 1.5,
      lastSteps: { from: 'MASTER', to: 'BACKUP', cause: 'transition', at: 0, done: true, steps: [
        { step: 'ensureRunning', outcome: 'ok', ms: 20 }, { step: 'shortenTimers', outcome: 'ok', ms: 31 },
        { step: 'requestResync', outcome: 'failed', ms: 40, detail: 'exit 1' },
      ] },
    });
    assert.deepEqual(lines, [
      '  conntrackd running pid 4242 (udp on sync, vhid 1)  restarts 1 (last: signal SIGKILL)  internal 1 external 1000  sync 224 B sent 81404 B received  LOST 5 malformed 4  errors 0/3',
      '    last steps MASTER->BACKUP (transition): ensureRunning ok 20 ms, shortenTimers ok 31 ms, requestResync failed 40 ms (exit 1)',
    ]);
    assert.deepEqual(formatConntrackStatus({ running: false, restarts: 0, vhid: 1, transport: 'multicast', interface: 'sync' }), [
      '  conntrackd NOT RUNNING (multicast on sync, vhid 1)',
    ]);
  });
});

describe('ConntrackService probes', () => {
  it('asks -s before the BACKUP row but not before a new MASTER commits', async () => {
    const h = harness();
    await h.service.start();
    const all = () => h.processes.runs.map((r) => r.args[2]);
    const startRuns = all().length;
    await h.service.transition(5, 'lan', 'BACKUP');
    assert.deepEqual(all().slice(startRuns, startRuns + 3), ['-s', '-t', '-n']);
    const backupRuns = all().length;
    await h.service.transition(5, 'lan', 'MASTER');
    assert.deepEqual(all().slice(backupRuns, backupRuns + 4), ['-c', '-f', '-R', '-B']);
  });
});

describe("conntrackd's own log", () => {
  it('goes into Tandem\'s log with its level, and no log file is configured', async () => {
    const h = harness();
    await h.service.start();
    assert.match(h.launcher.files.get('/run/tandem-r1/conntrackd.conf')!, /\tLogFile off\n/);
    h.launcher.current!.print('[Thu Dec  3 02:45:33 2026] (pid=2804) [notice] commit has taken 0.000121 seconds');
    h.launcher.current!.print('[Thu Dec  3 02:45:34 2026] (pid=2804) [ERROR] no dedicated links available!');
    assert.deepEqual(h.logs.filter((l) => l.msg.startsWith('conntrackd: ')).map((l) => `${l.level} ${l.msg}`), [
      'info conntrackd: commit has taken 0.000121 seconds',
      'warn conntrackd: no dedicated links available!',
    ]);
  });
});
