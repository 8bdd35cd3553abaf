// Sleep over SSH (firmware/power/ssh.ts): the exact ssh(1) arguments, ssh's real messages
// (as captured in ../shared/reference/power-counterparts.md) mapped to failures, and the driver
// over the fake ProcessRunner.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { s, validate } from '../../../firmware/config/kit.js';
import { FakeClock } from '../../../firmware/os/clock.js';
import { FakeProcessRunner, type RunResult } from '../../../firmware/os/process.js';
import { silentLogger } from '../../../firmware/log.js';
import { classifySsh, createSsh, sshArgs, sshSettings } from '../../../firmware/power/ssh.js';

const HOST = { name: 'web-1', address: '198.51.100.21', mac: '02:00:5e:10:00:21' };
const DEFAULTS = validate(s.object(sshSettings), {}).value!;

describe('sshSettings', () => {
  it('needs nothing: root, port 22, suspend', () => {
    assert.deepEqual(DEFAULTS, { user: 'root', port: 22, command: 'suspend', connectTimeoutSeconds: 5 });
  });
  it('names bad keys', () => {
    const { issues } = validate(s.object(sshSettings), { command: 'reboot', key: 'id_ed25519', address: '-oProxyCommand=x' });
    assert.deepEqual(issues.map((i) => `${i.path}: ${i.message}`), [
      'key: must be an absolute path, got "id_ed25519"',
      'address: must be an address or host name, got "-oProxyCommand=x"',
      'command: must be one of suspend, hibernate, hybrid-sleep, poweroff, got "reboot"',
    ]);
  });
});

describe('sshArgs', () => {
  it('pins host keys under the state dir and asks for systemctl <command>', () => {
    assert.deepEqual(sshArgs(DEFAULTS, HOST, '/var/lib/tandem'), [
      '-F', '/dev/null', '-T',
      '-i', '/var/lib/tandem/power/id_ed25519',
      '-o', 'IdentitiesOnly=yes',
      '-o', 'BatchMode=yes',
      '-o', 'StrictHostKeyChecking=accept-new',
      '-o', 'UserKnownHostsFile=/var/lib/tandem/power/known_hosts',
      '-o', 'ConnectTimeout=5',
      '-o', 'ServerAliveInterval=1',
      '-o', 'ServerAliveCountMax=2',
      '-p', '22', '-l', 'root', '--', '198.51.100.21', 'systemctl suspend',
    ]);
  });
  it('takes the configured user, key, address, port and command', () => {
    const args = sshArgs({ ...DEFAULTS, user: 'park', key: '/cfg/park_key', address: '203.0.113.9', port: 2222, command: 'hibernate' }, HOST, '/x');
    assert.deepEqual(args.slice(3, 5), ['-i', '/cfg/park_key']);
    assert.deepEqual(args.slice(-7), ['-p', '2222', '-l', 'park', '--', '203.0.113.9', 'systemctl hibernate']);
  });
});

describe('classifySsh', () => {
  const where = 'ssh root@198.51.100.30:22';
  const rows: [string, number | null, string, string, RegExp][] = [
    ['key not authorised', 255, "Warning: Permanently added '198.51.100.30' (ED25519) to the list of known hosts.\r\nroot@198.51.100.30: Permission denied (publickey).\r\n", 'auth', /key refused \(root@198.51.100.30: Permission denied \(publickey\).\); put \/k.pub/],
    ['host key changed', 255, '@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@@\nHost key verification failed.\n', 'auth', /host key changed \(not the one in \/kh\)/],
    ['key readable by others', 255, 'Permissions 0644 for \'/k\' are too open.\nLoad key "/k": bad permissions\nroot@198.51.100.30: Permission denied (publickey).\n', 'misconfigured', /key \/k is readable by others/],
    ['no key file', 255, 'Warning: Identity file /k not accessible: No such file or directory.\nroot@198.51.100.30: Permission denied (publickey).\n', 'misconfigured', /no key at \/k/],
    ['no host', 255, 'ssh: connect to host 198.51.100.99 port 22: Connection timed out\n', 'unreachable', /Connection timed out$/],
    ['port closed', 255, 'ssh: connect to host 198.51.100.30 port 2222: Connection refused\n', 'unreachable', /port 2222: Connection refused$/],
    ['host went down mid-command', 255, 'Timeout, server 198.51.100.30 not responding.\n', 'unreachable', /not responding/],
    ['forced command failed', 1, 'Failed to suspend system via logind: Sleep verb "suspend" not supported\n', 'refused', /command exited 1: Failed to suspend/],
    ['ssh missing', null, 'ssh: ENOENT', 'misconfigured', /cannot run ssh: ssh: ENOENT/],
  ];
  for (const [name, code, stderr, failure, detail] of rows) {
    it(name, () => {
      const result = classifySsh(code, stderr, where, '/k', '/kh');
      assert.equal(result.failure, failure);
      assert.match(result.detail, detail);
      assert.ok(result.detail.startsWith(code === null ? 'cannot' : where), result.detail);
    });
  }
});

describe('createSsh', () => {
  function driver(answer: Partial<RunResult>) {
    const processes = new FakeProcessRunner(() => answer);
    const made: string[] = [];
    const ssh = createSsh(DEFAULTS, { clock: new FakeClock(), processes, log: silentLogger, stateDir: '/state', ensureDir: async (p) => void made.push(p) });
    return { processes, made, ssh };
  }

  it('parks: makes the state dir, runs ssh, reports what the host said', async () => {
    const { processes, made, ssh } = driver({ stdout: 'parking\n' });
    const result = await ssh.park!(HOST, new AbortController().signal);
    assert.deepEqual(result, { ok: true, detail: 'ssh root@198.51.100.21:22 ran systemctl suspend: parking' });
    assert.deepEqual(made, ['/state/power']);
    assert.equal(processes.runs.length, 1);
    assert.equal(processes.runs[0]!.command, 'ssh');
    assert.equal(processes.runs[0]!.args.at(-1), 'systemctl suspend');
  });

  it('maps a refused key and a timeout', async () => {
    const refused = await driver({ code: 255, stderr: 'root@198.51.100.21: Permission denied (publickey).\n' }).ssh.park!(HOST, new AbortController().signal);
    assert.equal(refused.ok || refused.failure, 'auth');
    const timedOut = await driver({ code: null, signal: 'SIGKILL', timedOut: true }).ssh.park!(HOST, new AbortController().signal);
    assert.deepEqual(timedOut, { ok: false, failure: 'unreachable', detail: 'ssh root@198.51.100.21:22: no answer within 20 s' });
  });

  it('runs nothing once aborted, and cannot wake or read', async () => {
    const { processes, ssh } = driver({});
    const abort = new AbortController();
    abort.abort();
    const result = await ssh.park!(HOST, abort.signal);
    assert.equal(result.ok, false);
    assert.equal(processes.runs.length, 0);
    assert.equal(ssh.wake, undefined);
    assert.equal(ssh.read, undefined);
  });
});
