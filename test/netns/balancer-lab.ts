// Helpers for the balancer's namespace tests and benchmark: backends (balancer-backend.ts) in
// lab hosts, Tandem routers (the built bundle) with a CARP group and a `balancer` section,
// test certificates made with openssl, and curl from a client host. Every process is spawned
// through the lab, which ends it on dispose.

import type { ChildProcess } from 'node:child_process';
import { execFile } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { PoolStatus } from '../../firmware/balancer/service.js';
import { eventually, type HostRef, type Lab } from './lab.js';
import { DaemonProcess, type Workdir } from './peers.js';

export const REPO = fileURLToPath(new URL('../../', import.meta.url));
export const BACKEND_SCRIPT = fileURLToPath(new URL('./balancer-backend.ts', import.meta.url));
export const VIP = '198.51.100.100';

export class Backend {
  output = '';
  private constructor(readonly name: string, readonly child: ChildProcess) {
    child.stdout?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
    child.stderr?.on('data', (chunk: Buffer) => (this.output += chunk.toString()));
  }

  /** Starts balancer-backend.ts in `host` and waits until it listens. */
  static async start(lab: Lab, host: HostRef, args: string[] = ['--http', '8080']): Promise<Backend> {
    const name = lab.host(host).name;
    const child = lab.spawn(host, process.execPath, ['--import', 'tsx', BACKEND_SCRIPT, name, ...args], { cwd: REPO });
    const backend = new Backend(name, child);
    await eventually(`backend ${name} to listen`, () => {
      if (child.exitCode !== null) throw new Error(`backend ${name} exited: ${backend.output}`);
      return backend.output.includes('ready') ? true : undefined;
    }, 10_000);
    return backend;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await exited;
  }
}

export interface RouterOptions {
  advskew?: number;
  preempt?: boolean;
  pools: Record<string, unknown>[];
  /** Without a CARP group the router listens on its own address. */
  carp?: boolean;
  /** A `firewall` section (redirect mode forwards to the pools' tables through it). */
  firewall?: Record<string, unknown>;
}

/** A Tandem router in a lab host, with CARP vhid 42 on VIP and the given pools. */
export class Router extends DaemonProcess {
  private constructor(
    name: string,
    child: ChildProcess,
    socket: string,
    readonly configPath: string,
    private config: Record<string, unknown>,
  ) {
    super(name, child, socket);
  }

  static async start(lab: Lab, host: HostRef, work: Workdir, options: RouterOptions): Promise<Router> {
    const name = `fw-${lab.host(host).name}`;
    const dir = work.file(name);
    await mkdir(dir, { recursive: true });
    const config: Record<string, unknown> = {
      node: { name, stateDir: join(dir, 'state') },
      control: { socket: join(dir, 'control.sock') },
      log: { level: 'debug' },
      carp:
        options.carp === false
          ? []
          : [{ vhid: 42, interface: 'eth0', addresses: [`${VIP}/24`], password: 'labsecret', advbase: 1, advskew: options.advskew ?? 0, preempt: options.preempt ?? false }],
      balancer: { pools: options.pools },
      ...(options.firewall ? { firewall: options.firewall } : {}),
    };
    const socket = join(dir, 'control.sock');
    return DaemonProcess.launch(lab, host, dir, config, socket, (child, path) => new Router(name, child, socket, path, config));
  }

  async pool(name: string): Promise<PoolStatus> {
    const pool = (await this.status()).pools.find((p) => p.name === name);
    if (!pool) throw new Error(`${this.name} has no pool ${name}`);
    return pool;
  }

  async carpState(): Promise<string | undefined> {
    return (await this.status()).carp[0]?.state;
  }

  /** Rewrites the pools in the config file and reloads, as `kill -HUP` would. */
  async reloadPools(pools: Record<string, unknown>[]): Promise<void> {
    this.config = { ...this.config, balancer: { pools } };
    await writeFile(this.configPath, JSON.stringify(this.config, null, 2));
    await this.control({ cmd: 'reload' });
  }
}

export interface CurlResult {
  code: number;
  stdout: string;
  stderr: string;
  ms: number;
}

/** curl in the client's namespace; resolves with its exit code rather than rejecting. */
export function curl(lab: Lab, host: HostRef, args: string[], timeoutMs = 10_000): Promise<CurlResult> {
  const started = Date.now();
  return new Promise((resolve) => {
    execFile('ip', ['netns', 'exec', lab.host(host).netns, 'curl', '-sS', ...args], { timeout: timeoutMs, encoding: 'utf8' }, (error, stdout, stderr) => {
      const code = error ? (typeof (error as { code?: unknown }).code === 'number' ? ((error as { code: number }).code) : -1) : 0;
      resolve({ code, stdout, stderr, ms: Date.now() - started });
    });
  });
}

/** Which backend answered each of `count` requests, each on a fresh connection. */
export async function backendsHit(lab: Lab, client: HostRef, url: string, count: number): Promise<string[]> {
  const urls = Array.from({ length: count }, () => url);
  const result = await curl(lab, client, ['-f', '-H', 'Connection: close', '--max-time', '5', ...urls]);
  if (result.code !== 0) throw new Error(`curl exit ${result.code}: ${result.stderr} (got ${result.stdout})`);
  return result.stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => (JSON.parse(line) as { name: string }).name);
}

export function run(cmd: string, args: string[], cwd?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 20_000, ...(cwd ? { cwd } : {}) }, (error, stdout, stderr) => {
      if (error) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr || error.message}`));
      else resolve(stdout);
    });
  });
}

export interface TestPki {
  ca: string;
  otherCa: string;
  cert: string;
  key: string;
}

/** A CA, a server certificate for `ip` signed by it, and an unrelated CA, all EC P-256, valid one day. */
export async function makePki(dir: string, ip: string): Promise<TestPki> {
  const f = (name: string) => join(dir, name);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const caExt = ['-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.pem'), '-days', '1', '-subj', '/CN=Tandem test CA', ...caExt]);
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('other.key'), '-out', f('other.pem'), '-days', '1', '-subj', '/CN=Someone else', ...caExt]);
  await run('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=backend.test']);
  await writeFile(f('server.ext'), `subjectAltName=IP:${ip},DNS:backend.test\nextendedKeyUsage=serverAuth\n`);
  await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.pem'), '-CAkey', f('ca.key'), '-CAcreateserial', '-out', f('server.pem'), '-days', '1', '-extfile', f('server.ext')]);
  return { ca: f('ca.pem'), otherCa: f('other.pem'), cert: f('server.pem'), key: f('server.key') };
}
