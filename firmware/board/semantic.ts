// Checks of meaning for `board`: one line cannot be two things (an LED that is also the button,
// or one LED for two roles would show whichever role wrote last).

import type { ConfigIssue } from '../config/kit.js';
import type { TandemConfig } from '../config/schema.js';

export function boardIssues(config: TandemConfig): ConfigIssue[] {
  const board = config.board;
  if (!board) return [];
  const issues: ConfigIssue[] = [];
  const owner = new Map<string, string>();
  const claim = (key: string, path: string) => {
    const first = owner.get(key);
    if (first !== undefined) issues.push({ path, message: `${key.replace(':', ' ')} is already used by ${first}` });
    else owner.set(key, path);
  };
  for (const role of ['master', 'backup', 'fault'] as const) {
    const line = board.leds?.[role];
    if (!line) continue;
    claim(line.type === 'class' ? `LED:${line.name}` : `GPIO:${line.line}`, `board.leds.${role}`);
  }
  if (board.button?.type === 'gpio') claim(`GPIO:${board.button.line}`, 'board.button');
  return issues;
}
