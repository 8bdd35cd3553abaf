// The balancer: one health check engine per pool (hce.ts), and after each round the pool's
// consequences in order — log each host's `A -> B` (only on change), write its firewall table
// if its members changed (redirect.ts), demote CARP while the whole pool is down (relayd's
// `demote` group), and keep the relay (relay.ts) picking among the serving hosts. Reload keeps
// the health and open connections of hosts that stay.

import type { TableUpdater } from '../firewall/tables.js';
import type { Logger } from '../log.js';
import type { Clock } from '../os/clock.js';
import { checkSpec, type CheckResult, type HealthCheckPort, type Outcome } from './check.js';
import { CheckScheduler, type RoundTarget } from './hce.js';
import type { Health } from './health.js';
import { Pool, type Demand, type HostState, type PoolHost, type PoolState, type PowerState } from './pool.js';
import { TableFeed, type FeedStatus } from './redirect.js';
import type { ConntrackPort } from './conntrack.js';
import type { Relay, RelayPool, RelayPort, RelayStats, RelayTarget } from './relay.js';
import type { BalancerConfig, CheckType, HostMode, PoolConfig } from './schema.js';

export interface BalancerPorts {
  clock: Clock;
  checks: HealthCheckPort;
  relays: RelayPort;
  /** The firewall's tables; absent where no firewall runs (redirect pools then report it). */
  tables?: TableUpdater;
  /** CARP's external demotion: `setExternalDemote(source, value)`. */
  demote(source: string, value: number): void;
  log: Logger;
  random?: () => number;
  /** The kernel's connection tracking: a redirect pool's demand; absent, it stays unmeasured. */
  conntrack?: ConntrackPort;
}

export interface HostStatus {
  id: string;
  address: string;
  port?: number;
  weight: number;
  state: HostState;
  health: Health;
  mode: HostMode;
  /** Drained at run time (`tandem balancer drain`), persisted across restarts. */
  drained?: true;
  power: PowerState;
  since: string;
  checks: number;
  outcomes: Partial<Record<Outcome, number>>;
  lastOutcome?: Outcome;
  lastCheck?: string;
  lastError?: { outcome: Outcome; detail?: string; at: string };
  rttMs?: number;
  connections: number;
  requestsPerSecond: number;
  connectFailures: number;
}

export interface PoolStatus {
  name: string;
  state: PoolState;
  since: string;
  check: { type: CheckType; intervalSeconds: number; timeoutSeconds: number; downAfter: number; upAfter: number };
  rounds: number;
  /** What this pool adds to CARP's demotion now (0 unless the whole pool is down). */
  demote: number;
  redirect?: FeedStatus;
  relay?: RelayStats;
  demand: { measured: boolean; connections: number; requestsPerSecond: number };
  hosts: HostStatus[];
}

export type BalancerEvent =
  | { type: 'hostChanged'; pool: string; host: string; from: HostState; to: HostState; result?: CheckResult }
  | { type: 'poolChanged'; pool: string; from: PoolState; to: PoolState };

class PoolRuntime {
  readonly pool: Pool;
  readonly scheduler: CheckScheduler<PoolHost>;
  feed: TableFeed | undefined;
  relay: Relay | undefined;
  demoting = 0;
  private measuring = false;

  constructor(config: PoolConfig, private readonly balancer: Balancer) {
    const { clock } = balancer.ports;
    this.pool = new Pool(config, clock.monotonic(), balancer.ports.random);
    this.scheduler = new CheckScheduler(this.schedulerOptions());
  }

  get name(): string {
    return this.pool.name;
  }

  get log(): Logger {
    return this.balancer.log;
  }

  schedulerOptions() {
    const { clock, checks } = this.balancer.ports;
    const config = this.pool.config;
    const spec = checkSpec(config.check);
    return {
      clock,
      check: checks.create(spec),
      intervalMs: Math.round(config.check.intervalSeconds * 1000),
      timeoutMs: spec.timeoutMs,
      targets: (): RoundTarget<PoolHost>[] =>
        this.pool.hosts.filter((h) => h.checked).map((host) => ({ host, target: { address: host.address, port: config.check.port ?? host.port } })),
      roundDone: (results: (readonly [PoolHost, CheckResult])[]) => this.roundDone(results),
    };
  }

  start(): void {
    this.openOutputs();
    this.scheduler.start();
  }

