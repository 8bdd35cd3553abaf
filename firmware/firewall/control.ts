// The daemon's firewall requests (`tandem firewall apply|confirm|status` over the control
// socket) and loading the config's policy at start and reload. Kept here so daemon.ts only
// wires. `apply` re-reads the config file, so an admin edits it and applies, with or without
// the confirm timer, which lives in the daemon.

import type { ParseResult } from '../config/load.js';
import type { TandemConfig } from '../config/schema.js';
import type { ControlReply } from '../control/protocol.js';
import type { Logger } from '../log.js';
import { firewallSource } from './confirm-ledger.js';
import { compile } from './model.js';
import type { ApplyResult, Firewall } from './service.js';

/**
 * Loads the config's firewall policy, if it has one; never throws (CARP must start regardless).
 * `'start'` lets the firewall's ledger refuse a policy that was applied and never confirmed.
 */
export async function loadFirewall(firewall: Firewall, config: TandemConfig, log: Logger, confirmWithinMs?: number | 'start'): Promise<ApplyResult | undefined> {
  if (!config.firewall) return undefined;
  const compiled = compile(config);
  if (!compiled.policy) {
    const error = compiled.issues.map((i) => `${i.path}: ${i.message}`).join('\n');
    log.error('firewall: the policy does not compile; the running ruleset stays in force', { error });
    return { ok: false, stage: 'check', error };
  }
  try {
    const source = firewallSource(config);
    if (confirmWithinMs === 'start') return await firewall.start(compiled.policy, source);
    return await firewall.apply(compiled.policy, confirmWithinMs !== undefined ? { confirmWithinMs, source } : { source });
  } catch (error) {
    log.error('firewall: apply failed', { error: (error as Error).message });
    return { ok: false, stage: 'load', error: (error as Error).message };
  }
}

export type FirewallRequest = { cmd: 'firewall-apply'; confirmWithinSeconds?: number } | { cmd: 'firewall-confirm' } | { cmd: 'firewall-status' };

export async function handleFirewallRequest(
  firewall: Firewall,
  request: FirewallRequest,
  current: TandemConfig,
  readConfig: (() => Promise<ParseResult>) | undefined,
  log: Logger,
): Promise<ControlReply> {
  switch (request.cmd) {
    case 'firewall-status':
      return { ok: true, result: firewall.status() };
    case 'firewall-confirm': {
      const outcome = await firewall.confirm();
      return outcome.ok ? { ok: true, result: firewall.status() } : { ok: false, error: outcome.error };
    }
    case 'firewall-apply': {
      let config = current;
      if (readConfig) {
        const read = await readConfig();
        if (!read.ok) {
          return { ok: false, error: `the config is invalid; nothing applied:\n${read.issues.map((i) => `${i.line ? `line ${i.line}: ` : ''}${i.path}: ${i.message}`).join('\n')}` };
        }
        config = read.config;
      }
      if (!config.firewall) return { ok: false, error: 'the config has no firewall section; nothing applied' };
      const ms = request.confirmWithinSeconds !== undefined ? request.confirmWithinSeconds * 1000 : undefined;
      const outcome = await loadFirewall(firewall, config, log, ms);
      if (!outcome?.ok) return { ok: false, error: `${outcome?.stage === 'check' ? 'refused' : 'loading failed'}; the running ruleset stays in force:\n${outcome?.error ?? ''}` };
      return { ok: true, result: firewall.status() };
    }
  }
}
