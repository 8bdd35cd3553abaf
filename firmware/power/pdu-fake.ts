// An in-memory switched PDU for unit tests and the demo: outlets that every table of
// pdu-oids.ts reads and switches at once (as the test agent in test/services does), behind the
// FakeSnmpAgent's communities and users. A reboot ends on, with the off in between recorded.

import type { PowerReading } from './driver.js';
import { PDU_MIBS, PDU_TABLES, controlOid, stateOid, type OutletCommand } from './pdu-oids.js';
import { FakeSnmpAgent, type FakeAgentOptions } from './snmp-client.js';

export class FakePdu {
  readonly outlets = new Map<number, 'on' | 'off'>();
  /** Every command that reached an outlet, in order. */
  readonly commands: Array<{ outlet: number; command: OutletCommand }> = [];
  readonly agent: FakeSnmpAgent;

  constructor(outletCount: number, access: Omit<FakeAgentOptions, 'onGet' | 'onSet'> = {}) {
    for (let n = 1; n <= outletCount; n++) this.outlets.set(n, 'off');
    this.agent = new FakeSnmpAgent({ ...access, onGet: (oid) => this.get(oid), onSet: (oid, value) => this.set(oid, value) });
  }

  private get(oid: string): number | undefined {
    for (const [outlet, power] of this.outlets) {
      for (const mib of PDU_MIBS) {
        const table = PDU_TABLES[mib];
        if (oid === stateOid(mib, outlet)) return encode(table.states, power);
        // Control columns read back the command matching the state (PowerNet-MIB DESCRIPTIONs).
        if (oid === controlOid(mib, outlet)) return table.commands[power];
      }
    }
    return undefined;
  }

  private set(oid: string, value: number): string | undefined {
    for (const [outlet] of this.outlets) {
      for (const mib of PDU_MIBS) {
        if (oid !== controlOid(mib, outlet)) continue;
        const commands = PDU_TABLES[mib].commands;
        const command = (Object.keys(commands) as OutletCommand[]).find((c) => commands[c] === value);
        if (!command) return 'wrongValue';
        this.commands.push({ outlet, command });
        this.outlets.set(outlet, command === 'off' ? 'off' : 'on');
        return undefined;
      }
      if (oid === stateOid('apc-rpdu', outlet) || oid === stateOid('apc-rpdu2', outlet) || oid === stateOid('raritan', outlet)) return 'notWritable';
    }
    return 'notWritable';
  }
}

function encode(states: Record<number, PowerReading>, power: 'on' | 'off'): number {
  const found = Object.entries(states).find(([, reading]) => reading === power);
  if (!found) throw new Error(`state table has no ${power}`);
  return Number(found[0]);
}
