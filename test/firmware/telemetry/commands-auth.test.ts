// Tests for the signed-command core (firmware/telemetry/command-auth.ts): vectors computed with
// `openssl dgst -sha256 -hmac` over the canonical text written out by hand, a table of
// refusals in check order, the freshness window both ways, and the bounded nonce window.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import {
  NonceWindow,
  canonicalEncoding,
  canonicalJson,
  keyFromFileText,
  parsePayload,
  sign,
  signedPayload,
  verify,
  type CommandFields,
  type VerifyContext,
} from '../../../firmware/telemetry/command-auth.js';

const KEY = Buffer.from('lab-key-0123456789abcdef');
const T0 = 1_795_000_000_000;
const FIELDS: CommandFields = { node: 'fw-a', action: 'maintenance', args: { on: true }, time: T0, nonce: 'n0nce-0123456789ab', by: 'monitor-1' };

function context(overrides: Partial<VerifyContext> = {}): VerifyContext {
  return { key: KEY, node: 'fw-a', action: 'maintenance', now: T0, maxAgeMs: 30_000, nonces: new NonceWindow(), ...overrides };
}

function body(fields: CommandFields = FIELDS, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...(JSON.parse(signedPayload(KEY, fields)) as Record<string, unknown>), ...extra };
}

describe('canonical encoding and vectors', () => {
  it('is the JSON array of tag, node, action, time, nonce, by and the sorted args', () => {
    assert.equal(
      canonicalEncoding(FIELDS).toString('utf8'),
      '["tandem-command/1","fw-a","maintenance",1795000000000,"n0nce-0123456789ab","monitor-1",{"on":true}]',
    );
  });

  it('sorts keys at every level, whatever order the sender wrote them in', () => {
    assert.equal(canonicalJson({ z: 1, by: { c: 3, a: [1, { c: 3, b: 2 }] } } as never), '{"by":{"a":[1,{"b":2,"c":3}],"c":3},"z":1}');
  });

  it('matches the HMAC-SHA256 openssl computes', () => {
    assert.equal(sign(KEY, FIELDS), '0545a14480774afb013da5338583601f9c1819e20b5bbca0d72dde6fc6d4e5c7');
    // The sender wrote its keys in another order; the MAC is over the sorted form openssl saw:
    // {"by":{"a":[1,{"b":2,"c":3}],"z":1}}
    const unsorted = { ...FIELDS, action: 'demote', args: JSON.parse('{"by":{"z":1,"a":[1,{"c":3,"b":2}]}}') };
    assert.equal(sign(KEY, unsorted), 'd30400f2de4bcfdc1e796b24b6b2b0ce3597b6047295208eee968107d0248e63');
  });
});

describe('verify', () => {
  it('accepts a signed, fresh, new command and returns its fields', () => {
    const verdict = verify(body(), context());
    assert.deepEqual(verdict, { ok: true, command: FIELDS });
  });

  it('treats missing args as {} on both sides', () => {
    const fields = { ...FIELDS, action: 'failover', args: {} };
    const b = body(fields);
    delete b.args;
    assert.equal(verify(b, context({ action: 'failover' })).ok, true);
  });

  const refusals: [string, Record<string, unknown>, Partial<VerifyContext>, string][] = [
    ['no sig', { ...body(), sig: undefined }, {}, 'unsigned'],
    ['sig not hex', body(FIELDS, { sig: 'zz'.repeat(32) }), {}, 'malformed'],
    ['sig upper-case hex', body(FIELDS, { sig: sign(KEY, FIELDS).toUpperCase() }), {}, 'malformed'],
    ['sig too short', body(FIELDS, { sig: 'ab'.repeat(31) }), {}, 'malformed'],
    ['args a list', body(FIELDS, { args: [true] }), {}, 'malformed'],
    ['time a string', body(FIELDS, { time: String(T0) }), {}, 'malformed'],
    ['time fractional', body(FIELDS, { time: T0 + 0.5 }), {}, 'malformed'],
    ['nonce too short', body(FIELDS, { nonce: 'short' }), {}, 'malformed'],
    ['nonce with a slash', body(FIELDS, { nonce: 'n0nce/0123456789ab' }), {}, 'malformed'],
    ['by missing', body(FIELDS, { by: undefined }), {}, 'malformed'],
    ['another key', body(), { key: Buffer.from('another-key-0123456789') }, 'badSignature'],
    ['args changed', body(FIELDS, { args: { on: false } }), {}, 'badSignature'],
    ['time changed', body(FIELDS, { time: T0 + 1 }), {}, 'badSignature'],
    ['nonce changed', body(FIELDS, { nonce: 'n0nce-0123456789ac' }), {}, 'badSignature'],
    ['by changed', body(FIELDS, { by: 'monitor-2' }), {}, 'badSignature'],
    ['signed for another node', body(), { node: 'fw-b' }, 'badSignature'],
    ['signed for another action', body(), { action: 'failover' }, 'badSignature'],
    ['31 s old', body(), { now: T0 + 31_000 }, 'stale'],
    ['31 s in the future', body(), { now: T0 - 31_000 }, 'stale'],
    ['5 s old with maxAge 4 s', body(), { now: T0 + 5_000, maxAgeMs: 4_000 }, 'stale'],
  ];
  for (const [name, b, overrides, reason] of refusals) {
    it(`refuses ${name}: ${reason}`, () => {
      const nonces = new NonceWindow();
      const verdict = verify(b, context({ nonces, ...overrides }));
      assert.equal(verdict.ok, false);
      assert.equal(!verdict.ok && verdict.reason, reason, JSON.stringify(verdict));
      assert.equal(nonces.size, 0, 'a refused command must not enter the nonce window');
    });
  }

  it('accepts the edges of the window: exactly maxAge old and ahead', () => {
    assert.equal(verify(body(), context({ now: T0 + 30_000 })).ok, true);
    assert.equal(verify(body(), context({ now: T0 - 30_000 })).ok, true);
  });

  it('refuses the same command a second time as replayed, also later within the window', () => {
    const nonces = new NonceWindow();
    assert.equal(verify(body(), context({ nonces })).ok, true);
    const again = verify(body(), context({ nonces, now: T0 + 29_000 }));
    assert.deepEqual(again.ok ? 'accepted' : again.reason, 'replayed');
  });

  it('refuses a replay once the window has passed as stale, not by remembering it forever', () => {
    const nonces = new NonceWindow();
    assert.equal(verify(body(), context({ nonces })).ok, true);
    const later = verify(body(), context({ nonces, now: T0 + 31_000 }));
    assert.equal(!later.ok && later.reason, 'stale');
    // A new command after the window prunes the old nonce.
    const next = { ...FIELDS, time: T0 + 31_000, nonce: 'n0nce-next-0000000' };
    assert.equal(verify(body(next), context({ nonces, now: T0 + 31_000 })).ok, true);
    assert.equal(nonces.size, 1);
  });
});

