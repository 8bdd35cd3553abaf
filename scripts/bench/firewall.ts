// scripts/bench/firewall: what the firewall costs, measured in one run.
//
// The policy: 1,000 filter rules (pass and block, in and out, quick and not, TCP/UDP ports and
// ranges, ICMP types, addresses of both families, zones and tables) plus a 10,000-address
// table and a redirect table, on a router with wan, lan, dmz and sync zones. Measured:
//   - compile, pf render, nft render (pure, in process);
//   - nft -c of the whole ruleset, and a full apply (check + load in one transaction) — the
//     "full reload";
//   - one address out of the 10,000-address table and another in, in place (TableUpdater: one
//     delete and one add element in one transaction), and a member change of the redirect table
//     (set and slot map) — against the full reload;
//   - the cost of starting nft at all (`nft --version`), which every call pays.
// Everything nft does happens in a throwaway namespace created and deleted here. It reports and
// does not assert: exit 0 when it ran, 1 on an error, 2 on bad arguments.

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { cpus, release } from 'node:os';
import { parseConfig } from '../../firmware/config/load.js';
import { LinuxNftPort } from '../../firmware/firewall/linux.js';
import { compile, type Policy } from '../../firmware/firewall/model.js';
import { renderNft } from '../../firmware/firewall/render-nft.js';
import { renderPf } from '../../firmware/firewall/render-pf.js';
import { Firewall } from '../../firmware/firewall/service.js';
import { silentLogger } from '../../firmware/log.js';
import { systemClock } from '../../firmware/os/clock.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { BenchCommandLine } from './command-line.js';

const USAGE = `usage: scripts/bench/firewall [--rules N] [--table N] [--rounds N] [--json FILE]

  --rules N    filter rules in the policy (default 1000)
  --table N    addresses in the big table (default 10000)
  --rounds N   repetitions of each measurement; medians are reported (default 7)
  --json FILE  also write every measurement as JSON`;

const commandLine = new BenchCommandLine('firewall', USAGE);
const fail = (message: string, code?: number): never => commandLine.fail(message, code);
const values =
  commandLine.parse({ rules: { type: 'string' }, table: { type: 'string' }, rounds: { type: 'string' }, json: { type: 'string' } }) ?? process.exit(0);
const count = (name: string, text: string | undefined, fallback: number, max: number) => commandLine.integer(name, text, fallback, 1, max);
const RULES = count('rules', values.rules, 1000, 20_000);
const TABLE = count('table', values.table, 10_000, 200_000);
const ROUNDS = count('rounds', values.rounds, 7, 100);

if (process.getuid?.() !== 0) fail('needs root (network namespaces, nft)', 1);

/** The big table: TEST-NET addresses only, IPv4 first (512 of them), then 2001:db8::/32. */
function bigTable(n: number): string[] {
  const out: string[] = [];
  for (const net of ['198.51.100', '203.0.113']) for (let i = 0; i < 256 && out.length < n; i++) out.push(`${net}.${i}`);
  for (let i = 0; out.length < n; i++) out.push(`2001:db8:100:${Math.floor(i / 65536).toString(16)}::${(i % 65536).toString(16)}`);
  return out;
}

function policyConfig(rules: number, tableSize: number): string {
  const zones = ['wan', 'lan', 'dmz', 'sync'];
  const ruleList = Array.from({ length: rules }, (_, i) => {
    const zone = zones[i % 3]!;
    const base = { action: i % 4 === 0 ? 'block' : 'pass', direction: i % 2 ? 'in' : 'out', quick: i % 5 === 0, on: zone };
    switch (i % 6) {
      case 0:
        return { ...base, proto: 'tcp', to: { address: `198.51.100.${i % 256}`, port: [22, 80, 443, `${1000 + (i % 50)}-${2000 + (i % 50)}`] } };
      case 1:
        return { ...base, proto: 'udp', from: { address: `2001:db8:${(i % 4096).toString(16)}::/48` }, to: { port: 53 } };
      case 2:
        return { ...base, proto: 'icmp', icmpType: ['echo-request', 'time-exceeded'] };
      case 3:
        return { ...base, from: { table: 'big' }, log: true };
      case 4:
        return { ...base, proto: ['tcp', 'udp'], from: { zone: 'lan' }, to: { address: `203.0.113.${i % 256}`, port: 5000 + (i % 1000) } };
      default:
        return { ...base, proto: 'tcp', from: { address: [`198.51.100.${i % 128}/25`, `2001:db8:1::${(i % 65536).toString(16)}`] }, to: { self: true, port: 8000 + (i % 100) } };
    }
  });
  return JSON.stringify({
    node: { name: 'bench' },
    carp: [
      { vhid: 10, interface: 'eth0', addresses: ['203.0.113.10/24', '2001:db8:ff::10/64'], password: 'bench' },
      { vhid: 20, interface: 'eth1', addresses: ['198.51.100.1/25'], password: 'bench' },
    ],
    firewall: {
      zones: {
        wan: { interfaces: ['eth0'], addresses: ['203.0.113.2/24', '2001:db8:ff::2/64'] },
        lan: { interfaces: ['eth1'], addresses: ['198.51.100.2/25'] },
        dmz: { interfaces: ['eth2'], addresses: ['198.51.100.129/26', '2001:db8:2::1/64'] },
        sync: { interfaces: ['eth3'], addresses: ['198.51.100.253/30'] },
      },
      tables: { big: { members: bigTable(tableSize) }, web: { members: ['198.51.100.130', '198.51.100.131', '198.51.100.132'] } },
      rules: ruleList,
      nat: [{ on: 'wan', from: { zone: ['lan', 'dmz'] }, natTo: { vip: 10 } }],
      forwards: [{ name: 'web', on: 'wan', proto: 'tcp', to: { vip: 10, port: [80, 443] }, rdrTo: { table: 'web' } }],
    },
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const ms = (v: number) => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : v >= 100 ? `${v.toFixed(0)} ms` : `${v.toFixed(2)} ms`);

async function time(rounds: number, work: (round: number) => Promise<unknown> | unknown): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const start = performance.now();
    await work(i);
    out.push(performance.now() - start);
  }
  return out;
}