  private openOutputs(): void {
    const config = this.pool.config;
    const { tables, relays } = this.balancer.ports;
    if (this.feed && this.feed.table !== config.redirect?.table) {
      // A table this pool no longer feeds would keep steering traffic to the last hosts written.
      void this.feed.sync([]);
      this.feed = undefined;
    }
    if (config.redirect && !this.feed) this.feed = new TableFeed(config.redirect.table, tables, this.log.child({ pool: this.name }));
    if (config.relay && !this.relay) {
      this.relay = relays.open(this.name, config.relay, this.relayPool(), this.log.child({ pool: this.name }));
      this.relay.start();
    }
  }

  private relayPool(): RelayPool {
    const { clock } = this.balancer.ports;
    return {
      pick: (source, tried) => this.pool.pick(source, tried),
      opened: (target: RelayTarget) => this.pool.opened(target as PoolHost, clock.monotonic()),
      closed: (target: RelayTarget) => this.pool.closed(target as PoolHost),
      failed: (target: RelayTarget, detail: string) => {
        const host = target as PoolHost;
        host.connectFailures++;
        this.log.debug(`pool ${this.name}: connect to ${host.id} failed: ${detail}`);
      },
    };
  }

  private async roundDone(results: (readonly [PoolHost, CheckResult])[]): Promise<void> {
    const { clock } = this.balancer.ports;
    const at = clock.monotonic();
    const before = new Map(results.map(([host]) => [host, host.state]));
    const changes = this.pool.applyResults(results, at);
    for (const change of changes) {
      const from = before.get(change.host) ?? change.from;
      const to = change.host.state;
      const why = change.result.detail ? `${change.result.outcome}: ${change.result.detail}` : change.result.outcome;
      this.log.info(`pool ${this.name}: host ${change.host.id} ${change.from} -> ${change.to} (${why})`, { pool: this.name, host: change.host.id });
      this.balancer.emit({ type: 'hostChanged', pool: this.name, host: change.host.id, from, to, result: change.result });
    }
    for (const [host, result] of results) {
      if (result.outcome !== 'ok') this.log.debug(`pool ${this.name}: host ${host.id}: ${result.outcome}${result.detail ? ` (${result.detail})` : ''}`);
    }
    await this.settle();
    // Not awaited: a slow read of the table must hold up neither this round nor the next.
    void this.measureKernel();
  }

  /** Once per round, a redirect pool's demand from conntrack (the power manager plans with it). */
  private async measureKernel(): Promise<void> {
    const conntrack = this.balancer.ports.conntrack;
    if (!this.pool.config.redirect || !conntrack || this.measuring) return;
    this.measuring = true;
    try {
      this.pool.applyFlows(await conntrack.redirected(), this.balancer.ports.clock.monotonic());
    } catch (error) {
      if (this.pool.kernelMeasured) this.log.warn(`pool ${this.name}: demand not measured: cannot read conntrack: ${(error as Error).message}`);
      this.pool.kernelMeasured = false;
    } finally {
      this.measuring = false;
    }
  }

  /** The consequences of a change: pool state, table (one write at most), demotion. */
  async settle(): Promise<void> {
    const { clock } = this.balancer.ports;
    const change = this.pool.refreshState(clock.monotonic());
    if (change) {
      const level = change.to === 'down' ? 'warn' : 'info';
      this.log[level](`pool ${this.name}: ${change.from} -> ${change.to}`, { pool: this.name });
      this.balancer.emit({ type: 'poolChanged', pool: this.name, ...change });
    }
    const demote = this.pool.state === 'down' ? this.pool.config.demote : 0;
    this.setDemote(demote);
    if (this.feed) await this.feed.sync(this.pool.members());
  }

  setDemote(value: number): void {
    if (value === this.demoting) return;
    if (value > 0) this.log.warn(`pool ${this.name}: every host is down; demoting CARP by ${value}`, { pool: this.name });
    else this.log.info(`pool ${this.name}: demotion lifted`, { pool: this.name });
    this.demoting = value;
    this.balancer.ports.demote(`balancer:${this.name}`, value);
  }

