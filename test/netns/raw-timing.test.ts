// The addon's timing tools against the real kernel: the timerfd Alarm (precision next to
// setTimeout, clear/replace, setTimeout-like ref semantics), setRealtimePriority over every
// thread, and lockMemory. Whatever changes the scheduling or locks memory runs in a child
// process, so the test runner itself stays ordinary. Tier "netns": run as root,
// `node --import tsx --test test/netns/raw-timing.test.ts`.

import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadRawAddon, type AlarmHandle, type RawError } from '../../firmware/net/raw/addon.js';
import { Lab, netnsUnavailable, requireRoot } from './lab.js';

const ADDON = fileURLToPath(new URL('../../build/Release/tandem_raw.node', import.meta.url));

/** process.hrtime() in milliseconds: CLOCK_MONOTONIC, the Alarm's clock. */
const hrtimeMs = () => Number(process.hrtime.bigint()) / 1e6;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function blockEventLoop(ms: number): void {
  const until = hrtimeMs() + ms;
  while (hrtimeMs() < until);
}

function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.round((sorted.length - 1) * q)]!;
}

const summary = (values: readonly number[]) =>
  `median ${quantile(values, 0.5).toFixed(3)} ms, IQR ${(quantile(values, 0.75) - quantile(values, 0.25)).toFixed(3)} ms, ` +
  `min ${Math.min(...values).toFixed(3)}, max ${Math.max(...values).toFixed(3)}`;

interface ChildResult {
  status: number | string;
  stdout: string;
  stderr: string;
  /** From spawn to exit. */
  elapsedMs: number;
}

/** Runs `script` (CommonJS, with `addon` loaded) in a child node; rejects if it outlives `timeoutMs`. */
function runScript(
  script: string,
  options: { lab?: Lab; timeoutMs?: number; user?: 'nobody'; nodeFlags?: string[] } = {},
): Promise<ChildResult> {
  const code = `const addon = require(${JSON.stringify(ADDON)});\n${script}`;
  const node = [process.execPath, ...(options.nodeFlags ?? []), '-e', code];
  // setpriv drops root's capabilities along with the uid.
  const argv = options.user === 'nobody' ? ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', ...node] : node;
  const started = hrtimeMs();
  const child: ChildProcess = options.lab
    ? options.lab.spawn(1, argv[0]!, argv.slice(1))
    : spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`child pid ${child.pid} still running after ${timeoutMs} ms: ${stdout}${stderr}`));
    }, timeoutMs);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      // 'exit' can come before the pipes are read to the end.
      setImmediate(() => resolve({ status: code ?? signal ?? -1, stdout, stderr, elapsedMs: hrtimeMs() - started }));
    });
  });
}

