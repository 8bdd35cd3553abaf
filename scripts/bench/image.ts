// scripts/bench/image (issue 15 "Benchmark"): the x86-64 image's compressed size (target at most
// 100 MiB) and rootfs by part from the build's size report, boot time to MASTER under qemu TCG
// (median of several power-ons, as a client in the lab sees the VIP answer), and the daemon's RSS
// on the booted image with every capability on against bare `node -e` on the same image.

import { execFile } from 'node:child_process';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { passwordHash } from '../../test/e2e/harness.js';
import { Backend } from '../../test/netns/balancer-lab.js';
import { Lab } from '../../test/netns/lab.js';
import { Mosquitto } from '../../test/services/telemetry-lab.js';
import { ensureImage, imageUnavailable, prepareDisk, readBuild, Vm, vmWorkdir, type Build } from '../../test/image/harness.js';
import { curl, DAEMON_PID, guestStatus, type GuestStatus, VIP, WEB_UI_LINE } from '../../test/image/guest.js';
import { partOf } from '../../image/size-report.js';
import { BenchCommandLine } from './command-line.js';

const exec = promisify(execFile);
const usage = `usage: scripts/bench/image [options]
  --build DIR     a build-image output directory (default: .cache/image-test/x86_64, built when missing)
  --boots N       power-ons timed to MASTER (default 3; the first is also the first boot)
  --settle S      seconds the daemon runs before its RSS is sampled (default 20)
  --skip-boot     only the sizes
  --json          the results as JSON`;
const MiB = 2 ** 20;
const TARGET_MIB = 100;
const GUEST = '198.51.100.51';

interface Sizes { compressedMiB: number; compressedMethod: string; imageMiB: number; squashfsMiB: number; rootfsRawMiB: number; rootfsByPartMiB: Record<string, number>; otherByDirectoryMiB?: [string, number][] }
interface Results { version: string; sizes: Sizes; bootsToMasterSeconds: number[]; webUiLineSeconds: number[]; medianBootToMasterSeconds?: number; rss?: { daemonMiB: number; bareNodeMiB: number; ratio: number; settleSeconds: number; on: string } }

function sizesOf(build: Build): Sizes {
  const s = build.sizes as { compressed: { bytes: number; method: string }; imageBytes: number; squashfsBytes: number; rootfsRawBytes: number; rootfs: Record<string, number> };
  return {
    compressedMiB: s.compressed.bytes / MiB,
    compressedMethod: s.compressed.method,
    imageMiB: s.imageBytes / MiB,
    squashfsMiB: s.squashfsBytes / MiB,
    rootfsRawMiB: s.rootfsRawBytes / MiB,
    rootfsByPartMiB: Object.fromEntries(Object.entries(s.rootfs).map(([k, v]) => [k, v / MiB])),
  };
}

/** Every capability on (as scripts/bench/memory's last step): CARP, firewall, relay pool, telemetry, power, web UI. */
function fullConfig(lab: Lab, users: { name: string; passwordHash: string }[]): string {
  const backends = [2, 3].map((h) => lab.host(h));
  return stringify({
    node: { name: 'fw-bench', stateDir: '/cfg/tandem' },
    network: { hostname: 'fw-bench', interfaces: [{ name: 'eth0', addresses: [`${GUEST}/24`] }] },
    carp: [{ vhid: 42, interface: 'eth0', addresses: [`${VIP}/24`], password: 'image-bench', advbase: 1 }],
    firewall: {
      zones: { lan: { interfaces: ['eth0'], addresses: [`${GUEST}/24`] } },
      tables: { web: { members: backends.map((b) => b.ipv4) } },
      rules: [{ action: 'pass', direction: 'in', on: 'lan' }],
    },
    balancer: {
      pools: [{
        name: 'web', port: 8080,
        hosts: backends.map((b, i) => ({ name: `web-${i + 1}`, address: b.ipv4 })),
        check: { type: 'http', path: '/health', intervalSeconds: 1, timeoutSeconds: 0.8, downAfter: 2, upAfter: 2 },
        relay: { listen: `${VIP}:80`, mode: 'http' },
      }],
    },
    telemetry: { mqtt: { url: `mqtt://${lab.host(1).ipv4}:1883` }, metricsIntervalSeconds: 5 },
    power: {
      vhid: 42, intervalSeconds: 1,
      policy: { spares: 0, minAwake: 2, maxCyclesPerDay: 10, minAwakeSeconds: 0, minParkedSeconds: 0, targetUtilisation: 0.8, drainTimeoutSeconds: 4 },
      pools: [{ name: 'web', unit: 'connections' }],
      hosts: backends.map((b, i) => ({
        name: `web-${i + 1}`, pool: 'web', address: b.ipv4, mac: b.mac, capacity: 100, watts: { idle: 40, peak: 90, parked: 3 },
        wake: { method: 'wol', seconds: 3 }, park: { method: 'ssh', seconds: 3, key: '/cfg/park_key', connectTimeoutSeconds: 3 },
      })),
    },
    api: { listen: ['0.0.0.0:443', '127.0.0.1:80'], users },
  });
}

