// The upgrade bundle writer (contract 5 of issue 15) run for real with GNU tar on a small file:
// ustar, members in order, the manifest's size and SHA-256 of what it carries, and a raw
// Ed25519 signature over the exact manifest bytes that verifies with the public key.

import { strict as assert } from 'node:assert';
import { execFileSync } from 'node:child_process';
import { createHash, generateKeyPairSync, verify } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { x86_64 } from '../../../image/arch/x86_64.js';
import { writeBundle } from '../../../image/steps/bundle.js';

let dir = '';
const payload = Buffer.from('not really a squashfs, but bytes to carry '.repeat(100));

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tandem-bundle-'));
  await writeFile(join(dir, 'rootfs.sqfs'), payload);
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Member names and the bytes of one member, read with tar itself. */
function members(tar: string): string[] {
  return execFileSync('tar', ['-tf', tar]).toString().trim().split('\n');
}
function member(tar: string, name: string): Buffer {
  return execFileSync('tar', ['-xOf', tar, name]);
}

describe('writeBundle', () => {
  it('writes manifest.json then rootfs.sqfs as ustar, the manifest describing the payload', async () => {
    const out = join(dir, 'plain.upgrade.tar');
    const manifest = await writeBundle({ out, work: join(dir, 'w1'), rootfs: join(dir, 'rootfs.sqfs'), version: '9.9.9-test', profile: x86_64, created: '2026-12-03T06:00:00.000Z', signKey: undefined });
    assert.deepEqual(members(out), ['manifest.json', 'rootfs.sqfs']);
    const header = (await readFile(out)).subarray(257, 263).toString('latin1');
    assert.equal(header, 'ustar\0', 'POSIX ustar magic');
    const written = JSON.parse(member(out, 'manifest.json').toString());
    assert.deepEqual(written, manifest);
    assert.equal(written.rootfs.sizeBytes, payload.length);
    assert.equal(written.rootfs.sha256, createHash('sha256').update(payload).digest('hex'));
    assert.equal(written.version, '9.9.9-test');
    assert.equal(written.arch, 'x86_64');
    assert.equal(written.bootloader, 'grub');
    assert.ok(member(out, 'rootfs.sqfs').equals(payload));
  });

  it('signs the exact manifest bytes with an Ed25519 PEM key (--sign-key)', async () => {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const keyFile = join(dir, 'key.pem');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const out = join(dir, 'signed.upgrade.tar');
    await writeBundle({ out, work: join(dir, 'w2'), rootfs: join(dir, 'rootfs.sqfs'), version: '1', profile: x86_64, created: '2026-12-03T06:00:00.000Z', signKey: keyFile });
    assert.deepEqual(members(out), ['manifest.json', 'manifest.json.sig', 'rootfs.sqfs']);
    const signature = member(out, 'manifest.json.sig');
    assert.equal(signature.length, 64);
    assert.ok(verify(null, member(out, 'manifest.json'), publicKey, signature), 'signature verifies');
    const tampered = Buffer.from(member(out, 'manifest.json'));
    tampered.writeUInt8(tampered.readUInt8(10) ^ 1, 10);
    assert.equal(verify(null, tampered, publicKey, signature), false);
  });

  it('refuses a key that is not Ed25519, naming it', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const keyFile = join(dir, 'ec.pem');
    await writeFile(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await assert.rejects(
      writeBundle({ out: join(dir, 'x.tar'), work: join(dir, 'w3'), rootfs: join(dir, 'rootfs.sqfs'), version: '1', profile: x86_64, created: '2026-12-03T06:00:00.000Z', signKey: keyFile }),
      /--sign-key: .*ec\.pem is ec, not Ed25519/,
    );
  });
});
