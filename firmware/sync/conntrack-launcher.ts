// The OS side of supervising conntrackd: spawning it in the foreground (a long-lived child, which
// ProcessRunner's run-to-completion cannot express), writing its config and removing its stale
// lock file. Linux implementation plus an in-memory fake whose children tests end by hand.

import { spawn } from 'node:child_process';
import { access, mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';

export interface ChildExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The end of its output (in the foreground conntrackd logs to stdout too), for the log line that says why it stopped. */
  stderr: string;
}

export interface DaemonChild {
  readonly pid: number | undefined;
  readonly exited: Promise<ChildExit>;
  kill(signal: NodeJS.Signals): void;
}

export interface DaemonLauncher {
  /** Starts `command`; each line it prints (stdout and stderr) goes to `onLine`. */
  spawn(command: string, args: readonly string[], onLine?: (line: string) => void): DaemonChild;
  writeFile(path: string, content: string): Promise<void>;
  removeFile(path: string): Promise<void>;
}

const SETPRIV = '/usr/bin/setpriv';

export class LinuxDaemonLauncher implements DaemonLauncher {
  private deathSignal: Promise<boolean> | undefined;

  spawn(command: string, args: readonly string[], onLine: (line: string) => void = () => undefined): DaemonChild {
    let pid: number | undefined;
    let resolveExit!: (exit: ChildExit) => void;
    const exited = new Promise<ChildExit>((resolve) => (resolveExit = resolve));
    let killRequested: NodeJS.Signals | undefined;
    let child: ReturnType<typeof spawn> | undefined;
    const handle: DaemonChild = {
      get pid() {
        return pid;
      },
      exited,
      kill(signal) {
        if (child) child.kill(signal);
        else killRequested = signal;
      },
    };
    // setpriv --pdeathsig: a tandem killed with -9 takes its conntrackd along, so a restarted
    // tandem never meets an orphan holding the lock and socket. setpriv execs, keeping the pid.
    this.deathSignal ??= access(SETPRIV).then(() => true, () => false);
    void this.deathSignal.then((useSetpriv) => {
      const [cmd, argv] = useSetpriv ? [SETPRIV, ['--pdeathsig', 'KILL', '--', command, ...args]] : [command, [...args]];
      child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
      pid = child.pid;
      let stderr = '';
      const splitter = () => {
        let partial = '';
        return (chunk: string) => {
          stderr = (stderr + chunk).slice(-2000);
          const lines = (partial + chunk).split('\n');
          partial = lines.pop()!.slice(-4000);
          for (const line of lines) if (line.trim()) onLine(line);
        };
      };
      child.stdout!.setEncoding('utf8').on('data', splitter());
      child.stderr!.setEncoding('utf8').on('data', splitter());
      child.on('error', (error) => resolveExit({ code: null, signal: null, stderr: `${stderr}${error.message}` }));
      child.on('close', (code, signal) => resolveExit({ code, signal, stderr }));
      if (killRequested) child.kill(killRequested);
    });
    return handle;
  }

  async writeFile(path: string, content: string): Promise<void> {
    await mkdir(dirname(path), { recursive: true, mode: 0o700 });
    await writeFile(path, content, { mode: 0o600 });
  }

  async removeFile(path: string): Promise<void> {
    await rm(path, { force: true });
  }
}

export class FakeChild implements DaemonChild {
  readonly exited: Promise<ChildExit>;
  private resolveExit!: (exit: ChildExit) => void;
  readonly signals: NodeJS.Signals[] = [];
  alive = true;
  constructor(readonly pid: number, readonly args: string[], private readonly onLine: (line: string) => void = () => undefined) {
    this.exited = new Promise((resolve) => (this.resolveExit = resolve));
  }
  /** A line as conntrackd prints it in the foreground. */
  print(line: string): void {
    this.onLine(line);
  }
  kill(signal: NodeJS.Signals): void {
    this.signals.push(signal);
    this.exit(null, signal);
  }
  /** Ends the child as a crash or a refused start would. */
  exit(code: number | null, signal: NodeJS.Signals | null = null, stderr = ''): void {
    if (!this.alive) return;
    this.alive = false;
    this.resolveExit({ code, signal, stderr });
  }
}

/** Records spawns and files; its children run until a test ends them. */
export class FakeDaemonLauncher implements DaemonLauncher {
  readonly children: FakeChild[] = [];
  readonly files = new Map<string, string>();
  readonly removed: string[] = [];
  private nextPid = 1000;
  spawn(_command: string, args: readonly string[], onLine?: (line: string) => void): FakeChild {
    const child = new FakeChild(this.nextPid++, [...args], onLine);
    this.children.push(child);
    return child;
  }
  async writeFile(path: string, content: string): Promise<void> {
    this.files.set(path, content);
  }
  async removeFile(path: string): Promise<void> {
    this.removed.push(path);
    this.files.delete(path);
  }
  get current(): FakeChild | undefined {
    return this.children.at(-1);
  }
}
