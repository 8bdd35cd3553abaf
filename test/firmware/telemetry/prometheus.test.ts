// Tests for the Prometheus text renderer (firmware/telemetry/prometheus.ts) and the /metrics
// listener (metrics-http.ts): exact lines for a known status, escaping per the exposition
// format, every family documented once, and HTTP behaviour on loopback. The real parser
// (promtool) checks the same output in test/services/prometheus-promtool.test.ts.

import { strict as assert } from 'node:assert';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { describe, it } from 'node:test';

import { parseConfig } from '../../../firmware/config/load.js';
import { createLogger } from '../../../firmware/log.js';
import { parseListen } from '../../../firmware/telemetry/listen.js';
import { MetricsListener } from '../../../firmware/telemetry/metrics-http.js';
import { DROP_REASONS, escapeHelp, escapeLabelValue, formatValue, METRICS, metricsReference, renderPrometheus, withMetricsTable } from '../../../firmware/telemetry/prometheus.js';
import { poolFixture, snapshotFixture, statusFixture } from './metrics-fixture.js';

/** The Go library's text-format rules (expfmt, text_parse.go) as far as this renderer uses them. */
function lintExposition(text: string): string[] {
  const problems: string[] = [];
  const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
  const LABEL = '[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\\\\n]|\\\\[\\\\"n])*"';
  const sample = new RegExp(`^(${NAME})(?:\\{${LABEL}(?:,${LABEL})*\\})? (NaN|[+-]Inf|-?\\d+(?:\\.\\d+)?(?:e[+-]?\\d+)?)$`);
  const typed = new Map<string, string>();
  const seenSeries = new Set<string>();
  let current: string | undefined;
  if (!text.endsWith('\n')) problems.push('no final newline');
  for (const line of text.slice(0, -1).split('\n')) {
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name] = meta as unknown as [string, string, string, string];
      if (kind === 'TYPE') {
        if (typed.has(name)) problems.push(`second TYPE for ${name}`);
        typed.set(name, meta[3]!);
      }
      if (current !== name && kind === 'HELP' && typed.has(name)) problems.push(`${name} not contiguous`);
      current = name;
      continue;
    }
    const m = sample.exec(line);
    if (!m) {
      problems.push(`bad line: ${line}`);
      continue;
    }
    if (m[1] !== current) problems.push(`sample ${m[1]} outside its family ${current}`);
    if (seenSeries.has(line.slice(0, line.lastIndexOf(' ')))) problems.push(`duplicate series ${line}`);
    seenSeries.add(line.slice(0, line.lastIndexOf(' ')));
  }
  return problems;
}

