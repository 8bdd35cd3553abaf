// Config handlers (issue 12 item 1): read the config file (text and parsed), check a candidate
// with the same issues as `tandem check` (path, line, message), apply it atomically with an
// optional confirm window that reverts by itself, and confirm (config-apply.ts does the work).

import { checkConfigText } from './config-apply.js';
import { bodyObject, fail, isResponse, issuesOf, ok } from './routes-common.js';
import type { ApiBackend, ApiRequest, ApiResponse } from './types.js';

type Handler = (request: ApiRequest, backend: ApiBackend) => Promise<ApiResponse>;

/** The bound `tandem firewall apply --confirm-within` has too. */
const MAX_CONFIRM_SECONDS = 86_400;

/** `{ path, text, ok, config? , issues }`: the file as it is now, parsed when it checks. */
export const getConfig: Handler = async (_request, backend) => {
  let read: { path: string; text: string };
  try {
    read = await backend.config.read();
  } catch (error) {
    return fail(404, `the config cannot be read: ${(error as Error).message}`);
  }
  const checked = checkConfigText(read.text);
  return ok({ path: read.path, text: read.text, ok: checked.ok, ...(checked.ok ? { config: checked.config, issues: [] } : { issues: issuesOf(checked.issues) }) });
};

function textOf(request: ApiRequest): string | ApiResponse {
  const body = bodyObject(request);
  if (isResponse(body)) return body;
  if (typeof body.text !== 'string') return fail(400, 'needs "text": the whole config as YAML or JSON', { path: 'text' });
  return body.text;
}

/** Always 200 when the check ran: `{ ok, issues: [{ path, line?, message }] }`. */
export const postConfigCheck: Handler = async (request) => {
  const text = textOf(request);
  if (typeof text !== 'string') return text;
  const checked = checkConfigText(text);
  return ok({ ok: checked.ok, issues: checked.ok ? [] : issuesOf(checked.issues) });
};

/** `{ text, confirmWithinSeconds? }`: 400 with the issues when invalid (nothing changes). */
export const postConfigApply: Handler = async (request, backend) => {
  const body = bodyObject(request);
  if (isResponse(body)) return body;
  const text = textOf(request);
  if (typeof text !== 'string') return text;
  const seconds = body.confirmWithinSeconds;
  if (seconds !== undefined && (typeof seconds !== 'number' || !Number.isInteger(seconds) || seconds < 1 || seconds > MAX_CONFIRM_SECONDS)) {
    return fail(400, `"confirmWithinSeconds" must be an integer 1..${MAX_CONFIRM_SECONDS}`, { path: 'confirmWithinSeconds' });
  }
  const apply = backend.configApply;
  if (!apply) return fail(409, 'config apply is not available: this daemon was not started from a config file');
  const result = await apply.apply(text, seconds !== undefined ? { confirmWithinSeconds: seconds } : {});
  if (result.ok) return ok({ phase: result.phase, ...(result.revertsAt ? { revertsAt: result.revertsAt } : {}), status: apply.status() });
  if (result.reason === 'invalid') {
    return fail(400, `the config is invalid (${result.issues.length} issue(s)); nothing applied`, { issues: issuesOf(result.issues), ...(result.issues[0] ? { path: result.issues[0].path } : {}) });
  }
  return fail(500, result.error);
};

export const postConfigConfirm: Handler = async (_request, backend) => {
  const apply = backend.configApply;
  if (!apply) return fail(409, 'config apply is not available: this daemon was not started from a config file');
  const result = await apply.confirm();
  return result.ok ? ok({ status: apply.status() }) : fail(409, result.error);
};
