// Builds the board service from the `board` section for the daemon, which imports this file
// only when the section is present: a daemon without one loads none of firmware/board/.

import type { Logger } from '../log.js';
import type { Clock } from '../os/clock.js';
import { LinuxBoardDrivers } from './linux.js';
import type { BoardInputs } from './patterns.js';
import type { BoardDriverFactory } from './ports.js';
import { boardHasWork, resolveBoard } from './profiles.js';
import type { BoardConfig } from './schema.js';
import { BoardService, type BoardDeps } from './service.js';

export interface BoardWiring {
  clock: Clock;
  log: Logger;
  /** Default: the real LED class, input, onoff GPIO and watchdog drivers. */
  drivers?: BoardDriverFactory | undefined;
  inputs: () => BoardInputs;
  maintenance: BoardDeps['maintenance'];
}

/** A started board service, or undefined when the section drives nothing (profile none, no lines). */
export async function createBoardService(config: BoardConfig, wiring: BoardWiring): Promise<BoardService | undefined> {
  const board = resolveBoard(config);
  if (!boardHasWork(board)) return undefined;
  const drivers = wiring.drivers ?? new LinuxBoardDrivers(wiring.clock, board.sysfsRoot, (error) => wiring.log.warn(`board: ${error.message}`));
  const service = new BoardService(board, { clock: wiring.clock, log: wiring.log, drivers, inputs: wiring.inputs, maintenance: wiring.maintenance });
  await service.start();
  return service;
}
