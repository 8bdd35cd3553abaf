// Where an HTTP/1.1 body ends (RFC 9112 sections 6-7): a Content-Length counted down, or the
// chunked coding walked through its size lines, data, last chunk and trailer section. The relay
// forwards the bytes as they are and only needs their end; data ranges are reported for a 1.0
// client that cannot take chunked. Pure and incremental: bytes in, positions out.

import type { BodyFraming } from './http-head.js';

/** Outcome of one step: the body ends at `end` (an index into the buffer), or needs more. */
export type BodyStep = { done: true; end: number } | { done: false } | { error: string };

const enum Chunk {
  Size,
  Ext,
  SizeLf,
  Data,
  DataCr,
  DataLf,
  TrailerStart,
  TrailerLine,
  TrailerLf,
  EndLf,
}

const MAX_SIZE_DIGITS = 12; // 16^12 bytes: far beyond any body, far below 2^53

export class BodyScanner {
  private remaining: number;
  private state = Chunk.Size;
  private digits = 0;

  constructor(readonly framing: BodyFraming) {
    this.remaining = framing.kind === 'length' ? framing.length : 0;
  }

  /**
   * Consumes buf[start, end). `data` hears each range of payload bytes (for de-chunking). A
   * close-delimited body never ends here: the connection's end is its end.
   */
  advance(buf: Buffer, start: number, end: number, data?: (from: number, to: number) => void): BodyStep {
    switch (this.framing.kind) {
      case 'none':
        return { done: true, end: start };
      case 'close':
        data?.(start, end);
        return { done: false };
      case 'length': {
        const take = Math.min(this.remaining, end - start);
        this.remaining -= take;
        if (take > 0) data?.(start, start + take);
        return this.remaining === 0 ? { done: true, end: start + take } : { done: false };
      }
      case 'chunked':
        return this.chunked(buf, start, end, data);
    }
  }

  private chunked(buf: Buffer, start: number, end: number, data?: (from: number, to: number) => void): BodyStep {
    let i = start;
    while (i < end) {
      switch (this.state) {
        case Chunk.Data: {
          const take = Math.min(this.remaining, end - i);
          if (take > 0) data?.(i, i + take);
          this.remaining -= take;
          i += take;
          if (this.remaining === 0) this.state = Chunk.DataCr;
          continue;
        }
        case Chunk.Size: {
          const c = buf[i]!;
          const v = hex(c);
          if (v >= 0) {
            if (++this.digits > MAX_SIZE_DIGITS) return { error: 'chunk size too large' };
            this.remaining = this.remaining * 16 + v;
          } else if (this.digits === 0) {
            return { error: 'chunk size expected' };
          } else if (c === 0x0d) {
            this.state = Chunk.SizeLf;
          } else if (c === 0x3b || c === 0x20 || c === 0x09) {
            this.state = Chunk.Ext;
          } else {
            return { error: 'bad chunk size' };
          }
          break;
        }
        case Chunk.Ext: {
          // Chunk extensions are skipped, not interpreted (RFC 9112 section 7.1.1).
          const cr = buf.indexOf(0x0d, i);
          if (cr < 0 || cr >= end) return { done: false };
          i = cr;
          this.state = Chunk.SizeLf;
          break;
        }
        case Chunk.SizeLf:
          if (buf[i] !== 0x0a) return { error: 'CRLF expected after the chunk size' };
          this.digits = 0;
          this.state = this.remaining === 0 ? Chunk.TrailerStart : Chunk.Data;
          break;
        case Chunk.DataCr:
          if (buf[i] !== 0x0d) return { error: 'CRLF expected after chunk data' };
          this.state = Chunk.DataLf;
          break;
        case Chunk.DataLf:
          if (buf[i] !== 0x0a) return { error: 'CRLF expected after chunk data' };
          this.state = Chunk.Size;
          break;
        case Chunk.TrailerStart:
          this.state = buf[i] === 0x0d ? Chunk.EndLf : Chunk.TrailerLine;
          break;
        case Chunk.TrailerLine: {
          const cr = buf.indexOf(0x0d, i);
          if (cr < 0 || cr >= end) return { done: false };
          i = cr;
          this.state = Chunk.TrailerLf;
          break;
        }
        case Chunk.TrailerLf:
          if (buf[i] !== 0x0a) return { error: 'CRLF expected after a trailer field' };
          this.state = Chunk.TrailerStart;
          break;
        case Chunk.EndLf:
          if (buf[i] !== 0x0a) return { error: 'CRLF expected at the end of the chunked body' };
          return { done: true, end: i + 1 };
      }
      i++;
    }
    return { done: false };
  }
}

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  return -1;
}
