// A streaming ustar reader (POSIX.1-1988 ustar, as GNU tar --format=ustar and --format=gnu
// write regular files): 512-byte headers with an octal (or GNU base-256) size and a checksum,
// member data padded to 512, two zero blocks at the end, then zero padding to the record size.
// It reads from any async byte source without buffering a member, and refuses a bad checksum,
// a cut archive or bytes after the end with a reason that says which.

export const BLOCK = 512;
/** GNU tar pads to its record (10240 bytes by default, -b 2048 at most: 1 MiB). */
const MAX_END_PADDING = 1024 * 1024;

export interface TarHeader {
  name: string;
  size: number;
  /** '0' regular file; the reader refuses any other type (bundles hold plain files only). */
  type: string;
  mode: number;
}

export type HeaderDecode = { ok: true; value: TarHeader } | { ok: false; reason: string };

function field(block: Buffer, offset: number, length: number): string {
  const raw = block.subarray(offset, offset + length);
  const nul = raw.indexOf(0);
  return raw.subarray(0, nul < 0 ? length : nul).toString('utf8');
}

function octal(block: Buffer, offset: number, length: number, what: string): number | string {
  const raw = block.subarray(offset, offset + length);
  // GNU base-256: high bit of the first byte set, big-endian binary in the rest.
  if (raw[0]! & 0x80) {
    if (raw[0] !== 0x80) return `${what} is a negative or oversized base-256 number`;
    let value = 0;
    for (let i = 1; i < raw.length; i++) value = value * 256 + raw[i]!;
    return Number.isSafeInteger(value) ? value : `${what} is too large`;
  }
  const text = raw.toString('latin1').replace(/[\0 ]+$/, '').replace(/^ +/, '');
  if (text === '') return 0;
  if (!/^[0-7]+$/.test(text)) return `${what} is not an octal number (${JSON.stringify(text)})`;
  return parseInt(text, 8);
}

export function isZeroBlock(block: Uint8Array): boolean {
  for (let i = 0; i < block.length; i++) if (block[i] !== 0) return false;
  return true;
}

/** Decodes one 512-byte header block (not a zero block). */
export function decodeHeader(block: Buffer): HeaderDecode {
  if (block.length !== BLOCK) return { ok: false, reason: `a tar header is ${BLOCK} bytes, got ${block.length}` };
  const stored = octal(block, 148, 8, 'header checksum');
  if (typeof stored === 'string') return { ok: false, reason: stored };
  // The checksum is the byte sum with its own field read as eight spaces; old tars summed
  // signed bytes, so either sum is accepted (as GNU tar does).
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < BLOCK; i++) {
    const byte = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += byte;
    signed += byte > 127 ? byte - 256 : byte;
  }
  if (stored !== unsigned && stored !== signed) return { ok: false, reason: `bad tar header checksum (stored ${stored}, computed ${unsigned})` };
  const magic = block.subarray(257, 263).toString('latin1');
  if (magic !== 'ustar\0' && magic !== 'ustar ') return { ok: false, reason: `not a ustar header (magic ${JSON.stringify(magic)})` };
  const size = octal(block, 124, 12, 'member size');
  if (typeof size === 'string') return { ok: false, reason: size };
  const mode = octal(block, 100, 8, 'member mode');
  if (typeof mode === 'string') return { ok: false, reason: mode };
  const prefix = magic === 'ustar\0' ? field(block, 345, 155) : '';
  const name = (prefix ? `${prefix}/` : '') + field(block, 0, 100);
  const type = String.fromCharCode(block[156]!) === '\0' ? '0' : String.fromCharCode(block[156]!);
  return { ok: true, value: { name, size, type, mode } };
}

