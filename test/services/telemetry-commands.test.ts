// Services tier for signed remote commands (issue 11 item 3): Debian's mosquitto, started here on
// loopback with the README's password and ACL setup, carries commands signed by
// scripts/mqtt-command to a Tandem node; unsigned, badly signed, stale and replayed commands are
// refused and change nothing, valid ones act and are answered, on MQTT 5 and on 3.1.1.

import { strict as assert } from 'node:assert';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';

import { validate } from '../../firmware/config/kit.js';
import { configSchema } from '../../firmware/config/schema.js';
import { Daemon } from '../../firmware/daemon.js';
import { createLogger } from '../../firmware/log.js';
import { Segment } from '../../firmware/net/segment.js';
import { systemClock } from '../../firmware/os/clock.js';
import { LinuxFileStore } from '../../firmware/os/files.js';
import { FakeProcessRunner } from '../../firmware/os/process.js';
import { signedPayload } from '../../firmware/telemetry/command-auth.js';
import { CommandHandler, type CommandReply } from '../../firmware/telemetry/commands.js';
import { buildCommand, sendCommand, sendRaw, type SendOptions } from '../../scripts/mqtt-command.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'services-lab-key-0123456789abcdef';
const PASSWORDS = { 'fw-a': 'fw-a-pass', 'fw-b': 'fw-b-pass', monitor: 'monitor-pass' };

