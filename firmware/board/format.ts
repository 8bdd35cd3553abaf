// `tandem status` lines for the board: what each LED shows, the faults behind a blinking fault
// LED, the button's presses and the watchdog's feeds.

import type { BoardStatus } from './service.js';

export function formatBoardStatus(board: BoardStatus): string[] {
  const leds = Object.entries(board.leds)
    .map(([role, led]) => `${role} ${led.pattern} (${led.line})${led.error ? ` ERROR ${led.error}` : ''}`)
    .join(', ');
  const lines = [`  board ${board.profile}${leds ? `  leds: ${leds}` : ''}${board.faults.length > 0 ? `  faults: ${board.faults.join('; ')}` : ''}`];
  if (board.button) {
    const b = board.button;
    lines.push(
      `    button ${b.line}: hold ${b.longPressSeconds} s for maintenance; ${b.presses['long-press']} long, ${b.presses['short-press']} short press(es)` +
        (b.lastLongPressAt ? `, last long ${b.lastLongPressAt}` : '') +
        (b.error ? `  ERROR ${b.error}` : ''),
    );
  }
  if (board.watchdog) {
    const w = board.watchdog;
    lines.push(
      `    watchdog ${w.device}: ${w.phase}, timeout ${w.timeoutSeconds} s${w.driverTimeoutSeconds !== undefined ? ` (driver ${w.driverTimeoutSeconds} s)` : ''}, fed every ${w.intervalMs} ms, ${w.feeds} feeds` +
        (w.error ? `  ERROR ${w.error}` : ''),
    );
  }
  return lines;
}
