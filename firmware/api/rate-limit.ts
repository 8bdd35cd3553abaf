// Failed-login limits (issue 12, security): counted per source address and per user name, a few
// free tries, then a lockout that doubles with each further failure up to a cap (the shape of
// OpenSSH's PerSourcePenalties). Pure apart from the injected monotonic clock; bounded in memory.

import type { Clock } from '../os/clock.js';

export interface LoginLimitPolicy {
  /** Failures allowed before the first lockout. */
  freeFailures: number;
  /** The first lockout; each further failure doubles it. */
  baseLockMs: number;
  maxLockMs: number;
  /** A key with no failure for this long starts clean again. */
  forgetMs: number;
  /** Keys kept at most (random user names must not grow the map without end). */
  maxEntries: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimitPolicy = {
  freeFailures: 5,
  baseLockMs: 1_000,
  maxLockMs: 15 * 60_000,
  forgetMs: 60 * 60_000,
  maxEntries: 4096,
};

export type LoginGate = { allowed: true } | { allowed: false; by: 'address' | 'user'; retryAfterSeconds: number };

interface Entry {
  failures: number;
  lockedUntil: number;
  lastFailure: number;
}

/**
 * The limiter's key for an address: IPv4 as is (a mapped `::ffff:a.b.c.d` unwrapped), IPv6 by
 * its /64, since one host commonly holds a whole /64 and could otherwise rotate through it.
 */
export function addressKey(remote: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(remote);
  if (mapped) return mapped[1]!;
  if (!remote.includes(':')) return remote;
  const [head = '', tail] = remote.toLowerCase().split('::');
  const left = head ? head.split(':') : [];
  const right = tail === undefined ? [] : tail ? tail.split(':') : [];
  const groups = tail === undefined ? left : [...left, ...new Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

export class LoginLimiter {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly clock: Pick<Clock, 'monotonic'>,
    private readonly policy: LoginLimitPolicy = DEFAULT_LOGIN_LIMITS,
  ) {}

  /**
   * Asks whether a login may be tried now and, if so, counts it as a failure at once: a flood of
   * parallel attempts is limited before any of their password checks finish. A success undoes it.
   */
  admit(remote: string, user: string): LoginGate {
    const now = this.clock.monotonic();
    const keys: ['address' | 'user', string][] = [
      ['address', `a:${addressKey(remote)}`],
      ['user', `u:${user}`],
    ];
    let refusal: LoginGate | undefined;
    for (const [by, key] of keys) {
      const entry = this.current(key, now);
      if (entry && entry.lockedUntil > now) {
        const retryAfterSeconds = Math.max(1, Math.ceil((entry.lockedUntil - now) / 1000));
        if (!refusal || (!refusal.allowed && retryAfterSeconds > refusal.retryAfterSeconds)) refusal = { allowed: false, by, retryAfterSeconds };
      }
    }
    if (refusal) return refusal;
    for (const [, key] of keys) this.fail(key, now);
    return { allowed: true };
  }

  /** The password was right: the user's and the address's counts start again. */
  succeeded(remote: string, user: string): void {
    this.entries.delete(`a:${addressKey(remote)}`);
    this.entries.delete(`u:${user}`);
  }

  /** The attempt was never judged (the server was too busy to check it): it does not count. */
  refund(remote: string, user: string): void {
    for (const key of [`a:${addressKey(remote)}`, `u:${user}`]) {
      const entry = this.entries.get(key);
      if (!entry) continue;
      entry.failures = Math.max(0, entry.failures - 1);
      if (entry.failures < this.policy.freeFailures) entry.lockedUntil = 0;
    }
  }

    /** Keys currently counted (for status and tests). */
  get size(): number {
    return this.entries.size;
  }

  private current(key: string, now: number): Entry | undefined {
    const entry = this.entries.get(key);
    if (entry && now - entry.lastFailure >= this.policy.forgetMs && entry.lockedUntil <= now) {
      this.entries.delete(key);
      return undefined;
    }
    return entry;
  }

  private fail(key: string, now: number): void {
    const entry = this.current(key, now) ?? { failures: 0, lockedUntil: 0, lastFailure: now };
    entry.failures++;
    entry.lastFailure = now;
    const over = entry.failures - this.policy.freeFailures;
    if (over >= 0) entry.lockedUntil = now + Math.min(this.policy.maxLockMs, this.policy.baseLockMs * 2 ** Math.min(over, 30));
    // Re-insert so the map's order is least recently failed first, then trim from the front.
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.policy.maxEntries) {
      const oldest = this.entries.keys().next().value as string;
      this.entries.delete(oldest);
    }
  }
}
