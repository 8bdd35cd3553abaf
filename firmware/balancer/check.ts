// What every health check shares: the closed set of outcomes (relayd's `enum host_error`; the
// strings are also the telemetry counter names), the result one check run ends in, the port a
// check kind implements, and the typed check spec built from a pool's `check` config.

import { parseDigest, type CheckConfig, type DigestAlgorithm, type TlsConfig } from './schema.js';

export const OUTCOMES = [
  'ok',
  // icmp
  'icmp-timeout',
  'icmp-unreachable',
  'icmp-error',
  // every TCP-based check
  'connect-refused',
  'connect-timeout',
  'connect-fail',
  'write-fail',
  'read-timeout',
  'read-fail',
  // send-expect
  'expect-fail',
  // tls, https, send-expect over TLS
  'tls-timeout',
  'tls-handshake-fail',
  'tls-verify-fail',
  // http, https
  'http-malformed',
  'http-code-fail',
  'http-digest-fail',
  'http-match-fail',
  // script
  'script-fail',
  'script-timeout',
  'script-error',
  // the scheduler's backstop when a check does not settle in time (relayd HCE_INTERVAL_TIMEOUT)
  'check-timeout',
] as const;

export type Outcome = (typeof OUTCOMES)[number];

export interface CheckResult {
  outcome: Outcome;
  /** Round-trip time of the check's own exchange (connect, handshake, response, echo), when it got that far. */
  rttMs?: number;
  /** One line for people: the error code, the status received, what did not match. */
  detail?: string;
}

export interface CheckTarget {
  address: string;
  /** The port the check connects to (check.port, else the host's). */
  port: number | undefined;
}

export interface HealthCheck {
  /** Runs one check and settles with its result; never rejects. */
  run(target: CheckTarget): Promise<CheckResult>;
}

/** Builds the checker of one kind: the Linux one (checks.ts) or a fake (fake.ts). */
export interface HealthCheckPort {
  create(spec: CheckSpec): HealthCheck;
}

export interface TlsSpec {
  verify: boolean;
  ca?: string;
  servername?: string;
}

interface Common {
  timeoutMs: number;
}

export type CheckSpec =
  | ({ type: 'icmp' } & Common)
  | ({ type: 'tcp' } & Common)
  | ({ type: 'send-expect'; send: string; expect?: string; tls?: TlsSpec } & Common)
  | ({
      type: 'http' | 'https';
      method: 'GET' | 'HEAD';
      path: string;
      host?: string;
      status: number;
      digest?: { algorithm: DigestAlgorithm; hex: string };
      match?: string;
      tls?: TlsSpec;
    } & Common)
  | ({ type: 'tls'; tls: TlsSpec } & Common)
  | ({ type: 'script'; script: string } & Common);

function tlsSpec(tls: TlsConfig | undefined): TlsSpec {
  return { verify: tls?.verify ?? false, ca: tls?.ca, servername: tls?.servername };
}

/** The typed spec of a validated `check` section (semantic.ts has rejected fields of other kinds). */
export function checkSpec(check: CheckConfig): CheckSpec {
  const timeoutMs = Math.round(check.timeoutSeconds * 1000);
  switch (check.type) {
    case 'icmp':
    case 'tcp':
      return { type: check.type, timeoutMs };
    case 'send-expect':
      return { type: 'send-expect', timeoutMs, send: check.send ?? '', expect: check.expect, ...(check.tls ? { tls: tlsSpec(check.tls) } : {}) };
    case 'http':
    case 'https':
      return {
        type: check.type,
        timeoutMs,
        method: check.method ?? 'GET',
        path: check.path ?? '/',
        host: check.host,
        status: check.status ?? 200,
        digest: check.digest ? parseDigest(check.digest) : undefined,
        match: check.match,
        ...(check.type === 'https' ? { tls: tlsSpec(check.tls) } : {}),
      };
    case 'tls':
      return { type: 'tls', timeoutMs, tls: tlsSpec(check.tls) };
    case 'script':
      return { type: 'script', timeoutMs, script: check.script ?? '' };
  }
}

export function isSuccess(outcome: Outcome): boolean {
  return outcome === 'ok';
}
