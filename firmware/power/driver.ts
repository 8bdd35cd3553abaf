// The power driver port: one file per method (wol.ts, snmp-pdu.ts, ipmi.ts, redfish.ts,
// tasmota.ts, shelly.ts, ssh.ts, webhook.ts, local.ts), each with an in-memory fake. A driver
// only acts and reads back; the executor (executor.ts) decides, verifies and escalates.

import type { Clock } from '../os/clock.js';
import type { ProcessRunner } from '../os/process.js';
import type { Logger } from '../log.js';

/** What a host's power looks like from its controller (PDU outlet, BMC, plug). */
export type PowerReading = 'on' | 'off' | 'unknown';

/** Closed set of why a driver call failed; the same strings are telemetry counter names. */
export type DriverFailure =
  | 'unreachable' // no answer (timeout, connection refused, no route)
  | 'auth' // credentials refused (wrong community, user, password, key)
  | 'refused' // the controller answered but would not do it (bad outlet, HTTP 4xx/5xx, exit code)
  | 'unsupported' // this method cannot do that (WoL cannot park; SSH cannot wake)
  | 'misconfigured'; // the settings make no sense at run time (no interface for WoL, ...)

export type DriverResult = { ok: true; detail?: string } | { ok: false; failure: DriverFailure; detail: string };

/**
 * What every driver factory gets injected (methods.ts passes it): time, processes, the log and
 * the state directory (the SSH key lives under `<stateDir>/power/`). A driver that needs another
 * port (a UDP sender, an HTTP client) adds it here as an optional field with a Linux default.
 */
export interface DriverDeps {
  clock: Clock;
  processes: ProcessRunner;
  log: Logger;
  stateDir: string;
}

/** Host facts a driver may need beyond its own method settings. */
export interface DriverHost {
  name: string;
  address: string;
  mac: string;
}

export interface PowerDriver {
  /** The method name as written in the config (`wol`, `snmp`, `ipmi`, ...). */
  readonly method: string;
  /** Bring the host up (wake from sleep, power on). */
  wake?(host: DriverHost, signal: AbortSignal): Promise<DriverResult>;
  /** Put the host to rest (suspend, hibernate, power off, outlet off). */
  park?(host: DriverHost, signal: AbortSignal): Promise<DriverResult>;
  /** Read back the power state, where the method can (PDU, BMC, plug). */
  read?(host: DriverHost, signal: AbortSignal): Promise<{ ok: true; reading: PowerReading } | { ok: false; failure: DriverFailure; detail: string }>;
}
