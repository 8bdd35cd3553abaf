// The simulated cluster behind `tandem demo` and many tests: N real Daemon instances in one
// process, each wired to fakes on one in-memory segment (no root, nothing sent to any
// network), plus the operator's verbs — stop, crash, start, cut a link, partition, heal.

import type { TandemConfig } from '../config/schema.js';
import { Daemon, type Status } from '../daemon.js';
import { createLogger, type Logger } from '../log.js';
import type { Clock } from '../os/clock.js';
import { MemoryFileStore } from '../os/files.js';
import { FakeProcessRunner } from '../os/process.js';
import { Segment } from '../net/segment.js';
import { validate } from '../config/kit.js';
import { configSchema } from '../config/schema.js';

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
  daemon: Daemon | undefined;
}

/** A plain host on the segment standing for the LAN's clients. */
export const CLIENT = 'client';

export const DEMO_VIPS = ['198.51.100.100/24', '198.51.100.101/24'];

/** Three routers, two VIP groups, skews arranged so that each group prefers a different node. */
export function demoConfigs(names = ['fw-a', 'fw-b', 'fw-c'], advbase = 1): TandemConfig[] {
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
  private readonly listeners: ((event: ClusterEvent) => void)[] = [];

  constructor(readonly clock: Clock, configs: TandemConfig[], private readonly log: Logger = createLogger('error', () => undefined)) {
    this.segment = new Segment(clock, { seed: 7 });
    this.segment.attach(CLIENT, { addresses: ['198.51.100.50/24'] });
    configs.forEach((config, index) => {
      const address = `198.51.100.${11 + index}/24`;
      this.segment.attach(config.node.name, { addresses: [address] });
      this.nodes.set(config.node.name, {
        name: config.node.name,
        address,
        config,
        files: new MemoryFileStore(),
        hooks: new FakeProcessRunner(),
        daemon: undefined,
      });
    });
  }

  onEvent(listener: (event: ClusterEvent) => void): void {
    this.listeners.push(listener);
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
    const daemon = new Daemon(node.config, {
      clock: this.clock,
      files: node.files,
      processes: node.hooks,
      packets: host,
      addresses: host,
      announcer: host,
      links: host,
      log: this.log.child({ node: node.name }),
    });
    daemon.carp.onStateChange((vhid, _iface, from, to, reason) => this.record(node.name, `vhid ${vhid}: ${from} -> ${to} (${reason})`));
    node.daemon = daemon;
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
