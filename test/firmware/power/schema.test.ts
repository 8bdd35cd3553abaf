// The `power` config section: the contract's minimal host is valid with defaults filled in, and
// one broken config per row gives the exact path and message `tandem check` prints.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { parseConfig } from '../../../firmware/config/load.js';
import { referenceRows, s, validate } from '../../../firmware/config/kit.js';
import { parsePinWindow, pinnedBySchedule } from '../../../firmware/power/schedule.js';

const base = `node:
  name: fw-a
carp:
  - { vhid: 42, interface: eth0, addresses: [198.51.100.100/24], password: s }
balancer:
  pools:
    - name: web
      port: 80
      hosts: [{ address: 198.51.100.21 }, { address: 198.51.100.22 }]
      relay: { listen: "198.51.100.100:80" }
`;

function host(extra = '', wake = '{ method: wol }', park = '{ method: ssh }'): string {
  return `    - name: web-1
      pool: web
      address: 198.51.100.21
      mac: "02:00:5e:10:00:21"
      capacity: 100
      watts: { idle: 40, peak: 90, parked: 3 }
      wake: ${wake}
      park: ${park}
${extra}`;
}

function config(hosts: string, head = ''): string {
  return `${base}power:\n${head}  hosts:\n${hosts}`;
}

function issuesOf(text: string): string[] {
  const result = parseConfig(text);
  assert.equal(result.ok, false, 'expected the config to be rejected');
  return result.ok ? [] : result.issues.map((i) => `${i.path}: ${i.message}`);
}

describe('power config', () => {
  it('accepts { method: wol } and { method: ssh } with nothing else, and fills in the defaults', () => {
    const result = parseConfig(config(host()));
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
    const power = result.config.power!;
    assert.equal(power.intervalSeconds, 30);
    assert.deepEqual(power.policy, {
      spares: 1, minAwake: 1, maxCyclesPerDay: 4, minAwakeSeconds: 600, minParkedSeconds: 600, targetUtilisation: 0.8, drainTimeoutSeconds: 60,
    });
    // The drivers' own defaults come along (their tests own them); the common keys are ours.
    assert.equal(power.hosts[0]!.wake.method, 'wol');
    assert.equal(power.hosts[0]!.wake.seconds, 120);
    assert.equal(power.hosts[0]!.park.method, 'ssh');
    assert.equal(power.hosts[0]!.park.seconds, 30);
    assert.equal(power.hosts[0]!.wake.fallback, undefined);
    assert.equal(power.hosts[0]!.pinned, false);
    assert.deepEqual(power.hosts[0]!.pinSchedule, []);
  });

  it('no power section means no power management', () => {
    const result = parseConfig(base);
    assert.ok(result.ok);
    assert.equal(result.config.power, undefined);
  });

  it('keeps a fallback method with its own latency', () => {
    const result = parseConfig(config(host('', '{ method: wol, seconds: 5, fallback: { method: ipmi, address: 198.51.100.60, user: admin } }')));
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
    const wake = result.config.power!.hosts[0]!.wake;
    assert.equal(wake.seconds, 5);
    assert.equal(wake.fallback?.method, 'ipmi');
    assert.equal(wake.fallback?.seconds, 120);
    assert.equal((wake.fallback as { address?: string }).address, '198.51.100.60');
  });

  const broken: [string, string, string][] = [
    ['unknown method', config(host('', '{ method: carrier-pigeon }')), 'power.hosts[0].wake.method: must be one of wol, snmp, ipmi, redfish, tasmota, shelly, ssh, webhook, local, got "carrier-pigeon"'],
    ['missing method', config(host('', '{ seconds: 5 }')), 'power.hosts[0].wake.method: is required (one of wol, snmp, ipmi, redfish, tasmota, shelly, ssh, webhook, local)'],
    ['a key of another method', config(host('', '{ method: wol, zzOutlet: 3 }')), 'power.hosts[0].wake.zzOutlet: unknown key for method wol (expected one of: method, seconds, fallback'],
    ['fallback of a fallback', config(host('', '{ method: wol, fallback: { method: ipmi, fallback: { method: snmp } } }')), 'power.hosts[0].wake.fallback.fallback: unknown key for method ipmi'],
    ['negative latency', config(host('', '{ method: wol, seconds: -1 }')), 'power.hosts[0].wake.seconds: must be a number 0-3600, got -1'],
    ['bad MAC', config(host().replace('"02:00:5e:10:00:21"', '"02:00:5e"')), 'power.hosts[0].mac: must be a MAC address like 02:00:5e:10:00:21, got "02:00:5e"'],
    ['pool not in the balancer', config(host().replace('pool: web', 'pool: mail')), 'power.hosts[0].pool: no balancer pool is named mail'],
    ['address not in the pool', config(host().replace('198.51.100.21', '198.51.100.29')), 'power.hosts[0].address: 198.51.100.29 is not a host of balancer pool web'],
    ['same host twice', config(host() + host().replace('web-1', 'web-2')), 'power.hosts[1].address: 198.51.100.21 in pool web is already power.hosts[0]'],
    ['same name twice', config(host() + host().replace('198.51.100.21', '198.51.100.22')), 'power.hosts[1].name: host name web-1 is already used by power.hosts[0]'],
    ['peak below idle', config(host().replace('peak: 90', 'peak: 10')), 'power.hosts[0].watts.peak: must be at least idle (40), got 10'],
    ['vhid CARP does not hold', config(host(), '  vhid: 7\n'), 'power.vhid: no carp entry has vhid 7'],
    ['pin schedule', config(host('      pinSchedule: ["Mon-Fri 8-18"]\n')), 'power.hosts[0].pinSchedule[0]: must be DAYS HH:MM-HH:MM'],
    ['policy', config(host(), '  policy: { spares: -1 }\n'), 'power.policy.spares: must be 0-100, got -1'],
    ['same method as fallback', config(host('', '{ method: wol, fallback: { method: wol, seconds: 9 } }')), 'power.hosts[0].wake.fallback: is the same method with the same settings'],
  ];
  for (const [name, text, expected] of broken) {
    it(`rejects: ${name}`, () => {
      const issues = issuesOf(text);
      assert.ok(issues.some((line) => line.startsWith(expected)), `expected a line starting ${JSON.stringify(expected)}, got ${JSON.stringify(issues)}`);
    });
  }
});

