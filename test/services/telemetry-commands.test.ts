// Services tier for signed remote commands (issue 11 item 3): Debian's mosquitto, started here on
// loopback with the README's password and ACL setup, carries commands signed by
// scripts/mqtt-command to a real `tandem run` (the bundle, no CARP vhosts); unsigned, badly
// signed, stale and replayed commands are refused and change nothing (checked through the control
// socket and the state file), valid ones act and are answered, on MQTT 5 and on 3.1.1.

import { strict as assert } from 'node:assert';
import { execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import mqtt from 'mqtt';

import type { Status } from '../../firmware/daemon.js';
import { signedPayload } from '../../firmware/telemetry/command-auth.js';
import type { CommandReply } from '../../firmware/telemetry/commands.js';
import { buildCommand, sendCommand, sendRaw, type SendOptions } from '../../scripts/mqtt-command.js';
import { Mosquitto, TelemetryNode, Workdir, freePort } from './telemetry-lab.js';

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

/** mosquitto with a user per node and the monitor, and the README's ACL, on a free loopback port. */
interface Broker {
  broker: Mosquitto;
  url: string;
  /** Stops mosquitto and starts it again on the same port and config (no persistence: sessions are gone). */
  restart(): Promise<void>;
}

async function startBroker(dir: string): Promise<Broker> {
  const passwords = join(dir, 'passwords');
  await writeFile(passwords, '');
  for (const [user, password] of Object.entries(PASSWORDS)) await run('mosquitto_passwd', ['-b', passwords, user, password]);
  const acl = join(dir, 'acl');
  await writeFile(acl, await readmeAcl());
  const port = await freePort();
  const lines = [`listener ${port} 127.0.0.1`, 'allow_anonymous false', `password_file ${passwords}`, `acl_file ${acl}`, 'persistence false', 'set_tcp_nodelay true'];
  const result: Broker = {
    broker: await Mosquitto.start(join(dir, 'broker'), lines),
    url: `mqtt://127.0.0.1:${port}`,
    async restart() {
      await result.broker.stop();
      result.broker = await Mosquitto.start(join(dir, 'broker'), lines);
    },
  };
  return result;
}

type Counters = Record<string, number>;

/** A real `tandem run` with telemetry and commands on, broker user fw-a; read through its control socket. */
class CommandNode {
  private constructor(readonly process: TelemetryNode, readonly work: Workdir) {}

  static async start(url: string, keyFile: string, protocol: '5' | '3.1.1', sections: Record<string, unknown> = {}): Promise<CommandNode> {
    const work = await Workdir.create();
    const node = await TelemetryNode.launchIn(undefined, work, {
      name: 'fw-a',
      telemetry: {
        mqtt: { url, username: 'fw-a', password: PASSWORDS['fw-a'], protocol, keepaliveSeconds: 10 },
        commands: { enabled: true, key: keyFile, maxAgeSeconds: 30 },
      },
      sections,
    });
    const result = new CommandNode(node, work);
    // Subscribed once connected: the status says so, and the first command must not race it.
    const connection = await until('fw-a to connect to the broker', async () => {
      const c = (await node.status()).telemetry?.connection;
      return c?.state === 'connected' ? c : undefined;
    }, 20_000); // generous: the services tier shares two cores with everything else
    assert.equal(connection.protocolVersion, protocol === '5' ? 5 : 4, 'the node speaks the protocol under test');
    return result;
  }

  async status(): Promise<Status> {
    return this.process.status();
  }

  async counters(): Promise<Counters> {
    const counters = (await this.status()).telemetry?.commands;
    assert.ok(counters, 'status shows telemetry.commands when commands are on');
    return counters;
  }

  /** The maintenance flag on disk, as a restart would read it. */
  async persistedMaintenance(): Promise<boolean | undefined> {
    const text = await readFile(join(this.work.file('fw-a'), 'state', 'state.json'), 'utf8').catch(() => undefined);
    return text === undefined ? undefined : (JSON.parse(text) as { maintenance: boolean }).maintenance;
  }

  async stop(): Promise<void> {
    await this.process.terminate();
    await this.work.dispose();
  }
}

let dir: string;
let broker: Broker;
let keyFile: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-commands-'));
  keyFile = join(dir, 'command.key');
  await writeFile(keyFile, `${KEY}\n`, { mode: 0o600 });
  broker = await startBroker(dir);
});

