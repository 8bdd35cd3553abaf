// `tandem upgrade` on the built bundle, as it ships, in a CARP pair: h1 runs `tandem run` in
// its own mount namespace where /run/tandem/boot.json says it booted slot A of an image whose
// slots and boot partition are files. While the CLI writes a 200 MiB bundle into slot B, h1 keeps
// advertising every ~100 ms (advbase 0) and its backup h2 never takes over; h3 captures the
// adverts to measure the gaps. The reboot asked for then bows out of CARP first (`busybox` is
// a stand-in that only counts). Then the two boots that follow are played with the env GRUB would
// leave: the trial boot of B commits once CARP is out of INIT, and a fallen-back boot records
// the rollback and clears TRIAL.

import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sendControl } from '../../firmware/control/client.js';
import type { UpgradeStatus } from '../../firmware/upgrade/service.js';
import { eventually, Lab, netnsUnavailable } from './lab.js';
import { bundleCommand, TandemNode, Workdir } from './peers.js';
import { listEnv, run, writeEnv } from '../firmware/upgrade/bundle-lab.js';
import { makeImage, startOnImage } from './upgrade-lab.js';

const skip = netnsUnavailable();
const ROOTFS_MIB = 200;


async function upgradeStatus(socket: string): Promise<UpgradeStatus> {
  const reply = await sendControl(socket, { cmd: 'upgrade-status' });
  if (!reply.ok) throw new Error(reply.error);
  return reply.result as UpgradeStatus;
}

