import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { demandAt, formatTrace, parseTrace } from '../../../firmware/power/trace.js';

describe('power trace CSV', () => {
  it('reads rows, skips blank and comment lines, and ends at the last row', () => {
    const r = parseTrace('# a day\nseconds,demand\r\n0,10\n\n60, 25.5\n120,0\n');
    assert.ok(r.ok);
    assert.deepEqual(r.trace.points, [
      { t: 0, demand: 10 },
      { t: 60, demand: 25.5 },
      { t: 120, demand: 0 },
    ]);
    assert.equal(r.trace.end, 120);
  });

  it('holds demand from each row to the next', () => {
    const r = parseTrace('seconds,demand\n0,10\n60,25\n120,0\n');
    assert.ok(r.ok);
    assert.equal(demandAt(r.trace, 0), 10);
    assert.equal(demandAt(r.trace, 59.9), 10);
    assert.equal(demandAt(r.trace, 60), 25);
    assert.equal(demandAt(r.trace, 119), 25);
  });

  it('names the line of every bad row', () => {
    const r = parseTrace('seconds,demand\n0,10\n30,-1\n0,5\n40,x\n50,1,2\n60,4\n');
    assert.ok(!r.ok);
    assert.deepEqual(
      r.errors.map((e) => e.line),
      [3, 4, 5, 6],
    );
    assert.match(r.errors[0]!.message, /demand must be a number >= 0, got "-1"/);
    assert.match(r.errors[1]!.message, /seconds must increase: 0 after 0/);
    assert.match(r.errors[3]!.message, /expected 2 columns/);
  });

  it('rejects a wrong header, a first row after 0 and a one-row trace', () => {
    const header = parseTrace('time,load\n0,1\n');
    assert.ok(!header.ok);
    assert.deepEqual(header.errors[0], { line: 1, message: 'header must be "seconds,demand", got "time,load"' });
    const late = parseTrace('seconds,demand\n5,1\n10,1\n');
    assert.ok(!late.ok);
    assert.equal(late.errors[0]!.line, 2);
    assert.match(late.errors[0]!.message, /first row must be at seconds 0/);
    const short = parseTrace('seconds,demand\n0,1\n');
    assert.ok(!short.ok);
    assert.match(short.errors[0]!.message, /at least two rows/);
    const empty = parseTrace('\n');
    assert.ok(!empty.ok);
  });

  it('round-trips through formatTrace', () => {
    const r = parseTrace('seconds,demand\n0,1\n10,2.5\n20,0\n');
    assert.ok(r.ok);
    const again = parseTrace(formatTrace(r.trace));
    assert.ok(again.ok);
    assert.deepEqual(again.trace, r.trace);
  });
});
