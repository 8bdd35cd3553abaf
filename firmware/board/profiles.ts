// Board profiles: what `board.profile` fills in when the config leaves a line out. The PC
// Engines APU2/3/4 preset follows the kernel's pcengines-apuv2 driver (LED class names
// apu:green:1-3, the front button as KEY_RESTART on the gpio-keys-polled input "apu2-keys") and
// sp5100_tco, the FCH's watchdog, as /dev/watchdog.

import type { LedRole } from './patterns.js';
import { KEY_RESTART, type BoardConfig, type ButtonLine, type LedLine } from './schema.js';

export interface ResolvedBoard {
  profile: BoardConfig['profile'];
  leds: Partial<Record<LedRole, LedLine>>;
  button: ButtonLine | undefined;
  longPressMs: number;
  watchdog: { device: string; timeoutSeconds: number } | undefined;
  sysfsRoot: string;
}

interface Preset {
  leds: Partial<Record<LedRole, LedLine>>;
  button?: ButtonLine;
  watchdog?: { device: string; timeoutSeconds: number };
}

// LED 1 is the power LED the BIOS lights: as the fault LED it goes dark when all is well and
// blinks fast on a fault; 2 and 3 say MASTER and BACKUP.
const PRESETS: Record<BoardConfig['profile'], Preset> = {
  none: { leds: {} },
  custom: { leds: {} },
  'pcengines-apu2': {
    leds: {
      fault: { type: 'class', name: 'apu:green:1' },
      master: { type: 'class', name: 'apu:green:2' },
      backup: { type: 'class', name: 'apu:green:3' },
    },
    button: { type: 'input', device: 'apu2-keys', code: KEY_RESTART },
    watchdog: { device: '/dev/watchdog', timeoutSeconds: 30 },
  },
};

export function resolveBoard(config: BoardConfig): ResolvedBoard {
  const preset = PRESETS[config.profile];
  const leds: Partial<Record<LedRole, LedLine>> = { ...preset.leds };
  for (const role of ['master', 'backup', 'fault'] as const) {
    const line = config.leds?.[role];
    if (line !== undefined) leds[role] = line;
  }
  return {
    profile: config.profile,
    leds,
    button: config.button ?? preset.button,
    longPressMs: Math.round(config.longPressSeconds * 1000),
    watchdog: config.watchdog ?? preset.watchdog,
    sysfsRoot: config.sysfsRoot,
  };
}

/** Whether the board service has anything to drive (else the daemon never loads it). */
export function boardHasWork(board: ResolvedBoard): boolean {
  return Object.keys(board.leds).length > 0 || board.button !== undefined || board.watchdog !== undefined;
}
