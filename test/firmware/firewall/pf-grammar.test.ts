// The pf.conf(5) grammar checker (pf-grammar.ts) must accept what the manual shows and reject
// what pfctl would: examples from pf.conf(5) itself as the positive table, and a table of
// broken lines, each with the error it must give.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePf } from './pf-grammar.js';

// Examples printed in pf.conf(5) (OpenBSD, rev 1.609), with the macros they use defined.
const MANUAL = `
ext_if = "kue0"
int_if = "em1"
wifi_if = "ath0"
v4_if = "em2"
v6_if = "em3"
server = "10.1.2.3"
sysadmins = "{ 10.0.0.5, 10.0.0.6 }"
int_net = "10.0.0.0/24"
webserver = "10.1.2.4"
developerhosts = "{ 10.2.0.0/24 }"
all_ifs = "{" $ext_if lo0 "}"
ips = "{ 1.2.3.4, 1.2.3.5 }"
set timeout tcp.established 3600
set timeout { tcp.opening 30, tcp.closing 900 }
set timeout { adaptive.start 60000, adaptive.end 120000 }
set limit { states 20000, frags 2000, src-nodes 2000 }
set loginterface dc0
set loginterface none
set optimization aggressive
set block-policy return
set state-defaults pflow, no-sync
set skip on lo
set syncookies adaptive (start 25%, end 12%)
set reassemble yes no-df
queue rootq on em0 bandwidth 100M max 100M
queue http parent rootq bandwidth 60M burst 90M for 100ms
queue std parent rootq bandwidth 20M default
table <private> const { 10/8, 172.16/12, 192.168/16 }
table <badhosts> persist
table <spam> persist file "/etc/spammers" file "/etc/openrelays"
table <bad_hosts> persist
block on fxp0 from { <private>, <badhosts> } to any
block on fxp0 from <spam> to any
match in all scrub (no-df max-mss 1440)
match in all scrub (no-df random-id max-mss 1440)
block return log on $ext_if all
block in from no-route to any
block in from urpf-failed to any
block out log quick on $ext_if from ! 157.161.48.183 to any
block in quick on $ext_if from any to 255.255.255.255
block in log quick on $ext_if from { 10.0.0.0/8, 172.16.0.0/12, \\
    192.168.0.0/16, 255.255.255.255/32 } to any
pass on $ext_if inet proto icmp all icmp-type 8 code 0
pass out on $ext_if proto udp all
pass in on $ext_if proto udp from any to any port domain
pass out on $ext_if proto tcp all modulate state
pass in on $ext_if proto tcp from any to any \\
    port { ssh, smtp, domain, auth }
block in on $ext_if proto tcp from any \\
    os { "Windows 95", "Windows 98" } to any port smtp
pass quick on gif0 inet6
pass quick on $ext_if proto ipv6
pass in on $int_if from any to any tag INTNET
pass in on $wifi_if from any to any
block out on $ext_if from any to any
pass out quick on $ext_if tagged INTNET
pass out on $ext_if proto tcp from any to any port 80
match in on $ext_if inet proto tcp from <spammers> to port smtp \\
     tag SPAMD rdr-to 127.0.0.1 port spamd
pass in on $ext_if inet proto tcp tagged SPAMD
match in on $ext_if proto tcp from any to any port 80 \\
      rdr-to 127.0.0.1 port 8080
pass in quick on $ext_if proto tcp from any to any port 80 \\
      rdr-to 127.0.0.1 port 8080
match out on ! vlan12 from 192.168.168.0/24 to any nat-to 204.92.77.111
pass out on $ext_if from 144.19.74.0/24 nat-to 204.92.77.100
pass out on $ext_if proto ah from 144.19.74.0/24
pass in on $int_if proto { tcp, udp } from any to any port 80 \\
      rdr-to 127.0.0.1 port 80
pass in on $int_if proto { tcp, udp } from any to $server port 80
pass in on $int_if proto { tcp, udp } from $sysadmins to any port 80
match out on $ext_if inet proto udp from any port isakmp to any \\
    nat-to ($ext_if) port 500
match in on $ext_if inet proto tcp from any to ($ext_if) port 8080 \\
      rdr-to 10.1.2.151 port 22
match out on $ext_if inet from any to any nat-to 192.0.2.16/28 \\
    source-hash
match in  on $ext_if proto tcp from any to any port 80 \\
    rdr-to { 10.1.2.155 weight 2, 10.1.2.160 weight 1, \\
             10.1.2.161 weight 8 } round-robin
pass on $ext_if from 10.1.2.120 to any binat-to 192.0.2.17
pass out on $ext_if inet from 10.1.2.120 to any \\
      nat-to 192.0.2.17 static-port
pass in on $ext_if inet from any to 192.0.2.17 rdr-to 10.1.2.120
pass in on $v4_if inet af-to inet6 from ($v6_if) to 64:ff9b::/96
pass in on $v6_if inet6 to 64:ff9b::/96 af-to inet from ($v4_if)
pass in on $int_if proto tcp from $int_net to $ext_if port 80 \\
	rdr-to $server
pass out on $int_if proto tcp to $server port 80 \\
	received-on $int_if nat-to $int_if
pass in on egress proto tcp from any to any port smtp \\
	rdr-to 127.0.0.1 port spamd
pass in all
pass in from any to any
pass in proto tcp from any port < 1024 to any
pass in proto tcp from any to any port 25
pass in proto tcp from 10.0.0.0/8 port >= 1024 \\
      to ! 10.1.2.3 port != ssh
pass in proto tcp from any os "OpenBSD"
pass in proto tcp from route "DTAG"
pass in proto tcp from any to any port www keep state \\
      (max 100, source-track rule, max-src-nodes 75, \\
      max-src-states 3, tcp.established 60, tcp.closing 5)
block quick from <bad_hosts>
pass in on $ext_if proto tcp to $webserver port www keep state \\
      (max-src-conn-rate 100/10, overload <bad_hosts> flush global)
pass in proto tcp from any to $ips port > 1023 label "$dstaddr:$dstport"
block out proto tcp all
pass  out proto tcp from self user { < 1000, dhartmei }
pass  out proto tcp from self user { 999 >< 1501 }
pass in proto tcp to port 25 set prio 2
pass in proto tcp to port 22 set prio (2, 5)
pass in proto tcp to port 22 set queue(ssh_bulk, ssh_prio)
block return out on em0 inet all set queue std
pass out on em0 inet proto tcp from $developerhosts to any port 80 \\
      set queue developers
pass all tos lowdelay
pass all tos 0x10
pass all tos 16
block in proto icmp
pass in proto icmp max-pkt-rate 100/10
block in proto icmp probability 20%
pass in proto tcp from any to any port 80
pass  out proto tcp from any os OpenBSD
block out from any os "unknown"
antispoof for lo0
antispoof for wi0 inet
block drop in on ! lo0 inet from 127.0.0.1/8 to any
block drop in on ! lo0 inet6 from ::1 to any
pass in inet af-to inet6 from 2001:db8::1 to 2001:db8::/96
pass in inet6 from any to 64:ff9b::/96 af-to inet \\
	from 198.51.100.1 to 0.0.0.0/0
block on $ext_if all
anchor spam
pass out on $ext_if all
pass in on $ext_if proto tcp from any to $ext_if port smtp
anchor spam proto tcp from any to any port smtp
anchor "external" on egress {
	block
	anchor out {
		pass proto tcp from any to port { 25, 80, 443 }
	}
	pass in proto tcp to any port 22
}
anchor "spam/*"
load anchor spam from "/etc/pf-spam.conf"
include "/etc/pf/sub.filter.conf"
`;

