// What each CLI command does. `run` builds the daemon on Linux ports; the client commands talk
// to a running daemon over its control socket.

import { configPathFrom, formatIssue, loadConfigFile } from './config/load.js';
import { sendControl } from './control/client.js';
import type { ControlRequest } from './control/protocol.js';
import { ControlServer } from './control/server.js';
import { createLogger, type Logger } from './log.js';
import type { Status } from './daemon.js';
import { formatPools } from './balancer/format.js';
import type { PowerClientCommand } from './power/client.js';
import type { SyncClientCommand } from './sync/config-client.js';
import type { UpgradeClientCommand } from './upgrade/client.js';
import { formatPower } from './power/status.js';
import { formatApiStatus } from './api/format.js';
import { formatBoardStatus } from './board/format.js';
import { formatConntrackStatus } from './sync/conntrack-format.js';
import { formatUpgradeStatus } from './upgrade/format.js';

export interface ClientOptions {
  config?: string | undefined;
  control?: string | undefined;
}

export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; config?: string | undefined }
  | { kind: 'check'; config?: string | undefined }
  | ({ kind: 'status'; json: boolean } & ClientOptions)
  | ({ kind: 'demote'; by: number } & ClientOptions)
  | ({ kind: 'demote'; reset: true } & ClientOptions)
  | ({ kind: 'maintenance'; on: boolean } & ClientOptions)
  | ({ kind: 'failover' } & ClientOptions)
  | { kind: 'firewall-render'; format: 'pf' | 'nft'; config?: string | undefined }
  | ({ kind: 'firewall-apply'; confirmWithin?: number | undefined } & ClientOptions)
  | ({ kind: 'firewall-confirm' } & ClientOptions)
  | ({ kind: 'firewall-status'; json: boolean } & ClientOptions)
  | ({ kind: 'balancer-drain'; host: string; on: boolean; pool?: string } & ClientOptions)
  | (PowerClientCommand & ClientOptions)
  | (SyncClientCommand & ClientOptions)
  | (UpgradeClientCommand & ClientOptions)
  | { kind: 'power-simulate'; trace: string; pool?: string | undefined; json: boolean; config?: string | undefined }
  | { kind: 'passwd-hash' }
  | { kind: 'passwd-user'; user: string; config?: string | undefined }
  | { kind: 'network-up'; config?: string | undefined }
  | { kind: 'demo' };

const DEFAULT_CONTROL = '/run/tandem/control.sock';

export async function execute(command: Command): Promise<number> {
  switch (command.kind) {
    case 'help':
    case 'version':
      return 0;
    case 'check':
      return check(command.config);
    case 'run':
      return run(command.config);
    case 'status':
      return client(command, { cmd: 'status' }, (result) =>
        command.json ? JSON.stringify(result, null, 2) : formatStatus(result as Status),
      );
    case 'demote':
      return client(command, 'reset' in command ? { cmd: 'demote', reset: true } : { cmd: 'demote', by: command.by }, (r) => {
        const d = r as { total: number; admin: number };
        return `demote ${d.total} (admin ${d.admin})`;
      });
    case 'maintenance':
      return client(command, { cmd: 'maintenance', on: command.on }, () => `maintenance ${command.on ? 'on' : 'off'}`);
    case 'failover':
      return client(command, { cmd: 'failover' }, (r) => {
        const n = (r as { bowedOut: number }).bowedOut;
        return n > 0 ? `bowed out of ${n} vhost(s)` : 'not master of any vhost: nothing to do';
      });
    case 'balancer-drain':
      return client(
        command,
        { cmd: 'drain', host: command.host, on: command.on, ...(command.pool !== undefined ? { pool: command.pool } : {}) },
        (r) => `${command.on ? 'draining' : 'back in service'}: ${(r as { hosts: string[] }).hosts.join(', ')}`,
      );
    case 'firewall-render':
    case 'firewall-apply':
    case 'firewall-confirm':
    case 'firewall-status': {
      const fw = await import('./firewall/commands.js');
      if (command.kind === 'firewall-render') return fw.firewallRender(command.config, command.format);
      if (command.kind === 'firewall-apply') return fw.firewallApply(command);
      if (command.kind === 'firewall-confirm') return fw.firewallConfirm(command);
      return fw.firewallStatus(command);
    }
    case 'power-status':
    case 'power-wake':
    case 'power-park':
    case 'power-pin':
      return (await import('./power/client.js')).powerClient(command);
    case 'sync-status':
    case 'sync-diff':
    case 'sync-push':
      return (await import('./sync/config-client.js')).syncClient(command);
    case 'upgrade-status':
    case 'upgrade-commit':
    case 'upgrade-install':
      return (await import('./upgrade/client.js')).upgradeClient(command);
    case 'power-simulate':
      return (await import('./power/commands.js')).powerSimulate(command);
    case 'passwd-hash':
    case 'passwd-user': {
      const passwd = await import('./api/passwd.js');
      try {
        if (command.kind === 'passwd-hash') return await passwd.passwdHash(passwd.realPasswdDeps());
        return await passwd.passwdUser(command.user, configPathFrom(command.config), passwd.realPasswdDeps());
      } catch (error) {
        process.stderr.write(`tandem passwd: ${(error as Error).message}\n`);
        return 1;
      }
    }
    case 'network-up':
      return (await import('./network/up.js')).networkUpCommand(configPathFrom(command.config));
    case 'demo': {
      const { runDemo } = await import('./demo/demo.js');
      return runDemo();
    }
  }
}

async function check(explicit: string | undefined): Promise<number> {
  const path = configPathFrom(explicit);
  const result = await loadConfigFile(path);
  if (!result.ok) {
    for (const issue of result.issues) process.stderr.write(formatIssue(path, issue) + '\n');
    process.stderr.write(`${path}: ${result.issues.length} error(s)\n`);
    return 1;
  }
  process.stdout.write(`${path}: ok (node ${result.config.node.name}, ${result.config.carp.length} CARP vhost(s))\n`);
  return 0;
}

