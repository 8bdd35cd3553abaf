// A pool as data: its hosts, each with an operator mode (config: active, draining,
// maintenance), a power state (the power manager's: awake, draining, parked) and a health
// (the checks'), and what follows from them — the state shown, whether a host takes new
// connections, the pool's own state, the firewall table's members, the relay's pick. No I/O and
// no clock: time comes in as arguments.

import { createPicker, type Candidate, type Picker } from './algorithms.js';
import type { CheckResult } from './check.js';
import { initialHealth, notifyDone, type HealthChange, type HealthState, type Hysteresis } from './health.js';
import { canonicalAddress, type TrackedFlow } from './conntrack.js';
import { RateMeter } from './load.js';
import type { HostConfig, HostMode, PoolConfig } from './schema.js';

/**
 * Owned by the power manager: `draining` before it parks a host, `parked` while it sleeps,
 * `waking` from the wake order until the power manager has seen it pass its checks.
 */
export type PowerState = 'awake' | 'waking' | 'draining' | 'parked';
export type HostState = 'unknown' | 'up' | 'down' | 'draining' | 'parked' | 'waking' | 'maintenance';
/** up: every host that should serve does; degraded: some do; down: none does though some should (demote). */
export type PoolState = 'unknown' | 'up' | 'degraded' | 'down' | 'empty';

/** The host's id in status and telemetry: its name, else its address (with the port if the address repeats). */
export function hostIds(pool: PoolConfig): string[] {
  const counts = new Map<string, number>();
  for (const h of pool.hosts) counts.set(h.address, (counts.get(h.address) ?? 0) + 1);
  return pool.hosts.map((h) => {
    if (h.name) return h.name;
    if ((counts.get(h.address) ?? 0) < 2) return h.address;
    const port = h.port ?? pool.port;
    return h.address.includes(':') ? `[${h.address}]:${port}` : `${h.address}:${port}`;
  });
}

export class PoolHost {
  address: string;
  /** The service port (relay target); the check may use another. */
  port: number | undefined;
  weight: number;
  maxConnections: number | undefined;
  mode: HostMode;
  /** `tandem balancer drain`: draining at run time, whatever the config says (maintenance still wins). */
  drained = false;
  power: PowerState = 'awake';
  health: HealthState;
  /** Relay connections (tcp) or requests in flight (http) to this host. */
  connections = 0;
  connectFailures = 0;
  readonly meter = new RateMeter();

  constructor(readonly id: string, config: HostConfig, pool: PoolConfig, at: number) {
    this.address = config.address;
    this.port = config.port ?? pool.port;
    this.weight = config.weight;
    this.maxConnections = config.maxConnections;
    this.mode = config.mode;
    this.health = initialHealth(at);
  }

  configure(config: HostConfig, pool: PoolConfig): void {
    this.address = config.address;
    this.port = config.port ?? pool.port;
    this.weight = config.weight;
    this.maxConnections = config.maxConnections;
    this.mode = config.mode;
  }

  /** The operator's mode in force: the config's, or draining while drained at run time. */
  get effectiveMode(): HostMode {
    return this.drained && this.mode === 'active' ? 'draining' : this.mode;
  }

  /** What status shows: the operator's mode first, then the power manager's, then health. */
  get state(): HostState {
    const mode = this.effectiveMode;
    if (mode === 'maintenance') return 'maintenance';
    if (this.power === 'parked') return 'parked';
    // Checked but not serving: the power manager watches its health to learn the wake latency.
    if (this.power === 'waking') return 'waking';
    if (mode === 'draining' || this.power === 'draining') return 'draining';
    return this.health.health;
  }

  /** Whether new connections may go here (open ones to a draining host finish). */
  get servesNew(): boolean {
    return this.state === 'up';
  }

  /** Whether the host should be serving: then a failed check counts toward the pool being down. */
  get expected(): boolean {
    return this.effectiveMode === 'active' && this.power === 'awake';
  }

  /** A parked host is asleep: checking it would only fail. A waking one is checked to see it come up. */
  get checked(): boolean {
    return this.power !== 'parked';
  }

  get hasRoom(): boolean {
    return this.maxConnections === undefined || this.connections < this.maxConnections;
  }
}

export function poolStateOf(hosts: readonly PoolHost[]): PoolState {
  let serving = 0;
  let failing = 0;
  let unknown = 0;
  for (const h of hosts) {
    if (h.servesNew) serving++;
    else if (h.expected && h.health.health === 'down') failing++;
    else if (h.expected && h.health.health === 'unknown') unknown++;
  }
  if (serving > 0) return failing > 0 ? 'degraded' : 'up';
  if (failing > 0) return 'down';
  return unknown > 0 ? 'unknown' : 'empty';
}

