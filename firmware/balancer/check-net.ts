// What the TCP-based checks share (relayd's check_tcp.c and check_tls.c): one deadline for the
// whole check, the phase it is in when that deadline passes (connect, TLS handshake, reading),
// and the mapping of socket and TLS errors onto the closed set of outcomes.

import { readFile } from 'node:fs/promises';
import { connect as tcpConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import type { Clock, TimerHandle } from '../os/clock.js';
import type { CheckResult, Outcome, TlsSpec } from './check.js';

export type Phase = 'connect' | 'tls' | 'write' | 'read';

const TIMEOUT_OUTCOME: Record<Phase, Outcome> = {
  connect: 'connect-timeout',
  tls: 'tls-timeout',
  write: 'read-timeout',
  read: 'read-timeout',
};

/**
 * One check run: a deadline, the phase, and a single way out. `finish` settles the run once,
 * closes whatever socket it holds and cancels the timer; later calls are ignored.
 */
export class CheckRun {
  phase: Phase = 'connect';
  private readonly started: number;
  private readonly timer: TimerHandle;
  private done = false;
  private socket: Socket | undefined;
  readonly result: Promise<CheckResult>;
  private resolve!: (result: CheckResult) => void;

  constructor(private readonly clock: Clock, timeoutMs: number) {
    this.started = clock.monotonic();
    this.result = new Promise((resolve) => (this.resolve = resolve));
    this.timer = clock.setTimer(timeoutMs, () => this.finish({ outcome: TIMEOUT_OUTCOME[this.phase], detail: `no answer within ${timeoutMs} ms (${this.phase})` }));
  }

  get finished(): boolean {
    return this.done;
  }

  /** Milliseconds since the run started. */
  elapsed(): number {
    return Math.round((this.clock.monotonic() - this.started) * 1000) / 1000;
  }

  hold(socket: Socket): void {
    this.socket = socket;
  }

  finish(result: CheckResult): void {
    if (this.done) return;
    this.done = true;
    this.timer.cancel();
    this.socket?.destroy();
    this.resolve(result);
  }

  /** Maps a socket error onto an outcome by the phase it happened in. */
  fail(error: NodeJS.ErrnoException): void {
    this.finish(errorResult(this.phase, error));
  }
}

export function errorResult(phase: Phase, error: NodeJS.ErrnoException): CheckResult {
  const detail = error.code ?? error.message;
  switch (phase) {
    case 'connect':
      return { outcome: error.code === 'ECONNREFUSED' ? 'connect-refused' : 'connect-fail', detail };
    case 'tls':
      return { outcome: 'tls-handshake-fail', detail: error.message.split('\n')[0] ?? detail };
    case 'write':
      return { outcome: 'write-fail', detail };
    case 'read':
      if (typeof error.code === 'string' && error.code.startsWith('HPE_')) return { outcome: 'http-malformed', detail };
      return { outcome: 'read-fail', detail };
  }
}

/** Reads CA files once per checker; a reload builds new checkers and so reads them again. */
export class CaCache {
  private readonly files = new Map<string, Promise<Buffer>>();
  load(path: string): Promise<Buffer> {
    let pending = this.files.get(path);
    if (!pending) {
      pending = readFile(path);
      this.files.set(path, pending);
      pending.catch(() => this.files.delete(path));
    }
    return pending;
  }
}

export interface StreamTarget {
  address: string;
  port: number;
  tls?: TlsSpec;
}

/**
 * Opens a TCP (and, with `tls`, a TLS) connection for `run` and resolves once it is usable, with
 * the run in phase 'write'. On failure the run is finished and the promise resolves undefined.
 */
export async function openStream(run: CheckRun, target: StreamTarget, cas: CaCache): Promise<Socket | undefined> {
  let ca: Buffer | undefined;
  if (target.tls?.verify && target.tls.ca) {
    try {
      ca = await cas.load(target.tls.ca);
    } catch (error) {
      run.finish({ outcome: 'tls-verify-fail', detail: `cannot read CA file ${target.tls.ca}: ${(error as NodeJS.ErrnoException).code ?? error}` });
      return undefined;
    }
  }
  if (run.finished) return undefined;
  // The deadline ends the run without any socket event: settle then too.
  const ended = run.result.then(() => undefined);
  const opened = new Promise<Socket | undefined>((resolve) => {
    const socket = tcpConnect({ host: target.address, port: target.port, noDelay: true });
    run.hold(socket);
    socket.once('error', (error) => {
      run.fail(error);
      resolve(undefined);
    });
    socket.once('connect', () => {
      if (run.finished) return resolve(undefined);
      if (!target.tls) {
        run.phase = 'write';
        return resolve(socket);
      }
      run.phase = 'tls';
      const tls = target.tls;
      // Always complete the handshake, then judge the chain ourselves: a failed verification
      // is its own outcome (tls-verify-fail), distinct from a failed handshake.
      const secure: TLSSocket = tlsConnect({
        socket,
        rejectUnauthorized: false,
        ...(ca ? { ca } : {}),
        // The certificate is checked against the servername when set, else against the address
        // (an IP SAN), which is what a backend reached by address should carry.
        host: target.address,
        ...(tls.servername ? { servername: tls.servername } : {}),
      });
      run.hold(secure);
      secure.once('error', (error) => {
        run.fail(error);
        resolve(undefined);
      });
      secure.once('secureConnect', () => {
        if (run.finished) return resolve(undefined);
        if (tls.verify && !secure.authorized) {
          run.finish({ outcome: 'tls-verify-fail', detail: String(secure.authorizationError ?? 'certificate not trusted') });
          return resolve(undefined);
        }
        run.phase = 'write';
        resolve(secure);
      });
    });
  });
  return Promise.race([opened, ended]);
}
