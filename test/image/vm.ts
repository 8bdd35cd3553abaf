// One qemu guest for the image tier (issue 15 contract 10): TCG, its NICs as tap devices on the
// bridge of a test/netns/lab.ts lab (qemu runs in that namespace, so the guest reaches only the
// lab), its serial console kept in memory and in a log file, and a command runner over the
// console's root shell. kill() is a power cut (SIGKILL); start() again is power on.

import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, type WriteStream } from 'node:fs';
import { join } from 'node:path';
import type { Lab } from '../netns/lab.js';
import type { Arch } from './harness.js';

export interface VmOptions {
  /** 1-3 characters [a-z0-9]: names the taps (`<prefix>-<name><n>`), unique in the lab. */
  name: string;
  lab: Lab;
  /** Where the console log goes (console.log). */
  dir: string;
  arch?: Arch;
  /** A raw disk (a prepared copy of the image): boots through its own bootloader. */
  disk?: string;
  /** Or a kernel booted directly (the harness's own check, before an image exists). */
  kernel?: { kernel: string; initrd: string; append: string };
  /** Firmware for -bios (arm64 U-Boot). */
  bios?: string;
  /** Tap devices on the lab's bridge br0; default 1. */
  nics?: number;
  memoryMiB?: number;
  /** What the console prints once userspace runs; nothing is typed before it (a key would stop GRUB's countdown). */
  userspace?: RegExp;
  extraArgs?: string[];
}

export interface CommandResult {
  code: number;
  output: string;
}

const QEMU: Record<Arch, string> = { x86_64: 'qemu-system-x86_64', arm64: 'qemu-system-aarch64' };

export class Vm {
  /** Everything the serial console printed since create(), across boots. */
  console = '';
  /** Where the current boot's output starts in `console`. */
  bootStart = 0;
  /** What qemu itself said on stderr. */
  qemuStderr = '';
  readonly taps: string[];
  readonly macs: string[];
  readonly logPath: string;
  private child: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  private readonly log: WriteStream;
  private readonly listeners = new Set<() => void>();
  private queue: Promise<unknown> = Promise.resolve();
  private shellBoot = -1;

  private constructor(readonly options: VmOptions) {
    if (!/^[a-z0-9]{1,3}$/.test(options.name)) throw new Error(`vm name ${JSON.stringify(options.name)}: 1-3 of [a-z0-9]`);
    const nics = options.nics ?? 1;
    // <prefix (<=10)>-<name (<=3)><n>: at most 15 characters, the kernel's limit for a link name.
    this.taps = Array.from({ length: nics }, (_, i) => `${options.lab.prefix}-${options.name}${i}`.slice(0, 15));
    const h = createHash('sha256').update(`${options.lab.prefix}/${options.name}`).digest();
    this.macs = Array.from({ length: nics }, (_, i) => `52:54:00:${hex(h[0]!)}:${hex(h[1]!)}:${hex((h[2]! & 0xf0) + i)}`);
    this.logPath = join(options.dir, `console-${options.name}.log`);
    this.log = createWriteStream(this.logPath, { flags: 'a' });
  }

  /** Makes the taps (in the lab's bridge namespace, on br0); start() powers the VM on. */
  static async create(options: VmOptions): Promise<Vm> {
    const vm = new Vm(options);
    for (const tap of vm.taps) {
      await options.lab.exec('br', 'ip', ['tuntap', 'add', 'dev', tap, 'mode', 'tap']);
      await options.lab.exec('br', 'ip', ['link', 'set', tap, 'master', 'br0', 'up']);
    }
    return vm;
  }

