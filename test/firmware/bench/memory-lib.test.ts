// Tests for the memory bench's readers (scripts/bench/memory-lib): smaps parsing and grouping on
// a hand-written excerpt and on this process's own /proc/self/smaps (the groups must add up to
// its VmRSS), and the environment read from a bundle's shebang.

import { strict as assert } from 'node:assert';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { shebangEnv } from '../../../scripts/bench/memory-lib/shebang.js';
import { classify, parseSmaps, rssKiBOf, smapsOf } from '../../../scripts/bench/memory-lib/smaps.js';

const EXCERPT = `00400000-00b6f000 r--p 00000000 fe:00 260689                             /usr/bin/node
Size:               7612 kB
Rss:                5940 kB
00b72000-025fe000 r-xp 00772000 fe:00 260689                             /usr/bin/node
Rss:               16588 kB
0566d000-0590f000 rw-p 00000000 00:00 0                                  [heap]
Rss:                2660 kB
7f0000000000-7f0000010000 ---p 00000000 00:00 0 
Rss:                   0 kB
7f0000010000-7f0000810000 rw-p 00000000 00:00 0 
Rss:                  24 kB
7f1000000000-7f1040000000 ---p 00000000 00:00 0 
Rss:                   0 kB
7f1040000000-7f1041000000 rw-p 00000000 00:00 0 
Rss:                3100 kB
7f2000000000-7f2000040000 rwxp 00000000 00:00 0 
Rss:                 200 kB
7f3000000000-7f3000200000 r-xp 00000000 fe:00 1234                       /usr/lib/x86_64-linux-gnu/libc.so.6
Rss:                1500 kB
7f4000000000-7f4000100000 r-xp 00000000 fe:00 99                         /work/main/build/Release/tandem_raw.node
Rss:                 120 kB
7ffc00000000-7ffc00021000 rw-p 00000000 00:00 0                          [stack]
Rss:                 132 kB
`;

describe('smaps', () => {
  it('parses mappings with their Rss', () => {
    const mappings = parseSmaps(EXCERPT);
    assert.equal(mappings.length, 11);
    assert.deepEqual(mappings[0], { start: 0x400000n, end: 0xb6f000n, perms: 'r--p', path: '/usr/bin/node', rssKiB: 5940 });
    assert.equal(mappings[4]!.path, '');
  });

  it('groups them: a small guard page below an rw mapping makes it a thread stack, a large reservation does not', () => {
    const sums = Object.fromEntries(classify(parseSmaps(EXCERPT), '/usr/bin/node'));
    assert.deepEqual(sums, {
      'node binary': 5940 + 16588,
      '[heap] (brk malloc)': 2660,
      'thread stacks': 24 + 132,
      'anon rw': 3100,
      'anon rwx (jit code)': 200,
      'shared libs': 1500,
      'native addon': 120,
    });
  });

  it("this process's groups add up to its VmRSS", async () => {
    const before = await rssKiBOf(process.pid);
    const sums = await smapsOf(process.pid);
    const after = await rssKiBOf(process.pid);
    const total = [...sums.values()].reduce((a, b) => a + b, 0);
    assert.ok(sums.get('node binary')! > 1024, 'the node binary is mapped and resident');
    // The process allocates while it reads: allow the drift between the two VmRSS readings.
    const slack = Math.abs(after - before) + 512;
    assert.ok(Math.abs(total - after) <= slack, `smaps ${total} kB vs VmRSS ${before}..${after} kB`);
  });
});

describe('shebangEnv', () => {
  it("reads env's assignments before node, and nothing after it", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shebang-'));
    try {
      const file = join(dir, 'b.mjs');
      await writeFile(file, '#!/usr/bin/env -S MALLOC_ARENA_MAX=2 A_B=x=y node --flag X=1\nconsole.log(1);\n');
      assert.deepEqual(shebangEnv(file), { MALLOC_ARENA_MAX: '2', A_B: 'x=y' });
      await writeFile(file, '#!/usr/bin/env -S node --flag\n');
      assert.deepEqual(shebangEnv(file), {});
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('the built bundle, when there is one, sets MALLOC_ARENA_MAX as build.mjs says', async (t) => {
    const bundle = new URL('../../../dist/tandem.mjs', import.meta.url);
    const text = await readFile(bundle, 'utf8').catch(() => undefined);
    if (text === undefined) return t.skip('no dist/tandem.mjs (npm run build)');
    const build = await readFile(new URL('../../../scripts/build.mjs', import.meta.url), 'utf8');
    assert.match(build, /MALLOC_ARENA_MAX=2 node/);
    assert.equal(shebangEnv(bundle.pathname).MALLOC_ARENA_MAX, '2');
  });
});
