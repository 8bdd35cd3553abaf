// The power method registry: each method name as written in `wake.method`/`park.method`, its
// settings (a schema-kit shape, checked by the config schema) and the factory of its driver.
// A driver file adds its own line here (`wol: method(wolSettings, createWol)`).

import type { ObjectOf, Shape } from '../config/kit.js';
import type { DriverDeps, PowerDriver } from './driver.js';
import { createIpmi, ipmiSettings } from './ipmi.js';
import { createLocal, localSettings } from './local.js';
import { createRedfish, redfishSettings } from './redfish.js';
import { createShelly, shellySettings } from './shelly.js';
import { createSnmp, snmpSettings } from './snmp-pdu.js';
import { createSsh, sshSettings } from './ssh.js';
import { createTasmota, tasmotaSettings } from './tasmota.js';
import { createWebhook, webhookSettings } from './webhook.js';
import { createWol, wolSettings } from './wol.js';

export interface MethodEntry<S extends Shape = Shape> {
  /** The method's own keys beside `method`, `seconds` and `fallback`. */
  readonly settings: S;
  /**
   * Builds the driver from the checked settings. Absent while a method's driver has not landed
   * in this build: its config still validates, and the executor reports the method as
   * `unsupported` instead of pretending to act.
   */
  create?(settings: ObjectOf<S>, deps: DriverDeps): PowerDriver;
}

export function method<S extends Shape>(settings: S, create: (settings: ObjectOf<S>, deps: DriverDeps) => PowerDriver): MethodEntry<S> {
  return { settings, create };
}

/** A method named by the contract whose driver file has not landed yet: no settings, no factory. */
function noDriverYet(): MethodEntry<Record<never, never>> {
  return { settings: {} };
}

// One line per method; the order is the order the config reference lists them in.
export const METHODS = {
  wol: method(wolSettings, createWol),
  snmp: method(snmpSettings, createSnmp),
  ipmi: method(ipmiSettings, createIpmi),
  redfish: method(redfishSettings, createRedfish),
  tasmota: method(tasmotaSettings, createTasmota),
  shelly: method(shellySettings, createShelly),
  ssh: method(sshSettings, createSsh),
  webhook: method(webhookSettings, createWebhook),
  local: method(localSettings, createLocal),
};

export type MethodName = keyof typeof METHODS;
export const METHOD_NAMES = Object.keys(METHODS) as MethodName[];

/** The settings shape of every method, keyed by name: what the config's variant schema needs. */
export type MethodSettings = { [K in MethodName]: (typeof METHODS)[K]['settings'] };
export const METHOD_SETTINGS = Object.fromEntries(METHOD_NAMES.map((name) => [name, METHODS[name].settings])) as MethodSettings;

/**
 * Builds the driver for one configured method (`{ method, seconds, ...settings }`), or says why
 * it cannot: the method is unknown to this build or its driver has not landed.
 */
export function createDriver(config: { method: string }, deps: DriverDeps): { ok: true; driver: PowerDriver } | { ok: false; detail: string } {
  const entry = (METHODS as Record<string, MethodEntry>)[config.method];
  if (!entry) return { ok: false, detail: `unknown power method ${config.method}` };
  if (!entry.create) return { ok: false, detail: `method ${config.method} has no driver in this build` };
  return { ok: true, driver: entry.create(config as ObjectOf<Shape>, deps) };
}
