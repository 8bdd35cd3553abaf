// The balancer as the power service uses it: set a host's power state, see its health and open
// connections, read each pool's demand in the pool's unit, and how long a check round takes to
// see a host go up or down. One adapter over the daemon's Balancer; a fake in fake.ts.

import type { Balancer, PoolStatus } from '../balancer/service.js';
import type { PowerState } from '../balancer/pool.js';
import type { PoolObservation, PowerPoolPort } from './executor.js';
import type { DemandUnit } from './schema.js';

export interface PowerPools extends PowerPoolPort {
  /** The balancer's id of the pool member with this address. */
  hostId(pool: string, address: string): string | undefined;
  /** Current demand in `unit`; undefined while the pool's demand is not measured. */
  demand(pool: string, unit: DemandUnit): number | undefined;
  /** How long after a host comes up (goes down) its checks say so, at most. */
  timing(pool: string): { upMs: number; downMs: number };
}

export class BalancerPowerPools implements PowerPools {
  constructor(private readonly balancer: Balancer) {}

  private pool(name: string): PoolStatus | undefined {
    return this.balancer.status().find((p) => p.name === name);
  }

  setPower(pool: string, hostId: string, power: PowerState): Promise<void> {
    return this.balancer.setPower(pool, hostId, power);
  }

  observe(pool: string, hostId: string): PoolObservation | undefined {
    const host = this.pool(pool)?.hosts.find((h) => h.id === hostId);
    return host ? { health: host.health, connections: host.connections } : undefined;
  }

  hostId(pool: string, address: string): string | undefined {
    return this.pool(pool)?.hosts.find((h) => h.address === address)?.id;
  }

  demand(pool: string, unit: DemandUnit): number | undefined {
    const status = this.pool(pool);
    if (!status || !status.demand.measured) return undefined;
    return unit === 'connections' ? status.demand.connections : status.demand.requestsPerSecond;
  }

  timing(pool: string): { upMs: number; downMs: number } {
    const check = this.pool(pool)?.check;
    if (!check) return { upMs: 30_000, downMs: 30_000 };
    const round = check.intervalSeconds * 1000;
    return { upMs: round * check.upAfter + check.timeoutSeconds * 1000, downMs: round * check.downAfter + check.timeoutSeconds * 1000 };
  }
}
