// `tandem demo` (what `npm start` runs): three simulated routers running real CARP over the
// in-memory segment, each balancing a health-checked pool of three simulated web servers, with
// a terminal view and a command prompt to stop, crash, cut and partition nodes (and stop, drain
// or cut off backends) and watch the cluster react; the web UI serves each node's console on its
// own loopback address (web.ts). Sends nothing to any network; needs no root.

import { createInterface } from 'node:readline';
import { systemClock } from '../os/clock.js';
import { SimCluster, demoConfigs } from './cluster.js';
import { startDemoBroker, type DemoBroker } from './broker.js';
import type { PoolStatus } from '../balancer/service.js';
import { renderDemoPower } from './power.js';

const HELP = `commands:
  stop NODE | crash NODE | start NODE     graceful stop (bow out), kill -9, start again
  cut NODE | plug NODE                    take a node's link down / up
  partition A,B C                         split the segment into groups (comma-separated)
  heal                                    rejoin the segment
  maintenance NODE on|off                 persistent maintenance (advskew 254 + demote)
  failover NODE                           the node bows out of every group it is master of
  demote NODE N | demote NODE reset       change a node's demotion
  backend stop|start web-N                a backend's service stops / starts (every router's checks see it)
  backend cut|restore NODE                a router loses / regains its way to the backends: its pool
                                          goes down and it demotes, so a peer takes the VIPs
  drain web-N | undrain web-N             no new connections to a backend / back in service
  telemetry on|off                        print what the nodes publish to the demo's MQTT broker
                                          (retained state first, then live), as mosquitto_sub -v
  load N                                  N connections through the VIP: the MASTER of vhid 42
                                          parks backends that demand does not need, wakes them
  pin web-N on|off                        keep a backend awake whatever the demand
  status | help | quit
nodes may be named fw-a or just a`;

/** The broker's messages as `mosquitto_sub -v` prints them, while the operator wants them. */
class TelemetryView {
  printing = false;
  private readonly retained = new Map<string, string>();

  constructor(broker: DemoBroker) {
    broker.onMessage((topic, payload, retain) => {
      if (retain) this.retained.set(topic, payload);
      if (this.printing) process.stdout.write(`${topic} ${payload}\n`);
    });
  }

  set(on: boolean): void {
    if (on && !this.printing) for (const [topic, payload] of this.retained) process.stdout.write(`${topic} ${payload}\n`);
    this.printing = on;
  }
}

export async function runDemo(): Promise<number> {
  // Telemetry with zero setup: an in-process broker on loopback that every simulated node reports to.
  const broker = await startDemoBroker();
  const { LinuxMqttPort } = await import('../telemetry/mqtt-linux.js');
  // Loaded before the nodes start, so the first node's start is not the one that pays for it:
  // the nodes start one after another, and a slow first start would skew their CARP timers.
  await import('../telemetry/service.js');
  // aedes speaks 3.1.1 only: say so rather than have every node try 5 first.
  const telemetry = { mqtt: { url: broker.url, protocol: '3.1.1', keepaliveSeconds: 10, reconnectMaxSeconds: 5 }, metricsIntervalSeconds: 10 };
  const cluster = new SimCluster(systemClock, demoConfigs(undefined, undefined, telemetry, true), undefined, new LinuxMqttPort(systemClock));
  const view = new TelemetryView(broker);
  const interactive = process.stdout.isTTY === true;
  cluster.onEvent((event) => {
    const time = new Date(event.at).toISOString().slice(11, 23);
    process.stdout.write(`${time} ${event.node.padEnd(8)} ${event.text}\n`);
  });
  process.stdout.write(`Tandem demo: ${cluster.nodes.size} simulated routers on one in-memory segment.\n${HELP}\n`);
  process.stdout.write(`telemetry: MQTT broker (aedes) on ${broker.url}; watch it with \`telemetry on\` or mosquitto_sub -h 127.0.0.1 -p ${broker.port} -v -t 'tandem/#'\n\n`);
  await cluster.startAll();
  // The web UI over the same simulated nodes: one console per node, on its own loopback address.
  const { startDemoWeb } = await import('./web.js');
  const web = await startDemoWeb(cluster);
  process.stdout.write(
    `web UI: ${Object.entries(web.urls).map(([name, url]) => `${name} ${url}`).join('  ')}\n` +
      `        log in as ${web.user}, password ${web.password}${web.ui ? '' : ' (the UI is not built: npm run build; the API answers meanwhile)'}\n\n`,
  );

  const printStatus = () => process.stdout.write(renderStatus(cluster) + '\n');
  setTimeout(printStatus, 4000).unref();

  const lines = createInterface({ input: process.stdin, output: process.stdout, terminal: interactive });
  if (interactive) {
    lines.setPrompt('tandem> ');
    lines.prompt();
  }
  return new Promise<number>((resolve) => {
    let done = false;
    const finish = async () => {
      if (done) return;
      done = true;
      lines.close();
      await web.close();
      await cluster.stopAll();
      await broker.close();
      resolve(0);
    };
    process.once('SIGINT', () => void finish());
    process.once('SIGTERM', () => void finish());
    lines.on('line', (line) => {
      void (async () => {
        try {
          const quit = await runCommand(cluster, line.trim(), printStatus, view);
          if (quit) return finish();
        } catch (error) {
          process.stdout.write(`error: ${(error as Error).message}\n`);
        }
        if (interactive) lines.prompt();
      })();
    });
    // With stdin closed (not a terminal), keep running until a signal arrives.
  });
}