describe('variant schema', () => {
  const shape = s.variant('kind', { n: s.int(0, 9) }, { a: { x: s.string() }, b: {} });
  it('checks the tag, then the common and the tag\'s own keys', () => {
    assert.deepEqual(validate(shape, { kind: 'a', n: 1, x: 'y' }).value, { kind: 'a', n: 1, x: 'y' });
    assert.deepEqual(validate(shape, { kind: 'b', n: 1, x: 'y' }).issues, [{ path: 'x', message: 'unknown key for kind b (expected one of: kind, n)' }]);
    assert.deepEqual(validate(shape, { kind: 'a', n: 1 }).issues, [{ path: 'x', message: 'is required (a string)' }]);
    assert.deepEqual(validate(shape, 'a').issues, [{ path: '', message: 'must be a mapping with kind: one of a, b, got "a"' }]);
  });
  it('gives reference rows: the tag, common keys, each tag\'s keys marked', () => {
    const rows = referenceRows(s.object({ v: shape.describe('V.') }));
    assert.deepEqual(rows.map((r) => r.path), ['v', 'v.kind', 'v.n', 'v.x']);
    assert.match(rows[3]!.description, /^\(kind a\)/);
  });
});

describe('pin schedule', () => {
  it('parses days, ranges, lists and windows past midnight', () => {
    assert.equal(parsePinWindow('Mon-Fri 8-18'), undefined);
    assert.equal(parsePinWindow('Xyz 08:00-18:00'), undefined);
    const work = parsePinWindow('Mon-Fri 08:00-18:00')!;
    assert.deepEqual([...work.days].sort(), [1, 2, 3, 4, 5]);
    assert.deepEqual([...parsePinWindow('Fri-Mon 08:00-09:00')!.days].sort(), [0, 1, 5, 6]);
    const night = parsePinWindow('Sun 22:00-06:00')!;
    // 2026-12-06 is a Sunday; local time, so build the dates in local time.
    assert.equal(pinnedBySchedule([night], new Date(2026, 11, 6, 23, 0).getTime()), true);
    assert.equal(pinnedBySchedule([night], new Date(2026, 11, 7, 5, 59).getTime()), true);
    assert.equal(pinnedBySchedule([night], new Date(2026, 11, 7, 6, 0).getTime()), false);
    assert.equal(pinnedBySchedule([work], new Date(2026, 11, 7, 12, 0).getTime()), true);
    assert.equal(pinnedBySchedule([work], new Date(2026, 11, 6, 12, 0).getTime()), false);
  });
});
