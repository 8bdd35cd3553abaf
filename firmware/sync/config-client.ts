// What `tandem sync status|diff|push [--force]` do: ask the running daemon over its control
// socket and print its answer as text (or JSON with --json).

import { configPathFrom, loadConfigFile } from '../config/load.js';
import { sendControl } from '../control/client.js';
import type { ControlRequest } from '../control/protocol.js';
import type { ConfigSyncStatus, PeerStatus } from './config-service.js';
import type { SyncDiff } from './config-wire.js';

export type SyncClientCommand =
  | { kind: 'sync-status'; json: boolean }
  | { kind: 'sync-diff'; json: boolean }
  | { kind: 'sync-push'; force: boolean; json: boolean };

export interface SyncClientOptions {
  config?: string | undefined;
  control?: string | undefined;
}

const DEFAULT_CONTROL = '/run/tandem/control.sock';

async function controlPath(options: SyncClientOptions): Promise<string> {
  if (options.control) return options.control;
  const result = await loadConfigFile(configPathFrom(options.config));
  return result.ok ? result.config.control.socket : DEFAULT_CONTROL;
}

function request(command: SyncClientCommand): ControlRequest {
  if (command.kind === 'sync-push') return { cmd: 'sync-push', force: command.force };
  return { cmd: command.kind };
}

export function formatPeer(p: PeerStatus): string {
  const hash = p.hash ? `  hash ${p.hash.slice(0, 12)} gen ${p.generation ?? '?'}` : '';
  return `  peer ${p.name} (${p.address}): ${p.outcome}${hash}${p.at ? `  at ${p.at}` : ''}${p.detail ? `\n    ${p.detail}` : ''}`;
}

export function formatSyncStatus(s: ConfigSyncStatus): string[] {
  const lines = [
    `config sync: vhid ${s.vhid} ${s.role}  shared hash ${s.hash.slice(0, 12)} gen ${s.generation}  ${s.auth === 'psk' ? 'TLS-PSK' : 'mutual TLS'} on ${s.listen}${s.listening ? '' : ' (NOT LISTENING)'}`,
  ];
  if (s.fingerprint) lines.push(`  this node's certificate (pin it on the peers): ${s.fingerprint}`);
  const refused = Object.entries(s.refused).filter(([, n]) => n > 0);
  if (refused.length > 0) lines.push(`  refused connections: ${refused.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  for (const p of s.peers) lines.push(formatPeer(p));
  if (s.lastReceived) {
    const r = s.lastReceived;
    lines.push(`  last push received from ${r.from}: ${r.outcome} at ${r.at}${r.issues ? `\n    ${r.issues.join('\n    ')}` : ''}`);
  }
  return lines;
}

function formatDiff(d: SyncDiff): string[] {
  const lines = [`this node's shared hash ${d.hash.slice(0, 12)}  ("-" the peer's lines, "+" this node's)`];
  for (const p of d.peers) {
    if (p.error) lines.push(`peer ${p.name}: ${p.error}`);
    else if (!p.diff || p.diff.length === 0) lines.push(`peer ${p.name}: in sync`);
    else lines.push(`peer ${p.name}: hash ${p.hash?.slice(0, 12)}`, ...p.diff.map((l) => `  ${l}`));
  }
  return lines;
}

export async function syncClient(command: SyncClientCommand & SyncClientOptions): Promise<number> {
  const reply = await sendControl(await controlPath(command), request(command), 60_000);
  if (!reply.ok) {
    process.stderr.write(`tandem: ${reply.error}\n`);
    return 1;
  }
  if (command.json) {
    process.stdout.write(JSON.stringify(reply.result, null, 2) + '\n');
    return 0;
  }
  switch (command.kind) {
    case 'sync-status':
      process.stdout.write(formatSyncStatus(reply.result as ConfigSyncStatus).join('\n') + '\n');
      return 0;
    case 'sync-diff':
      process.stdout.write(formatDiff(reply.result as SyncDiff).join('\n') + '\n');
      return 0;
    case 'sync-push': {
      const peers = reply.result as PeerStatus[];
      process.stdout.write(peers.map(formatPeer).join('\n') + '\n');
      // A push that did not land everywhere is a failure for scripts.
      return peers.every((p) => p.outcome === 'applied' || p.outcome === 'in-sync') ? 0 : 1;
    }
  }
}
