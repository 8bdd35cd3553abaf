// Applying the policy: check with `nft -c`, then load in one transaction (all or nothing, so on
// any failure the running ruleset stays in force). "Apply with confirm" keeps the last
// confirmed ruleset as the baseline and goes back to it by itself when nobody confirms within
// the time given (the pfSense/iptables-apply guard against locking oneself out of a remote
// router). Table updates (TableUpdater) change set elements in place, never the ruleset.
// Every nft call goes through one queue, so an apply, a revert and a table update never
// interleave. Time enters only through the Clock.

import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import { canonical, parsePrefix } from './addresses.js';
import type { Policy, Table } from './model.js';
import type { NftPort } from './ports.js';
import { renderNft, renderRemoval, renderTableUpdate } from './render-nft.js';
import type { TableUpdater } from './tables.js';

export interface FirewallDeps {
  nft: NftPort;
  clock: Clock;
  log: Logger;
}

interface Loaded {
  policy: Policy;
  /** Wall-clock ms when it was loaded. */
  at: number;
}

/** What a revert goes back to. */
type Baseline =
  | { kind: 'policy'; loaded: Loaded }
  /** Our table as the kernel held it before this daemon loaded anything. */
  | { kind: 'snapshot'; text: string }
  /** There was no table of ours. */
  | { kind: 'none' };

type State =
  | { phase: 'unmanaged' }
  | { phase: 'active'; current: Loaded }
  | { phase: 'pending'; current: Loaded; baseline: Baseline; deadline: number; timer: TimerHandle; token: number };

export type FirewallPhase = State['phase'];

export interface FirewallStatus {
  /** unmanaged: nothing loaded by this daemon; active: loaded; pending: loaded, awaiting confirmation. */
  phase: FirewallPhase;
  appliedAt?: string;
  rules?: number;
  forwards?: number;
  nat?: number;
  /** While pending: when it reverts unless confirmed. */
  revertsAt?: string;
  revertsInSeconds?: number;
  /** Members of each table as loaded now. */
  tables?: Record<string, number>;
  lastError?: string;
  lastRevert?: string;
}

export type ApplyResult =
  | { ok: true; phase: 'active' | 'pending'; revertsAt?: string }
  | { ok: false; stage: 'check' | 'load'; error: string };

export interface ApplyOptions {
  /** Revert by itself unless confirmed within this many ms. */
  confirmWithinMs?: number;
}

export class Firewall implements TableUpdater {
  private state: State = { phase: 'unmanaged' };
  private queue: Promise<unknown> = Promise.resolve();
  /** Members set at run time; they win over the config's until the daemon restarts. */
  private readonly live = new Map<string, string[]>();
  private tokens = 0;
  /** Member text as given → canonical, so a 10,000-member update parses only what is new. */
  private readonly canonical = new Map<string, string>();
  private lastError: string | undefined;
  private lastRevert: string | undefined;

  constructor(private readonly deps: FirewallDeps) {}

  get phase(): FirewallPhase {
    return this.state.phase;
  }

  /** The policy in force, if this daemon loaded one. */
  get policy(): Policy | undefined {
    return this.state.phase === 'unmanaged' ? undefined : this.state.current.policy;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const next = this.queue.then(work, work);
    this.queue = next.catch(() => undefined);
    return next;
  }

  private membersFor(policy: Policy): Map<string, string[]> {
    const out = new Map<string, string[]>();
    for (const t of policy.tables) {
      const live = this.live.get(t.name);
      if (live) out.set(t.name, live);
    }
    return out;
  }

  private render(policy: Policy): string {
    return renderNft(policy, { members: this.membersFor(policy) });
  }