describe('Alarm (timerfd)', () => {
  const alarms: AlarmHandle[] = [];
  /** An alarm that counts its firings and records when they happened. */
  const counted = () => {
    const fired: number[] = [];
    const alarm = new (loadRawAddon().Alarm)(() => fired.push(hrtimeMs()));
    alarms.push(alarm);
    return { alarm, fired };
  };
  after(() => {
    for (const alarm of alarms) alarm.close();
  });

  test('fires once, never before its deadline, without the millisecond steps of setTimeout', async (t) => {
    if (!requireRoot(t)) return;
    let resolveFired: (at: number) => void = () => {};
    let firings = 0;
    const alarm = new (loadRawAddon().Alarm)(() => {
      firings++;
      resolveFired(hrtimeMs());
    });
    alarms.push(alarm);
    const lateness = async (arm: (delayMs: number, fire: () => void) => void, delayMs: number) => {
      const deadline = hrtimeMs() + delayMs;
      const firedAt = await new Promise<number>((resolve) => {
        resolveFired = resolve;
        arm(delayMs, () => resolve(hrtimeMs()));
      });
      return firedAt - deadline;
    };
    // Fractional delays, as CARP's are (advbase + advskew/256 s); the two timers take turns,
    // so both see the same machine.
    const [alarmLateness, timeoutLateness]: [number[], number[]] = [[], []];
    for (let i = 0; i < 50; i++) {
      const delayMs = 4.5 + (i % 10) / 10;
      alarmLateness.push(await lateness((delay) => alarm.set(delay), delayMs));
      timeoutLateness.push(await lateness((delay, fire) => setTimeout(fire, delay), delayMs));
    }
    t.diagnostic(`Alarm lateness:      ${summary(alarmLateness)}`);
    t.diagnostic(`setTimeout lateness: ${summary(timeoutLateness)}`);
    await sleep(20);
    assert.equal(firings, 50, 'one firing per set()');
    // timerfd deadlines are absolute CLOCK_MONOTONIC, set after ours was taken: never early.
    assert.ok(Math.min(...alarmLateness) >= 0, `fired early: ${summary(alarmLateness)}`);
    assert.ok(quantile(alarmLateness, 0.5) < 1, `median lateness: ${summary(alarmLateness)}`);
    // libuv rounds to whole milliseconds, which spreads its firings over about one; noise
    // from the machine widens both spreads alike.
    const spread = (values: number[]) => quantile(values, 0.75) - quantile(values, 0.25);
    assert.ok(
      spread(alarmLateness) < spread(timeoutLateness),
      `Alarm ${summary(alarmLateness)}; setTimeout ${summary(timeoutLateness)}`,
    );
  });

  test('clear() disarms, even a firing already on its way; set() replaces the deadline', async (t) => {
    if (!requireRoot(t)) return;
    const cleared = counted();
    cleared.alarm.set(20);
    cleared.alarm.clear();
    // Expired and read by the alarm thread while the JS thread is busy, then cleared before
    // the JS thread could take the firing.
    const overtaken = counted();
    overtaken.alarm.set(0);
    blockEventLoop(10);
    overtaken.alarm.clear();
    const earlier = counted();
    const setAt = hrtimeMs();
    earlier.alarm.set(300);
    earlier.alarm.set(10);
    const later = counted();
    later.alarm.set(10);
    later.alarm.set(60);
    const rearmed = counted();
    rearmed.alarm.set(0);
    blockEventLoop(10);
    rearmed.alarm.set(40);
    const past = counted();
    past.alarm.set(-5);
    await sleep(400);
    assert.deepEqual(cleared.fired, [], 'cleared');
    assert.deepEqual(overtaken.fired, [], 'a firing overtaken by clear()');
    assert.equal(earlier.fired.length, 1, 'set(300) then set(10)');
    assert.ok(earlier.fired[0]! - setAt < 200, `set(300) then set(10) fired after ${earlier.fired[0]! - setAt} ms`);
    assert.equal(later.fired.length, 1, 'set(10) then set(60)');
    assert.ok(later.fired[0]! - setAt >= 60, `set(10) then set(60) fired after ${later.fired[0]! - setAt} ms`);
    assert.equal(rearmed.fired.length, 1, 'a firing overtaken by set()');
    assert.ok(rearmed.fired[0]! - setAt >= 50, `re-set to 40 ms fired after ${rearmed.fired[0]! - setAt} ms`);
    assert.equal(past.fired.length, 1, 'a negative delay fires at once');
  });

  test('bad delays are rejected; close() is idempotent and final', async (t) => {
    if (!requireRoot(t)) return;
    const { alarm, fired } = counted();
    assert.throws(() => alarm.set(Number.NaN), RangeError);
    assert.throws(() => alarm.set(Number.POSITIVE_INFINITY), RangeError);
    assert.throws(() => alarm.set('5' as unknown as number), TypeError);
    alarm.set(10);
    alarm.close();
    alarm.close();
    alarm.clear();
    alarm.ref();
    alarm.unref();
    assert.throws(() => alarm.set(1), (error: RawError) => {
      assert.equal(error.message, 'set alarm: EBADF (Bad file descriptor; alarm is closed)');
      return true;
    });
    await sleep(40);
    assert.deepEqual(fired, [], 'fired after close()');
  });

  test('like setTimeout, only an armed, referenced alarm keeps the process alive', async (t) => {
    if (!requireRoot(t)) return;
    const cases = {
      armed: `new addon.Alarm(() => console.log('fired')).set(300);`,
      unrefArmed: `const a = new addon.Alarm(() => console.log('fired')); a.set(3000); a.unref();`,
      unrefRef: `const a = new addon.Alarm(() => console.log('fired')); a.unref(); a.set(300); a.ref();`,
      disarmed: `new addon.Alarm(() => console.log('fired'));`,
      cleared: `const a = new addon.Alarm(() => console.log('fired')); a.set(3000); a.clear();`,
      fired: `const a = new addon.Alarm(() => console.log('fired')); a.set(50);`,
    };
    const results = Object.fromEntries(
      await Promise.all(Object.entries(cases).map(async ([name, script]) => [name, await runScript(script)] as const)),
    ) as Record<keyof typeof cases, ChildResult>;
    for (const [name, result] of Object.entries(results)) {
      assert.equal(result.status, 0, `${name}: ${result.stderr}`);
      t.diagnostic(`${name}: exit after ${result.elapsedMs.toFixed(0)} ms, ${JSON.stringify(result.stdout)}`);
    }
    for (const name of ['armed', 'unrefRef', 'fired'] as const) {
      assert.equal(results[name].stdout, 'fired\n', name);
    }
    for (const name of ['armed', 'unrefRef'] as const) {
      assert.ok(results[name].elapsedMs >= 300, `${name}: exited after ${results[name].elapsedMs} ms, before the alarm`);
    }
    // Held by its alarm, each of these would run 3 s (or for ever) instead of exiting.
    for (const name of ['unrefArmed', 'disarmed', 'cleared'] as const) {
      assert.equal(results[name].stdout, '', name);
      assert.ok(results[name].elapsedMs < 2000, `${name}: kept the process alive for ${results[name].elapsedMs} ms`);
    }
  });

  test('an armed alarm fires though JavaScript dropped every reference to it', async (t) => {
    if (!requireRoot(t)) return;
    const result = await runScript(
      `new addon.Alarm(() => console.log('fired')).set(200);
       setTimeout(() => { for (let i = 0; i < 3; i++) gc(); }, 50);`,
      { nodeFlags: ['--expose-gc'] },
    );
    assert.equal(result.status, 0, result.stderr);
    assert.equal(result.stdout, 'fired\n');
  });
});

