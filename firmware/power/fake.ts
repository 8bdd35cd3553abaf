// In-memory power: a simulated host that goes down and comes up on a (fake) clock, the
// PowerDriver that drives it, and the pool view the executor sees (health follows the simulated
// power at once). For executor, service and demo tests; records every call.

import type { Clock } from '../os/clock.js';
import type { PowerState } from '../balancer/pool.js';
import type { DriverFailure, DriverHost, DriverResult, PowerDriver, PowerReading } from './driver.js';
import type { PoolObservation } from './executor.js';
import type { PowerPools } from './pools.js';

/** A machine: on or off, with the delays its wake and park take. */
export class SimulatedHost {
  power: 'on' | 'off' = 'on';
  /** Refuses to go down (sleep refused) or up (WoL unanswered) while set. */
  ignoresPark = false;
  ignoresWake = false;
  connections = 0;
  private pending: { cancel(): void } | undefined;

  constructor(
    readonly name: string,
    private readonly clock: Clock,
    public wakeMs = 5_000,
    public parkMs = 2_000,
    readonly address = '198.51.100.21',
  ) {}

  /** Starts going to `target` after the delay (a later order replaces an earlier one). */
  order(target: 'on' | 'off'): void {
    if ((target === 'off' && this.ignoresPark) || (target === 'on' && this.ignoresWake)) return;
    this.switchAfter(target);
  }

  private switchAfter(target: 'on' | 'off'): void {
    this.pending?.cancel();
    this.pending = this.clock.setTimer(target === 'on' ? this.wakeMs : this.parkMs, () => {
      this.power = target;
      this.pending = undefined;
    });
  }

  /** A switched outlet or BMC: cuts power at once, or restores it and the host boots (whatever its NIC or OS would refuse). */
  hard(target: 'on' | 'off'): void {
    this.pending?.cancel();
    this.pending = undefined;
    if (target === 'off') this.power = 'off';
    else this.switchAfter('on');
  }
}

export interface FakeCall {
  method: string;
  action: 'wake' | 'park' | 'read';
  host: string;
}

/**
 * A driver over simulated hosts. `soft` methods (WoL, SSH suspend) only ask the host; `hard`
 * ones (PDU, BMC) switch its power. `fail` makes every call fail with that failure.
 */
export class FakePowerDriver implements PowerDriver {
  readonly calls: FakeCall[] = [];
  fail: DriverFailure | undefined;
  readonly wake?: PowerDriver['wake'];
  readonly park?: PowerDriver['park'];
  readonly read?: PowerDriver['read'];

  constructor(
    readonly method: string,
    private readonly hosts: ReadonlyMap<string, SimulatedHost>,
    options: { kind: 'soft' | 'hard'; canWake?: boolean; canPark?: boolean; canRead?: boolean },
  ) {
    if (options.canWake ?? true) this.wake = (host) => this.act('wake', host, options.kind);
    if (options.canPark ?? true) this.park = (host) => this.act('park', host, options.kind);
    if (options.canRead ?? options.kind === 'hard') this.read = (host) => this.readBack(host);
  }

  private async act(action: 'wake' | 'park', host: DriverHost, kind: 'soft' | 'hard'): Promise<DriverResult> {
    this.calls.push({ method: this.method, action, host: host.name });
    if (this.fail) return { ok: false, failure: this.fail, detail: `fake ${this.method} ${action} fails (${this.fail})` };
    const sim = this.hosts.get(host.name);
    if (!sim) return { ok: false, failure: 'unreachable', detail: `no simulated host ${host.name}` };
    const target = action === 'wake' ? 'on' : 'off';
    if (kind === 'hard') sim.hard(target);
    else sim.order(target);
    return { ok: true };
  }

  private async readBack(host: DriverHost): Promise<{ ok: true; reading: PowerReading } | { ok: false; failure: DriverFailure; detail: string }> {
    this.calls.push({ method: this.method, action: 'read', host: host.name });
    if (this.fail) return { ok: false, failure: this.fail, detail: `fake ${this.method} read fails` };
    const sim = this.hosts.get(host.name);
    return sim ? { ok: true, reading: sim.power } : { ok: false, failure: 'unreachable', detail: `no simulated host ${host.name}` };
  }
}

/** The balancer as the power service sees it, over simulated hosts: a host is healthy while it is on. */
export class FakePowerPools implements PowerPools {
  readonly powers = new Map<string, PowerState>();
  readonly history: string[] = [];
  /** Demand per pool, in the pool's unit; absent: not measured. */
  readonly demands = new Map<string, number>();
  detect = { upMs: 2_000, downMs: 3_000 };

  hostId(_pool: string, address: string): string | undefined {
    return [...this.hosts.values()].find((h) => h.address === address)?.name;
  }

  demand(pool: string): number | undefined {
    return this.demands.get(pool);
  }

  timing(): { upMs: number; downMs: number } {
    return this.detect;
  }

  constructor(private readonly hosts: ReadonlyMap<string, SimulatedHost>) {}

  async setPower(pool: string, hostId: string, power: PowerState): Promise<void> {
    if (this.powers.get(hostId) === power) return;
    this.powers.set(hostId, power);
    this.history.push(`${pool}/${hostId} ${power}`);
  }

  observe(_pool: string, hostId: string): PoolObservation | undefined {
    const sim = this.hosts.get(hostId);
    if (!sim) return undefined;
    return { health: sim.power === 'on' ? 'up' : 'down', connections: sim.connections };
  }
}