  /** Checks and loads `policy`; with confirmWithinMs it reverts unless confirm() comes in time. */
  apply(policy: Policy, options: ApplyOptions = {}): Promise<ApplyResult> {
    return this.serial(async () => {
      const { nft, clock, log } = this.deps;
      const script = this.render(policy);
      const checked = await nft.check(script);
      if (!checked.ok) {
        this.lastError = `nft -c refused the ruleset: ${checked.error}`;
        log.error('firewall: nft -c refused the new ruleset; the running one stays in force', { error: checked.error });
        return { ok: false, stage: 'check', error: checked.error };
      }
      const baseline: Baseline =
        this.state.phase === 'pending'
          ? this.state.baseline
          : this.state.phase === 'active'
            ? { kind: 'policy', loaded: this.state.current }
            : await this.snapshot();
      const loaded = await nft.run(script);
      if (!loaded.ok) {
        this.lastError = `nft -f failed: ${loaded.error}`;
        log.error('firewall: loading the new ruleset failed; the running one stays in force', { error: loaded.error });
        return { ok: false, stage: 'load', error: loaded.error };
      }
      if (this.state.phase === 'pending') this.state.timer.cancel();
      for (const name of [...this.live.keys()]) if (!policy.tables.some((t) => t.name === name)) this.live.delete(name);
      const current: Loaded = { policy, at: clock.now() };
      this.lastError = undefined;
      if (options.confirmWithinMs !== undefined) {
        const token = ++this.tokens;
        const timer = clock.setTimer(options.confirmWithinMs, () => void this.expire(token));
        const deadline = clock.monotonic() + options.confirmWithinMs;
        this.state = { phase: 'pending', current, baseline, deadline, timer, token };
        const revertsAt = new Date(clock.now() + options.confirmWithinMs).toISOString();
        log.warn(`firewall: new ruleset loaded; it reverts at ${revertsAt} unless confirmed (tandem firewall confirm)`);
        return { ok: true, phase: 'pending', revertsAt };
      }
      this.state = { phase: 'active', current };
      log.info('firewall: ruleset loaded', { rules: policy.rules.length, forwards: policy.forwards.length, nat: policy.nat.length });
      return { ok: true, phase: 'active' };
    });
  }

  /** Keeps a pending ruleset. */
  confirm(): Promise<{ ok: true } | { ok: false; error: string }> {
    return this.serial(async () => {
      if (this.state.phase !== 'pending') return { ok: false as const, error: 'no firewall ruleset is waiting for confirmation' };
      this.state.timer.cancel();
      this.state = { phase: 'active', current: this.state.current };
      this.deps.log.info('firewall: ruleset confirmed');
      return { ok: true as const };
    });
  }

  /** Shutting down: a ruleset nobody confirmed must not outlive the timer that guards it. */
  stop(why = 'the daemon stopped before the ruleset was confirmed'): Promise<void> {
    return this.serial(async () => {
      if (this.state.phase !== 'pending') return;
      this.state.timer.cancel();
      await this.revert(why);
    });
  }

  private expire(token: number): Promise<void> {
    return this.serial(async () => {
      if (this.state.phase !== 'pending' || this.state.token !== token) return;
      await this.revert('not confirmed in time');
    });
  }

  private async revert(why: string): Promise<void> {
    if (this.state.phase !== 'pending') return;
    const { baseline, current } = this.state;
    const script =
      baseline.kind === 'policy'
        ? this.render(baseline.loaded.policy)
        : baseline.kind === 'snapshot'
          ? renderRemoval() + baseline.text
          : renderRemoval();
    const outcome = await this.deps.nft.run(script);
    if (!outcome.ok) {
      this.lastError = `revert failed: ${outcome.error}`;
      this.deps.log.error(`firewall: ${why}, but going back failed; the unconfirmed ruleset stays`, { error: outcome.error });
      this.state = { phase: 'active', current };
      return;
    }
    const back = baseline.kind === 'policy' ? 'the previous ruleset' : baseline.kind === 'snapshot' ? 'the table as it was before' : 'no Tandem table';
    this.lastRevert = `${new Date(this.deps.clock.now()).toISOString()}: ${why}; back to ${back}`;
    this.deps.log.warn(`firewall: ${why}: reverted to ${back}`);
    this.state = baseline.kind === 'policy' ? { phase: 'active', current: baseline.loaded } : { phase: 'unmanaged' };
  }

