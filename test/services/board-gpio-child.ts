// Run by board-gpio.test.ts inside a private mount namespace whose /sys/class/gpio is a fake
// tree: the board service on the real drivers (real onoff, real epoll addon) with a GPIO LED
// and a GPIO button. Prints one JSON line per thing the test waits for; exits on SIGTERM.

import { validate } from '../../firmware/config/kit.js';
import { boardSchema } from '../../firmware/board/schema.js';
import { createBoardService } from '../../firmware/board/wire.js';
import { createLogger } from '../../firmware/log.js';
import { systemClock } from '../../firmware/os/clock.js';

const say = (message: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(message)}\n`);

const { value, issues } = validate(boardSchema, {
  profile: 'custom',
  leds: { master: { type: 'gpio', line: 17, activeLow: true }, fault: { type: 'gpio', line: 18 } },
  button: { type: 'gpio', line: 27, debounceMs: 10 },
  longPressSeconds: 0.5,
});
if (!value) throw new Error(JSON.stringify(issues));
let maintenance = false;
const service = await createBoardService(value, {
  clock: systemClock,
  log: createLogger('debug', (line) => process.stderr.write(`${line}\n`)),
  // MASTER with a fault: the master LED lit, the fault LED blinking (the daemon toggles GPIO).
  inputs: () => ({ carp: ['MASTER'], maintenance, firewallFailed: false, degraded: true }),
  maintenance: {
    get: () => maintenance,
    set: async (on, by) => {
      maintenance = on;
      say({ maintenance: on, by });
    },
  },
});
if (!service) throw new Error('no board service');
await service.settled();
say({ started: true, status: service.status() });
process.once('SIGTERM', () => {
  void service.stop().then(() => {
    say({ stopped: true });
    process.exit(0);
  });
});
