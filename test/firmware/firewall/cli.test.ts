// `tandem firewall ...` on the command line: argument parsing, and render and check through the
// built bundle (apply and confirm against a running daemon are proven in
// test/netns/firewall-traffic.test.ts).

import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseArgs, UsageError } from '../../../firmware/cli.js';

const bundle = fileURLToPath(new URL('../../../dist/tandem.mjs', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../../fixtures/firewall/${name}`, import.meta.url));

function tandem(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [bundle, ...args], { encoding: 'utf8' }, (error, stdout, stderr) => {
      resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe('tandem firewall: arguments', () => {
  const rows: [string[], unknown][] = [
    [['firewall', 'render'], { kind: 'firewall-render', format: 'pf', config: undefined }],
    [['firewall', 'render', '--format', 'nft', '--config', 'a.yaml'], { kind: 'firewall-render', format: 'nft', config: 'a.yaml' }],
    [['firewall', 'apply'], { kind: 'firewall-apply', confirmWithin: undefined, config: undefined, control: undefined }],
    [['firewall', 'apply', '--confirm-within', '30', '--control', '/tmp/c.sock'], { kind: 'firewall-apply', confirmWithin: 30, config: undefined, control: '/tmp/c.sock' }],
    [['firewall', 'confirm'], { kind: 'firewall-confirm', config: undefined, control: undefined }],
    [['firewall', 'status', '--json'], { kind: 'firewall-status', json: true, config: undefined, control: undefined }],
  ];
  for (const [argv, expected] of rows) it(`parses ${argv.join(' ')}`, () => assert.deepEqual(parseArgs(argv), expected));

  const bad: [string[], RegExp][] = [
    [['firewall'], /firewall needs render, apply, confirm or status/],
    [['firewall', 'frob'], /firewall needs render, apply, confirm or status/],
    [['firewall', 'render', '--format', 'iptables'], /--format must be pf or nft, got "iptables"/],
    [['firewall', 'apply', '--confirm-within', '0'], /--confirm-within must be a number of seconds 1\.\.86400, got "0"/],
    [['firewall', 'apply', '--confirm-within', 'soon'], /--confirm-within must be a number of seconds/],
    [['firewall', 'render', 'extra'], /firewall: unexpected argument extra/],
  ];
  for (const [argv, message] of bad) {
    it(`rejects ${argv.join(' ')}`, () => assert.throws(() => parseArgs(argv), (e: unknown) => e instanceof UsageError && message.test(e.message)));
  }
});

describe('tandem firewall: the executable', () => {
  it('renders the golden pf.conf and nftables ruleset of a fixture', async () => {
    for (const format of ['pf', 'nft']) {
      const result = await tandem(['firewall', 'render', '--format', format, '--config', fixture('ha-router.yaml')]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, await readFile(fixture(`ha-router.${format}.golden`), 'utf8'));
    }
    const byDefault = await tandem(['firewall', 'render', '--config', fixture('ha-router.yaml')]);
    assert.match(byDefault.stdout, /^# pf\.conf\(5\)/);
  });

  it('check and render print every firewall error with file:line and exit 1', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tandem-fw-cli-'));
    try {
      const path = join(dir, 'bad.yaml');
      await writeFile(
        path,
        'node: { name: fw-a }\nfirewall:\n  zones:\n    wan: { interfaces: [eth0] }\n  rules:\n    - { action: pass, on: lan, proto: icmp, to: { port: 22 } }\n  ha: { antiLockout: false }\n',
      );
      for (const args of [['check'], ['firewall', 'render']]) {
        const result = await tandem([...args, '--config', path]);
        assert.equal(result.code, 1);
        assert.equal(
          result.stderr,
          `${path}:6: firewall.rules[0].on: unknown zone "lan" (zones: wan)\n` +
            `${path}:6: firewall.rules[0].to.port: tcp/udp only, rule has proto icmp\n` +
            `${path}: 2 error(s)\n`,
        );
      }
      const none = join(dir, 'none.yaml');
      await writeFile(none, 'node: { name: fw-a }\n');
      const result = await tandem(['firewall', 'render', '--config', none]);
      assert.equal(result.code, 1);
      assert.match(result.stderr, /the config has no firewall section/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
