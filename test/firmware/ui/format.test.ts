// The UI's formatters and chart geometry: what the pages print and draw from status numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { clockTime, dropTotal, formatBytes, formatDuration, formatKWh, formatMs, mqttVersion, since, tone } from '../../../ui/lib/format.js';
import { appendSample, niceCeiling, scaleSeries } from '../../../ui/lib/chart.js';

test('durations keep two units at most', () => {
  const cases: [number, string][] = [
    [0, '0s'],
    [9.9, '9s'],
    [60, '1m'],
    [252, '4m 12s'],
    [3600, '1h'],
    [7500, '2h 5m'],
    [86_400 * 3 + 3600 * 4 + 59, '3d 4h'],
    [-1, '—'],
    [Number.NaN, '—'],
  ];
  for (const [seconds, text] of cases) assert.equal(formatDuration(seconds), text, String(seconds));
});

test('since reads against the given now, and a future time is just now', () => {
  const now = Date.parse('2026-12-03T10:00:00.000Z');
  assert.equal(since('2026-12-03T09:55:48.000Z', now), '4m 12s ago');
  assert.equal(since('2026-12-03T10:00:05.000Z', now), 'just now');
  assert.equal(since(undefined, now), '—');
  assert.equal(since('not a time', now), '—');
  assert.equal(clockTime('2026-12-03T09:55:48.000Z', now), '09:55:48');
  assert.equal(clockTime('2026-12-01T09:55:48.000Z', now), '2026-12-01 09:55:48');
});

test('energy, round trips and bytes pick their precision from the amount', () => {
  assert.equal(formatKWh(0.0123), '0.012 kWh');
  assert.equal(formatKWh(1.256), '1.26 kWh');
  assert.equal(formatKWh(312.4), '312 kWh');
  assert.equal(formatKWh(-0.0001), '0.000 kWh');
  assert.equal(formatMs(0.42), '0.4 ms');
  assert.equal(formatMs(23.6), '24 ms');
  assert.equal(formatMs(undefined), '—');
  assert.equal(formatBytes(512), '512 B');
  assert.equal(formatBytes(40 * 1024 * 1024), '40.0 MiB');
  assert.equal(formatBytes(300 * 1024 * 1024), '300 MiB');
  assert.equal(mqttVersion(4), '3.1.1 (level 4)');
  assert.equal(mqttVersion(5), '5.0 (level 5)');
  assert.equal(mqttVersion(undefined), '—');
});

test('drop total counts the drop reasons, not sent or received', () => {
  const counters = { sent: 100, received: 90, short: 1, badVersion: 0, badType: 0, badChecksum: 2, badAuth: 3, badTtl: 0, badVhid: 4, loop: 0 };
  assert.equal(dropTotal(counters), 10);
  assert.equal(tone('MASTER'), 'good');
  assert.equal(tone('BACKUP'), 'idle');
  assert.equal(tone('INIT'), 'warn');
  assert.equal(tone('down'), 'bad');
  assert.equal(tone('master'), 'good');
  assert.equal(tone('rebuilding'), 'warn');
});

test('nice ceilings are 1, 2, 2.5 or 5 times a power of ten', () => {
  const cases: [number, number][] = [
    [0, 0],
    [0.3, 0.5],
    [1, 1],
    [1.01, 2],
    [2.2, 2.5],
    [7, 10],
    [41, 50],
    [250, 250],
    [251, 500],
  ];
  for (const [value, ceiling] of cases) assert.equal(niceCeiling(value), ceiling, String(value));
});

test('a series scales into the box: first sample at x=0, maximum under the top, zero on the baseline', () => {
  const g = scaleSeries(
    [
      { t: 0, v: 0 },
      { t: 500, v: 4 },
      { t: 1000, v: 2 },
    ],
    100,
    20,
  );
  assert.equal(g.max, 5);
  assert.equal(g.min, 0);
  assert.equal(g.line, 'M0 20 L50 4 L100 12');
  assert.equal(g.area, 'M0 20 L50 4 L100 12 L100 20 L0 20 Z');
  assert.equal(g.last, 2);
});

test('a shared time span places samples by time, and one sample draws a flat line', () => {
  const g = scaleSeries([{ t: 1500, v: 10 }], 100, 10, { from: 1000, to: 2000 });
  assert.equal(g.line, 'M0 0 L50 0');
  assert.equal(scaleSeries([], 100, 10).line, '');
  const negative = scaleSeries(
    [
      { t: 0, v: -1 },
      { t: 1, v: 1 },
    ],
    10,
    10,
  );
  assert.equal(negative.min, -1);
  assert.equal(negative.max, 1);
  assert.equal(negative.line, 'M0 10 L10 0');
  assert.ok(negative.area.endsWith('L10 5 L0 5 Z'), negative.area);
});

test('appendSample keeps a time window and a count, and replaces a repeated instant', () => {
  let series = appendSample([], { t: 0, v: 1 }, 10_000, 3);
  series = appendSample(series, { t: 1000, v: 2 }, 10_000, 3);
  series = appendSample(series, { t: 1000, v: 3 }, 10_000, 3);
  assert.deepEqual(series, [
    { t: 0, v: 1 },
    { t: 1000, v: 3 },
  ]);
  series = appendSample(series, { t: 2000, v: 4 }, 10_000, 3);
  series = appendSample(series, { t: 3000, v: 5 }, 10_000, 3);
  assert.deepEqual(
    series.map((s) => s.v),
    [3, 4, 5],
  );
  series = appendSample(series, { t: 12_500, v: 6 }, 10_000, 3);
  assert.deepEqual(
    series.map((s) => s.t),
    [3000, 12_500],
  );
});
