// HTTP/1.1 message heads for the http relay (RFC 9112 sections 2-7, RFC 9110 section 7.6):
// finds and parses a request or response head in received bytes and renders the head the relay
// forwards, without hop-by-hop fields and with X-Forwarded-For. Pure: bytes in, data out.

/** Heads above this are refused: 431 for a request (RFC 6585), 502 for a response. */
export const MAX_HEAD_BYTES = 16 * 1024;

export type HeadError = 'malformed' | 'too-large';

/** How the body after a head is delimited (RFC 9112 section 6.3). */
export type BodyFraming = { kind: 'none' } | { kind: 'length'; length: number } | { kind: 'chunked' } | { kind: 'close' };

export interface RequestHead {
  method: string;
  target: string;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  body: BodyFraming;
  /** The client wants the connection kept after this exchange. */
  keepAlive: boolean;
  /** Upgrade requested (WebSocket and the like): spliced as a whole connection. */
  upgrade: boolean;
  /** Header lines to forward (name: value\r\n each), hop-by-hop and X-Forwarded-For left out. */
  forward: string;
  /** Every header line but X-Forwarded-For, for an upgrade, whose Connection/Upgrade must stay. */
  all: string;
  /** X-Forwarded-For values received, joined with ", "; empty when none. */
  forwardedFor: string;
}

export interface ResponseHead {
  status: number;
  reason: string;
  minor: number;
  /** The server keeps the connection after this response. */
  keepAlive: boolean;
  /** Framing as sent, before the request method is taken into account. */
  body: BodyFraming;
  forward: string;
}

export type Parsed<T> = { ok: true; head: T; end: number } | { ok: false; reason: HeadError } | undefined;

// RFC 9110 section 7.6.1: connection-specific fields; also those the Connection field names.
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade']);
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\0-\x20\x7f]+) HTTP\/1\.([01])$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\0-\x08\x0a-\x1f\x7f]*))?$/;
const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');
/** Connection tokens that name no field (RFC 9110 section 7.6.1 and the upgrade mechanism). */
const PLAIN_TOKENS = new Set(['close', 'keep-alive', 'upgrade']);

// tchar (RFC 9110 section 5.6.2), as a table: the scan below runs for every field of every request.
const TCHAR = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz") TCHAR[c.charCodeAt(0)] = 1;

/** The fields the relay acts on; all others are forwarded as they came. */
const enum Name {
  Other,
  Hop,
  Connection,
  ContentLength,
  TransferEncoding,
  Host,
  Upgrade,
  XForwardedFor,
}

function nameOf(text: string, from: number, to: number): Name {
  const n = to - from;
  // Only names of these lengths can matter: the others are not lower-cased at all.
  if (n !== 2 && n !== 4 && n !== 7 && n !== 10 && n !== 14 && n !== 15 && n !== 16 && n !== 17) return Name.Other;
  const lower = text.slice(from, to).toLowerCase();
  switch (lower) {
    case 'connection':
      return Name.Connection;
    case 'content-length':
      return Name.ContentLength;
    case 'transfer-encoding':
      return Name.TransferEncoding;
    case 'host':
      return Name.Host;
    case 'upgrade':
      return Name.Upgrade;
    case 'x-forwarded-for':
      return Name.XForwardedFor;
    default:
      return HOP_BY_HOP.has(lower) ? Name.Hop : Name.Other;
  }
}

interface Fields {
  /** Field lines for the next hop as received: hop-by-hop and X-Forwarded-For left out. */
  forward: string;
  /** Lower-cased Connection tokens. */
  connection: string[];
  contentLength: number | undefined;
  chunked: boolean;
  /** Transfer-Encoding present but not ending in chunked. */
  otherCoding: boolean;
  hasHost: boolean;
  hasUpgrade: boolean;
  /** X-Forwarded-For values received, joined with ", ". */
  forwardedFor: string;
}

/**
 * Scans the field lines of a head (text[from..], CRLF-separated, without the blank line) in one
 * pass. No obs-fold, no whitespace before the colon, no control characters in a value (RFC
 * 9112 sections 5.1-5.2): undefined, a 400, not a guess.
 */
