// The local method against the real thing where this machine allows it: Debian's hdparm(8)
// (its argv and its refusals; /dev/null stands in for a disk, as a real disk must not be
// spun down by a test) and this machine's /sys read by LinuxSysfs (read only: a test must not
// change the machine's governors; writes are covered on a temp-dir tree in the unit tests).

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { access } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { CpuGovernors, disksStandby, LinuxSysfs } from '../../firmware/power/local.js';

const HDPARM = '/usr/sbin/hdparm';
const noHdparm = await access(HDPARM).then(
  () => undefined,
  () => 'hdparm is not installed (Debian package hdparm; scripts/setup installs it)',
);

describe('disk standby through the real hdparm', { skip: noHdparm }, () => {
  const processes = new LinuxProcessRunner();

  it('runs -S then -y, and reports the kernel\'s refusal for a device that is no ATA disk', async () => {
    assert.deepEqual(await disksStandby(processes, ['/dev/null'], 120), {
      ok: false,
      failure: 'refused',
      detail: 'hdparm -S 120 /dev/null: HDIO_DRIVE_CMD(setidle) failed: Inappropriate ioctl for device',
    });
    assert.deepEqual(await disksStandby(processes, ['/dev/null'], undefined), {
      ok: false,
      failure: 'refused',
      detail: 'hdparm -y /dev/null: HDIO_DRIVE_CMD(standby) failed: Inappropriate ioctl for device',
    });
  });

  it('says misconfigured for a disk that does not exist', async () => {
    assert.deepEqual(await disksStandby(processes, ['/dev/tandem-no-such-disk'], undefined), {
      ok: false,
      failure: 'misconfigured',
      detail: 'hdparm -y /dev/tandem-no-such-disk: /dev/tandem-no-such-disk: No such file or directory',
    });
  });
});

describe('CPU governors read from this machine\'s /sys', () => {
  it('finds the same cpufreq governors as the shell does (none where there is no cpufreq)', async () => {
    const { stdout } = await promisify(execFile)('/bin/sh', ['-c', 'for f in /sys/devices/system/cpu/cpu[0-9]*/cpufreq/scaling_governor; do [ -e "$f" ] && echo "$f $(cat "$f")"; done; true']);
    const expected = stdout
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [path, governor] = line.split(' ');
        return [path!.split('/')[5]!, governor!] as [string, string];
      })
      .sort(([a], [b]) => Number(a.slice(3)) - Number(b.slice(3)));
    assert.deepEqual([...(await new CpuGovernors(new LinuxSysfs('/sys')).read())], expected);
  });
});
