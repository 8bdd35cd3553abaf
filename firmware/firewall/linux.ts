// NftPort on Linux: nft(8) through the ProcessRunner (spawn, no shell, a timeout), never
// execSync, so the event loop that carries CARP is never blocked. `command` lets tests and
// benchmarks run nft inside a namespace (`ip netns exec NS nft`).

import type { ProcessRunner, RunResult } from '../os/process.js';
import type { NftOutcome, NftPort } from './ports.js';
import { NFT_FAMILY, NFT_TABLE } from './render-nft.js';

const MAX_ERROR = 4000;

function failure(result: RunResult, what: string): string {
  if (result.timedOut) return `${what} timed out`;
  const text = (result.stderr || result.stdout).trim();
  return text.length > MAX_ERROR ? `${text.slice(0, MAX_ERROR)} ...` : text || `${what} exited with ${result.code ?? result.signal}`;
}

export class LinuxNftPort implements NftPort {
  constructor(
    private readonly processes: ProcessRunner,
    private readonly command: readonly string[] = ['nft'],
    private readonly timeoutMs = 60_000,
  ) {}

  private run_(args: string[], input?: string): Promise<RunResult> {
    const [cmd, ...prefix] = this.command;
    return this.processes.run(cmd!, [...prefix, ...args], { timeoutMs: this.timeoutMs, ...(input !== undefined ? { input } : {}) });
  }

  async check(script: string): Promise<NftOutcome> {
    const result = await this.run_(['-c', '-f', '-'], script);
    return result.code === 0 ? { ok: true } : { ok: false, error: failure(result, 'nft -c') };
  }

  async run(script: string): Promise<NftOutcome> {
    const result = await this.run_(['-f', '-'], script);
    return result.code === 0 ? { ok: true } : { ok: false, error: failure(result, 'nft -f') };
  }

  async listTable(): Promise<string | undefined> {
    const result = await this.run_(['list', 'table', NFT_FAMILY, NFT_TABLE]);
    if (result.code === 0) return result.stdout;
    if (/No such file or directory/.test(result.stderr)) return undefined;
    throw new Error(`nft list table: ${failure(result, 'nft list')}`);
  }
}
