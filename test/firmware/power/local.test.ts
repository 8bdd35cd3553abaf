// The appliance's own power saving (firmware/power/local.ts). One contract suite runs against
// the in-memory sysfs and against LinuxSysfs rooted at a cpufreq tree in a temp dir (this
// machine has no cpufreq, so the real /sys cannot be used); hdparm over the fake ProcessRunner.

import { strict as assert } from 'node:assert';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { s, validate } from '../../../firmware/config/kit.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import { silentLogger } from '../../../firmware/log.js';
import { EventBus } from '../../../firmware/events.js';
import { CpuGovernors, createLocal, disksStandby, FakeSysfs, followCarpRole, governorForState, LinuxSysfs, localSettings, type Sysfs } from '../../../firmware/power/local.js';

const CPU = 'devices/system/cpu';
const AVAILABLE = 'performance powersave schedutil';
/** Four CPUs as a kernel shows them: cpu2 offline without cpufreq, cpu10 sorts after cpu2. */
const TREE: Record<string, string> = {
  [`${CPU}/cpu0/cpufreq/scaling_governor`]: 'performance',
  [`${CPU}/cpu0/cpufreq/scaling_available_governors`]: AVAILABLE,
  [`${CPU}/cpu1/cpufreq/scaling_governor`]: 'schedutil',
  [`${CPU}/cpu1/cpufreq/scaling_available_governors`]: AVAILABLE,
  [`${CPU}/cpu2/online`]: '0',
  [`${CPU}/cpu10/cpufreq/scaling_governor`]: 'schedutil',
  [`${CPU}/cpu10/cpufreq/scaling_available_governors`]: AVAILABLE,
  [`${CPU}/cpuidle/current_driver`]: 'intel_idle',
  [`${CPU}/online`]: '0-1,10',
};

const temps: string[] = [];
after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

interface Adapter {
  name: string;
  make(files: Record<string, string>): Promise<{ sysfs: Sysfs; governorOf(cpu: string): Promise<string | undefined> }>;
}

const adapters: Adapter[] = [
  {
    name: 'FakeSysfs',
    async make(files) {
      const sysfs = new FakeSysfs(files);
      return { sysfs, governorOf: async (cpu) => sysfs.files.get(`${CPU}/${cpu}/cpufreq/scaling_governor`) };
    },
  },
  {
    name: 'LinuxSysfs on a temp tree',
    async make(files) {
      const root = await mkdtemp(join(tmpdir(), 'tandem-sysfs-'));
      temps.push(root);
      for (const [path, value] of Object.entries(files)) {
        await mkdir(dirname(join(root, path)), { recursive: true });
        await writeFile(join(root, path), value + '\n'); // sysfs attributes end in a newline
      }
      return {
        sysfs: new LinuxSysfs(root),
        governorOf: (cpu) => readFile(join(root, CPU, cpu, 'cpufreq/scaling_governor'), 'utf8').then((t) => t.trim(), () => undefined),
      };
    },
  },
];

for (const adapter of adapters) {
  describe(`CpuGovernors over ${adapter.name}`, () => {
    it('reads every CPU with cpufreq, in CPU order', async () => {
      const { sysfs } = await adapter.make(TREE);
      assert.deepEqual([...(await new CpuGovernors(sysfs).read())], [['cpu0', 'performance'], ['cpu1', 'schedutil'], ['cpu10', 'schedutil']]);
    });

    it('sets powersave everywhere and restores each CPU\'s own governor, however often set', async () => {
      const { sysfs, governorOf } = await adapter.make(TREE);
      const governors = new CpuGovernors(sysfs);
      assert.deepEqual(await governors.set('powersave'), { ok: true, detail: 'governor powersave on 3 CPU(s), 3 changed' });
      assert.deepEqual(await governors.set('powersave'), { ok: true, detail: 'governor powersave on 3 CPU(s), 0 changed' });
      for (const cpu of ['cpu0', 'cpu1', 'cpu10']) assert.equal(await governorOf(cpu), 'powersave');
      assert.deepEqual(await governors.restore(), { ok: true, detail: 'governors restored (performance, schedutil) on 3 CPU(s), 3 changed' });
      assert.deepEqual([await governorOf('cpu0'), await governorOf('cpu1'), await governorOf('cpu10')], ['performance', 'schedutil', 'schedutil']);
      assert.deepEqual(await governors.restore(), { ok: true, detail: 'governors unchanged' });
    });

    it('after a restart (nothing remembered) sets the fallback governor, or leaves them', async () => {
      const { sysfs, governorOf } = await adapter.make(TREE);
      assert.deepEqual(await new CpuGovernors(sysfs).restore(), { ok: true, detail: 'governors unchanged' });
      assert.deepEqual(await new CpuGovernors(sysfs).restore('schedutil'), { ok: true, detail: 'governor schedutil on 3 CPU(s), 1 changed' });
      assert.equal(await governorOf('cpu0'), 'schedutil');
    });

    it('refuses a governor a CPU does not offer, and writes nothing', async () => {
      const { sysfs, governorOf } = await adapter.make(TREE);
      assert.deepEqual(await new CpuGovernors(sysfs).set('ondemand'), { ok: false, failure: 'refused', detail: 'cpu0 does not offer governor ondemand (offers performance, powersave, schedutil)' });
      assert.equal(await governorOf('cpu0'), 'performance');
    });

    it('says unsupported without cpufreq', async () => {
      const { sysfs } = await adapter.make({ [`${CPU}/cpu0/online`]: '1' });
      assert.deepEqual(await new CpuGovernors(sysfs).set('powersave'), { ok: false, failure: 'unsupported', detail: `no CPU frequency scaling under ${CPU} (no cpufreq driver)` });
    });
  });
}

