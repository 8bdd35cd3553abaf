import assert from 'node:assert/strict';
import { spawn, execFile } from 'node:child_process';
import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { parseArgs, UsageError } from '../../firmware/cli.js';

const run = promisify(execFile);
const bundle = new URL('../../dist/tandem.mjs', import.meta.url).pathname;

async function tandem(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bundle, ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('cli arguments', () => {
  const rows: [string[], unknown][] = [
    [['status', '--json'], { kind: 'status', json: true, config: undefined, control: undefined }],
    [['demote', '--by', '3'], { kind: 'demote', by: 3, config: undefined, control: undefined }],
    [['demote', '--reset', '--control', '/tmp/x.sock'], { kind: 'demote', reset: true, config: undefined, control: '/tmp/x.sock' }],
    [['maintenance', 'on'], { kind: 'maintenance', on: true, config: undefined, control: undefined }],
    [['check', '--config', 'a.yaml'], { kind: 'check', config: 'a.yaml' }],
    [['balancer', 'drain', 'web-2'], { kind: 'balancer-drain', host: 'web-2', on: true, config: undefined, control: undefined }],
    [['balancer', 'undrain', '198.51.100.22', '--pool', 'web'], { kind: 'balancer-drain', host: '198.51.100.22', on: false, pool: 'web', config: undefined, control: undefined }],
    [['--version'], { kind: 'version' }],
    [[], { kind: 'help' }],
  ];
  for (const [argv, expected] of rows) {
    it(`parses ${argv.join(' ') || '(nothing)'}`, () => assert.deepEqual(parseArgs(argv), expected));
  }
  const bad: [string[], RegExp][] = [
    [['demote'], /exactly one of --by N or --reset/],
    [['demote', '--by', 'x'], /--by must be an integer/],
    [['maintenance', 'maybe'], /maintenance needs on or off/],
    [['status', '--bogus'], /unknown option --bogus/],
    [['frobnicate'], /unknown command "frobnicate"/],
    [['check', '--config'], /--config needs a value/],
    [['balancer', 'drain'], /balancer needs drain HOST or undrain HOST/],
    [['balancer', 'park', 'web-2'], /balancer needs drain HOST or undrain HOST/],
  ];
  for (const [argv, message] of bad) {
    it(`rejects ${argv.join(' ')}`, () => assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof UsageError && message.test(e.message)));
  }
});

describe('tandem executable', () => {
  it('prints its version and help listing only working commands', async () => {
    assert.match((await tandem(['--version'])).stdout, /^tandem 0\.1\.0\n$/);
    const help = (await tandem(['--help'])).stdout;
    for (const command of ['run', 'check', 'status', 'demote', 'maintenance', 'failover', 'demo']) {
      assert.match(help, new RegExp(`tandem ${command}`));
    }
    for (const sub of ['render', 'apply', 'confirm', 'status']) assert.match(help, new RegExp(`tandem firewall ${sub}`));
    for (const sub of ['status', 'wake', 'pin']) assert.match(help, new RegExp(`tandem power ${sub}`));
  });

  it('check prints one line per error with file:line and exits 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-cli-'));
    try {
      const path = join(dir, 'bad.yaml');
      await writeFile(path, 'node:\n  name: fw-a\ncarp:\n  - vhid: 42\n    interface: eth0\n    addresses: [198.51.100.100/24]\n    password: labsecret\n    advskew: 300\n');
      const result = await tandem(['check', '--config', path]);
      assert.equal(result.code, 1);
      assert.equal(result.stderr, `${path}:8: carp[0].advskew: must be 0-254, got 300\n${path}: 1 error(s)\n`);
      const good = join(dir, 'good.yaml');
      await writeFile(good, 'node: { name: fw-a }\n');
      const ok = await tandem(['check', '--config', good]);
      assert.equal(ok.code, 0);
      assert.match(ok.stdout, /ok \(node fw-a, 0 CARP vhost\(s\)\)/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('status without a daemon says where it looked', async () => {
    const result = await tandem(['status', '--control', '/nonexistent/tandem.sock']);
    assert.equal(result.code, 1);
    assert.match(result.stderr, /no tandem daemon is listening on \/nonexistent\/tandem.sock/);
  });

  it('SIGHUP with an invalid config keeps the running one; a valid one is applied; SIGTERM exits cleanly', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-run-'));
    const config = join(dir, 'tandem.yaml');
    const socket = join(dir, 'control.sock');
    const write = (name: string, extra = '') =>
      writeFile(config, `node: { name: ${name}, stateDir: ${dir}/state }\ncontrol: { socket: ${socket} }\n${extra}`);
    await write('fw-a');
    const daemon = spawn(process.execPath, [bundle, 'run', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    daemon.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    daemon.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => daemon.once('exit', (code) => resolve(code)));
    const statusName = async () => {
      const result = await tandem(['status', '--json', '--control', socket]);
      return result.code === 0 ? (JSON.parse(result.stdout) as { node: string }).node : undefined;
    };
    try {
      assert.equal(await until('the daemon to answer', statusName), 'fw-a');

      await write('fw-b', 'carp:\n  - vhid: 300\n');
      daemon.kill('SIGHUP');
      await until('the refusal to be logged', async () => (output.includes('reload refused') ? true : undefined));
      assert.match(output, /carp\[0\]\.vhid: must be 1-255, got 300/);
      assert.equal(await statusName(), 'fw-a');
      assert.equal(daemon.exitCode, null, 'the daemon must still be running');

      await write('fw-b');
      daemon.kill('SIGHUP');
      assert.equal(await until('the new config', async () => ((await statusName()) === 'fw-b' ? 'fw-b' : undefined)), 'fw-b');

      daemon.kill('SIGTERM');
      assert.equal(await exited, 0);
      await assert.rejects(access(socket), 'the control socket is removed on exit');
    } finally {
      if (daemon.exitCode === null) daemon.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    }
  });
});
