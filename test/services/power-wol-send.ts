// Runs the real WoL driver (firmware/power/wol.ts with its Linux ports: node:dgram and
// os.networkInterfaces) once, for power-wol.test.ts, which starts it inside a lab namespace so
// the broadcast never leaves the lab. Argument: JSON { settings, host }; prints the result.

import { systemClock } from '../../firmware/os/clock.js';
import { LinuxProcessRunner } from '../../firmware/os/process.js';
import { silentLogger } from '../../firmware/log.js';
import { createWol } from '../../firmware/power/wol.js';

const { settings, host } = JSON.parse(process.argv[2] ?? '{}');
const wol = createWol(settings, { clock: systemClock, processes: new LinuxProcessRunner(), log: silentLogger, stateDir: '/nonexistent' });
const result = await wol.wake!(host, new AbortController().signal);
process.stdout.write(JSON.stringify(result) + '\n');
