// Checks of meaning that no single field can make alone (relayd's parser style: "table %s has no
// hosts"): vhids unique per interface, each virtual address held by one group, a unicast peer
// of a family the group actually advertises in.

import type { ConfigIssue } from './kit.js';
import { parseCidr, type TandemConfig } from './schema.js';
import { balancerIssues } from '../balancer/semantic.js';
import { firewallIssues } from '../firewall/semantic.js';
import { powerIssues } from '../power/semantic.js';
import { commandConfigIssues } from '../telemetry/commands.js';
import { mqttConfigIssues } from '../telemetry/schema.js';
import { conntrackConfigIssues } from '../sync/conntrack-conf.js';
import { configSyncIssues } from '../sync/config-schema.js';
import { apiConfigIssues } from '../api/schema.js';
import { networkIssues } from '../network/semantic.js';
import { boardIssues } from '../board/semantic.js';

export function semanticIssues(config: TandemConfig): ConfigIssue[] {
  const issues: ConfigIssue[] = [];
  const vhidOwner = new Map<string, number>();
  const addressOwner = new Map<string, number>();

  config.carp.forEach((entry, index) => {
    const at = `carp[${index}]`;
    const key = `${entry.interface}/${entry.vhid}`;
    const first = vhidOwner.get(key);
    if (first !== undefined) {
      issues.push({ path: `${at}.vhid`, message: `vhid ${entry.vhid} is already used on ${entry.interface} by carp[${first}]` });
    } else {
      vhidOwner.set(key, index);
    }

    const families = new Set<number>();
    entry.addresses.forEach((text, addressIndex) => {
      const cidr = parseCidr(text);
      if (!cidr) return;
      families.add(cidr.family);
      const normalized = normalizeAddress(cidr.address);
      const holder = addressOwner.get(normalized);
      if (holder !== undefined && holder !== index) {
        issues.push({
          path: `${at}.addresses[${addressIndex}]`,
          message: `${cidr.address} is already a virtual address of carp[${holder}]`,
        });
      } else if (holder === index) {
        issues.push({ path: `${at}.addresses[${addressIndex}]`, message: `${cidr.address} is listed twice` });
      } else {
        addressOwner.set(normalized, index);
      }
      if (cidr.family === 6 && /^fe[89ab]/i.test(cidr.address)) {
        issues.push({
          path: `${at}.addresses[${addressIndex}]`,
          message: `${cidr.address} is link-local; carp(4) leaves link-local addresses out of the HMAC, so peers could not verify it`,
        });
      }
    });

    if (entry.peer !== undefined) {
      const peerFamily = entry.peer.includes(':') ? 6 : 4;
      if (!families.has(peerFamily)) {
        issues.push({
          path: `${at}.peer`,
          message: `an IPv${peerFamily} peer cannot carry this group's adverts: it has no IPv${peerFamily} virtual address`,
        });
      }
    }

    entry.track.interfaces.forEach((tracked, trackIndex) => {
      if (tracked === entry.interface) {
        issues.push({
          path: `${at}.track.interfaces[${trackIndex}]`,
          message: `${tracked} is the parent interface; its link already moves the group to INIT`,
        });
      }
    });
  });
  issues.push(...balancerIssues(config.balancer));
  issues.push(...firewallIssues(config));
  issues.push(...powerIssues(config));
  issues.push(...commandConfigIssues(config.telemetry));
  issues.push(...mqttConfigIssues(config.telemetry));
  issues.push(...conntrackConfigIssues(config));
  issues.push(...configSyncIssues(config));
  issues.push(...apiConfigIssues(config.api));
  issues.push(...networkIssues(config));
  issues.push(...boardIssues(config));
  return issues;
}

function normalizeAddress(address: string): string {
  // The URL parser writes IPv6 in its canonical compressed form, so 2001:0db8::1 == 2001:db8::1.
  return address.includes(':') ? new URL(`http://[${address}]/`).hostname : address;
}