  async reconfigure(config: PoolConfig): Promise<void> {
    const previous = this.pool.config;
    const before = new Map(this.pool.hosts.map((h) => [h.id, h.state]));
    this.pool.configure(config, this.balancer.ports.clock.monotonic());
    for (const host of this.pool.hosts) {
      const from = before.get(host.id);
      if (from === undefined || from === host.state) continue;
      this.log.info(`pool ${this.name}: host ${host.id} ${from} -> ${host.state} (config)`, { pool: this.name, host: host.id });
      this.balancer.emit({ type: 'hostChanged', pool: this.name, host: host.id, from, to: host.state });
    }
    const relayMoved = previous.relay && (!config.relay || previous.relay.listen !== config.relay.listen || previous.relay.mode !== config.relay.mode);
    if (relayMoved) {
      // Open connections finish on the old listener; new ones go to the new one.
      await this.relay?.stop('drain');
      this.relay = undefined;
    } else if (config.relay) {
      this.relay?.configure(config.relay);
    }
    this.openOutputs();
    if (JSON.stringify(previous.check) !== JSON.stringify(config.check)) this.scheduler.start(this.schedulerOptions());
    await this.settle();
  }

  async stop(how: 'drain' | 'cut'): Promise<void> {
    this.scheduler.stop();
    await this.relay?.stop(how);
    this.relay = undefined;
    await this.feed?.idle();
  }

  status(toIso: (monotonic: number) => string): PoolStatus {
    const { clock } = this.balancer.ports;
    const config = this.pool.config;
    const demand = this.pool.demand(clock.monotonic());
    return {
      name: this.name,
      state: this.pool.state,
      since: toIso(this.pool.stateSince),
      check: {
        type: config.check.type,
        intervalSeconds: config.check.intervalSeconds,
        timeoutSeconds: config.check.timeoutSeconds,
        downAfter: config.check.downAfter,
        upAfter: config.check.upAfter,
      },
      rounds: this.scheduler.rounds,
      demote: this.demoting,
      ...(this.feed ? { redirect: this.feed.status() } : {}),
      ...(this.relay ? { relay: this.relay.stats() } : {}),
      demand: { measured: demand.measured, connections: demand.connections, requestsPerSecond: demand.requestsPerSecond },
      hosts: this.pool.hosts.map((h, i) => hostStatus(h, demand.hosts[i]!.requestsPerSecond, toIso)),
    };
  }
}

function hostStatus(h: PoolHost, requestsPerSecond: number, toIso: (monotonic: number) => string): HostStatus {
  const { health } = h;
  return {
    id: h.id,
    address: h.address,
    ...(h.port !== undefined ? { port: h.port } : {}),
    weight: h.weight,
    state: h.state,
    health: health.health,
    mode: h.effectiveMode,
    ...(h.drained ? { drained: true as const } : {}),
    power: h.power,
    since: toIso(health.since),
    checks: health.checks,
    outcomes: health.outcomes,
    ...(health.last ? { lastOutcome: health.last.outcome, lastCheck: toIso(health.last.at) } : {}),
    ...(health.lastError
      ? { lastError: { outcome: health.lastError.outcome, ...(health.lastError.detail ? { detail: health.lastError.detail } : {}), at: toIso(health.lastError.at) } }
      : {}),
    ...(health.rttMs !== undefined ? { rttMs: health.rttMs } : {}),
    connections: h.connections,
    requestsPerSecond,
    connectFailures: h.connectFailures,
  };
}

export class Balancer {
  private readonly pools = new Map<string, PoolRuntime>();
  private readonly listeners: ((event: BalancerEvent) => void)[] = [];
  private running = false;
  readonly log: Logger;

  constructor(
    private config: BalancerConfig,
    readonly ports: BalancerPorts,
  ) {
    this.log = ports.log;
  }

  onEvent(listener: (event: BalancerEvent) => void): void {
    this.listeners.push(listener);
  }

