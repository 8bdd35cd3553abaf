// Preloaded into the router by `scripts/bench/balancer --profile DIR` (NODE_OPTIONS refuses
// --cpu-prof): samples the CPU with the inspector from start to exit, then writes
// DIR/tandem-PID.cpuprofile, the same file `node --cpu-prof` writes (Chrome DevTools, speedscope).
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { join } from 'node:path';

const dir = process.env.TANDEM_CPU_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 200 });
  session.post('Profiler.start');
  // The main-thread session answers synchronously, so this works inside 'exit'.
  process.once('exit', () => {
    session.post('Profiler.stop', (error, result) => {
      if (!error) writeFileSync(join(dir, `tandem-${process.pid}.cpuprofile`), JSON.stringify(result.profile));
    });
  });
}
