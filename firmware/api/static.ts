// The web UI's files (`dist/ui/`), public and read-only: GET and HEAD, no path outside the
// directory, `index.html` for the app's own paths, long caching only for content-hashed names
// (`app-3f9c2a1b.js`) and `no-cache` for the rest, gzip when the client takes it (kept in memory).

import { readFile, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { gzip } from 'node:zlib';

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

/** A name with a content hash of 8+ hex or base32 characters before the extension. */
export const HASHED_NAME = /[.-][A-Za-z0-9]{8,}\.[a-z0-9]+$/;

interface Cached {
  mtimeMs: number;
  size: number;
  body: Buffer;
  gzipped: Buffer | undefined;
}

export class StaticFiles {
  private readonly cache = new Map<string, Cached>();
  private readonly root: string;

  constructor(
    root: string,
    /** Bytes of file content kept in memory at most (raw plus gzipped). */
    private readonly maxCacheBytes = 2 * 1024 * 1024,
  ) {
    this.root = resolve(root);
  }

  /** Writes the reply; `headers` (the security headers) go on every one. */
  async serve(req: IncomingMessage, res: ServerResponse, path: string, headers: Record<string, string>): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { ...headers, allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    const file = await this.find(path);
    if (!file) {
      res.writeHead(404, { ...headers, 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache' }).end('not found\n');
      return;
    }
    const name = file.slice(this.root.length);
    const cached = await this.load(file);
    // `no-cache` means "ask first": the ETag lets an unchanged file cost a 304, not its bytes.
    const etag = `"${cached.size.toString(36)}-${Math.round(cached.mtimeMs).toString(36)}"`;
    const cache = HASHED_NAME.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache';
    if (req.headers['if-none-match'] === etag) {
      res.writeHead(304, { ...headers, etag, 'cache-control': cache }).end();
      return;
    }
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    const compressible = /^(text\/|application\/(json|manifest)|image\/svg)/.test(type);
    const useGzip = compressible && /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? '')) && cached.body.length > 256;
    let body = cached.body;
    if (useGzip) {
      cached.gzipped ??= await new Promise<Buffer>((resolve, reject) => gzip(cached.body, { level: 9 }, (e, out) => (e ? reject(e) : resolve(out))));
      body = cached.gzipped;
    }
    res.writeHead(200, {
      ...headers,
      'content-type': type,
      'content-length': String(body.length),
      'cache-control': cache,
      etag,
      ...(compressible ? { vary: 'accept-encoding' } : {}),
      ...(useGzip ? { 'content-encoding': 'gzip' } : {}),
    });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  /** The file for a URL path, or undefined; the app's own paths (no extension) get index.html. */
  private async find(urlPath: string): Promise<string | undefined> {
    let decoded: string;
    try {
      decoded = decodeURIComponent(urlPath);
    } catch {
      return undefined;
    }
    if (decoded.includes('\0') || decoded.split('/').includes('..')) return undefined;
    const relative = decoded === '/' ? 'index.html' : normalize(decoded).replace(/^[/\\]+/, '');
    const full = join(this.root, relative);
    if (!full.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep)) return undefined;
    if (await isFile(full)) return full;
    if (extname(relative) === '') {
      const index = join(this.root, 'index.html');
      if (await isFile(index)) return index;
    }
    return undefined;
  }

  private async load(file: string): Promise<Cached> {
    const info = await stat(file);
    const hit = this.cache.get(file);
    if (hit && hit.mtimeMs === info.mtimeMs && hit.size === info.size) return hit;
    const entry: Cached = { mtimeMs: info.mtimeMs, size: info.size, body: await readFile(file), gzipped: undefined };
    this.cache.set(file, entry);
    // A rebuilt UI leaves old hashed names behind in the cache: drop the oldest past the bound.
    let total = 0;
    for (const c of this.cache.values()) total += c.body.length + (c.gzipped?.length ?? 0);
    for (const key of this.cache.keys()) {
      if (total <= this.maxCacheBytes || key === file) break;
      const c = this.cache.get(key)!;
      total -= c.body.length + (c.gzipped?.length ?? 0);
      this.cache.delete(key);
    }
    return entry;
  }
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}
