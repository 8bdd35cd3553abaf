// Tests for the config and firewall routes (firmware/api/routes-config.ts, routes-firewall.ts)
// on a real Daemon with an in-memory nftables and config file: read, check with the issues
// `tandem check` gives, apply with a confirm window that reverts by itself, confirm; the
// firewall's renderings, apply/confirm, and a candidate section checked inside the config.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';

import { parseConfig } from '../../../firmware/config/load.js';
import type { FirewallStatus } from '../../../firmware/firewall/service.js';
import { call, CONFIG_PATH, errorOf, lab, labConfig } from './routes-lab.js';

async function started() {
  const l = lab({ power: false });
  const n = l.node('fw-a', 0);
  await n.daemon.start();
  await l.clock.advance(4_000);
  return { l, n };
}

const withSkew = (advskew: number) => JSON.stringify(labConfig('fw-a', advskew, { power: false }), null, 2) + '\n';

describe('config routes', () => {
  it('GET /api/config gives the file, its path and the parsed config', async () => {
    const { l, n } = await started();
    try {
      const response = await call(n.backend, 'GET', '/api/config');
      assert.equal(response.status, 200);
      const json = response.json as { path: string; text: string; ok: boolean; config: { node: { name: string } } };
      assert.equal(json.path, CONFIG_PATH);
      assert.equal(json.text, n.files.files.get(CONFIG_PATH));
      assert.equal(json.ok, true);
      assert.equal(json.config.node.name, 'fw-a');
    } finally {
      await l.stop();
    }
  });

  it('POST /api/config/check gives tandem check\'s issues with path and line; 400 without text', async () => {
    const { l, n } = await started();
    try {
      const bad = withSkew(0).replace('"advskew": 0', '"advskew": 300').replace('"name": "fw-a"', '"name": ""');
      const response = await call(n.backend, 'POST', '/api/config/check', { text: bad });
      assert.equal(response.status, 200);
      const expected = parseConfig(bad);
      assert.ok(!expected.ok);
      const json = response.json as { ok: boolean; issues: { path: string; line?: number; message: string }[] };
      assert.equal(json.ok, false);
      assert.deepEqual(json.issues, expected.issues.map((i) => ({ path: i.path, message: i.message, ...(i.line !== undefined ? { line: i.line } : {}) })));
      assert.ok(json.issues.some((i) => i.path === 'carp[0].advskew' && typeof i.line === 'number'));
      const good = await call(n.backend, 'POST', '/api/config/check', { text: withSkew(10) });
      assert.deepEqual(good.json, { ok: true, issues: [] });
      const missing = await call(n.backend, 'POST', '/api/config/check', {});
      assert.equal(missing.status, 400);
      assert.equal(errorOf(missing).path, 'text');
    } finally {
      await l.stop();
    }
  });

  it('POST /api/config/apply refuses an invalid config with 400 and its issues; nothing changes', async () => {
    const { l, n } = await started();
    try {
      const before = n.files.files.get(CONFIG_PATH);
      const response = await call(n.backend, 'POST', '/api/config/apply', { text: withSkew(0).replace('"advskew": 0', '"advskew": 300'), confirmWithinSeconds: 30 });
      assert.equal(response.status, 400);
      const error = errorOf(response);
      assert.equal(error.path, 'carp[0].advskew');
      assert.equal(error.issues?.[0]?.path, 'carp[0].advskew');
      assert.equal(typeof error.issues?.[0]?.line, 'number');
      assert.equal(n.files.files.get(CONFIG_PATH), before);
      assert.equal(n.daemon.status().carp[0]?.advskew, 0);
      for (const seconds of [0, 1.5, 'x', 86_401]) {
        const r = await call(n.backend, 'POST', '/api/config/apply', { text: withSkew(5), confirmWithinSeconds: seconds });
        assert.equal(r.status, 400);
        assert.equal(errorOf(r).path, 'confirmWithinSeconds');
      }
      assert.equal(n.files.files.get(CONFIG_PATH), before);
    } finally {
      await l.stop();
    }
  });

  it('apply with a window reverts by itself; status and the event say so; confirm keeps the next one', async () => {
    const { l, n } = await started();
    try {
      const applied = await call(n.backend, 'POST', '/api/config/apply', { text: withSkew(60), confirmWithinSeconds: 20 });
      assert.equal(applied.status, 200, JSON.stringify(applied.json));
      const json = applied.json as { phase: string; revertsAt: string; status: { phase: string } };
      assert.equal(json.phase, 'pending');
      assert.equal(json.status.phase, 'pending');
      assert.equal(n.daemon.status().carp[0]?.advskew, 60);
      assert.equal(n.files.files.get(CONFIG_PATH), withSkew(60));
      await l.clock.advance(20_000);
      assert.equal(n.daemon.status().carp[0]?.advskew, 0);
      assert.equal(n.files.files.get(CONFIG_PATH), withSkew(0));
      const status = (await call(n.backend, 'GET', '/api/status')).json as { configApply: { phase: string; lastRevert?: { why: string } } };
      assert.equal(status.configApply.phase, 'active');
      assert.match(status.configApply.lastRevert?.why ?? '', /not confirmed within 20 s/);
      assert.ok(n.events.some((e) => e.type === 'configApply' && e.outcome === 'reverted'));

      const noPending = await call(n.backend, 'POST', '/api/config/confirm');
      assert.equal(noPending.status, 409);
      assert.match(errorOf(noPending).error, /no config apply is waiting/);
      await call(n.backend, 'POST', '/api/config/apply', { text: withSkew(70), confirmWithinSeconds: 20 });
      const confirmed = await call(n.backend, 'POST', '/api/config/confirm');
      assert.equal(confirmed.status, 200);
      await l.clock.advance(60_000);
      assert.equal(n.daemon.status().carp[0]?.advskew, 70);
      assert.equal(n.files.files.get(CONFIG_PATH), withSkew(70));
    } finally {
      await l.stop();
    }
  });

  it('without configApply on the backend, apply and confirm answer 409', async () => {
    const { l, n } = await started();
    try {
      const { configApply: _c, ...bare } = n.backend;
      for (const path of ['/api/config/apply', '/api/config/confirm']) {
        const r = await call(bare, 'POST', path, { text: withSkew(1) });
        assert.equal(r.status, 409);
        errorOf(r);
      }
    } finally {
      await l.stop();
    }
  });
});

