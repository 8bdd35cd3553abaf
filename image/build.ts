// The image build's orchestrator (issue 15 contracts 1-5), run as root by scripts/build-image:
// base rootfs (cached) -> Tandem in -> trim -> initramfs -> squashfs -> boot partition and
// bootloader -> disk image -> upgrade bundle -> build.json and the size report.
// arm64 plugs in as image/arch/arm64.ts (registered in image/arch/index.ts); its bootloader
// step (U-Boot) goes where `profile.bootloader === 'grub'` selects GRUB's below.

import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { promisify } from 'node:util';
import { profileFor } from './arch/index.js';
import type { ArchProfile } from './profile.js';
import { diskIdFor, planLayout } from './layout.js';
import { versionString } from './manifest.js';
import { log, run, sh, step } from './run.js';
import { assembleImage } from './steps/assemble.js';
import { buildBootPartition, buildGrub } from './steps/boot.js';
import { writeBundle } from './steps/bundle.js';
import { buildInitramfs } from './steps/initramfs.js';
import { installAddons } from './addons.js';
import { buildUBootPartition, writeSlotPayload } from './uboot.js';
import { installTandem } from './steps/install.js';
import { baseRootfs } from './steps/rootfs.js';
import { trimRootfs } from './steps/trim.js';
import { renderSizeReport, sumByPart, type SizeReport } from './size-report.js';

/** Partition sizes: a slot must also hold every later version's squashfs (upgrades reuse it). */
export const LAYOUT_MIB = { bootMiB: 8, slotMiB: 192, cfgMiB: 32 };

const USAGE = 'usage: scripts/build-image [--arch x86_64|arm64] [--out DIR] [--version STRING] [--sign-key KEY.pem] [--keep-work] [--compressor xz|gzip] [--prebuilt-bundle]';

/**
 * --compressor gzip trades size for build time (a test build); both are read by GRUB's squash4
 * and U-Boot's sqfs. Without it the profile's choice (xz: about 20% smaller, image.md section 1).
 */
