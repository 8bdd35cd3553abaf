// Redirect pools' demand from the kernel's connection tracking: the /proc/net/nf_conntrack line
// format parsed, NATed flows counted per backend, new flows metered after a baseline, and the
// balancer reporting the pool as measured once a read succeeded.

import { strict as assert } from 'node:assert';
import { describe, it } from 'node:test';
import { validate } from '../../../firmware/config/kit.js';
import { canonicalAddress, parseConntrack } from '../../../firmware/balancer/conntrack.js';
import { Pool } from '../../../firmware/balancer/pool.js';
import { balancerSchema } from '../../../firmware/balancer/schema.js';

// As read in a lab router's namespace (redirect VIP:80 → table web, masquerade to the backends).
const PROC = [
  'ipv4     2 tcp      6 431999 ESTABLISHED src=198.51.100.15 dst=198.51.100.100 sport=40612 dport=80 src=198.51.100.12 dst=198.51.100.11 sport=8080 dport=40612 [ASSURED] mark=0 zone=0 use=2',
  'ipv4     2 tcp      6 431998 ESTABLISHED src=198.51.100.15 dst=198.51.100.100 sport=40614 dport=80 src=198.51.100.13 dst=198.51.100.11 sport=8080 dport=40614 [ASSURED] mark=0 zone=0 use=2',
  'ipv4     2 tcp      6 118 TIME_WAIT src=198.51.100.15 dst=198.51.100.100 sport=40600 dport=80 src=198.51.100.12 dst=198.51.100.11 sport=8080 dport=40600 [ASSURED] mark=0 zone=0 use=2',
  'ipv4     2 tcp      6 431999 ESTABLISHED src=198.51.100.11 dst=198.51.100.12 sport=51000 dport=8080 src=198.51.100.12 dst=198.51.100.11 sport=8080 dport=51000 [ASSURED] mark=0 zone=0 use=2',
  'ipv4     2 udp      17 29 src=198.51.100.15 dst=198.51.100.100 sport=5353 dport=53 src=198.51.100.12 dst=198.51.100.15 sport=53 dport=5353 mark=0 zone=0 use=2',
  'ipv6     10 tcp      6 431999 ESTABLISHED src=2001:0db8:0000:0000:0000:0000:0000:0015 dst=2001:0db8:0000:0000:0000:0000:0000:0100 sport=40000 dport=80 src=2001:0db8:0000:0000:0000:0000:0000:0012 dst=2001:0db8:0000:0000:0000:0000:0000:0011 sport=8080 dport=40000 [ASSURED] mark=0 zone=0 use=2',
].join('\n');

describe('redirect demand from conntrack', () => {
  it('counts established TCP flows the kernel redirected, by backend, IPv6 in canonical form', () => {
    const flows = parseConntrack(PROC);
    assert.deepEqual(flows.map((f) => f.backend), ['198.51.100.12', '198.51.100.13', '2001:db8::12']);
    assert.equal(canonicalAddress('2001:0db8::0012'), '2001:db8::12');
  });

  it('a redirect pool is measured once flows were applied; new flows count as requests after the baseline', () => {
    const { value } = validate(balancerSchema, { pools: [{ name: 'web', port: 8080, hosts: [{ address: '198.51.100.12' }, { address: '198.51.100.13' }], redirect: { table: 'web' } }] });
    const pool = new Pool(value!.pools[0]!, 0);
    assert.equal(pool.demand(0).measured, false);
    pool.applyFlows(parseConntrack(PROC), 1000);
    const first = pool.demand(1000);
    assert.equal(first.measured, true);
    assert.equal(first.connections, 2);
    assert.equal(first.requestsPerSecond, 0, 'the first read is the baseline');
    const more = parseConntrack(PROC.replace('sport=40614 dport=80', 'sport=40999 dport=80'));
    pool.applyFlows([...more, ...parseConntrack(PROC).slice(1, 2)], 2000);
    const second = pool.demand(2000);
    assert.equal(second.connections, 3);
    assert.deepEqual(second.hosts.map((h) => h.connections), [1, 2]);
    assert.ok(second.requestsPerSecond > 0, 'one new flow');
  });
});