describe('firewall routes', () => {
  it('GET /api/firewall: status and the pf.conf and nftables renderings of the policy in force', async () => {
    const { l, n } = await started();
    try {
      const response = await call(n.backend, 'GET', '/api/firewall');
      assert.equal(response.status, 200);
      const json = response.json as { status: FirewallStatus; source: string; pf: string; nft: string };
      assert.equal(json.status.phase, 'active');
      assert.equal(json.source, 'running');
      assert.match(json.nft, /table inet tandem/);
      assert.match(json.pf, /^pass .*port 22/m);
      assert.ok(n.nft.ruleset?.includes('tcp dport 22'), 'the same policy the fake kernel holds');
    } finally {
      await l.stop();
    }
  });

  it('POST /api/firewall/apply with a window, confirm; confirm with nothing pending is 409; bad window 400', async () => {
    const { l, n } = await started();
    try {
      const bad = await call(n.backend, 'POST', '/api/firewall/apply', { confirmWithinSeconds: 0 });
      assert.equal(bad.status, 400);
      assert.equal(errorOf(bad).path, 'confirmWithinSeconds');
      const pending = await call(n.backend, 'POST', '/api/firewall/apply', { confirmWithinSeconds: 30 });
      assert.equal(pending.status, 200, JSON.stringify(pending.json));
      assert.equal((pending.json as FirewallStatus).phase, 'pending');
      const confirmed = await call(n.backend, 'POST', '/api/firewall/confirm');
      assert.equal((confirmed.json as FirewallStatus).phase, 'active');
      const again = await call(n.backend, 'POST', '/api/firewall/confirm');
      assert.equal(again.status, 409);
      assert.equal(errorOf(again).error, 'no firewall ruleset is waiting for confirmation');
    } finally {
      await l.stop();
    }
  });

  it('POST /api/firewall/check: issues with firewall paths and lines in the candidate text; ok gives renderings and the config to apply', async () => {
    const { l, n } = await started();
    try {
      const candidate = ['zones:', '  wan: { interfaces: [eth0] }', '  lan: { interfaces: [eth1] }', 'rules:', '  - on: dmz', '    proto: tcp', '    to: { port: 22 }', '    action: pass', ''].join('\n');
      const response = await call(n.backend, 'POST', '/api/firewall/check', { text: candidate });
      assert.equal(response.status, 200);
      const json = response.json as { ok: boolean; issues: { path: string; line?: number; message: string }[] };
      assert.equal(json.ok, false);
      const issue = json.issues.find((i) => i.path === 'firewall.rules[0].on');
      assert.ok(issue, JSON.stringify(json.issues));
      assert.match(issue.message, /dmz/);
      assert.equal(issue.line, 5, 'the line in the candidate text');

      const fixed = candidate.replace('on: dmz', 'on: wan');
      const good = (await call(n.backend, 'POST', '/api/firewall/check', { text: fixed })).json as { ok: boolean; pf: string; nft: string; configText: string };
      assert.equal(good.ok, true);
      assert.match(good.pf, /port 22/);
      const merged = parseConfig(good.configText);
      assert.ok(merged.ok);
      assert.equal(merged.config.carp[0]?.vhid, 42, 'the rest of the running config is kept');
      assert.deepEqual(merged.config.firewall?.zones && Object.keys(merged.config.firewall.zones), ['wan', 'lan']);
      const applied = await call(n.backend, 'POST', '/api/config/apply', { text: good.configText, confirmWithinSeconds: 30 });
      assert.equal(applied.status, 200, JSON.stringify(applied.json));

      const asObject = await call(n.backend, 'POST', '/api/firewall/check', { firewall: { zones: { wan: { interfaces: ['eth0'] } }, rules: [{ on: 'nowhere', action: 'pass' }] } });
      const objectJson = asObject.json as { ok: boolean; issues: { path: string; line?: number }[] };
      assert.equal(objectJson.ok, false);
      assert.ok(objectJson.issues.some((i) => i.path === 'firewall.rules[0].on' && i.line === undefined));
      const none = await call(n.backend, 'POST', '/api/firewall/check', { rules: [] });
      assert.equal(none.status, 400);
      errorOf(none);
    } finally {
      await l.stop();
    }
  });
});

