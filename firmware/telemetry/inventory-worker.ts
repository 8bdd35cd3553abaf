// The inventory worker: asks systeminformation (named by the user) for the slow, rarely
// changing facts (CPU model, OS, board, disks), prints them once as a JSON line and exits. It
// runs as its own process because systeminformation spawns processes and uses execSync (lsblk,
// dmidecode, ...), which must never stall the daemon's event loop, and because a worker thread's
// heap is never wholly given back (4-6 MiB stayed in the daemon's RSS); a process's is.

import { execFile } from 'node:child_process';
import { readFile, readlink } from 'node:fs/promises';
import { setPriority } from 'node:os';
import { promisify } from 'node:util';
import si from 'systeminformation';
import type { Inventory, WorkerScheduling } from './inventory.js';

/**
 * A child inherits its creator's policy: under node.realtimePriority that is SCHED_RR, and this
 * process and the helpers systeminformation forks would share the CPU with CARP as equals. So
 * it first steps aside: SCHED_OTHER (chrt(1) takes a thread id) at nice 19; its children
 * inherit both.
 */
async function stepAside(): Promise<WorkerScheduling> {
  const tid = Number((await readlink('/proc/thread-self')).split('/').pop());
  const policyOf = async () => {
    // proc(5) stat: field 41 is the policy (0 SCHED_OTHER, 1 FIFO, 2 RR); count after the ")" of comm.
    const stat = await readFile(`/proc/self/task/${tid}/stat`, 'utf8');
    return Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[38]);
  };
  const inherited = await policyOf();
  if (inherited !== 0) await promisify(execFile)('chrt', ['--other', '--pid', '0', String(tid)], { timeout: 5000 });
  setPriority(tid, 19);
  return { tid, inheritedPolicy: inherited, policy: await policyOf(), nice: 19 };
}

async function gather(): Promise<Inventory> {
  const scheduling = await stepAside();
  const started = performance.now();
  // One at a time: each spawns helpers, and the router has one or two cores shared with CARP.
  const cpu = await si.cpu();
  const os = await si.osInfo();
  const system = await si.system();
  const disks = await si.diskLayout().catch(() => []);
  return {
    cpu: {
      manufacturer: cpu.manufacturer,
      brand: cpu.brand,
      cores: cpu.cores,
      physicalCores: cpu.physicalCores,
      speedGHz: cpu.speed,
    },
    os: { platform: os.platform, distro: os.distro, release: os.release, kernel: os.kernel, arch: os.arch },
    // Serial numbers and UUIDs stay off the broker: the monitor needs the model, not the identity.
    system: { manufacturer: system.manufacturer, model: system.model, virtual: system.virtual },
    disks: disks.map((d) => ({ device: d.device, type: d.type, name: d.name, sizeBytes: d.size })),
    tookMs: Math.round(performance.now() - started),
    scheduling,
  };
}

gather().then(
  (inventory) => process.stdout.write(JSON.stringify({ ok: true, inventory }) + '\n'),
  (error: Error) => process.stdout.write(JSON.stringify({ ok: false, error: error.message }) + '\n'),
);
