// The button's pure core: press and release edges with their times in, a long press (held at
// least `longPressMs`, acted on at release like a reset button) or a short press out. A release
// without a press (the daemon started with the button held) is ignored, not a long press.

export type ButtonEdge = { pressed: boolean; atMs: number };
export type ButtonState = { pressedAt: number | undefined };
export type ButtonOutcome = 'long-press' | 'short-press' | 'ignored';

export const idleButton: ButtonState = { pressedAt: undefined };

export function buttonEdge(state: ButtonState, edge: ButtonEdge, longPressMs: number): { state: ButtonState; outcome?: ButtonOutcome } {
  if (edge.pressed) {
    // A second press edge without a release (a lost event) restarts the hold: the user sees a fresh press.
    return { state: { pressedAt: edge.atMs } };
  }
  if (state.pressedAt === undefined) return { state, outcome: 'ignored' };
  const held = edge.atMs - state.pressedAt;
  return { state: idleButton, outcome: held >= longPressMs ? 'long-press' : 'short-press' };
}