describe('governorForState', () => {
  it('powersave unless MASTER', () => {
    assert.deepEqual((['INIT', 'BACKUP', 'MASTER'] as const).map(governorForState), ['powersave', 'powersave', 'restore']);
  });
});

describe('followCarpRole', () => {
  it('powersave on BACKUP, the admin\'s governors back on MASTER, in transition order, for its vhid only', async () => {
    const sysfs = new FakeSysfs(TREE);
    const bus = new EventBus(() => 0, silentLogger);
    const seen: string[] = [];
    const stop = followCarpRole(bus, new CpuGovernors(sysfs), { vhid: 42 }, silentLogger, (result, state) => seen.push(`${state} ${result.ok}`));
    const transition = (vhid: number, from: 'INIT' | 'BACKUP' | 'MASTER', to: 'INIT' | 'BACKUP' | 'MASTER') =>
      bus.emit({ type: 'carpTransition', vhid, interface: 'eth0', from, to, reason: 'test' });
    const governor = () => sysfs.files.get(`${CPU}/cpu0/cpufreq/scaling_governor`);
    transition(42, 'INIT', 'BACKUP');
    transition(7, 'INIT', 'MASTER'); // another vhid: ignored
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(governor(), 'powersave');
    transition(42, 'BACKUP', 'MASTER');
    transition(42, 'MASTER', 'BACKUP');
    transition(42, 'BACKUP', 'MASTER');
    for (let i = 0; i < 20 && seen.length < 4; i++) await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(seen, ['BACKUP true', 'MASTER true', 'BACKUP true', 'MASTER true']);
    assert.equal(governor(), 'performance');
    assert.equal(sysfs.files.get(`${CPU}/cpu1/cpufreq/scaling_governor`), 'schedutil');
    stop();
    transition(42, 'MASTER', 'BACKUP');
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(governor(), 'performance');
  });
});

describe('disksStandby', () => {
  it('sets the spin-down timer, then standby, per disk', async () => {
    const processes = new FakeProcessRunner();
    assert.deepEqual(await disksStandby(processes, ['/dev/sda', '/dev/sdb'], 120), { ok: true, detail: '/dev/sda, /dev/sdb in standby' });
    assert.deepEqual(processes.runs.map((r) => [r.command, ...r.args].join(' ')), ['hdparm -S 120 /dev/sda', 'hdparm -y /dev/sda', 'hdparm -S 120 /dev/sdb', 'hdparm -y /dev/sdb']);
  });
  it('maps hdparm\'s failures', async () => {
    const rows: [object, string, string][] = [
      [{ code: 2, stderr: '/dev/sdz: No such file or directory\n' }, 'misconfigured', 'hdparm -y /dev/sdz: /dev/sdz: No such file or directory'],
      [{ code: 25, stdout: '\n/dev/sdz:\n issuing standby command\n', stderr: 'HDIO_DRIVE_CMD(standby) failed: Inappropriate ioctl for device\n' }, 'refused', 'hdparm -y /dev/sdz: HDIO_DRIVE_CMD(standby) failed: Inappropriate ioctl for device'],
      [{ code: null, stderr: 'hdparm: ENOENT' }, 'misconfigured', 'cannot run hdparm: hdparm: ENOENT'],
    ];
    for (const [answer, failure, detail] of rows) {
      assert.deepEqual(await disksStandby(new FakeProcessRunner(() => answer), ['/dev/sdz'], undefined), { ok: false, failure, detail });
    }
  });
});

describe('createLocal', () => {
  const host = { name: 'self', address: '198.51.100.1', mac: '02:00:5e:10:00:01' };
  const signal = new AbortController().signal;
  const deps = (sysfs: Sysfs, processes = new FakeProcessRunner()) => ({ clock: new FakeClock(), processes, log: silentLogger, stateDir: '/x', sysfs });

  it('defaults: powersave, no disks', () => {
    assert.deepEqual(validate(s.object(localSettings), {}).value, { governor: 'powersave', disks: [] });
    assert.deepEqual(validate(s.object(localSettings), { disks: ['sda'] }).issues.map((i) => i.path), ['disks[0]']);
  });

  it('parks governor and disks, wakes the governors back', async () => {
    const sysfs = new FakeSysfs(TREE);
    const processes = new FakeProcessRunner();
    const local = createLocal({ governor: 'powersave', disks: ['/dev/sda'] }, deps(sysfs, processes));
    assert.deepEqual(await local.park!(host, signal), { ok: true, detail: 'governor powersave on 3 CPU(s), 3 changed; /dev/sda in standby' });
    assert.deepEqual(processes.runs.map((r) => r.args.join(' ')), ['-y /dev/sda']);
    assert.equal((await local.wake!(host, signal)).ok, true);
    assert.equal(sysfs.files.get(`${CPU}/cpu0/cpufreq/scaling_governor`), 'performance');
  });

  it('still stops disks on a board without cpufreq; with neither, says unsupported', async () => {
    const bare = new FakeSysfs({});
    const withDisks = await createLocal({ governor: 'powersave', disks: ['/dev/sda'] }, deps(bare)).park!(host, signal);
    assert.deepEqual(withDisks, { ok: true, detail: 'no cpufreq; /dev/sda in standby' });
    const nothing = await createLocal({ governor: 'powersave', disks: [] }, deps(bare)).park!(host, signal);
    assert.equal(!nothing.ok && nothing.failure, 'unsupported');
  });
});