  get arch(): Arch {
    return this.options.arch ?? 'x86_64';
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Powers on: starts qemu (in the lab's bridge namespace, where the taps are). */
  start(): void {
    if (this.child) throw new Error(`vm ${this.options.name} is already running`);
    const o = this.options;
    // -nographic (not -display none): qemu then tells SeaBIOS to print on the serial port, and
    // GRUB's own console falls back to it, so a boot that stops early still says where.
    const args = ['-accel', 'tcg', '-m', String(o.memoryMiB ?? 512), '-smp', '1', '-nographic', '-monitor', 'none',
      '-parallel', 'none', '-no-user-config', '-nic', 'none', '-chardev', 'stdio,id=con0,signal=off', '-serial', 'chardev:con0'];
    const nicModel = this.arch === 'arm64' ? 'virtio-net-pci' : 'e1000';
    if (this.arch === 'arm64') args.push('-M', 'virt', '-cpu', 'cortex-a53');
    if (o.bios) args.push('-bios', o.bios);
    if (o.disk) args.push('-drive', `file=${o.disk},format=raw,if=${this.arch === 'arm64' ? 'virtio' : 'ide'}`);
    if (o.kernel) args.push('-kernel', o.kernel.kernel, '-initrd', o.kernel.initrd, '-append', o.kernel.append);
    // No -netdev user anywhere: the only network a guest has is its taps on the lab bridge.
    this.taps.forEach((tap, i) => {
      // romfile= : no iPXE option ROM (its "Press Ctrl-B" wait and a network boot attempt).
      args.push('-netdev', `tap,id=n${i},ifname=${tap},script=no,downscript=no`, '-device', `${nicModel},netdev=n${i},mac=${this.macs[i]},romfile=`);
    });
    args.push(...(o.extraArgs ?? []));
    this.markBoot();
    this.note(`qemu start: ${QEMU[this.arch]} ${args.join(' ')}`);
    const child = o.lab.spawn('br', QEMU[this.arch], args, { stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    child.stdout!.on('data', (chunk: Buffer) => this.append(chunk.toString('latin1')));
    child.stderr!.on('data', (chunk: Buffer) => {
      this.qemuStderr += chunk.toString();
      this.log.write(`[qemu stderr] ${chunk.toString()}`);
    });
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        if (this.child === child) this.child = undefined;
        this.note(`qemu exit: ${signal ?? code}`);
        resolve();
      });
    });
  }

  /** Marks that a new boot begins now (call before a reboot the guest does itself). */
  markBoot(): void {
    this.bootStart = this.console.length;
  }

  /**
   * Waits for the first line of the next boot (e.g. the init's "booted slot B"), a reboot the
   * guest does itself, and makes that boot the current one (the shell is probed again).
   */
  async awaitReboot(re: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    const from = this.console.length;
    const m = await this.waitFor(re, timeoutMs, from);
    // m.index counts characters of text(), which has no \r: walk the raw console to the same place.
    let raw = from;
    for (let seen = 0; seen < m.index; raw++) if (this.console[raw] !== '\r') seen++;
    this.bootStart = raw;
    return m;
  }

  /** The console since `from` (default: this boot), with \r removed. */
  text(from = this.bootStart): string {
    return this.console.slice(from).replace(/\r/g, '');
  }

