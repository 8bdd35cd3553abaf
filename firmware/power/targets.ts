// From a host's config to what the executor runs: the drivers of its wake and park methods and
// their fallbacks, built once per config. Without a configured fallback, the other method's
// controller stands in where it can (sleep refused → the PDU or BMC that wakes it powers it
// off; WoL unanswered → the PDU or BMC that parks it powers it on), as issue 10 asks.

import type { DriverDeps, PowerDriver } from './driver.js';
import type { ActionTarget, MethodPlan } from './executor.js';
import { latencyOf, type LatencyTable } from './latency.js';
import { createDriver } from './methods.js';
import type { PowerHostConfig } from './schema.js';

export type DriverFactory = (config: { method: string }, deps: DriverDeps) => ReturnType<typeof createDriver>;

export interface HostDrivers {
  wake: MethodPlan;
  wakeFallback?: MethodPlan;
  park: MethodPlan;
  parkFallback?: MethodPlan;
  readers: PowerDriver[];
}

function plan(config: { method: string; seconds: number }, factory: DriverFactory, deps: DriverDeps): MethodPlan {
  try {
    const built = factory(config, deps);
    return built.ok ? { method: config.method, seconds: config.seconds, driver: built.driver } : { method: config.method, seconds: config.seconds, problem: built.detail };
  } catch (error) {
    return { method: config.method, seconds: config.seconds, problem: `method ${config.method}: ${(error as Error).message}` };
  }
}

export function buildDrivers(host: PowerHostConfig, factory: DriverFactory, deps: DriverDeps): HostDrivers {
  const wake = plan(host.wake, factory, deps);
  const park = plan(host.park, factory, deps);
  const wakeFallback = host.wake.fallback ? plan(host.wake.fallback, factory, deps) : park.driver?.wake && host.park.method !== host.wake.method ? { ...park, seconds: host.wake.seconds } : undefined;
  const parkFallback = host.park.fallback ? plan(host.park.fallback, factory, deps) : wake.driver?.park && host.wake.method !== host.park.method ? { ...wake, seconds: host.park.seconds } : undefined;
  const readers = [...new Set([wake, park, wakeFallback, parkFallback].map((p) => p?.driver).filter((d): d is PowerDriver => d?.read !== undefined))];
  return { wake, park, readers, ...(wakeFallback ? { wakeFallback } : {}), ...(parkFallback ? { parkFallback } : {}) };
}

/** The executor's target for one action, with the learned latencies in place of the configured ones. */
export function actionTarget(host: PowerHostConfig, hostId: string, drivers: HostDrivers, action: 'wake' | 'park', latency: LatencyTable | undefined): ActionTarget {
  const primary = action === 'wake' ? drivers.wake : drivers.park;
  const fallback = action === 'wake' ? drivers.wakeFallback : drivers.parkFallback;
  const learnedPlan = (p: MethodPlan): MethodPlan => ({ ...p, seconds: latencyOf(latency, action, p.method, p.seconds).seconds });
  return {
    name: host.name,
    pool: host.pool,
    hostId,
    driverHost: { name: host.name, address: host.address, mac: host.mac },
    primary: learnedPlan(primary),
    ...(fallback ? { fallback: learnedPlan(fallback) } : {}),
    readers: drivers.readers,
  };
}
