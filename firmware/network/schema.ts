// The `network` config section (issue 15): what `tandem network up` brings up at boot before the
// daemon starts: hostname, static addresses and MTU per interface, static routes, nameservers.
// Interfaces keep their kernel names (no MAC-based renaming), as the image's init finds them.

import { isIP } from 'node:net';
import { optional, s, type Infer, type StringRule } from '../config/kit.js';
import { isNetworkAddress, parseCidrText } from './cidr.js';

// Kept beside the section (not imported from config/schema.ts) so the schema files form no cycle.
const isIfname: StringRule = (v) =>
  /^[A-Za-z0-9][A-Za-z0-9_.@:-]{0,14}$/.test(v) ? undefined : 'must be an interface name (1-15 characters: letters, digits, _ . - @ :)';

const isHostname: StringRule = (v) =>
  /^(?=.{1,64}$)[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*$/.test(v)
    ? undefined
    : 'must be a host name (letters, digits, - and dots; at most 64 characters, as the kernel keeps)';

const isAddressCidr: StringRule = (v) =>
  v.includes('/') && parseCidrText(v) ? undefined : 'must be an address with a prefix length, like 198.51.100.2/24 or 2001:db8::2/64';

const isDestination: StringRule = (v) => {
  if (v === 'default') return undefined;
  const cidr = v.includes('/') ? parseCidrText(v) : undefined;
  if (!cidr) return 'must be default or a network with a prefix length, like 203.0.113.0/24';
  return isNetworkAddress(cidr) ? undefined : 'must be a network address (no host bits set after the prefix), like 203.0.113.0/24';
};

const isAddress: StringRule = (v) => (isIP(v) ? undefined : 'must be an IPv4 or IPv6 address');

export const DEFAULT_RESOLV_CONF = '/run/tandem/resolv.conf';

const interfaceEntry = s
  .object({
    name: s.string('an interface name', isIfname).describe('Kernel name of the interface (eth0, enp1s0); it must exist at boot.', { example: 'eth0' }),
    addresses: optional(
      s.list(s.string('an address/prefix', isAddressCidr)).describe("This node's own static addresses on the interface, IPv4 and IPv6, with prefix length (not the CARP virtual addresses)."),
      [],
    ),
    mtu: optional(s.int(68, 65535).describe('Link MTU in bytes; left as the driver set it when absent.')),
  })
  .describe('One interface to bring up.');

const routeEntry = s
  .object({
    to: s.string('default or a network', isDestination).describe('Destination: `default` or a network with prefix length.', { example: 'default' }),
    via: s.string('an IP address', isAddress).describe('Gateway; it must be on a subnet of one of the interfaces (or link-local with `interface`).'),
    interface: optional(s.string('an interface name', isIfname).describe('Send through this interface (needed for a link-local gateway).')),
  })
  .describe('One static route.');

export const networkSchema = s
  .object({
    hostname: optional(s.string('a host name', isHostname).describe('The kernel host name, set at boot.', { example: 'fw-a' })),
    interfaces: optional(s.list(interfaceEntry).describe('Interfaces `tandem network up` brings up, with their static addresses and MTU.'), []),
    routes: optional(s.list(routeEntry).describe('Static routes, added after every address (replaced when they differ).'), []),
    nameservers: optional(
      s.list(s.string('an IP address', isAddress)).describe('DNS servers, written to `resolvConf` (the image links /etc/resolv.conf there).'),
      [],
    ),
    resolvConf: optional(
      s.string('an absolute path', (v) => (v.startsWith('/') ? undefined : 'must be an absolute path')).describe('Where the nameservers are written (a tmpfs path: nothing is written to the card at boot).'),
      DEFAULT_RESOLV_CONF,
    ),
  })
  .describe('Network bring-up at boot (`tandem network up`, run by the image\'s init before `tandem run`). Addresses are added, never removed: the daemon\'s CARP addresses and the kernel\'s link-local ones stay.');

export type NetworkConfig = Infer<typeof networkSchema>;
export type NetworkInterfaceConfig = NetworkConfig['interfaces'][number];
export type NetworkRouteConfig = NetworkConfig['routes'][number];