/**
 * Where "other" goes: the bundle's squashfs listed (unsquashfs -lls, nothing extracted), its
 * files outside the size report's named parts summed by directory, three levels deep (hard links
 * such as perl/perl5.36.0 count once per name).
 */
async function otherByDirectory(build: Build, top: number): Promise<[string, number][]> {
  const work = await vmWorkdir();
  try {
    const sqfs = join(work.path, 'rootfs.sqfs');
    await exec('tar', ['-xf', build.bundle, '-C', work.path, 'rootfs.sqfs']);
    const { stdout } = await exec('unsquashfs', ['-lls', '-d', 'R', sqfs], { maxBuffer: 256 << 20 });
    const sums = new Map<string, number>();
    for (const line of stdout.split('\n')) {
      const m = /^-\S+\s+\S+\s+(\d+)\s+\S+\s+\S+\s+R\/(.+)$/.exec(line);
      if (!m || partOf(m[2]!) !== 'other') continue;
      const parts = m[2]!.split('/');
      // The multiarch library directory holds most of it: one level more there (each library or subdirectory).
      const dir = parts.slice(0, parts[2] === 'x86_64-linux-gnu' || parts[2] === 'aarch64-linux-gnu' ? 4 : 3).join('/');
      sums.set(dir, (sums.get(dir) ?? 0) + Number(m[1]) / MiB);
    }
    return [...sums].sort((a, b) => b[1] - a[1]).slice(0, top);
  } finally {
    await work.dispose();
  }
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function rssKiB(vm: Vm, pid: string): Promise<number> {
  const samples: number[] = [];
  for (let i = 0; i < 3; i++) {
    samples.push(Number(/^VmRSS:\s+(\d+)/m.exec(await vm.ok(`cat /proc/${pid}/status`))![1]));
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
  return median(samples);
}

async function bootAndMeasure(build: Build, boots: number, settleSeconds: number, progress: (line: string) => void): Promise<Pick<Results, 'bootsToMasterSeconds' | 'webUiLineSeconds' | 'rss'>> {
  const work = await vmWorkdir();
  const lab = await Lab.create({ hosts: 3 });
  const backends: Backend[] = [];
  let broker: Mosquitto | undefined;
  let vm: Vm | undefined;
  try {
    for (const h of [2, 3]) backends.push(await Backend.start(lab, h));
    broker = await Mosquitto.start(join(work.path, 'mosquitto'), [`listener 1883 ${lab.host(1).ipv4}`, 'allow_anonymous true'], { lab, host: 1 });
    await exec('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(work.path, 'park_key')]);
    const users = [{ name: 'admin', passwordHash: await passwordHash('image-bench') }];
    const dir = join(work.path, 'vm');
    await mkdir(dir, { recursive: true });
    const disk = await prepareDisk(build, dir, { kind: 'files', files: { 'tandem.yaml': fullConfig(lab, users), park_key: await readFile(join(work.path, 'park_key')) } });
    vm = await Vm.create({ name: 'm', lab, dir, disk, userspace: WEB_UI_LINE });
    const toMaster: number[] = [];
    const uiLine: number[] = [];
    for (let boot = 1; boot <= boots; boot++) {
      if (vm.running) await vm.kill();
      const t0 = Date.now();
      vm.start();
      const ui = vm.waitFor(WEB_UI_LINE, 300_000).then(() => (Date.now() - t0) / 1000);
      // The client's view: the VIP answers a ping once this node is MASTER.
      for (;;) {
        const ok = await lab.exec(1, 'ping', ['-c', '1', '-W', '1', VIP], 5000).then(() => true, () => false);
        if (ok) break;
        if (Date.now() - t0 > 300_000) throw new Error(`boot ${boot}: no MASTER within 300 s${vm.tail()}`);
      }
      toMaster.push((Date.now() - t0) / 1000);
      uiLine.push(await ui);
      progress(`boot ${boot}: VIP answers ${toMaster.at(-1)!.toFixed(1)} s after power on, web UI line at ${uiLine.at(-1)!.toFixed(1)} s`);
    }
    // RSS after the settle, with a browser-like visit through the VIP first.
    for (let i = 0; i < 5; i++) for (const path of ['/', '/api/status']) await curl(lab, 1, ['-k', '-o', '/dev/null', `https://${VIP}${path}`]);
    await new Promise((resolve) => setTimeout(resolve, settleSeconds * 1000));
    // What was on while measured, from the daemon itself (a capability that failed to start would flatter the figure).
    const st = await guestStatus(vm, 60_000) as GuestStatus & { pools?: { state: string }[]; telemetry?: { connection: { state: string } }; power?: unknown; api?: { listening?: unknown[] } };
    // The firewall is not in `tandem status`: its table in the kernel says it loaded.
    const nft = await vm.run('nft list tables');
    const on = `carp ${st.carp[0]?.state}, pool ${st.pools?.[0]?.state ?? 'absent'}, telemetry ${st.telemetry?.connection.state ?? 'absent'}, ` +
      `power ${st.power ? 'on' : 'absent'}, firewall ${/table inet tandem/.test(nft.output) ? 'loaded' : 'NOT loaded'}, api listeners ${st.api?.listening?.length ?? 0}`;
    progress(`while measured: ${on}`);
    const pid = (await vm.ok(DAEMON_PID)).trim();
    const daemonKiB = await rssKiB(vm, pid);
    const bare = (await vm.ok(`node -e 'setInterval(() => {}, 1000)' >/dev/null 2>&1 & echo $!`)).trim();
    await new Promise((resolve) => setTimeout(resolve, Math.min(settleSeconds, 10) * 1000));
    const bareKiB = await rssKiB(vm, bare);
    await vm.ok(`kill ${bare}`);
    progress(`RSS: daemon ${(daemonKiB / 1024).toFixed(1)} MiB, bare node ${(bareKiB / 1024).toFixed(1)} MiB`);
    return { bootsToMasterSeconds: toMaster, webUiLineSeconds: uiLine, rss: { daemonMiB: daemonKiB / 1024, bareNodeMiB: bareKiB / 1024, ratio: daemonKiB / bareKiB, settleSeconds, on } };
  } finally {
    await vm?.dispose();
    await broker?.stop();
    await Promise.all(backends.map((b) => b.stop()));
    await lab.dispose();
    await work.dispose();
  }
}

function format(r: Results): string {
  const s = r.sizes;
  const lines = [
    `image ${r.version}`,
    `compressed image        ${s.compressedMiB.toFixed(1).padStart(7)} MiB  (${s.compressedMethod}; target <= ${TARGET_MIB} MiB: ${s.compressedMiB <= TARGET_MIB ? 'met' : 'MISSED'})`,
    `raw image (sparse)      ${s.imageMiB.toFixed(1).padStart(7)} MiB`,
    `rootfs squashfs         ${s.squashfsMiB.toFixed(1).padStart(7)} MiB`,
    `rootfs raw              ${s.rootfsRawMiB.toFixed(1).padStart(7)} MiB, by part:`,
    ...Object.entries(s.rootfsByPartMiB).sort((a, b) => b[1] - a[1]).map(([k, v]) => `  ${k.padEnd(22)}${v.toFixed(1).padStart(7)} MiB`),
  ];
  if (s.otherByDirectoryMiB) {
    lines.push('"other", by directory (largest first):');
    for (const [dir, v] of s.otherByDirectoryMiB) lines.push(`  ${dir.padEnd(46)}${v.toFixed(1).padStart(7)} MiB`);
  }
  if (r.bootsToMasterSeconds.length) {
    lines.push(`boot to MASTER (TCG)    median ${r.medianBootToMasterSeconds!.toFixed(1)} s of ${r.bootsToMasterSeconds.map((x) => x.toFixed(1)).join(', ')} s (power on -> the VIP answers a lab client)`);
    lines.push(`web UI console line    ${r.webUiLineSeconds.map((x) => x.toFixed(1)).join(', ')} s`);
  }
  if (r.rss) {
    lines.push(`daemon RSS, all on      ${r.rss.daemonMiB.toFixed(1)} MiB vs bare node ${r.rss.bareNodeMiB.toFixed(1)} MiB = ${r.rss.ratio.toFixed(2)}x (budget 1.5x; after ${r.rss.settleSeconds} s)`);
    lines.push(`  while measured: ${r.rss.on}`);
  }
  return lines.join('\n');
}

const cli = new BenchCommandLine('image', usage);
const values = cli.parse({ build: { type: 'string' }, boots: { type: 'string' }, settle: { type: 'string' }, 'skip-boot': { type: 'boolean' }, json: { type: 'boolean' } });
if (values) {
  const boots = cli.integer('boots', values.boots, 3, 1, 10);
  const settle = cli.integer('settle', values.settle, 20, 2, 300);
  const build = values.build ? await readBuild(String(values.build)) : await ensureImage('x86_64');
  const results: Results = { version: build.version, sizes: sizesOf(build), bootsToMasterSeconds: [], webUiLineSeconds: [] };
  results.sizes.otherByDirectoryMiB = await otherByDirectory(build, 12);
  if (!values['skip-boot']) {
    const why = imageUnavailable('x86_64');
    if (why) cli.fail(`cannot boot the image here: ${why}`, 1);
    Object.assign(results, await bootAndMeasure(build, boots, settle, (line) => process.stderr.write(line + '\n')));
    results.medianBootToMasterSeconds = median(results.bootsToMasterSeconds);
  }
  console.log(values.json ? JSON.stringify(results, null, 2) : format(results));
}