/** The README's mosquitto ACL, taken from the README itself so the documentation is what is tested. */
async function readmeAcl(): Promise<string> {
  const readme = await readFile(join(ROOT, 'README.md'), 'utf8');
  const match = /```\n(# mosquitto acl_file for Tandem[\s\S]*?)```/.exec(readme);
  assert.ok(match, 'README.md has the "# mosquitto acl_file for Tandem" block under "Remote commands"');
  return match[1]!;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function until<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Debian's mosquitto on a free loopback port, with users and the README's ACL; stopped by PID. */
class Mosquitto {
  output = '';
  private constructor(readonly child: ChildProcess, readonly port: number) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  static async start(dir: string, acl: string): Promise<Mosquitto> {
    const passwords = join(dir, 'passwords');
    await writeFile(passwords, '');
    for (const [user, password] of Object.entries(PASSWORDS)) await run('mosquitto_passwd', ['-b', passwords, user, password]);
    await writeFile(join(dir, 'acl'), acl);
    // Started as root, mosquitto drops to its own user, which must read these two files.
    await chmod(dir, 0o755);
    await chmod(passwords, 0o644);
    await chmod(join(dir, 'acl'), 0o644);
    const port = await freePort();
    const config = join(dir, 'mosquitto.conf');
    await writeFile(
      config,
      [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwords}`, `acl_file ${join(dir, 'acl')}`, 'persistence false', 'log_dest stderr', 'log_type all', ''].join('\n'),
    );
    const broker = new Mosquitto(spawn('/usr/sbin/mosquitto', ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] }), port);
    await until('mosquitto to listen', () =>
      new Promise<true | undefined>((resolve) => {
        if (broker.child.exitCode !== null) throw new Error(`mosquitto exited: ${broker.output}`);
        const socket = createConnection({ host: '127.0.0.1', port }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.on('error', () => resolve(undefined));
      }),
    );
    return broker;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

/**
 * A Tandem node: a real Daemon (no CARP vhosts, its state on disk) whose commands arrive from the
 * broker as user fw-a, through the CommandHandler, replies going back through the same client.
 */
class CommandNode {
  private constructor(
    readonly daemon: Daemon,
    readonly handler: CommandHandler,
    readonly client: mqtt.MqttClient,
    readonly stateDir: string,
    readonly handled: CommandReply[],
  ) {}

  static async start(url: string, dir: string, protocolVersion: 4 | 5): Promise<CommandNode> {
    const stateDir = join(dir, `state-${protocolVersion}`);
    const { value: config, issues } = validate(configSchema, { node: { name: 'fw-a', stateDir } });
    assert.ok(config, JSON.stringify(issues));
    const log = createLogger('error', () => undefined);
    const segment = new Segment(systemClock);
    segment.attach('fw-a', { addresses: ['198.51.100.11/24'] });
    const host = segment.host('fw-a');
    const daemon = new Daemon(config, { clock: systemClock, files: new LinuxFileStore(), processes: new FakeProcessRunner(), packets: host, addresses: host, announcer: host, links: host, log });
    await daemon.start();
    const handler = new CommandHandler({
      node: 'fw-a',
      prefix: 'tandem',
      key: Buffer.from(KEY),
      maxAgeSeconds: 30,
      now: () => systemClock.now(),
      dispatch: (request) => daemon.handle(request),
      emit: (event) => daemon.events.emit(event),
      log,
    });
    const client = await mqtt.connectAsync(url, { protocolVersion, username: 'fw-a', password: PASSWORDS['fw-a'], clientId: `tandem-fw-a-${protocolVersion}`, reconnectPeriod: 0 });
    const handled: CommandReply[] = [];
    client.on('message', (topic, payload, packet) => {
      const props = packet.properties;
      void handler
        .handle(
          {
            topic,
            payload,
            ...(props?.responseTopic ? { responseTopic: props.responseTopic } : {}),
            ...(props?.correlationData ? { correlationData: props.correlationData } : {}),
          },
          (replyTopic, body, correlationData) =>
            client.publishAsync(replyTopic, body, { qos: 1, ...(protocolVersion === 5 && correlationData ? { properties: { correlationData: Buffer.from(correlationData) } } : {}) }).then(() => undefined),
        )
        .then((reply) => handled.push(reply));
    });
    await client.subscribeAsync(handler.topicFilter, { qos: 1 });
    return new CommandNode(daemon, handler, client, stateDir, handled);
  }

  /** The maintenance flag on disk, as a restart would read it. */
  async persistedMaintenance(): Promise<boolean | undefined> {
    const text = await readFile(join(this.stateDir, 'state.json'), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as { maintenance: boolean }).maintenance;
  }

  async stop(): Promise<void> {
    await this.client.endAsync();
    await this.daemon.stop();
  }
}

let dir: string;
let broker: Mosquitto;
let keyFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-commands-'));
  keyFile = join(dir, 'command.key');
  await writeFile(keyFile, `${KEY}\n`, { mode: 0o600 });
  broker = await Mosquitto.start(dir, await readmeAcl());
});

after(async () => {
  await broker?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

for (const protocol of ['5', '3.1.1'] as const) {
  describe(`remote commands over MQTT ${protocol}`, () => {
    let node: CommandNode;
    const monitor = (): Omit<SendOptions, 'action' | 'args'> => ({
      url: broker.url,
      node: 'fw-a',
      key: Buffer.from(KEY),
      by: 'monitor-1',
      protocol,
      timeoutMs: 5000,
      username: 'monitor',
      password: PASSWORDS.monitor,
    });

    before(async () => {
      node = await CommandNode.start(broker.url, dir, protocol === '5' ? 5 : 4);
    });
    after(async () => {
      await node?.stop();
    });

    const refusedAndUnchanged = async (reply: CommandReply | undefined, reason: string) => {
      assert.ok(reply, 'the node answers a refused command too');
      assert.equal(reply.ok ? 'executed' : reply.reason, reason, JSON.stringify(reply));
      assert.equal(node.daemon.status().maintenance, false);
      assert.equal(await node.persistedMaintenance(), undefined, 'nothing was written');
    };

    it('refuses an unsigned command', async () => {
      const built = buildCommand({ ...monitor(), action: 'maintenance', args: { on: true } });
      const body = JSON.parse(built.payload) as Record<string, unknown>;
      delete body.sig;
      await refusedAndUnchanged(await sendRaw(monitor(), built.topic, JSON.stringify(body), built.replyTopic), 'unsigned');
    });

    it('refuses a command signed with another key', async () => {
      const { reply } = await sendCommand({ ...monitor(), key: Buffer.from('not-the-shared-key-0123'), action: 'maintenance', args: { on: true } });
      await refusedAndUnchanged(reply, 'badSignature');
    });

    it('refuses a command 60 s old', async () => {
      const { reply } = await sendCommand({ ...monitor(), time: Date.now() - 60_000, action: 'maintenance', args: { on: true } });
      await refusedAndUnchanged(reply, 'stale');
    });

    it('executes a valid command and answers; a replay of it is refused and changes nothing', async () => {
      const built = buildCommand({ ...monitor(), action: 'maintenance', args: { on: true } });
      const first = await sendRaw(monitor(), built.topic, built.payload, built.replyTopic);
      assert.deepEqual(first, { ok: true, action: 'maintenance', nonce: built.nonce, result: { maintenance: true } });
      assert.equal(node.daemon.status().maintenance, true);
      assert.equal(await node.persistedMaintenance(), true);

      const off = await sendCommand({ ...monitor(), action: 'maintenance', args: { on: false } });
      assert.equal(off.reply?.ok, true);
      assert.equal(node.daemon.status().maintenance, false);

      const replay = await sendRaw(monitor(), built.topic, built.payload, built.replyTopic);
      assert.equal(replay && !replay.ok && replay.reason, 'replayed');
      assert.equal(node.daemon.status().maintenance, false);
      assert.equal(await node.persistedMaintenance(), false);
    });

    it('demote by and reset act as `tandem demote` does', async () => {
      const by = await sendCommand({ ...monitor(), action: 'demote', args: { by: 7 } });
      assert.equal(by.reply?.ok, true, JSON.stringify(by.reply));
      assert.equal(node.daemon.status().demotion.admin, 7);
      const reset = await sendCommand({ ...monitor(), action: 'demote', args: { reset: true } });
      assert.equal(reset.reply?.ok, true);
      assert.equal(node.daemon.status().demotion.admin, 0);
    });

    it('the broker ACL keeps another node from commanding this one, even with the key', async () => {
      const before = node.handled.length;
      const other = await mqtt.connectAsync(broker.url, { protocolVersion: protocol === '5' ? 5 : 4, username: 'fw-b', password: PASSWORDS['fw-b'], reconnectPeriod: 0 });
      try {
        const payload = signedPayload(Buffer.from(KEY), { node: 'fw-a', action: 'maintenance', args: { on: true }, time: Date.now(), nonce: `from-fw-b-${Date.now()}`, by: 'fw-b' });
        // MQTT 5 brokers answer "not authorized" (135); 3.1.1 ones drop it silently.
        await other.publishAsync('tandem/fw-a/cmd/maintenance', payload, { qos: 1 }).catch(() => undefined);
        // A command the monitor sends afterwards arrives; the one from fw-b never did.
        const probe = await sendCommand({ ...monitor(), action: 'demote', args: { by: 0 } });
        assert.equal(probe.reply?.ok, true);
      } finally {
        await other.endAsync();
      }
      assert.equal(node.handled.length, before + 1, 'only the monitor\'s command reached the node');
      assert.equal(node.daemon.status().maintenance, false);
    });
  });
}

describe('the README ACL', () => {
  it('lets a node write its telemetry topics, but not its own cmd/ nor another node\'s topics', async () => {
    const seen: string[] = [];
    const watcher = await mqtt.connectAsync(broker.url, { protocolVersion: 5, username: 'monitor', password: PASSWORDS.monitor, reconnectPeriod: 0 });
    const nodeClient = await mqtt.connectAsync(broker.url, { protocolVersion: 5, username: 'fw-a', password: PASSWORDS['fw-a'], reconnectPeriod: 0 });
    try {
      watcher.on('message', (topic) => seen.push(topic));
      await watcher.subscribeAsync('tandem/#', { qos: 1 });
      const topics = ['tandem/fw-a/status', 'tandem/fw-a/events', 'tandem/fw-a/metrics', 'tandem/fw-a/carp/42/state', 'tandem/fw-a/pools/web', 'tandem/fw-a/power/srv1', 'tandem/fw-a/reply/monitor/1'];
      const denied = ['tandem/fw-a/cmd/maintenance', 'tandem/fw-b/status', 'tandem/fw-b/cmd/failover'];
      for (const topic of [...denied, ...topics]) await nodeClient.publishAsync(topic, '{}', { qos: 1 }).catch(() => undefined);
      await until('the allowed topics to arrive', () => (topics.every((t) => seen.includes(t)) ? true : undefined));
      // The denied ones were published first, on the same connection: had they passed, they would be here.
      assert.deepEqual(seen.filter((t) => denied.includes(t)), []);
    } finally {
      await nodeClient.endAsync();
      await watcher.endAsync();
    }
  });
});

describe('scripts/mqtt-command, as an admin runs it', () => {
  let node: CommandNode;
  before(async () => {
    node = await CommandNode.start(broker.url, dir, 5);
  });
  after(async () => {
    await node?.stop();
  });

  const script = (args: string[]) =>
    new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
      const child = spawn(join(ROOT, 'scripts/mqtt-command'), args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('exit', (code) => resolve({ code, stdout, stderr }));
    });
  const common = () => ['--url', broker.url, '--node', 'fw-a', '--username', 'monitor', '--password', PASSWORDS.monitor, '--by', 'ops', '--timeout', '5'];

  it('maintenance on=true: exit 0, the reply printed, the node in maintenance', async () => {
    const result = await script([...common(), '--key-file', keyFile, 'maintenance', 'on=true']);
    assert.equal(result.code, 0, result.stderr);
    const reply = JSON.parse(result.stdout) as CommandReply;
    assert.equal(reply.ok && reply.action, 'maintenance');
    assert.equal(node.daemon.status().maintenance, true);
  });

  it('a wrong key file: exit 1, badSignature printed, nothing changes', async () => {
    const wrong = join(dir, 'wrong.key');
    await writeFile(wrong, 'this-is-not-the-key-at-all\n');
    const result = await script([...common(), '--key-file', wrong, 'maintenance', 'on=false']);
    assert.equal(result.code, 1, result.stderr);
    assert.equal((JSON.parse(result.stdout) as CommandReply & { ok: false }).reason, 'badSignature');
    assert.equal(node.daemon.status().maintenance, true);
  });
});
