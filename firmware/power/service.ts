// The power service (issue 10, items 2, 5, 6): every `intervalSeconds` it samples each managed
// pool's demand, runs the planner and hands its decisions to the executor; it keeps the ledger
// (written only on change), learns latencies, accounts energy, and takes manual wake, park and
// pin orders. Only the MASTER of `power.vhid` acts; a node that becomes master first rebuilds
// the picture (its ledger, each host's read-back power and health after one check round).

import type { TandemEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { FileStore } from '../os/files.js';
import type { DriverDeps } from './driver.js';
import { accrue, drawNow, emptyAccount, summarise, type HostPhase } from './energy.js';
import { Executor, type ActionResult } from './executor.js';
import { latencyOf } from './latency.js';
import { emptyLedger, ledgerHost, LedgerStore, recordError, recordLatency, setPin, transition, type Ledger } from './ledger.js';
import { createDriver } from './methods.js';
import { dailyHistory, plan, trimSamples, type Decision, type DemandSample, type PlannerHost, type PlannerTuning, type PoolForecast } from './planner.js';
import type { PowerPools } from './pools.js';
import { parsePinWindow, pinnedBySchedule } from './schedule.js';
import { poolUnit, type PowerConfig, type PowerHostConfig } from './schema.js';
import { readBack, rebuildVerdict } from './rebuild.js';
import { hostStatus, poolStatus, type PowerRole, type PowerStatus } from './status.js';
import { actionTarget, buildDrivers, type DriverFactory, type HostDrivers } from './targets.js';

export interface PowerServiceDeps {
  clock: Clock;
  pools: PowerPools;
  driverDeps: DriverDeps;
  drivers?: DriverFactory;
  files: FileStore;
  ledgerPath: string;
  emit(event: TandemEvent): void;
  log: Logger;
  /** Whether this node is the MASTER of `power.vhid`; undefined when no vhid is configured. */
  isMaster?: () => boolean;
  tuning?: Partial<PlannerTuning>;
  /** Executor poll interval (tests). */
  pollMs?: number;
}

interface Managed {
  config: PowerHostConfig;
  drivers: HostDrivers;
}

interface Busy {
  action: 'wake' | 'park';
  controller: AbortController;
}

/** Decisions kept for status. */
const RECENT_DECISIONS = 20;

export class PowerService {
  private ledger: Ledger = emptyLedger();
  private readonly store: LedgerStore;
  private readonly executor: Executor;
  private managed = new Map<string, Managed>();
  private readonly samples = new Map<string, DemandSample[]>();
  /** A day of coarse demand per pool (planner.ts dailyHistory), in memory only: no flash writes. */
  private readonly history = new Map<string, DemandSample[]>();
  private readonly busy = new Map<string, Busy>();
  private readonly backoffUntil = new Map<string, number>();
  private account = emptyAccount();
  private lastAccrual: number;
  private role: PowerRole = 'stopped';
  private roundTimer: TimerHandle | undefined;
  private rebuildTimer: TimerHandle | undefined;
  private soon: TimerHandle | undefined;
  private forecasts: PoolForecast[] = [];
  private recent: (Decision & { at: number })[] = [];
  private lastRound: number | undefined;
  private ledgerProblem: string | undefined;

  constructor(
    private config: PowerConfig,
    private readonly deps: PowerServiceDeps,
  ) {
    this.store = new LedgerStore(deps.ledgerPath, deps.files);
    this.executor = new Executor({ clock: deps.clock, pools: deps.pools, emit: deps.emit, log: deps.log, ...(deps.pollMs ? { pollMs: deps.pollMs } : {}) });
    this.lastAccrual = deps.clock.monotonic();
    this.configure(config);
  }

  private configure(config: PowerConfig): void {
    this.config = config;
    const factory = this.deps.drivers ?? createDriver;
    this.managed = new Map(config.hosts.map((h) => [h.name, { config: h, drivers: buildDrivers(h, factory, this.deps.driverDeps) }]));
    for (const m of this.managed.values()) {
      for (const p of [m.drivers.wake, m.drivers.park]) if (p.problem) this.deps.log.warn(`power: ${m.config.name}: ${p.problem}`);
    }
  }

  async start(): Promise<void> {
    const loaded = await this.store.load();
    this.ledger = loaded.ledger;
    this.ledgerProblem = loaded.problem;
    if (loaded.problem) this.deps.log.error(`power: ledger ${this.deps.ledgerPath} ignored: ${loaded.problem}`);
    this.role = 'backup';
    this.masterChanged();
    this.armRound();
  }

  async stop(): Promise<void> {
    this.role = 'stopped';
    for (const t of [this.roundTimer, this.rebuildTimer, this.soon]) t?.cancel();
    for (const b of this.busy.values()) b.controller.abort();
    await this.store.idle();
  }

  async reload(config: PowerConfig): Promise<void> {
    this.configure(config);
    this.armRound();
  }

  /** Call on every CARP transition: a new master rebuilds before it acts; a lost one stops. */
  masterChanged(): void {
    if (this.role === 'stopped') return;
    const master = this.deps.isMaster?.() ?? true;
    if (master && (this.role === 'backup')) {
      this.role = 'rebuilding';
      const grace = Math.max(0, ...this.config.hosts.map((h) => Math.max(...Object.values(this.deps.pools.timing(h.pool)))));
      this.deps.log.info(`power: acting from now on, after one check round (${Math.round(grace / 1000)} s) to rebuild the picture`);
      this.rebuildTimer = this.deps.clock.setTimer(grace, () => void this.rebuild());
    } else if (!master && this.role !== 'backup') {
      this.deps.log.info('power: no longer MASTER: stopping every action in flight, planning nothing');
      this.rebuildTimer?.cancel();
      this.role = 'backup';
      for (const b of this.busy.values()) b.controller.abort();
      // A backup's balancer checks every host, parked ones too, so that when this node is master
      // again its rebuild sees what the other master woke or parked meanwhile.
      void this.checkAll();
    }
  }

  private async checkAll(): Promise<void> {
    for (const m of this.managed.values()) {
      const id = this.deps.pools.hostId(m.config.pool, m.config.address);
      if (id !== undefined) await this.deps.pools.setPower(m.config.pool, id, 'awake').catch(() => undefined);
    }
  }

  /** A host's health changed: an awake host that fails gets a replacement at once. */
  hostHealthChanged(pool: string, hostId: string, to: string): void {
    if (to !== 'down' || !this.acting) return;
    const host = [...this.managed.values()].find((m) => m.config.pool === pool && this.deps.pools.hostId(pool, m.config.address) === hostId);
    if (host && !this.busy.has(host.config.name) && ledgerHost(this.ledger, host.config.name, 0).state === 'awake') this.roundSoon();
  }

  private get acting(): boolean {
    return this.role === 'master' || this.role === 'standalone';
  }

  private armRound(): void {
    this.roundTimer?.cancel();
    this.roundTimer = this.deps.clock.setTimer(this.config.intervalSeconds * 1000, () => {
      this.armRound();
      void this.round();
    });
  }

  private roundSoon(): void {
    this.soon ??= this.deps.clock.setTimer(0, () => {
      this.soon = undefined;
      void this.round();
    });
  }

  /** After becoming master: what each host really is, from health, read-back and the ledger. */
  private async rebuild(): Promise<void> {
    const { pools, clock } = this.deps;
    for (const m of this.managed.values()) {
      if (this.role !== 'rebuilding') return;
      const id = pools.hostId(m.config.pool, m.config.address);
      if (id === undefined) continue;
      const health = pools.observe(m.config.pool, id)?.health;
      const before = ledgerHost(this.ledger, m.config.name, clock.now());
      const reading = await readBack(m.drivers.readers, { name: m.config.name, address: m.config.address, mac: m.config.mac }, clock);
      if (this.role !== 'rebuilding') return;
      const { state, why } = rebuildVerdict({ health, reading, ledger: before.state });
      if (before.state !== state) this.deps.log.info(`power: ${m.config.name}: the ledger said ${before.state}; ${why}: ${state}`);
      this.ledger = transition(this.ledger, m.config.name, state, clock.now(), state === 'parked' ? before.how : undefined);
      await pools.setPower(m.config.pool, id, state === 'awake' ? 'awake' : 'parked');
    }
    if (this.role !== 'rebuilding') return;
    await this.save();
    this.role = this.deps.isMaster ? 'master' : 'standalone';
    void this.round();
  }

  /** One planner round. */
  async round(): Promise<void> {
    const { clock, pools } = this.deps;
    if (this.role === 'stopped') return;
    const now = clock.now();
    this.accrueNow();
    const poolNames = [...new Set(this.config.hosts.map((h) => h.pool))];
    for (const pool of poolNames) {
      const value = pools.demand(pool, poolUnit(this.config, pool));
      if (value === undefined) continue;
      const sample = { t: now / 1000, value };
      this.samples.set(pool, trimSamples([...(this.samples.get(pool) ?? []), sample], now / 1000, this.deps.tuning));
      this.history.set(pool, dailyHistory(this.history.get(pool) ?? [], sample, this.deps.tuning));
    }
    this.lastRound = now;
    if (!this.acting) return;
    const measured = poolNames.filter((p) => this.samples.has(p));
    const hosts = [...this.managed.values()].filter((m) => measured.includes(m.config.pool) && !((this.backoffUntil.get(m.config.name) ?? 0) > now)).map((m) => this.plannerHost(m, now));
    const output = plan({
      now: now / 1000,
      intervalSeconds: this.config.intervalSeconds,
      policy: this.config.policy,
      ...(this.deps.tuning ? { tuning: this.deps.tuning } : {}),
      pools: measured.map((p) => ({ name: p, unit: poolUnit(this.config, p), samples: this.samples.get(p)!, history: this.history.get(p)! })),
      hosts,
    });
    this.forecasts = output.forecasts;
    for (const d of output.decisions) {
      this.recent = [...this.recent, { ...d, at: now }].slice(-RECENT_DECISIONS);
      this.deps.log.info(`power: plan: ${d.action} ${d.host}: ${d.reason}`, { host: d.host, cause: d.cause });
      const m = this.managed.get(d.host);
      if (m && !this.busy.has(d.host)) this.run(m, d.action, d.reason);
    }
  }

  private plannerHost(m: Managed, now: number): PlannerHost {
    const entry = ledgerHost(this.ledger, m.config.name, now);
    const busy = this.busy.get(m.config.name);
    const id = this.deps.pools.hostId(m.config.pool, m.config.address);
    const health = id === undefined ? undefined : this.deps.pools.observe(m.config.pool, id)?.health;
    const state = busy ? (busy.action === 'wake' ? 'waking' : 'parking') : entry.state;
    return {
      name: m.config.name,
      pool: m.config.pool,
      capacity: m.config.capacity,
      watts: m.config.watts,
      wakeSeconds: latencyOf(entry.latency, 'wake', m.config.wake.method, m.config.wake.seconds).seconds,
      parkSeconds: latencyOf(entry.latency, 'park', m.config.park.method, m.config.park.seconds).seconds,
      state,
      since: entry.since / 1000,
      healthy: health === 'up',
      pinned: this.pinned(m, now),
      parkTimes: entry.cycles.map((t) => t / 1000),
    };
  }

  private pinned(m: Managed, now: number): boolean {
    const runtime = this.ledger.hosts[m.config.name]?.pin;
    if (runtime !== undefined) return runtime;
    const windows = m.config.pinSchedule.map(parsePinWindow).filter((w) => w !== undefined);
    return m.config.pinned || pinnedBySchedule(windows, now);
  }

  /** Starts one action; the ledger marks it in flight at once and its end when it ends. */
  private run(m: Managed, action: 'wake' | 'park', reason: string): void {
    const { clock, pools } = this.deps;
    const id = pools.hostId(m.config.pool, m.config.address);
    if (id === undefined) {
      this.deps.log.error(`power: ${m.config.name}: pool ${m.config.pool} has no host ${m.config.address}`);
      return;
    }
    this.accrueNow();
    const entry = ledgerHost(this.ledger, m.config.name, clock.now());
    const target = actionTarget(m.config, id, m.drivers, action, entry.latency);
    const timing = pools.timing(m.config.pool);
    const controller = new AbortController();
    this.busy.set(m.config.name, { action, controller });
    this.ledger = transition(this.ledger, m.config.name, action === 'wake' ? 'waking' : 'parking', clock.now(), target.primary.method);
    void this.save();
    const running =
      action === 'wake'
        ? this.executor.wake(target, { drainMs: 0, detectMs: timing.upMs }, reason, controller.signal)
        : this.executor.park(target, { drainMs: this.config.policy.drainTimeoutSeconds * 1000, detectMs: timing.downMs }, reason, controller.signal);
    void running.then((result) => this.finished(m, action, result));
  }

  private async finished(m: Managed, action: 'wake' | 'park', result: ActionResult): Promise<void> {
    const { clock } = this.deps;
    this.accrueNow();
    this.busy.delete(m.config.name);
    const now = clock.now();
    const name = m.config.name;
    if (result.outcome === 'aborted') return;
    const ok = result.outcome === 'done' || result.outcome === 'escalated';
    const state = (action === 'wake') === ok ? 'awake' : 'parked';
    this.ledger = transition(this.ledger, name, state, now, state === 'parked' ? result.method : undefined);
    if (ok && result.seconds !== undefined) this.ledger = recordLatency(this.ledger, name, action, result.method, result.seconds, now);
    this.ledger = recordError(this.ledger, name, ok ? undefined : `${action}: ${result.detail}`, now);
    // A host that would not wake is left out of planning for a while, so others are woken instead.
    if (!ok && action === 'wake') this.backoffUntil.set(name, now + 10 * this.config.intervalSeconds * 1000);
    else this.backoffUntil.delete(name);
    await this.save();
    if (!ok) this.roundSoon();
  }

  private async save(): Promise<void> {
    await this.store.save(this.ledger);
    if (this.store.lastError) this.deps.log.error(`power: ledger not written: ${this.store.lastError}`);
  }

  private phase(m: Managed): HostPhase {
    const busy = this.busy.get(m.config.name);
    if (busy) return busy.action === 'wake' ? 'waking' : 'parking';
    const state = ledgerHost(this.ledger, m.config.name, 0).state;
    if (state === 'parked') return 'parked';
    const id = this.deps.pools.hostId(m.config.pool, m.config.address);
    // Awake but failing its checks: drawing power, serving nothing.
    return id !== undefined && this.deps.pools.observe(m.config.pool, id)?.health === 'up' ? 'serving' : 'waking';
  }

  /** Adds the energy since the last call at the draw of the states held until now. */
  private accrueNow(): void {
    const at = this.deps.clock.monotonic();
    const seconds = (at - this.lastAccrual) / 1000;
    this.lastAccrual = at;
    if (seconds <= 0) return;
    for (const pool of new Set(this.config.hosts.map((h) => h.pool))) {
      const hosts = [...this.managed.values()].filter((m) => m.config.pool === pool);
      const samples = this.samples.get(pool);
      const demand = samples?.[samples.length - 1]?.value ?? 0;
      const draw = drawNow(hosts.map((m) => ({ name: m.config.name, capacity: m.config.capacity, watts: m.config.watts, phase: this.phase(m) })), demand);
      this.account = accrue(this.account, seconds, draw);
    }
  }

  /** Manual orders (`tandem power wake|park HOST`): refused unless this node acts and the host is idle. */
  order(name: string, action: 'wake' | 'park'): { ok: true; detail: string } | { ok: false; error: string } {
    const m = this.managed.get(name);
    if (!m) return { ok: false, error: `no managed host ${name} (hosts: ${[...this.managed.keys()].join(', ')})` };
    if (!this.acting) return { ok: false, error: `this node does not act: it is ${this.role}${this.config.vhid !== undefined ? ` (power follows the MASTER of vhid ${this.config.vhid})` : ''}` };
    const busy = this.busy.get(name);
    if (busy) return { ok: false, error: `${name} is already ${busy.action === 'wake' ? 'waking' : 'parking'}` };
    const state = ledgerHost(this.ledger, name, this.deps.clock.now()).state;
    if ((action === 'wake' && state === 'awake') || (action === 'park' && state === 'parked')) return { ok: false, error: `${name} is already ${state}` };
    if (action === 'park') {
      // By hand too, never below minAwake healthy hosts (and never the last one): the pool would go dark.
      const others = [...this.managed.values()].filter((o) => o !== m && o.config.pool === m.config.pool && !this.busy.has(o.config.name) && this.healthOf(o) === 'up' && ledgerHost(this.ledger, o.config.name, 0).state === 'awake');
      if (others.length < Math.max(1, this.config.policy.minAwake)) return { ok: false, error: `parking ${name} would leave pool ${m.config.pool} ${others.length} healthy awake host(s); policy.minAwake is ${this.config.policy.minAwake}` };
    }
    this.backoffUntil.delete(name);
    this.run(m, action, `by hand (tandem power ${action})`);
    return { ok: true, detail: `${action === 'wake' ? 'waking' : 'parking'} ${name}` };
  }

  /** `tandem power pin HOST on|off`: kept in the ledger, so it survives a restart. */
  async pin(name: string, on: boolean): Promise<{ ok: true; detail: string } | { ok: false; error: string }> {
    if (!this.managed.has(name)) return { ok: false, error: `no managed host ${name}` };
    this.ledger = setPin(this.ledger, name, on, this.deps.clock.now());
    await this.save();
    this.deps.emit({ type: 'powerPin', host: name, pinned: on });
    if (this.acting) this.roundSoon();
    return { ok: true, detail: `${name} ${on ? 'pinned awake' : 'unpinned'}` };
  }

  status(): PowerStatus {
    this.accrueNow();
    const now = this.deps.clock.now();
    return {
      role: this.role,
      acting: this.acting,
      ...(this.config.vhid !== undefined ? { vhid: this.config.vhid } : {}),
      intervalSeconds: this.config.intervalSeconds,
      ...(this.lastRound !== undefined ? { lastRound: new Date(this.lastRound).toISOString() } : {}),
      pools: [...new Set(this.config.hosts.map((h) => h.pool))].map((pool) =>
        poolStatus(pool, poolUnit(this.config, pool), this.samples.get(pool), this.forecasts.find((x) => x.pool === pool)),
      ),
      hosts: [...this.managed.values()].map((m) =>
        hostStatus(m.config, ledgerHost(this.ledger, m.config.name, now), {
          now,
          busy: this.busy.get(m.config.name)?.action,
          health: this.healthOf(m),
          pinned: this.pinned(m, now),
          problems: [m.drivers.wake.problem, m.drivers.park.problem].filter((p): p is string => p !== undefined),
          backoffUntil: this.backoffUntil.get(m.config.name),
          account: this.account.hosts[m.config.name],
        }),
      ),
      decisions: this.recent.map((d) => ({ at: new Date(d.at).toISOString(), host: d.host, pool: d.pool, action: d.action, cause: d.cause, reason: d.reason })),
      energy: summarise(this.account),
      ledger: { path: this.deps.ledgerPath, writes: this.store.writes, ...(this.store.lastError ? { lastError: this.store.lastError } : {}), ...(this.ledgerProblem ? { ignored: this.ledgerProblem } : {}) },
    };
  }

  private healthOf(m: Managed): string | undefined {
    const id = this.deps.pools.hostId(m.config.pool, m.config.address);
    return id === undefined ? undefined : this.deps.pools.observe(m.config.pool, id)?.health;
  }

  /** Resolves when the ledger is on disk (tests). */
  idle(): Promise<void> {
    return this.store.idle();
  }
}
