// Applying the policy: check with `nft -c`, then load in one transaction (all or nothing, so on
// any failure the running ruleset stays in force). "Apply with confirm" keeps the last
// confirmed ruleset as the baseline and goes back to it by itself when nobody confirms within
// the time given (the pfSense/iptables-apply guard against locking oneself out of a remote
// router). Table updates (TableUpdater) change set elements in place, never the ruleset.
// Every nft call goes through one queue, so an apply, a revert and a table update never
// interleave. Time enters only through the Clock. With a ConfirmLedger the pending apply and
// the last confirmed ruleset survive a crash: a restart after the window has passed loads the
// confirmed ruleset, not the config's unconfirmed one (confirm-ledger.ts).

import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import { canonical, parsePrefix } from './addresses.js';
import { ConfirmLedger, policyHash, type ConfirmedRuleset, type ConfirmRecord } from './confirm-ledger.js';
import { compile, type FirewallSource, type Policy, type Table } from './model.js';
import type { NftPort } from './ports.js';
import { renderNft, renderRemoval, renderTableUpdate } from './render-nft.js';
export { ConfirmLedger } from './confirm-ledger.js';
import type { TableUpdater } from './tables.js';

export interface FirewallDeps {
  nft: NftPort;
  clock: Clock;
  log: Logger;
  /** Where apply-with-confirm keeps what must survive a crash; without it a crash forgets. */
  ledger?: ConfirmLedger;
  /** A ruleset went back by itself (timer, shutdown, or found unconfirmed at start). */
  onRevert?: (why: string) => void;
}

interface Loaded {
  policy: Policy;
  /** Wall-clock ms when it was loaded. */
  at: number;
  /** The config it was compiled from, so the ledger can load it again after a restart. */
  source?: FirewallSource;
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
  /** Set when the config's policy was reverted unconfirmed and the last confirmed one is in force instead. */
  unconfirmed?: string;
}

export type ApplyResult =
  | { ok: true; phase: 'active' | 'pending'; revertsAt?: string }
  | { ok: false; stage: 'check' | 'load'; error: string };

