// The harness's own check, independent of the image: two qemu guests (Debian's kernel, booted
// directly, and a busybox initramfs made here) on the lab bridge through taps. Proves the serial
// command runner, tap/bridge reachability from a lab namespace, no route out, power cut and
// power on, and a clean power-off, so an image test that fails points at the image.

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, copyFile, mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { Lab } from '../netns/lab.js';
import { IMAGE_TEST_CACHE, requireImageTier, Vm, vmWorkdir } from './harness.js';

const exec = promisify(execFile);
const KERNEL_PACKAGE = 'linux-image-amd64';

/** vmlinuz and e1000.ko from Debian's kernel package, fetched once into .cache with apt. */
async function debianKernel(): Promise<{ vmlinuz: string; e1000: string }> {
  const dir = join(IMAGE_TEST_CACHE, 'plumbing');
  await mkdir(dir, { recursive: true });
  const find = async (): Promise<{ vmlinuz: string; e1000: string } | undefined> => {
    const boot = join(dir, 'boot');
    if (!existsSync(boot)) return undefined;
    const vmlinuz = (await readdir(boot)).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) return undefined;
    const version = vmlinuz.slice('vmlinuz-'.length);
    const e1000 = join(dir, 'lib/modules', version, 'kernel/drivers/net/ethernet/intel/e1000/e1000.ko');
    return existsSync(e1000) ? { vmlinuz: join(boot, vmlinuz), e1000 } : undefined;
  };
  const cached = await find();
  if (cached) return cached;
  // linux-image-amd64 is a metapackage: download what it depends on.
  const { stdout } = await exec('apt-cache', ['depends', KERNEL_PACKAGE]);
  const real = /Depends: (linux-image-\S+)/.exec(stdout)?.[1];
  if (!real) throw new Error(`apt-cache depends ${KERNEL_PACKAGE}: no linux-image dependency in ${stdout}`);
  await exec('apt-get', ['download', '-q', real], { cwd: dir });
  const deb = (await readdir(dir)).find((f) => f.startsWith(real) && f.endsWith('.deb'))!;
  await exec('sh', ['-c', `dpkg-deb --fsys-tarfile '${deb}' | tar -x --wildcards './boot/vmlinuz-*' '*/e1000/e1000.ko'`], { cwd: dir });
  const found = await find();
  if (!found) throw new Error(`${deb}: no vmlinuz or e1000.ko in it`);
  return found;
}

const INIT = `#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /sys /dev /tmp
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev; mount -t tmpfs tmp /tmp
insmod /e1000.ko
for word in $(cat /proc/cmdline); do case $word in lab.addr=*) addr=\${word#lab.addr=} ;; esac; done
ip link set lo up
ip addr add "$addr" dev eth0
ip link set eth0 up
echo "PLUMBING-UP $addr"
while true; do setsid cttyhack sh; done
`;

async function initramfs(dir: string, e1000: string): Promise<string> {
  const tree = join(dir, 'initramfs');
  await mkdir(join(tree, 'bin'), { recursive: true });
  await copyFile('/usr/bin/busybox', join(tree, 'bin/busybox'));
  await copyFile(e1000, join(tree, 'e1000.ko'));
  await writeFile(join(tree, 'init'), INIT);
  await chmod(join(tree, 'init'), 0o755);
  const out = join(dir, 'initrd.gz');
  await exec('sh', ['-c', `cd '${tree}' && find . | cpio -o -H newc --quiet | gzip -1 > '${out}'`]);
  return out;
}

test('the VM harness: taps on the lab bridge, serial shell, power cut and power on, clean power-off', { timeout: 300_000 }, async (t) => {
  if (!requireImageTier(t, 'x86_64', 'qemu')) return;
  if (!existsSync('/usr/bin/busybox')) return t.skip('needs busybox-static');
  const kernel = await debianKernel();
  const work = await vmWorkdir();
  const lab = await Lab.create({ hosts: 1 });
  const vms: Vm[] = [];
  try {
    const initrd = await initramfs(work.path, kernel.e1000);
    const boot = (addr: string) => ({ kernel: kernel.vmlinuz, initrd, append: `console=ttyS0 quiet panic=10 lab.addr=${addr}` });
    for (const [name, addr] of [['a', '198.51.100.21/24'], ['b', '198.51.100.22/24']] as const) {
      vms.push(await Vm.create({ name, lab, dir: work.path, kernel: boot(addr), userspace: /PLUMBING-UP/ }));
    }
    const [a, b] = vms as [Vm, Vm];
    a.start();
    b.start();
    await Promise.all([a.waitFor(/PLUMBING-UP/, 120_000), b.waitFor(/PLUMBING-UP/, 120_000)]);

    // The runner: exit codes, multi-line output, and nothing of the echoed line in it.
    assert.deepEqual(await a.run('false'), { code: 1, output: '' });
    assert.deepEqual(await a.run('echo one; echo two >&2; exit 3'), { code: 3, output: 'one\ntwo' });
    assert.match(await a.ok('ip -o -4 addr show dev eth0'), /inet 198\.51\.100\.21\/24/);
    assert.equal(await a.ok(`cat /sys/class/net/eth0/address`), a.macs[0]);

    // The guests reach each other and the client namespace over the bridge, and nothing else.
    await a.ok('ping -c 1 -W 5 198.51.100.22', 15_000);
    await lab.exec(1, 'ping', ['-c', '1', '-W', '5', '198.51.100.21'], 15_000);
    assert.doesNotMatch(await a.ok('ip route'), /default/);
    assert.notEqual((await a.run('ping -c 1 -W 2 203.0.113.1', 10_000)).code, 0);

    // Power cut: qemu is gone at once, the client loses the guest; power on: it is back.
    await a.kill();
    assert.equal(a.running, false);
    await assert.rejects(lab.exec(1, 'ping', ['-c', '1', '-W', '2', '198.51.100.21'], 10_000));
    a.start();
    await a.waitFor(/PLUMBING-UP/, 120_000);
    assert.equal(a.text().match(/PLUMBING-UP/g)?.length, 1, 'the new boot is read from its own start');
    assert.match(await a.ok('cat /proc/uptime'), /^\d+\.\d+ /);
    await lab.exec(1, 'ping', ['-c', '1', '-W', '5', '198.51.100.21'], 15_000);

    // Clean power-off: qemu exits by itself.
    await b.ok('true');
    await b.stop(30_000);
    assert.equal(b.running, false);
    assert.match(b.text(), /reboot: Power down|Power down/);
  } finally {
    for (const vm of vms) await vm.dispose();
    await lab.dispose();
    await work.dispose();
  }
});