async function controlPath(options: ClientOptions): Promise<string> {
  if (options.control) return options.control;
  const result = await loadConfigFile(configPathFrom(options.config));
  return result.ok ? result.config.control.socket : DEFAULT_CONTROL;
}

async function client(options: ClientOptions, request: ControlRequest, render: (result: unknown) => string): Promise<number> {
  const reply = await sendControl(await controlPath(options), request);
  if (!reply.ok) {
    process.stderr.write(`tandem: ${reply.error}\n`);
    return 1;
  }
  process.stdout.write(render(reply.result) + '\n');
  return 0;
}

export function formatStatus(status: Status): string {
  const lines = [
    `node ${status.node}  version ${status.version}  up ${status.uptimeSeconds} s` +
      `  demote ${status.demotion.total}${status.maintenance ? '  MAINTENANCE' : ''}`,
  ];
  for (const v of status.carp) {
    lines.push(
      `  vhid ${String(v.vhid).padStart(3)} ${v.interface.padEnd(10)} ${v.state.padEnd(6)} advbase ${v.advbase} advskew ${v.advskew}` +
        `  ${v.addresses.join(' ')}  since ${v.since}  sent ${v.counters.sent} received ${v.counters.received}`,
    );
  }
  if (status.carp.length === 0) lines.push('  no CARP vhosts configured');
  lines.push(...formatPools(status.pools ?? []));
  if (status.telemetry) {
    const { connection: c, queue: q } = status.telemetry;
    const version = c.protocolVersion ? ` (MQTT ${c.protocolVersion === 5 ? '5' : '3.1.1'})` : '';
    lines.push(
      `  telemetry ${c.state}${version} ${c.url}  queue ${q.pending}/${q.maxEvents}${q.dropped ? ` DROPPED ${q.dropped}` : ''}  seq ${q.lastSeq}` +
        (c.lastError ? `  last error: ${c.lastError}` : ''),
    );
  }
  if (status.power) lines.push(...formatPower(status.power));
  const applied = status.configApply;
  if (applied?.phase === 'pending') lines.push(`  config applied ${applied.appliedAt ?? ''} through the API: PENDING, reverts in ${applied.revertsInSeconds} s (${applied.revertsAt}) unless confirmed in the web UI`);
  if (applied?.lastRevert) lines.push(`  config: last automatic revert ${applied.lastRevert.at}: ${applied.lastRevert.why}`);
  if (status.sync?.conntrack) lines.push(...formatConntrackStatus(status.sync.conntrack));
  if (status.api) lines.push(...formatApiStatus(status.api));
  if (status.board) lines.push(...formatBoardStatus(status.board));
  if (status.upgrade) lines.push(...formatUpgradeStatus(status.upgrade).map((line) => `  ${line}`));
  return lines.join('\n');
}

/** node.lockMemory and node.realtimePriority; a failure is logged and the daemon runs on. */
async function applyNodeScheduling(node: { realtimePriority: number; lockMemory: boolean }, log: Logger): Promise<void> {
  if (node.realtimePriority === 0 && !node.lockMemory) return;
  const { setRealtimePriority, lockMemory } = await import('./os/realtime.js');
  if (node.lockMemory) {
    try {
      lockMemory();
      log.info('memory locked: no page of the daemon is swapped out');
    } catch (error) {
      log.error(`cannot lock memory; running unlocked: ${(error as Error).message}`);
    }
  }
  if (node.realtimePriority > 0) {
    try {
      const threads = setRealtimePriority(node.realtimePriority);
      log.info(`all ${threads} threads run under SCHED_RR priority ${node.realtimePriority}`);
    } catch (error) {
      log.error(`cannot set realtime priority; running with normal scheduling: ${(error as Error).message}`);
    }
  }
}

async function run(explicit: string | undefined): Promise<number> {
  const path = configPathFrom(explicit);
  const loaded = await loadConfigFile(path);
  if (!loaded.ok) {
    for (const issue of loaded.issues) process.stderr.write(formatIssue(path, issue) + '\n');
    return 1;
  }
  const config = loaded.config;
  const log = createLogger(config.log.level);
  const { createLinuxClock } = await import('./os/linux-clock.js');
  const clock = createLinuxClock(log);
  await applyNodeScheduling(config.node, log);
  const { createLinuxPorts } = await import('./net/linux.js');
  const { Daemon } = await import('./daemon.js');
  const ports = await createLinuxPorts(clock, log);
  // A config applied through the API and never confirmed goes back before anything starts on it.
  const { startingConfig } = await import('./api/config-apply.js');
  const startOn = await startingConfig({ files: ports.files, path, config, now: clock.now(), log });
  const daemon = new Daemon(startOn, { ...ports, configFile: path }, () => loadConfigFile(path));
  const control = new ControlServer(startOn.control.socket, (request) => daemon.handle(request));
  await control.listen();
  await daemon.start();

  return new Promise<number>((resolve) => {
    let stopping = false;
    const shutdown = (signal: string) => {
      if (stopping) return;
      stopping = true;
      log.info(`${signal}: shutting down`);
      void (async () => {
        await daemon.stop();
        await control.close();
        await ports.close();
        process.off('SIGHUP', onHup);
        resolve(0);
      })();
    };
    const onHup = () => {
      log.info('SIGHUP: reloading config', { path });
      void daemon.reload();
    };
    process.once('SIGTERM', () => shutdown('SIGTERM'));
    process.once('SIGINT', () => shutdown('SIGINT'));
    process.on('SIGHUP', onHup);
  });
}
