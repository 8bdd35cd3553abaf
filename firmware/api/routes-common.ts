// What every route handler shares: JSON replies, errors in the agreed shape
// (`{ error, path?, issues? }`), and running a control command exactly as the control socket
// does (the same `parseRequest` validation, the same `Daemon.handle`), with its `{ok:false}`
// translated to 400, 404, 409 or 500 by what the message says went wrong.

import type { LocatedIssue } from '../config/load.js';
import { parseRequest, type ControlReply } from '../control/protocol.js';
import type { ApiBackend, ApiRequest, ApiResponse } from './types.js';

export interface ApiIssue {
  path: string;
  message: string;
  line?: number;
}

export function ok(json: unknown): ApiResponse {
  return { status: 200, json };
}

export function fail(status: number, error: string, extra: { path?: string; issues?: ApiIssue[] } = {}): ApiResponse {
  return { status, json: { error, ...extra } };
}

export function issuesOf(issues: readonly LocatedIssue[]): ApiIssue[] {
  return issues.map((i) => ({ path: i.path, message: i.message, ...(i.line !== undefined ? { line: i.line } : {}) }));
}

/** The body as an object: `undefined` (no body) counts as `{}`; anything else is refused. */
export function bodyObject(request: ApiRequest): Record<string, unknown> | ApiResponse {
  const body = request.body;
  if (body === undefined || body === null) return {};
  if (typeof body !== 'object' || Array.isArray(body)) return fail(400, 'the request body must be a JSON object', { path: '(body)' });
  return body as Record<string, unknown>;
}

export function isResponse(value: unknown): value is ApiResponse {
  return typeof value === 'object' && value !== null && 'status' in value && 'json' in value && typeof (value as ApiResponse).status === 'number';
}

/**
 * The HTTP status for a command's refusal. The daemon's messages are the contract here: an
 * unknown name is 404, a state that does not allow it is 409, a failure on the way is 500.
 */
export function statusForError(error: string): number {
  if (/^no (managed )?(host|pool) |is not configured/.test(error)) return 404;
  if (/^loading failed|^cannot |failed/.test(error)) return 500;
  if (/waiting for confirmation|already|does not act|would leave|has no firewall section|stays in force/.test(error)) return 409;
  return 400;
}

export function fromReply(reply: ControlReply, shape: (result: unknown) => unknown = (r) => r): ApiResponse {
  return reply.ok ? ok(shape(reply.result)) : fail(statusForError(reply.error), reply.error);
}

/**
 * Runs `{ cmd, ...fields }` through the control protocol's own parser and the daemon's own
 * handler, so the API cannot accept what `tandem` would refuse, or do it differently. A
 * refusal names the field it quotes (`"by"`, `"on"`, ...) as the error's path.
 */
export async function runCommand(
  backend: ApiBackend,
  request: ApiRequest,
  cmd: string,
  fields: readonly string[],
  shape?: (result: unknown) => unknown,
): Promise<ApiResponse> {
  const body = bodyObject(request);
  if (isResponse(body)) return body;
  const unknown = Object.keys(body).filter((key) => !fields.includes(key));
  if (unknown.length > 0) {
    return fail(400, `unknown field ${JSON.stringify(unknown[0])}${fields.length ? ` (allowed: ${fields.join(', ')})` : ' (this action takes no fields)'}`, { path: unknown[0]! });
  }
  const parsed = parseRequest(JSON.stringify({ ...body, cmd }));
  if ('error' in parsed) {
    const field = /"(\w+)"/.exec(parsed.error)?.[1];
    return fail(400, parsed.error, field && fields.includes(field) ? { path: field } : {});
  }
  return fromReply(await backend.handle(parsed), shape);
}
