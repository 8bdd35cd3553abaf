// One table of Tasmota-over-MQTT driver runs, shared by the unit test (the in-memory broker,
// FakeMqttAsker) and the services test (Debian's mosquitto with the test plug attached as a real
// client), so the in-memory broker answers as the real one does. The plug has two relays and the
// topic rack_plug_7; relays start off.

import assert from 'node:assert/strict';

export interface TasmotaCase {
  name: string;
  settings: Record<string, unknown>;
  steps: Array<'wake' | 'park' | 'read'>;
  expect: Array<{ reading?: 'on' | 'off' } | { failure: string; detail: RegExp }>;
}

export const TASMOTA_TOPIC = 'rack_plug_7';

export const TASMOTA_CASES: TasmotaCase[] = [
  { name: 'relay 2', settings: { topic: TASMOTA_TOPIC, relay: 2 }, steps: ['read', 'wake', 'read', 'park', 'read'], expect: [{ reading: 'off' }, {}, { reading: 'on' }, {}, { reading: 'off' }] },
  { name: 'relay 1', settings: { topic: TASMOTA_TOPIC, relay: 1 }, steps: ['wake', 'read'], expect: [{}, { reading: 'on' }] },
  { name: 'a topic no plug has', settings: { topic: 'other_plug', timeoutSeconds: 0.5 }, steps: ['wake'], expect: [{ failure: 'unreachable', detail: /no answer on stat\/other_plug\/POWER/ }] },
];

export function checkTasmotaCase(c: TasmotaCase, results: Array<{ ok: boolean; reading?: string; failure?: string; detail?: string }>): void {
  assert.equal(results.length, c.expect.length, c.name);
  c.expect.forEach((e, i) => {
    const r = results[i]!;
    if ('failure' in e) {
      assert.equal(r.ok ? 'ok' : r.failure, e.failure, `${c.name} step ${i}: ${JSON.stringify(r)}`);
      assert.match(r.detail ?? '', e.detail, `${c.name} step ${i}`);
    } else {
      assert.equal(r.ok, true, `${c.name} step ${i}: ${JSON.stringify(r)}`);
      if (e.reading !== undefined) assert.equal(r.reading, e.reading, `${c.name} step ${i}`);
    }
  });
}
