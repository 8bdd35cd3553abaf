// Status sections shown field by field: every leaf with a readable label.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flatten, labelOf } from '../../../ui/lib/flatten.js';

test('every leaf comes out in order, with empty containers and booleans in words', () => {
  assert.deepEqual(flatten({ running: true, pid: 12, peers: [{ address: '198.51.100.12', ok: false }], refused: {}, lastExit: undefined }), [
    { path: 'running', text: 'yes' },
    { path: 'pid', text: '12' },
    { path: 'peers[0].address', text: '198.51.100.12' },
    { path: 'peers[0].ok', text: 'no' },
    { path: 'refused', text: 'none' },
    { path: 'lastExit', text: '—' },
  ]);
  assert.deepEqual(flatten(7), [{ path: '(value)', text: '7' }]);
  assert.deepEqual(flatten({ members: ['198.51.100.31', '198.51.100.32'], none: [] }), [
    { path: 'members', text: '198.51.100.31, 198.51.100.32' },
    { path: 'none', text: 'none' },
  ]);
});

test('paths read as labels', () => {
  assert.equal(labelOf('lastSteps.at'), 'Last steps at');
  assert.equal(labelOf('peers[0].address'), 'Peers 0 address');
  assert.equal(labelOf('countersAgeSeconds'), 'Counters age seconds');
});
