// Signs a remote command for a Tandem node and sends it over MQTT, then prints the node's reply
// (README "Remote commands"). Signs with the same module the daemon verifies with
// (firmware/telemetry/command-auth.ts); MQTT 5 replies come on the response topic with
// correlation data, 3.1.1 replies on the `replyTo` carried in the payload.

import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { pathToFileURL } from 'node:url';
import mqtt from 'mqtt';
import { keyFromFileText, signedPayload, type CommandArgs, type JsonValue } from '../firmware/telemetry/command-auth.js';
import type { CommandReply } from '../firmware/telemetry/commands.js';

const USAGE = `usage: scripts/mqtt-command --url URL --node NAME --key-file FILE [options] ACTION [NAME=VALUE ...]

Actions: demote by=N | demote reset=true, maintenance on=true|false, failover,
         firewall-confirm, pool-drain [pool=P] host=H, pool-undrain [pool=P] host=H,
         power-wake host=H, power-park host=H
VALUEs are JSON where they parse as JSON (true, 5), strings otherwise.

  --url URL            broker, mqtt:// mqtts:// ws:// wss://
  --node NAME          the node's node.name
  --key-file FILE      the shared key (the node's telemetry.commands.key)
  --prefix P           topic prefix (default tandem)
  --by NAME            who sends it, in the node's log and events (default monitor)
  --mqtt 5|3.1.1       protocol (default 5); on 3.1.1 the reply topic goes in the payload
  --reply-topic T      where the node answers (default <prefix>/<node>/reply/<by>/<random>)
  --timeout SECONDS    wait this long for the reply (default 10)
  --username U --password P
  --ca FILE --cert FILE --key FILE   TLS
  --print              print the signed payload and the topic instead of sending (for mosquitto_pub)

Exit status: 0 executed, 1 refused or failed, 2 usage, 3 no reply in time or no broker.`;

export interface SendOptions {
  url: string;
  node: string;
  key: Uint8Array;
  action: string;
  args: CommandArgs;
  prefix?: string;
  by?: string;
  protocol?: '5' | '3.1.1';
  replyTopic?: string;
  timeoutMs?: number;
  username?: string;
  password?: string;
  ca?: Buffer;
  cert?: Buffer;
  clientKey?: Buffer;
  /** Milliseconds since the epoch the command is stamped with; default now (tests pass old ones). */
  time?: number;
  nonce?: string;
}

export function newNonce(): string {
  return randomBytes(16).toString('base64url');
}

/** The topic and payload of a signed command, as a sender publishes them. */
export function buildCommand(options: SendOptions): { topic: string; payload: string; replyTopic: string; nonce: string } {
  const prefix = options.prefix ?? 'tandem';
  const by = options.by ?? 'monitor';
  const nonce = options.nonce ?? newNonce();
  const replyTopic = options.replyTopic ?? `${prefix}/${options.node}/reply/${by}/${randomBytes(6).toString('hex')}`;
  const fields = { node: options.node, action: options.action, args: options.args, time: options.time ?? Date.now(), nonce, by };
  const payload = signedPayload(options.key, fields, options.protocol === '3.1.1' ? replyTopic : undefined);
  return { topic: `${prefix}/${options.node}/cmd/${options.action}`, payload, replyTopic, nonce };
}

/** Publishes one payload on a command topic and waits for the reply; resolves undefined on timeout. */
export async function sendRaw(
  options: Pick<SendOptions, 'url' | 'protocol' | 'timeoutMs' | 'username' | 'password' | 'ca' | 'cert' | 'clientKey'>,
  topic: string,
  payload: string | Buffer,
  replyTopic: string,
): Promise<CommandReply | undefined> {
  const v5 = (options.protocol ?? '5') === '5';
  const correlation = randomBytes(8);
  const client = await mqtt.connectAsync(options.url, {
    protocolVersion: v5 ? 5 : 4,
    clean: true,
    reconnectPeriod: 0,
    connectTimeout: options.timeoutMs ?? 10_000,
    ...(options.username !== undefined ? { username: options.username } : {}),
    ...(options.password !== undefined ? { password: options.password } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
    ...(options.cert ? { cert: options.cert } : {}),
    ...(options.clientKey ? { key: options.clientKey } : {}),
  });
  // Without it Nagle holds the small PUBLISH for up to 40 ms (the broker wants set_tcp_nodelay too).
  (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  try {
    const reply = new Promise<CommandReply>((resolve) => {
      client.on('message', (t, message, packet) => {
        if (t !== replyTopic) return;
        // On MQTT 5 the correlation data tells this command's reply from another's.
        const data = packet.properties?.correlationData;
        if (v5 && (!data || !Buffer.from(data).equals(correlation))) return;
        resolve(JSON.parse(message.toString('utf8')) as CommandReply);
      });
    });
    await client.subscribeAsync(replyTopic, { qos: 1 });
    await client.publishAsync(topic, payload, {
      qos: 1,
      ...(v5 ? { properties: { responseTopic: replyTopic, correlationData: correlation } } : {}),
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), options.timeoutMs ?? 10_000)));
    const result = await Promise.race([reply, timeout]);
    clearTimeout(timer);
    return result;
  } finally {
    await client.endAsync();
  }
}