describe('NonceWindow', () => {
  it('stays within capacity and refuses anything at or below the evicted time', () => {
    const window = new NonceWindow(3);
    window.remember('a', 100);
    window.remember('b', 300);
    window.remember('c', 200);
    window.remember('d', 400); // evicts a (time 100)
    assert.equal(window.size, 3);
    assert.equal(window.floor, 100);
    assert.equal(window.replayed('a', 100), true, 'a was evicted but its time is at the floor');
    assert.equal(window.replayed('x', 99), true);
    assert.equal(window.replayed('x', 101), false);
    assert.equal(window.replayed('c', 200), true);
    window.remember('e', 500); // evicts c (time 200)
    assert.equal(window.floor, 200);
    assert.equal(window.replayed('x', 150), true);
  });

  it('through verify: a flood of valid commands never lets an old one replay', () => {
    const nonces = new NonceWindow(4);
    const sent: CommandFields[] = [];
    for (let i = 0; i < 10; i++) {
      const fields = { ...FIELDS, time: T0 + i * 100, nonce: `flood-nonce-${String(i).padStart(6, '0')}` };
      sent.push(fields);
      assert.equal(verify(body(fields), context({ nonces, now: T0 + 1000 })).ok, true);
    }
    assert.equal(nonces.size, 4);
    for (const fields of sent) {
      const verdict = verify(body(fields), context({ nonces, now: T0 + 1000 }));
      assert.equal(!verdict.ok && verdict.reason, 'replayed');
    }
  });

  it('raiseFloor refuses everything stamped at or before it, and never lowers', () => {
    const window = new NonceWindow();
    window.raiseFloor(1000);
    window.raiseFloor(500);
    assert.equal(window.floor, 1000);
    assert.equal(window.replayed('fresh-nonce', 1000), true);
    assert.equal(window.replayed('fresh-nonce', 1001), false);
  });

  it('rejects a capacity that is not a positive integer', () => {
    assert.throws(() => new NonceWindow(0), /positive integer/);
  });
});

describe('parsePayload and keys', () => {
  it('refuses what is not a JSON object, and oversized payloads before parsing', () => {
    assert.deepEqual(parsePayload(Buffer.from('{"a":1}')), { ok: true, body: { a: 1 } });
    for (const text of ['', 'not json', '[1]', 'null', '"s"', '12']) assert.equal(parsePayload(Buffer.from(text)).ok, false, text);
    const big = parsePayload(Buffer.alloc(16 * 1024 + 1, 0x20));
    assert.equal(big.ok, false);
    assert.match(!big.ok ? big.detail : '', /16384/);
  });

  it('takes the key file text without surrounding whitespace, at least 16 bytes', () => {
    const ok = keyFromFileText('lab-key-0123456789abcdef\n');
    assert.ok(ok.ok && ok.key.equals(KEY));
    const short = keyFromFileText('  fifteen-bytes!!\n');
    assert.equal(short.ok, false);
    assert.match(!short.ok ? short.problem : '', /at least 16 bytes, the file holds 15/);
  });
});