export interface ApplyOptions {
  /** Revert by itself unless confirmed within this many ms. */
  confirmWithinMs?: number;
  /** The config `policy` was compiled from; the ledger records it once confirmed. */
  source?: FirewallSource;
  /** What a revert goes back to, when the kernel's current table is not it (a resumed window). */
  baseline?: ConfirmedRuleset;
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
  private unconfirmed: string | undefined;
  private record: ConfirmRecord = {};

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
      const recorded = options.baseline && this.fromRecord(options.baseline);
      const baseline: Baseline = recorded
        ? recorded
        : this.state.phase === 'pending'
          ? this.state.baseline
          : this.state.phase === 'active'
            ? { kind: 'policy', loaded: this.state.current }
            : await this.snapshot();
      const before = this.record;
      const hash = policyHash(policy);
      if (options.confirmWithinMs !== undefined) {
        // Written before the load: a crash between the two must still find the window.
        const pending = { hash, deadline: clock.now() + options.confirmWithinMs, appliedAt: new Date(clock.now()).toISOString() };
        const confirmed = this.toRecord(baseline);
        if (!(await this.persist({ ...(confirmed ? { confirmed } : {}), pending }))) {
          return { ok: false, stage: 'load', error: `cannot record the pending apply in ${this.deps.ledger?.path}; nothing loaded` };
        }
      }
      const loaded = await nft.run(script);
      if (!loaded.ok) {
        this.lastError = `nft -f failed: ${loaded.error}`;
        log.error('firewall: loading the new ruleset failed; the running one stays in force', { error: loaded.error });
        if (this.record !== before) await this.persist(before);
        return { ok: false, stage: 'load', error: loaded.error };
      }
      if (this.state.phase === 'pending') this.state.timer.cancel();
      for (const name of [...this.live.keys()]) if (!policy.tables.some((t) => t.name === name)) this.live.delete(name);
      const current: Loaded = { policy, at: clock.now(), ...(options.source ? { source: options.source } : {}) };
      this.lastError = undefined;
      this.unconfirmed = undefined;
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
      await this.persistConfirmed(current);
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
      await this.persistConfirmed(this.state.current);
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
    await this.persistUnconfirmed(policyHash(current.policy), why);
    this.deps.onRevert?.(`${why}; back to ${back}`);
  }

  /**
   * Loads the config's policy when the daemon starts, unless the ledger says it was applied
   * and never confirmed: inside its window the window resumes; past it (or once reverted) the
   * last confirmed ruleset is loaded instead, so a crash cannot make an unconfirmed ruleset
   * stick. A policy different from the unconfirmed one is the admin's new choice and loads.
   */
  async start(policy: Policy, source: FirewallSource): Promise<ApplyResult> {
    const { ledger, clock, log } = this.deps;
    if (!ledger) return this.apply(policy, { source });
    const { record, problem } = await ledger.read();
    if (problem) log.warn(`firewall: ${problem}`);
    this.record = record;
    const hash = policyHash(policy);
    const { pending, unconfirmed } = record;
    if (pending?.hash === hash) {
      const left = pending.deadline - clock.now();
      if (left > 0) {
        log.warn(`firewall: resuming the confirm window of the ruleset applied at ${pending.appliedAt}`);
        return this.apply(policy, { source, confirmWithinMs: left, ...(record.confirmed ? { baseline: record.confirmed } : {}) });
      }
      const why = `applied at ${pending.appliedAt}, not confirmed by ${new Date(pending.deadline).toISOString()} (the daemon was not running then)`;
      return this.loadConfirmedInstead(record.confirmed, hash, why);
    }
    if (!pending && unconfirmed?.hash === hash) return this.loadConfirmedInstead(record.confirmed, hash, unconfirmed.why);
    return this.apply(policy, { source });
  }

  private loadConfirmedInstead(confirmed: ConfirmedRuleset | undefined, hash: string, why: string): Promise<ApplyResult> {
    return this.serial(async () => {
      const { nft, log, clock } = this.deps;
      const baseline = this.fromRecord(confirmed ?? { kind: 'none' });
      if (!baseline) {
        this.lastError = 'the last confirmed ruleset no longer compiles; the ruleset in the kernel stays';
        return { ok: false as const, stage: 'check' as const, error: this.lastError };
      }
      const script =
        baseline.kind === 'policy' ? this.render(baseline.loaded.policy) : baseline.kind === 'snapshot' ? renderRemoval() + baseline.text : renderRemoval();
      const outcome = await nft.run(script);
      if (!outcome.ok) {
        this.lastError = `loading the last confirmed ruleset failed: ${outcome.error}`;
        log.error(`firewall: ${this.lastError}`);
        return { ok: false as const, stage: 'load' as const, error: outcome.error };
      }
      this.state = baseline.kind === 'policy' ? { phase: 'active', current: baseline.loaded } : { phase: 'unmanaged' };
      this.unconfirmed = `the config's firewall policy was ${why}: the last confirmed ruleset is in force; \`tandem firewall apply\` loads the config's again`;
      this.lastRevert = `${new Date(clock.now()).toISOString()}: ${why}; back to the last confirmed ruleset`;
      log.warn(`firewall: ${this.unconfirmed}`);
      if (this.record.pending || this.record.unconfirmed?.hash !== hash) await this.persistUnconfirmed(hash, why);
      this.deps.onRevert?.(`${why}; back to the last confirmed ruleset`);
      return { ok: true as const, phase: 'active' as const };
    });
  }

  /** The recorded ruleset as a revert target; undefined when its config no longer compiles. */
  private fromRecord(confirmed: ConfirmedRuleset): Baseline | undefined {
    if (confirmed.kind !== 'policy') return confirmed;
    const compiled = compile(confirmed.source);
    if (!compiled.policy) {
      this.deps.log.error('firewall: the last confirmed ruleset no longer compiles', { issues: compiled.issues.map((i) => `${i.path}: ${i.message}`) });
      return undefined;
    }
    return { kind: 'policy', loaded: { policy: compiled.policy, at: Date.parse(confirmed.at), source: confirmed.source } };
  }

  private toRecord(baseline: Baseline): ConfirmedRuleset | undefined {
    if (baseline.kind !== 'policy') return baseline;
    const { source, policy, at } = baseline.loaded;
    return source ? { kind: 'policy', source, hash: policyHash(policy), at: new Date(at).toISOString() } : undefined;
  }

  private persistConfirmed(current: Loaded): Promise<boolean> {
    const confirmed = this.toRecord({ kind: 'policy', loaded: current });
    const known = this.record.confirmed;
    // The same ruleset started again: nothing new to write to the card.
    const unchanged = known?.kind === 'policy' && confirmed?.kind === 'policy' && known.hash === confirmed.hash && !this.record.pending && !this.record.unconfirmed;
    return confirmed && !unchanged ? this.persist({ confirmed }) : Promise.resolve(true);
  }

  private persistUnconfirmed(hash: string, why: string): Promise<boolean> {
    const { confirmed } = this.record;
    return this.persist({ ...(confirmed ? { confirmed } : {}), unconfirmed: { hash, revertedAt: new Date(this.deps.clock.now()).toISOString(), why } });
  }

  /** Writes the ledger; false (logged) when the card refused. */
  private async persist(record: ConfirmRecord): Promise<boolean> {
    const { ledger, log } = this.deps;
    if (!ledger) return true;
    try {
      await ledger.write(record);
      this.record = record;
      return true;
    } catch (error) {
      log.error(`firewall: cannot write ${ledger.path}: ${(error as Error).message}`);
      return false;
    }
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
    if (this.unconfirmed) out.unconfirmed = this.unconfirmed;
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
