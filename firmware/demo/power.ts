// The demo's power management: the `power` section every simulated router gets, drivers that
// park and wake the simulated backends (WoL and SSH suspend standing in, on the demo's clock),
// and demand the operator sets (`load N`) as tracked flows spread over the table's members, as
// the kernel would show them. Nothing leaves the process.

import type { SimBackends } from '../balancer/fake.js';
import type { ConntrackPort, TrackedFlow } from '../balancer/conntrack.js';
import type { Clock } from '../os/clock.js';
import type { DriverHost, DriverResult, PowerDriver } from '../power/driver.js';
import type { DriverFactory } from '../power/targets.js';
import type { PowerStatus } from '../power/status.js';

/** Seconds a simulated backend takes to come up after a magic packet, and to go down after suspend. */
export const DEMO_WAKE_SECONDS = 6;
export const DEMO_PARK_SECONDS = 3;

/** The demo's power section: the first VIP group's master acts; three backends of 100 connections each. */
export function demoPowerSection(backends: readonly string[]): Record<string, unknown> {
  const watts = [
    { idle: 45, peak: 95, parked: 3 },
    { idle: 55, peak: 120, parked: 4 },
    { idle: 70, peak: 160, parked: 5 },
  ];
  return {
    vhid: 42,
    intervalSeconds: 5,
    policy: { spares: 1, minAwake: 1, maxCyclesPerDay: 6, minAwakeSeconds: 30, minParkedSeconds: 30, targetUtilisation: 0.8, drainTimeoutSeconds: 10 },
    pools: [{ name: 'web', unit: 'connections' }],
    hosts: backends.map((address, i) => ({
      name: `web-${i + 1}`,
      pool: 'web',
      address,
      mac: `02:00:5e:10:00:${(0x31 + i).toString(16)}`,
      capacity: 100,
      watts: watts[i % watts.length],
      wake: { method: 'wol', seconds: 10 },
      park: { method: 'ssh', seconds: 5 },
    })),
  };
}

/** WoL and SSH over the simulated backends: the backend stops or starts after the method's delay. */
export function demoPowerDrivers(backends: SimBackends, clock: Clock): DriverFactory {
  const after = (seconds: number, act: () => void): DriverResult => {
    clock.setTimer(seconds * 1000, act);
    return { ok: true, detail: 'simulated' };
  };
  const wol: PowerDriver = {
    method: 'wol',
    wake: async (host: DriverHost) => after(DEMO_WAKE_SECONDS, () => backends.start(host.address)),
  };
  const ssh: PowerDriver = {
    method: 'ssh',
    park: async (host: DriverHost) => after(DEMO_PARK_SECONDS, () => backends.stop(host.address)),
  };
  return (config) => {
    if (config.method === 'wol') return { ok: true, driver: wol };
    if (config.method === 'ssh') return { ok: true, driver: ssh };
    return { ok: false, detail: `the demo simulates wol and ssh only, not ${config.method}` };
  };
}

/** `load N`: N open connections through the VIP, spread over whatever the table holds now. */
export class DemoDemand implements ConntrackPort {
  level = 40;

  constructor(private readonly members: () => readonly string[]) {}

  async redirected(): Promise<TrackedFlow[]> {
    const members = [...new Set(this.members())];
    if (members.length === 0) return [];
    return Array.from({ length: this.level }, (_, i) => ({ key: `client:${i}`, backend: members[i % members.length]! }));
  }
}

/** The demo's `power` line(s): what the node acting for power (MASTER of vhid 42) reports. */
export function renderDemoPower(statuses: readonly { node: string; power?: PowerStatus }[]): string[] {
  const acting = statuses.find((s) => s.power?.acting);
  if (!acting?.power) return ['power: no node acts yet (it follows the MASTER of vhid 42)'];
  const p = acting.power;
  const demand = p.pools.map((pool) => `${pool.name} ${pool.demand ?? '-'} ${pool.unit}`).join(', ');
  const hosts = p.hosts.map((h) => `${h.name} ${h.state}${h.pinned ? ' (pinned)' : ''}`).join(', ');
  const e = p.energy;
  const last = p.decisions[p.decisions.length - 1];
  return [
    `power (acting: ${acting.node}): demand ${demand}; ${hosts}; saved ${e.savedKWh.toFixed(4)} kWh of ${e.alwaysOnKWh.toFixed(4)} (${(e.savedFraction * 100).toFixed(1)}%)`,
    ...(last ? [`  last decision: ${last.action} ${last.host}: ${last.reason}`] : []),
  ];
}
