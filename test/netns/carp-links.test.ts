// Links and layouts: a parent link that loses carrier, a tracked link, unicast adverts to a
// configured peer, and several vhosts sharing one interface.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { beforeEach, describe, it } from 'node:test';
import { eventually, netnsUnavailable, type Lab } from './lab.js';
import { TandemNode, Workdir, addressesOf, labPerTest } from './peers.js';

const skip = netnsUnavailable();
const run = promisify(execFile);

describe('CARP links and layouts', { skip, timeout: 120_000 }, () => {
  const fixture = labPerTest(3);
  let lab: Lab;
  let work: Workdir;
  beforeEach(() => {
    lab = fixture.lab();
    work = fixture.work();
  });

  it('parent link down: INIT, VIP released, node-wide demote; back up: BACKUP without preempting', async () => {
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0 }, { vhid: 43, addresses: ['198.51.100.101/24'], advskew: 0 }]);
    const b = await TandemNode.start(lab, 2, work, [{ advskew: 100 }, { vhid: 43, addresses: ['198.51.100.101/24'], advskew: 100 }]);
    await a.waitFor('MASTER', 42);
    await a.waitFor('MASTER', 43);

    // Timeouts are the default (8 s): this test pins what happens, not how fast (a CI run failed
    // it once, with no detail kept; the 3 s and 5 s waits were the tightest of its steps).
    await lab.linkDown(1, 'port');
    await a.waitFor('INIT', 42);
    const status = await a.status();
    assert.deepEqual(status.demotion.linksDown, ['eth0']);
    assert.equal(status.demotion.total, 1);
    assert.ok(status.carp.every((v) => v.state === 'INIT' && v.demote === 1));
    await eventually('the VIPs to leave h1', async () => {
      const addresses = await addressesOf(lab, 1);
      return addresses.includes('198.51.100.100') || addresses.includes('198.51.100.101') ? undefined : true;
    }, 8000);
    await b.waitFor('MASTER', 42);
    await b.waitFor('MASTER', 43);

    await lab.linkUp(1, 'port');
    await a.waitFor('BACKUP', 42);
    assert.equal((await a.status()).demotion.total, 0);
    await new Promise((r) => setTimeout(r, 4000));
    assert.equal(await a.state(42), 'BACKUP', 'preempt is off: the returning node stays BACKUP');
    assert.equal(await b.state(42), 'MASTER');
    await a.terminate();
    await b.terminate();
  });

  it('a tracked link going down demotes the master and the peer takes over regardless of preempt', async () => {
    // eth1 is one end of a veth pair inside h1; taking the far end down drops eth1's carrier.
    await lab.exec(1, 'ip', ['link', 'add', 'eth1', 'type', 'veth', 'peer', 'name', 'eth1far']);
    await lab.exec(1, 'ip', ['link', 'set', 'eth1', 'up']);
    await lab.exec(1, 'ip', ['link', 'set', 'eth1far', 'up']);
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0, track: { interfaces: ['eth1'] } }]);
    const b = await TandemNode.start(lab, 2, work, [{ advskew: 100 }]);
    await a.waitFor('MASTER');
    await b.waitFor('BACKUP');

    await lab.exec(1, 'ip', ['link', 'set', 'eth1far', 'down']);
    await b.waitFor('MASTER', 42, 3000);
    await a.waitFor('BACKUP');
    const status = await a.status();
    assert.deepEqual([status.demotion.total, status.demotion.linksDown], [1, ['eth1']]);

    // Back up: demote 0 again, and the better node is BACKUP until the peer demotes or fails.
    await lab.exec(1, 'ip', ['link', 'set', 'eth1far', 'up']);
    await eventually('demote to return to 0', async () => ((await a.status()).demotion.total === 0 ? true : undefined));
    await a.terminate();
    await b.terminate();
  });

  it('peer: adverts go unicast to the configured peer, never to the multicast group', async () => {
    const capture = lab.spawn(2, 'tcpdump', ['-i', 'eth0', '-n', '-l', '--immediate-mode', 'ip proto 112']);
    let seen = '';
    capture.stdout!.on('data', (chunk: Buffer) => (seen += chunk.toString()));
    await new Promise((r) => setTimeout(r, 500));
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0, peer: lab.host(2).ipv4 }]);
    const b = await TandemNode.start(lab, 2, work, [{ advskew: 100, peer: lab.host(1).ipv4 }]);
    await a.waitFor('MASTER');
    await b.waitFor('BACKUP');
    await eventually('b to hear a by unicast', async () => ((await b.status()).carp[0]!.counters.received >= 3 ? true : undefined));
    capture.kill('SIGINT');
    await new Promise((r) => capture.once('exit', r));
    const lines = seen.split('\n').filter((l) => l.includes('>'));
    assert.ok(lines.length >= 3, `captured ${lines.length} adverts`);
    for (const line of lines) assert.match(line, /198\.51\.100\.11 > 198\.51\.100\.12/, line);
    assert.doesNotMatch(seen, /224\.0\.0\.18/);

    a.kill9();
    await b.waitFor('MASTER', 42, 5000);
    await b.terminate();
  });

  it('several vhosts on one interface elect independently and share one socket per family', async () => {
    const groups = [42, 43, 44].map((vhid, i) => ({ vhid, addresses: [`198.51.100.${100 + i}/24`] }));
    // Each node is the preferred master of a different group.
    const a = await TandemNode.start(lab, 1, work, groups.map((g, i) => ({ ...g, advskew: [0, 100, 200][i]! })));
    const b = await TandemNode.start(lab, 2, work, groups.map((g, i) => ({ ...g, advskew: [200, 0, 100][i]! })));
    const c = await TandemNode.start(lab, 3, work, groups.map((g, i) => ({ ...g, advskew: [100, 200, 0][i]! })));
    await a.waitFor('MASTER', 42);
    await b.waitFor('MASTER', 43);
    await c.waitFor('MASTER', 44);
    for (const [node, backups] of [[a, [43, 44]], [b, [42, 44]], [c, [42, 43]]] as const) {
      for (const vhid of backups) assert.equal(await node.state(vhid), 'BACKUP', `${node.name} vhid ${vhid}`);
    }
    await eventually('each VIP on its own master', async () => {
      const [h1, h2, h3] = await Promise.all([addressesOf(lab, 1), addressesOf(lab, 2), addressesOf(lab, 3)]);
      return h1.includes('198.51.100.100') && h2.includes('198.51.100.101') && h3.includes('198.51.100.102') ? true : undefined;
    });
    const sockets = await run('ip', ['netns', 'exec', lab.host(1).netns, 'ss', '-w', '-a', '-n', '-p']);
    const raw112 = sockets.stdout.split('\n').filter((l) => /:112\b/.test(l) && /node/.test(l));
    assert.equal(raw112.length, 1, `one raw socket for three vhosts:\n${sockets.stdout}`);
    await Promise.all([a.terminate(), b.terminate(), c.terminate()]);
  });

  it('kill -9 of the daemon takes its link monitor with it', async () => {
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0 }], 'fw-orphan');
    await a.waitFor('MASTER');
    const pid = a.child.pid!;
    const children = await eventually('the link monitor to run', async () => {
      const { stdout } = await run('ps', ['-o', 'pid=,args=', '--ppid', String(pid)]);
      const found = stdout.split('\n').filter((line) => /ip -o monitor link/.test(line)).map((line) => line.trim().split(/\s+/)[0]!);
      return found.length > 0 ? found : undefined;
    });
    a.kill9();
    await a.exited;
    await eventually('the monitor to be gone', async () => {
      const alive = await Promise.all(children.map((child) => readFile(`/proc/${child}/cmdline`, 'utf8').then((c) => c.includes('monitor'), () => false)));
      return alive.some(Boolean) ? undefined : true;
    }, 3000);
  });

  it('node.realtimePriority puts every thread of the daemon under SCHED_RR; node.lockMemory locks its pages', async () => {
    const a = await TandemNode.start(lab, 1, work, [{ advskew: 0 }], 'fw-rt', process.execPath, { realtimePriority: 10, lockMemory: true });
    await a.waitFor('MASTER');
    const tasks = await readdir(`/proc/${a.child.pid}/task`);
    // The JS thread, V8's and libuv's workers, the receive thread and the timer thread.
    assert.ok(tasks.length >= 7, `${tasks.length} threads`);
    for (const tid of tasks) {
      const { stdout } = await run('chrt', ['-p', tid]);
      assert.match(stdout, /scheduling policy: SCHED_RR/, `thread ${tid}`);
      assert.match(stdout, /scheduling priority: 10/, `thread ${tid}`);
    }
    const status = await readFile(`/proc/${a.child.pid}/status`, 'utf8');
    const locked = Number(/VmLck:\s+(\d+) kB/.exec(status)?.[1]);
    assert.ok(locked > 1024, `VmLck ${locked} kB`);
    await a.terminate();
  });
});
