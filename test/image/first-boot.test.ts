// Issue 15 items 2 and 3 on the booted x86-64 image: from an empty /cfg the first boot makes a
// config from the template, SSH host keys and the daemon's state under /cfg, and the console says
// where the web UI is (cfg-powercut.test.ts shows later boots keep them). The daemon runs with a
// reduced capability bounding set (contract 7: setpriv) and the init restarts it when killed (-9).

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Lab } from '../netns/lab.js';
import { ensureImage, requireImageTier, type Vm, vmWorkdir } from './harness.js';
import { BOOT_MS, bootGuests, DAEMON_PID, guestStatus, untilStatus, WEB_UI_LINE } from './guest.js';

// linux/capability.h
const CAP = { NET_ADMIN: 12, NET_RAW: 13, SYS_MODULE: 16, SYS_RAWIO: 17, SYS_PTRACE: 19, SYS_ADMIN: 21 } as const;


const capsOf = (hex: string): Set<number> => {
  const bits = BigInt(`0x${hex}`);
  return new Set(Array.from({ length: 64 }, (_, i) => i).filter((i) => (bits >> BigInt(i)) & 1n));
};

test('first boot from an empty /cfg; the daemon is capability-bounded and restarted when killed', { timeout: 900_000 }, async (t) => {
  if (!requireImageTier(t)) return;
  const build = await ensureImage('x86_64');
  const work = await vmWorkdir();
  const lab = await Lab.create({ hosts: 1 });
  let vms: Vm[] = [];
  try {
    vms = await bootGuests(build, lab, work.path, [{ name: 'f', cfg: { kind: 'empty' } }]);
    const vm = vms[0]!;
    const started = Date.now();
    const line = await vm.waitFor(WEB_UI_LINE, BOOT_MS);
    t.diagnostic(`first boot: "Tandem web UI: ${line[1]}" ${((Date.now() - started) / 1000).toFixed(1)} s after power on`);
    // The template brings up no interface (the network section is the admin's), so the line may say so.
    assert.match(line[1]!, /^https:\/\/[^/\s]+\/$|^no address yet/);

    // The template's config is a valid one; the host keys and the daemon's state live on /cfg.
    await vm.ok('test -s /cfg/tandem.yaml');
    await vm.ok('tandem check --config /cfg/tandem.yaml');
    const keys = (await vm.ok('find /cfg -name "ssh_host_*_key" -size +0')).split('\n').filter(Boolean);
    assert.ok(keys.length > 0, `SSH host keys under /cfg: ${keys.join(' ')}`);
    const fingerprints = await vm.ok(`sha256sum ${keys.join(' ')} /cfg/tandem.yaml`);
    assert.match(await vm.ok('grep " /cfg " /proc/mounts'), /ext4 .*noatime/);
    await untilStatus(vm, 'the daemon to answer', (s) => s.node, 60_000);

    // Capabilities: what it needs, not what root has (setpriv's bounding set).
    const pid = Number(await vm.ok(DAEMON_PID));
    assert.ok(pid > 1, `the daemon's PID: ${pid}`);
    const status = await vm.ok(`cat /proc/${pid}/status`);
    const bounding = capsOf(/^CapBnd:\s+([0-9a-f]+)/m.exec(status)![1]!);
    t.diagnostic(`daemon PID ${pid}, CapBnd ${[...bounding].join(',')}`);
    assert.ok(bounding.has(CAP.NET_RAW) && bounding.has(CAP.NET_ADMIN), 'CAP_NET_RAW and CAP_NET_ADMIN are kept');
    for (const cap of ['SYS_MODULE', 'SYS_ADMIN', 'SYS_PTRACE'] as const) assert.ok(!bounding.has(CAP[cap]), `CAP_${cap} is dropped`);
    assert.match(await vm.ok('cat /run/log/tandem.log'), /\S/, 'the daemon logs to /run/log/tandem.log');

    // kill -9: the init starts it again.
    await vm.ok(`kill -9 ${pid}`);
    const deadline = Date.now() + 60_000;
    let newPid = 0;
    while (Date.now() < deadline) {
      newPid = Number((await vm.ok(DAEMON_PID)) || 0);
      if (newPid > 1 && newPid !== pid) break;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
    assert.ok(newPid > 1 && newPid !== pid, `the init restarted the daemon (old PID ${pid}, now ${newPid})`);
    const restarted = await untilStatus(vm, 'the restarted daemon to answer', (s) => s, 60_000);
    assert.ok((restarted.uptimeSeconds as number) < 120, `a fresh daemon: uptime ${String(restarted.uptimeSeconds)} s`);
    // A restart is not a first boot: same keys, same config (cfg-powercut.test.ts checks the key across reboots).
    assert.equal(await vm.ok(`sha256sum ${keys.join(' ')} /cfg/tandem.yaml`), fingerprints);
    assert.ok((await guestStatus(vm)).node);
  } finally {
    for (const vm of vms) await vm.dispose();
    await lab.dispose();
    await work.dispose();
  }
});
