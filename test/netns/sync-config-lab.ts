// A CARP pair of real Tandem daemons (the built bundle) with a firewall and `sync.config`, for the
// config-sync netns test and the config-push benchmark: config files the test edits and SIGHUPs,
// fingerprints read from each node's own status and pinned the way an admin would.

import type { ChildProcess } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Status } from '../../firmware/daemon.js';
import type { Lab, HostRef } from './lab.js';
import { eventually } from './lab.js';
import { DaemonProcess, type Workdir } from './peers.js';

export const SYNC_PORT = 7443;

export type NodeConfig = Record<string, unknown> & {
  firewall: Record<string, unknown> & { zones: Record<string, { interfaces: string[]; addresses?: string[] }>; rules: Record<string, unknown>[] };
  sync: { config: Record<string, unknown> & { peers: { name: string; address: string; port?: number; fingerprint?: string }[]; psk?: string } };
};

/** A node's config: one CARP vhid on eth0, the wan zone, the rules that keep CARP and sync reachable. */
export function syncNodeConfig(name: string, dir: string, self: string, peer: { name: string; address: string }, advskew: number): NodeConfig {
  return {
    node: { name, stateDir: join(dir, 'state') },
    control: { socket: join(dir, 'control.sock') },
    log: { level: 'debug' },
    carp: [{ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret', advbase: 1, advskew }],
    firewall: {
      zones: { wan: { interfaces: ['eth0'], addresses: [`${self}/24`] } },
      ha: { managementZone: 'wan' },
      rules: [
        { action: 'pass', direction: 'in', on: 'wan', proto: 'tcp', to: { self: true, port: SYNC_PORT }, label: 'config sync' },
        { action: 'pass', direction: 'in', on: 'wan', proto: 'tcp', to: { self: true, port: 22 } },
      ],
    },
    sync: { config: { vhid: 42, address: self, port: SYNC_PORT, peers: [{ name: peer.name, address: peer.address, port: SYNC_PORT }], checkSeconds: 2, retrySeconds: 1, timeoutSeconds: 3 } },
  };
}

export type SyncStatus = NonNullable<NonNullable<Status['sync']>['config']>;

export class SyncNode extends DaemonProcess {
  private constructor(
    name: string,
    child: ChildProcess,
    socket: string,
    readonly configPath: string,
    public config: NodeConfig,
  ) {
    super(name, child, socket);
  }

  static async start(lab: Lab, host: HostRef, work: Workdir, config: NodeConfig): Promise<SyncNode> {
    const name = (config.node as { name: string }).name;
    const dir = work.file(name);
    await mkdir(dir, { recursive: true });
    const socket = (config.control as { socket: string }).socket;
    const node = await DaemonProcess.launch(lab, host, dir, config, socket, (child, path) => new SyncNode(name, child, socket, path, config));
    // The control socket answers before the daemon has started; config sync starts after CARP.
    if (config.sync) await eventually(`${name} to listen for config pushes`, async () => ((await node.status()).sync?.config?.listening ? true : undefined), 10_000);
    return node;
  }

  async sync(): Promise<SyncStatus> {
    const status = (await this.status()).sync?.config;
    if (!status) throw new Error(`${this.name} shows no sync.config status`);
    return status;
  }

  /** Writes the edited config and sends SIGHUP, as an admin would after editing the file. */
  async edit(change: (config: NodeConfig) => void): Promise<void> {
    change(this.config);
    await writeFile(this.configPath, JSON.stringify(this.config, null, 2));
    this.child.kill('SIGHUP');
  }

  async waitForState(state: 'MASTER' | 'BACKUP', timeoutMs = 8000): Promise<void> {
    await eventually(`${this.name} vhid 42 to be ${state}`, async () => ((await this.status()).carp.find((v) => v.vhid === 42)?.state === state ? true : undefined), timeoutMs);
  }

  async waitForHash(hash: string, timeoutMs = 10_000): Promise<void> {
    await eventually(`${this.name} to hold shared hash ${hash.slice(0, 12)}`, async () => ((await this.sync()).hash === hash ? true : undefined), timeoutMs);
  }
}

/** Starts both nodes, reads each one's certificate fingerprint from its status and pins it on the other. */
export async function startPinnedPair(lab: Lab, work: Workdir): Promise<{ master: SyncNode; backup: SyncNode }> {
  const a = lab.host(1);
  const b = lab.host(2);
  const master = await SyncNode.start(lab, 1, work, syncNodeConfig('fw-a', work.file('fw-a'), a.ipv4, { name: 'fw-b', address: b.ipv4 }, 0));
  await master.waitForState('MASTER');
  const backup = await SyncNode.start(lab, 2, work, syncNodeConfig('fw-b', work.file('fw-b'), b.ipv4, { name: 'fw-a', address: a.ipv4 }, 100));
  const [fa, fb] = [(await master.sync()).fingerprint!, (await backup.sync()).fingerprint!];
  await backup.edit((c) => (c.sync.config.peers[0]!.fingerprint = fa));
  await master.edit((c) => (c.sync.config.peers[0]!.fingerprint = fb));
  return { master, backup };
}
