// Checks of meaning for the `network` section that no single field makes alone: each interface
// named once, each address held once, every gateway on a subnet we configure, and (when the
// section lists interfaces) CARP groups and firewall zones naming only those interfaces.

import type { ConfigIssue } from '../config/kit.js';
import type { TandemConfig } from '../config/schema.js';
import { canonicalAddress, contains, parseCidrText } from './cidr.js';

export function networkIssues(config: TandemConfig): ConfigIssue[] {
  const network = config.network;
  if (!network) return [];
  const issues: ConfigIssue[] = [];
  const names = new Map<string, number>();
  const addresses = new Map<string, string>();
  network.interfaces.forEach((entry, index) => {
    const at = `network.interfaces[${index}]`;
    const first = names.get(entry.name);
    if (first !== undefined) issues.push({ path: `${at}.name`, message: `${entry.name} is already listed as network.interfaces[${first}]` });
    else names.set(entry.name, index);
    entry.addresses.forEach((text, addressIndex) => {
      const cidr = parseCidrText(text);
      if (!cidr) return;
      const key = canonicalAddress(cidr.address);
      const holder = addresses.get(key);
      const here = `${at}.addresses[${addressIndex}]`;
      if (holder !== undefined) issues.push({ path: here, message: `${cidr.address} is already configured at ${holder}` });
      else addresses.set(key, here);
    });
  });

  network.routes.forEach((route, index) => {
    const at = `network.routes[${index}]`;
    const viaFamily = route.via.includes(':') ? 6 : 4;
    if (route.to !== 'default' && (parseCidrText(route.to)?.family ?? viaFamily) !== viaFamily) {
      issues.push({ path: `${at}.via`, message: `an IPv${viaFamily} gateway cannot route to ${route.to}` });
      return;
    }
    if (route.interface !== undefined && network.interfaces.length > 0 && !names.has(route.interface)) {
      issues.push({ path: `${at}.interface`, message: `${route.interface} is not in network.interfaces` });
    }
    if (/^fe[89ab]/i.test(route.via)) {
      if (route.interface === undefined) issues.push({ path: `${at}.interface`, message: `is required with a link-local gateway (${route.via})` });
      return;
    }
    // Static bring-up only: a gateway must be on-link through an address configured here, or
    // `ip route` fails half-way through the boot (RTNETLINK: Network is unreachable).
    const candidates = network.interfaces.filter((entry) => route.interface === undefined || entry.name === route.interface);
    const onLink = candidates.some((entry) =>
      entry.addresses.some((text) => {
        const cidr = parseCidrText(text);
        return cidr !== undefined && contains(cidr, route.via);
      }),
    );
    if (!onLink) {
      const where = route.interface === undefined ? 'network.interfaces' : `${route.interface} in network.interfaces`;
      issues.push({ path: `${at}.via`, message: `${route.via} is not on a subnet of the addresses of ${where}` });
    }
  });

  if (network.interfaces.length > 0) issues.push(...namedInterfaceIssues(config, new Set(names.keys())));
  return issues;
}

// A CARP group or a zone on an interface the box does not bring up is a config that boots into a
// node that never becomes MASTER: say so at `tandem check` time instead.
function namedInterfaceIssues(config: TandemConfig, names: Set<string>): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const missing = (name: string) => !names.has(name);
  const list = [...names].join(', ');
  config.carp.forEach((entry, index) => {
    if (missing(entry.interface)) issues.push({ path: `carp[${index}].interface`, message: `${entry.interface} is not in network.interfaces (${list})` });
    entry.track.interfaces.forEach((name, trackIndex) => {
      if (missing(name)) issues.push({ path: `carp[${index}].track.interfaces[${trackIndex}]`, message: `${name} is not in network.interfaces (${list})` });
    });
  });
  const zones = config.firewall?.zones ?? {};
  for (const [zone, entry] of Object.entries(zones)) {
    entry.interfaces.forEach((name, index) => {
      if (missing(name)) issues.push({ path: `firewall.zones.${zone}.interfaces[${index}]`, message: `${name} is not in network.interfaces (${list})` });
    });
  }
  return issues;
}
