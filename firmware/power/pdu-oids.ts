// Outlet control and state OIDs of the switched PDUs Tandem drives (pure data). APC
// PowerNet-MIB: sPDUOutletCtl (MasterSwitch), rPDUOutletControl/Status, rPDU2OutletSwitched
// (whose status reads off 1, on 2: the reverse of rPDU); Raritan PDU2-MIB switchingOperation and
// outletSwitchingState (a SensorStateEnumeration: on 7, off 8). Sources: shared/reference/ecosystem.md, NUT's raritan-px2-mib.c.

import type { PowerReading } from './driver.js';

export type PduMib = 'apc-spdu' | 'apc-rpdu' | 'apc-rpdu2' | 'raritan';
export const PDU_MIBS: readonly PduMib[] = ['apc-spdu', 'apc-rpdu', 'apc-rpdu2', 'raritan'];

export type OutletCommand = 'on' | 'off' | 'reboot';

export interface PduTable {
  /** Control column (read-write), without the instance. */
  control: string;
  /** State column (read), without the instance. */
  state: string;
  /** INTEGER written to the control column per command (immediate variants). */
  commands: Record<OutletCommand, number>;
  /** What each state value means; values absent here read as `unknown`. */
  states: Record<number, PowerReading>;
  /** Instance suffix of an outlet: Raritan indexes by { pduId, outletId }, pduId 1 when not daisy-chained. */
  instance(outlet: number): string;
}

const APC = '1.3.6.1.4.1.318.1.1';
const RARITAN = '1.3.6.1.4.1.13742.6.4.1.2.1';
const byOutlet = (outlet: number) => String(outlet);

export const PDU_TABLES: Record<PduMib, PduTable> = {
  // sPDUOutletCtl reads back outletOn 1, outletOff 2, outletReboot 3, outletUnknown 4.
  'apc-spdu': {
    control: `${APC}.4.4.2.1.3`,
    state: `${APC}.4.4.2.1.3`,
    commands: { on: 1, off: 2, reboot: 3 },
    states: { 1: 'on', 2: 'off' },
    instance: byOutlet,
  },
  'apc-rpdu': {
    control: `${APC}.12.3.3.1.1.4`,
    state: `${APC}.12.3.5.1.1.4`,
    commands: { on: 1, off: 2, reboot: 3 },
    states: { 1: 'on', 2: 'off' },
    instance: byOutlet,
  },
  'apc-rpdu2': {
    control: `${APC}.26.9.2.4.1.5`,
    state: `${APC}.26.9.2.3.1.5`,
    commands: { on: 1, off: 2, reboot: 3 },
    states: { 1: 'off', 2: 'on' },
    instance: byOutlet,
  },
  raritan: {
    control: `${RARITAN}.2`,
    state: `${RARITAN}.3`,
    commands: { off: 0, on: 1, reboot: 2 },
    states: { 7: 'on', 8: 'off' },
    instance: (outlet) => `1.${outlet}`,
  },
};

export function controlOid(mib: PduMib, outlet: number): string {
  const t = PDU_TABLES[mib];
  return `${t.control}.${t.instance(outlet)}`;
}

export function stateOid(mib: PduMib, outlet: number): string {
  const t = PDU_TABLES[mib];
  return `${t.state}.${t.instance(outlet)}`;
}

export function decodeState(mib: PduMib, value: number): PowerReading {
  return PDU_TABLES[mib].states[value] ?? 'unknown';
}
