// Helpers for the telemetry services tests: Debian's mosquitto started from a small config file
// (in the root namespace on loopback, or inside a lab host), stopped by its PID; `tandem run`
// processes with a telemetry section; a test CA made with openssl.

import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdir, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { DaemonProcess, Workdir, bundleCommand } from '../netns/peers.js';
import { eventually, type HostRef, type Lab } from '../netns/lab.js';

const run = promisify(execFile);

/** A free TCP port on 127.0.0.1 (the kernel picks it; the listener is closed again). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  server.close();
  await once(server, 'close');
  return port;
}

export class Mosquitto {
  log = '';
  private constructor(readonly child: ChildProcess, readonly config: string) {
    child.stdout?.on('data', (c: Buffer) => (this.log += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (this.log += c.toString()));
  }

  /**
   * Starts `mosquitto -c FILE` with `lines` (listener, options); in `lab`'s host when given.
   * Resolves once it says it is running.
   */
  static async start(dir: string, lines: string[], where?: { lab: Lab; host: HostRef }): Promise<Mosquitto> {
    await mkdir(dir, { recursive: true });
    const config = join(dir, 'mosquitto.conf');
    // Run as root: mosquitto would otherwise drop to its own user and not read the test's files.
    await writeFile(config, ['user root', 'log_dest stderr', 'log_type error', 'log_type warning', 'log_type notice', 'log_type information', ...lines, ''].join('\n'));
    const child = where ? where.lab.spawn(where.host, 'mosquitto', ['-c', config]) : spawn('mosquitto', ['-c', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    const broker = new Mosquitto(child, config);
    await eventually('mosquitto to start', () => {
      if (child.exitCode !== null) throw new Error(`mosquitto exited: ${broker.log}`);
      return /running/.test(broker.log) ? true : undefined;
    }, 5000);
    return broker;
  }

  /** SIGTERM to the PID we started; resolves when it has exited (it saves persistence first). */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = once(this.child, 'exit');
    this.child.kill('SIGTERM');
    await exited;
  }
}

export interface TelemetryNodeOptions {
  telemetry: Record<string, unknown>;
  carp?: Record<string, unknown>[];
  name: string;
  /** More config sections (balancer, power, ...). */
  sections?: Record<string, unknown>;
}

/** `tandem run` (the built bundle) with a telemetry section, in a lab host or the root namespace. */
export class TelemetryNode extends DaemonProcess {
  static async launchIn(where: { lab: Lab; host: HostRef } | undefined, work: Workdir, options: TelemetryNodeOptions): Promise<TelemetryNode> {
    const dir = work.file(options.name);
    await mkdir(dir, { recursive: true });
    const socket = join(dir, 'control.sock');
    const config = {
      node: { name: options.name, stateDir: join(dir, 'state') },
      control: { socket },
      log: { level: 'debug' },
      carp: (options.carp ?? []).map((c) => ({ vhid: 42, interface: 'eth0', addresses: ['198.51.100.100/24'], password: 'labsecret', advbase: 1, ...c })),
      telemetry: options.telemetry,
      ...options.sections,
    };
    if (where) {
      const node = await DaemonProcess.launch(where.lab, where.host, dir, config, socket, (child) => new TelemetryNode(options.name, child, socket));
      return node.telemetryStarted();
    }
    // Root namespace (no CARP vhosts, loopback broker): the same launch without `ip netns exec`.
    const path = join(dir, 'tandem.json');
    await writeFile(path, JSON.stringify(config, null, 2));
    const child = spawn(process.execPath, [...bundleCommand(), 'run', '--config', path], { stdio: ['ignore', 'pipe', 'pipe'] });
    const node = new TelemetryNode(options.name, child, socket);
    await eventually(`${options.name} to answer on its control socket`, async () => {
      if (child.exitCode !== null) throw new Error(`${options.name} exited: ${node.output}`);
      return (await node.status()).node;
    }, 10_000);
    return node.telemetryStarted();
  }

  /** The control socket answers before the daemon has started; telemetry shows in status once it has. */
  async telemetryStarted(): Promise<this> {
    await eventually(`${this.name}'s telemetry to start`, async () => ((await this.status()).telemetry ? true : undefined), 10_000);
    return this;
  }
}

/** A throwaway CA with a server certificate for 127.0.0.1 and a client certificate, via openssl. */
export async function makeCa(dir: string, name: string): Promise<{ ca: string; serverCert: string; serverKey: string; clientCert: string; clientKey: string }> {
  await mkdir(dir, { recursive: true });
  const p = (file: string) => join(dir, `${name}-${file}`);
  const openssl = (args: string[]) => run('openssl', args, { timeout: 30_000 });
  await openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', `/CN=${name} test CA`, '-keyout', p('ca.key'), '-out', p('ca.pem')]);
  for (const [who, ext] of [
    ['server', 'subjectAltName=IP:127.0.0.1'],
    ['client', 'extendedKeyUsage=clientAuth'],
  ] as const) {
    await openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-subj', `/CN=${name} ${who}`, '-keyout', p(`${who}.key`), '-out', p(`${who}.csr`)]);
    await writeFile(p(`${who}.ext`), `${ext}\n`);
    await openssl(['x509', '-req', '-in', p(`${who}.csr`), '-CA', p('ca.pem'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p(`${who}.ext`), '-out', p(`${who}.pem`)]);
  }
  return { ca: p('ca.pem'), serverCert: p('server.pem'), serverKey: p('server.key'), clientCert: p('client.pem'), clientKey: p('client.key') };
}

/** Lines `topic payload` from a mosquitto_sub -v running in a lab host, kept as they arrive. */
export class LabSubscriber {
  lines: string[] = [];
  private buffer = '';
  private constructor(readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => {
      this.buffer += chunk.toString();
      const parts = this.buffer.split('\n');
      this.buffer = parts.pop()!;
      this.lines.push(...parts.filter(Boolean));
    });
  }

  static start(lab: Lab, host: HostRef, brokerHost: string, topics: string[], extra: string[] = []): LabSubscriber {
    return new LabSubscriber(lab.spawn(host, 'mosquitto_sub', ['-h', brokerHost, '-v', '-q', '1', ...extra, ...topics.flatMap((t) => ['-t', t])]));
  }

  /** The last payload seen on `topic`, parsed. */
  last(topic: string): Record<string, unknown> | undefined {
    for (let i = this.lines.length - 1; i >= 0; i--) {
      const line = this.lines[i]!;
      if (line.startsWith(`${topic} `)) return JSON.parse(line.slice(topic.length + 1)) as Record<string, unknown>;
    }
    return undefined;
  }

  stop(): void {
    if (this.child.exitCode === null) this.child.kill('SIGTERM');
  }
}

/** The retained messages the broker holds now: a fresh mosquitto_sub in the lab host for `seconds`. */
export async function retainedIn(lab: Lab, host: HostRef, brokerHost: string, topic: string, seconds = 2): Promise<Map<string, Record<string, unknown>>> {
  const sub = LabSubscriber.start(lab, host, brokerHost, [topic], ['--retained-only']);
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000));
  sub.stop();
  const out = new Map<string, Record<string, unknown>>();
  for (const line of sub.lines) {
    const space = line.indexOf(' ');
    out.set(line.slice(0, space), JSON.parse(line.slice(space + 1)) as Record<string, unknown>);
  }
  return out;
}

export { Workdir };