function parseFields(text: string, from: number): Fields | undefined {
  const out: Fields = {
    forward: '',
    connection: [],
    contentLength: undefined,
    chunked: false,
    otherCoding: false,
    hasHost: false,
    hasUpgrade: false,
    forwardedFor: '',
  };
  const len = text.length;
  let pos = from;
  while (pos < len) {
    let eol = text.indexOf('\r\n', pos);
    if (eol < 0) eol = len;
    let colon = pos;
    while (colon < eol) {
      const c = text.charCodeAt(colon);
      if (c === 58) break;
      if (c > 127 || TCHAR[c] === 0) return undefined;
      colon++;
    }
    if (colon === pos || colon === eol) return undefined;
    let vs = colon + 1;
    let ve = eol;
    for (let i = vs; i < ve; i++) {
      const c = text.charCodeAt(i);
      if ((c < 32 && c !== 9) || c === 127) return undefined;
    }
    while (vs < ve && (text.charCodeAt(vs) === 32 || text.charCodeAt(vs) === 9)) vs++;
    while (ve > vs && (text.charCodeAt(ve - 1) === 32 || text.charCodeAt(ve - 1) === 9)) ve--;
    const line = eol + 2 <= len ? text.slice(pos, eol + 2) : `${text.slice(pos, eol)}\r\n`;
    switch (nameOf(text, pos, colon)) {
      case Name.Other:
        out.forward += line;
        break;
      case Name.Host:
        out.hasHost = true;
        out.forward += line;
        break;
      case Name.Hop:
        break;
      case Name.Upgrade:
        out.hasUpgrade = true;
        break;
      case Name.Connection:
        for (const token of text.slice(vs, ve).split(',')) {
          const t = token.trim().toLowerCase();
          if (t) out.connection.push(t);
        }
        break;
      case Name.XForwardedFor: {
        const value = text.slice(vs, ve);
        out.forwardedFor = out.forwardedFor ? `${out.forwardedFor}, ${value}` : value;
        break;
      }
      case Name.ContentLength:
        // Repeated identical lengths are one length (RFC 9112 section 6.3 rule 5); differing ones are not.
        for (const part of text.slice(vs, ve).split(',')) {
          const digits = part.trim();
          if (!/^\d{1,15}$/.test(digits)) return undefined;
          const n = Number(digits);
          if (out.contentLength !== undefined && out.contentLength !== n) return undefined;
          out.contentLength = n;
        }
        out.forward += line;
        break;
      case Name.TransferEncoding: {
        const codings = text.slice(vs, ve).split(',').map((c) => c.trim().toLowerCase()).filter(Boolean);
        out.chunked = codings.at(-1) === 'chunked';
        out.otherCoding = !out.chunked;
        break;
      }
    }
    pos = eol + 2;
  }
  // Fields the Connection field names are hop-by-hop too, and with chunked framing a
  // Content-Length is dropped (RFC 9112 section 6.3 rule 3) and chunked re-sent: rare, a second pass.
  const named = out.connection.length > 0 ? out.connection.filter((t) => !PLAIN_TOKENS.has(t)) : out.connection;
  if (named.length > 0 || (out.chunked && out.contentLength !== undefined)) {
    out.forward = withoutFields(out.forward, new Set(out.chunked ? [...named, 'content-length'] : named));
  }
  if (out.chunked) out.forward += 'Transfer-Encoding: chunked\r\n';
  return out;
}

/** Field lines (each ending in CRLF) without those whose lower-cased name is in `names`. */
function withoutFields(lines: string, names: ReadonlySet<string>): string {
  let kept = '';
  for (const line of lines.split('\r\n')) {
    if (line && !names.has(line.slice(0, line.indexOf(':')).toLowerCase())) kept += `${line}\r\n`;
  }
  return kept;
}

/** Every field line but X-Forwarded-For, Connection and Upgrade included: what an upgrade sends on. */
function allLines(text: string, from: number): string {
  let kept = '';
  for (const line of text.slice(from).split('\r\n')) {
    if (line && line.slice(0, line.indexOf(':')).toLowerCase() !== 'x-forwarded-for') kept += `${line}\r\n`;
  }
  return kept;
}

/**
 * Finds the head that starts at `start`: undefined while it is incomplete, an error when it
 * is malformed or above MAX_HEAD_BYTES, else the head's text and the index past its blank line.
 */
function findHead(buf: Buffer, start: number, end: number): { text: string; end: number } | HeadError | undefined {
  const at = buf.indexOf(CRLF2, start);
  if (at < 0 || at + 4 > end) return end - start > MAX_HEAD_BYTES ? 'too-large' : undefined;
  if (at + 4 - start > MAX_HEAD_BYTES) return 'too-large';
  return { text: buf.toString('latin1', start, at), end: at + 4 };
}

/** The start line and where the field lines begin. */
function startLine(text: string): { line: string; fields: number } {
  const eol = text.indexOf('\r\n');
  return eol < 0 ? { line: text, fields: text.length } : { line: text.slice(0, eol), fields: eol + 2 };
}

