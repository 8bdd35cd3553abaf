// Running other programs (hooks, ip, nft) as a port: execFile with a timeout and no shell, so
// arguments are never re-parsed, and an in-memory fake that records what would have run.

import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface RunOptions {
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

export interface ProcessRunner {
  run(command: string, args: readonly string[], options?: RunOptions): Promise<RunResult>;
}

export class LinuxProcessRunner implements ProcessRunner {
  run(command: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
    return new Promise((resolve) => {
      const child = spawn(command, args, {
        stdio: ['pipe', 'pipe', 'pipe'],
        env: options.env ?? process.env,
      });
      let stdout = '';
      let stderr = '';
      let timedOut = false;
      const timer =
        options.timeoutMs !== undefined
          ? setTimeout(() => {
              timedOut = true;
              child.kill('SIGKILL');
            }, options.timeoutMs)
          : undefined;
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
      child.on('error', (error: NodeJS.ErrnoException) => {
        if (timer) clearTimeout(timer);
        resolve({ code: null, signal: null, stdout, stderr: stderr + `${command}: ${error.code ?? error.message}`, timedOut });
      });
      child.on('close', (code, signal) => {
        if (timer) clearTimeout(timer);
        resolve({ code, signal, stdout, stderr, timedOut });
      });
      child.stdin.on('error', () => undefined);
      child.stdin.end(options.input ?? '');
    });
  }
}

export interface RecordedRun {
  command: string;
  args: string[];
}

/** Records every run and answers with a scripted result (success by default). */
export class FakeProcessRunner implements ProcessRunner {
  readonly runs: RecordedRun[] = [];
  constructor(private readonly answer: (run: RecordedRun) => Partial<RunResult> = () => ({})) {}

  async run(command: string, args: readonly string[]): Promise<RunResult> {
    const recorded = { command, args: [...args] };
    this.runs.push(recorded);
    return { code: 0, signal: null, stdout: '', stderr: '', timedOut: false, ...this.answer(recorded) };
  }
}
