// What `tandem firewall render|apply|confirm|status` do. render needs no daemon. apply,
// confirm and status go to the running daemon, where the confirm timer lives; with no daemon
// running, apply loads the ruleset itself and, with --confirm-within, asks on the terminal
// (iptables-apply's way): no "yes" in time, or the session gone, and it reverts.

import { createConnection } from 'node:net';
import { createInterface } from 'node:readline';
import { configPathFrom, formatIssue, loadConfigFile } from '../config/load.js';
import type { TandemConfig } from '../config/schema.js';
import { sendControl } from '../control/client.js';
import type { ControlRequest } from '../control/protocol.js';
import { silentLogger } from '../log.js';
import { systemClock } from '../os/clock.js';
import { LinuxProcessRunner } from '../os/process.js';
import { LinuxNftPort } from './linux.js';
import { compile } from './model.js';
import { renderNft } from './render-nft.js';
import { renderPf } from './render-pf.js';
import { Firewall, type FirewallStatus } from './service.js';

export interface FirewallClientOptions {
  config?: string | undefined;
  control?: string | undefined;
}

const DEFAULT_CONTROL = '/run/tandem/control.sock';

type Out = { stdout: (text: string) => void; stderr: (text: string) => void };
const std: Out = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

async function readConfig(explicit: string | undefined, out: Out): Promise<{ path: string; config: TandemConfig } | undefined> {
  const path = configPathFrom(explicit);
  const result = await loadConfigFile(path);
  if (!result.ok) {
    for (const issue of result.issues) out.stderr(formatIssue(path, issue) + '\n');
    out.stderr(`${path}: ${result.issues.length} error(s)\n`);
    return undefined;
  }
  return { path, config: result.config };
}

export async function firewallRender(explicit: string | undefined, format: 'pf' | 'nft', out: Out = std): Promise<number> {
  const read = await readConfig(explicit, out);
  if (!read) return 1;
  const compiled = compile(read.config);
  if (!read.config.firewall || !compiled.policy) {
    out.stderr(`${read.path}: the config has no firewall section\n`);
    return 1;
  }
  out.stdout(format === 'pf' ? renderPf(compiled.policy) : renderNft(compiled.policy));
  return 0;
}

export function formatFirewallStatus(s: FirewallStatus): string {
  if (s.phase === 'unmanaged') {
    return `firewall: no ruleset loaded by this daemon${s.unconfirmed ? `\n  ${s.unconfirmed}` : ''}${s.lastRevert ? `\n  last revert: ${s.lastRevert}` : ''}${s.lastError ? `\n  last error: ${s.lastError}` : ''}`;
  }
  const lines = [
    `firewall: ${s.phase === 'pending' ? 'PENDING' : 'active'} since ${s.appliedAt}: ${s.rules} rule(s), ${s.forwards} forward(s), ${s.nat} NAT rule(s)`,
  ];
  if (s.phase === 'pending') lines.push(`  reverts in ${s.revertsInSeconds} s (${s.revertsAt}) unless confirmed: tandem firewall confirm`);
  for (const [name, count] of Object.entries(s.tables ?? {})) lines.push(`  table ${name}: ${count} member(s)`);
  if (s.unconfirmed) lines.push(`  ${s.unconfirmed}`);
  if (s.lastRevert) lines.push(`  last revert: ${s.lastRevert}`);
  if (s.lastError) lines.push(`  last error: ${s.lastError}`);
  return lines.join('\n');
}

async function controlPath(options: FirewallClientOptions): Promise<string> {
  if (options.control) return options.control;
  const result = await loadConfigFile(configPathFrom(options.config));
  return result.ok ? result.config.control.socket : DEFAULT_CONTROL;
}

/** Whether a daemon answers on the socket (a stale socket file refuses). */
function daemonListens(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function ask(path: string, request: ControlRequest, out: Out, json: boolean): Promise<number> {
  try {
    const reply = await sendControl(path, request, 30_000);
    if (!reply.ok) {
      out.stderr(`tandem: ${reply.error}\n`);
      return 1;
    }
    out.stdout((json ? JSON.stringify(reply.result, null, 2) : formatFirewallStatus(reply.result as FirewallStatus)) + '\n');
    return 0;
  } catch (error) {
    out.stderr(`tandem: ${(error as Error).message}\n`);
    return 1;
  }
}

export async function firewallApply(options: FirewallClientOptions & { confirmWithin?: number | undefined }, out: Out = std): Promise<number> {
  const path = await controlPath(options);
  const request: ControlRequest = { cmd: 'firewall-apply', ...(options.confirmWithin !== undefined ? { confirmWithinSeconds: options.confirmWithin } : {}) };
  if (await daemonListens(path)) return ask(path, request, out, false);
  return applyWithoutDaemon(options, out);
}

export async function firewallConfirm(options: FirewallClientOptions, out: Out = std): Promise<number> {
  return ask(await controlPath(options), { cmd: 'firewall-confirm' }, out, false);
}

export async function firewallStatus(options: FirewallClientOptions & { json: boolean }, out: Out = std): Promise<number> {
  return ask(await controlPath(options), { cmd: 'firewall-status' }, out, options.json);
}

async function applyWithoutDaemon(options: FirewallClientOptions & { confirmWithin?: number | undefined }, out: Out): Promise<number> {
  const read = await readConfig(options.config, out);
  if (!read) return 1;
  const compiled = compile(read.config);
  if (!read.config.firewall || !compiled.policy) {
    out.stderr(`${read.path}: the config has no firewall section; nothing applied\n`);
    return 1;
  }
  out.stderr('tandem: no daemon is running; loading the ruleset from here\n');
  const firewall = new Firewall({ nft: new LinuxNftPort(new LinuxProcessRunner()), clock: systemClock, log: silentLogger });
  const seconds = options.confirmWithin;
  const result = await firewall.apply(compiled.policy, seconds !== undefined ? { confirmWithinMs: seconds * 1000 } : {});
  if (!result.ok) {
    out.stderr(`tandem: ${result.stage === 'check' ? 'nft -c refused the ruleset' : 'loading failed'}; the running ruleset stays in force:\n${result.error}\n`);
    return 1;
  }
  if (seconds === undefined) {
    out.stdout(formatFirewallStatus(firewall.status()) + '\n');
    return 0;
  }
  out.stdout(`firewall: loaded; type "yes" within ${seconds} s to keep it, or it reverts\n`);
  const confirmed = await promptYes(seconds * 1000);
  if (confirmed && (await firewall.confirm()).ok) {
    out.stdout('firewall: confirmed\n');
    return 0;
  }
  // The firewall's own timer reverts; wait for it (a "no" or a closed terminal reverts now).
  if (firewall.phase === 'pending') await firewall.stop('no "yes" came');
  out.stderr(`tandem: not confirmed: ${firewall.status().lastRevert ?? 'reverted'}\n`);
  return 1;
}

/** Resolves true on a line "yes", false on anything else, end of input or the deadline. */
function promptYes(ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin });
    let settled = false;
    const done = (answer: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
      rl.close();
      process.stdin.pause();
    };
    const timer = setTimeout(() => done(false), ms);
    rl.once('line', (line) => done(line.trim().toLowerCase() === 'yes'));
    rl.once('close', () => done(false));
  });
}
