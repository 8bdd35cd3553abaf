// A pair of real Daemons on fakes for the API route tests: one simulated segment, an in-memory
// nftables, simulated pool backends with the demo's power drivers, a FakeClock, and each node's
// config as a file in its MemoryFileStore (so config apply has a file to write), plus the
// ApiBackend each daemon gives the API, wired as the daemon's own API service wires it.

import { strict as assert } from 'node:assert';

import { parseConfig } from '../../../firmware/config/load.js';
import { Daemon } from '../../../firmware/daemon.js';
import { DEMO_BACKENDS } from '../../../firmware/demo/cluster.js';
import { demoPowerDrivers, demoPowerSection, DemoDemand } from '../../../firmware/demo/power.js';
import { FakeRelays, MemoryTableUpdater, SimBackends } from '../../../firmware/balancer/fake.js';
import type { StampedEvent } from '../../../firmware/events.js';
import { FakeNft } from '../../../firmware/firewall/fake.js';
import { createLogger } from '../../../firmware/log.js';
import { Segment } from '../../../firmware/net/segment.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { MemoryFileStore } from '../../../firmware/os/files.js';
import { FakeProcessRunner } from '../../../firmware/os/process.js';
import type { ApiBackend, ApiRequest, ApiResponse, HttpMethod } from '../../../firmware/api/types.js';
import { routes } from '../../../firmware/api/routes.js';

export const CONFIG_PATH = '/cfg/tandem.yaml';
export const STATE_DIR = '/var/lib/tandem';
export const VIP = '198.51.100.100/24';

export interface LabOptions {
  power?: boolean;
  firewall?: boolean;
}

/** The node's config as JSON text (YAML 1.2 reads it): CARP, a redirect pool, a firewall, power. */
export function labConfig(name: string, advskew: number, options: LabOptions = {}): Record<string, unknown> {
  return {
    node: { name, stateDir: STATE_DIR },
    carp: [{ vhid: 42, interface: 'eth0', addresses: [VIP], password: 'labsecret', advskew }],
    ...(options.firewall === false
      ? {}
      : {
          firewall: {
            zones: { wan: { interfaces: ['eth0'] }, lan: { interfaces: ['eth1'], networks: ['198.51.100.0/24'] } },
            rules: [{ on: 'lan', proto: 'tcp', to: { port: 22 }, action: 'pass' }],
            forwards: [{ on: 'wan', proto: 'tcp', to: { vip: 42, port: 80 }, rdrTo: { table: 'web', port: 80 } }],
          },
        }),
    balancer: {
      pools: [
        {
          name: 'web',
          port: 80,
          hosts: DEMO_BACKENDS.map((address, i) => ({ address, name: `web-${i + 1}` })),
          check: { type: 'tcp', intervalSeconds: 1, timeoutSeconds: 0.5, downAfter: 1, upAfter: 1 },
          redirect: { table: 'web' },
        },
      ],
    },
    ...(options.power ? { power: demoPowerSection(DEMO_BACKENDS) } : {}),
  };
}

export interface LabNode {
  name: string;
  daemon: Daemon;
  files: MemoryFileStore;
  nft: FakeNft;
  backend: ApiBackend;
  events: StampedEvent[];
}

export function lab(options: LabOptions = { power: true }) {
  const clock = new FakeClock();
  const segment = new Segment(clock, { seed: 5 });
  segment.attach('client', { addresses: ['198.51.100.50/24'] });
  const backends = new SimBackends();
  const log = createLogger('error', () => undefined);
  const nodes: LabNode[] = [];

  function node(name: string, advskew: number, text = JSON.stringify(labConfig(name, advskew, options), null, 2) + '\n'): LabNode {
    segment.attach(name, { addresses: [`198.51.100.${11 + nodes.length}/24`] });
    const host = segment.host(name);
    const files = new MemoryFileStore();
    files.files.set(CONFIG_PATH, text);
    const parsed = parseConfig(text);
    assert.ok(parsed.ok, JSON.stringify(!parsed.ok && parsed.issues));
    const nft = new FakeNft();
    const tables = new MemoryTableUpdater();
    const daemon = new Daemon(
      parsed.config,
      {
        clock,
        files,
        processes: new FakeProcessRunner(),
        packets: host,
        addresses: host,
        announcer: host,
        links: host,
        log: log.child({ node: name }),
        nft,
        tables,
        healthChecks: backends.checksFor(name),
        relays: new FakeRelays(),
        conntrack: new DemoDemand(() => tables.members('web') ?? []),
        powerDrivers: demoPowerDrivers(backends, clock),
        configFile: CONFIG_PATH,
      },
      async () => parseConfig((await files.read(CONFIG_PATH)) ?? ''),
    );
    const backend: ApiBackend = {
      status: () => daemon.status(),
      handle: (request) => daemon.handle(request),
      events: daemon.events,
      config: daemon.configApply!,
      configApply: daemon.configApply!,
      firewallPolicy: () => daemon.firewall.policy,
      clock,
      metrics: async () => (await import('../../../firmware/telemetry/prometheus.js')).renderPrometheus(await daemon.metrics.snapshot()),
    };
    const events: StampedEvent[] = [];
    daemon.events.on((event) => events.push(event));
    const made = { name, daemon, files, nft, backend, events };
    nodes.push(made);
    return made;
  }

  async function stop(): Promise<void> {
    for (const n of nodes) await n.daemon.stop();
  }

  return { clock, segment, backends, node, nodes, stop };
}

/** Calls the route table's handler for `method path` as the server would, after its checks. */
export async function call(backend: ApiBackend, method: HttpMethod, path: string, body?: unknown): Promise<ApiResponse> {
  const route = routes.find((r) => r.method === method && r.path === path);
  assert.ok(route, `no route ${method} ${path}`);
  const request: ApiRequest = { method, path, query: new URLSearchParams(), body, remote: '127.0.0.1', user: 'admin' };
  return route.handle(request, backend);
}

/** The JSON of an error reply: `{ error, path?, issues? }`, checked for its shape. */
export function errorOf(response: ApiResponse): { error: string; path?: string; issues?: { path: string; message: string; line?: number }[] } {
  const json = response.json as { error?: unknown; path?: unknown; issues?: unknown };
  assert.equal(typeof json.error, 'string', `not an error reply: ${JSON.stringify(json)}`);
  for (const key of Object.keys(json)) assert.ok(['error', 'path', 'issues'].includes(key), `unexpected key ${key} in an error reply`);
  if (json.path !== undefined) assert.equal(typeof json.path, 'string');
  return json as { error: string; path?: string };
}
