// scripts/bench/upgrade: what writing an upgrade costs the event loop that CARP's timers run on.
// Builds a bundle of --mib MiB (random rootfs, GNU tar) in a temp dir on the real disk, then
// installs it into a file "slot" with the daemon's own installBundle while measuring the loop:
// monitorEventLoopDelay (10 ms resolution) and the gaps of a 100 ms timer standing in for the
// advert timer (advbase 0 + skew, the tightest CARP setting). Reports, does not assert.

import { execFile } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdtemp, open, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { promisify } from 'node:util';

import { emptyGrubEnv, encodeGrubEnv, updateGrubEnv } from '../../firmware/upgrade/grubenv.js';
import { bootEnvStore } from '../../firmware/upgrade/env.js';
import { installBundle } from '../../firmware/upgrade/install.js';
import type { BootInfo } from '../../firmware/upgrade/machine.js';
import { LinuxBlockDevices } from '../../firmware/upgrade/ports.js';
import { createHash } from 'node:crypto';

const run = promisify(execFile);
const args = process.argv.slice(2);
const mibArg = args.indexOf('--mib');
const MIB = mibArg >= 0 ? Number(args[mibArg + 1]) : 200;
if (!Number.isInteger(MIB) || MIB < 1 || MIB > 2048) {
  process.stderr.write('usage: scripts/bench/upgrade [--mib N]   (1-2048, default 200)\n');
  process.exit(2);
}

const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'tandem-bench-upgrade-'));
try {
  const rootfs = Buffer.alloc(MIB * 1024 * 1024);
  for (let i = 0; i < rootfs.length; i += 65536) randomFillSync(rootfs, i, Math.min(65536, rootfs.length - i));
  const src = join(dir, 'src');
  await run('mkdir', [src]);
  const manifest = { format: 1, product: 'tandem', version: 'bench', arch: 'x86_64', bootloader: 'grub', created: new Date(0).toISOString(), rootfs: { sizeBytes: rootfs.length, sha256: createHash('sha256').update(rootfs).digest('hex') } };
  await writeFile(join(src, 'manifest.json'), JSON.stringify(manifest));
  await writeFile(join(src, 'rootfs.sqfs'), rootfs);
  await run('tar', ['--format=ustar', '-C', src, '-cf', join(dir, 'bundle.tar'), 'manifest.json', 'rootfs.sqfs']);
  await rm(src, { recursive: true });
  const slot = await open(join(dir, 'B.img'), 'w');
  await slot.truncate(rootfs.length + 1024 * 1024);
  await slot.close();
  await writeFile(join(dir, 'A.img'), '');
  const env = encodeGrubEnv(updateGrubEnv(emptyGrubEnv(), { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' }));
  if (!env.ok) throw new Error(env.reason);
  await writeFile(join(dir, 'boot.img'), env.bytes);
  const boot = {
    arch: 'x86_64', version: 'old', slot: 'A', trial: { kind: 'none' }, bootloader: 'grub',
    devices: { A: join(dir, 'A.img'), B: join(dir, 'B.img') }, env: { device: join(dir, 'boot.img'), offsetBytes: 0, sizeBytes: 1024 },
  } as BootInfo;
  const devices = new LinuxBlockDevices();

  const histogram = monitorEventLoopDelay({ resolution: 10 });
  const gaps: number[] = [];
  let last = performance.now();
  const tick = setInterval(() => {
    const t = performance.now();
    gaps.push(t - last);
    last = t;
  }, 100);
  histogram.enable();
  const started = performance.now();
  const outcome = await installBundle(createReadStream(join(dir, 'bundle.tar'), { highWaterMark: 1024 * 1024 }), {
    boot, env: bootEnvStore(boot, devices)!, devices, publicKey: undefined, trialTimeoutSeconds: 180, progress: () => undefined,
  });
  const seconds = (performance.now() - started) / 1000;
  histogram.disable();
  clearInterval(tick);
  if (!outcome.ok) throw new Error(`install failed at ${outcome.step}: ${outcome.reason}`);
  const sorted = [...gaps].sort((a, b) => a - b);
  const ms = (ns: number) => (ns / 1e6).toFixed(1);
  const result = {
    mib: MIB,
    seconds: Number(seconds.toFixed(2)),
    mibPerSecond: Number(((2 * MIB) / seconds).toFixed(1)),
    loopDelayMs: { p50: Number(ms(histogram.percentile(50))), p99: Number(ms(histogram.percentile(99))), max: Number(ms(histogram.max)) },
    timer100msGapMs: { p50: Number(sorted[Math.floor(sorted.length / 2)]?.toFixed(1)), max: Number(sorted.at(-1)?.toFixed(1)), samples: sorted.length },
  };
  process.stdout.write(`upgrade bench: wrote and read back ${MIB} MiB in ${result.seconds} s (${result.mibPerSecond} MiB/s moved)\n`);
  process.stdout.write(`  event-loop delay: p50 ${result.loopDelayMs.p50} ms, p99 ${result.loopDelayMs.p99} ms, max ${result.loopDelayMs.max} ms\n`);
  process.stdout.write(`  100 ms timer: median gap ${result.timer100msGapMs.p50} ms, longest ${result.timer100msGapMs.max} ms over ${result.timer100msGapMs.samples} ticks\n`);
  if (args.includes('--json')) process.stdout.write(JSON.stringify(result) + '\n');
} finally {
  await rm(dir, { recursive: true, force: true });
}