describe('checkFirewallCandidate', () => {
  const running = 'node:\n  name: fw-a\n# the LAN router\ncarp:\n  - vhid: 42\n    interface: eth0\n    addresses: [198.51.100.100/24]\n    password: labsecret\n';

  it('a syntax error in the section is reported at its line in the section text', async () => {
    const { checkFirewallCandidate } = await import('../../../firmware/api/routes-firewall.js');
    const result = checkFirewallCandidate(running, 'zones:\n  lan: { interfaces: [eth0]\nrules: []\n', true);
    assert.equal(result.ok, false);
    assert.equal(result.issues[0]?.path, '(syntax)');
    assert.ok(result.issues[0]?.line !== undefined && result.issues[0].line >= 2 && result.issues[0].line <= 3, JSON.stringify(result.issues));
  });

  it('the config to apply keeps the running config\'s comments and the section\'s own', async () => {
    const { checkFirewallCandidate } = await import('../../../firmware/api/routes-firewall.js');
    const result = checkFirewallCandidate(running, 'zones:\n  lan: { interfaces: [eth0] } # inside\nha: { antiLockout: false }\nrules: []\n', true);
    assert.ok(result.ok, JSON.stringify(result.issues));
    assert.match(result.configText ?? '', /# the LAN router/);
    assert.match(result.configText ?? '', /# inside/);
    const parsed = parseConfig(result.configText ?? '');
    assert.ok(parsed.ok);
    assert.equal(parsed.config.firewall?.ha.antiLockout, false);
  });
});
