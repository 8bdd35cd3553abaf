// Remote commands on `<prefix>/<node>/cmd/<action>` (issue 11 item 3): verifies each one
// (command-auth.ts), maps the action to the daemon's own control request so a remote command
// does exactly what the CLI does, and answers on the MQTT 5 response topic with its correlation
// data, or on 3.1.1 on the payload's `replyTo`. A refused command changes nothing.

import type { ConfigIssue } from '../config/kit.js';
import type { ControlReply, ControlRequest } from '../control/protocol.js';
import { parseRequest } from '../control/protocol.js';
import type { TandemEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { FileStore } from '../os/files.js';
import {
  COMMAND_REFUSALS,
  NonceWindow,
  keyFromFileText,
  parsePayload,
  verify,
  type CommandArgs,
  type CommandRefusal,
  type JsonValue,
} from './command-auth.js';
import type { TelemetryConfig } from './schema.js';

/**
 * Each action: the arguments it accepts and the control request it becomes. Unknown argument
 * names are refused, so a typo never turns into a default.
 */
interface ActionSpec {
  args: readonly string[];
  request(args: CommandArgs): Record<string, JsonValue>;
}

export const ACTIONS: Readonly<Record<string, ActionSpec>> = {
  demote: { args: ['by', 'reset'], request: (a) => ({ cmd: 'demote', ...a }) },
  maintenance: { args: ['on'], request: (a) => ({ cmd: 'maintenance', ...a }) },
  failover: { args: [], request: () => ({ cmd: 'failover' }) },
  'firewall-confirm': { args: [], request: () => ({ cmd: 'firewall-confirm' }) },
  'pool-drain': { args: ['pool', 'host'], request: (a) => ({ cmd: 'drain', ...a, on: true }) },
  'pool-undrain': { args: ['pool', 'host'], request: (a) => ({ cmd: 'drain', ...a, on: false }) },
  'power-wake': { args: ['host'], request: (a) => ({ cmd: 'power-wake', ...a }) },
  'power-park': { args: ['host'], request: (a) => ({ cmd: 'power-park', ...a }) },
};

export type CommandOutcome = 'executed' | CommandRefusal;

/** What the handler answers, also what a sender's tool prints. */
export type CommandReply =
  | { ok: true; action: string; nonce: string; result: unknown }
  | { ok: false; action: string; nonce?: string; reason: CommandRefusal; error: string };

export interface IncomingCommand {
  topic: string;
  payload: Uint8Array;
  /** MQTT 5 properties, when the broker and client speak MQTT 5. */
  responseTopic?: string;
  correlationData?: Uint8Array;
}

/** Publishes a reply; the service passes its MQTT client's publish (QoS 1, not retained). */
export type ReplyFunction = (topic: string, payload: string, correlationData?: Uint8Array) => void | Promise<void>;

export interface CommandHandlerOptions {
  node: string;
  prefix: string;
  key: Uint8Array;
  maxAgeSeconds: number;
  /** Wall-clock ms since the epoch (the daemon's Clock.now). */
  now: () => number;
  /** The daemon's control entry point, `Daemon.handle`. */
  dispatch: (request: ControlRequest) => Promise<ControlReply>;
  emit: (event: TandemEvent) => void;
  log: Logger;
  nonceCapacity?: number;
}

export class CommandHandler {
  private readonly nonces: NonceWindow;
  private readonly tally: Record<CommandOutcome, number>;
  private readonly base: string;
  /** Commands run one at a time, in arrival order, like requests on the control socket. */
  private queue: Promise<unknown> = Promise.resolve();

  constructor(private readonly options: CommandHandlerOptions) {
    this.nonces = new NonceWindow(options.nonceCapacity);
    // Nothing signed before this handler existed can be checked against its (empty) window.
    this.nonces.raiseFloor(options.now());
    this.base = `${options.prefix}/${options.node}/cmd/`;
    this.tally = { executed: 0, ...Object.fromEntries(COMMAND_REFUSALS.map((r) => [r, 0])) } as Record<CommandOutcome, number>;
  }

  /** The subscription that feeds `handle`. */
  get topicFilter(): string {
    return `${this.base}+`;
  }

  /** Commands per outcome since start, for metrics and status. */
  counters(): Record<CommandOutcome, number> {
    return { ...this.tally };
  }

  /** Handles one message; resolves with the reply it sent (or would have, with nowhere to send it). */
  handle(message: IncomingCommand, reply: ReplyFunction): Promise<CommandReply> {
    const run = this.queue.then(() => this.process(message, reply));
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async process(message: IncomingCommand, reply: ReplyFunction): Promise<CommandReply> {
    const action = message.topic.startsWith(this.base) ? message.topic.slice(this.base.length) : message.topic;
    const parsed = parsePayload(message.payload);
    const body = parsed.ok ? parsed.body : {};
    const nonce = typeof body.nonce === 'string' ? body.nonce : undefined;
    const answer = await this.decide(action, parsed.ok ? body : undefined, parsed.ok ? '' : parsed.detail);
    const result: CommandReply = answer.ok
      ? { ok: true, action, nonce: nonce!, result: answer.result }
      : { ok: false, action, ...(nonce !== undefined ? { nonce } : {}), reason: answer.reason, error: answer.error };

    if (result.ok) {
      this.tally.executed++;
      this.options.log.info(`remote command ${action} executed`, { by: body.by, nonce });
      this.options.emit({ type: 'commandExecuted', action, by: String(body.by) });
    } else {
      this.tally[result.reason]++;
      this.options.log.warn(`remote command ${action} refused: ${result.reason}: ${result.error}`, { topic: message.topic });
      this.options.emit({ type: 'commandRefused', action, reason: result.reason });
    }
    await this.sendReply(message, typeof body.replyTo === 'string' ? body.replyTo : undefined, result, reply);
    return result;
  }

  private async decide(
    action: string,
    body: Record<string, unknown> | undefined,
    parseProblem: string,
  ): Promise<{ ok: true; result: unknown } | { ok: false; reason: CommandRefusal; error: string }> {
    if (!body) return { ok: false, reason: 'malformed', error: parseProblem };
    const verdict = verify(body, {
      key: this.options.key,
      node: this.options.node,
      action,
      now: this.options.now(),
      maxAgeMs: this.options.maxAgeSeconds * 1000,
      nonces: this.nonces,
    });
    if (!verdict.ok) return { ok: false, reason: verdict.reason, error: verdict.detail };

    // Authentic from here on: the sender holds the key, so it may learn what this node lacks.
    const spec = Object.hasOwn(ACTIONS, action) ? ACTIONS[action] : undefined;
    if (!spec) return { ok: false, reason: 'unknownAction', error: `unknown action ${JSON.stringify(action)} (known: ${Object.keys(ACTIONS).join(', ')})` };
    const args = verdict.command.args;
    const extra = Object.keys(args).filter((name) => !spec.args.includes(name));
    if (extra.length > 0) return { ok: false, reason: 'malformed', error: `${action} takes no argument ${extra.map((e) => JSON.stringify(e)).join(', ')} (it takes: ${spec.args.join(', ') || 'none'})` };

    // The control socket's own parser checks the arguments, so both paths accept the same.
    const request = parseRequest(JSON.stringify(spec.request(args)));
    if ('error' in request) {
      if (request.error.startsWith('unknown command')) return { ok: false, reason: 'unknownAction', error: `${action} is not available on this node` };
      return { ok: false, reason: 'malformed', error: request.error };
    }
    try {
      const outcome = await this.options.dispatch(request);
      return outcome.ok ? { ok: true, result: outcome.result } : { ok: false, reason: 'failed', error: outcome.error };
    } catch (error) {
      return { ok: false, reason: 'failed', error: (error as Error).message };
    }
  }

  private async sendReply(message: IncomingCommand, replyTo: string | undefined, result: CommandReply, reply: ReplyFunction): Promise<void> {
    // MQTT 5's response topic wins; the payload's replyTo serves 3.1.1 clients.
    const topic = message.responseTopic ?? replyTo;
    if (topic === undefined) return;
    const problem = replyTopicProblem(topic, this.base);
    if (problem) {
      this.options.log.warn(`not replying to ${JSON.stringify(topic)}: ${problem}`);
      return;
    }
    try {
      await reply(topic, JSON.stringify(result), message.correlationData);
    } catch (error) {
      this.options.log.warn(`reply to ${topic} failed: ${(error as Error).message}`);
    }
  }
}

/** What the handler needs from the daemon, beside the config. */
export interface CommandDeps {
  node: string;
  files: FileStore;
  now: () => number;
  dispatch: (request: ControlRequest) => Promise<ControlReply>;
  emit: (event: TandemEvent) => void;
  log: Logger;
}

/**
 * The handler for `telemetry.commands`, or undefined when commands are off. Reads the key file
 * (asynchronously: this runs in the daemon); a missing or short key throws, naming the setting.
 */
export async function openCommandHandler(telemetry: TelemetryConfig, deps: CommandDeps): Promise<CommandHandler | undefined> {
  const settings = telemetry.commands;
  if (!settings.enabled || !telemetry.mqtt) return undefined;
  if (settings.key === undefined) throw new Error('telemetry.commands.key: is required when commands are enabled');
  let text: string | undefined;
  try {
    text = await deps.files.read(settings.key);
  } catch (error) {
    throw new Error(`telemetry.commands.key: cannot read ${settings.key}: ${(error as Error).message}`);
  }
  if (text === undefined) throw new Error(`telemetry.commands.key: ${settings.key} does not exist`);
  const key = keyFromFileText(text);
  if (!key.ok) throw new Error(`telemetry.commands.key: ${settings.key}: ${key.problem}`);
  return new CommandHandler({
    node: deps.node,
    prefix: telemetry.mqtt.topicPrefix,
    key: key.key,
    maxAgeSeconds: settings.maxAgeSeconds,
    now: deps.now,
    dispatch: deps.dispatch,
    emit: deps.emit,
    log: deps.log,
  });
}

/** Checks of meaning for `telemetry.commands`: commands need a key and a broker to arrive from. */
export function commandConfigIssues(telemetry: TelemetryConfig | undefined): ConfigIssue[] {
  if (!telemetry?.commands.enabled) return [];
  const issues: ConfigIssue[] = [];
  if (telemetry.commands.key === undefined) issues.push({ path: 'telemetry.commands.key', message: 'is required when telemetry.commands.enabled is true (a file with the shared key)' });
  if (telemetry.mqtt === undefined) issues.push({ path: 'telemetry.commands.enabled', message: 'commands arrive over MQTT: telemetry.mqtt must be set' });
  return issues;
}

/** A reply never goes to a wildcard, an empty topic, or back into the command space (a loop). */
export function replyTopicProblem(topic: string, commandBase: string): string | undefined {
  if (topic.length === 0 || Buffer.byteLength(topic) > 1024) return 'a reply topic must be 1-1024 bytes';
  if (/[+#\0]/.test(topic)) return 'a reply topic must not contain + # or NUL';
  if (topic.startsWith(commandBase)) return 'a reply topic must not be a command topic';
  return undefined;
}
