// The pure core of `tandem network up`: the `network` section and what the box has now in,
// the ordered steps that make the box match out (hostname, then per interface MTU, link up and
// addresses, then routes once every address exists, then resolv.conf). Steps already satisfied
// are left out, so a second run plans nothing. Addresses and routes are added or replaced,
// never removed: CARP's virtual addresses and the kernel's own are not ours to take away.

import type { ConfigIssue } from '../config/kit.js';
import { canonicalAddress, canonicalDestination, parseCidrText } from './cidr.js';
import type { NetworkConfig } from './schema.js';
import type { NetworkStep, ObservedNetwork } from './ports.js';

export type NetworkPlan = { ok: true; steps: NetworkStep[] } | { ok: false; issues: ConfigIssue[] };

export function resolvText(nameservers: readonly string[]): string {
  return `# written by tandem network up from network.nameservers\n${nameservers.map((ns) => `nameserver ${ns}\n`).join('')}`;
}

export function planNetwork(config: NetworkConfig, observed: ObservedNetwork): NetworkPlan {
  // Everything that can be known wrong is checked before the first step: a bad config changes nothing.
  const issues: ConfigIssue[] = [];
  const links = new Map(observed.links.map((link) => [link.name, link]));
  config.interfaces.forEach((entry, index) => {
    if (!links.has(entry.name)) {
      issues.push({ path: `network.interfaces[${index}].name`, message: `no interface ${entry.name} on this box (it has ${[...links.keys()].join(', ') || 'none'})` });
    }
  });
  config.routes.forEach((route, index) => {
    if (route.interface !== undefined && !links.has(route.interface)) {
      issues.push({ path: `network.routes[${index}].interface`, message: `no interface ${route.interface} on this box` });
    }
  });
  if (issues.length > 0) return { ok: false, issues };

  const steps: NetworkStep[] = [];
  // Loopback comes up whatever the config lists: the API and local clients need it, and a
  // kernel brings it up down.
  const lo = links.get('lo');
  if (lo && !lo.up && !config.interfaces.some((entry) => entry.name === 'lo')) steps.push({ kind: 'linkUp', path: 'network', interface: 'lo' });
  if (config.hostname !== undefined && config.hostname !== observed.hostname.trim()) {
    steps.push({ kind: 'hostname', path: 'network.hostname', hostname: config.hostname });
  }
  config.interfaces.forEach((entry, index) => {
    const at = `network.interfaces[${index}]`;
    const link = links.get(entry.name)!;
    // MTU before the link comes up: no frame ever leaves at the old size.
    if (entry.mtu !== undefined && entry.mtu !== link.mtu) steps.push({ kind: 'mtu', path: `${at}.mtu`, interface: entry.name, mtu: entry.mtu });
    if (!link.up) steps.push({ kind: 'linkUp', path: `${at}.name`, interface: entry.name });
    const have = new Set(link.addresses.map((a) => `${canonicalAddress(a.address)}/${a.prefix}`));
    entry.addresses.forEach((text, addressIndex) => {
      const cidr = parseCidrText(text)!;
      if (have.has(`${canonicalAddress(cidr.address)}/${cidr.prefix}`)) return;
      steps.push({ kind: 'address', path: `${at}.addresses[${addressIndex}]`, interface: entry.name, cidr: text });
    });
  });
  config.routes.forEach((route, index) => {
    const family = route.via.includes(':') ? 6 : 4;
    const to = canonicalDestination(route.to);
    const current = observed.routes.find((r) => r.family === family && r.to === to);
    const same =
      current !== undefined &&
      current.via !== undefined &&
      canonicalAddress(current.via) === canonicalAddress(route.via) &&
      (route.interface === undefined || current.interface === route.interface);
    if (same) return;
    steps.push({
      kind: 'route',
      path: `network.routes[${index}]`,
      family,
      to: route.to,
      via: route.via,
      ...(route.interface !== undefined ? { interface: route.interface } : {}),
    });
  });
  if (config.nameservers.length > 0) {
    const text = resolvText(config.nameservers);
    if (observed.resolv !== text) steps.push({ kind: 'resolv', path: 'network.nameservers', file: config.resolvConf, text });
  }
  return { ok: true, steps };
}

/** One line per step, for the console at boot and `tandem network up`'s output. */
export function describeStep(step: NetworkStep): string {
  switch (step.kind) {
    case 'hostname':
      return `hostname ${step.hostname}`;
    case 'mtu':
      return `${step.interface}: mtu ${step.mtu}`;
    case 'linkUp':
      return `${step.interface}: link up`;
    case 'address':
      return `${step.interface}: address ${step.cidr}`;
    case 'route':
      return `route ${step.to} via ${step.via}${step.interface !== undefined ? ` dev ${step.interface}` : ''}`;
    case 'resolv':
      return `${step.file}: ${step.text.split('\n').filter((line) => line.startsWith('nameserver')).length} nameserver(s)`;
  }
}
