// What `tandem power status|wake|park|pin` do: ask the running daemon over its control socket
// and print its answer (status as text lines or JSON). `simulate` lives in power/commands.ts.

import { configPathFrom, loadConfigFile } from '../config/load.js';
import { sendControl } from '../control/client.js';
import type { ControlRequest } from '../control/protocol.js';
import { formatPower, type PowerStatus } from './status.js';

export type PowerClientCommand =
  | { kind: 'power-status'; json: boolean }
  | { kind: 'power-wake'; host: string }
  | { kind: 'power-park'; host: string }
  | { kind: 'power-pin'; host: string; on: boolean };

export interface PowerClientOptions {
  config?: string | undefined;
  control?: string | undefined;
}

type Out = { stdout: (text: string) => void; stderr: (text: string) => void };
const std: Out = { stdout: (t) => process.stdout.write(t), stderr: (t) => process.stderr.write(t) };

const DEFAULT_CONTROL = '/run/tandem/control.sock';

async function controlPath(options: PowerClientOptions): Promise<string> {
  if (options.control) return options.control;
  const result = await loadConfigFile(configPathFrom(options.config));
  return result.ok ? result.config.control.socket : DEFAULT_CONTROL;
}

function request(command: PowerClientCommand): ControlRequest {
  switch (command.kind) {
    case 'power-status':
      return { cmd: 'power-status' };
    case 'power-wake':
      return { cmd: 'power-wake', host: command.host };
    case 'power-park':
      return { cmd: 'power-park', host: command.host };
    case 'power-pin':
      return { cmd: 'power-pin', host: command.host, on: command.on };
  }
}

function render(command: PowerClientCommand, result: unknown): string {
  switch (command.kind) {
    case 'power-status':
      return command.json ? JSON.stringify(result, null, 2) : formatPower(result as PowerStatus).join('\n');
    case 'power-wake':
    case 'power-park':
      return `${(result as { started: string }).started} (follow it with tandem power status)`;
    case 'power-pin':
      return `${command.host} ${command.on ? 'pinned awake' : 'unpinned'}`;
  }
}

export async function powerClient(command: PowerClientCommand & PowerClientOptions, out: Out = std): Promise<number> {
  const reply = await sendControl(await controlPath(command), request(command));
  if (!reply.ok) {
    out.stderr(`tandem: ${reply.error}\n`);
    return 1;
  }
  out.stdout(render(command, reply.result) + '\n');
  return 0;
}
