// The http relay's pure parts: request and response heads (firmware/balancer/http-head.ts,
// RFC 9112 sections 2-7, RFC 9110 section 7.6) and body framing (http-body.ts), as byte
// vectors, every split of a message into two reads, and the malformed and oversized cases.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { BodyScanner } from '../../../firmware/balancer/http-body.js';
import {
  MAX_HEAD_BYTES,
  parseRequestHead,
  parseResponseHead,
  renderError,
  renderRequest,
  renderResponse,
  renderUpgrade,
  responseFraming,
} from '../../../firmware/balancer/http-head.js';

const bytes = (text: string) => Buffer.from(text, 'latin1');

function request(text: string) {
  const buf = bytes(text);
  return parseRequestHead(buf, 0, buf.length);
}

describe('request heads', () => {
  it('parses a GET and renders it for the backend with X-Forwarded-For, hop-by-hop fields gone', () => {
    const text =
      'GET /a?b=1 HTTP/1.1\r\nHost: example\r\nConnection: keep-alive, X-Private\r\nKeep-Alive: timeout=5\r\nX-Private: secret\r\n' +
      'TE: trailers\r\nX-Forwarded-For: 203.0.113.7\r\nAccept: */*\r\n\r\nNEXT';
    const parsed = request(text);
    assert.ok(parsed?.ok);
    assert.equal(parsed.end, text.indexOf('NEXT'));
    const head = parsed.head;
    assert.deepEqual([head.method, head.target, head.minor, head.keepAlive, head.upgrade], ['GET', '/a?b=1', 1, true, false]);
    assert.deepEqual(head.body, { kind: 'none' });
    assert.equal(
      renderRequest(head, '198.51.100.5'),
      'GET /a?b=1 HTTP/1.1\r\nHost: example\r\nAccept: */*\r\nX-Forwarded-For: 203.0.113.7, 198.51.100.5\r\n\r\n',
    );
  });

  it('ends the head at the blank line: what follows is the next message', () => {
    const text = 'GET / HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n';
    const buf = bytes(text);
    const first = parseRequestHead(buf, 0, buf.length);
    assert.ok(first?.ok);
    assert.equal(first.end, text.indexOf('GET /2'));
    const second = parseRequestHead(buf, first.end, buf.length);
    assert.ok(second?.ok);
    assert.equal(second.head.target, '/2');
    assert.equal(second.end, buf.length);
  });

  it('joins several X-Forwarded-For fields in order', () => {
    const parsed = request('GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.1\r\nx-forwarded-for: 203.0.113.2\r\n\r\n');
    assert.ok(parsed?.ok);
    assert.match(renderRequest(parsed.head, '198.51.100.9'), /\r\nX-Forwarded-For: 203\.0\.113\.1, 203\.0\.113\.2, 198\.51\.100\.9\r\n\r\n$/);
  });

  it('says incomplete for every prefix of a head, and parses the whole', () => {
    const text = 'POST /up HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\n';
    for (let cut = 0; cut < text.length; cut++) assert.equal(request(text.slice(0, cut)), undefined, `cut at ${cut}`);
    const parsed = request(text);
    assert.ok(parsed?.ok);
    assert.deepEqual(parsed.head.body, { kind: 'length', length: 5 });
  });

  it('frames chunked requests as chunked, dropping a Content-Length beside it', () => {
    const parsed = request('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\nTransfer-Encoding: gzip, chunked\r\n\r\n');
    assert.ok(parsed?.ok);
    assert.deepEqual(parsed.head.body, { kind: 'chunked' });
    const out = renderRequest(parsed.head, '198.51.100.1');
    assert.doesNotMatch(out, /Content-Length/i);
    assert.match(out, /\r\nTransfer-Encoding: chunked\r\n/);
  });

  it('keeps HTTP/1.0 connections only when asked, and closes 1.1 ones on Connection: close', () => {
    const cases: [string, boolean][] = [
      ['GET / HTTP/1.0\r\n\r\n', false],
      ['GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n', true],
      ['GET / HTTP/1.1\r\nHost: a\r\n\r\n', true],
      ['GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n', false],
    ];
    for (const [text, keep] of cases) {
      const parsed = request(text);
      assert.ok(parsed?.ok, text);
      assert.equal(parsed.head.keepAlive, keep, text);
    }
    // Forwarded as 1.1, which needs a Host: an absent one is sent empty (RFC 9110 section 7.2).
    const old = request('GET / HTTP/1.0\r\n\r\n');
    assert.ok(old?.ok);
    assert.equal(renderRequest(old.head, '198.51.100.3'), 'GET / HTTP/1.1\r\nHost: \r\nX-Forwarded-For: 198.51.100.3\r\n\r\n');
  });

  it('keeps Connection and Upgrade for an upgrade', () => {
    const parsed = request('GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Forwarded-For: 203.0.113.3\r\n\r\n');
    assert.ok(parsed?.ok);
    assert.equal(parsed.head.upgrade, true);
    assert.equal(
      renderUpgrade(parsed.head, '198.51.100.2'),
      'GET /ws HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nX-Forwarded-For: 203.0.113.3, 198.51.100.2\r\n\r\n',
    );
  });

  it('refuses malformed heads', () => {
    const bad = [
      'GET / HTTP/1.1\r\n\r\n', // no Host in 1.1
      'GET  / HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET / HTTP/2.0\r\nHost: a\r\n\r\n',
      'G(T / HTTP/1.1\r\nHost: a\r\n\r\n',
      'GET / HTTP/1.1\r\nHost : a\r\n\r\n', // whitespace before the colon
      'GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n', // obs-fold
      'GET / HTTP/1.1\r\nHost: a\r\nNoColon\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 1, 2\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n',
      'POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n',
      'GET / HTTP/1.1\r\nHost: a\x01b\r\n\r\n',
    ];
    for (const text of bad) assert.deepEqual(request(text), { ok: false, reason: 'malformed' }, JSON.stringify(text));
    const same = request('POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\n');
    assert.ok(same?.ok);
    assert.deepEqual(same.head.body, { kind: 'length', length: 3 });
  });

  it('refuses heads above MAX_HEAD_BYTES, complete or not', () => {
    const big = `GET / HTTP/1.1\r\nHost: a\r\nX-Big: ${'x'.repeat(MAX_HEAD_BYTES)}\r\n\r\n`;
    assert.deepEqual(request(big), { ok: false, reason: 'too-large' });
    assert.deepEqual(request(big.slice(0, MAX_HEAD_BYTES + 10)), { ok: false, reason: 'too-large' });
    assert.equal(request(big.slice(0, MAX_HEAD_BYTES - 10)), undefined);
  });
});