/** The firewall table's content: each serving host's address repeated by its weight (over their gcd). */
export function tableMembers(hosts: readonly PoolHost[]): string[] {
  const serving = hosts.filter((h) => h.servesNew);
  const divisor = serving.reduce((g, h) => gcd(g, h.weight), 0) || 1;
  return serving.flatMap((h) => Array<string>(h.weight / divisor).fill(h.address));
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

export interface HostChange extends HealthChange {
  host: PoolHost;
  result: CheckResult;
}

export interface Demand {
  /**
   * Whether Tandem sees the traffic: a relay counts every connection; a redirect pool's traffic
   * passes through the kernel and is counted from its connection tracking once that was read.
   */
  measured: boolean;
  /** Open connections (tcp) or requests in flight (http), over all hosts. */
  connections: number;
  /** New connections (tcp) or requests (http) per second over the last 10 s. */
  requestsPerSecond: number;
  hosts: { id: string; state: HostState; weight: number; connections: number; requestsPerSecond: number }[];
}

export class Pool {
  hosts: PoolHost[] = [];
  state: PoolState = 'unknown';
  stateSince: number;
  private picker: Picker;
  private algorithm: string | undefined;
  readonly meter = new RateMeter();
  /** A redirect pool's demand read from the kernel's connection tracking (applyFlows). */
  kernelMeasured = false;
  private seenFlows: Set<string> | undefined;

  constructor(public config: PoolConfig, at: number, private readonly random: () => number = Math.random) {
    this.stateSince = at;
    this.picker = createPicker(config.relay?.algorithm ?? 'roundrobin', random);
    this.algorithm = config.relay?.algorithm;
    this.configure(config, at);
  }

  get name(): string {
    return this.config.name;
  }

  get rules(): Hysteresis {
    return { downAfter: this.config.check.downAfter, upAfter: this.config.check.upAfter };
  }

  /** Applies a (re)loaded config: hosts with the same id keep their health, power state and counters. */
  configure(config: PoolConfig, at: number): void {
    const ids = hostIds(config);
    const old = new Map(this.hosts.map((h) => [h.id, h]));
    this.hosts = config.hosts.map((hostConfig, index) => {
      const id = ids[index]!;
      const existing = old.get(id);
      if (existing) {
        existing.configure(hostConfig, config);
        return existing;
      }
      return new PoolHost(id, hostConfig, config, at);
    });
    if (config.relay?.algorithm !== this.algorithm) {
      this.picker = createPicker(config.relay?.algorithm ?? 'roundrobin', this.random);
      this.algorithm = config.relay?.algorithm;
    }
    this.config = config;
  }

  host(id: string): PoolHost | undefined {
    return this.hosts.find((h) => h.id === id);
  }

  /** hce_notify_done for each result of a round; returns the hosts whose health changed. */
  applyResults(results: readonly (readonly [PoolHost, CheckResult])[], at: number): HostChange[] {
    const changes: HostChange[] = [];
    for (const [host, result] of results) {
      // A host removed by a reload while its check ran is no longer ours.
      if (!this.hosts.includes(host) || !host.checked) continue;
      const { state, change } = notifyDone(host.health, result, at, this.rules);
      host.health = state;
      if (change) changes.push({ host, result, ...change });
    }
    return changes;
  }

  /** Recomputes the pool's state; returns the change, if any. */
  refreshState(at: number): { from: PoolState; to: PoolState } | undefined {
    const next = poolStateOf(this.hosts);
    if (next === this.state) return undefined;
    const from = this.state;
    this.state = next;
    this.stateSince = at;
    return { from, to: next };
  }

  setPower(host: PoolHost, power: PowerState, at: number): void {
    if (host.power === power) return;
    // A host that wakes must pass a check before it serves again.
    if (host.power === 'parked') host.health = { ...initialHealth(at), checks: host.health.checks, outcomes: host.health.outcomes };
    host.power = power;
  }

  members(): string[] {
    return tableMembers(this.hosts);
  }

  /** A host for a new connection from `source`, not one already tried for it. */
  pick(source: string, tried: ReadonlySet<string>): PoolHost | undefined {
    const candidates = this.hosts.filter((h) => h.servesNew && h.hasRoom && !tried.has(h.id));
    const picked = this.picker.pick(candidates as readonly Candidate[], source);
    return picked as PoolHost | undefined;
  }

  opened(host: PoolHost, at: number): void {
    host.connections++;
    host.meter.add(at);
    this.meter.add(at);
  }

  closed(host: PoolHost): void {
    host.connections = Math.max(0, host.connections - 1);
  }

  /**
   * A redirect pool's load from the kernel: each host's open connections are the tracked flows
   * redirected to its address; flows not seen at the last read are new connections (the first
   * read only sets the baseline, or every open connection would count as new at once).
   */
  applyFlows(flows: readonly TrackedFlow[], at: number): void {
    const byBackend = new Map<string, TrackedFlow[]>();
    for (const f of flows) {
      const list = byBackend.get(f.backend);
      if (list) list.push(f);
      else byBackend.set(f.backend, [f]);
    }
    for (const host of this.hosts) {
      const mine = byBackend.get(canonicalAddress(host.address)) ?? [];
      host.connections = mine.length;
      if (!this.seenFlows) continue;
      for (const f of mine) {
        if (this.seenFlows.has(f.key)) continue;
        host.meter.add(at);
        this.meter.add(at);
      }
    }
    this.seenFlows = new Set(flows.map((f) => f.key));
    this.kernelMeasured = true;
  }

  demand(at: number): Demand {
    return {
      measured: this.config.relay !== undefined || this.kernelMeasured,
      connections: this.hosts.reduce((sum, h) => sum + h.connections, 0),
      requestsPerSecond: this.meter.perSecond(at),
      hosts: this.hosts.map((h) => ({
        id: h.id,
        state: h.state,
        weight: h.weight,
        connections: h.connections,
        requestsPerSecond: h.meter.perSecond(at),
      })),
    };
  }
}
