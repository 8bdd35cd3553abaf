// Where the policy editor puts each issue, and how an apply awaiting confirmation ends.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { issuesOf, lineOfPath, placeIssues, splitPath } from '../../../ui/lib/issues.js';
import { applyReducer, secondsLeft, type ApplyView } from '../../../ui/lib/apply.js';
import { describeEvent, fromRecent, prependEvent, type UiEvent } from '../../../ui/lib/events.js';

const CONFIG = `# lab pair
node:
  name: fw-a
carp:
  - vhid: 42
    interface: eth0
    addresses: [198.51.100.100/24]
  - vhid: 43
    interface: eth0
firewall:
  tables:
    lan: [198.51.100.0/24]
  rules:
  - action: pass
    from: lan
  - action: block
    # why: the lab's other net
    to: 203.0.113.0/24
    ports:
      - 22
      - 80
`;

test('paths split into keys and indices', () => {
  assert.deepEqual(splitPath('firewall.rules[2].to'), ['firewall', 'rules', 2, 'to']);
  assert.deepEqual(splitPath('carp[0]'), ['carp', 0]);
});

test('a path finds its line through nested maps and both list styles', () => {
  const cases: [string, number | undefined][] = [
    ['node', 2],
    ['node.name', 3],
    ['carp[0]', 5],
    ['carp[0].vhid', 5],
    ['carp[0].interface', 6],
    ['carp[1].interface', 9],
    ['firewall.tables.lan', 12],
    // Items at the key's own indent.
    ['firewall.rules[0].from', 15],
    ['firewall.rules[1].to', 18],
    ['firewall.rules[1].ports[1]', 21],
    // Flow style and missing keys stop at the deepest line found.
    ['carp[0].addresses[0]', 7],
    ['carp[1].password', 8],
    ['firewall.rules[7]', 13],
    ['api', undefined],
  ];
  for (const [path, line] of cases) assert.equal(lineOfPath(CONFIG, path), line, path);
});

test('issues go to the server line when it has one, else to their path, else above the editor', () => {
  const placed = placeIssues(
    [
      { path: 'carp[1].interface', message: 'no such interface' },
      { path: 'firewall.rules[1].to', message: 'overlaps', line: 18 },
      { path: 'api.listen', message: 'required' },
      { path: 'node.name', message: 'bad line', line: 999 },
    ],
    CONFIG,
  );
  assert.deepEqual([...placed.byLine.keys()].sort((a, b) => a - b), [3, 9, 18]);
  assert.equal(placed.byLine.get(9)![0]!.message, 'no such interface');
  assert.deepEqual(placed.unplaced.map((i) => i.path), ['api.listen']);
});

test('error replies become issues whatever their form', () => {
  assert.deepEqual(issuesOf({ error: 'invalid', issues: [{ path: 'a.b', message: 'bad', line: 3 }, { nope: 1 }] }), [{ path: 'a.b', message: 'bad', line: 3 }]);
  assert.deepEqual(issuesOf({ error: 'must be a number', path: 'by' }), [{ path: 'by', message: 'must be a number' }]);
  assert.deepEqual(issuesOf('x'), []);
});

test('an unconfirmed apply ends when the daemon says it reverted, not when the page counts down', () => {
  const table: [ApplyView, Parameters<typeof applyReducer>[1], ApplyView][] = [
    [{ phase: 'idle' }, { kind: 'started', target: 'firewall', revertsAt: '2026-12-03T10:01:00Z', at: 't' }, { phase: 'pending', target: 'firewall', revertsAt: '2026-12-03T10:01:00Z' }],
    [{ phase: 'idle' }, { kind: 'started', target: 'config', revertsAt: undefined, at: 't' }, { phase: 'applied', target: 'config', at: 't' }],
    [
      { phase: 'pending', target: 'firewall', revertsAt: 'x' },
      { kind: 'event', event: { type: 'firewallApply', outcome: 'reverted', detail: 'not confirmed', time: 'T' } },
      { phase: 'reverted', target: 'firewall', at: 'T', detail: 'not confirmed' },
    ],
    [{ phase: 'pending', target: 'firewall', revertsAt: 'x' }, { kind: 'event', event: { type: 'firewallApply', outcome: 'confirmed', time: 'T' } }, { phase: 'confirmed', target: 'firewall', at: 'T' }],
    // The other kind of apply's event does not end this one.
    [{ phase: 'pending', target: 'config', revertsAt: 'x' }, { kind: 'event', event: { type: 'firewallApply', outcome: 'reverted', time: 'T' } }, { phase: 'pending', target: 'config', revertsAt: 'x' }],
    [{ phase: 'idle' }, { kind: 'event', event: { type: 'configApply', outcome: 'applied', revertsAt: 'R', time: 'T' } }, { phase: 'pending', target: 'config', revertsAt: 'R' }],
    [{ phase: 'idle' }, { kind: 'event', event: { type: 'maintenance', on: true, time: 'T' } }, { phase: 'idle' }],
    [{ phase: 'pending', target: 'config', revertsAt: 'x' }, { kind: 'dismissed' }, { phase: 'pending', target: 'config', revertsAt: 'x' }],
    [{ phase: 'reverted', target: 'config', at: 'T' }, { kind: 'dismissed' }, { phase: 'idle' }],
  ];
  for (const [before, input, after] of table) assert.deepEqual(applyReducer(before, input), after, JSON.stringify(input));
  const now = Date.parse('2026-12-03T10:00:00.000Z');
  assert.equal(secondsLeft('2026-12-03T10:00:29.100Z', now), 30);
  assert.equal(secondsLeft('2026-12-03T09:59:00.000Z', now), 0);
});