/** Reads exact byte counts from chunks as they arrive; holds at most one chunk. */
export class ByteSource {
  private readonly iterator: AsyncIterator<Uint8Array>;
  private pending: Buffer = Buffer.alloc(0);
  private done = false;
  /** Bytes handed out so far: where a problem is, for messages. */
  position = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.iterator = source[Symbol.asyncIterator]();
  }

  private async fill(): Promise<boolean> {
    while (this.pending.length === 0 && !this.done) {
      const next = await this.iterator.next();
      if (next.done) this.done = true;
      else this.pending = Buffer.from(next.value.buffer, next.value.byteOffset, next.value.byteLength);
    }
    return this.pending.length > 0;
  }

  /** Up to `max` bytes (fewer only at the end of the source; empty there). */
  async some(max: number): Promise<Buffer> {
    if (!(await this.fill())) return Buffer.alloc(0);
    const take = this.pending.subarray(0, Math.min(max, this.pending.length));
    this.pending = this.pending.subarray(take.length);
    this.position += take.length;
    return take;
  }

  /** Exactly `count` bytes, or fewer if the source ended first. */
  async exact(count: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let have = 0;
    while (have < count) {
      const part = await this.some(count - have);
      if (part.length === 0) break;
      parts.push(part);
      have += part.length;
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, have);
  }

  async close(): Promise<void> {
    await this.iterator.return?.();
  }
}

export class TarError extends Error {}

export type NextMember = { kind: 'member'; header: TarHeader; offset: number } | { kind: 'end' };

/**
 * Member by member: `next()` gives a header, `body()` streams that member's bytes (it must be
 * read or skipped before the next `next()`). Throws TarError with the reason.
 */
export class TarReader {
  private readonly bytes: ByteSource;
  private left = 0;
  private padding = 0;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.bytes = new ByteSource(source);
  }

  get position(): number {
    return this.bytes.position;
  }

  async next(): Promise<NextMember> {
    if (this.left > 0) throw new TarError('the previous member was not read to its end');
    await this.skipPadding();
    const at = this.bytes.position;
    const block = await this.bytes.exact(BLOCK);
    if (block.length === 0) throw new TarError(`archive ends at byte ${at} without its end-of-archive blocks (truncated)`);
    if (block.length < BLOCK) throw new TarError(`archive truncated inside a header at byte ${at}`);
    if (isZeroBlock(block)) {
      await this.finish(at);
      return { kind: 'end' };
    }
    const header = decodeHeader(block);
    if (!header.ok) throw new TarError(`${header.reason} at byte ${at}`);
    if (header.value.type !== '0') throw new TarError(`member ${JSON.stringify(header.value.name)} is not a regular file (type ${JSON.stringify(header.value.type)})`);
    this.left = header.value.size;
    this.padding = (BLOCK - (header.value.size % BLOCK)) % BLOCK;
    return { kind: 'member', header: header.value, offset: at };
  }

  /** The current member's bytes, in the source's chunks. */
  async *body(): AsyncGenerator<Buffer> {
    while (this.left > 0) {
      const chunk = await this.bytes.some(this.left);
      if (chunk.length === 0) throw new TarError(`archive truncated: ${this.left} bytes of the member missing at byte ${this.bytes.position}`);
      this.left -= chunk.length;
      yield chunk;
    }
  }

  /** The current member whole, refused above `max` bytes (for small members like a manifest). */
  async readAll(max: number): Promise<Buffer> {
    if (this.left > max) throw new TarError(`member of ${this.left} bytes is over the ${max}-byte limit`);
    const parts: Buffer[] = [];
    for await (const chunk of this.body()) parts.push(chunk);
    return Buffer.concat(parts);
  }

  async close(): Promise<void> {
    await this.bytes.close();
  }

  private async skipPadding(): Promise<void> {
    if (this.padding === 0) return;
    const pad = await this.bytes.exact(this.padding);
    if (pad.length < this.padding) throw new TarError(`archive truncated in a member's padding at byte ${this.bytes.position}`);
    this.padding = 0;
  }

  // After the first zero block: a second one, then only zeros (GNU tar pads to its 10240-byte
  // record). Anything else is refused: a bundle with bytes after its end was altered or glued.
  private async finish(at: number): Promise<void> {
    const second = await this.bytes.exact(BLOCK);
    if (second.length < BLOCK || !isZeroBlock(second)) throw new TarError(`end-of-archive at byte ${at} is not two zero blocks`);
    // Bounded: an upload that sends zeros for ever must not be read for ever.
    let padding = 0;
    for (;;) {
      const rest = await this.bytes.some(64 * 1024);
      if (rest.length === 0) return;
      if (!isZeroBlock(rest)) throw new TarError(`trailing data after the end of the archive (near byte ${this.bytes.position - rest.length})`);
      padding += rest.length;
      if (padding > MAX_END_PADDING) throw new TarError(`more than ${MAX_END_PADDING} bytes of padding after the end of the archive`);
    }
  }
}