  emit(event: BalancerEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.error(`balancer event listener failed: ${(error as Error).message}`);
      }
    }
  }

  start(): void {
    this.running = true;
    for (const config of this.config.pools) {
      const runtime = new PoolRuntime(config, this);
      this.pools.set(config.name, runtime);
      runtime.start();
    }
  }

  /** Shutdown: checks stop, relays close their connections, demotions are lifted. */
  async stop(): Promise<void> {
    this.running = false;
    for (const runtime of this.pools.values()) {
      await runtime.stop('cut');
      runtime.setDemote(0);
    }
    this.pools.clear();
  }

  /** What a kill -9 leaves: timers and sockets gone, nothing undone. */
  async abandon(): Promise<void> {
    this.running = false;
    for (const runtime of this.pools.values()) await runtime.stop('cut');
    this.pools.clear();
  }

  async reload(next: BalancerConfig): Promise<void> {
    this.config = next;
    if (!this.running) return;
    const wanted = new Set(next.pools.map((p) => p.name));
    for (const [name, runtime] of this.pools) {
      if (wanted.has(name)) continue;
      await runtime.stop('drain');
      runtime.setDemote(0);
      // A table nobody feeds any more would keep steering traffic to the last hosts written.
      if (runtime.feed) await runtime.feed.sync([]);
      this.pools.delete(name);
    }
    for (const config of next.pools) {
      const runtime = this.pools.get(config.name);
      if (runtime) await runtime.reconfigure(config);
      else {
        const fresh = new PoolRuntime(config, this);
        this.pools.set(config.name, fresh);
        fresh.start();
      }
    }
  }

  /** A CARP transition may have added a relay's listen address. */
  addressesChanged(): void {
    for (const runtime of this.pools.values()) runtime.relay?.retryListen();
  }

  /**
   * `tandem balancer drain|undrain HOST [--pool NAME]`: the host (by id or address) in that pool,
   * or in every pool that has it, takes no new connections while open ones finish. Throws when
   * no pool has it. Returns the hosts changed as `pool/host`.
   */
  async setDrained(host: string, drained: boolean, poolName?: string): Promise<string[]> {
    const matches: [PoolRuntime, PoolHost][] = [];
    for (const runtime of this.pools.values()) {
      if (poolName !== undefined && runtime.name !== poolName) continue;
      for (const h of runtime.pool.hosts) if (h.id === host || h.address === host) matches.push([runtime, h]);
    }
    if (matches.length === 0) {
      if (poolName !== undefined && !this.pools.has(poolName)) throw new Error(`no pool ${poolName} (pools: ${[...this.pools.keys()].join(', ') || 'none'})`);
      throw new Error(`no host ${host} in ${poolName !== undefined ? `pool ${poolName}` : 'any pool'}`);
    }
    for (const [runtime, h] of matches) {
      const from = h.state;
      h.drained = drained;
      if (h.state !== from) {
        this.log.info(`pool ${runtime.name}: host ${h.id} ${from} -> ${h.state} (${drained ? 'drained' : 'undrained'} by the operator)`);
        this.emit({ type: 'hostChanged', pool: runtime.name, host: h.id, from, to: h.state });
      }
      await runtime.settle();
    }
    return matches.map(([runtime, h]) => `${runtime.name}/${h.id}`);
  }

  /** Hosts drained at run time, as `{ pool, host }`, for the daemon's state file. */
  drained(): { pool: string; host: string }[] {
    return [...this.pools.values()].flatMap((r) => r.pool.hosts.filter((h) => h.drained).map((h) => ({ pool: r.name, host: h.id })));
  }

  /** For the power manager: drain a host before parking it, park it, wake it. */
  async setPower(poolName: string, hostId: string, power: PowerState): Promise<void> {
    const runtime = this.pools.get(poolName);
    const host = runtime?.pool.host(hostId);
    if (!runtime || !host) throw new Error(`no host ${hostId} in pool ${poolName}`);
    const from = host.state;
    runtime.pool.setPower(host, power, this.ports.clock.monotonic());
    if (host.state !== from) {
      this.log.info(`pool ${poolName}: host ${hostId} ${from} -> ${host.state} (power manager)`);
      this.emit({ type: 'hostChanged', pool: poolName, host: hostId, from, to: host.state });
    }
    await runtime.settle();
  }

  /** For the power manager: each pool's demand and each host's load. */
  demand(): (Demand & { pool: string })[] {
    const at = this.ports.clock.monotonic();
    return [...this.pools.values()].map((r) => ({ pool: r.name, ...r.pool.demand(at) }));
  }

  status(): PoolStatus[] {
    const { clock } = this.ports;
    const toIso = (monotonic: number) => new Date(clock.now() - (clock.monotonic() - monotonic)).toISOString();
    return [...this.pools.values()].map((r) => r.status(toIso));
  }

  /** Resolves when no table write is in flight (tests). */
  async idle(): Promise<void> {
    await Promise.all([...this.pools.values()].map((r) => r.feed?.idle()));
  }
}
