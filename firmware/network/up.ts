// `tandem network up [--config FILE]`: run by the image's init before `tandem run`. Checks the
// whole config first (a bad one changes nothing), plans against what the box has now, applies
// the steps in order and stops at the first failure, naming its config path and the step.

import { formatIssue, loadConfigFile } from '../config/load.js';
import { describeStep, planNetwork } from './planner.js';
import type { NetworkPort } from './ports.js';

export interface NetworkUpOutput {
  out(line: string): void;
  err(line: string): void;
}

export type NetworkUpOutcome = 'changed' | 'unchanged' | 'not-configured' | 'invalid-config' | 'step-failed';

export async function networkUp(file: string, port: NetworkPort, output: NetworkUpOutput): Promise<NetworkUpOutcome> {
  const loaded = await loadConfigFile(file);
  if (!loaded.ok) {
    for (const issue of loaded.issues) output.err(formatIssue(file, issue));
    output.err('network: config refused; nothing changed');
    return 'invalid-config';
  }
  const network = loaded.config.network;
  if (!network) {
    output.out(`network: ${file} has no network section; nothing to do`);
    return 'not-configured';
  }
  const plan = planNetwork(network, await port.observe(network.resolvConf));
  if (!plan.ok) {
    for (const issue of plan.issues) output.err(formatIssue(file, issue));
    output.err('network: config does not fit this box; nothing changed');
    return 'invalid-config';
  }
  if (plan.steps.length === 0) {
    output.out('network: already up as configured; nothing to change');
    return 'unchanged';
  }
  for (const step of plan.steps) {
    const outcome = await port.apply(step);
    if (!outcome.ok) {
      output.err(`${file}: ${step.path}: ${describeStep(step)}: failed: ${outcome.detail}`);
      return 'step-failed';
    }
    output.out(`network: ${describeStep(step)}`);
  }
  output.out(`network: ${plan.steps.length} change(s) made`);
  return 'changed';
}

/** The CLI's entry: the real `ip`, exit 0 when the network is as configured. */
export async function networkUpCommand(file: string): Promise<number> {
  const [{ LinuxNetworkPort }, { LinuxProcessRunner }] = await Promise.all([import('./linux.js'), import('../os/process.js')]);
  const outcome = await networkUp(file, new LinuxNetworkPort(new LinuxProcessRunner()), {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  });
  return outcome === 'changed' || outcome === 'unchanged' || outcome === 'not-configured' ? 0 : 1;
}