const ns = `fwbench${process.pid.toString(36)}${randomBytes(2).toString('hex')}`.slice(0, 15);
const cleanup = () => {
  try {
    execFileSync('ip', ['netns', 'delete', ns], { stdio: 'ignore' });
  } catch {
    // not there
  }
};

async function main(): Promise<void> {
  const results: Record<string, number[]> = {};
  const configText = policyConfig(RULES, TABLE);
  const parsed = parseConfig(configText);
  if (!parsed.ok) throw new Error(`bench policy does not validate: ${JSON.stringify(parsed.issues.slice(0, 3))}`);

  let policy: Policy | undefined;
  results.compile = await time(ROUNDS, () => (policy = compile(parsed.config).policy));
  if (!policy) throw new Error('bench policy does not compile');
  const p = policy;
  results['render pf'] = await time(ROUNDS, () => renderPf(p));
  let nftText = '';
  results['render nft'] = await time(ROUNDS, () => (nftText = renderNft(p)));

  execFileSync('ip', ['netns', 'add', ns]);
  process.once('exit', cleanup);
  const nft = new LinuxNftPort(new LinuxProcessRunner(), ['ip', 'netns', 'exec', ns, 'nft']);
  const processes = new LinuxProcessRunner();
  results['nft start (nft --version)'] = await time(ROUNDS, () => processes.run('ip', ['netns', 'exec', ns, 'nft', '--version']));
  results['nft -c (whole ruleset)'] = await time(ROUNDS, async () => {
    const r = await nft.check(nftText);
    if (!r.ok) throw new Error(`nft -c: ${r.error.slice(0, 500)}`);
  });

  const firewall = new Firewall({ nft, clock: systemClock, log: silentLogger });
  results['full apply (check + load)'] = await time(ROUNDS, async () => {
    const r = await firewall.apply(p);
    if (!r.ok) throw new Error(`apply: ${r.error.slice(0, 500)}`);
  });

  const members = bigTable(TABLE);
  const spare = (i: number) => `2001:db8:200::${(i + 1).toString(16)}`;
  let current = members;
  results['one address out, one in (10,000-address table, in place)'] = await time(ROUNDS * 3, async (i) => {
    const next = [...current.slice(1), spare(i)];
    await firewall.setMembers('big', next);
    current = next;
  });
  const web = [['198.51.100.130', '198.51.100.131'], ['198.51.100.130', '198.51.100.131', '198.51.100.132']];
  results['redirect table member change (set + slot map, in place)'] = await time(ROUNDS * 3, (i) => firewall.setMembers('web', web[i % 2]!));
  const full = new LinuxNftPort(processes, ['ip', 'netns', 'exec', ns, 'nft']);
  const { renderTableUpdate } = await import('../../firmware/firewall/render-nft.js');
  const bigTableModel = p.tables.find((t) => t.name === 'big')!;
  results['whole-table rewrite (flush + 10,000 elements)'] = await time(ROUNDS, async () => {
    const r = await full.run(renderTableUpdate(bigTableModel, current));
    if (!r.ok) throw new Error(r.error);
  });

  const listed = await nft.listTable();
  const ruleLines = nftText.split('\n').filter((l) => /(return|drop|reject|accept|dnat|snat) /.test(l)).length;

  console.log(`firewall bench: ${RULES} rules, a ${TABLE}-address table; ${ROUNDS} rounds (updates ${ROUNDS * 3}); medians`);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, Linux ${release()}, node ${process.version}`);
  console.log(`rendered: pf.conf ${renderPf(p).length} bytes; nftables ${nftText.length} bytes, ${ruleLines} nft rules; loaded table listing ${listed?.length ?? 0} bytes\n`);
  const width = Math.max(...Object.keys(results).map((k) => k.length));
  for (const [name, xs] of Object.entries(results)) {
    console.log(`  ${name.padEnd(width)}  ${ms(median(xs)).padStart(9)}   (min ${ms(Math.min(...xs))}, max ${ms(Math.max(...xs))})`);
  }
  const reload = median(results['full apply (check + load)']!);
  const one = median(results['one address out, one in (10,000-address table, in place)']!);
  const spawn = median(results['nft start (nft --version)']!);
  console.log(`\n  full reload / one address in place: ${(reload / one).toFixed(1)}x  (${ms(reload)} against ${ms(one)}; starting nft alone costs ${ms(spawn)})`);
  if (values.json) await writeFile(values.json, JSON.stringify({ rules: RULES, table: TABLE, rounds: ROUNDS, results }, null, 2));
}

main()
  .catch((error) => {
    console.error(`firewall bench failed: ${(error as Error).stack ?? error}`);
    process.exitCode = 1;
  })
  .finally(cleanup);