function withCompressor(profile: ArchProfile, compressor: string | undefined): ArchProfile {
  if (compressor === undefined) return profile;
  if (compressor !== 'xz' && compressor !== 'gzip') throw new Error(`--compressor: "${compressor}" is neither xz nor gzip`);
  return { ...profile, squashfs: { compressor, options: ['-b', '1M'] } };
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      arch: { type: 'string', default: 'x86_64' },
      out: { type: 'string' },
      version: { type: 'string' },
      'sign-key': { type: 'string' },
      'keep-work': { type: 'boolean' },
      compressor: { type: 'string' },
      // dist/ as `npm run build` left it: two builds at once must not both rewrite dist/ (scripts/test).
      'prebuilt-bundle': { type: 'boolean' },
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
  const profile = withCompressor(profileFor(values.arch ?? 'x86_64'), values.compressor);
  const out = resolve(values.out ?? join(repo, 'out/image', profile.arch));
  const work = join(out, '.work');
  const root = join(work, 'rootfs');
  await mkdir(work, { recursive: true });
  const pkg = JSON.parse(await readFile(join(repo, 'package.json'), 'utf8')) as { version: string };
  const commit = await promisify(execFile)('git', ['-C', repo, 'rev-parse', '--short', 'HEAD']).then((r) => r.stdout.trim(), () => undefined);
  const version = versionString(pkg.version, commit, values.version);
  const created = new Date().toISOString();
  log(`${profile.arch} ${version} into ${out}`);

  if (values['prebuilt-bundle']) {
    for (const file of ['dist/tandem.mjs', 'dist/ui/index.html']) {
      if (!existsSync(join(repo, file))) throw new Error(`--prebuilt-bundle: ${file} is missing; run npm run build first`);
    }
    log('bundle: dist/ as built (--prebuilt-bundle)');
  } else {
    await step('bundle (npm run build)', () => run('node', ['scripts/build.mjs'], { cwd: repo }));
  }
  if (profile.hostSetup) await step('host setup', () => run('bash', [join(repo, profile.hostSetup as string)]));
  const cacheHit = await step('rootfs', () => baseRootfs(profile, join(repo, '.cache/image'), root));
  await step('install tandem', () => installTandem({ repo, root, version, profile }));
  const addons = await step('native addons (Node 18)', () => installAddons(repo, root, profile));
  log(`addons: ${addons.map((a) => `${a.path} ${a.bytes} B`).join(', ')}`);
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
    run('mksquashfs', [root, sqfs, '-noappend', '-no-progress', '-quiet', '-comp', profile.squashfs.compressor, ...profile.squashfs.options,
      // U-Boot boards read the kernel and initrd from after the squashfs, never from inside it:
      // a second copy inside would cost ~13 MiB compressed (-e must come last: it takes the rest).
      ...(profile.bootloader === 'uboot' ? ['-e', 'boot/vmlinuz', 'boot/initrd.gz'] : [])], { capture: true }),
  );
  const sqfsSeconds = (performance.now() - sqfsStarted) / 1000;
  const squashfsBytes = (await stat(sqfs)).size;
  // U-Boot boards: the kernel and initrd follow the squashfs inside the slot (image/uboot-slot.ts);
  // that whole payload is what slot A, the bundle's rootfs.sqfs and an upgrade write.
  const slotFile = profile.bootloader === 'uboot' ? join(work, 'slot.bin') : sqfs;
  const payload =
    profile.bootloader === 'uboot'
      ? await step('slot payload (squashfs + kernel + initrd)', () => writeSlotPayload(sqfs, join(root, 'boot/vmlinuz'), join(root, 'boot/initrd.gz'), slotFile))
      : undefined;
  const layout = planLayout({ ...LAYOUT_MIB, rootfsBytes: (await stat(slotFile)).size });
  if (!layout.ok) throw new Error(`layout: ${layout.reason}`);
  const diskId = diskIdFor(`${profile.arch} ${version} ${created}`);
  const bootSize = layout.partitions.find((p) => p.name === 'boot')?.sizeBytes ?? 0;
  const bootPart =
    profile.bootloader === 'uboot'
      ? await step('boot partition (U-Boot: uboot.env, boot.scr)', () =>
          buildUBootPartition({ work, sizeBytes: bootSize, partitions: layout.partitions, diskId, profile, extraArgs: ['quiet'] }),
        )
      : await step('boot partition', () => buildBootPartition(work, bootSize));
  const grub = profile.bootloader === 'grub' ? await step('grub', () => buildGrub(work, profile, diskId, bootPart.envOffsetBytes, layout.partitions)) : undefined;
  const image = join(out, `tandem-${profile.arch}.img`);
  await step('disk image', () =>
    assembleImage({ image, work, diskBytes: layout.diskBytes, diskId, partitions: layout.partitions, bootCode: grub?.bootCode, coreImg: grub?.coreImg, bootPartition: bootPart.image, rootfs: slotFile }),
  );
  const bundle = join(out, `tandem-${profile.arch}.upgrade.tar`);
  await step('upgrade bundle', () => writeBundle({ out: bundle, work, rootfs: slotFile, version, profile, created, signKey: values['sign-key'] }));
  // xz of the whole image took 107 s here (2 shared cores), and it cannot shrink the squashfs (xz
  // inside already): the figure is the squashfs plus xz -6 of everything else in the image.
  const compressed = await step('compressed size', async () => {
    const t = performance.now();
    const rest = await sh(
      `cd "${work}" && { dd if="${image}" bs=1M count=1 status=none; cat p1.img p4.img; ${payload ? `tail -c +${payload.headerOffset + 1} slot.bin; ` : ''}} | xz -T2 -6 -c | wc -c`,
      { capture: true },
    );
    return {
      bytes: squashfsBytes + Number(rest.trim()),
      method: payload
        ? 'squashfs + xz -6 of MBR, boot, cfg and the slot\'s kernel and initrd; slot B empty'
        : 'squashfs + xz -6 of MBR, GRUB, boot and cfg; slot B empty',
      seconds: (performance.now() - t) / 1000,
    };
  });
  const sizes: SizeReport = {
    rootfs: rootfsParts,
    rootfsRawBytes: files.reduce((sum, [, bytes]) => sum + bytes, 0),
    squashfsBytes,
    squashfsCompressor: `${profile.squashfs.compressor} ${profile.squashfs.options.join(' ')}, ${sqfsSeconds.toFixed(0)} s`,
    kernelBytes: rootfsParts.kernel,
    initramfsBytes,
    kernelPlacement: payload ? 'slot-tail' : 'squashfs',
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
  // The work dir (rootfs tree, squashfs, partitions) is 1 GiB; --keep-work leaves it for a look.
  if (!values['keep-work']) await rm(work, { recursive: true, force: true });
  console.log(renderSizeReport(sizes));
  console.log(`build-image: ${image} (${version}) in ${seconds.toFixed(0)} s, rootfs cache ${cacheHit ? 'hit' : 'miss'}`);
}

main().catch((error: unknown) => {
  console.error(`build-image: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
