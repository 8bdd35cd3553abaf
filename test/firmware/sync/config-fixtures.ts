// Config texts for the config-sync unit tests: one pair's node config (fw-a, fw-b) with zones,
// a rule, telemetry and per-node keys, and the loader that turns text into a checked config.

import { parseConfig } from '../../../firmware/config/load.js';
import type { TandemConfig } from '../../../firmware/config/schema.js';

export function nodeConfig(name: string, options: { lan?: string; wan?: string; advskew?: number; extraRule?: string; lanAddress?: string } = {}): string {
  return `# ${name}: kept as written
node:
  name: ${name}
  stateDir: /tmp/${name}
carp:
  - vhid: 42
    interface: ${options.wan ?? 'eth0'}
    addresses: [198.51.100.100/24]
    password: labsecret
    advskew: ${options.advskew ?? 0}
firewall:
  zones:
    wan:
      interfaces: [${options.wan ?? 'eth0'}]
      addresses: [198.51.100.${name === 'fw-a' ? 11 : 12}/24]
    lan:
      interfaces: [${options.lan ?? 'eth1'}]
      addresses: [${options.lanAddress ?? `203.0.113.${name === 'fw-a' ? 2 : 3}/24`}]
  rules:
    - { action: pass, on: lan, proto: tcp, to: { port: 22 } }
${options.extraRule ?? ''}
telemetry:
  mqtt:
    url: mqtt://198.51.100.50
    clientId: client-${name}
`;
}

export function parsed(text: string): TandemConfig {
  const result = parseConfig(text);
  if (!result.ok) throw new Error(result.issues.map((i) => `${i.path}: ${i.message}`).join('\n'));
  return result.config;
}
