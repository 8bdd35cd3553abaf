// Checks of meaning for `board`: one line cannot be two things (an LED that is also the button,
// or one LED for two roles would show whichever role wrote last).

import type { ConfigIssue } from '../config/kit.js';
import type { TandemConfig } from '../config/schema.js';
import { resolveBoard } from './profiles.js';

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
  // Over the profile's lines too: a master LED moved onto the preset's backup LED is a clash.
  const resolved = resolveBoard(board);
  const where = (path: string, own: boolean) => (own ? path : `${path} (from profile ${board.profile})`);
  for (const role of ['master', 'backup', 'fault'] as const) {
    const line = resolved.leds[role];
    if (!line) continue;
    claim(line.type === 'class' ? `LED:${line.name}` : `GPIO:${line.line}`, where(`board.leds.${role}`, board.leds?.[role] !== undefined));
  }
  if (resolved.button?.type === 'gpio') claim(`GPIO:${resolved.button.line}`, where('board.button', board.button !== undefined));
  return issues;
}
