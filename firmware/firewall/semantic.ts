// The firewall's checks of meaning for `tandem check` and config loading: whatever the policy
// compiler refuses (unknown zones, ports on ICMP, undefined tables, NAT addresses that are no
// VIP or zone address, overlapping forwards), each with its config path.

import type { ConfigIssue } from '../config/kit.js';
import { compile, type FirewallSource } from './model.js';

export function firewallIssues(config: FirewallSource): ConfigIssue[] {
  return compile(config).issues;
}