async function runCommand(cluster: SimCluster, line: string, printStatus: () => void, view: TelemetryView): Promise<boolean> {
  const [verb, ...args] = line.split(/\s+/).filter(Boolean);
  const need = (n: number) => {
    if (args.length < n) throw new Error(`${verb} needs ${n} argument(s); type help`);
  };
  switch (verb) {
    case undefined:
      return false;
    case 'quit':
    case 'exit':
      return true;
    case 'help':
      process.stdout.write(HELP + '\n');
      return false;
    case 'status':
      printStatus();
      return false;
    case 'stop':
      need(1);
      await cluster.stop(args[0]!);
      return false;
    case 'crash':
    case 'kill':
      need(1);
      await cluster.crash(args[0]!);
      return false;
    case 'start':
      need(1);
      await cluster.start(args[0]!);
      return false;
    case 'cut':
      need(1);
      cluster.setLink(args[0]!, false);
      return false;
    case 'plug':
      need(1);
      cluster.setLink(args[0]!, true);
      return false;
    case 'partition':
      need(2);
      cluster.partition(args.map((group) => group.split(',')));
      return false;
    case 'heal':
      cluster.heal();
      return false;
    case 'maintenance': {
      need(2);
      const daemon = running(cluster, args[0]!);
      await daemon.setMaintenance(args[1] === 'on');
      return false;
    }
    case 'failover': {
      need(1);
      const daemon = running(cluster, args[0]!);
      await daemon.handle({ cmd: 'failover' });
      return false;
    }
    case 'demote': {
      need(2);
      const daemon = running(cluster, args[0]!);
      if (args[1] === 'reset') await daemon.handle({ cmd: 'demote', reset: true });
      else await daemon.handle({ cmd: 'demote', by: Number(args[1]) });
      return false;
    }
    case 'backend': {
      need(2);
      const [action, target] = [args[0]!, args[1]!];
      if (action === 'stop' || action === 'start') cluster.setBackend(target, action === 'start');
      else if (action === 'cut' || action === 'restore') cluster.setBackendsReachable(target, action === 'restore');
      else throw new Error('backend stop|start web-N, or backend cut|restore NODE');
      return false;
    }
    case 'drain':
    case 'undrain':
      need(1);
      await cluster.setBackendDrained(args[0]!, verb === 'drain');
      return false;
    case 'load': {
      const n = Number(args[0]);
      if (!Number.isInteger(n) || n < 0 || n > 1000) throw new Error('load N (0-1000 connections)');
      cluster.setLoad(n);
      return false;
    }
    case 'pin': {
      need(2);
      const acting = cluster.statuses().find((s) => s.status?.power?.acting);
      if (!acting) throw new Error('no node acts for power yet');
      const reply = await running(cluster, acting.name).handle({ cmd: 'power-pin', host: args[0]!, on: args[1] === 'on' });
      if (!reply.ok) throw new Error(reply.error);
      return false;
    }
    case 'telemetry':
      if (args[0] !== 'on' && args[0] !== 'off') throw new Error('telemetry on|off');
      view.set(args[0] === 'on');
      return false;
    default:
      throw new Error(`unknown command ${verb}; type help`);
  }
}

function running(cluster: SimCluster, name: string) {
  const node = cluster.node(name);
  if (!node.daemon?.isRunning) throw new Error(`${node.name} is not running`);
  return node.daemon;
}

function pool(status: PoolStatus | undefined): string {
  if (!status) return '-';
  const serving = status.hosts.filter((h) => h.state === 'up').length;
  const others = status.hosts.filter((h) => h.state !== 'up').map((h) => `${h.id} ${h.state}`);
  const table = status.redirect ? ` [${[...new Set(status.redirect.members)].map((m) => m.split('.').pop()).join(' ')}]` : '';
  return `${status.state.toUpperCase()} ${serving}/${status.hosts.length}${table}${others.length ? `  ${others.join(', ')}` : ''}`;
}

export function renderStatus(cluster: SimCluster): string {
  const rows = ['node     process  link  demote  vhid 42        vhid 43         pool web (firewall table)'];
  for (const s of cluster.statuses()) {
    const vh = (vhid: number) => {
      const v = s.status?.carp.find((c) => c.vhid === vhid);
      return v ? `${v.state.padEnd(6)} skew ${String(v.advskew).padStart(3)}` : '-'.padEnd(15);
    };
    rows.push(
      `${s.name.padEnd(8)} ${(s.running ? 'running' : 'stopped').padEnd(8)} ${(s.linkUp ? 'up' : 'DOWN').padEnd(5)} ` +
        `${String(s.status?.demotion.total ?? '-').padEnd(7)} ${vh(42)} ${vh(43)}  ${pool(s.status?.pools[0])}`,
    );
  }
  const hosts = cluster.statuses().find((s) => s.status)?.status?.pools[0]?.hosts ?? [];
  if (hosts.length > 0) {
    rows.push(`backends: ${hosts.map((h) => `${h.id} ${h.address} ${cluster.backends.isRunning(h.address) ? 'running' : 'STOPPED'}`).join(', ')}`);
  }
  const reach = Object.entries(cluster.reachability())
    .map(([vip, node]) => `${vip} -> ${node ?? 'UNREACHABLE'}`)
    .join('   ');
  rows.push(`client reaches: ${reach}`);
  if (cluster.statuses().some((s) => s.status?.power)) rows.push(...renderDemoPower(cluster.statuses().map((s) => ({ node: s.name, ...(s.status?.power ? { power: s.status.power } : {}) }))));
  return rows.join('\n');
}