  /** Resolves with the first match of `re` in the console after `from` (default: this boot's start). */
  waitFor(re: RegExp, timeoutMs: number, from = this.bootStart): Promise<RegExpExecArray> {
    const pattern = new RegExp(re.source, re.flags.replace('g', ''));
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const m = pattern.exec(this.text(from));
        if (m) {
          finish();
          resolve(m);
        } else if (!this.child) {
          finish();
          reject(new Error(`vm ${this.options.name}: qemu is not running while waiting for ${pattern}${this.tail()}`));
        }
      };
      const timer = setTimeout(() => {
        finish();
        reject(new Error(`vm ${this.options.name}: no ${pattern} on the console within ${timeoutMs} ms${this.tail()}`));
      }, timeoutMs);
      const finish = (): void => {
        clearTimeout(timer);
        this.listeners.delete(check);
      };
      this.listeners.add(check);
      check();
    });
  }

  /**
   * Runs one shell line on the console's root shell; resolves with its exit code and output.
   * The output goes to a file, then back prefixed with a nonce the shell assembles (`$p|`), so
   * the tty's echo of the line and daemon lines on the same console never count as output.
   * The bare `echo` ends output that has no final newline, so END always starts a line.
   */
  run(command: string, timeoutMs = 30_000): Promise<CommandResult> {
    if (command.includes('\n')) throw new Error('Vm.run takes one line');
    const job = this.queue.then(async () => {
      await this.ensureShell(Math.max(timeoutMs, 60_000));
      return this.runNow(command, timeoutMs);
    });
    this.queue = job.catch(() => undefined);
    return job;
  }

  /** run(), rejecting unless the command exits 0; resolves with its output. */
  async ok(command: string, timeoutMs = 30_000): Promise<string> {
    const r = await this.run(command, timeoutMs);
    if (r.code !== 0) throw new Error(`vm ${this.options.name}: \`${command}\` exited ${r.code}: ${r.output}`);
    return r.output;
  }

  /** Types a line on the console without waiting for anything (e.g. `reboot -f`). */
  type(line: string): void {
    this.child?.stdin?.write(line.endsWith('\n') ? line : line + '\n');
  }

  /** A power cut: SIGKILL to qemu, resolves once it is gone. */
  async kill(): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill('SIGKILL');
    await this.exited;
  }

  /** A clean power-off: sync and `poweroff -f` from the shell; SIGKILL if qemu is still there after `timeoutMs`. */
  async stop(timeoutMs = 30_000): Promise<void> {
    if (!this.child) return;
    this.type('sync; poweroff -f');
    const gone = await Promise.race([this.exited.then(() => true), sleep(timeoutMs).then(() => false)]);
    if (!gone) await this.kill();
  }

  /** Ends qemu (SIGKILL) and removes the taps; the lab removes whatever is left with its namespaces. */
  async dispose(): Promise<void> {
    await this.kill();
    for (const tap of this.taps) await this.options.lab.exec('br', 'ip', ['link', 'del', tap]).catch(() => undefined);
    await new Promise<void>((resolve) => this.log.end(resolve));
  }

  /** The last console lines, for error messages. */
  tail(lines = 25): string {
    return `\n--- console of ${this.options.name} (last ${lines} lines; full log ${this.logPath}) ---\n` +
      this.text(0).split('\n').slice(-lines).join('\n') + (this.qemuStderr ? `\n--- qemu stderr ---\n${this.qemuStderr}` : '');
  }

  private async ensureShell(timeoutMs: number): Promise<void> {
    if (this.shellBoot === this.bootStart) return;
    const deadline = Date.now() + timeoutMs;
    await this.waitFor(this.options.userspace ?? /Tandem web UI/, timeoutMs);
    for (;;) {
      try {
        await this.runNow('true', 3000);
        this.shellBoot = this.bootStart;
        // Kernel messages would land in the middle of command output.
        await this.runNow('dmesg -n 1', 5000).catch(() => undefined);
        return;
      } catch (error) {
        if (Date.now() > deadline || !this.child) throw error;
      }
    }
  }

  private async runNow(command: string, timeoutMs: number): Promise<CommandResult> {
    const nonce = randomBytes(4).toString('hex');
    const from = this.console.length;
    this.type(`p=${nonce}; ( ${command} ) >/tmp/.vm-run 2>&1 </dev/null; r=$?; sed "s/^/$p|/" /tmp/.vm-run; echo; echo "$p|END $r"`);
    const end = await this.waitFor(new RegExp(`^${nonce}\\|END (\\d+)$`, 'm'), timeoutMs, from);
    const lines = this.text(from).split('\n');
    const output = lines.filter((l) => l.startsWith(`${nonce}|`) && !/^\w+\|END \d+$/.test(l)).map((l) => l.slice(nonce.length + 1));
    return { code: Number(end[1]), output: output.join('\n') };
  }

  private append(text: string): void {
    this.console += text;
    this.log.write(text);
    for (const listener of [...this.listeners]) listener();
  }

  private note(line: string): void {
    this.log.write(`\n[harness ${new Date().toISOString()}] ${line}\n`);
    for (const listener of [...this.listeners]) listener();
  }
}

const hex = (n: number): string => n.toString(16).padStart(2, '0');
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms).unref());
