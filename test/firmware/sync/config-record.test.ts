// The lineage rule of config sync as a table: [peer, master, force, decision], each row a case
// from issue 13 item 3 (restarts and partitions), plus the record's own bookkeeping.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { adopt, ANCESTOR_LIMIT, decidePush, noteLocal, parseRecord, RecordStore, type Lineage } from '../../../firmware/sync/config-record.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';

const h = (n: number) => n.toString(16).padStart(64, '0');
const l = (hash: number, ancestors: number[], generation = ancestors.length + 1): Lineage => ({ hash: h(hash), generation, ancestors: ancestors.map(h) });

describe('decidePush', () => {
  const rows: [string, Lineage, Lineage, boolean, ReturnType<typeof decidePush>][] = [
    ['same shared config', l(1, []), l(1, []), false, 'in-sync'],
    ['peer behind: its hash is an ancestor of the master', l(1, []), l(2, [1]), false, 'fast-forward'],
    ['peer restarted with a config two edits old', l(1, []), l(3, [2, 1]), false, 'fast-forward'],
    ['master came back with an older config', l(3, [2, 1]), l(2, [1]), false, 'peer-ahead'],
    ['both edited apart since their common base', l(3, [1]), l(2, [1]), false, 'diverged'],
    ['never related (two separately configured nodes)', l(8, []), l(9, []), false, 'diverged'],
    ['--force overrides a divergence', l(3, [1]), l(2, [1]), true, 'fast-forward'],
    ['--force overrides a master that is behind', l(3, [2, 1]), l(2, [1]), true, 'fast-forward'],
    ['--force with equal hashes is still nothing to do', l(1, []), l(1, []), true, 'in-sync'],
  ];
  for (const [name, peer, master, force, expected] of rows) {
    it(name, () => assert.equal(decidePush(peer, master, force), expected));
  }
});

describe('sync record', () => {
  it('a first start records generation 1; an unchanged config is the same record; an edit is the next generation', () => {
    const first = noteLocal(undefined, h(1));
    assert.deepEqual(first, { generation: 1, hash: h(1), ancestors: [] });
    assert.equal(noteLocal(first, h(1)), first);
    assert.deepEqual(noteLocal(first, h(2)), { generation: 2, hash: h(2), ancestors: [h(1)] });
  });

  it('adopting a push inherits the lineage and keeps its own past after it, bounded', () => {
    const mine = { generation: 5, hash: h(5), ancestors: [h(4)] };
    assert.deepEqual(adopt(mine, l(7, [6, 4])), { generation: 6, hash: h(7), ancestors: [h(6), h(4), h(5)] });
    const long = adopt(mine, { hash: h(999), generation: 100, ancestors: Array.from({ length: 100 }, (_, i) => h(i + 1000)) });
    assert.equal(long.ancestors.length, ANCESTOR_LIMIT);
    assert.equal(long.generation, 100);
  });

  it('after a forced push the old node is behind the new one, not diverged from it', () => {
    const peer = { generation: 3, hash: h(3), ancestors: [h(1)] };
    const taken = adopt(peer, l(2, [1]));
    assert.equal(decidePush(l(3, [1]), { ...taken }, false), 'fast-forward');
  });

  it('reads back what it wrote and ignores a torn or foreign file', async () => {
    const files = new MemoryFileStore();
    const store = new RecordStore(files, '/state/sync/record.json');
    assert.equal(await store.load(), undefined);
    await store.save({ generation: 2, hash: h(2), ancestors: [h(1)] });
    assert.deepEqual(await store.load(), { generation: 2, hash: h(2), ancestors: [h(1)] });
    assert.equal(parseRecord('{"hash": 1}'), undefined);
    assert.equal(parseRecord('{not json'), undefined);
  });
});