describe('pf.conf(5) grammar: what the manual shows', () => {
  it('accepts every example of the manual', () => {
    const result = parsePf(MANUAL);
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors, null, 1));
  });

  it('expands macros, quotes and continuations as pfctl does', () => {
    const result = parsePf('lan = "{ em1 em3 }"\nnet = "198.51.100.0/24"\npass in on $lan proto tcp from $net \\\n  to any port 22 # comment\n');
    assert.ok(result.ok);
    const rule = result.statements.find((s) => s.kind === 'rule');
    assert.ok(rule && rule.kind === 'rule');
    assert.deepEqual([rule.interfaces, rule.from, rule.to], [['em1', 'em3'], ['198.51.100.0/24'], []]);
  });

  it('keeps the anchor path of rules inside inline anchors', () => {
    const result = parsePf('anchor "tandem" {\n\tanchor "redirect-web" {\n\t\tpass in quick proto tcp to 203.0.113.10 port 80 rdr-to <web> port 8080 round-robin\n\t}\n}\n');
    assert.ok(result.ok, JSON.stringify(!result.ok && result.errors));
    const rule = result.statements.find((s) => s.kind === 'rule');
    assert.ok(rule && rule.kind === 'rule');
    assert.equal(rule.anchor, 'tandem/redirect-web');
    assert.deepEqual(rule.translation, { kind: 'rdr-to', targets: ['<web>'], port: '8080', pool: 'round-robin' });
  });
});