describe('tandem upgrade in a CARP pair', { skip, timeout: 300_000 }, () => {
  it('writes 200 MiB into slot B while the master keeps advertising; the trial commits once healthy, a fallen-back boot records the rollback', async (t) => {
    const lab = await Lab.create({ hosts: 3 });
    const work = await Workdir.create();
    try {
      const image = await makeImage(work, ROOTFS_MIB);
      const a = await startOnImage(lab, work, image, 'A', false);
      const b = await TandemNode.start(lab, 2, work, [{ advbase: 0, advskew: 200 }]);
      await eventually('h1 MASTER', async () => ((await sendControl(a.socket, { cmd: 'status' })) as { ok: true; result: { carp: { state: string }[] } }).result.carp[0]?.state === 'MASTER' || undefined, 8000);
      await b.waitFor('BACKUP');
      assert.equal((await eventually('the service to have started', () => upgradeStatus(a.socket).catch(() => undefined), 10_000)).state, 'committed');

      // h3 timestamps h1's adverts (IP protocol 112) for the whole write.
      const capture = lab.spawn(3, 'tcpdump', ['-i', 'eth0', '-n', '-l', '-tt', '--immediate-mode', 'ip proto 112 and src host 198.51.100.11']);
      let captured = '';
      capture.stdout?.on('data', (c: Buffer) => (captured += c.toString()));
      await eventually('the capture to see adverts', () => (captured.split('\n').length > 5 ? true : undefined), 5000);

      const started = Date.now();
      // The CLI in h1's mount namespace (it checks boot.json there), talking to h1's daemon.
      const cli = await run('nsenter', ['-t', String(a.pid), '-m', '-n', '--', process.execPath, ...bundleCommand(), 'upgrade', image.bundle, '--no-reboot', '--control', a.socket], { maxBuffer: 1 << 20, timeout: 240_000 });
      const seconds = (Date.now() - started) / 1000;
      await new Promise((r) => setTimeout(r, 500));
      capture.kill('SIGTERM');
      // (The progress lines depend on how long the write takes here; client.test.ts checks them on a slowed device.)
      assert.match(cli.stdout, /^upgrade: installing .*tandem-x86_64\.upgrade\.tar$/m);
      assert.match(cli.stdout, /^upgrade: slot B holds 0\.2\.0\+gnetns, verified \(209715200 bytes, sha256 [0-9a-f]{64}\)$/m);
      assert.equal(await listEnv(image.dir), 'SLOT=A\nTRIAL=B\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
      assert.equal(await a.reboots(), 0, '--no-reboot');

      // The behaviour that matters: the backup never took over during the write.
      const bStatus = await b.status();
      assert.equal(bStatus.carp[0]?.state, 'BACKUP', 'h2 took over during the write');
      const stamps = captured.split('\n').map((line) => Number(line.split(' ')[0])).filter((v) => Number.isFinite(v) && v > started / 1000 && v < started / 1000 + seconds);
      const gaps = stamps.slice(1).map((s, i) => (s - stamps[i]!) * 1000).sort((x, y) => x - y);
      t.diagnostic(`wrote and read back ${ROOTFS_MIB} MiB in ${seconds.toFixed(1)} s; ${stamps.length} adverts from h1 meanwhile, gap median ${gaps[gaps.length >> 1]?.toFixed(0)} ms, longest ${gaps.at(-1)?.toFixed(0)} ms (advert interval 102 ms, h2's master-down 3x0+200/256 s = 781 ms)`);
      assert.ok(stamps.length > 3, `h3 saw ${stamps.length} adverts during the write`);

      // The reboot into B (as the web UI asks for it): h1 bows out first, so h2 is MASTER at once.
      const asked = await sendControl(a.socket, { cmd: 'upgrade-reboot' });
      assert.deepEqual(asked, { ok: true, result: { rebooting: 'B' } });
      await eventually('the (stand-in) busybox reboot -f', async () => ((await a.reboots()) === 1 ? true : undefined), 5000);
      // advbase 0 skips carp(4)'s too-slow-master rule, so h2 would take over only at its
      // master-down once h1 is gone; what h1 itself must do is bow out before it reboots.
      const log = a.output();
      const bowOut = log.search(/"msg":"vhid 42 on eth0: MASTER -> BACKUP".*"reason":"bowOut"/);
      const rebooting = log.indexOf('upgrade: rebooting to try slot B');
      assert.ok(bowOut >= 0 && rebooting > bowOut, `h1 bowed out before rebooting:\n${log.slice(-2000)}`);
      await a.stop();

      // GRUB boots B once (TRIAL_BOOTED=1 saved): the daemon commits once vhid 42 left INIT for 2 s.
      await writeEnv(image.dir, { SLOT: 'A', TRIAL: 'B', TRIAL_BOOTED: '1', TRIAL_TIMEOUT: '180' });
      const trial = await startOnImage(lab, work, image, 'B', true);
      const committed = await eventually('the trial to commit', async () => {
        const s = await upgradeStatus(trial.socket).catch(() => undefined);
        return s?.state === 'committed' ? s : undefined;
      }, 15_000, 200);
      assert.equal(committed.committed, 'B');
      assert.equal(committed.last?.result, 'committed');
      assert.equal(await listEnv(image.dir), 'SLOT=B\nTRIAL=\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
      await trial.stop();

      // A later trial of A that never committed: GRUB went back to B.
      await writeEnv(image.dir, { SLOT: 'B', TRIAL: 'A', TRIAL_BOOTED: '1', TRIAL_TIMEOUT: '180' });
      const back = await startOnImage(lab, work, image, 'B', false);
      const rolled = await eventually('the service to have started', () => upgradeStatus(back.socket).catch(() => undefined), 10_000);
      assert.equal(rolled.state, 'rolled-back');
      assert.equal(rolled.last?.result, 'rolled-back');
      assert.match(rolled.last?.reason ?? '', /trial boot of slot A did not commit in time; the bootloader went back to slot B/);
      assert.equal(await listEnv(image.dir), 'SLOT=B\nTRIAL=\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
      const record = JSON.parse(await readFile(join(work.file('fw-h1'), 'state', 'upgrade.json'), 'utf8')) as { last: { result: string } };
      assert.equal(record.last.result, 'rolled-back');
      const status = (await sendControl(back.socket, { cmd: 'status' })) as { ok: true; result: { upgrade?: UpgradeStatus } };
      assert.equal(status.result.upgrade?.state, 'rolled-back', 'tandem status carries the upgrade state on an image');
      await back.stop();
      await b.terminate();
    } finally {
      await lab.dispose();
      await work.dispose();
    }
  });
});
