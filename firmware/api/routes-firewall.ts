// Firewall handlers (issue 12 items 1 and 3): the phase and the rendered pf.conf and nftables
// texts of the policy in force; apply and confirm as `tandem firewall apply|confirm`; and a
// check of a candidate `firewall` section inside the running config, so cross-section rules
// (zones on CARP interfaces, pool tables) are judged exactly as `tandem check` judges them.

import { parseDocument, stringify } from 'yaml';
import { parseConfig } from '../config/load.js';
import { compile, type Policy } from '../firewall/model.js';
import { renderNft } from '../firewall/render-nft.js';
import { renderPf } from '../firewall/render-pf.js';
import { bodyObject, fail, fromReply, isResponse, issuesOf, ok, runCommand, type ApiIssue } from './routes-common.js';
import type { ApiBackend, ApiRequest, ApiResponse } from './types.js';

type Handler = (request: ApiRequest, backend: ApiBackend) => Promise<ApiResponse>;

function renderings(policy: Policy | undefined): { pf: string | null; nft: string | null } {
  return policy ? { pf: renderPf(policy), nft: renderNft(policy) } : { pf: null, nft: null };
}

/** `{ status, source, pf, nft }`: the daemon's policy in force, or else the config file's. */
export const getFirewall: Handler = async (_request, backend) => {
  const reply = await backend.handle({ cmd: 'firewall-status' });
  if (!reply.ok) return fromReply(reply);
  const running = backend.firewallPolicy?.();
  if (running) return ok({ status: reply.result, source: 'running', ...renderings(running) });
  let text: string;
  try {
    text = (await backend.config.read()).text;
  } catch (error) {
    return ok({ status: reply.result, source: 'none', pf: null, nft: null, error: (error as Error).message });
  }
  const parsed = parseConfig(text);
  const policy = parsed.ok && parsed.config.firewall ? compile(parsed.config).policy : undefined;
  return ok({ status: reply.result, source: policy ? 'config' : 'none', ...renderings(policy) });
};

export const postFirewallApply: Handler = (request, backend) => runCommand(backend, request, 'firewall-apply', ['confirmWithinSeconds']);

export const postFirewallConfirm: Handler = (request, backend) => runCommand(backend, request, 'firewall-confirm', []);

export interface FirewallCheck {
  ok: boolean;
  issues: ApiIssue[];
  /** When ok: the candidate rendered, and the whole config with it, ready for /api/config/apply. */
  pf?: string;
  nft?: string;
  configText?: string;
}

/**
 * Checks `candidate` (the YAML or JSON text of the section's value, lines counted from its
 * first line) as the `firewall` section of `runningText`. The running config's other
 * sections are re-emitted in block style above it, so each issue's line maps back by an offset.
 */
export function checkFirewallCandidate(runningText: string, candidate: string, withLines: boolean): FirewallCheck {
  const doc = parseDocument(runningText);
  if (doc.errors.length > 0) return { ok: false, issues: [{ path: '(running config)', message: `the running config does not parse: ${doc.errors[0]?.message.split('\n')[0]}` }] };
  const { firewall: _old, ...rest } = (doc.toJS() ?? {}) as Record<string, unknown>;
  const base = stringify(rest);
  const offset = base.split('\n').length - 1;
  const indented = candidate.split('\n').map((line) => (line === '' ? line : `  ${line}`)).join('\n');
  const parsed = parseConfig(`${base}firewall:\n${indented}\n`);
  if (!parsed.ok) {
    const issues = parsed.issues.map((issue) => {
      const line = issue.line !== undefined && issue.line > offset + 1 && withLines ? issue.line - offset - 1 : undefined;
      return { ...issue, line };
    });
    return { ok: false, issues: issuesOf(issues) };
  }
  const policy = parsed.config.firewall ? compile(parsed.config).policy : undefined;
  const candidateDoc = parseDocument(candidate);
  doc.set('firewall', candidateDoc.contents);
  return { ok: true, issues: [], ...(policy ? { pf: renderPf(policy), nft: renderNft(policy) } : {}), configText: doc.toString() };
}

/** `{"text": "<YAML of the section>"}` (issues carry lines in it) or `{"firewall": {...}}`. */
export const postFirewallCheck: Handler = async (request, backend) => {
  const body = bodyObject(request);
  if (isResponse(body)) return body;
  let candidate: string;
  let withLines = false;
  if (typeof body.text === 'string') {
    candidate = body.text;
    withLines = true;
  } else if (typeof body.firewall === 'object' && body.firewall !== null && !Array.isArray(body.firewall)) {
    candidate = stringify(body.firewall);
  } else {
    return fail(400, 'firewall check needs "text" (the section as YAML) or "firewall" (the section as an object)', { path: 'text' });
  }
  let running: string;
  try {
    running = (await backend.config.read()).text;
  } catch (error) {
    return fail(409, `the running config cannot be read, so the section cannot be checked within it: ${(error as Error).message}`);
  }
  return ok(checkFirewallCandidate(running, candidate, withLines));
};
