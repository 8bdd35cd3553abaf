// The check kinds, one file each (relayd's check_*.c), behind one factory: the real
// implementation of HealthCheckPort that the daemon uses. Tests use fake.ts instead.

import type { Clock } from '../os/clock.js';
import type { ProcessRunner } from '../os/process.js';
import type { CheckSpec, HealthCheck, HealthCheckPort } from './check.js';
import { HttpCheck } from './check-http.js';
import { IcmpCheck } from './check-icmp.js';
import { ScriptCheck } from './check-script.js';
import { SendExpectCheck } from './check-send.js';
import { TcpCheck } from './check-tcp.js';
import { TlsCheck } from './check-tls.js';

export class NetworkChecks implements HealthCheckPort {
  constructor(private readonly clock: Clock, private readonly processes: ProcessRunner) {}

  create(spec: CheckSpec): HealthCheck {
    switch (spec.type) {
      case 'icmp':
        return new IcmpCheck(this.clock, this.processes, spec.timeoutMs);
      case 'tcp':
        return new TcpCheck(this.clock, spec.timeoutMs);
      case 'send-expect':
        return new SendExpectCheck(this.clock, spec);
      case 'http':
      case 'https':
        return new HttpCheck(this.clock, spec);
      case 'tls':
        return new TlsCheck(this.clock, spec.timeoutMs, spec.tls);
      case 'script':
        return new ScriptCheck(this.clock, this.processes, spec.script, spec.timeoutMs);
    }
  }
}