export async function sendCommand(options: SendOptions): Promise<{ nonce: string; reply: CommandReply | undefined }> {
  const built = buildCommand(options);
  return { nonce: built.nonce, reply: await sendRaw(options, built.topic, built.payload, built.replyTopic) };
}

function parseValue(text: string): JsonValue {
  try {
    return JSON.parse(text) as JsonValue;
  } catch {
    return text;
  }
}

async function main(argv: string[]): Promise<number> {
  const flags = new Map<string, string>();
  const positional: string[] = [];
  let print = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') {
      console.log(USAGE);
      return 0;
    }
    if (arg === '--print') print = true;
    else if (arg.startsWith('--')) {
      const value = argv[++i];
      if (value === undefined) return usage(`${arg} needs a value`);
      flags.set(arg.slice(2), value);
    } else positional.push(arg);
  }
  const known = ['url', 'node', 'key-file', 'prefix', 'by', 'mqtt', 'reply-topic', 'timeout', 'username', 'password', 'ca', 'cert', 'key'];
  for (const name of flags.keys()) if (!known.includes(name)) return usage(`unknown option --${name}`);
  const [action, ...pairs] = positional;
  const node = flags.get('node');
  const keyFile = flags.get('key-file');
  const url = flags.get('url');
  if (!action || !node || !keyFile || (!url && !print)) return usage('ACTION, --node, --key-file and --url are required');
  const protocol = flags.get('mqtt') ?? '5';
  if (protocol !== '5' && protocol !== '3.1.1') return usage('--mqtt must be 5 or 3.1.1');
  const args: CommandArgs = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq < 1) return usage(`argument ${JSON.stringify(pair)} is not NAME=VALUE`);
    args[pair.slice(0, eq)] = parseValue(pair.slice(eq + 1));
  }
  const key = keyFromFileText(await readFile(keyFile, 'utf8'));
  if (!key.ok) return usage(`${keyFile}: ${key.problem}`);
  const timeoutSeconds = Number(flags.get('timeout') ?? '10');
  if (!(timeoutSeconds > 0)) return usage('--timeout must be a positive number of seconds');
  const read = async (name: string) => (flags.has(name) ? await readFile(flags.get(name)!) : undefined);
  const options: SendOptions = {
    url: url ?? '',
    node,
    key: key.key,
    action,
    args,
    protocol,
    timeoutMs: timeoutSeconds * 1000,
    ...(flags.has('prefix') ? { prefix: flags.get('prefix')! } : {}),
    ...(flags.has('by') ? { by: flags.get('by')! } : {}),
    ...(flags.has('reply-topic') ? { replyTopic: flags.get('reply-topic')! } : {}),
    ...(flags.has('username') ? { username: flags.get('username')! } : {}),
    ...(flags.has('password') ? { password: flags.get('password')! } : {}),
  };
  const ca = await read('ca');
  const cert = await read('cert');
  const clientKey = await read('key');
  if (ca) options.ca = ca;
  if (cert) options.cert = cert;
  if (clientKey) options.clientKey = clientKey;
  if (print) {
    const built = buildCommand(options);
    console.log(JSON.stringify({ topic: built.topic, payload: JSON.parse(built.payload) as unknown }));
    return 0;
  }
  let result;
  try {
    result = await sendCommand(options);
  } catch (error) {
    console.error(`mqtt-command: ${(error as Error).message}`);
    return 3;
  }
  if (!result.reply) {
    console.error(`mqtt-command: no reply from ${node} within ${timeoutSeconds} s (is telemetry.commands.enabled on, and may it write the reply topic?)`);
    return 3;
  }
  console.log(JSON.stringify(result.reply));
  return result.reply.ok ? 0 : 1;
}

function usage(problem: string): number {
  console.error(`mqtt-command: ${problem}\n\n${USAGE}`);
  return 2;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then((code) => process.exit(code), (error: Error) => {
    console.error(`mqtt-command: ${error.message}`);
    process.exit(3);
  });
}
