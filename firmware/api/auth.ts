// Web UI users and sessions (issue 12, security): passwords as self-describing scrypt hashes
// (`scrypt$N$r$p$salt$hash`, RFC 7914 parameters, base64 salt and key) checked off the event
// loop and compared in constant time; sessions as random ids with idle and absolute timeouts
// and one CSRF token each, kept in memory only (the card is read-mostly; a restart logs out).

import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import type { Clock } from '../os/clock.js';

// ---- password hashes ----

/** Percival's "interactive login" parameters (scrypt paper, 2009): 16 MiB and ~50 ms per check. */
export const SCRYPT_DEFAULTS = { N: 16384, r: 8, p: 1, saltBytes: 16, keyBytes: 32 } as const;

export interface ScryptHash {
  N: number;
  r: number;
  p: number;
  salt: Buffer;
  hash: Buffer;
}

/** What a router can afford per login: 128·N·r bytes of memory at most. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;
const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

export type HashParse = { ok: true; value: ScryptHash } | { ok: false; reason: string };

export function parsePasswordHash(text: string): HashParse {
  const parts = text.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') {
    return { ok: false, reason: 'must be scrypt$N$r$p$salt$hash as `tandem passwd --hash` prints it' };
  }
  const [, nText, rText, pText, saltText, hashText] = parts as [string, string, string, string, string, string];
  const numbers = [nText, rText, pText].map((t) => (/^\d{1,9}$/.test(t) ? Number(t) : NaN));
  const [N, r, p] = numbers as [number, number, number];
  if (!Number.isInteger(N) || N < 1024 || N > 1 << 20 || (N & (N - 1)) !== 0) {
    return { ok: false, reason: `scrypt N must be a power of two 1024-1048576, got ${nText}` };
  }
  if (!Number.isInteger(r) || r < 1 || r > 32) return { ok: false, reason: `scrypt r must be 1-32, got ${rText}` };
  if (!Number.isInteger(p) || p < 1 || p > 16) return { ok: false, reason: `scrypt p must be 1-16, got ${pText}` };
  if (128 * N * r > MAX_SCRYPT_MEMORY) return { ok: false, reason: `scrypt N·r needs ${(128 * N * r) / 2 ** 20} MiB per login; at most 256 MiB` };
  if (!B64.test(saltText) || !B64.test(hashText)) return { ok: false, reason: 'salt and hash must be base64' };
  const salt = Buffer.from(saltText, 'base64');
  const hash = Buffer.from(hashText, 'base64');
  if (salt.length < 16) return { ok: false, reason: `the salt must be at least 16 bytes, is ${salt.length}` };
  if (hash.length < 16 || hash.length > 64) return { ok: false, reason: `the hash must be 16-64 bytes, is ${hash.length}` };
  return { ok: true, value: { N, r, p, salt, hash } };
}

/** The schema's rule for `api.users[].passwordHash`. */
export function checkPasswordHash(text: string): string | undefined {
  const parsed = parsePasswordHash(text);
  return parsed.ok ? undefined : parsed.reason;
}

function derive(password: string, params: { N: number; r: number; p: number }, salt: Buffer, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // Async scrypt runs on libuv's pool: a login never stalls CARP's timers.
    scrypt(password.normalize('NFC'), salt, length, { ...params, maxmem: MAX_SCRYPT_MEMORY + 1024 * 1024 }, (error, key) =>
      error ? reject(error) : resolve(key),
    );
  });
}

