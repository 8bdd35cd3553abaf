// `tandem upgrade` end to end on this machine: argument parsing, then the CLI client against a
// real control socket served by the daemon's upgrade handler over files as devices. It prints
// the progress and outcome lines the image tests wait for, exits 1 with the step on a refusal,
// and says "not booted from a Tandem image" without boot.json.

import { strict as assert } from 'node:assert';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { parseArgs, UsageError } from '../../../firmware/cli.js';
import { ControlServer } from '../../../firmware/control/server.js';
import { silentLogger } from '../../../firmware/log.js';
import { systemClock } from '../../../firmware/os/clock.js';
import { LinuxFileStore } from '../../../firmware/os/files.js';
import { upgradeClient } from '../../../firmware/upgrade/client.js';
import { handleUpgradeRequest, type UpgradeRequest } from '../../../firmware/upgrade/control.js';
import { FakeRebooter, LinuxBlockDevices, type BlockDevices } from '../../../firmware/upgrade/ports.js';
import { UpgradeService } from '../../../firmware/upgrade/service.js';
import { listEnv, makeBundle, makeLab, pattern, writeEnv, type Lab } from './bundle-lab.js';

describe('tandem upgrade arguments', () => {
  it('parses IMAGE, --no-reboot, status --json and commit', () => {
    assert.deepEqual(parseArgs(['upgrade', 'new.upgrade.tar']), { kind: 'upgrade-install', image: 'new.upgrade.tar', reboot: true, config: undefined, control: undefined });
    assert.deepEqual(parseArgs(['upgrade', 'x.tar', '--no-reboot']), { kind: 'upgrade-install', image: 'x.tar', reboot: false, config: undefined, control: undefined });
    assert.deepEqual(parseArgs(['upgrade', 'status', '--json']), { kind: 'upgrade-status', json: true, config: undefined, control: undefined });
    assert.deepEqual(parseArgs(['upgrade', 'commit']), { kind: 'upgrade-commit', config: undefined, control: undefined });
    assert.throws(() => parseArgs(['upgrade']), UsageError);
    assert.throws(() => parseArgs(['upgrade', 'status', '--no-reboot']), /--no-reboot goes with upgrade IMAGE only/);
  });
});

/** Slows each slot write so the CLI's once-a-poll progress has something to show. */
function slow(devices: BlockDevices, ms: number): BlockDevices {
  return {
    open: async (path, mode) => {
      const device = await devices.open(path, mode);
      return { ...device, path, size: () => device.size(), read: (o, l) => device.read(o, l), sync: () => device.sync(), close: () => device.close(), write: async (o, b) => {
        await new Promise((r) => setTimeout(r, ms));
        await device.write(o, b);
      } };
    },
  };
}

describe('tandem upgrade against the control socket', () => {
  let lab: Lab;
  let server: ControlServer;
  let rebooter: FakeRebooter;
  let socket: string;
  let bootJson: string;
  before(async () => {
    lab = await makeLab(8 << 20);
    socket = join(lab.dir, 'control.sock');
    bootJson = join(lab.dir, 'boot.json');
    await writeFile(bootJson, JSON.stringify(lab.bootJson));
    rebooter = new FakeRebooter();
    const upgrade = new UpgradeService({ commitAfterSeconds: 30, trialTimeoutSeconds: 180 }, {
      clock: systemClock, files: new LinuxFileStore(), devices: slow(new LinuxBlockDevices(), 40), rebooter, log: silentLogger,
      stateDir: join(lab.dir, 'state'), emit: () => undefined, health: () => [], bootInfoPath: bootJson,
    });
    await upgrade.start();
    server = new ControlServer(socket, (request) => handleUpgradeRequest(upgrade, request as UpgradeRequest));
    await server.listen();
  });
  after(async () => {
    await server.close();
    await lab.cleanup();
  });

  async function cli(command: Parameters<typeof upgradeClient>[0]): Promise<{ code: number; stdout: string; stderr: string }> {
    let stdout = '';
    let stderr = '';
    const code = await upgradeClient({ control: socket, bootInfoPath: bootJson, pollMs: 20, ...command }, { stdout: (t) => (stdout += t), stderr: (t) => (stderr += t) });
    return { code, stdout, stderr };
  }

  it('installs with progress lines and says it does not reboot', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    const bundle = await makeBundle(lab, 'cli', { rootfs: pattern(6 << 20) });
    const { code, stdout, stderr } = await cli({ kind: 'upgrade-install', image: bundle, reboot: false });
    assert.equal(code, 0, stderr);
    assert.match(stdout, /^upgrade: installing \/.*cli\.upgrade\.tar$/m);
    assert.match(stdout, /^upgrade: writing slot B \(0\.2\.0\+gnew\): written \d+\.\d of 6\.0 MiB \(\d+%\)$/m);
    assert.match(stdout, /^upgrade: slot B holds 0\.2\.0\+gnew, verified \(6291456 bytes, sha256 [0-9a-f]{64}\)$/m);
    assert.match(stdout, /^upgrade: not rebooting \(--no-reboot\): reboot to try slot B$/m);
    assert.equal(rebooter.reboots, 0);
    assert.equal(await listEnv(lab.dir), 'SLOT=A\nTRIAL=B\nTRIAL_BOOTED=0\nTRIAL_TIMEOUT=180\n');
    const status = await cli({ kind: 'upgrade-status', json: true });
    const parsed = JSON.parse(status.stdout) as { state: string; booted: string; committed: string; trial: unknown; last: { result: string } };
    assert.deepEqual([parsed.state, parsed.booted, parsed.committed, parsed.trial, parsed.last.result], ['committed', 'A', 'A', { slot: 'B', booted: false }, 'installed']);
    const text = await cli({ kind: 'upgrade-status', json: false });
    assert.match(text.stdout, /slot B boots once on the next boot \(trial\)/);
  });

  it('reboots when asked, after replying', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    const bundle = await makeBundle(lab, 'cli-reboot', { rootfs: pattern(1 << 20) });
    const { code, stdout } = await cli({ kind: 'upgrade-install', image: bundle, reboot: true });
    assert.equal(code, 0);
    assert.match(stdout, /^upgrade: rebooting$/m);
    for (let i = 0; i < 100 && rebooter.reboots === 0; i++) await new Promise((r) => setTimeout(r, 20));
    assert.equal(rebooter.reboots, 1);
  });

  it('exits 1 naming the step of a refusal', async () => {
    await writeEnv(lab.dir, { SLOT: 'A', TRIAL: '', TRIAL_BOOTED: '0', TRIAL_TIMEOUT: '180' });
    const bundle = await makeBundle(lab, 'cli-big', { rootfs: pattern(9 << 20) });
    const { code, stderr } = await cli({ kind: 'upgrade-install', image: bundle, reboot: true });
    assert.equal(code, 1);
    assert.match(stderr, /^tandem: upgrade failed at size: rootfs.sqfs is 9437184 bytes, slot B .* holds 8388608$/m);
    const missing = await cli({ kind: 'upgrade-install', image: join(lab.dir, 'nope.tar'), reboot: true });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read .*nope\.tar: ENOENT/);
  });

  it('without boot.json says the system was not booted from an image', async () => {
    const { code, stderr } = await cli({ kind: 'upgrade-install', image: '/x', reboot: true, bootInfoPath: join(lab.dir, 'absent.json') });
    assert.equal(code, 1);
    assert.match(stderr, /not booted from a Tandem image/);
  });
});