  private async snapshot(): Promise<Baseline> {
    try {
      const text = await this.deps.nft.listTable();
      return text === undefined ? { kind: 'none' } : { kind: 'snapshot', text };
    } catch (error) {
      this.deps.log.warn('firewall: cannot read the table in force; a revert would remove it', { error: (error as Error).message });
      return { kind: 'none' };
    }
  }

  /**
   * TableUpdater: makes `members` the content of `table` in one nft transaction, writing only
   * the difference when it can. Without a loaded ruleset there is no table to write: it throws,
   * and the caller (the balancer's feed) tries again next round.
   */
  setMembers(table: string, members: readonly string[]): Promise<void> {
    return this.serial(async () => {
      const policy = this.policy;
      const t = policy?.tables.find((x) => x.name === table);
      if (policy && !t) {
        throw new Error(`no table "${table}" in the firewall policy${policy.tables.length ? ` (tables: ${policy.tables.map((x) => x.name).join(', ')})` : ''}`);
      }
      if (!policy || !t) throw new Error(`table ${table}: no firewall ruleset is loaded (does the config have a firewall section?)`);
      const previous = this.live.get(table) ?? t.members;
      if (this.canonical.size > 200_000) this.canonical.clear();
      const next = normalize(table, members, t, this.canonical);
      const delta = renderTableUpdate(t, next, previous);
      if (delta) {
        let outcome = await this.deps.nft.run(delta);
        // The kernel may hold something else than we think (someone ran nft by hand): rewrite whole.
        if (!outcome.ok) outcome = await this.deps.nft.run(renderTableUpdate(t, next));
        if (!outcome.ok) throw new Error(`table ${table}: nft refused the update: ${outcome.error}`);
      }
      this.live.set(table, next);
    });
  }

  /** Current members of a table as loaded (run-time ones, else the config's). */
  members(table: string): string[] | undefined {
    const t = this.policy?.tables.find((x) => x.name === table);
    return this.live.get(table) ?? t?.members;
  }

  status(): FirewallStatus {
    const { clock } = this.deps;
    const out: FirewallStatus = { phase: this.state.phase };
    if (this.state.phase !== 'unmanaged') {
      const { policy, at } = this.state.current;
      out.appliedAt = new Date(at).toISOString();
      out.rules = policy.rules.length;
      out.forwards = policy.forwards.length;
      out.nat = policy.nat.length;
      out.tables = Object.fromEntries(policy.tables.map((t) => [t.name, (this.live.get(t.name) ?? t.members).length]));
    }
    if (this.state.phase === 'pending') {
      const left = Math.max(0, this.state.deadline - clock.monotonic());
      out.revertsInSeconds = Math.round(left / 100) / 10;
      out.revertsAt = new Date(clock.now() + left).toISOString();
    }
    if (this.lastError) out.lastError = this.lastError;
    if (this.lastRevert) out.lastRevert = this.lastRevert;
    return out;
  }
}

/** Canonical members, parsing each text once (`cache` remembers what it parsed before). */
function normalize(table: string, members: readonly string[], t: Table | undefined, cache: Map<string, string>): string[] {
  const out = members.map((m) => {
    let text = cache.get(m);
    if (text === undefined) {
      const p = parsePrefix(m);
      if (!p) throw new Error(`table ${table}: ${JSON.stringify(m)} is not an IP address or network`);
      text = canonical(p);
      cache.set(m, text);
    }
    if (t?.redirect && text.includes('/')) throw new Error(`table ${table}: ${m} is a network; a redirect table holds single addresses`);
    if (t && !t.networks && text.includes('/')) throw new Error(`table ${table}: ${m} is a network; the table holds single addresses (firewall.tables.${table}.networks: true would allow networks)`);
    return text;
  });
  const distinct = new Set(out).size;
  if (t?.redirect && distinct > t.slots) throw new Error(`table ${table}: ${distinct} distinct members exceed its ${t.slots} slots`);
  return out;
}