export function parseRequestHead(buf: Buffer, start: number, end: number): Parsed<RequestHead> {
  const found = findHead(buf, start, end);
  if (found === undefined) return undefined;
  if (typeof found === 'string') return { ok: false, reason: found };
  const first = startLine(found.text);
  const line = REQUEST_LINE.exec(first.line);
  if (!line) return { ok: false, reason: 'malformed' };
  const fields = parseFields(found.text, first.fields);
  // A request must be framed: an unknown coding or a 1.1 request without Host is a 400 (RFC 9112 3.2, 6.3).
  if (!fields || fields.otherCoding) return { ok: false, reason: 'malformed' };
  const minor = Number(line[3]);
  if (minor === 1 && !fields.hasHost) return { ok: false, reason: 'malformed' };
  const body: BodyFraming = fields.chunked
    ? { kind: 'chunked' }
    : fields.contentLength
      ? { kind: 'length', length: fields.contentLength }
      : { kind: 'none' };
  const keepAlive = minor === 1 ? !fields.connection.includes('close') : fields.connection.includes('keep-alive');
  const upgrade = fields.connection.includes('upgrade') && fields.hasUpgrade;
  // Sent on as 1.1, a 1.0 request without Host gets the empty one RFC 9110 section 7.2 asks for.
  const forward = fields.hasHost ? fields.forward : `${fields.forward}Host: \r\n`;
  return {
    ok: true,
    end: found.end,
    head: {
      method: line[1]!,
      target: line[2]!,
      minor,
      body,
      keepAlive,
      upgrade,
      forward,
      all: upgrade ? allLines(found.text, first.fields) : '',
      forwardedFor: fields.forwardedFor,
    },
  };
}

export function parseResponseHead(buf: Buffer, start: number, end: number): Parsed<ResponseHead> {
  const found = findHead(buf, start, end);
  if (found === undefined) return undefined;
  if (typeof found === 'string') return { ok: false, reason: found };
  const first = startLine(found.text);
  const line = STATUS_LINE.exec(first.line);
  if (!line) return { ok: false, reason: 'malformed' };
  const fields = parseFields(found.text, first.fields);
  if (!fields) return { ok: false, reason: 'malformed' };
  const minor = Number(line[1]);
  const body: BodyFraming = fields.chunked
    ? { kind: 'chunked' }
    : fields.otherCoding
      ? { kind: 'close' }
      : fields.contentLength !== undefined
        ? fields.contentLength > 0
          ? { kind: 'length', length: fields.contentLength }
          : { kind: 'none' }
        : { kind: 'close' };
  const keepAlive = minor === 1 ? !fields.connection.includes('close') : fields.connection.includes('keep-alive');
  return { ok: true, end: found.end, head: { status: Number(line[2]), reason: line[3] ?? '', minor, keepAlive, body, forward: fields.forward } };
}

/** The framing of a response to `method` (RFC 9112 section 6.3 rules 1-2). */
export function responseFraming(method: string, head: ResponseHead): BodyFraming {
  if (method === 'HEAD' || head.status < 200 || head.status === 204 || head.status === 304) return { kind: 'none' };
  return head.body;
}

/** The request head sent to a backend: always HTTP/1.1, keep-alive, with X-Forwarded-For. */
export function renderRequest(head: RequestHead, source: string): string {
  const xff = head.forwardedFor ? `${head.forwardedFor}, ${source}` : source;
  return `${head.method} ${head.target} HTTP/1.1\r\n${head.forward}X-Forwarded-For: ${xff}\r\n\r\n`;
}

/** An upgrade's head, every field kept (Connection and Upgrade included), X-Forwarded-For added. */
export function renderUpgrade(head: RequestHead, source: string): string {
  const xff = head.forwardedFor ? `${head.forwardedFor}, ${source}` : source;
  return `${head.method} ${head.target} HTTP/1.${head.minor}\r\n${head.all}X-Forwarded-For: ${xff}\r\n\r\n`;
}

/**
 * The response head sent to the client. `close` says the relay closes the client connection
 * after it; a 1.0 client that asked for keep-alive is told it is kept.
 */
export function renderResponse(head: ResponseHead, client: { minor: number; close: boolean; dechunk: boolean }): string {
  let fields = head.forward;
  if (client.dechunk) fields = fields.replace('Transfer-Encoding: chunked\r\n', '');
  const connection = client.close ? 'Connection: close\r\n' : client.minor === 0 ? 'Connection: keep-alive\r\n' : '';
  return `HTTP/1.1 ${head.status} ${head.reason}\r\n${fields}${connection}\r\n`;
}

/** A response the relay makes itself (400, 431, 502, 503, 504); it always closes. */
export function renderError(status: 400 | 431 | 502 | 503 | 504, text: string): string {
  const reason = { 400: 'Bad Request', 431: 'Request Header Fields Too Large', 502: 'Bad Gateway', 503: 'Service Unavailable', 504: 'Gateway Timeout' }[status];
  return `HTTP/1.1 ${status} ${reason}\r\nContent-Type: text/plain\r\nContent-Length: ${Buffer.byteLength(text)}\r\nConnection: close\r\n\r\n${text}`;
}
