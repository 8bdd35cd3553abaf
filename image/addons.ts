// The native addons step of the image build (issue 15 contract 8): image/addons.sh builds them for
// the target's Node 18 (cached under .cache/image/ by their sources and the lockfile), they go to
// /usr/lib/tandem/build/Release and /usr/lib/tandem/node_modules, and image/addons-check.cjs then
// loads them with the rootfs's own node in a chroot (qemu-user on arm64), so an image never ships
// an addon its Node refuses.

import { existsSync } from 'node:fs';
import { cp, mkdir, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join, relative } from 'node:path';
import type { ArchProfile } from './profile.js';
import { cacheKey, inChroot, log, run } from './run.js';

/** What went into the addons: their sources, the build recipe and the locked dependencies. */
async function sourcesKey(repo: string, arch: string): Promise<string> {
  const raw = join(repo, 'firmware/net/raw');
  const files = ['binding.gyp', 'package-lock.json', 'image/addons.sh', ...(await readdir(raw)).filter((f) => /\.(cc|h)$/.test(f)).sort().map((f) => `firmware/net/raw/${f}`)];
  const contents = await Promise.all(files.map(async (f) => [f, cacheKey((await readFile(join(repo, f))).toString('base64'))]));
  return cacheKey({ arch, contents });
}

async function listNodeFiles(dir: string): Promise<{ path: string; bytes: number }[]> {
  const found: { path: string; bytes: number }[] = [];
  const walk = async (at: string): Promise<void> => {
    for (const entry of await readdir(at, { withFileTypes: true })) {
      const full = join(at, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.name.endsWith('.node')) found.push({ path: relative(dir, full), bytes: (await stat(full)).size });
    }
  };
  await walk(dir);
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

/** Builds (or takes from the cache) and installs the addons; returns each .node file's size. */
export async function installAddons(repo: string, root: string, profile: ArchProfile): Promise<{ path: string; bytes: number }[]> {
  const cache = join(repo, '.cache/image', `addons-${profile.arch}-${await sourcesKey(repo, profile.arch)}`);
  if (!existsSync(join(cache, 'build/Release/tandem_raw.node'))) {
    const partial = `${cache}.partial`;
    await rm(partial, { recursive: true, force: true });
    await run('bash', [join(repo, 'image/addons.sh'), profile.arch, partial], { capture: true });
    await rm(cache, { recursive: true, force: true });
    await rename(partial, cache);
  } else {
    log(`addons: cache hit ${cache}`);
  }
  const lib = join(root, 'usr/lib/tandem');
  await mkdir(lib, { recursive: true });
  await rm(join(lib, 'build'), { recursive: true, force: true });
  await rm(join(lib, 'node_modules'), { recursive: true, force: true });
  await cp(join(cache, 'build'), join(lib, 'build'), { recursive: true });
  if (existsSync(join(cache, 'node_modules'))) await cp(join(cache, 'node_modules'), join(lib, 'node_modules'), { recursive: true });
  // The proof, with the target's node: tandem_raw answers, epoll hears a FIFO, onoff loads.
  await cp(join(repo, 'image/addons-check.cjs'), join(root, 'tmp/addons-check.cjs'));
  try {
    const report = await inChroot(root, 'node /tmp/addons-check.cjs /usr/lib/tandem', { capture: true });
    log(`addons: ${report.trim()}`);
  } finally {
    await rm(join(root, 'tmp/addons-check.cjs'), { force: true });
  }
  return listNodeFiles(lib);
}
