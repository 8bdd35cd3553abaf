// The upgrade events as the event log and live region word them (ui/lib/events.ts): progress
// as a percentage of the phase, outcomes with their step and reason, and the tone of each.

import { strict as assert } from 'node:assert';
import { it } from 'node:test';

import { describeEvent } from '../../../ui/lib/events.js';

it('words upgrade events', () => {
  const time = '2026-12-03T06:00:00.000Z';
  assert.deepEqual(describeEvent({ type: 'upgrade', phase: 'progress', slot: 'B', bytes: 50, total: 200, detail: 'write', time }), { text: 'upgrade of slot B: writing 25%', tone: 'idle' });
  assert.deepEqual(describeEvent({ type: 'upgrade', phase: 'progress', slot: 'B', bytes: 200, total: 200, detail: 'verify', time }), { text: 'upgrade of slot B: reading back 100%', tone: 'idle' });
  assert.deepEqual(describeEvent({ type: 'upgrade', phase: 'failed', slot: 'B', version: '0.2.0', step: 'signature', detail: 'the bundle is not signed', time }), { text: 'upgrade of slot B (0.2.0): failed at signature: the bundle is not signed', tone: 'bad' });
  assert.deepEqual(describeEvent({ type: 'upgrade', phase: 'committed', slot: 'B', version: '0.2.0', detail: 'healthy', time }), { text: 'upgrade of slot B (0.2.0): committed: healthy', tone: 'good' });
  assert.equal(describeEvent({ type: 'upgrade', phase: 'rolled-back', slot: 'B', version: '0.3.0', detail: 'x', time }).tone, 'bad');
});