after(async () => {
  await broker?.broker.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

for (const protocol of ['5', '3.1.1'] as const) {
  describe(`remote commands over MQTT ${protocol}`, () => {
    let node: CommandNode;
    const refusals: Counters = { unsigned: 0, badSignature: 0, stale: 0, replayed: 0 };
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
      node = await CommandNode.start(broker.url, keyFile, protocol);
    });
    after(async () => {
      await node?.stop();
    });

    const refusedAndUnchanged = async (reply: CommandReply | undefined, reason: string) => {
      assert.ok(reply, 'the node answers a refused command too');
      assert.equal(reply.ok ? 'executed' : reply.reason, reason, JSON.stringify(reply));
      assert.equal((await node.status()).maintenance, false);
      assert.equal(await node.persistedMaintenance(), undefined, 'nothing was written');
      assert.equal((await node.counters())[reason], ++refusals[reason]!, `counted as ${reason}`);
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
      assert.equal((await node.status()).maintenance, true);
      assert.equal(await node.persistedMaintenance(), true);

      const off = await sendCommand({ ...monitor(), action: 'maintenance', args: { on: false } });
      assert.equal(off.reply?.ok, true);
      assert.equal((await node.status()).maintenance, false);

      const replay = await sendRaw(monitor(), built.topic, built.payload, built.replyTopic);
      assert.equal(replay && !replay.ok && replay.reason, 'replayed');
      assert.equal((await node.counters()).replayed, 1);
      assert.equal((await node.status()).maintenance, false);
      assert.equal(await node.persistedMaintenance(), false);
    });

    it('answers 20 commands in a row, each once (round trip printed as a diagnostic)', async (t) => {
      const v5 = protocol === '5';
      const client = await mqtt.connectAsync(broker.url, { protocolVersion: v5 ? 5 : 4, username: 'monitor', password: PASSWORDS.monitor, reconnectPeriod: 0 });
      (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      const replyTopic = `tandem/fw-a/reply/bench/${protocol}`;
      const replies = new Map<string, number>();
      client.on('message', (_topic, payload) => {
        const reply = JSON.parse(payload.toString()) as CommandReply;
        if (reply.nonce) replies.set(reply.nonce, performance.now());
      });
      const rtts: number[] = [];
      try {
        await client.subscribeAsync(replyTopic, { qos: 1 });
        for (let i = 0; i < 20; i++) {
          const built = buildCommand({ ...monitor(), action: 'demote', args: { by: 0 }, replyTopic });
          const sent = performance.now();
          await client.publishAsync(built.topic, built.payload, { qos: 1, ...(v5 ? { properties: { responseTopic: replyTopic, correlationData: Buffer.from(String(i)) } } : {}) });
          const at = await until(`reply ${i}`, () => replies.get(built.nonce));
          rtts.push(at - sent);
        }
      } finally {
        await client.endAsync();
      }
      assert.equal(replies.size, 20, 'one reply per command');
      rtts.sort((a, b) => a - b);
      t.diagnostic(`MQTT ${protocol} command round trip over 20: p50 ${rtts[10]!.toFixed(1)} ms, max ${rtts[19]!.toFixed(1)} ms, publish to reply arrival`);
    });

    it('demote by and reset act as `tandem demote` does', async () => {
      const by = await sendCommand({ ...monitor(), action: 'demote', args: { by: 7 } });
      assert.equal(by.reply?.ok, true, JSON.stringify(by.reply));
      assert.equal((await node.status()).demotion.admin, 7);
      const reset = await sendCommand({ ...monitor(), action: 'demote', args: { reset: true } });
      assert.equal(reset.reply?.ok, true);
      assert.equal((await node.status()).demotion.admin, 0);
    });

    it('the broker ACL keeps another node from commanding this one, even with the key', async () => {
      const before = await node.counters();
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
      const after = await node.counters();
      const sum = (c: Counters) => Object.values(c).reduce((a, b) => a + b, 0);
      assert.equal(sum(after), sum(before) + 1, 'only the monitor\'s command reached the node');
      assert.equal(after.executed, before.executed! + 1);
      assert.equal((await node.status()).maintenance, false);
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

describe('after the broker restarts', () => {
  let node: CommandNode;
  before(async () => {
    node = await CommandNode.start(broker.url, keyFile, '5');
  });
  after(async () => {
    await node?.stop();
  });

  it('the node subscribes again (clean sessions forget) and takes commands', async () => {
    await broker.restart();
    await until('fw-a to reconnect', async () => ((await node.status()).telemetry?.connection.state === 'connected' ? true : undefined), 15_000);
    // The SUBACK may trail the CONNACK a little: retry until a reply comes.
    const reply = await until('a command to be answered after the restart', async () =>
      (await sendCommand({ url: broker.url, node: 'fw-a', key: Buffer.from(KEY), by: 'monitor-1', protocol: '5', timeoutMs: 1000, username: 'monitor', password: PASSWORDS.monitor, action: 'maintenance', args: { on: true } })).reply,
    10_000);
    assert.equal(reply.ok, true, JSON.stringify(reply));
    assert.equal((await node.status()).maintenance, true);
  });
});

describe('pool-drain and pool-undrain on a running balancer', () => {
  let node: CommandNode;
  before(async () => {
    // A relay on loopback in front of one backend on loopback: no firewall, no namespace needed.
    node = await CommandNode.start(broker.url, keyFile, '5', {
      balancer: {
        pools: [{ name: 'web', port: await freePort(), hosts: [{ address: '127.0.0.1', name: 'web-1' }], check: { type: 'tcp', intervalSeconds: 2, timeoutSeconds: 1 }, relay: { listen: `127.0.0.1:${await freePort()}` } }],
      },
    });
  });
  after(async () => {
    await node?.stop();
  });

  const host = async () => (await node.status()).pools.find((p) => p.name === 'web')?.hosts.find((h) => h.id === 'web-1') as { drained?: true; mode: string } | undefined;
  const send = (action: string, args: Record<string, string>) =>
    sendCommand({ url: broker.url, node: 'fw-a', key: Buffer.from(KEY), by: 'monitor-1', protocol: '5', timeoutMs: 5000, username: 'monitor', password: PASSWORDS.monitor, action, args });

  it('drains the host as `tandem balancer drain` does, and undrains it', async () => {
    assert.equal((await host())?.drained, undefined);
    const drained = await send('pool-drain', { pool: 'web', host: 'web-1' });
    assert.equal(drained.reply?.ok, true, JSON.stringify(drained.reply));
    assert.equal((await host())?.drained, true);
    const undrained = await send('pool-undrain', { host: 'web-1' });
    assert.equal(undrained.reply?.ok, true, JSON.stringify(undrained.reply));
    assert.equal((await host())?.drained, undefined);
  });

  it('a host the node does not have: failed, with the daemon\'s reason', async () => {
    const { reply } = await send('pool-drain', { host: 'web-9' });
    assert.deepEqual(reply && !reply.ok && [reply.reason, reply.error], ['failed', 'no host web-9 in any pool']);
  });
});

describe('scripts/mqtt-command, as an admin runs it', () => {
  let node: CommandNode;
  before(async () => {
    node = await CommandNode.start(broker.url, keyFile, '5');
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
    assert.equal((await node.status()).maintenance, true);
  });

  it('a wrong key file: exit 1, badSignature printed, nothing changes', async () => {
    const wrong = join(dir, 'wrong.key');
    await writeFile(wrong, 'this-is-not-the-key-at-all\n');
    const result = await script([...common(), '--key-file', wrong, 'maintenance', 'on=false']);
    assert.equal(result.code, 1, result.stderr);
    assert.equal((JSON.parse(result.stdout) as CommandReply & { ok: false }).reason, 'badSignature');
    assert.equal((await node.status()).maintenance, true);
  });
});
