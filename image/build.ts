// The image build's orchestrator (issue 15 contracts 1-5), run as root by scripts/build-image:
// base rootfs (cached) -> Tandem in -> trim -> initramfs -> squashfs -> boot partition and
// bootloader -> disk image -> upgrade bundle -> build.json and the size report.
// arm64 plugs in as image/arch/arm64.ts (registered in image/arch/index.ts); its bootloader
// step (U-Boot) goes where `profile.bootloader === 'grub'` selects GRUB's below.

import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { profileFor } from './arch/index.js';
import { diskIdFor, planLayout } from './layout.js';
import { versionString } from './manifest.js';
import { log, run, sh, step } from './run.js';
import { assembleImage } from './steps/assemble.js';
import { buildBootPartition, buildGrub } from './steps/boot.js';
import { writeBundle } from './steps/bundle.js';
import { buildInitramfs } from './steps/initramfs.js';
import { installTandem } from './steps/install.js';
import { baseRootfs } from './steps/rootfs.js';
import { trimRootfs } from './steps/trim.js';
import { renderSizeReport, sumByPart, type SizeReport } from './size-report.js';

/** Partition sizes: a slot must also hold every later version's squashfs (upgrades reuse it). */
export const LAYOUT_MIB = { bootMiB: 8, slotMiB: 192, cfgMiB: 32 };

const USAGE = 'usage: scripts/build-image [--arch x86_64|arm64] [--out DIR] [--version STRING] [--sign-key KEY.pem]';

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', default: 'x86_64' },
      out: { type: 'string' },
      version: { type: 'string' },
      'sign-key': { type: 'string' },
      help: { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(USAGE);
    return;
  }
  if (process.getuid?.() !== 0) throw new Error('must run as root (debootstrap, chroot, mknod)');
  const started = performance.now();
  const repo = resolve(new URL('..', import.meta.url).pathname);
  const profile = profileFor(values.arch ?? 'x86_64');
  const out = resolve(values.out ?? join(repo, 'out/image', profile.arch));
  const work = join(out, '.work');
  const root = join(work, 'rootfs');
  await mkdir(work, { recursive: true });
  const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string };
  const commit = await promisify(execFile)('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']).then((r) => r.stdout.trim(), () => undefined);
  const version = versionString(pkg.version, commit, values.version);
  const created = new Date().toISOString();
  log(`${profile.arch} ${version} into ${out}`);

  await step('bundle (npm run build)', () => run('node', ['scripts/build.mjs'], { cwd: repo }));
  const cacheHit = await step('rootfs', () => baseRootfs(profile, join(repo, '.cache/image'), root));
  await step('install tandem', () => installTandem({ repo, root, version, profile }));
  const trim = await step('trim', () => trimRootfs(root, profile));
  log(`trim: kernel ${trim.kver}, ${trim.modulesKept} modules kept, ${trim.modulesDropped} dropped`);
  const initramfsBytes = await step('initramfs', () => buildInitramfs(repo, root, trim.kver, profile, work));
  const files = (await sh(`cd "${root}" && find . -type f -printf '%P\\t%s\\n'`, { capture: true }))
    .split('\n')
    .filter(Boolean)
    .map((line) => line.split('\t'))
    .map(([path, size]) => [path as string, Number(size)] as const);
  const rootfsParts = sumByPart(files);
  const sqfs = join(work, 'rootfs.sqfs');
  await rm(sqfs, { force: true });
  const sqfsStarted = performance.now();
  await step(`squashfs (${profile.squashfs.compressor})`, () =>
    run('mksquashfs', [root, sqfs, '-noappend', '-no-progress', '-quiet', '-comp', profile.squashfs.compressor, ...profile.squashfs.options], { capture: true }),
  );
  const sqfsSeconds = (performance.now() - sqfsStarted) / 1000;
  const squashfsBytes = (await stat(sqfs)).size;
  const layout = planLayout({ ...LAYOUT_MIB, rootfsBytes: squashfsBytes });
  if (!layout.ok) throw new Error(`layout: ${layout.reason}`);
  const diskId = diskIdFor(`${profile.arch} ${version} ${created}`);
  const bootSize = layout.partitions.find((p) => p.name === 'boot')?.sizeBytes ?? 0;
  const bootPart = await step('boot partition', () => buildBootPartition(work, bootSize));
  if (profile.bootloader !== 'grub') throw new Error(`bootloader ${profile.bootloader}: not built here yet`);
  const grub = await step('grub', () => buildGrub(work, profile, diskId, bootPart.envOffsetBytes, layout.partitions));
  const image = join(out, `tandem-${profile.arch}.img`);
  await step('disk image', () =>
    assembleImage({ image, work, diskBytes: layout.diskBytes, diskId, partitions: layout.partitions, bootCode: grub.bootCode, coreImg: grub.coreImg, bootPartition: bootPart.image, rootfs: sqfs }),
  );
  const bundle = join(out, `tandem-${profile.arch}.upgrade.tar`);
  await step('upgrade bundle', () => writeBundle({ out: bundle, work, rootfs: sqfs, version, profile, created, signKey: values['sign-key'] }));
  const compressed = await step('compressed size (xz -T2 -6)', async () => {
    const t = performance.now();
    const bytes = Number((await sh(`xz -T2 -6 -c "${image}" | wc -c`, { capture: true })).trim());
    return { bytes, method: 'xz -T2 -6 of the image, slot B empty', seconds: (performance.now() - t) / 1000 };
  });
  const sizes: SizeReport = {
    rootfs: rootfsParts,
    rootfsRawBytes: files.reduce((sum, [, bytes]) => sum + bytes, 0),
    squashfsBytes,
    squashfsCompressor: `${profile.squashfs.compressor} ${profile.squashfs.options.join(' ')}, ${sqfsSeconds.toFixed(0)} s`,
    kernelBytes: rootfsParts.kernel,
    initramfsBytes,
    imageBytes: layout.diskBytes,
    compressed,
  };
  const seconds = (performance.now() - started) / 1000;
  const buildJson = {
    arch: profile.arch,
    version,
    created,
    diskId: diskId.toString(16).padStart(8, '0'),
    env: { partition: 'boot', offsetBytes: bootPart.envOffsetBytes, sizeBytes: 1024 },
    partitions: layout.partitions.map(({ name, number, offsetBytes, sizeBytes }) => ({ name, number, offsetBytes, sizeBytes })),
    sizes,
    build: { seconds: Math.round(seconds), rootfsCacheHit: cacheHit, kernel: trim.kver },
  };
  await writeFile(join(out, 'build.json'), `${JSON.stringify(buildJson, null, 2)}\n`);
  await rm(work, { recursive: true, force: true });
  console.log(renderSizeReport(sizes));
  console.log(`build-image: ${image} (${version}) in ${seconds.toFixed(0)} s, rootfs cache ${cacheHit ? 'hit' : 'miss'}`);
}

main().catch((error: unknown) => {
  console.error(`build-image: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
