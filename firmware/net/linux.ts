// The Linux ports, built once for `tandem run`.

import type { Ports } from '../daemon.js';
import type { Logger } from '../log.js';
import type { Clock } from '../os/clock.js';
import { LinuxFileStore } from '../os/files.js';
import { LinuxProcessRunner } from '../os/process.js';
import { LinuxAddressPort } from './linux-address.js';
import { LinuxAnnouncer } from './linux-announce.js';
import { LinuxLinkPort } from './linux-link.js';
import { LinuxVirtualMacPort } from './linux-macvlan.js';
import { LinuxPacketPort } from './linux-packet.js';

export async function createLinuxPorts(clock: Clock, log: Logger): Promise<Ports & { close(): Promise<void> }> {
  const processes = new LinuxProcessRunner();
  const announcer = new LinuxAnnouncer();
  return {
    clock,
    files: new LinuxFileStore(),
    processes,
    packets: new LinuxPacketPort({ announcer }),
    addresses: new LinuxAddressPort(processes),
    announcer,
    links: new LinuxLinkPort(processes),
    virtualMacs: new LinuxVirtualMacPort(processes),
    log,
    close: async () => undefined,
  };
}
