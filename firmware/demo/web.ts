// The demo's web side: one ApiBackend per simulated router (its Daemon's status, commands,
// events and config), so the web UI runs on the simulated cluster exactly as on a real node.
// Each node's bus outlives its Daemon: a crash and restart keep the page's live stream.

import { stringify } from 'yaml';
import { EventBus } from '../events.js';
import type { ApiBackend } from '../api/types.js';
import { createLogger } from '../log.js';
import { SIM_CONFIG_FILE, type SimCluster } from './cluster.js';

/** The console of one simulated node; a stopped node answers like a daemon that is not there. */
export function demoBackend(cluster: SimCluster, name: string): ApiBackend {
  const node = cluster.node(name);
  const events = new EventBus(() => cluster.clock.now(), createLogger('error', () => undefined));
  cluster.onDaemon((started, daemon) => {
    if (started === node) daemon.events.on((event) => events.emit(event));
  });
  const running = () => (node.daemon?.isRunning ? node.daemon : undefined);
  let downSince = cluster.clock.now();
  cluster.onEvent((event) => {
    if (event.node === node.name && /^(crashed|stopped)/.test(event.text)) downSince = event.at;
  });
  return {
    // The live stream asks for the status on a timer, so a stopped node must still answer: a
    // node whose daemon is not running takes no part in CARP, so every VHID reads INIT from its
    // stop on (a crashed Daemon's own status would still say MASTER).
    status() {
      const daemon = running();
      if (daemon) return daemon.status();
      if (!node.daemon) throw new Error(`${node.name} has not started yet`);
      const last = node.daemon.status();
      const since = new Date(downSince).toISOString();
      return { ...last, uptimeSeconds: 0, carp: last.carp.map((v) => ({ ...v, state: 'INIT' as const, since })) };
    },
    async handle(request) {
      const daemon = running();
      if (!daemon) return { ok: false, error: `${node.name} is not running (demo: start it from the demo panel)` };
      return daemon.handle(request);
    },
    events,
    config: {
      // The simulated node's config file (cluster.ts writes it before the first start).
      read: async () => ({ path: SIM_CONFIG_FILE, text: (await node.files.read(SIM_CONFIG_FILE)) ?? stringify(node.config) }),
    },
    // The running Daemon's, so an apply that is not confirmed reverts as on a real node.
    get configApply() {
      return running()?.configApply;
    },
    firewallPolicy: () => running()?.firewall.policy,
    clock: cluster.clock,
  };
}
