// `tandem passwd` (firmware/api/passwd.ts): a password from a pipe or a no-echo terminal, the
// hash it prints verified by the login check, USER set in a config file with its comments kept
// and checked before writing, and the real command line fed through a pipe.

import { strict as assert } from 'node:assert';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { parsePasswordHash, SCRYPT_DEFAULTS, verifyPassword } from '../../../firmware/api/auth.js';
import { passwdUser, readPassword, realPasswdDeps, setUserInConfig, type PasswdDeps } from '../../../firmware/api/passwd.js';
import { parseConfig } from '../../../firmware/config/load.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));

/** A terminal stand-in: raw mode recorded, keystrokes pushed in by the test. */
class FakeTty extends PassThrough {
  isTTY = true;
  raw: boolean[] = [];
  setRawMode(on: boolean): this {
    this.raw.push(on);
    return this;
  }
}

function sink(): { stream: PassThrough; text: () => string } {
  const stream = new PassThrough();
  let text = '';
  stream.on('data', (c: Buffer) => (text += c.toString()));
  return { stream, text: () => text };
}

describe('reading the password', () => {
  it('takes the first line of a pipe, without its line ending', async () => {
    const prompt = sink();
    assert.equal(await readPassword({ input: Readable.from(['s3cret pass\r\nrest\n']), prompt: prompt.stream }), 's3cret pass');
    assert.equal(await readPassword({ input: Readable.from(['no newline']), prompt: prompt.stream }), 'no newline');
    assert.equal(prompt.text(), '', 'no prompt on a pipe');
    await assert.rejects(readPassword({ input: Readable.from(['\n']), prompt: prompt.stream }), /empty password/);
    await assert.rejects(readPassword({ input: Readable.from([]), prompt: prompt.stream }), /empty password/);
  });

  it('asks twice on a terminal with echo off, honours backspace, refuses a mismatch', async () => {
    const tty = new FakeTty();
    const prompt = sink();
    const reading = readPassword({ input: tty, prompt: prompt.stream });
    tty.write('hunterX\u007f2\r');
    await new Promise((resolve) => setImmediate(resolve));
    tty.write('hunter2\n');
    assert.equal(await reading, 'hunter2');
    assert.deepEqual(tty.raw, [true, false, true, false]);
    assert.equal(prompt.text(), 'password: \nagain: \n', 'the password itself is never echoed');

    const tty2 = new FakeTty();
    const mismatch = readPassword({ input: tty2, prompt: sink().stream });
    tty2.write('one\r');
    await new Promise((resolve) => setImmediate(resolve));
    tty2.write('two\r');
    await assert.rejects(mismatch, /differ/);
    const tty3 = new FakeTty();
    const interrupted = readPassword({ input: tty3, prompt: sink().stream });
    tty3.write('abc\u0003');
    await assert.rejects(interrupted, /interrupted/);
    assert.deepEqual(tty3.raw, [true, false], 'raw mode is left even on ^C');
  });
});

describe('setting a user in the config', () => {
  const base = '# the pair\nnode:\n  name: fw-a # this box\napi:\n  listen: ["127.0.0.1:8080"]\n  users:\n    - name: admin # the boss\n      passwordHash: "scrypt$old"\n';

  it('replaces an existing user, keeping comments', () => {
    const set = setUserInConfig(base, 'admin', 'scrypt$new');
    assert.ok(set.ok);
    assert.equal(set.change, 'replaced');
    assert.match(set.text, /# the pair/);
    assert.match(set.text, /name: fw-a # this box/);
    assert.match(set.text, /name: admin # the boss/);
    assert.match(set.text, /passwordHash: "?scrypt\$new"?/);
    assert.doesNotMatch(set.text, /scrypt\$old/);
  });

  it('adds a user, and the api section and users list when missing', () => {
    const added = setUserInConfig(base, 'ops', 'scrypt$x');
    assert.ok(added.ok && added.change === 'added');
    assert.match(added.text, /- name: ops\n\s+passwordHash: scrypt\$x/);
    const fresh = setUserInConfig('node:\n  name: fw-a\n', 'admin', 'scrypt$y');
    assert.ok(fresh.ok);
    assert.match(fresh.text, /^api:\n {2}users:\n {4}- name: admin\n {6}passwordHash: scrypt\$y\n/m);
    const empty = setUserInConfig('node:\n  name: fw-a\napi:\n', 'admin', 'scrypt$z');
    assert.ok(empty.ok);
    assert.match(empty.text, /api:\n {2}users:/);
  });

  it('refuses what it cannot edit', () => {
    assert.deepEqual(setUserInConfig('api: 3\n', 'a', 'h'), { ok: false, reason: 'api is not a mapping' });
    assert.deepEqual(setUserInConfig('api:\n  users: yes\n', 'a', 'h'), { ok: false, reason: 'api.users is not a list' });
    const broken = setUserInConfig('node: [\n', 'a', 'h');
    assert.ok(!broken.ok && /does not parse/.test(broken.reason));
  });
});

describe('tandem passwd', () => {
  it('USER writes a verified hash into the config file, which then passes tandem check', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-passwd-'));
    try {
      const path = join(dir, 'tandem.yaml');
      await writeFile(path, 'node:\n  name: fw-a\n');
      const out: string[] = [];
      const deps: PasswdDeps = { ...realPasswdDeps(), io: { input: Readable.from(['pa55word\n']), prompt: new PassThrough() }, out: (t) => out.push(t) };
      assert.equal(await passwdUser('admin', path, deps), 0);
      assert.match(out.join(''), /user admin added; reload the daemon/);
      const text = await readFile(path, 'utf8');
      const parsed = parseConfig(text);
      assert.ok(parsed.ok);
      assert.ok(await verifyPassword('pa55word', parsed.config.api!.users[0]!.passwordHash));
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      // A missing file: the YAML to add is printed instead.
      const missing: string[] = [];
      await passwdUser('ops', join(dir, 'none.yaml'), { ...deps, io: { input: Readable.from(['x\n']), prompt: new PassThrough() }, out: (t) => missing.push(t) });
      assert.match(missing.join(''), /does not exist; add this to the config:\napi:\n {2}users:\n {4}- name: ops\n {6}passwordHash: "scrypt\$/);
      await assert.rejects(passwdUser('bad name', path, deps), /user name must be/);
      // A config that is invalid for another reason is not written.
      await writeFile(path, 'node:\n  name: fw-a\ncarp: 7\n');
      await assert.rejects(passwdUser('admin', path, { ...deps, io: { input: Readable.from(['y\n']), prompt: new PassThrough() } }), /would not be valid .*carp.*nothing written/);
      assert.equal(await readFile(path, 'utf8'), 'node:\n  name: fw-a\ncarp: 7\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('--hash on the command line reads a piped password and prints a hash the login accepts', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'firmware/bin.ts'), 'passwd', '--hash'], { cwd: root, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end('correct horse\n');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    const hash = stdout.trim();
    const parsed = parsePasswordHash(hash);
    assert.ok(parsed.ok, hash);
    assert.equal(parsed.value.N, SCRYPT_DEFAULTS.N);
    assert.equal(parsed.value.salt.length, 16);
    assert.equal(parsed.value.hash.length, 32);
    assert.ok(await verifyPassword('correct horse', hash));
    assert.ok(!(await verifyPassword('correct horse ', hash)));
    assert.equal(stderr, '');
  });
});
