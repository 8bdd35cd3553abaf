// The network power methods (snmp, redfish, tasmota, shelly, webhook) inside a whole config, as
// `tandem check` sees them: a valid wake/park per method with defaults filled in, and broken
// settings reported with their full path.

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';

const base = `node:
  name: fw-a
balancer:
  pools:
    - name: web
      port: 80
      hosts: [{ address: 198.51.100.21 }]
      relay: { listen: "198.51.100.100:80" }
power:
  hosts:
    - name: web-1
      pool: web
      address: 198.51.100.21
      mac: "02:00:5e:10:00:21"
      capacity: 100
      watts: { idle: 40, peak: 90, parked: 3 }
`;

function withMethods(wake: string, park: string): ReturnType<typeof parseConfig> {
  return parseConfig(`${base}      wake: ${wake}\n      park: ${park}\n`);
}

test('each network method is accepted with its defaults filled in', () => {
  const cases: Array<[string, string, Record<string, unknown>]> = [
    ['{ method: snmp, address: 198.51.100.5, outlet: 4, mib: apc-rpdu2 }', '{ method: snmp, address: 198.51.100.5, outlet: 4, mib: raritan, version: 3, user: pduadmin, authKey: authpass123 }', { version: '2c', readCommunity: 'public', writeCommunity: 'private', port: 161, onWake: 'on' }],
    ['{ method: redfish, address: "203.0.113.9:8443", user: root, passwordFile: /cfg/bmc.pass }', '{ method: redfish, address: 203.0.113.9, user: root, password: x, parkReset: ForceOff }', { scheme: 'https', auth: 'session', verify: true, wakeReset: 'On' }],
    ['{ method: tasmota, topic: rack_plug_3, url: "mqtt://198.51.100.2:1883" }', '{ method: tasmota, via: http, address: 198.51.100.7 }', { via: 'mqtt', timeoutSeconds: 5 }],
    ['{ method: shelly, address: 198.51.100.8 }', '{ method: shelly, address: 198.51.100.8, generation: 1, channel: 1 }', { generation: 2, channel: 0 }],
    ['{ method: webhook, url: "https://203.0.113.20/power/{host}/{action}", headers: { Authorization: "Bearer {secret}" }, secretFile: /cfg/hook.token }', '{ method: webhook, url: "http://203.0.113.20/park", httpMethod: PUT }', { httpMethod: 'POST', verify: true, timeoutSeconds: 10 }],
  ];
  for (const [wake, park, defaults] of cases) {
    const result = withMethods(wake, park);
    assert.ok(result.ok, `${wake}: ${JSON.stringify(!result.ok && result.issues)}`);
    const w = result.config.power!.hosts[0]!.wake as Record<string, unknown>;
    for (const [key, value] of Object.entries(defaults)) assert.deepEqual(w[key], value, `${wake}: ${key}`);
    assert.ok(result.config.power!.hosts[0]!.park);
  }
});

test('broken settings name their path', () => {
  const result = withMethods(
    '{ method: snmp, address: 198.51.100.5, outlet: 0, mib: eaton, version: 1, authKey: short }',
    '{ method: webhook, url: "ftp://x", headers: { "X Bad": y }, onMatch: "(" }',
  );
  assert.equal(result.ok, false);
  const paths = !result.ok ? result.issues.map((i) => i.path).sort() : [];
  assert.deepEqual(paths, [
    'power.hosts[0].park.headers.X Bad',
    'power.hosts[0].park.onMatch',
    'power.hosts[0].park.url',
    'power.hosts[0].wake.authKey',
    'power.hosts[0].wake.mib',
    'power.hosts[0].wake.outlet',
    'power.hosts[0].wake.version',
  ]);
  const other = withMethods('{ method: shelly, address: 198.51.100.8, outlet: 2 }', '{ method: redfish, address: 203.0.113.9 }');
  const messages = !other.ok ? other.issues.map((i) => `${i.path}: ${i.message}`) : [];
  assert.ok(messages.some((m) => m.startsWith('power.hosts[0].wake.outlet: unknown key for method shelly')), messages.join('\n'));
  assert.ok(messages.some((m) => m.startsWith('power.hosts[0].park.user: is required')), messages.join('\n'));
});

test('the README examples of the network methods are each a valid wake', async () => {
  const { readFile } = await import('node:fs/promises');
  const { parse } = await import('yaml');
  const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
  const block = /### Switched PDUs, BMCs, smart plugs and webhooks[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
  assert.ok(block, 'no yaml example under "Switched PDUs, BMCs, smart plugs and webhooks"');
  const examples = parse(block) as Array<Record<string, unknown>>;
  assert.equal(examples.length, 6);
  for (const example of examples) {
    const result = withMethods(JSON.stringify(example), '{ method: ssh }');
    assert.ok(result.ok, `${JSON.stringify(example)}: ${JSON.stringify(!result.ok && result.issues)}`);
  }
});