test('events read as one line each, newest first, without repeats', () => {
  const failover: UiEvent = { type: 'carpTransition', vhid: 42, interface: 'eth0', from: 'MASTER', to: 'BACKUP', reason: 'failover', time: '2026-12-03T10:00:00.000Z' };
  assert.deepEqual(describeEvent(failover), { text: 'VHID 42 on eth0: MASTER → BACKUP (failover)', tone: 'idle' });
  assert.equal(describeEvent({ type: 'somethingNew', time: 't', a: 1, b: { c: 2 } }).text, 'somethingNew: a=1 b={"c":2}');
  let list = prependEvent([], failover, 2);
  list = prependEvent(list, { ...failover }, 2);
  assert.equal(list.length, 1);
  list = prependEvent(list, { type: 'maintenance', on: true, time: '2026-12-03T10:00:01.000Z' }, 2);
  list = prependEvent(list, { type: 'maintenance', on: false, time: '2026-12-03T10:00:02.000Z' }, 2);
  assert.deepEqual(list.map((e) => e.time), ['2026-12-03T10:00:02.000Z', '2026-12-03T10:00:01.000Z']);
  assert.deepEqual(fromRecent([{ type: 'a', time: '1' }, { type: 'b', time: '2' }, { type: 'c', time: '3' }], 2).map((e) => e.type), ['c', 'b']);
});

test('the firewall section comes out dedented, to the next top-level key', async () => {
  const { sectionOf, withinSection, lineOfPath: at } = await import('../../../ui/lib/issues.js');
  const text = `node:\n  name: fw-a\nfirewall:\n  # policy\n  rules:\n  - action: pass\n\n    to: lan\napi:\n  listen: [127.0.0.1:8080]\n`;
  const section = sectionOf(text, 'firewall');
  assert.equal(section, '# policy\nrules:\n- action: pass\n\n  to: lan\n');
  assert.equal(at(section!, withinSection('firewall.rules[0].to', 'firewall')), 5);
  assert.equal(sectionOf(text, 'carp'), undefined);
  assert.equal(sectionOf('firewall: { rules: [] }\n', 'firewall'), undefined);
  assert.equal(sectionOf('firewall:\n  rules: []\n', 'firewall'), 'rules: []\n');
  assert.equal(withinSection('firewall', 'firewall'), '');
  assert.equal(withinSection('node.name', 'firewall'), 'node.name');
});

test('a config apply reads as what happened and when it reverts', () => {
  assert.deepEqual(describeEvent({ type: 'configApply', outcome: 'applied', revertsAt: '2026-12-03T10:01:00.000Z', time: 't' }), {
    text: 'config applied (reverts at 10:01:00 unless confirmed)',
    tone: 'good',
  });
  assert.deepEqual(describeEvent({ type: 'configApply', outcome: 'reverted', detail: 'not confirmed within 30 s', time: 't' }), { text: 'config reverted: not confirmed within 30 s', tone: 'bad' });
});

test('after a reconnect, missed events from the ring slot in by time, nothing twice', async () => {
  const { mergeEvents } = await import('../../../ui/lib/events.js');
  const e = (time: string, type = 'maintenance') => ({ type, on: true, time });
  const held = [e('2026-12-03T10:00:05Z'), e('2026-12-03T10:00:01Z')];
  const ring = [e('2026-12-03T10:00:04Z'), e('2026-12-03T10:00:03Z', 'demotion'), e('2026-12-03T10:00:01Z')];
  assert.deepEqual(
    mergeEvents(held, ring, 10).map((x) => `${x.time.slice(17, 19)}${x.type[0]}`),
    ['05m', '04m', '03d', '01m'],
  );
  assert.equal(mergeEvents(held, ring, 2).length, 2);
});

test('config sync events name the peer and the direction', () => {
  assert.deepEqual(describeEvent({ type: 'configSync', direction: 'sent', peer: 'fw-b', outcome: 'applied', time: 't' }), { text: 'config sync to fw-b: applied', tone: 'good' });
  assert.deepEqual(describeEvent({ type: 'configSync', direction: 'received', peer: 'fw-a', outcome: 'diverged', detail: 'edited on both', time: 't' }), {
    text: 'config sync from fw-a: diverged (edited on both)',
    tone: 'bad',
  });
  assert.equal(describeEvent({ type: 'configSync', direction: 'sent', peer: 'fw-b', outcome: 'peer-ahead', time: 't' }).tone, 'warn');
});
