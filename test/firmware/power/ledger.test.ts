// The ledger: transitions, cycles, pins and latencies as pure updates; a malformed file is
// dropped rather than trusted; the store writes atomically only when the content changed.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { cyclesToday, emptyLedger, LedgerStore, parseLedger, recordError, recordLatency, serialiseLedger, setPin, transition } from '../../../firmware/power/ledger.js';
import { latencyOf, learn, learned, LATENCY_SAMPLES } from '../../../firmware/power/latency.js';

const T0 = Date.UTC(2026, 11, 1, 12, 0, 0);
const H = 3_600_000;

describe('power ledger', () => {
  it('records state, since, how; a park starts a cycle; cycles count over 24 h', () => {
    let l = emptyLedger();
    l = transition(l, 'web-3', 'parking', T0, 'ssh');
    l = transition(l, 'web-3', 'parked', T0 + 3000, 'ssh');
    assert.deepEqual(l.hosts['web-3'], { state: 'parked', since: T0 + 3000, how: 'ssh', cycles: [T0], latency: {} });
    l = transition(l, 'web-3', 'waking', T0 + H, 'wol');
    l = transition(l, 'web-3', 'awake', T0 + H + 5000);
    assert.equal(l.hosts['web-3']!.how, undefined);
    l = transition(l, 'web-3', 'parking', T0 + 20 * H, 'ssh');
    assert.equal(cyclesToday(l.hosts['web-3'], T0 + 20 * H), 2);
    assert.equal(cyclesToday(l.hosts['web-3'], T0 + 25 * H), 1, 'the first cycle left the 24 h window');
  });

  it('the same transition twice changes nothing (so nothing is written)', () => {
    const l = transition(emptyLedger(), 'web-3', 'parked', T0, 'ssh');
    assert.equal(transition(l, 'web-3', 'parked', T0 + 1000, 'ssh'), l);
  });

  it('round-trips through its file form, and drops what it cannot trust', () => {
    let l = transition(emptyLedger(), 'web-3', 'parked', T0, 'ssh');
    l = setPin(l, 'web-1', true, T0);
    l = recordLatency(l, 'web-3', 'park', 'ssh', 2.5, T0);
    l = recordError(l, 'web-2', 'wake: not healthy after 10 s', T0);
    assert.deepEqual(parseLedger(serialiseLedger(l)).ledger, l);
    assert.match(parseLedger('{').problem!, /not JSON/);
    assert.equal(parseLedger('{"version":2,"hosts":{}}').problem, 'not a version 1 ledger');
    const bad = parseLedger(JSON.stringify({ version: 1, hosts: { a: { state: 'sideways', since: 1 }, b: { state: 'parked', since: 5, latency: { wake: { wol: { samples: [1, 'x', -3, 4] } } } } } }));
    assert.deepEqual(Object.keys(bad.ledger.hosts), ['b']);
    assert.deepEqual(bad.ledger.hosts.b!.latency, { wake: { wol: { samples: [1, 4] } } });
  });

  it('the store writes only on change, atomically, and reads back what it wrote', async () => {
    const files = new MemoryFileStore();
    const store = new LedgerStore('/state/power-ledger.json', files);
    assert.deepEqual((await store.load()).ledger, emptyLedger());
    const l = transition(emptyLedger(), 'web-3', 'parked', T0, 'ssh');
    await store.save(l);
    await store.save(l);
    await store.save(transition(l, 'web-3', 'parked', T0 + 5, 'ssh'));
    assert.equal(files.writes, 1);
    const again = new LedgerStore('/state/power-ledger.json', files);
    assert.deepEqual((await again.load()).ledger, l);
    await again.save(l);
    assert.equal(files.writes, 1, 'a fresh store knows what is on disk');
  });
});

describe('latency learning', () => {
  it('uses the configured latency until one is measured, then the largest recent one', () => {
    let t = {};
    assert.deepEqual(latencyOf(t, 'wake', 'wol', 120), { seconds: 120, learned: false });
    t = learn(t, 'wake', 'wol', 6.2);
    t = learn(t, 'wake', 'wol', 5.1);
    assert.deepEqual(latencyOf(t, 'wake', 'wol', 120), { seconds: 6.2, learned: true });
    assert.equal(learned(t, 'wake', 'ipmi'), undefined, 'per method');
    assert.equal(learned(t, 'park', 'wol'), undefined, 'per kind');
    for (let i = 0; i < LATENCY_SAMPLES; i++) t = learn(t, 'wake', 'wol', 4);
    assert.equal(learned(t, 'wake', 'wol'), 4, 'an old slow sample rolls off');
    assert.equal(learn(t, 'wake', 'wol', Number.NaN), t);
  });
});