describe('setRealtimePriority and lockMemory', () => {
  let lab: Lab | undefined;
  before(async () => {
    if (!netnsUnavailable()) lab = await Lab.create({ hosts: 1 });
  });
  after(async () => {
    await lab?.dispose();
  });

  test('every thread goes SCHED_RR and back, including receive and alarm threads started later', async (t) => {
    if (!requireRoot(t)) return;
    // /proc/<tid>/stat fields 40 and 41 (rt_priority, policy), counted after the ")" of comm.
    const script = `
      const fs = require('fs');
      const threads = () => fs.readdirSync('/proc/self/task').map((tid) => {
        const stat = fs.readFileSync('/proc/self/task/' + tid + '/stat', 'utf8');
        const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
        const name = fs.readFileSync('/proc/self/task/' + tid + '/comm', 'utf8').trim();
        return { tid: Number(tid), name, priority: Number(fields[37]), policy: Number(fields[38]) };
      });
      (async () => {
        await fs.promises.readFile('/proc/self/stat'); // starts libuv's thread pool (four threads)
        const early = new addon.IpSocket({ family: 4, iface: 'eth0', group: '' }, () => {});
        const set = addon.setRealtimePriority(10);
        const late = new addon.IpSocket({ family: 6, iface: 'eth0', group: '' }, () => {});
        const alarm = new addon.Alarm(() => {});
        await new Promise((resolve) => setTimeout(resolve, 100)); // the new threads run their start
        const realtime = threads();
        const reset = addon.setRealtimePriority(0);
        const normal = threads();
        early.close(); late.close(); alarm.close();
        console.log(JSON.stringify({ set, realtime, reset, normal }));
      })();`;
    const result = await runScript(script, { lab });
    assert.equal(result.status, 0, result.stderr);
    type Thread = { tid: number; name: string; priority: number; policy: number };
    const { set, realtime, reset, normal } = JSON.parse(result.stdout) as {
      set: number;
      realtime: Thread[];
      reset: number;
      normal: Thread[];
    };
    const SCHED_OTHER = 0;
    const SCHED_RR = 2;
    t.diagnostic(`${set} threads set realtime: ${realtime.map((thread) => thread.name).join(', ')}`);
    assert.deepEqual(
      realtime.map((thread) => thread.name).filter((name) => name.startsWith('tandem-')).sort(),
      ['tandem-alarm', 'tandem-recv', 'tandem-recv'],
    );
    // The late socket's and the alarm's threads came after the call.
    assert.ok(set >= realtime.length - 2, `set ${set} of ${realtime.length} threads`);
    assert.ok(set >= 6, `only ${set} threads: the JS thread, a receive thread and libuv's pool at least`);
    for (const thread of realtime) {
      assert.deepEqual([thread.policy, thread.priority], [SCHED_RR, 10], `${thread.name} (${thread.tid}) under SCHED_RR 10`);
    }
    assert.equal(reset, normal.length);
    for (const thread of normal) {
      assert.deepEqual([thread.policy, thread.priority], [SCHED_OTHER, 0], `${thread.name} (${thread.tid}) back to SCHED_OTHER`);
    }
  });

  test('lockMemory locks node and survives V8 giving memory back', { timeout: 60_000 }, async (t) => {
    if (!requireRoot(t)) return;
    // mlockall made V8 abort here: compiling code grows the code space (Node 20), the memory
    // reducer returns young-generation pages a few seconds into an idle period (Node 18 and
    // 20), and teardown frees both (Node 20). This child goes through all three.
    const script = `
      const v8 = require('v8');
      const lockedKb = () => Number(/VmLck:\\s+(\\d+) kB/.exec(require('fs').readFileSync('/proc/self/status', 'utf8'))[1]);
      const newSpace = () => v8.getHeapSpaceStatistics().find((space) => space.space_name === 'new_space').space_size;
      const before = lockedKb();
      addon.lockMemory();
      const locked = lockedKb();
      for (let round = 0; round < 10; round++) {
        const functions = Array.from({ length: 2000 }, (_, i) => new Function('a', 'return a * ' + (round * 10000 + i) + ';'));
        for (const f of functions) for (let k = 0; k < 200; k++) f(k);
      }
      let survivors = [];
      for (let i = 0; i < 200000; i++) {
        survivors.push({ i, text: 'x' + i });
        if (survivors.length > 50000) survivors = survivors.slice(25000);
      }
      survivors = [];
      const grown = newSpace();
      const started = Date.now();
      const poll = setInterval(() => {
        if (newSpace() < grown || Date.now() - started > 30000) {
          clearInterval(poll);
          console.log(JSON.stringify({ before, locked, grown, shrunk: newSpace(), idleMs: Date.now() - started }));
        }
      }, 250);`;
    const result = await runScript(script, { timeoutMs: 45_000 });
    assert.equal(result.status, 0, result.stderr);
    const report = JSON.parse(result.stdout) as { before: number; locked: number; grown: number; shrunk: number; idleMs: number };
    t.diagnostic(`VmLck ${report.before} kB before, ${report.locked} kB after; young generation ${report.grown} -> ${report.shrunk} bytes after ${report.idleMs} ms idle`);
    assert.equal(report.before, 0);
    assert.ok(report.locked > 16 << 10, `VmLck ${report.locked} kB: node's own code is larger`);
    assert.ok(report.shrunk < report.grown, 'V8 never gave young-generation pages back, so the test proved nothing');
  });

  test('without privileges both say which capability is missing', async (t) => {
    if (!requireRoot(t)) return;
    const script = `
      const attempt = (f) => { try { f(); return 'ok'; } catch (e) { return { message: e.message, code: e.code, syscall: e.syscall }; } };
      console.log(JSON.stringify({ realtime: attempt(() => addon.setRealtimePriority(10)), lock: attempt(() => addon.lockMemory()) }));`;
    const result = await runScript(script, { user: 'nobody' });
    assert.equal(result.status, 0, result.stderr);
    const { realtime, lock } = JSON.parse(result.stdout) as Record<string, { message: string; code: string; syscall: string }>;
    assert.deepEqual(realtime, {
      message: 'set realtime priority 10: EPERM (Operation not permitted; needs CAP_SYS_NICE)',
      code: 'EPERM',
      syscall: 'sched_setscheduler',
    });
    // Within RLIMIT_MEMLOCK locking is allowed without the capability; node needs far more.
    assert.equal(lock!.syscall, 'mlock2');
    assert.match(lock!.message, /^lock memory: (ENOMEM|EPERM) \(.*(RLIMIT_MEMLOCK|CAP_IPC_LOCK)/);
  });
});
