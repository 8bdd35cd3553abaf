// Wiring of config sync for the daemon: builds the service from `sync.config` and the ports, and
// answers the control commands `sync-status`, `sync-diff` and `sync-push` (`tandem sync ...`).

import type { TandemConfig } from '../config/schema.js';
import type { ControlReply } from '../control/protocol.js';
import type { TandemEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { Clock } from '../os/clock.js';
import type { FileStore } from '../os/files.js';
import type { ProcessRunner } from '../os/process.js';
import { ConfigSync } from './config-service.js';
import { lineDiff, prettyShared, sharedHash, withContext } from './config-shared.js';
import { LinuxInterfaces, type InterfacePort } from './peer-interfaces.js';

export interface ConfigSyncWiring {
  clock: Clock;
  files: FileStore;
  processes: ProcessRunner;
  log: Logger;
  configFile?: string | undefined;
  interfaces?: InterfacePort | undefined;
  carpState(vhid: number): string | undefined;
  apply(config: TandemConfig): Promise<void>;
  emit?(event: TandemEvent): void;
  localApplyPending?(): string | undefined;
}

export function createConfigSync(config: TandemConfig, wiring: ConfigSyncWiring): ConfigSync | undefined {
  const section = config.sync?.config;
  if (!section) return undefined;
  return new ConfigSync(config, section, {
    clock: wiring.clock,
    files: wiring.files,
    interfaces: wiring.interfaces ?? new LinuxInterfaces(wiring.processes),
    log: wiring.log,
    configFile: wiring.configFile,
    carpState: wiring.carpState,
    apply: wiring.apply,
    ...(wiring.emit ? { emit: wiring.emit } : {}),
    ...(wiring.localApplyPending ? { localApplyPending: wiring.localApplyPending } : {}),
  });
}

export type SyncRequest = { cmd: 'sync-status' } | { cmd: 'sync-diff' } | { cmd: 'sync-push'; force: boolean };

export interface SyncDiff {
  hash: string;
  peers: { name: string; hash?: string; error?: string; diff?: string[] }[];
}

export async function handleSyncRequest(sync: ConfigSync | undefined, request: SyncRequest): Promise<ControlReply> {
  if (!sync) return { ok: false, error: 'config sync is not configured (no `sync.config` section)' };
  switch (request.cmd) {
    case 'sync-status':
      return { ok: true, result: sync.status() };
    case 'sync-push':
      try {
        return { ok: true, result: await sync.pushNow(request.force) };
      } catch (error) {
        return { ok: false, error: (error as Error).message };
      }
    case 'sync-diff': {
      const mine = sync.localShared;
      const peers = await sync.fetchPeers();
      const result: SyncDiff = {
        hash: sharedHash(mine),
        peers: peers.map((p) => {
          if (!p.shared || !p.lineage) return { name: p.name, error: p.error ?? 'no answer' };
          // "-" lines are the peer's, "+" lines this node's: what a push from here would change there.
          const diff = p.lineage.hash === sharedHash(mine) ? [] : withContext(lineDiff(prettyShared(p.shared), prettyShared(mine)));
          return { name: p.name, hash: p.lineage.hash, diff };
        }),
      };
      return { ok: true, result };
    }
  }
}
