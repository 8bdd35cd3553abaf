// The simulated cluster behind `tandem demo` and many tests: N real Daemon instances in one
// process, each wired to fakes on one in-memory segment (no root, nothing sent to any
// network), plus the operator's verbs — stop, crash, start, cut a link, partition, heal.

import { stringify } from 'yaml';
import type { TandemConfig } from '../config/schema.js';
import { Daemon, type Status } from '../daemon.js';
import { createLogger, type Logger } from '../log.js';
import type { Clock } from '../os/clock.js';
import { MemoryFileStore } from '../os/files.js';
import { FakeProcessRunner } from '../os/process.js';
import { Segment } from '../net/segment.js';
import { validate } from '../config/kit.js';
import { configSchema } from '../config/schema.js';
import { FakeRelays, MemoryTableUpdater, SimBackends } from '../balancer/fake.js';
import type { MqttPort } from '../telemetry/mqtt.js';
import { DemoDemand, demoPowerDrivers, demoPowerSection } from './power.js';

export interface ClusterEvent {
  at: number;
  node: string;
  text: string;
}

export interface SimNode {
  name: string;
  address: string;
  config: TandemConfig;
  files: MemoryFileStore;
  hooks: FakeProcessRunner;
  /** The node's firewall tables, as its balancer last wrote them. */
  tables: MemoryTableUpdater;
  /** The connections through the VIP as this node's conntrack shows them (`load N`). */
  demand: DemoDemand;
  daemon: Daemon | undefined;
}

/** Where each simulated node's config file lives, in its own in-memory file store. */
export const SIM_CONFIG_FILE = '/cfg/tandem.yaml';

/** A plain host on the segment standing for the LAN's clients. */
export const CLIENT = 'client';

export const DEMO_VIPS = ['198.51.100.100/24', '198.51.100.101/24'];

/** The simulated web servers behind the routers' pool `web`. */
export const DEMO_BACKENDS = ['198.51.100.31', '198.51.100.32', '198.51.100.33'];

/**
 * Three routers, two VIP groups, skews arranged so that each group prefers a different node;
 * with `telemetry`, each also reports to that broker (the demo's in-process one).
 */
export function demoConfigs(names = ['fw-a', 'fw-b', 'fw-c'], advbase = 1, telemetry?: Record<string, unknown>, power = false): TandemConfig[] {
  return names.map((name, index) => {
    const raw = {
      node: { name, stateDir: '/cfg/state' },
      control: { socket: `/run/tandem/${name}.sock` },
      carp: [
        { vhid: 42, interface: 'eth0', addresses: [DEMO_VIPS[0]], password: 'labsecret', advbase, advskew: index * 50 },
        {
          vhid: 43,
          interface: 'eth0',
          addresses: [DEMO_VIPS[1]],
          password: 'labsecret',
          advbase,
          advskew: ((index + names.length - 1) % names.length) * 50,
        },
      ],
      hooks: { master: '/cfg/hooks/master.sh', backup: '/cfg/hooks/backup.sh' },
      ...(telemetry ? { telemetry } : {}),
      // With `power`, the MASTER of vhid 42 parks and wakes the simulated backends.
      ...(power ? { power: demoPowerSection(DEMO_BACKENDS) } : {}),
      balancer: {
        pools: [
          {
            name: 'web',
            port: 80,
            hosts: DEMO_BACKENDS.map((address, i) => ({ address, name: `web-${i + 1}` })),
            check: { type: 'http', path: '/health', intervalSeconds: 2, timeoutSeconds: 1, downAfter: 3, upAfter: 2 },
            redirect: { table: 'web' },
          },
        ],
      },
    };
    const { value, issues } = validate(configSchema, raw);
    if (!value) throw new Error(`demo config: ${issues.map((i) => `${i.path}: ${i.message}`).join('; ')}`);
    return value;
  });
}

export class SimCluster {
  readonly segment: Segment;
  readonly nodes = new Map<string, SimNode>();
  readonly events: ClusterEvent[] = [];
  /** The pool's backends; checks answer from them, nothing is sent anywhere. */
  readonly backends = new SimBackends();
  private readonly listeners: ((event: ClusterEvent) => void)[] = [];
  private readonly daemonListeners: ((node: SimNode, daemon: Daemon) => void)[] = [];

