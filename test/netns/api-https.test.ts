// The API's transport rules on the built bundle in lab namespaces: a lab address is served over
// HTTPS only, with the self-signed certificate made on first start (checked by curl and openssl
// from another host, fingerprint as in status, kept across a restart), never plain HTTP; with
// no user configured the lab address is refused and status says why.

import { strict as assert } from 'node:assert';
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';

import { ApiNode, passwordHash } from '../e2e/harness.js';
import { eventually, netnsUnavailable, type Lab } from './lab.js';
import { BUNDLE, labPerTest, type Workdir } from './peers.js';

const run = promisify(execFile);
const skip = netnsUnavailable() ?? (existsSync(BUNDLE) ? undefined : `no ${BUNDLE}: run npm run build`);
const PASSWORD = 'lab-https-password';

/** curl run inside a lab host; resolves with its exit code and output, never throws. */
async function curl(lab: Lab, host: number, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('ip', ['netns', 'exec', lab.host(host).netns, 'curl', '-sS', '--max-time', '5', ...args]);
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

describe('api over the lab network', { skip, timeout: 120_000 }, () => {
  const env = labPerTest(2);

  async function startNode(lab: Lab, work: Workdir, users: { name: string; passwordHash: string }[]): Promise<ApiNode> {
    return ApiNode.start(lab, 1, work, { vhosts: [{ vhid: 42, addresses: ['198.51.100.100/24'] }], users, listen: `${lab.host(1).ipv4}:8443` });
  }

  it('serves HTTPS with a kept self-signed certificate on a lab address, checked by curl from another host', async () => {
    const lab = env.lab();
    const work = env.work();
    const hash = await passwordHash(PASSWORD);
    let node = await startNode(lab, work, [{ name: 'admin', passwordHash: hash }]);
    const url = `https://${lab.host(1).ipv4}:8443`;
    const api = await eventually('the api to listen', async () => (await node.status()).api?.listening.length ? (await node.status()).api : undefined, 10_000);
    assert.deepEqual(api.listening, [{ listen: `${lab.host(1).ipv4}:8443`, url: `${url}/` }]);
    assert.equal(api.refused.length, 0);
    const certPath = join(work.file(node.name), 'state', 'api', 'cert.pem');
    const certPem = await readFile(certPath, 'utf8');
    const keyMode = (await run('stat', ['-c', '%a', join(work.file(node.name), 'state', 'api', 'key.pem')])).stdout.trim();
    assert.equal(keyMode, '600');
    const openssl = (await run('openssl', ['x509', '-in', certPath, '-noout', '-fingerprint', '-sha256', '-ext', 'subjectAltName'])).stdout;
    assert.ok(openssl.includes(api.tls!.fingerprint), `status fingerprint ${api.tls!.fingerprint} in\n${openssl}`);
    assert.match(openssl, new RegExp(`IP Address:${lab.host(1).ipv4.replace(/\./g, '\\.')}`));
    assert.ok(node.output.includes(api.tls!.fingerprint), 'the fingerprint is logged');

    const ca = work.file('ca.pem');
    await writeFile(ca, certPem);
    // Untrusted without the certificate; trusted with it as the CA (its SAN holds the lab address).
    const untrusted = await curl(lab, 2, [`${url}/api/status`]);
    assert.equal(untrusted.code, 60, `curl without the CA: ${untrusted.stderr}`);
    const login = await curl(lab, 2, ['--cacert', ca, '-D', '-', '-H', 'content-type: application/json', '-d', JSON.stringify({ user: 'admin', password: PASSWORD }), `${url}/api/login`]);
    assert.equal(login.code, 0, login.stderr);
    assert.match(login.stdout, /^HTTP\/1\.1 200/);
    assert.match(login.stdout, /strict-transport-security: max-age=31536000/i);
    const cookie = /set-cookie: (tandem_session=[^;]+);[^\r\n]*Secure/i.exec(login.stdout);
    assert.ok(cookie, `a Secure cookie in\n${login.stdout}`);
    const status = await curl(lab, 2, ['--cacert', ca, '-H', `Cookie: ${cookie[1]}`, `${url}/api/status`]);
    assert.equal(JSON.parse(status.stdout).node, node.name);
    // Plain HTTP on the HTTPS port gets no API.
    const plain = await curl(lab, 2, [`http://${lab.host(1).ipv4}:8443/api/status`]);
    assert.doesNotMatch(plain.stdout, /"node"/);

    // Restarted, the same certificate and fingerprint: nothing new for the admin to check.
    assert.equal(await node.terminate(), 0);
    node = await startNode(lab, work, [{ name: 'admin', passwordHash: hash }]);
    const again = await eventually('the api to listen again', async () => (await node.status()).api?.listening.length ? (await node.status()).api : undefined, 10_000);
    assert.equal(again.tls!.fingerprint, api.tls!.fingerprint);
    assert.equal(await readFile(certPath, 'utf8'), certPem);
    await node.terminate();
  });

  it('with no user, refuses the lab address and says why; nothing answers there', async () => {
    const lab = env.lab();
    const node = await startNode(lab, env.work(), []);
    const api = await eventually('api status', async () => (await node.status()).api, 10_000);
    assert.deepEqual(api.listening, []);
    assert.equal(api.refused.length, 1);
    assert.match(api.refused[0]!.reason, /no users are configured/);
    assert.match(api.note!, /run .*tandem passwd|make one with `tandem passwd`/);
    assert.match(node.output, /not serving 198\.51\.100\.\d+:8443: not loopback, and no users are configured/);
    const probe = await curl(lab, 2, ['-k', `https://${lab.host(1).ipv4}:8443/`]);
    assert.equal(probe.code, 7, `connection refused expected: ${probe.stderr}`);
    await node.terminate();
  });
});
