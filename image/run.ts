// Process helpers for the image build: async spawn that names the failing command, a chroot
// runner with a clean environment (image.md section 1: the host's NODE_EXTRA_CA_CERTS leaked
// into the chroot), and the step logger. Build-time only; the daemon never loads this.

import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';

export interface RunOptions {
  cwd?: string;
  /** Bytes written to the child's stdin. */
  input?: string | Buffer;
  /** Collect stdout instead of passing it through. */
  capture?: boolean;
  env?: NodeJS.ProcessEnv;
}

/** Runs a program; resolves with its stdout when captured, rejects naming it on a non-zero exit. */
export function run(program: string, args: readonly string[], options: RunOptions = {}): Promise<string> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(program, args, {
      cwd: options.cwd,
      env: options.env ?? process.env,
      stdio: [options.input === undefined ? 'ignore' : 'pipe', options.capture ? 'pipe' : 'inherit', 'inherit'],
    });
    const chunks: Buffer[] = [];
    child.stdout?.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolvePromise(Buffer.concat(chunks).toString('utf8'));
      else reject(new Error(`${program} ${args.join(' ')}: exited ${code ?? signal}`));
    });
    if (options.input !== undefined) child.stdin?.end(options.input);
  });
}

/** A shell snippet (set -eu) through /bin/sh. */
export function sh(script: string, options: RunOptions = {}): Promise<string> {
  return run('/bin/sh', ['-euc', script], options);
}

export const CHROOT_ENV = 'PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive LC_ALL=C.UTF-8 HOME=/root';

/** A shell snippet inside the rootfs, with `env -i`. */
export function inChroot(root: string, script: string, options: RunOptions = {}): Promise<string> {
  return run('chroot', [root, '/usr/bin/env', '-i', ...CHROOT_ENV.split(' '), '/bin/sh', '-euc', script], options);
}

/** A short stable key of what went into a step. */
export function cacheKey(parts: unknown): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}

export function log(message: string): void {
  process.stderr.write(`build-image: ${message}\n`);
}

/** Runs one step, logging its name and wall time; returns its result and the seconds it took. */
export async function step<T>(name: string, body: () => Promise<T>): Promise<T> {
  const started = performance.now();
  log(`${name} ...`);
  const result = await body();
  log(`${name}: done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  return result;
}