  constructor(
    readonly clock: Clock,
    configs: TandemConfig[],
    private readonly log: Logger = createLogger('error', () => undefined),
    /** Telemetry's MQTT for every node (the demo's broker); nodes without `telemetry` ignore it. */
    private readonly mqtt?: MqttPort,
  ) {
    this.segment = new Segment(clock, { seed: 7 });
    this.segment.attach(CLIENT, { addresses: ['198.51.100.50/24'] });
    configs.forEach((config, index) => {
      const address = `198.51.100.${11 + index}/24`;
      this.segment.attach(config.node.name, { addresses: [address] });
      const tables = new MemoryTableUpdater();
      this.nodes.set(config.node.name, {
        name: config.node.name,
        address,
        config,
        files: new MemoryFileStore(),
        hooks: new FakeProcessRunner(),
        tables,
        demand: new DemoDemand(() => tables.members('web') ?? []),
        daemon: undefined,
      });
    });
  }

  onEvent(listener: (event: ClusterEvent) => void): void {
    this.listeners.push(listener);
  }

  /** Called with each new Daemon before it starts, so its first events can be relayed (the web demo's buses). */
  onDaemon(listener: (node: SimNode, daemon: Daemon) => void): void {
    this.daemonListeners.push(listener);
    // A listener that comes after startAll() (the demo starts its web consoles then) also hears
    // the daemons already running, or their events would reach it only after a restart.
    for (const node of this.nodes.values()) if (node.daemon?.isRunning) listener(node, node.daemon);
  }

  private record(node: string, text: string): void {
    const event = { at: this.clock.now(), node, text };
    this.events.push(event);
    if (this.events.length > 200) this.events.shift();
    for (const listener of this.listeners) listener(event);
  }

  node(name: string): SimNode {
    const node = this.nodes.get(name) ?? [...this.nodes.values()].find((n) => n.name.endsWith(`-${name}`) || n.name === `fw-${name}`);
    if (!node) throw new Error(`no node ${name} (nodes: ${[...this.nodes.keys()].join(', ')})`);
    return node;
  }

  async start(name: string): Promise<void> {
    const node = this.node(name);
    if (node.daemon?.isRunning) throw new Error(`${node.name} is already running`);
    const host = this.segment.host(node.name);
    // The node's config as a file in its simulated store, so the web UI's config apply works.
    if ((await node.files.read(SIM_CONFIG_FILE)) === undefined) await node.files.writeAtomic(SIM_CONFIG_FILE, stringify(node.config));
    const daemon = new Daemon(node.config, {
      configFile: SIM_CONFIG_FILE,
      clock: this.clock,
      files: node.files,
      processes: node.hooks,
      packets: host,
      addresses: host,
      announcer: host,
      links: host,
      log: this.log.child({ node: node.name }),
      healthChecks: this.backends.checksFor(node.name),
      relays: new FakeRelays(),
      tables: node.tables,
      ...(this.mqtt ? { mqtt: this.mqtt } : {}),
      ...(node.config.power ? { conntrack: node.demand, powerDrivers: demoPowerDrivers(this.backends, this.clock) } : {}),
    });
    daemon.events.on((event) => {
      if (event.type === 'powerAction') this.record(node.name, `power: ${event.action} ${event.host} by ${event.method} ${event.outcome}${event.outcome === 'started' ? `: ${event.reason}` : event.detail ? ` (${event.detail})` : ''}`);
    });
    daemon.balancer.onEvent((event) => {
      if (event.type === 'poolChanged') this.record(node.name, `pool ${event.pool}: ${event.from} -> ${event.to}`);
      else if (event.from !== 'unknown') this.record(node.name, `pool ${event.pool}: ${event.host} ${event.from} -> ${event.to}${event.result ? ` (${event.result.outcome})` : ''}`);
    });
    daemon.carp.onStateChange((vhid, _iface, from, to, reason) => this.record(node.name, `vhid ${vhid}: ${from} -> ${to} (${reason})`));
    node.daemon = daemon;
    for (const listener of this.daemonListeners) listener(node, daemon);
    await daemon.start();
    this.record(node.name, 'started');
  }

  async startAll(): Promise<void> {
    for (const name of this.nodes.keys()) await this.start(name);
  }