describe('renderPrometheus', () => {
  const text = renderPrometheus(snapshotFixture());
  const lines = text.split('\n');

  it('follows the text format (the Go parser\'s rules)', () => {
    assert.deepEqual(lintExposition(text), []);
    // The lint itself catches what it claims to.
    assert.notDeepEqual(lintExposition('x{a="b} 1\n'), []);
    assert.notDeepEqual(lintExposition('# TYPE x gauge\nx 1\nx 1\n'), []);
  });

  it('gives CARP state, adverts and a counter for every drop reason, zeros included', () => {
    for (const line of [
      '# HELP tandem_carp_state CARP state: 0 INIT, 1 BACKUP, 2 MASTER.',
      '# TYPE tandem_carp_state gauge',
      'tandem_carp_state{vhid="42",interface="eth0"} 2',
      '# TYPE tandem_carp_adverts_sent_total counter',
      'tandem_carp_adverts_sent_total{vhid="42",interface="eth0"} 10',
      'tandem_carp_adverts_received_total{vhid="42",interface="eth0"} 9',
      'tandem_carp_drops_total{vhid="42",interface="eth0",reason="badAuth"} 3',
      'tandem_carp_drops_total{vhid="42",interface="eth0",reason="loop"} 0',
      'tandem_carp_unmatched_drops_total{interface="eth1",reason="badVhid"} 7',
      'tandem_carp_unmatched_drops_total{interface="eth1",reason="short"} 0',
      'tandem_demotion 50',
    ]) {
      assert.ok(lines.includes(line), line);
    }
    assert.equal(lines.filter((l) => l.startsWith('tandem_carp_drops_total{')).length, DROP_REASONS.length);
  });

  it('gives pool, host and relay health', () => {
    for (const line of [
      'tandem_pool_state{pool="web"} 2',
      'tandem_pool_hosts{pool="web",state="up"} 1',
      'tandem_pool_hosts{pool="web",state="down"} 1',
      'tandem_pool_hosts{pool="web",state="parked"} 0',
      'tandem_host_up{pool="web",host="198.51.100.21"} 1',
      'tandem_host_up{pool="web",host="198.51.100.22"} 0',
      'tandem_host_rtt_seconds{pool="web",host="198.51.100.21"} 0.0015',
      'tandem_host_check_outcomes_total{pool="web",host="198.51.100.21",outcome="connect-refused"} 1',
      'tandem_host_requests_per_second{pool="web",host="198.51.100.21"} 4.5',
      'tandem_relay_clients{pool="web"} 3',
      'tandem_relay_requests_total{pool="web"} 90',
    ]) {
      assert.ok(lines.includes(line), line);
    }
    // No rtt line for a host whose last check had none.
    assert.ok(!text.includes('tandem_host_rtt_seconds{pool="web",host="198.51.100.22"}'));
  });

  it('gives telemetry, process and node figures', () => {
    for (const line of [
      'tandem_telemetry_connected 1',
      'tandem_telemetry_queue_events 4',
      'tandem_telemetry_queue_dropped_total 2',
      'tandem_telemetry_published_total{kind="events"} 95',
      'tandem_telemetry_commands_total{outcome="replayed"} 1',
      'tandem_telemetry_commands_total{outcome="badSignature"} 0',
      'tandem_telemetry_commands_total{outcome="executed"} 3',
      'tandem_telemetry_commands_total{outcome="stale"} 2',
      'tandem_power_acting 1',
      'tandem_power_pool_demand{pool="web",unit="connections"} 3',
      'tandem_power_host_state{pool="web",host="web-2",state="parked"} 1',
      'tandem_power_host_state{pool="web",host="web-2",state="awake"} 0',
      'tandem_power_host_energy_joules_total{pool="web",host="web-2"} 1800000',
      'tandem_power_host_saved_energy_joules_total{pool="web",host="web-2"} 5400000',
      'tandem_power_saved_energy_joules_total 5400000',
      'tandem_process_resident_memory_bytes 62914560',
      'tandem_process_cpu_seconds_total{mode="user"} 1.25',
      'tandem_node_cpu_seconds_total{mode="idle"} 900',
      'tandem_node_load5 0.25',
      'tandem_node_memory_available_bytes 536870912',
      'tandem_node_temperature_celsius{zone="thermal_zone0",type="acpitz"} 47.5',
      'tandem_node_network_receive_bytes_total{interface="eth0"} 1000',
      'tandem_node_network_transmit_errors_total{interface="eth0"} 1',
      'tandem_node_network_receive_dropped_total{interface="eth0"} 2',
    ]) {
      assert.ok(lines.includes(line), line);
    }
  });

  it('documents every family it renders, once, and only those', () => {
    const typed = lines.filter((l) => l.startsWith('# TYPE ')).map((l) => l.split(' ')[2]!);
    assert.equal(new Set(typed).size, typed.length);
    for (const name of typed) assert.ok(name in METRICS, name);
    for (const name of new Set(lines.filter((l) => l && !l.startsWith('#')).map((l) => /^[^{ ]+/.exec(l)![0]))) assert.ok(typed.includes(name), name);
    // With the full fixture every documented family shows up.
    assert.deepEqual(Object.keys(METRICS).filter((n) => !typed.includes(n)), []);
    for (const [name, family] of Object.entries(METRICS)) {
      assert.equal(family.type === 'counter', name.endsWith('_total'), `${name}: counters and only counters end in _total`);
    }
    const reference = metricsReference();
    for (const name of Object.keys(METRICS)) assert.ok(reference.includes(`\`${name}\``), name);
  });

  it('escapes label values and HELP text as the format says', () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    assert.equal(escapeHelp('a\\b"c\nd'), 'a\\\\b"c\\nd');
    assert.deepEqual([NaN, Infinity, -Infinity, 0, -1.5, 2 ** 53].map(formatValue), ['NaN', '+Inf', '-Inf', '0', '-1.5', '9007199254740992']);
    const nasty = 'we"b\\1\nx';
    const out = renderPrometheus(snapshotFixture({ status: statusFixture({ pools: [poolFixture(nasty)] }) }));
    assert.ok(out.includes('tandem_pool_state{pool="we\\"b\\\\1\\nx"} 2'), out.split('\n').find((l) => l.startsWith('tandem_pool_state')));
    assert.deepEqual(lintExposition(out), []);
  });

  it('leaves out families with nothing to say', () => {
    const out = renderPrometheus(
      snapshotFixture({ status: statusFixture({ carp: [], pools: [], unmatched: {}, telemetry: undefined, power: undefined }), system: { interfaces: {}, thermal: [] } }),
    );
    assert.ok(!out.includes('tandem_carp_'));
    assert.ok(!out.includes('tandem_telemetry_'));
    assert.ok(!out.includes('tandem_power_'));
    assert.ok(!out.includes('tandem_node_cpu_seconds_total'));
    assert.ok(out.includes('tandem_info{node="fw-a",version="0.1.0"} 1'));
    assert.deepEqual(lintExposition(out), []);
  });
});

