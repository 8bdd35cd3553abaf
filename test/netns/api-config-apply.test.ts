// Config apply through the web UI's API on a real router (issue 12 item 1, issue 14 item 1):
// Tandem (the built bundle) runs in a router namespace with a firewall and the API on the
// namespace's loopback; curl logs in and applies a config whose policy blocks a port. Real
// connections show the candidate in force, then the previous policy back once the window
// passes unconfirmed, a confirmed one staying, and, after a kill -9 inside the window, the
// restart starting on the previous config and ruleset. Needs root; about 40 s.

import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashPassword } from '../../firmware/api/auth.js';
import { sendControl } from '../../firmware/control/client.js';
import type { Status } from '../../firmware/daemon.js';
import { FirewallLab } from './firewall-lab.js';
import { eventually, netnsUnavailable } from './lab.js';
import { bundleCommand } from './peers.js';

const skip = netnsUnavailable();

const VIP = '203.0.113.10';
const INET = '203.0.113.50';
const API = 'http://127.0.0.1:18080';
const PASSWORD = 'correct horse battery staple';

describe('config apply through the API on a router, with traffic', { skip }, () => {
  let lab: FirewallLab;
  let dir: string;
  let configPath: string;
  let socket: string;
  let jar: string;
  let csrf = '';
  let output = '';
  let router: ChildProcess | undefined;
  let passwordHash: string;

  /** Policy A passes lan -> inet 9000; B (`blocked`) blocks it first. */
  const configText = (blocked: boolean) =>
    JSON.stringify(
      {
        node: { name: 'rt', stateDir: join(dir, 'state') },
        control: { socket },
        log: { level: 'debug' },
        carp: [{ vhid: 10, interface: 'eth0', addresses: [`${VIP}/24`], password: 'apilab' }],
        api: { listen: ['127.0.0.1:18080'], users: [{ name: 'admin', passwordHash }] },
        firewall: {
          zones: { wan: { interfaces: ['eth0'], addresses: ['203.0.113.2/24'] }, lan: { interfaces: ['eth1'], addresses: ['198.51.100.1/24'] } },
          rules: [
            ...(blocked ? [{ action: 'block', direction: 'in', quick: true, on: 'lan', proto: 'tcp', to: { port: 9000 } }] : []),
            { action: 'pass', direction: 'in', on: 'lan' },
          ],
          nat: [{ on: 'wan', from: { zone: 'lan' }, natTo: { vip: 10 } }],
        },
      },
      null,
      2,
    ) + '\n';

  const status = async (): Promise<Status> => {
    const reply = await sendControl(socket, { cmd: 'status' }, 2000);
    assert.ok(reply.ok, !reply.ok ? reply.error : '');
    return reply.result as Status;
  };

  /** One API call by curl inside the router's namespace, with the session cookie and CSRF token. */
  async function api(method: 'GET' | 'POST', path: string, body?: unknown): Promise<{ code: number; json: unknown }> {
    const args = ['-sS', '-X', method, '-b', jar, '-c', jar, '-H', 'content-type: application/json', '-w', '\n%{http_code}'];
    if (csrf) args.push('-H', `x-csrf-token: ${csrf}`);
    if (body !== undefined) args.push('--data-binary', '@-');
    args.push(`${API}${path}`);
    const result = await lab.exec('rt', 'curl', args, { ...(body !== undefined ? { input: JSON.stringify(body) } : {}), timeoutMs: 15_000 });
    const lines = result.stdout.trimEnd().split('\n');
    const code = Number(lines.pop());
    const text = lines.join('\n');
    return { code, json: text ? JSON.parse(text) : null };
  }

  async function login(): Promise<void> {
    csrf = '';
    const reply = await api('POST', '/api/login', { user: 'admin', password: PASSWORD });
    assert.equal(reply.code, 200, JSON.stringify(reply.json));
    csrf = (reply.json as { csrfToken: string }).csrfToken;
    assert.ok(csrf);
  }

  async function startRouter(): Promise<void> {
    const child = lab.spawn('rt', process.execPath, [...bundleCommand(), 'run', '--config', configPath]);
    router = child;
    const collect = (chunk: Buffer) => void (output += chunk.toString());
    child.stdout!.on('data', collect);
    child.stderr!.on('data', collect);
    await eventually('tandem to answer and serve the API', async () => {
      if (child.exitCode !== null) throw new Error(`tandem exited: ${output}`);
      const s = await status();
      return (s as Status & { api?: { listening: unknown[] } }).api?.listening.length ? s : undefined;
    }, 15_000);
    await login();
  }

  const passes = async () => (await lab.connect('lan', INET, 9000, 1000)) === `hello ${INET} ${VIP}`;

  before(async () => {
    passwordHash = await hashPassword(PASSWORD);
    lab = await FirewallLab.create();
    dir = await mkdtemp(join(tmpdir(), 'tandem-api-apply-'));
    configPath = join(dir, 'rt.json');
    socket = join(dir, 'rt.sock');
    jar = join(dir, 'cookies');
    await lab.serve('inet', [9000]);
    await writeFile(configPath, configText(false), { mode: 0o600 });
    await startRouter();
    await eventually('the router to be MASTER', async () => ((await status()).carp[0]?.state === 'MASTER' ? true : undefined), 8000);
  });

  after(async () => {
    await lab?.dispose();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('policy A lets lan reach inet:9000 (the control)', async () => {
    assert.ok(await passes());
  });

  it('an invalid config is refused with its issues, and nothing changes', async () => {
    const bad = configText(true).replace('"vhid": 10', '"vhid": 300');
    const reply = await api('POST', '/api/config/apply', { text: bad, confirmWithinSeconds: 5 });
    assert.equal(reply.code, 400);
    const json = reply.json as { error: string; issues: { path: string; line?: number }[] };
    assert.ok(json.issues.some((i) => i.path === 'carp[0].vhid' && typeof i.line === 'number'), JSON.stringify(json));
    assert.equal(await readFile(configPath, 'utf8'), configText(false));
    assert.ok(await passes());
  });

  it('an unconfirmed apply is in force for its window, then the previous config is back by itself', async (t) => {
    const started = performance.now();
    const reply = await api('POST', '/api/config/apply', { text: configText(true), confirmWithinSeconds: 4 });
    const appliedMs = performance.now() - started;
    t.diagnostic(`apply round trip (curl in the namespace, check + atomic write + reload + nft load): ${appliedMs.toFixed(0)} ms`);
    assert.equal(reply.code, 200, JSON.stringify(reply.json));
    assert.equal((reply.json as { phase: string }).phase, 'pending');
    assert.equal(await readFile(configPath, 'utf8'), configText(true));
    assert.equal(await passes(), false, 'the candidate blocks 9000');
    assert.equal((await status()).configApply?.phase, 'pending');
    await eventually('the revert', async () => ((await status()).configApply?.phase === 'active' ? true : undefined), 10_000);
    t.diagnostic(`reverted ${((performance.now() - started) / 1000).toFixed(1)} s after the apply was sent (window 4 s)`);
    assert.ok(await passes(), 'policy A again');
    assert.equal(await readFile(configPath, 'utf8'), configText(false));
    assert.match((await status()).configApply?.lastRevert?.why ?? '', /not confirmed within 4 s/);
    const recent = (await api('GET', '/api/events/recent')).json as { events: { type: string; outcome?: string }[] };
    assert.ok(recent.events.some((e) => e.type === 'configApply' && e.outcome === 'reverted'), JSON.stringify(recent.events.slice(-5)));
  });

  it('a confirmed apply stays; an apply without a window puts A back', async () => {
    assert.equal((await api('POST', '/api/config/apply', { text: configText(true), confirmWithinSeconds: 3 })).code, 200);
    const confirmed = await api('POST', '/api/config/confirm');
    assert.equal(confirmed.code, 200, JSON.stringify(confirmed.json));
    await new Promise((resolve) => setTimeout(resolve, 4000));
    assert.equal(await passes(), false, 'still blocked after the window');
    assert.equal(await readFile(configPath, 'utf8'), configText(true));
    assert.equal((await api('POST', '/api/config/apply', { text: configText(false) })).code, 200);
    assert.ok(await passes());
  });

  it('after a kill -9 inside the window, the restart starts on the previous config and ruleset', async () => {
    assert.equal((await api('POST', '/api/config/apply', { text: configText(true), confirmWithinSeconds: 4 })).code, 200);
    assert.equal(await passes(), false);
    router!.kill('SIGKILL');
    await new Promise<void>((resolve) => (router!.exitCode !== null || router!.signalCode !== null ? resolve() : router!.once('exit', () => resolve())));
    await new Promise((resolve) => setTimeout(resolve, 5000));
    assert.equal(await readFile(configPath, 'utf8'), configText(true), 'nothing reverts while no daemon runs');
    output = '';
    await startRouter();
    assert.equal(await readFile(configPath, 'utf8'), configText(false));
    assert.ok(await passes(), 'policy A is in force after the restart');
    const s = await status();
    assert.equal(s.configApply?.phase, 'active');
    assert.match(s.configApply?.lastRevert?.why ?? '', /restored at start/);
    assert.match(output, /the previous config was restored at start/);
  });
});