  /** Graceful stop, as on SIGTERM: a master bows out and releases its addresses. */
  async stop(name: string): Promise<void> {
    const node = this.node(name);
    if (!node.daemon?.isRunning) throw new Error(`${node.name} is not running`);
    await node.daemon.stop();
    this.record(node.name, 'stopped');
  }

  /** kill -9: the process is gone, its addresses stay configured. */
  async crash(name: string): Promise<void> {
    const node = this.node(name);
    if (!node.daemon?.isRunning) throw new Error(`${node.name} is not running`);
    await node.daemon.crash();
    this.record(node.name, 'crashed (kill -9): addresses left configured');
  }

  setLink(name: string, up: boolean): void {
    const node = this.node(name);
    this.segment.host(node.name).setLink(up);
    this.record(node.name, `link ${up ? 'up' : 'down'}`);
  }

  partition(groups: string[][]): void {
    const resolved = groups.map((g) => g.map((n) => (n === CLIENT ? CLIENT : this.node(n).name)));
    // Clients stay with the first group unless the operator places them.
    if (!resolved.some((g) => g.includes(CLIENT))) resolved[0]?.push(CLIENT);
    this.segment.partition(...resolved);
    this.record('segment', `partitioned: ${resolved.map((g) => g.join('+')).join(' | ')}`);
  }

  /** `load N`: N connections through the VIP, as every router's conntrack would show them. */
  setLoad(connections: number): void {
    for (const node of this.nodes.values()) node.demand.level = connections;
    this.record('clients', `load ${connections} connections`);
  }

  /** A backend's service stops (every router's checks are refused) or starts again. */
  setBackend(name: string, running: boolean): void {
    const address = this.backendAddress(name);
    if (running) this.backends.start(address);
    else this.backends.stop(address);
    this.record('backend', `${name} ${running ? 'started' : 'stopped'}`);
  }

  /** A router loses (or regains) its way to every backend, as if its server LAN were cut. */
  setBackendsReachable(name: string, reachable: boolean): void {
    const node = this.node(name);
    this.backends.setReachable(node.name, reachable);
    this.record(node.name, `backend LAN ${reachable ? 'restored' : 'cut'}`);
  }

  /** Drains (or undrains) a backend on every running router, as `tandem balancer drain` does. */
  async setBackendDrained(name: string, drained: boolean): Promise<void> {
    const address = this.backendAddress(name);
    for (const node of this.nodes.values()) {
      if (!node.daemon?.isRunning) continue;
      const reply = await node.daemon.setDrained(address, drained);
      if (!reply.ok) throw new Error(`${node.name}: ${reply.error}`);
    }
    this.record('backend', `${name} ${drained ? 'drained' : 'back in service'}`);
  }

  private backendAddress(name: string): string {
    const index = /^web-(\d+)$/.exec(name)?.[1];
    const address = index !== undefined ? DEMO_BACKENDS[Number(index) - 1] : DEMO_BACKENDS.includes(name) ? name : undefined;
    if (!address) throw new Error(`no backend ${name} (backends: ${DEMO_BACKENDS.map((_, i) => `web-${i + 1}`).join(', ')})`);
    return address;
  }

  heal(): void {
    this.segment.heal();
    this.record('segment', 'healed');
  }

  async stopAll(): Promise<void> {
    for (const node of this.nodes.values()) if (node.daemon?.isRunning) await node.daemon.stop();
  }

  statuses(): { name: string; running: boolean; linkUp: boolean; status?: Status }[] {
    return [...this.nodes.values()].map((node) => ({
      name: node.name,
      running: node.daemon?.isRunning ?? false,
      linkUp: this.segment.host(node.name).linkUp,
      status: node.daemon?.isRunning ? node.daemon.status() : undefined,
    }));
  }

  /** Which node a client on the segment reaches at each VIP. */
  reachability(client = CLIENT): Record<string, string | undefined> {
    const vips = new Set<string>();
    for (const node of this.nodes.values()) for (const c of node.config.carp) for (const a of c.addresses) vips.add(a);
    return Object.fromEntries([...vips].map((vip) => [vip, this.segment.reach(client, vip)]));
  }

  masters(vhid: number): string[] {
    return this.statuses()
      .filter((s) => s.status?.carp.some((v) => v.vhid === vhid && v.state === 'MASTER'))
      .map((s) => s.name);
  }
}
