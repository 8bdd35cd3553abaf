// The network as a port: what `tandem network up` observes (links, addresses, routes, host name,
// resolv.conf) and the steps it applies. linux.ts drives `ip`; fake.ts keeps it in memory.

export interface ObservedAddress {
  address: string;
  prefix: number;
}

export interface ObservedLink {
  name: string;
  mtu: number;
  up: boolean;
  addresses: ObservedAddress[];
}

export interface ObservedRoute {
  /** `default` or a canonical network with prefix (198.51.100.0/24, 2001:db8::/64). */
  to: string;
  family: 4 | 6;
  via?: string;
  interface?: string;
}

export interface ObservedNetwork {
  hostname: string;
  links: ObservedLink[];
  routes: ObservedRoute[];
  /** The resolv.conf file's text, or undefined when it does not exist. */
  resolv: string | undefined;
}

/** One change, in the order it must happen; `path` is the config key it comes from. */
export type NetworkStep =
  | { kind: 'hostname'; path: string; hostname: string }
  | { kind: 'mtu'; path: string; interface: string; mtu: number }
  | { kind: 'linkUp'; path: string; interface: string }
  | { kind: 'address'; path: string; interface: string; cidr: string }
  | { kind: 'route'; path: string; family: 4 | 6; to: string; via: string; interface?: string }
  | { kind: 'resolv'; path: string; file: string; text: string };

export type StepOutcome = { ok: true } | { ok: false; detail: string };

export interface NetworkPort {
  observe(resolvFile: string): Promise<ObservedNetwork>;
  apply(step: NetworkStep): Promise<StepOutcome>;
}