describe('response heads', () => {
  function response(text: string) {
    const buf = bytes(text);
    const parsed = parseResponseHead(buf, 0, buf.length);
    assert.ok(parsed?.ok, text);
    return parsed.head;
  }

  it('parses the status, framing and keep-alive, and renders without hop-by-hop fields', () => {
    const head = response('HTTP/1.1 200 OK\r\nContent-Length: 12\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\nX-Backend: h1\r\n\r\n');
    assert.deepEqual([head.status, head.reason, head.keepAlive], [200, 'OK', true]);
    assert.deepEqual(head.body, { kind: 'length', length: 12 });
    assert.equal(renderResponse(head, { minor: 1, close: false, dechunk: false }), 'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Backend: h1\r\n\r\n');
    assert.equal(
      renderResponse(head, { minor: 1, close: true, dechunk: false }),
      'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Backend: h1\r\nConnection: close\r\n\r\n',
    );
    assert.equal(
      renderResponse(head, { minor: 0, close: false, dechunk: false }),
      'HTTP/1.1 200 OK\r\nContent-Length: 12\r\nX-Backend: h1\r\nConnection: keep-alive\r\n\r\n',
    );
  });

  it('frames by method and status: HEAD, 204, 304 and 1xx have no body; no length means until close', () => {
    const sized = response('HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n');
    assert.deepEqual(responseFraming('HEAD', sized), { kind: 'none' });
    assert.deepEqual(responseFraming('GET', sized), { kind: 'length', length: 5 });
    assert.deepEqual(responseFraming('GET', response('HTTP/1.1 204 No Content\r\n\r\n')), { kind: 'none' });
    assert.deepEqual(responseFraming('GET', response('HTTP/1.1 304 Not Modified\r\nContent-Length: 9\r\n\r\n')), { kind: 'none' });
    assert.deepEqual(responseFraming('GET', response('HTTP/1.1 100 Continue\r\n\r\n')), { kind: 'none' });
    assert.deepEqual(responseFraming('GET', response('HTTP/1.1 200 OK\r\n\r\n')), { kind: 'close' });
    assert.deepEqual(responseFraming('GET', response('HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n')), { kind: 'none' });
    const chunked = response('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.deepEqual(chunked.body, { kind: 'chunked' });
    assert.equal(renderResponse(chunked, { minor: 1, close: false, dechunk: false }), 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n');
    assert.equal(renderResponse(chunked, { minor: 0, close: true, dechunk: true }), 'HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n');
  });

  it('knows a closing server: 1.1 with Connection: close, 1.0 without keep-alive', () => {
    assert.equal(response('HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\n').keepAlive, false);
    assert.equal(response('HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\n').keepAlive, false);
    assert.equal(response('HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 1\r\n\r\n').keepAlive, true);
  });

  it('refuses malformed status lines', () => {
    for (const text of ['HTTP/1.1 20 OK\r\n\r\n', 'HTTP/2 200 OK\r\n\r\n', 'ICY 200 OK\r\n\r\n', 'HTTP/1.1 200 OK\r\nBad Field: x\r\n\r\n']) {
      const buf = bytes(text);
      assert.deepEqual(parseResponseHead(buf, 0, buf.length), { ok: false, reason: 'malformed' }, text);
    }
  });

  it('renders its own errors as closing replies with a length', () => {
    assert.equal(renderError(503, 'no\n'), 'HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 3\r\nConnection: close\r\n\r\nno\n');
  });
});

describe('body framing', () => {
  /** Feeds `text` in two reads split at every point; returns where the body ended and the data. */
  function scanSplit(framing: ConstructorParameters<typeof BodyScanner>[0], text: string) {
    const ends = new Set<number>();
    const datas = new Set<string>();
    for (let cut = 0; cut <= text.length; cut++) {
      const scanner = new BodyScanner(framing);
      let data = '';
      const onData = (buf: Buffer) => (from: number, to: number) => (data += buf.toString('latin1', from, to));
      const a = bytes(text.slice(0, cut));
      const b = bytes(text.slice(cut));
      let step = scanner.advance(a, 0, a.length, onData(a));
      let end: number | undefined;
      if ('error' in step) throw new Error(step.error);
      if (step.done) end = step.end;
      else {
        step = scanner.advance(b, 0, b.length, onData(b));
        if ('error' in step) throw new Error(step.error);
        if (step.done) end = cut + step.end;
      }
      ends.add(end ?? -1);
      datas.add(data);
    }
    return { ends: [...ends], datas: [...datas] };
  }

  it('counts a Content-Length down across reads and stops at it', () => {
    assert.deepEqual(scanSplit({ kind: 'length', length: 5 }, 'helloGET'), { ends: [5], datas: ['hello'] });
  });

  it('walks chunks, extensions and trailers to the end of the chunked body, wherever the reads split', () => {
    const body = '5\r\nhello\r\nA;name=value\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n';
    assert.deepEqual(scanSplit({ kind: 'chunked' }, `${body}GET / HTTP/1.1`), { ends: [body.length], datas: ['hello0123456789'] });
    const plain = '3\r\nabc\r\n0\r\n\r\n';
    assert.deepEqual(scanSplit({ kind: 'chunked' }, `${plain}NEXT`), { ends: [plain.length], datas: ['abc'] });
  });

  it('refuses broken chunked framing', () => {
    for (const text of ['x\r\n', '5\r\nhelloXX', '5\nhello\r\n', `${'f'.repeat(13)}\r\n`, '3\r\nabc\r\n0\r\nX\r\r']) {
      const scanner = new BodyScanner({ kind: 'chunked' });
      const buf = bytes(text);
      const step = scanner.advance(buf, 0, buf.length);
      assert.ok('error' in step, `${JSON.stringify(text)} gave ${JSON.stringify(step)}`);
    }
  });

  it('never ends a close-delimited body, and ends an absent one at once', () => {
    const buf = bytes('abc');
    assert.deepEqual(new BodyScanner({ kind: 'close' }).advance(buf, 0, 3), { done: false });
    assert.deepEqual(new BodyScanner({ kind: 'none' }).advance(buf, 1, 3), { done: true, end: 1 });
  });
});
