// What Tandem's takeover path costs, piece by piece, measured the way the daemon does it, from
// a Node process in a lab host: spawning a program (fork/exec/exit), `ip addr add` and
// `ip addr del` of a spare address (198.51.100.200), and the promote_secondaries sysctl write.
// The probe holds a heap about the size of the daemon's, since fork cost grows with it.

import { fileURLToPath } from 'node:url';
import type { Lab } from '../../../test/netns/lab.js';

const ADDON = fileURLToPath(new URL('../../../build/Release/tandem_raw.node', import.meta.url));

const PROBE = `const { spawn } = require('node:child_process');
const { writeFile } = require('node:fs/promises');
const reps = Number(process.argv[1]);
const addon = require(process.argv[2]);
// A gratuitous ARP for the spare address from this host's MAC, sent the way Tandem's
// announcer does: addon.sendFrame opens an AF_PACKET socket, sends, closes it.
const mac = addon.interfaceInfo('eth0').mac.split(':').map((x) => parseInt(x, 16));
const garp = Buffer.alloc(42);
garp.fill(0xff, 0, 6); Buffer.from(mac).copy(garp, 6); garp.writeUInt16BE(0x0806, 12);
garp.writeUInt16BE(1, 14); garp.writeUInt16BE(0x0800, 16); garp[18] = 6; garp[19] = 4; garp.writeUInt16BE(1, 20);
Buffer.from(mac).copy(garp, 22); Buffer.from([198, 51, 100, 200]).copy(garp, 28); Buffer.from([198, 51, 100, 200]).copy(garp, 38);
// About the daemon's heap: fork copies page tables, so a bigger parent forks slower.
const ballast = Array.from({ length: 40 }, () => Buffer.alloc(1 << 20, 1));
const run = (cmd, args) => new Promise((resolve, reject) => {
  const t0 = performance.now();
  const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let spawned = performance.now() - t0;
  child.stdin.end();
  child.stdout.resume(); child.stderr.resume();
  child.on('error', reject);
  child.on('close', (code) => code === 0 ? resolve([spawned, performance.now() - t0]) : reject(new Error(cmd + ' exit ' + code)));
});
(async () => {
  const out = { spawnCall: [], trueExit: [], addrAdd: [], addrDel: [], sysctl: [], sendFrame: [] };
  for (let i = 0; i < reps; i++) {
    const [call, total] = await run('/bin/true', []);
    out.spawnCall.push(call); out.trueExit.push(total);
    out.addrAdd.push((await run('ip', ['addr', 'add', '198.51.100.200/24', 'dev', 'eth0']))[1]);
    out.addrDel.push((await run('ip', ['addr', 'del', '198.51.100.200/24', 'dev', 'eth0']))[1]);
    const t0 = performance.now();
    await writeFile('/proc/sys/net/ipv4/conf/eth0/promote_secondaries', '1');
    out.sysctl.push(performance.now() - t0);
    const t1 = performance.now();
    addon.sendFrame('eth0', new Uint8Array(garp));
    out.sendFrame.push(performance.now() - t1);
  }
  const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.floor(s.length / 2)]; };
  const p90 = (a) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.ceil(0.9 * s.length) - 1)]; };
  const summary = {};
  for (const [k, v] of Object.entries(out)) summary[k] = { median: med(v), p90: p90(v), n: v.length };
  summary.rssMb = process.memoryUsage().rss / 1048576;
  console.log(JSON.stringify(summary));
  void ballast;
})().catch((e) => { console.error(e.message); process.exit(1); });`;

export interface CostLine {
  median: number;
  p90: number;
  n: number;
}

export interface TakeoverCosts {
  /** child_process.spawn() returning (the synchronous fork/exec in the event loop). */
  spawnCall: CostLine;
  /** spawn('/bin/true') to its 'close': the floor for any program the daemon runs. */
  trueExit: CostLine;
  addrAdd: CostLine;
  addrDel: CostLine;
  sysctl: CostLine;
  /** addon.sendFrame of one gratuitous ARP: socket, sendto, close (close waits for RCU). */
  sendFrame: CostLine;
  rssMb: number;
}

export async function measureTakeoverCosts(lab: Lab, host: number, reps = 20): Promise<TakeoverCosts> {
  const { stdout } = await lab.exec(host, process.execPath, ['-e', PROBE, String(reps), ADDON], 60_000);
  return JSON.parse(stdout.trim().split('\n').pop()!) as TakeoverCosts;
}