export async function hashPassword(password: string, params: { N: number; r: number; p: number } = SCRYPT_DEFAULTS): Promise<string> {
  const salt = randomBytes(SCRYPT_DEFAULTS.saltBytes);
  const key = await derive(password, params, salt, SCRYPT_DEFAULTS.keyBytes);
  return `scrypt$${params.N}$${params.r}$${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  const parsed = parsePasswordHash(encoded);
  if (!parsed.ok) return false;
  const key = await derive(password, parsed.value, parsed.value.salt, parsed.value.hash.length);
  return timingSafeEqual(key, parsed.value.hash);
}

/** Equal strings in time that does not depend on where they differ. */
export function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

// ---- users ----

export interface UserEntry {
  name: string;
  passwordHash: string;
}

/** A login's outcome; `busy` when too many checks are already running (each costs 16 MiB). */
export type LoginCheck = 'ok' | 'wrongPassword' | 'noUsers' | 'busy';

// An unknown name is checked against this (the password "x"), so it takes as long as a known one.
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA==$LXItd9mcru583Tx+KQk9JVfN268kUDBAHryAaAG0e48=';

export class Users {
  private byName = new Map<string, UserEntry>();
  private running = 0;
  private readonly waiting: (() => void)[] = [];

  constructor(
    entries: UserEntry[],
    /** Checks at once, and how many more may wait: bounds scrypt's memory under a login flood. */
    private readonly limits = { concurrent: 2, queued: 16 },
  ) {
    this.replace(entries);
  }

  get count(): number {
    return this.byName.size;
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  hashOf(name: string): string | undefined {
    return this.byName.get(name)?.passwordHash;
  }

  replace(entries: UserEntry[]): void {
    this.byName = new Map(entries.map((e) => [e.name, e]));
  }

  async check(name: string, password: string): Promise<LoginCheck> {
    if (this.byName.size === 0) return 'noUsers';
    if (this.running >= this.limits.concurrent) {
      if (this.waiting.length >= this.limits.queued) return 'busy';
      await new Promise<void>((resolve) => this.waiting.push(resolve));
    }
    this.running++;
    try {
      const entry = this.byName.get(name);
      const ok = await verifyPassword(password, entry?.passwordHash ?? DUMMY_HASH);
      return ok && entry !== undefined ? 'ok' : 'wrongPassword';
    } finally {
      this.running--;
      this.waiting.shift()?.();
    }
  }
}

// ---- sessions ----

export interface SessionLimits {
  idleMinutes: number;
  absoluteHours: number;
  /** Sessions kept at most; the least recently used goes first (memory is bounded). */
  max?: number;
  /**
   * Sessions one user keeps at most; past it that user's own least recently used goes, so one
   * account logging in again and again cannot push other users' sessions out.
   */
  maxPerUser?: number;
}

export interface Session {
  /** The cookie's value; only its SHA-256 is kept as the map key. */
  readonly id: string;
  readonly user: string;
  readonly csrfToken: string;
  /** Monotonic milliseconds. */
  readonly createdAt: number;
  lastSeenAt: number;
}

export type SessionLookup = { ok: true; session: Session } | { ok: false; reason: 'missing' | 'unknown' | 'idle' | 'expired' };

const keyOf = (id: string): string => createHash('sha256').update(id).digest('base64');

export class SessionStore {
  // Keyed by the id's digest, so a lookup's timing says nothing about a guessed id's prefix.
  private readonly sessions = new Map<string, Session>();

  constructor(
    private readonly clock: Pick<Clock, 'monotonic'>,
    private limits: SessionLimits,
  ) {}

  get count(): number {
    this.sweep();
    return this.sessions.size;
  }

  /** Max-Age for the cookie: the absolute timeout. */
  get absoluteSeconds(): number {
    return Math.round(this.limits.absoluteHours * 3600);
  }

  setLimits(limits: SessionLimits): void {
    this.limits = limits;
  }

  create(user: string): Session {
    const now = this.clock.monotonic();
    const session: Session = {
      id: randomBytes(32).toString('base64url'),
      user,
      csrfToken: randomBytes(32).toString('base64url'),
      createdAt: now,
      lastSeenAt: now,
    };
    this.sweep();
    const own = [...this.sessions].filter(([, s]) => s.user === user);
    if (own.length >= (this.limits.maxPerUser ?? 16)) this.dropLeastRecent(own);
    while (this.sessions.size >= (this.limits.max ?? 256)) this.dropLeastRecent([...this.sessions]);
    this.sessions.set(keyOf(session.id), session);
    return session;
  }

  /** Finds a live session and marks it used now (the idle timeout restarts). */
  lookup(id: string | undefined): SessionLookup {
    if (!id) return { ok: false, reason: 'missing' };
    const key = keyOf(id);
    const session = this.sessions.get(key);
    if (!session) return { ok: false, reason: 'unknown' };
    const expiry = this.expiry(session, this.clock.monotonic());
    if (expiry) {
      this.sessions.delete(key);
      return { ok: false, reason: expiry };
    }
    session.lastSeenAt = this.clock.monotonic();
    return { ok: true, session };
  }

  /** Whether `session` is still live, without counting this as use (the live stream's check). */
  isLive(session: Session): boolean {
    return this.sessions.get(keyOf(session.id)) === session && !this.expiry(session, this.clock.monotonic());
  }

  delete(id: string): boolean {
    return this.sessions.delete(keyOf(id));
  }

  /** Ends the sessions of users for whom `keep` says no (removed, or their password changed). */
  retain(keep: (user: string) => boolean): number {
    let dropped = 0;
    for (const [key, session] of this.sessions) {
      if (!keep(session.user)) {
        this.sessions.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  private expiry(session: Session, now: number): 'idle' | 'expired' | undefined {
    if (now - session.createdAt >= this.limits.absoluteHours * 3_600_000) return 'expired';
    if (now - session.lastSeenAt >= this.limits.idleMinutes * 60_000) return 'idle';
    return undefined;
  }

  private dropLeastRecent(entries: [string, Session][]): void {
    let oldest: [string, Session] | undefined;
    for (const entry of entries) if (!oldest || entry[1].lastSeenAt < oldest[1].lastSeenAt) oldest = entry;
    if (oldest) this.sessions.delete(oldest[0]);
  }

  private sweep(): void {
    const now = this.clock.monotonic();
    for (const [key, session] of this.sessions) if (this.expiry(session, now)) this.sessions.delete(key);
  }
}
