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
const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
const FIELD_VALUE = /^[^\0-\x08\x0a-\x1f\x7f]*$/;
const REQUEST_LINE = /^([!#$%&'*+\-.^_`|~0-9A-Za-z]+) ([^\0-\x20\x7f]+) HTTP\/1\.([01])$/;
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?: ([^\0-\x08\x0a-\x1f\x7f]*))?$/;
const CRLF2 = Buffer.from('\r\n\r\n', 'latin1');

interface Field {
  name: string;
  lower: string;
  value: string;
}

interface Fields {
  fields: Field[];
  connection: Set<string>;
  contentLength: number | undefined;
  chunked: boolean;
  /** Transfer-Encoding present but not ending in chunked. */
  otherCoding: boolean;
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

function parseFields(lines: string[]): Fields | undefined {
  const out: Fields = { fields: [], connection: new Set(), contentLength: undefined, chunked: false, otherCoding: false };
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    // No obs-fold, no whitespace before the colon (RFC 9112 sections 5.1-5.2): a 400, not a guess.
    if (colon <= 0) return undefined;
    const name = line.slice(0, colon);
    if (!TOKEN.test(name)) return undefined;
    const value = line.slice(colon + 1).trim();
    if (!FIELD_VALUE.test(value)) return undefined;
    const lower = name.toLowerCase();
    out.fields.push({ name, lower, value });
    if (lower === 'connection') {
      for (const token of value.split(',')) if (token.trim()) out.connection.add(token.trim().toLowerCase());
    } else if (lower === 'content-length') {
      // Repeated identical lengths are one length (RFC 9112 section 6.3 rule 5); differing ones are not.
      for (const part of value.split(',')) {
        const text = part.trim();
        if (!/^\d{1,15}$/.test(text)) return undefined;
        const n = Number(text);
        if (out.contentLength !== undefined && out.contentLength !== n) return undefined;
        out.contentLength = n;
      }
    } else if (lower === 'transfer-encoding') {
      const codings = value.split(',').map((c) => c.trim().toLowerCase()).filter(Boolean);
      out.chunked = codings.at(-1) === 'chunked';
      out.otherCoding = !out.chunked;
    }
  }
  return out;
}

/** Header lines for the next hop: hop-by-hop fields, X-Forwarded-For and `drop` left out. */
function forwardLines(fields: Fields, keepAllHop: boolean, drop?: string): string {
  let text = '';
  for (const f of fields.fields) {
    if (f.lower === 'x-forwarded-for' || f.lower === drop) continue;
    if (!keepAllHop && (HOP_BY_HOP.has(f.lower) || fields.connection.has(f.lower))) continue;
    text += `${f.name}: ${f.value}\r\n`;
  }
  return text;
}

export function parseRequestHead(buf: Buffer, start: number, end: number): Parsed<RequestHead> {
  const found = findHead(buf, start, end);
  if (found === undefined) return undefined;
  if (typeof found === 'string') return { ok: false, reason: found };
  const lines = found.text.split('\r\n');
  const line = REQUEST_LINE.exec(lines[0]!);
  if (!line) return { ok: false, reason: 'malformed' };
  const fields = parseFields(lines);
  // A request must be framed: an unknown coding or a 1.1 request without Host is a 400 (RFC 9112 3.2, 6.3).
  if (!fields || fields.otherCoding) return { ok: false, reason: 'malformed' };
  const minor = Number(line[3]);
  const hasHost = fields.fields.some((f) => f.lower === 'host');
  if (minor === 1 && !hasHost) return { ok: false, reason: 'malformed' };
  const body: BodyFraming = fields.chunked
    ? { kind: 'chunked' }
    : fields.contentLength
      ? { kind: 'length', length: fields.contentLength }
      : { kind: 'none' };
  let forwardedFor = '';
  for (const f of fields.fields) if (f.lower === 'x-forwarded-for') forwardedFor = forwardedFor ? `${forwardedFor}, ${f.value}` : f.value;
  const keepAlive = minor === 1 ? !fields.connection.has('close') : fields.connection.has('keep-alive');
  const upgrade = fields.connection.has('upgrade') && fields.fields.some((f) => f.lower === 'upgrade');
  // With chunked framing a Content-Length is dropped (RFC 9112 section 6.3 rule 3); chunked is re-sent.
  let forward = forwardLines(fields, false, fields.chunked ? 'content-length' : undefined);
  if (fields.chunked) forward += 'Transfer-Encoding: chunked\r\n';
  // Sent on as 1.1, a 1.0 request without Host gets the empty one RFC 9110 section 7.2 asks for.
  if (!hasHost) forward += 'Host: \r\n';
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
      all: upgrade ? forwardLines(fields, true) : '',
      forwardedFor,
    },
  };
}

export function parseResponseHead(buf: Buffer, start: number, end: number): Parsed<ResponseHead> {
  const found = findHead(buf, start, end);
  if (found === undefined) return undefined;
  if (typeof found === 'string') return { ok: false, reason: found };
  const lines = found.text.split('\r\n');
  const line = STATUS_LINE.exec(lines[0]!);
  if (!line) return { ok: false, reason: 'malformed' };
  const fields = parseFields(lines);
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
  const keepAlive = minor === 1 ? !fields.connection.has('close') : fields.connection.has('keep-alive');
  let forward = forwardLines(fields, false, fields.chunked ? 'content-length' : undefined);
  if (fields.chunked) forward += 'Transfer-Encoding: chunked\r\n';
  return { ok: true, end: found.end, head: { status: Number(line[2]), reason: line[3] ?? '', minor, keepAlive, body, forward } };
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