describe('README', () => {
  it('lists exactly the metrics METRICS documents (run `npm run docs` after changing them)', async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    assert.equal(withMetricsTable(readme), readme);
  });

  it('its telemetry.prometheus example is valid', async () => {
    const readme = await readFile(new URL('../../../README.md', import.meta.url), 'utf8');
    const example = /## Prometheus metrics[\s\S]*?```yaml\n([\s\S]*?)```/.exec(readme)?.[1];
    assert.ok(example, 'no yaml example under "Prometheus metrics"');
    const result = parseConfig(`node: { name: fw-a }\n${example}`);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.issues));
    assert.equal(result.config.telemetry?.prometheus?.listen, '198.51.100.11:9120');
  });
});

describe('parseListen', () => {
  it('takes address:port, IPv6 in brackets', () => {
    assert.deepEqual(parseListen('127.0.0.1:9120'), { host: '127.0.0.1', port: 9120 });
    assert.deepEqual(parseListen('[2001:db8::1]:9120'), { host: '2001:db8::1', port: 9120 });
    for (const bad of ['127.0.0.1', ':9120', '127.0.0.1:0', '127.0.0.1:65536', '2001:db8::1:9120', '[198.51.100.1]:80', '300.1.1.1:80', 'localhost:80']) {
      assert.equal(parseListen(bad), undefined, bad);
    }
  });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('MetricsListener on loopback', () => {
  it('serves /metrics with the exposition content type, 404 and 405 elsewhere, 500 when collection fails', async () => {
    const port = await freePort();
    let fail = false;
    const listener = new MetricsListener(`127.0.0.1:${port}`, async () => {
      if (fail) throw new Error('status unavailable');
      return snapshotFixture();
    }, createLogger('error'));
    await listener.start();
    try {
      const base = `http://127.0.0.1:${port}`;
      const ok = await fetch(`${base}/metrics`);
      assert.equal(ok.status, 200);
      assert.equal(ok.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8');
      assert.equal(await ok.text(), renderPrometheus(snapshotFixture()));
      const head = await fetch(`${base}/metrics`, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(await head.text(), '');
      assert.equal((await fetch(`${base}/`)).status, 404);
      const post = await fetch(`${base}/metrics`, { method: 'POST' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      fail = true;
      const broken = await fetch(`${base}/metrics`);
      assert.equal(broken.status, 500);
      assert.match(await broken.text(), /status unavailable/);
    } finally {
      await listener.stop();
    }
    await assert.rejects(fetch(`http://127.0.0.1:${port}/metrics`));
  });

  it('says why it cannot bind', async () => {
    const port = await freePort();
    const first = new MetricsListener(`127.0.0.1:${port}`, async () => snapshotFixture(), createLogger('error'));
    await first.start();
    try {
      const second = new MetricsListener(`127.0.0.1:${port}`, async () => snapshotFixture(), createLogger('error'));
      await assert.rejects(second.start(), /EADDRINUSE/);
    } finally {
      await first.stop();
    }
  });
});
