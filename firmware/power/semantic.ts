// Checks of meaning across the `power` section that no single field can make: unique host
// names, each host a member of the balancer pool it names, a vhid that CARP holds, a fallback
// that differs from its method, capacities a pool can plan with.

import type { ConfigIssue } from '../config/kit.js';
import type { TandemConfig } from '../config/schema.js';
import { compareCodeUnits } from '../compare.js';

function normalize(address: string): string {
  return address.includes(':') ? new URL(`http://[${address}]/`).hostname : address;
}

// The method and its settings, without latency and fallback, in a stable key order.
function settingsKey(method: Record<string, unknown>): string {
  const entries = Object.entries(method).filter(([key]) => key !== 'seconds' && key !== 'fallback');
  return JSON.stringify(entries.sort(([a], [b]) => compareCodeUnits(a, b)));
}

export function powerIssues(config: TandemConfig): ConfigIssue[] {
  const power = config.power;
  if (!power) return [];
  const issues: ConfigIssue[] = [];
  const names = new Map<string, number>();
  const members = new Map<string, number>();
  const pools = new Map(config.balancer.pools.map((p) => [p.name, p]));

  if (power.vhid !== undefined && !config.carp.some((c) => c.vhid === power.vhid)) {
    issues.push({ path: 'power.vhid', message: `no carp entry has vhid ${power.vhid}` });
  }
  power.pools.forEach((pool, index) => {
    if (!pools.has(pool.name)) issues.push({ path: `power.pools[${index}].name`, message: `no balancer pool is named ${pool.name}` });
  });
  power.hosts.forEach((host, index) => {
    const at = `power.hosts[${index}]`;
    const first = names.get(host.name);
    if (first !== undefined) issues.push({ path: `${at}.name`, message: `host name ${host.name} is already used by power.hosts[${first}]` });
    else names.set(host.name, index);

    const pool = pools.get(host.pool);
    if (!pool) {
      issues.push({ path: `${at}.pool`, message: `no balancer pool is named ${host.pool}` });
    } else if (!pool.hosts.some((h) => normalize(h.address) === normalize(host.address))) {
      issues.push({ path: `${at}.address`, message: `${host.address} is not a host of balancer pool ${host.pool}` });
    }
    const member = `${host.pool}|${normalize(host.address)}`;
    const owner = members.get(member);
    if (owner !== undefined) issues.push({ path: `${at}.address`, message: `${host.address} in pool ${host.pool} is already power.hosts[${owner}]` });
    else members.set(member, index);

    if (host.watts.peak < host.watts.idle) {
      issues.push({ path: `${at}.watts.peak`, message: `must be at least idle (${host.watts.idle}), got ${host.watts.peak}` });
    }
    for (const kind of ['wake', 'park'] as const) {
      const method = host[kind];
      if (method.fallback && settingsKey(method.fallback) === settingsKey(method)) {
        issues.push({ path: `${at}.${kind}.fallback`, message: 'is the same method with the same settings; a fallback must be another way' });
      }
    }
  });
  return issues;
}
