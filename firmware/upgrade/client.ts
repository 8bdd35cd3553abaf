// What `tandem upgrade IMAGE [--no-reboot]`, `tandem upgrade status [--json]` and `tandem
// upgrade commit` do: ask the running daemon over its control socket. An install is one long
// request; beside it the CLI polls the status four times a second and prints a progress line per
// 5 % step, in fixed words that the image tests wait for (`upgrade: writing slot B: ...`).

import { access } from 'node:fs/promises';
import { resolve } from 'node:path';
import { configPathFrom, loadConfigFile } from '../config/load.js';
import { sendControl } from '../control/client.js';
import type { ControlReply } from '../control/protocol.js';
import { BOOT_INFO_PATH, formatUpgradeStatus, NOT_AN_IMAGE, progressText } from './format.js';
import type { InstallReply, UpgradeStatus } from './service.js';

export type UpgradeClientCommand =
  | { kind: 'upgrade-status'; json: boolean }
  | { kind: 'upgrade-commit' }
  | { kind: 'upgrade-install'; image: string; reboot: boolean };

export interface UpgradeClientOptions {
  config?: string | undefined;
  control?: string | undefined;
  /** Where init writes boot.json; tests point it elsewhere. */
  bootInfoPath?: string;
  pollMs?: number;
}

type Out = { stdout: (text: string) => void; stderr: (text: string) => void };
const std: Out = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

const DEFAULT_CONTROL = '/run/tandem/control.sock';
/** The longest a slot write may take: a slow CF card writes ~2 MiB/s, a bundle is ~100 MiB. */
const INSTALL_TIMEOUT_MS = 60 * 60 * 1000;

async function controlPath(options: UpgradeClientOptions): Promise<string> {
  if (options.control) return options.control;
  const result = await loadConfigFile(configPathFrom(options.config));
  return result.ok ? result.config.control.socket : DEFAULT_CONTROL;
}

export async function upgradeClient(command: UpgradeClientCommand & UpgradeClientOptions, out: Out = std): Promise<number> {
  // Checked here too, so a developer machine without a daemon gets the same clear answer.
  const onImage = await access(command.bootInfoPath ?? BOOT_INFO_PATH).then(() => true, () => false);
  if (!onImage && command.kind !== 'upgrade-status') {
    out.stderr(`tandem: ${NOT_AN_IMAGE}\n`);
    return 1;
  }
  const control = await controlPath(command);
  if (command.kind === 'upgrade-status') {
    const reply = await sendControl(control, { cmd: 'upgrade-status' });
    if (!reply.ok) return failed(out, reply.error);
    const status = reply.result as UpgradeStatus;
    out.stdout((command.json ? JSON.stringify(status, null, 2) : formatUpgradeStatus(status).join('\n')) + '\n');
    return status.state === 'not-an-image' && !command.json ? 1 : 0;
  }
  if (command.kind === 'upgrade-commit') {
    const reply = await sendControl(control, { cmd: 'upgrade-commit' });
    if (!reply.ok) return failed(out, reply.error);
    const status = reply.result as UpgradeStatus;
    out.stdout(`upgrade: slot ${status.booted} (${status.version}) is committed\n`);
    return 0;
  }
  const path = resolve(command.image);
  try {
    await access(path);
  } catch (error) {
    return failed(out, `cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
  out.stdout(`upgrade: installing ${path}\n`);
  let done = false;
  const install = sendControl(control, { cmd: 'upgrade-install', path, reboot: command.reboot }, INSTALL_TIMEOUT_MS).finally(() => {
    done = true;
  });
  const watch = watchProgress(control, () => done, out, command.pollMs ?? 250);
  const reply: ControlReply = await install.catch((error: Error) => ({ ok: false as const, error: error.message }));
  await watch;
  if (!reply.ok) return failed(out, reply.error);
  const result = reply.result as InstallReply & { ok: true };
  out.stdout(`upgrade: slot ${result.slot} holds ${result.version}, verified (${result.bytes} bytes, sha256 ${result.sha256})\n`);
  out.stdout(`upgrade: slot ${result.slot} boots once on the next boot, and is committed once Tandem is healthy there; otherwise the next boot returns to this slot\n`);
  out.stdout(result.rebooting ? 'upgrade: rebooting\n' : `upgrade: not rebooting (--no-reboot): reboot to try slot ${result.slot}\n`);
  return 0;
}

function failed(out: Out, error: string): number {
  out.stderr(`tandem: ${error}\n`);
  return 1;
}

// One line per change of the daemon's progress; a status request that fails is skipped (the
// install request's reply is what decides the outcome).
async function watchProgress(control: string, finished: () => boolean, out: Out, pollMs: number): Promise<void> {
  let last = '';
  while (!finished()) {
    await new Promise((r) => setTimeout(r, pollMs));
    if (finished()) return;
    const reply = await sendControl(control, { cmd: 'upgrade-status' }).catch(() => undefined);
    const installing = reply?.ok ? (reply.result as UpgradeStatus).installing : null;
    if (!installing || installing.total === 0) continue;
    // A line per 5 % step of each phase: a few dozen lines for a whole upgrade on a serial console.
    const bucket = `${installing.phase}:${Math.floor((installing.bytes / installing.total) * 20)}`;
    if (bucket === last) continue;
    last = bucket;
    out.stdout(`upgrade: ${installing.phase === 'verify' ? 'reading back' : 'writing'} slot ${installing.slot}${installing.version ? ` (${installing.version})` : ''}: ${progressText(installing)}\n`);
  }
}
