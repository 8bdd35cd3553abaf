// An in-memory network for tests of `tandem network up`: applies steps to its own picture of
// links, addresses and routes, records them, and fails the steps a test names.

import { canonicalDestination, parseCidrText } from './cidr.js';
import type { NetworkPort, NetworkStep, ObservedNetwork, StepOutcome } from './ports.js';

export class FakeNetworkPort implements NetworkPort {
  readonly applied: NetworkStep[] = [];
  readonly files = new Map<string, string>();

  constructor(
    readonly state: Omit<ObservedNetwork, 'resolv'>,
    private readonly fail: (step: NetworkStep) => string | undefined = () => undefined,
  ) {}

  async observe(resolvFile: string): Promise<ObservedNetwork> {
    return structuredClone({ ...this.state, resolv: this.files.get(resolvFile) });
  }

  async apply(step: NetworkStep): Promise<StepOutcome> {
    const failure = this.fail(step);
    if (failure !== undefined) return { ok: false, detail: failure };
    this.applied.push(step);
    const link = 'interface' in step && step.interface !== undefined ? this.state.links.find((l) => l.name === step.interface) : undefined;
    switch (step.kind) {
      case 'hostname':
        this.state.hostname = step.hostname;
        break;
      case 'resolv':
        this.files.set(step.file, step.text);
        break;
      case 'mtu':
        if (link) link.mtu = step.mtu;
        break;
      case 'linkUp':
        if (link) link.up = true;
        break;
      case 'address': {
        const cidr = parseCidrText(step.cidr)!;
        link?.addresses.push({ address: cidr.address, prefix: cidr.prefix });
        break;
      }
      case 'route': {
        const to = canonicalDestination(step.to);
        this.state.routes = this.state.routes.filter((r) => !(r.family === step.family && r.to === to));
        this.state.routes.push({ to, family: step.family, via: step.via, ...(step.interface !== undefined ? { interface: step.interface } : {}) });
        break;
      }
    }
    return { ok: true };
  }
}