// [line, the error it must give]
const BROKEN: [string, RegExp][] = [
  ['pass in on', /expected an interface name, got end of line/],
  ['pass in quick in on em0', /unknown filter option "in"/],
  ['pass in on em0 proto', /expected a protocol, got end of line/],
  ['pass in from', /expected an address, got end of line/],
  ['pass in from 198.51.100.0/33', /mask bits must be 0-32, got 33/],
  ['pass in from 198.51.100.256', /"198\.51\.100\.256" is not an IPv4 address/],
  ['pass in from 10.1', /"10\.1" is not a complete IPv4 address/],
  ['pass in proto tcp to port 70000', /a port must be 0-65535, got 70000/],
  ['pass in to port 22', /port only applies to tcp\/udp: the rule has no proto/],
  ['pass in proto icmp to port 22', /port only applies to tcp\/udp, not proto icmp/],
  ['pass in proto tcp icmp-type echoreq', /icmp-type only applies to proto icmp/],
  ['pass in proto icmp icmp-type pingme', /unknown ICMP type "pingme"/],
  ['pass in inet6 proto icmp icmp-type echoreq', /icmp-type is IPv4/],
  ['pass in proto udp flags S/SA', /flags only apply to tcp/],
  ['pass in proto tcp flags S/SX', /TCP flags are letters of FSRPAUEW/],
  ['block in keep state', /keep state on block rules doesn't make sense/],
  ['block in proto tcp to 203.0.113.10 port 80 rdr-to 198.51.100.21', /rdr-to is not allowed on a block rule/],
  ['pass in proto tcp to port 80 rdr-to', /expected an address, got end of line/],
  ['pass in proto tcp to port 80 rdr-to <web> bitmask', /bitmask is not permitted/],
  ['pass in proto tcp to port 80 rdr-to { 10.0.0.1, 10.0.0.2 } bitmask', /bitmask is not permitted/],
  ['pass in inet from 2001:db8::1', /rule expands to no valid combination/],
  ['pass in from 198.51.100.1 to 2001:db8::1', /rule expands to no valid combination/],
  ['pass out inet from 198.51.100.0/24 nat-to 2001:db8::1', /no translation address with a matching address family/],
  ['pass in keep state (max)', /expected max \(a number\), got "\)"/],
  ['pass in keep state (frobnicate 3)', /unknown state option "frobnicate"/],
  ['pass in label "x" frob', /unknown filter option "frob"/],
  ['pass in on $nowhere', /macro 'nowhere' not defined/],
  ['pass = "x"', /macro name "pass" is a reserved word/],
  ['pass in from <web', /expected ">", got end of line/],
  ['pass in from { 198.51.100.1, 198.51.100.2', /unclosed "\{"/],
  ['pass in label "unterminated', /unterminated quoted string/],
  ['frobnicate all', /unknown statement "frobnicate"/],
  ['set block-policy maybe', /block-policy must be one of drop, return, got "maybe"/],
  ['set frobs on', /unknown option "set frobs"/],
  ['set timeout tcp.forever 3', /unknown timeout "tcp.forever"/],
  ['table <t> persist { 198.51.100.0/40 }', /mask bits must be 0-32, got 40/],
  ['table <t> frob', /a table option must be one of/],
  ['table <t>\ntable <t>', /table <t> is defined twice/],
  ['table <a_table_name_that_is_far_too_long_for_pf> persist', /longer than 31 characters/],
  ['pass in label "' + 'x'.repeat(64) + '"', /longer than 63 characters/],
  ['anchor "tandem/redirect-web" {\n}', /anchor paths containing '\/' cannot be used for inline anchors/],
  ['anchor "_mine"', /anchor names beginning with '_' are reserved/],
  ['anchor "a" {\npass', /anchor "a" is not closed/],
  ['}', /"\}" closes no anchor/],
  ['anchor "a" {\nset skip on lo\n}', /an option is not allowed inside an inline anchor/],
  ['anchor', /an anchor without a "\{ \.\.\. \}" block needs a name/],
  ['antispoof quick lo0', /expected "for", got "lo0"/],
  ['pass in on em0 in', /unknown filter option "in"/],
  ['pass in proto tcp to port 22 rdr-to 10.0.0.1 nat-to 10.0.0.2', /nat-to cannot follow rdr-to/],
  ['pass in ; all', /unknown filter option ";"/],
];

describe('pf.conf(5) grammar: what it must reject', () => {
  for (const [text, message] of BROKEN) {
    it(`rejects ${JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text)}`, () => {
      const result = parsePf(text + '\n');
      assert.equal(result.ok, false, 'accepted');
      const messages = result.ok ? [] : result.errors.map((e) => `${e.line}: ${e.message}`);
      assert.ok(messages.some((m) => message.test(m)), `errors were: ${messages.join(' | ')}`);
    });
  }

  it('reports each broken line with its number and goes on', () => {
    const result = parsePf('pass in all\npass in on\nblock all\nset frobs on\n');
    assert.equal(result.ok, false);
    assert.deepEqual(
      !result.ok && result.errors.map((e) => e.line),
      [2, 4],
    );
  });
});
