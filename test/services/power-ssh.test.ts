// Sleep over SSH against a real OpenSSH sshd (issue 10 "done when"): sshd runs in the host's
// lab namespace with a forced command that records what was asked; the driver runs the real
// ssh client in the router's namespace. Recipe: ../shared/reference/power-counterparts.md §3.

import { strict as assert } from 'node:assert';
import { copyFile, mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { systemClock } from '../../firmware/os/clock.js';
import { silentLogger } from '../../firmware/log.js';
import { createSsh, ensureSshKey, type SshSettings } from '../../firmware/power/ssh.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import type { DriverResult } from '../../firmware/power/driver.js';
import { netnsUnavailable } from '../netns/lab.js';
import { createPowerLab, forcedCommandLine, keygen, startSshd, type PowerLab, type SshdHost } from './power-lab.js';

describe('ssh park against sshd in a lab namespace', { skip: netnsUnavailable() }, () => {
  let power: PowerLab;
  let state: string; // node.stateDir of the router: its key is <state>/power/id_ed25519
  let marker: string;
  let otherKey: string;
  let otherHostKeyPub: string;
  let sshd: SshdHost;
  const address = () => power.lab.host('h2').ipv4;

  before(async () => {
    power = await createPowerLab(2);
    state = join(power.dir, 'state');
    marker = join(power.dir, 'parked');
    await mkdir(join(state, 'power'), { recursive: true, mode: 0o700 });
    const clientPub = await keygen(join(state, 'power', 'id_ed25519'), 'tandem-router');
    otherKey = join(power.dir, 'other_key');
    await keygen(otherKey, 'not-authorised');
    otherHostKeyPub = await keygen(join(power.dir, 'other_host_key'), 'lab-other-host');
    // The host decides: whatever is requested, only this runs (and records the request).
    sshd = await startSshd(power, 'h2', [forcedCommandLine(`echo "$SSH_ORIGINAL_COMMAND" >> ${marker}; echo parking`, clientPub)]);
  });
  after(async () => {
    await power?.dispose();
  });

  function park(settings: Partial<SshSettings> = {}, stateDir = state): Promise<DriverResult> {
    const ssh = createSsh(
      { user: 'root', port: 22, command: 'suspend', connectTimeoutSeconds: 3, ...settings },
      { clock: systemClock, processes: power.runnerIn('h1'), log: silentLogger, stateDir },
    );
    return ssh.park!({ name: 'web-2', address: address(), mac: power.lab.host('h2').mac }, new AbortController().signal);
  }

  const requests = async () => (await readFile(marker, 'utf8').catch(() => '')).trim().split('\n').filter(Boolean);

  it('runs the forced command, pins the host key under the state dir', async () => {
    assert.deepEqual(await park(), { ok: true, detail: `ssh root@${address()}:22 ran systemctl suspend: parking` });
    assert.deepEqual(await requests(), ['systemctl suspend']);
    const knownHosts = await readFile(join(state, 'power', 'known_hosts'), 'utf8');
    assert.match(knownHosts, new RegExp(`^${address().replaceAll('.', '\\.')} ssh-ed25519 `));
    assert.match(sshd.log(), /Root login accepted for forced command/);
  });

  it('asks for the configured command and trusts the pinned key the next time', async () => {
    assert.deepEqual(await park({ command: 'poweroff' }), { ok: true, detail: `ssh root@${address()}:22 ran systemctl poweroff: parking` });
    assert.deepEqual(await requests(), ['systemctl suspend', 'systemctl poweroff']);
  });

  it('fails with auth for a key the host does not list, and nothing runs', async () => {
    const result = await park({ key: otherKey });
    assert.equal(result.ok, false);
    assert.equal(!result.ok && result.failure, 'auth');
    assert.match(!result.ok ? result.detail : '', /key refused \(root@198\.51\.100\.12: Permission denied \(publickey\)\.\)/);
    assert.equal((await requests()).length, 2);
  });

  it('fails with auth when the host key changed since it was pinned', async () => {
    const other = join(power.dir, 'state-pinned-elsewhere');
    await mkdir(join(other, 'power'), { recursive: true, mode: 0o700 });
    await copyFile(join(state, 'power', 'id_ed25519'), join(other, 'power', 'id_ed25519'));
    await writeFile(join(other, 'power', 'known_hosts'), `${address()} ${otherHostKeyPub}\n`);
    const result = await park({}, other);
    assert.deepEqual(result, {
      ok: false,
      failure: 'auth',
      detail: `ssh root@${address()}:22: host key changed (not the one in ${join(other, 'power', 'known_hosts')}); if the host was reinstalled, remove its line there`,
    });
    assert.equal((await requests()).length, 2);
  });

  it('makes the default key once with ssh-keygen and keeps it', async () => {
    const fresh = join(power.dir, 'keygen-state');
    const first = await ensureSshKey(fresh, { processes: new LinuxProcessRunner() });
    assert.ok(first.ok && first.created, JSON.stringify(first));
    assert.match(first.ok ? first.publicKey : '', /^ssh-ed25519 \S+ tandem-power$/);
    assert.equal((await stat(join(fresh, 'power', 'id_ed25519'))).mode & 0o777, 0o600);
    assert.deepEqual(await ensureSshKey(fresh, { processes: new LinuxProcessRunner() }), { ...first, created: false });
  });

  it('fails with unreachable on a closed port or an absent host, misconfigured without a key', async () => {
    const closed = await park({ port: 2222 });
    assert.deepEqual(closed, {
      ok: false,
      failure: 'unreachable',
      detail: `ssh root@${address()}:2222: ssh: connect to host ${address()} port 2222: Connection refused`,
    });
    const absent = await park({ address: '198.51.100.99', connectTimeoutSeconds: 1 });
    assert.equal(!absent.ok && absent.failure, 'unreachable');
    assert.match(!absent.ok ? absent.detail : '', /^ssh root@198\.51\.100\.99:22: ssh: connect to host 198\.51\.100\.99 port 22: (Connection timed out|No route to host)$/);
    const fresh = join(power.dir, 'fresh-state');
    const missing = await park({ key: join(power.dir, 'no-such-key') }, fresh);
    assert.equal(!missing.ok && missing.failure, 'misconfigured');
    assert.match(!missing.ok ? missing.detail : '', /no key at .*no-such-key/);
    assert.equal((await stat(join(fresh, 'power'))).mode & 0o777, 0o700, 'the driver makes its state dir private');
  });
});
